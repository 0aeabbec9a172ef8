//! A run's status as `status`, `top` and the MCP server report it: every worker's view,
//! why queued ones wait, counts, tokens, cost and the plan.

use std::collections::HashMap;

use anyhow::Result;
use serde::Serialize;

use crate::lifecycle::budget::{self, Costing, Spend};
use crate::lifecycle::sched;
use crate::lifecycle::state::{self, State, ViewOptions, WorkerView};
use crate::model::error::UserError;
use crate::store::{Home, RunDir, RunRecord, Tokens, WorkerDir};

/// `orch status --json`. Field names are a contract: add, never rename.
#[derive(Debug, Serialize)]
pub struct RunStatus {
    pub run: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub kind: String,
    pub max_parallel: Option<u32>,
    pub counts: std::collections::BTreeMap<&'static str, usize>,
    pub tokens: Tokens,
    /// What the run's tokens cost; `None` when a worker that used tokens has no price.
    pub cost_usd: Option<f64>,
    /// What the priced workers cost (equal to `cost_usd` when every worker is priced).
    pub spent_usd: f64,
    /// Workers that used tokens on a model without a price.
    pub unpriced_workers: usize,
    pub budget_usd: Option<f64>,
    /// The run's stages as steps (empty for ad-hoc runs).
    pub plan: Vec<crate::lifecycle::plan::Step>,
    /// Best-of-N: the attempt the run's `pick` worker named, once it ended done and
    /// named one that ended done (what `orch land RUN` lands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picked: Option<String>,
    pub workers: Vec<WorkerView>,
}

pub fn collect(home: &Home, run: &RunDir, opts: &ViewOptions) -> Result<RunStatus> {
    collect_with(home, run, opts, true)
}

/// `collect` from the run's files alone: a live worker whose window id was never
/// written keeps `window: None` instead of being looked for on the tmux server. For
/// the dashboard, which redraws on every change and must never run tmux to do so.
pub fn collect_from_disk(home: &Home, run: &RunDir, opts: &ViewOptions) -> Result<RunStatus> {
    collect_with(home, run, opts, false)
}

