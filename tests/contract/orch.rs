//! Driving orch itself, with the real codex as its worker program: a private ORCH_HOME,
//! a private tmux server and a working folder per test. Dropping an [`OrchHome`] kills
//! only the tmux server it started.
//!
//! (The integration tests have a similar `TestHome` with the fake codex; this crate is a
//! separate test binary, so the few helpers it needs live here.)

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::standin::CodexHome;

/// How long a worker may take to end. A codex run through orch takes about a second
/// here (tmux window, the wrapper, node, the native binary); the margin is for a loaded
/// machine, never part of a passing test's runtime.
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(25);

pub struct OrchHome {
    /// Held for its `Drop`, which removes the folder.
    _tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub socket: PathBuf,
    /// The folder orch is run in, and so the workers' `--cd`.
    pub work: PathBuf,
}

impl OrchHome {
    pub fn new() -> OrchHome {
        // Fail at once, with the fix, when the real codex is not installed.
        crate::codex_bin();
        // Under /tmp with a short name: a unix socket path must stay under 108 bytes.
        let tmp = tempfile::Builder::new()
            .prefix("orch-c")
            .tempdir_in("/tmp")
            .expect("create test home");
        let home = tmp.path().join("home");
        let socket = tmp.path().join("tmux").join("sock");
        let work = tmp.path().join("work");
        std::fs::create_dir(&work).expect("create work dir");
        OrchHome {
            _tmp: tmp,
            home,
            socket,
            work,
        }
    }

    /// orch with the real codex as `ORCH_CODEX` and `codex_home` as `CODEX_HOME`: the
    /// spawner's environment is what each worker's codex gets.
    pub fn cmd(&self, codex_home: &CodexHome) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_orch"));
        c.env("ORCH_HOME", &self.home)
            .env("ORCH_TMUX_SOCKET", &self.socket)
            .env("ORCH_CODEX", crate::codex_bin())
            .env("CODEX_HOME", codex_home.path())
            .env("NO_COLOR", "1")
            // Nothing from the developer's own setup may leak into the workers.
            .env_remove("OPENAI_API_KEY")
            .env_remove("CODEX_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .current_dir(&self.work)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, codex_home: &CodexHome, args: &[&str]) -> Output {
        self.cmd(codex_home).args(args).output().expect("run orch")
    }

    /// Runs orch, asserts it succeeded, returns stdout.
    pub fn ok(&self, codex_home: &CodexHome, args: &[&str]) -> String {
        let out = self.run(codex_home, args);
        assert!(
            out.status.success(),
            "orch {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("orch prints UTF-8")
    }

    /// `orch spawn ARGS…`; returns the worker's address `RUN/LABEL`.
    pub fn spawn(&self, codex_home: &CodexHome, args: &[&str]) -> String {
        let mut all = vec!["spawn"];
        all.extend_from_slice(args);
        self.ok(codex_home, &all).trim().to_owned()
    }

    /// `orch status RUN --json`.
    pub fn status(&self, codex_home: &CodexHome, run: &str) -> Value {
        let out = self.run(codex_home, &["status", run, "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// The status entry of `RUN/LABEL`.
    pub fn worker(&self, codex_home: &CodexHome, address: &str) -> Value {
        let (run, label) = address.split_once('/').expect("RUN/LABEL");
        let status = self.status(codex_home, run);
        status["workers"]
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["label"] == label))
            .cloned()
            .unwrap_or_else(|| panic!("no worker {label} in {status}"))
    }

    /// Polls `orch status` until the worker's state is final; fails the test after
    /// [`WORKER_TIMEOUT`], showing the worker's pane log and stderr.
    pub fn wait_final(&self, codex_home: &CodexHome, address: &str) -> Value {
        self.wait_for(codex_home, address, "a final state", |w| {
            !matches!(w["state"].as_str(), Some("queued" | "starting" | "running"))
        })
    }

    /// Polls `orch status` until `done(worker)` holds, within [`WORKER_TIMEOUT`].
    pub fn wait_for(
        &self,
        codex_home: &CodexHome,
        address: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + WORKER_TIMEOUT;
        loop {
            let w = self.worker(codex_home, address);
            if done(&w) {
                return w;
            }
            if Instant::now() > deadline {
                panic!(
                    "{address} did not reach {what} within {WORKER_TIMEOUT:?}: {w:#}\n{}",
                    self.diagnostics(address)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn worker_dir(&self, address: &str) -> PathBuf {
        let (run, label) = address.split_once('/').expect("RUN/LABEL");
        self.home.join("runs").join(run).join("workers").join(label)
    }

    /// What a failing test should show: the worker's files that explain it.
    pub fn diagnostics(&self, address: &str) -> String {
        let dir = self.worker_dir(address);
        ["events.jsonl", "stderr.log", "exit.json", "launch.json"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(dir.join(f))
                    .unwrap_or_else(|e| format!("(unreadable: {e})"));
                format!("--- {f}\n{text}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for OrchHome {
    fn drop(&mut self) {
        // Our own server only (its socket is private to this test); it takes any
        // worker still running with it.
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub fn run_of(address: &str) -> &str {
    address.split_once('/').expect("RUN/LABEL").0
}
