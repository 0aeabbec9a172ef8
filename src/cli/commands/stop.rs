//! `orch stop`: stop workers or whole runs.

use std::time::Duration;

use anyhow::Result;

use crate::cli::args::StopArgs;
use crate::ops::stop::{resolve_targets, stop_all};
use crate::store::Home;

pub fn run(args: StopArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let mut workers = Vec::new();
    for t in &args.targets {
        workers.extend(resolve_targets(&home, t)?);
    }
    let stopped = stop_all(&home, &workers, Duration::from_secs(args.grace))?;
    for (w, state) in &stopped {
        println!("{} {state}", w.address());
    }
    Ok(0)
}
