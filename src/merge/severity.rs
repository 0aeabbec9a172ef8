//! Severity levels and the many ways models spell them.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// How bad a finding is. `Ord` puts `Critical` highest, so `max()` picks the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub(crate) fn rank(self) -> u8 {
        match self {
            Severity::Critical => 4,
            Severity::High => 3,
            Severity::Medium => 2,
            Severity::Low => 1,
            Severity::Info => 0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// Maps a word a model used for severity or priority to a level.
    ///
    /// P0–P3 follow the usual bug-tracker meaning (P0 = drop everything). Words that
    /// are not about severity return `None`; the caller then assumes `Medium`.
    pub fn from_word(word: &str) -> Option<Severity> {
        let w = word.trim().trim_matches(|c: char| !c.is_alphanumeric());
        let w = w.to_ascii_lowercase();
        Some(match w.as_str() {
            "critical" | "crit" | "blocker" | "blocking" | "severe" | "p0" | "s0" | "sev0"
            | "sev1" | "showstopper" => Severity::Critical,
            "high" | "major" | "important" | "serious" | "p1" | "s1" | "sev2" => Severity::High,
            "medium" | "med" | "moderate" | "normal" | "p2" | "s2" | "sev3" => Severity::Medium,
            "low" | "minor" | "trivial" | "p3" | "s3" | "sev4" | "p4" => Severity::Low,
            "info" | "informational" | "nit" | "nitpick" | "nits" | "suggestion" | "note"
            | "optional" | "cosmetic" | "fyi" | "question" => Severity::Info,
            _ => return None,
        })
    }

    /// Maps a label a review bot or a review habit puts on a finding — the one place
    /// these words are mapped:
    ///
    /// | label | level |
    /// |---|---|
    /// | `P0`, codex priority 0, Critical, Blocker, Must fix | critical |
    /// | `P1`, priority 1, High, Major, Sourcery `issue` | high |
    /// | `P2`, priority 2, Medium, Should fix, Sourcery `suggestion`, CodeRabbit `Refactor suggestion` | medium |
    /// | `P3`, priority 3, Low, Minor | low |
    /// | nit, Nitpick, `nitpick`, Optional, Info, Sourcery `praise` | info |
    /// | compiler/linter/SARIF `error`, GitHub `[!CAUTION]` | high |
    /// | `warning` | medium |
    /// | `note`, `hint`, `[!TIP]`, SARIF `none` | info |
    ///
    /// Every word [`Severity::from_word`] knows is accepted too.
    pub fn from_label(label: &str) -> Option<Severity> {
        let l = label.trim().to_ascii_lowercase();
        let l = l.trim_end_matches(|c: char| !c.is_alphanumeric());
        Some(match l {
            "must fix" | "blockers" | "critical issues" => Severity::Critical,
            "issue" | "bug" | "bug_risk" => Severity::High,
            "should fix" | "suggestion" | "refactor suggestion" => Severity::Medium,
            "nits" | "nitpicks" | "praise" | "nitpick comments" | "could fix" => Severity::Info,
            // Compiler, linter and SARIF levels.
            "error" | "caution" => Severity::High,
            // Not blocking the merge, but to be fixed: the cap Conventional Comments gives it.
            "non-blocking" | "nonblocking" | "non blocking" => Severity::Medium,
            "warning" | "warn" => Severity::Medium,
            "hint" | "tip" | "none" => Severity::Info,
            _ => return Severity::from_word(l),
        })
    }

    /// A Conventional Comments label (conventionalcomments.org) with its decorations:
    /// `issue` = high, `suggestion` / `todo` / `chore` / `typo` / `polish` = low,
    /// `nitpick` / `question` / `thought` / `note` = info; `(blocking)` raises to at
    /// least high, `(non-blocking)` caps at medium. `praise` is no finding (`None`).
    pub fn from_conventional(label: &str, decorations: &[&str]) -> Option<Severity> {
        let base = match label.to_ascii_lowercase().as_str() {
            "issue" => Severity::High,
            "suggestion" | "todo" | "chore" | "typo" | "polish" => Severity::Low,
            "nitpick" | "nit" | "quibble" | "question" | "thought" | "note" => Severity::Info,
            _ => return None,
        };
        let has = |d: &str| decorations.iter().any(|x| x.trim().eq_ignore_ascii_case(d));
        Some(if has("blocking") {
            base.max(Severity::High)
        } else if has("non-blocking") || has("if-minor") {
            base.min(Severity::Medium)
        } else {
            base
        })
    }

    /// The five-level scale of SonarQube and Code Climate (`blocker` > `critical` >
    /// `major` > `minor` > `info`), one step below the words' everyday meaning.
    pub fn from_five_level(word: &str) -> Option<Severity> {
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "blocker" => Severity::Critical,
            "critical" => Severity::High,
            "major" => Severity::Medium,
            "minor" => Severity::Low,
            "info" => Severity::Info,
            _ => return Severity::from_label(word),
        })
    }

    /// codex review JSON's `priority`: 0 = drop everything … 3 = low.
    pub fn from_priority(p: u64) -> Option<Severity> {
        Some(match p {
            0 => Severity::Critical,
            1 => Severity::High,
            2 => Severity::Medium,
            3 => Severity::Low,
            _ => return None,
        })
    }

    /// Maps the traffic-light emoji some models prefix findings with. With only three
    /// colours in common use, red is read as `High` (not `Critical`) so a model that
    /// marks half its list red does not flood the top of the report.
    pub fn from_emoji(c: char) -> Option<Severity> {
        Some(match c {
            '🚨' | '‼' => Severity::Critical,
            '🔴' | '🟥' | '🟠' | '🟧' => Severity::High,
            '🟡' | '🟨' | '⚠' => Severity::Medium,
            '🟢' | '🟩' => Severity::Low,
            '🔵' | '🟦' | '⚪' | 'ℹ' | '💡' => Severity::Info,
            _ => return None,
        })
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?} (expected critical, high, medium, low or info)")]
pub struct ParseSeverityError(pub String);

impl FromStr for Severity {
    type Err = ParseSeverityError;

    /// Accepts exactly the five level names (any case), as a CLI flag should.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Ok(Severity::Critical),
            "high" => Ok(Severity::High),
            "medium" => Ok(Severity::Medium),
            "low" => Ok(Severity::Low),
            "info" => Ok(Severity::Info),
            _ => Err(ParseSeverityError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_is_highest() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Info);
        assert_eq!(
            Severity::ALL.iter().copied().max(),
            Some(Severity::Critical)
        );
    }

    #[test]
    fn from_str_accepts_level_names_only() {
        assert_eq!("High".parse::<Severity>(), Ok(Severity::High));
        assert_eq!("info".parse::<Severity>(), Ok(Severity::Info));
        assert!("p1".parse::<Severity>().is_err());
    }

    #[test]
    fn words_and_priorities() {
        let cases = [
            ("P0", Severity::Critical),
            ("P1", Severity::High),
            ("P2", Severity::Medium),
            ("P3", Severity::Low),
            ("blocker", Severity::Critical),
            ("Major", Severity::High),
            ("minor", Severity::Low),
            ("nit", Severity::Info),
            ("suggestion", Severity::Info),
        ];
        for (word, want) in cases {
            assert_eq!(Severity::from_word(word), Some(want), "{word}");
        }
        assert_eq!(Severity::from_word("banana"), None);
    }

    #[test]
    fn emoji() {
        assert_eq!(Severity::from_emoji('🔴'), Some(Severity::High));
        assert_eq!(Severity::from_emoji('🟢'), Some(Severity::Low));
        assert_eq!(Severity::from_emoji('x'), None);
    }
}
