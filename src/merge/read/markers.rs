//! Pieces every markdown reader shares: the line shapes (headings, list items,
//! key lines), severity markers, and tidying a claim once markers are cut out.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location;
use super::super::severity::Severity;

pub(super) static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$").unwrap());
pub(super) static LIST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\s*)([-*+•]|\d{1,3}[.)])\s+(.*)$").unwrap());
pub(super) static BOLD_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}\*\*([^*].*?)\*\*\s*:?\s*$").unwrap());
pub(super) static LABEL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}([A-Z][A-Za-z ]{0,30}):\s*$").unwrap());
pub(super) static SUMMARY_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(?:\*\*)?summary(?:\*\*)?\s*:").unwrap());
pub(super) static NUMBERED_TITLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\d{1,3}[.):]|(?:finding|issue|problem|bug)\s*#?\d+\s*[:.)\-–—]?)\s*")
        .unwrap()
});
pub(super) static KEY_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:[-*+]\s+)?(?:\*\*|__)?(?P<key>severity|priority|impact|location|file|files|where|path|lines?|claim|issue|finding|problem|title|evidence|proof|why|details|fix|recommendation|recommended fix|suggested fix|suggestion|remediation)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(?P<val>.*?)\s*$",
    )
    .unwrap()
});
pub(super) static INLINE_SPLIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s(?:[—–-]\s*)?(?:\*\*)?(?P<key>evidence|fix|suggested fix|recommendation)(?:\*\*)?\s*:(?:\*\*)?\s*")
        .unwrap()
});

pub(super) const SEV_WORDS: &str = r"critical|crit|blocker|severe|high|major|important|medium|med|moderate|low|minor|trivial|nit|nitpick|info|informational|suggestion|optional|cosmetic";

pub(super) static SEV_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
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

static SEV_KEY_EMOJI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:\*\*)?(?:severity|priority|sev)(?:\*\*)?\s*[:=]\s*(?:\*\*)?\s*(?P<e>[^\sA-Za-z0-9*])\u{fe0f}?\s*(?:\*\*)?\s*").unwrap()
});
static BRACKET_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:\*\*)?\[\s*(?P<sev>[A-Za-z][A-Za-z _-]{1,24}?)\s*\](?:\*\*)?\s*[:\-–—]?\s*")
        .unwrap()
});

/// A severity marker found in a line: level, marker as written, byte span.
pub(super) fn find_severity(text: &str) -> Option<(Severity, String, (usize, usize))> {
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
        // `🔴 Critical` with nothing after: the word is the level.
        let word = rest_trim.trim_end_matches(|c: char| !c.is_alphanumeric());
        if !word.is_empty()
            && !word.contains(char::is_whitespace)
            && let Some(sev2) = Severity::from_label(word)
        {
            return Some((sev2, format!("{c} {word}"), (start, text.len())));
        }
        if let Some((sev2, raw, (s, e))) = find_severity(&text[end..])
            && s == 0
        {
            return Some((sev2, raw, (start, end + e)));
        }
        return Some((sev, c.to_string(), (start, end)));
    }
    // `Severity: 🔴` (a table's emoji cell once rewritten as a key line).
    if let Some(c) = SEV_KEY_EMOJI.captures(text)
        && let Some(sev) = c["e"].chars().next().and_then(Severity::from_emoji)
    {
        let m = c.get(0).unwrap();
        return Some((sev, c["e"].to_string(), (m.start(), m.end())));
    }
    // `[Blocking]`, `[error]`: any label the severity table knows, in brackets at the start
    // (what the label-line and diagnostics readers write).
    if let Some(c) = BRACKET_LABEL.captures(text)
        && let Some(sev) = Severity::from_label(&c["sev"])
    {
        let m = c.get(0).unwrap();
        return Some((sev, c["sev"].to_string(), (m.start(), m.end())));
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

pub(super) fn strip_decoration(s: &str) -> String {
    s.replace("**", "")
        .replace("__", "")
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '`' | '*' | '-'))
        .to_string()
}

pub(super) fn indent_of(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

pub(super) fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

pub(super) static EMPTY_BITS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"``|\[\s*\]|\*\*\s*\*\*").unwrap());
/// `()` left where a location was cut out — but not a call's parentheses, as in
/// "parse() unwraps", which are part of the claim.
pub(super) static EMPTY_PARENS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[^\w(])\(\s*\)").unwrap());
pub(super) static DANGLING_PREP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:in|at|on)\s*[,:;—–-]\s*|\s+(?:in|at|on)\s*$").unwrap());
pub(super) static SPACE_PUNCT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s+([,.;:?!])").unwrap());
pub(super) static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").unwrap());

/// Tidies a claim after markers were cut out of it.
pub(super) fn clean_inline(s: &str) -> String {
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

pub(super) fn cut(s: &str, span: (usize, usize)) -> String {
    format!("{} {}", &s[..span.0], &s[span.1..])
}

/// Cuts a location out of a claim. Mid-sentence ("the quickstart in `docs/guide.md`
/// (lines 45–60) assumes …") the bare path stays so the sentence still reads; at
/// the start or end it goes entirely.
pub(super) fn cut_location(s: &str, f: &location::Found) -> String {
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
pub(super) fn strip_markers(s: &str, ctx_path: Option<&str>) -> String {
    let mut s = s.to_string();
    if let Some((_, _, span)) = find_severity(&s) {
        s = cut(&s, span);
    }
    if let Some(f) = location::find(&s, ctx_path) {
        s = cut_location(&s, &f);
    }
    s
}

pub(super) fn dedent(lines: &[String]) -> Vec<String> {
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
