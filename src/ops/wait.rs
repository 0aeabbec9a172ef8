//! Waiting for workers to end: the loop behind `orch wait` and the MCP `wait` tool.
//!
//! Watch first, then look (a worker ending in between is still seen); sweep live workers
//! every second for what no file event announces (lost, the queue, stalls). Returns when
//! every target ended, at the first end with `any`, at the deadline, or at once when
//! every open target is queued behind a spent budget (nothing would ever change).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::lifecycle::sched;
use crate::lifecycle::state::{self, State, ViewOptions};
use crate::model::text;
use crate::ops::stop;
use crate::store::{Home, Target, Tokens, WorkerDir};
use crate::sys::watch::{self, Mode, WorkerKey};

/// Processes die without writing anything: look at live workers this often.
const SWEEP: Duration = Duration::from_secs(1);

/// What to wait for and how.
#[derive(Debug, Clone, Default)]
pub struct WaitRequest {
    /// Runs, RUN/LABEL or LABEL; empty: every worker of the latest run.
    pub targets: Vec<String>,
    pub any: bool,
    pub timeout: Option<Duration>,
    pub kill_stalled: bool,
    pub stall_after: Duration,
    /// Poll every MS milliseconds instead of inotify.
    pub poll_ms: Option<u64>,
    /// Give up (with [`Unheard`]) once nobody can read stdout or stderr: a wait left
    /// behind by a dropped SSH session (no terminal, so no SIGHUP) would otherwise live
    /// until its workers end.
    pub give_up_unheard: bool,
}

/// Why a wait gave up: its stdout and stderr lead nowhere any more.
#[derive(Debug)]
pub struct Unheard;

impl std::fmt::Display for Unheard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wait: nobody reads its output any more; the workers go on")
    }
}

impl std::error::Error for Unheard {}

/// `orch wait --json` (and the MCP tool's structured result). Field names are a
/// contract: add, never rename.
#[derive(Debug, Serialize)]
pub struct WaitReport {
    pub timed_out: bool,
    pub workers: Vec<WaitedWorker>,
    /// `RUN/LABEL (state)` of every target that has not ended (set on a timeout, or
    /// with `any`, or when held by a budget).
    pub still_going: Vec<String>,
    /// Why waiting stopped before the workers ended, other than the timeout (a spent
    /// budget holding every open worker).
    pub held: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WaitedWorker {
    pub run: String,
    pub label: String,
    pub state: State,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub tokens: Tokens,
    /// The worker's final message (`orch result`), when it ended done.
    pub result: Option<String>,
    /// It has ended (a failed worker with a retry still due has not).
    pub ended: bool,
}

impl WaitReport {
    /// Workers that ended other than done, as `orch: RUN/LABEL STATE: why` would name them.
    pub fn ended_badly(&self) -> impl Iterator<Item = &WaitedWorker> {
        self.workers
            .iter()
            .filter(|w| w.ended && w.state != State::Done)
    }
}

/// What was asked for: whole runs stay open to workers added while waiting.
struct Targets {
    runs: BTreeSet<String>,
    workers: BTreeMap<WorkerKey, (WorkerDir, State)>,
}

impl Targets {
    fn resolve(home: &Home, args: &[String]) -> Result<Targets> {
        let mut t = Targets {
            runs: BTreeSet::new(),
            workers: BTreeMap::new(),
        };
        if args.is_empty() {
            t.runs.insert(home.latest_run()?.id);
        }
        for a in args {
            match home.resolve_target(a)? {
                Target::Worker(w) => t.add(w),
                Target::Run(run) => {
                    t.runs.insert(run.id);
                }
            }
        }
        for r in t.runs.clone() {
            t.relist(home, &r);
        }
        Ok(t)
    }

    fn add(&mut self, w: WorkerDir) {
        let key = (w.run.clone(), w.label.clone());
        let st = state::state_of(&w);
        self.workers.insert(key, (w, st));
    }

    fn relist(&mut self, home: &Home, run: &str) {
        let r = home.run(run);
        for l in r.labels().unwrap_or_default() {
            if !self.workers.contains_key(&(run.to_string(), l.clone())) {
                self.add(r.worker(&l));
            }
        }
    }

    fn recheck(&mut self, key: &WorkerKey) {
        if let Some((w, st)) = self.workers.get_mut(key) {
            *st = state::state_of(w);
        }
    }

    fn recheck_all(&mut self) {
        let keys: Vec<WorkerKey> = self.workers.keys().cloned().collect();
        keys.iter().for_each(|k| self.recheck(k));
    }

