//! `orch fanout`: a triangulated review in one command — one read-only reviewer per
//! lens, all in one new run, labels named after the lenses.

use anyhow::Result;

use crate::cli::args::FanoutArgs;
use crate::ops::spawn::read_prompt;
use crate::ops::start::{FanoutRequest, Started, fanout};
use crate::store::Home;

pub fn run(args: FanoutArgs) -> Result<i32> {
    let task = read_prompt(args.prompt.as_deref(), args.prompt_file.as_deref())?;
    let home = Home::from_env()?;
    let req = FanoutRequest {
        task,
        lenses: args.lens.clone(),
        context: args.context.clone(),
        merge: args.merge,
        max_parallel: args.max_parallel,
        budget_usd: args.budget,
        findings_schema: args.findings_schema,
        timeout_secs: args.timeout,
        cd: args.cd.clone(),
        model: args.model.clone(),
        profile: args.profile.clone(),
        codex_args: args.codex_args.clone(),
        attempts: args.attempts,
        role: args.role.clone(),
        worktree: args.worktree.request(),
    };
    let run = fanout(&home, &req)?;
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
