//! Steering a running worker: messages `orch send` queues in its inbox, which the
//! wrapper delivers one per turn by continuing the same codex conversation.
//!
//! A message is queued only while the worker has not ended, checked under the inbox
//! lock; the wrapper decides to end (nothing pending) under the same lock and writes the
//! exit record before letting go, so a message is never left in a worker that ended
//! without seeing it. Delivery is marked when codex's turn on the message has started
//! (codex has then recorded it in its rollout), with an in-flight record written
//! before codex is given it, so a crash at any point never loses a message, and
//! delivers it twice only if the wrapper dies between codex printing `turn.started`
//! and the wrapper appending that line to events.jsonl, which it does first (see
//! `store::inbox` and the top comment of `store`).
//!
//! Messages queued for a worker that is still queued or starting wait for its first
//! turn; messages still pending when a worker ends without finishing its turn (failed,
//! stopped, lost) stay in the inbox and are delivered after the next attempt's first
//! turn (`orch resume`, `retry`, `recover`).

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

use anyhow::Result;

use super::state::{self, State};
use super::transition;
use crate::model::UserError;
use crate::store::WorkerDir;
use crate::store::fsutil::read_json_opt;
use crate::store::inbox::{self, InboxLock, Sending};
use crate::store::{StartRecord, SteerRequest};
use crate::sys::codex::events::{self, Event};

/// A message queued by [`queue`].
#[derive(Debug, Clone)]
pub struct Queued {
    /// Its file name in the inbox (`0001.md`).
    pub message: String,
    /// The worker's state when it was queued.
    pub state: State,
    /// Messages pending now, this one included.
    pub pending: usize,
}

fn refuse_ended(w: &WorkerDir, st: State) -> anyhow::Error {
    let a = w.address();
    UserError::failed(format!(
        "{a} has already ended ({st}); continue its conversation with `orch resume {a} MESSAGE`"
    ))
    .into()
}

/// Queues `text` for `w`, refused once the worker has ended.
pub fn queue(w: &WorkerDir, text: &str) -> Result<Queued> {
    // Checked first without the lock, so a refused send leaves the folder untouched.
    let st = state::state_of(w);
    if state::has_ended(w, st) {
        return Err(refuse_ended(w, st));
    }
    let lock = inbox::lock(w)?;
    let st = state::state_of(w);
    if state::has_ended(w, st) {
        return Err(refuse_ended(w, st));
    }
    let message = inbox::write_next(w, &lock, text)?;
    let pending = inbox::pending_count(w);
    drop(lock);
    transition::touched(w);
    Ok(Queued {
        message,
        state: st,
        pending,
    })
}

/// The codex run that `orch send --now` may interrupt for message `name`: the pid of the
/// running codex, unless that run was already given the message (then there is
/// nothing to interrupt for it). Read in this order — the pid, then the message's
/// place — because the wrapper writes the in-flight record before the started record
/// of the run it gives the message to.
pub fn interruptible(w: &WorkerDir, name: &str) -> Option<u32> {
    let started: StartRecord = read_json_opt(&w.started_path()).ok().flatten()?;
    let still_pending = inbox::message_path(w, name).exists()
        && inbox::read_sending(w)
            .ok()
            .flatten()
            .is_none_or(|s| s.message != name);
    still_pending.then_some(started.codex_pid)
}

/// Whether codex run `codex_pid` was interrupted by `orch send --now`; the request is
/// used up (or, naming another run, dropped as stale).
pub fn take_steer(w: &WorkerDir, codex_pid: u32) -> bool {
    let Ok(Some(req)) = read_json_opt::<SteerRequest>(&inbox::now_path(w)) else {
        return false;
    };
    let _ = transition::steered(w);
    req.codex_pid == codex_pid
}

/// What the wrapper does once a codex run has ended.
pub enum Next {
    /// Continue the conversation: feed this message (its file) as the prompt.
    Deliver { message: String, path: PathBuf },
    /// End the attempt; write the exit record while this lock is held (`None`: the
    /// inbox could not be locked, so no send can have queued anything either).
    End(Option<InboxLock>),
}

