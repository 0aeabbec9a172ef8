//! The crate's layers stay layers (docs/architecture.md): this reads `src/` and fails,
//! naming file and line, on an import that goes up a layer, on clap named outside
//! `src/cli/`, and on a source file over `MAX_LINES`; and it checks that the on-disk
//! protocol comment at the top of `src/store/mod.rs` names every path the code touches.
//!
//! The checker is plain text work (comments and string literals blanked, test modules
//! dropped, then `crate::…` and `super::…` paths read), so its own unit tests below run
//! it on small in-memory files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Each layer and the layers it may import. The order is
/// model < store < sys < content, merge < lifecycle < ops < cli, except that `content`
/// sees only `model` and `merge` nothing of the crate.
const LAYERS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("store", &["model"]),
    ("sys", &["model", "store"]),
    ("content", &["model"]),
    ("merge", &[]),
    ("lifecycle", &["model", "store", "sys", "content", "merge"]),
    (
        "ops",
        &["model", "store", "sys", "content", "merge", "lifecycle"],
    ),
    (
        "cli",
        &[
            "model",
            "store",
            "sys",
            "content",
            "merge",
            "lifecycle",
            "ops",
        ],
    ),
];

/// The crate root and the binary: they wire the layers together and may name any.
const ROOTS: &[&str] = &["lib.rs", "main.rs"];

const MAX_LINES: usize = 900;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `src/`, as (`src/…` path, text), in path order.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// A rule broken at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// `text` with comments and the contents of string and char literals replaced by
/// spaces, newlines kept, so byte offsets and line numbers still match the file.
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out: Vec<bool> = vec![false; c.len()];
    let blank = |out: &mut Vec<bool>, from: usize, to: usize| {
        for b in out.iter_mut().take(to.min(c.len())).skip(from) {
            *b = true;
        }
    };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            let end = c[i..]
                .iter()
                .position(|&x| x == '\n')
                .map_or(c.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && next == Some('*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && matches!(next, Some('"') | Some('#'))
        {
            // A raw string r"…" or r#"…"# (a lone `r#ident` is a raw identifier).
            let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
            if c.get(i + 1 + hashes) != Some(&'"') {
                i += 1;
                continue;
            }
            let body = i + 2 + hashes;
            let mut j = body;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"'
                    && c[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&x| x == '#')
                        .count()
                        == hashes
                {
                    break;
                }
                j += 1;
            }
            blank(&mut out, body, j);
            i = j + 1 + hashes;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\''); anything else is a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                blank(&mut out, i + 1, j);
                i = j + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                blank(&mut out, i + 1, i + 2);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    // Each blanked char becomes as many spaces as its UTF-8 bytes, so byte offsets
    // into the result are byte offsets into `text`.
    let mut s = String::with_capacity(text.len());
    for (ch, gone) in c.iter().zip(out) {
        if gone && *ch != '\n' {
            s.push_str(&" ".repeat(ch.len_utf8()));
        } else {
            s.push(*ch);
        }
    }
    s
}

