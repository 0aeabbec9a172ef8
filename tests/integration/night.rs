//! The night runs to the end by itself: usage limits pause (and continue the same
//! conversation), a missing login is refused before work starts, endless network
//! reconnects are flagged `offline`, `--timeout` stops a worker, and `orch recover`
//! continues what a dead tmux server left `lost`.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

fn argv(inv: &Value) -> Vec<String> {
    inv["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The arguments after `resume`, if the invocation resumed a thread.
fn resumed_thread(inv: &Value) -> Option<String> {
    let a = argv(inv);
    let i = a.iter().position(|x| x == "resume")?;
    a.get(i + 1).cloned()
}

#[test]
fn a_usage_limit_pauses_then_continues_the_same_conversation_without_a_retry() {
    let t = TestHome::new();
    let a = t.spawn(&[
        "--label",
        "night",
        "Map the storage layer\nFAKE:usage-limit=3",
    ]);
    let w = t.wait_state(&a, "paused", 20);
    let waiting = w["waiting_for"].as_str().unwrap();
    assert!(waiting.contains("usage limit"), "{w}");
    assert!(
        w["error"]
            .as_str()
            .unwrap()
            .contains("hit your usage limit"),
        "{w}"
    );
    // paused is not ended: `wait` keeps waiting until the worker is done.
    let out = t.run(&["wait", &a, "--timeout", "60"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = t.worker(&a);
    assert_eq!(w["state"], "done", "{w}");
    assert_eq!(w["attempt"], 1, "no retry was spent: {w}");
    let inv = t.invocations(&a);
    assert_eq!(inv.len(), 2, "{inv:?}");
    let first_thread = t.worker_dir(&a).join("events.jsonl");
    let events = std::fs::read_to_string(&first_thread).unwrap();
    let thread = events
        .lines()
        .find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["type"] == "thread.started").then(|| v["thread_id"].as_str().unwrap().to_string())
        })
        .unwrap();
    assert_eq!(resumed_thread(&inv[1]).as_deref(), Some(thread.as_str()));
    // Every flag comes before `resume` (codex refuses -s/-C after it).
    let second = argv(&inv[1]);
    let r = second.iter().position(|x| x == "resume").unwrap();
    assert_eq!(
        &second[r..],
        &["resume".to_string(), thread.clone(), "-".into()]
    );
    assert!(
        inv[1]["prompt"].as_str().unwrap().contains("usage limit"),
        "{}",
        inv[1]["prompt"]
    );
    assert!(!t.worker_dir(&a).join("pause.json").exists());
    assert!(
        std::fs::read_to_string(t.worker_dir(&a).join("last-message.md"))
            .unwrap()
            .starts_with("resumed "),
    );
}

#[test]
fn a_paused_worker_holds_the_runs_queued_workers_and_stops_at_once() {
    let t = TestHome::new();
    let a = t.spawn(&[
        "--max-parallel",
        "1",
        "--label",
        "first",
        "x\nFAKE:usage-limit=600",
    ]);
    t.wait_state(&a, "paused", 20);
    let b = t.spawn(&["--run", run_of(&a), "--label", "second", "y"]);
    let w = t.worker(&b);
    assert_eq!(w["state"], "queued", "{w}");
    // A paused worker keeps its slot: it carries on by itself at the reset.
    assert!(
        w["waiting_for"]
            .as_str()
            .unwrap()
            .contains("max-parallel 1"),
        "{w}"
    );
    // Lift the parallel limit: the usage limit still holds the queue.
    t.ok(&["set", run_of(&a), "--max-parallel", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let w = t.worker(&b);
    assert_eq!(w["state"], "queued", "{w}");
    assert!(
        w["waiting_for"]
            .as_str()
            .unwrap()
            .contains("first is paused"),
        "{w}"
    );
    assert!(t.invocations(&b).is_empty());
    let text = t.ok(&["status", run_of(&a)]);
    assert!(text.contains("paused"), "{text}");
    t.ok(&["stop", &a, "--grace", "2"]);
    let w = t.wait_state(&a, "stopped", 20);
    assert!(w["error"].as_str().unwrap().contains("paused"), "{w}");
    assert_eq!(t.invocations(&a).len(), 1);
    // With the pause over, the queue moves.
    t.wait_state(&b, "done", 20);
}

#[test]
fn watch_reports_a_pause_once() {
    let t = TestHome::new();
    let watch = t
        .cmd()
        .args(["watch", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let a = t.spawn(&["x\nFAKE:usage-limit=3"]);
    t.wait_state(&a, "done", 40);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(watch.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let out = watch.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let paused: Vec<&Value> = lines.iter().filter(|n| n["state"] == "paused").collect();
    assert_eq!(paused.len(), 1, "{lines:?}");
    assert!(
        paused[0]["waiting_for"]
            .as_str()
            .unwrap()
            .contains("usage limit"),
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|n| n["state"] == "done").count(),
        1,
        "{lines:?}"
    );
}

/// A CODEX_HOME with no config: the default (OpenAI) provider.
fn empty_codex_home(t: &TestHome) -> String {
    t.subdir("codex-home")
}

#[test]
fn a_missing_login_is_refused_before_anything_starts() {
    let t = TestHome::new();
    let ch = empty_codex_home(&t);
    for args in [
        vec!["spawn", "x"],
        vec!["fanout", "--lens", "security,tests", "x"],
        vec!["run", "triangulated-review", "--var", "target=src/"],
    ] {
        let out = t
            .cmd()
            .args(&args)
            .env("CODEX_HOME", &ch)
            .env("FAKE_CODEX_LOGIN", "none")
            .env_remove("CODEX_API_KEY")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        // One line says it (`run` also names where its pipeline came from).
        let said: Vec<&str> = err
            .lines()
            .filter(|l| !l.contains("pipeline loaded"))
            .collect();
        assert_eq!(said.len(), 1, "{err}");
        assert!(
            err.contains("not logged in")
                && err.contains("`codex login`")
                && err.contains("CODEX_API_KEY"),
            "{err}"
        );
    }
    assert!(
        std::fs::read_dir(t.home.join("runs"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "a refused command made a run"
    );
    // CODEX_API_KEY is a credential codex exec sends; a custom provider needs none.
    let with_key = t
        .cmd()
        .args(["spawn", "x"])
        .env("CODEX_HOME", &ch)
        .env("FAKE_CODEX_LOGIN", "none")
        .env("CODEX_API_KEY", "sk-test")
        .output()
        .unwrap();
    assert!(
        with_key.status.success(),
        "{}",
        String::from_utf8_lossy(&with_key.stderr)
    );
    let custom = t
        .cmd()
        .args([
            "spawn",
            "x",
            "--",
            "-c",
            "model_provider=\"local\"",
            "-c",
            "model_providers.local.base_url=\"http://127.0.0.1:9/v1\"",
        ])
        .env("CODEX_HOME", &ch)
        .env("FAKE_CODEX_LOGIN", "none")
        .env_remove("CODEX_API_KEY")
        .output()
        .unwrap();
    assert!(
        custom.status.success(),
        "{}",
        String::from_utf8_lossy(&custom.stderr)
    );
}

#[test]
fn doctor_fails_on_a_missing_login() {
    let t = TestHome::new();
    let ch = empty_codex_home(&t);
    let out = t
        .cmd()
        .args(["doctor"])
        .env("CODEX_HOME", &ch)
        .env("FAKE_CODEX_LOGIN", "none")
        .env_remove("CODEX_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("codex login"), "{text}");
}

#[test]
fn endless_network_reconnects_are_flagged_offline() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:offline=forever"]);
    let w = eventually(20, "offline", || {
        let out = t.run(&["status", run_of(&a), "--json", "--offline-after", "1s"]);
        let st: Value = serde_json::from_slice(&out.stdout).ok()?;
        let w = st["workers"][0].clone();
        (w["offline"] == true).then_some(w)
    });
    assert_eq!(w["state"], "running", "{w}");
    assert!(w["error"].as_str().unwrap().contains("network"), "{w}");
    // The default limit (2m) has not passed yet.
    assert_eq!(t.worker(&a)["offline"], false);
    let text = t.ok(&["status", run_of(&a), "--offline-after", "1s"]);
    assert!(text.contains("running (offline)"), "{text}");
    t.ok(&["stop", &a, "--grace", "2"]);
    t.wait_state(&a, "stopped", 20);
}

#[test]
fn reconnects_that_end_clear_the_flag() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:offline=1.5\nFAKE:sleep=2"]);
    eventually(20, "offline.json", || {
        t.worker_dir(&a).join("offline.json").exists().then_some(())
    });
    t.wait_state(&a, "done", 20);
    assert!(!t.worker_dir(&a).join("offline.json").exists());
}

#[test]
fn a_timeout_stops_codex_and_fails_the_worker() {
    let t = TestHome::new();
    let a = t.spawn(&["--timeout", "2s", "x\nFAKE:hang"]);
    let w = t.wait_state(&a, "failed", 30);
    assert!(
        w["error"].as_str().unwrap().contains("timed out after 2s"),
        "{w}"
    );
    let spec = read_json(&t.worker_dir(&a).join("spec.json"));
    assert_eq!(spec["timeout_secs"], 2);
    // A worker that finishes in time is not touched.
    let b = t.spawn(&["--timeout", "1m", "y"]);
    t.wait_state(&b, "done", 20);
    let err = t.fails(&["spawn", "--timeout", "0", "x"], 2);
    assert!(err.contains("timeout"), "{err}");
}

#[test]
fn recover_continues_lost_conversations_and_restarts_the_rest() {
    let t = TestHome::new();
    let a = t.spawn(&["--label", "talked", "x\nFAKE:first=1\nFAKE:hang"]);
    let b = t.spawn(&[
        "--run",
        run_of(&a),
        "--label",
        "queued",
        "--after",
        "talked",
        "y",
    ]);
    eventually(20, "the turn to start", || {
        let w = t.worker(&a);
        (w["state"] == "running" && w["thread_id"].is_string()).then_some(())
    });
    let thread = t.worker(&a)["thread_id"].as_str().unwrap().to_string();
    assert!(t.tmux(&["kill-server"]).status.success());
    t.wait_state(&a, "lost", 30);
    let dry = t.ok(&["recover", run_of(&a), "--dry-run"]);
    assert!(
        dry.contains(&format!("would resume {a}")) && dry.contains(&thread),
        "{dry}"
    );
    assert_eq!(t.state(&a), "lost", "--dry-run changed nothing");
    let out = t.ok(&["recover", run_of(&a), "--stagger", "0s"]);
    assert!(
        out.contains(&format!("{a} resuming thread {thread}")),
        "{out}"
    );
    let w = t.wait_state(&a, "done", 30);
    assert_eq!(w["thread_id"], thread);
    let inv = t.invocations(&a);
    assert_eq!(
        resumed_thread(inv.last().unwrap()).as_deref(),
        Some(thread.as_str())
    );
    assert!(
        inv.last().unwrap()["prompt"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
    );
    // Its dependent was skipped when it was lost; it runs now.
    t.wait_state(&b, "done", 30);
    let again = t.ok(&["recover", run_of(&a)]);
    assert!(again.contains("nothing to recover"), "{again}");
}

#[test]
fn recover_starts_again_a_worker_that_never_reached_codex() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:first=1\nFAKE:hang"]);
    eventually(20, "the turn to start", || {
        (!t.invocations(&a).is_empty()).then_some(())
    });
    assert!(t.tmux(&["kill-server"]).status.success());
    t.wait_state(&a, "lost", 30);
    // As if codex had never said a word: no events, no thread.
    std::fs::write(t.worker_dir(&a).join("events.jsonl"), "").unwrap();
    let exit = t.worker_dir(&a).join("exit.json");
    if exit.exists() {
        let mut x = read_json(&exit);
        x["thread_id"] = Value::Null;
        std::fs::write(&exit, x.to_string()).unwrap();
    }
    let out = t.ok(&["recover", "--all", "--stagger", "0s"]);
    assert!(
        out.contains(&format!("{a} starting again from its prompt")),
        "{out}"
    );
    t.wait_state(&a, "done", 30);
    assert_eq!(resumed_thread(t.invocations(&a).last().unwrap()), None);
}

#[test]
fn doctor_fails_on_a_read_only_home() {
    let t = TestHome::new();
    std::fs::create_dir_all(&t.home).unwrap();
    // A folder nobody may write in, not even root (tests here may run as root, whom
    // file modes do not stop).
    std::os::unix::fs::symlink("/proc/1", t.home.join("runs")).unwrap();
    let out = t.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<&Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert!(
        bad.iter()
            .any(|c| c["fix"].as_str().unwrap_or("").contains("ORCH_HOME")
                && c["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains(t.home.to_str().unwrap())),
        "{v}"
    );
}

#[test]
fn recover_stops_after_repeated_refused_credentials() {
    let t = TestHome::new();
    let refused = "Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again.";
    let spawn = |args: &[&str]| -> String {
        let out = t
            .cmd()
            .arg("spawn")
            .args(args)
            .env("FAKE_CODEX_RESUME_FAIL", refused)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let a = spawn(&["x\nFAKE:hang"]);
    let b = spawn(&["--run", run_of(&a), "y\nFAKE:hang"]);
    let c = spawn(&["--run", run_of(&a), "z\nFAKE:hang"]);
    for w in [&a, &b, &c] {
        eventually(20, "the turn to start", || {
            t.worker(w)["thread_id"].is_string().then_some(())
        });
    }
    assert!(t.tmux(&["kill-server"]).status.success());
    for w in [&a, &b, &c] {
        t.wait_state(w, "lost", 30);
    }
    let out = t.run(&["recover", run_of(&a), "--stagger", "3s"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stopped recovering")
            && err.contains("codex login")
            && err.contains("1 still lost"),
        "{err}"
    );
    assert_eq!(t.state(&a), "failed");
    assert_eq!(t.state(&b), "failed");
    assert_eq!(t.state(&c), "lost", "the third was not started");
}

#[test]
fn a_pipeline_stage_timeout_stops_its_workers() {
    let t = TestHome::new();
    let file = t.path().join("p.toml");
    std::fs::write(
        &file,
        "[[stage]]\nname = \"look\"\ntimeout = \"2s\"\n  [[stage.worker]]\n  label = \"slow\"\n  role = \"reviewer\"\n  task = \"\"\"look\nFAKE:hang\"\"\"\n",
    )
    .unwrap();
    let run = t.ok(&["run", file.to_str().unwrap()]).trim().to_string();
    let w = t.wait_state(&format!("{run}/slow"), "failed", 30);
    assert!(
        w["error"].as_str().unwrap().contains("timed out after 2s"),
        "{w}"
    );
}
