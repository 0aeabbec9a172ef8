//! `orch ls`: every run, newest first, with counts per state.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::cli::args::LsArgs;
use crate::cli::render;
use crate::lifecycle::state::{self, State};
use crate::model::text;
use crate::store::Home;

#[derive(Debug, Serialize)]
pub struct RunLine {
    pub run: String,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub kind: String,
    pub workers: usize,
    pub counts: BTreeMap<&'static str, usize>,
    /// Set when run.json can't be read.
    pub error: Option<String>,
}

pub fn run(args: LsArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let lines = collect(&home)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
        return Ok(0);
    }
    if lines.is_empty() {
        println!("no runs yet; start one with `orch spawn \"PROMPT\"`");
        return Ok(0);
    }
    let color = render::color_enabled();
    let header: Vec<String> = ["RUN", "AGE", "KIND", "WORKERS", "STATES"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut rows = vec![header.clone()];
    let mut painted = vec![
        header
            .iter()
            .map(|h| render::paint(color, "1", h))
            .collect(),
    ];
    let now = chrono::Utc::now();
    for l in &lines {
        let states = match &l.error {
            Some(e) => e.clone(),
            None => l
                .counts
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let row = vec![
            l.run.clone(),
            l.created_at
                .map(|c| text::duration((now - c).num_seconds()))
                .unwrap_or_else(|| "?".into()),
            if l.kind.is_empty() {
                "-".into()
            } else {
                l.kind.clone()
            },
            l.workers.to_string(),
            states,
        ];
        painted.push(row.clone());
        rows.push(row);
    }
    print!("{}", render::table(&rows, &painted));
    Ok(0)
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
    let (created_at, kind, error) = match run.record() {
        Ok(r) => (Some(r.created_at), r.kind, None),
        Err(e) => (None, String::new(), Some(format!("{e:#}"))),
    };
    let mut counts = BTreeMap::new();
    let labels = run.labels_unordered().unwrap_or_default();
    for l in &labels {
        let s: State = state::state_of(&run.worker(l));
        *counts.entry(s.as_str()).or_insert(0) += 1;
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
