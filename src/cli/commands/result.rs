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
            let mut out = std::io::stdout();
            out.write_all(&bytes)?;
            // Exactly as written when piped; on a terminal the prompt must not end up
            // glued to the message's last line.
            if std::io::IsTerminal::is_terminal(&out)
                && !bytes.is_empty()
                && !bytes.ends_with(b"\n")
            {
                out.write_all(b"\n")?;
            }
            out.flush()?;
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
