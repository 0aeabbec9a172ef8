//! Process facts from /proc, for finding a worker's leftover processes.

use std::fs;

use crate::store::fsutil::{is_locked, read_json_opt};
use crate::store::{StartRecord, WorkerDir};

/// Pids whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<u32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat_field(*pid, 5) == Some(pgid as u64))
        .collect();
    out.sort_unstable();
    out
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat; zombies count as gone.
fn stat_field(pid: u32, n: usize) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it follow its ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(n - 3)?.parse().ok()
}

/// Whether `pid` is a live orch worker wrapper (not merely a reused pid).
pub fn is_wrapper(pid: u32) -> bool {
    stat_field(pid, 5).is_some()
        && fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"__worker"))
}

/// A worker whose wrapper died while codex (or its children) still run: they hold the
/// life lock, so status says running, but nobody will write its exit record.
/// Returns the pids left in codex's process group.
pub fn orphaned(w: &WorkerDir) -> Option<Vec<u32>> {
    if w.exit_path().exists() || !is_locked(&w.live_lock_path()) {
        return None;
    }
    let started: StartRecord = read_json_opt(&w.started_path()).ok().flatten()?;
    if started.boot_id != crate::store::boot_id() || is_wrapper(started.wrapper_pid) {
        return None;
    }
    let pids = group_members(started.codex_pid);
    (!pids.is_empty()).then_some(pids)
}

/// `sh -c …` in a session of its own (setsid(1) where it exists, else a process group of
/// its own), for users' hooks: the hang-up of the terminal or SSH session orch was
/// started from must not kill a hook half-way.
pub fn detached_shell() -> std::process::Command {
    use std::os::unix::process::CommandExt;
    match crate::sys::tmux::which("setsid") {
        Some(p) => {
            let mut c = std::process::Command::new(p);
            c.arg("-w").arg("sh");
            c
        }
        None => {
            let mut c = std::process::Command::new("sh");
            c.process_group(0);
            c
        }
    }
}

/// Let a command that changes state finish its change when its terminal hangs up (an SSH
/// connection killed mid-`fanout`): SIGHUP is caught and dropped, so the run is never left
/// with half its workers. The handler (not `SIG_IGN`) is reset by `exec`, so nothing this
/// process starts inherits the deafness. Output written after the hang-up fails with EIO,
/// which ends the command quietly once its work is on disk.
pub fn finish_despite_hangup() {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, flag);
}
