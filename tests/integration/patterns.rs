//! Orchestration patterns: fanout, --after, max-parallel, one writer, pipelines, packs.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

fn argv_of(t: &TestHome, addr: &str) -> Vec<String> {
    t.invocations(addr)[0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn write_pack(dir: &Path) -> String {
    let p = dir.join("pack.md");
    std::fs::write(
        &p,
        "# Goal\nFind races in the queue.\n\n# Non-goals\nStyle.\n\n# Success check\nEach finding has a line number.\n",
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn fanout_makes_one_read_only_reviewer_per_lens() {
    let t = TestHome::new();
    let pack = write_pack(t.path());
    let run = t
        .ok(&[
            "fanout",
            "--lens",
            "correctness,security,tests",
            "--context",
            &pack,
            "Review the queue FAKE:x",
        ])
        .trim()
        .to_string();
    let st = t.status(&run);
    let labels: Vec<&str> = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["correctness", "security", "tests"]);
    for l in &labels {
        let addr = format!("{run}/{l}");
        let w = t.wait_state(&addr, "done", 20);
        assert_eq!(w["role"], "reviewer");
        assert_eq!(w["lens"], *l);
        let argv = argv_of(&t, &addr);
        assert!(
            argv.windows(2).any(|p| p == ["--sandbox", "read-only"]),
            "{argv:?}"
        );
        let prompt = t.invocations(&addr)[0]["prompt"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(prompt.contains("CONTEXT: WORKER"), "worker preamble");
        assert!(
            prompt.contains("Find races in the queue."),
            "context pack embedded"
        );
        assert!(prompt.contains("Review the queue"));
    }
    // The plan: review completed, merge (the orchestrator's step) in progress.
    let plan = t.ok(&["plan", &run]);
    assert!(plan.contains("[x] 1. review"), "{plan}");
    assert!(plan.contains("[>] 2. merge"), "{plan}");
    assert!(
        plan.contains("[ ] 3. decide"),
        "exactly one step in progress: {plan}"
    );
}

#[test]
fn fanout_refuses_bad_lens_lists_and_packs_without_changing_state() {
    let t = TestHome::new();
    let e = t.fails(&["fanout", "--lens", "security", "x"], 2);
    assert!(e.contains("2 to 6 lenses"), "{e}");
    let e = t.fails(&["fanout", "--lens", "security,nosuchlens", "x"], 2);
    assert!(e.contains("nosuchlens"), "{e}");
    let bad = t.path().join("bad.md");
    std::fs::write(&bad, "# Goal\nsomething\n").unwrap();
    let e = t.fails(
        &[
            "fanout",
            "--lens",
            "security,tests",
            "--context",
            bad.to_str().unwrap(),
            "x",
        ],
        2,
    );
    assert!(e.contains("Success check"), "{e}");
    assert!(t.ok(&["ls"]).contains("no runs yet"));
}

#[test]
fn inline_lens_and_role_template() {
    let t = TestHome::new();
    let a = t.spawn(&[
        "--role",
        "reviewer",
        "--lens",
        "docs=Check the README only",
        "Review it",
    ]);
    t.wait_state(&a, "done", 20);
    let prompt = t.invocations(&a)[0]["prompt"].as_str().unwrap().to_string();
    assert!(prompt.contains("Check the README only"));
    assert!(prompt.contains("CONTEXT: WORKER"));
    let b = t.spawn(&[
        "--run",
        run_of(&a),
        "--role",
        "reviewer",
        "--raw",
        "Exactly this",
    ]);
    t.wait_state(&b, "done", 20);
    assert_eq!(t.invocations(&b)[0]["prompt"], "Exactly this");
}

#[test]
fn after_queues_until_the_dependency_is_done_and_passes_its_message_on() {
    let t = TestHome::new();
    let a = t.spawn(&[
        "--label",
        "review",
        "review it\nFAKE:sleep=1\nFAKE:reply=FINDING-42 in src/q.rs:7",
    ]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&[
        "--run",
        &run,
        "--label",
        "fix",
        "--after",
        "review",
        "fix the findings",
    ]);
    let w = t.worker(&b);
    assert_eq!(w["state"], "queued");
    assert_eq!(w["waiting_for"], "after review");
    t.wait_state(&b, "done", 20);
    let prompt = t.invocations(&b)[0]["prompt"].as_str().unwrap().to_string();
    assert!(prompt.starts_with("fix the findings"));
    assert!(prompt.contains("## review"), "{prompt}");
    assert!(prompt.contains("FINDING-42 in src/q.rs:7"), "{prompt}");
}

#[test]
fn a_failed_dependency_skips_its_dependents_transitively() {
    let t = TestHome::new();
    let a = t.spawn(&["--label", "scout", "x\nFAKE:sleep=0.5\nFAKE:fail=no access"]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "--label", "act", "--after", "scout", "y"]);
    let c = t.spawn(&["--run", &run, "--label", "verify", "--after", "act", "z"]);
    t.wait_state(&a, "failed", 20);
    let w = t.wait_state(&b, "skipped", 20);
    assert_eq!(w["error"], "dependency scout ended failed");
    let w = t.wait_state(&c, "skipped", 20);
    assert_eq!(w["error"], "dependency act ended skipped");
    let e = t.fails(&["spawn", "--run", &run, "--after", "nope", "x"], 2);
    assert!(e.contains("no worker nope"), "{e}");
    let e = t.fails(&["spawn", "--after", "scout", "x"], 2);
    assert!(e.contains("--run"), "{e}");
}

/// Peak number of workers between launch and end, from their records.
fn peak_parallel(t: &TestHome, run: &str) -> usize {
    let st = t.status(run);
    let mut edges = Vec::new();
    for w in st["workers"].as_array().unwrap() {
        let dir = t.worker_dir(&format!("{run}/{}", w["label"].as_str().unwrap()));
        let launch: Value =
            serde_json::from_slice(&std::fs::read(dir.join("launch.json")).unwrap()).unwrap();
        let exit: Value =
            serde_json::from_slice(&std::fs::read(dir.join("exit.json")).unwrap()).unwrap();
        let start =
            chrono::DateTime::parse_from_rfc3339(launch["launched_at"].as_str().unwrap()).unwrap();
        let end =
            chrono::DateTime::parse_from_rfc3339(exit["finished_at"].as_str().unwrap()).unwrap();
        edges.push((start, 1i32));
        edges.push((end, -1));
    }
    edges.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut peak) = (0, 0);
    for (_, d) in edges {
        cur += d;
        peak = peak.max(cur);
    }
    peak as usize
}

#[test]
fn max_parallel_is_never_exceeded_under_concurrent_spawns() {
    let t = TestHome::new();
    let a = t.spawn(&["--max-parallel", "3", "first\nFAKE:sleep=0.3"]);
    let run = run_of(&a).to_string();
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let mut c = t.cmd();
            c.args(["spawn", "--run", &run, &format!("job {i}\nFAKE:sleep=0.3")]);
            std::thread::spawn(move || c.output().unwrap())
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().status.success());
    }
    eventually(60, "all 11 done", || {
        let st = t.status(&run);
        (st["counts"]["done"] == 11).then_some(())
    });
    let peak = peak_parallel(&t, &run);
    assert!(peak <= 3, "peak {peak} > max-parallel 3");
    assert!(peak >= 2, "workers did run in parallel (peak {peak})");
}

