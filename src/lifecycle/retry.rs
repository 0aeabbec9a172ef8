//! Retrying workers: a new attempt from the saved spec, earlier files kept in
//! `attempt-N/`.
//!
//! Automatic retries (`spawn --retries N`) need no daemon:
//! - a worker that ends `failed` with a transient-looking error (the model API after
//!   codex's own retries: 5xx, "high demand", stream errors, rate limits, timeouts) or
//!   `lost` gets a `retry.json` plan {attempt, of, at}, written by its wrapper right
//!   after exit.json. Its state stays `failed`/`lost`; status adds "retrying in 20s
//!   (attempt 2/3)", and the scheduler does not skip its dependents meanwhile.
//! - the wrapper, still alive in its tmux window, sleeps the back-off (5 s × 2^k, capped
//!   at 5 min) and then, under the run lock, turns the plan into a queued attempt that
//!   `sched::tick_locked` starts. Whoever gets there first does it: any orch command that
//!   ticks the run (spawn, status) also starts plans that are due, so a wrapper killed
//!   during its back-off delays the retry only until the next look.
//! - a worker `lost` without any exit record has no wrapper left at all: the first tick
//!   that notices (spawn, status) queues it again at once (the tmux server or the machine
//!   went away; waiting longer would not help).
//! - never for a worker the user stopped (stop.json), and `orch stop` cancels a plan.

use std::fs;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::transition;
use crate::lifecycle::state::{self, State, WorkerView};
use crate::store::fsutil::read_json_opt;
use crate::store::{ExitRecord, Home, LaunchRecord, RunDir, WorkerDir};
use crate::sys::codex::events::{self, Event};

pub const PLAN_FILE: &str = "retry.json";
const BACKOFF_CAP: Duration = Duration::from_secs(300);
const BACKOFF_BASE_SECS: f64 = 5.0;

/// A planned automatic retry of a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The attempt number the retry will get.
    pub attempt: u32,
    /// Attempts allowed in all (1 + `--retries`).
    pub of: u32,
    pub at: DateTime<Utc>,
    pub reason: String,
}

pub fn plan_path(w: &WorkerDir) -> std::path::PathBuf {
    w.path(PLAN_FILE)
}

pub fn pending(w: &WorkerDir) -> Option<Plan> {
    read_json_opt(&plan_path(w)).ok().flatten()
}

/// Skipped workers that depend (directly or through other skipped ones) on `labels`
/// are queued again: their reason to be skipped is gone. Returns them.
pub fn requeue_skipped_dependents(
    run: &RunDir,
    labels: &[String],
    refresh_env: bool,
) -> Result<Vec<String>> {
    let mut roots: Vec<String> = labels.to_vec();
    let mut out = Vec::new();
    loop {
        let mut changed = false;
        for l in run.labels()? {
            let w = run.worker(&l);
            if roots.contains(&l) || state::state_of(&w) != State::Skipped {
                continue;
            }
            let Ok(spec) = w.spec() else { continue };
            if spec.after.iter().any(|d| roots.contains(d)) {
                transition::requeue(&w, refresh_env)?;
                roots.push(l.clone());
                out.push(l);
                changed = true;
            }
        }
        if !changed {
            return Ok(out);
        }
    }
}

/// Error text that says the model API, not the task, failed.
static TRANSIENT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)\b(5\d\d|429)\b|reconnecting|stream error|stream disconnected|high demand|rate.?limit|too many requests|overloaded|timed? ?out|timeout|temporarily unavailable|service unavailable|bad gateway|connection (reset|closed|refused)",
    )
    .expect("valid regex")
});

pub fn looks_transient(message: &str) -> bool {
    TRANSIENT.is_match(message)
}

/// The failure messages of the worker's current attempt: the exit record's and every
/// `error`/`turn.failed` event's.
fn failure_messages(w: &WorkerDir, exit: &ExitRecord) -> Vec<String> {
    let mut out: Vec<String> = exit.error.iter().cloned().collect();
    if let Ok(text) = fs::read_to_string(w.events_path()) {
        for ev in text.lines().filter_map(events::parse) {
            match ev {
                Event::Error { message } | Event::TurnFailed { message } => out.push(message),
                _ => {}
            }
        }
    }
    out
}

/// Seconds of the first back-off; `ORCH_RETRY_BACKOFF` in the spawner's saved
/// environment overrides it (tests and impatient users).
fn backoff_base(w: &WorkerDir) -> f64 {
    crate::store::envfile::read(&w.env_path())
        .ok()
        .and_then(|env| {
            env.into_iter()
                .find(|(k, _)| k == "ORCH_RETRY_BACKOFF")
                .and_then(|(_, v)| v.to_str()?.parse::<f64>().ok())
        })
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(BACKOFF_BASE_SECS)
}

pub fn backoff(base_secs: f64, retries_done: u32) -> Duration {
    let secs = base_secs * 2f64.powi(retries_done.min(20) as i32);
    Duration::from_secs_f64(secs.min(BACKOFF_CAP.as_secs_f64()))
}

