//! `--timeout`: a worker whose codex has run longer than its limit is stopped the way a
//! person would stop it, Ctrl-C to codex's process group first (codex ends its turn and
//! exits), then TERM after a grace period. It ends `failed` with "timed out after 30m",
//! never `stopped` (which means a person asked). Time spent paused on a usage limit
//! does not count: the limit is codex's account, not the task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Between the Ctrl-C and the TERM.
const GRACE: Duration = Duration::from_secs(10);

/// Watches one codex run; dropping it (codex ended) ends the watch.
pub struct Watchdog {
    _done: Option<mpsc::Sender<()>>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    /// Signals process group `pgid` once `budget` has passed; `None` watches nothing.
    pub fn start(pgid: i32, budget: Option<Duration>) -> Watchdog {
        let fired = Arc::new(AtomicBool::new(false));
        let Some(budget) = budget else {
            return Watchdog { _done: None, fired };
        };
        let (tx, rx) = mpsc::channel::<()>();
        let flag = fired.clone();
        std::thread::spawn(move || {
            if rx.recv_timeout(budget) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            flag.store(true, Ordering::SeqCst);
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGINT);
            if rx.recv_timeout(GRACE) == Err(mpsc::RecvTimeoutError::Timeout) {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
            }
        });
        Watchdog {
            _done: Some(tx),
            fired,
        }
    }

    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// `30m`, `2h`, `90s`, `1h30m`: the limit as a person typed it.
pub fn shown(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_typed() {
        assert_eq!(shown(1800), "30m");
        assert_eq!(shown(7200), "2h");
        assert_eq!(shown(5400), "1h30m");
        assert_eq!(shown(90), "1m30s");
        assert_eq!(shown(3), "3s");
    }
}
