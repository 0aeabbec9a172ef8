//! Merging a run: curate its workers' final messages into one ranked, de-duplicated
//! result with provenance (the deterministic part is `crate::merge`), optionally followed
//! by a `synthesis` worker that writes a decision-ready summary.

use anyhow::Result;

use crate::lifecycle::state::{self, State, ViewOptions};
use crate::merge::{self, MergeInput, MergeOptions, Report, WorkerOutput};
use crate::model::Sandbox;
use crate::model::error::UserError;
use crate::ops::spawn::{self, AddOptions, CodexSettings, NewWorker};
use crate::store::fsutil::write_atomic;
use crate::store::{Home, RunDir};

/// The label (and role) of the worker `--synthesize` adds; it is never merged itself.
pub const SYNTHESIS: &str = "synthesis";

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
    // The reviewed tree's files give locations their spelling: the files git tracks in
    // the directories the workers ran in (one tree, or worktrees of one repository).
    // A directory outside a git work tree adds nothing.
    let mut dirs: Vec<std::path::PathBuf> = run
        .labels()?
        .iter()
        .filter(|l| l.as_str() != SYNTHESIS)
        .filter_map(|l| run.worker(l).spec().ok().map(|s| s.cd))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut tree: Vec<String> = dirs
        .iter()
        .filter_map(|d| crate::sys::git::tracked(d).ok())
        .flatten()
        .collect();
    tree.sort();
    tree.dedup();
    Ok(merge::merge(
        &MergeInput {
            run: run.id.clone(),
            workers,
            tree,
        },
        opts,
    ))
}

pub fn spawn_synthesis(home: &Home, run: &RunDir, merged: &str) -> Result<String> {
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
            opts: CodexSettings {
                cd: Some(record.cwd),
                sandbox: Sandbox::ReadOnly,
                model: None,
                profile: None,
            },
            codex_args: Vec::new(),
            after: Vec::new(),
            after_any_done: false,
            output_schema: None,
            retries: 0,
            force_writer: false,
            timeout_secs: None,
            worktree: None,
        },
        &AddOptions::default(),
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
        // The same text `orch merge` saves, cost line included.
        let mut markdown = report.to_markdown();
        if let Some(root) = run.dir.parent().and_then(|d| d.parent()) {
            let home = Home {
                root: root.to_path_buf(),
            };
            if let Ok(status) = crate::ops::status::collect(&home, run, &ViewOptions::default()) {
                markdown = with_cost_line(&markdown, &status);
            }
        }
        let _ = write_atomic(&run.dir.join("merge.md"), markdown.as_bytes());
    }
}

/// The report with `Cost: $1.23 · tokens 12k in / 3k out` under its title.
pub fn with_cost_line(markdown: &str, status: &crate::ops::status::RunStatus) -> String {
    let cost = match status.cost_usd {
        Some(c) => crate::lifecycle::budget::usd(c),
        None => format!(
            "unknown ({} worker{} on a model without a price)",
            status.unpriced_workers,
            if status.unpriced_workers == 1 {
                ""
            } else {
                "s"
            }
        ),
    };
    let line = format!(
        "Cost: {cost} · tokens {} in / {} out\n\n",
        crate::model::text::tokens_short(status.tokens.input),
        crate::model::text::tokens_short(status.tokens.output)
    );
    match markdown.find("\n\n") {
        Some(i) => format!("{}{line}{}", &markdown[..i + 2], &markdown[i + 2..]),
        None => format!("{markdown}\n{line}"),
    }
}

/// A run merged and saved as its `merge.md`: the markdown, `orch merge --json`'s
/// value, and, when some workers have not ended, the line saying so.
pub struct Merged {
    pub run: RunDir,
    pub markdown: String,
    pub json: serde_json::Value,
    /// `run R is not finished (…); this merge is PARTIAL. …` when it is.
    pub partial: Option<String>,
}

/// Runs the queue, merges the run (`None`: the latest), saves `merge.md`.
pub fn merge_run(home: &Home, run: Option<&str>, opts: &MergeOptions) -> Result<Merged> {
    use anyhow::Context as _;
    let run = home.run_or_latest(run)?;
    let _ = crate::lifecycle::sched::tick(home, &run);
    let report = report(&run, opts)?;
    let status = crate::ops::status::collect(home, &run, &ViewOptions::default())?;
    let markdown = with_cost_line(&report.to_markdown(), &status);
    write_atomic(&run.dir.join("merge.md"), markdown.as_bytes())
        .with_context(|| format!("cannot save merge.md in {}", run.dir.display()))?;
    let mut json = report.to_json();
    if let Some(obj) = json.as_object_mut() {
        obj.insert("cost_usd".into(), serde_json::json!(status.cost_usd));
        obj.insert("tokens".into(), serde_json::to_value(status.tokens)?);
    }
    let partial = report.is_partial().then(|| {
        let unfinished: Vec<String> = report
            .workers
            .iter()
            .filter(|w| w.state == "running" || w.state == "queued" || w.state == "starting")
            .map(|w| format!("{} {}", w.label, w.state))
            .collect();
        format!(
            "run {} is not finished ({}); this merge is PARTIAL. `orch wait {}` first, or pass --partial",
            run.id,
            unfinished.join(", "),
            run.id
        )
    });
    Ok(Merged {
        run,
        markdown,
        json,
        partial,
    })
}
