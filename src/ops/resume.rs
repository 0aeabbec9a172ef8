//! `orch resume` (and the dashboard's `R`): continue a worker's codex conversation
//! (`codex exec resume ID`) with a new prompt, as a new attempt; the original flags
//! come from the spec, since codex does not remember them.

use anyhow::Result;

use crate::lifecycle::state::{self, State};
use crate::lifecycle::{sched, transition};
use crate::model::error::UserError;
use crate::store::{Home, WorkerDir};

pub const DEFAULT_PROMPT: &str = "Continue where you stopped and finish the task.";

/// What a resume did.
pub struct Resumed {
    /// The codex thread continued.
    pub thread: String,
    /// Started at once (else queued behind the run's limits).
    pub started: bool,
}

impl Resumed {
    /// One line for a person.
    pub fn describe(&self, w: &WorkerDir) -> String {
        let (a, thread) = (w.address(), &self.thread);
        if self.started {
            format!("{a} resuming thread {thread}")
        } else {
            format!("{a} queued to resume thread {thread} (`orch status` says what it waits for)")
        }
    }
}

/// Queues `w` to continue its conversation with `prompt` and starts it when it may. A
/// worker still running, or without a thread to continue, is refused with what to do.
pub fn resume(home: &Home, w: &WorkerDir, prompt: &str) -> Result<Resumed> {
    let run = home.run(&w.run);
    crate::ops::spawn::check_tools()?;
    let _lock = run.lock()?;
    let a = w.address();
    match state::state_of(w) {
        State::Queued | State::Starting | State::Running | State::Paused => {
            return Err(UserError::failed(format!(
                "{a} is still running or queued; steer it with `orch send {a} MESSAGE`, wait for it (`orch wait {a}`) or stop it first"
            ))
            .into());
        }
        State::Corrupt | State::Incomplete => {
            return Err(UserError::failed(format!(
                "{a} has no usable record to resume from; see `orch status {}`",
                w.run
            ))
            .into());
        }
        _ => {}
    }
    w.spec()?;
    let thread = crate::ops::recover::thread_of(w).ok_or_else(|| {
        UserError::failed(format!(
            "{a} has no codex thread to resume (it never started a conversation); run it again with `orch retry {a}`"
        ))
    })?;
    // Queued like any worker, so max-parallel and the writer slot hold for resumes too.
    transition::queue_resume(w, &thread, prompt, true)?;
    let started = sched::tick_locked(home, &run)?.contains(&w.label);
    Ok(Resumed { thread, started })
}
