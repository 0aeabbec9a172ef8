//! Many readers, one writer: at most one writing worker (a sandbox other than
//! read-only) per working tree at a time, across every run. This module is the rule's
//! one home.
//!
//! The slot is a lock file `writers/<hash of the tree>.lock` that the writing worker's
//! wrapper holds for the whole attempt (the kernel drops it when the wrapper dies), so
//! writers in different runs exclude each other. Within a run the scheduler also counts
//! writers it has just launched whose wrapper has not taken the lock yet.
//!
//! A `--worktree` worker writes its own git worktree (`$ORCH_HOME/worktrees/…`, whose
//! `.git` file makes it a tree of its own here), so writers with worktrees never wait
//! for each other or for the checkout's writer; the rule still holds within each tree,
//! and for every writer without a worktree.
//!
//! Two questions, two answers: a queued writer may *start* when no other writer of its
//! tree is active ([`occupied`]); `spawn --no-wait` refuses when any other writer of the
//! tree has not ended, queued ones included ([`claimed`]), because the new one would queue.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::state;
use crate::model::State;
use crate::store::fsutil::{create_private_dir, is_locked, open_lock_file};
use crate::store::{Home, RunDir, WorkerSpec};

/// The working tree a path belongs to: its git top level, else the folder itself.
pub fn working_tree(dir: &Path) -> PathBuf {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut cur = Some(dir.as_path());
    while let Some(d) = cur {
        if crate::sys::git::is_top(d) {
            return d.to_path_buf();
        }
        cur = d.parent();
    }
    dir
}

pub fn lock_path(home: &Home, tree: &Path) -> PathBuf {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(tree, &mut h);
    home.writers_dir()
        .join(format!("{:016x}.lock", std::hash::Hasher::finish(&h)))
}

/// Does this spec wait for (and hold) the writer slot? `--force` writers do neither.
pub fn needs_slot(spec: &WorkerSpec) -> bool {
    spec.is_writer() && !spec.force_writer
}

/// The slot of `spec`'s tree is taken now: a wrapper holds the lock, or another writer of
/// the run on the same tree is active (launched, lock not taken yet). For the scheduler.
pub fn occupied(
    home: &Home,
    spec: &WorkerSpec,
    states: &HashMap<String, State>,
    specs: &HashMap<String, WorkerSpec>,
) -> Option<PathBuf> {
    let tree = working_tree(&spec.cd);
    let active_here = specs.iter().any(|(l, s)| {
        s.is_writer()
            && l != &spec.label
            && states.get(l).is_some_and(|st| st.is_active())
            && working_tree(&s.cd) == tree
    });
    (active_here || is_locked(&lock_path(home, &tree))).then_some(tree)
}

/// Another writer has a claim on `tree`: it holds the slot, or it is a writer of `run`
/// on that tree that has not ended (queued ones included). For `spawn --no-wait`.
pub fn claimed(home: &Home, run: &RunDir, tree: &Path) -> Result<bool> {
    if is_locked(&lock_path(home, tree)) {
        return Ok(true);
    }
    Ok(run.labels()?.iter().any(|l| {
        let w = run.worker(l);
        w.spec()
            .is_ok_and(|s| s.is_writer() && working_tree(&s.cd) == tree)
            && !state::state_of(&w).is_final()
    }))
}

/// Waits until the caller holds the slot of `tree`; `None` when `give_up` says to stop
/// waiting (the worker was stopped or its window closed). `waiting` is called once, when
/// the slot is first found taken.
pub fn take(
    home: &Home,
    tree: &Path,
    give_up: impl Fn() -> bool,
    waiting: impl FnOnce(),
) -> Result<Option<File>> {
    create_private_dir(&home.writers_dir())?;
    let path = lock_path(home, tree);
    let file = open_lock_file(&path)?;
    let mut waiting = Some(waiting);
    while file.try_lock().is_err() {
        if give_up() {
            return Ok(None);
        }
        if let Some(tell) = waiting.take() {
            tell();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Names the tree for a person looking in writers/ (`orch doctor`).
    let _ = fs::write(&path, format!("{}\n", tree.display()));
    Ok(Some(file))
}
