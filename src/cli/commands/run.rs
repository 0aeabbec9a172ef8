//! `orch run`: a pipeline file becomes a run — every worker recorded at once with its
//! rendered prompt and dependencies; the scheduler starts them as their turn comes.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::cli::args::RunArgs;
use crate::model::error::UserError;
use crate::ops::start::{PipelineRequest, Started, check_worktrees, load_pipeline, start_pipeline};
use crate::store::Home;

pub fn run(args: RunArgs) -> Result<i32> {
    let mut vars = BTreeMap::new();
    for v in &args.vars {
        let (k, val) = v
            .split_once('=')
            .ok_or_else(|| UserError::usage(format!("--var {v:?}: expected KEY=VALUE")))?;
        vars.insert(k.trim().to_string(), val.to_string());
    }
    let home = Home::from_env()?;
    let req = PipelineRequest {
        pipeline: args.pipeline.clone(),
        vars,
        max_parallel: args.max_parallel,
        trust_pipeline: args.trust_pipeline,
        budget_usd: args.budget,
    };
    let loaded = load_pipeline(&home, &req)?;
    if args.dry_run {
        crate::outln!("{}", loaded.loaded_from);
        for r in &loaded.reaching {
            let allowed = if args.trust_pipeline {
                "allowed by --trust-pipeline"
            } else {
                "needs --trust-pipeline"
            };
            crate::outln!("{allowed}: {r}");
        }
        if let Err(e) = check_worktrees(&home, &loaded.plan) {
            crate::outln!("would be refused: {e:#}");
        }
        crate::sys::output::text(&loaded.plan.dry_run_text());
        return Ok(0);
    }
    let run = start_pipeline(&home, &req, loaded)?;
    if args.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&Started::run(&home, run))?
        );
    } else {
        crate::outln!("{run}");
    }
    Ok(0)
}
