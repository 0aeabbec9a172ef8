//! `orch result`: the final message, exactly as the worker wrote it.

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::args::ResultArgs;
use crate::lifecycle::state::{self, State, ViewOptions};
use crate::model::error::UserError;
use crate::store::Home;

pub fn run(args: ResultArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let w = home.resolve_worker(&args.worker)?;
    let v = state::view(
        &w,
        &ViewOptions {
            activity: false,
            ..Default::default()
        },
    );
    match v.state {
        State::Done => {
            let bytes = std::fs::read(w.last_message_path())
                .with_context(|| format!("cannot read {}", w.last_message_path().display()))?;
            std::io::stdout().write_all(&bytes)?;
            Ok(0)
        }
        s if !s.is_final() => Err(UserError::failed(format!(
            "{} is {s}, it has no result yet; `orch wait {}` waits for it",
            w.address(),
            w.address()
        ))
        .into()),
        s => Err(UserError::failed(format!(
            "{} ended {s}{}; it has no result",
            w.address(),
            v.error.map(|e| format!(": {e}")).unwrap_or_default()
        ))
        .into()),
    }
}
