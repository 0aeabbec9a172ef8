//! Merge benchmark: speed on a large generated run, grouping quality on the fixtures.
//!
//! `cargo bench --bench merge` prints a markdown section;
//! `cargo bench --bench merge -- --write BENCHMARKS.md` also writes it into that file,
//! replacing its `## Merge` section (or appending one).

#[path = "../tests/merge/eval.rs"]
mod eval;

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use orch::merge::{self, MergeInput, MergeOptions, WorkerOutput};

const WORKERS: usize = 50;
const FINDINGS: usize = 200;
const RUNS: usize = 15;
const COMMAND: &str = "cargo bench --bench merge -- --write BENCHMARKS.md";

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A vocabulary of made-up words: real claims share few words with unrelated claims,
/// and a small vocabulary would make every claim look like every other.
fn vocabulary(rng: &mut Rng, n: usize) -> Vec<String> {
    const SYL: &[&str] = &[
        "ka", "to", "ren", "sil", "mo", "par", "che", "lu", "vin", "dra", "po", "sek", "ta", "mir",
        "no", "gal", "fe", "rus", "bi", "qua", "zen", "hol", "ti", "wex",
    ];
    let mut words: Vec<String> = Vec::with_capacity(n);
    while words.len() < n {
        let len = 2 + rng.below(2);
        let w: String = (0..len).map(|_| SYL[rng.below(SYL.len())]).collect();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

const FILES: usize = 120;
/// Files of the run's tree that no finding names.
const TREE_FILES: usize = 20_000;

struct Issue<'a> {
    path: Option<String>,
    line: u32,
    words: Vec<&'a str>,
    severity: usize,
}

fn issues<'a>(rng: &mut Rng, vocab: &'a [String], n: usize) -> Vec<Issue<'a>> {
    (0..n)
        .map(|_| {
            let path = (rng.below(10) != 0).then(|| {
                let f = rng.below(FILES);
                format!("src/mod{}/file{}.rs", f % 12, f)
            });
            let len = 6 + rng.below(5);
            Issue {
                path,
                line: 1 + rng.below(2000) as u32,
                words: (0..len)
                    .map(|_| vocab[rng.below(vocab.len())].as_str())
                    .collect(),
                severity: rng.below(5),
            }
        })
        .collect()
}

fn render(rng: &mut Rng, vocab: &[String], issue: &Issue, style: usize, n: usize) -> String {
    let mut words: Vec<&str> = issue
        .words
        .iter()
        .copied()
        .filter(|_| rng.below(5) != 0)
        .collect();
    words.push(&vocab[rng.below(vocab.len())]);
    let claim = words.join(" ");
    let line = (issue.line as i64 + rng.below(7) as i64 - 3).max(1);
    let loc = issue.path.as_ref().map(|p| format!("{p}:{line}"));
    let sev = ["critical", "high", "medium", "low", "info"][issue.severity];
    let p = ["P0", "P1", "P2", "P3", "P3"][issue.severity];
    match style {
        0 => format!(
            "- [{sev}] {}— {claim}\n  Evidence: seen while reading the code\n",
            loc.map(|l| format!("{l} ")).unwrap_or_default()
        ),
        1 => format!(
            "{n}. **{sev}** — {}{claim}\n   - repro: run it twice\n",
            loc.map(|l| format!("`{l}`: ")).unwrap_or_default()
        ),
        2 => format!(
            "- {p} {}{claim}\n",
            loc.map(|l| format!("`{l}` ")).unwrap_or_default()
        ),
        _ => format!(
            "- Severity: {sev}\n  Location: {}\n  Claim: {claim}\n  Evidence: see above\n",
            loc.unwrap_or_else(|| "n/a".into())
        ),
    }
}

