//! `orch gc`: removes finished runs (their tmux windows, then their folders) and the
//! leftovers of interrupted spawns. Never touches a worker that may still run.
//!
//! Removed: runs whose every worker is final (done/failed/stopped/lost/skipped) and
//! ended longer ago than --older-than; incomplete workers (no spec.json) at once — gc
//! holds the run lock, and every spawn writes a worker's folder under that lock, so an
//! incomplete worker seen under it belongs to a spawn that died; run folders without
//! run.json older than a minute (a run being made has none for a moment, unlocked).
//! A removed run's worktrees go with it (`git worktree remove`), and their branches
//! unless they hold commits on no other branch and were not landed: those are kept and
//! named, unless --force.
//! Kept, with a line saying why: damaged records, pending retries, orphaned processes,
//! and symbolic links in runs/ (never followed: nothing is created or removed through one).

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::cli::args::GcArgs;
use crate::lifecycle::state::{self, State, ViewOptions};
use crate::store::{Home, RunDir, WorkerDir};
use crate::sys::tmux::Tmux;

const HALF_MADE_GRACE: Duration = Duration::from_secs(60);

pub fn run(args: GcArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let tmux = Tmux::for_home(&home.root).ok();
    let gc = Gc {
        limit: chrono::Duration::seconds(args.older_than as i64),
        dry_run: args.dry_run,
        force: args.force,
        tmux,
    };
    let mut acted = 0;
    for id in home.run_ids()? {
        acted += gc.run(&home.run(&id))?;
    }
    for name in home.linked_runs() {
        crate::outln!(
            "left alone {}: a symbolic link (orch never follows links in runs/)",
            home.runs_dir().join(&name).display()
        );
    }
    if acted == 0 {
        crate::outln!("nothing to remove");
    }
    Ok(0)
}

struct Gc {
    limit: chrono::Duration,
    dry_run: bool,
    force: bool,
    tmux: Option<Tmux>,
}

