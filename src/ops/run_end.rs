//! The end of a run, for `orch watch --on-run-end`: when it has ended (every worker
//! ended, or the rest wait on the run's budget with nothing running), and the JSON
//! summary its hook gets on stdin.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::lifecycle::state::{self, State, ViewOptions};
use crate::merge::MergeOptions;
use crate::ops::status::{RunStatus, collect};
use crate::store::{Home, RunDir, Tokens, run_end};

/// What the hook reads on stdin. Field names are a contract: add, never rename.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub run: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    /// When its last worker ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// From the run's creation to its last worker's end.
    pub duration_secs: Option<i64>,
    pub workers: usize,
    pub counts: BTreeMap<&'static str, usize>,
    pub tokens: Tokens,
    /// `null` when a worker that used tokens has no price.
    pub cost_usd: Option<f64>,
    pub spent_usd: f64,
    pub unpriced_workers: usize,
    pub budget_usd: Option<f64>,
    /// Queued workers the budget keeps from starting.
    pub held_by_budget: usize,
    /// Every worker that did not end done, with why.
    pub not_done: Vec<NotDone>,
    /// The run was merged (merge.md, or `fanout --merge`).
    pub merged: bool,
    /// Path of merge.md when there is one.
    pub merge: Option<String>,
    /// The merge's first findings, highest severity first.
    pub top_findings: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct NotDone {
    pub label: String,
    pub state: String,
    pub error: Option<String>,
}

/// How many findings the summary carries.
const TOP: usize = 5;

/// The run's end: its summary and a key naming this end (which worker attempt ended
/// how), or `None` while it goes on.
pub fn ended(home: &Home, run: &RunDir) -> Result<Option<(String, Summary)>> {
    let status = collect(
        home,
        run,
        &ViewOptions {
            activity: false,
            ..ViewOptions::default()
        },
    )?;
    if status.workers.is_empty() {
        return Ok(None);
    }
    let mut key = Vec::new();
    let mut held = 0;
    for w in &status.workers {
        let wd = run.worker(&w.label);
        if w.state == State::Queued
            && w.waiting_for
                .as_deref()
                .is_some_and(|r| r.starts_with("budget:"))
        {
            held += 1;
            key.push(format!("{}#held", w.label));
        } else if state::has_ended(&wd, w.state) {
            let when = w.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default();
            key.push(format!("{}#{}#{}#{when}", w.label, w.attempt, w.state));
        } else {
            return Ok(None);
        }
    }
    // Held workers alone are no end: nothing ran out the budget in this run.
    if held == status.workers.len() {
        return Ok(None);
    }
    Ok(Some((key.join(" "), summary(run, status, held))))
}

fn summary(run: &RunDir, status: RunStatus, held: usize) -> Summary {
    let ended_at = status.workers.iter().filter_map(|w| w.finished_at).max();
    let merge_md = run.dir.join("merge.md");
    let merged = merge_md.exists() || run.record().is_ok_and(|r| r.merge_on_finish);
    let top_findings = if merged {
        crate::ops::merge::report(run, &MergeOptions::default())
            .map(|r| {
                r.findings
                    .iter()
                    .take(TOP)
                    .map(|f| {
                        serde_json::json!({
                            "severity": f.severity,
                            "claim": f.claim,
                            "location": f.location,
                            "reported_by": f.reported_by,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Summary {
        run: status.run,
        kind: status.kind,
        created_at: status.created_at,
        ended_at,
        duration_secs: ended_at.map(|e| (e - status.created_at).num_seconds()),
        workers: status.workers.len(),
        counts: status.counts,
        tokens: status.tokens,
        cost_usd: status.cost_usd,
        spent_usd: status.spent_usd,
        unpriced_workers: status.unpriced_workers,
        budget_usd: status.budget_usd,
        held_by_budget: held,
        not_done: status
            .workers
            .iter()
            .filter(|w| w.state != State::Done)
            .map(|w| NotDone {
                label: w.label.clone(),
                state: w.state.to_string(),
                error: w.error.clone().or_else(|| w.waiting_for.clone()),
            })
            .collect(),
        merged,
        merge: merge_md.exists().then(|| merge_md.display().to_string()),
        top_findings,
    }
}

/// What [`tell`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Told {
    NotEnded,
    /// This end was told already (by this or another watcher).
    Already,
    /// The hook ran and succeeded; the end is marked.
    Ran,
    /// The hook failed; the end stays unmarked (a restarted watcher tries again).
    Failed(String),
}

/// Runs `hook` (`sh -c`, the summary on stdin, its stdout to our stderr) if the run has
/// ended and the hook was not told of this end; marks it once the hook succeeded. Runs
/// that ended before `since` are history and only marked.
pub fn tell(home: &Home, run: &RunDir, hook: &str, since: DateTime<Utc>) -> Result<Told> {
    if ended(home, run)?.is_none() {
        return Ok(Told::NotEnded);
    }
    let lock = run_end::lock(run)?;
    // Read again under the lock: another watcher may have told it meanwhile.
    let Some((key, summary)) = ended(home, run)? else {
        return Ok(Told::NotEnded);
    };
    if lock.told(hook, &key)? {
        return Ok(Told::Already);
    }
    if summary.ended_at.is_some_and(|t| t < since) {
        lock.mark(hook, &key)?;
        return Ok(Told::Already);
    }
    match run_hook(hook, &summary) {
        Ok(()) => {
            lock.mark(hook, &key)?;
            Ok(Told::Ran)
        }
        Err(e) => Ok(Told::Failed(e)),
    }
}

fn run_hook(cmd: &str, s: &Summary) -> Result<(), String> {
    use std::os::fd::AsFd;
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::inherit());
    let mut json = serde_json::to_vec_pretty(s).map_err(|e| e.to_string())?;
    json.push(b'\n');
    // In its own session, like `--on-finish` hooks: a dropped SSH session must not
    // kill it half-way (it is marked told only once it ended well).
    let mut child = crate::sys::procs::detached_shell()
        .arg("-c")
        .arg(cmd)
        .env("ORCH_RUN", &s.run)
        .env(
            "ORCH_COST_USD",
            s.cost_usd.map(|c| c.to_string()).unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(stderr)
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A hook that does not read its stdin must not block us: write from a thread.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&json);
    });
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for it: {e}"))?;
    let _ = writer.join();
    if status.success() {
        Ok(())
    } else {
        Err(format!("it failed ({status})"))
    }
}
