//! The core: spawn, status, result, stop, lost, attach, environment, JSON shape.

use std::time::Duration;

use crate::support::*;

#[test]
fn spawn_runs_to_done_and_result_prints_the_message_exactly() {
    let t = TestHome::new();
    let addr = t.spawn(&["Review src/ for races\nFAKE:reply=Line one\\n\\nLine three\\n"]);
    assert!(addr.ends_with("/W1"), "{addr}");
    let w = t.wait_state(&addr, "done", 20);
    assert_eq!(w["exit_code"], 0);
    assert_eq!(w["tokens"]["input"], 100);
    assert_eq!(w["tokens"]["output"], 10);
    assert!(w["thread_id"].as_str().unwrap().starts_with("fake-thread-"));
    let out = t.run(&["result", &addr]);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"Line one\n\nLine three\n");
    // LABEL alone means the latest run.
    assert_eq!(t.ok(&["result", "W1"]), "Line one\n\nLine three\n");
    // The prompt went to codex on stdin, not argv, with the flags orch promises.
    let inv = &t.invocations(&addr)[0];
    let argv: Vec<&str> = inv["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(&argv[..2], &["exec", "--json"]);
    assert!(
        argv.windows(2).any(|p| p == ["--sandbox", "read-only"]),
        "{argv:?}"
    );
    assert!(argv.contains(&"--skip-git-repo-check"));
    // Every worker's codex has orch's own MCP server switched off.
    assert!(
        argv.windows(2)
            .any(|p| p == ["-c", r#"mcp_servers.orch={command="orch",enabled=false}"#]),
        "{argv:?}"
    );
    assert_eq!(argv.last(), Some(&"-"));
    assert!(!argv.iter().any(|a| a.contains("Review src")));
    assert!(
        inv["prompt"]
            .as_str()
            .unwrap()
            .starts_with("Review src/ for races")
    );
}

#[test]
fn second_spawn_joins_the_run_with_next_label_and_options() {
    let t = TestHome::new();
    let a = t.spawn(&["one\nFAKE:sleep=0.2"]);
    let run = run_of(&a);
    let b = t.spawn(&[
        "--run",
        &run[..10],
        "--label",
        "tests",
        "--role",
        "reviewer",
        "--model",
        "m1",
        "two",
        "--",
        "-c",
        "x=1",
    ]);
    assert_eq!(b, format!("{run}/tests"));
    let c = t.spawn(&["--run", run, "three"]);
    assert_eq!(c, format!("{run}/W2"));
    let w = t.wait_state(&b, "done", 20);
    assert_eq!(w["role"], "reviewer");
    let argv = t.invocations(&b)[0]["argv"].clone();
    let argv: Vec<&str> = argv
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(argv.windows(2).any(|p| p == ["--model", "m1"]));
    assert!(
        argv.windows(3).any(|p| p == ["-c", "x=1", "-"]),
        "verbatim args come last: {argv:?}"
    );
}

#[test]
fn prompt_from_file_and_stdin() {
    let t = TestHome::new();
    let f = t.path().join("pack.md");
    std::fs::write(&f, "from a file\n").unwrap();
    let a = t.spawn(&["--prompt-file", f.to_str().unwrap()]);
    t.wait_state(&a, "done", 20);
    assert_eq!(t.ok(&["result", &a]), "fake reply to: from a file");
    let out = t
        .cmd()
        .args(["spawn", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"from stdin; $(rm -rf /) `x` \"q\"")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let b = String::from_utf8(out.stdout).unwrap().trim().to_string();
    t.wait_state(&b, "done", 20);
    assert_eq!(
        t.ok(&["result", &b]),
        "fake reply to: from stdin; $(rm -rf /) `x` \"q\""
    );
}

#[test]
fn failed_worker_shows_codex_error_and_result_refuses() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:fail=model API said no"]);
    let w = t.wait_state(&a, "failed", 20);
    assert_eq!(w["exit_code"], 1);
    assert_eq!(w["error"], "model API said no");
    let err = t.fails(&["result", &a], 1);
    assert!(err.contains("ended failed: model API said no"), "{err}");
    assert!(t.ok(&["status"]).contains("model API said no"));
}

#[test]
fn exit_zero_without_turn_completed_is_not_done() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:incomplete"]);
    let w = t.wait_state(&a, "failed", 20);
    assert_eq!(w["exit_code"], 0);
}

#[test]
fn stop_makes_stopped_even_though_a_last_message_file_exists() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    let out = t.ok(&["stop", &a]);
    assert!(out.contains("stopped"), "{out}");
    let w = t.worker(&a);
    assert_eq!(w["state"], "stopped");
    let msg = t.worker_dir(&a).join("last-message.md");
    assert!(msg.exists(), "codex leaves an (empty) last-message file");
    assert_eq!(std::fs::read(&msg).unwrap().len(), 0);
    t.fails(&["result", &a], 1);
}

#[test]
fn stop_of_a_whole_run() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:hang"]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "y\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    t.wait_state(&b, "running", 20);
    t.ok(&["stop", &run]);
    assert_eq!(t.state(&a), "stopped");
    assert_eq!(t.state(&b), "stopped");
}

