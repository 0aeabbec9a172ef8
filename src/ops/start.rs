//! Starting work: one worker (`orch spawn`), a review fan-out (`orch fanout`) and a
//! pipeline (`orch run`). The CLI commands and the MCP tools call these, so a worker
//! started either way is the same worker.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::content::pipeline::{self, PlannedWorker};
use crate::content::share::{Lens, Share};
use crate::model::Sandbox;
use crate::model::error::UserError;
use crate::model::names::validate_label;
use crate::ops::spawn::{self, AddOptions, CodexSettings, NewWorker};
use crate::ops::trust::{self, Origin};
use crate::ops::worktree::WorktreeRequest;
use crate::store::fsutil::write_json;
use crate::store::{Home, StageRecord};

/// What `spawn`, `fanout` and `run` print with `--json` (and the MCP tools return).
/// Field names are a contract: add, never rename.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Started {
    pub run: String,
    /// `RUN/LABEL` of each worker started, in the order they were added.
    pub workers: Vec<String>,
}

impl Started {
    /// For one worker's address `RUN/LABEL`.
    pub fn one(address: String) -> Started {
        let run = address.split('/').next().unwrap_or_default().to_string();
        Started {
            run,
            workers: vec![address],
        }
    }

    /// Every worker of a run just made.
    pub fn run(home: &Home, run: String) -> Started {
        let labels = home.run(&run).labels().unwrap_or_default();
        Started {
            workers: labels.iter().map(|l| format!("{run}/{l}")).collect(),
            run,
        }
    }
}

pub const MIN_LENSES: usize = 2;
pub const MAX_LENSES: usize = 6;

/// `orch spawn`'s arguments, read and checked by the caller (the prompt is text).
#[derive(Debug, Clone, Default)]
pub struct SpawnRequest {
    pub task: String,
    pub label: Option<String>,
    pub run: Option<String>,
    pub role: Option<String>,
    pub lens: Option<String>,
    /// Send the task without the role's template.
    pub raw: bool,
    pub after: Vec<String>,
    pub context: Option<PathBuf>,
    pub retries: u32,
    pub findings_schema: bool,
    pub timeout_secs: Option<u64>,
    pub add: AddOptions,
    pub codex: CodexSettings,
    pub codex_args: Vec<String>,
    /// A git worktree and branch of the worker's own (`--worktree`).
    pub worktree: Option<WorktreeRequest>,
}

/// Adds one worker (to a new run unless `run` names one) and schedules it; returns its
/// address `RUN/LABEL`. A refused worker leaves no empty run behind.
pub fn spawn_worker(home: &Home, req: &SpawnRequest) -> Result<String> {
    if let Some(l) = &req.label {
        validate_label(l)?;
    }
    if !req.after.is_empty() && req.run.is_none() {
        return Err(
            UserError::usage("--after names workers of an existing run; add --run RUN").into(),
        );
    }
    spawn::check_tools()?;
    spawn::check_login(&req.codex_args, req.codex.profile.as_deref())?;
    // Before a new run is made for it: a bad --cd must leave no empty run behind.
    let cd = spawn::resolve_cd(req.codex.cd.as_deref())?;
    if req.worktree.is_some() {
        crate::sys::git::check_installed()?;
        // A non-git --cd is refused before a run is made for it.
        crate::sys::git::toplevel(&cd)?;
    }
    let share = Share::new(&home.root);
    let context = spawn::read_context(req.context.as_deref())?;
    let lens = req
        .lens
        .as_deref()
        .map(|l| share.lens(l).map_err(|e| UserError::usage(e.to_string())))
        .transpose()?;
    if req.role.as_deref() == Some("implementer") && !req.codex.sandbox.writes() && !req.raw {
        crate::errln!(
            "orch: note: an implementer in the read-only sandbox cannot change files; it will \
             deliver the change in its final message (--sandbox workspace-write lets it write)"
        );
    }
    let prompt = spawn::compose_prompt(
        &share,
        req.role.as_deref().filter(|_| !req.raw),
        &req.task,
        lens.clone(),
        context,
        req.codex.sandbox,
    )?;
    let (run, made) = match &req.run {
        Some(r) => (home.resolve_run(r)?, false),
        None => (
            spawn::new_run(home, "spawn", req.add.max_parallel, Vec::new())?,
            true,
        ),
    };
    let added = (|| {
        let output_schema = if req.findings_schema {
            Some(spawn::write_findings_schema(&share, &run)?)
        } else {
            None
        };
        let worker = NewWorker {
            label: req.label.clone(),
            role: req.role.clone(),
            lens: lens.map(|l| l.name),
            stage: None,
            prompt,
            opts: req.codex.clone(),
            codex_args: req.codex_args.clone(),
            after: req.after.clone(),
            after_any_done: false,
            output_schema,
            retries: req.retries,
            force_writer: req.add.force,
            timeout_secs: req.timeout_secs,
            worktree: req.worktree.clone(),
        };
        spawn::add_and_schedule(home, &run, worker, &req.add)
    })();
    added.inspect_err(|_| {
        if made {
            spawn::discard_if_empty(&run);
        }
    })
}

