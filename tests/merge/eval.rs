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
            // The files of the reviewed tree, when the case gives them.
            tree: run["tree"].as_array().map_or(Vec::new(), |t| {
                t.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            }),
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

// ------------------------------------------------------------ quote-based truth
//
// The `tune/` and `holdout/` sets name each true finding by worker and a short quote
// from its text (`truth.json`), so the truth does not depend on the parser's
// numbering: `{"findings": [{"id", "severity", "location"?, "members": {"W1": "quote"}}]}`.

pub struct QuoteFinding {
    pub id: String,
    pub severity: orch::merge::Severity,
    pub location: Option<String>,
    /// (worker, quote)
    pub members: Vec<(String, String)>,
}

pub struct QuoteCase {
    pub name: String,
    pub input: MergeInput,
    pub truth: Vec<QuoteFinding>,
}

pub fn load_set(set: &str) -> Vec<QuoteCase> {
    let root = fixtures_dir().join(set);
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("truth.json").exists())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|d| {
            let case = load_case(d);
            let v: Value =
                serde_json::from_str(&fs::read_to_string(d.join("truth.json")).unwrap()).unwrap();
            let truth = v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| QuoteFinding {
                    id: f["id"].as_str().unwrap().to_string(),
                    severity: f["severity"].as_str().unwrap().parse().unwrap(),
                    location: opt_str(f, "location"),
                    members: f["members"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(w, q)| (w.clone(), q.as_str().unwrap().to_string()))
                        .collect(),
                })
                .collect();
            QuoteCase {
                name: format!("{set}/{}", case.name),
                input: case.input,
                truth,
            }
        })
        .collect()
}

#[derive(Debug, Default, Clone)]
pub struct Eval {
    pub pairs: Score,
    /// Worker findings of the truth that are no ranked item's source (never parsed,
    /// or swallowed into another finding's text).
    pub missing: Vec<String>,
    /// True findings whose members ended up in more than one item (`id [W1 W2 | W3]`).
    pub split: Vec<String>,
    /// Pairs of distinct true findings at one place that ended up in one item.
    pub same_line_merged: usize,
    /// The first three items are the first three by severity, then agreement.
    pub top3_right: bool,
    pub cases: usize,
    pub top3_cases_right: usize,
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn same_place(a: &str, b: &str) -> bool {
    let loc = |s: &str| -> (String, Option<(u32, u32)>) {
        match s.rsplit_once(':') {
            Some((p, l)) if l.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                let (x, y) = l.split_once('-').unwrap_or((l, l));
                (
                    p.to_string(),
                    Some((x.parse().unwrap(), y.parse().unwrap())),
                )
            }
            _ => (s.to_string(), None),
        }
    };
    let ((pa, la), (pb, lb)) = (loc(a), loc(b));
    pa == pb
        && match (la, lb) {
            (Some((s1, e1)), Some((s2, e2))) => s1 <= e2 && s2 <= e1,
            _ => false,
        }
}

