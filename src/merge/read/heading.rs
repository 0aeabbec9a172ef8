//! What a heading is: a container (a section, a severity, a file) or a finding.

use super::super::location;
use super::super::severity::Severity;
use super::markers::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// Under "Findings", "Issues", …: every item is a finding.
    Findings,
    /// Under "Summary", "Recommendations", …: only items with an explicit severity.
    Other,
    /// No telling heading: an item needs a severity or a location.
    Neutral,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Ctx {
    pub(super) severity: Option<(Severity, String)>,
    pub(super) path: Option<String>,
    pub(super) section: Option<Section>,
}

#[derive(Debug, Clone)]
pub(super) enum HeadingKind {
    Finding,
    Severity(Severity, String),
    Path(String),
    Section(Section),
}

pub(super) fn classify_section(title: &str) -> Section {
    // Keywords must start a word: "unchecked" is not "checked".
    let t = format!(
        " {} ",
        title
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    );
    const FINDING: &[&str] = &[
        "finding",
        "issue",
        "problem",
        "concern",
        "bug",
        "defect",
        "vulnerab",
        "risk",
        "regression",
        "error",
        "flaw",
        // "Overall Comments", "Here's some high-level feedback:" (Sourcery and
        // hand-written reviews): the bullets under them are the findings.
        "comment",
        "feedback",
        "high level",
    ];
    const OTHER: &[&str] = &[
        "summary",
        "overview",
        "conclusion",
        "verdict",
        "note",
        "recommend",
        "next step",
        "fix",
        "suggested",
        "scope",
        "method",
        "approach",
        "context",
        "question",
        "strength",
        "positive",
        "what i",
        "what's good",
        "looks good",
        "changed",
        "changes",
        "files",
        "checked",
        "reviewed",
        "tested",
        "test plan",
        "rewrite",
        "snippet",
        "outline",
        "evidence",
        "references",
        "sources",
        "appendix",
    ];
    let has = |w: &&str| t.contains(&format!(" {w}"));
    if OTHER.iter().any(has) && !has(&"issues") {
        Section::Other
    } else if FINDING.iter().any(has) {
        Section::Findings
    } else {
        Section::Neutral
    }
}

/// Words of a heading after a severity marker was cut out of it.
fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect()
}

pub(super) fn classify_heading(level: usize, title: &str) -> HeadingKind {
    let plain = strip_decoration(title);
    let located = location::find(&plain, None);
    if let Some((sev, raw, (s, e))) = find_severity(&plain) {
        let rest: String = format!("{}{}", &plain[..s], &plain[e..]).to_lowercase();
        // `## 🔴 Blockers`, `## 🟡 Should fix`: the word, when it is a label, wins.
        if let Some(by_word) = Severity::from_label(words(&rest).join(" ").as_str()) {
            return HeadingKind::Severity(by_word, rest.trim().to_string());
        }
        let rest = rest
            .replace("severity", "")
            .replace("priority", "")
            .replace("issues", "")
            .replace("findings", "")
            .replace("comments", "")
            .replace("risk", "");
        if rest
            .chars()
            .all(|c| !c.is_alphabetic() || c.is_whitespace())
        {
            return HeadingKind::Severity(sev, raw);
        }
        // `### 💡 Codex Review`: a marker and a few words name a section, not a finding.
        if located.is_none() && words(&rest).len() <= 3 {
            return HeadingKind::Section(classify_section(&rest));
        }
    } else if let Some(sev) = Severity::from_label(
        plain
            .to_lowercase()
            .trim_end_matches(" severity")
            .trim_end_matches(" priority")
            .trim_end_matches(" issues")
            .trim_end_matches(" findings")
            .trim_end_matches(" comments")
            .trim_end_matches(|c: char| !c.is_alphanumeric()),
    ) {
        // `## High` / `## Minor issues` / `## Nitpick comments`.
        return HeadingKind::Severity(sev, plain.clone());
    }
    if level == 1 {
        if let Some(f) = located {
            return HeadingKind::Path(f.location.path);
        }
        return HeadingKind::Section(classify_section(&plain));
    }
    let numbered = NUMBERED_TITLE.is_match(&plain);
    let section = classify_section(&plain);
    if numbered && section != Section::Other {
        return HeadingKind::Finding;
    }
    if find_severity(&plain).is_some() {
        return HeadingKind::Finding;
    }
    if let Some(f) = located {
        // `### app/views.py (41-47)`: a place with lines heads the finding below it;
        // a file alone (`### src/a.rs`) is the file its items are in.
        if f.location.start_line.is_some() {
            return HeadingKind::Finding;
        }
        let rest = format!("{}{}", &plain[..f.span.0], &plain[f.span.1..]);
        if rest.chars().filter(|c| c.is_alphabetic()).count() < 3 {
            return HeadingKind::Path(f.location.path);
        }
    }
    HeadingKind::Section(section)
}
