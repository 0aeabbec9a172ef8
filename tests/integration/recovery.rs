//! Recovery: retry, resume, automatic retries, hang-ups, concurrency, crashes, orphans,
//! gc and doctor.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::Value;

use crate::support::*;

fn spawn_with(t: &TestHome, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = t.cmd();
    c.arg("spawn").args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "spawn {args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// Every wrapper has ended (its pane is dead): nothing more will happen by itself.
fn wrappers_ended(t: &TestHome) -> bool {
    let out = t.tmux(&["list-panes", "-a", "-F", "#{pane_dead}"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .all(|l| l.trim() == "1")
}

fn started(t: &TestHome, addr: &str) -> Value {
    eventually(20, "started.json", || {
        let p = t.worker_dir(addr).join("started.json");
        p.exists().then(|| read_json(&p))
    })
}

/// Running, and the fake codex has recorded its invocation and started its thread: only
/// then do kills hit the attempt the test means (FAKE:first counts invocations).
fn wait_in_turn(t: &TestHome, addr: &str) {
    eventually(20, "the turn to start", || {
        let w = t.worker(addr);
        (w["state"] == "running" && w["thread_id"].is_string() && !t.invocations(addr).is_empty())
            .then_some(())
    });
}

fn argv_of(inv: &Value) -> Vec<String> {
    inv["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

const FAST: (&str, &str) = ("ORCH_RETRY_BACKOFF", "0.2");

#[test]
fn retry_runs_a_failed_worker_again_with_the_retriers_environment() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:first=1\nFAKE:fail=model said no\nFAKE:env=ORCH_TEST_KEY"]);
    t.wait_state(&a, "failed", 20);
    let out = t
        .cmd()
        .args(["retry", &a])
        .env("ORCH_TEST_KEY", "fresh-key")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&a));
    let w = t.wait_state(&a, "done", 20);
    assert_eq!(w["attempt"], 2);
    assert!(t.ok(&["result", &a]).ends_with("ORCH_TEST_KEY=fresh-key"));
    // The first attempt's files are kept, numbered by the attempt that made them.
    let old = t.worker_dir(&a).join("attempt-1");
    let exit = read_json(&old.join("exit.json"));
    assert_eq!(exit["state"], "failed");
    assert_eq!(exit["attempt"], 1);
    assert_eq!(read_json(&old.join("launch.json"))["attempt"], 1);
    assert!(old.join("events.jsonl").exists());
    assert_eq!(read_json(&t.worker_dir(&a).join("exit.json"))["attempt"], 2);
    let out = t.run(&["retry", &a]);
    assert_eq!(out.status.code(), Some(1), "done is refused");
    assert!(stderr(&out).contains("orch resume"), "{}", stderr(&out));
}

#[test]
fn retry_refuses_running_and_queued_workers_and_changes_nothing() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:hang"]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "--after", "W1", "y"]);
    t.wait_state(&a, "running", 20);
    let err = t.fails(&["retry", &a], 1);
    assert!(
        err.contains("still running") && err.contains("orch stop"),
        "{err}"
    );
    let err = t.fails(&["retry", &b], 1);
    assert!(err.contains("queued"), "{err}");
    assert!(!t.worker_dir(&a).join("attempt-1").exists());
    let err = t.fails(&["retry", &format!("{run}/nope")], 2);
    assert!(err.contains("no worker \"nope\""), "{err}");
    let err = t.fails(&["retry", "--failed", &a], 2);
    assert!(err.contains("--failed takes a run"), "{err}");
    t.ok(&["stop", &a]);
}

#[test]
fn retry_failed_requeues_the_skipped_dependents_too() {
    let t = TestHome::new();
    let a = t.spawn(&[
        "--label",
        "base",
        "x\nFAKE:first=1\nFAKE:fail=boom\nFAKE:reply=BASE-RESULT",
    ]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "--label", "mid", "--after", "base", "y"]);
    let c = t.spawn(&["--run", &run, "--label", "top", "--after", "mid", "z"]);
    let other = t.spawn(&["--run", &run, "--label", "ok", "fine"]);
    t.wait_state(&c, "skipped", 20);
    t.wait_state(&other, "done", 20);
    assert_eq!(t.state(&b), "skipped");
    let out = t.ok(&["retry", &run, "--failed"]);
    for l in ["base", "mid", "top"] {
        assert!(out.contains(&format!("{run}/{l}")), "{out}");
    }
    assert!(!out.contains("/ok"), "done workers are left alone: {out}");
    t.wait_state(&c, "done", 30);
    assert_eq!(t.state(&b), "done");
    // The dependent got the retried worker's new result as input.
    let inv = t.invocations(&b);
    assert!(
        inv.last().unwrap()["prompt"]
            .as_str()
            .unwrap()
            .contains("BASE-RESULT")
    );
    // The skipped attempt had never run: nothing archived for it.
    assert!(!t.worker_dir(&b).join("attempt-1").exists());
    assert!(
        t.ok(&["retry", &run, "--failed"])
            .contains("nothing to retry")
    );
}

