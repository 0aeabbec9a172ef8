//! `orch spawn`: one worker, in a new run or an existing one.

use anyhow::Result;

use crate::cli::args::SpawnArgs;
use crate::ops::spawn::read_prompt;
use crate::ops::start::{SpawnRequest, Started, spawn_worker};
use crate::store::Home;

pub fn run(args: SpawnArgs) -> Result<i32> {
    let task = read_prompt(args.prompt.as_deref(), args.prompt_file.as_deref())?;
    let home = Home::from_env()?;
    let req = SpawnRequest {
        task,
        label: args.label.clone(),
        run: args.run.clone(),
        role: args.role.clone(),
        lens: args.lens.clone(),
        raw: args.raw,
        after: args.sched.after.clone(),
        context: args.sched.context.clone(),
        retries: args.sched.retries,
        findings_schema: args.sched.findings_schema,
        timeout_secs: args.sched.timeout,
        add: (&args.sched).into(),
        codex: (&args.codex).into(),
        codex_args: args.codex_args.clone(),
        worktree: args.worktree.request(),
    };
    let address = spawn_worker(&home, &req)?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&Started::one(address))?);
    } else {
        crate::outln!("{address}");
    }
    Ok(0)
}
