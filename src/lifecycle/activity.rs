//! What a worker's event log adds up to (tokens, thread, last activity), at a cost that
//! does not grow with the log.
//!
//! A worker hours into a night can have hundreds of megabytes of events (command
//! output); `status`, `top`, `wait` and `watch` look at every live worker on every
//! change. So the summary is kept beside the log in `events.summary.json` with the byte
//! offset it covers, and a reader parses only what was appended since. The wrapper
//! writes it as it goes (it has the summary in memory anyway); readers bring it up to
//! date and save it back.
//!
//! Disk stays the truth: the cache names the log's inode and a hash of the bytes just
//! before its offset, and a cache that does not match the log (a retry moved the log
//! away, a truncation, a foreign edit) is ignored and the log read from the start. A
//! cache that cannot be written (someone else's home, a full disk) costs only speed.

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

use crate::store::WorkerDir;
use crate::store::fsutil::{read_json_opt, write_atomic_unsynced};
use crate::sys::codex::events::{self, Summary};

/// How many bytes before the offset are hashed to check the cache against the log.
const CHECK_BYTES: u64 = 256;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cache {
    ino: u64,
    offset: u64,
    check: u64,
    summary: Summary,
}

/// The summary of `w`'s current event log, or `None` when it has none.
pub fn summary(w: &WorkerDir) -> Option<Summary> {
    let mut file = File::open(w.events_path()).ok()?;
    let meta = file.metadata().ok()?;
    let cached = read_json_opt::<Cache>(&w.events_summary_path())
        .ok()
        .flatten()
        .filter(|c| c.ino == meta.ino() && c.offset <= meta.len())
        .filter(|c| check_hash(&mut file, c.offset).is_some_and(|h| h == c.check));
    let (mut sum, start) = match cached {
        Some(c) if c.offset == meta.len() => return Some(c.summary),
        Some(c) => (c.summary, c.offset),
        None => (Summary::default(), 0),
    };
    let end = extend(&mut file, start, &mut sum).ok()?;
    if end != start {
        write_cache(w, &mut file, meta.ino(), end, &sum);
    }
    Some(sum)
}

/// Parses whole lines from `start` to the end into `sum`; returns the offset after the
/// last complete line (a line being written stays for the next look).
fn extend(file: &mut File, start: u64, sum: &mut Summary) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(start))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut offset = start;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(offset);
        }
        offset += n as u64;
        if let Some(ev) = events::parse(&String::from_utf8_lossy(&line)) {
            sum.add(&ev);
        }
    }
}

/// Records that `sum` covers the log up to `offset`: called by the wrapper as it writes
/// (every few seconds, so a reader has little to catch up on).
pub fn save(w: &WorkerDir, offset: u64, sum: &Summary) {
    let Ok(mut file) = File::open(w.events_path()) else {
        return;
    };
    let Ok(meta) = file.metadata() else { return };
    write_cache(w, &mut file, meta.ino(), offset, sum);
}

fn write_cache(w: &WorkerDir, file: &mut File, ino: u64, offset: u64, sum: &Summary) {
    let Some(check) = check_hash(file, offset) else {
        return;
    };
    let cache = Cache {
        ino,
        offset,
        check,
        summary: sum.clone(),
    };
    if let Ok(bytes) = serde_json::to_vec(&cache) {
        let _ = write_atomic_unsynced(&w.events_summary_path(), &bytes);
    }
}

fn check_hash(file: &mut File, offset: u64) -> Option<u64> {
    let from = offset.saturating_sub(CHECK_BYTES);
    let mut buf = vec![0u8; (offset - from) as usize];
    file.seek(SeekFrom::Start(from)).ok()?;
    file.read_exact(&mut buf).ok()?;
    let mut h = DefaultHasher::new();
    buf.hash(&mut h);
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

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

    fn append(w: &WorkerDir, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(w.events_path())
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    const T1: &str = "{\"type\":\"thread.started\",\"thread_id\":\"t-1\"}\n";
    const DONE: &str = "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":10,\"cached_input_tokens\":2,\"output_tokens\":5}}\n";

    #[test]
    fn reads_only_what_was_appended_and_matches_a_full_read() {
        let (_t, w) = worker();
        append(&w, T1);
        let first = summary(&w).unwrap();
        assert_eq!(first.thread_id.as_deref(), Some("t-1"));
        assert!(w.events_summary_path().exists());
        // A half-written line is left for the next look.
        append(&w, &DONE[..20]);
        assert!(!summary(&w).unwrap().turn_completed);
        append(&w, &DONE[20..]);
        let s = summary(&w).unwrap();
        let full = events::summarize(std::fs::read_to_string(w.events_path()).unwrap().lines());
        assert!(s.turn_completed);
        assert_eq!(s.tokens, full.tokens);
        assert_eq!(s.tokens.input, 10);
        assert_eq!(s.last_activity, full.last_activity);
    }

    #[test]
    fn a_cache_that_does_not_match_the_log_is_ignored() {
        let (_t, w) = worker();
        append(&w, T1);
        append(&w, DONE);
        summary(&w).unwrap();
        // A new attempt's log of the same length, other content: the cache must not be
        // trusted (the check hash differs).
        std::fs::remove_file(w.events_path()).unwrap();
        append(&w, &T1.replace("t-1", "t-9"));
        append(&w, DONE);
        assert_eq!(summary(&w).unwrap().thread_id.as_deref(), Some("t-9"));
        // A lying cache (offset past the end) is ignored too.
        std::fs::write(
            w.events_summary_path(),
            r#"{"ino":1,"offset":999999,"check":0,"summary":{"thread_id":"bogus","tokens":{"input":0,"cached_input":0,"output":0,"reasoning":0},"turn_completed":false,"turn_failed":null,"last_error":null,"last_activity":null}}"#,
        )
        .unwrap();
        assert_eq!(summary(&w).unwrap().thread_id.as_deref(), Some("t-9"));
    }

    #[test]
    fn no_log_no_summary() {
        let (_t, w) = worker();
        assert!(summary(&w).is_none());
    }
}
