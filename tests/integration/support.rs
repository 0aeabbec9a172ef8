//! Test fixture: a private ORCH_HOME, a private tmux socket and the fake codex.
//! Dropping it kills only the tmux server it started.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn orch_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_orch"))
}

/// The fake codex is an example target, which `cargo test` builds into
/// `target/<profile>/examples/` beside the test binaries' `deps/`.
pub fn fake_codex() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let p = dir.join("examples").join("fake-codex");
    assert!(
        p.exists(),
        "{} is missing: run the tests with plain `cargo test` (which builds examples), \
         or `cargo build --example fake-codex` before `cargo test --test integration`",
        p.display()
    );
    p
}

pub struct TestHome {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub socket: PathBuf,
}

impl TestHome {
    pub fn new() -> TestHome {
        // Short paths: a unix socket path must stay under 108 bytes.
        let tmp = tempfile::Builder::new()
            .prefix("orch-t")
            .tempdir_in("/tmp")
            .unwrap();
        let home = tmp.path().join("home");
        let socket = tmp.path().join("tmux").join("sock");
        TestHome { tmp, home, socket }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A new folder in the test's temp dir (e.g. a working tree), as a string argument.
    pub fn subdir(&self, name: &str) -> String {
        let dir = self.tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        dir.to_str().unwrap().to_string()
    }

    pub fn cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(orch_bin());
        c.env("ORCH_HOME", &self.home)
            .env("ORCH_TMUX_SOCKET", &self.socket)
            .env("ORCH_CODEX", fake_codex())
            // No codex config of the machine's user decides a worker's model (and price).
            .env("CODEX_HOME", self.tmp.path().join("codex-home"))
            .env("NO_COLOR", "1")
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .current_dir(self.tmp.path())
            .stdin(std::process::Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs orch and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_in(self.tmp.path(), args)
    }

    /// Runs orch in folder `dir` (as a user in their checkout) and asserts success;
    /// returns stdout.
    pub fn ok_in(&self, dir: &std::path::Path, args: &[&str]) -> String {
        let out = self.cmd().args(args).current_dir(dir).output().unwrap();
        assert!(
            out.status.success(),
            "orch {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs orch, asserts it fails with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "orch {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> String {
        let mut a = vec!["spawn"];
        a.extend_from_slice(args);
        let out = self.ok(&a);
        assert_eq!(out.lines().count(), 1, "spawn prints one line: {out:?}");
        out.trim().to_string()
    }

    pub fn status(&self, run: &str) -> Value {
        let out = self.run(&["status", run, "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// The status entry of `RUN/LABEL`.
    pub fn worker(&self, address: &str) -> Value {
        let (run, label) = address.split_once('/').unwrap();
        let st = self.status(run);
        st["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["label"] == label)
            .cloned()
            .unwrap_or_else(|| panic!("no {label} in {st}"))
    }

    pub fn state(&self, address: &str) -> String {
        self.worker(address)["state"].as_str().unwrap().to_string()
    }

    /// Polls until the worker reaches `want` (panics after `secs`).
    pub fn wait_state(&self, address: &str, want: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let w = self.worker(address);
            if w["state"] == want {
                return w;
            }
            if Instant::now() > deadline {
                panic!("{address} never became {want}: {w}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn worker_dir(&self, address: &str) -> PathBuf {
        let (run, label) = address.split_once('/').unwrap();
        self.home.join("runs").join(run).join("workers").join(label)
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        std::process::Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// The fake codex's record of how it was called (one JSON per invocation).
    pub fn invocations(&self, address: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.worker_dir(address).join("fake-invocations.jsonl"))
            .unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for TestHome {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

pub fn run_of(address: &str) -> &str {
    address.split_once('/').unwrap().0
}

/// Polls `f` until it returns Some, or panics after `secs`.
pub fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
