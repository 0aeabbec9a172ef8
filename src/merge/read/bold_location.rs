//! Blocks that open with a location alone on a line — `**app/x.py:31-33**`,
//! ``**`./src/a.ts:9`**``, `` `src/a.rs` lines 88-95 `` — as CodeRabbit, Gemini and
//! many hand-written reviews put them. Each becomes a heading, so the block below it
//! (a bold title, a label line, the explanation) is the finding's body.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location;

static BOLD_ONLY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}\*\*(?P<inner>[^*]+?)\*\*\s*:?\s*$").unwrap());

/// The rewritten line when `line` is a location standing alone (a severity marker such
/// as `[high]` may precede it).
fn as_heading(line: &str) -> Option<String> {
    let inner = BOLD_ONLY.captures(line)?.name("inner")?.as_str().trim();
    let (marker, rest) = match inner.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((m, r)) => (format!("[{m}] "), r.trim()),
        None => (String::new(), inner),
    };
    let f = location::find(rest, None)?;
    let outside = format!("{}{}", &rest[..f.span.0], &rest[f.span.1..]);
    let alone = outside
        .trim_matches(|c: char| c == '`' || c.is_whitespace())
        .is_empty();
    (alone && f.location.start_line.is_some()).then(|| format!("#### {marker}{}", f.location))
}

pub(super) fn rewrite(text: &str) -> String {
    let mut fence = false;
    text.lines()
        .map(|l| {
            if super::markers::is_fence(l) {
                fence = !fence;
            }
            match (fence, as_heading(l)) {
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
    fn location_blocks() {
        assert_eq!(rewrite("**app/x.py:31-33**"), "#### app/x.py:31-33");
        assert_eq!(rewrite("**`./src/a.ts:9`**"), "#### src/a.ts:9");
        assert_eq!(rewrite("**[high] db/m.sql:5**"), "#### [high] db/m.sql:5");
        assert_eq!(rewrite("**Title with words**"), "**Title with words**");
        assert_eq!(
            rewrite("**src/a.rs**"),
            "**src/a.rs**",
            "a file alone is a file heading"
        );
    }
}
