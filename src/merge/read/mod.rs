//! Findings out of a worker's final message.
//!
//! A message is read by small readers, each for one family of formats, in this order:
//!
//! 1. [`json`]: the whole message, or a fenced block, is JSON — orch's findings schema
//!    (`share/schemas/findings.schema.json`), codex's review output (`priority` 0–3,
//!    `code_location` with `absolute_file_path` and `line_range`), SARIF, reviewdog's
//!    rdjson and rdjsonl, SonarQube issues, Code Climate / GitLab Code Quality, a GitHub
//!    review-comment export, or a bare array.
//! 2. Rewriters, each of which recognises one family and rewrites its blocks into the
//!    heading-per-finding or list shape the structural reader reads, leaving every other
//!    line as it was, in this order:
//!    [`footnotes`] (`[^1]` references take their `[^1]: url` targets),
//!    [`bots`] (HTML markup and severity badges of CodeRabbit, Gemini Code Assist,
//!    Sourcery, and codex's GitHub review comments),
//!    [`diagnostics`] (rustc/clippy blocks, errorformat lines, eslint's stylish output),
//!    [`threads`] (GitHub alert blocks and quoted comments, GitLab thread headers,
//!    Gerrit mail), [`diff`] (comments under quoted `@@` hunks),
//!    [`file_lines`] (`L14: nit`, `line 27 — …`, `  27  text` under a line naming the
//!    file, or under an intro such as "Dockerfile review:"),
//!    [`bold_location`] (`**path:line**` blocks, `` `path` lines 10-12 ``, lines led by
//!    a location), [`conventional`] (`issue (blocking): …`),
//!    [`label_line`] (`**Critical:** path — claim`, `High: path:line — claim`),
//!    [`table`], [`suggestion`] (a ` ```suggestion ` block is the fix of the item above).
//! 3. [`markdown`]: list items and headings per finding, with orch's own template,
//!    key-line items and free-form items read by [`template`]; section and emoji
//!    headings (`## 🔴 Blockers`, `### 💡 Codex Review`) are containers ([`heading`]).
//! 4. [`prose`]: paragraphs left over that name a place in the code (`file.go:57`,
//!    `` `file.go` line 57 ``), and defect sentences after them.
//!
//! Whatever no reader reads is the worker's unparsed text ([`Parsed::note`]); the merge
//! shows it as "unparsed text from W2 (n lines)". Nothing is dropped silently except
//! markup (HTML tags, badge images, a bot's "Useful? React with 👍 / 👎." line, a
//! compiler's source gutter, Gerrit's comment URL and quoted code line, a bare `@@` hunk
//! header once read).

mod bold_location;
mod bots;
mod conventional;
mod diagnostics;
mod diff;
mod file_lines;
mod footnotes;
mod heading;
mod json;
mod label_line;
mod list;
mod markdown;
mod markers;
mod prose;
mod suggestion;
mod table;
mod template;
#[cfg(test)]
mod tests;
mod threads;

use super::location::Location;
use super::severity::Severity;

/// One finding as one worker wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFinding {
    /// 1-based position among this worker's findings.
    pub index: usize,
    pub severity: Severity,
    /// The marker as written (`P1`, `major`, `🔴`), `None` when absent.
    pub severity_raw: Option<String>,
    /// True when the worker gave no (recognisable) severity and `Medium` was assumed.
    pub severity_assumed: bool,
    pub location: Option<Location>,
    pub claim: String,
    pub evidence: Option<String>,
    pub fix: Option<String>,
}

/// What one message yielded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub findings: Vec<RawFinding>,
    /// Text that is not part of any finding (intro, summary, sign-off, and text no
    /// reader understood), trimmed.
    pub note: String,
}

/// A reader that rewrites the blocks of one format family into the markdown shape the
/// structural reader reads, leaving other lines alone.
type Rewrite = fn(&str) -> String;

/// The rewriters, in the order they run. Bot markup goes first so that the location
/// blocks it leaves are then seen by `bold_location`.
const REWRITERS: &[(&str, Rewrite)] = &[
    ("footnotes", footnotes::rewrite),
    ("bots", bots::rewrite),
    ("diagnostics", diagnostics::rewrite),
    ("threads", threads::rewrite),
    ("diff", diff::rewrite),
    ("file_lines", file_lines::rewrite),
    ("bold_location", bold_location::rewrite),
    ("conventional", conventional::rewrite),
    ("label_line", label_line::rewrite),
    ("table", table::tables_to_items),
    ("suggestion", suggestion::rewrite),
];

/// Parses one reviewer's final message.
pub fn parse_message(text: &str) -> Parsed {
    parse(text, false)
}

/// Parses one researcher's final message: as a review's, and a prose paragraph that
/// cites a URL is a finding with that source as its location.
pub fn parse_research(text: &str) -> Parsed {
    parse(text, true)
}

fn parse(text: &str, research: bool) -> Parsed {
    let text = text.replace("\r\n", "\n");
    if let Some(parsed) = json::parse_json(&text) {
        return parsed;
    }
    let rewritten = REWRITERS
        .iter()
        .fold(text.clone(), |t, (_, rewrite)| rewrite(&t));
    let mut parsed = markdown::parse_markdown(&rewritten);
    prose::read_leftovers(&mut parsed, research);
    if parsed.findings.is_empty() {
        parsed.note = text.trim().to_string();
    }
    for (i, f) in parsed.findings.iter_mut().enumerate() {
        f.index = i + 1;
    }
    parsed
}
