//! The merge library against realistic review runs (tests/fixtures/merge).

#[path = "merge/eval.rs"]
mod eval;

use orch::merge::{self, MergeInput, MergeOptions, RunKind, Severity, WorkerOutput};
use proptest::prelude::*;

fn worker(label: &str, lens: Option<&str>, state: &str, text: Option<&str>) -> WorkerOutput {
    WorkerOutput {
        label: label.into(),
        role: Some("reviewer".into()),
        lens: lens.map(Into::into),
        state: state.into(),
        text: text.map(Into::into),
    }
}

fn input(workers: Vec<WorkerOutput>) -> MergeInput {
    MergeInput {
        run: "r1".into(),
        workers,
        tree: Vec::new(),
    }
}

#[test]
fn fixture_snapshots() {
    for case in eval::load_cases() {
        let report = merge::merge(&case.input, &MergeOptions::default());
        insta::assert_snapshot!(format!("{}.md", case.name), report.to_markdown());
        insta::assert_json_snapshot!(format!("{}.json", case.name), report.to_json());
    }
    for set in ["tune", "holdout", "holdout2", "holdout3", "holdout4"] {
        for case in eval::load_set(set) {
            let report = merge::merge(&case.input, &MergeOptions::default());
            let name = case.name.replace('/', "-");
            insta::assert_snapshot!(format!("{name}.md"), report.to_markdown());
        }
    }
}

#[test]
fn fixture_finding_counts_match_known_counts() {
    for case in eval::load_cases() {
        let Some(truth) = &case.truth else { continue };
        let report = merge::merge(&case.input, &MergeOptions::default());
        assert_eq!(report.kind, RunKind::Review, "{}", case.name);
        assert_eq!(eval::parsed_counts(&report), truth.counts, "{}", case.name);
    }
}

#[test]
fn fixture_grouping_precision_and_recall() {
    let mut total = eval::Score::default();
    for case in eval::load_cases() {
        let Some(truth) = &case.truth else { continue };
        let report = merge::merge(&case.input, &MergeOptions::default());
        let s = eval::score(&report, truth);
        eprintln!("{}: {s:?}", case.name);
        total.add(s);
    }
    assert!(total.precision() >= 0.95, "precision {total:?}");
    assert!(total.recall() >= 0.9, "recall {total:?}");
}

/// The tuning data of the quote-truth fixtures (`tune/`, and `holdout2/`, tuned on from
/// round 3): nothing missing, no distinct same-line defects merged, precision and recall
/// floors. The held-out sets (`holdout/`, `holdout3/`) are scored only by
/// `cargo bench --bench merge`.
#[test]
fn tune_set_meets_the_targets() {
    let mut total = eval::Eval {
        cases: 0,
        ..Default::default()
    };
    for case in ["tune", "holdout2"].into_iter().flat_map(eval::load_set) {
        let report = merge::merge(&case.input, &MergeOptions::default());
        let e = eval::evaluate(&report, &case.truth);
        eprintln!(
            "{}: {:?} missing {:?} split {:?} same-line merged {} top3 {}",
            case.name, e.pairs, e.missing, e.split, e.same_line_merged, e.top3_right
        );
        if std::env::var_os("MERGE_SHOW").is_some() {
            eprintln!("{}", report.to_markdown());
        }
        total.add(&e);
    }
    eprintln!("total {:?}", total.pairs);
    assert!(
        total.pairs.precision() >= 0.95,
        "precision {:?}",
        total.pairs
    );
    assert!(total.pairs.recall() >= 0.9, "recall {:?}", total.pairs);
    assert_eq!(
        total.missing,
        Vec::<String>::new(),
        "findings missing from the ranked list"
    );
    assert_eq!(
        total.same_line_merged, 0,
        "distinct same-line defects merged"
    );
    assert!(
        total.top3_cases_right == total.cases,
        "cases with the top three right: {} of {}",
        total.top3_cases_right,
        total.cases
    );
}

