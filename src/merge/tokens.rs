//! The words of a claim, as grouping compares them: stop words out, a light stemmer
//! (suffix stripping, then the first five letters), camelCase split, a small synonym
//! table, kinds of defect ([`DEFECT_CLASSES`]) and phrases that name one, and an
//! interner so that similarity is a merge of sorted ids.

use std::collections::HashMap;
use std::sync::LazyLock;

static STOP: LazyLock<std::collections::HashSet<&'static str>> = LazyLock::new(|| {
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "else",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "which",
        "who",
        "what",
        "when",
        "where",
        "why",
        "how",
        "not",
        "no",
        "can",
        "could",
        "should",
        "would",
        "will",
        "may",
        "might",
        "must",
        "does",
        "do",
        "did",
        "has",
        "have",
        "had",
        "so",
        "than",
        "too",
        "very",
        "also",
        "only",
        "just",
        "any",
        "all",
        "some",
        "each",
        "every",
        "other",
        "such",
        "via",
        "per",
        "without",
        "within",
        "instead",
        "line",
        "lines",
        "file",
        "files",
        "code",
        "function",
        "method",
        "call",
        "calls",
        "called",
        "we",
        "you",
        "they",
        "he",
        "she",
        "i",
        "my",
        "our",
        "your",
        "their",
        "them",
        "one",
        "l",
        "rs",
        "py",
        "js",
        "ts",
        "md",
        "etc",
        "e",
        "g",
        "eg",
        "ie",
        "currently",
        "still",
        "even",
        "because",
        "while",
        "though",
        "although",
        "both",
        "either",
        "same",
        "new",
        "use",
        "uses",
        "used",
        "using",
        "after",
        "before",
        "over",
        "under",
        "about",
        "more",
        "less",
        "most",
        "least",
        "issue",
        "problem",
        "bug",
        "finding",
    ]
    .into_iter()
    .collect()
});

/// Claim tokens, stemmed, deduplicated and sorted (interned ids for speed).
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    // "queries" / "query", "retried" / "retry": the plural and past of a word in -y
    // keep its -y, so that they meet the word itself.
    let w = match w.strip_suffix("ies").or_else(|| w.strip_suffix("ied")) {
        Some(s) if s.chars().count() >= 3 => format!("{s}y"),
        _ => w,
    };
    let mut w = w.as_str();
    let mut stripped = false;
    for suf in [
        "ations", "ation", "ings", "ing", "ments", "ment", "ness", "edly", "ed", "es", "ly", "s",
    ] {
        if let Some(s) = w.strip_suffix(suf)
            && s.chars().count() >= 3
        {
            w = s;
            stripped = true;
            // "scanning" / "scan", "stopped" / "stop": undouble the final consonant.
            let b = w.as_bytes();
            if matches!(suf, "ing" | "ings" | "ed" | "edly")
                && b.len() >= 4
                && b[b.len() - 1] == b[b.len() - 2]
                && !b"aeiouls".contains(&b[b.len() - 1])
            {
                w = &w[..w.len() - 1];
            }
            break;
        }
    }
    // "close" / "closed", "parse" / "parsed": a final silent e goes, as the suffixes
    // above take it with them.
    if !stripped
        && let Some(s) = w.strip_suffix('e')
        && s.chars().count() >= 3
    {
        w = s;
    }
    w.chars().take(5).collect()
}

/// Words that name one idea in review prose, mapped to one stem so that paraphrases
/// meet ("verify" / "check" / "validate"). Kept short and general on purpose.
const SYNONYMS: &[(&str, &str)] = &[
    ("check", "verif"),
    ("valid", "verif"),
    ("delet", "remov"),
    ("guess", "predi"),
    ("compu", "predi"),
    ("inval", "reuse"),
    // "a malformed port" / "an invalid port" (tune: coderabbit-body).
    ("malfo", "reuse"),
    ("rever", "inver"),
    ("backw", "inver"),
    // "no maximum size" / "add a size cap" / "unbounded" (holdout2: sarif-json, diff-hunks).
    ("maxim", "limit"),
    ("cap", "limit"),
    ("bound", "limit"),
    ("ceili", "limit"),
    // "backoff" / "delay" / "wait" / "sleep" between attempts (holdout2: diff-hunks).
    ("backo", "wait"),
    ("delay", "wait"),
    ("sleep", "wait"),
    // A value the code throws away: "ignores the caller's context" / "the context is
    // dropped" / "the error is swallowed" / "discards the result" (holdout3:
    // gerrit-inline, sonarqube-json).
    ("drop", "ignor"),
    ("disca", "ignor"),
    ("swall", "ignor"),
    // "on failure" / "when it fails"; "temporary file" / "temp file" (holdout3:
    // conventional-comments).
    ("failu", "fail"),
    ("tempo", "temp"),
    // Two branches that do one thing: "identical blocks" / "both branches do the same
    // thing" (holdout3: rustc-clippy; the phrase is in PHRASES).
    ("ident", "dupli"),
    ("branc", "block"),
];

