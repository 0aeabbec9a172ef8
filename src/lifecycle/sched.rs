//! Scheduling without a daemon: queued workers are started here, under the run's lock,
//! whenever something could have freed them — a spawn, a worker ending (its wrapper
//! calls `tick`), or any orch command that looks at the run.
//!
//! Rules: `--after` dependencies must be `done` (a dependency that ended otherwise makes
//! its dependents `skipped`), or for a worker with `after_any_done` (best-of-N's picker)
//! all must have ended and one `done` (it is skipped only when none is); at most `max_parallel` workers active per run; at most one
//! writing worker per working tree (the wrapper also holds the tree's writer lock, so
//! writers in different runs exclude each other too); nothing new starts while a worker
//! of the run is paused on a usage limit (`pause::hold`): it would hit the same limit.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use chrono::Utc;

use super::{transition, writer};
use crate::lifecycle::state::{self, State};
use crate::store::fsutil::{read_json_opt, write_atomic};
use crate::store::{Home, LaunchRecord, ResumeRequest, RunDir, RunRecord, WorkerDir, WorkerSpec};
use crate::sys::tmux::{NewWindow, Tmux};

/// Starts what can start; returns the labels launched. Cheap when nothing is queued.
pub fn tick(home: &Home, run: &RunDir) -> Result<Vec<String>> {
    let labels = run.labels()?;
    let any_queued = labels
        .iter()
        .any(|l| state::state_of(&run.worker(l)) == State::Queued);
    if !any_queued && !crate::lifecycle::retry::any_due(run, &labels) {
        return Ok(Vec::new());
    }
    let _lock = run.lock()?;
    tick_locked(home, run)
}

/// `tick_locked` right after a spawn added `label`. When no other worker waits and the
/// new one's start depends on no other worker's state (no `--after`, no parallel limit,
/// not a waiting writer), the full tick would launch exactly it; this does so without
/// reading every worker's records (about seven file reads per worker, the bulk of a
/// spawn into a large run). Anything else gets the full tick. Caller holds the run lock.
pub fn tick_after_add(home: &Home, run: &RunDir, label: &str) -> Result<Vec<String>> {
    let record = run.record()?;
    let w = run.worker(label);
    let spec = match w.spec() {
        Ok(s) => s,
        Err(_) => return tick_locked(home, run),
    };
    let waits_for_writer_slot = writer::needs_slot(&spec);
    let independent = spec.after.is_empty()
        && record.max_parallel.is_none()
        && record.budget_usd.is_none()
        && !waits_for_writer_slot;
    if !independent || others_may_wait(run, label)? {
        return tick_locked(home, run);
    }
    launch_all(home, run, &[(w, spec)])
}

