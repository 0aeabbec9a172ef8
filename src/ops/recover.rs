//! `orch recover`: after a reboot (or a killed tmux server) every `lost` worker carries
//! on. One that had reached codex continues its conversation by thread id with
//! [`RECOVER_PROMPT`] (the `orch resume` path: `transition::queue_resume`); one that
//! never did starts again from its prompt (`transition::requeue`). Skipped dependents
//! of recovered workers are queued again.
//!
//! Every worker keeps the environment it was spawned with (PATH, CODEX_HOME, keys):
//! recovery often runs from a boot-time unit or crontab with a bare one.
//!
//! Starts are spaced by `stagger`: workers sharing one ChatGPT login would otherwise
//! all refresh its single-use, rotating refresh token at once, and the losers are
//! logged out (`refresh_token_reused`). Between starts the workers already started are
//! watched for refused credentials; after [`AUTH_FAILURES`] of them recovery stops and
//! says to log in again, leaving the rest `lost` for a later `orch recover`.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::lifecycle::state::{self, State};
use crate::lifecycle::{retry, sched, transition};
use crate::model::error::UserError;
use crate::store::fsutil::read_json_opt;
use crate::store::{ExitRecord, Home, RunDir, WorkerDir};
use crate::sys::codex::{events, limits};

/// What a recovered conversation is told.
pub const RECOVER_PROMPT: &str = "You were interrupted (the machine or its terminal server went away) before you finished. Check what is already done, then continue the task where you stopped and finish it.";

/// Workers whose credentials were refused before recovery stops.
pub const AUTH_FAILURES: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Continue this codex thread.
    Resume(String),
    /// Never reached codex: start again from the prompt.
    Restart,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub worker: WorkerDir,
    pub action: Action,
}

/// The codex thread of the worker's last attempt: from exit.json, else from the
/// `thread.started` event (a worker lost before writing its exit record).
pub fn thread_of(w: &WorkerDir) -> Option<String> {
    if let Ok(Some(x)) = read_json_opt::<ExitRecord>(&w.exit_path())
        && x.thread_id.is_some()
    {
        return x.thread_id;
    }
    crate::lifecycle::activity::summary(w)?.thread_id
}

/// The lost workers of `runs` and what recovery does with each, in run then label
/// order. Workers the user stopped are left alone.
pub fn plan(runs: &[RunDir]) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    for run in runs {
        for l in run.labels()? {
            let w = run.worker(&l);
            if state::state_of(&w) != State::Lost || w.stop_path().exists() {
                continue;
            }
            let action = match thread_of(&w) {
                Some(t) => Action::Resume(t),
                None => Action::Restart,
            };
            out.push(Item { worker: w, action });
        }
    }
    Ok(out)
}

/// Starts one item under its run's lock; `false` if it is no longer lost (someone else
/// got there first).
pub fn start(home: &Home, item: &Item) -> Result<bool> {
    let w = &item.worker;
    let run = home.run(&w.run);
    let _lock = run.lock()?;
    if state::state_of(w) != State::Lost {
        return Ok(false);
    }
    match &item.action {
        Action::Resume(thread) => transition::queue_resume(w, thread, RECOVER_PROMPT, false)?,
        Action::Restart => transition::requeue(w, false)?,
    }
    retry::requeue_skipped_dependents(&run, std::slice::from_ref(&w.label), false)?;
    sched::tick_locked(home, &run)?;
    Ok(true)
}

/// Refuses recovery at once when the first worker's codex (with its saved environment)
/// has no credential: every start would only spin.
pub fn check_login(item: &Item) -> Result<()> {
    let w = &item.worker;
    let env = crate::store::envfile::read(&w.env_path())?;
    let spec = w.spec()?;
    let program = crate::sys::codex::resolve_program(&env)?;
    match crate::sys::codex::login::missing_credential(
        &program,
        &spec.codex_args,
        spec.profile.as_deref(),
        &env,
    ) {
        Some(why) => Err(UserError::failed(why).into()),
        None => Ok(()),
    }
}

/// The refused-credential message a started worker shows, if any: in its exit record
/// or among its events (codex retries a 401 before it gives up).
pub fn auth_failure(w: &WorkerDir) -> Option<String> {
    if let Ok(Some(x)) = read_json_opt::<ExitRecord>(&w.exit_path())
        && let Some(e) = x.error.filter(|e| limits::is_auth_failure(e))
    {
        return Some(e);
    }
    let text = std::fs::read_to_string(w.events_path()).ok()?;
    text.lines()
        .filter_map(events::parse)
        .find_map(|ev| match ev {
            events::Event::Error { message } | events::Event::TurnFailed { message }
                if limits::is_auth_failure(&message) =>
            {
                Some(message)
            }
            _ => None,
        })
}

/// Waits `stagger`, watching `started` for refused credentials; returns the failures.
pub fn wait_watching(started: &[WorkerDir], stagger: Duration) -> Vec<(String, String)> {
    let end = Instant::now() + stagger;
    loop {
        let failed: Vec<(String, String)> = started
            .iter()
            .filter_map(|w| auth_failure(w).map(|m| (w.address(), m)))
            .collect();
        if failed.len() >= AUTH_FAILURES || Instant::now() >= end {
            return failed;
        }
        std::thread::sleep(Duration::from_millis(200).min(end - Instant::now()));
    }
}

/// The refusal once credentials failed repeatedly.
pub fn auth_stop(failed: &[(String, String)], left: usize) -> UserError {
    let (who, msg) = &failed[0];
    let msg: String = msg.chars().take(200).collect();
    UserError::failed(format!(
        "stopped recovering: {} workers were refused by the API ({who}: {msg}); log in again with `codex login` (a shared ChatGPT login may have been rotated by another codex), then run `orch recover` again for the {left} still lost",
        failed.len()
    ))
}
