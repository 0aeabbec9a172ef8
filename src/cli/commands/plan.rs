//! `orch plan`: a run's stages as a plan, with the step in progress.

use anyhow::Result;

use crate::cli::args::PlanArgs;
use crate::lifecycle::plan;
use crate::lifecycle::state;
use crate::store::Home;

pub fn run(args: PlanArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let run = home.run_or_latest(args.run.as_deref())?;
    let _ = crate::lifecycle::sched::tick(&home, &run);
    let steps = steps_of(&run)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"run": run.id, "steps": steps}))?
        );
    } else if steps.is_empty() {
        println!(
            "run {} has no plan: its workers were spawned one by one",
            run.id
        );
    } else {
        print!("{}", plan::render(&steps));
    }
    Ok(0)
}

pub fn steps_of(run: &crate::store::RunDir) -> Result<Vec<plan::Step>> {
    let record = run.record()?;
    let workers: Vec<_> = run
        .labels()?
        .into_iter()
        .map(|l| {
            let w = run.worker(&l);
            let stage = w.spec().ok().and_then(|s| s.stage);
            (l, stage, state::state_of(&w))
        })
        .collect();
    Ok(plan::derive(
        &record,
        &workers,
        run.dir.join("merge.md").is_file(),
    ))
}
