//! `orch ls`: a line per run (kind, age, counts per state), cheap at thousands of runs.
//!
//! A run whose workers have all ended changes only when someone retries, resumes or
//! removes one, and each of those rewrites files in the worker's folder. So its line is
//! kept in `runs/<id>/summary.json` with a stamp of mtimes (nanoseconds), and the next
//! `ls` checks the stamp instead of reading every worker's records. The stamp is
//! run.json's, `workers/`'s (a worker added or removed) and the run's `changes/<run>`
//! marker's, which `lifecycle::transition` — the only writer of state-changing records,
//! as `tests/layers.rs` holds it — touches after every transition: three stats a run.
//! Runs of older versions, which have no marker, are stamped with every worker
//! folder's mtime instead. A stamp that does not match, a run with
//! a worker not yet ended, or anything changed in the last second (timestamps are
//! coarse: two writes in one tick look the same) means the records are read as before.
//!
//! The cached line keeps tokens per model, not money: the cost is worked out at each
//! `ls` from the price table as it is then, so an edited `$ORCH_HOME/prices.toml` shows.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::content::prices::{self, Prices};
use crate::lifecycle::budget::Costing;
use crate::lifecycle::state::{self, ViewOptions};
use crate::store::Tokens;
use crate::store::fsutil::{read_json_opt, write_atomic_unsynced};
use crate::store::{Home, RunDir};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunLine {
    pub run: String,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub kind: String,
    pub workers: usize,
    pub counts: BTreeMap<String, usize>,
    /// What the run's tokens cost; `None` when a worker that used tokens has no price.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// What its priced workers cost.
    #[serde(default)]
    pub spent_usd: f64,
    #[serde(default)]
    pub unpriced_workers: usize,
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// Tokens per model (`null`: not known) of the workers that used any. A line cached
    /// by an older orch has none and is derived again.
    #[serde(default)]
    pub models: Option<Vec<ModelUsage>>,
    /// Set when run.json can't be read.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelUsage {
    pub model: Option<String>,
    pub workers: usize,
    pub tokens: Tokens,
}

impl RunLine {
    /// Sets the cost fields from the tokens per model.
    fn price(&mut self, table: &Prices) {
        let (mut spent, mut unpriced) = (0.0, 0);
        for m in self.models.iter().flatten() {
            match m
                .model
                .as_deref()
                .and_then(|name| table.get(name))
                .and_then(|p| prices::cost(&m.tokens, p))
            {
                Some(c) => spent += c,
                None => unpriced += m.workers,
            }
        }
        self.spent_usd = (spent * 1e6).round() / 1e6;
        self.unpriced_workers = unpriced;
        self.cost_usd = (unpriced == 0).then_some(self.spent_usd);
    }
}

/// Folders this recently changed are not trusted to have settled.
const SETTLE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    /// run.json's mtime, workers/'s and the run's marker's (if it has one).
    run: i128,
    #[serde(default)]
    workers_dir: i128,
    #[serde(default)]
    marker: Option<i128>,
    /// Without a marker: each worker folder's (name, mtime), in name order.
    workers: Vec<(String, i128)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Summary {
    stamp: Stamp,
    line: RunLine,
}

fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128
}

impl Stamp {
    fn of(run: &RunDir) -> Option<Stamp> {
        let run_ns = mtime_ns(&std::fs::metadata(run.record_path()).ok()?);
        let workers_dir = mtime_ns(&std::fs::metadata(run.workers_dir()).ok()?);
        let marker = run
            .changes_marker()
            .and_then(|m| std::fs::metadata(m).ok())
            .map(|m| mtime_ns(&m));
        let mut workers = Vec::new();
        if marker.is_some() {
            return Some(Stamp {
                run: run_ns,
                workers_dir,
                marker,
                workers,
            });
        }
        for e in std::fs::read_dir(run.workers_dir()).ok()? {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            if name.starts_with('.') {
                continue;
            }
            workers.push((name, mtime_ns(&e.metadata().ok()?)));
        }
        workers.sort();
        Some(Stamp {
            run: run_ns,
            workers_dir,
            marker,
            workers,
        })
    }

