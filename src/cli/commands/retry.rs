//! `orch retry`: run ended workers again from their saved specs, as new attempts.

use anyhow::Result;

use crate::cli::args::RetryArgs;
use crate::lifecycle::state;
use crate::model::error::UserError;
use crate::store::Home;

pub fn run(args: RetryArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let (run, target) = if args.failed {
        if args.target.contains('/') {
            return Err(UserError::usage(format!(
                "--failed takes a run, not the worker {}; drop --failed to retry one worker",
                args.target
            ))
            .into());
        }
        (home.resolve_run(&args.target)?, None)
    } else {
        let w = home.resolve_worker(&args.target)?;
        (home.run(&w.run), Some(w))
    };
    let requeued = crate::ops::retry::retry(&home, &run, target)?;
    if requeued.workers.is_empty() {
        crate::outln!(
            "nothing to retry in run {}: no failed, stopped, lost or skipped worker",
            run.id
        );
    }
    for w in &requeued.workers {
        crate::outln!("{} {}", w.address(), state::state_of(w));
    }
    requeued.start?;
    Ok(0)
}