/// True if a worker other than `label` has neither a launch nor an exit record (queued,
/// or half-made) or has an automatic retry planned: the full tick must look at those.
fn others_may_wait(run: &RunDir, label: &str) -> Result<bool> {
    let rd = match std::fs::read_dir(run.workers_dir()) {
        Ok(rd) => rd,
        Err(e) => return Err(e).with_context(|| format!("cannot list workers of {}", run.id)),
    };
    for entry in rd {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == label || crate::model::names::validate_label(name).is_err() {
            continue;
        }
        let o = run.worker(name);
        if (!o.launch_path().exists() && !o.exit_path().exists())
            || o.path(crate::lifecycle::retry::PLAN_FILE).exists()
            || o.pause_path().exists()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Why a queued worker has not started, or `None` if it could start now.
pub fn waiting_reason(
    spec: &WorkerSpec,
    states: &HashMap<String, State>,
    specs: &HashMap<String, WorkerSpec>,
    record: &RunRecord,
    home: &Home,
) -> Option<String> {
    if let Some(reason) = super::budget::hold(home, record) {
        return Some(reason);
    }
    let pending: Vec<&str> = spec
        .after
        .iter()
        .filter(|d| match states.get(*d) {
            Some(State::Done) => false,
            // Any ended dependency will do, so long as one ended done (checked in tick).
            Some(st) if spec.after_any_done => !st.is_final(),
            _ => true,
        })
        .map(String::as_str)
        .collect();
    if !pending.is_empty() {
        return Some(format!("after {}", pending.join(",")));
    }
    if let Some(max) = record.max_parallel {
        let active = states.values().filter(|s| s.is_active()).count();
        if active >= max as usize {
            return Some(format!("a slot (max-parallel {max})"));
        }
    }
    if writer::needs_slot(spec)
        && let Some(tree) = writer::occupied(home, spec, states, specs)
    {
        return Some(format!("the writer slot of {}", tree.display()));
    }
    None
}

pub fn tick_locked(home: &Home, run: &RunDir) -> Result<Vec<String>> {
    let record = run.record()?;
    crate::lifecycle::retry::start_due_locked(run)?;
    // The budget is checked once for the whole pass (one read of every worker).
    let _spend = super::budget::scope(home, run, &record);
    let labels = run.labels()?;
    let mut states: HashMap<String, State> = HashMap::new();
    let mut specs: HashMap<String, WorkerSpec> = HashMap::new();
    for l in &labels {
        let w = run.worker(l);
        let st = state::state_of(&w);
        states.insert(l.clone(), st);
        // Only queued and active workers' specs are ever consulted below.
        if !st.is_final()
            && let Ok(s) = w.spec()
        {
            specs.insert(l.clone(), s);
        }
    }
    let hold = super::pause::hold(run, &states);
    let mut ready: Vec<(WorkerDir, WorkerSpec)> = Vec::new();
    // Skipping can cascade (a skipped worker skips its own dependents): repeat until stable.
    loop {
        let mut changed = false;
        for l in &labels {
            if states[l] != State::Queued {
                continue;
            }
            let Some(spec) = specs.get(l).cloned() else {
                continue;
            };
            // A dependency waiting out a retry back-off may still end done.
            let ended_not_done = |d: &String| {
                let st = states.get(d).copied().unwrap_or(State::Lost);
                (st.is_final()
                    && st != State::Done
                    && crate::lifecycle::retry::pending(&run.worker(d)).is_none())
                .then(|| (d.clone(), st))
            };
            let skip_because = if spec.after_any_done {
                let failed: Vec<(String, State)> =
                    spec.after.iter().filter_map(ended_not_done).collect();
                (!spec.after.is_empty() && failed.len() == spec.after.len()).then(|| {
                    let list: Vec<String> =
                        failed.iter().map(|(d, st)| format!("{d} {st}")).collect();
                    format!("no dependency ended done ({})", list.join(", "))
                })
            } else {
                spec.after
                    .iter()
                    .find_map(ended_not_done)
                    .map(|(dep, st)| format!("dependency {dep} ended {st}"))
            };
            let w = run.worker(l);
            if spec.after_any_done
                && skip_because.is_none()
                && spec.after.iter().any(|d| {
                    states
                        .get(d)
                        .is_some_and(|st| st.is_final() && *st != State::Done)
                        && crate::lifecycle::retry::pending(&run.worker(d)).is_some()
                })
            {
                continue; // a failed dependency's retry may still make it a candidate
            }
            if let Some(why) = skip_because {
                transition::never_ran(&w, State::Skipped, &why)?;
                states.insert(l.clone(), State::Skipped);
                changed = true;
                continue;
            }
            if hold.is_some() || waiting_reason(&spec, &states, &specs, &record, home).is_some() {
                continue;
            }
            // Counted as started now, so max-parallel and the writer slot see it.
            states.insert(l.clone(), State::Starting);
            ready.push((w, spec));
            changed = true;
        }
        if !changed {
            break;
        }
    }
    launch_all(home, run, &ready)
}

/// Opens the windows of every worker given (one tmux call for all of them, see
/// `Tmux::new_windows`), each running the hidden `orch __worker` wrapper. Returns the
/// labels launched; a worker that could not be launched is recorded `failed`, and the
/// first such error is returned after the others were launched.
fn launch_all(home: &Home, run: &RunDir, ready: &[(WorkerDir, WorkerSpec)]) -> Result<Vec<String>> {
    if ready.is_empty() {
        return Ok(Vec::new());
    }
    let exe = std::env::current_exe().context("cannot find the orch program itself")?;
    let mut prepared: Vec<(&WorkerDir, &WorkerSpec, Vec<OsString>)> = Vec::new();
    let mut first_error: Option<anyhow::Error> = None;
    for (w, spec) in ready {
        match prepare(run, w, spec) {
            Ok(()) => {
                crate::sys::testhook::crash_point("launch-written");
                let argv: Vec<OsString> = vec![
                    exe.clone().into(),
                    "__worker".into(),
                    "--home".into(),
                    home.root.clone().into(),
                    run.id.clone().into(),
                    w.label.clone().into(),
                ];
                prepared.push((w, spec, argv));
            }
            Err(e) => {
                transition::never_ran(w, State::Failed, &format!("{e:#}"))?;
                first_error.get_or_insert(e.context(format!("cannot start {}", w.address())));
            }
        }
    }
    let windows: Vec<NewWindow<'_>> = prepared
        .iter()
        .map(|(w, spec, argv)| NewWindow {
            name: &w.label,
            cwd: &spec.cd,
            argv,
        })
        .collect();
    let (ids, tmux_error) = match Tmux::for_home(&home.root) {
        Ok(tmux) => tmux.new_windows(&run.id, &windows),
        Err(e) => (Vec::new(), Some(e)),
    };
    if !ids.is_empty() {
        crate::sys::testhook::crash_point("window-created");
    }
    let mut launched = Vec::new();
    for (i, (w, _, _)) in prepared.iter().enumerate() {
        match ids.get(i) {
            Some(id) => {
                window_made(w, id)?;
                launched.push(w.label.clone());
            }
            None => {
                let why = tmux_error
                    .as_ref()
                    .map_or("tmux made no window".to_string(), |e| format!("{e:#}"));
                transition::never_ran(w, State::Failed, &why)?;
                if first_error.is_none() {
                    first_error = Some(anyhow::anyhow!("cannot start {}: {why}", w.address()));
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(launched),
    }
}

/// Everything a launch writes before the window exists: the dependencies' results in
/// input.md and launch.json (so the wrapper can read it the moment it starts).
fn prepare(run: &RunDir, w: &WorkerDir, spec: &WorkerSpec) -> Result<()> {
    let env = crate::store::envfile::read(&w.env_path())?;
    let codex = crate::sys::codex::resolve_program(&env)?;
    // A worker queued by `orch resume` continues its codex thread with the prompt
    // already in input.md.
    let resume_thread = read_json_opt::<ResumeRequest>(&w.resume_path())?.map(|r| r.thread_id);
    if !spec.after.is_empty() && resume_thread.is_none() {
        write_input_with_dependencies(run, w, spec)?;
    }
    let launch = LaunchRecord {
        attempt: transition::next_attempt(w),
        launched_at: Utc::now(),
        session: run.id.clone(),
        window_id: String::new(),
        codex,
        resume_thread,
    };
    // launch.json keeps the thread, so the resume request has done its work.
    transition::launched(w, &launch)
}

/// The window exists: its id goes to a side file with no fsync (the id means nothing
/// after a crash, the window dies with the machine, and launch.json is already durable;
/// this is on every spawn's path). A torn or missing `window` only hides the window.
fn window_made(w: &WorkerDir, window: &str) -> Result<()> {
    crate::store::fsutil::write_atomic_unsynced(&w.window_path(), window.as_bytes())
        .with_context(|| format!("cannot write {}", w.window_path().display()))?;
    match std::fs::remove_file(w.resume_path()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", w.resume_path().display()))
        }
        _ => Ok(()),
    }
}

/// The prompt plus the final messages of the workers it depends on: curated input
/// (each dependency's deliverable), never their raw logs; for a dependency with its own
/// worktree, also its branch and committed diff (what best-of-N's picker compares).
fn write_input_with_dependencies(run: &RunDir, w: &WorkerDir, spec: &WorkerSpec) -> Result<()> {
    let mut text = std::fs::read_to_string(w.prompt_path())
        .with_context(|| format!("cannot read the prompt of {}", w.address()))?;
    text.push_str("\n\n---\n\n# Results of the workers this task builds on\n");
    for dep in &spec.after {
        let d = run.worker(dep);
        let msg = std::fs::read_to_string(d.last_message_path()).unwrap_or_default();
        let role = d
            .spec()
            .ok()
            .and_then(|s| match (s.role, s.lens) {
                (Some(r), Some(l)) => Some(format!(" ({r}, lens {l})")),
                (Some(r), None) => Some(format!(" ({r})")),
                _ => None,
            })
            .unwrap_or_default();
        let _ = write!(text, "\n## {dep}{role}\n\n{}\n", msg.trim_end());
        if let Some(work) = super::worktree::work_for_dependent(&d, state::state_of(&d)) {
            let _ = write!(text, "\n{work}");
        }
    }
    write_atomic(&w.input_path(), text.as_bytes())
        .with_context(|| format!("cannot write {}", w.input_path().display()))
}
