//! `orch logs`: a worker's progress as readable lines (or raw events / stderr).

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::Result;

use crate::cli::args::LogsArgs;
use crate::lifecycle::state;
use crate::model::error::UserError;
use crate::ops::output::{LogKind, read_logs};
use crate::store::Home;
use crate::sys::codex::events;
use crate::sys::output;

pub fn run(args: LogsArgs) -> Result<i32> {
    let home = Home::from_env()?;
    if !args.follow {
        let kind = if args.stderr {
            LogKind::Stderr
        } else if args.raw {
            LogKind::RawEvents
        } else {
            LogKind::Readable
        };
        let report = read_logs(&home, &args.worker, kind, args.tail)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(0);
        }
        let mut out = std::io::stdout().lock();
        for l in &report.lines {
            if writeln!(out, "{l}").is_err() {
                return Ok(0); // reader went away (e.g. `| head`)
            }
        }
        if let Some(note) = &report.note {
            eprintln!("orch: {note}");
        }
        return Ok(0);
    }
    let w = home.resolve_worker(&args.worker)?;
    let path = if args.stderr {
        w.stderr_path()
    } else {
        w.events_path()
    };
    let mut pos = 0u64;
    let mut pending = String::new();
    let stdout = std::io::stdout();
    let mut last_pass = false;
    let mut shown_any = false;
    // Said once, on stderr: a queued worker has nothing to follow yet.
    if state::state_of(&w) == crate::lifecycle::state::State::Queued {
        let why = crate::ops::status::waiting_for(&home, &w)
            .map(|r| format!(": {}", crate::ops::status::waits_for(&r)))
            .unwrap_or_default();
        eprintln!(
            "orch: {} is queued{why}; following it once it starts",
            w.address()
        );
    }
    loop {
        if let Ok(mut f) = File::open(&path) {
            f.seek(SeekFrom::Start(pos))?;
            let mut reader = BufReader::new(f);
            let mut line = String::new();
            loop {
                line.clear();
                let n = reader.read_line(&mut line)?;
                if n == 0 {
                    break;
                }
                if !line.ends_with('\n') {
                    // A line still being written: keep it for the next round.
                    pending.push_str(&line);
                    pos += n as u64;
                    break;
                }
                pos += n as u64;
                let full = std::mem::take(&mut pending) + &line;
                let mut out = stdout.lock();
                let shown = if args.raw || args.stderr {
                    Some(full.trim_end().to_string())
                } else {
                    events::parse(&full).and_then(|ev| events::describe(&ev, 200))
                };
                if let Some(s) = shown {
                    shown_any = true;
                    if writeln!(out, "{s}").is_err() {
                        return Ok(0); // reader went away (e.g. `| head`)
                    }
                }
            }
        } else if !args.follow && !w.dir.join("launch.json").exists() {
            return Err(UserError::failed(format!(
                "{} has not started yet; nothing to show",
                w.address()
            ))
            .into());
        }
        if !args.follow || last_pass {
            if !pending.is_empty() && (args.raw || args.stderr) {
                let _ = writeln!(stdout.lock(), "{}", pending.trim_end());
            }
            // Nothing to show, but codex said something on stderr: say where it is.
            if !shown_any
                && !args.stderr
                && std::fs::metadata(w.stderr_path()).is_ok_and(|m| m.len() > 0)
            {
                eprintln!(
                    "orch: no progress events from {}; `orch logs {} --stderr` shows what codex printed",
                    w.address(),
                    w.address()
                );
            }
            return Ok(0);
        }
        // Once the worker has ended, one more pass picks up its last lines.
        last_pass = state::state_of(&w).is_final();
        if !last_pass {
            // A reader that went away while nothing new came (a dropped SSH session
            // without a terminal sends no SIGHUP): stop following.
            if output::stdout_closed() {
                return Ok(0);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
