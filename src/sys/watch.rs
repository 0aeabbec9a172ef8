//! The one place that watches the file system: "something under these workers changed",
//! used by `wait`, `watch` and `top`.
//!
//! inotify (through notify's raw watcher, no debouncer: the finish path must cost
//! microseconds, not a debounce window) on `$ORCH_HOME/runs`, recursively. inotify can
//! miss things, and the callers re-derive state from disk to cover for it:
//! - files made in a new folder before notify has added its watch: a new folder is
//!   reported at once *and* again a moment later, when its watch surely exists;
//! - queue overflow (notify's `Flag::Rescan`) or an error: `rescan` asks for a full look;
//! - a process that dies writes nothing: callers sweep their live workers every second.
//!
//! `--poll MS` (network file systems) uses notify's `PollWatcher`; running out of
//! inotify watches or instances falls back to it with a warning.
//!
//! Closing an inotify instance that had watches costs ~8 ms in the kernel (an SRCU
//! grace period, measured on Linux 6.x), and a process's exit waits for it. For
//! `orch wait`, whose exit *is* the answer, [`Watcher::detached`] keeps the instance in
//! a helper process (`orch __watch`) that reports changes over a pipe and pays that
//! cost after `wait` has gone.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use notify::event::{CreateKind, EventKind, Flag};
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _};
use serde::{Deserialize, Serialize};

use crate::store::Home;

/// How a watcher learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Inotify,
    Poll(Duration),
}

impl Mode {
    /// From `--poll [MS]`.
    pub fn from_poll(poll: Option<u64>) -> Mode {
        match poll {
            Some(ms) => Mode::Poll(Duration::from_millis(ms.max(10))),
            None => Mode::Inotify,
        }
    }
}

/// Polling interval used when inotify runs out of watches.
const FALLBACK_POLL: Duration = Duration::from_millis(500);

/// A new folder is looked at again this long after its creation event, by which time
/// notify has added its watch (it does so right after delivering the event).
const NEW_FOLDER_RELOOK: Duration = Duration::from_millis(100);

/// A worker is `(run, label)`.
pub type WorkerKey = (String, String);

/// What changed since the last call. Paths are mapped to the runs and workers they
/// belong to; callers re-read those from disk.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Anything may have changed (overflow, error, mode switch): look at everything.
    pub rescan: bool,
    /// Run-level changes: a new run or worker folder list, run.json.
    pub runs: BTreeSet<String>,
    /// A record of the worker changed (exit.json, launch.json, started.json, …).
    pub workers: BTreeSet<WorkerKey>,
    /// Only the worker's logs grew (events.jsonl, stderr.log): activity, not state.
    pub logs: BTreeSet<WorkerKey>,
    /// Someone called [`Waker::wake`].
    pub woken: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }
    fn merge(&mut self, o: Changes) {
        self.rescan |= o.rescan;
        self.woken |= o.woken;
        self.runs.extend(o.runs);
        self.workers.extend(o.workers);
        self.logs.extend(o.logs);
    }
}

enum Msg {
    Fs(notify::Result<notify::Event>),
    /// A batch from the helper process.
    Batch(Changes),
    Wake,
}

/// Interrupts a blocked [`Watcher::next`] from another thread (key presses, signals).
#[derive(Clone)]
pub struct Waker(Sender<Msg>);

impl Waker {
    pub fn wake(&self) {
        let _ = self.0.send(Msg::Wake);
    }
}

/// Held only to keep watching: dropping a notify watcher stops it.
#[allow(dead_code)]
enum Backend {
    Inotify(RecommendedWatcher),
    Poll(PollWatcher),
    /// Dropping it closes the helper's stdin, which ends the helper.
    Helper(Child, std::process::ChildStdin),
}

pub struct Watcher {
    root: PathBuf,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    backend: Backend,
    mode: Mode,
    /// New folders to report again once their watch exists.
    relook: Vec<(Instant, Changes)>,
}

