//! Worker folders in every state, written without tmux or codex: for lifecycle tests
//! (`tests/lifecycle.rs`, `tests/records.rs`) and benches (`benches/detect.rs`), which
//! include this file with `#[path]`.
//!
//! Records go down through `lifecycle::transition`, the writer orch itself uses, so a
//! folder made here is a folder orch could have made; only what orch never writes on
//! purpose (a lost worker, a launch from long ago) is arranged by hand.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use orch::lifecycle::retry::Plan;
use orch::lifecycle::transition;
use orch::model::{Sandbox, State};
use orch::store::fsutil::{create_private_dir, open_lock_file, write_json};
use orch::store::{
    ExitRecord, Home, LaunchRecord, RunDir, RunRecord, SCHEMA, StartRecord, Tokens, WorkerDir,
    WorkerSpec,
};

/// A private ORCH_HOME in a temporary folder, removed on drop.
pub struct Factory {
    pub tmp: tempfile::TempDir,
    pub home: Home,
}

impl Factory {
    pub fn new() -> Factory {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::open(tmp.path().join("home")).unwrap();
        Factory { tmp, home }
    }

    /// A folder outside the home, for a worker's `--cd`.
    pub fn tree(&self, name: &str) -> PathBuf {
        let d = self.tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    pub fn run(&self, id: &str) -> RunDir {
        new_run(&self.home, id)
    }
}

/// A run folder with its run.json (kind `spawn`, no limits).
pub fn new_run(home: &Home, id: &str) -> RunDir {
    let run = home.run(id);
    run.create().unwrap();
    write_json(
        &run.record_path(),
        &RunRecord {
            schema: SCHEMA,
            id: id.into(),
            created_at: Utc::now(),
            cwd: home.root.clone(),
            max_parallel: None,
            kind: "spawn".into(),
            pipeline: None,
            stages: Vec::new(),
            merge_on_finish: false,
            budget_usd: None,
        },
    )
    .unwrap();
    run
}

/// A read-only worker's spec working in `cd`; change fields before `queued`.
pub fn spec(label: &str, cd: &Path) -> WorkerSpec {
    WorkerSpec {
        schema: SCHEMA,
        label: label.into(),
        role: None,
        lens: None,
        stage: None,
        created_at: Utc::now(),
        sandbox: Sandbox::ReadOnly,
        cd: cd.to_path_buf(),
        model: None,
        profile: None,
        codex_args: Vec::new(),
        after: Vec::new(),
        after_any_done: false,
        output_schema: None,
        retries: 0,
        force_writer: false,
        timeout_secs: None,
        worktree: None,
    }
}

/// `queued`: prompt.md, env and spec.json, as `orch spawn` writes them.
pub fn queued(run: &RunDir, spec: &WorkerSpec) -> WorkerDir {
    let w = run.worker(&spec.label);
    create_private_dir(&w.dir).unwrap();
    transition::create(&w, "the task", spec).unwrap();
    w
}

/// Replaces the worker's saved environment (what its wrapper and retries read).
pub fn set_env(w: &WorkerDir, vars: &[(&str, &str)]) {
    let env: Vec<_> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    orch::store::envfile::write(&w.env_path(), &env).unwrap();
}

/// launch.json for `attempt`, launched `ago` before now.
pub fn launch(w: &WorkerDir, attempt: u32, ago: Duration) {
    transition::launched(
        w,
        &LaunchRecord {
            attempt,
            launched_at: Utc::now() - ago,
            session: w.run.clone(),
            window_id: String::new(),
            codex: "codex".into(),
            resume_thread: None,
        },
    )
    .unwrap();
}

/// `starting`: launched just now, the wrapper has not taken its lock.
pub fn launched(run: &RunDir, spec: &WorkerSpec) -> WorkerDir {
    let w = queued(run, spec);
    launch(&w, 1, Duration::zero());
    w
}

/// started.json of attempt 1, started `ago` before now, pids of this process.
pub fn start(w: &WorkerDir, ago: Duration) {
    transition::started(
        w,
        &StartRecord {
            attempt: 1,
            started_at: Utc::now() - ago,
            wrapper_pid: std::process::id(),
            codex_pid: std::process::id(),
            boot_id: String::new(),
        },
    )
    .unwrap();
}

/// Takes the worker's live.lock as its wrapper would; it reads as alive while the
/// returned file is open (another descriptor, so even this process sees it locked).
pub fn hold_live_lock(w: &WorkerDir) -> File {
    let lock = open_lock_file(&w.live_lock_path()).unwrap();
    lock.lock().unwrap();
    lock
}

/// `running`: launched, started, live.lock held until the returned file is dropped.
pub fn running(run: &RunDir, spec: &WorkerSpec) -> (WorkerDir, File) {
    let w = launched(run, spec);
    let lock = hold_live_lock(&w);
    start(&w, Duration::seconds(3));
    (w, lock)
}

/// The exit record of attempt 1 ending in `state` (done: exit 0 and a completed turn).
pub fn exit_record(state: State, error: Option<&str>) -> ExitRecord {
    let done = state == State::Done;
    let now = Utc::now();
    ExitRecord {
        schema: SCHEMA,
        state,
        attempt: 1,
        exit_code: Some(if done { 0 } else { 1 }),
        signal: None,
        thread_id: Some("thread-1".into()),
        tokens: Tokens {
            input: 1200,
            cached_input: 200,
            output: 300,
            reasoning: 40,
            cache_write_input: 0,
        },
        started_at: Some(now - Duration::seconds(42)),
        finished_at: now,
        error: error.map(str::to_string),
        turn_completed: done,
    }
}

/// Ends a running worker as its wrapper does (the retry policy may leave a plan first),
/// releasing the life lock after the record, as the wrapper does. Returns the plan.
pub fn end(w: &WorkerDir, lock: File, exit: &ExitRecord) -> Option<Plan> {
    let plan = transition::ended(w, exit).unwrap();
    drop(lock);
    plan
}

/// `done`: ran and ended with exit 0 and `turn.completed`, its final message written.
pub fn done(run: &RunDir, spec: &WorkerSpec) -> WorkerDir {
    let (w, lock) = running(run, spec);
    std::fs::write(w.last_message_path(), "# All good\n\nNothing to fix.\n").unwrap();
    end(&w, lock, &exit_record(State::Done, None));
    w
}

/// `failed` with `error`; a plan is left when the spec's retries and the error call
/// for one (see `retry`).
pub fn failed(run: &RunDir, spec: &WorkerSpec, error: &str) -> (WorkerDir, Option<Plan>) {
    let (w, lock) = running(run, spec);
    let plan = end(&w, lock, &exit_record(State::Failed, Some(error)));
    (w, plan)
}

/// `lost`: launched and started, then its processes vanished without an exit record
/// (the live.lock is free).
pub fn lost(run: &RunDir, spec: &WorkerSpec) -> WorkerDir {
    let (w, lock) = running(run, spec);
    drop(lock);
    w
}

/// A retry plan as the policy writes it, due at `at`.
pub fn plan_retry(w: &WorkerDir, attempt: u32, of: u32, at: DateTime<Utc>) -> Plan {
    let plan = Plan {
        attempt,
        of,
        at,
        reason: "stream error".into(),
    };
    write_json(&orch::lifecycle::retry::plan_path(w), &plan).unwrap();
    plan
}
