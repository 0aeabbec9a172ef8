//! Stopping workers: Ctrl-C to codex's process group, then TERM, then KILL; queued
//! workers and planned retries end without running.

use std::time::{Duration, Instant};

use anyhow::Result;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::lifecycle::state::{self, State};
use crate::lifecycle::transition;
use crate::store::fsutil::{is_locked, read_json_opt};
use crate::store::{Home, StartRecord, Target, WorkerDir};

/// A target is RUN/LABEL, LABEL (latest run), or a run (all its workers).
pub fn resolve_targets(home: &Home, target: &str) -> Result<Vec<WorkerDir>> {
    Ok(match home.resolve_target(target)? {
        Target::Worker(w) => vec![w],
        Target::Run(run) => run.labels()?.iter().map(|l| run.worker(l)).collect(),
    })
}

/// `orch stop --json` (and the MCP `stop` tool). Field names are a contract.
#[derive(Debug, serde::Serialize)]
pub struct StopReport {
    pub stopped: Vec<StoppedWorker>,
}

#[derive(Debug, serde::Serialize)]
pub struct StoppedWorker {
    /// `RUN/LABEL`
    pub worker: String,
    pub state: State,
}

/// Resolves every target (all before stopping any: a bad one stops nothing), stops
/// them, and says how each ended.
pub fn stop_targets(home: &Home, targets: &[String], grace: Duration) -> Result<StopReport> {
    let mut workers = Vec::new();
    for t in targets {
        workers.extend(resolve_targets(home, t)?);
    }
    let stopped = stop_all(home, &workers, grace)?;
    Ok(StopReport {
        stopped: stopped
            .into_iter()
            .map(|(w, state)| StoppedWorker {
                worker: w.address(),
                state,
            })
            .collect(),
    })
}

/// Stops every worker given and returns each one's final state.
pub fn stop_all(
    home: &Home,
    workers: &[WorkerDir],
    grace: Duration,
) -> Result<Vec<(WorkerDir, State)>> {
    stop_all_because(home, workers, grace, None)
}

/// `stop_all`, recording `reason` (else "stopped by the user") for running workers.
pub fn stop_all_because(
    home: &Home,
    workers: &[WorkerDir],
    grace: Duration,
    reason: Option<&str>,
) -> Result<Vec<(WorkerDir, State)>> {
    let mut live = Vec::new();
    for w in workers {
        let st = state::state_of(w);
        match st {
            State::Queued => stop_queued(home, w)?,
            State::Starting | State::Running => {
                transition::request_stop_because(w, reason)?;
                signal(w, Signal::SIGINT);
                live.push(w.clone());
            }
            // No codex runs while paused: the wrapper sees stop.json within a moment.
            State::Paused => {
                transition::request_stop(w)?;
                live.push(w.clone());
            }
            // Lost, with an automatic retry owed: the stop request is what tells the
            // scheduler not to start it.
            State::Lost => transition::request_stop(w)?,
            // Waiting out an automatic retry's back-off: stopping cancels the retry.
            _ => {
                transition::cancel_retry(&home.run(&w.run), w)?;
            }
        }
    }
    for sig in [Some(Signal::SIGTERM), Some(Signal::SIGKILL), None] {
        let deadline = Instant::now() + grace.max(Duration::from_millis(500));
        while Instant::now() < deadline && live.iter().any(|w| !state::state_of(w).is_final()) {
            std::thread::sleep(Duration::from_millis(50));
        }
        live.retain(|w| !state::state_of(w).is_final());
        match sig {
            Some(sig) => live.iter().for_each(|w| signal(w, sig)),
            None => {
                // Still not ended after KILL: the wrapper itself must be wedged.
                for w in &live {
                    if let Ok(Some(s)) = read_json_opt::<StartRecord>(&w.started_path()) {
                        let _ = nix::sys::signal::kill(
                            Pid::from_raw(s.wrapper_pid as i32),
                            Signal::SIGKILL,
                        );
                    }
                }
            }
        }
        if live.is_empty() {
            break;
        }
    }
    Ok(workers
        .iter()
        .map(|w| (w.clone(), state::state_of(w)))
        .collect())
}

pub(super) fn signal(w: &WorkerDir, sig: Signal) {
    // The life lock proves the process group is still this worker's (no pid reuse);
    // a paused worker's codex has ended, and its pid may be anyone's by now.
    if !is_locked(&w.live_lock_path()) || w.pause_path().exists() {
        return;
    }
    if let Ok(Some(s)) = read_json_opt::<StartRecord>(&w.started_path()) {
        let _ = killpg(Pid::from_raw(s.codex_pid as i32), sig);
    }
}

fn stop_queued(home: &Home, w: &WorkerDir) -> Result<()> {
    let run = home.run(&w.run);
    let _lock = run.lock()?;
    if state::state_of(w) != State::Queued {
        return Ok(());
    }
    transition::never_ran(w, State::Stopped, "stopped before it started")
}
