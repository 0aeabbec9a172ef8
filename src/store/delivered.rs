//! `watch/delivered.json`: which notifications `orch watch` has delivered, so a
//! restarted watcher neither misses nor repeats one.
//!
//! Watchers with the same options (run scope, output format, bell and hook) form one
//! *subscriber* and share a record: each notification goes to exactly one of them.
//! Watchers that differ in what they do each have their own record, so each sees every
//! notification.
//!
//! Delivery is two steps, each under `watch/delivered.lock`: a watcher first *claims* a
//! key (naming its presence lock, `watch/watchers/ID.lock`, which it holds for as long
//! as it lives), delivers it (prints the line, runs the hook to its end), and only then
//! marks it *delivered*. A claim whose watcher died (its presence lock is free) is taken
//! over by the next watcher of the subscriber, so a notice is never lost when a watcher
//! dies mid-delivery — at least once, not at most once: a watcher killed after its hook
//! finished but before it recorded that runs the hook again when restarted.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::Home;
use super::fsutil::{create_private_dir, is_locked, open_lock_file, read_json_opt, write_json};

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
    /// Keys being delivered, each with the id of the watcher delivering it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    claimed: BTreeMap<String, String>,
}

pub struct Deliveries {
    path: PathBuf,
    lock_path: PathBuf,
    watchers: PathBuf,
    subscriber: String,
    /// This watcher's id and its presence lock, held until drop.
    id: String,
    _presence: File,
}

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours to deliver; call `done` after delivering, or `release` if we could not.
    Taken,
    AlreadyDelivered,
    /// A live twin is delivering it; ask again later in case it dies.
    Busy,
}

impl Deliveries {
    pub fn open(home: &Home, subscriber: &str) -> Result<Deliveries> {
        let dir = home.root.join("watch");
        let watchers = dir.join("watchers");
        create_private_dir(&watchers)
            .with_context(|| format!("cannot create {}", watchers.display()))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let id = format!("{}-{nanos}", std::process::id());
        let presence_path = watchers.join(format!("{id}.lock"));
        let presence = open_lock_file(&presence_path)
            .with_context(|| format!("cannot open {}", presence_path.display()))?;
        presence
            .lock()
            .with_context(|| format!("cannot lock {}", presence_path.display()))?;
        Ok(Deliveries {
            path: dir.join("delivered.json"),
            lock_path: dir.join("delivered.lock"),
            watchers,
            subscriber: subscriber.to_string(),
            id,
            _presence: presence,
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

    fn presence_path(&self, id: &str) -> PathBuf {
        self.watchers.join(format!("{id}.lock"))
    }

    fn alive(&self, id: &str) -> bool {
        id == self.id || is_locked(&self.presence_path(id))
    }

    /// First start of this subscriber: what has already ended counts as delivered
    /// (a new watcher announces what ends from now on, not history). Later starts
    /// keep their record, dropping keys of runs for which `keep` says no (removed
    /// by gc). Claims of dead watchers are dropped, in every subscriber: their keys
    /// are due again. Returns true when the subscriber was new.
    pub fn start(
        &self,
        existing: impl IntoIterator<Item = String>,
        keep: impl Fn(&str) -> bool,
    ) -> Result<bool> {
        let _lock = self.lock()?;
        let mut rec = self.load()?;
        for sub in rec.subscribers.values_mut() {
            sub.claimed.retain(|_, id| self.alive(id));
        }
        let new = !rec.subscribers.contains_key(&self.subscriber);
        let sub = rec.subscribers.entry(self.subscriber.clone()).or_default();
        if new {
            sub.delivered.extend(existing);
        } else {
            sub.delivered.retain(|k| keep(k));
        }
        write_json(&self.path, &rec)?;
        // Presence files of watchers that are gone (never ours: we hold our lock).
        if let Ok(rd) = std::fs::read_dir(&self.watchers) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "lock") && !is_locked(&p) {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        Ok(new)
    }

    /// Claims `key` for delivery unless it was delivered, or a live twin has it.
    pub fn claim(&self, key: &str) -> Result<Claim> {
        let _lock = self.lock()?;
        let mut rec = self.load()?;
        let sub = rec.subscribers.entry(self.subscriber.clone()).or_default();
        if sub.delivered.contains(key) {
            return Ok(Claim::AlreadyDelivered);
        }
        if let Some(id) = sub.claimed.get(key)
            && id != &self.id
            && self.alive(id)
        {
            return Ok(Claim::Busy);
        }
        sub.claimed.insert(key.to_string(), self.id.clone());
        write_json(&self.path, &rec)?;
        Ok(Claim::Taken)
    }

    /// Records a claimed key as delivered.
    pub fn done(&self, key: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut rec = self.load()?;
        let sub = rec.subscribers.entry(self.subscriber.clone()).or_default();
        sub.claimed.remove(key);
        sub.delivered.insert(key.to_string());
        write_json(&self.path, &rec)
    }

    /// Gives a claimed key back undelivered, for a twin or a later watcher.
    pub fn release(&self, key: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut rec = self.load()?;
        let sub = rec.subscribers.entry(self.subscriber.clone()).or_default();
        if sub.claimed.get(key) == Some(&self.id) {
            sub.claimed.remove(key);
            write_json(&self.path, &rec)?;
        }
        Ok(())
    }
}

impl Drop for Deliveries {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.presence_path(&self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> (tempfile::TempDir, Home) {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::open(tmp.path().join("home")).unwrap();
        (tmp, home)
    }

    #[test]
    fn a_twin_is_busy_while_the_claimer_lives_and_takes_over_when_it_dies() {
        let (_tmp, home) = home();
        let a = Deliveries::open(&home, "s").unwrap();
        let b = Deliveries::open(&home, "s").unwrap();
        a.start([], |_| true).unwrap();
        assert_eq!(a.claim("k").unwrap(), Claim::Taken);
        assert_eq!(b.claim("k").unwrap(), Claim::Busy);
        // `a` dies mid-delivery: its claim is free for `b`.
        drop(a);
        assert_eq!(b.claim("k").unwrap(), Claim::Taken);
        b.done("k").unwrap();
        assert_eq!(b.claim("k").unwrap(), Claim::AlreadyDelivered);
        let c = Deliveries::open(&home, "s").unwrap();
        assert_eq!(c.claim("k").unwrap(), Claim::AlreadyDelivered);
    }

    #[test]
    fn a_released_claim_is_due_again_and_other_subscribers_see_every_key() {
        let (_tmp, home) = home();
        let a = Deliveries::open(&home, "json").unwrap();
        let b = Deliveries::open(&home, "text").unwrap();
        a.start([], |_| true).unwrap();
        b.start([], |_| true).unwrap();
        assert_eq!(a.claim("k").unwrap(), Claim::Taken);
        assert_eq!(b.claim("k").unwrap(), Claim::Taken);
        a.release("k").unwrap();
        let a2 = Deliveries::open(&home, "json").unwrap();
        assert_eq!(a2.claim("k").unwrap(), Claim::Taken);
    }
}
