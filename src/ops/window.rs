//! Finding a worker's tmux window. The scheduler writes the window id down right after
//! `tmux new-window`; a spawner killed in between (a dropped SSH session) leaves a
//! running worker with no id on disk. Its window is then found on orch's tmux server by
//! run (the session), label (the window name) and, once the wrapper has started, the
//! wrapper's pid (the pane's pid) — and the id is written down for next time.

use anyhow::Result;

use crate::model::error::UserError;
use crate::store::fsutil::{read_json_opt, write_atomic_unsynced};
use crate::store::{Home, LaunchRecord, StartRecord, WorkerDir};
use crate::sys::tmux::Tmux;

/// The worker's window id: the recorded one, else the one found on the server (then
/// recorded). None when it has not been launched or its window is gone.
pub fn locate(tmux: &Tmux, w: &WorkerDir) -> Option<String> {
    if let Some(id) = w.window_id() {
        return Some(id);
    }
    let launch: LaunchRecord = read_json_opt(&w.launch_path()).ok().flatten()?;
    let pid = read_json_opt::<StartRecord>(&w.started_path())
        .ok()
        .flatten()
        .filter(|s| s.attempt == launch.attempt)
        .map(|s| s.wrapper_pid);
    let id = tmux.find_window(&launch.session, &w.label, pid)?;
    // A heal, not a claim: the scheduler, if it is still alive, writes the same id.
    let _ = write_atomic_unsynced(&w.window_path(), id.as_bytes());
    Some(id)
}

/// The tmux command that puts the caller's terminal into `w`'s window (`orch attach`,
/// the dashboard's Enter); a one-line error when it was never launched or its window
/// is gone.
pub fn attach_command(home: &Home, w: &WorkerDir) -> Result<std::process::Command> {
    let launch: LaunchRecord = read_json_opt(&w.launch_path())?.ok_or_else(|| {
        UserError::failed(format!(
            "{} has not started yet (queued); `orch status` says what it waits for",
            w.address()
        ))
    })?;
    let tmux = Tmux::for_home(&home.root)?;
    let window = locate(&tmux, w).unwrap_or_default();
    if window.is_empty() || !tmux.window_ids()?.contains(&window) {
        return Err(UserError::failed(format!(
            "the tmux window of {} is gone (server restarted or window cleaned up); `orch logs {}` shows what it did",
            w.address(),
            w.address()
        ))
        .into());
    }
    Ok(tmux.attach_command(&launch.session, &window))
}