fn json_message(rng: &mut Rng, picked: &[&Issue]) -> String {
    let findings: Vec<serde_json::Value> = picked
        .iter()
        .map(|i| {
            let claim: Vec<&str> = i
                .words
                .iter()
                .copied()
                .filter(|_| rng.below(5) != 0)
                .collect();
            let severity = ["critical", "high", "medium", "low", "info"][i.severity];
            serde_json::json!({
                "severity": severity,
                "location": i.path.as_ref().map(|p| format!("{p}:{}", i.line)),
                "claim": claim.join(" "),
                "evidence": "seen while reading the code",
            })
        })
        .collect();
    serde_json::json!({ "findings": findings }).to_string()
}

/// The run, and how many distinct generated issues it reports.
fn generate() -> (MergeInput, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let vocab = vocabulary(&mut rng, 3000);
    let pool = issues(&mut rng, &vocab, 2000);
    let mut distinct = vec![false; pool.len()];
    let workers = (0..WORKERS)
        .map(|w| {
            let picked: Vec<&Issue> = (0..FINDINGS)
                .map(|_| {
                    let k = rng.below(pool.len());
                    distinct[k] = true;
                    &pool[k]
                })
                .collect();
            let text = if w % 5 == 4 {
                json_message(&mut rng, &picked)
            } else {
                let mut t = String::from("Review notes, most severe first.\n\n");
                for (n, issue) in picked.iter().enumerate() {
                    t.push_str(&render(&mut rng, &vocab, issue, w % 4, n + 1));
                }
                t.push_str("\nSummary: see above.\n");
                t
            };
            WorkerOutput {
                label: format!("W{}", w + 1),
                role: Some("reviewer".into()),
                lens: Some(["security", "correctness", "performance", "style"][w % 4].into()),
                state: "done".into(),
                text: Some(text),
            }
        })
        .collect();
    // The run's tree: the files the findings name, among many others.
    let tree = (0..FILES)
        .map(|f| format!("src/mod{}/file{}.rs", f % 12, f))
        .chain((0..TREE_FILES).map(|k| format!("lib/pkg{}/other{k}.rs", k % 97)))
        .collect();
    let input = MergeInput {
        run: "bench".into(),
        workers,
        tree,
    };
    (input, distinct.iter().filter(|d| **d).count())
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let write = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1).cloned());

    let (input, distinct) = generate();
    let opts = MergeOptions::default();
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let report = merge::merge(&input, &opts);
        let md = report.to_markdown();
        let json = report.to_json();
        times.push(t.elapsed());
        std::hint::black_box((&md, &json));
        last = Some(report);
    }
    times.sort();
    let report = last.unwrap();
    let sources: usize = report.findings.iter().map(|f| f.sources.len()).sum();

    let mut rows = String::new();
    let mut total = eval::Score::default();
    for case in eval::load_cases() {
        let Some(truth) = &case.truth else { continue };
        let r = merge::merge(&case.input, &opts);
        let s = eval::score(&r, truth);
        let _ = writeln!(
            rows,
            "| {} | {} | {} | {} | {:.3} | {:.3} |",
            case.name,
            s.true_pos,
            s.false_pos,
            s.false_neg,
            s.precision(),
            s.recall()
        );
        total.add(s);
    }

    let mut out = String::new();
    let _ = writeln!(out, "## Merge\n");
    let _ = writeln!(out, "Command: `{COMMAND}` (release profile).  ");
    let _ = writeln!(
        out,
        "Machine: `{}`, {}.\n",
        shell("uname", &["-srm"]),
        cpu_model()
    );
    let _ = writeln!(out, "### Speed\n");
    let tree_size = FILES + TREE_FILES;
    let _ = writeln!(
        out,
        "{WORKERS} workers × {FINDINGS} findings, generated deterministically (four markdown styles and JSON, \
         10% without a location, paraphrased claims, lines jittered by ±3), with a tree of {tree_size} files. One run = \
         parse, group, rank, render markdown and JSON. {RUNS} runs. The generated run measures speed only; its \
         grouping is not scored (made-up words, jitter can exceed the 5-line window).\n"
    );
    let _ = writeln!(
        out,
        "| median | min | max | parsed findings | distinct issues generated | merged findings |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {distinct} | {} |\n",
        ms(times[RUNS / 2]),
        ms(times[0]),
        ms(times[RUNS - 1]),
        sources,
        report.finding_count()
    );
    let _ = writeln!(out, "### Duplicate grouping\n");
    let _ = writeln!(
        out,
        "Pairwise precision/recall over the four original cases in `tests/fixtures/merge` against \
         each case's `groups.json` (a pair is positive when both findings are in one group). \
         In-sample: the thresholds were tuned on them.\n"
    );
    let _ = writeln!(
        out,
        "| case | true pairs found | wrong pairs | pairs missed | precision | recall |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    out.push_str(&rows);
    let _ = writeln!(
        out,
        "| **all** | {} | {} | {} | **{:.3}** | **{:.3}** |",
        total.true_pos,
        total.false_pos,
        total.false_neg,
        total.precision(),
        total.recall()
    );

    for (set, note) in [
        (
            "tune",
            "The thresholds, synonyms and readers were tuned on this set (and the cases \
             above); round 3 added conventional-review, compiler-output and json-exports. \
             **In-sample.**",
        ),
        (
            "holdout",
            "Written from the formats before any tuning and never scored while tuning: \
             out-of-sample figures of rounds 1 and 2. (The second round saw only the kinds \
             of failure reported for this set; in round 3 its snapshot diffs were read \
             when reviewing snapshots, and one word was taken out of a defect kind after \
             one of them. At the end of round-3 tuning, commit 8c8495c: recall 0.718, \
             2 missing, top three 7/10; after the fixes made from holdout3's failures, \
             0.795. Round 4 did not read it while tuning; scored once at the end, commit \
             dccd294: the table below.)",
        ),
        (
            "holdout2",
            "Eight cases in formats no earlier case used (suggestion blocks, errorformat \
             lines, SARIF, GitLab threads, `Issue N:` sections, other table columns, diff \
             hunks, an e-mail review), held out in round 2. **In-sample from round 3 on**: \
             its failures were read while the round-3 readers were written.",
        ),
        (
            "holdout3",
            "The round-3 held-out set: formats no other case uses (Conventional Comments, \
             reviewdog rdjson/rdjsonl, rustc/clippy and eslint output, SonarQube issues \
             JSON, a GitHub review-comment export, Gerrit inline mail, research footnotes; \
             see `SOURCES.md`), committed before any round-3 change. Written by the \
             engineer who then tuned, so less independent than `holdout`. **Scored once, \
             at the end of round-3 tuning (commit 8c8495c): precision 1.000, recall 0.655, \
             2 findings missing, top three right in 6/8, 28 unparsed lines** — the \
             out-of-sample figures of round 3. Its failures were then read and the parse \
             bugs they showed fixed (a claim after `**Severity: critical.**`, `around line \
             N`, a marker after the place, the five-level SonarQube scale); the table below \
             is from after those fixes, so **in-sample**; round 4 tuned the grouping on \
             it (with `tune` and `holdout2`): its remaining paraphrase misses motivated the \
             stemmer fixes, the concept lexicon and the lower bar at shared lines.",
        ),
        (
            "holdout4",
            "The round-4 held-out set: eight cases in formats no other case uses \
             (CodeRabbit walkthrough and inline threads, codex `/review` text, exported \
             Copilot and Gemini review threads, an LLM review pasted from an issue \
             thread, Copilot's overview with suppressed comments, golangci-lint, eslint \
             unix, ruff, mypy, hadolint, terse human nits; see `SOURCES.md`), committed \
             before any round-4 change and not scored while tuning. **Scored before \
             round 4 (precision 0.846, recall 0.256, 21 missing, 1 same-line merge, top \
             three 3/8) and once at the end of round-4 tuning, commit dccd294 (precision \
             0.857, recall 0.279, 21 missing, 1 same-line merge, top three 3/8)** — the \
             out-of-sample figures of round 4; most of the gap was findings no reader \
             took. Its failures were then read and four reader bugs they showed fixed \
             (lines that each begin with a place, CodeRabbit's label on the range line, \
             exported review threads, hadolint lines and extensionless file names; \
             recall 0.628 after them), then three more (terse `L14:` / `line 27 —` / \
             `  27  text` notes under a file line, `Line 5:` items under an intro naming \
             the file, \"Same line, …\" after a located finding): the table below is \
             from after those fixes, so **in-sample**.",
        ),
    ] {
        out.push_str(&quote_set_section(set, note, &opts));
    }

    print!("{out}");
    if let Some(path) = write {
        let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
        let new = replace_section(&old, &out);
        std::fs::write(&path, new).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        eprintln!("wrote the Merge section of {path}");
    }
}