impl Watcher {
    /// Watches every run under `home`. Create it *before* the first look at the disk,
    /// so nothing that happens in between is missed.
    pub fn new(home: &Home, mode: Mode) -> Result<Watcher> {
        let root = home.runs_dir();
        let (tx, rx) = channel();
        let (backend, mode) = match mode {
            Mode::Poll(every) => (poll_backend(&root, &tx, every)?, mode),
            Mode::Inotify => match inotify_backend(&root, &tx) {
                Ok(b) => (b, mode),
                Err(e) if out_of_watches(&e) => {
                    warn_fallback(&e);
                    (
                        poll_backend(&root, &tx, FALLBACK_POLL)?,
                        Mode::Poll(FALLBACK_POLL),
                    )
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot watch {}", root.display()));
                }
            },
        };
        Ok(Watcher {
            root,
            tx,
            rx,
            backend,
            mode,
            relook: Vec::new(),
        })
    }

    /// Like [`Watcher::new`], but inotify runs in an `orch __watch` helper process so
    /// that this process can exit without waiting for the kernel to tear it down.
    /// Falls back to watching in-process if the helper cannot start.
    pub fn detached(home: &Home, mode: Mode) -> Result<Watcher> {
        if mode != Mode::Inotify {
            return Watcher::new(home, mode);
        }
        let (tx, rx) = channel();
        match spawn_helper(home, &tx) {
            Ok(backend) => Ok(Watcher {
                root: home.runs_dir(),
                tx,
                rx,
                backend,
                mode,
                relook: Vec::new(),
            }),
            Err(_) => Watcher::new(home, mode),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn waker(&self) -> Waker {
        Waker(self.tx.clone())
    }

    /// Blocks until something changes or `timeout` passes (`None`). Returns everything
    /// already queued at that moment in one batch, without waiting for more.
    pub fn next(&mut self, timeout: Duration) -> Option<Changes> {
        let deadline = Instant::now() + timeout;
        let mut out = Changes::default();
        loop {
            let now = Instant::now();
            self.take_due_relooks(now, &mut out);
            if !out.is_empty() {
                break;
            }
            let until = self
                .relook
                .iter()
                .map(|(t, _)| *t)
                .min()
                .map_or(deadline, |t| t.min(deadline));
            match self.rx.recv_timeout(until.saturating_duration_since(now)) {
                Ok(msg) => self.absorb(msg, &mut out),
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    self.take_due_relooks(Instant::now(), &mut out);
                    return (!out.is_empty()).then_some(out);
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Cannot happen while we hold `tx`; treat it as "look at everything".
                Err(RecvTimeoutError::Disconnected) => {
                    out.rescan = true;
                }
            }
        }
        while let Ok(msg) = self.rx.try_recv() {
            self.absorb(msg, &mut out);
        }
        Some(out)
    }

    fn take_due_relooks(&mut self, now: Instant, out: &mut Changes) {
        let mut i = 0;
        while i < self.relook.len() {
            if self.relook[i].0 <= now {
                out.merge(self.relook.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
    }

    fn absorb(&mut self, msg: Msg, out: &mut Changes) {
        let event = match msg {
            Msg::Wake => {
                out.woken = true;
                return;
            }
            Msg::Batch(c) => {
                out.merge(c);
                return;
            }
            Msg::Fs(Ok(ev)) => ev,
            Msg::Fs(Err(e)) => {
                if out_of_watches(&e) && matches!(self.backend, Backend::Inotify(_)) {
                    // A new folder could not be watched: inotify would now miss things.
                    warn_fallback(&e);
                    if let Ok(b) = poll_backend(&self.root, &self.tx, FALLBACK_POLL) {
                        self.backend = b;
                        self.mode = Mode::Poll(FALLBACK_POLL);
                    }
                }
                out.rescan = true;
                return;
            }
        };
        if event.flag() == Some(Flag::Rescan) {
            out.rescan = true;
            return;
        }
        // Our own reads (and every reader's) show up as opens: never a change.
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let new_folder = matches!(event.kind, EventKind::Create(CreateKind::Folder));
        let is_create = matches!(event.kind, EventKind::Create(_));
        for path in &event.paths {
            let Some(c) = self.classify(path) else {
                continue;
            };
            if new_folder || (is_create && path.is_dir()) {
                let mut again = Changes::default();
                c.clone().into(&mut again);
                self.relook
                    .push((Instant::now() + NEW_FOLDER_RELOOK, again));
            }
            c.into(out);
        }
    }

    /// Maps a path under `runs/` to what it belongs to.
    fn classify(&self, path: &Path) -> Option<Touched> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        match parts.as_slice() {
            [] => Some(Touched::Everything),
            [run] | [run, _] if !run.starts_with('.') => Some(Touched::Run(run.to_string())),
            [run, "workers", label, rest @ ..] => {
                let key = (run.to_string(), label.to_string());
                match rest {
                    // Atomic writes go through `.tmp-*` and end in a rename we also see.
                    [name] if name.starts_with(".tmp-") => None,
                    ["events.jsonl" | "stderr.log"] => Some(Touched::Logs(key)),
                    _ => Some(Touched::Worker(key)),
                }
            }
            _ => None,
        }
    }
}

#[derive(Clone)]
enum Touched {
    Everything,
    Run(String),
    Worker(WorkerKey),
    Logs(WorkerKey),
}

impl Touched {
    fn into(self, out: &mut Changes) {
        match self {
            Touched::Everything => out.rescan = true,
            Touched::Run(r) => {
                out.runs.insert(r);
            }
            Touched::Worker(k) => {
                out.workers.insert(k);
            }
            Touched::Logs(k) => {
                out.logs.insert(k);
            }
        }
    }
}

fn inotify_backend(root: &Path, tx: &Sender<Msg>) -> notify::Result<Backend> {
    let tx = tx.clone();
    let mut w = notify::recommended_watcher(move |r| {
        let _ = tx.send(Msg::Fs(r));
    })?;
    w.watch(root, RecursiveMode::Recursive)?;
    Ok(Backend::Inotify(w))
}

fn poll_backend(root: &Path, tx: &Sender<Msg>, every: Duration) -> Result<Backend> {
    let tx = tx.clone();
    let config = notify::Config::default().with_poll_interval(every);
    let mut w = PollWatcher::new(
        move |r| {
            let _ = tx.send(Msg::Fs(r));
        },
        config,
    )
    .context("cannot start polling")?;
    w.watch(root, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", root.display()))?;
    Ok(Backend::Poll(w))
}

/// inotify watch or instance limits (ENOSPC on add_watch, EMFILE on init).
fn out_of_watches(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => matches!(
            io.raw_os_error(),
            Some(c) if c == nix::libc::ENOSPC || c == nix::libc::EMFILE
        ),
        _ => false,
    }
}

fn warn_fallback(e: &notify::Error) {
    eprintln!(
        "orch: inotify limit reached ({e}); polling every {} ms instead (raise fs.inotify.max_user_watches / max_user_instances to avoid this)",
        FALLBACK_POLL.as_millis()
    );
}

/// Starts `orch __watch` and returns once its watches are in place.
fn spawn_helper(home: &Home, tx: &Sender<Msg>) -> Result<Backend> {
    let exe = std::env::current_exe().context("cannot find the orch program itself")?;
    let mut child = Command::new(exe)
        .arg("__watch")
        .arg("--home")
        .arg(&home.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the watch helper")?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    if !matches!(lines.next(), Some(Ok(l)) if l == "ready") {
        let _ = child.kill();
        let _ = child.wait();
        bail!("the watch helper did not start");
    }
    let tx = tx.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(c) = serde_json::from_str::<Changes>(&line) {
                let _ = tx.send(Msg::Batch(c));
            }
        }
        // The helper is gone: from now on only the caller's sweeps see changes.
        let _ = tx.send(Msg::Fs(Err(notify::Error::generic("watch helper ended"))));
    });
    Ok(Backend::Helper(child, stdin))
}

/// `orch __watch`: watches `home` and prints one JSON [`Changes`] per line, after a
/// first line `ready`; ends when its stdin closes (its caller is gone).
pub fn helper(home: &Home) -> Result<i32> {
    let mut w = Watcher::new(home, Mode::Inotify)?;
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    loop {
        if let Some(c) = w.next(Duration::from_secs(3600)) {
            let line = serde_json::to_string(&c)?;
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                return Ok(0);
            }
        }
    }
}
