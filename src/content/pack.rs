//! Context packs: a short markdown file that tells workers what they cannot infer
//! (Goal, Non-goals, Constraints, Pointers, Prior decisions, Success check).
//!
//! orch refuses a pack whose Goal or Success check is missing or empty: a worker handed
//! a pack without them is worse off than one handed none.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::{Context, bail};
use regex::Regex;
use thiserror::Error;

use crate::content::share::Share;

/// The sections of the skeleton, in order.
pub const SECTIONS: &[&str] = &[
    "Goal",
    "Non-goals",
    "Constraints",
    "Pointers",
    "Prior decisions",
    "Success check",
];

/// The sections a pack must fill in.
pub const REQUIRED: &[&str] = &["Goal", "Success check"];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PackError {
    #[error("context pack {}: {}", path.display(), describe(missing, empty))]
    Incomplete {
        path: PathBuf,
        /// Required sections with no heading at all.
        missing: Vec<String>,
        /// Required sections whose heading is there but with nothing under it.
        empty: Vec<String>,
    },
}

/// What is wrong and what to do: fill in what is there but empty; add what is missing
/// (the skeleton from `orch pack new` has every section).
fn describe(missing: &[String], empty: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "no {} section (add it; `orch pack new` writes a skeleton with every section)",
            missing.join(" or ")
        ));
    }
    if !empty.is_empty() {
        parts.push(format!(
            "fill in its {} section{}",
            empty.join(" and "),
            if empty.len() > 1 { "s" } else { "" }
        ));
    }
    parts.join("; ")
}

/// The canonical section a heading names, if any. `Success criteria` counts as
/// `Success check`.
fn section_name(title: &str) -> Option<&'static str> {
    let t = title
        .trim()
        .trim_end_matches(':')
        .trim()
        .to_ascii_lowercase();
    let t = t.trim_matches('*').trim();
    match t {
        "goal" | "goals" => Some("Goal"),
        "non-goals" | "non-goal" | "nongoals" | "non goals" => Some("Non-goals"),
        "constraints" => Some("Constraints"),
        "pointers" => Some("Pointers"),
        "prior decisions" => Some("Prior decisions"),
        "success check" | "success checks" | "success criteria" => Some("Success check"),
        _ => None,
    }
}

/// What a line opens: `Some((section or None for another heading, inline content))`.
/// Recognised: markdown headings of any level (`# Goal`, `## Goal:`), and `Goal: text`
/// lines (optionally as a `- ` bullet, as packs are often written).
fn line_opens(line: &str) -> Option<(Option<&'static str>, &str)> {
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix('#') {
        let title = rest.trim_start_matches('#');
        if title.is_empty() || title.starts_with(' ') || title.starts_with('\t') {
            return Some((section_name(title), ""));
        }
    }
    let body = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
        .unwrap_or(trimmed);
    let (head, rest) = body.split_once(':')?;
    let name = section_name(head)?;
    Some((Some(name), rest.trim_start_matches('*')))
}

/// Removes `<!-- … -->` comments (the skeleton's hints).
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The content of each recognised section, hints removed; a section given twice is
/// concatenated.
pub fn sections(text: &str) -> Vec<(&'static str, String)> {
    let text = strip_comments(text);
    let mut found: Vec<(&'static str, String)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in text.lines() {
        if let Some((name, inline)) = line_opens(line) {
            current = name.map(|name| match found.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    found.push((name, String::new()));
                    found.len() - 1
                }
            });
            if let Some(i) = current {
                found[i].1.push_str(inline.trim());
                found[i].1.push('\n');
            }
        } else if let Some(i) = current {
            found[i].1.push_str(line);
            found[i].1.push('\n');
        }
    }
    for (_, body) in &mut found {
        *body = body.trim().to_string();
    }
    found
}

/// Refuses a pack with a missing or empty Goal or Success check.
pub fn validate(text: &str, path: &Path) -> Result<(), PackError> {
    let found = sections(text);
    let mut missing = Vec::new();
    let mut empty = Vec::new();
    for required in REQUIRED {
        match found.iter().find(|(n, _)| n == required) {
            None => missing.push(required.to_string()),
            Some((_, body)) if body.is_empty() => empty.push(required.to_string()),
            Some(_) => {}
        }
    }
    if missing.is_empty() && empty.is_empty() {
        Ok(())
    } else {
        Err(PackError::Incomplete {
            path: path.to_path_buf(),
            missing,
            empty,
        })
    }
}

