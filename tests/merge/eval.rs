//! Fixture loading and pairwise grouping scores, shared by `tests/merge.rs` and
//! `benches/merge.rs` (included there with `#[path]`).
//!
//! A case is a folder under `tests/fixtures/merge/` with `run.json` (the run id and
//! the workers, each naming the file that holds its final message) and, for review
//! runs, `groups.json`: how many findings each worker's message holds (`counts`) and
//! which findings are the same problem (`groups`, ids `W1#2` = W1's second finding).
//! Findings in no group are singletons.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use orch::merge::{MergeInput, Report, WorkerOutput};
use serde_json::Value;

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/merge")
}

pub struct Truth {
    pub counts: BTreeMap<String, usize>,
    pub groups: Vec<Vec<String>>,
}

pub struct Case {
    pub name: String,
    pub input: MergeInput,
    pub truth: Option<Truth>,
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

pub fn load_case(dir: &Path) -> Case {
    let run: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    let workers = run["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| WorkerOutput {
            label: opt_str(w, "label").unwrap(),
            role: opt_str(w, "role"),
            lens: opt_str(w, "lens"),
            state: opt_str(w, "state").unwrap(),
            text: opt_str(w, "file").map(|f| fs::read_to_string(dir.join(f)).unwrap()),
        })
        .collect();
    let truth = fs::read_to_string(dir.join("groups.json")).ok().map(|s| {
        let v: Value = serde_json::from_str(&s).unwrap();
        Truth {
            counts: v["counts"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap() as usize))
                .collect(),
            groups: v["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    g.as_array()
                        .unwrap()
                        .iter()
                        .map(|id| id.as_str().unwrap().to_string())
                        .collect()
                })
                .collect(),
        }
    });
    Case {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        input: MergeInput {
            run: opt_str(&run, "run").unwrap(),
            workers,
        },
        truth,
    }
}

pub fn load_cases() -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("run.json").exists())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load_case(d)).collect()
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub true_pos: usize,
    pub false_pos: usize,
    pub false_neg: usize,
}

impl Score {
    pub fn add(&mut self, o: Score) {
        self.true_pos += o.true_pos;
        self.false_pos += o.false_pos;
        self.false_neg += o.false_neg;
    }

    pub fn precision(&self) -> f64 {
        let d = self.true_pos + self.false_pos;
        if d == 0 {
            1.0
        } else {
            self.true_pos as f64 / d as f64
        }
    }

    pub fn recall(&self) -> f64 {
        let d = self.true_pos + self.false_neg;
        if d == 0 {
            1.0
        } else {
            self.true_pos as f64 / d as f64
        }
    }
}

fn pairs(groups: &[Vec<String>]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for g in groups {
        for (i, a) in g.iter().enumerate() {
            for b in &g[i + 1..] {
                let (x, y) = if a < b { (a, b) } else { (b, a) };
                out.insert((x.clone(), y.clone()));
            }
        }
    }
    out
}

/// Finding ids per merged finding, `W1#2` style.
pub fn predicted_groups(report: &Report) -> Vec<Vec<String>> {
    report
        .findings
        .iter()
        .map(|f| {
            f.sources
                .iter()
                .map(|s| format!("{}#{}", s.label, s.index))
                .collect()
        })
        .collect()
}

/// Pairwise precision/recall: a pair of findings is positive when they are in one group.
pub fn score(report: &Report, truth: &Truth) -> Score {
    let predicted = pairs(&predicted_groups(report));
    let actual = pairs(&truth.groups);
    Score {
        true_pos: predicted.intersection(&actual).count(),
        false_pos: predicted.difference(&actual).count(),
        false_neg: actual.difference(&predicted).count(),
    }
}

/// Findings per worker as parsed, to compare with `Truth::counts`.
pub fn parsed_counts(report: &Report) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for f in &report.findings {
        for s in &f.sources {
            *out.entry(s.label.clone()).or_default() += 1;
        }
    }
    out
}
