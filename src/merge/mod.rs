//! Deterministic merge of workers' final messages: parse findings, group duplicates,
//! rank, render ("curate, don't forward raw output").
//!
//! Which workers are read: state `done`, plus `failed`/`stopped`/`lost` ones with a
//! non-empty message when [`MergeOptions::include_failed`] is set. All others are listed
//! in the header with their state; any `running`/`queued` worker makes the report
//! partial ([`Report::is_partial`]).
//!
//! Review or digest ([`RunKind`]): a run is merged as a review when at least one
//! included worker has role `reviewer`, `verifier` or `researcher` (whose findings are
//! claims with a source, often a URL) or no role at all, *and* at least one finding
//! parses from those workers' messages (other roles in a review run, such as the
//! implementer of a review → fix → verify chain, are kept whole as notes). Otherwise
//! (every included worker has some other role — options, implementer — or nothing
//! parses) the report is
//! a digest: one section per worker with its final message verbatim, plus a comparison
//! table when the messages propose options (see [`digest`]).
//!
//! Output is a pure function of the input set: workers are sorted by label (natural
//! order, `W2` before `W10`) before anything else, so the order the caller passes them
//! in does not matter.

pub mod digest;
pub mod group;
pub mod location;
pub mod read;
mod render;
pub mod severity;
pub mod tokens;

use std::cmp::{Ordering, Reverse};

use serde::{Deserialize, Serialize};

pub use digest::{DigestSection, OptionRow};
pub use location::Location;
pub use severity::{ParseSeverityError, Severity};

/// One worker as the command layer found it on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerOutput {
    pub label: String,
    pub role: Option<String>,
    pub lens: Option<String>,
    /// done | failed | stopped | lost | running | queued | skipped
    pub state: String,
    /// The final message; `None` if the worker left none.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeInput {
    pub run: String,
    pub workers: Vec<WorkerOutput>,
    /// The files of the tree the workers read (relative paths), when known: a location
    /// that names one of them by a suffix (`stripe.py`) or by an absolute path in some
    /// checkout (`/home/runner/work/shop/shop/app/stripe.py`) takes its spelling.
    #[serde(default)]
    pub tree: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOptions {
    /// Findings whose group severity is below this are left out (and counted).
    pub min_severity: Severity,
    /// Also read failed/stopped/lost workers that left a non-empty message.
    pub include_failed: bool,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            min_severity: Severity::Info,
            include_failed: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Review,
    Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerEntry {
    pub label: String,
    pub role: Option<String>,
    pub lens: Option<String>,
    pub state: String,
    pub included: bool,
}

/// One worker's wording of a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    pub label: String,
    pub lens: Option<String>,
    /// 1-based position of this finding in the worker's message.
    pub index: usize,
    /// The claim as the worker worded it (severity marker and location cut out).
    pub text: String,
    pub severity: Severity,
    /// The severity marker as written (`P1`, `major`, `🔴`).
    pub severity_raw: Option<String>,
    pub severity_assumed: bool,
    pub location: Option<Location>,
    pub evidence: Option<String>,
    pub fix: Option<String>,
}

/// A merged finding: one or more sources that report the same problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The highest severity among the sources.
    pub severity: Severity,
    /// True when no source gave a severity.
    pub severity_assumed: bool,
    pub location: Option<Location>,
    /// The clearest wording among the sources (see `pick_claim`).
    pub claim: String,
    /// Lens of each reporting worker (its label when it has no lens).
    pub reported_by: Vec<String>,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub label: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub run: String,
    pub kind: RunKind,
    pub workers: Vec<WorkerEntry>,
    pub findings: Vec<Finding>,
    /// Text of included workers that is not part of any finding (review runs).
    pub notes: Vec<Note>,
    /// Final messages verbatim (digest runs).
    pub digest: Vec<DigestSection>,
    /// Options compared side by side (digest runs that propose options).
    pub options: Vec<OptionRow>,
    pub min_severity: Severity,
    /// Findings left out by `min_severity`.
    pub hidden: usize,
    pub partial: bool,
}

impl Report {
    pub fn to_markdown(&self) -> String {
        render::markdown(self)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a report always serialises")
    }

    /// Some worker is still running or queued: the merge may change.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    pub fn finding_count(&self) -> usize {
        self.findings.len()
    }

    pub fn included_count(&self) -> usize {
        self.workers.iter().filter(|w| w.included).count()
    }
}

