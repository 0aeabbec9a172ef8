//! `orch stop`: stop workers or whole runs.

use std::time::Duration;

use anyhow::Result;

use crate::cli::args::StopArgs;
use crate::ops::stop::stop_targets;
use crate::store::Home;

pub fn run(args: StopArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let report = stop_targets(&home, &args.targets, Duration::from_secs(args.grace))?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for w in &report.stopped {
            crate::outln!("{} {}", w.worker, w.state);
        }
    }
    Ok(0)
}
