//! Noticing finished workers: `wait`, `watch`, `top`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// An orch process left running, its stdout and stderr collected line by line.
struct Background {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

impl Background {
    fn start(t: &TestHome, args: &[&str]) -> Background {
        let mut child = t
            .cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        for (pipe, sink) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
                out.clone(),
            ),
            (Box::new(child.stderr.take().unwrap()), err.clone()),
        ] {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Background { child, out, err }
    }

    fn out(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    fn err(&self) -> Vec<String> {
        self.err.lock().unwrap().clone()
    }

    /// Waits for the process to end; its exit code.
    fn exit_code(&mut self, secs: u64) -> Option<i32> {
        let child = &mut self.child;
        let status = eventually(secs, "the orch process to end", || {
            child.try_wait().unwrap()
        });
        // Let the reader threads drain the pipes.
        std::thread::sleep(Duration::from_millis(50));
        status.code()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn wait_returns_0_once_all_workers_are_done() {
    let t = TestHome::new();
    let a = t.spawn(&["one\nFAKE:sleep=0.2"]);
    let run = run_of(&a);
    t.spawn(&["--run", run, "two\nFAKE:sleep=0.8"]);
    t.spawn(&["--run", run, "three\nFAKE:sleep=1.5"]);
    let started = Instant::now();
    let out = t.run(&["wait"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    // wait returned because they ended, not before.
    let st = t.status(run);
    assert_eq!(st["counts"]["done"], 3, "{st}");
}

#[test]
fn wait_names_the_failed_worker_and_exits_1() {
    let t = TestHome::new();
    let a = t.spawn(&["ok\nFAKE:sleep=0.3"]);
    let run = run_of(&a);
    let b = t.spawn(&["--run", run, "bad\nFAKE:fail=model API said no"]);
    let err = t.fails(&["wait", run], 1);
    assert_eq!(
        err.trim(),
        format!("orch: {b} failed: model API said no"),
        "one line per worker that did not end done"
    );
    assert_eq!(t.state(&a), "done");
}

#[test]
fn wait_timeout_exits_124_and_leaves_the_worker_running() {
    let t = TestHome::new();
    let a = t.spawn(&["forever\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    let started = Instant::now();
    let err = t.fails(&["wait", &a, "--timeout", "1s"], 124);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(err.contains("timed out") && err.contains(&a), "{err}");
    assert_eq!(t.state(&a), "running");
}

#[test]
fn wait_any_returns_when_the_first_one_ends() {
    let t = TestHome::new();
    let a = t.spawn(&["quick\nFAKE:sleep=0.3"]);
    let run = run_of(&a);
    let b = t.spawn(&["--run", run, "forever\nFAKE:hang"]);
    let out = t.run(&["wait", "--any", "--json", run]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<(&str, &str)> = report["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["label"].as_str().unwrap(), w["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("W1", "done"), ("W2", "running")]);
    assert_eq!(t.state(&b), "running");
}

#[test]
fn wait_returns_when_the_tmux_server_dies_with_the_worker_lost() {
    let t = TestHome::new();
    let a = t.spawn(&["forever\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    let mut wait = Background::start(&t, &["wait", &a]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(wait.running(), "wait must block while the worker runs");
    assert!(t.tmux(&["kill-server"]).status.success());
    assert_eq!(wait.exit_code(10), Some(1));
    let err = wait.err().join("\n");
    assert!(err.starts_with(&format!("orch: {a} lost")), "{err}");
}

#[test]
fn wait_includes_queued_workers_and_prints_json() {
    let t = TestHome::new();
    let a = t.spawn(&["first\nFAKE:sleep=0.5\nFAKE:tokens=7,3"]);
    let run = run_of(&a);
    let b = t.spawn(&["--run", run, "--after", "W1", "second"]);
    assert_eq!(t.state(&b), "queued");
    let out = t.run(&["wait", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["timed_out"], false);
    let ws = report["workers"].as_array().unwrap();
    assert_eq!(ws.len(), 2, "{report}");
    for w in ws {
        assert_eq!(w["run"], run);
        assert_eq!(w["state"], "done", "{report}");
        assert_eq!(w["exit_code"], 0);
        let result = w["result"].as_str().unwrap();
        assert!(
            std::fs::read_to_string(result)
                .unwrap()
                .starts_with("fake reply")
        );
    }
    assert_eq!(ws[0]["tokens"]["input"], 7);
}

#[test]
fn wait_on_a_run_includes_workers_added_while_waiting() {
    let t = TestHome::new();
    let a = t.spawn(&["first\nFAKE:sleep=1.5"]);
    let run = run_of(&a).to_string();
    let mut wait = Background::start(&t, &["wait", &run]);
    std::thread::sleep(Duration::from_millis(200));
    let b = t.spawn(&["--run", &run, "late\nFAKE:sleep=3"]);
    assert_eq!(wait.exit_code(20), Some(0), "{:?}", wait.err());
    // W2 ends after W1: wait returning 0 means it waited for W2 too.
    assert_eq!(t.state(&b), "done");
}

#[test]
fn wait_rejects_an_unknown_target_without_waiting() {
    let t = TestHome::new();
    t.spawn(&["x"]);
    let err = t.fails(&["wait", "nosuch"], 2);
    assert!(
        err.starts_with("orch: no worker \"nosuch\" in run"),
        "{err}"
    );
}

fn hook_lines(file: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn watch_runs_the_hook_once_per_worker_across_a_restart() {
    let t = TestHome::new();
    let file = t.path().join("hook.txt");
    let hook = format!(
        "echo \"$ORCH_RUN $ORCH_LABEL $ORCH_STATE $ORCH_EXIT_CODE $ORCH_RESULT\" >> {}",
        file.display()
    );
    // The run does not exist yet when the watcher starts.
    let mut first = Background::start(&t, &["watch", "--on-finish", &hook]);
    std::thread::sleep(Duration::from_millis(300));
    let a = t.spawn(&["one\nFAKE:sleep=0.2"]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "two\nFAKE:fail=no"]);
    eventually(20, "both hooks", || {
        (hook_lines(&file).len() == 2).then_some(())
    });
    // Delivery is at least once: a watcher killed after a hook ended but before it
    // recorded the delivery runs that hook again (store::delivered). Stop the first
    // watcher only once both are recorded, so "once" is what is tested here.
    let record = t.home.join("watch/delivered.json");
    eventually(20, "both deliveries recorded", || {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&record).ok()?).ok()?;
        let done: usize = v["subscribers"]
            .as_object()?
            .values()
            .map(|s| s["delivered"].as_array().map_or(0, Vec::len))
            .sum();
        (done == 2).then_some(())
    });
    assert!(first.running());
    drop(first);
    // Workers end while no watcher runs.
    let c = t.spawn(&["--run", &run, "three"]);
    t.ok(&["wait", &c]);
    let second = Background::start(&t, &["watch", "--on-finish", &hook]);
    let d = t.spawn(&["--run", &run, "four"]);
    eventually(20, "the hooks of the restart", || {
        (hook_lines(&file).len() >= 4).then_some(())
    });
    // A moment for any duplicate to show up.
    std::thread::sleep(Duration::from_millis(1500));
    let mut lines = hook_lines(&file);
    lines.sort();
    let dir = |addr: &str| t.worker_dir(addr).join("last-message.md");
    let mut want = vec![
        format!("{run} W1 done 0 {}", dir(&a).display()),
        format!("{run} W2 failed 1 {}", dir(&b).display()),
        format!("{run} W3 done 0 {}", dir(&c).display()),
        format!("{run} W4 done 0 {}", dir(&d).display()),
    ];
    want.sort();
    assert_eq!(lines, want);
    // The watcher also printed its own lines, with tokens.
    let out = second.out().join("\n");
    assert!(out.contains(&format!("{run}/W3 done")), "{out}");
    assert!(out.contains("tokens 100 in / 10 out"), "{out}");
}

#[test]
fn watch_polling_mode_sees_workers_end_in_new_runs() {
    let t = TestHome::new();
    let old = t.spawn(&["before the watcher"]);
    t.ok(&["wait", &old]);
    let w = Background::start(&t, &["watch", "--json", "--poll", "100"]);
    std::thread::sleep(Duration::from_millis(300));
    let a = t.spawn(&["new run\nFAKE:tokens=5,2"]);
    let line = eventually(20, "a JSON line", || w.out().first().cloned());
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        format!(
            "{}/{}",
            v["run"].as_str().unwrap(),
            v["label"].as_str().unwrap()
        ),
        a
    );
    assert_eq!(v["state"], "done");
    assert_eq!(v["tokens"]["input"], 5);
    assert_eq!(v["tokens"]["output"], 2);
    // The worker that ended before the first start is history, not news.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.out().len(), 1, "{:?}", w.out());
}

#[test]
fn watch_reports_a_failing_hook_and_goes_on() {
    let t = TestHome::new();
    let mut w = Background::start(&t, &["watch", "--on-finish", "echo hook-ran; exit 3"]);
    std::thread::sleep(Duration::from_millis(300));
    let a = t.spawn(&["one"]);
    let run = run_of(&a).to_string();
    eventually(20, "the hook failure", || {
        w.err()
            .iter()
            .any(|l| l.contains("hook") && l.contains("failed"))
            .then_some(())
    });
    t.spawn(&["--run", &run, "two"]);
    eventually(20, "a line for the second worker", || {
        w.out()
            .iter()
            .any(|l| l.contains(&format!("{run}/W2 done")))
            .then_some(())
    });
    assert!(w.running());
    // The hook's own output went to stderr, keeping stdout for notices.
    assert!(w.err().iter().any(|l| l == "hook-ran"), "{:?}", w.err());
    assert!(!w.out().iter().any(|l| l.contains("hook-ran")));
}

#[test]
fn stalled_worker_shows_in_status_and_watch_reports_it_once() {
    let t = TestHome::new();
    let w = Background::start(&t, &["watch", "--json", "--stall-after", "1s"]);
    std::thread::sleep(Duration::from_millis(300));
    let a = t.spawn(&["silent\nFAKE:hang"]);
    let run = run_of(&a).to_string();
    eventually(20, "status to flag the stall", || {
        let out = t.ok(&["status", &run, "--json", "--stall-after", "1s"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        (v["workers"][0]["stalled"] == true).then_some(())
    });
    let line = eventually(20, "watch to report the stall", || w.out().first().cloned());
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["state"], "stalled");
    assert_eq!(v["label"], "W1");
    // Several sweeps later, still once.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(w.out().len(), 1, "{:?}", w.out());
    // A stalled worker can be stopped by wait.
    let err = t.fails(&["wait", &a, "--kill-stalled", "--stall-after", "1s"], 1);
    assert!(err.contains(&format!("orch: {a} stopped")), "{err}");
}

#[test]
fn top_when_piped_prints_the_table_on_changes_and_exits_when_all_ended() {
    let t = TestHome::new();
    let a = t.spawn(&["one\nFAKE:sleep=0.5"]);
    let run = run_of(&a);
    t.spawn(&["--run", run, "two\nFAKE:sleep=1.2"]);
    for args in [vec!["top"], vec!["status", "--watch", run]] {
        let out = t.run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?} {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let tables: Vec<&str> = text.split("\n\n").collect();
        let last = tables.last().unwrap();
        assert!(last.starts_with(&format!("run {run}")), "{text}");
        assert_eq!(last.matches(" done ").count(), 2, "{text}");
        assert!(!text.contains('\x1b'), "no escapes when piped: {text:?}");
    }
}

#[test]
fn top_on_a_terminal_draws_and_quits_on_q() {
    let t = TestHome::new();
    let a = t.spawn(&["forever\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    let mut cmd = t.cmd();
    // The pty is stdin too (TestHome's commands get /dev/null).
    cmd.arg("top").stdin(Stdio::inherit());
    let mut p = rexpect::session::spawn_command(cmd, Some(10_000)).unwrap();
    p.exp_string("\x1b[?1049h").unwrap();
    p.exp_string("LABEL").unwrap();
    p.exp_string("running").unwrap();
    p.send("q").unwrap();
    p.flush().unwrap();
    // The terminal is put back: cursor shown, main screen.
    p.exp_string("\x1b[?25h\x1b[?1049l").unwrap();
    p.exp_eof().unwrap();
    let status = p.process().wait().unwrap();
    assert!(
        matches!(status, rexpect::process::wait::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );
}

#[test]
fn wait_waits_through_an_automatic_retry() {
    let t = TestHome::new();
    let out = t
        .cmd()
        .args([
            "spawn",
            "--retries",
            "1",
            "x\nFAKE:first=1\nFAKE:fail=503 Service Unavailable",
        ])
        .env("ORCH_RETRY_BACKOFF", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let a = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // The first attempt fails, but a retry is planned: wait must not return yet.
    let out = t.run(&["wait", &a, "--timeout", "60s"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = t.worker(&a);
    assert_eq!(w["state"], "done");
    assert_eq!(w["attempt"], 2);
}

#[test]
fn wait_and_stop_say_when_a_run_prefix_is_ambiguous() {
    let t = TestHome::new();
    let a = t.spawn(&["x"]);
    let b = t.spawn(&["y"]);
    t.ok(&["wait", &a, &b]);
    // Both runs start with today's date.
    let prefix = &run_of(&a)[..8];
    for cmd in ["wait", "stop"] {
        let err = t.fails(&[cmd, prefix], 2);
        assert!(err.contains("ambiguous"), "{cmd}: {err}");
    }
}

#[test]
fn watch_bell_rings_the_terminal_when_a_worker_ends() {
    let t = TestHome::new();
    let mut cmd = t.cmd();
    cmd.args(["watch", "--bell"]).stdin(Stdio::inherit());
    let mut p = rexpect::session::spawn_command(cmd, Some(15_000)).unwrap();
    // Let the watcher take its first look before the worker exists.
    std::thread::sleep(Duration::from_millis(300));
    let a = t.spawn(&["ring me"]);
    p.exp_string(&format!("{a} done")).unwrap();
    p.exp_string("\x07").unwrap();
    p.send_control('c').unwrap();
}

#[test]
fn on_run_end_runs_once_per_run_with_a_summary_on_stdin() {
    let t = TestHome::new();
    let dir = t.path().join("ends");
    std::fs::create_dir(&dir).unwrap();
    // Each call leaves its own file: two calls cannot hide in one.
    // Written aside and renamed, so a file being written is never read half-way.
    let hook = format!(
        "f={}/$$-$(date +%s%N); cat > $f.part && mv $f.part $f.json",
        dir.display()
    );
    let ends = || -> Vec<Value> {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .map(|e| {
                serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
            })
            .collect()
    };
    // Two watchers with the same hook: the end goes to one of them.
    let first = Background::start(&t, &["watch", "--on-run-end", &hook]);
    let second = Background::start(&t, &["watch", "--on-run-end", &hook]);
    std::thread::sleep(Duration::from_millis(500));
    let a = t.spawn(&["--model", "gpt-5.4", "one\nFAKE:sleep=0.3"]);
    let run = run_of(&a).to_string();
    t.spawn(&[
        "--run",
        &run,
        "--model",
        "gpt-5.4",
        "two\nFAKE:fail=no luck",
    ]);
    let got = eventually(20, "the run-end hook", || {
        let e = ends();
        (!e.is_empty()).then_some(e)
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ends().len(), 1, "once, not per watcher: {:?}", ends());
    let s = &got[0];
    assert_eq!(s["run"], run.as_str());
    assert_eq!(s["workers"], 2);
    assert_eq!(s["counts"]["done"], 1, "{s}");
    assert_eq!(s["counts"]["failed"], 1, "{s}");
    // W1: 100 in, 10 out on gpt-5.4; W2 failed before usage was reported.
    assert_eq!(s["cost_usd"], 0.0004, "{s}");
    assert_eq!(s["not_done"][0]["label"], "W2");
    assert_eq!(s["not_done"][0]["error"], "no luck");
    assert_eq!(s["merged"], false);
    assert!(s["duration_secs"].as_i64().is_some(), "{s}");
    drop((first, second));

    // A restarted watcher does not tell it again, but tells of a run that ended while
    // no watcher ran.
    let b = t.spawn(&["third run"]);
    t.ok(&["wait", &b]);
    let _third = Background::start(&t, &["watch", "--on-run-end", &hook]);
    eventually(20, "the missed run's end", || {
        (ends().len() == 2).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    let all = ends();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().any(|s| s["run"] == run_of(&b)));
}
