//! The terminal as the dashboard needs it: raw mode on the alternate screen with the
//! cursor hidden, put back on the way out (also on error and panic); a reader thread
//! for keys that can be parked while another program (tmux attach, the pager) has the
//! terminal; and the pager itself.

use std::io::Write;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::cursor::{Hide, Show};
use crossterm::event::Event;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::model::Model;
use crate::model::error::UserError;
use crate::sys::watch::Waker;

/// How long the key reader waits for input before looking whether it should park.
const READ_SLICE: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Park {
    /// The loop wants the terminal for another program.
    wanted: bool,
    /// The reader has stopped reading.
    parked: bool,
}

pub struct Term {
    terminal: Terminal<CrosstermBackend<std::io::Stdout>>,
    park: Arc<(Mutex<Park>, Condvar)>,
}

impl Term {
    /// Takes the terminal and starts the key reader, which wakes the watcher on each
    /// key or resize.
    pub fn enter(waker: Waker) -> Result<(Term, Receiver<Event>)> {
        enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let terminal = Self::screen().inspect_err(|_| leave())?;
        let park = Arc::new((Mutex::new(Park::default()), Condvar::new()));
        let (tx, rx) = channel();
        let p = park.clone();
        std::thread::spawn(move || {
            read_keys(&p, &tx, &waker);
            // Gone (the terminal closed): never wait for it to park, and let the loop
            // see the closed channel.
            let (lock, cv) = &*p;
            lock.lock().unwrap_or_else(|e| e.into_inner()).parked = true;
            cv.notify_all();
            drop(tx);
            waker.wake();
        });
        Ok((Term { terminal, park }, rx))
    }

    /// The alternate screen and a ratatui terminal on it.
    fn screen() -> Result<Terminal<CrosstermBackend<std::io::Stdout>>> {
        execute!(std::io::stdout(), EnterAlternateScreen, Hide)?;
        let backend = CrosstermBackend::new(std::io::stdout());
        // A terminal that reports no size (0×0: some serial consoles, a bare pty) gets
        // the classic 80×24 instead of an empty screen.
        Ok(match crossterm::terminal::size() {
            Ok((0, _)) | Ok((_, 0)) | Err(_) => Terminal::with_options(
                backend,
                TerminalOptions {
                    viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
                },
            )?,
            Ok(_) => Terminal::new(backend)?,
        })
    }

    pub fn draw(&mut self, m: &Model) -> Result<()> {
        self.terminal.draw(|f| super::view::draw(f, m))?;
        Ok(())
    }

    /// Gives the terminal, as it was before the dashboard, to `f` (attach, the pager)
    /// and takes it back afterwards, redrawing everything.
    pub fn suspended<T>(&mut self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let (lock, cv) = &*self.park;
        {
            let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
            g.wanted = true;
            while !g.parked {
                g = cv.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        }
        leave();
        let r = f();
        let back = enable_raw_mode()
            .and_then(|_| execute!(std::io::stdout(), EnterAlternateScreen, Hide))
            .and_then(|_| self.terminal.clear());
        {
            let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
            g.wanted = false;
            cv.notify_all();
        }
        back?;
        r
    }
}

/// Reads keys into `tx` until the terminal closes, parking while `wanted`.
fn read_keys(p: &(Mutex<Park>, Condvar), tx: &Sender<Event>, waker: &Waker) {
    loop {
        {
            let (lock, cv) = p;
            let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
            if g.wanted {
                g.parked = true;
                cv.notify_all();
                while g.wanted {
                    g = cv.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                g.parked = false;
            }
        }
        match crossterm::event::poll(READ_SLICE) {
            Ok(true) => match crossterm::event::read() {
                Ok(ev) => {
                    if tx.send(ev).is_err() {
                        return;
                    }
                    waker.wake();
                }
                Err(_) => return,
            },
            Ok(false) => {}
            Err(_) => return,
        }
    }
}

/// The terminal put back: cursor shown, main screen, cooked mode.
fn leave() {
    let _ = execute!(std::io::stdout(), Show, LeaveAlternateScreen);
    let _ = disable_raw_mode();
}

impl Drop for Term {
    fn drop(&mut self) {
        leave();
    }
}

/// `text` in `$PAGER` (run with `sh -c`, so it may carry options), else `less`.
pub fn page(text: &str) -> Result<()> {
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less".into());
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&pager)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run the pager `{pager}`"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // The pager may quit before reading it all: a broken pipe is no error.
        let _ = stdin.write_all(text.as_bytes());
    }
    let status = child.wait()?;
    if status.code() == Some(127) {
        return Err(UserError::failed(format!(
            "cannot run the pager `{pager}`: not found; set PAGER to one you have"
        ))
        .into());
    }
    Ok(())
}
