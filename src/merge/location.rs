//! File locations as models write them: `src/a.rs:42`, `src/a.rs#L10-L12`,
//! `` `src/a.rs` line 42 ``, `lines 10–12 of src/a.rs`, …

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// Where a finding points. Lines are 1-based and inclusive; `None` means the whole file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub path: String,
    pub start_line: Option<u32>,
    pub end_line: Option<u32>,
}

impl Location {
    pub fn new(path: &str, start: Option<u32>, end: Option<u32>) -> Location {
        let (start, end) = match (start, end) {
            (Some(s), Some(e)) if e < s => (Some(e), Some(s)),
            (Some(s), None) => (Some(s), Some(s)),
            (None, _) => (None, None),
            other => other,
        };
        Location {
            path: normalize_path(path),
            start_line: start,
            end_line: end,
        }
    }

    /// Line distance between two ranges of the same file: 0 when they overlap,
    /// `None` when either has no lines.
    pub fn line_gap(&self, other: &Location) -> Option<u32> {
        let (s1, e1) = (self.start_line?, self.end_line?);
        let (s2, e2) = (other.start_line?, other.end_line?);
        Some(s1.max(s2).saturating_sub(e1.min(e2)))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.start_line, self.end_line) {
            (Some(s), Some(e)) if s != e => write!(f, "{}:{s}-{e}", self.path),
            (Some(s), _) => write!(f, "{}:{s}", self.path),
            _ => f.write_str(&self.path),
        }
    }
}

/// Cleans a path as written: backticks, `./`, and the `a/` `b/` prefixes of a diff.
/// URLs are kept as they are.
fn normalize_path(p: &str) -> String {
    let p = p.trim().trim_matches('`');
    if is_url(p) {
        return p.to_string();
    }
    let mut p = p.replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    for diff_side in ["a/", "b/"] {
        if let Some(rest) = p.strip_prefix(diff_side)
            && rest.contains('/')
        {
            p = rest.to_string();
        }
    }
    p
}

/// A location that is a web address (a research run's source), not a file.
pub fn is_url(p: &str) -> bool {
    p.starts_with("https://") || p.starts_with("http://")
}

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"https?://[^\s<>`()\[\]]*[^\s<>`()\[\].,;:!?'\x22]").unwrap());

/// Extensions accepted for a bare file name with no directory (`main.rs`), so that
/// `e.g.` or `v1.2` are not taken for files. Paths with a `/` accept any extension.
const KNOWN_EXT: &[&str] = &[
    "rs", "toml", "md", "py", "js", "mjs", "ts", "tsx", "jsx", "json", "jsonl", "yaml", "yml",
    "sh", "bash", "zsh", "fish", "c", "h", "cc", "cpp", "hpp", "go", "java", "kt", "swift", "rb",
    "php", "cs", "html", "css", "scss", "sql", "txt", "lock", "cfg", "ini", "xml", "proto",
    "gradle", "mk", "cmake", "nix", "lua", "zig", "ex", "exs", "erl", "hs", "ml", "vue", "svelte",
    "conf", "env", "tex", "bib", "r", "jl", "dart", "scala", "pl", "snap", "csv", "tsv", "log",
    "rst", "adoc", "tf", "hcl",
];

/// Files whose name has no extension, as build and container tools name them.
const BARE_NAMES: &[&str] = &[
    "Dockerfile",
    "Containerfile",
    "Makefile",
    "GNUmakefile",
    "Jenkinsfile",
    "Justfile",
    "Gemfile",
    "Rakefile",
    "Procfile",
    "Vagrantfile",
];

pub(crate) const PATH: &str = r"/?(?:[A-Za-z0-9_.\-]+/)*(?:[A-Za-z0-9_\-][A-Za-z0-9_.\-]*\.[A-Za-z][A-Za-z0-9]{0,7}|(?:Dockerfile|Containerfile|GNUmakefile|Makefile|Jenkinsfile|Justfile|Gemfile|Rakefile|Procfile|Vagrantfile)\b)";
const DASH: &str = r"\s*(?:-|–|—|to)\s*";

static LINES_OF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\blines?\s+(?P<s>\d+)(?:{DASH}(?P<e>\d+))?\s+(?:of|in)\s+`?(?P<path>{PATH})`?"
    ))
    .unwrap()
});

static PATH_LINES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?ix)
        (?P<q>`)?(?P<path>{PATH})
        (?:
            (?:\#L|:L|:)(?P<s1>\d+)(?::\d+)?(?:{DASH}L?(?P<e1>\d+)(?::\d+)?)?
        )?
        `?
        (?:
            \s*,?\s*\(?\s*(?:at\s+|on\s+|around\s+|near\s+)?(?:lines?|L)\s*(?P<s2>\d+)(?:{DASH}L?(?P<e2>\d+))?\)?
          | \s+\((?P<s3>\d+)(?:{DASH}(?P<e3>\d+))?\)
        )?"
    ))
    .unwrap()
});

