//! `orch wait`: block until workers end.
//!
//! Exit 0 when every one ended `done`; 1 when any ended otherwise (each named on
//! stderr, one line: `orch: RUN/LABEL STATE: why`); 124 on `--timeout` (the workers
//! keep running). `--any` returns once at least one has ended (at once if one already
//! has); its exit code is about the ones that ended. On a terminal a one-line progress
//! is redrawn on stderr; piped, wait prints nothing until the end. Once neither
//! stdout nor stderr reaches a reader (an SSH session dropped without a terminal), it
//! exits 141 within a second and leaves the workers running.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;

use crate::cli::args::WaitArgs;
use crate::lifecycle::state::State;
use crate::model::error::{EXIT_FAILED, EXIT_TIMEOUT};
use crate::model::text;
use crate::ops::wait::{Unheard, WaitReport, WaitRequest, wait};
use crate::store::Home;

/// A wait that nobody could hear any more (128 + SIGPIPE, as `orch watch` uses).
const EXIT_UNHEARD: i32 = 141;

pub fn run(args: WaitArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let progress = std::io::stderr().is_terminal();
    let waited = wait(&home, &request(&args), &mut |states, elapsed| {
        if progress {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K{}", progress_line(states, elapsed));
            let _ = err.flush();
        }
    });
    let report = match waited {
        // Nobody can hear an answer; end as a writer to a closed pipe would.
        Err(e) if e.is::<Unheard>() => return Ok(EXIT_UNHEARD),
        r => r?,
    };
    if progress {
        eprint!("\r\x1b[K");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    for line in stderr_lines(&report) {
        eprintln!("orch: {line}");
    }
    Ok(exit_code(&report))
}

pub fn request(args: &WaitArgs) -> WaitRequest {
    WaitRequest {
        targets: args.targets.clone(),
        any: args.any,
        timeout: args.timeout.map(Duration::from_secs),
        kill_stalled: args.kill_stalled,
        stall_after: Duration::from_secs(args.stall.stall_after),
        poll_ms: args.poll.poll,
        give_up_unheard: true,
    }
}

/// What wait says on stderr: each worker that ended other than done, then why it
/// stopped waiting early (a budget) or what still goes (a timeout).
pub fn stderr_lines(report: &WaitReport) -> Vec<String> {
    let mut out: Vec<String> = report.held.iter().cloned().collect();
    out.extend(report.ended_badly().map(|w| {
        format!(
            "{}/{} {}{}",
            w.run,
            w.label,
            w.state,
            w.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )
    }));
    if report.timed_out {
        out.push(format!(
            "timed out; still going: {}",
            report.still_going.join(", ")
        ));
    }
    out
}

/// 0 all done; 1 any ended otherwise (or held by a budget); 124 timed out.
pub fn exit_code(report: &WaitReport) -> i32 {
    if report.held.is_some() {
        EXIT_FAILED
    } else if report.timed_out {
        EXIT_TIMEOUT
    } else if report.ended_badly().next().is_some() {
        EXIT_FAILED
    } else {
        0
    }
}

/// `3/5 done · 1 running · 1 queued · 12m04s`
pub fn progress_line(states: &[State], elapsed: Duration) -> String {
    let done = states.iter().filter(|s| **s == State::Done).count();
    let mut parts = vec![format!("{done}/{} done", states.len())];
    let mut counts: BTreeMap<State, usize> = BTreeMap::new();
    for s in states.iter().filter(|s| **s != State::Done) {
        // Starting is a moment of running, not something to wait on separately.
        let s = if *s == State::Starting {
            State::Running
        } else {
            *s
        };
        *counts.entry(s).or_insert(0) += 1;
    }
    // Ended-badly first: that is what the reader must notice.
    let order = [
        State::Failed,
        State::Lost,
        State::Stopped,
        State::Skipped,
        State::Corrupt,
        State::Incomplete,
        State::Running,
        State::Paused,
        State::Queued,
    ];
    for s in order {
        if let Some(n) = counts.get(&s) {
            parts.push(format!("{n} {s}"));
        }
    }
    parts.push(text::duration(elapsed.as_secs() as i64));
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_and_orders_states() {
        let s = [
            State::Done,
            State::Running,
            State::Starting,
            State::Queued,
            State::Failed,
        ];
        assert_eq!(
            progress_line(&s, Duration::from_secs(724)),
            "1/5 done · 1 failed · 2 running · 1 queued · 12m04s"
        );
    }
}