#[test]
fn retrying_one_worker_requeues_its_skipped_dependents() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:first=1\nFAKE:exit=3"]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "--after", "W1", "y"]);
    t.wait_state(&b, "skipped", 20);
    t.ok(&["retry", &a]);
    t.wait_state(&b, "done", 30);
    assert_eq!(t.state(&a), "done");
}

#[test]
fn resume_continues_the_thread_with_the_original_flags() {
    let t = TestHome::new();
    let a = t.spawn(&["--model", "m1", "first task"]);
    let w = t.wait_state(&a, "done", 20);
    let thread = w["thread_id"].as_str().unwrap().to_string();
    let out = t.ok(&["resume", &a, "and one more $(thing); `x` 'q'"]);
    assert!(out.contains(&thread), "{out}");
    let w = t.wait_state(&a, "done", 20);
    assert_eq!(w["attempt"], 2);
    assert_eq!(w["thread_id"], thread.as_str());
    assert_eq!(
        t.ok(&["result", &a]),
        format!("resumed {thread}: and one more $(thing); `x` 'q'")
    );
    let inv = t.invocations(&a);
    let argv = argv_of(&inv[1]);
    assert!(argv.windows(2).any(|p| p == ["--model", "m1"]), "{argv:?}");
    let n = argv.len();
    assert_eq!(
        &argv[n - 3..],
        &["resume", thread.as_str(), "-"],
        "{argv:?}"
    );
    assert_eq!(
        std::fs::read_to_string(t.worker_dir(&a).join("input.md")).unwrap(),
        "and one more $(thing); `x` 'q'"
    );
    assert!(t.worker_dir(&a).join("attempt-1/exit.json").exists());
    // Default prompt, and from a file.
    let f = t.path().join("follow.md");
    std::fs::write(&f, "from the file").unwrap();
    t.ok(&["resume", &a, "--prompt-file", f.to_str().unwrap()]);
    t.wait_state(&a, "done", 20);
    assert_eq!(
        t.ok(&["result", &a]),
        format!("resumed {thread}: from the file")
    );
    t.ok(&["resume", &a]);
    t.wait_state(&a, "done", 20);
    assert!(t.ok(&["result", &a]).contains("Continue where you stopped"));
    assert!(t.worker_dir(&a).join("attempt-3").is_dir());
}

#[test]
fn resume_of_a_dependent_keeps_its_new_prompt() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:reply=DEP"]);
    let b = t.spawn(&["--run", run_of(&a), "--after", "W1", "y"]);
    t.wait_state(&b, "done", 20);
    t.ok(&["resume", &b, "only this"]);
    t.wait_state(&b, "done", 20);
    let inv = t.invocations(&b);
    assert_eq!(inv.last().unwrap()["prompt"], "only this");
}

