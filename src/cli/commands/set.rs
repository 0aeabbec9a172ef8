//! `orch set`: change a run's settings after it was made.

use anyhow::Result;

use crate::cli::args::SetArgs;
use crate::model::error::UserError;
use crate::store::Home;

pub fn run(args: SetArgs) -> Result<i32> {
    let Some(n) = args.max_parallel else {
        return Err(
            UserError::usage("nothing to set; e.g. `orch set RUN --max-parallel 3`").into(),
        );
    };
    let home = Home::from_env()?;
    let run = home.resolve_run(&args.run)?;
    {
        let _lock = run.lock()?;
        crate::ops::spawn::set_max_parallel(&run, (n > 0).then_some(n))?;
        // A higher limit may free slots at once.
        crate::lifecycle::sched::tick_locked(&home, &run)?;
    }
    match n {
        0 => println!("{}: no limit on parallel workers", run.id),
        n => println!("{}: at most {n} workers at once", run.id),
    }
    Ok(0)
}
