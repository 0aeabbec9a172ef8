//! Markup of review bots, rewritten into plain headings and key lines:
//!
//! - HTML containers (`<details>`, `<blockquote>`, `<sub>`) are markup, not text. A
//!   `<summary>` naming a file (CodeRabbit's `app/x.py (2)`) becomes a file heading; any
//!   other summary (`🧹 Nitpick comments (2)`) a section heading.
//! - CodeRabbit's range lines under a file summary, `` `14-16`: **Title.** ``, become
//!   a heading per finding `#### path:14-16 — Title.`; its label line
//!   `_⚠️ Potential issue_ | _🔴 Critical_` becomes `Severity: critical`. When the label
//!   stands on the range line (`` `55-60`: _⚠️ Potential issue_ | _🟠 Major_ ``), the
//!   bold line after it is the title. "In `path`:" above inline comments names their
//!   file, as a summary does.
//! - Gemini Code Assist's badge image (`![high](…/high-priority.svg)`) becomes a
//!   severity for the block that follows.
//! - codex's GitHub review comments: the badge title
//!   `**<sub><sub>![P1 Badge](…)</sub></sub> Title**` becomes `#### [P1] Title`, with the
//!   `` `path` lines 88-95 `` line before it as its location; "Useful? React with 👍 / 👎."
//!   is dropped.
//! - Sourcery's comment blocks (`<location>`, `<code_context>`, `<issue_to_address>` with
//!   `**issue (bug_risk):** …`) become `#### [label] path:line — claim` with the code as
//!   a fenced body.
//!
//! - PR review threads pasted as text (`Copilot · review thread · date`, `path:line`,
//!   the quoted ` ```diff ` hunk, `**Copilot**:`, the comment) become a heading
//!   `#### path:line` over the comment; the hunk is dropped.
//!
//! Which words these labels map to is in [`Severity::from_label`].

use std::sync::LazyLock;

use regex::Regex;

use super::super::location;
use super::super::severity::Severity;

static SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*<summary>\s*(.*?)\s*</summary>").unwrap());
static TAGS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</?(?:details|blockquote|sub|summary|b|br|p)\s*/?>").unwrap()
});
static RANGE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*`(\d+)(?:\s*-\s*(\d+))?`\s*:\s*(?:\*\*(.*?)\*\*)?\s*(.*)$").unwrap()
});
static RABBIT_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*_([^_|]+)_(?:\s*\|\s*_([^_|]+)_)?\s*$").unwrap());
/// `Copilot · review thread · 2026-03-02`: the head of an exported PR review thread.
static THREAD_HEAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\S.*?\s+·\s+review thread(?:\s+·\s+.*)?\s*$").unwrap());
/// `**Copilot**:` above the comment of an exported thread.
static THREAD_AUTHOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\*\*[^*]+\*\*:\s*$").unwrap());
/// "In `src/jobs/worker.ts`:" above CodeRabbit's inline comments on that file.
static RABBIT_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^In\s+`@?([^`\s]+)`\s*:\s*$").unwrap());
static GEMINI_BADGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*!\[(critical|high|medium|low)[^\]]*\]\(https?://[^)]*codereviewagent[^)]*\)\s*$",
    )
    .unwrap()
});
static CODEX_BADGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\*\*(?:<sub>)*!\[(P[0-3]) Badge\]\([^)]*\)(?:</sub>)*\s*(.*?)\*\*\s*$")
        .unwrap()
});
static USEFUL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*Useful\? React with 👍").unwrap());
static SOURCERY_LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*<location>\s*(.*?)\s*</location>\s*$").unwrap());
static SOURCERY_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\*\*\s*(?:🚨\s*)?([a-z]+)(?:\s*\(([^)]*)\))?\s*:\s*\*\*\s*(.*)$").unwrap()
});

/// The severity word a CodeRabbit label pair gives (`Critical` in `Potential issue |
/// 🔴 Critical`), from the right-hand part first.
fn rabbit_severity(a: &str, b: Option<&str>) -> Option<String> {
    let word = |s: &str| {
        let w: String = s
            .chars()
            .filter(|c| c.is_alphanumeric() || c.is_whitespace())
            .collect();
        let w = w.trim().to_string();
        Severity::from_label(&w).map(|_| w)
    };
    b.and_then(word).or_else(|| word(a))
}

