//! JSON shapes: orch's findings schema (`severity`, `location`, `claim`, `evidence`,
//! `fix`), codex's review output (`title` with a `[P1]` tag, `body`, `priority` 0–3,
//! `code_location.absolute_file_path` and `line_range {start, end}`), and the common
//! variants (`issues`, `file`/`line`, `description`). The whole message, or a fenced
//! block in it, must be one such value.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::super::location::{self, Location};
use super::super::severity::Severity;
use super::markers::{clean_inline, find_severity};
use super::{Parsed, RawFinding};

// ---------------------------------------------------------------- JSON

pub(super) static FENCE_JSON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)```(?:json|JSON)?\s*\n(.*?)\n\s*```").unwrap());

/// `[P1]` at the start of a codex finding's title, which `priority` already gives.
static CODEX_TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*\[P[0-3]\]\s*").unwrap());

pub(super) fn parse_json(text: &str) -> Option<Parsed> {
    let trimmed = text.trim();
    if let Some(v) = json_value(trimmed)
        && let Some(p) = json_findings(&v, String::new())
    {
        return Some(p);
    }
    // A fenced JSON block; text around it becomes the note.
    for c in FENCE_JSON.captures_iter(text) {
        let whole = c.get(0).unwrap();
        if let Some(v) = json_value(c.get(1).unwrap().as_str()) {
            let rest = format!("{}\n{}", &text[..whole.start()], &text[whole.end()..]);
            if let Some(p) = json_findings(&v, rest.trim().to_string()) {
                return Some(p);
            }
        }
    }
    None
}

/// One JSON value, or JSON lines (reviewdog's `rdjsonl`, one object a line) as an array.
fn json_value(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
        return Some(v);
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 2 {
        return None;
    }
    let objects: Vec<Value> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l.trim())
                .ok()
                .filter(Value::is_object)
        })
        .collect::<Option<_>>()?;
    Some(Value::Array(objects))
}

/// Keys whose array holds the findings: orch's and codex's `findings`, SonarQube's and
/// others' `issues`, reviewdog's `diagnostics`, a review export's `comments`, SARIF's
/// `results` (inside `runs`).
const LIST_KEYS: &[&str] = &["findings", "issues", "diagnostics", "comments", "results"];

/// Top-level fields that describe the tool or the page, not the review.
const META_KEYS: &[&str] = &[
    "$schema",
    "version",
    "tool",
    "source",
    "p",
    "ps",
    "total",
    "paging",
    "facets",
    "components",
    "rules",
    "effortTotal",
];

/// The finding objects of a value and its other top-level fields (kept as the note).
type Object = serde_json::Map<String, Value>;

fn finding_list(v: &Value) -> Option<(Vec<&Object>, Vec<String>)> {
    let mut extra = Vec::new();
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => {
            let mut items = Vec::new();
            let mut found = false;
            if let Some(Value::Array(runs)) = o.get("runs") {
                // SARIF: runs[].results[].
                for run in runs {
                    if let Some(Value::Array(r)) = run.get("results") {
                        found = true;
                        items.extend(r.iter());
                    }
                }
            }
            if let Some(k) = LIST_KEYS
                .iter()
                .find(|k| o.get(**k).is_some_and(Value::is_array))
            {
                found = true;
                items.extend(o[*k].as_array().unwrap().iter());
            }
            if !found {
                return None;
            }
            for (k, v) in o {
                if LIST_KEYS.contains(&k.as_str()) || k == "runs" || META_KEYS.contains(&k.as_str())
                {
                    continue;
                }
                extra.push(match v {
                    Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                });
            }
            items
        }
        _ => return None,
    };
    if !items.iter().all(|i| i.is_object()) {
        return None;
    }
    Some((
        items.iter().map(|i| i.as_object().unwrap()).collect(),
        extra,
    ))
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        // SARIF's `message: {"text": …}`.
        Value::Object(o) => ["text", "markdown"]
            .iter()
            .find_map(|k| o.get(*k).and_then(text_of)),
        _ => None,
    }
}

