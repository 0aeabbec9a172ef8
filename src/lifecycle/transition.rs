//! The only writer of the records that move a worker from one state to another. Each
//! function here is one transition, and carries its ordering rules, so no caller can get
//! them wrong:
//!
//! | transition            | record(s) written                         | state after |
//! |-----------------------|-------------------------------------------|-------------|
//! | [`create`]            | prompt.md, env, then spec.json last       | queued      |
//! | [`launched`]          | launch.json (before the window exists)    | starting    |
//! | [`started`]           | started.json (wrapper holds live.lock)    | running     |
//! | [`paused`]            | pause.json (codex ended on a usage limit) | paused      |
//! | [`resumed`]           | continue.md, pause.json removed, started  | running     |
//! | [`offline`]/[`online`]| offline.json written / removed (a flag)   | (unchanged) |
//! | [`ended`]             | retry.json (if a retry is due), exit.json | final       |
//! | [`never_ran`]         | exit.json without an attempt              | final       |
//! | [`request_stop`]      | stop.json                                 | (unchanged) |
//! | [`request_steer`]     | inbox/now.json (`orch send --now`)        | (unchanged) |
//! | [`steered`]           | inbox/now.json removed (wrapper)          | (unchanged) |
//! | [`cancel_retry`]      | exit.json as stopped, retry.json removed  | stopped     |
//! | [`requeue`]           | attempt files moved into attempt-N/       | queued      |
//! | [`queue_resume`]      | requeue, then input.md and resume.json    | queued      |
//! | [`landed`]            | landed.json (`orch land` applied its branch) | (unchanged, a flag) |
//!
//! Every transition then touches `changes/<run>`, which is how watchers hear of it.
//!
//! Rules: spec.json is written last at creation, so a folder without it is a half-made
//! spawn; the retry plan goes down before the exit record, so whoever sees the exit also
//! sees that another attempt is coming; exit.json is moved last when an attempt is
//! archived, so a crash half-way leaves a worker that still reads as ended. A pause is
//! part of its attempt: pause.json counts only while the wrapper holds live.lock (a
//! wrapper gone while paused leaves a `lost` worker that `orch recover` continues), and
//! it is removed before the next codex starts, so a resumed worker never reads paused.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::Utc;

use super::retry;
use crate::model::State;
use crate::store::envfile;
use crate::store::fsutil::{
    create_private_dir, read_json_opt, sync_dir, write_atomic, write_atomic_all, write_json,
};
use crate::store::inbox;
use crate::store::{
    ExitRecord, LandRecord, LaunchRecord, OfflineRecord, PauseRecord, ResumeRequest, StartRecord,
    SteerRequest, StopRequest, WorkerDir,
};
use crate::store::{RunDir, WorkerSpec};

/// A new worker's folder: prompt and environment first, spec.json renamed last. The
/// caller fsyncs the folder (one fsync for the three files; see `ops::spawn`).
pub fn create(w: &WorkerDir, prompt: &str, spec: &WorkerSpec) -> Result<()> {
    let mut spec_json = serde_json::to_vec_pretty(spec)?;
    spec_json.push(b'\n');
    write_atomic_all(&[
        (&w.prompt_path(), prompt.as_bytes()),
        (&w.env_path(), &envfile::encode(&envfile::capture())),
        (&w.spec_path(), &spec_json),
    ])
    .with_context(|| format!("cannot write the records in {}", w.dir.display()))?;
    touched(w);
    Ok(())
}

/// Written before the window exists, so the wrapper can read it the moment it starts.
pub fn launched(w: &WorkerDir, launch: &LaunchRecord) -> Result<()> {
    write_json(&w.launch_path(), launch)?;
    touched(w);
    Ok(())
}

/// Written by the wrapper once it holds the worker's life lock and codex runs.
pub fn started(w: &WorkerDir, start: &StartRecord) -> Result<()> {
    write_json(&w.started_path(), start)?;
    touched(w);
    Ok(())
}

/// codex ended on a usage limit and the wrapper waits in its window for the reset.
pub fn paused(w: &WorkerDir, pause: &PauseRecord) -> Result<()> {
    write_json(&w.pause_path(), pause)?;
    touched(w);
    Ok(())
}

