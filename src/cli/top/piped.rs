//! `orch top` with stdout not a terminal: the status table printed each time a
//! worker's state changes; exits 0 once every worker shown has ended.

use std::io::Write;

use anyhow::Result;

use super::model::Scope;
use crate::cli::commands::status;
use crate::lifecycle::state::{self, State, ViewOptions};
use crate::ops::status::RunStatus;
use crate::store::Home;
use crate::sys::watch::Watcher;

/// A sweep for what no event announces (lost workers, stalls).
const REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// What a piped reader is told about: states, not every token.
fn signature(all: &[RunStatus]) -> Vec<(String, String, State, bool)> {
    all.iter()
        .flat_map(|s| {
            s.workers
                .iter()
                .map(|w| (s.run.clone(), w.label.clone(), w.state, w.stalled))
        })
        .collect()
}

fn all_ended(home: &Home, all: &[RunStatus]) -> bool {
    all.iter().any(|s| !s.workers.is_empty())
        && all.iter().all(|s| {
            let run = home.run(&s.run);
            s.workers
                .iter()
                .all(|w| state::has_ended(&run.worker(&w.label), w.state))
        })
}

pub fn run(home: &Home, scope: &Scope, opts: &ViewOptions, watcher: &mut Watcher) -> Result<i32> {
    let mut last = None;
    let mut seen = Vec::new();
    loop {
        let all = super::load(home, scope, &mut seen, opts)?;
        let sig = signature(&all);
        if last.as_ref() != Some(&sig) {
            let mut out = std::io::stdout().lock();
            let mut text = String::new();
            for s in &all {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&status::render(s, false));
            }
            if all.is_empty() {
                text.push_str("no active runs\n");
            }
            if last.is_some() {
                text.insert(0, '\n');
            }
            if out
                .write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return Ok(0); // the reader went away
            }
            last = Some(sig);
        }
        if all_ended(home, &all) || (all.is_empty() && *scope == Scope::All) {
            return Ok(0);
        }
        // A reader that went away while nothing changed (an SSH session without a
        // terminal drops with no SIGHUP): stop rather than wait for the next change.
        if crate::sys::output::stdout_closed() {
            return Ok(0);
        }
        let _ = watcher.next(REFRESH);
    }
}
