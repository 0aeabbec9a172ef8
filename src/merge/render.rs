//! Markdown rendering of a [`Report`]. (JSON is the serde form of the report.)

use std::fmt::Write;

use super::{OptionRow, Report, RunKind, Source, WorkerEntry};

/// Evidence and fix lines are cut to this many characters in markdown; JSON has them whole.
const DETAIL_CAP: usize = 240;

fn one_line(s: &str, cap: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > cap {
        let cut: String = s.chars().take(cap - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        s
    }
}

fn worker_name(w: &WorkerEntry) -> String {
    match (&w.lens, &w.role) {
        (Some(lens), _) => format!("{} ({lens})", w.label),
        (None, Some(role)) => format!("{} ({role})", w.label),
        (None, None) => w.label.clone(),
    }
}

fn header(r: &Report, out: &mut String) {
    let _ = writeln!(out, "# Merge of run {}\n", r.run);
    let pending: Vec<&str> = r
        .workers
        .iter()
        .filter(|w| matches!(w.state.as_str(), "running" | "queued"))
        .map(|w| w.label.as_str())
        .collect();
    if !pending.is_empty() {
        let _ = writeln!(
            out,
            "> **PARTIAL**: {} worker{} still running ({})\n",
            pending.len(),
            if pending.len() == 1 { "" } else { "s" },
            pending.join(", ")
        );
    }
    let included: Vec<String> = r
        .workers
        .iter()
        .filter(|w| w.included)
        .map(worker_name)
        .collect();
    let excluded: Vec<String> = r
        .workers
        .iter()
        .filter(|w| !w.included)
        .map(|w| format!("{} ({})", w.label, w.state))
        .collect();
    let _ = writeln!(
        out,
        "Included ({}): {}",
        included.len(),
        if included.is_empty() {
            "none".to_string()
        } else {
            included.join(", ")
        }
    );
    if !excluded.is_empty() {
        let _ = writeln!(
            out,
            "Excluded ({}): {}",
            excluded.len(),
            excluded.join(", ")
        );
    }
    out.push('\n');
}

fn source_tag(s: &Source) -> String {
    let mut parts = Vec::new();
    if let Some(lens) = &s.lens {
        parts.push(lens.clone());
    }
    parts.push(match (&s.severity_raw, s.severity_assumed) {
        (_, true) => "severity not given".to_string(),
        (Some(raw), false) if !raw.eq_ignore_ascii_case(s.severity.as_str()) => {
            format!("{raw} → {}", s.severity)
        }
        _ => s.severity.to_string(),
    });
    if let Some(l) = &s.location {
        parts.push(format!("`{l}`"));
    }
    format!("{} ({})", s.label, parts.join(", "))
}

fn review(r: &Report, out: &mut String) {
    let included = r.included_count();
    let _ = writeln!(out, "## Findings ({})\n", r.findings.len());
    if r.hidden > 0 {
        let _ = writeln!(
            out,
            "{} finding{} below {} not shown.\n",
            r.hidden,
            if r.hidden == 1 { "" } else { "s" },
            r.min_severity
        );
    }
    for (n, f) in r.findings.iter().enumerate() {
        let number = format!("{}. ", n + 1);
        // Continuation lines line up with the item text, as markdown wants.
        let pad = " ".repeat(number.len());
        let _ = write!(out, "{number}**{}**", f.severity.as_str().to_uppercase());
        if f.severity_assumed {
            out.push_str(" (severity not given)");
        }
        if let Some(l) = &f.location {
            let _ = write!(out, " `{l}`");
        }
        let _ = writeln!(out, " — {}", one_line(&f.claim, usize::MAX));
        let mut workers: Vec<&str> = f.sources.iter().map(|s| s.label.as_str()).collect();
        workers.sort();
        workers.dedup();
        let _ = writeln!(
            out,
            "{pad}reported by: {} ({}/{})",
            f.reported_by.join(", "),
            workers.len(),
            included
        );
        let rep = &f.sources[0];
        if let Some(e) = &rep.evidence {
            let _ = writeln!(out, "{pad}evidence: {}", one_line(e, DETAIL_CAP));
        }
        if let Some(x) = &rep.fix {
            let _ = writeln!(out, "{pad}fix: {}", one_line(x, DETAIL_CAP));
        }
        if f.sources.len() > 1 {
            let _ = writeln!(out, "{pad}- {}: (wording above)", source_tag(rep));
            for s in &f.sources[1..] {
                let _ = writeln!(
                    out,
                    "{pad}- {}: {}",
                    source_tag(s),
                    one_line(&s.text, usize::MAX)
                );
            }
        }
    }
    if r.findings.is_empty() {
        out.push_str("No findings at or above the minimum severity.\n");
    }
    if !r.notes.is_empty() {
        out.push_str("\n## Notes\n\nText no reader took as a finding, kept as written.\n");
        for note in &r.notes {
            let name = r
                .workers
                .iter()
                .find(|w| w.label == note.label)
                .map_or(note.label.clone(), worker_name);
            let lines = note.text.lines().filter(|l| !l.trim().is_empty()).count();
            let _ = writeln!(
                out,
                "\n### Unparsed text from {name} ({lines} line{})\n",
                if lines == 1 { "" } else { "s" }
            );
            for line in note.text.lines() {
                if line.trim().is_empty() {
                    out.push_str(">\n");
                } else {
                    let _ = writeln!(out, "> {line}");
                }
            }
        }
    }
}

fn cell(s: Option<&str>) -> String {
    s.unwrap_or("").replace('|', "\\|")
}

type Getter = fn(&OptionRow) -> Option<&str>;

fn digest(r: &Report, out: &mut String) {
    out.push_str("No findings to merge; final messages follow.\n");
    if !r.options.is_empty() {
        out.push_str("\n## Options compared\n\n");
        let cols: [(&str, Getter); 4] = [
            ("Pros", |o| o.pros.as_deref()),
            ("Cons", |o| o.cons.as_deref()),
            ("Effort", |o| o.effort.as_deref()),
            ("Risk", |o| o.risk.as_deref()),
        ];
        let cols: Vec<_> = cols
            .into_iter()
            .filter(|(_, get)| r.options.iter().any(|o| get(o).is_some()))
            .collect();
        out.push_str("| Option | From | Title |");
        for (name, _) in &cols {
            let _ = write!(out, " {name} |");
        }
        out.push_str("\n|---|---|---|");
        for _ in &cols {
            out.push_str("---|");
        }
        out.push('\n');
        for o in &r.options {
            let _ = write!(
                out,
                "| {} | {} | {} |",
                cell(Some(&o.option)),
                cell(Some(&o.label)),
                cell(o.title.as_deref())
            );
            for (_, get) in &cols {
                let _ = write!(out, " {} |", cell(get(o)));
            }
            out.push('\n');
        }
    }
    for s in &r.digest {
        let name = r
            .workers
            .iter()
            .find(|w| w.label == s.label)
            .map_or(s.label.clone(), worker_name);
        let _ = writeln!(out, "\n## {name}\n");
        match s.text.as_deref().map(str::trim_end) {
            Some(t) if !t.trim().is_empty() => {
                out.push_str(t);
                out.push('\n');
            }
            _ => out.push_str("(no final message)\n"),
        }
    }
}

pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    header(r, &mut out);
    match r.kind {
        RunKind::Review => review(r, &mut out),
        RunKind::Digest => digest(r, &mut out),
    }
    out
}
