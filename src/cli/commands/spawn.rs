//! `orch spawn`: one worker, in a new run or an existing one.

use anyhow::Result;

use crate::cli::args::SpawnArgs;
use crate::content::share::Share;
use crate::model::error::UserError;
use crate::model::names::validate_label;
use crate::ops::spawn::{
    AddOptions, NewWorker, add_and_schedule, check_tools, compose_prompt, discard_if_empty,
    new_run, read_context, read_prompt, resolve_cd, write_findings_schema,
};
use crate::store::Home;

pub fn run(args: SpawnArgs) -> Result<i32> {
    let task = read_prompt(args.prompt.as_deref(), args.prompt_file.as_deref())?;
    if let Some(l) = &args.label {
        validate_label(l)?;
    }
    if !args.sched.after.is_empty() && args.run.is_none() {
        return Err(
            UserError::usage("--after names workers of an existing run; add --run RUN").into(),
        );
    }
    check_tools()?;
    crate::ops::spawn::check_login(&args.codex_args, args.codex.profile.as_deref())?;
    // Before a new run is made for it: a bad --cd must leave no empty run behind.
    resolve_cd(args.codex.cd.as_deref())?;
    let home = Home::from_env()?;
    let share = Share::new(&home.root);
    let context = read_context(args.sched.context.as_deref())?;
    let lens = args
        .lens
        .as_deref()
        .map(|l| share.lens(l).map_err(|e| UserError::usage(e.to_string())))
        .transpose()?;
    if args.role.as_deref() == Some("implementer") && !args.codex.sandbox.writes() && !args.raw {
        eprintln!(
            "orch: note: an implementer in the read-only sandbox cannot change files; it will \
             deliver the change in its final message (--sandbox workspace-write lets it write)"
        );
    }
    let prompt = compose_prompt(
        &share,
        args.role.as_deref().filter(|_| !args.raw),
        &task,
        lens.clone(),
        context,
        args.codex.sandbox,
    )?;
    let (run, made) = match &args.run {
        Some(r) => (home.resolve_run(r)?, false),
        None => (
            new_run(&home, "spawn", args.sched.max_parallel, Vec::new())?,
            true,
        ),
    };
    let added = (|| {
        let output_schema = if args.sched.findings_schema {
            Some(write_findings_schema(&share, &run)?)
        } else {
            None
        };
        let worker = NewWorker {
            label: args.label.clone(),
            role: args.role.clone(),
            lens: lens.map(|l| l.name),
            stage: None,
            prompt,
            opts: (&args.codex).into(),
            codex_args: args.codex_args.clone(),
            after: args.sched.after.clone(),
            output_schema,
            retries: args.sched.retries,
            force_writer: args.sched.force,
            timeout_secs: args.sched.timeout,
        };
        add_and_schedule(&home, &run, worker, &AddOptions::from(&args.sched))
    })();
    let address = match added {
        Ok(a) => a,
        Err(e) => {
            if made {
                discard_if_empty(&run);
            }
            return Err(e);
        }
    };
    println!("{address}");
    Ok(0)
}