/// `orch fanout`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct FanoutRequest {
    pub task: String,
    /// As given: each may be a comma-separated list (see [`split_lens_list`]).
    pub lenses: Vec<String>,
    pub context: Option<PathBuf>,
    pub merge: bool,
    pub max_parallel: Option<u32>,
    pub budget_usd: Option<f64>,
    pub findings_schema: bool,
    pub timeout_secs: Option<u64>,
    pub cd: Option<PathBuf>,
    pub model: Option<String>,
    pub profile: Option<String>,
    pub codex_args: Vec<String>,
    /// Best-of-N: this many writers of the task instead of reviewers.
    pub attempts: Option<u32>,
    /// The attempts' role (default implementer).
    pub role: Option<String>,
    pub worktree: Option<WorktreeRequest>,
}

/// One read-only reviewer per lens, all in one new run, labels named after the lenses;
/// returns the run id.
pub fn fanout(home: &Home, req: &FanoutRequest) -> Result<String> {
    if let Some(n) = req.attempts {
        return attempts(home, req, n);
    }
    if req.worktree.is_some() {
        return Err(UserError::usage(
            "--worktree is for writers: reviewers (--lens) only read; use it with --attempts N",
        )
        .into());
    }
    let share = Share::new(&home.root);
    let specs: Vec<String> = req
        .lenses
        .iter()
        .flat_map(|l| split_lens_list(l, &share.lens_names()))
        .collect();
    if !(MIN_LENSES..=MAX_LENSES).contains(&specs.len()) {
        return Err(UserError::usage(format!(
            "--lens takes {MIN_LENSES} to {MAX_LENSES} lenses, got {}; e.g. --lens correctness,security,tests",
            specs.len()
        ))
        .into());
    }
    spawn::check_tools()?;
    spawn::check_login(&req.codex_args, req.profile.as_deref())?;
    let mut lenses: Vec<Lens> = Vec::new();
    for spec in &specs {
        let lens = share
            .lens(spec)
            .map_err(|e| UserError::usage(e.to_string()))?;
        validate_label(&lens.name).map_err(|e| {
            UserError::usage(format!("lens {:?} can't be a worker label: {e}", lens.name))
        })?;
        if lenses.iter().any(|l| l.name == lens.name) {
            return Err(UserError::usage(format!("lens {} is given twice", lens.name)).into());
        }
        lenses.push(lens);
    }
    let context = spawn::read_context(req.context.as_deref())?;
    let opts = CodexSettings {
        cd: req.cd.clone(),
        sandbox: Sandbox::ReadOnly,
        model: req.model.clone(),
        profile: req.profile.clone(),
    };
    spawn::resolve_cd(opts.cd.as_deref())?;
    let stages = vec![
        StageRecord {
            name: "review".into(),
            description: "One read-only reviewer per lens, in parallel.".into(),
        },
        StageRecord {
            name: "merge".into(),
            description: "Curate the findings into one ranked, de-duplicated list (`orch merge`)."
                .into(),
        },
        StageRecord {
            name: "decide".into(),
            description: "Check the top findings against the code; choose what to fix next.".into(),
        },
    ];
    let run = spawn::new_run(home, "fanout", req.max_parallel, stages)?;
    if req.merge || req.budget_usd.is_some() {
        let mut rec = run.record()?;
        rec.merge_on_finish = req.merge;
        rec.budget_usd = req.budget_usd;
        write_json(&run.record_path(), &rec)?;
    }
    let output_schema = if req.findings_schema {
        Some(spawn::write_findings_schema(&share, &run)?)
    } else {
        None
    };
    let _lock = run.lock()?;
    for lens in lenses {
        let prompt = spawn::compose_prompt(
            &share,
            Some("reviewer"),
            &req.task,
            Some(lens.clone()),
            context.clone(),
            Sandbox::ReadOnly,
        )?;
        spawn::add_locked(
            &run,
            NewWorker {
                label: Some(lens.name.clone()),
                role: Some("reviewer".into()),
                lens: Some(lens.name),
                stage: Some("review".into()),
                prompt,
                opts: opts.clone(),
                codex_args: req.codex_args.clone(),
                after: Vec::new(),
                after_any_done: false,
                output_schema: output_schema.clone(),
                retries: 0,
                force_writer: false,
                timeout_secs: req.timeout_secs,
                worktree: None,
            },
        )?;
    }
    crate::lifecycle::sched::tick_locked(home, &run)?;
    Ok(run.id)
}

