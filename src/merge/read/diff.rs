//! Reviews written against a diff: the reviewer quotes a hunk (`@@ -30,7 +30,9 @@`,
//! fenced or bare, perhaps with the code as `>` lines) and comments below it. The file
//! is the one the diff names (`+++ b/path`, `diff --git a/x b/x`) or a line naming a
//! file alone before the hunk ("Review of `lib/retry.js`:"); the place is the line the
//! comment gives ("Line 31:", "(line 50)") or else the hunk's new range. Each comment
//! paragraph right after a hunk or its quoted code becomes `- path:line — comment`,
//! the quoted code its evidence (a bare `@@` line is markup once read). A paragraph
//! after a comment (a sign-off) is not one.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location::{self, PATH};
use super::markers::{find_severity, is_fence};

static HUNK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*@@ -\d+(?:,\d+)? \+(?P<s>\d+)(?:,(?P<n>\d+))? @@").unwrap());
static DIFF_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?:\+\+\+ b/|diff --git a/\S+ b/)(?P<path>{PATH})\s*$"
    ))
    .unwrap()
});
static LINE_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\W{0,4}\s*line\s+(?P<l>\d+)\s*:\s*|\(\s*line\s+(?P<p>\d+)\s*\)|\bline\s+(?P<b>\d+)\b").unwrap()
});

/// A short line naming one file and no line: the file of the hunks after it.
fn names_file(line: &str) -> Option<String> {
    if line.split_whitespace().count() > 8 {
        return None;
    }
    let f = location::find(line, None)?;
    (f.location.start_line.is_none() && !location::is_url(&f.location.path))
        .then_some(f.location.path)
}

enum Last {
    Other,
    Hunk,
    Comment,
}

pub(super) fn rewrite(text: &str) -> String {
    if !text.lines().any(|l| HUNK.is_match(l)) {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut file: Option<String> = None;
    let mut range: Option<(u32, u32)> = None;
    let mut code: Vec<String> = Vec::new();
    // The bare hunk header and quoted code since the last comment, as written: given
    // back as text when no comment takes them.
    let mut pending: Vec<String> = Vec::new();
    let mut last = Last::Other;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_fence(line) {
            out.append(&mut pending);
            // A fenced diff: read its file and hunk headers, keep it as it is.
            let end = (i + 1..lines.len())
                .find(|&j| is_fence(lines[j]))
                .unwrap_or(lines.len());
            let mut hunk = false;
            for l in &lines[i..end.min(lines.len())] {
                if let Some(f) = DIFF_FILE.captures(l) {
                    file = Some(f["path"].to_string());
                }
                if let Some(h) = HUNK.captures(l) {
                    range = Some(hunk_range(&h));
                    hunk = true;
                }
            }
            out.extend(
                lines[i..(end + 1).min(lines.len())]
                    .iter()
                    .map(|l| l.to_string()),
            );
            if hunk {
                last = Last::Hunk;
                code.clear();
            }
            i = end + 1;
            continue;
        }
        if let Some(f) = DIFF_FILE.captures(line) {
            file = Some(f["path"].to_string());
            out.push(line.to_string());
            i += 1;
            continue;
        }
        if let Some(h) = HUNK.captures(line) {
            out.append(&mut pending);
            pending.push(line.to_string());
            range = Some(hunk_range(&h));
            code.clear();
            last = Last::Hunk;
            i += 1;
            continue;
        }
        let t = line.trim_start();
        if matches!(last, Last::Hunk | Last::Comment) && t.starts_with('>') {
            pending.push(line.to_string());
            code.push(t.trim_start_matches('>').trim().to_string());
            last = Last::Hunk;
            i += 1;
            continue;
        }
        if line.trim().is_empty() {
            if pending.is_empty() {
                out.push(String::new());
            } else {
                pending.push(String::new());
            }
            i += 1;
            continue;
        }
        // A paragraph.
        let start = i;
        while i < lines.len()
            && !lines[i].trim().is_empty()
            && !HUNK.is_match(lines[i])
            && !is_fence(lines[i])
        {
            i += 1;
        }
        let para = lines[start..i].join(" ");
        match (&last, &file, range) {
            (Last::Hunk, Some(path), Some((s, e))) => {
                pending.clear();
                out.push(String::new());
                out.push(comment_item(&para, path, (s, e), &code));
                code.clear();
                last = Last::Comment;
            }
            _ => {
                out.append(&mut pending);
                if range.is_none()
                    && let Some(p) = names_file(&para)
                {
                    file = Some(p);
                }
                out.extend(lines[start..i].iter().map(|l| l.to_string()));
                last = Last::Other;
            }
        }
    }
    out.append(&mut pending);
    out.join("\n")
}

fn hunk_range(h: &regex::Captures<'_>) -> (u32, u32) {
    let s: u32 = h["s"].parse().unwrap_or(1);
    let n: u32 = h
        .name("n")
        .and_then(|n| n.as_str().parse().ok())
        .unwrap_or(1);
    (s, s + n.max(1) - 1)
}

fn comment_item(para: &str, path: &str, (s, e): (u32, u32), code: &[String]) -> String {
    let (marker, text) = match find_severity(para) {
        Some((_, _, (0, end))) => (format!("{} ", para[..end].trim()), para[end..].trim()),
        _ => (String::new(), para.trim()),
    };
    let (place, text) = match LINE_REF.captures(text) {
        Some(c) => {
            let n = c
                .name("l")
                .or(c.name("p"))
                .or(c.name("b"))
                .unwrap()
                .as_str();
            let m = c.get(0).unwrap();
            // A leading "Line 31:" or a trailing "(line 50)" is cut; a line in the sentence stays.
            let text = if c.name("b").is_some() {
                text.to_string()
            } else {
                format!("{}{}", &text[..m.start()], &text[m.end()..])
                    .trim()
                    .to_string()
            };
            (format!("{path}:{n}"), text)
        }
        None if s == e => (format!("{path}:{s}"), text.to_string()),
        None => (format!("{path}:{s}-{e}"), text.to_string()),
    };
    let mut item = format!("- {marker}{place} — {text}");
    if !code.is_empty() {
        item.push_str(&format!("\n  Evidence: `{}`", code.join(" ")));
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_after_hunks() {
        let t = "lib/retry.js\n\n@@ -30,7 +30,9 @@\n> for (;;) {\n\nOff-by-one: four calls.\n\nThanks!\n\n@@ -44,6 +46,7 @@\n\nErrors are retried too. (line 50)";
        assert_eq!(
            rewrite(t),
            "lib/retry.js\n\n\n- lib/retry.js:30-38 — Off-by-one: four calls.\n  Evidence: `for (;;) {`\n\nThanks!\n\n\n- lib/retry.js:50 — Errors are retried too."
        );
    }

    #[test]
    fn a_hunk_nobody_comments_on_stays_as_text() {
        let t = "a.js\n\n@@ -1,3 +1,4 @@\n> cache socket";
        assert_eq!(rewrite(t), t);
    }

    #[test]
    fn fenced_hunk_then_line_comment() {
        let t = "Review of `lib/r.js`:\n\n```diff\n@@ -30,7 +30,9 @@ fn\n-a\n+b\n```\n\n⚠️ Line 31: `<=` is one too many.";
        assert!(
            rewrite(t).ends_with("- ⚠️ lib/r.js:31 — `<=` is one too many."),
            "{}",
            rewrite(t)
        );
    }
}