    /// Worth keeping: every worker ended with a record (nothing will change by itself),
    /// and nothing changed within [`SETTLE`].
    fn settled(&self, line: &RunLine) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let settle = SETTLE.as_nanos() as i128;
        let newest = self
            .workers
            .iter()
            .map(|(_, t)| *t)
            .chain([self.run, self.workers_dir])
            .chain(self.marker)
            .max();
        line.error.is_none()
            && newest.is_some_and(|t| now - t > settle)
            && line
                .counts
                .keys()
                .all(|s| matches!(s.as_str(), "done" | "failed" | "stopped" | "skipped"))
    }
}

fn cached(run: &RunDir, stamp: &Stamp) -> Option<RunLine> {
    let s: Summary = read_json_opt(&run.summary_path()).ok().flatten()?;
    (s.stamp == *stamp && s.line.models.is_some()).then_some(s.line)
}

pub fn collect(home: &Home) -> Result<Vec<RunLine>> {
    let table = crate::ops::status::costing(home)?.prices().clone();
    let mut lines = collect_lines(home)?;
    for l in &mut lines {
        l.price(&table);
    }
    Ok(lines)
}

fn collect_lines(home: &Home) -> Result<Vec<RunLine>> {
    let ids = home.run_ids()?;
    // Each run costs a handful of small file reads, nearly all kernel time: spread the
    // runs over the cores (in order-preserving chunks) so 1000 runs list in milliseconds.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || ids.len() < 64 {
        return Ok(ids.iter().map(|id| line(home, id)).collect());
    }
    let chunk = ids.len().div_ceil(threads);
    Ok(std::thread::scope(|s| {
        let parts: Vec<_> = ids
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|id| line(home, id)).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a listing thread panicked"))
            .collect()
    }))
}

fn line(home: &Home, id: &str) -> RunLine {
    let run = home.run(id);
    let stamp = Stamp::of(&run);
    if let Some(l) = stamp.as_ref().and_then(|s| cached(&run, s)) {
        return l;
    }
    let line = derive(&run);
    if let Some(s) = stamp
        && s.settled(&line)
    {
        let _ = write_atomic_unsynced(
            &run.summary_path(),
            &serde_json::to_vec(&Summary {
                stamp: s,
                line: line.clone(),
            })
            .unwrap_or_default(),
        );
    }
    line
}

/// A run's line from its records (every worker's state).
fn derive(run: &RunDir) -> RunLine {
    let id = &run.id;
    let (created_at, kind, budget_usd, error) = match run.record() {
        Ok(r) => (Some(r.created_at), r.kind, r.budget_usd, None),
        Err(e) => (None, String::new(), None, Some(format!("{e:#}"))),
    };
    let mut counts = BTreeMap::new();
    // Only the models are wanted here: prices are applied by `collect`.
    let mut costing = Costing::with_prices(Prices::default());
    let mut models: BTreeMap<Option<String>, ModelUsage> = BTreeMap::new();
    let opts = ViewOptions {
        activity: false,
        ..ViewOptions::default()
    };
    let labels = run.labels_unordered().unwrap_or_default();
    for l in &labels {
        let w = run.worker(l);
        let mut v = state::view(&w, &opts);
        costing.fill(&w, &mut v);
        *counts.entry(v.state.as_str().to_string()).or_insert(0) += 1;
        if v.tokens.total() > 0 {
            let m = models.entry(v.model.clone()).or_insert(ModelUsage {
                model: v.model.clone(),
                workers: 0,
                tokens: Tokens::default(),
            });
            m.workers += 1;
            m.tokens.add(&v.tokens);
        }
    }
    RunLine {
        run: id.to_string(),
        created_at,
        kind,
        workers: labels.len(),
        counts,
        cost_usd: None,
        spent_usd: 0.0,
        unpriced_workers: 0,
        budget_usd,
        models: Some(models.into_values().collect()),
        error,
    }
}
