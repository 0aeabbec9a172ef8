//! Grouping duplicate findings across workers.
//!
//! Two findings are candidates for the same group when
//! - they name the same file and their line ranges overlap ([`SIM_OVERLAP`]) or lie
//!   within [`NEAR_LINES`] of each other ([`SIM_NEAR`]), and their claims are similar; or
//! - they name the same file but at least one gives no lines, and the claims are
//!   clearly similar ([`SIM_FILE`]); or
//! - at least one gives no location, and the claims are close ([`SIM_FREE`]) and share
//!   at least [`FREE_MIN_COMMON`] tokens (so "no tests for X" and "no tests for Y",
//!   one word apart, stay two findings).
//!
//! - they are at one place (same file, overlapping or near lines), their severities are
//!   at most one level apart, and both claims name the same kind of defect
//!   ([`super::tokens`] kinds: "hangs" / "deadlocks", "password" / "credentials"): then a
//!   low similarity ([`SIM_ANCHOR`]) is enough — paraphrases of one defect share few
//!   words, but they share the place and the kind. A code name both claims mention is
//!   not enough on its own: every finding at a line tends to name that line's code.
//! - their line ranges overlap, their severities are at most one level apart, and
//!   neither claim names a kind of defect: then [`SIM_OVERLAP_PLAIN`] is enough, a little
//!   under [`SIM_OVERLAP`] — the shared lines are strong evidence, and a paraphrase
//!   shares a word or two ("remove or fill this block" / "the block swallows the
//!   error"). When one side names a kind and the other does not, the usual bar holds.
//!
//! Never on location alone: two claims that name *different* kinds of defect (an XSS
//! and an undefined name at one line), or whose severities are two levels apart, need
//! the clear agreement of [`SIM_FILE`] to fold, wherever they are.
//!
//! Tokens are the claim's words (camelCase split, a light stemmer, a small synonym
//! table); a claim that is a bare title ("Logging") is matched with its evidence.
//!
//! Findings in different files are never grouped, nor are findings that only share a
//! file. Candidate pairs are joined most-similar first; two groups are not joined if a
//! worker would then appear in it twice, unless that pair is itself a near-certain
//! duplicate ([`SIM_SAME_WORKER`]) — a worker rarely reports one problem twice, and
//! this stops chains (A≈B, B≈C) from swallowing distinct issues.
//!
//! Similarity is a blend of Jaccard and overlap coefficient over claim tokens after
//! stop-word removal and a light stemmer (suffix stripping, then the first five
//! letters), so `validation`/`validated`/`validate` meet. Thresholds were tuned on
//! `tests/fixtures/merge`.

use std::collections::{BTreeMap, HashMap};

pub use super::tokens::{Interner, classes, stem, tokens};

/// Line ranges this far apart still count as the same place.
pub const NEAR_LINES: u32 = 5;
pub const SIM_OVERLAP: f64 = 0.2;
pub const SIM_NEAR: f64 = 0.25;
pub const SIM_FILE: f64 = 0.45;
pub const SIM_FREE: f64 = 0.34;
pub const FREE_MIN_COMMON: usize = 2;
pub const SIM_SAME_WORKER: f64 = 0.8;
/// Same place, compatible severity, and both claims name the same kind of defect.
pub const SIM_ANCHOR: f64 = 0.1;
/// Overlapping lines, compatible severity, and neither claim names a kind of defect.
pub const SIM_OVERLAP_PLAIN: f64 = 0.15;

pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
    similarity_parts(a, b).0
}

/// Similarity and the number of tokens in common.
pub fn similarity_parts(a: &[u32], b: &[u32]) -> (f64, usize) {
    if a.is_empty() || b.is_empty() {
        return (0.0, 0);
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let c = common as f64;
    let jaccard = c / (a.len() + b.len() - common) as f64;
    let overlap = c / a.len().min(b.len()) as f64;
    ((jaccard + overlap) / 2.0, common)
}

/// What grouping needs to know about one finding.
pub struct Item<'a> {
    pub worker: usize,
    /// The severity the worker gave, `None` when assumed.
    pub severity: Option<super::severity::Severity>,
    pub path: Option<&'a str>,
    pub lines: Option<(u32, u32)>,
    pub tokens: Vec<u32>,
    /// The defect classes the claim names ([`classes`]).
    pub classes: u64,
}

