//! A dropped session (SSH connection killed mid-command), simulated without sshd: the
//! reader of a watcher's pipe goes away (EPIPE), its pty's other side closes (EIO), or
//! it gets SIGHUP, or it is killed outright together with its hook.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::support::*;

/// Lines of a file (a hook's log), empty when it does not exist yet.
fn lines(file: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn exited(child: &mut Child, secs: u64, what: &str) -> std::process::ExitStatus {
    eventually(secs, what, || child.try_wait().unwrap())
}

/// Labels of the JSON notices read from `out` until `n` have come.
fn read_notices(out: &mut impl BufRead, n: usize) -> Vec<String> {
    let mut labels = Vec::new();
    let mut line = String::new();
    while labels.len() < n {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "watch ended early");
        let v: Value = serde_json::from_str(&line).unwrap();
        labels.push(v["label"].as_str().unwrap().to_string());
    }
    labels
}

/// Waits until a fresh watcher has registered (its presence lock exists).
fn watcher_started(t: &TestHome, count: usize) {
    eventually(20, "the watcher to start", || {
        let dir = t.home.join("watch").join("watchers");
        (std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0) >= count).then_some(())
    });
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn a_watcher_whose_pipe_closed_exits_and_the_next_one_gets_every_notice() {
    let t = TestHome::new();
    let mut first = t
        .cmd()
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    watcher_started(&t, 1);
    let a = t.spawn(&["one"]);
    let run = run_of(&a).to_string();
    let mut out = BufReader::new(first.stdout.take().unwrap());
    assert_eq!(read_notices(&mut out, 1), ["W1"]);
    // The connection drops: nobody reads the watcher's output any more.
    drop(out);
    let status = exited(&mut first, 10, "the watcher to notice its closed pipe");
    assert!(!status.success(), "{status:?}");
    // Workers end while no one watches; they are not lost to the dead watcher.
    let b = t.spawn(&["--run", &run, "two"]);
    let c = t.spawn(&["--run", &run, "three"]);
    t.ok(&["wait", &b, &c]);
    let mut second = t
        .cmd()
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(second.stdout.take().unwrap());
    let mut got = read_notices(&mut out, 2);
    got.sort();
    assert_eq!(got, ["W2", "W3"]);
    let _ = second.kill();
    let _ = second.wait();
}

#[test]
fn a_watcher_on_a_hung_up_terminal_exits_without_taking_notices() {
    let t = TestHome::new();
    let pty = nix::pty::openpty(None, None).unwrap();
    // Only we hold the master: a child inheriting it would keep the terminal up.
    nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .unwrap();
    let slave = std::fs::File::from(pty.slave);
    let mut w = t
        .cmd()
        .args(["watch", "--json"])
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap())
        .spawn()
        .unwrap();
    drop(slave);
    watcher_started(&t, 1);
    // The terminal goes away (sshd closes the pty's master side).
    drop(pty.master);
    exited(&mut w, 10, "the watcher to notice its terminal hung up");
    let a = t.spawn(&["ends after the drop"]);
    t.ok(&["wait", &a]);
    let mut next = t
        .cmd()
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(next.stdout.take().unwrap());
    assert_eq!(read_notices(&mut out, 1), ["W1"]);
    let _ = next.kill();
    let _ = next.wait();
}

