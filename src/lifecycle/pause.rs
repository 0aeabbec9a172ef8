//! Usage limits pause a worker; they do not fail it.
//!
//! When codex's turn fails with "You've hit your usage limit … try again at T", the
//! wrapper (still in its tmux window, still holding live.lock and any writer slot)
//! writes pause.json through `transition::paused`, waits until the reset plus a little
//! jitter (so a fleet does not hit the API in the same second), then continues the same
//! conversation with `codex exec … resume THREAD -` and [`CONTINUE_PROMPT`], within the
//! same attempt: no `--retries` is spent. When codex names no time ("try again later"),
//! it backs off 5 min, doubling, up to an hour, and says so in the record.
//!
//! While a worker of a run is paused the scheduler starts none of the run's queued
//! workers: they would only run into the same wall. `orch stop` ends a pause at once
//! (the wrapper looks for stop.json every fraction of a second).

use std::time::Duration;

use chrono::{DateTime, Local, Utc};

use crate::lifecycle::state::State;
use crate::store::fsutil::read_json_opt;
use crate::store::{PauseRecord, RunDir, WorkerDir};
use crate::sys::codex::limits::{self, Reset};

/// What the paused conversation is told when it continues.
pub const CONTINUE_PROMPT: &str = "The usage limit that interrupted you has reset. Continue the task where you stopped and finish it.";

/// A usage limit is waited out at most this many times in one attempt; a limit that is
/// still there after so many resets is not a limit that resets.
pub const MAX_PAUSES: u32 = 48;

const UNKNOWN_FIRST: Duration = Duration::from_secs(5 * 60);
const UNKNOWN_CAP: Duration = Duration::from_secs(60 * 60);
const JITTER_CAP: Duration = Duration::from_secs(30);

/// The pause for a usage-limit `message`, the `count`th of this attempt (from 1).
pub fn plan(message: &str, thread: Option<String>, count: u32, now: DateTime<Utc>) -> PauseRecord {
    let (resets_at, wait) = match limits::reset(message, now.with_timezone(&Local)) {
        Reset::At(t) => (Some(t), (t - now).to_std().unwrap_or_default()),
        Reset::Unknown => (None, unknown_backoff(count)),
    };
    let until = now + chrono::Duration::from_std(wait + jitter(wait)).unwrap_or_default();
    PauseRecord {
        since: now,
        until,
        resets_at,
        message: message.to_string(),
        thread_id: thread,
        count,
    }
}

/// 5 min, 10, 20, 40, then an hour each time.
pub fn unknown_backoff(count: u32) -> Duration {
    let k = count.saturating_sub(1).min(10);
    (UNKNOWN_FIRST * 2u32.pow(k)).min(UNKNOWN_CAP)
}

/// Up to a tenth of the wait (at most 30 s), plus up to one second.
fn jitter(wait: Duration) -> Duration {
    let spread = (wait / 10).min(JITTER_CAP) + Duration::from_secs(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ std::process::id().wrapping_mul(2_654_435_761))
        .unwrap_or(0);
    spread.mul_f64(f64::from(nanos % 1_000_000) / 1_000_000.0)
}

fn local(t: DateTime<Utc>) -> String {
    let l = t.with_timezone(&Local);
    if l.date_naive() == Local::now().date_naive() {
        l.format("%H:%M:%S").to_string()
    } else {
        l.format("%b %-d %H:%M:%S").to_string()
    }
}

/// `usage limit; continues at 22:52:13 (reset at 22:52)` — for status's `waiting_for`.
pub fn waiting_for(p: &PauseRecord) -> String {
    match p.resets_at {
        Some(r) => format!(
            "the usage limit to reset at {}; continues at {}",
            local(r),
            local(p.until)
        ),
        None => format!(
            "the usage limit to reset (codex named no time; trying again at {}, backing off up to 1h)",
            local(p.until)
        ),
    }
}

/// The pause of a worker's current attempt, if its record says so.
pub fn current(w: &WorkerDir) -> Option<PauseRecord> {
    read_json_opt(&w.pause_path()).ok().flatten()
}

/// Why a run's queued workers are held: one of its workers is paused on a usage limit.
pub fn hold<'a>(
    run: &RunDir,
    states: impl IntoIterator<Item = (&'a String, &'a State)>,
) -> Option<String> {
    states
        .into_iter()
        .filter(|(_, st)| **st == State::Paused)
        .filter_map(|(l, _)| Some((l, current(&run.worker(l))?)))
        .min_by_key(|(_, p)| p.until)
        .map(|(l, p)| format!("{} ({l} is paused)", waiting_for(&p)))
}

/// Sleeps until `until`, in short steps; `false` as soon as `give_up` says so.
pub fn wait_until(until: DateTime<Utc>, give_up: impl Fn() -> bool) -> bool {
    loop {
        if give_up() {
            return false;
        }
        let left = (until - Utc::now()).to_std().unwrap_or_default();
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(200)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_reset_is_waited_for_with_a_little_jitter() {
        let now = Utc::now();
        let p = plan(
            "You’ve hit your usage limit. Try again in 10 minutes.",
            Some("t".into()),
            1,
            now,
        );
        let reset = now + chrono::Duration::minutes(10);
        assert_eq!(p.resets_at.map(|r| r.timestamp()), Some(reset.timestamp()));
        assert!(p.until >= reset, "{p:?}");
        assert!(p.until <= reset + chrono::Duration::seconds(31), "{p:?}");
        assert!(waiting_for(&p).contains("reset at"), "{}", waiting_for(&p));
    }

    #[test]
    fn a_reset_in_the_past_continues_at_once() {
        let now = Utc::now();
        let p = plan(
            "You've hit your usage limit. Try again in 0 seconds.",
            None,
            1,
            now,
        );
        assert!(p.until <= now + chrono::Duration::seconds(1));
    }

    #[test]
    fn later_backs_off_up_to_an_hour_and_says_so() {
        assert_eq!(unknown_backoff(1), Duration::from_secs(300));
        assert_eq!(unknown_backoff(2), Duration::from_secs(600));
        assert_eq!(unknown_backoff(5), Duration::from_secs(3600));
        assert_eq!(unknown_backoff(40), Duration::from_secs(3600));
        let now = Utc::now();
        let p = plan(
            "You’ve hit your usage limit. Try again later.",
            None,
            1,
            now,
        );
        assert_eq!(p.resets_at, None);
        assert!(p.until >= now + chrono::Duration::seconds(300));
        let text = waiting_for(&p);
        assert!(
            text.contains("no time") && text.contains("up to 1h"),
            "{text}"
        );
    }
}
