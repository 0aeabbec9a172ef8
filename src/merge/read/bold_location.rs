//! Blocks that open with a location alone on a line — `**app/x.py:31-33**`,
//! ``**`./src/a.ts:9`**``, `` `src/a.rs` lines 88-95 `` — as CodeRabbit, Gemini and
//! many hand-written reviews put them. Each becomes a heading, so the block below it
//! (a bold title, a label line, the explanation) is the finding's body. A line that
//! opens with a location and goes on with a claim (`` `pkg/ttl.go#L30-L32`: TTL logic is
//! reversed ``, `**a.py:3** — claim`) becomes a list item `- location — claim`.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location;

static BOLD_ONLY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}\*\*(?P<inner>[^*]+?)\*\*\s*:?\s*$").unwrap());
/// `**lib/a.rb** line 15`, `` `src/a.rs` lines 88-95 ``: a bold or quoted path, then lines.
static PATH_THEN_LINES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s{0,3}(?:\*\*|__)?`?(?P<path>[^`*\s]+)`?(?:\*\*|__)?,?\s+(?P<lines>(?:lines?|L)\s*\d+(?:\s*(?:-|–|—|to)\s*L?\d+)?)\s*:?\s*$").unwrap()
});
/// A location at the very start of a line, then `:` or a dash and the claim.
static LEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s{0,3}(?P<loc>(?:\*\*|__)?`[^`]+`(?:\*\*|__)?|\*\*[^*]+\*\*)\s*(?::|—|–|\s-)\s*(?P<rest>\S.*)$").unwrap()
});

/// The rewritten line when `line` is a location standing alone (a severity marker such
/// as `[high]` may precede it).
fn as_heading(line: &str) -> Option<String> {
    if let Some(c) = PATH_THEN_LINES.captures(line) {
        let f = location::find(&format!("{} {}", &c["path"], &c["lines"]), None)?;
        return f
            .location
            .start_line
            .is_some()
            .then(|| format!("#### {}", f.location));
    }
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

/// `` `path:line`: claim `` as a list item.
fn as_item(line: &str) -> Option<String> {
    let c = LEADING.captures(line)?;
    let loc = c["loc"].replace("**", "").replace("__", "");
    let loc = loc.trim().trim_matches('`');
    let f = location::find(loc, None)?;
    let whole = f.span == (0, loc.len());
    (whole && f.location.start_line.is_some() && !location::is_url(&f.location.path))
        .then(|| format!("- {} — {}", f.location, c["rest"].trim()))
}

pub(super) fn rewrite(text: &str) -> String {
    let mut fence = false;
    text.lines()
        .map(|l| {
            if super::markers::is_fence(l) {
                fence = !fence;
            }
            if fence {
                return l.to_string();
            }
            as_heading(l)
                .or_else(|| as_item(l))
                .unwrap_or_else(|| l.to_string())
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
        assert_eq!(rewrite("**lib/t.rb** line 15"), "#### lib/t.rb:15");
        assert_eq!(rewrite("`src/a.rs` lines 88-95:"), "#### src/a.rs:88-95");
        assert_eq!(
            rewrite("`pkg/ttl.go#L30-L32`: TTL logic is reversed."),
            "- pkg/ttl.go:30-32 — TTL logic is reversed."
        );
        assert_eq!(rewrite("`x` is fine: no change"), "`x` is fine: no change");
        assert_eq!(
            rewrite("**src/a.rs**"),
            "**src/a.rs**",
            "a file alone is a file heading"
        );
    }
}
