//! `orch attach`: the terminal into a worker's tmux window.

use std::io::IsTerminal;
use std::os::unix::process::CommandExt;

use anyhow::Result;

use crate::cli::args::AttachArgs;
use crate::model::error::UserError;
use crate::store::fsutil::read_json_opt;
use crate::store::{Home, LaunchRecord};
use crate::sys::tmux::Tmux;

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
    let launch: LaunchRecord = read_json_opt(&w.launch_path())?.ok_or_else(|| {
        UserError::failed(format!(
            "{} has not started yet (queued); `orch status` says what it waits for",
            w.address()
        ))
    })?;
    let tmux = Tmux::for_home(&home.root)?;
    let window = crate::ops::window::locate(&tmux, &w).unwrap_or_default();
    if window.is_empty() || !tmux.window_ids()?.contains(&window) {
        return Err(UserError::failed(format!(
            "the tmux window of {} is gone (server restarted or window cleaned up); `orch logs {}` shows what it did",
            w.address(),
            w.address()
        ))
        .into());
    }
    let err = tmux.attach_command(&launch.session, &window).exec();
    Err(anyhow::anyhow!("cannot run tmux attach: {err}"))
}