static CONTEXT_LINES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(?:\blines?\s+|\bL)(?P<s>\d+)(?:{DASH}L?(?P<e>\d+))?\b"
    ))
    .unwrap()
});

/// A location found in a piece of text, with the byte span it covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub location: Location,
    pub span: (usize, usize),
}

fn plausible_path(text: &str, start: usize, path: &str) -> bool {
    let before = &text[..start];
    if before.ends_with("://")
        || before.ends_with(":/")
        || before.ends_with('@')
        || before.ends_with("www.")
    {
        return false;
    }
    // Part of a URL such as https://example.com/a/b.rs
    if let Some(word) = before.rsplit(char::is_whitespace).next()
        && word.contains("://")
    {
        return false;
    }
    if path.contains('/') {
        return true;
    }
    // Spelled as the tools spell them: "the makefile" in prose is no place.
    if BARE_NAMES.contains(&path) {
        return true;
    }
    let ext = path.rsplit('.').next().unwrap_or("");
    KNOWN_EXT.contains(&ext.to_ascii_lowercase().as_str())
}

fn num(m: Option<regex::Match<'_>>) -> Option<u32> {
    m.and_then(|m| m.as_str().parse().ok())
}

/// Finds the first location in `text`. `context_path` is the file a surrounding
/// heading named (`### src/a.rs`), used for bare `line 42` references.
pub fn find(text: &str, context_path: Option<&str>) -> Option<Found> {
    if let Some(f) = find_file(text, context_path) {
        return Some(f);
    }
    let m = URL.find(text)?;
    Some(Found {
        location: Location::new(m.as_str(), None, None),
        span: (m.start(), m.end()),
    })
}

fn find_file(text: &str, context_path: Option<&str>) -> Option<Found> {
    let named = find_named(text);
    // Under a heading that names the file, a bare `(line 55)` before any path is the
    // place; a path later in the claim (`../../etc/x` in an exploit) is not.
    let bare = context_path.and_then(|ctx| {
        let c = CONTEXT_LINES.captures(text)?;
        let m = c.get(0).unwrap();
        Some(Found {
            location: Location::new(ctx, num(c.name("s")), num(c.name("e"))),
            span: (m.start(), m.end()),
        })
    });
    match (named, bare) {
        (Some(n), Some(b)) if b.span.0 < n.span.0 => Some(b),
        (Some(n), _) => Some(n),
        (None, b) => b,
    }
}

/// The first location in `text` that names a file.
fn find_named(text: &str) -> Option<Found> {
    if let Some(c) = LINES_OF.captures(text) {
        let m = c.get(0).unwrap();
        let path = c.name("path").unwrap();
        if plausible_path(text, path.start(), path.as_str()) {
            return Some(Found {
                location: Location::new(path.as_str(), num(c.name("s")), num(c.name("e"))),
                span: (m.start(), m.end()),
            });
        }
    }
    for c in PATH_LINES.captures_iter(text) {
        let m = c.get(0).unwrap();
        let path = c.name("path").unwrap();
        if !plausible_path(text, path.start(), path.as_str()) {
            continue;
        }
        let (s, e) = match (num(c.name("s1")), num(c.name("s2"))) {
            (Some(s), _) => (Some(s), num(c.name("e1"))),
            (None, Some(s)) => (Some(s), num(c.name("e2"))),
            (None, None) => (num(c.name("s3")), num(c.name("e3"))),
        };
        let mut end = m.end();
        // Don't swallow a closing backtick that belongs to an unquoted path.
        if c.name("q").is_none() && text[..end].ends_with('`') && s.is_none() {
            end -= 1;
        }
        return Some(Found {
            location: Location::new(path.as_str(), s, e),
            span: (m.start(), end),
        });
    }
    None
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// The file of the tree that `path` names: the file itself, the one file it is a suffix
/// of (whole components), or the longest file an absolute path ends with. `by_name`
/// holds the tree's files by file name, so a lookup reads only the files of that name.
fn in_tree<'t>(path: &str, by_name: &HashMap<&str, Vec<&'t String>>) -> Option<&'t String> {
    let ends = |long: &str, short: &str| {
        long == short || long.ends_with(&format!("/{}", short.trim_start_matches('/')))
    };
    let candidates = by_name.get(basename(path))?;
    if let Some(t) = candidates.iter().find(|t| t.as_str() == path) {
        return Some(t);
    }
    let mut longer = candidates.iter().filter(|t| ends(t, path));
    if let (Some(one), None) = (longer.next(), longer.next()) {
        return Some(one);
    }
    if path.starts_with('/') {
        return candidates
            .iter()
            .filter(|t| t.contains('/') && ends(path, t))
            .max_by_key(|t| t.len())
            .copied();
    }
    None
}

