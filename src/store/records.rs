//! The JSON records of a run and its workers. Field names are a public contract:
//! tools script against them, so rename nothing; add fields with `#[serde(default)]`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::model::Tokens;
use crate::model::{Sandbox, State};

/// Bumped when a record changes in a way an older orch could misread.
pub const SCHEMA: u32 = 1;

fn schema() -> u32 {
    SCHEMA
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    #[serde(default = "schema")]
    pub schema: u32,
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// Where `orch` was called from when the run was made.
    pub cwd: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// "spawn", "fanout" or "pipeline".
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// Ordered steps of the run's plan; empty for ad-hoc runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageRecord>,
    /// Run `orch merge` when every worker has ended (fanout --merge).
    #[serde(default)]
    pub merge_on_finish: bool,
    /// Stop starting workers once the run has spent this much (USD, `--budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Everything needed to (re)start a worker; written once at spawn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    #[serde(default = "schema")]
    pub schema: u32,
    pub label: String,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub lens: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sandbox: Sandbox,
    /// Absolute working directory for codex (`--cd`).
    pub cd: PathBuf,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// Passed to codex verbatim (everything after `--`).
    #[serde(default)]
    pub codex_args: Vec<String>,
    #[serde(default)]
    pub after: Vec<String>,
    /// `after` is met once every dependency has ended and at least one ended `done`
    /// (best-of-N's picker compares whichever attempts succeeded); the worker is skipped
    /// only when none did. Otherwise every dependency must end `done`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_any_done: bool,
    #[serde(default)]
    pub output_schema: Option<PathBuf>,
    /// Automatic retries for failures that look transient.
    #[serde(default)]
    pub retries: u32,
    /// Start even when another writer holds the working tree.
    #[serde(default)]
    pub force_writer: bool,
    /// Stop codex once it has run this long (`--timeout`; pauses for a usage limit do
    /// not count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// `spawn --worktree`: the git worktree and branch made for this worker; `cd` is
    /// inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeSpec>,
}

/// A worker's own git worktree, made at spawn (`ops::worktree`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorktreeSpec {
    /// The top level of the user's checkout the worktree was made from.
    pub repo: PathBuf,
    /// The worktree (`$ORCH_HOME/worktrees/<run>/<label>`).
    pub path: PathBuf,
    /// The worker's branch, `orch/<run>/<label>`.
    pub branch: String,
    /// The commit the branch started from: what `orch diff` compares against.
    pub base: String,
    /// What the base was called at spawn: the checkout's branch, or `--base REF`.
    #[serde(default)]
    pub base_ref: Option<String>,
    /// The shell command run in the worktree before codex starts (`--setup`, else
    /// `.orch/worktree-setup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
}

/// `orch land` applied a worker's branch (`landed.json`, via `transition::landed`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LandRecord {
    #[serde(default = "schema")]
    pub schema: u32,
    pub landed_at: DateTime<Utc>,
    /// The branch it landed on.
    pub into: String,
    /// "merge", "squash" or "rebase".
    pub mode: String,
    /// The tip of `into` after the land.
    pub commit: String,
    /// The worker's branch tip that was landed.
    pub branch_tip: String,
    /// Landed with `--force` (the worker did not end done).
    #[serde(default)]
    pub forced: bool,
}

impl WorkerSpec {
    pub fn is_writer(&self) -> bool {
        self.sandbox.writes()
    }
}

/// Written by whoever starts the worker's tmux window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchRecord {
    pub attempt: u32,
    pub launched_at: DateTime<Utc>,
    pub session: String,
    /// Kept for records of older versions; the id now lives in the `window` file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub window_id: String,
    pub codex: PathBuf,
    /// Set for `orch resume`: continue this codex thread.
    #[serde(default)]
    pub resume_thread: Option<String>,
}

/// Written by the wrapper once it holds the worker's life lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartRecord {
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub wrapper_pid: u32,
    /// codex runs as the leader of its own process group: pgid == pid.
    pub codex_pid: u32,
    #[serde(default)]
    pub boot_id: String,
}

/// The final word on a worker, written atomically once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExitRecord {
    #[serde(default = "schema")]
    pub schema: u32,
    pub state: State,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<String>,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: DateTime<Utc>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub turn_completed: bool,
}

impl ExitRecord {
    /// The record of a worker that ended without codex running: skipped, stopped while
    /// queued, or failed to launch.
    pub fn never_ran(state: State, error: impl Into<String>) -> ExitRecord {
        ExitRecord {
            schema: SCHEMA,
            state,
            attempt: 0,
            exit_code: None,
            signal: None,
            thread_id: None,
            tokens: Tokens::default(),
            started_at: None,
            finished_at: chrono::Utc::now(),
            error: Some(error.into()),
            turn_completed: false,
        }
    }
}

/// `orch stop` leaves this so the wrapper records `stopped`, not `failed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopRequest {
    pub requested_at: DateTime<Utc>,
    /// Why, when not the user's own `orch stop` (e.g. `wait --kill-stalled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `orch send --now` leaves this before it interrupts codex `codex_pid`: the wrapper
/// then continues the conversation with the inbox rather than record `stopped`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SteerRequest {
    pub requested_at: DateTime<Utc>,
    pub codex_pid: u32,
}

/// Left by `orch resume` on a worker it queued: the launch continues this codex thread.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResumeRequest {
    pub thread_id: String,
}

/// Written by the wrapper when codex's turn failed on a usage limit (`pause.json`): the
/// worker is `paused` while its wrapper lives and this file exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PauseRecord {
    pub since: DateTime<Utc>,
    /// When the wrapper continues the conversation (the reset, plus a little jitter).
    pub until: DateTime<Utc>,
    /// The reset codex named, if its message had one.
    #[serde(default)]
    pub resets_at: Option<DateTime<Utc>>,
    /// codex's message.
    pub message: String,
    /// The conversation that continues.
    #[serde(default)]
    pub thread_id: Option<String>,
    /// Pauses of this attempt so far, this one included.
    #[serde(default)]
    pub count: u32,
}

/// Written by the wrapper while codex reports only `Reconnecting… waiting for network`
/// (`offline.json`); removed at the next sign of progress. Not a state: a flag.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfflineRecord {
    pub since: DateTime<Utc>,
    pub message: String,
}
