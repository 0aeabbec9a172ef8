//! `orch top` (and `orch status --watch`): the dashboard.
//!
//! On a terminal: a ratatui screen of the run's workers (or every active run's), a
//! preview of the selected one and single keys for what one does with them (`keys`).
//! The state is kept in a `model::Model` and drawn from it (`view`); this file is the
//! loop that feeds it: file changes from the watcher (never a timer, never tmux per
//! frame), keys from a reader thread, results of actions run off the loop.
//!
//! Not on a terminal (`piped`): the status table printed each time a worker's state
//! changes, exiting 0 once every worker has ended — a log a script can wait on.

pub mod keys;
pub mod model;
mod piped;
mod term;
pub mod view;

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::Event;

use crate::lifecycle::sched;
use crate::lifecycle::state::{State, ViewOptions};
use crate::ops;
use crate::ops::status::RunStatus;
use crate::store::{Home, WorkerDir};
use crate::sys::watch::{Changes, Mode as WatchMode, Waker, Watcher, WorkerKey};
use keys::Action;
use model::{InputKind, Mode, Model, Preview, Row, Scope};

/// Plain options (the command maps clap's arguments onto these).
pub struct Options {
    pub run: Option<String>,
    /// Every active run instead of one.
    pub all: bool,
    pub view: ViewOptions,
    pub poll: Option<u64>,
}

/// A busy worker writes many events a second; more frames than this would be noise.
const MIN_FRAME: Duration = Duration::from_millis(100);
/// Elapsed clocks of live workers tick this often (a redraw from the model, no disk).
const CLOCK: Duration = Duration::from_secs(1);
/// A look at the disk for what no file change announces (a worker whose processes
/// died writes nothing; a stall is silence), while any worker is live. A full look at
/// a 200-worker run costs ~10 ms (BENCHMARKS.md, "Dashboard"): every 10 s keeps an idle
/// dashboard well under 1 % of a CPU, and a lost worker still shows within seconds.
const SWEEP: Duration = Duration::from_secs(10);
/// Progress lines kept for the preview.
const PREVIEW_LINES: usize = 1000;
/// `s`: how long codex gets after Ctrl-C, then after TERM (as `orch stop`'s default).
const STOP_GRACE: Duration = Duration::from_secs(10);

pub fn run(opts: Options) -> Result<i32> {
    let home = Home::from_env()?;
    let scope = if opts.all {
        Scope::All
    } else {
        Scope::Run(home.run_or_latest(opts.run.as_deref())?.id)
    };
    // Made before the first look at the disk, so nothing in between is missed.
    let mut watcher = Watcher::new(&home, WatchMode::from_poll(opts.poll))?;
    if std::io::stdout().is_terminal() {
        Dashboard::new(home, scope, opts.view, &watcher)?.run(&mut watcher)
    } else {
        piped::run(&home, &scope, &opts.view, &mut watcher)
    }
}

