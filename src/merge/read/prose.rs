//! Findings written as prose paragraphs, the way people review in a PR thread.
//!
//! Runs on what the other readers left (the note). A paragraph is a finding when it
//! names a place in the code with a line (`client/http.go:71`, `` `a.go` line 57 ``).
//! Once one paragraph has been read that way the message is a prose review, and a
//! later paragraph that states a defect ("isn't mentioned", "is missing", "leaks") is
//! a finding too, without a location. A paragraph right after a located one that opens
//! with "Same line, separate problem: …" (or "same spot", "same place") is a finding at
//! that place. Intros and sign-offs stay in the note.

use std::sync::LazyLock;

use regex::Regex;

use super::super::location;
use super::super::severity::Severity;
use super::markers::{clean_inline, cut_location, find_severity};
use super::{Parsed, RawFinding};

const DEFECT_WORDS: &[&str] = &[
    "isn't", "is not", "aren't", "doesn't", "does not", "never", "missing", "lacks", "leak",
    "wrong", "broken", "fails", "bug", "race", "should", "must", "unsafe", "no way", "without",
];

fn is_defect(p: &str) -> bool {
    let l = p.to_lowercase();
    DEFECT_WORDS.iter().any(|w| l.contains(w))
}

/// A short lead-in that names the paragraph's role ("Smaller thing:", "Second,").
fn strip_lead(p: &str) -> &str {
    let lower = p.to_lowercase();
    for lead in [
        "first,",
        "second,",
        "third,",
        "also,",
        "finally,",
        "smaller thing:",
        "nit:",
    ] {
        if lower.starts_with(lead) {
            return p[lead.len()..].trim_start();
        }
    }
    p
}

fn finding(p: &str, location: Option<location::Found>) -> RawFinding {
    let mut text = strip_lead(p).to_string();
    let mut loc = None;
    if let Some(f) = location::find(&text, None) {
        text = cut_location(&text, &f);
        loc = Some(f.location);
    } else if let Some(f) = location {
        loc = Some(f.location);
    }
    let (severity, raw, assumed) = match find_severity(&text) {
        Some((s, raw, span)) if span.0 == 0 => {
            text = text[span.1..].to_string();
            (s, Some(raw), false)
        }
        _ => (Severity::Medium, None, true),
    };
    RawFinding {
        index: 0,
        severity,
        severity_raw: raw,
        severity_assumed: assumed,
        location: loc,
        claim: clean_inline(&text),
        evidence: None,
        fix: None,
    }
}

/// A paragraph whose first lines are an intro ("Overall this is a good change. Two
/// things:") and whose later line names a place: the intro is its own paragraph, so
/// the finding does not swallow it nor it the finding. Only whole sentences split off
/// (a hard-wrapped sentence does not end its line with `.`, `!` or `:`), and only when
/// they state no defect themselves.
fn split_intro(p: String) -> Vec<String> {
    let lines: Vec<&str> = p.lines().collect();
    let located =
        |l: &str| location::find(l, None).is_some_and(|f| f.location.start_line.is_some());
    let Some(k) = lines.iter().position(|l| located(l)) else {
        return vec![p];
    };
    if k == 0 {
        return vec![p];
    }
    let head = lines[..k].join("\n");
    let ends_sentence = head.trim_end().ends_with(['.', '!', ':']);
    if !ends_sentence
        || is_defect(&head)
        || head.trim_start().starts_with(['>', '-', '*', '#', '|'])
    {
        return vec![p];
    }
    vec![head, lines[k..].join("\n")]
}

/// A paragraph of lines that each begin with a place ("load.rs:61 — unwrap on the env
/// var…" / "load.rs:47 — port overflow…"), with no blank line between them: one finding
/// per such line, as a list without bullets. A line that does not begin with a place
/// stays with the one above it (a hard-wrapped comment).
fn split_located_lines(p: String) -> Vec<String> {
    let lines: Vec<&str> = p.lines().collect();
    let starts = |l: &str| {
        let t = l.trim_start().trim_start_matches(['`', '*']);
        location::find(t, None).is_some_and(|f| f.span.0 == 0 && f.location.start_line.is_some())
    };
    let heads: Vec<usize> = (0..lines.len()).filter(|&i| starts(lines[i])).collect();
    if heads.len() < 2 || heads[0] != 0 {
        return vec![p];
    }
    let mut out = Vec::new();
    for (k, &h) in heads.iter().enumerate() {
        let end = heads.get(k + 1).copied().unwrap_or(lines.len());
        out.push(lines[h..end].join("\n"));
    }
    out
}