/// Best-of-N: `n` writers of one task, labels A1…An, each in its own worktree and
/// branch, all running at once, then a read-only verifier `pick` that compares their
/// diffs and names the best; `orch land RUN` applies the one it named (`ops::pick`).
fn attempts(home: &Home, req: &FanoutRequest, n: u32) -> Result<String> {
    let Some(wt) = req.worktree.clone() else {
        return Err(UserError::usage(
            "--attempts runs N writers of one task; give each its own tree with --worktree",
        )
        .into());
    };
    if !(2..=4).contains(&n) {
        return Err(UserError::usage(format!("--attempts takes 2 to 4, got {n}")).into());
    }
    let share = Share::new(&home.root);
    let role = req.role.clone().unwrap_or_else(|| "implementer".into());
    spawn::check_tools()?;
    spawn::check_login(&req.codex_args, req.profile.as_deref())?;
    let cd = spawn::resolve_cd(req.cd.as_deref())?;
    crate::ops::worktree::preflight(home, &cd)?;
    let context = spawn::read_context(req.context.as_deref())?;
    let opts = CodexSettings {
        cd: Some(cd),
        sandbox: Sandbox::WorkspaceWrite,
        model: req.model.clone(),
        profile: req.profile.clone(),
    };
    let prompt = spawn::compose_prompt(
        &share,
        Some(&role),
        &req.task,
        None,
        context.clone(),
        Sandbox::WorkspaceWrite,
    )?;
    let stages = vec![
        StageRecord {
            name: "attempt".into(),
            description: format!("{n} attempts at the same task, each in its own worktree."),
        },
        StageRecord {
            name: "pick".into(),
            description: "A verifier compares the attempts that ended done and names the best (`Best: A2`); `orch land RUN` lands it."
                .into(),
        },
    ];
    // The picker judges by the same context pack (its success check) as the attempts.
    let pick_prompt = spawn::compose_prompt(
        &share,
        Some(crate::ops::pick::PICK),
        &req.task,
        None,
        context,
        Sandbox::ReadOnly,
    )?;
    let run = spawn::new_run(home, "fanout", req.max_parallel, stages)?;
    if req.budget_usd.is_some() {
        let mut rec = run.record()?;
        rec.budget_usd = req.budget_usd;
        write_json(&run.record_path(), &rec)?;
    }
    let _lock = run.lock()?;
    let added = (1..=n).try_for_each(|i| {
        spawn::add_locked(
            &run,
            NewWorker {
                label: Some(format!("A{i}")),
                role: Some(role.clone()),
                lens: None,
                stage: Some("attempt".into()),
                prompt: prompt.clone(),
                opts: opts.clone(),
                codex_args: req.codex_args.clone(),
                after: Vec::new(),
                after_any_done: false,
                output_schema: None,
                retries: 0,
                force_writer: false,
                timeout_secs: req.timeout_secs,
                worktree: Some(wt.clone()),
            },
        )
        .map(|_| ())
    });
    // The picker reads the attempts' diffs (given in its input) and may run their tests
    // in their worktrees, reading only; it starts once every attempt has ended and at
    // least one ended done.
    let added = added.and_then(|()| {
        spawn::add_locked(
            &run,
            NewWorker {
                label: Some(crate::ops::pick::PICK.into()),
                role: Some("verifier".into()),
                lens: None,
                stage: Some("pick".into()),
                prompt: pick_prompt,
                opts: CodexSettings {
                    sandbox: Sandbox::ReadOnly,
                    ..opts.clone()
                },
                codex_args: req.codex_args.clone(),
                after: (1..=n).map(|i| format!("A{i}")).collect(),
                after_any_done: true,
                output_schema: None,
                retries: 0,
                force_writer: false,
                timeout_secs: req.timeout_secs,
                worktree: None,
            },
        )
        .map(|_| ())
    });
    if let Err(e) = added {
        // Leave no half a best-of-N behind: the attempts made so far go with the run.
        discard_run(&run);
        return Err(e);
    }
    crate::lifecycle::sched::tick_locked(home, &run)?;
    Ok(run.id)
}

