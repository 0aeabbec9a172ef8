//! Review threads as code-review systems print, mail or export them:
//!
//! - GitHub alert blocks: `> [!WARNING]` then `> **path:line** — claim` (a finding at
//!   that level: CAUTION/IMPORTANT high, WARNING medium, NOTE/TIP info).
//! - A quoted comment under a location: `> **lib/a.rb** line 15` then `> comment`, or a
//!   thread header that names the place — GitLab's "**@dana** started a thread on the
//!   diff — `path`, line 23:", "Thread on path L23 (unresolved)" — followed by the
//!   quoted body. The quote is unwrapped and the header becomes a location heading.
//! - Gerrit's review mail: `File path:`, the change URL ending `path@61`, then
//!   `PS3, Line 61: <code>` and the comment. The URL and the quoted code line are
//!   markup (the code is at that line) and are dropped.
//!
//! Everything else is left as it was for the readers after this one.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location::{self, PATH};
use super::super::severity::Severity;
use super::markers::is_fence;

static ALERT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*>\s*\[!(?P<kind>warning|caution|important|note|tip)\]\s*$").unwrap()
});
static THREAD_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:\*\*@?[\w.-]+\*\*\s+|@[\w.-]+\s+)?(?:started\s+a\s+(?:thread|discussion|review)|commented\s+on|thread\s+on|comment\s+on|review\s+comment\s+on)\b",
    )
    .unwrap()
});
/// `**@dana** commented:` — a new comment with no place: it ends the one before.
static COMMENT_BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:\*\*@?[\w.-]+\*\*|@[\w.-]+)\s+(?:commented|replied|wrote|said|approved|requested changes)\b[^`]*$").unwrap()
});
static GERRIT_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^File\s+(?P<path>{PATH}):\s*$")).unwrap());
static GERRIT_PS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^PS\d+,\s+Lines?\s+(?P<l>\d+(?:-\d+)?):").unwrap());
static GERRIT_URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*https?://\S+@\d+\s*$").unwrap());

fn unquote(l: &str) -> String {
    let t = l.trim_start();
    let t = t.strip_prefix('>').unwrap_or(t);
    t.strip_prefix(' ').unwrap_or(t).to_string()
}

fn is_quote(l: &str) -> bool {
    l.trim_start().starts_with('>')
}

/// The quoted block starting at `i`: its end (exclusive).
fn quote_end(lines: &[&str], i: usize) -> usize {
    let mut j = i;
    while j < lines.len() && is_quote(lines[j]) {
        j += 1;
    }
    j
}

/// A line that is a location and nothing else once markup is gone.
fn location_alone(line: &str) -> bool {
    let t = line.replace("**", "").replace("__", "");
    let t = t.trim().trim_end_matches(':').trim();
    location::find(t, None).is_some_and(|f| {
        let rest = format!("{}{}", &t[..f.span.0], &t[f.span.1..]);
        f.location.start_line.is_some()
            && rest
                .trim_matches(|c: char| c == '`' || c.is_whitespace())
                .is_empty()
    })
}

pub(super) fn rewrite(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut fence = false;
    let mut gerrit_file: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_fence(line) {
            fence = !fence;
        }
        if fence {
            out.push(line.to_string());
            i += 1;
            continue;
        }
        // GitHub alert: the level, then the quoted finding.
        if let Some(a) = ALERT.captures(line) {
            let end = quote_end(&lines, i + 1);
            let body: Vec<String> = lines[i + 1..end].iter().map(|l| unquote(l)).collect();
            if let Some(first) = body.iter().position(|l| !l.trim().is_empty()) {
                let sev = Severity::from_label(&a["kind"]).unwrap_or(Severity::Medium);
                out.push(format!("- [{sev}] {}", body[first].trim()));
                out.extend(body[first + 1..].iter().map(|l| format!("  {l}")));
                i = end;
                continue;
            }
        }
        // A thread header naming a place, or a quote that opens with one.
        let header = THREAD_HEAD.is_match(line)
            && location::find(line, None).is_some_and(|f| f.location.start_line.is_some());
        if header {
            let f = location::find(line, None).unwrap();
            out.push(format!("#### {}", f.location));
            i += 1;
            // The quoted body under it (after blank lines, if any).
            let mut j = i;
            while j < lines.len() && lines[j].trim().is_empty() {
                j += 1;
            }
            if j < lines.len() && is_quote(lines[j]) {
                let end = quote_end(&lines, j);
                out.push(String::new());
                out.extend(lines[j..end].iter().map(|l| unquote(l)));
                i = end;
            }
            continue;
        }
        if COMMENT_BY.is_match(line) && location::find(line, None).is_none() {
            out.push(format!("### {}", line.trim().replace("**", "")));
            i += 1;
            continue;
        }
        if is_quote(line) && location_alone(&unquote(line)) {
            let end = quote_end(&lines, i);
            out.extend(lines[i..end].iter().map(|l| unquote(l)));
            out.push(String::new());
            i = end;
            continue;
        }
        // Gerrit mail.
        if let Some(g) = GERRIT_FILE.captures(line) {
            gerrit_file = Some(g["path"].to_string());
            out.push(format!("### {}", &g["path"]));
            i += 1;
            continue;
        }
        if let Some(file) = &gerrit_file {
            if GERRIT_URL.is_match(line) && lines.get(i + 1).is_some_and(|l| GERRIT_PS.is_match(l))
            {
                i += 1;
                continue;
            }
            if let Some(p) = GERRIT_PS.captures(line) {
                out.push(format!("#### {file}:{}", &p["l"]));
                i += 1;
                continue;
            }
        }
        out.push(line.to_string());
        i += 1;
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_and_quoted_comments() {
        assert_eq!(
            rewrite("> [!CAUTION]\n> **a/ttl.go:31** — the comparison is backwards."),
            "- [high] **a/ttl.go:31** — the comparison is backwards."
        );
        assert_eq!(
            rewrite("> **lib/t.rb** line 15\n> not constant-time\n\nRequested changes."),
            "**lib/t.rb** line 15\nnot constant-time\n\n\nRequested changes."
        );
        assert_eq!(
            rewrite(
                "**@dana** started a thread on the diff — `app/i.rb`, line 23:\n\n> uses `Float`"
            ),
            "#### app/i.rb:23\n\nuses `Float`"
        );
        assert_eq!(
            rewrite("Thread on app/i.rb L41 (unresolved)\nMail goes out"),
            "#### app/i.rb:41\nMail goes out"
        );
        assert_eq!(
            rewrite("> just a quote of src/a.rs:3 in a sentence"),
            "> just a quote of src/a.rs:3 in a sentence"
        );
    }

    #[test]
    fn gerrit_mail() {
        let t = "File pkg/w.go:\n\nhttps://r.example/c/q/+/1/3/pkg/w.go@61\nPS3, Line 61: \tmsg.Ack()\nAcked too early.";
        assert_eq!(
            rewrite(t),
            "### pkg/w.go\n\n#### pkg/w.go:61\nAcked too early."
        );
    }
}
