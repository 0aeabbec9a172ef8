//! `orch attach`: the terminal into a worker's tmux window.

use std::io::IsTerminal;
use std::os::unix::process::CommandExt;

use anyhow::Result;

use crate::cli::args::AttachArgs;
use crate::model::error::UserError;
use crate::store::Home;

pub fn run(args: AttachArgs) -> Result<i32> {
    if !std::io::stdin().is_terminal() {
        return Err(UserError::usage(format!(
            "attach needs a terminal; without one, `orch logs -f {}` follows the worker",
            args.worker
        ))
        .into());
    }
    let home = Home::from_env()?;
    let w = home.resolve_worker(&args.worker)?;
    let err = crate::ops::window::attach_command(&home, &w)?.exec();
    Err(anyhow::anyhow!("cannot run tmux attach: {err}"))
}