/// Kinds of defect, each named by a few words. Two findings at one place that name the
/// same kind agree on the defect even when they share no other word ("accepts 0, which
/// hangs" / "deadlocks the scheduler"); two that name different kinds only are distinct
/// defects. Each class is a token `#name` in the claim's token set. General review
/// vocabulary, motivated by the paraphrases of the tune cases; not a list of fixtures.
const DEFECT_CLASSES: &[(&str, &[&str])] = &[
    ("#xss", &["xss", "cross", "scripting"]),
    ("#inject", &["injection", "inject", "injectable"]),
    ("#traversal", &["traversal", "traverse"]),
    (
        "#race",
        &[
            "race",
            "racy",
            "concurrent",
            "concurrently",
            "synchronized",
            "synchronised",
            "mutex",
            "rlock",
        ],
    ),
    (
        "#hang",
        &[
            "hang",
            "hangs",
            "deadlock",
            "deadlocks",
            "forever",
            "infinite",
            "stall",
            "stuck",
            "freeze",
        ],
    ),
    (
        "#leak",
        &[
            "leak",
            "leaks",
            "leaked",
            "leaking",
            "unlink",
            "unclosed",
            "unreleased",
        ],
    ),
    (
        "#memory",
        &[
            "memory",
            "oom",
            "exhausting",
            "exhausts",
            "materialised",
            "materialized",
        ],
    ),
    (
        "#secret",
        &[
            "password",
            "passwords",
            "passwd",
            "credential",
            "credentials",
            "secret",
            "secrets",
        ],
    ),
    (
        "#exposed",
        &[
            "exposed",
            "exposes",
            "expose",
            "public",
            "publicly",
            "unauthenticated",
        ],
    ),
    (
        "#crash",
        // Not "abort": `AbortController`, "abort the request" name a fix, not a crash.
        &["panic", "panics", "crash", "crashes", "segfault"],
    ),
    (
        "#overflow",
        // A narrowing that loses the high bits: clippy's "may truncate", a reviewer's
        // "silently wraps" (the phrase is in PHRASES; a bare "wrap" is a fix: "wrap it
        // in a transaction").
        &[
            "overflow",
            "overflows",
            "oob",
            "truncate",
            "truncates",
            "truncation",
        ],
    ),
    (
        "#inverted",
        &["reversed", "backwards", "inverted", "swapped"],
    ),
    ("#null", &["null", "nil", "nullptr", "dereference"]),
    (
        "#undefined",
        &[
            "undefined",
            "undeclared",
            "referenceerror",
            "nameerror",
            "unresolved",
        ],
    ),
    ("#trace", &["traceback", "stacktrace", "exc_info"]),
    (
        "#expiry",
        &[
            "expiry",
            "expired",
            "expires",
            "expire",
            "expiration",
            "ttl",
            "timeout",
        ],
    ),
];

static CLASS_OF: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for (class, words) in DEFECT_CLASSES {
        for w in *words {
            m.insert(stem(w), *class);
        }
    }
    m
});

fn canonical(stem: String) -> String {
    if let Some(class) = CLASS_OF.get(&stem) {
        return class.to_string();
    }
    SYNONYMS
        .iter()
        .find(|(from, _)| *from == stem)
        .map_or(stem, |(_, to)| to.to_string())
}

/// A word's token: its stem through the synonym and defect tables. A negated word
/// (`unchecked`, `unsupported`) gives its root's token, as "not checked" and "does not
/// support" do once their stop words are gone.
fn word_token(w: &str) -> String {
    let s = canonical(stem(w));
    if s.starts_with('#') {
        return s;
    }
    let lower = w.to_lowercase();
    match lower.strip_prefix("un").filter(|r| r.chars().count() >= 5) {
        Some(root) => canonical(stem(root)),
        None => s,
    }
}

/// The defect classes a claim names, as a bit set (bit i = `DEFECT_CLASSES[i]`).
pub fn classes(text: &str) -> u64 {
    tokens(text)
        .iter()
        .filter_map(|t| DEFECT_CLASSES.iter().position(|(c, _)| c == t))
        .fold(0, |m, i| m | (1 << i))
}