/// The figures of one quote-truth set (`tests/fixtures/merge/<set>`).
fn quote_set_section(set: &str, note: &str, opts: &MergeOptions) -> String {
    let mut out = String::new();
    let cases = eval::load_set(set);
    let members: usize = cases.iter().map(|c| eval::Eval::members(&c.truth)).sum();
    let workers: usize = cases.iter().map(|c| c.input.workers.len()).sum();
    let _ = writeln!(out, "\n### Quote-truth set `{set}`\n");
    let _ = writeln!(
        out,
        "{} cases, {workers} workers, {members} worker findings. {note} Each true finding is \
         named by worker and a quote (`truth.json`); pairs as above; \"missing\" = a worker's \
         finding that is no ranked item's source; \"same-line merged\" = two distinct true \
         findings at one place in one item; \"top 3\" = the first three items have the \
         severity and agreement of the truth's first three; \"unparsed\" = lines of the \
         workers' text that no reader took as part of a finding (shown in the merge as \
         \"unparsed text from W2 (n lines)\").\n",
        cases.len()
    );
    let _ = writeln!(
        out,
        "| case | pairs found | wrong pairs | pairs missed | missing | same-line merged | top 3 | unparsed lines |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    let mut unparsed_total = 0;
    let mut total = eval::Eval {
        cases: 0,
        ..Default::default()
    };
    for case in &cases {
        let r = merge::merge(&case.input, opts);
        let e = eval::evaluate(&r, &case.truth);
        let unparsed = eval::unparsed_lines(&r);
        unparsed_total += unparsed;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {unparsed} |",
            case.name,
            e.pairs.true_pos,
            e.pairs.false_pos,
            e.pairs.false_neg,
            e.missing.len(),
            e.same_line_merged,
            if e.top3_right { "yes" } else { "no" }
        );
        total.add(&e);
    }
    let _ = writeln!(
        out,
        "| **all** | {} | {} | {} | **{}** | **{}** | **{}/{}** | **{unparsed_total}** |\n",
        total.pairs.true_pos,
        total.pairs.false_pos,
        total.pairs.false_neg,
        total.missing.len(),
        total.same_line_merged,
        total.top3_cases_right,
        total.cases
    );
    let _ = writeln!(
        out,
        "Pairwise precision **{:.3}**, recall **{:.3}** (targets on holdout: ≥ 0.95, ≥ 0.90, \
         none missing, none same-line merged, top three right).",
        total.pairs.precision(),
        total.pairs.recall()
    );
    if !total.missing.is_empty() {
        let _ = writeln!(out, "\nMissing: {}.", total.missing.join("; "));
    }
    out
}

/// Replaces the `## Merge` section (up to the next `## ` heading) or appends it.
fn replace_section(doc: &str, section: &str) -> String {
    let lines: Vec<&str> = doc.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == "## Merge");
    let mut out = String::new();
    match start {
        Some(s) => {
            let end = lines[s + 1..]
                .iter()
                .position(|l| l.starts_with("## "))
                .map_or(lines.len(), |e| s + 1 + e);
            for l in &lines[..s] {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(section);
            if end < lines.len() {
                out.push('\n');
                for l in &lines[end..] {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        None => {
            out.push_str(doc.trim_end());
            out.push_str("\n\n");
            out.push_str(section);
        }
    }
    out
}
