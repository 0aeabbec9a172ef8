//! Lines led by a severity label and a colon, outside any list: `**Critical:** path —
//! claim`, `**Minor:** src/lexer.rs#L10-L20 — claim`, `High: app/x.py:31 — claim`,
//! `P1: …`, `Blocking: …`. Each becomes a list item `- [label] rest`, which the
//! structural reader takes as a finding with that severity.
//!
//! A bold label is a finding whatever follows it; a plain `Word:` label only when the
//! rest names a place in the code (so "Note: I did not run the tests" stays prose).
//! A label with nothing after it (`**Blockers:**`) is a container, left alone, as are
//! labels that say there is nothing ("Critical: none").

use std::sync::LazyLock;

use regex::Regex;

use super::super::location;
use super::super::severity::Severity;

static LABELLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<open>\*\*|__)?\s*(?P<label>[A-Za-z][A-Za-z0-9 _-]{0,24}?)\s*(?::\s*(?:\*\*|__)|(?:\*\*|__)\s*:|:)\s*(?P<rest>\S.*)$",
    )
    .unwrap()
});

/// Labels that are about the message, not a severity, even if a severity word maps them.
const NOT_SEVERITY: &[&str] = &["note", "notes", "question", "suggested", "summary"];

fn says_nothing(rest: &str) -> bool {
    let r = rest
        .trim()
        .trim_end_matches('.')
        .trim_matches(|c: char| c == '*' || c == '_')
        .to_lowercase();
    matches!(
        r.as_str(),
        "none" | "n/a" | "-" | "—" | "nothing" | "nothing found" | "no issues" | "none found"
    )
}

fn as_item(line: &str) -> Option<String> {
    if line.starts_with([' ', '\t']) {
        return None;
    }
    let c = LABELLED.captures(line)?;
    let label = c["label"].trim();
    let rest = c["rest"].trim();
    let bold = c.name("open").is_some();
    if NOT_SEVERITY.contains(&label.to_lowercase().as_str())
        || says_nothing(rest)
        || !rest.chars().any(char::is_alphanumeric)
    {
        return None;
    }
    Severity::from_label(label)?;
    if !bold {
        let located =
            location::find(rest, None).is_some_and(|f| !location::is_url(&f.location.path));
        if !located {
            return None;
        }
    }
    Some(format!("- [{label}] {rest}"))
}

pub(super) fn rewrite(text: &str) -> String {
    let mut fence = false;
    text.lines()
        .map(|l| {
            if super::markers::is_fence(l) {
                fence = !fence;
            }
            match (fence, as_item(l)) {
                (false, Some(h)) => h,
                _ => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_lines() {
        assert_eq!(
            rewrite("**Critical:** src/a.rs:10 — the lock is never released"),
            "- [Critical] src/a.rs:10 — the lock is never released"
        );
        assert_eq!(
            rewrite("**Minor**: src/lexer.rs#L10-L20 — names are unclear"),
            "- [Minor] src/lexer.rs#L10-L20 — names are unclear"
        );
        assert_eq!(
            rewrite("High: app/x.py:31 — token is logged"),
            "- [High] app/x.py:31 — token is logged"
        );
        for keep in [
            "Note: I did not run the tests",
            "High: this is mostly fine",
            "**Blockers:**",
            "**Critical:** none.",
            "Summary: ship it",
            "  **High:** nested under an item",
        ] {
            assert_eq!(rewrite(keep), keep);
        }
    }
}
