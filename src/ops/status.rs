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
    for w in workers
        .iter_mut()
        .filter(|w| w.window.is_none() && matches!(w.state, State::Starting | State::Running))
    {
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

/// The price table for showing money; a broken `$ORCH_HOME/prices.toml` is the user's
/// input to fix, named with its line.
pub fn costing(home: &Home) -> Result<Costing> {
    Costing::load(home)
        .map_err(|e| UserError::usage(format!("{e} (fix the price table, or move it away)")).into())
}
