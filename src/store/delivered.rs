//! `watch/delivered.json`: which notifications `orch watch` has delivered, so a
//! restarted watcher neither misses nor repeats one.
//!
//! Watchers with the same options (run scope and hook) form one *subscriber* and share
//! a record: each notification goes to exactly one of them. The record is read and
//! rewritten under `watch/delivered.lock`, and a notification is recorded before it is
//! delivered, so two watchers at once never both deliver and an update is never lost.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::Home;
use super::fsutil::{create_private_dir, open_lock_file, read_json_opt, write_json};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    #[serde(default)]
    schema: u32,
    #[serde(default)]
    subscribers: BTreeMap<String, Subscriber>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Subscriber {
    /// Notification keys (see `orch watch`): worker, attempt and how it ended.
    #[serde(default)]
    delivered: BTreeSet<String>,
}

pub struct Deliveries {
    path: PathBuf,
    lock_path: PathBuf,
    subscriber: String,
}

/// What a delivery attempt found.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    AlreadyDelivered,
}

impl Deliveries {
    pub fn open(home: &Home, subscriber: &str) -> Result<Deliveries> {
        let dir = home.root.join("watch");
        create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Deliveries {
            path: dir.join("delivered.json"),
            lock_path: dir.join("delivered.lock"),
            subscriber: subscriber.to_string(),
        })
    }

    fn lock(&self) -> Result<File> {
        let f = open_lock_file(&self.lock_path)
            .with_context(|| format!("cannot open {}", self.lock_path.display()))?;
        f.lock()
            .with_context(|| format!("cannot lock {}", self.lock_path.display()))?;
        Ok(f)
    }

    fn load(&self) -> Result<Record> {
        let mut rec: Record = read_json_opt(&self.path)?.unwrap_or_default();
        super::check_schema(rec.schema, &self.path)?;
        rec.schema = super::SCHEMA;
        Ok(rec)
    }

    /// First start of this subscriber: what has already ended counts as delivered
    /// (a new watcher announces what ends from now on, not history). Later starts
    /// keep their record, dropping keys of runs for which `keep` says no (removed
    /// by gc). Returns true when the subscriber was new.
    pub fn start(
        &self,
        existing: impl IntoIterator<Item = String>,
        keep: impl Fn(&str) -> bool,
    ) -> Result<bool> {
        let _lock = self.lock()?;
        let mut rec = self.load()?;
        let new = !rec.subscribers.contains_key(&self.subscriber);
        let sub = rec.subscribers.entry(self.subscriber.clone()).or_default();
        if new {
            sub.delivered.extend(existing);
        } else {
            sub.delivered.retain(|k| keep(k));
        }
        write_json(&self.path, &rec)?;
        Ok(new)
    }

    /// Runs `deliver` unless `key` was delivered already. The key is recorded (under
    /// the lock) *before* `deliver` runs: a watcher killed right after its hook ran must
    /// not run it again when restarted. The price is at-most-once for a watcher killed
    /// in the middle of a hook, which is the rarer and the less harmful failure.
    pub fn once(&self, key: &str, deliver: impl FnOnce()) -> Result<Outcome> {
        {
            let _lock = self.lock()?;
            let mut rec = self.load()?;
            let sub = rec.subscribers.entry(self.subscriber.clone()).or_default();
            if !sub.delivered.insert(key.to_string()) {
                return Ok(Outcome::AlreadyDelivered);
            }
            write_json(&self.path, &rec)?;
        }
        deliver();
        Ok(Outcome::Delivered)
    }
}