/// A paragraph that opens by pointing back at the place of the finding before it
/// ("Same line, separate problem: …", "Also on the same line: …", "Same spot — …").
static SAME_PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^(?:also,?\s+)?(?:on\s+)?(?:the\s+|that\s+)?same\s+(?:line|lines|spot|place)\b(?:,\s*[^:—–.,]{1,40}?\s*(?::|—|–))?[\s,:—–]*(?P<rest>\S.*)$").unwrap()
});

/// The rest of a paragraph that opens with "Same line, …".
fn same_place(p: &str) -> Option<&str> {
    SAME_PLACE
        .captures(p)
        .map(|c| c.name("rest").unwrap().as_str())
}

/// `sources_are_places`: a researcher's paragraph that cites a URL is a finding located
/// at that source; in a review a URL is only a link.
pub(super) fn read_leftovers(parsed: &mut Parsed, sources_are_places: bool) {
    let paragraphs: Vec<String> = parsed
        .note
        .split("\n\n")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let mut prose_review = false;
    let mut kept = Vec::new();
    // The file the last located paragraph named: a later "Line 240: …" means that file.
    let mut last_path: Option<String> = None;
    // The place of the last located paragraph, for a "Same line, …" right after it.
    let mut last_place: Option<location::Found> = None;
    for p in paragraphs
        .into_iter()
        .flat_map(split_intro)
        .flat_map(split_located_lines)
    {
        let is_text = !p.starts_with(['#', '|', '>', '-', '*', '<'])
            && !p.starts_with("```")
            && p.split_whitespace().count() >= 6;
        let found = location::find(&p, last_path.as_deref())
            .filter(|f| !location::is_url(&f.location.path));
        let cited = sources_are_places
            .then(|| location::find(&p, None).filter(|f| location::is_url(&f.location.path)))
            .flatten();
        let located = found
            .clone()
            .filter(|f| f.location.start_line.is_some())
            .or(cited);
        // "Two problems in drivers/net/rx.c:" names the file the next paragraphs'
        // "around line 212" mean.
        if located.is_none()
            && let Some(f) = &found
        {
            last_path = Some(f.location.path.clone());
        }
        let same = last_place
            .take()
            .filter(|_| found.is_none())
            .and_then(|f| Some((f, same_place(&p)?)));
        if is_text && let Some((f, rest)) = same {
            last_place = Some(f.clone());
            parsed.findings.push(finding(rest, Some(f)));
        } else if is_text && let Some(f) = located {
            last_place = Some(f.clone());
            prose_review = true;
            if !location::is_url(&f.location.path) {
                last_path = Some(f.location.path.clone());
            }
            parsed.findings.push(finding(&p, Some(f)));
        } else if is_text && prose_review && is_defect(&p) {
            parsed.findings.push(finding(&p, None));
        } else {
            kept.push(p);
        }
    }
    parsed.note = kept.join("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn located_paragraphs_and_defects_after_them() {
        let mut p = Parsed {
            findings: Vec::new(),
            note: "Thanks, a few thoughts.\n\nThe body is drained at `client/http.go:57`, so retries send nothing.\n\nSmaller thing: the option isn't mentioned in the README.\n\nOtherwise this looks good to me.".into(),
        };
        read_leftovers(&mut p, false);
        assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
        assert_eq!(
            p.findings[0].location.as_ref().unwrap().to_string(),
            "client/http.go:57"
        );
        assert_eq!(
            p.findings[1].claim,
            "the option isn't mentioned in the README."
        );
        assert_eq!(
            p.note,
            "Thanks, a few thoughts.\n\nOtherwise this looks good to me."
        );
    }

    #[test]
    fn an_intro_line_is_not_part_of_the_first_finding() {
        let mut p = Parsed {
            findings: Vec::new(),
            note: "Overall this is a good change. Two things:\nThe retry loop at `client/http.go:57` drains the body, so retries send nothing.\n\nLine 90: the timeout is read before the config is loaded, so it is always zero.".into(),
        };
        read_leftovers(&mut p, false);
        assert_eq!(p.findings.len(), 2, "{:#?}", p.findings);
        assert!(p.findings[0].claim.starts_with("The retry loop"));
        assert_eq!(
            p.findings[1].location.as_ref().unwrap().to_string(),
            "client/http.go:90"
        );
        assert_eq!(p.note, "Overall this is a good change. Two things:");
    }

    #[test]
    fn a_researchers_paragraph_citing_a_source_is_a_finding() {
        let text = "The [`await_holding_lock` lint](https://rust-lang.github.io/rust-clippy/master/#await_holding_lock) warns when a guard is held across an await.\n\nNothing else to add.";
        let mut p = Parsed {
            findings: Vec::new(),
            note: text.into(),
        };
        read_leftovers(&mut p, true);
        assert_eq!(p.findings.len(), 1, "{:#?}", p.findings);
        assert!(
            p.findings[0]
                .location
                .as_ref()
                .unwrap()
                .path
                .starts_with("https://")
        );
        let mut q = Parsed {
            findings: Vec::new(),
            note: text.into(),
        };
        read_leftovers(&mut q, false);
        assert!(q.findings.is_empty(), "in a review a link is not a place");
    }

    #[test]
    fn lines_that_each_begin_with_a_place_are_one_finding_each() {
        let mut p = Parsed {
            findings: Vec::new(),
            note: "load.rs:61 — unwrap on the env var will crash the binary on a machine\nwithout APP_TIMEOUT.\nload.rs:47 — port overflow: 70000 becomes 4464 without a warning.\nload.rs:12 — doc says YAML, it's TOML.".into(),
        };
        read_leftovers(&mut p, false);
        assert_eq!(p.findings.len(), 3, "{:#?}", p.findings);
        assert!(p.findings[0].claim.ends_with("without APP_TIMEOUT."));
        assert_eq!(
            p.findings[1].location.as_ref().unwrap().to_string(),
            "load.rs:47"
        );
        // A place inside a line is no head: one paragraph, one finding.
        let mut q = Parsed {
            findings: Vec::new(),
            note: "The retry at load.rs:61 drains the body, so retries send nothing,\nand load.rs:47 is where it is read.".into(),
        };
        read_leftovers(&mut q, false);
        assert_eq!(q.findings.len(), 1, "{:#?}", q.findings);
    }

    #[test]
    fn same_line_takes_the_place_of_the_finding_before_it() {
        let mut p = Parsed {
            findings: Vec::new(),
            note: "invoices.py line 88: the query is built from `customer_id`, so it's injectable.\n\nSame line, separate problem: the pagination math skips an invoice between pages.\n\nAlso on the same line: the page size is never bounded by the server.".into(),
        };
        read_leftovers(&mut p, false);
        assert_eq!(p.findings.len(), 3, "{:#?}", p.findings);
        for f in &p.findings {
            assert_eq!(f.location.as_ref().unwrap().to_string(), "invoices.py:88");
        }
        assert_eq!(
            p.findings[1].claim,
            "the pagination math skips an invoice between pages."
        );
        assert!(p.findings[2].claim.starts_with("the page size"));
        // Not right after a located finding: no place to take.
        let mut q = Parsed {
            findings: Vec::new(),
            note: "Thanks for the change, it reads well overall.\n\nSame line, separate problem: the pagination math skips an invoice.".into(),
        };
        read_leftovers(&mut q, false);
        assert!(q.findings.is_empty(), "{:#?}", q.findings);
    }

    #[test]
    fn defect_words_alone_do_not_start_a_prose_review() {
        let mut p = Parsed {
            findings: Vec::new(),
            note: "This change should be fine, nothing is missing here.".into(),
        };
        read_leftovers(&mut p, false);
        assert!(p.findings.is_empty());
    }
}
