//! Terse per-line notes under a line that names their file, as people jot them:
//!
//! ```text
//! src/app.ts                       **src/app.ts**            Dockerfile review:
//! L14: nit: rename x               line 27 — missing await   2. Line 8: token baked in
//!   27  text of the note
//! ```
//!
//! The file line is a path alone (bare, bold or quoted, with an optional `:`) or a short
//! intro that names one file and ends with `:` ("Dockerfile review:", "In `a.ts`:").
//! Under it, each line led by `L14`, `line 27`, `Line 5-7` (then `:` or a dash) or a
//! row of a line number, two spaces and text becomes a list item `- path:14 — text`
//! (a list marker as written is kept). The file holds until the next file line, a
//! heading or a fence; a line that names no line number leaves it alone.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location;

/// A path alone on its line: `src/app.ts`, `**src/app.ts**`, `` `src/app.ts`: ``.
static FILE_ALONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s{0,3}(?:\*\*|__)?`?(?P<path>[^\s`*_][^\s`*]*)`?(?:\*\*|__)?\s*:?\s*$").unwrap()
});
/// `L14: …`, `line 27 — …`, `2. Line 5-7: …`.
static LINE_NOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<lead>\s*(?:[-*+]|\d+[.)])\s+)?\s*(?:L|(?i:lines?)\s+)(?P<s>\d+)(?:\s*(?:-|–|—|to)\s*L?(?P<e>\d+))?\s*(?::|—|–|\s-)\s*(?P<rest>\S.*)$").unwrap()
});
/// `  27  text`: an indented line number, two spaces or `:`, then text.
static ROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+(?P<s>\d+)(?:-(?P<e>\d+))?(?:\s{2,}|:\s+)(?P<rest>\S.*)$").unwrap()
});

/// The file a line names when it stands for the file of the lines below it.
fn file_of(line: &str) -> Option<String> {
    let whole = |text: &str| {
        let f = location::find(text, None)?;
        (f.location.start_line.is_none() && !location::is_url(&f.location.path))
            .then_some((f.location.path, f.span))
    };
    if let Some(c) = FILE_ALONE.captures(line) {
        let path = &c["path"];
        let path = path.strip_suffix(':').unwrap_or(path);
        if let Some((p, span)) = whole(path)
            && span == (0, path.len())
        {
            return Some(p);
        }
    }
    // "Dockerfile review:", "In `src/a.ts`:" — a short intro ending with a colon.
    let t = line.trim();
    let intro = t.strip_suffix(':')?;
    if intro.split_whitespace().count() > 6 || intro.starts_with(['#', '-', '*', '>', '|']) {
        return None;
    }
    whole(intro).map(|(p, _)| p)
}

fn range(s: &str, e: Option<regex::Match<'_>>) -> String {
    match e {
        Some(e) if e.as_str() != s => format!("{s}-{}", e.as_str()),
        _ => s.to_string(),
    }
}

pub(super) fn rewrite(text: &str) -> String {
    let mut fence = false;
    let mut file: Option<String> = None;
    let mut out: Vec<String> = Vec::new();
    for l in text.lines() {
        if super::markers::is_fence(l) {
            fence = !fence;
            file = None;
        }
        if fence || l.trim_start().starts_with('#') {
            if !fence {
                file = None;
            }
            out.push(l.to_string());
            continue;
        }
        if let Some(f) = file_of(l) {
            file = Some(f);
            out.push(l.to_string());
            continue;
        }
        let Some(path) = &file else {
            out.push(l.to_string());
            continue;
        };
        let note = if let Some(c) = LINE_NOTE.captures(l) {
            let lead = c.name("lead").map_or("-", |m| m.as_str().trim());
            Some(format!(
                "{lead} {path}:{} — {}",
                range(&c["s"], c.name("e")),
                c["rest"].trim()
            ))
        } else {
            ROW.captures(l).map(|c| {
                format!(
                    "- {path}:{} — {}",
                    range(&c["s"], c.name("e")),
                    c["rest"].trim()
                )
            })
        };
        match note {
            Some(n) => out.push(n),
            None => out.push(l.to_string()),
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_under_a_file_line_take_its_file() {
        assert_eq!(
            rewrite("src/app.ts\nL14: nit: rename x\nline 27 — missing await"),
            "src/app.ts\n- src/app.ts:14 — nit: rename x\n- src/app.ts:27 — missing await"
        );
        assert_eq!(
            rewrite("**src/app.ts**\n\nLine 5-7: dead code"),
            "**src/app.ts**\n\n- src/app.ts:5-7 — dead code"
        );
        assert_eq!(
            rewrite("scripts/a.py\n  27  glob is relative to cwd\n  35  leaks an fd"),
            "scripts/a.py\n- scripts/a.py:27 — glob is relative to cwd\n- scripts/a.py:35 — leaks an fd"
        );
    }

    #[test]
    fn an_intro_that_names_the_file() {
        assert_eq!(
            rewrite(
                "Dockerfile review:\n\n1. `FROM x` (line 1) — unpinned\n2. Line 8: token in layer"
            ),
            "Dockerfile review:\n\n1. `FROM x` (line 1) — unpinned\n2. Dockerfile:8 — token in layer"
        );
        assert_eq!(
            rewrite("In `src/a.ts`:\n- L3: unused import"),
            "In `src/a.ts`:\n- src/a.ts:3 — unused import"
        );
    }

    #[test]
    fn without_a_file_nothing_changes() {
        let text = "LGTM mod a few nits.\n\nL14: nit: one import per line\n  27  a row";
        assert_eq!(rewrite(text), text);
        // A heading or a fence ends the file; code rows are not notes.
        let text = "src/a.ts\n## Other\nL3: x\n```\n  27  code\n```";
        assert_eq!(rewrite(text), text);
        // A sentence ending with a colon is no file line.
        let text = "I looked at every file in this change and found these:\nL3: x";
        assert_eq!(rewrite(text), text);
    }
}
