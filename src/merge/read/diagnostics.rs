//! Compiler and linter output pasted into a message, fenced or not:
//!
//! - rustc / clippy: `warning: msg` or `error[E0599]: msg`, then `--> path:line:col`,
//!   the source gutter (`42 |     code`, `   |     ^^^`), and `= note:` / `= help:`.
//! - errorformat lines as gcc, `go vet`, `cargo --message-format short` and reviewdog's
//!   `-efm` print them: `path:line[:col]: [error|warning|info|note:] message`.
//! - eslint's `stylish` formatter: a file path alone on a line, then rows
//!   `  line:col  error|warning  message  rule-id`.
//!
//! Each diagnostic becomes a list item `- [level] path:line — message`, with its notes
//! and rule as evidence. The gutter (which quotes the code at that line) is markup and
//! is dropped; a fence around diagnostics is dropped too, and every other line of it
//! (a summary such as `✖ 3 problems`) is kept as text.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location::PATH;
use super::super::severity::Severity;
use super::markers::is_fence;

static RUSTC_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<sev>error|warning)(?:\[(?P<code>[A-Za-z0-9_:]+)\])?:\s+(?P<msg>\S.*)$")
        .unwrap()
});
static RUSTC_ARROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^\s*-->\s*(?P<path>{PATH}):(?P<l>\d+)(?::\d+)?\s*$"
    ))
    .unwrap()
});
static GUTTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:\d+\s*)?\|.*$|^\s*\.\.\.\s*$").unwrap());
static RUSTC_NOTE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*=\s*(?P<kind>note|help):\s*(?P<msg>.*)$").unwrap());
static EFM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<path>{PATH}):(?P<l>\d+)(?::\d+)?:\s*(?:(?P<sev>error|warning|warn|info|note|hint)(?:\[[^\]]+\])?\s*:\s*)?(?P<msg>\S.*)$"
    ))
    .unwrap()
});
/// hadolint's tty lines: `Dockerfile:12 DL3002 warning: Last USER should not be root`.
static HADOLINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<path>{PATH}):(?P<l>\d+)\s+(?P<rule>[A-Z]{{2,}}\d+)\s+(?P<sev>error|warning|info|style)\s*:\s*(?P<msg>\S.*)$"
    ))
    .unwrap()
});
static ESLINT_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^\s*(?P<path>{PATH})\s*$")).unwrap());
static ESLINT_ROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+(?P<l>\d+):\d+\s+(?P<sev>error|warning)\s+(?P<msg>\S.*?)(?:\s{2,}(?P<rule>[@\w./-]+))?\s*$")
        .unwrap()
});

fn level(word: &str) -> Severity {
    Severity::from_label(word).unwrap_or(Severity::Medium)
}

fn item(
    sev: Option<Severity>,
    path: &str,
    line: &str,
    msg: &str,
    evidence: &[String],
) -> Vec<String> {
    let marker = sev.map_or(String::new(), |s| format!("[{s}] "));
    let mut out = vec![format!("- {marker}{path}:{line} — {}", msg.trim())];
    if !evidence.is_empty() {
        out.push(format!("  Evidence: {}", evidence.join(" ")));
    }
    out
}