/// Gives one spelling to the paths of a run that name one file. With the run's tree
/// known, a path that names one of its files (by a suffix, or an absolute path in a
/// checkout) takes that file's spelling. Then, among the paths left, `stripe.py`,
/// `app/webhooks/stripe.py` and `/home/dev/shop/app/webhooks/stripe.py` are one file
/// when one is a suffix of the other (whole components) and the shorter one matches
/// no other file of the run. The spelling kept is the longest relative one.
pub fn canonicalize<'a>(locations: impl Iterator<Item = &'a mut Location>, tree: &[String]) {
    let mut locs: Vec<&'a mut Location> = locations.filter(|l| !is_url(&l.path)).collect();
    let mut by_name: HashMap<&str, Vec<&String>> = HashMap::new();
    for t in tree {
        by_name.entry(basename(t)).or_default().push(t);
    }
    if !tree.is_empty() {
        for l in locs.iter_mut() {
            if let Some(t) = in_tree(&l.path, &by_name) {
                l.path = t.clone();
            }
        }
    }
    let mut paths: Vec<String> = locs.iter().map(|l| l.path.clone()).collect();
    paths.sort();
    paths.dedup();
    let suffix_of = |short: &str, long: &str| {
        short != long && long.ends_with(&format!("/{}", short.trim_start_matches('/')))
    };
    let mut class: Vec<usize> = (0..paths.len()).collect();
    fn root(c: &mut [usize], mut x: usize) -> usize {
        while c[x] != x {
            x = c[x];
        }
        x
    }
    for (i, short) in paths.iter().enumerate() {
        let longer: Vec<usize> = (0..paths.len())
            .filter(|&j| suffix_of(short, &paths[j]))
            .collect();
        // `stripe.py` with both `app/stripe.py` and `lib/stripe.py` in the run is ambiguous.
        let one_chain = longer.iter().all(|&a| {
            longer.iter().all(|&b| {
                a == b || suffix_of(&paths[a], &paths[b]) || suffix_of(&paths[b], &paths[a])
            })
        });
        // …and so is one that names two files of the tree.
        let tree_ambiguous = by_name
            .get(basename(short))
            .is_some_and(|c| c.iter().filter(|t| suffix_of(short, t)).nth(1).is_some());
        if one_chain && !tree_ambiguous {
            for j in longer {
                let (ri, rj) = (root(&mut class, i), root(&mut class, j));
                class[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    // Relative before absolute; the longest relative, the shortest absolute.
    let better = |p: &String| {
        (
            !p.starts_with('/'),
            if p.starts_with('/') {
                usize::MAX - p.len()
            } else {
                p.len()
            },
        )
    };
    let mut best: std::collections::HashMap<usize, usize> = Default::default();
    for i in 0..paths.len() {
        let r = root(&mut class, i);
        let e = best.entry(r).or_insert(i);
        if better(&paths[i]) > better(&paths[*e]) {
            *e = i;
        }
    }
    for l in locs.iter_mut() {
        if let Ok(i) = paths.binary_search(&l.path) {
            let r = root(&mut class, i);
            l.path = paths[best[&r]].clone();
        }
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::*;

    #[test]
    fn the_runs_tree_gives_the_spelling() {
        let tree: Vec<String> = [
            "pkg/queue/worker.go",
            "cmd/worker.go",
            "app/webhooks/stripe.py",
        ]
        .map(String::from)
        .to_vec();
        let mut ls = [
            Location::new(
                "/home/runner/work/q/q/pkg/queue/worker.go",
                Some(60),
                Some(62),
            ),
            Location::new("queue/worker.go", Some(61), None),
            Location::new("worker.go", Some(90), None),
            Location::new("stripe.py", Some(32), None),
            Location::new("other.py", Some(1), None),
        ];
        canonicalize(ls.iter_mut(), &tree);
        let paths: Vec<&str> = ls.iter().map(|l| l.path.as_str()).collect();
        // `worker.go` alone is two files of the tree: it is left as written.
        assert_eq!(
            paths,
            [
                "pkg/queue/worker.go",
                "pkg/queue/worker.go",
                "worker.go",
                "app/webhooks/stripe.py",
                "other.py"
            ]
        );
    }

    #[test]
    fn suffixes_name_one_file_when_unambiguous() {
        let mut ls = [
            Location::new("stripe.py", Some(32), None),
            Location::new("app/webhooks/stripe.py", Some(31), Some(33)),
            Location::new("/home/dev/shop/app/webhooks/stripe.py", Some(58), Some(70)),
            Location::new("views.py", None, None),
            Location::new("a/views.py", None, None),
            Location::new("c/views.py", None, None),
        ];
        canonicalize(ls.iter_mut(), &[]);
        let paths: Vec<&str> = ls.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "app/webhooks/stripe.py",
                "app/webhooks/stripe.py",
                "app/webhooks/stripe.py",
                "views.py",
                "a/views.py",
                "c/views.py"
            ]
        );
    }
}

/// Parses a location given on its own (a JSON field, a `Location:` line).
pub fn parse(text: &str) -> Option<Location> {
    find(text, None).map(|f| f.location)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(text: &str) -> Option<String> {
        find(text, None).map(|f| f.location.to_string())
    }

    #[test]
    fn extensionless_build_files_are_paths() {
        let f = find(
            "Dockerfile:12 DL3002 warning: Last USER should not be root",
            None,
        )
        .unwrap();
        assert_eq!(f.location.to_string(), "Dockerfile:12");
        let f = find("see `docker/Dockerfile` line 3", None).unwrap();
        assert_eq!(f.location.to_string(), "docker/Dockerfile:3");
        assert!(find("the makefile is fine as it is", None).is_none());
    }

    #[test]
    fn styles() {
        let cases = [
            ("see src/a.rs:42 for", "src/a.rs:42"),
            ("src/a.rs:10-12", "src/a.rs:10-12"),
            ("src/a.rs:10–12", "src/a.rs:10-12"),
            ("src/a.rs#L10", "src/a.rs:10"),
            ("src/a.rs#L10-L12", "src/a.rs:10-12"),
            ("`src/a.rs` line 42", "src/a.rs:42"),
            ("`src/a.rs` lines 40-44", "src/a.rs:40-44"),
            ("in `src/a.rs:42`", "src/a.rs:42"),
            ("lines 10–12 of src/a.rs", "src/a.rs:10-12"),
            ("line 7 in `src/b.rs`", "src/b.rs:7"),
            ("src/a.rs (line 42)", "src/a.rs:42"),
            (
                "in `OrderService.java` around line 112 the",
                "OrderService.java:112",
            ),
            ("src/a.rs:42:7 col", "src/a.rs:42"),
            ("./src/a.rs:3", "src/a.rs:3"),
            ("main.rs:9", "main.rs:9"),
            ("only the file Cargo.toml", "Cargo.toml"),
            (
                "### templates/profile.html (12)",
                "templates/profile.html:12",
            ),
            ("app/views.py (41-47)", "app/views.py:41-47"),
            ("b/src/hooks/use.ts:18-24", "src/hooks/use.ts:18-24"),
            ("/home/dev/shop/app/x.py:3", "/home/dev/shop/app/x.py:3"),
            (
                "see https://docs.rs/notify/latest/notify/#known-problems.",
                "https://docs.rs/notify/latest/notify/#known-problems",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(loc(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn not_locations() {
        for text in ["e.g. this", "version 1.2.3", "i.e. no"] {
            assert_eq!(loc(text), None, "{text}");
        }
    }

    #[test]
    fn a_bare_line_before_a_path_is_the_heading_file() {
        let f = find(
            "(line 55): lets a client write `../../etc/cron.d/x`",
            Some("app/files.py"),
        )
        .unwrap();
        assert_eq!(f.location.to_string(), "app/files.py:55");
        let f = find("see `src/b.rs:20`, line 3", Some("src/a.rs")).unwrap();
        assert_eq!(f.location.to_string(), "src/b.rs:20");
    }

    #[test]
    fn context_path_for_bare_lines() {
        let f = find("line 42: token unchecked", Some("src/a.rs")).unwrap();
        assert_eq!(f.location.to_string(), "src/a.rs:42");
        assert!(find("line 42: token unchecked", None).is_none());
    }

    #[test]
    fn span_covers_location() {
        let t = "- [high] src/a.rs:42-50 — claim";
        let f = find(t, None).unwrap();
        assert_eq!(&t[f.span.0..f.span.1], "src/a.rs:42-50");
    }

    #[test]
    fn gap() {
        let a = Location::new("a.rs", Some(10), Some(12));
        let b = Location::new("a.rs", Some(15), None);
        assert_eq!(a.line_gap(&b), Some(3));
        assert_eq!(b.line_gap(&a), Some(3));
        let c = Location::new("a.rs", Some(11), Some(20));
        assert_eq!(a.line_gap(&c), Some(0));
    }
}
