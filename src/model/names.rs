//! Run ids and worker labels: the only names that become paths, so validated here.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use crate::model::error::UserError;

pub const LABEL_MAX: usize = 64;

/// A label is 1–64 of `[A-Za-z0-9._-]`, not starting with `-` or `.`: safe as a file
/// name, a tmux window name and a shell word, and never `.`/`..`.
pub fn validate_label(label: &str) -> Result<(), UserError> {
    let why = if label.is_empty() {
        Some("it is empty".to_string())
    } else if label.len() > LABEL_MAX {
        Some(format!(
            "it has {} characters (at most {LABEL_MAX})",
            label.len()
        ))
    } else if label.starts_with('-') || label.starts_with('.') {
        Some("it starts with '-' or '.'".to_string())
    } else {
        label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map(|c| format!("it contains {c:?}"))
    };
    match why {
        None => Ok(()),
        Some(why) => Err(UserError::usage(format!(
            "invalid label {}: {why}; use 1-{LABEL_MAX} of A-Z a-z 0-9 . _ - not starting with - or .",
            shown(label)
        ))),
    }
}

/// A run id as orch makes it: `YYYYMMDD-HHMM-xxx`. Only its shape is checked, so a
/// typed prefix can never name a path outside the runs folder.
pub fn validate_run_ref(text: &str) -> Result<(), UserError> {
    let ok = !text.is_empty()
        && text.len() <= 40
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !text.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(UserError::usage(format!(
            "invalid run id {}: a run id looks like 20261124-1412-k3f (a unique prefix is enough)",
            shown(text)
        )))
    }
}

/// A fresh run id for local time `now`; `salt` varies the 3-character suffix on retry.
pub fn new_run_id(now: chrono::DateTime<chrono::Local>, salt: u64) -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u32(std::process::id());
    h.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    let mut n = h.finish();
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut suffix = String::new();
    for _ in 0..3 {
        suffix.push(ALPHABET[(n % ALPHABET.len() as u64) as usize] as char);
        n /= ALPHABET.len() as u64;
    }
    format!("{}-{suffix}", now.format("%Y%m%d-%H%M"))
}

/// Quotes user text for an error message without letting control characters through.
pub fn shown(text: &str) -> String {
    let clipped: String = text.chars().take(80).collect();
    let more = if text.chars().count() > 80 { "…" } else { "" };
    format!("{:?}{more}", clipped)
}

/// The closest candidate by edit distance, for "did you mean" hints.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(wanted, c), c))
        // A third of the longer name, at least one edit: `securty` → `security`,
        // but `y42` is not a typo of `q2`.
        .filter(|(d, c)| *d <= (c.len().max(wanted.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["W1", "security", "a.b_c-d", &"x".repeat(64)] {
            assert!(validate_label(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            "-x",
            ".x",
            "a\nb",
            &"x".repeat(65),
            "a b",
            "é",
        ] {
            assert!(validate_label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn run_refs() {
        assert!(validate_run_ref("20261124-1412-k3f").is_ok());
        assert!(validate_run_ref("2026").is_ok());
        for bad in ["", "../x", "a/b", "-x", "a.b"] {
            assert!(validate_run_ref(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn run_ids_sort_by_time() {
        use chrono::TimeZone;
        let a = new_run_id(
            chrono::Local.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            1,
        );
        assert!(a.starts_with("20260102-0304-"), "{a}");
        assert_eq!(a.len(), "20260102-0304-abc".len());
        assert!(validate_run_ref(&a).is_ok());
    }

    #[test]
    fn closest_suggests() {
        assert_eq!(closest("securty", ["security", "tests"]), Some("security"));
        assert_eq!(closest("zzzzzzzz", ["security", "tests"]), None);
        assert_eq!(closest("y42", ["q2", "W1"]), None);
        assert_eq!(closest("W11", ["W1", "W2"]), Some("W1"));
    }
}