#[test]
fn resume_refuses_without_a_thread_or_while_running() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    let err = t.fails(&["resume", &a, "more"], 1);
    assert!(err.contains("still running"), "{err}");
    let b = t.spawn(&["--run", run_of(&a), "--after", "W1", "y"]);
    t.ok(&["stop", &a]);
    t.wait_state(&b, "skipped", 20);
    let err = t.fails(&["resume", &b], 1);
    assert!(
        err.contains("no codex thread") && err.contains("orch retry"),
        "{err}"
    );
    let err = t.fails(&["resume", &a, ""], 2);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn transient_failures_are_retried_automatically_with_backoff() {
    let t = TestHome::new();
    let a = spawn_with(
        &t,
        &[
            "--retries",
            "2",
            "x\nFAKE:first=2\nFAKE:fail=503 Service Unavailable: high demand",
        ],
        &[("ORCH_RETRY_BACKOFF", "1")],
    );
    // A dependent waits for the retries instead of being skipped after the first failure.
    let dep = t.spawn(&["--run", run_of(&a), "--after", "W1", "y"]);
    // Between attempts it stays failed, saying when the next attempt comes.
    let w = eventually(20, "a retry note", || {
        let w = t.worker(&a);
        w["error"]
            .as_str()
            .is_some_and(|e| e.contains("(attempt 2/3)"))
            .then_some(w)
    });
    assert_eq!(w["state"], "failed");
    assert!(w["error"].as_str().unwrap().contains("retrying"), "{w}");
    let w = t.wait_state(&a, "done", 30);
    assert_eq!(w["attempt"], 3);
    t.wait_state(&dep, "done", 20);
    assert_eq!(t.invocations(&a).len(), 3);
    for n in 1..=2 {
        let exit = read_json(&t.worker_dir(&a).join(format!("attempt-{n}/exit.json")));
        assert_eq!(exit["state"], "failed");
        assert_eq!(exit["attempt"], n);
    }
}

#[test]
fn plain_failures_and_stopped_workers_are_not_retried() {
    let t = TestHome::new();
    let a = spawn_with(&t, &["--retries", "3", "x\nFAKE:exit=3"], &[FAST]);
    let run = run_of(&a).to_string();
    let b = spawn_with(
        &t,
        &["--run", &run, "--retries", "3", "y\nFAKE:hang"],
        &[FAST],
    );
    t.wait_state(&a, "failed", 20);
    t.wait_state(&b, "running", 20);
    t.ok(&["stop", &b]);
    eventually(20, "wrappers to end", || wrappers_ended(&t).then_some(()));
    for addr in [&a, &b] {
        assert_eq!(t.invocations(addr).len(), 1, "{addr}");
        assert!(!t.worker_dir(addr).join("attempt-1").exists());
    }
    assert_eq!(t.state(&a), "failed");
    assert_eq!(t.state(&b), "stopped");
}

#[test]
fn stop_cancels_a_pending_retry() {
    let t = TestHome::new();
    let a = spawn_with(
        &t,
        &["--retries", "2", "x\nFAKE:fail=rate limit reached"],
        &[("ORCH_RETRY_BACKOFF", "60")],
    );
    eventually(20, "a retry note", || {
        t.worker(&a)["error"]
            .as_str()
            .is_some_and(|e| e.contains("retrying in"))
            .then_some(())
    });
    t.ok(&["stop", &a]);
    let w = t.worker(&a);
    assert_eq!(w["state"], "stopped");
    assert!(
        w["error"]
            .as_str()
            .unwrap()
            .contains("stopped while waiting to retry")
    );
    assert!(!t.worker_dir(&a).join("retry.json").exists());
}

