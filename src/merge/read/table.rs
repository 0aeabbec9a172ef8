//! Markdown tables of findings (`| Severity | Location | Issue |`).

use std::sync::LazyLock;

use regex::Regex;

use super::markers::strip_decoration;

pub(super) static TABLE_SEP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$").unwrap());

pub(super) fn table_cells(line: &str) -> Vec<String> {
    let t = line.trim().trim_start_matches('|').trim_end_matches('|');
    t.replace("\\|", "\u{0}")
        .split('|')
        .map(|c| c.trim().replace('\u{0}', "|"))
        .collect()
}

/// What a header names: exact names first, then a word of it (`File / line`,
/// `Suggested change`).
fn column(h: &str) -> Option<&'static str> {
    let exact = |h: &str| {
        Some(match h {
            "severity" | "priority" | "sev" | "level" | "impact" => "Severity",
            "location" | "file" | "where" | "path" | "lines" | "line" | "loc" | "source"
            | "sources" | "url" => "Location",
            "issue" | "finding" | "claim" | "problem" | "description" | "title" | "summary"
            | "what" | "observation" | "comment" | "message" | "defect" | "bug" => "Claim",
            "evidence" | "details" | "why" | "rationale" | "reason" => "Evidence",
            "fix" | "recommendation" | "suggestion" | "remediation" | "suggested fix"
            | "action" | "change" | "proposed fix" => "Fix",
            _ => return None,
        })
    };
    exact(h).or_else(|| {
        let words: Vec<&str> = h
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        ["Severity", "Location", "Claim", "Fix", "Evidence"]
            .into_iter()
            .find(|k| words.iter().any(|w| exact(w) == Some(k)))
    })
}

/// Rewrites markdown tables of findings (`| Severity | Location | Issue |`) as key-line
/// items, which the item parser already reads. Tables without an issue column and a
/// severity or location column are left alone.
pub(super) fn tables_to_items(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let is_table = lines[i].trim_start().starts_with('|')
            && i + 1 < lines.len()
            && TABLE_SEP.is_match(lines[i + 1]);
        let columns: Vec<Option<&str>> = if is_table {
            table_cells(lines[i])
                .iter()
                .map(|h| column(&strip_decoration(h).to_lowercase()))
                .collect()
        } else {
            Vec::new()
        };
        let has = |k: &str| columns.contains(&Some(k));
        if !(has("Claim") && (has("Severity") || has("Location"))) {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        i += 2;
        while i < lines.len() && lines[i].trim_start().starts_with('|') {
            let cells = table_cells(lines[i]);
            let mut item = Vec::new();
            for key in ["Severity", "Location", "Claim", "Evidence", "Fix"] {
                let val = columns
                    .iter()
                    .zip(&cells)
                    .filter(|(c, _)| **c == Some(key))
                    .map(|(_, v)| v.as_str())
                    .find(|v| !v.is_empty() && *v != "-" && *v != "—");
                if let Some(v) = val {
                    let lead = if item.is_empty() { "- " } else { "  " };
                    item.push(format!("{lead}{key}: {v}"));
                }
            }
            if item.iter().any(|l| l.contains("Claim: ")) {
                out.extend(item);
            } else {
                out.push(lines[i].to_string());
            }
            i += 1;
        }
        out.push(String::new());
    }
    out.join("\n")
}
