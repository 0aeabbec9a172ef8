//! A worker's inbox: the messages `orch send` queues for a running worker, as files
//! (see the top comment of `store` for the protocol: `inbox/NNNN.md` pending,
//! `inbox/delivered/NNNN.md` delivered, `inbox/sending.json` the one in flight,
//! `inbox.lock` beside it serialising a send against the wrapper's decision to end).
//!
//! The policy (when a message is delivered, what a crash means) is
//! `lifecycle::inbox`'s; this module only reads and writes the files.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::WorkerDir;
use super::fsutil::{create_private_dir, open_lock_file, read_json_opt, sync_dir, write_atomic};

/// Delivered messages move here (same file system, one rename).
const DELIVERED_DIR: &str = "delivered";
/// The message being handed to codex, until its turn has started.
const SENDING_FILE: &str = "sending.json";
/// `orch send --now`'s request to interrupt one codex run (a `SteerRequest`).
const NOW_FILE: &str = "now.json";

/// The message in flight: which one, and where in which attempt's event log the codex
/// run that was given it began (a crash is resolved by looking there for its turn).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sending {
    pub message: String,
    pub attempt: u32,
    pub events_offset: u64,
}

/// Held while the inbox is changed or looked at to decide an end; dropped to release.
pub struct InboxLock {
    _file: File,
}

pub fn dir(w: &WorkerDir) -> PathBuf {
    w.inbox_dir()
}

fn delivered_dir(w: &WorkerDir) -> PathBuf {
    w.inbox_dir().join(DELIVERED_DIR)
}

pub fn now_path(w: &WorkerDir) -> PathBuf {
    w.inbox_dir().join(NOW_FILE)
}

pub fn sending_path(w: &WorkerDir) -> PathBuf {
    w.inbox_dir().join(SENDING_FILE)
}

/// Takes the inbox lock (kept beside the folder, so a worker nobody sent anything has
/// no inbox folder).
pub fn lock(w: &WorkerDir) -> Result<InboxLock> {
    let file = open_lock_file(&w.inbox_lock_path())
        .with_context(|| format!("cannot open the inbox lock of {}", w.address()))?;
    file.lock()
        .with_context(|| format!("cannot lock the inbox of {}", w.address()))?;
    Ok(InboxLock { _file: file })
}

/// `0001.md` → 1; anything else (temp files, the lock, sending.json) → None.
fn number(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".md")?;
    (digits.len() >= 4 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn numbered(dir: &std::path::Path) -> Vec<(u32, String)> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, String)> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            Some((number(&name)?, name))
        })
        .collect();
    out.sort();
    out
}

/// Pending messages' file names, oldest first.
pub fn pending(w: &WorkerDir) -> Vec<String> {
    numbered(&w.inbox_dir())
        .into_iter()
        .map(|(_, n)| n)
        .collect()
}

/// How many messages wait (one stat of a missing folder for most workers).
pub fn pending_count(w: &WorkerDir) -> usize {
    numbered(&w.inbox_dir()).len()
}

/// Delivered messages' file names, oldest first.
pub fn delivered(w: &WorkerDir) -> Vec<String> {
    numbered(&delivered_dir(w))
        .into_iter()
        .map(|(_, n)| n)
        .collect()
}

pub fn message_path(w: &WorkerDir, name: &str) -> PathBuf {
    w.inbox_dir().join(name)
}

/// Queues `text` as the next message (caller holds the lock); returns its file name.
/// Numbers never repeat, counting delivered ones, so names order as they were sent.
pub fn write_next(w: &WorkerDir, _lock: &InboxLock, text: &str) -> Result<String> {
    let last = numbered(&w.inbox_dir())
        .into_iter()
        .chain(numbered(&delivered_dir(w)))
        .map(|(n, _)| n)
        .max()
        .unwrap_or(0);
    let name = format!("{:04}.md", last + 1);
    let d = w.inbox_dir();
    create_private_dir(&d).with_context(|| format!("cannot create {}", d.display()))?;
    let path = message_path(w, &name);
    write_atomic(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(name)
}

pub fn read_sending(w: &WorkerDir) -> Result<Option<Sending>> {
    Ok(read_json_opt(&sending_path(w))?)
}

pub fn write_sending(w: &WorkerDir, _lock: &InboxLock, s: &Sending) -> Result<()> {
    super::fsutil::write_json(&sending_path(w), s)
}

pub fn clear_sending(w: &WorkerDir) -> Result<()> {
    match fs::remove_file(sending_path(w)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", sending_path(w).display())),
    }
}

/// Moves message `name` to `delivered/` (durably: both folders synced), then drops the
/// in-flight record: a crash between the two leaves a record naming a message that is
/// no longer pending, which `lifecycle::inbox` reads as delivered.
pub fn mark_delivered(w: &WorkerDir, name: &str) -> Result<()> {
    let to = delivered_dir(w);
    create_private_dir(&to).with_context(|| format!("cannot create {}", to.display()))?;
    match fs::rename(message_path(w, name), to.join(name)) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot move message {name}")),
    }
    sync_dir(&to)?;
    sync_dir(&w.inbox_dir())?;
    clear_sending(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> (tempfile::TempDir, WorkerDir) {
        let t = tempfile::tempdir().unwrap();
        let w = WorkerDir {
            run: "r".into(),
            label: "W1".into(),
            dir: t.path().to_path_buf(),
        };
        (t, w)
    }

    #[test]
    fn messages_are_numbered_in_order_and_numbers_survive_delivery() {
        let (_t, w) = worker();
        let l = lock(&w).unwrap();
        assert_eq!(write_next(&w, &l, "a").unwrap(), "0001.md");
        assert_eq!(write_next(&w, &l, "b").unwrap(), "0002.md");
        mark_delivered(&w, "0001.md").unwrap();
        mark_delivered(&w, "0002.md").unwrap();
        assert_eq!(write_next(&w, &l, "c").unwrap(), "0003.md");
        assert_eq!(pending(&w), vec!["0003.md"]);
        assert_eq!(delivered(&w), vec!["0001.md", "0002.md"]);
        assert_eq!(pending_count(&w), 1);
        // The lock file, temp files and the in-flight record are not messages.
        fs::write(w.inbox_dir().join(".tmp-x"), "").unwrap();
        fs::write(sending_path(&w), "{}").unwrap();
        assert_eq!(pending(&w), vec!["0003.md"]);
    }
}