#[test]
fn a_lost_worker_without_a_wrapper_is_retried_when_status_notices() {
    let t = TestHome::new();
    let a = spawn_with(
        &t,
        &["--retries", "1", "x\nFAKE:first=1\nFAKE:hang"],
        &[FAST],
    );
    wait_in_turn(&t, &a);
    let s = started(&t, &a);
    kill(
        Pid::from_raw(s["wrapper_pid"].as_i64().unwrap() as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let _ = killpg(
        Pid::from_raw(s["codex_pid"].as_i64().unwrap() as i32),
        Signal::SIGKILL,
    );
    let w = t.wait_state(&a, "done", 30);
    assert_eq!(w["attempt"], 2);
    assert!(t.worker_dir(&a).join("attempt-1/started.json").exists());
    assert!(!t.worker_dir(&a).join("attempt-1/exit.json").exists());
}

#[test]
fn a_worker_lost_to_a_killed_tmux_server_is_retried_by_its_wrapper() {
    let t = TestHome::new();
    let a = spawn_with(
        &t,
        &["--retries", "1", "x\nFAKE:first=1\nFAKE:hang"],
        &[FAST],
    );
    let b = spawn_with(&t, &["--run", run_of(&a), "y\nFAKE:hang"], &[FAST]);
    wait_in_turn(&t, &a);
    wait_in_turn(&t, &b);
    assert!(t.tmux(&["kill-server"]).status.success());
    let w = t.wait_state(&a, "done", 30);
    assert_eq!(w["attempt"], 2);
    assert_eq!(
        read_json(&t.worker_dir(&a).join("attempt-1/exit.json"))["state"],
        "lost"
    );
    // Without --retries it stays lost.
    t.wait_state(&b, "lost", 20);
}

#[test]
fn workers_survive_the_hangup_of_the_terminal_that_spawned_them() {
    let t = TestHome::new();
    let out = t.path().join("addr");
    let mut child = Command::new("setsid")
        .args([
            "sh",
            "-c",
            "\"$ORCH_BIN\" spawn \"$PROMPT\" > \"$OUT\"; sleep 60",
        ])
        .env("ORCH_BIN", orch_bin())
        .env("PROMPT", "x\nFAKE:sleep=2")
        .env("OUT", &out)
        .env("ORCH_HOME", &t.home)
        .env("ORCH_TMUX_SOCKET", &t.socket)
        .env("ORCH_CODEX", fake_codex())
        .env_remove("TMUX")
        .current_dir(t.path())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let addr = eventually(20, "spawn's output", || {
        std::fs::read_to_string(&out)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    });
    // setsid made the shell the leader of a new session and process group.
    killpg(Pid::from_raw(child.id() as i32), Signal::SIGHUP).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc_sighup()));
    let st = t.state(&addr);
    assert!(st == "running" || st == "starting", "{st}");
    t.wait_state(&addr, "done", 20);
}

fn libc_sighup() -> i32 {
    Signal::SIGHUP as i32
}

