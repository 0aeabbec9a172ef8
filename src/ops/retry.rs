//! `orch retry` (and the dashboard's `r`): run ended workers again from their saved
//! specs, as new attempts; the earlier attempt is kept.

use anyhow::Result;

use crate::lifecycle::state::{self, State};
use crate::lifecycle::{retry, sched, transition};
use crate::model::error::UserError;
use crate::store::{Home, RunDir, WorkerDir};

/// Whether a worker in `st` can be run again.
pub fn retryable(st: State) -> bool {
    matches!(
        st,
        State::Failed | State::Stopped | State::Lost | State::Skipped
    )
}

/// What a retry did: the requeued workers (empty when a whole run had nothing to
/// retry), and how starting them went. The requeue stands even when the start failed,
/// so callers report both.
pub struct Retried {
    pub workers: Vec<WorkerDir>,
    pub start: Result<()>,
}

/// Requeues `worker` (or, with `None`, every retryable worker of `run`) and the
/// dependents it had skipped, then starts what may start. A single worker that cannot
/// be retried is refused, changing nothing, with what to do instead.
pub fn retry(home: &Home, run: &RunDir, worker: Option<WorkerDir>) -> Result<Retried> {
    crate::ops::spawn::check_tools()?;
    let _lock = run.lock()?;
    let chosen: Vec<WorkerDir> = match worker {
        Some(w) => {
            check_retryable(&w)?;
            vec![w]
        }
        None => run
            .labels()?
            .iter()
            .map(|l| run.worker(l))
            .filter(|w| retryable(state::state_of(w)))
            .collect(),
    };
    if chosen.is_empty() {
        return Ok(Retried {
            workers: Vec::new(),
            start: Ok(()),
        });
    }
    let labels: Vec<String> = chosen.iter().map(|w| w.label.clone()).collect();
    for w in &chosen {
        transition::requeue(w, true)?;
    }
    let mut requeued = labels.clone();
    requeued.extend(retry::requeue_skipped_dependents(run, &labels, true)?);
    let start = sched::tick_locked(home, run).map(|_| ());
    Ok(Retried {
        workers: requeued.iter().map(|l| run.worker(l)).collect(),
        start,
    })
}

/// Refuses, without changing anything, a worker a retry would make no sense for.
fn check_retryable(w: &WorkerDir) -> Result<()> {
    let st = state::state_of(w);
    let a = w.address();
    let why = match st {
        s if retryable(s) => return Ok(()),
        State::Done => format!(
            "{a} ended done; to ask it more, continue its conversation with `orch resume {a} \"PROMPT\"`"
        ),
        State::Queued => format!("{a} is queued and will start by itself; nothing to retry"),
        State::Starting | State::Running | State::Paused => {
            format!("{a} is still {st}; stop it first with `orch stop {a}`, then retry")
        }
        State::Incomplete => format!(
            "{a} was never fully created (its spawn was interrupted); `orch gc` removes it, then spawn it again"
        ),
        _ => format!(
            "{a} has a damaged record ({}); move the file aside or remove the worker with `orch gc`",
            state::view(w, &Default::default())
                .error
                .unwrap_or_default()
        ),
    };
    Err(UserError::failed(why).into())
}