/// Splits `--lens a,b,perf=allocations, copies and locks,api=naming`. A comma starts a
/// new lens before a known lens name or a `name=text`; anything else after an inline
/// lens is more of its text.
pub fn split_lens_list(text: &str, known: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in text.split(',') {
        let p = piece.trim();
        let inline = p
            .split_once('=')
            .is_some_and(|(n, _)| !n.trim().is_empty() && !n.trim().contains(char::is_whitespace));
        let new_lens = inline || known.iter().any(|k| k == p);
        match out.last_mut() {
            Some(last) if !new_lens && last.contains('=') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => out.push(p.to_string()),
        }
    }
    out.retain(|l| !l.is_empty());
    out
}

/// `orch run`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct PipelineRequest {
    pub pipeline: String,
    pub vars: BTreeMap<String, String>,
    pub max_parallel: Option<u32>,
    pub trust_pipeline: bool,
    pub budget_usd: Option<f64>,
}

/// A pipeline, loaded and checked, before anything is started.
pub struct LoadedPipeline {
    pub plan: pipeline::Plan,
    /// `loaded from: …`, where the file came from.
    pub loaded_from: String,
    /// What the file asks for that reaches outside the working tree (needs trust).
    pub reaching: Vec<String>,
    source: String,
}

/// Finds and expands the pipeline; refuses nothing yet (see [`start_pipeline`]).
pub fn load_pipeline(home: &Home, req: &PipelineRequest) -> Result<LoadedPipeline> {
    let share = Share::new(&home.root);
    let source = share.pipeline_path(&req.pipeline).map_err(|e| {
        // A file of that name here is never read by name (it could replace a shipped
        // pipeline); say how to run it on purpose.
        let hint = if std::path::Path::new(&req.pipeline).is_file() {
            format!(
                "; a file {0} is in this folder: run it as ./{0} if you mean it",
                req.pipeline
            )
        } else {
            String::new()
        };
        UserError::usage(format!("{e}{hint}"))
    })?;
    let origin = Origin::of(&req.pipeline, &source, &share);
    let loaded_from = format!("loaded from: {}", origin.describe(&home.root));
    let mut plan = pipeline::load_source(&source, &req.vars, &share)
        .map_err(|e| UserError::usage(e.to_string()))?;
    if req.max_parallel.is_some() {
        plan.max_parallel = req.max_parallel;
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let reaching = if origin.needs_trust() {
        trust::reaching_out(&plan.workers, &trust::working_tree(&cwd))
    } else {
        Vec::new()
    };
    Ok(LoadedPipeline {
        plan,
        loaded_from,
        reaching,
        source: source.to_string(),
    })
}

/// Every worker of the pipeline recorded at once with its rendered prompt and
/// dependencies; the scheduler starts them as their turn comes. Returns the run id.
pub fn start_pipeline(
    home: &Home,
    req: &PipelineRequest,
    loaded: LoadedPipeline,
) -> Result<String> {
    let LoadedPipeline {
        plan,
        loaded_from,
        reaching,
        source,
    } = loaded;
    if !reaching.is_empty() && !req.trust_pipeline {
        return Err(UserError::usage(format!(
            "pipeline {} {}; a pipeline file's word is not enough for that: check the file, then run it again with --trust-pipeline",
            source,
            reaching.join("; ")
        ))
        .into());
    }
    crate::errln!("orch: pipeline {loaded_from}");
    spawn::check_tools()?;
    spawn::check_login(&[], None)?;
    let share = Share::new(&home.root);
    let workers = dependency_order(&plan.workers);
    for w in &workers {
        spawn::resolve_cd(w.cd.as_deref())?;
    }
    check_worktrees(home, &plan)?;
    let stages = plan
        .stages
        .iter()
        .map(|s| StageRecord {
            name: s.name.clone(),
            description: s.description.clone(),
        })
        .collect();
    let run = spawn::new_run(home, "pipeline", plan.max_parallel, stages)?;
    {
        let mut rec = run.record()?;
        rec.pipeline = Some(plan.name.clone());
        rec.budget_usd = req.budget_usd;
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
                after_any_done: w.after_any_done,
                output_schema: if w.output_schema {
                    schema.clone()
                } else {
                    None
                },
                retries: 0,
                force_writer: false,
                timeout_secs: w.timeout_secs,
                worktree: w.worktree.then(WorktreeRequest::default),
            },
        )
        .inspect_err(|_| discard_run(&run))?;
    }
    crate::lifecycle::sched::tick_locked(home, &run)?;
    Ok(run.id)
}

