//! `runs/<run>/run-end.json`: which `orch watch --on-run-end` hooks have been told that
//! a run ended, and `watch/run-end.json`: since when they are told at all.
//!
//! Kept apart from `watch/delivered.json` (per-worker notices): a run's end is one
//! record in its own folder, written under `run-end.lock` *after* the hook succeeded, so
//! two watchers with the same hook never both run it (the second waits for the lock,
//! then finds the mark) and a watcher killed before or during the hook runs it again
//! when restarted. A run that ends again later (a retry, an added worker) ends with a
//! new key and is told again.

use std::collections::BTreeMap;
use std::fs::File;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fsutil::{create_private_dir, open_lock_file, read_json_opt, write_json};
use super::{Home, RunDir};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Marks {
    /// Hook command -> the end it was told of.
    #[serde(default)]
    hooks: BTreeMap<String, Mark>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Mark {
    key: String,
    delivered_at: DateTime<Utc>,
}

/// Held while a hook for the run is checked, run and marked.
pub struct RunEndLock {
    _file: File,
    run: RunDir,
}

pub fn lock(run: &RunDir) -> Result<RunEndLock> {
    let path = run.dir.join("run-end.lock");
    let f = open_lock_file(&path).with_context(|| format!("cannot open {}", path.display()))?;
    f.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(RunEndLock {
        _file: f,
        run: run.clone(),
    })
}

impl RunEndLock {
    fn path(&self) -> std::path::PathBuf {
        self.run.dir.join("run-end.json")
    }

    /// True when `hook` was told of the end `key`.
    pub fn told(&self, hook: &str, key: &str) -> Result<bool> {
        let marks: Marks = read_json_opt(&self.path())?.unwrap_or_default();
        Ok(marks.hooks.get(hook).is_some_and(|m| m.key == key))
    }

    pub fn mark(&self, hook: &str, key: &str) -> Result<()> {
        let mut marks: Marks = read_json_opt(&self.path())?.unwrap_or_default();
        marks.hooks.insert(
            hook.to_string(),
            Mark {
                key: key.to_string(),
                delivered_at: Utc::now(),
            },
        );
        write_json(&self.path(), &marks)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Since {
    since: DateTime<Utc>,
}

/// When the first `--on-run-end` watcher of this home started: runs that ended before
/// are history, not news. Recorded by that first watcher.
pub fn since(home: &Home) -> Result<DateTime<Utc>> {
    let dir = home.root.join("watch");
    create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("run-end.json");
    let _lock = open_lock_file(&dir.join("run-end.lock"))
        .and_then(|f| f.lock().map(|()| f))
        .with_context(|| format!("cannot lock {}", dir.join("run-end.lock").display()))?;
    if let Some(s) = read_json_opt::<Since>(&path)? {
        return Ok(s.since);
    }
    let s = Since { since: Utc::now() };
    write_json(&path, &s)?;
    Ok(s.since)
}
