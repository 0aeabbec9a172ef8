//! `orch merge`: the run's findings as one ranked list (markdown or JSON), saved as
//! merge.md; `--synthesize` adds a worker that summarises it.

use anyhow::{Context, Result};

use crate::cli::args::{MergeArgs, SeverityArg};
use crate::lifecycle::state::ViewOptions;
use crate::merge::{MergeOptions, Severity};
use crate::model::error::UserError;
use crate::ops::merge::{report, spawn_synthesis, with_cost_line};
use crate::store::Home;
use crate::store::fsutil::write_atomic;

pub fn run(args: MergeArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let run = home.run_or_latest(args.run.as_deref())?;
    let _ = crate::lifecycle::sched::tick(&home, &run);
    let opts = MergeOptions {
        min_severity: severity(args.min_severity),
        include_failed: args.include_failed,
    };
    let report = report(&run, &opts)?;
    let status = crate::ops::status::collect(&home, &run, &ViewOptions::default())?;
    let markdown = with_cost_line(&report.to_markdown(), &status);
    write_atomic(&run.dir.join("merge.md"), markdown.as_bytes())
        .with_context(|| format!("cannot save merge.md in {}", run.dir.display()))?;
    let shown = if args.json {
        let mut json = report.to_json();
        if let Some(obj) = json.as_object_mut() {
            obj.insert("cost_usd".into(), serde_json::json!(status.cost_usd));
            obj.insert("tokens".into(), serde_json::to_value(status.tokens)?);
        }
        serde_json::to_string_pretty(&json)? + "\n"
    } else {
        markdown.clone()
    };
    if let Some(out) = &args.out {
        std::fs::write(out, &shown)
            .map_err(|e| UserError::failed(format!("cannot write {}: {e}", out.display())))?;
    }
    print!("{shown}");
    if args.synthesize {
        let addr = spawn_synthesis(&home, &run, &markdown)?;
        eprintln!(
            "orch: synthesis worker {addr} started; `orch wait {addr}`, then `orch result {addr}` (also saved as synthesis.md in the run)"
        );
    }
    if report.is_partial() && !args.partial {
        let unfinished: Vec<String> = report
            .workers
            .iter()
            .filter(|w| w.state == "running" || w.state == "queued" || w.state == "starting")
            .map(|w| format!("{} {}", w.label, w.state))
            .collect();
        eprintln!(
            "orch: run {} is not finished ({}); this merge is PARTIAL. `orch wait {}` first, or pass --partial",
            run.id,
            unfinished.join(", "),
            run.id
        );
        return Ok(crate::model::error::EXIT_FAILED);
    }
    Ok(0)
}

fn severity(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Critical => Severity::Critical,
        SeverityArg::High => Severity::High,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Info => Severity::Info,
    }
}
