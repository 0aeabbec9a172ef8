//! Turns one item into a finding: orch's own template (`- [high] path:line — claim`
//! with `Evidence:` / `Fix:` lines), key-line items (`Severity:` / `Location:` /
//! `Claim:`), and free-form items with a severity or location marker.

use super::super::location::{self, Location};
use super::super::severity::Severity;
use super::RawFinding;
use super::heading::*;
use super::list::Item;
use super::markers::*;

/// Evidence, fix and other key lines of an item.
#[derive(Default)]
pub(super) struct Keys {
    pub(super) severity: Option<(Severity, String)>,
    pub(super) severity_raw_unknown: Option<String>,
    pub(super) location: Option<Location>,
    pub(super) claim: Option<String>,
    pub(super) evidence: Vec<String>,
    pub(super) fix: Vec<String>,
    pub(super) other: Vec<String>,
}

pub(super) fn read_keys(lines: &[String], ctx_path: Option<&str>) -> Keys {
    let mut k = Keys::default();
    // Which bucket free lines after a key line continue.
    #[derive(Clone, Copy)]
    enum Cur {
        Other,
        Evidence,
        Fix,
        Claim,
    }
    let mut cur = Cur::Other;
    let mut suggestion = false;
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        // GitHub's ```suggestion block: the replacement code, i.e. the fix.
        if suggestion {
            suggestion = !is_fence(t);
            if suggestion {
                k.fix.push(format!("`{t}`"));
            }
            continue;
        }
        if super::suggestion::is_suggestion_fence(t) {
            suggestion = true;
            continue;
        }
        if let Some(c) = KEY_LINE.captures(line) {
            let key = c["key"].to_lowercase();
            let val = c["val"].trim().to_string();
            match key.as_str() {
                "severity" | "priority" | "impact" => {
                    let word = val
                        .trim_matches(|c: char| !c.is_alphanumeric())
                        .split(|c: char| !c.is_alphanumeric())
                        .next()
                        .unwrap_or("");
                    // A traffic-light emoji alone (`| 🔴 |` in a table) is a level too.
                    let emoji = val.trim().chars().next().and_then(Severity::from_emoji);
                    let (level, word) = match (Severity::from_word(word), emoji) {
                        (Some(s), _) => (Some(s), word.to_string()),
                        (None, Some(e)) => (Some(e), val.trim().to_string()),
                        (None, None) => (None, word.to_string()),
                    };
                    // `**Severity: critical.** The order search …`: the claim goes on
                    // after the level on the same line.
                    let after = val
                        .split_once(word.as_str())
                        .map(|(_, r)| {
                            r.trim_start_matches(['.', ':', '*', ' ', ')', '—', '-'])
                                .trim()
                        })
                        .filter(|r| r.split_whitespace().count() >= 3);
                    if level.is_some()
                        && let Some(rest) = after
                    {
                        k.other.push(rest.to_string());
                    }
                    match level {
                        Some(s) if k.severity.is_none() => k.severity = Some((s, word)),
                        Some(_) => {}
                        None if key == "impact" => {
                            k.evidence.push(format!("Impact: {val}"));
                            cur = Cur::Evidence;
                            continue;
                        }
                        None => k.severity_raw_unknown = Some(val),
                    }
                    cur = Cur::Other;
                }
                "location" | "file" | "files" | "where" | "path" | "line" | "lines" => {
                    if k.location.is_none() {
                        k.location = location::find(&val, ctx_path).map(|f| f.location);
                    }
                    cur = Cur::Other;
                }
                "claim" | "issue" | "finding" | "problem" | "title" => {
                    if k.claim.is_none() && !val.is_empty() {
                        k.claim = Some(val);
                    }
                    cur = Cur::Claim;
                }
                "evidence" | "proof" | "why" | "details" => {
                    if !val.is_empty() {
                        k.evidence.push(val);
                    }
                    cur = Cur::Evidence;
                }
                _ => {
                    if !val.is_empty() {
                        k.fix.push(val);
                    }
                    cur = Cur::Fix;
                }
            }
            continue;
        }
        let t = LIST
            .captures(line)
            .map_or(t.to_string(), |c| c[3].to_string());
        match cur {
            Cur::Evidence => k.evidence.push(t),
            Cur::Fix => k.fix.push(t),
            Cur::Claim if k.claim.is_none() => k.claim = Some(t),
            _ => k.other.push(t),
        }
    }
    k
}