/// Orders labels naturally: `W2` < `W10`, then plain string order.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let b = s.as_bytes();
        for i in 1..=b.len() {
            if i == b.len() || b[i].is_ascii_digit() != b[start].is_ascii_digit() {
                out.push((b[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x.0, y.0) {
            (true, true) => {
                let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then(tx.cmp(ty))
            }
            _ => x.1.cmp(y.1),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len()).then(a.cmp(b))
}

fn is_included(w: &WorkerOutput, opts: &MergeOptions) -> bool {
    let has_text = w.text.as_deref().is_some_and(|t| !t.trim().is_empty());
    match w.state.as_str() {
        "done" => true,
        "failed" | "stopped" | "lost" => opts.include_failed && has_text,
        _ => false,
    }
}

/// Roles whose messages are read for findings: reviewers, verifiers, and researchers
/// (whose findings are claims with a source, often a URL, as the location).
fn is_reviewer_role(role: Option<&str>) -> bool {
    role.is_none_or(|r| {
        let r = r.to_ascii_lowercase();
        r == "reviewer" || r == "verifier" || r == "researcher"
    })
}

fn is_research_role(role: Option<&str>) -> bool {
    role.is_some_and(|r| r.eq_ignore_ascii_case("researcher"))
}

/// Longest wording up to this many characters is taken as the clearest; longer ones
/// tend to carry evidence in the claim and read worse as a headline.
const CLAIM_CAP: usize = 160;

/// The headline: the most severe wording a worker gave a severity for, then one with a
/// location and evidence (best supported), then the clearest by length.
fn pick_claim(sources: &[Source]) -> usize {
    let key = |s: &Source| {
        let n = s.text.chars().count();
        // Under the cap: longer first. Over it: shorter first, after all under it.
        let band = if n <= CLAIM_CAP {
            (0, Reverse(n))
        } else {
            (1, Reverse(usize::MAX - n))
        };
        let severity = if s.severity_assumed {
            None
        } else {
            Some(s.severity)
        };
        (
            Reverse(severity),
            s.location.is_none(),
            s.evidence.is_none(),
            band,
        )
    };
    (0..sources.len())
        .min_by(|&a, &b| {
            key(&sources[a])
                .cmp(&key(&sources[b]))
                .then_with(|| natural_cmp(&sources[a].label, &sources[b].label))
                .then(sources[a].index.cmp(&sources[b].index))
        })
        .unwrap_or(0)
}

fn group_location(sources: &[Source], rep: usize) -> Option<Location> {
    let path = sources[rep]
        .location
        .as_ref()
        .or_else(|| sources.iter().find_map(|s| s.location.as_ref()))?
        .path
        .clone();
    let same: Vec<&Location> = sources
        .iter()
        .filter_map(|s| s.location.as_ref())
        .filter(|l| l.path == path)
        .collect();
    let start = same.iter().filter_map(|l| l.start_line).min();
    let end = same.iter().filter_map(|l| l.end_line).max();
    Some(Location::new(&path, start, end))
}

fn reported_by(sources: &[Source]) -> Vec<String> {
    let mut seen: Vec<(&str, Option<&str>)> = Vec::new();
    for s in sources {
        if !seen.iter().any(|(l, _)| *l == s.label) {
            seen.push((&s.label, s.lens.as_deref()));
        }
    }
    seen.iter()
        .map(|(label, lens)| match lens {
            Some(lens) if seen.iter().filter(|(_, l)| *l == Some(*lens)).count() == 1 => {
                lens.to_string()
            }
            Some(lens) => format!("{lens} ({label})"),
            None => label.to_string(),
        })
        .collect()
}

/// Severity, then agreement (distinct workers), then evidence (sources that give it),
/// then place and wording so that ties are stable.
fn rank(a: &Finding, b: &Finding) -> Ordering {
    let workers = |f: &Finding| {
        let mut l: Vec<&str> = f.sources.iter().map(|s| s.label.as_str()).collect();
        l.sort();
        l.dedup();
        l.len()
    };
    let evidence = |f: &Finding| f.sources.iter().filter(|s| s.evidence.is_some()).count();
    b.severity
        .cmp(&a.severity)
        .then_with(|| workers(b).cmp(&workers(a)))
        .then_with(|| evidence(b).cmp(&evidence(a)))
        .then_with(|| match (&a.location, &b.location) {
            (Some(x), Some(y)) => natural_cmp(&x.path, &y.path)
                .then(x.start_line.cmp(&y.start_line))
                .then(x.end_line.cmp(&y.end_line)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| a.claim.cmp(&b.claim))
        .then_with(|| a.sources[0].label.cmp(&b.sources[0].label))
        .then_with(|| a.sources[0].index.cmp(&b.sources[0].index))
}

/// The claim without its own file name, which says nothing about the problem.
fn claim_for_matching(s: &Source) -> String {
    match &s.location {
        Some(l) if !location::is_url(&l.path) => {
            let text = s.text.replace(&l.path, " ");
            match l.path.rsplit('/').next() {
                Some(name) if !name.is_empty() => text.replace(name, " "),
                _ => text,
            }
        }
        Some(l) => s.text.replace(&l.path, " "),
        None => s.text.clone(),
    }
}

/// What a source is matched on: its claim, and its evidence too when the claim is a
/// bare title ("Logging", "Unbounded prefetch") that says too little on its own.
fn matching_text(s: &Source) -> String {
    let claim = claim_for_matching(s);
    match &s.evidence {
        Some(e) if group::tokens(&claim).len() < 2 => format!("{claim} {e}"),
        _ => claim,
    }
}

/// Merges the workers' final messages into one report. Pure and deterministic.
pub fn merge(input: &MergeInput, opts: &MergeOptions) -> Report {
    let mut workers: Vec<&WorkerOutput> = input.workers.iter().collect();
    workers.sort_by(|a, b| {
        natural_cmp(&a.label, &b.label)
            .then_with(|| a.state.cmp(&b.state))
            .then_with(|| a.text.cmp(&b.text))
    });
    let partial = workers
        .iter()
        .any(|w| matches!(w.state.as_str(), "running" | "queued"));
    let entries: Vec<WorkerEntry> = workers
        .iter()
        .map(|w| WorkerEntry {
            label: w.label.clone(),
            role: w.role.clone(),
            lens: w.lens.clone(),
            state: w.state.clone(),
            included: is_included(w, opts),
        })
        .collect();
    let included: Vec<&WorkerOutput> = workers
        .iter()
        .copied()
        .filter(|w| is_included(w, opts))
        .collect();

    // Workers with another role (an implementer in a review → verify chain) are not
    // mined for findings; their message is kept whole as a note.
    let parsed: Vec<read::Parsed> = included
        .iter()
        .map(|w| {
            let text = w.text.as_deref().unwrap_or("");
            if is_research_role(w.role.as_deref()) {
                read::parse_research(text)
            } else if is_reviewer_role(w.role.as_deref()) {
                read::parse_message(text)
            } else {
                read::Parsed {
                    findings: Vec::new(),
                    note: text.trim().to_string(),
                }
            }
        })
        .collect();
    let total: usize = parsed.iter().map(|p| p.findings.len()).sum();
    let any_reviewer = included.iter().any(|w| is_reviewer_role(w.role.as_deref()));

    let mut report = Report {
        run: input.run.clone(),
        kind: RunKind::Review,
        workers: entries,
        findings: Vec::new(),
        notes: Vec::new(),
        digest: Vec::new(),
        options: Vec::new(),
        min_severity: opts.min_severity,
        hidden: 0,
        partial,
    };

    if total == 0 || !any_reviewer {
        report.kind = RunKind::Digest;
        report.digest = digest::sections(&included);
        report.options = digest::options_table(&included);
        return report;
    }

    let mut sources: Vec<Source> = Vec::with_capacity(total);
    for (w, p) in included.iter().zip(&parsed) {
        for f in &p.findings {
            sources.push(Source {
                label: w.label.clone(),
                lens: w.lens.clone(),
                index: f.index,
                text: f.claim.clone(),
                severity: f.severity,
                severity_raw: f.severity_raw.clone(),
                severity_assumed: f.severity_assumed,
                location: f.location.clone(),
                evidence: f.evidence.clone(),
                fix: f.fix.clone(),
            });
        }
        let note = match w.text.as_deref() {
            None => "(no final message)".to_string(),
            Some(t) if t.trim().is_empty() => "(empty final message)".to_string(),
            Some(_) => p.note.clone(),
        };
        if !note.is_empty() {
            report.notes.push(Note {
                label: w.label.clone(),
                text: note,
            });
        }
    }

    location::canonicalize(
        sources.iter_mut().filter_map(|s| s.location.as_mut()),
        &input.tree,
    );

    let mut interner = group::Interner::default();
    let worker_of: Vec<usize> = {
        let mut idx = 0;
        let mut out = Vec::with_capacity(sources.len());
        let mut last: Option<&str> = None;
        for s in &sources {
            if last.is_some_and(|l| l != s.label) {
                idx += 1;
            }
            last = Some(&s.label);
            out.push(idx);
        }
        out
    };
    let items: Vec<group::Item<'_>> = sources
        .iter()
        .zip(&worker_of)
        .map(|(s, &w)| group::Item {
            worker: w,
            // A URL is a source, not a place in the code: claims alone decide.
            path: s
                .location
                .as_ref()
                .map(|l| l.path.as_str())
                .filter(|p| !location::is_url(p)),
            severity: (!s.severity_assumed).then_some(s.severity),
            lines: s
                .location
                .as_ref()
                .and_then(|l| Some((l.start_line?, l.end_line?))),
            tokens: interner.ids(&matching_text(s)),
            classes: group::classes(&matching_text(s)),
        })
        .collect();
    let groups = group::group(&items);

    let mut findings: Vec<Finding> = groups
        .into_iter()
        .map(|g| {
            let srcs: Vec<Source> = g.iter().map(|&i| sources[i].clone()).collect();
            let rep = pick_claim(&srcs);
            // A severity some worker gave beats the one assumed for another.
            let given = srcs
                .iter()
                .filter(|s| !s.severity_assumed)
                .map(|s| s.severity)
                .max();
            let severity = given.unwrap_or(Severity::Medium);
            Finding {
                severity,
                severity_assumed: given.is_none(),
                location: group_location(&srcs, rep),
                claim: srcs[rep].text.clone(),
                reported_by: reported_by(&srcs),
                sources: {
                    // The chosen wording first, the rest in label order.
                    let mut v = srcs.clone();
                    let r = v.remove(rep);
                    v.insert(0, r);
                    v
                },
            }
        })
        .collect();
    let before = findings.len();
    findings.retain(|f| f.severity >= opts.min_severity);
    report.hidden = before - findings.len();
    findings.sort_by(rank);
    report.findings = findings;
    report
}