/// Whether an ended worker gets another automatic attempt, and why.
fn wanted(w: &WorkerDir, state: State, attempt: u32, exit: Option<&ExitRecord>) -> Option<Plan> {
    let spec = w.spec().ok()?;
    let of = spec.retries.saturating_add(1);
    if spec.retries == 0 || attempt == 0 || attempt >= of || w.stop_path().exists() {
        return None;
    }
    let reason = match (state, exit) {
        (State::Lost, _) => "lost".to_string(),
        (State::Failed, Some(x)) => failure_messages(w, x)
            .into_iter()
            .find(|m| looks_transient(m))?,
        _ => return None,
    };
    let delay = if exit.is_none() {
        Duration::ZERO
    } else {
        backoff(backoff_base(w), attempt - 1)
    };
    Some(Plan {
        attempt: attempt + 1,
        of,
        at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
        reason,
    })
}

/// The retry the policy wants for an attempt that just ended, if any (written by
/// `transition::ended` before the exit record).
pub fn wanted_after(w: &WorkerDir, exit: &ExitRecord) -> Option<Plan> {
    wanted(w, exit.state, exit.attempt, Some(exit))
}

/// Hook run by a wrapper after its worker ended and the run was ticked: waits out the
/// back-off of a planned retry, then starts it (unless someone else did, or the user
/// stopped or retried it meanwhile). The wrapper holds no run lock and no life lock here.
pub fn after_exit(home: &Home, run: &RunDir, w: &WorkerDir, plan: &Plan) {
    let wait = (plan.at - Utc::now()).to_std().unwrap_or_default();
    std::thread::sleep(wait);
    let Ok(_lock) = run.lock() else { return };
    if let Err(e) =
        start_due_locked(run).and_then(|_| crate::lifecycle::sched::tick_locked(home, run))
    {
        crate::errln!("orch: cannot retry {}: {e:#}", w.address());
    }
}

/// Does any worker of the run have a retry to start now? Cheap: a file check per
/// worker, plus the spec of lost ones.
pub fn any_due(run: &RunDir, labels: &[String]) -> bool {
    labels.iter().any(|l| due(&run.worker(l)).is_some())
}

/// An automatic retry is planned (or, for a lost worker, owed) and has not started:
/// the worker's outcome is still to come.
pub fn coming(w: &WorkerDir, st: State) -> bool {
    if pending(w).is_some() {
        return true;
    }
    st == State::Lost
        && !w.exit_path().exists()
        && read_json_opt::<LaunchRecord>(&w.launch_path())
            .ok()
            .flatten()
            .is_some_and(|l| wanted(w, State::Lost, l.attempt, None).is_some())
}

fn due(w: &WorkerDir) -> Option<Plan> {
    if let Some(p) = pending(w) {
        return (p.at <= Utc::now()).then_some(p);
    }
    if w.exit_path().exists() || !w.launch_path().exists() {
        return None;
    }
    if state::state_of(w) != State::Lost {
        return None;
    }
    let launch: LaunchRecord = read_json_opt(&w.launch_path()).ok().flatten()?;
    wanted(w, State::Lost, launch.attempt, None)
}

/// Queues every worker whose automatic retry is due (caller holds the run lock).
pub fn start_due_locked(run: &RunDir) -> Result<Vec<String>> {
    let mut started = Vec::new();
    for l in run.labels()? {
        let w = run.worker(&l);
        if due(&w).is_some() {
            transition::requeue(&w, false)?;
            started.push(l);
        }
    }
    if !started.is_empty() {
        requeue_skipped_dependents(run, &started, false)?;
    }
    Ok(started)
}

/// Adds "retrying in 20s (attempt 2/3)" to an ended worker's error.
pub fn annotate(w: &WorkerDir, v: &mut WorkerView) {
    let Some(p) = pending(w) else { return };
    let secs = (p.at - Utc::now()).num_seconds();
    let when = if secs > 0 {
        format!("retrying in {secs}s")
    } else {
        "retrying now".to_string()
    };
    let note = format!("{when} (attempt {}/{})", p.attempt, p.of);
    v.error = Some(match v.error.take() {
        Some(e) => format!("{e} · {note}"),
        None => note,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors() {
        for m in [
            "Reconnecting... 2/5 (stream error)",
            "unexpected status 503 Service Unavailable",
            "We're currently experiencing high demand",
            "Rate limit reached for gpt",
            "request timed out",
            "429 Too Many Requests",
        ] {
            assert!(looks_transient(m), "{m}");
        }
        for m in [
            "fake exit 3",
            "model not found",
            "used 5000 tokens",
            "invalid prompt",
        ] {
            assert!(!looks_transient(m), "{m}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(5.0, 0), Duration::from_secs(5));
        assert_eq!(backoff(5.0, 2), Duration::from_secs(20));
        assert_eq!(backoff(5.0, 30), BACKOFF_CAP);
    }
}