/// The similarity needed for two items to be joined and the tokens they must share,
/// or `None` when their locations rule it out.
fn threshold(a: &Item<'_>, b: &Item<'_>) -> Option<(f64, usize)> {
    let mut anchored = false;
    let mut overlap = false;
    let (t, common) = match (a.path, b.path) {
        (Some(p), Some(q)) if p != q => return None,
        (Some(_), Some(_)) => match (a.lines, b.lines) {
            (Some((s1, e1)), Some((s2, e2))) => {
                anchored = true;
                match s1.max(s2).saturating_sub(e1.min(e2)) {
                    0 => {
                        overlap = true;
                        (SIM_OVERLAP, 1)
                    }
                    gap if gap <= NEAR_LINES => (SIM_NEAR, 1),
                    _ => return None,
                }
            }
            _ => (SIM_FILE, 1),
        },
        _ => (SIM_FREE, FREE_MIN_COMMON),
    };
    let compatible = match (a.severity, b.severity) {
        (Some(x), Some(y)) => x.rank().abs_diff(y.rank()) <= 1,
        _ => true,
    };
    // Location-anchored: one place, compatible severity, and the claims name the same
    // kind of defect — they agree however differently they are worded.
    let t = if anchored && compatible && a.classes & b.classes != 0 {
        SIM_ANCHOR
    } else if overlap && compatible && a.classes == 0 && b.classes == 0 {
        // The same lines and no kind named on either side: the place is strong
        // evidence, so a paraphrase that shares a word or two is enough ("remove or
        // fill this block" / "the block swallows the error"). Not when one side names a
        // kind and the other does not: a password in `ps` and an unchecked exit status
        // share the command's name, and nothing else.
        SIM_OVERLAP_PLAIN
    } else if a.classes != 0 && b.classes != 0 && a.classes & b.classes == 0 {
        // Both name a kind of defect, and not the same one (an XSS and an undefined
        // function at one line): distinct defects unless the claims clearly agree.
        t.max(SIM_FILE)
    } else {
        t
    };
    // Identical claims need no further words in common ("bug" and "bug").
    let common = if a.tokens == b.tokens { 1 } else { common };
    // Two levels apart (a critical XSS and a nit at one line): distinct defects unless
    // the claims clearly agree.
    let t = match (a.severity, b.severity) {
        (Some(x), Some(y)) if x.rank().abs_diff(y.rank()) >= 2 => t.max(SIM_FILE),
        _ => t,
    };
    Some(if a.worker == b.worker {
        (t.max(SIM_SAME_WORKER), common)
    } else {
        (t, common)
    })
}

struct Dsu {
    parent: Vec<usize>,
    workers: Vec<BTreeMap<usize, ()>>,
}

impl Dsu {
    fn find(&mut self, x: usize) -> usize {
        let mut r = x;
        while self.parent[r] != r {
            r = self.parent[r];
        }
        let mut x = x;
        while self.parent[x] != r {
            let next = self.parent[x];
            self.parent[x] = r;
            x = next;
        }
        r
    }
}