/// The pack as it goes into a worker's prompt: hints removed, blank runs squeezed.
pub fn for_prompt(text: &str) -> String {
    // A comment on a line of its own takes the line with it.
    static HINT_LINE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)^[ \t]*<!--(?s:.*?)-->[ \t]*(\r?\n|$)").expect("valid regex")
    });
    let stripped = strip_comments(&HINT_LINE.replace_all(text, ""));
    let mut out = String::new();
    let mut blank = true;
    for line in stripped.lines() {
        let is_blank = line.trim().is_empty();
        if is_blank && blank {
            continue;
        }
        out.push_str(line.trim_end());
        out.push('\n');
        blank = is_blank;
    }
    out.trim_end().to_string()
}

/// Writes the skeleton to `dest` (default `context.md` in the current directory; `-`
/// for stdout) and returns where it went. Refuses to overwrite unless `force`.
pub fn write_skeleton(dest: Option<&Path>, force: bool, share: &Share) -> anyhow::Result<PathBuf> {
    let skeleton = share.pack_skeleton();
    let dest = dest.unwrap_or(Path::new("context.md"));
    if dest == Path::new("-") {
        std::io::stdout()
            .write_all(skeleton.as_bytes())
            .context("writing the context pack skeleton to stdout")?;
        return Ok(dest.to_path_buf());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // create_new: no window between "does it exist?" and the write.
        options.create_new(true);
    }
    let mut file = match options.open(dest) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} already exists; pass --force to overwrite it",
                dest.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", dest.display())),
    };
    file.write_all(skeleton.as_bytes())
        .with_context(|| format!("writing {}", dest.display()))?;
    Ok(dest.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), PackError> {
        validate(text, Path::new("ctx.md"))
    }

    #[test]
    fn accepts_heading_and_colon_forms() {
        assert_eq!(
            check("# Goal\nShip it.\n\n## Success check\ncargo test passes\n"),
            Ok(())
        );
        assert_eq!(check("goal: ship it\nSUCCESS CHECK: tests pass\n"), Ok(()));
        assert_eq!(
            check("- Goal: ship it\n- Success criteria:\n  - tests pass\n"),
            Ok(())
        );
        assert_eq!(check("### goal:\nx\n# Success checks\ny"), Ok(()));
    }

    #[test]
    fn missing_goal_is_named() {
        let err = check("## Success check\ntests pass\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "context pack ctx.md: no Goal section (add it; `orch pack new` writes a skeleton with every section)"
        );
    }

    #[test]
    fn missing_success_check_is_named() {
        let err = check("## Goal\nship\n## Pointers\nsrc/\n").unwrap_err();
        assert!(
            err.to_string().contains("no Success check section"),
            "{err}"
        );
    }

    #[test]
    fn empty_section_counts_as_empty_even_with_a_hint() {
        let err =
            check("## Goal\n<!-- what good looks like -->\n\n## Success check\nok\n").unwrap_err();
        assert!(
            err.to_string().contains("fill in its Goal section"),
            "{err}"
        );
        let err = check("## Goal\n## Success check\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("fill in its Goal and Success check sections"),
            "{err}"
        );
    }

    #[test]
    fn the_unfilled_skeleton_is_refused() {
        let skeleton = Share::from_roots(vec![]).pack_skeleton();
        let err = check(&skeleton).unwrap_err();
        assert_eq!(
            err,
            PackError::Incomplete {
                path: "ctx.md".into(),
                missing: vec![],
                empty: vec!["Goal".into(), "Success check".into()],
            }
        );
        let names: Vec<&str> = sections(&skeleton).iter().map(|(n, _)| *n).collect();
        assert_eq!(names, SECTIONS);
    }

    #[test]
    fn other_headings_end_a_section() {
        let text = "## Goal\nship\n## Notes\nlots\n## Success check\n";
        assert!(
            check(text)
                .unwrap_err()
                .to_string()
                .contains("fill in its Success check section")
        );
        assert_eq!(sections(text)[0], ("Goal", "ship".to_string()));
    }

    #[test]
    fn for_prompt_drops_hints() {
        assert_eq!(
            for_prompt("# Goal\n<!-- hint -->\nship\n\n\n\nmore\n"),
            "# Goal\nship\n\nmore"
        );
    }

    #[test]
    fn write_skeleton_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::from_roots(vec![]);
        let dest = dir.path().join("context.md");
        assert_eq!(write_skeleton(Some(&dest), false, &share).unwrap(), dest);
        assert_eq!(
            std::fs::read_to_string(&dest).unwrap(),
            share.pack_skeleton()
        );
        std::fs::write(&dest, "mine").unwrap();
        let err = write_skeleton(Some(&dest), false, &share)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists; pass --force"), "{err}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "mine");
        write_skeleton(Some(&dest), true, &share).unwrap();
        assert_eq!(
            std::fs::read_to_string(&dest).unwrap(),
            share.pack_skeleton()
        );
    }
}