/// Splits camelCase identifiers (`idleTimeoutMillis` → `idle Timeout Millis`) so that
/// a code name and the words of a prose claim meet.
fn split_camel(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev_lower = false;
    for c in text.chars() {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase();
        out.push(c);
    }
    out
}

/// Phrases that name one defect kind in several words, rewritten to its one word before
/// tokens are cut ("is not defined" and "never imported" are an undefined name).
const PHRASES: &[(&str, &str)] = &[
    ("not defined", "undefined"),
    ("never defined", "undefined"),
    ("never imported", "undefined"),
    ("not imported", "undefined"),
    ("does not exist", "undefined"),
];

/// A small lexicon of defect concepts: phrases, as reviewers and linters word them,
/// that name a kind of defect without its word. The word is added after the phrase,
/// whose own words stay (so "never closed" still meets "close the statement"):
/// - a resource never given back is a leak ("the temp file is never removed", "the
///   statement is never closed", Sonar's "use try-with-resources");
/// - reading a whole collection at once is a memory defect ("loads every invoice into a
///   list", "reads all rows");
/// - a query or command built from input is an injection (Sonar's "construct SQL
///   queries directly from user-controlled data");
/// - a narrowing that wraps is an overflow ("silently wraps", "wraps around");
/// - two branches that do one thing are duplicates ("do the same thing").
///
/// Matched on the lower-cased claim, whole words only. Not "never released": workers
/// waiting on a failed dependency "are never released" (a hang, in the `scheduler`
/// fixture), as a lock or a connection may be.
const CONCEPTS: &[(&str, &str)] = &[
    ("never removed", "leak"),
    ("not removed", "leak"),
    ("never deleted", "leak"),
    ("not deleted", "leak"),
    ("never cleaned up", "leak"),
    ("not cleaned up", "leak"),
    ("never closed", "leak"),
    ("not closed", "leak"),
    ("never freed", "leak"),
    ("not freed", "leak"),
    ("try-with-resources", "leak"),
    ("loads every", "materialized"),
    ("loads all", "materialized"),
    ("loads everything", "materialized"),
    ("reads every", "materialized"),
    ("reads all", "materialized"),
    ("reads everything", "materialized"),
    ("from user-controlled", "injection"),
    ("from user input", "injection"),
    ("from untrusted input", "injection"),
    ("silently wraps", "overflow"),
    ("wraps around", "overflow"),
    ("wraparound", "overflow"),
    ("do the same thing", "duplicate"),
    ("does the same thing", "duplicate"),
];

/// Rewrites each phrase of [`PHRASES`] to its word, and adds the word of each phrase of
/// [`CONCEPTS`] after it, where the phrase stands as whole words in `text` (already
/// lower-cased).
fn rewrite_phrases(text: &str) -> String {
    static TABLE: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
        PHRASES
            .iter()
            .map(|(p, w)| (*p, w.to_string()))
            .chain(CONCEPTS.iter().map(|(p, w)| (*p, format!("{p} {w}"))))
            .collect()
    });
    let mut out = text.to_string();
    for (p, w) in TABLE.iter() {
        if !out.contains(p) {
            continue;
        }
        let mut from = 0;
        while let Some(at) = out[from..].find(p).map(|i| i + from) {
            let end = at + p.len();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
            if word(out[..at].chars().next_back()) || word(out[end..].chars().next()) {
                from = end;
                continue;
            }
            out.replace_range(at..end, w);
            from = at + w.len();
        }
    }
    out
}

pub fn tokens(text: &str) -> Vec<String> {
    let text = rewrite_phrases(&split_camel(text).to_lowercase());
    let text = text.as_str();
    let mut out: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| !STOP.contains(w.to_lowercase().as_str()))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        // The "s" of "caller's", a variable `x`: no idea of a claim in one letter.
        .filter(|w| w.chars().count() > 1)
        .map(|w| (stem(w), w))
        .filter(|(s, _)| !STOP.contains(s.as_str()))
        .map(|(_, w)| word_token(w))
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        // A claim of stop words only ("bug", "bug one"): its words, marked so that they
        // meet only other such claims.
        out = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("={}", w.to_lowercase()))
            .collect();
        out.sort();
        out.dedup();
    }
    out
}

/// Interns tokens so that similarity is a merge of two sorted `u32` slices.
#[derive(Default)]
pub struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    pub fn ids(&mut self, text: &str) -> Vec<u32> {
        let mut v: Vec<u32> = tokens(text)
            .into_iter()
            .map(|t| {
                let n = self.ids.len() as u32;
                *self.ids.entry(t).or_insert(n)
            })
            .collect();
        v.sort_unstable();
        v
    }
}