/// Decides after a codex run: the next pending message when `may_continue` (the turn
/// ended well, or was steered), else the end. `attempt` is the current attempt's number.
pub fn after_run(w: &WorkerDir, attempt: u32, may_continue: bool) -> Result<Next> {
    let Ok(lock) = inbox::lock(w) else {
        return Ok(Next::End(None));
    };
    if !may_continue {
        return Ok(Next::End(Some(lock)));
    }
    resolve_in_flight(w, attempt)?;
    let Some(message) = inbox::pending(w).into_iter().next() else {
        return Ok(Next::End(Some(lock)));
    };
    let events_offset = std::fs::metadata(w.events_path()).map_or(0, |m| m.len());
    inbox::write_sending(
        w,
        &lock,
        &Sending {
            message: message.clone(),
            attempt,
            events_offset,
        },
    )?;
    let path = inbox::message_path(w, &message);
    Ok(Next::Deliver { message, path })
}

/// codex started its turn on `message`: it is delivered.
pub fn delivered(w: &WorkerDir, message: &str) -> Result<()> {
    inbox::mark_delivered(w, message)?;
    transition::touched(w);
    Ok(())
}

/// An in-flight record left by a crash (or a codex that never started its turn): the
/// message was delivered if that run's events show a `turn.started`, else it is pending.
fn resolve_in_flight(w: &WorkerDir, attempt: u32) -> Result<()> {
    let Some(s) = inbox::read_sending(w)? else {
        return Ok(());
    };
    if !inbox::message_path(w, &s.message).exists() {
        return inbox::clear_sending(w);
    }
    let log = if s.attempt == attempt {
        w.events_path()
    } else {
        w.path(&format!("attempt-{}", s.attempt))
            .join("events.jsonl")
    };
    if turn_started_after(&log, s.events_offset) {
        delivered(w, &s.message)
    } else {
        inbox::clear_sending(w)
    }
}

fn turn_started_after(log: &std::path::Path, offset: u64) -> bool {
    let Ok(mut f) = std::fs::File::open(log) else {
        return false;
    };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return false;
    }
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .any(|l| matches!(events::parse(&l), Some(Event::TurnStarted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> (tempfile::TempDir, WorkerDir) {
        let t = tempfile::tempdir().unwrap();
        let w = WorkerDir {
            run: "r".into(),
            label: "W1".into(),
            dir: t.path().to_path_buf(),
        };
        (t, w)
    }

    fn queue_raw(w: &WorkerDir, text: &str) -> String {
        let l = inbox::lock(w).unwrap();
        inbox::write_next(w, &l, text).unwrap()
    }

    #[test]
    fn a_crash_before_the_turn_started_leaves_the_message_pending() {
        let (_t, w) = worker();
        std::fs::write(w.events_path(), "{\"type\":\"turn.started\"}\n").unwrap();
        let m = queue_raw(&w, "follow up");
        let Next::Deliver { message, .. } = after_run(&w, 1, true).unwrap() else {
            panic!("the message is delivered");
        };
        assert_eq!(message, m);
        // The wrapper died before codex said anything more: still pending, once.
        let Next::Deliver { message, .. } = after_run(&w, 1, true).unwrap() else {
            panic!("still pending");
        };
        assert_eq!(message, m);
        assert!(inbox::delivered(&w).is_empty());
    }

    #[test]
    fn a_crash_after_the_turn_started_counts_it_delivered() {
        let (_t, w) = worker();
        std::fs::write(w.events_path(), "{\"type\":\"turn.completed\"}\n").unwrap();
        queue_raw(&w, "one");
        queue_raw(&w, "two");
        let Next::Deliver { message, .. } = after_run(&w, 1, true).unwrap() else {
            panic!("delivered");
        };
        assert_eq!(message, "0001.md");
        // That run began; its events moved with the attempt into attempt-1/.
        let mut log = std::fs::read_to_string(w.events_path()).unwrap();
        log.push_str(
            "{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n{\"type\":\"turn.started\"}\n",
        );
        std::fs::create_dir(w.path("attempt-1")).unwrap();
        std::fs::write(w.path("attempt-1").join("events.jsonl"), log).unwrap();
        std::fs::remove_file(w.events_path()).unwrap();
        let Next::Deliver { message, .. } = after_run(&w, 2, true).unwrap() else {
            panic!("the second message");
        };
        assert_eq!(message, "0002.md", "the first is not delivered again");
        assert_eq!(inbox::delivered(&w), vec!["0001.md"]);
    }

    #[test]
    fn an_end_that_may_not_continue_leaves_messages_pending() {
        let (_t, w) = worker();
        queue_raw(&w, "later");
        assert!(matches!(
            after_run(&w, 1, false).unwrap(),
            Next::End(Some(_))
        ));
        assert_eq!(inbox::pending(&w), vec!["0001.md"]);
    }
}
