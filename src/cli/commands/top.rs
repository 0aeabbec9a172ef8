//! `orch top` (and `orch status --watch`): the status table, redrawn as workers change.
//!
//! On a terminal: the alternate screen with the cursor hidden, each frame written in
//! one go over the last (cursor home, clear to end of each line and of the screen, so
//! nothing flickers); `q` quits without Enter, as does Ctrl-C; the terminal is put back
//! as it was on the way out. Not on a terminal: the table is printed each time a
//! worker's state changes, and `top` exits 0 once every worker of the run has ended —
//! a log of the run's progress that a script can wait on.

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

use crate::cli::args::TopArgs;
use crate::cli::commands::status;
use crate::cli::render;
use crate::lifecycle::sched;
use crate::lifecycle::state::{self, State, ViewOptions};
use crate::ops::status::{self as ops_status, RunStatus};
use crate::store::{Home, RunDir};
use crate::sys::watch::{Changes, Mode, Watcher};

/// Elapsed times tick even when nothing happens.
const REFRESH: Duration = Duration::from_secs(1);
/// A busy worker writes many events a second; more frames than this would be noise.
const MIN_FRAME: Duration = Duration::from_millis(100);

pub fn run(args: TopArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let run = home.run_or_latest(args.run.as_deref())?;
    let opts = ViewOptions {
        stall_after: Duration::from_secs(args.stall.stall_after),
        offline_after: Duration::from_secs(args.stall.offline_after),
        activity: true,
    };
    let mut watcher = Watcher::new(&home, Mode::from_poll(args.poll.poll))?;
    if std::io::stdout().is_terminal() {
        interactive(&home, &run, &opts, &mut watcher)
    } else {
        piped(&home, &run, &opts, &mut watcher)
    }
}

fn concerns(ch: &Changes, run: &str) -> bool {
    ch.rescan || ch.runs.contains(run) || ch.workers.iter().chain(&ch.logs).any(|(r, _)| r == run)
}

/// What a piped reader is told about: states, not every token.
fn signature(s: &RunStatus) -> Vec<(String, State, bool)> {
    s.workers
        .iter()
        .map(|w| (w.label.clone(), w.state, w.stalled))
        .collect()
}

fn all_ended(run: &RunDir, s: &RunStatus) -> bool {
    !s.workers.is_empty()
        && s.workers
            .iter()
            .all(|w| state::has_ended(&run.worker(&w.label), w.state))
}

fn piped(home: &Home, run: &RunDir, opts: &ViewOptions, watcher: &mut Watcher) -> Result<i32> {
    let mut last = None;
    loop {
        let _ = sched::tick(home, run);
        let s = ops_status::collect(home, run, opts)?;
        let sig = signature(&s);
        if last.as_ref() != Some(&sig) {
            let mut out = std::io::stdout().lock();
            if last.is_some() {
                let _ = writeln!(out);
            }
            if write!(out, "{}", status::render(&s, false))
                .and_then(|_| out.flush())
                .is_err()
            {
                return Ok(0); // the reader went away
            }
            last = Some(sig);
        }
        if all_ended(run, &s) {
            return Ok(0);
        }
        // Timeout: a sweep for what no event announces (lost workers, stalls).
        let _ = watcher.next(REFRESH);
    }
}

fn interactive(
    home: &Home,
    run: &RunDir,
    opts: &ViewOptions,
    watcher: &mut Watcher,
) -> Result<i32> {
    let quit = Arc::new(AtomicBool::new(false));
    let waker = watcher.waker();
    let _screen = Screen::enter();
    if std::io::stdin().is_terminal() {
        let (quit, waker) = (quit.clone(), waker.clone());
        std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            while let Ok(1) = std::io::stdin().read(&mut byte) {
                if matches!(byte[0], b'q' | b'Q' | 0x03) {
                    quit.store(true, Ordering::SeqCst);
                    waker.wake();
                    return;
                }
            }
        });
    }
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGWINCH])?;
        let (quit, waker) = (quit.clone(), waker.clone());
        std::thread::spawn(move || {
            for sig in signals.forever() {
                if sig != SIGWINCH {
                    quit.store(true, Ordering::SeqCst);
                }
                waker.wake();
            }
        });
    }
    let color = render::color_enabled();
    let mut last_draw: Option<Instant> = None;
    let mut dirty = true;
    while !quit.load(Ordering::SeqCst) {
        let now = Instant::now();
        let due = last_draw.is_none_or(|t| (dirty && now >= t + MIN_FRAME) || now >= t + REFRESH);
        if due {
            let _ = sched::tick(home, run);
            let s = ops_status::collect(home, run, opts)?;
            draw(&status::render(&s, color));
            last_draw = Some(Instant::now());
            dirty = false;
        }
        let t = last_draw.unwrap_or(now);
        let wake_at = if dirty { t + MIN_FRAME } else { t + REFRESH };
        if let Some(ch) = watcher.next(wake_at.saturating_duration_since(Instant::now())) {
            dirty |= ch.woken || concerns(&ch, &run.id);
        }
    }
    Ok(0)
}

fn draw(table: &str) {
    let mut frame = String::from("\x1b[H");
    for line in table.lines() {
        frame.push_str(line);
        frame.push_str("\x1b[K\n");
    }
    frame.push_str(&format!(
        "\x1b[K\n{}  q quit\x1b[K\x1b[J",
        chrono::Local::now().format("%H:%M:%S")
    ));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(frame.as_bytes());
    let _ = out.flush();
}

/// The terminal as `top` needs it, put back on drop (also on error and panic).
struct Screen {
    saved: Option<Termios>,
}

impl Screen {
    fn enter() -> Screen {
        let stdin = std::io::stdin();
        let saved = stdin
            .is_terminal()
            .then(|| termios::tcgetattr(&stdin).ok())
            .flatten();
        if let Some(orig) = &saved {
            // Keys without Enter and unechoed; ISIG stays, so Ctrl-C is still SIGINT.
            let mut t = orig.clone();
            t.local_flags.remove(LocalFlags::ICANON | LocalFlags::ECHO);
            t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
            t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
            let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &t);
        }
        // Alternate screen, cursor hidden, no line wrap (long lines are cut, not folded).
        print!("\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[2J");
        let _ = std::io::stdout().flush();
        Screen { saved }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        print!("\x1b[?7h\x1b[?25h\x1b[?1049l");
        let _ = std::io::stdout().flush();
        if let Some(orig) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, orig);
        }
    }
}
