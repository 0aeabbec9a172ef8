//! `orch send`: steer a running worker. The message is queued in its inbox and, when
//! the current turn ends, the worker continues the same codex conversation with it
//! (the wrapper does that; see `lifecycle::inbox`). With `now`, the current turn is
//! interrupted (Ctrl-C to codex, as `orch stop` does) and the worker continues with
//! the inbox at once instead of ending. Called by the command, the dashboard and the
//! MCP server alike.

use anyhow::Result;
use nix::sys::signal::Signal;

use crate::lifecycle::inbox;
use crate::lifecycle::state::State;
use crate::lifecycle::transition;
use crate::model::UserError;
use crate::store::WorkerDir;

/// What a send did (serialisable for the MCP server).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SendOutcome {
    /// RUN/LABEL.
    pub address: String,
    /// The message's file in the worker's inbox (`0001.md`).
    pub message: String,
    /// The worker's state when the message was queued.
    pub state: State,
    /// A running turn was interrupted to deliver the messages now.
    pub interrupted: bool,
    /// Messages waiting for the worker, this one included.
    pub pending: usize,
}

impl SendOutcome {
    /// One line for a person.
    pub fn describe(&self) -> String {
        let a = &self.address;
        let queue = if self.pending > 1 {
            format!(" ({} messages pending, delivered in order)", self.pending)
        } else {
            String::new()
        };
        if self.interrupted {
            return format!(
                "{a}: turn interrupted; the worker continues with the message now{queue}"
            );
        }
        let when = match self.state {
            State::Queued | State::Starting => "after its first turn",
            State::Paused => "after the turn it continues once the usage limit resets",
            _ => "when its current turn ends",
        };
        format!("{a}: message queued; delivered {when}{queue}")
    }
}

/// Queues `message` for `worker`; `now` interrupts its running turn to deliver it at
/// once. A worker that has ended is refused (`orch resume` continues it).
pub fn send(worker: &WorkerDir, message: &str, now: bool) -> Result<SendOutcome> {
    if message.trim().is_empty() {
        return Err(UserError::usage(
            "the message is empty; give the text to send as an argument, with --file FILE, or on stdin with -",
        )
        .into());
    }
    worker.spec()?;
    let q = inbox::queue(worker, message)?;
    let mut interrupted = false;
    if now
        && q.state == State::Running
        && let Some(pid) = inbox::interruptible(worker, &q.message)
    {
        transition::request_steer(worker, pid)?;
        super::stop::signal(worker, Signal::SIGINT);
        interrupted = true;
    }
    Ok(SendOutcome {
        address: worker.address(),
        message: q.message,
        state: q.state,
        interrupted,
        pending: q.pending,
    })
}
