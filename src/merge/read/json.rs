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
use super::markers::clean_inline;
use super::{Parsed, RawFinding};

// ---------------------------------------------------------------- JSON

pub(super) static FENCE_JSON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)```(?:json|JSON)?\s*\n(.*?)\n\s*```").unwrap());

/// `[P1]` at the start of a codex finding's title, which `priority` already gives.
static CODEX_TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*\[P[0-3]\]\s*").unwrap());

pub(super) fn parse_json(text: &str) -> Option<Parsed> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(trimmed)
        && let Some(p) = json_findings(&v, String::new())
    {
        return Some(p);
    }
    // A fenced JSON block; text around it becomes the note.
    for c in FENCE_JSON.captures_iter(text) {
        let whole = c.get(0).unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(c.get(1).unwrap().as_str()) {
            let rest = format!("{}\n{}", &text[..whole.start()], &text[whole.end()..]);
            if let Some(p) = json_findings(&v, rest.trim().to_string()) {
                return Some(p);
            }
        }
    }
    None
}

pub(super) fn json_findings(v: &Value, mut note: String) -> Option<Parsed> {
    let list = match v {
        Value::Array(a) => a,
        Value::Object(o) => {
            let a = o.get("findings").or_else(|| o.get("issues"))?.as_array()?;
            // Other top-level fields (a summary, a verdict) are kept as the note.
            let extra: Vec<String> = o
                .iter()
                .filter(|(k, _)| *k != "findings" && *k != "issues")
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect();
            if !extra.is_empty() {
                if !note.is_empty() {
                    note.push_str("\n\n");
                }
                note.push_str(&extra.join("\n"));
            }
            a
        }
        _ => return None,
    };
    if !list.iter().all(Value::is_object) {
        return None;
    }
    let mut findings = Vec::new();
    for item in list {
        let o = item.as_object().unwrap();
        let s = |keys: &[&str]| -> Option<String> {
            keys.iter().find_map(|k| match o.get(*k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        };
        let claim = s(&[
            "claim",
            "title",
            "summary",
            "issue",
            "description",
            "message",
        ]);
        let Some(claim) = claim else { continue };
        // codex: a number, and the same level as a `[P1]` tag in the title.
        let priority = o.get("priority").and_then(Value::as_u64);
        let (severity, severity_raw, assumed) = match (
            priority.and_then(Severity::from_priority),
            s(&["severity", "priority", "level"]),
        ) {
            (Some(sev), _) => (sev, Some(format!("P{}", priority.unwrap())), false),
            (None, Some(raw)) => match Severity::from_label(&raw) {
                Some(sev) => (sev, Some(raw), false),
                None => (Severity::Medium, Some(raw), true),
            },
            (None, None) => (Severity::Medium, None, true),
        };
        let claim = match CODEX_TAG.find(&claim) {
            Some(m) if priority.is_some() => claim[m.end()..].to_string(),
            _ => claim,
        };
        let location = match o
            .get("location")
            .or_else(|| o.get("loc"))
            .or_else(|| o.get("code_location"))
        {
            Some(Value::String(l)) => location::parse(l),
            Some(Value::Object(l)) => json_location(l),
            _ => json_location(o),
        };
        findings.push(RawFinding {
            index: findings.len() + 1,
            severity,
            severity_raw,
            severity_assumed: assumed,
            location,
            claim: clean_inline(&claim),
            evidence: s(&["evidence", "details", "rationale", "body"]),
            fix: s(&["fix", "recommendation", "suggestion", "remediation"]),
        });
    }
    Some(Parsed { findings, note })
}

pub(super) fn json_location(o: &serde_json::Map<String, Value>) -> Option<Location> {
    let path = ["path", "file", "absolute_file_path"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))?;
    let n = |keys: &[&str]| {
        keys.iter().find_map(|k| match o.get(*k) {
            Some(Value::Number(n)) => n.as_u64().map(|n| n as u32),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        })
    };
    let range = o.get("line_range").and_then(Value::as_object);
    let in_range = |k: &str| {
        range
            .and_then(|r| r.get(k))
            .and_then(Value::as_u64)
            .map(|n| n as u32)
    };
    let start = n(&["start_line", "line", "start", "line_start"]).or_else(|| in_range("start"));
    let end = n(&["end_line", "end", "line_end"]).or_else(|| in_range("end"));
    if start.is_none()
        && let Some(Value::String(lines)) = o.get("lines")
    {
        return location::parse(&format!("{path}:{lines}"))
            .or(Some(Location::new(path, None, None)));
    }
    Some(Location::new(path, start, end))
}
