//! `orch merge` on real runs: the fixtures' reviewer messages as fake codex replies.

use std::path::PathBuf;

use crate::support::*;

fn fixture(case: &str, file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/merge")
        .join(case)
        .join(file)
        .display()
        .to_string()
}

/// Spawns the scheduler fixture's three reviewers into one run; returns the run id.
fn scheduler_run(t: &TestHome) -> String {
    let a = t.spawn(&[
        "--label",
        "W1",
        "--role",
        "reviewer",
        "--lens",
        "correctness",
        "--raw",
        &format!("review\nFAKE:reply-file={}", fixture("scheduler", "W1.md")),
    ]);
    let run = run_of(&a).to_string();
    for (label, lens) in [("W2", "security"), ("W3", "tests")] {
        t.spawn(&[
            "--run",
            &run,
            "--label",
            label,
            "--role",
            "reviewer",
            "--lens",
            lens,
            "--raw",
            &format!(
                "review\nFAKE:reply-file={}",
                fixture("scheduler", &format!("{label}.md"))
            ),
        ]);
    }
    for l in ["W1", "W2", "W3"] {
        t.wait_state(&format!("{run}/{l}"), "done", 20);
    }
    run
}

#[test]
fn merge_ranks_and_deduplicates_with_provenance() {
    let t = TestHome::new();
    let run = scheduler_run(&t);
    let md = t.ok(&["merge", &run]);
    assert!(md.contains(&format!("run {run}")), "{md}");
    let first = md.lines().find(|l| l.starts_with("1. ")).unwrap();
    assert!(first.to_lowercase().contains("critical"), "{first}");
    assert!(first.contains("src/sched.rs"), "{first}");
    assert!(md.contains("(2/3)") || md.contains("(3/3)"), "{md}");
    // Saved in the run folder too, byte for byte.
    let saved = std::fs::read_to_string(t.home.join("runs").join(&run).join("merge.md")).unwrap();
    assert_eq!(saved, md);
    // Deterministic.
    assert_eq!(t.ok(&["merge", &run]), md);

    let json: serde_json::Value = serde_json::from_str(&t.ok(&["merge", &run, "--json"])).unwrap();
    assert_eq!(json["run"], run.as_str());
    let findings = json["findings"].as_array().unwrap();
    let race = &findings[0];
    assert_eq!(race["severity"], "critical");
    let labels: Vec<&str> = race["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"W1") && labels.contains(&"W2"), "{race}");
    // --min-severity hides the rest.
    let high: serde_json::Value =
        serde_json::from_str(&t.ok(&["merge", &run, "--json", "--min-severity", "high"])).unwrap();
    assert!(
        high["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] == "critical" || f["severity"] == "high")
    );
    let out = t.path().join("m.json");
    t.ok(&["merge", &run, "--json", "--out", out.to_str().unwrap()]);
    assert!(
        std::fs::read_to_string(out)
            .unwrap()
            .contains("\"findings\"")
    );
}

#[test]
fn merge_of_an_unfinished_run_says_so_and_fails_unless_partial() {
    let t = TestHome::new();
    let a = t.spawn(&[
        "--role",
        "reviewer",
        "--raw",
        "review\nFAKE:reply=- [high] src/a.rs:3 — off by one",
    ]);
    t.wait_state(&a, "done", 20);
    let b = t.spawn(&["--run", run_of(&a), "--role", "reviewer", "x\nFAKE:hang"]);
    t.wait_state(&b, "running", 20);
    let out = t.run(&["merge", run_of(&a)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PARTIAL"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not finished"));
    assert!(
        t.ok(&["merge", run_of(&a), "--partial"])
            .contains("off by one")
    );
    t.ok(&["stop", &b]);
}

#[test]
fn fanout_merge_writes_merge_md_when_all_reviewers_end() {
    let t = TestHome::new();
    let run = t
        .ok(&[
            "fanout",
            "--lens",
            "correctness,security",
            "--merge",
            "Review\nFAKE:reply=1. **High** src/q.rs:10 — the queue drops items",
        ])
        .trim()
        .to_string();
    let path = t.home.join("runs").join(&run).join("merge.md");
    let md = eventually(20, "merge.md", || std::fs::read_to_string(&path).ok());
    assert!(md.contains("the queue drops items"), "{md}");
    assert!(md.contains("(2/2)"), "both lenses reported it: {md}");
}

#[test]
fn synthesize_adds_a_read_only_worker_whose_message_is_saved() {
    let t = TestHome::new();
    let run = scheduler_run(&t);
    let out = t.run(&["merge", &run, "--synthesize"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let addr = format!("{run}/synthesis");
    let w = t.wait_state(&addr, "done", 20);
    assert_eq!(w["sandbox"], "read-only");
    let prompt = t.invocations(&addr)[0]["prompt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("CONTEXT: WORKER"));
    assert!(
        prompt.contains("src/sched.rs"),
        "the merge is in the prompt"
    );
    let saved = t.home.join("runs").join(&run).join("synthesis.md");
    let text = eventually(10, "synthesis.md", || std::fs::read_to_string(&saved).ok());
    assert_eq!(text, t.ok(&["result", &addr]));
    // A second --synthesize refuses; the merge itself leaves the synthesis out.
    let e = t.fails(&["merge", &run, "--synthesize"], 2);
    assert!(e.contains("already has a synthesis"), "{e}");
    assert!(!t.ok(&["merge", &run]).contains("synthesis"));
}

#[test]
fn the_plan_marks_its_merge_step_done_after_orch_merge() {
    let t = TestHome::new();
    let run = t
        .ok(&["fanout", "--lens", "correctness,security", "Review src/"])
        .trim()
        .to_string();
    t.ok(&["wait", &run]);
    let plan = t.ok(&["plan", &run]);
    assert!(plan.contains("[>] 2. merge"), "{plan}");
    t.ok(&["merge", &run]);
    let plan = t.ok(&["plan", &run]);
    assert!(plan.contains("[x] 2. merge"), "{plan}");
    assert!(plan.contains("[>] 3. decide"), "{plan}");
}

/// `orch merge` reads the run's tree (`git ls-files` of the directory the workers
/// reviewed): a suffix and an absolute path of another checkout take the tree's
/// spelling, and are one finding.
#[test]
fn merge_spells_locations_as_the_runs_tree_does() {
    let t = TestHome::new();
    let repo = t.subdir("shop");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    for f in ["app/webhooks/stripe.py", "app/models.py"] {
        let p = std::path::Path::new(&repo).join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "x = 1\n").unwrap();
    }
    git(&["add", "."]);
    let replies = [
        "- [critical] webhooks/stripe.py:32 — the webhook signature is never verified\n",
        "- [critical] /home/runner/work/shop/shop/app/webhooks/stripe.py:31-33 — webhook signature is not verified before the event is trusted\n",
    ];
    let mut run = String::new();
    for (i, reply) in replies.iter().enumerate() {
        let file = t.path().join(format!("reply{i}.md"));
        std::fs::write(&file, reply).unwrap();
        let prompt = format!("review\nFAKE:reply-file={}", file.display());
        let label = format!("W{}", i + 1);
        let mut args = vec!["--label", &label, "--role", "reviewer", "--cd", &repo];
        if !run.is_empty() {
            args.extend(["--run", &run]);
        }
        args.extend(["--raw", &prompt]);
        let a = t.spawn(&args);
        run = run_of(&a).to_string();
    }
    for l in ["W1", "W2"] {
        t.wait_state(&format!("{run}/{l}"), "done", 20);
    }
    let json: serde_json::Value = serde_json::from_str(&t.ok(&["merge", &run, "--json"])).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{json:#}");
    assert_eq!(
        findings[0]["location"]["path"], "app/webhooks/stripe.py",
        "{json:#}"
    );
    for s in findings[0]["sources"].as_array().unwrap() {
        assert_eq!(s["location"]["path"], "app/webhooks/stripe.py", "{s:#}");
    }
}
