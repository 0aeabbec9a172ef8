//! Conventional Comments (conventionalcomments.org): `<label> [(decorations)]: <subject>`,
//! e.g. `issue (blocking): the lock is never released`, `nitpick: typo`, with the
//! discussion on the lines (or the paragraph) after it. Each comment becomes a list item
//! `- [level] subject` with its discussion indented under it; the level comes from
//! [`Severity::from_conventional`]. `praise:` is not a finding and stays as text.
//! Labels are lower-case as the convention writes them, and a message must hold two
//! comments (or one with decorations), so that a lone "note: I did not run the tests"
//! stays prose.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location;
use super::super::severity::Severity;
use super::markers::{BOLD_LINE, HEADING, LIST, is_fence};

static COMMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<lead>\s{0,3}(?:[-*+]\s+)?)(?:\*\*|__)?(?P<label>praise|nitpick|nit|suggestion|issue|todo|question|thought|chore|note|typo|polish|quibble)\s*(?:\((?P<dec>[^)]{1,60})\))?\s*!?\s*(?::\s*(?:\*\*|__)|(?:\*\*|__)\s*:|:)\s*(?P<rest>\S.*)$",
    )
    .unwrap()
});

/// A line that is a Conventional Comment: its level, the label as written, and the
/// subject. `None` for `praise:` and for lines of another shape.
pub(super) fn split(line: &str) -> Option<(Severity, String, String)> {
    let c = COMMENT.captures(line)?;
    let decorations: Vec<&str> = c
        .name("dec")
        .map_or(Vec::new(), |d| d.as_str().split(',').collect());
    let sev = Severity::from_conventional(&c["label"], &decorations)?;
    let raw = match c.name("dec") {
        Some(d) => format!("{} ({})", &c["label"], d.as_str()),
        None => c["label"].to_string(),
    };
    Some((sev, raw, c["rest"].trim().to_string()))
}

/// A line that ends a comment's discussion: another comment, a heading, a bold line
/// standing alone (a location block), a top-level list item.
fn starts_block(line: &str) -> bool {
    COMMENT.is_match(line)
        || HEADING.is_match(line)
        || BOLD_LINE.is_match(line)
        || LIST.captures(line).is_some_and(|c| c[1].is_empty())
}

/// A message uses the convention when it has two comments or one with decorations; a
/// lone `note: …` line is prose.
fn uses_convention(lines: &[&str]) -> bool {
    let comments: Vec<regex::Captures<'_>> =
        lines.iter().filter_map(|l| COMMENT.captures(l)).collect();
    comments.len() >= 2 || comments.iter().any(|c| c.name("dec").is_some())
}

pub(super) fn rewrite(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if !uses_convention(&lines) {
        return text.to_string();
    }
    let mut out = Vec::with_capacity(lines.len());
    let mut fence = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_fence(line) {
            fence = !fence;
        }
        let comment = (!fence)
            .then(|| split(line))
            .flatten()
            .filter(|_| !line.starts_with("    "));
        let Some((sev, _, rest)) = comment else {
            out.push(line.to_string());
            i += 1;
            continue;
        };
        // A location block above it (`**path line 41**`, made a heading by the
        // location reader) is this comment's place: one item, so that the comments
        // after it are not read as its body.
        let above = out.iter().rposition(|l: &String| !l.trim().is_empty());
        let place = above
            .and_then(|k| out[k].strip_prefix("#### ").map(|p| (k, p.to_string())))
            .filter(|(_, p)| location::find(p, None).is_some_and(|f| f.span == (0, p.len())));
        match place {
            Some((k, p)) => {
                out.truncate(k);
                out.push(format!("- [{sev}] {p} — {rest}"));
            }
            None => out.push(format!("- [{sev}] {rest}")),
        }
        i += 1;
        // The discussion: the lines right below, or else the next paragraph.
        let mut taken_paragraph = false;
        let mut in_fence = false;
        while i < lines.len() {
            let l = lines[i];
            if in_fence {
                out.push(format!("  {l}"));
                in_fence = !is_fence(l);
                i += 1;
                continue;
            }
            if l.trim().is_empty() {
                let next = lines.get(i + 1).copied().unwrap_or("");
                if taken_paragraph || next.trim().is_empty() || starts_block(next) {
                    break;
                }
                out.push(String::new());
                i += 1;
                continue;
            }
            if starts_block(l) {
                break;
            }
            taken_paragraph = true;
            in_fence = is_fence(l);
            out.push(format!("  {}", l.trim_start()));
            i += 1;
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_decorations() {
        let (s, raw, rest) = split("issue (security, blocking): the token is logged").unwrap();
        assert_eq!(
            (s, raw.as_str(), rest.as_str()),
            (
                Severity::High,
                "issue (security, blocking)",
                "the token is logged"
            )
        );
        assert_eq!(
            split("suggestion (non-blocking): stream it").unwrap().0,
            Severity::Low
        );
        assert_eq!(split("nitpick: typo").unwrap().0, Severity::Info);
        assert_eq!(split("**issue (blocking):** x").unwrap().0, Severity::High);
        assert!(split("praise: nice tests").is_none());
        assert!(split("Issues found: three").is_none());
        assert!(split("Note: capitalised prose").is_none());
        assert_eq!(
            rewrite("note: I did not run the tests"),
            "note: I did not run the tests"
        );
    }

    #[test]
    fn a_location_block_above_is_the_comments_place() {
        let t = "#### a.go:60\nissue (non-blocking): read before the check\n\npraise: clear tests\nnit: typo";
        assert_eq!(
            rewrite(t),
            "- [medium] a.go:60 — read before the check\n\npraise: clear tests\n- [info] typo"
        );
    }

    #[test]
    fn discussion_goes_under_the_comment() {
        let t = "issue (blocking): names become formulas\n\nPrefix cells with a quote.\n\nnitpick: typo in `x`\npraise: good tests\n";
        assert_eq!(
            rewrite(t),
            "- [high] names become formulas\n\n  Prefix cells with a quote.\n\n- [info] typo in `x`\npraise: good tests"
        );
    }
}