/// Groups items; returns groups of item indices, each sorted, groups sorted by first index.
/// Deterministic for a given item order.
pub fn group(items: &[Item<'_>]) -> Vec<Vec<usize>> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    let consider = |i: usize, j: usize, pairs: &mut Vec<(f64, usize, usize)>| {
        if let Some((t, min_common)) = threshold(&items[i], &items[j]) {
            let (s, common) = similarity_parts(&items[i].tokens, &items[j].tokens);
            if s >= t && common >= min_common {
                pairs.push((s, i.min(j), i.max(j)));
            }
        }
    };

    // Blocking: located findings are compared within their file only, in line order
    // with a sliding window; file-level and unlocated ones are compared more widely.
    let mut by_path: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut unlocated = Vec::new();
    for (i, it) in items.iter().enumerate() {
        match it.path {
            Some(p) => by_path.entry(p).or_default().push(i),
            None => unlocated.push(i),
        }
    }
    for idx in by_path.values() {
        let (mut with_lines, without): (Vec<usize>, Vec<usize>) =
            idx.iter().partition(|&&i| items[i].lines.is_some());
        with_lines.sort_by_key(|&i| (items[i].lines.unwrap(), i));
        for (k, &i) in with_lines.iter().enumerate() {
            let end_i = items[i].lines.unwrap().1;
            for &j in &with_lines[k + 1..] {
                if items[j].lines.unwrap().0 > end_i.saturating_add(NEAR_LINES) {
                    break;
                }
                consider(i, j, &mut pairs);
            }
        }
        for (k, &i) in without.iter().enumerate() {
            for &j in &without[k + 1..] {
                consider(i, j, &mut pairs);
            }
            for &j in &with_lines {
                consider(i, j, &mut pairs);
            }
        }
    }
    // Unlocated findings against everything: near-identical claims only, so an
    // inverted index on tokens limits the work to findings sharing a token.
    if !unlocated.is_empty() {
        let mut postings: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, it) in items.iter().enumerate() {
            for &t in &it.tokens {
                postings.entry(t).or_default().push(i);
            }
        }
        // Count shared tokens per candidate first; only those sharing enough are scored.
        let mut shared = vec![0usize; items.len()];
        let mut touched = Vec::new();
        for &i in &unlocated {
            for t in &items[i].tokens {
                for &j in &postings[t] {
                    if j != i && (items[j].path.is_some() || j > i) {
                        if shared[j] == 0 {
                            touched.push(j);
                        }
                        shared[j] += 1;
                    }
                }
            }
            touched.sort_unstable();
            for &j in &touched {
                if shared[j] >= FREE_MIN_COMMON || items[i].tokens == items[j].tokens {
                    consider(i, j, &mut pairs);
                }
                shared[j] = 0;
            }
            touched.clear();
        }
    }

    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    pairs.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);

    let mut dsu = Dsu {
        parent: (0..items.len()).collect(),
        workers: items
            .iter()
            .map(|it| BTreeMap::from([(it.worker, ())]))
            .collect(),
    };
    for (s, i, j) in pairs {
        let (ri, rj) = (dsu.find(i), dsu.find(j));
        if ri == rj {
            continue;
        }
        let shared = dsu.workers[ri]
            .keys()
            .any(|w| dsu.workers[rj].contains_key(w));
        if shared && s < SIM_SAME_WORKER {
            continue;
        }
        let (keep, gone) = (ri.min(rj), ri.max(rj));
        dsu.parent[gone] = keep;
        let moved = std::mem::take(&mut dsu.workers[gone]);
        dsu.workers[keep].extend(moved);
    }

    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..items.len() {
        let r = dsu.find(i);
        groups.entry(r).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort_by_key(|g| g[0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(
        worker: usize,
        path: Option<&'a str>,
        lines: Option<(u32, u32)>,
        claim: &str,
        int: &mut Interner,
    ) -> Item<'a> {
        Item {
            worker,
            severity: None,
            path,
            lines,
            tokens: int.ids(claim),
            classes: classes(claim),
        }
    }

    #[test]
    fn stemming_lite() {
        assert_eq!(stem("validation"), stem("validated"));
        assert_eq!(stem("validate"), stem("validation"));
        assert_eq!(stem("tokens"), stem("token"));
        assert_eq!(stem("missing"), stem("missed"));
    }

    #[test]
    fn same_place_similar_claim_merges() {
        let mut int = Interner::default();
        let items = [
            item(
                0,
                Some("a.rs"),
                Some((42, 50)),
                "JWT expiry is never checked",
                &mut int,
            ),
            item(
                1,
                Some("a.rs"),
                Some((44, 44)),
                "token expiry not checked in verify",
                &mut int,
            ),
        ];
        assert_eq!(group(&items), vec![vec![0, 1]]);
    }

    #[test]
    fn same_file_far_apart_different_claims_not_merged() {
        let mut int = Interner::default();
        let items = [
            item(
                0,
                Some("a.rs"),
                Some((10, 10)),
                "JWT expiry is never checked",
                &mut int,
            ),
            item(
                1,
                Some("a.rs"),
                Some((300, 310)),
                "log message has a typo",
                &mut int,
            ),
            item(
                2,
                Some("a.rs"),
                Some((300, 310)),
                "JWT expiry is never checked",
                &mut int,
            ),
        ];
        assert_eq!(group(&items), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn different_files_never_merge() {
        let mut int = Interner::default();
        let items = [
            item(
                0,
                Some("a.rs"),
                Some((1, 1)),
                "unwrap on user input panics",
                &mut int,
            ),
            item(
                1,
                Some("b.rs"),
                Some((1, 1)),
                "unwrap on user input panics",
                &mut int,
            ),
        ];
        assert_eq!(group(&items).len(), 2);
    }

    #[test]
    fn unlocated_needs_near_identical_claims() {
        let mut int = Interner::default();
        let items = [
            item(
                0,
                None,
                None,
                "No rate limiting on the login endpoint",
                &mut int,
            ),
            item(
                1,
                None,
                None,
                "Login endpoint has no rate limiting",
                &mut int,
            ),
            item(2, None, None, "Login page lacks a CSRF token", &mut int),
        ];
        assert_eq!(group(&items), vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn one_worker_twice_needs_near_certainty() {
        let mut int = Interner::default();
        let items = [
            item(
                0,
                Some("a.rs"),
                Some((10, 10)),
                "expiry never checked on token",
                &mut int,
            ),
            item(
                0,
                Some("a.rs"),
                Some((12, 12)),
                "token signature never checked",
                &mut int,
            ),
        ];
        assert_eq!(group(&items).len(), 2);
    }

    #[test]
    fn stemmer_undoubles_and_splits_camel_case() {
        assert_eq!(stem("scanning"), stem("scan"));
        assert_eq!(stem("stopped"), stem("stop"));
        assert_eq!(tokens("idleTimeoutMillis"), tokens("idle timeout millis"));
        assert_eq!(tokens("unchecked"), tokens("checked"));
    }

    #[test]
    fn stemmer_keeps_y_and_drops_a_silent_e() {
        assert_eq!(stem("queries"), stem("query"));
        assert_eq!(stem("retried"), stem("retries"));
        assert_eq!(stem("retry"), stem("retries"));
        assert_eq!(stem("close"), stem("closed"));
        assert_eq!(stem("parse"), stem("parsed"));
        assert_ne!(stem("close"), stem("clone"));
    }

    #[test]
    fn concept_phrases_name_their_kind_as_whole_words() {
        let leak = classes("leak");
        assert_eq!(classes("the temp file is never removed"), leak);
        assert_eq!(classes("the statement is not closed on error"), leak);
        assert_eq!(classes("use try-with-resources here"), leak);
        // The phrase's own words stay: "never closed" still meets "close".
        assert!(tokens("the connection is never closed").contains(&stem("close")));
        // Not inside another word.
        assert_eq!(classes("the flag was not closedown-safe"), 0);
        assert_eq!(
            classes("the cast may truncate the value"),
            classes("overflow")
        );
        assert_eq!(
            classes("a port above 65535 silently wraps"),
            classes("overflow")
        );
        // A bare "wrap" is a fix, not a defect.
        assert_eq!(classes("wrap the upload in try/finally"), 0);
        assert_eq!(
            classes("construct SQL queries directly from user-controlled data"),
            classes("SQL injection")
        );
    }

    #[test]
    fn paraphrases_of_one_defect_at_one_place_merge() {
        let mut int = Interner::default();
        let pairs = [
            (
                "the temp file is never removed when the upload fails",
                "leaks the temporary file on the failure path",
            ),
            (
                "Worker ignores the caller's context",
                "the context given to Start is dropped",
            ),
            (
                "this `if` has identical blocks",
                "both branches of the check do the same thing",
            ),
            (
                "casting `u32` to `u16` may truncate the value",
                "a port above 65535 silently wraps (`as u16`)",
            ),
        ];
        for (a, b) in pairs {
            let items = [
                item(0, Some("a.rs"), Some((30, 30)), a, &mut int),
                item(1, Some("a.rs"), Some((30, 31)), b, &mut int),
            ];
            assert_eq!(group(&items), vec![vec![0, 1]], "{a} / {b}");
            // The same two claims in different files stay apart: the place is part of
            // the evidence.
            let apart = [
                item(0, Some("a.rs"), Some((30, 30)), a, &mut int),
                item(1, Some("b.rs"), Some((30, 31)), b, &mut int),
            ];
            assert_eq!(group(&apart).len(), 2, "{a} / {b}");
        }
    }

    #[test]
    fn overlapping_lines_without_kinds_take_a_lower_bar() {
        let mut int = Interner::default();
        let (a, b) = (
            "Either remove or fill this block of code.",
            "the `catch (SQLException e) {}` block swallows the error, so a failed insert is \
             reported to the client as success; easy to fix by rethrowing.",
        );
        let s = similarity(&int.ids(a), &int.ids(b));
        assert!((SIM_OVERLAP_PLAIN..SIM_OVERLAP).contains(&s), "{s}");
        let at = |l: (u32, u32), int: &mut Interner| {
            [
                item(0, Some("a.java"), Some((112, 112)), a, int),
                item(1, Some("a.java"), Some(l), b, int),
            ]
        };
        assert_eq!(group(&at((112, 112), &mut int)).len(), 1);
        // Near but not overlapping: the usual bar.
        assert_eq!(group(&at((115, 115), &mut int)).len(), 2);
        // One side names a kind the other does not: the usual bar too.
        let kind = [
            item(0, Some("a.java"), Some((112, 112)), a, &mut int),
            item(
                1,
                Some("a.java"),
                Some((112, 112)),
                &format!("{b} (a leak)"),
                &mut int,
            ),
        ];
        assert_eq!(group(&kind).len(), 2);
    }

    #[test]
    fn same_place_same_defect_kind_merges_despite_few_shared_words() {
        let mut int = Interner::default();
        let items = [
            item(
                0,
                Some("a.rs"),
                Some((9, 9)),
                "the `--jobs` flag accepts 0, which hangs",
                &mut int,
            ),
            item(
                1,
                Some("a.rs"),
                Some((9, 9)),
                "deadlocks the scheduler",
                &mut int,
            ),
        ];
        assert_eq!(group(&items), vec![vec![0, 1]]);
    }

    #[test]
    fn distinct_defect_kinds_at_one_line_stay_apart() {
        let mut int = Interner::default();
        let items = [
            item(
                0,
                Some("Search.tsx"),
                Some((48, 48)),
                "the highlighted query is rendered unescaped: reflected XSS",
                &mut int,
            ),
            item(
                1,
                Some("Search.tsx"),
                Some((48, 48)),
                "the highlighted query helper is not defined, so rendering throws",
                &mut int,
            ),
        ];
        assert_eq!(group(&items).len(), 2);
        // The same two wordings with the kinds taken out share enough to be joined:
        // it is the kinds that keep them apart.
        let plain = [
            item(
                0,
                Some("Search.tsx"),
                Some((48, 48)),
                "the highlighted query is rendered unescaped",
                &mut int,
            ),
            item(
                1,
                Some("Search.tsx"),
                Some((48, 48)),
                "the highlighted query helper, so rendering throws",
                &mut int,
            ),
        ];
        assert_eq!(group(&plain).len(), 1);
    }

    #[test]
    fn same_place_shared_identifier_alone_does_not_merge() {
        let mut int = Interner::default();
        let items = [
            item(
                0,
                Some("a.sh"),
                Some((15, 15)),
                "the password in the URL is visible in the process list while pg_dump runs",
                &mut int,
            ),
            item(
                1,
                Some("a.sh"),
                Some((15, 15)),
                "the exit status of pg_dump is ignored and old backups are rotated away",
                &mut int,
            ),
        ];
        assert_eq!(group(&items).len(), 2);
    }
}
