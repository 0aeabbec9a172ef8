//! Findings out of a worker's final message.
//!
//! Three shapes are read, in this order:
//! 1. JSON (from `--output-schema`): the whole message, possibly in a ```` ```json ```` fence,
//!    is `{"findings": [{"severity", "location", "claim", "evidence"}]}` or a bare array.
//! 2. Markdown list items: `- [high] src/a.rs:42-50 — claim` with an indented
//!    `Evidence: …` line (orch's reviewer template), key-line items
//!    (`Severity:` / `Location:` / `Claim:` / `Evidence:`), and free-form numbered or
//!    bulleted lists. Nested sub-bullets belong to their parent item.
//! 3. Markdown headings per finding (`### 1. Title`, `**2. Title**`), the body until the
//!    next heading of the same or a higher level belonging to it.
//!
//! Headings also set context for the items below them: a severity heading (`## High`)
//! gives its items that severity, a file heading (`### src/a.rs`) lets items say just
//! `line 42`, and the section name decides how eager we are: under "Findings"/"Issues"
//! every item is a finding; under "Summary"/"Recommendations"/"Notes" only items with an
//! explicit severity are; elsewhere an item needs a severity or a location.
//!
//! Everything that is not part of a finding is returned as the worker's note, so no text
//! is dropped silently (only bare container headings such as `## Findings` are).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::location::{self, Location};
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
    /// Text that is not part of any finding (intro, summary, sign-off), trimmed.
    pub note: String,
}

/// Parses one worker's final message.
pub fn parse_message(text: &str) -> Parsed {
    let text = text.replace("\r\n", "\n");
    if let Some(parsed) = parse_json(&text) {
        return parsed;
    }
    let mut parsed = parse_markdown(&text);
    if parsed.findings.is_empty() {
        parsed.note = text.trim().to_string();
    }
    parsed
}

// ---------------------------------------------------------------- JSON

static FENCE_JSON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)```(?:json|JSON)?\s*\n(.*?)\n\s*```").unwrap());

fn parse_json(text: &str) -> Option<Parsed> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(trimmed)
        && let Some(p) = json_findings(&v, String::new())
    {
        return Some(p);
    }
    // A fenced JSON block; text around it becomes the note.
    for c in FENCE_JSON.captures_iter(text) {
        let whole = c.get(0).unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(c.get(1).unwrap().as_str()) {
            let rest = format!("{}\n{}", &text[..whole.start()], &text[whole.end()..]);
            if let Some(p) = json_findings(&v, rest.trim().to_string()) {
                return Some(p);
            }
        }
    }
    None
}

fn json_findings(v: &Value, mut note: String) -> Option<Parsed> {
    let list = match v {
        Value::Array(a) => a,
        Value::Object(o) => {
            let a = o.get("findings").or_else(|| o.get("issues"))?.as_array()?;
            // Other top-level fields (a summary, a verdict) are kept as the note.
            let extra: Vec<String> = o
                .iter()
                .filter(|(k, _)| *k != "findings" && *k != "issues")
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect();
            if !extra.is_empty() {
                if !note.is_empty() {
                    note.push_str("\n\n");
                }
                note.push_str(&extra.join("\n"));
            }
            a
        }
        _ => return None,
    };
    if !list.iter().all(Value::is_object) {
        return None;
    }
    let mut findings = Vec::new();
    for item in list {
        let o = item.as_object().unwrap();
        let s = |keys: &[&str]| -> Option<String> {
            keys.iter().find_map(|k| match o.get(*k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        };
        let claim = s(&[
            "claim",
            "title",
            "summary",
            "issue",
            "description",
            "message",
        ]);
        let Some(claim) = claim else { continue };
        let (severity, severity_raw, assumed) = match s(&["severity", "priority", "level"]) {
            Some(raw) => match Severity::from_word(&raw) {
                Some(sev) => (sev, Some(raw), false),
                None => (Severity::Medium, Some(raw), true),
            },
            None => (Severity::Medium, None, true),
        };
        let location = match o.get("location").or_else(|| o.get("loc")) {
            Some(Value::String(l)) => location::parse(l),
            Some(Value::Object(l)) => json_location(l),
            _ => json_location(o),
        };
        findings.push(RawFinding {
            index: findings.len() + 1,
            severity,
            severity_raw,
            severity_assumed: assumed,
            location,
            claim: clean_inline(&claim),
            evidence: s(&["evidence", "details", "rationale"]),
            fix: s(&["fix", "recommendation", "suggestion", "remediation"]),
        });
    }
    Some(Parsed { findings, note })
}

fn json_location(o: &serde_json::Map<String, Value>) -> Option<Location> {
    let path = ["path", "file"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))?;
    let n = |keys: &[&str]| {
        keys.iter().find_map(|k| match o.get(*k) {
            Some(Value::Number(n)) => n.as_u64().map(|n| n as u32),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        })
    };
    let start = n(&["start_line", "line", "start", "line_start"]);
    let end = n(&["end_line", "end", "line_end"]);
    if start.is_none()
        && let Some(Value::String(lines)) = o.get("lines")
    {
        return location::parse(&format!("{path}:{lines}"))
            .or(Some(Location::new(path, None, None)));
    }
    Some(Location::new(path, start, end))
}

// ---------------------------------------------------------------- Markdown

static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$").unwrap());
static LIST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\s*)([-*+•]|\d{1,3}[.)])\s+(.*)$").unwrap());
static BOLD_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}\*\*([^*].*?)\*\*\s*:?\s*$").unwrap());
static LABEL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}([A-Z][A-Za-z ]{0,30}):\s*$").unwrap());
static SUMMARY_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(?:\*\*)?summary(?:\*\*)?\s*:").unwrap());
static NUMBERED_TITLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\d{1,3}[.):]|(?:finding|issue|problem|bug)\s*#?\d+\s*[:.)\-–—]?)\s*")
        .unwrap()
});
static KEY_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:[-*+]\s+)?(?:\*\*|__)?(?P<key>severity|priority|impact|location|file|files|where|path|lines?|claim|issue|finding|problem|title|evidence|proof|why|details|fix|recommendation|recommended fix|suggested fix|suggestion|remediation)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(?P<val>.*?)\s*$",
    )
    .unwrap()
});
static INLINE_SPLIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s(?:[—–-]\s*)?(?:\*\*)?(?P<key>evidence|fix|suggested fix|recommendation)(?:\*\*)?\s*:(?:\*\*)?\s*")
        .unwrap()
});