/// The wait is over: the wrapper continues the conversation with `prompt` (continue.md,
/// when there is a thread to continue), then writes `started` again with the new
/// codex's pid, which `orch stop` signals.
pub fn resumed(w: &WorkerDir, prompt: Option<&str>) -> Result<()> {
    if let Some(p) = prompt {
        write_atomic(&w.continue_path(), p.as_bytes())?;
    }
    remove_if_exists(&w.pause_path())?;
    touched(w);
    Ok(())
}

/// The `offline` flag goes up: codex has started reporting only network reconnects.
/// Best effort (the flag is advice; the exit record is what counts).
pub fn offline(w: &WorkerDir, rec: &OfflineRecord) {
    if write_json(&w.offline_path(), rec).is_ok() {
        touched(w);
    }
}

/// ... and down again, at the next sign of progress.
pub fn online(w: &WorkerDir) {
    if fs::remove_file(w.offline_path()).is_ok() {
        touched(w);
    }
}

/// The attempt ended. A retry plan, when the retry policy wants one, is written first:
/// `wait` must never see the exit of a worker whose next attempt is coming without also
/// seeing the plan. Returns the plan.
pub fn ended(w: &WorkerDir, exit: &ExitRecord) -> Result<Option<retry::Plan>> {
    let plan = retry::wanted_after(w, exit);
    if let Some(p) = &plan {
        // Best effort: a plan that cannot be written only costs the retry.
        let _ = write_json(&retry::plan_path(w), p);
    }
    write_json(&w.exit_path(), exit)?;
    touched(w);
    Ok(plan)
}

/// `orch land` applied the worker's branch to `rec.into`: written after the target
/// branch moved, so a landed worker's branch is always on its target.
pub fn landed(w: &WorkerDir, rec: &LandRecord) -> Result<()> {
    write_json(&w.landed_path(), rec)?;
    touched(w);
    Ok(())
}

/// A worker that ends without codex having run: skipped, stopped while queued, failed
/// to launch, or a wrapper that failed before it could start codex.
pub fn never_ran(w: &WorkerDir, state: State, why: &str) -> Result<()> {
    write_json(&w.exit_path(), &ExitRecord::never_ran(state, why))?;
    touched(w);
    Ok(())
}

/// Like [`never_ran`] for a wrapper that failed after it started: keeps the attempt
/// number and start time.
pub fn failed_early(w: &WorkerDir, started_at: chrono::DateTime<Utc>, why: &str) -> Result<()> {
    let mut rec = ExitRecord::never_ran(State::Failed, why);
    rec.started_at = Some(started_at);
    rec.attempt = read_json_opt::<LaunchRecord>(&w.launch_path())
        .ok()
        .flatten()
        .map_or(0, |l| l.attempt);
    write_json(&w.exit_path(), &rec)?;
    touched(w);
    Ok(())
}

/// `orch stop` asks: the wrapper then records `stopped`, not `failed`, and the scheduler
/// never retries the worker.
pub fn request_stop(w: &WorkerDir) -> Result<()> {
    request_stop_because(w, None)
}

/// A stop request with the reason the worker's exit record will give.
pub fn request_stop_because(w: &WorkerDir, reason: Option<&str>) -> Result<()> {
    write_json(
        &w.stop_path(),
        &StopRequest {
            requested_at: Utc::now(),
            reason: reason.map(str::to_string),
        },
    )?;
    touched(w);
    Ok(())
}

/// `orch send --now`, after it queued the message and before it sends Ctrl-C to codex
/// `codex_pid`: the wrapper reads that run's end as a steering interrupt and continues
/// the conversation with the inbox (a delivery keeps the worker `running`, so it is no
/// transition of its own; see `lifecycle::inbox`).
pub fn request_steer(w: &WorkerDir, codex_pid: u32) -> Result<()> {
    write_json(
        &inbox::now_path(w),
        &SteerRequest {
            requested_at: Utc::now(),
            codex_pid,
        },
    )?;
    touched(w);
    Ok(())
}

/// The wrapper has seen the steering request (or found it stale): it goes.
pub fn steered(w: &WorkerDir) -> Result<()> {
    remove_if_exists(&inbox::now_path(w))
}