    /// All targets ended, or (with `any`) at least one.
    fn done_waiting(&self, any: bool) -> bool {
        let ended = self
            .workers
            .values()
            .filter(|(w, st)| state::has_ended(w, *st))
            .count();
        (any && ended > 0) || ended == self.workers.len()
    }
}

/// Waits as asked; `progress` is called after each sweep with the targets' states.
/// The workers keep running whatever this returns.
pub fn wait(
    home: &Home,
    req: &WaitRequest,
    progress: &mut dyn FnMut(&[State], Duration),
) -> Result<WaitReport> {
    let started = Instant::now();
    let deadline = req.timeout.map(|d| started + d);
    // Detached: the moment `orch wait` exits is its answer, and inotify's teardown
    // would delay it.
    let mut watcher = watch::Watcher::detached(home, Mode::from_poll(req.poll_ms))?;
    let mut t = Targets::resolve(home, &req.targets)?;
    let mut next_sweep = Instant::now();
    let mut held = None;
    let timed_out = loop {
        if t.done_waiting(req.any) {
            // Confirm on fresh reads: a cached `failed` whose retry has started since
            // would otherwise count as ended (its retry plan is already gone).
            t.recheck_all();
            if t.done_waiting(req.any) {
                break false;
            }
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break true;
        }
        if now >= next_sweep {
            if req.give_up_unheard && crate::sys::output::all_closed() {
                return Err(Unheard.into());
            }
            sweep(home, &mut t, req.kill_stalled, req.stall_after)?;
            if let Some(why) = held_by_budget(home, &t) {
                held = Some(why);
                break false;
            }
            next_sweep = Instant::now() + SWEEP;
            let states: Vec<State> = t.workers.values().map(|(_, s)| *s).collect();
            progress(&states, started.elapsed());
            continue;
        }
        let until = deadline.map_or(next_sweep, |d| d.min(next_sweep));
        let Some(ch) = watcher.next(until.saturating_duration_since(now)) else {
            continue;
        };
        if ch.rescan {
            for r in t.runs.clone() {
                t.relist(home, &r);
            }
            t.recheck_all();
        }
        for r in &ch.runs {
            if t.runs.contains(r) {
                t.relist(home, r);
            }
        }
        for key in &ch.workers {
            if t.workers.contains_key(key) {
                t.recheck(key);
            } else if t.runs.contains(&key.0) {
                t.relist(home, &key.0);
            }
        }
    };
    Ok(report(&t, timed_out, held))
}

/// The slow path: states no file event announces (lost), the queue, stalls.
fn sweep(home: &Home, t: &mut Targets, kill_stalled: bool, stall_after: Duration) -> Result<()> {
    for r in t.runs.clone() {
        t.relist(home, &r);
    }
    let live: Vec<WorkerKey> = t
        .workers
        .iter()
        .filter(|(_, (w, st))| !state::has_ended(w, *st))
        .map(|(k, _)| k.clone())
        .collect();
    live.iter().for_each(|k| t.recheck(k));
    // A dependency that ended lost, or a retry whose wrapper is gone, writes nothing a
    // scheduler would hear: run the queue here, as any orch command looking at a run
    // does (cheap when nothing waits).
    let runs: BTreeSet<&String> = t.workers.keys().map(|k| &k.0).collect();
    for r in runs {
        let _ = sched::tick(home, &home.run(r));
    }
    if kill_stalled {
        let opts = ViewOptions {
            stall_after,
            activity: false,
            ..ViewOptions::default()
        };
        let stalled: Vec<WorkerDir> = t
            .workers
            .values()
            .filter(|(w, st)| *st == State::Running && state::view(w, &opts).stalled)
            .map(|(w, _)| w.clone())
            .collect();
        if !stalled.is_empty() {
            let quiet = text::duration(stall_after.as_secs() as i64);
            for w in &stalled {
                eprintln!("orch: stopping {}: no event for {quiet}", w.address());
            }
            let reason = format!("stopped by wait --kill-stalled: no event for {quiet}");
            stop::stop_all_because(home, &stalled, Duration::from_secs(5), Some(&reason))?;
            for w in &stalled {
                t.recheck(&(w.run.clone(), w.label.clone()));
            }
        }
    }
    Ok(())
}

/// Every target still to end is queued behind a spent budget: nothing will change by
/// itself, so waiting on would never end. Says which run and how to go on.
fn held_by_budget(home: &Home, t: &Targets) -> Option<String> {
    let open: Vec<&(WorkerDir, State)> = t
        .workers
        .values()
        .filter(|(w, st)| !state::has_ended(w, *st))
        .collect();
    if open.is_empty() || open.iter().any(|(_, st)| *st != State::Queued) {
        return None;
    }
    let runs: BTreeSet<&str> = open.iter().map(|(w, _)| w.run.as_str()).collect();
    let mut why = Vec::new();
    for r in runs {
        let record = home.run(r).record().ok()?;
        let hold = crate::lifecycle::budget::hold(home, &record)?;
        why.push(format!(
            "run {r}: {} queued, held by its {hold}; raise it with `orch set {r} --budget USD`, or stop them",
            open.iter().filter(|(w, _)| w.run == r).count()
        ));
    }
    Some(why.join("; "))
}

fn report(t: &Targets, timed_out: bool, held: Option<String>) -> WaitReport {
    let opts = ViewOptions::default();
    let mut report = WaitReport {
        timed_out,
        workers: Vec::new(),
        still_going: Vec::new(),
        held,
    };
    for (w, _) in t.workers.values() {
        let v = state::view(w, &opts);
        let ended = state::has_ended(w, v.state);
        if !ended {
            report
                .still_going
                .push(format!("{} ({})", w.address(), v.state));
        }
        report.workers.push(WaitedWorker {
            run: w.run.clone(),
            label: w.label.clone(),
            state: v.state,
            exit_code: v.exit_code,
            error: v.error.clone(),
            tokens: v.tokens,
            result: (v.state == State::Done).then(|| w.last_message_path().display().to_string()),
            ended,
        });
    }
    report
}