#[test]
fn fixture_output_is_independent_of_worker_order() {
    for case in eval::load_cases() {
        let want = merge::merge(&case.input, &MergeOptions::default()).to_markdown();
        let mut reversed = case.input.clone();
        reversed.workers.reverse();
        let got = merge::merge(&reversed, &MergeOptions::default()).to_markdown();
        assert_eq!(got, want, "{}", case.name);
    }
}

#[test]
fn fixture_remerge_does_not_explode() {
    for case in eval::load_cases() {
        let first = merge::merge(&case.input, &MergeOptions::default());
        if first.kind != RunKind::Review {
            continue;
        }
        let again = merge::merge(
            &input(vec![worker("M", None, "done", Some(&first.to_markdown()))]),
            &MergeOptions::default(),
        );
        assert_eq!(
            again.finding_count(),
            first.finding_count(),
            "{}",
            case.name
        );
    }
}

#[test]
fn partial_run_is_flagged_loudly() {
    let r = merge::merge(
        &input(vec![
            worker(
                "W1",
                Some("security"),
                "done",
                Some("- [high] a.rs:1 bad thing"),
            ),
            worker("W3", None, "running", None),
            worker("W4", None, "queued", None),
        ]),
        &MergeOptions::default(),
    );
    assert!(r.is_partial());
    let md = r.to_markdown();
    assert!(
        md.contains("> **PARTIAL**: 2 workers still running (W3, W4)"),
        "{md}"
    );
    assert!(
        md.contains("Excluded (2): W3 (running), W4 (queued)"),
        "{md}"
    );
}

#[test]
fn failed_workers_only_with_include_failed() {
    let workers = vec![
        worker(
            "W1",
            Some("security"),
            "done",
            Some("- [high] a.rs:1 bad thing"),
        ),
        worker(
            "W2",
            Some("style"),
            "failed",
            Some("- [low] b.rs:9 naming is odd"),
        ),
        worker("W3", Some("perf"), "lost", Some("  ")),
    ];
    let default = merge::merge(&input(workers.clone()), &MergeOptions::default());
    assert_eq!(default.finding_count(), 1);
    assert!(!default.is_partial());
    let with = merge::merge(
        &input(workers),
        &MergeOptions {
            include_failed: true,
            ..Default::default()
        },
    );
    assert_eq!(with.finding_count(), 2);
    let included: Vec<_> = with
        .workers
        .iter()
        .filter(|w| w.included)
        .map(|w| w.label.as_str())
        .collect();
    assert_eq!(included, ["W1", "W2"], "an empty message is never read");
}

#[test]
fn min_severity_hides_and_counts() {
    let r = merge::merge(
        &input(vec![worker(
            "W1",
            None,
            "done",
            Some("- [high] a.rs:1 bad thing\n- [low] b.rs:2 small thing\n- [nit] c.rs:3 tiny"),
        )]),
        &MergeOptions {
            min_severity: Severity::Medium,
            ..Default::default()
        },
    );
    assert_eq!(r.finding_count(), 1);
    assert_eq!(r.hidden, 2);
    assert!(
        r.to_markdown()
            .contains("2 findings below medium not shown.")
    );
}

#[test]
fn ranking_severity_then_reporters_then_location() {
    let r = merge::merge(
        &input(vec![
            worker(
                "W1",
                Some("a"),
                "done",
                Some(
                    "- [medium] z.rs:5 cache never evicts old entries\n- [medium] b.rs:1 retry loop has no backoff\n- [high] y.rs:1 secret is logged",
                ),
            ),
            worker(
                "W2",
                Some("b"),
                "done",
                Some("- [low] z.rs:6 cache never evicts entries"),
            ),
        ]),
        &MergeOptions::default(),
    );
    let claims: Vec<_> = r.findings.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(
        claims,
        [
            "secret is logged",
            "cache never evicts old entries",
            "retry loop has no backoff"
        ]
    );
    assert_eq!(r.findings[1].severity, Severity::Medium);
    assert_eq!(r.findings[1].reported_by, ["a", "b"]);
    assert_eq!(
        r.findings[1].location.as_ref().unwrap().to_string(),
        "z.rs:5-6"
    );
}

