//! `orch ls`: a line per run (kind, age, counts per state), cheap at thousands of runs.
//!
//! A run whose workers have all ended changes only when someone retries, resumes or
//! removes one, and each of those rewrites files in the worker's folder. So its line is
//! kept in `runs/<id>/summary.json` with a stamp (run.json's and every worker folder's
//! mtime, in nanoseconds), and the next `ls` checks the stamp — one stat per folder —
//! instead of reading every worker's records. A stamp that does not match, a run with
//! a worker not yet ended, or anything changed in the last second (timestamps are
//! coarse: two writes in one tick look the same) means the records are read as before.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::lifecycle::state::{self, State};
use crate::store::fsutil::{read_json_opt, write_atomic_unsynced};
use crate::store::{Home, RunDir};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunLine {
    pub run: String,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub kind: String,
    pub workers: usize,
    pub counts: BTreeMap<String, usize>,
    /// Set when run.json can't be read.
    pub error: Option<String>,
}

/// Folders this recently changed are not trusted to have settled.
const SETTLE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    /// run.json's mtime, then each worker folder's (name, mtime), in name order.
    run: i128,
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
        let mut workers = Vec::new();
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
        let newest = self.workers.iter().map(|(_, t)| *t).chain([self.run]).max();
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
    (s.stamp == *stamp).then_some(s.line)
}

pub fn collect(home: &Home) -> Result<Vec<RunLine>> {
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
    let (created_at, kind, error) = match run.record() {
        Ok(r) => (Some(r.created_at), r.kind, None),
        Err(e) => (None, String::new(), Some(format!("{e:#}"))),
    };
    let mut counts = BTreeMap::new();
    let labels = run.labels_unordered().unwrap_or_default();
    for l in &labels {
        let s: State = state::state_of(&run.worker(l));
        *counts.entry(s.as_str().to_string()).or_insert(0) += 1;
    }
    RunLine {
        run: id.to_string(),
        created_at,
        kind,
        workers: labels.len(),
        counts,
        error,
    }
}