#[test]
fn set_max_parallel_later_frees_queued_workers() {
    let t = TestHome::new();
    let a = t.spawn(&["--max-parallel", "1", "x\nFAKE:hang"]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "y"]);
    assert_eq!(t.worker(&b)["waiting_for"], "a slot (max-parallel 1)");
    t.ok(&["set", &run, "--max-parallel", "2"]);
    t.wait_state(&b, "done", 20);
    t.ok(&["stop", &a]);
}

#[test]
fn one_writer_per_working_tree() {
    let t = TestHome::new();
    let tree = t.subdir("tree");
    let tree = tree.as_str();
    let a = t.spawn(&[
        "--cd",
        tree,
        "--sandbox",
        "workspace-write",
        "write\nFAKE:sleep=1",
    ]);
    let run = run_of(&a).to_string();
    t.wait_state(&a, "running", 20);
    // Readers are unlimited.
    let r = t.spawn(&["--run", &run, "--cd", tree, "read"]);
    t.wait_state(&r, "done", 20);
    // A second writer is refused with --no-wait…
    let e = t.fails(
        &[
            "spawn",
            "--run",
            &run,
            "--cd",
            tree,
            "--sandbox",
            "workspace-write",
            "--no-wait",
            "w2",
        ],
        1,
    );
    assert!(e.contains("another worker is writing"), "{e}");
    // …and otherwise waits its turn.
    let b = t.spawn(&[
        "--run",
        &run,
        "--cd",
        tree,
        "--sandbox",
        "workspace-write",
        "w3",
    ]);
    let w = t.worker(&b);
    assert_eq!(w["state"], "queued", "{w}");
    assert!(w["waiting_for"].as_str().unwrap().contains("writer slot"));
    t.wait_state(&a, "done", 20);
    t.wait_state(&b, "done", 20);
    let wa = t.worker(&a);
    let wb = t.worker(&b);
    assert!(wb["started_at"].as_str().unwrap() >= wa["finished_at"].as_str().unwrap());
    // --force starts at once, with a warning.
    let c = t.spawn(&[
        "--run",
        &run,
        "--cd",
        tree,
        "--sandbox",
        "workspace-write",
        "w4\nFAKE:sleep=1",
    ]);
    t.wait_state(&c, "running", 20);
    let out = t.run(&[
        "spawn",
        "--run",
        &run,
        "--cd",
        tree,
        "--sandbox",
        "workspace-write",
        "--force",
        "w5",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn every_shipped_pipeline_dry_runs() {
    let t = TestHome::new();
    for (name, vars) in [
        ("triangulated-review", vec!["--var", "target=src/"]),
        ("review-fix-verify", vec!["--var", "target=src/"]),
        ("scout-act-verify", vec!["--var", "goal=add a flag"]),
        (
            "split-by-sections",
            vec!["--var", "task=port", "--var", "sections=a,b"],
        ),
        ("research-synthesis", vec!["--var", "question=which queue"]),
        ("options-sprint", vec!["--var", "problem=storage format"]),
        ("best-of-n", vec!["--var", "task=fix it"]),
    ] {
        let mut args = vec!["run", name, "--dry-run"];
        args.extend(vars.iter().copied());
        let out = t.run(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("plan:"), "{name}: {text}");
        assert!(text.contains("CONTEXT: WORKER"), "{name}");
    }
    assert!(
        t.ok(&["ls"]).contains("no runs yet"),
        "dry runs spawn nothing"
    );
}

#[test]
fn review_fix_verify_runs_to_the_end() {
    let t = TestHome::new();
    let tree = crate::worktree::repo(&t);
    let run = t
        .ok_in(
            &tree,
            &["run", "review-fix-verify", "--var", "target=src/ FAKE:x"],
        )
        .trim()
        .to_string();
    for l in ["review", "fix", "verify"] {
        t.wait_state(&format!("{run}/{l}"), "done", 30);
    }
    let fix = t.worker(&format!("{run}/fix"));
    assert_eq!(fix["sandbox"], "workspace-write");
    // The fix was made on a branch of its own; the verifier is told where.
    assert_eq!(fix["branch"], format!("orch/{run}/fix"));
    let verify_prompt = t.invocations(&format!("{run}/verify"))[0]["prompt"]
        .as_str()
        .unwrap()
        .to_string();
    let review_msg = t
        .worker_dir(&format!("{run}/review"))
        .join("last-message.md");
    assert!(
        verify_prompt.contains(review_msg.to_str().unwrap()),
        "{{out:review}} filled in"
    );
    assert!(
        verify_prompt.contains(&format!("Branch: orch/{run}/fix")),
        "{verify_prompt}"
    );
    let plan = t.ok(&["plan", &run]);
    assert!(plan.contains("[x] 3. verify"), "{plan}");
    assert!(plan.contains("[>] 4. report"), "{plan}");
}

#[test]
fn split_by_sections_runs_one_worker_per_section_then_the_verifier() {
    let t = TestHome::new();
    let tree = crate::worktree::repo(&t);
    let sections = ["src/store/", "src/merge/", "src/tmux.rs"];
    let task = "task=port the errors\nFAKE:sleep=1\n\
                FAKE:@section-1:write=s1.txt=one\\n\n\
                FAKE:@section-2:write=s2.txt=two\\n\n\
                FAKE:@section-3:write=s3.txt=three\\n";
    let sections_var = format!("sections={}", sections.join(","));
    let run = t
        .ok_in(
            &tree,
            &[
                "run",
                "split-by-sections",
                "--var",
                task,
                "--var",
                &sections_var,
            ],
        )
        .trim()
        .to_string();
    let verify = format!("{run}/consistency");
    t.wait_state(&verify, "done", 60);
    let verify_prompt = t.invocations(&verify)[0]["prompt"]
        .as_str()
        .unwrap()
        .to_string();
    for (i, section) in sections.iter().enumerate() {
        let addr = format!("{run}/section-{}", i + 1);
        let w = t.worker(&addr);
        assert_eq!(w["state"], "done", "{w}");
        assert_eq!(w["stage"], "sections");
        assert!(
            w["finished_at"].as_str().unwrap() <= t.worker(&verify)["started_at"].as_str().unwrap()
        );
        let prompt = t.invocations(&addr)[0]["prompt"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            prompt.contains(&format!("Your section is {section};")),
            "{prompt}"
        );
        let result = t.worker_dir(&addr).join("last-message.md");
        assert!(
            verify_prompt.contains(&format!("{section}: {}\n", result.display())),
            "{verify_prompt}"
        );
        // Each writer had its own worktree; its work is on its branch, not in the tree.
        assert_eq!(w["branch"], format!("orch/{addr}"));
        assert!(
            verify_prompt.contains(&format!("Branch: orch/{addr}")),
            "{verify_prompt}"
        );
        let n = i + 1;
        let stat = t.ok(&["diff", &addr, "--stat"]);
        assert!(stat.contains(&format!("s{n}.txt")), "{stat}");
        assert!(!tree.join(format!("s{n}.txt")).exists());
    }
    // The writers ran side by side: each started before every other one finished.
    let times: Vec<(String, String)> = (1..=3)
        .map(|n| {
            let w = t.worker(&format!("{run}/section-{n}"));
            (
                w["started_at"].as_str().unwrap().to_string(),
                w["finished_at"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (a, (start, _)) in times.iter().enumerate() {
        for (b, (_, end)) in times.iter().enumerate() {
            assert!(a == b || start < end, "section-{} waited: {times:?}", a + 1);
        }
    }
    for n in 1..=3 {
        t.ok(&["land", &format!("{run}/section-{n}")]);
        assert!(tree.join(format!("s{n}.txt")).is_file());
    }
    let plan = t.ok(&["plan", &run]);
    assert!(plan.contains("[x] 2. consistency"), "{plan}");
    assert!(plan.contains("[>] 3. merge"), "{plan}");
}

#[test]
fn pipelines_with_worktree_writers_outside_git_are_refused_in_one_line_or_run_in_place() {
    let t = TestHome::new();
    let tree = t.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let run_in = |args: &[&str]| t.cmd().args(args).current_dir(&tree).output().unwrap();
    let out = run_in(&[
        "run",
        "split-by-sections",
        "--var",
        "task=port",
        "--var",
        "sections=a/,b/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().last().unwrap_or_default();
    assert!(
        line.contains("pipeline split-by-sections gives its writers (section-1, section-2) a git worktree each")
            && line.contains("is not inside a git repository")
            && line.contains("--var worktrees=false"),
        "{err}"
    );
    let dry = run_in(&[
        "run",
        "split-by-sections",
        "--var",
        "task=port",
        "--var",
        "sections=a/,b/",
        "--dry-run",
    ]);
    assert!(dry.status.success());
    let dry = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.contains("would be refused: pipeline split-by-sections gives its writers"),
        "{dry}"
    );
    let out = run_in(&["run", "best-of-n", "--var", "task=fix"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("set worktree = false on them"),
        "best-of-n has no switch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.ok(&["ls"]).contains("no runs yet"), "nothing was made");

    // In place: the writers take turns in the folder.
    let out = run_in(&[
        "run",
        "split-by-sections",
        "--var",
        "task=port",
        "--var",
        "sections=a/,b/",
        "--var",
        "worktrees=false",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = String::from_utf8(out.stdout).unwrap().trim().to_string();
    t.wait_state(&format!("{run}/consistency"), "done", 60);
    assert!(
        t.worker(&format!("{run}/section-1"))
            .get("branch")
            .is_none_or(|b| b.is_null())
    );
}

#[test]
fn the_best_of_n_pipeline_lands_the_attempt_its_verifier_picked() {
    let t = TestHome::new();
    let tree = crate::worktree::repo(&t);
    let task = "task=make fix.txt\n\
                FAKE:@attempt-1:write=fix.txt=one\\n\n\
                FAKE:@attempt-2:write=fix.txt=two\\n\n\
                FAKE:@pick:reply=attempt-2 is cleaner.\\nBest: attempt-2";
    let run = t
        .ok_in(
            &tree,
            &["run", "best-of-n", "--var", task, "--var", "attempts=1,2"],
        )
        .trim()
        .to_string();
    t.wait_state(&format!("{run}/pick"), "done", 60);
    assert_eq!(t.status(&run)["picked"], "attempt-2");
    let landed = t.ok(&["land", &run]);
    assert!(
        landed.contains(&format!("landed {run}/attempt-2")),
        "{landed}"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("fix.txt")).unwrap(),
        "two\n"
    );
}

#[test]
fn bad_pipeline_files_get_file_and_line() {
    let t = TestHome::new();
    let f = t.path().join("p.toml");
    std::fs::write(
        &f,
        "description = \"x\"\n[[stage]]\nname = \"a\"\n  [[stage.worker]]\n  label = \"w\"\n  role = \"reviewer\"\n  task = \"t\"\n  colour = \"red\"\n",
    )
    .unwrap();
    let e = t.fails(&["run", f.to_str().unwrap()], 2);
    assert!(e.contains("p.toml:8"), "{e}");
    assert!(e.contains("colour"), "{e}");
    std::fs::write(
        &f,
        "[[stage]]\nname = \"a\"\n  [[stage.worker]]\n  label = \"w\"\n  role = \"reviewer\"\n  task = \"{{nope}}\"\n",
    )
    .unwrap();
    let e = t.fails(&["run", f.to_str().unwrap()], 2);
    assert!(e.contains("p.toml:6"), "{e}");
    assert!(e.contains("nope"), "{e}");
    let e = t.fails(&["run", "no-such-pipeline"], 2);
    assert!(e.contains("no-such-pipeline"), "{e}");
}

#[test]
fn pack_new_writes_a_skeleton_that_check_refuses_until_filled() {
    let t = TestHome::new();
    let f = t.path().join("ctx.md");
    t.ok(&["pack", "new", f.to_str().unwrap()]);
    let text = std::fs::read_to_string(&f).unwrap();
    for s in [
        "Goal",
        "Non-goals",
        "Constraints",
        "Pointers",
        "Prior decisions",
        "Success check",
    ] {
        assert!(text.contains(s), "{s}");
    }
    let e = t.fails(&["pack", "new", f.to_str().unwrap()], 2);
    assert!(e.contains("--force") || e.contains("exists"), "{e}");
    let e = t.fails(&["pack", "check", f.to_str().unwrap()], 2);
    assert!(e.contains("Goal"), "{e}");
    // spawn --context refuses the same pack with the same exit code.
    let e = t.fails(&["spawn", "--context", f.to_str().unwrap(), "x"], 2);
    assert!(e.contains("Goal"), "{e}");
    let good = write_pack(t.path());
    assert!(t.ok(&["pack", "check", &good]).contains("ok"));
}

#[test]
fn a_queued_writer_starts_when_the_writer_ahead_ends_with_no_command_looking() {
    let t = TestHome::new();
    let tree = t.subdir("tree");
    let tree = tree.as_str();
    // The first writer holds the slot until the gate opens (not for a fixed time: on a
    // loaded machine the second spawn may take longer than any sleep).
    let gate = t.path().join("gate");
    let a = t.spawn(&[
        "--cd",
        tree,
        "--sandbox",
        "workspace-write",
        &format!("w1\nFAKE:wait-for={}", gate.display()),
    ]);
    // Another run: the writer slot is per working tree, across runs.
    let b = t.spawn(&["--cd", tree, "--sandbox", "workspace-write", "w2"]);
    assert_eq!(t.worker(&b)["state"], "queued");
    std::fs::write(&gate, "").unwrap();
    // Only the files: no orch command runs the scheduler meanwhile.
    let exit = t.worker_dir(&b).join("exit.json");
    eventually(20, "the queued writer to run by itself", || {
        exit.exists().then_some(())
    });
    assert_eq!(t.state(&a), "done");
    assert_eq!(t.state(&b), "done");
}

#[test]
fn stop_reaches_a_resumed_writer_queued_for_the_writer_slot() {
    let t = TestHome::new();
    let tree = t.subdir("tree");
    let tree = tree.as_str();
    let a = t.spawn(&[
        "--label",
        "first",
        "--cd",
        tree,
        "--sandbox",
        "workspace-write",
        "w1\nFAKE:hang",
    ]);
    let run = run_of(&a).to_string();
    t.wait_state(&a, "running", 20);
    // A forced writer runs beside it; once done, resuming it (no longer forced) must
    // wait for the tree's writer slot.
    let b = t.spawn(&[
        "--run",
        &run,
        "--label",
        "second",
        "--cd",
        tree,
        "--sandbox",
        "workspace-write",
        "--force",
        "w2",
    ]);
    t.wait_state(&b, "done", 20);
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.worker_dir(&b).join("spec.json")).unwrap())
            .unwrap();
    spec["force_writer"] = false.into();
    std::fs::write(
        t.worker_dir(&b).join("spec.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    assert!(t.ok(&["resume", &b, "more"]).contains("queued"));
    let w = t.worker(&b);
    assert_eq!(w["state"], "queued");
    assert!(
        w["waiting_for"].as_str().unwrap().contains("writer slot"),
        "{w}"
    );
    let out = t.ok(&["stop", "--grace", "5", &b]);
    assert!(out.contains("stopped"), "{out}");
    assert_eq!(t.state(&b), "stopped");
    assert_eq!(t.state(&a), "running", "the other writer is untouched");
    t.ok(&["stop", &a]);
    assert_eq!(
        t.state(&b),
        "stopped",
        "a stopped resume does not start later"
    );
}

#[test]
fn a_failed_stage_holds_the_plan() {
    let t = TestHome::new();
    let run = t
        .ok(&[
            "fanout",
            "--lens",
            "correctness,security",
            "Review\nFAKE:fail=no model",
        ])
        .trim()
        .to_string();
    t.fails(&["wait", &run], 1);
    let plan = t.ok(&["plan", &run]);
    assert!(plan.contains("[!] 1. review"), "{plan}");
    assert!(
        plan.contains("[ ] 2. merge"),
        "the plan does not move on: {plan}"
    );
    let json: serde_json::Value = serde_json::from_str(&t.ok(&["plan", &run, "--json"])).unwrap();
    assert_eq!(json["steps"][0]["state"], "failed");
}

#[test]
fn resume_waits_for_a_slot_like_any_worker() {
    let t = TestHome::new();
    let a = t.spawn(&["--max-parallel", "1", "first"]);
    t.wait_state(&a, "done", 20);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "busy\nFAKE:sleep=1"]);
    t.wait_state(&b, "running", 20);
    let out = t.ok(&["resume", &a, "and then?"]);
    assert!(out.contains("queued to resume"), "{out}");
    assert_eq!(t.worker(&a)["waiting_for"], "a slot (max-parallel 1)");
    t.wait_state(&a, "done", 20);
    let inv = t.invocations(&a);
    let argv = inv.last().unwrap()["argv"].to_string();
    assert!(argv.contains("\"resume\""), "{argv}");
    assert_eq!(inv.last().unwrap()["prompt"], "and then?");
    assert!(!t.worker_dir(&a).join("resume.json").exists());
}

/// fanout makes its windows with one tmux call for all but the first (which may have
/// to start the server), not one call per worker; every worker still gets its own
/// window and ends done.
#[test]
fn fanout_opens_its_windows_in_one_tmux_sequence() {
    let t = TestHome::new();
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v tmux"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let bin = t.subdir("shim");
    let log = t.path().join("tmux-calls.log");
    let shim = std::path::Path::new(&bin).join("tmux");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    let out = t
        .cmd()
        .env("PATH", &path)
        .args([
            "fanout",
            "--lens",
            "correctness,security,tests,performance",
            "Review FAKE:x",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let run = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let calls = std::fs::read_to_string(&log).unwrap();
    // The first window may take two calls (no server yet: new-window, then
    // new-session); the other three come in one.
    let rest: Vec<&str> = calls
        .lines()
        .filter(|l| l.contains("__worker") && !l.contains("-n correctness"))
        .collect();
    assert_eq!(rest.len(), 1, "{calls}");
    assert_eq!(rest[0].matches("new-window").count(), 3, "{calls}");
    let st = t.status(&run);
    let mut windows = std::collections::BTreeSet::new();
    for w in st["workers"].as_array().unwrap() {
        let label = w["label"].as_str().unwrap();
        t.wait_state(&format!("{run}/{label}"), "done", 20);
        windows.insert(t.worker(&format!("{run}/{label}"))["window"].to_string());
    }
    assert_eq!(windows.len(), 4, "each worker its own window: {windows:?}");
}

#[test]
fn an_implementer_left_read_only_is_told_and_so_is_the_user() {
    let t = TestHome::new();
    let out = t.run(&["spawn", "--role", "implementer", "rename x to y"]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--sandbox workspace-write"), "{err}");
    let a = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let prompt = std::fs::read_to_string(t.worker_dir(&a).join("prompt.md")).unwrap();
    assert!(prompt.contains("you cannot change files"), "{prompt}");
    assert!(!prompt.contains("Make the change"), "{prompt}");
    // With a writable sandbox there is nothing to say.
    let tree = t.subdir("tree");
    let out = t.run(&[
        "spawn",
        "--role",
        "implementer",
        "--cd",
        &tree,
        "--sandbox",
        "workspace-write",
        "rename x to y",
    ]);
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
}

/// 100 workers freed at once (their dependency ended) start in chained tmux calls; one
/// call would exceed tmux's 16 KiB command message ("command too long") and start none.
#[test]
fn a_hundred_workers_freed_at_once_all_start() {
    let t = TestHome::new();
    // Long working folders make each window's arguments long, as in a deep checkout.
    let deep = t.path().join("src").join("nested-folder/".repeat(6));
    std::fs::create_dir_all(&deep).unwrap();
    let deep = deep.to_str().unwrap().to_string();
    let open = t.path().join("open");
    let gate = t.spawn(&[
        "--label",
        "gate",
        "--cd",
        &deep,
        &format!("gate\nFAKE:wait-for={}", open.display()),
    ]);
    let run = run_of(&gate).to_string();
    for i in 1..=100 {
        t.spawn(&[
            "--run",
            &run,
            "--after",
            "gate",
            "--cd",
            &deep,
            &format!("part {i}"),
        ]);
    }
    assert_eq!(t.status(&run)["counts"]["queued"], 100);
    std::fs::write(&open, "").unwrap();
    let out = t.ok(&["wait", &run, "--timeout", "120"]);
    let st = t.status(&run);
    assert_eq!(st["counts"]["done"], 101, "{out}\n{st:#}");
}