#[test]
fn same_file_far_apart_different_claims_are_not_merged() {
    let r = merge::merge(
        &input(vec![
            worker(
                "W1",
                None,
                "done",
                Some("- [high] src/a.rs:10 token expiry is not checked"),
            ),
            worker(
                "W2",
                None,
                "done",
                Some("- [high] src/a.rs:400 log line has a typo"),
            ),
        ]),
        &MergeOptions::default(),
    );
    assert_eq!(r.finding_count(), 2);
}

#[test]
fn severity_not_given_is_recorded_and_shown() {
    let r = merge::merge(
        &input(vec![worker(
            "W1",
            None,
            "done",
            Some("## Issues\n- src/a.rs:3 the claim without a level\n"),
        )]),
        &MergeOptions::default(),
    );
    let f = &r.findings[0];
    assert_eq!(f.severity, Severity::Medium);
    assert!(f.sources[0].severity_assumed);
    assert_eq!(
        r.to_json()["findings"][0]["sources"][0]["severity_assumed"],
        true
    );
    assert!(
        r.to_markdown()
            .contains("**MEDIUM** (severity not given) `src/a.rs:3`")
    );
}

#[test]
fn unparsed_text_becomes_notes_and_empty_runs_digest() {
    let r = merge::merge(
        &input(vec![
            worker(
                "W1",
                None,
                "done",
                Some("Intro.\n\n- [high] a.rs:1 bad\n\nBye."),
            ),
            worker("W2", None, "done", Some("All good, nothing to report.")),
        ]),
        &MergeOptions::default(),
    );
    assert_eq!(r.kind, RunKind::Review);
    let notes: Vec<_> = r
        .notes
        .iter()
        .map(|n| (n.label.as_str(), n.text.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            ("W1", "Intro.\n\nBye."),
            ("W2", "All good, nothing to report.")
        ]
    );

    let none = merge::merge(
        &input(vec![worker("W1", None, "done", Some("Looks fine to me."))]),
        &MergeOptions::default(),
    );
    assert_eq!(none.kind, RunKind::Digest);
    assert!(none.to_markdown().contains("Looks fine to me."));
}

#[test]
fn non_reviewer_roles_give_a_digest() {
    let mut w = worker(
        "W1",
        None,
        "done",
        Some("- [high] a.rs:1 this looks like a finding"),
    );
    w.role = Some("options".into());
    let r = merge::merge(&input(vec![w]), &MergeOptions::default());
    assert_eq!(r.kind, RunKind::Digest);
    assert_eq!(r.finding_count(), 0);
    assert_eq!(r.digest.len(), 1);
}

#[test]
fn researchers_findings_are_merged_with_urls_as_locations() {
    let researcher = |label: &str, text: &str| {
        let mut w = worker(label, None, "done", Some(text));
        w.role = Some("researcher".into());
        w
    };
    let r = merge::merge(
        &input(vec![
            researcher(
                "research-1",
                "- [high] https://docs.rs/notify/latest/notify/#known-problems — macOS FSEvents coalesces rename events for a watched file\n",
            ),
            researcher(
                "research-2",
                "- [high] https://github.com/notify-rs/notify/issues/412 — FSEvents coalesces rename events on macOS\n",
            ),
        ]),
        &MergeOptions::default(),
    );
    assert_eq!(r.kind, RunKind::Review);
    assert_eq!(r.finding_count(), 1, "{}", r.to_markdown());
    assert_eq!(
        r.findings[0].sources[0].location.as_ref().unwrap().path,
        "https://docs.rs/notify/latest/notify/#known-problems"
    );
}

#[test]
fn other_roles_in_a_review_are_notes() {
    let mut implementer = worker(
        "W1",
        None,
        "done",
        Some("- Edited src/a.rs:10 to add checks"),
    );
    implementer.role = Some("implementer".into());
    let r = merge::merge(
        &input(vec![
            implementer,
            worker(
                "W2",
                None,
                "done",
                Some("- [high] src/b.rs:3 check is inverted"),
            ),
        ]),
        &MergeOptions::default(),
    );
    assert_eq!(r.kind, RunKind::Review);
    assert_eq!(r.finding_count(), 1);
    assert_eq!(r.notes[0].label, "W1");
    assert_eq!(r.notes[0].text, "- Edited src/a.rs:10 to add checks");
}

