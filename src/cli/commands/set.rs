//! `orch set`: change a run's settings after it was made.

use anyhow::Result;

use crate::cli::args::SetArgs;
use crate::lifecycle::budget;
use crate::model::error::UserError;
use crate::store::Home;

pub fn run(args: SetArgs) -> Result<i32> {
    if args.max_parallel.is_none() && args.budget.is_none() {
        return Err(UserError::usage(
            "nothing to set; e.g. `orch set RUN --max-parallel 3` or `orch set RUN --budget 5`",
        )
        .into());
    }
    let home = Home::from_env()?;
    let run = home.resolve_run(&args.run)?;
    if args.budget.is_some() {
        // A budget is checked against prices: a broken price table is said now.
        crate::ops::status::costing(&home)?;
    }
    {
        let _lock = run.lock()?;
        if let Some(n) = args.max_parallel {
            crate::ops::spawn::set_max_parallel(&run, (n > 0).then_some(n))?;
        }
        if let Some(b) = args.budget {
            crate::ops::spawn::set_budget(&run, (b > 0.0).then_some(b))?;
        }
        // A higher limit or budget may free workers at once.
        crate::lifecycle::sched::tick_locked(&home, &run)?;
    }
    match args.max_parallel {
        Some(0) => crate::outln!("{}: no limit on parallel workers", run.id),
        Some(n) => crate::outln!("{}: at most {n} workers at once", run.id),
        None => {}
    }
    match args.budget {
        Some(b) if b > 0.0 => {
            let spent = budget::run_spend(&home, &run)?;
            crate::outln!(
                "{}: budget {} ({} spent so far)",
                run.id,
                budget::usd(b),
                budget::usd(spent.usd)
            );
        }
        Some(_) => crate::outln!("{}: no budget", run.id),
        None => {}
    }
    Ok(0)
}
