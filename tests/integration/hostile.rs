//! Hostile input and hostile environments: each refusal names the thing and the fix,
//! exits non-zero and leaves ORCH_HOME byte-identical; data that looks like shell
//! arrives verbatim; state stays private and secrets stay out of argv.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::*;

/// Every path under `dir` with its content (folders as a marker) and mode.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (Vec<u8>, u32)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                out.insert(rel, (b"<dir>".to_vec(), mode));
                walk(root, &p, out);
            } else if meta.is_file() {
                out.insert(rel, (std::fs::read(&p).unwrap(), mode));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Runs `cmd`, asserting the exit code, that stderr names `needles`, and that the
/// state tree did not change.
fn refused(t: &TestHome, mut cmd: Command, code: i32, needles: &[&str]) -> String {
    let before = snapshot(&t.home);
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{cmd:?}: {err:?} lacks {n:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err:?}");
    assert!(snapshot(&t.home) == before, "{cmd:?} changed ORCH_HOME");
    err
}

fn orch(t: &TestHome, args: &[&str]) -> Command {
    let mut c = t.cmd();
    c.args(args);
    c
}

/// A home with one finished run.
fn seeded() -> (TestHome, String) {
    let t = TestHome::new();
    let a = t.spawn(&["seed"]);
    t.wait_state(&a, "done", 20);
    (t, run_of(&a).to_string())
}

#[test]
fn bad_labels_are_refused() {
    let (t, run) = seeded();
    let long = "x".repeat(200);
    for label in ["../x", "a/b", "", "-x", "a\nb", long.as_str()] {
        let flag = format!("--label={label}");
        let err = refused(
            &t,
            orch(&t, &["spawn", "--run", &run, &flag, "p"]),
            2,
            &["invalid label"],
        );
        assert!(err.contains("use 1-64 of A-Z a-z 0-9"), "{err}");
        refused(&t, orch(&t, &["spawn", &flag, "p"]), 2, &["invalid label"]);
    }
    refused(
        &t,
        orch(&t, &["result", &format!("{run}/../x")]),
        2,
        &["invalid label"],
    );
    refused(
        &t,
        orch(&t, &["status", "../x"]),
        2,
        &["invalid run id", "20261124-1412-k3f"],
    );
    refused(
        &t,
        orch(&t, &["retry", "../../etc/W1"]),
        2,
        &["invalid run id"],
    );
}

#[test]
fn bad_prompts_are_refused() {
    let (t, run) = seeded();
    refused(
        &t,
        orch(&t, &["spawn", "--run", &run, ""]),
        2,
        &["prompt", "empty", "say what the worker should do"],
    );
    refused(
        &t,
        orch(&t, &["spawn", "--run", &run, " \n\t"]),
        2,
        &["empty"],
    );
    let big = t.path().join("big.md");
    std::fs::write(&big, vec![b'a'; (1 << 20) + 1]).unwrap();
    let big_s = big.to_str().unwrap();
    refused(
        &t,
        orch(&t, &["spawn", "--run", &run, "--prompt-file", big_s]),
        2,
        &["larger than 1024 KiB", "point the worker at files"],
    );
    let bad = t.path().join("bad.md");
    std::fs::write(&bad, b"ok so far \xff\xfe then junk").unwrap();
    refused(
        &t,
        orch(
            &t,
            &[
                "spawn",
                "--run",
                &run,
                "--prompt-file",
                bad.to_str().unwrap(),
            ],
        ),
        2,
        &["not valid UTF-8", "offset 10", "convert it to UTF-8"],
    );
    refused(
        &t,
        orch(
            &t,
            &["spawn", "--run", &run, "--prompt-file", "/nonexistent/p.md"],
        ),
        2,
        &["cannot read prompt file /nonexistent/p.md"],
    );
    let mut stdin_big = orch(&t, &["spawn", "--run", &run, "-"]);
    stdin_big.stdin(std::fs::File::open(&big).unwrap());
    refused(&t, stdin_big, 2, &["from stdin is larger than"]);
    refused(
        &t,
        orch(
            &t,
            &["resume", &format!("{run}/W1"), "--prompt-file", big_s],
        ),
        2,
        &["larger than"],
    );
    refused(&t, orch(&t, &["spawn", "--run", &run]), 2, &["no prompt"]);
}

#[test]
fn shell_syntax_in_prompts_and_paths_arrives_verbatim() {
    let t = TestHome::new();
    let marker = t.path().join("pwned");
    let prompt = format!(
        "a $(touch {m}) `touch {m}` 'single' \"double\"; touch {m} | cat && x || y > z < w * ? ~ \\n %s %n #{{pane_id}}\nsecond line",
        m = marker.display()
    );
    let dir = t.path().join("dir $(touch x) ; `y` 'q' #{window_id}");
    std::fs::create_dir(&dir).unwrap();
    let a = t.spawn(&["--cd", dir.to_str().unwrap(), "--label", "a.b-c_d", &prompt]);
    t.wait_state(&a, "done", 20);
    let inv = &t.invocations(&a)[0];
    assert_eq!(inv["prompt"], prompt.as_str());
    assert_eq!(inv["cwd"], dir.to_str().unwrap());
    let first = prompt.lines().next().unwrap();
    assert_eq!(t.ok(&["result", &a]), format!("fake reply to: {first}"));
    assert!(!marker.exists(), "nothing ran the prompt through a shell");
    assert!(!dir.join("x").exists());
    // The window is named by the label alone and found by id, never by parsing a name.
    let names = t.tmux(&["list-windows", "-a", "-F", "#{window_name}"]);
    assert!(String::from_utf8_lossy(&names.stdout).contains("a.b-c_d"));
}

#[test]
fn missing_cd_unknown_and_ambiguous_runs() {
    let (t, run) = seeded();
    refused(
        &t,
        orch(&t, &["spawn", "--cd", "/nonexistent/dir", "p"]),
        2,
        &["--cd /nonexistent/dir", "No such file"],
    );
    let file = t.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    refused(
        &t,
        orch(&t, &["spawn", "--cd", file.to_str().unwrap(), "p"]),
        2,
        &["not a directory"],
    );
    let mut typo = run.clone();
    typo.pop();
    typo.push(if run.ends_with('z') { 'y' } else { 'z' });
    refused(
        &t,
        orch(&t, &["status", &typo]),
        2,
        &[&format!("no run \"{typo}\"; did you mean {run}?")],
    );
    refused(
        &t,
        orch(&t, &["spawn", "--run", &typo, "p"]),
        2,
        &["did you mean"],
    );
    refused(
        &t,
        orch(&t, &["result", &format!("{run}/W9")]),
        2,
        &["no worker \"W9\"", "did you mean"],
    );
    let b = t.spawn(&["second"]);
    t.wait_state(&b, "done", 20);
    let prefix = &run[..9];
    assert!(run_of(&b).starts_with(prefix));
    let err = refused(
        &t,
        orch(&t, &["status", prefix]),
        2,
        &["is ambiguous", "type more of the id"],
    );
    assert!(err.contains(&run) && err.contains(run_of(&b)), "{err}");
}

#[test]
fn missing_tmux_or_codex_is_named_with_the_fix() {
    let (t, run) = seeded();
    let mut no_tmux = orch(&t, &["spawn", "--run", &run, "p"]);
    no_tmux.env("PATH", "/nonexistent");
    refused(&t, no_tmux, 1, &["tmux not found", "install tmux 3.0"]);
    let bin = t.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/usr/bin/tmux", bin.join("tmux")).unwrap();
    let mut no_codex = orch(&t, &["spawn", "--run", &run, "p"]);
    no_codex.env("PATH", &bin).env_remove("ORCH_CODEX");
    refused(
        &t,
        no_codex,
        1,
        &["codex not found on PATH", "npm install -g @openai/codex"],
    );
    let mut bad_codex = orch(&t, &["spawn", "--run", &run, "p"]);
    bad_codex.env("ORCH_CODEX", "/nonexistent/codex");
    refused(
        &t,
        bad_codex,
        1,
        &["ORCH_CODEX=/nonexistent/codex is not an executable"],
    );
    // A tmux older than 3.0 is refused up front, naming its version.
    let old = t.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::write(old.join("tmux"), "#!/bin/sh\necho 'tmux 2.9'\n").unwrap();
    std::fs::set_permissions(old.join("tmux"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut old_tmux = orch(&t, &["spawn", "--run", &run, "p"]);
    old_tmux.env("PATH", format!("{}:/usr/bin:/bin", old.display()));
    refused(
        &t,
        old_tmux,
        1,
        &["tmux 2.9 is too old", "tmux 3.0 or newer"],
    );
    let mut retry = orch(&t, &["retry", &format!("{run}/W1")]);
    retry.env("PATH", "/nonexistent");
    refused(&t, retry, 1, &["tmux not found"]);
}

#[test]
fn unwritable_home_is_refused_before_anything_is_written() {
    let t = TestHome::new();
    // Tests run as root, which ignores modes: a path under a regular file can't be made.
    let file = t.path().join("file");
    std::fs::write(&file, "keep").unwrap();
    let home = file.join("home");
    let mut c = orch(&t, &["spawn", "p"]);
    c.env("ORCH_HOME", &home);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot use ORCH_HOME {}", home.display())),
        "{err}"
    );
    assert!(err.contains("make it writable or set ORCH_HOME"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    assert!(!t.home.exists());
}

struct Mount(PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_disk_leaves_the_state_as_it_was() {
    let t = TestHome::new();
    let mnt = t.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"])
        .arg(&mnt)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root and mount permission)");
        return;
    }
    let _mount = Mount(mnt.clone());
    let home = mnt.join("home");
    let with_home = |args: &[&str]| {
        let mut c = orch(&t, args);
        c.env("ORCH_HOME", &home);
        c
    };
    let out = with_home(&["spawn", "seed"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let addr = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let run = run_of(&addr).to_string();
    eventually(20, "seed done", || {
        let out = with_home(&["status", &run, "--json"]).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["workers"][0]["state"] == "done").then_some(())
    });
    // Fill the disk.
    let mut filler = std::fs::File::create(mnt.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    drop(filler);
    let before = snapshot(&home);
    for args in [
        vec!["spawn", "--run", run.as_str(), "p"],
        vec!["spawn", "p"],
    ] {
        let out = with_home(&args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("No space left on device"), "{err}");
        assert!(snapshot(&home) == before, "{args:?} changed ORCH_HOME");
    }
    let out = with_home(&["status", &run]).output().unwrap();
    assert!(
        out.status.success(),
        "status still reads a full disk: {}",
        stderr(&out)
    );
    let doctor = with_home(&["doctor"]).output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("FAIL disk space"), "{text}");
}

#[test]
fn damaged_records_are_named_and_the_rest_still_listed() {
    let (t, run) = seeded();
    for n in 2..=4 {
        let a = t.spawn(&["--run", &run, "x"]);
        t.wait_state(&a, "done", 20);
        assert!(a.ends_with(&format!("W{n}")));
    }
    let w = |l: &str| t.worker_dir(&format!("{run}/{l}"));
    let exit = std::fs::read_to_string(w("W2").join("exit.json")).unwrap();
    std::fs::write(w("W2").join("exit.json"), &exit[..exit.len() / 2]).unwrap();
    std::fs::write(w("W3").join("spec.json"), "not json").unwrap();
    std::fs::write(w("W4").join("launch.json"), "").unwrap();
    let before = snapshot(&t.home);
    let out = t.run(&["status", &run, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<(&str, &str)> = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["label"].as_str().unwrap(), w["state"].as_str().unwrap()))
        .collect();
    assert!(states.contains(&("W1", "done")), "{states:?}");
    for l in ["W2", "W3", "W4"] {
        assert!(states.contains(&(l, "corrupt")), "{states:?}");
    }
    let err = stderr(&out);
    for f in ["W2/exit.json", "W3/spec.json", "W4/launch.json"] {
        assert!(err.contains(f), "{err}");
    }
    assert!(
        err.contains("is not valid JSON") && err.contains("move it aside"),
        "{err}"
    );
    assert!(snapshot(&t.home) == before, "status changed nothing");
    refused(
        &t,
        orch(&t, &["retry", &format!("{run}/W2")]),
        1,
        &["damaged record", "exit.json"],
    );
    // A damaged run.json: that run is named, other runs still listed.
    let b = t.spawn(&["other"]);
    t.wait_state(&b, "done", 20);
    std::fs::write(t.home.join("runs").join(&run).join("run.json"), "{").unwrap();
    refused(
        &t,
        orch(&t, &["status", &run]),
        1,
        &["run.json is not valid JSON"],
    );
    let ls: Value = serde_json::from_str(&t.ok(&["ls", "--json"])).unwrap();
    assert_eq!(ls.as_array().unwrap().len(), 2);
    let gc = t.ok(&["gc", "--older-than", "0s"]);
    assert!(gc.contains(&format!("kept run {run}")), "{gc}");
    assert!(t.home.join("runs").join(&run).exists());
    // The advice does not send the user back to gc, nor call the run a worker.
    let kept = gc
        .lines()
        .find(|l| l.contains(&format!("kept run {run}")))
        .unwrap();
    assert!(kept.contains("move it aside"), "{gc}");
    assert!(
        !kept.contains("orch gc") && !kept.contains("worker"),
        "{gc}"
    );
    let doctor = String::from_utf8(t.run(&["doctor"]).stdout).unwrap();
    let rp = t.home.join("runs").join(&run).join("run.json");
    assert!(
        doctor.contains(&format!("fix: mv {} ", rp.display())),
        "{doctor}"
    );
}

#[test]
fn records_from_a_newer_orch_ask_for_an_upgrade() {
    let (t, run) = seeded();
    let rp = t.home.join("runs").join(&run).join("run.json");
    let orig = std::fs::read_to_string(&rp).unwrap();
    let mut v: Value = serde_json::from_str(&orig).unwrap();
    v["schema"] = 99.into();
    std::fs::write(&rp, v.to_string()).unwrap();
    refused(
        &t,
        orch(&t, &["status", &run]),
        1,
        &["written by a newer orch (schema 99", "upgrade orch"],
    );
    std::fs::write(&rp, orig).unwrap();
    let ep = t.worker_dir(&format!("{run}/W1")).join("exit.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&ep).unwrap()).unwrap();
    v["schema"] = 7.into();
    std::fs::write(&ep, v.to_string()).unwrap();
    let out = t.run(&["status", &run, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["workers"][0]["state"], "corrupt");
    assert!(stderr(&out).contains("upgrade orch"), "{}", stderr(&out));
}

#[test]
fn attempts_and_the_socket_are_private() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:first=1\nFAKE:exit=2"]);
    t.wait_state(&a, "failed", 20);
    t.ok(&["retry", &a]);
    t.wait_state(&a, "done", 20);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let att = t.worker_dir(&a).join("attempt-1");
    assert_eq!(mode(&att), 0o700);
    let mut files = 0;
    for e in std::fs::read_dir(&att).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        files += 1;
    }
    assert!(files >= 5, "the attempt's files were moved: {files}");
    for (p, want) in [(&t.home, 0o700), (&t.home.join("runs"), 0o700)] {
        assert_eq!(mode(p), want, "{}", p.display());
    }
    assert_eq!(mode(t.socket.parent().unwrap()), 0o700);
    let sock = std::fs::metadata(&t.socket).unwrap().permissions().mode();
    assert_eq!(sock & 0o077, 0, "socket mode {sock:o}");
    // The default socket place (no ORCH_TMUX_SOCKET) is private too.
    let out = t
        .cmd()
        .env_remove("ORCH_TMUX_SOCKET")
        .args(["spawn", "y"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let b = String::from_utf8(out.stdout).unwrap().trim().to_string();
    t.wait_state(&b, "done", 20);
    assert_eq!(mode(&t.home.join("tmux")), 0o700);
    let sock = std::fs::metadata(t.home.join("tmux/server"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(sock & 0o077, 0);
    let _ = Command::new("tmux")
        .arg("-S")
        .arg(t.home.join("tmux/server"))
        .arg("kill-server")
        .status();
}

#[test]
fn the_environment_never_shows_in_argv() {
    let t = TestHome::new();
    let secret = format!("s3cret-{}", std::process::id());
    let out = t
        .cmd()
        .args(["spawn", "x\nFAKE:env=ORCH_TEST_SECRET\nFAKE:sleep=3"])
        .env("ORCH_TEST_SECRET", &secret)
        .output()
        .unwrap();
    assert!(out.status.success());
    let a = String::from_utf8(out.stdout).unwrap().trim().to_string();
    t.wait_state(&a, "running", 20);
    let started: Value =
        serde_json::from_slice(&std::fs::read(t.worker_dir(&a).join("started.json")).unwrap())
            .unwrap();
    let server = t.tmux(&["display-message", "-p", "#{pid}"]);
    let server_pid = String::from_utf8_lossy(&server.stdout).trim().to_string();
    assert!(!server_pid.is_empty());
    for pid in [
        started["wrapper_pid"].to_string(),
        started["codex_pid"].to_string(),
        server_pid,
    ] {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(!cmdline.is_empty(), "{pid} is alive");
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(&secret),
            "the secret is in the argv of {pid}"
        );
    }
    t.wait_state(&a, "done", 20);
    assert!(
        t.ok(&["result", &a])
            .ends_with(&format!("ORCH_TEST_SECRET={secret}"))
    );
}

#[test]
fn a_refused_spawn_or_a_stray_folder_never_becomes_the_latest_run() {
    let t = TestHome::new();
    let tree = t.subdir("tree");
    let a = t.spawn(&[
        "--cd",
        &tree,
        "--sandbox",
        "workspace-write",
        "write\nFAKE:sleep=3",
    ]);
    let run = run_of(&a).to_string();
    t.wait_state(&a, "running", 20);
    // A second writer in a new run is refused: no empty run is left behind.
    let e = t.fails(
        &[
            "spawn",
            "--cd",
            &tree,
            "--sandbox",
            "workspace-write",
            "--no-wait",
            "w2",
        ],
        1,
    );
    assert!(e.contains("another worker is writing"), "{e}");
    let runs: Vec<_> = std::fs::read_dir(t.home.join("runs")).unwrap().collect();
    assert_eq!(runs.len(), 1, "the refused spawn left a run folder");
    // A stray folder, named like a newer run, is not "latest" either.
    let stray = t.home.join("runs").join("29991231-2359-zzz");
    std::fs::create_dir(&stray).unwrap();
    let st: Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    assert_eq!(st["run"], run.as_str(), "{st}");
    // So `orch wait` waits for the real writer instead of returning at once.
    t.ok(&["wait"]);
    assert_eq!(t.state(&a), "done");
    // doctor names the folder, without a run.json that is not there; gc lists it.
    let doctor = String::from_utf8(t.run(&["doctor"]).stdout).unwrap();
    assert!(
        doctor.contains(&format!("{} has no run.json", stray.display())),
        "{doctor}"
    );
    let dry = t.ok(&["gc", "--dry-run"]);
    assert!(dry.contains("29991231-2359-zzz"), "{dry}");
    assert!(stray.exists());
}

#[test]
fn a_bad_codex_argument_is_reported_by_its_error_line_and_logs_points_at_stderr() {
    let t = TestHome::new();
    let a = t.spawn(&["x", "--", "--bogus-flag"]);
    let err = t.fails(&["wait", &a], 1);
    assert!(
        err.contains("error: unexpected argument '--bogus-flag' found"),
        "{err}"
    );
    assert!(!err.contains("For more information"), "{err}");
    assert!(err.contains(&format!("orch logs {a} --stderr")), "{err}");
    let out = t.run(&["logs", &a]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let note = String::from_utf8(out.stderr).unwrap();
    assert!(
        note.contains(&format!("`orch logs {a} --stderr`")),
        "{note}"
    );
    let raw = t.ok(&["logs", &a, "--stderr"]);
    assert!(raw.contains("For more information, try '--help'."), "{raw}");
}

#[test]
fn a_worker_stopped_by_wait_kill_stalled_says_so() {
    let t = TestHome::new();
    let a = t.spawn(&["silent\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    let err = t.fails(&["wait", &a, "--kill-stalled", "--stall-after", "1s"], 1);
    assert!(
        err.contains("stopped by wait --kill-stalled: no event for 1s"),
        "{err}"
    );
    let w = t.worker(&a);
    assert_eq!(w["state"], "stopped");
    assert_eq!(
        w["error"],
        "stopped by wait --kill-stalled: no event for 1s"
    );
}

#[test]
fn small_words_read_right_grace_takes_units_and_builtin_pipelines_are_named_as_such() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    // --grace takes a duration like every other duration option.
    t.ok(&["stop", &a, "--grace", "2s"]);
    assert_eq!(t.state(&a), "stopped");
    let table = t.ok(&["status", run_of(&a)]);
    assert!(table.contains(" · 1 worker · "), "{table}");
    // A built-in pipeline is not a file the user has.
    let err = t.fails(&["run", "options-sprint"], 2);
    assert!(!err.contains("share/pipelines/"), "{err}");
    assert!(err.contains("built-in pipeline options-sprint"), "{err}");
}

#[test]
fn result_on_a_terminal_ends_with_a_newline_and_piped_is_exact() {
    let t = TestHome::new();
    let a = t.spawn(&["x\nFAKE:reply=no newline at the end"]);
    t.ok(&["wait", &a]);
    assert_eq!(t.ok(&["result", &a]), "no newline at the end");
    let mut cmd = t.cmd();
    cmd.args(["result", &a]).stdin(Stdio::inherit());
    let mut p = rexpect::session::spawn_command(cmd, Some(10_000)).unwrap();
    p.exp_string("no newline at the end\r\n").unwrap();
    p.exp_eof().unwrap();
}