#[test]
fn json_shape() {
    let r = merge::merge(
        &input(vec![worker(
            "W1",
            Some("sec"),
            "done",
            Some("- [high] a.rs:1-3 bad"),
        )]),
        &MergeOptions::default(),
    );
    let j = r.to_json();
    assert_eq!(j["run"], "r1");
    assert_eq!(j["partial"], false);
    assert_eq!(j["workers"][0]["included"], true);
    let f = &j["findings"][0];
    assert_eq!(f["severity"], "high");
    assert_eq!(
        f["location"],
        serde_json::json!({"path": "a.rs", "start_line": 1, "end_line": 3})
    );
    assert_eq!(f["claim"], "bad");
    assert_eq!(f["reported_by"], serde_json::json!(["sec"]));
    assert_eq!(f["sources"][0]["label"], "W1");
    assert_eq!(f["sources"][0]["text"], "bad");
}

// ------------------------------------------------------------------ properties

/// Findings in several styles, some describing the same problem in other words.
/// (severity, location, claim, the same claim in other words)
type PoolEntry = (
    &'static str,
    Option<(&'static str, u32)>,
    &'static str,
    &'static str,
);

const POOL: &[PoolEntry] = &[
    (
        "high",
        Some(("src/auth.rs", 42)),
        "token expiry is never checked",
        "expired tokens are accepted because exp is not validated",
    ),
    (
        "critical",
        Some(("src/db.rs", 57)),
        "SQL built with format! allows injection",
        "user email interpolated into the SQL string",
    ),
    (
        "medium",
        Some(("src/db.rs", 90)),
        "connection pool is never closed",
        "pool is leaked on shutdown",
    ),
    (
        "low",
        Some(("README.md", 5)),
        "broken link to usage docs",
        "dead link to docs/usage.md",
    ),
    (
        "medium",
        None,
        "no rate limiting on login",
        "login endpoint has no rate limiting",
    ),
    (
        "info",
        Some(("src/main.rs", 3)),
        "typo in module docs",
        "module doc comment has a typo",
    ),
    (
        "high",
        Some(("src/auth.rs", 300)),
        "session ids are predictable",
        "session ids come from a non-cryptographic RNG",
    ),
];

fn render_finding(
    style: usize,
    sev: &str,
    loc: Option<(&str, u32)>,
    claim: &str,
    n: usize,
) -> String {
    let loc_s = |fmt: usize| match loc {
        None => String::new(),
        Some((p, l)) => match fmt {
            0 => format!("{p}:{l} "),
            1 => format!("`{p}:{l}`: "),
            _ => format!("{p}#L{l} "),
        },
    };
    let p = match sev {
        "critical" => "P0",
        "high" => "P1",
        "medium" => "P2",
        _ => "P3",
    };
    match style % 4 {
        0 => format!(
            "- [{sev}] {}— {claim}\n  Evidence: seen in review\n",
            loc_s(0)
        ),
        1 => format!("{n}. **{}** — {}{claim}\n", capitalise(sev), loc_s(1)),
        2 => format!("- {p} {}{claim}\n", loc_s(2)),
        _ => format!(
            "- Severity: {sev}\n  Location: {}\n  Claim: {claim}\n",
            loc.map_or("n/a".to_string(), |(p, l)| format!("{p}:{l}"))
        ),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

fn workers_strategy() -> impl Strategy<Value = Vec<WorkerOutput>> {
    let one = (
        proptest::collection::vec((any::<bool>(), any::<bool>()), POOL.len()),
        0usize..4,
        proptest::option::of(prop_oneof![
            Just("security"),
            Just("correctness"),
            Just("style")
        ]),
        prop_oneof![Just("done"), Just("done"), Just("failed"), Just("running")],
        any::<bool>(),
    );
    proptest::collection::vec(one, 1..6).prop_map(|ws| {
        ws.into_iter()
            .enumerate()
            .map(|(i, (picks, style, lens, state, intro))| {
                let mut text = String::new();
                if intro {
                    text.push_str("Here is what I found.\n\n");
                }
                let mut n = 0;
                for (k, (take, alt)) in picks.iter().enumerate() {
                    if *take {
                        n += 1;
                        let (sev, loc, a, b) = POOL[k];
                        let claim = if *alt { b } else { a };
                        text.push_str(&render_finding(style, sev, loc, claim, n));
                    }
                }
                text.push_str("\nThanks.\n");
                WorkerOutput {
                    label: format!("W{}", i + 1),
                    role: Some("reviewer".into()),
                    lens: lens.map(Into::into),
                    state: state.into(),
                    text: Some(text),
                }
            })
            .collect::<Vec<_>>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_is_order_independent(
        (workers, shuffled) in workers_strategy()
            .prop_flat_map(|w| (Just(w.clone()), Just(w).prop_shuffle()))
    ) {
        let a = merge::merge(&input(workers), &MergeOptions::default());
        let b = merge::merge(&input(shuffled), &MergeOptions::default());
        prop_assert_eq!(a.to_markdown(), b.to_markdown());
        prop_assert_eq!(a.to_json(), b.to_json());
    }

    #[test]
    fn merge_is_repeatable_and_remerge_does_not_explode(workers in workers_strategy()) {
        let inp = input(workers);
        let a = merge::merge(&inp, &MergeOptions::default());
        let b = merge::merge(&inp, &MergeOptions::default());
        prop_assert_eq!(a.to_markdown(), b.to_markdown());

        let again = merge::merge(
            &input(vec![worker("M", None, "done", Some(&a.to_markdown()))]),
            &MergeOptions::default(),
        );
        prop_assert!(
            again.finding_count() <= a.finding_count(),
            "{} > {}\n{}", again.finding_count(), a.finding_count(), a.to_markdown()
        );
    }

    #[test]
    fn merge_never_panics_on_odd_text(
        texts in proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    any::<String>(),
                    Just("- [high] ".to_string()),
                    Just("`src/a.rs:4`".to_string()),
                    Just("### 1. ".to_string()),
                    Just("**High** — ".to_string()),
                    Just("🔴\u{fe0f} ".to_string()),
                    Just("lines 3–4 of a.rs".to_string()),
                    Just("\n".to_string()),
                    Just("\n  ".to_string()),
                    Just("```".to_string()),
                    Just("| Severity | Issue |\n|---|---|\n".to_string()),
                    Just("{\"findings\":[{\"claim\":\"x\"}]}".to_string()),
                    // The shapes of the round-3 readers.
                    Just("issue (blocking): ".to_string()),
                    Just("praise: ".to_string()),
                    Just("warning: x\n  --> src/a.rs:3:1\n   |\n".to_string()),
                    Just("src/a.rs:3:1: error: ".to_string()),
                    Just("/ci/a.ts\n  3:1  error  x  no-undef\n".to_string()),
                    Just("@@ -1,2 +1,3 @@\n".to_string()),
                    Just("> [!WARNING]\n> ".to_string()),
                    Just("File a/b.go:\nPS1, Line 3: ".to_string()),
                    Just("[^1]: https://x.example/".to_string()),
                    Just("[^1]".to_string()),
                    Just("```suggestion\n".to_string()),
                    Just("**@u** started a thread on `a.rb`, line 2:\n> ".to_string()),
                    Just("{\"runs\":[{\"results\":[{\"message\":{\"text\":\"y\"}}]}]}".to_string()),
                    Just("🔴 ".to_string()),
                ],
                0..12,
            )
            .prop_map(|parts| parts.concat()),
            1..4,
        )
    ) {
        let workers = texts
            .iter()
            .enumerate()
            .map(|(i, t)| worker(&format!("W{i}"), None, "done", Some(t)))
            .collect();
        let r = merge::merge(&input(workers), &MergeOptions::default());
        let _ = r.to_markdown();
        let _ = r.to_json();
    }
}

/// Content words for generated review messages: none is a stop word or a severity word,
/// so each must survive reading somewhere in the report.
const VOCAB: &[&str] = &[
    "cache", "socket", "parser", "buffer", "retry", "queue", "header", "cursor", "schema",
    "tenant", "upload", "router", "ledger", "widget", "daemon", "bucket",
];

/// One line of a generated message, by kind (see `message_strategy`).
fn render_line(kind: u8, w: &[usize], n: u32) -> String {
    let v = |i: usize| VOCAB[w[i] % VOCAB.len()];
    match kind {
        0 => format!("{} {}:", v(0), v(1)),
        1 => format!(
            "- [high] src/{}.rs:{n} — the {} {} {}",
            v(0),
            v(1),
            v(2),
            v(3)
        ),
        2 => format!("- {} {} {}", v(0), v(1), v(2)),
        3 => format!("**Critical:** src/{}.rs:{n} — {} {}", v(0), v(1), v(2)),
        4 => format!(
            "The {} {} at src/{}.rs:{n} drops the {} {}.",
            v(0),
            v(1),
            v(2),
            v(3),
            v(4)
        ),
        5 => format!("## {} {}", v(0), v(1)),
        6 => format!("{} {} {} {}.", v(0), v(1), v(2), v(3)),
        7 => String::new(),
        8 => format!("1. {} {} {}", v(0), v(1), v(2)),
        9 => format!("Minor: lib/{}.py:{n} — {} {}", v(0), v(1), v(2)),
        10 => format!("issue (blocking): the {} {} {}", v(0), v(1), v(2)),
        11 => format!("src/{}.rs:{n}:3: warning: the {} {}", v(0), v(1), v(2)),
        12 => format!("praise: the {} {}", v(0), v(1)),
        13 => format!(
            "> [!WARNING]\n> **src/{}.rs:{n}** — the {} {}",
            v(0),
            v(1),
            v(2)
        ),
        _ => format!("@@ -{n},3 +{n},4 @@\n> {} {}", v(0), v(1)),
    }
}

fn message_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (0u8..15, prop::collection::vec(0usize..16, 5), 1u32..400),
        1..14,
    )
    .prop_map(|lines| {
        lines
            .iter()
            .map(|(k, w, n)| render_line(*k, w, *n))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No line is lost: every non-blank line of a message ends up in a finding (claim,
    /// evidence, fix, location, severity marker), in a container heading, or in the
    /// worker's unparsed text.
    #[test]
    fn every_line_ends_up_somewhere(text in message_strategy()) {
        let report = merge::merge(
            &input(vec![worker("W1", None, "done", Some(&text))]),
            &MergeOptions::default(),
        );
        let all = report.to_json().to_string().to_lowercase();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if line.starts_with('#') {
                continue; // a container heading
            }
            for w in line.split(|c: char| !c.is_alphanumeric()).filter(|w| VOCAB.contains(w)) {
                prop_assert!(
                    all.contains(w),
                    "{w:?} of line {line:?} is nowhere in the report\n--- message\n{text}\n--- report\n{}",
                    report.to_markdown()
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Provenance: every finding a worker's message yields is the source of exactly one
    /// ranked item, under its own wording, and no item has a source no message gave.
    #[test]
    fn merging_never_loses_a_findings_provenance(workers in workers_strategy()) {
        let report = merge::merge(&input(workers.clone()), &MergeOptions::default());
        if report.kind != RunKind::Review {
            return Ok(());
        }
        let mut want: Vec<(String, usize, String)> = workers
            .iter()
            .filter(|w| w.state == "done")
            .flat_map(|w| {
                merge::read::parse_message(w.text.as_deref().unwrap_or(""))
                    .findings
                    .into_iter()
                    .map(|f| (w.label.clone(), f.index, f.claim))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut got: Vec<(String, usize, String)> = report
            .findings
            .iter()
            .flat_map(|f| f.sources.iter().map(|s| (s.label.clone(), s.index, s.text.clone())))
            .collect();
        want.sort();
        got.sort();
        prop_assert_eq!(got, want);
    }

    /// The headline is the wording of the item's first source, and that source carries
    /// the item's severity whenever any source gave one (most severe claim first).
    #[test]
    fn the_headline_is_a_most_severe_wording(workers in workers_strategy()) {
        let report = merge::merge(&input(workers), &MergeOptions::default());
        for f in &report.findings {
            prop_assert_eq!(&f.claim, &f.sources[0].text);
            if !f.severity_assumed {
                prop_assert!(!f.sources[0].severity_assumed);
                prop_assert_eq!(f.sources[0].severity, f.severity);
            }
        }
    }

    /// Idempotent on duplicated input: every worker sent twice (under a second label)
    /// gives the same items, each with every source twice.
    #[test]
    fn duplicated_input_gives_the_same_items(workers in workers_strategy()) {
        let once = merge::merge(&input(workers.clone()), &MergeOptions::default());
        let mut twice = workers.clone();
        twice.extend(workers.iter().map(|w| WorkerOutput {
            label: format!("{}-copy", w.label),
            ..w.clone()
        }));
        let twice = merge::merge(&input(twice), &MergeOptions::default());
        let key = |r: &merge::Report| -> Vec<(String, Vec<(String, usize)>)> {
            r.findings
                .iter()
                .map(|f| {
                    let mut s: Vec<(String, usize)> = f
                        .sources
                        .iter()
                        .map(|s| (s.label.trim_end_matches("-copy").to_string(), s.index))
                        .collect();
                    s.sort();
                    s.dedup();
                    (f.severity.to_string(), s)
                })
                .collect()
        };
        prop_assert_eq!(key(&once), key(&twice));
        for f in &twice.findings {
            prop_assert_eq!(f.sources.len() % 2, 0, "{:?}", f.sources);
        }
    }
}

/// One finding in orch's findings schema (`share/schemas/findings.schema.json`).
fn schema_finding() -> impl Strategy<Value = serde_json::Value> {
    (
        prop_oneof![
            Just("critical"),
            Just("high"),
            Just("medium"),
            Just("low"),
            Just("info")
        ],
        prop_oneof![
            (0usize..VOCAB.len(), 1u32..500, 0u32..4).prop_map(|(f, l, n)| if n == 0 {
                format!("src/{}.rs:{l}", VOCAB[f])
            } else {
                format!("src/{}.rs:{l}-{}", VOCAB[f], l + n)
            }),
            Just("https://docs.rs/tokio/latest/tokio/".to_string()),
            Just("-".to_string()),
        ],
        prop::collection::vec(0usize..VOCAB.len(), 3..8),
        prop::collection::vec(0usize..VOCAB.len(), 0..6),
        proptest::option::of(prop::collection::vec(0usize..VOCAB.len(), 1..4)),
    )
        .prop_map(|(sev, loc, claim, evidence, fix)| {
            let words = |v: &[usize]| v.iter().map(|i| VOCAB[*i]).collect::<Vec<_>>().join(" ");
            serde_json::json!({
                "severity": sev,
                "location": loc,
                "claim": format!("the {}", words(&claim)),
                "evidence": words(&evidence),
                "fix": fix.map(|f| words(&f)),
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// What `--findings-schema` buys on the reading side: a message in orch's schema is
    /// read field for field — severity, location, claim, evidence and fix exactly as
    /// given, in order, nothing left unparsed but the summary.
    #[test]
    fn a_message_in_the_findings_schema_is_read_exactly(
        findings in prop::collection::vec(schema_finding(), 1..8)
    ) {
        let msg = serde_json::json!({"findings": findings, "summary": "done"}).to_string();
        let p = merge::read::parse_message(&msg);
        prop_assert_eq!(p.findings.len(), findings.len());
        for (f, want) in p.findings.iter().zip(&findings) {
            prop_assert_eq!(f.severity.as_str(), want["severity"].as_str().unwrap());
            prop_assert!(!f.severity_assumed);
            prop_assert_eq!(f.location.as_ref().map(|l| l.to_string()), want["location"].as_str().filter(|l| *l != "-").map(str::to_string));
            prop_assert_eq!(f.claim.as_str(), want["claim"].as_str().unwrap());
            prop_assert_eq!(f.evidence.as_deref(), want["evidence"].as_str().filter(|e| !e.is_empty()));
            prop_assert_eq!(f.fix.as_deref(), want["fix"].as_str());
        }
        prop_assert_eq!(p.note, "summary: done");
    }
}