#[test]
fn killed_tmux_server_makes_running_workers_lost_and_leaves_finished_ones() {
    let t = TestHome::new();
    let a = t.spawn(&["quick"]);
    t.wait_state(&a, "done", 20);
    let b = t.spawn(&["--run", run_of(&a), "slow\nFAKE:hang"]);
    t.wait_state(&b, "running", 20);
    assert!(t.tmux(&["kill-server"]).status.success());
    // One status call tells the truth once the processes are gone.
    let w = eventually(10, "lost", || {
        let w = t.worker(&b);
        (w["state"] == "lost").then_some(w)
    });
    assert!(w["error"].as_str().unwrap().contains("retry"), "{w}");
    assert_eq!(t.state(&a), "done");
    assert_eq!(t.ok(&["result", &a]), "fake reply to: quick");
}

#[test]
fn each_spawn_passes_its_own_environment_to_its_worker() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:env=ORCH_TEST_SECRET"]);
    t.wait_state(&a, "done", 20);
    // The tmux server now runs with the first spawn's environment; a second spawn
    // from another "shell" must still hand its own to its worker.
    let out = t
        .cmd()
        .args(["spawn", "--run", run_of(&a), "y\nFAKE:env=ORCH_TEST_SECRET"])
        .env("ORCH_TEST_SECRET", "second-value")
        .output()
        .unwrap();
    assert!(out.status.success());
    let b = String::from_utf8(out.stdout).unwrap().trim().to_string();
    t.wait_state(&b, "done", 20);
    assert!(
        t.ok(&["result", &b])
            .ends_with("ORCH_TEST_SECRET=second-value")
    );
    assert!(t.ok(&["result", &a]).ends_with("ORCH_TEST_SECRET="));
}