/// Before a pipeline's run is made: the writers it gives a worktree need a git
/// repository where they run. Refused in one line naming the fix; orch does not quietly
/// run them in the folder instead, where they would take turns and write the user's
/// files directly, which is not what the pipeline promised.
pub fn check_worktrees(home: &Home, plan: &pipeline::Plan) -> Result<()> {
    let mut seen: Vec<PathBuf> = Vec::new();
    for w in plan.workers.iter().filter(|w| w.worktree) {
        let cd = spawn::resolve_cd(w.cd.as_deref())?;
        if seen.contains(&cd) {
            continue;
        }
        if crate::sys::git::check_installed().is_ok() && crate::sys::git::toplevel(&cd).is_err() {
            let writers: Vec<&str> = plan
                .workers
                .iter()
                .filter(|o| o.worktree)
                .map(|o| o.label.as_str())
                .collect();
            let off = if plan.vars.contains_key("worktrees") {
                "pass --var worktrees=false to run them in this folder, one writer at a time"
                    .to_string()
            } else {
                "set worktree = false on them in the pipeline file".to_string()
            };
            return Err(UserError::usage(format!(
                "pipeline {} gives its writers ({}) a git worktree each, and {} is not inside a git repository: run it from inside one (`git init` and a first commit), or {off}",
                plan.name,
                writers.join(", "),
                cd.display()
            ))
            .into());
        }
        crate::ops::worktree::preflight(home, &cd)?;
        seen.push(cd);
    }
    Ok(())
}

/// Removes a run whose making failed half-way, with the worktrees and branches made
/// for it so far (they hold nothing yet).
fn discard_run(run: &crate::store::RunDir) {
    for l in run.labels().unwrap_or_default() {
        if let Some(made) = run.worker(&l).spec().ok().and_then(|s| s.worktree) {
            crate::ops::worktree::discard(&made);
        }
    }
    let _ = std::fs::remove_dir_all(&run.dir);
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

#[cfg(test)]
mod tests {
    use super::split_lens_list;

    #[test]
    fn inline_lenses_keep_their_commas() {
        let known: Vec<String> = ["security", "tests"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            split_lens_list(
                "security,perf=allocations, copies and locks,api=naming,tests",
                &known
            ),
            [
                "security",
                "perf=allocations, copies and locks",
                "api=naming",
                "tests"
            ]
        );
        // A name that is not a known lens stays a lens of its own (and is reported
        // unknown), unless it follows inline text.
        assert_eq!(
            split_lens_list("security,nosuch", &known),
            ["security", "nosuch"]
        );
        assert_eq!(split_lens_list("a=x, y", &known), ["a=x, y"]);
    }
}
