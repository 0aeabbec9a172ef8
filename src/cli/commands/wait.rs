//! `orch wait`: block until workers end.
//!
//! Exit 0 when every one ended `done`; 1 when any ended otherwise (each named on
//! stderr, one line: `orch: RUN/LABEL STATE: why`); 124 on `--timeout` (the workers
//! keep running). `--any` returns once at least one has ended (at once if one already
//! has); its exit code is about the ones that ended. On a terminal a one-line progress
//! is redrawn on stderr; piped, wait prints nothing until the end.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::cli::args::WaitArgs;
use crate::lifecycle::sched;
use crate::lifecycle::state::{self, State, ViewOptions};
use crate::model::error::{EXIT_FAILED, EXIT_TIMEOUT};
use crate::model::text;
use crate::ops::stop;
use crate::store::{Home, Target, Tokens, WorkerDir};
use crate::sys::watch::{self, Mode, WorkerKey};

/// Processes die without writing anything: look at live workers this often.
const SWEEP: Duration = Duration::from_secs(1);

/// `orch wait --json`. Field names are a contract: add, never rename.
#[derive(Debug, Serialize)]
struct WaitReport {
    timed_out: bool,
    workers: Vec<WaitedWorker>,
}

#[derive(Debug, Serialize)]
struct WaitedWorker {
    run: String,
    label: String,
    state: State,
    exit_code: Option<i32>,
    error: Option<String>,
    tokens: Tokens,
    /// The worker's final message (`orch result`), when it ended done.
    result: Option<String>,
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

    /// All targets ended, or (with `--any`) at least one.
    fn done_waiting(&self, any: bool) -> bool {
        let ended = self.ended().count();
        (any && ended > 0) || ended == self.workers.len()
    }

    fn ended(&self) -> impl Iterator<Item = &(WorkerDir, State)> {
        self.workers
            .values()
            .filter(|(w, st)| state::has_ended(w, *st))
    }
}

pub fn run(args: WaitArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let started = Instant::now();
    let deadline = args.timeout.map(|s| started + Duration::from_secs(s));
    let stall_after = Duration::from_secs(args.stall.stall_after);
    // Watch first, then look: a worker ending in between is still seen. Detached: the
    // moment wait exits is its answer, and inotify's teardown would delay it.
    let mut watcher = watch::Watcher::detached(&home, Mode::from_poll(args.poll.poll))?;
    let mut t = Targets::resolve(&home, &args.targets)?;
    let progress = std::io::stderr().is_terminal();
    let mut next_sweep = Instant::now();
    let timed_out = loop {
        if t.done_waiting(args.any) {
            // Confirm on fresh reads: a cached `failed` whose retry has started since
            // would otherwise count as ended (its retry plan is already gone).
            let keys: Vec<WorkerKey> = t.workers.keys().cloned().collect();
            keys.iter().for_each(|k| t.recheck(k));
            if t.done_waiting(args.any) {
                break false;
            }
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break true;
        }
        if now >= next_sweep {
            sweep(&home, &mut t, args.kill_stalled, stall_after)?;
            if let Some(why) = held_by_budget(&home, &t) {
                if progress {
                    eprint!("\r\x1b[K");
                }
                eprintln!("orch: {why}");
                finish(&t, false, args.json)?;
                return Ok(EXIT_FAILED);
            }
            next_sweep = Instant::now() + SWEEP;
            if progress {
                draw_progress(&t, started);
            }
            continue;
        }
        let until = deadline.map_or(next_sweep, |d| d.min(next_sweep));
        let Some(ch) = watcher.next(until.saturating_duration_since(now)) else {
            continue;
        };
        if ch.rescan {
            for r in t.runs.clone() {
                t.relist(&home, &r);
            }
            let keys: Vec<WorkerKey> = t.workers.keys().cloned().collect();
            keys.iter().for_each(|k| t.recheck(k));
        }
        for r in &ch.runs {
            if t.runs.contains(r) {
                t.relist(&home, r);
            }
        }
        for key in &ch.workers {
            if t.workers.contains_key(key) {
                t.recheck(key);
            } else if t.runs.contains(&key.0) {
                t.relist(&home, &key.0);
            }
        }
    };
    if progress {
        eprint!("\r\x1b[K");
    }
    finish(&t, timed_out, args.json)
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

/// `3/5 done · 1 running · 1 queued · 12m04s`
pub fn progress_line(states: &[State], elapsed: Duration) -> String {
    let done = states.iter().filter(|s| **s == State::Done).count();
    let mut parts = vec![format!("{done}/{} done", states.len())];
    let mut counts: BTreeMap<State, usize> = BTreeMap::new();
    for s in states.iter().filter(|s| **s != State::Done) {
        // Starting is a moment of running, not something to wait on separately.
        let s = if *s == State::Starting {
            State::Running
        } else {
            *s
        };
        *counts.entry(s).or_insert(0) += 1;
    }
    // Ended-badly first: that is what the reader must notice.
    let order = [
        State::Failed,
        State::Lost,
        State::Stopped,
        State::Skipped,
        State::Corrupt,
        State::Incomplete,
        State::Running,
        State::Paused,
        State::Queued,
    ];
    for s in order {
        if let Some(n) = counts.get(&s) {
            parts.push(format!("{n} {s}"));
        }
    }
    parts.push(text::duration(elapsed.as_secs() as i64));
    parts.join(" · ")
}

fn draw_progress(t: &Targets, started: Instant) {
    let states: Vec<State> = t.workers.values().map(|(_, s)| *s).collect();
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K{}", progress_line(&states, started.elapsed()));
    let _ = err.flush();
}

fn finish(t: &Targets, timed_out: bool, json: bool) -> Result<i32> {
    let opts = ViewOptions::default();
    let mut report = WaitReport {
        timed_out,
        workers: Vec::new(),
    };
    let mut bad = false;
    for (w, _) in t.workers.values() {
        let v = state::view(w, &opts);
        if state::has_ended(w, v.state) && v.state != State::Done {
            bad = true;
            eprintln!(
                "orch: {} {}{}",
                w.address(),
                v.state,
                v.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
        report.workers.push(WaitedWorker {
            run: w.run.clone(),
            label: w.label.clone(),
            state: v.state,
            exit_code: v.exit_code,
            error: v.error.clone(),
            tokens: v.tokens,
            result: (v.state == State::Done).then(|| w.last_message_path().display().to_string()),
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if timed_out {
        let open: Vec<String> = t
            .workers
            .values()
            .filter(|(w, st)| !state::has_ended(w, *st))
            .map(|(w, st)| format!("{} ({st})", w.address()))
            .collect();
        eprintln!("orch: timed out; still going: {}", open.join(", "));
        return Ok(EXIT_TIMEOUT);
    }
    Ok(if bad { EXIT_FAILED } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_and_orders_states() {
        let s = [
            State::Done,
            State::Running,
            State::Starting,
            State::Queued,
            State::Failed,
        ];
        assert_eq!(
            progress_line(&s, Duration::from_secs(724)),
            "1/5 done · 1 failed · 2 running · 1 queued · 12m04s"
        );
    }
}