const SEV_WORDS: &str = r"critical|crit|blocker|severe|high|major|important|medium|med|moderate|low|minor|trivial|nit|nitpick|info|informational|suggestion|optional|cosmetic";

static SEV_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    let w = format!(r"(?P<sev>{SEV_WORDS}|P[0-4])");
    [
        // [high]  **[P1]**
        format!(r"(?i)^\s*(?:\*\*)?\[\s*{w}\s*\](?:\*\*)?\s*[:\-–—]?\s*"),
        // **High**  **High:**  **P1**  **High severity**
        format!(r"(?i)^\s*\*\*\s*{w}(?:\s+(?:severity|priority))?\s*:?\s*\*\*\s*[:\-–—|]?\s*"),
        // High: …   P1 — …   High severity - …
        format!(r"(?i)^\s*{w}(?:\s+(?:severity|priority))?\s*(?::|\s[\-–—|])\s*"),
        // (severity: high)  [severity: high]
        format!(r"(?i)\s*[(\[]\s*(?:severity|priority|sev)\s*[:=]\s*{w}\s*[)\]]"),
        // Severity: high  **Severity:** High
        format!(
            r"(?i)\s*(?:\*\*)?(?:severity|priority)(?:\*\*)?\s*[:=]\s*(?:\*\*)?\s*{w}\b(?:\*\*)?"
        ),
        // P1 at the start, possibly in parentheses
        r"(?i)^\s*\(?(?P<sev>P[0-4])\)?\b\s*[:\-–—]?\s*".to_string(),
        // (High) or [P1] anywhere
        format!(r"(?i)\s*[(\[]{w}[)\]]"),
        // **High** at the end of a title: `… — **High**`
        format!(r"(?i)\s*[\-–—|]?\s*\*\*{w}\*\*\s*$"),
    ]
    .iter()
    .map(|p| Regex::new(p).unwrap())
    .collect()
});