/// The diagnostics among `lines` rewritten, other lines as they were. The count says
/// how many diagnostics were found.
fn rewrite_lines(lines: &[&str]) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut found = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        // rustc: the head, then the arrow within two lines.
        if let Some(h) = RUSTC_HEAD.captures(line)
            && let Some((k, a)) = (1..=2)
                .filter_map(|k| lines.get(i + k).map(|l| (k, l)))
                .find_map(|(k, l)| RUSTC_ARROW.captures(l).map(|a| (k, a)))
        {
            let mut evidence = Vec::new();
            if let Some(code) = h.name("code") {
                evidence.push(format!("{}[{}].", &h["sev"], code.as_str()));
            }
            let mut j = i + k + 1;
            while j < lines.len() {
                if let Some(n) = RUSTC_NOTE.captures(lines[j]) {
                    evidence.push(format!("{}: {}", &n["kind"], n["msg"].trim()));
                } else if !GUTTER.is_match(lines[j]) {
                    break;
                }
                j += 1;
            }
            out.extend(item(
                Some(level(&h["sev"])),
                &a["path"],
                &a["l"],
                &h["msg"],
                &evidence,
            ));
            found += 1;
            i = j;
            continue;
        }
        if let Some(c) = EFM.captures(line) {
            let sev = c.name("sev").map(|s| level(s.as_str()));
            out.extend(item(sev, &c["path"], &c["l"], &c["msg"], &[]));
            found += 1;
            i += 1;
            continue;
        }
        if let Some(c) = HADOLINT.captures(line) {
            // "style" is hadolint's lowest level, below info.
            let sev = match &c["sev"] {
                "style" => Severity::Low,
                w => level(w),
            };
            let rule = [format!("rule `{}`", &c["rule"])];
            out.extend(item(Some(sev), &c["path"], &c["l"], &c["msg"], &rule));
            found += 1;
            i += 1;
            continue;
        }
        // eslint stylish: a path alone, then its rows.
        if let Some(f) = ESLINT_FILE.captures(line)
            && lines.get(i + 1).is_some_and(|l| ESLINT_ROW.is_match(l))
        {
            let path = f["path"].to_string();
            let mut j = i + 1;
            while let Some(r) = lines.get(j).and_then(|l| ESLINT_ROW.captures(l)) {
                let evidence: Vec<String> = r
                    .name("rule")
                    .map(|rule| format!("rule `{}`", rule.as_str()))
                    .into_iter()
                    .collect();
                out.extend(item(
                    Some(level(&r["sev"])),
                    &path,
                    &r["l"],
                    &r["msg"],
                    &evidence,
                ));
                found += 1;
                j += 1;
            }
            i = j;
            continue;
        }
        out.push(line.to_string());
        i += 1;
    }
    (out, found)
}

pub(super) fn rewrite(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if is_fence(lines[i]) {
            let close = (i + 1..lines.len()).find(|&j| is_fence(lines[j]));
            let end = close.unwrap_or(lines.len());
            let (inner, found) = rewrite_lines(&lines[i + 1..end]);
            if found > 0 {
                out.push(String::new());
                out.extend(inner);
                out.push(String::new());
            } else {
                out.extend(
                    lines[i..close.map_or(end, |c| c + 1)]
                        .iter()
                        .map(|l| l.to_string()),
                );
            }
            i = close.map_or(end, |c| c + 1);
            continue;
        }
        let start = i;
        while i < lines.len() && !is_fence(lines[i]) {
            i += 1;
        }
        out.extend(rewrite_lines(&lines[start..i]).0);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustc_block() {
        let t = "```\nwarning: casting `u32` to `u16` may truncate the value\n  --> src/num.rs:30:17\n   |\n30 |     let p = v as u16;\n   |             ^^^^^^^^\n   |\n   = help: see cast_possible_truncation\n```\nDone.";
        assert_eq!(
            rewrite(t),
            "\n- [medium] src/num.rs:30 — casting `u32` to `u16` may truncate the value\n  Evidence: help: see cast_possible_truncation\n\nDone."
        );
    }

    #[test]
    fn hadolint_lines() {
        let out = rewrite(
            "Dockerfile:12 DL3002 warning: Last USER should not be root\nDockerfile:5 DL3009 info: Delete the apt-get lists",
        );
        assert!(
            out.starts_with("- [medium] Dockerfile:12 — Last USER should not be root"),
            "{out}"
        );
        assert!(
            out.contains("Dockerfile:5 — Delete the apt-get lists"),
            "{out}"
        );
        assert!(out.contains("rule `DL3009`"), "{out}");
    }

    #[test]
    fn errorformat_and_eslint() {
        assert_eq!(
            rewrite("src/a.rs:141: error: panics on `1 +`"),
            "- [high] src/a.rs:141 — panics on `1 +`"
        );
        let t = "/ci/app/src/S.tsx\n  14:7   warning  'x' is never used   no-unused-vars\n  48:40  error    'h' is not defined  no-undef\n\n✖ 2 problems";
        assert_eq!(
            rewrite(t),
            "- [medium] /ci/app/src/S.tsx:14 — 'x' is never used\n  Evidence: rule `no-unused-vars`\n- [high] /ci/app/src/S.tsx:48 — 'h' is not defined\n  Evidence: rule `no-undef`\n\n✖ 2 problems"
        );
    }

    #[test]
    fn other_lines_stay() {
        for t in [
            "error: something went wrong",
            "See src/a.rs for details",
            "```\nfn main() {}\n```",
        ] {
            assert_eq!(rewrite(t), t);
        }
    }
}