#[test]
fn state_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestHome::new();
    let a = t.spawn(&["x"]);
    t.wait_state(&a, "done", 20);
    let dir = t.worker_dir(&a);
    for p in [
        dir.clone(),
        dir.parent().unwrap().parent().unwrap().to_path_buf(),
    ] {
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o700,
            "{}",
            p.display()
        );
    }
    for f in [
        "spec.json",
        "prompt.md",
        "env",
        "events.jsonl",
        "exit.json",
        "last-message.md",
    ] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let sock_dir = t.socket.parent().unwrap();
    assert_eq!(
        std::fs::metadata(sock_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn status_json_shape() {
    let t = TestHome::new();
    let a = t.spawn(&[
        "--label",
        "sec",
        "--role",
        "reviewer",
        "x\nFAKE:tokens=1234,56",
    ]);
    t.wait_state(&a, "done", 20);
    let st = t.status(run_of(&a));
    insta::assert_json_snapshot!(st, {
        ".run" => "[run]",
        ".created_at" => "[time]",
        ".workers[].started_at" => "[time]",
        ".workers[].finished_at" => "[time]",
        ".workers[].elapsed_secs" => "[secs]",
        ".workers[].thread_id" => "[thread]",
        ".workers[].window" => "[window]",
    });
}

#[test]
fn ls_lists_runs_newest_first_with_counts() {
    let t = TestHome::new();
    assert!(t.ok(&["ls"]).contains("no runs yet"));
    let a = t.spawn(&["x"]);
    t.wait_state(&a, "done", 20);
    std::thread::sleep(Duration::from_millis(20));
    let b = t.spawn(&["y\nFAKE:fail=nope"]);
    t.wait_state(&b, "failed", 20);
    let ls: serde_json::Value = serde_json::from_str(&t.ok(&["ls", "--json"])).unwrap();
    assert_eq!(ls[0]["run"], run_of(&b));
    assert_eq!(ls[1]["run"], run_of(&a));
    assert_eq!(ls[0]["counts"]["failed"], 1);
    assert_eq!(ls[1]["counts"]["done"], 1);
}

/// An ended run's line is kept (summary.json) and reused while its folders are as they
/// were; a retry changes a worker's folder, and ls tells the truth again at once.
#[test]
fn ls_keeps_ended_runs_lines_until_a_worker_changes() {
    let t = TestHome::new();
    // A worker that would run long, stopped: a retry of it stays running for a while.
    let a = t.spawn(&["x\nFAKE:sleep=30"]);
    t.wait_state(&a, "running", 20);
    t.ok(&["stop", &a]);
    let summary = t
        .path()
        .join("home/runs")
        .join(run_of(&a))
        .join("summary.json");
    let counts = |t: &TestHome| {
        let ls: serde_json::Value = serde_json::from_str(&t.ok(&["ls", "--json"])).unwrap();
        ls[0]["counts"].clone()
    };
    // Settled for over a second: the first ls keeps the line, the second reads it.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(counts(&t)["stopped"], 1);
    assert!(summary.exists(), "ls keeps the line of an ended run");
    assert_eq!(counts(&t)["stopped"], 1);
    // The kept line is what ls shows while the stamp matches…
    let mut kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    kept["line"]["counts"] = serde_json::json!({"done": 1});
    std::fs::write(&summary, kept.to_string()).unwrap();
    assert_eq!(counts(&t)["done"], 1, "same stamp, the kept line is used");
    // …and a retry changes the worker's folder: ls reads the records again at once.
    t.ok(&["retry", &a]);
    let now = counts(&t);
    assert!(
        now.get("stopped").is_none() && now.get("done").is_none(),
        "{now}"
    );
    t.ok(&["stop", &a]);
    assert_eq!(counts(&t)["stopped"], 1);
}

#[test]
fn logs_show_readable_progress() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:commands=2\nFAKE:reply=all good"]);
    t.wait_state(&a, "done", 20);
    let logs = t.ok(&["logs", &a]);
    assert!(logs.contains("$ echo step 0 → exit 0"), "{logs}");
    assert!(logs.contains("message: all good"), "{logs}");
    let raw = t.ok(&["logs", "--raw", &a]);
    assert!(
        raw.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
    // -f ends by itself once the worker has ended.
    let b = t.spawn(&["--run", run_of(&a), "y\nFAKE:sleep=0.5\nFAKE:reply=later"]);
    let followed = t.ok(&["logs", "-f", &b]);
    assert!(followed.contains("message: later"), "{followed}");
}

#[test]
fn attach_shows_the_workers_pane() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:commands=3\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    // A command of its own: the PTY must be its stdin, not /dev/null.
    let mut cmd = std::process::Command::new(orch_bin());
    cmd.args(["attach", &a])
        .env("ORCH_HOME", &t.home)
        .env("ORCH_TMUX_SOCKET", &t.socket)
        .env("TERM", "xterm")
        .env_remove("TMUX");
    let mut p = rexpect::session::spawn_command(cmd, Some(15_000)).unwrap();
    p.exp_string("echo step 2").unwrap();
    // Detaching leaves the worker running.
    let session = format!("={}", run_of(&a));
    assert!(t.tmux(&["detach-client", "-s", &session]).status.success());
    p.exp_eof().unwrap();
    assert_eq!(t.state(&a), "running");
    t.ok(&["stop", &a]);
}

#[test]
fn a_run_is_found_by_its_random_tail_too() {
    let t = TestHome::new();
    let a = t.spawn(&["x"]);
    let run = run_of(&a).to_string();
    t.wait_state(&a, "done", 20);
    let tail = &run[run.len() - 3..];
    let st: serde_json::Value = serde_json::from_str(&t.ok(&["status", tail, "--json"])).unwrap();
    assert_eq!(st["run"], run.as_str());
}

/// `orch status` in a terminal `cols` wide: a tmux pane of that size on the test's
/// own server, read back with capture-pane.
fn status_in_terminal(t: &TestHome, run: &str, cols: u16) -> String {
    let session = format!("status-{cols}");
    let script = format!(
        "{} status {run}; echo END-OF-STATUS; sleep 60",
        orch_bin().display()
    );
    let made = t.tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        &cols.to_string(),
        "-y",
        "40",
        "-e",
        &format!("ORCH_HOME={}", t.home.display()),
        "-e",
        &format!("ORCH_TMUX_SOCKET={}", t.socket.display()),
        "-e",
        "NO_COLOR=1",
        &script,
    ]);
    assert!(made.status.success(), "{made:?}");
    let shown = eventually(20, "status in the pane", || {
        let out = t.tmux(&["capture-pane", "-p", "-t", &format!("={session}:")]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.contains("END-OF-STATUS").then_some(text)
    });
    t.tmux(&["kill-session", "-t", &format!("={session}")]);
    shown
}

#[test]
fn status_in_a_terminal_fits_last_activity_to_its_width() {
    let t = TestHome::new();
    let long = "The parser accepts trailing commas in nested arrays, which the grammar in \
                docs forbids; three call sites rely on it, so fix the grammar. END-MARK";
    let a = t.spawn(&[&format!("x\nFAKE:reply={long}")]);
    t.wait_state(&a, "done", 20);
    let run = run_of(&a);

    let wide = status_in_terminal(&t, run, 250);
    assert!(
        wide.contains("END-MARK"),
        "a wide terminal shows it all:\n{wide}"
    );

    let narrow = status_in_terminal(&t, run, 80);
    assert!(!narrow.contains("END-MARK"), "{narrow}");
    assert!(narrow.contains("…"), "clipped, and says so:\n{narrow}");
    for line in narrow.lines() {
        assert!(
            line.trim_end().chars().count() <= 80,
            "fits 80 columns: {line:?}"
        );
    }
    // Piped, nothing is cut.
    assert!(t.ok(&["status", run]).contains("END-MARK"));
}

#[test]
fn logs_follow_on_a_queued_worker_says_what_it_waits_for() {
    let t = TestHome::new();
    let a = t.spawn(&["first\nFAKE:sleep=1"]);
    let b = t.spawn(&[
        "--run",
        run_of(&a),
        "--after",
        "W1",
        "second\nFAKE:reply=after W1",
    ]);
    assert_eq!(t.state(&b), "queued");
    let out = t.cmd().args(["logs", "-f", &b]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().next().unwrap_or(""),
        format!("orch: {b} is queued: waits for W1 to end; following it once it starts"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("message: after W1"),
        "then follows it to the end"
    );
}