/// Scores one case. A source matches a member when it is that member's worker and its
/// text (claim, evidence, fix) holds the quote; a source holding quotes of two true
/// findings swallowed them, and both count as missing.
pub fn evaluate(report: &Report, truth: &[QuoteFinding]) -> Eval {
    // (truth index, member index) -> (item index)
    let mut found: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (item, f) in report.findings.iter().enumerate() {
        for s in &f.sources {
            let text = lower(&format!(
                "{} {} {}",
                s.text,
                s.evidence.as_deref().unwrap_or(""),
                s.fix.as_deref().unwrap_or("")
            ));
            let hits: Vec<(usize, usize)> = truth
                .iter()
                .enumerate()
                .flat_map(|(ti, t)| {
                    t.members
                        .iter()
                        .enumerate()
                        .filter(|(_, (w, q))| *w == s.label && text.contains(&lower(q)))
                        .map(move |(mi, _)| (ti, mi))
                })
                .collect();
            // Short quotes ("bug") may sit inside a longer finding's text: prefer the
            // member whose quote is the whole claim, then the longest quote.
            let distinct: BTreeSet<usize> = hits.iter().map(|h| h.0).collect();
            let pick = if distinct.len() <= 1 {
                hits.first().copied()
            } else {
                hits.iter()
                    .copied()
                    .find(|&(ti, mi)| lower(&truth[ti].members[mi].1) == lower(&s.text))
            };
            if let Some(h) = pick {
                found.entry(h).or_insert(item);
            }
        }
    }
    let mut e = Eval {
        cases: 1,
        ..Default::default()
    };
    let mut predicted = Vec::new();
    let mut actual = Vec::new();
    for (ti, t) in truth.iter().enumerate() {
        let ids: Vec<String> = (0..t.members.len())
            .map(|mi| format!("{ti}.{mi}"))
            .collect();
        actual.push(ids);
        for (mi, (w, q)) in t.members.iter().enumerate() {
            if !found.contains_key(&(ti, mi)) {
                e.missing.push(format!("{} {w} \"{q}\"", t.id));
            }
        }
    }
    for item in 0..report.findings.len() {
        predicted.push(
            found
                .iter()
                .filter(|(_, i)| **i == item)
                .map(|((ti, mi), _)| format!("{ti}.{mi}"))
                .collect::<Vec<_>>(),
        );
    }
    for (ti, t) in truth.iter().enumerate() {
        let items: BTreeSet<usize> = (0..t.members.len())
            .filter_map(|mi| found.get(&(ti, mi)).copied())
            .collect();
        if items.len() > 1 {
            let parts: Vec<String> = items
                .iter()
                .map(|item| {
                    (0..t.members.len())
                        .filter(|mi| found.get(&(ti, *mi)) == Some(item))
                        .map(|mi| t.members[mi].0.clone())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            e.split.push(format!("{} [{}]", t.id, parts.join(" | ")));
        }
    }
    let (p, a) = (pairs(&predicted), pairs(&actual));
    e.pairs = Score {
        true_pos: p.intersection(&a).count(),
        false_pos: p.difference(&a).count(),
        false_neg: a.difference(&p).count(),
    };
    for item in 0..report.findings.len() {
        let tis: BTreeSet<usize> = found
            .iter()
            .filter(|(_, i)| **i == item)
            .map(|((ti, _), _)| *ti)
            .collect();
        let tis: Vec<usize> = tis.into_iter().collect();
        for (k, &x) in tis.iter().enumerate() {
            for &y in &tis[k + 1..] {
                if let (Some(a), Some(b)) = (&truth[x].location, &truth[y].location)
                    && same_place(a, b)
                {
                    e.same_line_merged += 1;
                }
            }
        }
    }
    // Top three: the (severity, agreement) of the first three items, as the truth has
    // them, must be the three highest of the truth.
    let key = |t: &QuoteFinding| (t.severity, t.members.len());
    let mut want: Vec<_> = truth.iter().map(key).collect();
    want.sort_by(|a, b| b.cmp(a));
    want.truncate(3);
    let got: Vec<_> = report
        .findings
        .iter()
        .take(3)
        .enumerate()
        .map(|(item, _)| {
            let tis: BTreeSet<usize> = found
                .iter()
                .filter(|(_, i)| **i == item)
                .map(|((ti, _), _)| *ti)
                .collect();
            (tis.len() == 1).then(|| key(&truth[*tis.iter().next().unwrap()]))
        })
        .collect();
    e.top3_right = got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| *g == Some(*w));
    e.top3_cases_right = e.top3_right as usize;
    e
}

impl Eval {
    pub fn add(&mut self, o: &Eval) {
        self.pairs.add(o.pairs);
        self.missing.extend(o.missing.iter().cloned());
        self.split.extend(o.split.iter().cloned());
        self.same_line_merged += o.same_line_merged;
        self.cases += o.cases;
        self.top3_cases_right += o.top3_cases_right;
    }

    pub fn members(truth: &[QuoteFinding]) -> usize {
        truth.iter().map(|t| t.members.len()).sum()
    }
}

/// Non-blank lines of the workers' text that no reader took as part of a finding.
pub fn unparsed_lines(report: &Report) -> usize {
    report
        .notes
        .iter()
        .map(|n| n.text.lines().filter(|l| !l.trim().is_empty()).count())
        .sum()
}
