//! Runs that are not reviews: researchers, implementers, options sprints.
//!
//! The digest keeps every included worker's final message verbatim, one section each.
//! When the messages propose options, a comparison table is added. An option is a
//! heading or bold line `Option A`, `Option 2: Title`, `Alternative B — Title`,
//! `Approach 1` (any heading level), running to the next option or to the next
//! heading of the same or a higher level. Inside it, `Pros:` / `Cons:` / `Effort:` /
//! `Risk:` lines (also bold, also as bullets; synonyms such as advantages, drawbacks,
//! cost, complexity) fill the table; a field with no value on its line takes the
//! bullets below it. The table is built when at least two options are found and some
//! option has a field, or when any included worker has role `options`.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::WorkerOutput;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestSection {
    pub label: String,
    pub role: Option<String>,
    pub lens: Option<String>,
    pub state: String,
    /// The final message verbatim (`None` if the worker left none).
    pub text: Option<String>,
}

/// One option as one worker described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionRow {
    pub label: String,
    /// The option's name as written: `A`, `2`.
    pub option: String,
    pub title: Option<String>,
    pub pros: Option<String>,
    pub cons: Option<String>,
    pub effort: Option<String>,
    pub risk: Option<String>,
}

pub fn sections(workers: &[&WorkerOutput]) -> Vec<DigestSection> {
    workers
        .iter()
        .map(|w| DigestSection {
            label: w.label.clone(),
            role: w.role.clone(),
            lens: w.lens.clone(),
            state: w.state.clone(),
            text: w.text.clone(),
        })
        .collect()
}

static OPTION_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s{0,3}(?P<hashes>#{1,6}\s+)?(?:\*\*)?\s*(?:option|alternative|approach)\s+(?P<name>[A-Z]|\d{1,2})\b\s*(?:\*\*)?\s*(?P<sep>[:.)\-–—])?\s*(?P<title>.*?)\s*(?:\*\*)?\s*$",
    )
    .unwrap()
});
static HEADING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s{0,3}(#{1,6})\s").unwrap());
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:[-*+]\s+)?(?:\*\*)?(?P<key>pros?|advantages|benefits|upsides?|cons?|disadvantages|drawbacks|downsides?|effort|cost|time|complexity|risks?)(?:\*\*)?\s*:\s*(?:\*\*)?\s*(?P<val>.*?)\s*$",
    )
    .unwrap()
});
static BULLET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(.*)$").unwrap());

#[derive(Clone, Copy, PartialEq)]
enum Col {
    Pros,
    Cons,
    Effort,
    Risk,
}

fn column(key: &str) -> Col {
    match key.to_lowercase().as_str() {
        "pro" | "pros" | "advantages" | "benefits" | "upside" | "upsides" => Col::Pros,
        "con" | "cons" | "disadvantages" | "drawbacks" | "downside" | "downsides" => Col::Cons,
        "risk" | "risks" => Col::Risk,
        _ => Col::Effort,
    }
}

fn cell(parts: &[String]) -> Option<String> {
    const CAP: usize = 160;
    let joined = parts
        .iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
        .replace("**", "");
    if joined.is_empty() {
        return None;
    }
    if joined.chars().count() > CAP {
        let cut: String = joined.chars().take(CAP - 1).collect();
        Some(format!("{}…", cut.trim_end()))
    } else {
        Some(joined)
    }
}