/// `orch stop` on a worker waiting out a retry's back-off: the plan is dropped and the
/// worker recorded as stopped. Returns whether there was a plan. Takes the run lock.
pub fn cancel_retry(run: &RunDir, w: &WorkerDir) -> Result<bool> {
    let _lock = run.lock()?;
    if retry::pending(w).is_none() {
        return Ok(false);
    }
    if let Some(mut exit) = read_json_opt::<ExitRecord>(&w.exit_path())? {
        exit.state = State::Stopped;
        exit.error = Some(format!(
            "stopped while waiting to retry (after: {})",
            exit.error.unwrap_or_default()
        ));
        write_json(&w.exit_path(), &exit)?;
    }
    remove_if_exists(&retry::plan_path(w))?;
    touched(w);
    Ok(true)
}

/// Makes an ended worker queued again (caller holds the run lock): the files of its last
/// attempt move into `attempt-N/` (N is the number that attempt ran as). A worker that
/// never launched (skipped, stopped while queued) has nothing worth keeping: its record
/// goes. `refresh_env` saves the caller's environment for it, so a manual retry runs with
/// the retrier's PATH and keys; an automatic one keeps the spawner's.
pub fn requeue(w: &WorkerDir, refresh_env: bool) -> Result<()> {
    archive_attempt(w)?;
    if refresh_env {
        envfile::write(&w.env_path(), &envfile::capture())?;
    }
    touched(w);
    Ok(())
}

/// `orch resume`: queued again, to continue codex thread `thread` with `prompt` (the
/// wrapper feeds input.md; the launch leaves it alone on resume). Caller holds the run
/// lock. `refresh_env` as for [`requeue`]: `orch recover` keeps the spawner's
/// environment (it may run from a boot-time unit with a bare one).
pub fn queue_resume(w: &WorkerDir, thread: &str, prompt: &str, refresh_env: bool) -> Result<()> {
    requeue(w, refresh_env)?;
    write_atomic(&w.input_path(), prompt.as_bytes())?;
    write_json(
        &w.resume_path(),
        &ResumeRequest {
            thread_id: thread.to_string(),
        },
    )?;
    touched(w);
    Ok(())
}

fn archive_attempt(w: &WorkerDir) -> Result<()> {
    let ran = w.launch_path().exists() || w.started_path().exists();
    let mut files: Vec<&str> = WorkerDir::ATTEMPT_FILES
        .iter()
        .copied()
        .filter(|f| *f != "exit.json")
        .collect();
    files.push("exit.json");
    if !ran {
        for f in files {
            remove_if_exists(&w.path(f))?;
        }
        return remove_if_exists(&retry::plan_path(w));
    }
    let n = next_attempt(w);
    let dir = w.path(&format!("attempt-{n}"));
    create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for f in files {
        match fs::rename(w.path(f), dir.join(f)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot move {f} of {}", w.address())),
        }
    }
    remove_if_exists(&retry::plan_path(w))?;
    sync_dir(&dir)?;
    sync_dir(&w.dir)?;
    Ok(())
}

/// Tells watchers that a worker of this run changed: `changes/<run>` gets a new mtime
/// (one attribute change, an inotify event on the one folder every watcher watches).
/// Best effort: a watcher also sweeps, so a missed touch costs latency, not truth.
pub(super) fn touched(w: &WorkerDir) {
    let Some(marker) = w.changes_marker() else {
        return;
    };
    let now = nix::sys::time::TimeSpec::UTIME_NOW;
    let stamp = || {
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &marker,
            &now,
            &now,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
    };
    if stamp().is_err()
        && fs::File::create(&marker).is_err()
        && let Some(dir) = marker.parent()
        && create_private_dir(dir).is_ok()
    {
        let _ = fs::File::create(&marker);
    }
}

/// The attempt number the next launch of `w` gets.
pub fn next_attempt(w: &WorkerDir) -> u32 {
    let mut n = 1;
    while w.path(&format!("attempt-{n}")).exists() {
        n += 1;
    }
    n
}

fn remove_if_exists(p: &Path) -> Result<()> {
    match fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", p.display())),
    }
}