#[test]
fn watchers_of_different_formats_each_see_every_notice() {
    let t = TestHome::new();
    let spawn_watch = |args: &[&str]| {
        t.cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut text = spawn_watch(&["watch"]);
    let mut json = spawn_watch(&["watch", "--json"]);
    watcher_started(&t, 2);
    let a = t.spawn(&["one"]);
    let run = run_of(&a).to_string();
    for i in 2..=4 {
        t.spawn(&["--run", &run, &format!("worker {i}")]);
    }
    let mut jout = BufReader::new(json.stdout.take().unwrap());
    let mut got = read_notices(&mut jout, 4);
    got.sort();
    assert_eq!(got, ["W1", "W2", "W3", "W4"]);
    let mut tout = BufReader::new(text.stdout.take().unwrap());
    let mut seen = Vec::new();
    let mut line = String::new();
    while seen.len() < 4 {
        line.clear();
        assert!(tout.read_line(&mut line).unwrap() > 0);
        seen.push(line.split_whitespace().nth(1).unwrap().to_string());
    }
    seen.sort();
    let want: Vec<String> = (1..=4).map(|i| format!("{run}/W{i}")).collect();
    assert_eq!(seen, want);
    for c in [&mut text, &mut json] {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[test]
fn a_hook_killed_with_its_watcher_runs_again_when_a_watcher_restarts() {
    let t = TestHome::new();
    let log = t.path().join("hook.log");
    let pidfile = t.path().join("hook.pid");
    let hook = format!(
        "echo $$ > {}; sleep 1.5; echo \"$ORCH_LABEL\" >> {}",
        pidfile.display(),
        log.display()
    );
    let watch = || {
        t.cmd()
            .args(["watch", "--on-finish", &hook])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = watch();
    watcher_started(&t, 1);
    t.spawn(&["one"]);
    let pid: i32 = eventually(20, "the hook to start", || {
        std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    });
    // The session is killed, hook and all, in the middle of the hook.
    let _ = first.kill();
    let _ = first.wait();
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    std::thread::sleep(Duration::from_millis(1800));
    assert!(lines(&log).is_empty(), "the killed hook never finished");
    let mut second = watch();
    eventually(20, "the restarted watcher to run the hook again", || {
        (lines(&log) == ["W1"]).then_some(())
    });
    let _ = second.kill();
    let _ = second.wait();
}

#[test]
fn a_hang_up_during_a_hook_lets_the_hook_finish_and_it_is_not_repeated() {
    let t = TestHome::new();
    let log = t.path().join("hook.log");
    let started = t.path().join("hook.started");
    let hook = format!(
        "touch {}; sleep 1; echo \"$ORCH_LABEL\" >> {}",
        started.display(),
        log.display()
    );
    let watch = || {
        t.cmd()
            .args(["watch", "--on-finish", &hook])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = watch();
    watcher_started(&t, 1);
    t.spawn(&["one"]);
    eventually(20, "the hook to start", || started.exists().then_some(()));
    kill(Pid::from_raw(first.id() as i32), Signal::SIGHUP).unwrap();
    let status = exited(&mut first, 10, "the hung-up watcher to end after its hook");
    assert!(!status.success(), "{status:?}");
    assert_eq!(lines(&log), ["W1"], "the hook ran to its end");
    // A restarted watcher knows the hook completed.
    let mut second = watch();
    watcher_started(&t, 1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(lines(&log), ["W1"]);
    let _ = second.kill();
    let _ = second.wait();
}

/// The worker's saved environment, as NAME → value.
fn saved_env(t: &TestHome, addr: &str) -> std::collections::BTreeMap<String, String> {
    let buf = std::fs::read(t.worker_dir(addr).join("env")).unwrap();
    buf.split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let s = String::from_utf8_lossy(e).to_string();
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

#[test]
fn a_worker_does_not_inherit_what_dies_with_the_ssh_session() {
    let t = TestHome::new();
    let out = t
        .cmd()
        .args(["spawn", "x\nFAKE:env=SSH_CONNECTION"])
        .env("SSH_TTY", "/dev/pts/7")
        .env("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22")
        .env("SSH_CLIENT", "127.0.0.1 50000 22")
        .env("SSH_AUTH_SOCK", "/tmp/ssh-XXXX/agent.1")
        .env("ORCH_TEST_KEPT", "yes")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let a = String::from_utf8(out.stdout).unwrap().trim().to_string();
    t.ok(&["wait", &a]);
    let env = saved_env(&t, &a);
    for gone in ["SSH_TTY", "SSH_CONNECTION", "SSH_CLIENT"] {
        assert!(!env.contains_key(gone), "{gone} reached the worker");
    }
    assert_eq!(env["ORCH_TEST_KEPT"], "yes");
    // Without ORCH_SSH_AGENT the agent socket is passed as it is.
    assert_eq!(env["SSH_AUTH_SOCK"], "/tmp/ssh-XXXX/agent.1");
    let result = t.ok(&["result", &a]);
    assert!(
        result.contains("SSH_CONNECTION=\n") || result.ends_with("SSH_CONNECTION="),
        "{result}"
    );
}

#[test]
fn with_a_stable_agent_a_worker_reaches_the_agent_of_the_session_after_a_reconnect() {
    let t = TestHome::new();
    let listen = |name: &str| {
        let p = t.path().join(name);
        (std::os::unix::net::UnixListener::bind(&p).unwrap(), p)
    };
    let (first_agent, first) = listen("agent-1");
    let out = t
        .cmd()
        .args(["spawn", "x\nFAKE:env=SSH_AUTH_SOCK"])
        .env("ORCH_SSH_AGENT", "stable")
        .env("SSH_AUTH_SOCK", &first)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let a = String::from_utf8(out.stdout).unwrap().trim().to_string();
    t.ok(&["wait", &a]);
    let link = t.home.join("ssh-agent.sock");
    assert!(
        t.ok(&["result", &a])
            .contains(&format!("SSH_AUTH_SOCK={}", link.display()))
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), first);
    // The session drops (its agent socket goes) and a new one runs any orch command.
    drop(first_agent);
    std::fs::remove_file(&first).unwrap();
    let (_second_agent, second) = listen("agent-2");
    let out = t
        .cmd()
        .args(["status"])
        .env("ORCH_SSH_AGENT", "stable")
        .env("SSH_AUTH_SOCK", &second)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_link(&link).unwrap(), second);
    std::os::unix::net::UnixStream::connect(&link).expect("the link reaches the new agent");
}

#[test]
fn a_worker_whose_spawner_died_during_new_window_is_found_by_status_and_attach() {
    use std::os::unix::process::ExitStatusExt;
    let t = TestHome::new();
    // The spawner is killed right after tmux made the window, before it wrote the id.
    let out = t
        .cmd()
        .args(["spawn", "--label", "orphan", "x\nFAKE:hang"])
        .env("ORCH_TEST_CRASH_AT", "window-created")
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(9), "{out:?}");
    let run = std::fs::read_dir(t.home.join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    let addr = format!("{run}/orphan");
    let file = t.worker_dir(&addr).join("window");
    // The wrapper wrote down its own window (nothing else has looked yet)...
    let recorded = eventually(20, "the wrapper to record its window", || {
        std::fs::read_to_string(&file).ok()
    });
    t.wait_state(&addr, "running", 20);
    // ...and without that record (an older wrapper), status finds it by run and label.
    std::fs::remove_file(&file).unwrap();
    let w = t.worker(&addr);
    let window = w["window"]
        .as_str()
        .expect("status names the window")
        .to_string();
    assert_eq!(window, recorded.trim());
    let listed = t.tmux(&["list-windows", "-a", "-F", "#{window_id} #{window_name}"]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.lines().any(|l| l == format!("{window} orphan")),
        "{listed}"
    );
    // attach gets into it (and detaches with C-b d).
    let mut cmd = t.cmd();
    cmd.args(["attach", &addr]).stdin(Stdio::inherit());
    let mut p = rexpect::session::spawn_command(cmd, Some(10_000)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    p.send_control('b').unwrap();
    p.send("d").unwrap();
    p.flush().unwrap();
    p.exp_string("detached").unwrap();
    t.ok(&["stop", &addr]);
}

/// The SSH connection drops while `fanout` is making its workers: the terminal's SIGHUP
/// must not leave a run with half its reviewers, nor reviewers nobody starts.
#[test]
fn a_hangup_mid_fanout_still_makes_and_starts_every_worker() {
    let t = TestHome::new();
    for point in ["spec-written", "launch-written"] {
        let out = t
            .cmd()
            .args(["fanout", "--lens", "correctness,security,tests,performance"])
            .arg("FAKE:sleep=0.2")
            .env("ORCH_TEST_HANGUP_AT", point)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fanout hung up at {point}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = String::from_utf8(out.stdout).unwrap().trim().to_string();
        // Nothing looks at the run in between: the workers must already be under way.
        let launched = std::fs::read_dir(t.home.join("runs").join(&run).join("workers"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().join("launch.json").exists())
            .count();
        assert_eq!(launched, 4, "after a hang-up at {point}");
        t.ok(&["wait", &run, "--timeout", "60s"]);
        let counts = &t.status(&run)["counts"];
        assert_eq!(counts["done"], 4, "{counts}");
    }
}

#[test]
fn a_wait_whose_output_leads_nowhere_gives_up_and_leaves_the_worker_running() {
    let t = TestHome::new();
    let addr = t.spawn(&["hold on\nFAKE:hang"]);
    t.wait_state(&addr, "running", 20);
    // A session without a terminal (`ssh host orch wait`) drops: sshd closes the pipes
    // and no SIGHUP comes.
    let mut wait = t
        .cmd()
        .args(["wait", &addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(wait.try_wait().unwrap().is_none(), "wait ended early");
    drop(wait.stdout.take());
    drop(wait.stderr.take());
    let status = exited(&mut wait, 20, "the orphaned wait to give up");
    assert_eq!(status.code(), Some(141), "{status:?}");
    assert_eq!(t.state(&addr), "running");

    // With only stdout gone (`orch wait | head -0`), stderr still reaches someone: it waits.
    let mut half = t
        .cmd()
        .args(["wait", &addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(half.stdout.take());
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        half.try_wait().unwrap().is_none(),
        "wait with a stderr ended"
    );
    let _ = half.kill();
    let _ = half.wait();
}

/// `orch recover` after a reboot, over an SSH link that drops while it staggers the
/// starts: it goes on and recovers every lost worker, although nobody reads its lines.
#[test]
fn recover_finishes_every_worker_after_its_session_drops() {
    let t = TestHome::new();
    let a = t.spawn(&["--label", "a", "x\nFAKE:hang"]);
    let run = run_of(&a).to_string();
    let rest: Vec<String> = ["b", "c"]
        .iter()
        .map(|l| t.spawn(&["--run", &run, "--label", l, "y\nFAKE:hang"]))
        .collect();
    for w in std::iter::once(&a).chain(&rest) {
        t.wait_state(w, "running", 20);
    }
    assert!(t.tmux(&["kill-server"]).status.success());
    for w in std::iter::once(&a).chain(&rest) {
        t.wait_state(w, "lost", 30);
    }
    let mut recover = t
        .cmd()
        .args(["recover", &run, "--stagger", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(recover.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("resuming thread"), "{first}");
    // The link drops: nobody reads stdout or stderr any more.
    drop(out);
    drop(recover.stderr.take());
    let status = exited(&mut recover, 30, "recover to finish");
    assert!(status.success(), "{status:?}");
    // Each was started again (its continued turn ends done: the resume prompt asks the
    // fake codex for nothing more).
    for w in std::iter::once(&a).chain(&rest) {
        t.wait_state(w, "done", 30);
        assert_eq!(t.worker(w)["attempt"], 2, "{w}");
    }
}