/// A severity marker found in a line: level, marker as written, byte span.
fn find_severity(text: &str) -> Option<(Severity, String, (usize, usize))> {
    // Traffic-light emoji near the start.
    let lead = text.trim_start_matches(|c: char| c.is_whitespace() || c == '*');
    if let Some(c) = lead.chars().next()
        && let Some(sev) = Severity::from_emoji(c)
    {
        let start = text.len() - lead.len();
        let mut end = start + c.len_utf8();
        // Emoji may carry a variation selector and a word (`🔴 High:`).
        let rest = &text[end..];
        let rest_trim = rest.trim_start_matches(['\u{fe0f}', ' ']);
        end += rest.len() - rest_trim.len();
        if let Some((sev2, raw, (s, e))) = find_severity(&text[end..])
            && s == 0
        {
            return Some((sev2, raw, (start, end + e)));
        }
        return Some((sev, c.to_string(), (start, end)));
    }
    for re in SEV_PATTERNS.iter() {
        if let Some(c) = re.captures(text) {
            let raw = c.name("sev").unwrap().as_str();
            if let Some(sev) = Severity::from_word(raw) {
                let m = c.get(0).unwrap();
                return Some((sev, raw.to_string(), (m.start(), m.end())));
            }
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Under "Findings", "Issues", …: every item is a finding.
    Findings,
    /// Under "Summary", "Recommendations", …: only items with an explicit severity.
    Other,
    /// No telling heading: an item needs a severity or a location.
    Neutral,
}

#[derive(Debug, Clone, Default)]
struct Ctx {
    severity: Option<(Severity, String)>,
    path: Option<String>,
    section: Option<Section>,
}

#[derive(Debug, Clone)]
enum HeadingKind {
    Finding,
    Severity(Severity, String),
    Path(String),
    Section(Section),
}

fn classify_section(title: &str) -> Section {
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

fn strip_decoration(s: &str) -> String {
    s.replace("**", "")
        .replace("__", "")
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '`' | '*' | '-'))
        .to_string()
}

fn classify_heading(level: usize, title: &str) -> HeadingKind {
    let plain = strip_decoration(title);
    if let Some((sev, raw, (s, e))) = find_severity(&plain) {
        let rest: String = format!("{}{}", &plain[..s], &plain[e..]).to_lowercase();
        let rest = rest
            .replace("severity", "")
            .replace("priority", "")
            .replace("issues", "")
            .replace("findings", "")
            .replace("risk", "");
        if rest
            .chars()
            .all(|c| !c.is_alphabetic() || c.is_whitespace())
        {
            return HeadingKind::Severity(sev, raw);
        }
    } else if let Some(sev) = Severity::from_word(
        plain
            .to_lowercase()
            .trim_end_matches(" severity")
            .trim_end_matches(" priority")
            .trim_end_matches(" issues")
            .trim_end_matches(" findings")
            .trim_end_matches(|c: char| !c.is_alphanumeric()),
    ) {
        // `## High` / `## Minor issues` — with the marker found by from_word only.
        return HeadingKind::Severity(sev, plain.clone());
    }
    if level == 1 {
        if let Some(f) = location::find(&plain, None) {
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
    if let Some(f) = location::find(&plain, None) {
        let rest = format!("{}{}", &plain[..f.span.0], &plain[f.span.1..]);
        let has_words = rest.chars().filter(|c| c.is_alphabetic()).count() >= 3;
        if f.location.start_line.is_some() && has_words {
            return HeadingKind::Finding;
        }
        if !has_words || f.location.start_line.is_none() {
            return HeadingKind::Path(f.location.path);
        }
    }
    HeadingKind::Section(section)
}

#[derive(Debug)]
struct Item {
    head: String,
    body: Vec<String>,
    ctx: Ctx,
    list_id: Option<usize>,
    /// The raw lines, for the note when the item turns out not to be a finding.
    raw: Vec<String>,
}

#[derive(Debug)]
enum Block {
    Item(Item),
    Text(String),
}

struct Open {
    item: Item,
    /// `Some(level)` for a heading item, `None` for a list item.
    heading_level: Option<usize>,
    base_indent: usize,
    prev_blank: bool,
    in_fence: bool,
}

fn indent_of(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

fn segment(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    let mut stack: Vec<(usize, HeadingKind)> = Vec::new();
    let mut list_id = 0usize;
    let mut last_was_item = false;
    let mut text_fence = false;

    let ctx_of = |stack: &[(usize, HeadingKind)]| {
        let mut ctx = Ctx::default();
        for (_, k) in stack {
            match k {
                HeadingKind::Severity(s, raw) => ctx.severity = Some((*s, raw.clone())),
                HeadingKind::Path(p) => ctx.path = Some(p.clone()),
                HeadingKind::Section(s) => ctx.section = Some(*s),
                HeadingKind::Finding => {}
            }
        }
        ctx
    };
    let close = |open: &mut Option<Open>, blocks: &mut Vec<Block>| {
        if let Some(o) = open.take() {
            blocks.push(Block::Item(o.item));
        }
    };

    for line in text.lines() {
        if text_fence {
            blocks.push(Block::Text(line.to_string()));
            text_fence = !is_fence(line);
            continue;
        }
        if let Some(o) = open.as_mut()
            && o.in_fence
        {
            o.item.body.push(line.to_string());
            o.item.raw.push(line.to_string());
            o.in_fence = !is_fence(line);
            continue;
        }
        let blank = line.trim().is_empty();
        if blank {
            match open.as_mut() {
                Some(o) => {
                    o.prev_blank = true;
                    o.item.body.push(String::new());
                    o.item.raw.push(String::new());
                }
                None => blocks.push(Block::Text(String::new())),
            }
            continue;
        }
        let indent = indent_of(line);

        // Headings, and bold or `Label:` lines standing alone as pseudo-headings.
        let heading = if let Some(c) = HEADING.captures(line) {
            Some((c[1].len(), c[2].to_string()))
        } else if open
            .as_ref()
            .is_none_or(|o| o.heading_level.is_some() || o.prev_blank)
            && indent < 2
        {
            BOLD_LINE
                .captures(line)
                .or_else(|| LABEL_LINE.captures(line))
                .map(|c| (6, c[1].to_string()))
        } else {
            None
        };
        if let Some((level, title)) = heading {
            if let Some(o) = open.as_mut()
                && let Some(hl) = o.heading_level
                && level > hl
            {
                o.item.body.push(line.to_string());
                o.item.raw.push(line.to_string());
                continue;
            }
            close(&mut open, &mut blocks);
            last_was_item = false;
            let kind = classify_heading(level, &title);
            stack.retain(|(l, _)| *l < level);
            if let HeadingKind::Finding = kind {
                let head = NUMBERED_TITLE
                    .replace(&strip_decoration(&title), "")
                    .to_string();
                open = Some(Open {
                    item: Item {
                        head,
                        body: Vec::new(),
                        ctx: ctx_of(&stack),
                        list_id: None,
                        raw: vec![line.to_string()],
                    },
                    heading_level: Some(level),
                    base_indent: 0,
                    prev_blank: false,
                    in_fence: false,
                });
            } else {
                // A bare "## Findings" says nothing once its items are findings.
                if !matches!(kind, HeadingKind::Section(Section::Findings)) {
                    blocks.push(Block::Text(line.to_string()));
                }
                stack.push((level, kind));
            }
            continue;
        }

        // A line led by a traffic-light emoji is an item even without a list marker.
        let item_start = LIST
            .captures(line)
            .map(|c| (indent_of(&c[1]), c[3].to_string()))
            .or_else(|| {
                let t = line.trim_start();
                (indent < 2 && t.chars().next().and_then(Severity::from_emoji).is_some())
                    .then(|| (indent, t.to_string()))
            });
        if let Some((marker_indent, head)) = item_start {
            if let Some(o) = open.as_mut() {
                let nested = o.heading_level.is_some() || marker_indent > o.base_indent + 1;
                if nested {
                    o.item.body.push(line.to_string());
                    o.item.raw.push(line.to_string());
                    o.prev_blank = false;
                    continue;
                }
            }
            close(&mut open, &mut blocks);
            if !last_was_item {
                list_id += 1;
            }
            last_was_item = true;
            open = Some(Open {
                item: Item {
                    head,
                    body: Vec::new(),
                    ctx: ctx_of(&stack),
                    list_id: Some(list_id),
                    raw: vec![line.to_string()],
                },
                heading_level: None,
                base_indent: marker_indent,
                prev_blank: false,
                in_fence: false,
            });
            continue;
        }

        // The reviewer template ends its list with a `Summary:` line, often with no blank
        // line before it: that line is the verdict, not more of the last finding.
        let ends_list = open.as_ref().is_some_and(|o| {
            o.heading_level.is_none() && indent <= o.base_indent && SUMMARY_LINE.is_match(line)
        });
        if let Some(o) = open.as_mut()
            && !ends_list
            && (o.heading_level.is_some() || indent > o.base_indent || !o.prev_blank)
        {
            o.item.body.push(line.to_string());
            o.item.raw.push(line.to_string());
            o.prev_blank = false;
            o.in_fence = is_fence(line);
            continue;
        }
        close(&mut open, &mut blocks);
        last_was_item = false;
        blocks.push(Block::Text(line.to_string()));
        text_fence = is_fence(line);
    }
    close(&mut open, &mut blocks);
    blocks
}

/// Evidence, fix and other key lines of an item.
#[derive(Default)]
struct Keys {
    severity: Option<(Severity, String)>,
    severity_raw_unknown: Option<String>,
    location: Option<Location>,
    claim: Option<String>,
    evidence: Vec<String>,
    fix: Vec<String>,
    other: Vec<String>,
}

fn read_keys(lines: &[String], ctx_path: Option<&str>) -> Keys {
    let mut k = Keys::default();
    // Which bucket free lines after a key line continue.
    #[derive(Clone, Copy)]
    enum Cur {
        Other,
        Evidence,
        Fix,
        Claim,
    }
    let mut cur = Cur::Other;
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(c) = KEY_LINE.captures(line) {
            let key = c["key"].to_lowercase();
            let val = c["val"].trim().to_string();
            match key.as_str() {
                "severity" | "priority" | "impact" => {
                    let word = val
                        .trim_matches(|c: char| !c.is_alphanumeric())
                        .split(|c: char| !c.is_alphanumeric())
                        .next()
                        .unwrap_or("");
                    match Severity::from_word(word) {
                        Some(s) if k.severity.is_none() => k.severity = Some((s, word.into())),
                        Some(_) => {}
                        None if key == "impact" => {
                            k.evidence.push(format!("Impact: {val}"));
                            cur = Cur::Evidence;
                            continue;
                        }
                        None => k.severity_raw_unknown = Some(val),
                    }
                    cur = Cur::Other;
                }
                "location" | "file" | "files" | "where" | "path" | "line" | "lines" => {
                    if k.location.is_none() {
                        k.location = location::find(&val, ctx_path).map(|f| f.location);
                    }
                    cur = Cur::Other;
                }
                "claim" | "issue" | "finding" | "problem" | "title" => {
                    if k.claim.is_none() && !val.is_empty() {
                        k.claim = Some(val);
                    }
                    cur = Cur::Claim;
                }
                "evidence" | "proof" | "why" | "details" => {
                    if !val.is_empty() {
                        k.evidence.push(val);
                    }
                    cur = Cur::Evidence;
                }
                _ => {
                    if !val.is_empty() {
                        k.fix.push(val);
                    }
                    cur = Cur::Fix;
                }
            }
            continue;
        }
        let t = LIST
            .captures(line)
            .map_or(t.to_string(), |c| c[3].to_string());
        match cur {
            Cur::Evidence => k.evidence.push(t),
            Cur::Fix => k.fix.push(t),
            Cur::Claim if k.claim.is_none() => k.claim = Some(t),
            _ => k.other.push(t),
        }
    }
    k
}

static EMPTY_BITS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"``|\[\s*\]|\*\*\s*\*\*").unwrap());
/// `()` left where a location was cut out — but not a call's parentheses, as in
/// "parse() unwraps", which are part of the claim.
static EMPTY_PARENS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(^|[^\w(])\(\s*\)").unwrap());
static DANGLING_PREP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:in|at|on)\s*[,:;—–-]\s*|\s+(?:in|at|on)\s*$").unwrap());
static SPACE_PUNCT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+([,.;:])").unwrap());
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").unwrap());

/// Tidies a claim after markers were cut out of it.
fn clean_inline(s: &str) -> String {
    let s = s.replace("**", "").replace("__", "");
    let s = EMPTY_BITS.replace_all(&s, "");
    let s = EMPTY_PARENS.replace_all(&s, "$1");
    let s = SPACES.replace_all(&s, " ");
    let s = SPACE_PUNCT.replace_all(&s, "$1");
    let mut s = s.trim().to_string();
    loop {
        let before = s.len();
        s = s
            .trim_matches(|c: char| {
                c.is_whitespace() || matches!(c, '-' | '–' | '—' | ':' | '|' | ',')
            })
            .to_string();
        s = DANGLING_PREP.replace_all(&s, "").to_string();
        if s.len() == before {
            break;
        }
    }
    s
}

fn cut(s: &str, span: (usize, usize)) -> String {
    format!("{} {}", &s[..span.0], &s[span.1..])
}

/// Turns an item into a finding if it looks like one.
fn to_finding(item: &Item, list_has_findings: bool) -> Option<RawFinding> {
    let ctx_path = item.ctx.path.as_deref();
    let section = item.ctx.section.unwrap_or(Section::Neutral);
    let heading_item = item.list_id.is_none();

    // A head that is itself a key line (`- Claim: …`, `- Location: …`) is read with the
    // body; a severity key line (`- Severity: high — claim`) keeps its claim text.
    let head_key = KEY_LINE
        .captures(&item.head)
        .map(|c| c["key"].to_lowercase())
        .filter(|k| !matches!(k.as_str(), "severity" | "priority" | "impact"));
    let mut lines = Vec::new();
    if head_key.is_some() {
        lines.push(item.head.clone());
    }
    lines.extend(dedent(&item.body));
    let keys = read_keys(&lines, ctx_path);
    let mut head = if head_key.is_some() {
        String::new()
    } else {
        item.head.clone()
    };
    let mut inline_evidence = None;
    if let Some(m) = INLINE_SPLIT.find(&head) {
        inline_evidence = Some(head[m.end()..].trim().to_string());
        head.truncate(m.start());
    }

    let mut severity = None;
    if let Some((sev, raw, span)) = find_severity(&head) {
        severity = Some((sev, raw));
        head = cut(&head, span);
    }
    let explicit = severity.is_some() || keys.severity.is_some();
    let severity = severity.or(keys.severity.clone());

    let mut location = None;
    if let Some(f) = location::find(&head, ctx_path) {
        head = cut_location(&head, &f);
        location = Some(f.location);
    }
    let head_has_location = location.is_some() || keys.location.is_some();
    let location = location.or(keys.location.clone());

    let body_location = || {
        keys.evidence
            .iter()
            .chain(&keys.other)
            .find_map(|l| location::find(l, ctx_path).map(|f| f.location))
    };

    let is_finding = heading_item
        || match section {
            Section::Findings => true,
            Section::Other => explicit,
            Section::Neutral => {
                explicit
                    || head_has_location
                    || item.ctx.severity.is_some()
                    || list_has_findings
                    || body_location().is_some()
            }
        };
    if !is_finding {
        return None;
    }

    let location = location.or_else(body_location);
    let mut claim = clean_inline(&head);
    let mut other = keys.other.clone();
    if let Some(c) = &keys.claim {
        claim = clean_inline(&strip_markers(c, ctx_path));
    } else if claim.chars().filter(|c| c.is_alphanumeric()).count() < 3 && !other.is_empty() {
        claim = clean_inline(&strip_markers(&other.remove(0), ctx_path));
    }
    if claim.is_empty() {
        return None;
    }

    let mut evidence: Vec<String> = inline_evidence.into_iter().collect();
    evidence.extend(keys.evidence.iter().cloned());
    if evidence.is_empty() {
        evidence = other.into_iter().filter(|l| !is_fence(l)).collect();
    }
    let join = |v: Vec<String>| {
        let s = v.join(" ").trim().to_string();
        (!s.is_empty()).then_some(s)
    };

    let (severity, severity_raw, assumed) = match (severity, item.ctx.severity.clone()) {
        (Some((s, raw)), _) | (None, Some((s, raw))) => (s, Some(raw), false),
        (None, None) => (Severity::Medium, keys.severity_raw_unknown.clone(), true),
    };
    Some(RawFinding {
        index: 0,
        severity,
        severity_raw,
        severity_assumed: assumed,
        location,
        claim,
        evidence: join(evidence),
        fix: join(keys.fix),
    })
}

/// Cuts a location out of a claim. Mid-sentence ("the quickstart in `docs/guide.md`
/// (lines 45–60) assumes …") the bare path stays so the sentence still reads; at
/// the start or end it goes entirely.
fn cut_location(s: &str, f: &location::Found) -> String {
    let words = |t: &str| t.chars().filter(|c| c.is_alphabetic()).count() >= 2;
    let (before, after) = (&s[..f.span.0], &s[f.span.1..]);
    let after_trim = after.trim_start();
    let sentence_goes_on = words(before)
        && words(after)
        && !after_trim.starts_with([':', '—', '–', '-', '|'])
        && !before.trim_end().ends_with(['—', '–', ':', '|']);
    if sentence_goes_on {
        format!("{before}`{}`{after}", f.location.path)
    } else {
        cut(s, f.span)
    }
}

/// Removes a severity marker and a location from a claim given on a key line.
fn strip_markers(s: &str, ctx_path: Option<&str>) -> String {
    let mut s = s.to_string();
    if let Some((_, _, span)) = find_severity(&s) {
        s = cut(&s, span);
    }
    if let Some(f) = location::find(&s, ctx_path) {
        s = cut_location(&s, &f);
    }
    s
}

fn dedent(lines: &[String]) -> Vec<String> {
    let min = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_of(l))
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.chars().skip(min).collect::<String>())
        .collect()
}

