//! The wrapper's part of a worker with its own git worktree (`spawn --worktree`): the
//! setup command before codex starts, and the commit of its work when it ends done.
//!
//! Why orch commits, not codex: codex's `workspace-write` sandbox makes only the
//! worktree writable, and a worktree's git metadata (its index, HEAD, the objects) lives
//! in the main repository's `.git`, outside it: a `git commit` by the worker fails there
//! (measured with codex 0.169.0, `tests/contract/real_codex/worktree.rs`). The wrapper
//! runs outside the sandbox, so it commits everything the worker left in the worktree
//! onto the worker's branch, before the exit record says `done`.

use std::process::Command;

use anyhow::Result;

use crate::model::State;
use crate::store::{WorkerDir, WorktreeSpec};
use crate::sys::git;

/// The setup command as a process to start in the worktree (`sh -c`), its output
/// appended to setup.log; `Err` when the worktree is gone.
pub fn setup_command(
    w: &WorkerDir,
    wt: &WorktreeSpec,
    script: &str,
) -> std::result::Result<Command, String> {
    if !wt.path.is_dir() {
        return Err(format!(
            "its worktree {} is gone; `orch retry` cannot bring it back (spawn the task again)",
            wt.path.display()
        ));
    }
    let log = crate::store::fsutil::open_append(&w.setup_log_path())
        .map_err(|e| format!("cannot open {}: {e}", w.setup_log_path().display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", w.setup_log_path().display()))?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .current_dir(&wt.path)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2);
    Ok(cmd)
}

/// The error a failed setup command ends the worker with.
pub fn setup_failed(w: &WorkerDir, script: &str, status: std::process::ExitStatus) -> String {
    let how = match status.code() {
        Some(c) => format!("exit {c}"),
        None => "killed by a signal".to_string(),
    };
    let first = script.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    format!(
        "the worktree setup command failed ({how}): `{}`; its output is in {} (fix it, then `orch retry {}`)",
        first.trim(),
        w.setup_log_path().display(),
        w.address()
    )
}

/// Commits whatever the worker changed in its worktree onto its branch; `Ok(None)` when
/// it changed nothing. The subject is the first line of the worker's final message.
/// `ended` is the worker's state: done (the wrapper), or another for `land --force`.
pub fn commit_work(w: &WorkerDir, wt: &WorktreeSpec, ended: State) -> Result<Option<String>> {
    let said = std::fs::read_to_string(w.last_message_path()).unwrap_or_default();
    let subject = said
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        .map(|l| crate::model::text::clip(l, 72))
        .unwrap_or_else(|| format!("work of orch worker {}", w.address()));
    let how = if ended == State::Done {
        format!("when worker {} ended done", w.address())
    } else {
        format!(
            "for `orch land --force` from the worktree of worker {}, which ended {ended}",
            w.address()
        )
    };
    let message = format!(
        "{subject}\n\nCommitted by orch {how}.\n\nOrch-Run: {}\nOrch-Worker: {}\n",
        w.run, w.label
    );
    git::commit_all(&wt.path, &message)
}

/// The most of one branch's diff a dependent's input carries; a longer diff is cut
/// there with a note (the worktree path lets the reader see the rest).
pub const DIFF_IN_INPUT_MAX: usize = 60_000;

/// For the input of a worker that depends on `d` (best-of-N's picker): where `d`'s work
/// is (branch, worktree) and, when it ended done, its committed diff against the commit
/// it started from: the stat, then the diff text. `None` for a worker without a worktree.
pub fn work_for_dependent(d: &WorkerDir, st: State) -> Option<String> {
    let wt = d.spec().ok()?.worktree?;
    let mut text = format!(
        "Branch: {} (from {}), worktree: {}\n",
        wt.branch,
        &wt.base[..wt.base.len().min(10)],
        wt.path.display()
    );
    if st != State::Done {
        text.push_str(&format!(
            "It ended {st}, not done: it is not a candidate.\n"
        ));
        return Some(text);
    }
    let stat = git::diff(&wt.repo, &wt.base, Some(&wt.branch), true);
    let full = git::diff(&wt.repo, &wt.base, Some(&wt.branch), false);
    match (stat, full) {
        (Ok(_), Ok(full)) if full.trim().is_empty() => {
            text.push_str("It changed nothing (its branch is at the commit it started from).\n");
        }
        (Ok(stat), Ok(full)) => {
            let (shown, cut) = match full.char_indices().nth(DIFF_IN_INPUT_MAX) {
                Some((i, _)) => (&full[..i], true),
                None => (full.as_str(), false),
            };
            text.push_str(&format!("\n```diff\n{}\n{}", stat.trim_end(), shown));
            if !shown.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("```\n");
            if cut {
                text.push_str(&format!(
                    "(the diff is longer; the rest is in `git -C {} diff {}..{}`)\n",
                    wt.repo.display(),
                    &wt.base[..wt.base.len().min(10)],
                    wt.branch
                ));
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            text.push_str(&format!("Its diff could not be read: {e:#}\n"));
        }
    }
    Some(text)
}
