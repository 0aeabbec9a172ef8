//! The structural reader: list items and heading-per-finding blocks, after the
//! format readers have rewritten what they recognise into that shape.

use super::Parsed;
use super::list::{Block, Item, segment};
use super::markers::*;
use super::template::to_finding;

pub(super) fn is_container_only(note: &str) -> bool {
    note.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.chars().all(|c| matches!(c, '-' | '*' | '_' | '=')) || HEADING.is_match(l)
    })
}

/// A list item that says there is nothing to report.
fn says_nothing_wrong(it: &Item) -> bool {
    let h = it.head.to_lowercase();
    [
        "nothing to report",
        "no issues",
        "no findings",
        "looks good",
        "lgtm",
        "no problems",
    ]
    .iter()
    .any(|p| h.contains(p))
}

pub(super) fn parse_markdown(text: &str) -> Parsed {
    let parsed = read_blocks(text, false);
    if !parsed.findings.is_empty() {
        return parsed;
    }
    // Nothing carried a marker: a message that is just a list of plain bullets
    // ("- the cleanup can delete everything") is a list of findings.
    read_blocks(text, true)
}

fn read_blocks(text: &str, plain_lists_are_findings: bool) -> Parsed {
    let blocks = segment(text);
    // First pass: which lists hold at least half findings by their own markers,
    // so that their unmarked siblings count too.
    let mut marked: std::collections::HashMap<usize, (usize, usize)> = Default::default();
    for b in &blocks {
        if let Block::Item(it) = b
            && let Some(id) = it.list_id
        {
            let e = marked.entry(id).or_default();
            e.1 += 1;
            if to_finding(it, false).is_some() {
                e.0 += 1;
            }
        }
    }
    let mut findings = Vec::new();
    let mut note: Vec<String> = Vec::new();
    for b in blocks {
        match b {
            Block::Text(t) => note.push(t),
            Block::Item(it) => {
                let list_has = it
                    .list_id
                    .and_then(|id| marked.get(&id))
                    .is_some_and(|(f, n)| *f * 2 >= *n && *f >= 2)
                    || (plain_lists_are_findings && !says_nothing_wrong(&it));
                match to_finding(&it, list_has) {
                    Some(mut f) => {
                        f.index = findings.len() + 1;
                        findings.push(f);
                    }
                    None => note.extend(it.raw),
                }
            }
        }
    }
    let mut note = note.join("\n");
    while note.contains("\n\n\n") {
        note = note.replace("\n\n\n", "\n\n");
    }
    let mut note = note.trim().to_string();
    if is_container_only(&note) {
        note.clear();
    }
    Parsed { findings, note }
}