fn is_container_only(note: &str) -> bool {
    note.lines().all(|l| {
        let t = l.trim();
        t.is_empty()
            || t.chars().all(|c| matches!(c, '-' | '*' | '_' | '='))
            || HEADING.is_match(l)
            || BOLD_LINE.is_match(l) && t.len() < 40
            || LABEL_LINE.is_match(l)
    })
}

static TABLE_SEP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$").unwrap());

fn table_cells(line: &str) -> Vec<String> {
    let t = line.trim().trim_start_matches('|').trim_end_matches('|');
    t.replace("\\|", "\u{0}")
        .split('|')
        .map(|c| c.trim().replace('\u{0}', "|"))
        .collect()
}

/// Rewrites markdown tables of findings (`| Severity | Location | Issue |`) as key-line
/// items, which the item parser already reads. Tables without an issue column and a
/// severity or location column are left alone.
fn tables_to_items(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let is_table = lines[i].trim_start().starts_with('|')
            && i + 1 < lines.len()
            && TABLE_SEP.is_match(lines[i + 1]);
        let columns: Vec<Option<&str>> = if is_table {
            table_cells(lines[i])
                .iter()
                .map(|h| {
                    let h = strip_decoration(h).to_lowercase();
                    Some(match h.as_str() {
                        "severity" | "priority" | "sev" | "level" | "impact" => "Severity",
                        "location" | "file" | "where" | "path" | "lines" | "line" | "loc" => {
                            "Location"
                        }
                        "issue" | "finding" | "claim" | "problem" | "description" | "title"
                        | "summary" | "what" => "Claim",
                        "evidence" | "details" | "why" | "rationale" => "Evidence",
                        "fix" | "recommendation" | "suggestion" | "remediation"
                        | "suggested fix" | "action" => "Fix",
                        _ => return None,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let has = |k: &str| columns.contains(&Some(k));
        if !(has("Claim") && (has("Severity") || has("Location"))) {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        i += 2;
        while i < lines.len() && lines[i].trim_start().starts_with('|') {
            let cells = table_cells(lines[i]);
            let mut item = Vec::new();
            for key in ["Severity", "Location", "Claim", "Evidence", "Fix"] {
                let val = columns
                    .iter()
                    .zip(&cells)
                    .filter(|(c, _)| **c == Some(key))
                    .map(|(_, v)| v.as_str())
                    .find(|v| !v.is_empty() && *v != "-" && *v != "—");
                if let Some(v) = val {
                    let lead = if item.is_empty() { "- " } else { "  " };
                    item.push(format!("{lead}{key}: {v}"));
                }
            }
            if item.iter().any(|l| l.contains("Claim: ")) {
                out.extend(item);
            } else {
                out.push(lines[i].to_string());
            }
            i += 1;
        }
        out.push(String::new());
    }
    out.join("\n")
}

fn parse_markdown(text: &str) -> Parsed {
    let text = tables_to_items(text);
    let blocks = segment(&text);
    // First pass: which lists hold at least half findings by their own markers,
    // so that their unmarked siblings count too.
    let mut marked: std::collections::HashMap<usize, (usize, usize)> = Default::default();
    for b in &blocks {
        if let Block::Item(it) = b
            && let Some(id) = it.list_id
        {
            let e = marked.entry(id).or_default();
            e.1 += 1;
            if to_finding(it, false).is_some() {
                e.0 += 1;
            }
        }
    }
    let mut findings = Vec::new();
    let mut note: Vec<String> = Vec::new();
    for b in blocks {
        match b {
            Block::Text(t) => note.push(t),
            Block::Item(it) => {
                let list_has = it
                    .list_id
                    .and_then(|id| marked.get(&id))
                    .is_some_and(|(f, n)| *f * 2 >= *n && *f >= 2);
                match to_finding(&it, list_has) {
                    Some(mut f) => {
                        f.index = findings.len() + 1;
                        findings.push(f);
                    }
                    None => note.extend(it.raw),
                }
            }
        }
    }
    let mut note = note.join("\n");
    while note.contains("\n\n\n") {
        note = note.replace("\n\n\n", "\n\n");
    }
    let mut note = note.trim().to_string();
    if is_container_only(&note) {
        note.clear();
    }
    Parsed { findings, note }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> RawFinding {
        let p = parse_message(text);
        assert_eq!(p.findings.len(), 1, "{text:?} gave {:#?}", p.findings);
        p.findings.into_iter().next().unwrap()
    }

    fn sev(text: &str) -> (Severity, bool) {
        let f = one(text);
        (f.severity, f.severity_assumed)
    }

    #[test]
    fn template_form() {
        let f = one(
            "- [high] src/a.rs:42-50 — token is never checked for expiry\n  Evidence: `verify()` skips `exp`\n",
        );
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.location.unwrap().to_string(), "src/a.rs:42-50");
        assert_eq!(f.claim, "token is never checked for expiry");
        assert_eq!(f.evidence.as_deref(), Some("`verify()` skips `exp`"));
    }

    #[test]
    fn call_parentheses_stay_in_the_claim() {
        let f = one("- [high] src/a.rs:10 — parse() unwraps user input\n");
        assert_eq!(f.claim, "parse() unwraps user input");
        let f = one("- [high] parse() unwraps user input (src/a.rs:10)\n");
        assert_eq!(f.claim, "parse() unwraps user input");
    }

    #[test]
    fn a_summary_line_right_after_the_list_is_not_part_of_the_last_finding() {
        let p = parse_message(
            "- [high] src/a.rs:10 — parse panics\n  Evidence: unwrap() at line 10\n\
             - [low] src/b.rs:3 — bad name\nSummary: one real bug.\n",
        );
        assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
        assert_eq!(
            p.findings[0].evidence.as_deref(),
            Some("unwrap() at line 10")
        );
        assert_eq!(p.findings[1].claim, "bad name");
        assert_eq!(p.findings[1].evidence, None);
        assert_eq!(p.note, "Summary: one real bug.");
    }

    #[test]
    fn key_lines() {
        let f = one(
            "- Severity: high\n  Location: src/a.rs:42\n  Claim: token is never checked\n  Evidence: see verify()\n",
        );
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.location.unwrap().to_string(), "src/a.rs:42");
        assert_eq!(f.claim, "token is never checked");
        assert_eq!(f.evidence.as_deref(), Some("see verify()"));
    }

    #[test]
    fn severity_styles() {
        let cases = [
            ("- [high] src/a.rs:1 x claim", Severity::High),
            ("1. **High** `src/a.rs:1` — x claim", Severity::High),
            ("1. **High:** x claim in src/a.rs", Severity::High),
            ("- High: x claim in src/a.rs", Severity::High),
            ("- x claim (severity: low) src/a.rs:3", Severity::Low),
            (
                "- Severity: critical — x claim src/a.rs:3",
                Severity::Critical,
            ),
            ("- P0 src/a.rs:3 x claim", Severity::Critical),
            ("- **[P2]** src/a.rs:3 x claim", Severity::Medium),
            ("- P3: x claim src/a.rs:3", Severity::Low),
            ("- 🔴 src/a.rs:3 x claim", Severity::High),
            ("- 🟢 Low: src/a.rs:3 x claim", Severity::Low),
            ("- [nit] src/a.rs:3 x claim", Severity::Info),
            ("- [blocker] src/a.rs:3 x claim", Severity::Critical),
            ("- [major] src/a.rs:3 x claim", Severity::High),
            ("- [minor] src/a.rs:3 x claim", Severity::Low),
            ("- Missing check (High) src/a.rs:3", Severity::High),
        ];
        for (text, want) in cases {
            assert_eq!(sev(text), (want, false), "{text}");
        }
    }

    #[test]
    fn severity_absent_is_assumed_medium() {
        assert_eq!(sev("- src/a.rs:3 the claim"), (Severity::Medium, true));
        let f = one("- [whatever] src/a.rs:3 the claim");
        assert!(f.severity_assumed);
    }

    #[test]
    fn location_styles_in_items() {
        let cases = [
            ("- [high] src/a.rs:42 c", "src/a.rs:42"),
            ("- [high] src/a.rs:10-12 c", "src/a.rs:10-12"),
            ("- [high] src/a.rs#L10 c", "src/a.rs:10"),
            ("- [high] src/a.rs#L10-L12 c", "src/a.rs:10-12"),
            ("- [high] `src/a.rs` line 42: c", "src/a.rs:42"),
            ("- [high] lines 10–12 of src/a.rs: c", "src/a.rs:10-12"),
        ];
        for (text, want) in cases {
            let f = one(text);
            assert_eq!(f.location.unwrap().to_string(), want, "{text}");
            assert_eq!(f.claim, "c", "{text}");
        }
        let f = one("- [low] No rate limiting on the login endpoint");
        assert_eq!(f.location, None);
        assert_eq!(f.claim, "No rate limiting on the login endpoint");
    }

    #[test]
    fn nested_bullets_belong_to_parent() {
        let p = parse_message(
            "1. **High** — `src/a.rs:42` unwrap on user input\n   - panics on empty body\n   - Fix: return 400\n2. **Low** — `src/b.rs:9` typo in error\n",
        );
        assert_eq!(p.findings.len(), 2);
        assert_eq!(
            p.findings[0].evidence.as_deref(),
            Some("panics on empty body")
        );
        assert_eq!(p.findings[0].fix.as_deref(), Some("return 400"));
    }

    #[test]
    fn heading_per_finding() {
        let p = parse_message(
            "Intro text.\n\n### 1. Unchecked unwrap in parser\n**Severity:** High\n**Location:** `src/p.rs:10-12`\n\nThe parser unwraps.\n\n### 2. Slow loop\nSeverity: low\nIn src/q.rs:5.\n\n## Summary\nAll fine otherwise.\n",
        );
        assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
        assert_eq!(p.findings[0].claim, "Unchecked unwrap in parser");
        assert_eq!(p.findings[0].severity, Severity::High);
        assert_eq!(
            p.findings[0].location.as_ref().unwrap().to_string(),
            "src/p.rs:10-12"
        );
        assert_eq!(
            p.findings[1].location.as_ref().unwrap().to_string(),
            "src/q.rs:5"
        );
        assert!(p.note.contains("Intro text."));
        assert!(p.note.contains("All fine otherwise."));
    }

    #[test]
    fn severity_and_file_headings_give_context() {
        let p = parse_message(
            "## High\n\n### src/a.rs\n- line 42: token unchecked\n- line 90: secret logged\n\n## Low\n- `src/b.rs:3` typo\n",
        );
        assert_eq!(p.findings.len(), 3, "{:#?}", p.findings);
        assert_eq!(p.findings[0].severity, Severity::High);
        assert_eq!(
            p.findings[1].location.as_ref().unwrap().to_string(),
            "src/a.rs:90"
        );
        assert_eq!(p.findings[2].severity, Severity::Low);
    }

    #[test]
    fn summary_lists_are_notes() {
        let p = parse_message(
            "- [high] src/a.rs:1 real issue here\n\n## Summary\n- Overall solid work\n- Tests pass\n\nThanks!\n",
        );
        assert_eq!(p.findings.len(), 1);
        assert!(p.note.contains("Overall solid work"));
        assert!(p.note.contains("Thanks!"));
    }

    #[test]
    fn no_findings_keeps_whole_text() {
        let text = "I looked around and everything is fine.\n\n- nothing to report\n";
        let p = parse_message(text);
        assert!(p.findings.is_empty());
        assert_eq!(p.note, text.trim());
    }

    #[test]
    fn json_forms() {
        let j = r#"{"findings":[{"severity":"high","location":"src/a.rs:42","claim":"x","evidence":"y"},{"severity":"P3","location":{"path":"b.rs","start_line":3,"end_line":5},"claim":"z"}],"summary":"ok"}"#;
        let p = parse_message(j);
        assert_eq!(p.findings.len(), 2);
        assert_eq!(p.findings[0].severity, Severity::High);
        assert_eq!(p.findings[1].severity, Severity::Low);
        assert_eq!(
            p.findings[1].location.as_ref().unwrap().to_string(),
            "b.rs:3-5"
        );
        assert_eq!(p.note, "summary: ok");
        let fenced = format!("```json\n{j}\n```\n");
        assert_eq!(parse_message(&fenced).findings.len(), 2);
    }

    #[test]
    fn tables_of_findings() {
        let p = parse_message(
            "Findings:\n\n| # | Severity | Location | Issue | Fix |\n|---|---|---|---|---|\n| 1 | High | `src/a.rs:42` | token unchecked | check `exp` |\n| 2 | P3 | src/b.rs:7 | a \\| b typo | - |\n\nDone.\n",
        );
        assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
        assert_eq!(p.findings[0].severity, Severity::High);
        assert_eq!(p.findings[0].claim, "token unchecked");
        assert_eq!(p.findings[0].fix.as_deref(), Some("check `exp`"));
        assert_eq!(p.findings[1].severity, Severity::Low);
        assert_eq!(p.findings[1].claim, "a | b typo");
        assert!(p.note.contains("Done."));
        let plain = "| a | b |\n|---|---|\n| 1 | 2 |\n";
        assert!(parse_message(plain).findings.is_empty());
    }

    #[test]
    fn fenced_code_in_item_stays_in_item() {
        let p = parse_message(
            "- [high] src/a.rs:1 bad thing\n  ```rust\n- not an item\n  ```\n- [low] src/b.rs:2 other thing\n",
        );
        assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
    }
}