fn collect_with(
    home: &Home,
    run: &RunDir,
    opts: &ViewOptions,
    locate_windows: bool,
) -> Result<RunStatus> {
    let record: RunRecord = run.record()?;
    let labels = run.labels()?;
    let mut costing = costing(home)?;
    let mut spend = Spend::default();
    let mut workers: Vec<WorkerView> = labels
        .iter()
        .map(|l| {
            let w = run.worker(l);
            let mut v = state::view(&w, opts);
            costing.fill(&w, &mut v);
            spend.add(&v);
            v
        })
        .collect();
    let _spend = budget::scope_with(&record.id, spend);
    // A live worker whose window id was never written (its spawner died during
    // `tmux new-window`): find the window by run and label.
    let mut tmux = None;
    for w in workers.iter_mut().filter(|w| {
        locate_windows && w.window.is_none() && matches!(w.state, State::Starting | State::Running)
    }) {
        let t = tmux.get_or_insert_with(|| crate::sys::tmux::Tmux::for_home(&home.root).ok());
        if let Some(t) = t {
            w.window = crate::ops::window::locate(t, &run.worker(&w.label));
        }
    }
    // Say why queued workers wait.
    if workers.iter().any(|w| w.state == State::Queued) {
        let states: HashMap<String, State> =
            workers.iter().map(|w| (w.label.clone(), w.state)).collect();
        let specs: HashMap<_, _> = labels
            .iter()
            .filter_map(|l| run.worker(l).spec().ok().map(|s| (l.clone(), s)))
            .collect();
        let hold = crate::lifecycle::pause::hold(run, &states);
        for w in workers.iter_mut().filter(|w| w.state == State::Queued) {
            if let Some(spec) = specs.get(&w.label) {
                w.waiting_for = sched::waiting_reason(spec, &states, &specs, &record, home)
                    .or_else(|| hold.clone());
            }
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    let mut tokens = Tokens::default();
    for w in &workers {
        *counts.entry(w.state.as_str()).or_insert(0) += 1;
        tokens.add(&w.tokens);
    }
    let stage_states: Vec<_> = workers
        .iter()
        .map(|w| (w.label.clone(), w.stage.clone(), w.state))
        .collect();
    let plan =
        crate::lifecycle::plan::derive(&record, &stage_states, run.dir.join("merge.md").is_file());
    let picked = workers
        .iter()
        .any(|w| w.label == crate::ops::pick::PICK && w.state == State::Done)
        .then(|| crate::ops::pick::picked(run))
        .flatten();
    Ok(RunStatus {
        plan,
        picked,
        run: record.id,
        created_at: record.created_at,
        kind: record.kind,
        max_parallel: record.max_parallel,
        counts,
        tokens,
        cost_usd: spend.known(),
        spent_usd: spend.usd,
        unpriced_workers: spend.unpriced,
        budget_usd: record.budget_usd,
        workers,
    })
}

/// Why a queued worker waits (a dependency, the writer slot, the run's limit, a budget
/// or a usage limit), as `status` says it.
pub fn waiting_for(home: &Home, w: &WorkerDir) -> Option<String> {
    let opts = ViewOptions {
        activity: false,
        ..ViewOptions::default()
    };
    collect(home, &home.run(&w.run), &opts)
        .ok()?
        .workers
        .into_iter()
        .find(|v| v.label == w.label)?
        .waiting_for
}

/// `waits for W1 to end` / `waits for the writer slot`: a queued or paused worker's
/// reason as a person reads it (status's LAST ACTIVITY, `logs -f`).
pub fn waits_for(reason: &str) -> String {
    match reason.strip_prefix("after ") {
        Some(deps) => format!("waits for {deps} to end"),
        None => format!("waits for {reason}"),
    }
}

/// Re-reads only `labels` of an already collected `status` (their logs grew: tokens
/// and last activity, not state) and sums the run again. A busy worker of a large run
/// then costs the dashboard one worker's reading per frame, not the whole run's.
pub fn refresh_workers(
    home: &Home,
    run: &RunDir,
    status: &mut RunStatus,
    labels: &[String],
    opts: &ViewOptions,
) -> Result<()> {
    let mut costing = costing(home)?;
    for v in status
        .workers
        .iter_mut()
        .filter(|v| labels.contains(&v.label))
    {
        let w = run.worker(&v.label);
        let mut fresh = state::view(&w, opts);
        costing.fill(&w, &mut fresh);
        // What the full look adds beyond the worker's own folder stays as it was.
        fresh.window = fresh.window.or(v.window.take());
        fresh.waiting_for = v.waiting_for.take();
        *v = fresh;
    }
    let mut spend = Spend::default();
    let mut counts = std::collections::BTreeMap::new();
    let mut tokens = Tokens::default();
    for w in &status.workers {
        spend.add(w);
        *counts.entry(w.state.as_str()).or_insert(0) += 1;
        tokens.add(&w.tokens);
    }
    status.counts = counts;
    status.tokens = tokens;
    status.cost_usd = spend.known();
    status.spent_usd = spend.usd;
    status.unpriced_workers = spend.unpriced;
    Ok(())
}

/// The price table for showing money; a broken `$ORCH_HOME/prices.toml` is the user's
/// input to fix, named with its line.
pub fn costing(home: &Home) -> Result<Costing> {
    Costing::load(home)
        .map_err(|e| UserError::usage(format!("{e} (fix the price table, or move it away)")).into())
}

/// Runs with a worker that has not ended (`orch top --all`), newest first. Only runs
/// whose change marker moved in the last day are read (`sys::watch::FOLLOW_RECENT`),
/// so thousands of old runs cost a `stat` each.
pub fn active_runs(home: &Home) -> Result<Vec<RunDir>> {
    let recent = |run: &RunDir| {
        run.changes_marker()
            .and_then(|m| std::fs::metadata(m).ok())
            .or_else(|| std::fs::metadata(&run.dir).ok())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < crate::sys::watch::FOLLOW_RECENT)
    };
    let mut out = Vec::new();
    for id in home.run_ids()? {
        let run = home.run(&id);
        if !recent(&run) {
            continue;
        }
        let active = run.labels_unordered().unwrap_or_default().iter().any(|l| {
            let w = run.worker(l);
            !state::has_ended(&w, state::state_of(&w))
        });
        if active {
            out.push(run);
        }
    }
    Ok(out)
}