pub(super) fn rewrite(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut file: Option<String> = None;
    let mut pending_severity: Option<String> = None;
    let mut sourcery_location: Option<String> = None;
    let mut code: Option<Vec<String>> = None;
    let mut issue_code: Vec<String> = Vec::new();
    let mut in_issue = false;
    let mut last_location_line: Option<usize> = None;
    // A range line whose title is on the next line (`` `55-60`: _⚠️ Potential issue_ |
    // _🟠 Major_ `` then `**Title.**`): its heading and severity, waiting for the title.
    let mut untitled: Option<(String, String)> = None;
    // An exported review thread (`coderabbitai[bot] · review thread · date`, then
    // `path:line`, the quoted hunk, `**author**:` and the comment): `Some(None)` after
    // its head, `Some(Some(place))` once the place is read, until the author's line.
    let mut thread: Option<Option<String>> = None;
    let mut in_hunk = false;

    for line in text.lines() {
        if THREAD_HEAD.is_match(line) {
            thread = Some(None);
            continue;
        }
        if let Some(place) = thread.as_mut() {
            let t = line.trim();
            match place {
                None if t.is_empty() => continue,
                None => {
                    if let Some(f) = location::find(t, None)
                        && f.span == (0, t.len())
                        && f.location.start_line.is_some()
                    {
                        *place = Some(f.location.to_string());
                        continue;
                    }
                    thread = None;
                }
                Some(loc) => {
                    // The quoted hunk is dropped: the code is in the tree.
                    if t.starts_with("```") {
                        in_hunk = !in_hunk;
                        continue;
                    }
                    if in_hunk || t.is_empty() {
                        continue;
                    }
                    out.push(format!("#### {loc}"));
                    thread = None;
                    if THREAD_AUTHOR.is_match(t) {
                        continue;
                    }
                    // No author line: the comment starts here.
                }
            }
        }
        if let Some(buf) = code.as_mut() {
            if line.trim().eq_ignore_ascii_case("</code_context>") {
                issue_code = std::mem::take(buf);
                code = None;
            } else {
                buf.push(line.to_string());
            }
            continue;
        }
        let t = line.trim();
        if !t.is_empty()
            && let Some((head, word)) = untitled.take()
        {
            let title = t
                .strip_prefix("**")
                .and_then(|x| x.strip_suffix("**"))
                .unwrap_or(t);
            out.push(format!("{head} {title}"));
            out.push(format!("Severity: {word}"));
            continue;
        }
        if let Some(c) = RABBIT_FILE.captures(t)
            && let Some(f) = location::find(&c[1], None)
        {
            file = Some(f.location.path.clone());
            out.push(format!("### {}", f.location.path));
            continue;
        }
        if t.eq_ignore_ascii_case("<code_context>") {
            code = Some(Vec::new());
            continue;
        }
        if let Some(c) = SOURCERY_LOCATION.captures(line) {
            sourcery_location = Some(c[1].trim_matches('`').to_string());
            continue;
        }
        if t.eq_ignore_ascii_case("<issue_to_address>") {
            in_issue = true;
            continue;
        }
        if t.eq_ignore_ascii_case("</issue_to_address>") {
            if !issue_code.is_empty() {
                out.push("```".into());
                out.append(&mut issue_code);
                out.push("```".into());
            }
            in_issue = false;
            sourcery_location = None;
            continue;
        }
        if in_issue && let Some(c) = SOURCERY_LABEL.captures(line) {
            let label = c[1].to_string();
            let loc = sourcery_location.clone().unwrap_or_default();
            out.push(format!("#### [{label}] {loc} — {}", c[3].trim()));
            continue;
        }
        if let Some(c) = SUMMARY.captures(line) {
            let title = c[1].trim();
            if let Some(f) = location::find(title, None)
                && f.location.path.contains(['/', '.'])
            {
                file = Some(f.location.path.clone());
                out.push(format!("### {}", f.location.path));
            } else {
                // A counted section (`🧹 Nitpick comments (2)`) ends the file's comments;
                // a detail of one comment (`🤖 Prompt for AI Agents`) does not.
                if title.trim_end().ends_with(')') {
                    file = None;
                }
                let words: String = title
                    .chars()
                    .filter(|c| c.is_alphabetic() || c.is_whitespace())
                    .collect();
                out.push(format!("## {}", words.trim()));
            }
            continue;
        }
        if let (Some(path), Some(c)) = (file.as_ref(), RANGE_LINE.captures(line)) {
            let range = match c.get(2) {
                Some(e) => format!("{}-{}", &c[1], e.as_str()),
                None => c[1].to_string(),
            };
            let title = c.get(3).map_or("", |m| m.as_str());
            let rest = c.get(4).map_or("", |m| m.as_str());
            if title.is_empty()
                && let Some(l) = RABBIT_LABEL.captures(rest)
                && let Some(word) = rabbit_severity(&l[1], l.get(2).map(|m| m.as_str()))
            {
                untitled = Some((format!("#### {path}:{range} —"), word));
                continue;
            }
            out.push(
                format!("#### {path}:{range} — {title} {rest}")
                    .trim_end()
                    .to_string(),
            );
            continue;
        }
        if let Some(c) = RABBIT_LABEL.captures(line)
            && let Some(word) = rabbit_severity(&c[1], c.get(2).map(|m| m.as_str()))
        {
            out.push(format!("Severity: {word}"));
            continue;
        }
        if let Some(c) = GEMINI_BADGE.captures(line) {
            pending_severity = Some(c[1].to_lowercase());
            continue;
        }
        if let Some(c) = CODEX_BADGE.captures(line) {
            let title = c[2].trim();
            // The location line codex puts above the comment, if there is one.
            let loc = last_location_line.take().map(|i| out.remove(i));
            let loc = loc.map(|l| format!(" {} —", l.trim())).unwrap_or_default();
            out.push(format!("#### [{}]{loc} {title}", &c[1]));
            continue;
        }
        if USEFUL.is_match(line) {
            continue;
        }
        if t.is_empty() {
            out.push(String::new());
            continue;
        }
        let stripped = TAGS.replace_all(line, "").to_string();
        if stripped.trim().is_empty() {
            continue;
        }
        if let Some(sev) = pending_severity.take() {
            if stripped.trim_start().starts_with("**") {
                // A bold location block follows the badge: give it the severity.
                out.push(format!(
                    "**[{sev}] {}",
                    stripped.trim_start().trim_start_matches("**")
                ));
                continue;
            }
            out.push(format!("Severity: {sev}"));
        }
        last_location_line = is_location_line(&stripped).then_some(out.len());
        out.push(stripped);
    }
    out.join("\n")
}

