//! `orch merge`: the run's findings as one ranked list (markdown or JSON), saved as
//! merge.md; `--synthesize` adds a worker that summarises it.

use anyhow::Result;

use crate::cli::args::{MergeArgs, SeverityArg};
use crate::merge::{MergeOptions, Severity};
use crate::model::error::UserError;
use crate::ops::merge::{merge_run, spawn_synthesis};
use crate::store::Home;

pub fn run(args: MergeArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let opts = MergeOptions {
        min_severity: severity(args.min_severity),
        include_failed: args.include_failed,
    };
    let merged = merge_run(&home, args.run.as_deref(), &opts)?;
    let shown = if args.json {
        serde_json::to_string_pretty(&merged.json)? + "\n"
    } else {
        merged.markdown.clone()
    };
    if let Some(out) = &args.out {
        std::fs::write(out, &shown)
            .map_err(|e| UserError::failed(format!("cannot write {}: {e}", out.display())))?;
    }
    crate::sys::output::text(&shown);
    if args.synthesize {
        let addr = spawn_synthesis(&home, &merged.run, &merged.markdown)?;
        crate::errln!(
            "orch: synthesis worker {addr} started; `orch wait {addr}`, then `orch result {addr}` (also saved as synthesis.md in the run)"
        );
    }
    if let Some(why) = &merged.partial
        && !args.partial
    {
        crate::errln!("orch: {why}");
        return Ok(crate::model::error::EXIT_FAILED);
    }
    Ok(0)
}

pub fn severity(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Critical => Severity::Critical,
        SeverityArg::High => Severity::High,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Info => Severity::Info,
    }
}
