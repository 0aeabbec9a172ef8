//! `orch run`: a pipeline file becomes a run — every worker recorded at once with its
//! rendered prompt and dependencies; the scheduler starts them as their turn comes.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::cli::args::RunArgs;
use crate::content::pipeline::{self, PlannedWorker};
use crate::content::share::Share;
use crate::model::error::UserError;
use crate::ops::spawn::CodexSettings;
use crate::ops::trust::{self, Origin};
use crate::store::fsutil::write_json;
use crate::store::{Home, StageRecord};

use crate::ops::spawn::{self, NewWorker};

pub fn run(args: RunArgs) -> Result<i32> {
    let mut vars = BTreeMap::new();
    for v in &args.vars {
        let (k, val) = v
            .split_once('=')
            .ok_or_else(|| UserError::usage(format!("--var {v:?}: expected KEY=VALUE")))?;
        vars.insert(k.trim().to_string(), val.to_string());
    }
    let home = Home::from_env()?;
    let share = Share::new(&home.root);
    let source = share.pipeline_path(&args.pipeline).map_err(|e| {
        // A file of that name here is never read by name (it could replace a shipped
        // pipeline); say how to run it on purpose.
        let hint = if std::path::Path::new(&args.pipeline).is_file() {
            format!(
                "; a file {0} is in this folder: run it as ./{0} if you mean it",
                args.pipeline
            )
        } else {
            String::new()
        };
        UserError::usage(format!("{e}{hint}"))
    })?;
    let origin = Origin::of(&args.pipeline, &source, &share);
    let loaded_from = format!("loaded from: {}", origin.describe(&home.root));
    let mut plan = pipeline::load_source(&source, &vars, &share)
        .map_err(|e| UserError::usage(e.to_string()))?;
    if args.max_parallel.is_some() {
        plan.max_parallel = args.max_parallel;
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let reaching = if origin.needs_trust() {
        trust::reaching_out(&plan.workers, &trust::working_tree(&cwd))
    } else {
        Vec::new()
    };
    if args.dry_run {
        println!("{loaded_from}");
        for r in &reaching {
            let allowed = if args.trust_pipeline {
                "allowed by --trust-pipeline"
            } else {
                "needs --trust-pipeline"
            };
            println!("{allowed}: {r}");
        }
        print!("{}", plan.dry_run_text());
        return Ok(0);
    }
    if !reaching.is_empty() && !args.trust_pipeline {
        return Err(UserError::usage(format!(
            "pipeline {} {}; a pipeline file's word is not enough for that: check the file, then run it again with --trust-pipeline",
            source,
            reaching.join("; ")
        ))
        .into());
    }
    eprintln!("orch: pipeline {loaded_from}");
    spawn::check_tools()?;
    spawn::check_login(&[], None)?;
    let workers = dependency_order(&plan.workers);
    for w in &workers {
        spawn::resolve_cd(w.cd.as_deref())?;
    }
    let stages = plan
        .stages
        .iter()
        .map(|s| StageRecord {
            name: s.name.clone(),
            description: s.description.clone(),
        })
        .collect();
    let run = spawn::new_run(&home, "pipeline", plan.max_parallel, stages)?;
    {
        let mut rec = run.record()?;
        rec.pipeline = Some(plan.name.clone());
        rec.budget_usd = args.budget;
        write_json(&run.record_path(), &rec)?;
    }
    let schema = if workers.iter().any(|w| w.output_schema) {
        Some(spawn::write_findings_schema(&share, &run)?)
    } else {
        None
    };
    let _lock = run.lock()?;
    for w in workers {
        // `{{out:LABEL}}` names the file where that worker's final message will be.
        let prompt = pipeline::fill_outputs(&w.prompt, |label| {
            run.worker(label).last_message_path().display().to_string()
        });
        spawn::add_locked(
            &run,
            NewWorker {
                label: Some(w.label.clone()),
                role: Some(w.role.clone()),
                lens: w.lens.clone(),
                stage: Some(w.stage.clone()),
                prompt,
                opts: CodexSettings {
                    cd: w.cd.clone(),
                    sandbox: w.sandbox,
                    model: w.model.clone(),
                    profile: None,
                },
                codex_args: Vec::new(),
                after: w.after.clone(),
                output_schema: if w.output_schema {
                    schema.clone()
                } else {
                    None
                },
                retries: 0,
                force_writer: false,
                timeout_secs: w.timeout_secs,
            },
        )?;
    }
    crate::lifecycle::sched::tick_locked(&home, &run)?;
    println!("{}", run.id);
    Ok(0)
}

/// Workers ordered so each comes after everything it waits for (the pipeline loader
/// has already refused cycles), keeping the file's order otherwise.
fn dependency_order(workers: &[PlannedWorker]) -> Vec<&PlannedWorker> {
    let mut out: Vec<&PlannedWorker> = Vec::new();
    let mut left: Vec<&PlannedWorker> = workers.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|w| {
            let ready = w.after.iter().all(|d| out.iter().any(|o| &o.label == d));
            if ready {
                out.push(w);
            }
            !ready
        });
        if left.len() == before {
            out.append(&mut left); // unreachable after the loader's cycle check
        }
    }
    out
}