/// Options proposed in one message, in the order written.
pub fn parse_options(label: &str, text: &str) -> Vec<OptionRow> {
    struct Cur {
        row: OptionRow,
        level: usize,
        fields: [Vec<String>; 4],
        field: Option<Col>,
    }
    let finish = |c: Cur| {
        let mut row = c.row;
        row.pros = cell(&c.fields[0]);
        row.cons = cell(&c.fields[1]);
        row.effort = cell(&c.fields[2]);
        row.risk = cell(&c.fields[3]);
        row
    };
    let mut out = Vec::new();
    let mut cur: Option<Cur> = None;
    let mut fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        if let Some(c) = OPTION_HEAD.captures(line) {
            // `Option A is cheaper` or `Option A.` in a paragraph is prose, not a heading.
            let marked = c.name("hashes").is_some() || line.trim_start().starts_with("**");
            let titled_sep =
                c.name("sep").is_some_and(|m| m.as_str() != ".") && !c["title"].is_empty();
            if !marked && !titled_sep {
                continue;
            }
            let level = c.name("hashes").map_or(7, |h| h.as_str().trim().len());
            if let Some(done) = cur.take() {
                out.push(finish(done));
            }
            let title = c["title"].trim().trim_end_matches("**").trim();
            cur = Some(Cur {
                row: OptionRow {
                    label: label.to_string(),
                    option: c["name"].to_uppercase(),
                    title: (!title.is_empty()).then(|| title.replace("**", "")),
                    pros: None,
                    cons: None,
                    effort: None,
                    risk: None,
                },
                level,
                fields: Default::default(),
                field: None,
            });
            continue;
        }
        let Some(c) = cur.as_mut() else { continue };
        if let Some(h) = HEADING.captures(line)
            && h[1].len() <= c.level
        {
            out.push(finish(cur.take().unwrap()));
            continue;
        }
        if let Some(f) = FIELD.captures(line) {
            let col = column(&f["key"]);
            let val = f["val"].to_string();
            if !val.is_empty() {
                c.fields[col as usize].push(val);
            }
            c.field = Some(col);
            continue;
        }
        if let (Some(col), Some(b)) = (c.field, BULLET.captures(line))
            && line.starts_with([' ', '\t'])
        {
            c.fields[col as usize].push(b[1].to_string());
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        c.field = None;
    }
    if let Some(done) = cur.take() {
        out.push(finish(done));
    }
    out
}

/// The comparison table for an options sprint, or nothing.
pub fn options_table(workers: &[&WorkerOutput]) -> Vec<OptionRow> {
    let rows: Vec<OptionRow> = workers
        .iter()
        .flat_map(|w| parse_options(&w.label, w.text.as_deref().unwrap_or("")))
        .collect();
    let has_field = rows
        .iter()
        .any(|r| r.pros.is_some() || r.cons.is_some() || r.effort.is_some() || r.risk.is_some());
    let options_role = workers.iter().any(|w| {
        w.role
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("options"))
    });
    if (rows.len() >= 2 && has_field) || (options_role && !rows.is_empty()) {
        rows
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_with_fields() {
        let text = "Intro.\n\n## Option A: Use tmux\n- **Pros:** simple, proven\n- **Cons:** needs tmux\n- Effort: S\n- Risk: low\n\n## Option B — Own pty layer\nPros:\n  - full control\n  - no deps\nCons: lots of code\nEffort: L\n\n## Recommendation\nGo with A.\n";
        let rows = parse_options("W1", text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].option, "A");
        assert_eq!(rows[0].title.as_deref(), Some("Use tmux"));
        assert_eq!(rows[0].pros.as_deref(), Some("simple, proven"));
        assert_eq!(rows[0].risk.as_deref(), Some("low"));
        assert_eq!(rows[1].title.as_deref(), Some("Own pty layer"));
        assert_eq!(rows[1].pros.as_deref(), Some("full control; no deps"));
        assert_eq!(rows[1].effort.as_deref(), Some("L"));
        assert_eq!(rows[1].risk, None);
    }

    #[test]
    fn prose_mentions_are_not_options() {
        let rows = parse_options(
            "W1",
            "## Option A: X\nPros: a\n\n## Recommendation\nOption A.\nOption B is worse\n",
        );
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn bold_option_lines() {
        let rows = parse_options(
            "W2",
            "**Option 1: Polling**\nCons: slow\n\n**Option 2: inotify**\nPros: fast\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].option, "2");
        assert_eq!(rows[1].pros.as_deref(), Some("fast"));
    }
}
