//! What a worker is doing, derived from its folder alone (no daemon, no cache).
//!
//! The order of checks matters: the exit record is the final word; a worker whose
//! wrapper holds `live.lock` is alive (the kernel drops the lock when the wrapper and
//! codex are gone, so pid reuse and reboots can't fool it); a worker launched but
//! neither alive nor finished is `lost`.

use std::fs;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::Sandbox;
pub use crate::model::State;

use crate::store::fsutil::{ReadError, is_locked, read_json_opt};
use crate::store::{
    ExitRecord, LandRecord, LaunchRecord, StartRecord, Tokens, WorkerDir, WorkerSpec,
};

/// How long a launched worker may take to take its lock before it counts as lost.
const START_GRACE: Duration = Duration::from_secs(30);

/// Default for `--stall-after`: a running worker silent this long is flagged.
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(15 * 60);

/// One worker as `status` shows it. Field names are the `--json` contract.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerView {
    pub label: String,
    pub role: Option<String>,
    pub lens: Option<String>,
    pub stage: Option<String>,
    pub state: State,
    /// Running but silent for longer than the stall limit.
    pub stalled: bool,
    /// Running, but codex has only been waiting for the network for longer than the
    /// offline limit (it never gives up by itself).
    pub offline: bool,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub elapsed_secs: Option<i64>,
    pub tokens: Tokens,
    pub thread_id: Option<String>,
    pub error: Option<String>,
    pub last_activity: Option<String>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub attempt: u32,
    pub sandbox: Option<Sandbox>,
    pub after: Vec<String>,
    pub window: Option<String>,
    /// Why a queued worker waits.
    pub waiting_for: Option<String>,
    /// The model as far as orch knows it (`--model`, else codex's config); filled in by
    /// `lifecycle::budget`, like `cost_usd`.
    pub model: Option<String>,
    /// What the worker's tokens cost; `None` when its model has no price.
    pub cost_usd: Option<f64>,
    /// Messages `orch send` queued that the worker has not started a turn on yet.
    pub pending_messages: usize,
    /// A `--worktree` worker's branch (`orch/<run>/<label>`); absent for others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Set once `orch land` applied the branch: where, how, and the commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landed: Option<LandRecord>,
}

