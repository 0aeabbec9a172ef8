//! What a worker has produced: its final message (`orch result`) and its progress as
//! readable lines (`orch logs`), for the CLI and the MCP tools alike.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::lifecycle::state::{self, State, ViewOptions};
use crate::model::error::UserError;
use crate::store::{Home, WorkerDir};
use crate::sys::codex::events;

/// `orch result --json`. Field names are a contract: add, never rename.
#[derive(Debug, Serialize)]
pub struct ResultReport {
    /// `RUN/LABEL`
    pub worker: String,
    pub state: State,
    /// The final message, exactly as the worker wrote it.
    pub result: String,
}

/// The final message of a worker that ended done; a one-line error naming the worker
/// and what to do otherwise.
pub fn final_message(home: &Home, worker: &str) -> Result<(WorkerDir, Vec<u8>)> {
    let w = home.resolve_worker(worker)?;
    let v = state::view(
        &w,
        &ViewOptions {
            activity: false,
            ..Default::default()
        },
    );
    match v.state {
        State::Done => {
            let bytes = std::fs::read(w.last_message_path())
                .with_context(|| format!("cannot read {}", w.last_message_path().display()))?;
            Ok((w, bytes))
        }
        s if !s.is_final() => Err(UserError::failed(format!(
            "{} is {s}, it has no result yet; `orch wait {}` waits for it",
            w.address(),
            w.address()
        ))
        .into()),
        s => Err(UserError::failed(format!(
            "{} ended {s}{}; it has no result",
            w.address(),
            v.error.map(|e| format!(": {e}")).unwrap_or_default()
        ))
        .into()),
    }
}

pub fn result_report(home: &Home, worker: &str) -> Result<ResultReport> {
    let (w, bytes) = final_message(home, worker)?;
    Ok(ResultReport {
        worker: w.address(),
        state: State::Done,
        result: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// `orch logs --json` (without `--follow`). Field names are a contract.
#[derive(Debug, Serialize)]
pub struct LogsReport {
    /// `RUN/LABEL`
    pub worker: String,
    pub state: State,
    /// Readable progress lines (or raw events / stderr lines), oldest first.
    pub lines: Vec<String>,
    /// Lines left out before these by `tail`.
    pub skipped: usize,
    /// Said when there is nothing to show but codex printed on stderr.
    pub note: Option<String>,
}

/// Which of a worker's logs to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogKind {
    #[default]
    Readable,
    RawEvents,
    Stderr,
}

/// The worker's log as it is now; the last `tail` lines when given.
pub fn read_logs(
    home: &Home,
    worker: &str,
    kind: LogKind,
    tail: Option<usize>,
) -> Result<LogsReport> {
    let w = home.resolve_worker(worker)?;
    let path = if kind == LogKind::Stderr {
        w.stderr_path()
    } else {
        w.events_path()
    };
    let mut lines = VecDeque::new();
    let mut skipped = 0;
    match std::fs::File::open(&path) {
        Ok(f) => {
            for line in BufReader::new(f).split(b'\n') {
                let line = line.with_context(|| format!("cannot read {}", path.display()))?;
                let text = String::from_utf8_lossy(&line);
                let shown = match kind {
                    LogKind::Readable => {
                        events::parse(&text).and_then(|ev| events::describe(&ev, 200))
                    }
                    _ => Some(text.trim_end().to_string()),
                };
                if let Some(s) = shown {
                    lines.push_back(s);
                    if tail.is_some_and(|n| lines.len() > n) {
                        lines.pop_front();
                        skipped += 1;
                    }
                }
            }
        }
        Err(_) if !w.launch_path().exists() => {
            return Err(UserError::failed(format!(
                "{} has not started yet; nothing to show",
                w.address()
            ))
            .into());
        }
        Err(_) => {}
    }
    let note = (lines.is_empty()
        && kind != LogKind::Stderr
        && std::fs::metadata(w.stderr_path()).is_ok_and(|m| m.len() > 0))
    .then(|| {
        format!(
            "no progress events from {}; `orch logs {} --stderr` shows what codex printed",
            w.address(),
            w.address()
        )
    });
    Ok(LogsReport {
        worker: w.address(),
        state: state::state_of(&w),
        lines: lines.into(),
        skipped,
        note,
    })
}

/// How much of the end of a worker's event log [`progress_tail`] reads: its last lines
/// are there even when the log is hundreds of megabytes.
const TAIL_BYTES: u64 = 512 * 1024;

/// The last `max` readable progress lines of `w` (what `orch logs` ends with), read
/// from the end of its event log only: cheap enough to do on every change of a busy
/// worker (the dashboard's preview).
pub fn progress_tail(w: &WorkerDir, max: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(w.events_path()) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(TAIL_BYTES);
    let mut bytes = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let mut text = &bytes[..];
    if from > 0 {
        // Started mid-line: the first (partial) line is not an event.
        let cut = text
            .iter()
            .position(|b| *b == b'\n')
            .map_or(text.len(), |i| i + 1);
        text = &text[cut..];
    }
    let mut lines: VecDeque<String> = VecDeque::new();
    for line in text.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(line);
        if let Some(s) = events::parse(&line).and_then(|ev| events::describe(&ev, 200)) {
            lines.push_back(s);
            if lines.len() > max {
                lines.pop_front();
            }
        }
    }
    lines.into()
}