/// Blanks `#[cfg(test)] mod NAME { … }` blocks (unit tests may reach anywhere).
fn without_test_modules(code: &str) -> String {
    let re = Regex::new(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{").unwrap();
    let mut out: Vec<u8> = code.as_bytes().to_vec();
    for m in re.find_iter(code) {
        let mut depth = 0usize;
        let mut end = code.len();
        for (k, b) in code.as_bytes()[m.end() - 1..].iter().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = m.end() - 1 + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        for b in &mut out[m.start()..end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// The first identifiers of the items of a `{a, b::c, d::{e, f}}` group that starts at
/// `code[open]`, and where each stands.
fn group_heads(code: &str, open: usize) -> Vec<(String, usize)> {
    let bytes = code.as_bytes();
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                if depth == 1 {
                    expect_head = true;
                }
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expect_head = true,
            b if depth == 1 && expect_head && (b.is_ascii_alphabetic() || b == b'_') => {
                let end = code[i..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .map_or(code.len(), |p| i + p);
                heads.push((code[i..end].to_string(), i));
                expect_head = false;
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    heads
}

/// The identifier (or the group's heads) right after a path prefix ending at `at`.
fn targets_after(code: &str, at: usize) -> Vec<(String, usize)> {
    let rest = &code[at..];
    let trimmed = rest.trim_start();
    let start = at + (rest.len() - trimmed.len());
    if trimmed.starts_with('{') {
        return group_heads(code, start);
    }
    let end = trimmed
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
        .unwrap_or(trimmed.len());
    if end == 0 {
        return Vec::new();
    }
    vec![(trimmed[..end].to_string(), start)]
}

/// `src/lifecycle/state.rs` -> ["lifecycle", "state"]; `src/store/mod.rs` -> ["store"].
fn module_path(file: &str) -> Vec<String> {
    let rel = file.strip_prefix("src/").unwrap_or(file);
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn allowed(layer: &str) -> Option<&'static [&'static str]> {
    LAYERS.iter().find(|(l, _)| *l == layer).map(|(_, a)| *a)
}

/// The layer rules for one file: `file` is its path from the crate root (`src/…`).
fn check_source(file: &str, text: &str) -> Vec<Violation> {
    let rel = file.strip_prefix("src/").unwrap_or(file);
    if ROOTS.contains(&rel) {
        return Vec::new();
    }
    let modpath = module_path(file);
    let layer = modpath[0].clone();
    let code = without_test_modules(&code_only(text));
    let mut out = Vec::new();
    let at = |offset: usize, message: String| Violation {
        file: file.to_string(),
        line: line_at(&code, offset),
        message,
    };
    let Some(may) = allowed(&layer) else {
        out.push(at(
            0,
            format!(
                "`{layer}` is not in the layer table; add it to LAYERS in tests/layers.rs and to docs/architecture.md"
            ),
        ));
        return out;
    };
    let mut uses: Vec<(String, usize, String)> = Vec::new();
    let crate_re = Regex::new(r"(?:^|[^A-Za-z0-9_$])(crate\s*::)").unwrap();
    for m in crate_re.captures_iter(&code) {
        let m = m.get(1).unwrap();
        for (t, pos) in targets_after(&code, m.end()) {
            uses.push((t, pos, "crate::".into()));
        }
    }
    let super_re = Regex::new(r"(?:^|[^A-Za-z0-9_$:])((?:super\s*::\s*)+)").unwrap();
    for m in super_re.captures_iter(&code) {
        let m = m.get(1).unwrap();
        let ups = m.as_str().matches("super").count();
        if ups < modpath.len() {
            continue; // still inside this file's own layer
        }
        if ups > modpath.len() {
            out.push(at(m.start(), "`super::` goes above the crate root".into()));
            continue;
        }
        for (t, pos) in targets_after(&code, m.end()) {
            uses.push((t, pos, "super::".repeat(ups)));
        }
    }
    let clap_re = Regex::new(r"(?:^|[^A-Za-z0-9_])(clap(?:_[A-Za-z0-9_]+)?)\b").unwrap();
    if layer != "cli" {
        for m in clap_re.captures_iter(&code) {
            let m = m.get(1).unwrap();
            out.push(at(
                m.start(),
                format!(
                    "`{}` named outside src/cli/: clap types stay in the cli layer; take plain types here",
                    m.as_str()
                ),
            ));
        }
    }
    for (target, pos, via) in uses {
        if target == layer || target == "self" || target == "super" {
            continue;
        }
        if allowed(&target).is_none() {
            continue; // an item of the crate root, not a layer
        }
        if !may.contains(&target.as_str()) {
            let may_text = if may.is_empty() {
                "nothing of the crate".to_string()
            } else {
                format!("only {}", may.join(", "))
            };
            out.push(at(
                pos,
                format!("{layer} imports {target} ({via}{target}); {layer} may import {may_text}"),
            ));
        }
    }
    out.sort_by_key(|v| v.line);
    out
}

#[test]
fn no_import_goes_up_a_layer_and_clap_stays_in_cli() {
    let mut all = Vec::new();
    let mut layers_seen = BTreeSet::new();
    for (file, text) in sources() {
        layers_seen.insert(module_path(&file)[0].clone());
        all.extend(check_source(&file, &text));
    }
    assert!(
        all.is_empty(),
        "layer rules broken (docs/architecture.md):\n{}",
        all.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Every layer of the table exists, so a renamed folder is not silently unchecked.
    for (layer, _) in LAYERS {
        assert!(
            layers_seen.contains(*layer),
            "src/{layer}/ is gone; update LAYERS"
        );
    }
}

#[test]
fn no_source_file_is_over_the_line_limit() {
    let mut over = Vec::new();
    for (file, text) in sources() {
        let lines = text.lines().count();
        if lines > MAX_LINES {
            over.push(format!(
                "{file}:{}: {lines} lines, over {MAX_LINES}; split it by concept",
                MAX_LINES + 1
            ));
        }
    }
    assert!(over.is_empty(), "{}", over.join("\n"));
}

// ---- one writer of the records that move a worker ----

/// The only file that may write a worker's state-changing records.
const TRANSITION: &str = "src/lifecycle/transition.rs";

/// Writes of spec.json, launch.json, started.json, exit.json, stop.json, resume.json or
/// retry.json outside `TRANSITION`: a write call whose first argument names one.
fn check_record_writers(file: &str, text: &str) -> Vec<Violation> {
    if file == TRANSITION {
        return Vec::new();
    }
    let code = without_test_modules(&code_only(text));
    let re = Regex::new(
        r"\b(write_json|write_atomic\w*|fs::write|File::create)\s*\(\s*&?\s*[\w.:]*\b(spec|launch|started|exit|stop|resume|plan|landed)_path\b",
    )
    .unwrap();
    re.captures_iter(&code)
        .map(|c| Violation {
            file: file.to_string(),
            line: line_at(&code, c.get(0).unwrap().start()),
            message: format!(
                "{} of {}_path() outside {TRANSITION}: state-changing records have one writer; add a transition there",
                &c[1], &c[2]
            ),
        })
        .collect()
}

#[test]
fn only_lifecycle_transition_writes_state_changing_records() {
    let all: Vec<Violation> = sources()
        .iter()
        .flat_map(|(file, text)| check_record_writers(file, text))
        .collect();
    assert!(
        all.is_empty(),
        "{}",
        all.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_record_written_outside_transition_is_found() {
    let src =
        "fn stop(w: &WorkerDir) {\n    let x = 1;\n    write_json(&w.exit_path(), &rec)?;\n}\n";
    let v = check_record_writers("src/ops/stop.rs", src);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].line, 3);
    assert!(
        v[0].message
            .starts_with("write_json of exit_path() outside"),
        "{}",
        v[0]
    );
    assert_eq!(check_record_writers(TRANSITION, src), vec![]);
    // Reading one is fine, and so is writing a record that moves no worker.
    let ok = "let e: ExitRecord = read_json(&w.exit_path())?;\nwrite_atomic(&run.dir.join(\"merge.md\"), b)?;\n";
    assert_eq!(check_record_writers("src/ops/merge.rs", ok), vec![]);
    let v = check_record_writers(
        "src/lifecycle/retry.rs",
        "write_json(&retry::plan_path(w), p)",
    );
    assert_eq!(v.len(), 1, "{v:?}");
}

// ---- the on-disk protocol comment of src/store/mod.rs ----

/// The `//!` comment at the top of a file, without the markers.
fn module_doc(text: &str) -> String {
    text.lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `name` appears in `doc` as a whole path part (not inside a longer word).
fn names(doc: &str, name: &str) -> bool {
    let part = |ch: char| ch.is_alphanumeric() || matches!(ch, '_' | '-' | '.');
    doc.match_indices(name).any(|(i, _)| {
        let before = doc[..i].chars().next_back();
        let mut after = doc[i + name.len()..].chars();
        // A full stop ending a sentence is not part of the name.
        let ends = match after.next() {
            None => true,
            Some('.') => !after.next().is_some_and(part),
            Some(c) => !part(c),
        };
        !before.is_some_and(part) && ends
    })
}

/// The body of `impl Name { … }` in `text` (braces in strings and comments ignored).
fn impl_body<'a>(text: &'a str, name: &str) -> &'a str {
    let code = without_test_modules(&code_only(text));
    let head = format!("impl {name} {{");
    let start = code.find(&head).unwrap_or_else(|| panic!("no `{head}`")) + head.len();
    let mut depth = 1;
    for (k, b) in code[start..].bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[start..start + k];
                }
            }
            _ => {}
        }
    }
    &text[start..]
}

/// Every file or folder name the path accessors of Home, RunDir and WorkerDir return,
/// with the accessor; plus the entries of `WorkerDir::ATTEMPT_FILES`.
fn accessor_names(text: &str) -> Vec<(String, String)> {
    let fn_re = Regex::new(r"fn\s+(\w+_(?:path|dir))\s*\(&self\)[^{]*\{([^}]*)\}").unwrap();
    let lit_re = Regex::new(r#""([^"]+)""#).unwrap();
    let mut out = Vec::new();
    for ty in ["Home", "RunDir", "WorkerDir"] {
        let body = impl_body(text, ty);
        for f in fn_re.captures_iter(body) {
            let name = format!("{ty}::{}", &f[1]);
            let lits: Vec<String> = lit_re
                .captures_iter(&f[2])
                .map(|l| l[1].to_string())
                .collect();
            assert!(
                !lits.is_empty(),
                "{name} builds its path without a literal name; give it one this test can read"
            );
            for l in lits {
                out.push((name.clone(), l));
            }
        }
    }
    let files = text
        .find("ATTEMPT_FILES: ")
        .map(|i| &text[i..i + text[i..].find("];").expect("ATTEMPT_FILES ends")])
        .expect("WorkerDir::ATTEMPT_FILES");
    for l in lit_re.captures_iter(files) {
        out.push(("WorkerDir::ATTEMPT_FILES".into(), l[1].to_string()));
    }
    out
}

/// Names the rest of the code joins onto a home, run or worker folder: string
/// constants for file names (`PLAN_FILE`) and literals in `.join("…")` / `.path("…")`.
fn other_path_names(file: &str, text: &str) -> Vec<(String, String)> {
    // Matches are found in the text (they hold literals) and kept only where the code
    // is live: not in a comment, a string or a test module.
    let code = without_test_modules(&code_only(text));
    let live = |at: usize| code.as_bytes()[at] != b' ';
    let const_re =
        Regex::new(r#"const\s+(\w*(?:FILE|DIR|PATH)\w*)\s*:\s*&str\s*=\s*"([^"]+)""#).unwrap();
    let call_re = Regex::new(r#"\.(?:join|path)\(\s*"([^"]+)"\s*\)"#).unwrap();
    let mut out = Vec::new();
    for re in [&const_re, &call_re] {
        for c in re.captures_iter(text) {
            let at = c.get(0).unwrap().start();
            let name_like = c[c.len() - 1]
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-' | '/'));
            // `.join(", ")` of a list of strings is not a path.
            if live(at) && name_like {
                let name = c.get(c.len() - 1).unwrap().as_str().to_string();
                out.push((format!("{file}:{}", line_at(text, at)), name));
            }
        }
    }
    out
}

/// Literals joined onto paths that are not under ORCH_HOME (a git top level and its
/// `.git/HEAD`, a
/// program found on PATH, the share roots of `content/`, codex's own CODEX_HOME that
/// `sys::codex::login` reads (config.toml, auth.json) and `orch mcp install` edits, with
/// its skills folder).
const NOT_ORCH_HOME: &[&str] = &[
    ".git",
    "HEAD",
    ".codex",
    "config.toml",
    "auth.json",
    "skills",
    "SKILL.md",
];

#[test]
fn store_doc_names_every_path_of_the_on_disk_protocol() {
    let store = std::fs::read_to_string(root().join("src/store/mod.rs")).unwrap();
    let doc = module_doc(&store);
    let mut missing = Vec::new();
    for (accessor, name) in accessor_names(&store) {
        if !names(&doc, &name) {
            missing.push(format!("{accessor} returns `{name}`"));
        }
    }
    for (file, text) in sources() {
        // content/ joins onto share roots (documented in content/share.rs); merge does no I/O.
        if file.starts_with("src/content/") || file.starts_with("src/merge/") {
            continue;
        }
        for (at, name) in other_path_names(&file, &text) {
            if !NOT_ORCH_HOME.contains(&name.as_str()) && !names(&doc, &name) {
                missing.push(format!("{at} uses `{name}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the on-disk protocol comment at the top of src/store/mod.rs does not name:\n{}",
        missing.join("\n")
    );
}

// ---- the checker itself ----

#[test]
fn an_upward_import_fails_naming_file_and_line() {
    let src = "//! A store module.\n\nuse crate::model::State;\nuse crate::cli::args::Cli;\n";
    let v = check_source("src/store/records.rs", src);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].file, "src/store/records.rs");
    assert_eq!(v[0].line, 4);
    assert!(v[0].message.contains("store imports cli"), "{}", v[0]);
    assert_eq!(
        v[0].to_string(),
        "src/store/records.rs:4: store imports cli (crate::cli); store may import only model"
    );
}

#[test]
fn imports_of_lower_layers_pass() {
    let src = "use crate::model::State;\nuse crate::store::{Home, fsutil::write_json};\n\
               use crate::sys::tmux::Tmux;\nfn f() { crate::model::names::shown(\"x\"); }\n";
    assert_eq!(check_source("src/lifecycle/sched.rs", src), vec![]);
    assert_eq!(
        check_source("src/store/mod.rs", "use crate::model::UserError;\n"),
        vec![]
    );
}

#[test]
fn every_head_of_a_use_group_is_checked() {
    let src = "use crate::{\n    model::State,\n    ops::stop,\n    store::{Home, RunDir},\n};\n";
    let v = check_source("src/lifecycle/worker.rs", src);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].line, 3);
    assert!(v[0].message.contains("lifecycle imports ops"));
}

#[test]
fn super_that_leaves_the_layer_is_an_import() {
    // From src/store/records.rs, `super::` is store itself; `super::super::` is the root.
    assert_eq!(
        check_source("src/store/records.rs", "use super::Home;\n"),
        vec![]
    );
    let v = check_source("src/store/records.rs", "use super::super::cli::args;\n");
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message
            .contains("store imports cli (super::super::cli)"),
        "{}",
        v[0]
    );
    let v = check_source("src/store/mod.rs", "fn f() { super::ops::stop(); }\n");
    assert_eq!(v.len(), 1, "{v:?}");
}

#[test]
fn content_sees_only_model_and_merge_nothing() {
    assert_eq!(
        check_source("src/content/pack.rs", "use crate::model::Sandbox;\n"),
        vec![]
    );
    assert_eq!(
        check_source("src/content/pack.rs", "use crate::store::Home;\n").len(),
        1
    );
    let v = check_source(
        "src/merge/parse.rs",
        "use crate::model::text;\nuse super::location;\n",
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message
            .ends_with("merge may import nothing of the crate"),
        "{}",
        v[0]
    );
}

#[test]
fn comments_strings_and_test_modules_are_not_imports() {
    let src = r##"//! See crate::cli for the commands.
/// Unlike crate::ops, this is plain.
/* use crate::cli::args; */
const HELP: &str = "crate::cli is up there";
const RAW: &str = r#"use crate::ops::stop; "quoted" clap"#;
fn lifetimes<'a>(x: &'a str) -> char { let _ = x; '"' }
fn after() { let _ = crate::model::State::Done; }

#[cfg(test)]
mod tests {
    use crate::cli::args::Cli;
    #[test]
    fn t() { let _ = clap::Command::new("x"); }
}
"##;
    assert_eq!(check_source("src/store/x.rs", src), vec![]);
    // After the test module, code counts again.
    let v = check_source(
        "src/store/x.rs",
        &format!("{src}fn g() {{ crate::ops::stop(); }}\n"),
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].line, src.lines().count() + 1);
}

#[test]
fn clap_outside_cli_fails_and_inside_passes() {
    let v = check_source("src/ops/spawn.rs", "use clap::ValueEnum;\n");
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.starts_with("`clap` named outside src/cli/"));
    let v = check_source(
        "src/model/sandbox.rs",
        "#[derive(clap_complete::Shell)]\nstruct S;\n",
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].line, 1);
    assert_eq!(
        check_source("src/cli/args.rs", "use clap::Parser;\n"),
        vec![]
    );
    assert_eq!(check_source("src/main.rs", "use clap::Parser;\n"), vec![]);
    // A word that merely contains it is not clap.
    assert_eq!(check_source("src/ops/x.rs", "fn unclapped() {}\n"), vec![]);
}

#[test]
fn a_new_top_level_module_must_join_the_table() {
    let v = check_source("src/daemon/mod.rs", "fn f() {}\n");
    assert_eq!(v.len(), 1);
    assert!(v[0].message.contains("not in the layer table"));
}

#[test]
fn an_accessor_missing_from_the_store_doc_is_found() {
    let store = "//! $ORCH_HOME/\n//!   runs/<run>/run.json\n\n\
                 impl Home {\n    pub fn runs_dir(&self) -> PathBuf {\n        self.root.join(\"runs\")\n    }\n}\n\
                 impl RunDir {\n    pub fn record_path(&self) -> PathBuf {\n        self.dir.join(\"run.json\")\n    }\n\
                 \x20   pub fn notes_path(&self) -> PathBuf {\n        self.dir.join(\"notes.md\")\n    }\n}\n\
                 impl WorkerDir {\n    pub fn exit_path(&self) -> PathBuf {\n        self.path(\"exit.json\")\n    }\n\
                 \x20   pub const ATTEMPT_FILES: &'static [&'static str] = &[\"exit.json\"];\n}\n";
    let doc = module_doc(store);
    let missing: Vec<_> = accessor_names(store)
        .into_iter()
        .filter(|(_, n)| !names(&doc, n))
        .collect();
    assert_eq!(
        missing,
        vec![
            ("RunDir::notes_path".to_string(), "notes.md".to_string()),
            ("WorkerDir::exit_path".to_string(), "exit.json".to_string()),
            (
                "WorkerDir::ATTEMPT_FILES".to_string(),
                "exit.json".to_string()
            ),
        ]
    );
    // A name inside a longer one does not count: `run.json` is not `run.jsonl`.
    assert!(!names("x run.jsonl y", "run.json"));
    assert!(names("(run.json, run.lock)", "run.json"));
    assert!(names("ends in run.json.", "run.json"));
}
