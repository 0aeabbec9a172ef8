//! The `offline` flag: a running codex that reports nothing but
//! `Reconnecting... waiting for network` never gives up by itself (codex's
//! `unbounded_connection_retries`, on by default), so orch says so once it has lasted
//! longer than `--offline-after`.
//!
//! The wrapper sees every event as it arrives: at the first network reconnect after
//! progress it writes offline.json with the time (`transition::offline`), and it
//! removes the file at the next sign of progress (`transition::online`). status reads one small file per running worker.

use chrono::Utc;

use crate::store::fsutil::read_json_opt;
use crate::store::{OfflineRecord, WorkerDir};
use crate::sys::codex::events::Event;

/// Default for `--offline-after`.
pub const DEFAULT_OFFLINE_AFTER: std::time::Duration = std::time::Duration::from_secs(120);

/// codex's text for a connection retry that has no end.
pub fn is_network_wait(message: &str) -> bool {
    let m = message.trim_start();
    (m.starts_with("Reconnecting") || m.starts_with("reconnecting"))
        && m.contains("waiting for network")
}

/// Tracks one codex run's events for the wrapper.
#[derive(Default)]
pub struct Tracker {
    marked: bool,
}

impl Tracker {
    pub fn see(&mut self, w: &WorkerDir, ev: &Event) {
        match ev {
            Event::Error { message } if is_network_wait(message) && !self.marked => {
                self.marked = true;
                let rec = OfflineRecord {
                    since: Utc::now(),
                    message: message.clone(),
                };
                super::transition::offline(w, &rec);
            }
            Event::ItemStarted(i) | Event::ItemUpdated(i) | Event::ItemCompleted(i)
                if i.kind != "error" =>
            {
                self.clear(w)
            }
            Event::TurnCompleted { .. } | Event::TurnFailed { .. } => self.clear(w),
            _ => {}
        }
    }

    pub fn clear(&mut self, w: &WorkerDir) {
        if self.marked {
            self.marked = false;
            super::transition::online(w);
        }
    }
}

/// Since when the worker has only been waiting for the network, if it is.
pub fn since(w: &WorkerDir) -> Option<OfflineRecord> {
    read_json_opt(&w.offline_path()).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_endless_reconnect_counts() {
        assert!(is_network_wait(
            "Reconnecting... waiting for network (Connection failed: error sending request)"
        ));
        assert!(!is_network_wait("Reconnecting... 1/5 (stream error)"));
        assert!(!is_network_wait("waiting for network"));
    }
}