#[test]
fn concurrent_spawns_stops_and_status_lose_nothing() {
    let t = TestHome::new();
    let seed = t.spawn(&["--label", "seed", "x\nFAKE:hang"]);
    let run = run_of(&seed).to_string();
    t.wait_state(&seed, "running", 20);
    let addrs = std::thread::scope(|s| {
        let spawns: Vec<_> = (0..24)
            .map(|i| {
                let (t, run) = (&t, &run);
                s.spawn(move || {
                    let prompt = format!("job {i}\nFAKE:sleep=0.3");
                    t.spawn(&["--run", run, &prompt])
                })
            })
            .collect();
        let lookers: Vec<_> = (0..4)
            .map(|_| {
                let (t, run) = (&t, &run);
                s.spawn(move || {
                    for _ in 0..5 {
                        let out = t.run(&["status", run, "--json"]);
                        assert!(out.status.success(), "{}", stderr(&out));
                        serde_json::from_slice::<Value>(&out.stdout).unwrap();
                    }
                })
            })
            .collect();
        let stopper = s.spawn(|| t.ok(&["stop", &seed]));
        lookers.into_iter().for_each(|h| h.join().unwrap());
        stopper.join().unwrap();
        spawns
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let labels: BTreeSet<String> = addrs
        .iter()
        .map(|a| a.split_once('/').unwrap().1.to_string())
        .collect();
    let want: BTreeSet<String> = (1..=24).map(|n| format!("W{n}")).collect();
    assert_eq!(labels, want);
    eventually(90, "24 done", || {
        let st = t.status(&run);
        (st["counts"]["done"] == 24).then_some(())
    });
    assert_eq!(t.state(&seed), "stopped");
    assert_eq!(t.status(&run)["workers"].as_array().unwrap().len(), 25);
    assert_every_json_parses(&t.home);
}

fn assert_every_json_parses(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            assert_every_json_parses(&p);
        } else if p.extension().is_some_and(|x| x == "json") {
            serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}

fn crash(t: &TestHome, point: &str, args: &[&str]) {
    let out = t
        .cmd()
        .arg("spawn")
        .args(args)
        .env("ORCH_TEST_CRASH_AT", point)
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(9), "{point}: {}", stderr(&out));
}

/// status and ls answer (0, or 1 naming the problem), never panic.
fn looks_fine(t: &TestHome, run: &str) -> Value {
    let out = t.run(&["status", run, "--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let ls = t.run(&["ls", "--json"]);
    assert!(ls.status.success() && !stderr(&ls).contains("panicked"));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_spawn_killed_at_any_point_leaves_state_later_commands_handle() {
    let t = TestHome::new();
    let seed = t.spawn(&["--label", "seed", "x"]);
    let run = run_of(&seed).to_string();
    t.wait_state(&seed, "done", 20);

    // prompt.md, env and spec.json are renamed into place together, spec.json last, so
    // a spawn killed before spec.json leaves the same half-made folder as this point.
    {
        let point = "dir-created";
        crash(&t, point, &["--run", &run, "--label", point, "x"]);
        let addr = format!("{run}/{point}");
        let w = t.worker(&addr);
        assert_eq!(w["state"], "incomplete", "{point}");
        assert!(w["error"].as_str().unwrap().contains("orch gc"));
        let err = t.fails(&["retry", &addr], 1);
        assert!(err.contains("orch gc"), "{err}");
        looks_fine(&t, &run);
    }
    let gc = t.ok(&["gc"]);
    assert!(
        gc.contains(&format!("removed incomplete worker {run}/dir-created")),
        "{gc}"
    );

    // Spec written: a queued worker, which the next look starts.
    crash(&t, "spec-written", &["--run", &run, "--label", "spec", "x"]);
    looks_fine(&t, &run);
    t.wait_state(&format!("{run}/spec"), "done", 20);

    // launch.json written, no window: starting, then lost once the grace has passed.
    crash(
        &t,
        "launch-written",
        &["--run", &run, "--label", "launch", "x"],
    );
    let addr = format!("{run}/launch");
    looks_fine(&t, &run);
    assert_eq!(t.state(&addr), "starting");
    let lp = t.worker_dir(&addr).join("launch.json");
    let mut launch = read_json(&lp);
    launch["launched_at"] =
        Value::from((chrono::Utc::now() - chrono::Duration::minutes(2)).to_rfc3339());
    std::fs::write(&lp, launch.to_string()).unwrap();
    t.wait_state(&addr, "lost", 10);
    t.ok(&["retry", &addr]);
    t.wait_state(&addr, "done", 20);

    // Window made but its id not recorded: the worker runs anyway.
    crash(
        &t,
        "window-created",
        &["--run", &run, "--label", "window", "x"],
    );
    looks_fine(&t, &run);
    t.wait_state(&format!("{run}/window"), "done", 20);

    // A run folder without run.json: named as half-made, removed by gc once old.
    crash(&t, "run-dir-created", &["x"]);
    let ls: Value = serde_json::from_str(&t.ok(&["ls", "--json"])).unwrap();
    let half = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|r| !r["error"].is_null())
        .expect("the half-made run is listed with an error")
        .clone();
    let half_id = half["run"].as_str().unwrap().to_string();
    let err = t.fails(&["status", &half_id], 1);
    assert!(
        err.contains("half-made run") && err.contains("orch gc"),
        "{err}"
    );
    let young = t.ok(&["gc"]);
    assert!(
        young.contains(&format!("kept half-made run {half_id}")),
        "too young to be sure it is dead, and said so: {young}"
    );
    assert!(t.home.join("runs").join(&half_id).exists());
    let dir = t.home.join("runs").join(&half_id);
    assert!(
        Command::new("touch")
            .args(["-d", "5 minutes ago"])
            .arg(&dir)
            .status()
            .unwrap()
            .success()
    );
    assert!(
        t.ok(&["gc"])
            .contains(&format!("removed half-made run {half_id}"))
    );
    assert!(!dir.exists());
    assert_eq!(t.state(&seed), "done");
}

#[test]
fn stop_leaves_no_process_of_the_workers_group() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:spawn-child\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    let pgid = started(&t, &a)["codex_pid"].as_u64().unwrap() as u32;
    eventually(10, "codex and its child", || {
        (orch::sys::procs::group_members(pgid).len() >= 2).then_some(())
    });
    t.ok(&["stop", &a]);
    eventually(10, "the group to be gone", || {
        orch::sys::procs::group_members(pgid)
            .is_empty()
            .then_some(())
    });
    assert_eq!(t.state(&a), "stopped");
}

#[test]
fn processes_left_by_a_dead_wrapper_are_reported_and_stoppable() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:spawn-child\nFAKE:hang"]);
    wait_in_turn(&t, &a);
    let s = started(&t, &a);
    let pgid = s["codex_pid"].as_u64().unwrap() as u32;
    kill(
        Pid::from_raw(s["wrapper_pid"].as_i64().unwrap() as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let out = eventually(10, "doctor to see the orphans", || {
        let out = t.run(&["doctor", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "processes")
            .then_some((out, v))
    });
    assert_eq!(out.0.status.code(), Some(1));
    let check = out.1["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "processes")
        .unwrap()
        .clone();
    assert!(check["detail"].as_str().unwrap().contains(&a), "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains(&pgid.to_string())
    );
    assert_eq!(check["fix"], format!("orch stop {a}"));
    let gc = t.ok(&["gc", "--older-than", "0s"]);
    assert!(gc.contains(&format!("kept {a}: its wrapper died")), "{gc}");
    assert!(t.worker_dir(&a).exists());
    t.ok(&["stop", &a]);
    eventually(10, "the group to be gone", || {
        orch::sys::procs::group_members(pgid)
            .is_empty()
            .then_some(())
    });
    assert_eq!(t.state(&a), "lost");
}

#[test]
fn gc_removes_finished_runs_and_never_a_running_one() {
    let t = TestHome::new();
    let a = t.spawn(&["x"]);
    t.wait_state(&a, "done", 20);
    let old_run = run_of(&a).to_string();
    let b = t.spawn(&["y\nFAKE:hang"]);
    t.wait_state(&b, "running", 20);
    assert_eq!(t.ok(&["gc"]), "nothing to remove\n", "7 days by default");
    let dry = t.ok(&["gc", "--older-than", "0s", "--dry-run"]);
    assert!(
        dry.contains(&format!("would remove run {old_run} (1 worker,")),
        "{dry}"
    );
    assert!(!dry.contains(run_of(&b)), "{dry}");
    assert!(t.home.join("runs").join(&old_run).exists());
    let has_session = |s: &str| {
        t.tmux(&["has-session", "-t", &format!("={s}")])
            .status
            .success()
    };
    assert!(has_session(&old_run));
    let out = t.ok(&["gc", "--older-than", "0s"]);
    assert!(out.contains(&format!("removed run {old_run}")), "{out}");
    assert!(!t.home.join("runs").join(&old_run).exists());
    assert!(!has_session(&old_run));
    assert!(has_session(run_of(&b)));
    assert_eq!(t.state(&b), "running");
    t.ok(&["stop", &b]);
}

#[test]
fn doctor_checks_tools_home_and_records() {
    let t = TestHome::new();
    let a = t.spawn(&["x"]);
    t.wait_state(&a, "done", 20);
    let out = t.run(&["doctor", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = v["checks"].as_array().unwrap();
    let get = |n: &str| checks.iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(get("tmux")["ok"], true);
    assert!(get("codex")["detail"].as_str().unwrap().contains("fake"));
    assert_eq!(get("orch home")["ok"], true);
    assert!(
        get("disk space")["detail"]
            .as_str()
            .unwrap()
            .contains("MiB")
    );
    assert!(checks.iter().any(|c| c["name"] == "inotify"));
    assert!(checks.iter().any(|c| c["name"] == "logout"));
    assert_eq!(get("records")["ok"], true);
    for c in checks.iter().filter(|c| c["ok"] == false) {
        assert!(c["fix"].is_string(), "every problem has a fix: {c}");
    }
    assert_eq!(out.status.code(), Some(if v["ok"] == true { 0 } else { 1 }));
    std::fs::write(t.worker_dir(&a).join("exit.json"), "{\"sta").unwrap();
    let out = t.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL records") && text.contains("exit.json"),
        "{text}"
    );
    // Text form says why and how to fix.
    assert!(text.contains("fix: move the damaged file aside"), "{text}");
}

#[test]
fn a_lost_worker_resumes_its_thread_from_the_events() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:hang"]);
    wait_in_turn(&t, &a);
    let s = started(&t, &a);
    kill(
        Pid::from_raw(s["wrapper_pid"].as_i64().unwrap() as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let _ = killpg(
        Pid::from_raw(s["codex_pid"].as_i64().unwrap() as i32),
        Signal::SIGKILL,
    );
    let w = t.wait_state(&a, "lost", 20);
    let thread = w["thread_id"].as_str().unwrap().to_string();
    assert!(!t.worker_dir(&a).join("exit.json").exists());
    t.ok(&["resume", &a, "go on"]);
    t.wait_state(&a, "done", 20);
    assert_eq!(t.ok(&["result", &a]), format!("resumed {thread}: go on"));
}