/// `` `src/a.rs` lines 88-95 `` alone on a line, as codex writes above a comment.
fn is_location_line(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('`')
        && location::find(t, None).is_some_and(|f| {
            f.location.start_line.is_some() && f.span.0 == 0 && t[f.span.1..].trim().is_empty()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coderabbit_nitpicks_become_headings() {
        let t = "<details>\n<summary>🧹 Nitpick comments (1)</summary><blockquote>\n\n<details>\n<summary>src/a.rs (1)</summary><blockquote>\n\n`14-16`: **Name the constant.**\n\nBody.\n\n</blockquote></details>\n";
        let r = rewrite(t);
        assert!(r.contains("## Nitpick comments\n"), "{r}");
        assert!(r.contains("### src/a.rs\n"), "{r}");
        assert!(
            r.contains("#### src/a.rs:14-16 — Name the constant."),
            "{r}"
        );
        assert!(!r.contains("<details>"), "{r}");
    }

    #[test]
    fn coderabbit_label_and_gemini_badge_give_severity() {
        assert_eq!(
            rewrite("_⚠️ Potential issue_ | _🔴 Critical_"),
            "Severity: Critical"
        );
        let g = rewrite(
            "![high](https://www.gstatic.com/codereviewagent/high-priority.svg)\n\n**a.py:5**\n",
        );
        assert_eq!(g.trim(), "**[high] a.py:5**");
    }

    #[test]
    fn coderabbit_label_on_the_range_line_takes_the_next_bold_title() {
        let out = rewrite(
            "In `src/jobs/export.ts`:\n\n`55-60`: _⚠️ Potential issue_ | _🟠 Major_\n\n**Temp file is not removed on failure.**\n\nBody.",
        );
        assert!(out.contains("### src/jobs/export.ts"), "{out}");
        assert!(
            out.contains(
                "#### src/jobs/export.ts:55-60 — Temp file is not removed on failure.\nSeverity: Major"
            ),
            "{out}"
        );
        assert!(out.ends_with("Body."), "{out}");
        // A comment's detail block does not end the file's comments; a counted section
        // does.
        let out = rewrite(
            "<summary>src/a.ts (2)</summary>\n`1-2`: **One.**\n<summary>🤖 Prompt for AI Agents</summary>\n`5-6`: **Two.**\n<summary>🧹 Nitpick comments (1)</summary>\n`9-9`: **Three.**",
        );
        assert!(out.contains("#### src/a.ts:5-6 — Two."), "{out}");
        assert!(!out.contains("src/a.ts:9"), "{out}");
    }

    #[test]
    fn exported_review_threads_become_a_heading_per_comment() {
        let out = rewrite(
            "Copilot · review thread · 2026-03-02\napp/x.py:88\n```diff\n+    rows = q(f\"{id}\")\n```\n**Copilot**:\nThe id is interpolated into the SQL string.\n\ngemini-code-assist[bot] · review thread\nDockerfile:1\n**gemini-code-assist[bot]**:\n![high](https://www.gstatic.com/codereviewagent/high-priority.svg)\n\nPin the base image.",
        );
        assert!(
            out.contains("#### app/x.py:88\nThe id is interpolated"),
            "{out}"
        );
        assert!(!out.contains("rows = q"), "{out}");
        assert!(out.contains("#### Dockerfile:1\n"), "{out}");
        assert!(out.contains("Severity: high"), "{out}");
        assert!(!out.contains("review thread"), "{out}");
        // Without an author line the comment is kept.
        let out = rewrite("Copilot · review thread\napp/x.py:88\nThe id is interpolated.\n\nMore.");
        assert!(
            out.contains("#### app/x.py:88\nThe id is interpolated.\n\nMore."),
            "{out}"
        );
    }

    #[test]
    fn codex_badge_takes_the_location_line_above() {
        let r = rewrite(
            "`src/a.rs` lines 8-9\n\n**<sub><sub>![P1 Badge](https://img.shields.io/badge/P1-orange?style=flat)</sub></sub>  Evict first**\n\nBody.\n\nUseful? React with 👍 / 👎.\n",
        );
        assert!(
            r.contains("#### [P1] `src/a.rs` lines 8-9 — Evict first"),
            "{r}"
        );
        assert!(!r.contains("Useful?"), "{r}");
    }

    #[test]
    fn sourcery_comment_blocks() {
        let r = rewrite(
            "### Comment 1\n<location> `a.sh:14` </location>\n<code_context>\nrm -rf x\n</code_context>\n\n<issue_to_address>\n**issue (bug_risk):** Guard it.\n\nMore.\n</issue_to_address>\n",
        );
        assert!(r.contains("#### [issue] a.sh:14 — Guard it."), "{r}");
        assert!(r.contains("```\nrm -rf x\n```"), "{r}");
    }
}
