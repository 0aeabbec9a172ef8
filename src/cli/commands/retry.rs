//! `orch retry`: run ended workers again from their saved specs, as new attempts.

use anyhow::Result;

use crate::cli::args::RetryArgs;
use crate::lifecycle::state::{self, State};
use crate::lifecycle::{retry, sched, transition};
use crate::model::error::UserError;
use crate::store::{Home, RunDir, WorkerDir};

pub fn run(args: RetryArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let (run, targets) = if args.failed {
        if args.target.contains('/') {
            return Err(UserError::usage(format!(
                "--failed takes a run, not the worker {}; drop --failed to retry one worker",
                args.target
            ))
            .into());
        }
        let run = home.resolve_run(&args.target)?;
        (run, None)
    } else {
        let w = home.resolve_worker(&args.target)?;
        (home.run(&w.run), Some(w))
    };
    crate::ops::spawn::check_tools()?;
    let _lock = run.lock()?;
    let chosen: Vec<WorkerDir> = match targets {
        Some(w) => {
            check_retryable(&w)?;
            vec![w]
        }
        None => {
            let all: Vec<WorkerDir> = run
                .labels()?
                .iter()
                .map(|l| run.worker(l))
                .filter(|w| retryable(state::state_of(w)))
                .collect();
            if all.is_empty() {
                crate::outln!(
                    "nothing to retry in run {}: no failed, stopped, lost or skipped worker",
                    run.id
                );
                return Ok(0);
            }
            all
        }
    };
    let labels: Vec<String> = chosen.iter().map(|w| w.label.clone()).collect();
    for w in &chosen {
        transition::requeue(w, true)?;
    }
    let mut requeued = labels.clone();
    requeued.extend(retry::requeue_skipped_dependents(&run, &labels, true)?);
    let tick = sched::tick_locked(&home, &run);
    report(&run, &requeued);
    tick?;
    Ok(0)
}

fn retryable(st: State) -> bool {
    matches!(
        st,
        State::Failed | State::Stopped | State::Lost | State::Skipped
    )
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

fn report(run: &RunDir, labels: &[String]) {
    for l in labels {
        let w = run.worker(l);
        crate::outln!("{} {}", w.address(), state::state_of(&w));
    }
}