/// Turns an item into a finding if it looks like one.
pub(super) fn to_finding(item: &Item, list_has_findings: bool) -> Option<RawFinding> {
    let ctx_path = item.ctx.path.as_deref();
    let section = item.ctx.section.unwrap_or(Section::Neutral);
    let heading_item = item.list_id.is_none();

    // A head that is itself a key line (`- Claim: …`, `- Location: …`) is read with the
    // body; a severity key line (`- Severity: high — claim`) keeps its claim text.
    let head_key = KEY_LINE
        .captures(&item.head)
        .map(|c| c["key"].to_lowercase())
        .filter(|k| !matches!(k.as_str(), "severity" | "priority" | "impact"));
    let mut lines = Vec::new();
    if head_key.is_some() {
        lines.push(item.head.clone());
    }
    lines.extend(dedent(&item.body));
    let keys = read_keys(&lines, ctx_path);
    let mut head = if head_key.is_some() {
        String::new()
    } else {
        item.head.clone()
    };
    let mut inline_evidence = None;
    if let Some(m) = INLINE_SPLIT.find(&head) {
        inline_evidence = Some(head[m.end()..].trim().to_string());
        head.truncate(m.start());
    }

    let mut severity = None;
    if let Some((sev, raw, span)) = find_severity(&head) {
        severity = Some((sev, raw));
        head = cut(&head, span);
    }
    let explicit = severity.is_some() || keys.severity.is_some();
    let mut severity = severity.or(keys.severity.clone());

    let mut location = None;
    if let Some(f) = location::find(&head, ctx_path) {
        head = cut_location(&head, &f);
        location = Some(f.location);
    }
    // `path:48 — 🔴 Critical`: a marker after the place.
    let rest = head.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, '—' | '–' | '-' | ':' | '|')
    });
    if severity.is_none()
        && let Some((sev, raw, (0, end))) = find_severity(rest)
    {
        severity = Some((sev, raw));
        head = rest[end..].to_string();
    }
    let head_has_location = location.is_some() || keys.location.is_some();
    let location = location.or(keys.location.clone());

    let body_location = || {
        keys.evidence
            .iter()
            .chain(&keys.other)
            .find_map(|l| location::find(l, ctx_path).map(|f| f.location))
    };

    let is_finding = heading_item
        || match section {
            Section::Findings => true,
            // In a message of plain bullets, "My notes:" introduces the findings.
            Section::Other => {
                explicit
                    || (list_has_findings && item.list_id.is_some() && item.ctx.severity.is_none())
            }
            Section::Neutral => {
                explicit
                    || head_has_location
                    || item.ctx.severity.is_some()
                    || list_has_findings
                    || body_location().is_some()
            }
        };
    if !is_finding {
        return None;
    }

    let location = location.or_else(body_location);
    let mut claim = clean_inline(&head);
    let mut other = keys.other.clone();
    if let Some(c) = &keys.claim {
        claim = clean_inline(&strip_markers(c, ctx_path));
    } else if claim.chars().filter(|c| c.is_alphanumeric()).count() < 3 && !other.is_empty() {
        let first = other.remove(0);
        // A heading that is only a place: the severity may lead the first body line.
        if severity.is_none()
            && let Some((sev, raw, _)) = find_severity(&first)
        {
            severity = Some((sev, raw));
        }
        claim = clean_inline(&strip_markers(&first, ctx_path));
    }
    if claim.is_empty() {
        return None;
    }

    let mut evidence: Vec<String> = inline_evidence.into_iter().collect();
    evidence.extend(keys.evidence.iter().cloned());
    if evidence.is_empty() {
        evidence = other.into_iter().filter(|l| !is_fence(l)).collect();
    }
    let join = |v: Vec<String>| {
        let s = v.join(" ").trim().to_string();
        (!s.is_empty()).then_some(s)
    };

    let (severity, severity_raw, assumed) = match (severity, item.ctx.severity.clone()) {
        (Some((s, raw)), _) | (None, Some((s, raw))) => (s, Some(raw), false),
        (None, None) => (Severity::Medium, keys.severity_raw_unknown.clone(), true),
    };
    Some(RawFinding {
        index: 0,
        severity,
        severity_raw,
        severity_assumed: assumed,
        location,
        claim,
        evidence: join(evidence),
        fix: join(keys.fix),
    })
}