impl Gc {
    fn verb(&self) -> &'static str {
        if self.dry_run {
            "would remove"
        } else {
            "removed"
        }
    }

    /// Handles one run; returns how many things it removed (or would).
    fn run(&self, run: &RunDir) -> Result<usize> {
        if !run.record_path().exists() {
            let age = std::fs::metadata(&run.dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .unwrap_or_default();
            if age < HALF_MADE_GRACE {
                // Perhaps still being made: say so, rather than pass it over in silence.
                crate::outln!(
                    "kept half-made run {} (no run.json, {} old): removed once a minute old",
                    run.id,
                    crate::model::text::duration(age.as_secs() as i64)
                );
                return Ok(0);
            }
            crate::outln!("{} half-made run {} (no run.json)", self.verb(), run.id);
            self.remove_run(run, &[])?;
            return Ok(1);
        }
        let _lock = run.lock()?;
        let record = match run.record() {
            Ok(r) => r,
            Err(e) => {
                crate::outln!("kept run {}: {e:#}", run.id);
                return Ok(0);
            }
        };
        let mut acted = 0;
        let mut keep: Option<String> = None;
        let mut ended: DateTime<Utc> = record.created_at;
        let mut workers = Vec::new();
        let opts = ViewOptions {
            activity: false,
            ..ViewOptions::default()
        };
        for l in run.labels()? {
            let w = run.worker(&l);
            let v = state::view(&w, &opts);
            match v.state {
                State::Incomplete => {
                    crate::outln!("{} incomplete worker {}", self.verb(), w.address());
                    if !self.dry_run {
                        std::fs::remove_dir_all(&w.dir)
                            .with_context(|| format!("cannot remove {}", w.dir.display()))?;
                    }
                    acted += 1;
                    continue;
                }
                State::Corrupt => {
                    crate::outln!(
                        "kept run {}: {} has a damaged record ({})",
                        run.id,
                        w.address(),
                        v.error.unwrap_or_default()
                    );
                    keep.get_or_insert_with(|| "damaged".into());
                }
                s if !s.is_final() => {
                    if let Some(pids) = crate::sys::procs::orphaned(&w) {
                        crate::outln!(
                            "kept {}: its wrapper died but processes {} still run; `orch stop {}` ends them",
                            w.address(),
                            join(&pids),
                            w.address()
                        );
                    }
                    keep.get_or_insert_with(|| "active".into());
                }
                _ if crate::lifecycle::retry::pending(&w).is_some() => {
                    keep.get_or_insert_with(|| "retry pending".into());
                }
                _ => {
                    if let Some(f) = v.finished_at {
                        ended = ended.max(f);
                    }
                }
            }
            workers.push(w);
        }
        if keep.is_some() || Utc::now() - ended < self.limit {
            return Ok(acted);
        }
        if !self.force && self.uncommitted_work(&workers) {
            return Ok(acted);
        }
        crate::outln!(
            "{} run {} ({}, ended {} ago)",
            self.verb(),
            run.id,
            crate::model::text::count(workers.len(), "worker"),
            crate::model::text::duration((Utc::now() - ended).num_seconds())
        );
        for w in &workers {
            self.worktree(w);
        }
        self.remove_run(run, &workers)?;
        Ok(acted + 1)
    }

    /// A worktree with uncommitted changes (a worker that did not end done) holds work
    /// found nowhere else: its run is kept, so `orch land --force` can still take it.
    fn uncommitted_work(&self, workers: &[WorkerDir]) -> bool {
        let mut kept = false;
        for w in workers {
            let Some(wt) = w.spec().ok().and_then(|s| s.worktree) else {
                continue;
            };
            let files = crate::ops::worktree::uncommitted(&wt);
            if !files.is_empty() {
                crate::outln!(
                    "kept run {}: the worktree of {} has uncommitted changes ({}); `orch diff {}` shows them, `orch land --force {}` lands them, `orch gc --force` drops them",
                    w.run,
                    w.address(),
                    crate::model::text::count(files.len(), "file"),
                    w.address(),
                    w.address()
                );
                kept = true;
            }
        }
        kept
    }

    /// A worker's worktree goes with its run; its branch too, unless it holds work on no
    /// other branch (without --force), which is said.
    fn worktree(&self, w: &WorkerDir) {
        let Some(wt) = w.spec().ok().and_then(|s| s.worktree) else {
            return;
        };
        match crate::ops::worktree::clean(w, &wt, self.force, self.dry_run) {
            Ok(c) => {
                if !self.dry_run
                    && let Some(parent) = wt.path.parent()
                {
                    // worktrees/<run> once its last worktree is gone (only if empty).
                    let _ = std::fs::remove_dir(parent);
                }
                let branch = if c.branch_deleted {
                    format!(" and branch {}", wt.branch)
                } else {
                    String::new()
                };
                crate::outln!("{} worktree {}{branch}", self.verb(), wt.path.display());
                if let Some(why) = c.kept {
                    crate::outln!(
                        "kept branch {} in {}: {why} (`git -C {} merge {}` lands it; `orch gc --force` deletes it)",
                        wt.branch,
                        wt.repo.display(),
                        wt.repo.display(),
                        wt.branch
                    );
                }
            }
            Err(e) => crate::outln!(
                "kept worktree {} of {}: {e:#}",
                wt.path.display(),
                w.address()
            ),
        }
    }

    /// Kills the run's windows by id (every attempt's), then its session, then the folder.
    fn remove_run(&self, run: &RunDir, workers: &[WorkerDir]) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        if let Some(tmux) = &self.tmux {
            // Window ids restart with a new server: only kill ids that are in this
            // run's session now, never another run's window that reused the number.
            let live = tmux.session_windows(&run.id);
            for id in workers.iter().flat_map(window_ids) {
                if live.contains(&id) {
                    let _ = tmux.kill_window(&id);
                }
            }
            let _ = tmux.kill_session(&run.id);
        }
        std::fs::remove_dir_all(&run.dir)
            .with_context(|| format!("cannot remove {}", run.dir.display()))
    }
}

/// The tmux windows a worker's attempts ran in.
fn window_ids(w: &WorkerDir) -> Vec<String> {
    let mut dirs = vec![w.dir.clone()];
    if let Ok(rd) = std::fs::read_dir(&w.dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("attempt-") {
                dirs.push(e.path());
            }
        }
    }
    dirs.iter()
        .filter_map(|d| crate::store::window_in(d))
        .collect()
}

pub fn join(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