/// The runs `scope` shows, each read from disk (queued workers whose turn has come
/// are started first, as by any orch command). `seen` keeps runs of `--all` on screen
/// after they end.
pub(crate) fn load(
    home: &Home,
    scope: &Scope,
    seen: &mut Vec<String>,
    opts: &ViewOptions,
) -> Result<Vec<RunStatus>> {
    let ids: Vec<String> = match scope {
        Scope::Run(id) => vec![id.clone()],
        Scope::All => {
            for r in ops::status::active_runs(home)? {
                if !seen.contains(&r.id) {
                    seen.push(r.id);
                }
            }
            seen.sort_by(|a, b| b.cmp(a));
            seen.clone()
        }
    };
    let mut out = Vec::new();
    for id in ids {
        let run = home.run(&id);
        let _ = sched::tick(home, &run);
        match ops::status::collect_from_disk(home, &run, opts) {
            Ok(s) => out.push(s),
            // One run of many removed under us (gc): the others are still worth showing.
            Err(_) if *scope == Scope::All => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Whether `ch` may change what `scope` shows.
pub(crate) fn concerns(ch: &Changes, scope: &Scope) -> bool {
    match scope {
        Scope::All => {
            ch.rescan || !ch.runs.is_empty() || !ch.workers.is_empty() || !ch.logs.is_empty()
        }
        Scope::Run(run) => {
            ch.rescan
                || ch.runs.contains(run)
                || ch.workers.iter().chain(&ch.logs).any(|(r, _)| r == run)
        }
    }
}

/// What the preview shows of `row`: progress while it runs, the final message when
/// done, the error (and the last progress) when it ended otherwise.
pub fn preview(home: &Home, row: &Row) -> Preview {
    let v = &row.view;
    let address = row.address();
    let w = home.run(&row.run).worker(&v.label);
    let text_lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    let (title, lines, from_end) = match v.state {
        State::Done => match ops::output::final_message(home, &address) {
            Ok((_, bytes)) => (
                "result",
                text_lines(&String::from_utf8_lossy(&bytes)),
                false,
            ),
            Err(e) => ("result", vec![format!("{e:#}")], false),
        },
        State::Queued => (
            "waiting",
            vec![match &v.waiting_for {
                Some(r) => format!("waits for {r}"),
                None => "about to start".into(),
            }],
            false,
        ),
        State::Running | State::Starting | State::Paused => {
            let mut lines = Vec::new();
            if v.state == State::Paused {
                lines.push(format!(
                    "paused: waits for {}",
                    v.waiting_for
                        .as_deref()
                        .unwrap_or("the usage limit to reset")
                ));
            }
            if v.offline {
                lines.push(format!("offline: {}", v.error.as_deref().unwrap_or("")));
            }
            let progress = ops::output::progress_tail(&w, PREVIEW_LINES);
            if progress.is_empty() {
                lines.push("no progress yet".into());
            }
            lines.extend(progress);
            ("progress", lines, true)
        }
        _ => {
            let mut lines = text_lines(v.error.as_deref().unwrap_or("(no error recorded)"));
            let progress = ops::output::progress_tail(&w, 20);
            if !progress.is_empty() {
                lines.push(String::new());
                lines.push("last progress:".into());
                lines.extend(progress);
            }
            ("error", lines, false)
        }
    };
    Preview {
        address,
        title: title.into(),
        lines,
        from_end,
    }
}

/// A message from an action run off the loop (a stop waits out codex's grace).
type Done = String;

struct Dashboard {
    home: Home,
    opts: ViewOptions,
    model: Model,
    seen: Vec<String>,
    waker: Waker,
    keys: Receiver<Event>,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
    quit: Arc<AtomicBool>,
    term: term::Term,
}

impl Dashboard {
    fn new(home: Home, scope: Scope, opts: ViewOptions, watcher: &Watcher) -> Result<Dashboard> {
        let waker = watcher.waker();
        let quit = Arc::new(AtomicBool::new(false));
        {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
            let (quit, waker) = (quit.clone(), waker.clone());
            std::thread::spawn(move || {
                if signals.forever().next().is_some() {
                    quit.store(true, Ordering::SeqCst);
                    waker.wake();
                }
            });
        }
        let (term, keys) = term::Term::enter(waker.clone())?;
        let (done_tx, done_rx) = channel();
        Ok(Dashboard {
            model: Model::new(scope, crate::cli::render::color_enabled()),
            home,
            opts,
            seen: Vec::new(),
            waker,
            keys,
            done_tx,
            done_rx,
            quit,
            term,
        })
    }

    fn run(mut self, watcher: &mut Watcher) -> Result<i32> {
        let mut statuses: Vec<RunStatus> = Vec::new();
        let mut last_load: Option<Instant> = None;
        // Something changed state (or may have): read the runs again. Only logs grew:
        // re-read those workers.
        let mut dirty = true;
        let mut grown: BTreeSet<WorkerKey> = BTreeSet::new();
        let mut frame = MIN_FRAME;
        let mut preview_dirty = true;
        let mut draw = true;
        let mut last_draw = Instant::now();
        while !self.quit.load(Ordering::SeqCst) {
            let now = Instant::now();
            let live = self.model.rows.iter().any(|r| !r.view.state.is_final());
            let (full, part) = match last_load {
                None => (true, false),
                Some(t) => {
                    let may = now >= t + frame;
                    let sweep = live && now >= t + SWEEP;
                    (sweep || (dirty && may), !grown.is_empty() && may)
                }
            };
            if full || part {
                let t = Instant::now();
                if full {
                    statuses = load(&self.home, &self.model.scope, &mut self.seen, &self.opts)?;
                    preview_dirty = true;
                } else {
                    for s in statuses.iter_mut() {
                        let labels: Vec<String> = grown
                            .iter()
                            .filter(|(r, _)| *r == s.run)
                            .map(|(_, l)| l.clone())
                            .collect();
                        if !labels.is_empty() {
                            let run = self.home.run(&s.run);
                            ops::status::refresh_workers(&self.home, &run, s, &labels, &self.opts)?;
                        }
                    }
                }
                self.model.update(&statuses);
                // Reading may take at most about a fifth of the time between frames.
                frame = MIN_FRAME.max(t.elapsed() * 5);
                last_load = Some(Instant::now());
                dirty = false;
                grown.clear();
                draw = true;
            }
            if preview_dirty || self.preview_is_stale() {
                self.refresh_preview();
                preview_dirty = false;
                draw = true;
            }
            if draw || (live && now >= last_draw + CLOCK) {
                self.term.draw(&self.model)?;
                last_draw = Instant::now();
                draw = false;
            }
            // Sleep until a change, a key, the next allowed frame, the clock or the sweep
            // (live as of what was just read: the first look may have found workers).
            let live = self.model.rows.iter().any(|r| !r.view.state.is_final());
            let mut wake_at = Vec::new();
            if let Some(t) = last_load {
                if dirty || !grown.is_empty() {
                    wake_at.push(t + frame);
                }
                if live {
                    wake_at.push(t + SWEEP);
                    wake_at.push(last_draw + CLOCK);
                }
            }
            let timeout = wake_at
                .into_iter()
                .min()
                .map_or(Duration::from_secs(3600), |t| {
                    t.saturating_duration_since(Instant::now())
                });
            if let Some(ch) = watcher.next(timeout)
                && concerns(&ch, &self.model.scope)
            {
                if ch.rescan || !ch.runs.is_empty() || !ch.workers.is_empty() {
                    dirty = true;
                }
                grown.extend(ch.logs.iter().cloned());
                let sel = self.model.selected.clone();
                if ch.rescan
                    || ch
                        .workers
                        .iter()
                        .chain(&ch.logs)
                        .any(|(r, l)| sel.as_deref() == Some(&format!("{r}/{l}")))
                {
                    preview_dirty = true;
                }
            }
            while let Ok(msg) = self.done_rx.try_recv() {
                self.model.message = Some(msg);
                dirty = true;
                draw = true;
            }
            loop {
                let ev = match self.keys.try_recv() {
                    Ok(ev) => ev,
                    Err(TryRecvError::Empty) => break,
                    // The terminal is gone.
                    Err(TryRecvError::Disconnected) => return Ok(0),
                };
                draw = true;
                if let Event::Key(k) = ev
                    && let Some(a) = keys::action(&self.model.mode, k)
                {
                    // Back from attach or the pager: the workers went on meanwhile.
                    dirty |= matches!(
                        a,
                        Action::Attach | Action::Log | Action::Diff | Action::Merge
                    );
                    if self.act(a)? {
                        return Ok(0);
                    }
                }
            }
        }
        Ok(0)
    }

    fn preview_is_stale(&self) -> bool {
        self.model.selected.as_deref() != Some(self.model.preview.address.as_str())
    }

    fn refresh_preview(&mut self) {
        self.model.preview = match self.model.selected_row() {
            Some(r) => preview(&self.home, r),
            None => Preview::default(),
        };
    }

    fn selected_worker(&mut self) -> Option<WorkerDir> {
        let r = self.model.selected_row()?;
        Some(self.home.run(&r.run).worker(&r.view.label))
    }

    /// Carries out `a`; true to quit.
    fn act(&mut self, a: Action) -> Result<bool> {
        let m = &mut self.model;
        match a {
            Action::Quit => return Ok(true),
            Action::Move(d) => m.move_by(d),
            Action::First => m.move_to_end(false),
            Action::Last => m.move_to_end(true),
            Action::Scroll(d) => {
                // Up means older lines in a progress tail, earlier text in a result.
                let d = if m.preview.from_end { -d } else { d };
                m.scroll_by(d)
            }
            Action::ToggleOrder => m.toggle_order(),
            Action::Help => m.mode = Mode::Help,
            Action::Cancel => {
                if m.mode == Mode::Normal {
                    m.message = None;
                }
                m.cancel()
            }
            Action::AskFilter => m.open_input(InputKind::Filter),
            Action::AskSend | Action::AskResume | Action::AskStop if m.selected.is_none() => {
                m.message = Some("no worker selected".into());
            }
            Action::AskSend => m.open_input(InputKind::Send),
            Action::AskResume => m.open_input(InputKind::Resume),
            Action::AskStop => m.mode = Mode::ConfirmStop(m.selected.clone().unwrap_or_default()),
            Action::Type(c) => m.type_char(c, false),
            Action::Erase => m.type_char(' ', true),
            Action::Confirm => {
                let Mode::ConfirmStop(address) = std::mem::replace(&mut m.mode, Mode::Normal)
                else {
                    return Ok(false);
                };
                self.stop(&address);
            }
            Action::Submit => {
                let Mode::Input(input) = std::mem::replace(&mut m.mode, Mode::Normal) else {
                    return Ok(false);
                };
                self.submit(input);
            }
            Action::Retry => {
                if let Some(w) = self.selected_worker() {
                    let home = self.home.clone();
                    self.background(format!("retrying {}…", w.address()), move || {
                        let run = home.run(&w.run);
                        let r = ops::retry::retry(&home, &run, Some(w.clone()))?;
                        r.start?;
                        Ok(format!(
                            "{} retried: {}",
                            w.address(),
                            crate::lifecycle::state::state_of(&w)
                        ))
                    });
                }
            }
            Action::Attach => {
                if let Some(w) = self.selected_worker() {
                    let r = ops::window::attach_command(&self.home, &w)
                        .and_then(|mut c| self.term.suspended(|| Ok(c.status()?)));
                    self.model.message = Some(match r {
                        Ok(s) if s.success() => format!("back from {}", w.address()),
                        Ok(s) => format!("tmux attach to {} ended with {s}", w.address()),
                        Err(e) => format!("{e:#}"),
                    });
                }
            }
            Action::Log => {
                if let Some(w) = self.selected_worker() {
                    let text = ops::output::read_logs(
                        &self.home,
                        &w.address(),
                        ops::output::LogKind::Readable,
                        None,
                    )
                    .map(|r| {
                        let mut t = r.lines.join("\n");
                        if let Some(n) = r.note {
                            t.push_str(&format!("\n{n}"));
                        }
                        t + "\n"
                    });
                    self.page(text);
                }
            }
            Action::Diff => {
                if let Some(w) = self.selected_worker() {
                    let text = ops::worktree::diff(&w, false);
                    self.page(text);
                }
            }
            Action::Merge => {
                let run =
                    self.model
                        .selected_row()
                        .map(|r| r.run.clone())
                        .or(match &self.model.scope {
                            Scope::Run(r) => Some(r.clone()),
                            Scope::All => None,
                        });
                if let Some(run) = run {
                    let text = ops::merge::merge_run(&self.home, Some(&run), &Default::default())
                        .map(|merged| match merged.partial {
                            Some(why) => format!("{why}\n\n{}", merged.markdown),
                            None => merged.markdown,
                        });
                    self.page(text);
                }
            }
        }
        Ok(false)
    }

    fn submit(&mut self, input: model::Input) {
        let Some(address) = input.target.clone() else {
            return; // the filter: already applied as typed
        };
        let Some(row) = self.model.rows.iter().find(|r| r.address() == address) else {
            self.model.message = Some(format!("{address} is no longer shown"));
            return;
        };
        let w = self.home.run(&row.run).worker(&row.view.label);
        let home = self.home.clone();
        match input.kind {
            InputKind::Filter => {}
            InputKind::Send => {
                let text = input.text;
                self.background(format!("sending to {address}…"), move || {
                    Ok(ops::send::send(&w, &text, false)?.describe())
                });
            }
            InputKind::Resume => {
                let prompt = if input.text.trim().is_empty() {
                    ops::resume::DEFAULT_PROMPT.to_string()
                } else {
                    input.text
                };
                self.background(format!("resuming {address}…"), move || {
                    Ok(ops::resume::resume(&home, &w, &prompt)?.describe(&w))
                });
            }
        }
    }

    fn stop(&mut self, address: &str) {
        let Some(row) = self.model.rows.iter().find(|r| r.address() == address) else {
            return;
        };
        let w = self.home.run(&row.run).worker(&row.view.label);
        let home = self.home.clone();
        self.background(format!("stopping {address}…"), move || {
            let out = ops::stop::stop_all(&home, std::slice::from_ref(&w), STOP_GRACE)?;
            Ok(out
                .iter()
                .map(|(w, st)| format!("{} {st}", w.address()))
                .collect::<Vec<_>>()
                .join(", "))
        });
    }

    /// Runs `f` off the loop, showing `busy` until it reports.
    fn background(&mut self, busy: String, f: impl FnOnce() -> Result<String> + Send + 'static) {
        self.model.message = Some(busy);
        let (tx, waker) = (self.done_tx.clone(), self.waker.clone());
        std::thread::spawn(move || {
            let msg = f().unwrap_or_else(|e| format!("{e:#}"));
            let _ = tx.send(msg);
            waker.wake();
        });
    }

    /// Shows `text` in the user's pager ($PAGER, else `less`), off the dashboard's
    /// screen; an error goes to the message line instead.
    fn page(&mut self, text: Result<String>) {
        let r = text.and_then(|t| self.term.suspended(|| term::page(&t)));
        if let Err(e) = r {
            self.model.message = Some(format!("{e:#}"));
        }
    }
}