impl WorkerView {
    fn blank(w: &WorkerDir, state: State) -> WorkerView {
        WorkerView {
            label: w.label.clone(),
            role: None,
            lens: None,
            stage: None,
            state,
            stalled: false,
            offline: false,
            exit_code: None,
            signal: None,
            started_at: None,
            finished_at: None,
            elapsed_secs: None,
            tokens: Tokens::default(),
            thread_id: None,
            error: None,
            last_activity: None,
            last_event_at: None,
            attempt: 0,
            sandbox: None,
            after: Vec::new(),
            window: None,
            waiting_for: None,
            model: None,
            cost_usd: None,
            pending_messages: 0,
            branch: None,
            landed: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ViewOptions {
    pub stall_after: Duration,
    /// Flag `offline` a worker that has only waited for the network this long.
    pub offline_after: Duration,
    /// Read events.jsonl of live workers for tokens and last activity.
    pub activity: bool,
}

impl Default for ViewOptions {
    fn default() -> Self {
        ViewOptions {
            stall_after: DEFAULT_STALL_AFTER,
            offline_after: super::offline::DEFAULT_OFFLINE_AFTER,
            activity: true,
        }
    }
}

fn corrupt(w: &WorkerDir, e: ReadError) -> WorkerView {
    let mut v = WorkerView::blank(w, State::Corrupt);
    v.error = Some(e.to_string());
    v
}

/// The state alone, as cheaply as it can be had.
pub fn state_of(w: &WorkerDir) -> State {
    view(
        w,
        &ViewOptions {
            activity: false,
            ..ViewOptions::default()
        },
    )
    .state
}

pub fn view(w: &WorkerDir, opts: &ViewOptions) -> WorkerView {
    let spec: WorkerSpec = match read_json_opt(&w.spec_path()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            let mut v = WorkerView::blank(w, State::Incomplete);
            v.error = Some("spawn did not finish (no spec.json); `orch gc` removes it".into());
            return v;
        }
        Err(e) => return corrupt(w, e),
    };
    if let Err(e) = crate::store::check_schema(spec.schema, &w.spec_path()) {
        let mut v = WorkerView::blank(w, State::Corrupt);
        v.error = Some(e.to_string());
        return v;
    }
    let mut v = WorkerView::blank(w, State::Queued);
    v.role = spec.role.clone();
    v.lens = spec.lens.clone();
    v.stage = spec.stage.clone();
    v.sandbox = Some(spec.sandbox);
    v.after = spec.after.clone();
    if opts.activity {
        v.pending_messages = crate::store::inbox::pending_count(w);
    }
    if let Some(wt) = &spec.worktree {
        v.branch = Some(wt.branch.clone());
        v.landed = read_json_opt(&w.landed_path()).unwrap_or(None);
    }

    let launch: Option<LaunchRecord> = match read_json_opt(&w.launch_path()) {
        Ok(l) => l,
        Err(e) => return corrupt(w, e),
    };
    if let Some(l) = &launch {
        v.attempt = l.attempt;
        v.window = w.window_id();
    }

    if let Some(exit) = match read_json_opt::<ExitRecord>(&w.exit_path()) {
        Ok(x) => x,
        Err(e) => return corrupt(w, e),
    } {
        apply_exit(w, &mut v, exit);
        if opts.activity && v.state == State::Done {
            v.last_activity = first_line(&w.last_message_path());
        }
        return v;
    }

    let Some(launch) = launch else {
        // Never launched: queued (the scheduler fills in why).
        return v;
    };

    let alive = is_locked(&w.live_lock_path());
    let started: Option<StartRecord> = read_json_opt(&w.started_path()).unwrap_or(None);
    if !alive {
        // The wrapper may have written its exit record and ended since we looked.
        if let Ok(Some(exit)) = read_json_opt::<ExitRecord>(&w.exit_path()) {
            apply_exit(w, &mut v, exit);
            return v;
        }
        let age = Utc::now() - launch.launched_at;
        if started.is_none() && age.to_std().unwrap_or_default() < START_GRACE {
            v.state = State::Starting;
            return v;
        }
        v.state = State::Lost;
        v.started_at = started.as_ref().map(|s| s.started_at);
        v.error = Some(if started.is_none() {
            "the worker's window never started (tmux server gone?); `orch recover` (or `orch retry`) starts it again"
                .into()
        } else {
            "its processes are gone without an exit record (tmux server killed, reboot or OOM); `orch recover` continues its conversation (`orch retry` starts it over)".into()
        });
        if opts.activity {
            fill_activity(w, &mut v);
        }
        return v;
    }

    v.state = if started.is_some() {
        State::Running
    } else {
        State::Starting
    };
    if v.state == State::Running
        && let Some(p) = super::pause::current(w)
    {
        // The wrapper is alive and waits out a usage limit in its window.
        v.state = State::Paused;
        v.waiting_for = Some(super::pause::waiting_for(&p));
        v.error = Some(p.message.clone());
    }
    if v.state == State::Running
        && let Some(o) = super::offline::since(w)
    {
        let for_ = (Utc::now() - o.since).to_std().unwrap_or_default();
        v.offline = for_ > opts.offline_after;
        if v.offline {
            v.error = Some(format!(
                "offline for {}: codex only waits for the network ({}); check the connection, or `orch stop` it",
                crate::model::text::duration(for_.as_secs() as i64),
                o.message
            ));
        }
    }
    if let Some(s) = &started {
        v.started_at = Some(s.started_at);
        v.elapsed_secs = Some(crate::model::text::round_secs(Utc::now() - s.started_at));
    }
    let last_write = fs::metadata(w.events_path())
        .and_then(|m| m.modified())
        .ok()
        .or_else(|| started.as_ref().map(|s| s.started_at.into()));
    if let Some(t) = last_write {
        let silent = SystemTime::now().duration_since(t).unwrap_or_default();
        v.stalled = v.state == State::Running && silent > opts.stall_after && !v.offline;
        v.last_event_at = Some(t.into());
    }
    if opts.activity {
        fill_activity(w, &mut v);
    }
    v
}

/// The first non-empty line of a final message, as the done worker's last activity.
fn first_line(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let mut buf = vec![0u8; 512];
    let n = fs::File::open(path).ok()?.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    text.lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        .map(|l| format!("result: {l}"))
}

fn apply_exit(w: &WorkerDir, v: &mut WorkerView, exit: ExitRecord) {
    if let Err(e) = crate::store::check_schema(exit.schema, &w.exit_path()) {
        v.state = State::Corrupt;
        v.error = Some(e.to_string());
        return;
    }
    v.state = exit.state;
    v.exit_code = exit.exit_code;
    v.signal = exit.signal;
    v.started_at = exit.started_at;
    v.finished_at = Some(exit.finished_at);
    v.elapsed_secs = exit
        .started_at
        .map(|s| crate::model::text::round_secs(exit.finished_at - s));
    v.tokens = exit.tokens;
    v.thread_id = exit.thread_id;
    v.error = exit.error;
    if exit.attempt > 0 {
        v.attempt = exit.attempt;
    }
    crate::lifecycle::retry::annotate(w, v);
}

/// Tokens so far, thread id and a one-line description of the last event.
fn fill_activity(w: &WorkerDir, v: &mut WorkerView) {
    let Some(summary) = super::activity::summary(w) else {
        return;
    };
    v.tokens = summary.tokens;
    v.thread_id = summary.thread_id;
    v.last_activity = summary.last_activity;
}

/// A spawn makes the worker's folder before its spec.json: until then it reads as
/// `incomplete`, which is final only once nobody is still writing it.
const SPAWN_GRACE: Duration = Duration::from_secs(30);

/// The worker reached a state it will not leave without a retry (one planned by
/// `--retries` counts as not ended: the worker's outcome is still to come).
pub fn has_ended(w: &WorkerDir, st: State) -> bool {
    if st.is_final() && super::retry::coming(w, st) {
        return false;
    }
    if st == State::Incomplete {
        let young = std::fs::metadata(&w.dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < SPAWN_GRACE);
        return !young;
    }
    st.is_final()
}