pub(super) fn json_findings(v: &Value, mut note: String) -> Option<Parsed> {
    let (list, extra) = finding_list(v)?;
    if !extra.is_empty() {
        if !note.is_empty() {
            note.push_str("\n\n");
        }
        note.push_str(&extra.join("\n"));
    }
    let mut findings = Vec::new();
    let mut unread = Vec::new();
    for o in list {
        let s = |keys: &[&str]| -> Option<String> {
            keys.iter().find_map(|k| o.get(*k).and_then(text_of))
        };
        let title = s(&[
            "claim",
            "title",
            "summary",
            "issue",
            "description",
            "message",
        ]);
        // A review comment export has only a `body`: it is the claim.
        let (claim, from_body) = match title {
            Some(t) => (t, false),
            None => match s(&["body", "text"]) {
                Some(b) => (b, true),
                None => {
                    unread.push(Value::Object(o.clone()).to_string());
                    continue;
                }
            },
        };
        // codex: a number, and the same level as a `[P1]` tag in the title.
        let priority = o.get("priority").and_then(Value::as_u64);
        let (mut severity, mut severity_raw, mut assumed) = match (
            priority.and_then(Severity::from_priority),
            s(&["severity", "priority", "level"]),
        ) {
            (Some(sev), _) => (sev, Some(format!("P{}", priority.unwrap())), false),
            // SARIF's `note` is "a minor problem", not a remark.
            (None, Some(raw)) if o.get("severity").is_none() && raw == "note" => {
                (Severity::Low, Some(raw), false)
            }
            // SonarQube (`rule` + `component`) and Code Climate (`check_name`,
            // `fingerprint`) grade on five levels.
            (None, Some(raw))
                if (o.contains_key("rule") && o.contains_key("component"))
                    || o.contains_key("check_name")
                    || o.contains_key("fingerprint") =>
            {
                match Severity::from_five_level(&raw) {
                    Some(sev) => (sev, Some(raw), false),
                    None => (Severity::Medium, Some(raw), true),
                }
            }
            (None, Some(raw)) => match Severity::from_label(&raw) {
                Some(sev) => (sev, Some(raw), false),
                None => (Severity::Medium, Some(raw), true),
            },
            (None, None) => (Severity::Medium, None, true),
        };
        let mut claim = match CODEX_TAG.find(&claim) {
            Some(m) if priority.is_some() => claim[m.end()..].to_string(),
            _ => claim,
        };
        // A comment body's own label (`nit: …`, `issue (blocking): …`).
        if assumed && let Some((sev, raw, rest)) = super::conventional::split(&claim) {
            (severity, severity_raw, assumed) = (sev, Some(raw), false);
            claim = rest;
        } else if assumed && let Some((sev, raw, (0, end))) = find_severity(&claim) {
            (severity, severity_raw, assumed) = (sev, Some(raw), false);
            claim = claim[end..].trim().to_string();
        }
        let location = finding_location(o);
        findings.push(RawFinding {
            index: findings.len() + 1,
            severity,
            severity_raw,
            severity_assumed: assumed,
            location,
            claim: clean_inline(&claim),
            evidence: if from_body {
                s(&["evidence", "details", "rationale"])
            } else {
                s(&["evidence", "details", "rationale", "body"])
            },
            fix: s(&["fix", "recommendation", "suggestion", "remediation"]),
        });
    }
    if findings.is_empty() && !unread.is_empty() {
        return None;
    }
    if !unread.is_empty() {
        if !note.is_empty() {
            note.push_str("\n\n");
        }
        note.push_str(&unread.join("\n"));
    }
    Some(Parsed { findings, note })
}

/// Where a JSON finding points, in the shapes tools use: a `location` string or object,
/// codex's `code_location`, SARIF's `locations[0].physicalLocation`, SonarQube's
/// `component` (`project:path`) with `line`/`textRange`, or fields on the finding itself.
fn finding_location(o: &serde_json::Map<String, Value>) -> Option<Location> {
    let nested = ["location", "loc", "code_location", "physicalLocation"]
        .iter()
        .find_map(|k| o.get(*k))
        .or_else(|| o.get("locations").and_then(|l| l.get(0)));
    match nested {
        Some(Value::String(l)) => location::parse(l),
        Some(Value::Object(l)) => {
            let inner = l
                .get("physicalLocation")
                .and_then(Value::as_object)
                .unwrap_or(l);
            json_location(inner).or_else(|| json_location(o))
        }
        _ => json_location(o),
    }
}

fn num(v: Option<&Value>) -> Option<u32> {
    match v? {
        Value::Number(n) => n.as_u64().map(|n| n as u32),
        Value::String(s) => s.trim().parse().ok(),
        // reviewdog's `{"line": 3, "column": 1}`.
        Value::Object(o) => num(o.get("line")),
        _ => None,
    }
}

pub(super) fn json_location(o: &serde_json::Map<String, Value>) -> Option<Location> {
    let path = ["path", "file", "absolute_file_path", "uri", "filename"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .map(str::to_string)
        .or_else(|| {
            let a = o.get("artifactLocation")?.get("uri")?.as_str()?;
            Some(a.to_string())
        })
        .or_else(|| {
            // SonarQube: `project-key:src/main/…`.
            let c = o.get("component")?.as_str()?;
            Some(match c.split_once(':') {
                Some((project, p)) if !project.contains('/') => p.to_string(),
                _ => c.to_string(),
            })
        })?;
    let path = path.strip_prefix("file://").unwrap_or(&path).to_string();
    let get = |keys: &[&str]| keys.iter().find_map(|k| num(o.get(*k)));
    // Ranges as objects: codex `line_range`, reviewdog `range`, Code Climate `lines`,
    // SARIF `region`, SonarQube `textRange`.
    let range = ["line_range", "range", "lines", "region", "textRange"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_object));
    let in_range = |keys: &[&str]| range.and_then(|r| keys.iter().find_map(|k| num(r.get(*k))));
    let first = get(&["start_line", "startLine", "line_start"]);
    let line = get(&["line", "start"]);
    let start = first
        .or(line)
        .or_else(|| in_range(&["start", "startLine", "begin", "start_line"]));
    let end = get(&["end_line", "endLine", "end", "line_end"])
        // GitHub's multi-line comment: `start_line` … `line`.
        .or(first.and(line))
        .or_else(|| in_range(&["end", "endLine", "end_line"]));
    if start.is_none()
        && let Some(Value::String(lines)) = o.get("lines")
    {
        return location::parse(&format!("{path}:{lines}"))
            .or(Some(Location::new(&path, None, None)));
    }
    Some(Location::new(&path, start, end))
}
