//! `orch merge`: curate a run's final messages into one ranked, de-duplicated result
//! with provenance (the deterministic part is `crate::merge`), optionally followed by a
//! `synthesis` worker that writes a decision-ready summary.

use anyhow::{Context, Result};

use crate::cli::{CodexOpts, MergeArgs, Sandbox, SchedOpts, SeverityArg};
use crate::error::UserError;
use crate::merge::{self, MergeInput, MergeOptions, Report, Severity, WorkerOutput};
use crate::state::{self, State, ViewOptions};
use crate::store::fsutil::write_atomic;
use crate::store::{Home, RunDir};

use super::spawn::{self, NewWorker};

/// The label (and role) of the worker `--synthesize` adds; it is never merged itself.
pub const SYNTHESIS: &str = "synthesis";

pub fn run(args: MergeArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let run = home.run_or_latest(args.run.as_deref())?;
    let _ = crate::sched::tick(&home, &run);
    let opts = MergeOptions {
        min_severity: severity(args.min_severity),
        include_failed: args.include_failed,
    };
    let report = report(&run, &opts)?;
    let markdown = report.to_markdown();
    write_atomic(&run.dir.join("merge.md"), markdown.as_bytes())
        .with_context(|| format!("cannot save merge.md in {}", run.dir.display()))?;
    let shown = if args.json {
        serde_json::to_string_pretty(&report.to_json())? + "\n"
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
        return Ok(crate::error::EXIT_FAILED);
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

/// Reads every worker's state and final message and merges them.
pub fn report(run: &RunDir, opts: &MergeOptions) -> Result<Report> {
    let view_opts = ViewOptions {
        activity: false,
        ..Default::default()
    };
    let mut workers = Vec::new();
    for label in run.labels()? {
        if label == SYNTHESIS {
            continue;
        }
        let w = run.worker(&label);
        let v = state::view(&w, &view_opts);
        let state = match v.state {
            State::Starting => "running".to_string(),
            s => s.to_string(),
        };
        let text = std::fs::read_to_string(w.last_message_path())
            .ok()
            .filter(|t| !t.trim().is_empty());
        workers.push(WorkerOutput {
            label,
            role: v.role,
            lens: v.lens,
            state,
            text,
        });
    }
    Ok(merge::merge(
        &MergeInput {
            run: run.id.clone(),
            workers,
        },
        opts,
    ))
}

fn spawn_synthesis(home: &Home, run: &RunDir, merged: &str) -> Result<String> {
    if run.worker(SYNTHESIS).dir.exists() {
        return Err(UserError::usage(format!(
            "run {} already has a {SYNTHESIS} worker; see `orch result {}/{SYNTHESIS}` or `orch retry {}/{SYNTHESIS}`",
            run.id, run.id, run.id
        ))
        .into());
    }
    spawn::check_tools()?;
    let record = run.record()?;
    let prompt = synthesis_prompt(&run.id, merged);
    spawn::add_and_schedule(
        home,
        run,
        NewWorker {
            label: Some(SYNTHESIS.into()),
            role: Some(SYNTHESIS.into()),
            lens: None,
            stage: None,
            prompt,
            opts: CodexOpts {
                cd: Some(record.cwd),
                sandbox: Sandbox::ReadOnly,
                model: None,
                profile: None,
            },
            codex_args: Vec::new(),
            after: Vec::new(),
            output_schema: None,
            retries: 0,
            force_writer: false,
        },
        &SchedOpts::default(),
    )
}

fn synthesis_prompt(run: &str, merged: &str) -> String {
    format!(
        "CONTEXT: WORKER
ROLE: You are a sub-agent run by the ORCHESTRATOR. Do only the assigned task.
RULES: No extra scope, no other workers. Read-only: make no edits.
Your final message goes back to the ORCHESTRATOR as the deliverable.

TASK: Below is the deterministic merge of the workers of run {run}: their findings,
ranked and de-duplicated, with who reported what, and any notes. Turn it into a short,
decision-ready summary. Curate, don't forward: check the top findings against the code
where you can, drop what does not hold up (say so in one line each), and keep the
provenance (which lenses reported each kept point).

OUTPUT (markdown, at most one screen):
- Verdict: one or two sentences.
- Act on now: the few findings that matter most, each with location and the fix.
- Can wait: one line each.
- Dismissed: what you checked and found not to hold, one line each.
- One recommended next step.

---

{merged}"
    )
}

/// Called by a worker's wrapper after it ended: saves the synthesis, and runs the
/// merge a `fanout --merge` asked for once every worker of the run has ended.
pub fn after_worker_exit(run: &RunDir, label: &str) {
    if label == SYNTHESIS {
        let w = run.worker(SYNTHESIS);
        if state::state_of(&w) == State::Done
            && let Ok(text) = std::fs::read(w.last_message_path())
        {
            let _ = write_atomic(&run.dir.join("synthesis.md"), &text);
        }
        return;
    }
    let Ok(record) = run.record() else { return };
    if !record.merge_on_finish {
        return;
    }
    let all_ended = run
        .labels()
        .unwrap_or_default()
        .iter()
        .all(|l| l == SYNTHESIS || state::state_of(&run.worker(l)).is_final());
    if all_ended && let Ok(report) = report(run, &MergeOptions::default()) {
        let _ = write_atomic(&run.dir.join("merge.md"), report.to_markdown().as_bytes());
    }
}
