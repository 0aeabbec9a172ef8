//! The one place that watches the file system: "something under these workers changed",
//! used by `wait`, `watch` and `top`.
//!
//! inotify (through notify's raw watcher, no debouncer: the finish path must cost
//! microseconds, not a debounce window). The watches are bounded by what is active, not
//! by what is on disk, so 5,000 old runs cost nothing:
//! - `runs/` itself (a new run) and `changes/`, where every state transition of a worker
//!   touches a file named after its run (`lifecycle::transition`): two watches tell the
//!   watcher of a change in any run at all;
//! - each *followed* run: its folder, its `workers/` and each worker folder (non-
//!   recursively: 3 + workers watches). A run is followed from the start when it changed
//!   in the last [`FOLLOW_RECENT`], and from its first change otherwise.
//!
//! inotify can miss things, and the callers re-derive state from disk to cover for it:
//! - files made in a new folder before notify has added its watch: a new folder is
//!   reported at once *and* again a moment later, when its watch surely exists;
//! - queue overflow (notify's `Flag::Rescan`) or an error: `rescan` asks for a full look;
//! - a process that dies writes nothing: callers sweep their live workers every second.
//!
//! `--poll MS` (network file systems) uses notify's `PollWatcher` on the same paths;
//! running out of inotify watches or instances falls back to it with a warning.
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

/// Runs that changed this recently are followed from the start.
pub const FOLLOW_RECENT: Duration = Duration::from_secs(24 * 3600);

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
    /// Only the worker's logs grew (events.jsonl, stderr.log, or the summary cache of
    /// events.jsonl): activity, not state.
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

/// Dropping a notify watcher stops it; the helper is held for the same reason.
#[allow(dead_code)]
enum Backend {
    Inotify(RecommendedWatcher),
    Poll(PollWatcher),
    /// Dropping it closes the helper's stdin, which ends the helper.
    Helper(Child, std::process::ChildStdin),
}

impl Backend {
    fn watch(&mut self, path: &Path) -> notify::Result<()> {
        match self {
            Backend::Inotify(w) => w.watch(path, RecursiveMode::NonRecursive),
            Backend::Poll(w) => w.watch(path, RecursiveMode::NonRecursive),
            Backend::Helper(..) => Ok(()),
        }
    }
}

pub struct Watcher {
    root: PathBuf,
    /// `$ORCH_HOME/changes`: one file per run, touched on each of its transitions.
    changes: PathBuf,
    /// Runs whose folders are watched, and every path watched.
    followed: BTreeSet<String>,
    watched: Vec<PathBuf>,
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
        let changes = home.changes_dir();
        crate::store::fsutil::create_private_dir(&changes)
            .with_context(|| format!("cannot create {}", changes.display()))?;
        let (tx, rx) = channel();
        let (backend, mode) = match mode {
            Mode::Poll(every) => (poll_backend(&tx, every)?, mode),
            Mode::Inotify => match inotify_backend(&tx) {
                Ok(b) => (b, mode),
                Err(e) if out_of_watches(&e) => {
                    warn_fallback(&e);
                    (poll_backend(&tx, FALLBACK_POLL)?, Mode::Poll(FALLBACK_POLL))
                }
                Err(e) => return Err(e).context("cannot start watching"),
            },
        };
        let mut w = Watcher::with(home, tx, rx, backend, mode);
        w.add(&root)
            .with_context(|| format!("cannot watch {}", root.display()))?;
        w.add(&changes)
            .with_context(|| format!("cannot watch {}", changes.display()))?;
        for run in recent_runs(home) {
            w.follow(&run);
        }
        Ok(w)
    }

    fn with(
        home: &Home,
        tx: Sender<Msg>,
        rx: Receiver<Msg>,
        backend: Backend,
        mode: Mode,
    ) -> Watcher {
        Watcher {
            root: home.runs_dir(),
            changes: home.changes_dir(),
            followed: BTreeSet::new(),
            watched: Vec::new(),
            tx,
            rx,
            backend,
            mode,
            relook: Vec::new(),
        }
    }

    /// How many paths are watched (inotify watches, or polled folders).
    pub fn watch_count(&self) -> usize {
        self.watched.len()
    }

    /// Watches `path`; out of inotify watches, moves every watch to polling first.
    fn add(&mut self, path: &Path) -> notify::Result<()> {
        let r = match self.backend.watch(path) {
            Err(e) if out_of_watches(&e) && matches!(self.backend, Backend::Inotify(_)) => {
                warn_fallback(&e);
                self.switch_to_polling();
                self.backend.watch(path)
            }
            r => r,
        };
        if r.is_ok() {
            self.watched.push(path.to_path_buf());
        }
        r
    }

    fn switch_to_polling(&mut self) {
        let Ok(mut b) = poll_backend(&self.tx, FALLBACK_POLL) else {
            return;
        };
        for p in &self.watched {
            let _ = b.watch(p);
        }
        self.backend = b;
        self.mode = Mode::Poll(FALLBACK_POLL);
    }

    /// Starts watching a run's folders (once); a folder that is gone is skipped.
    fn follow(&mut self, run: &str) {
        if matches!(self.backend, Backend::Helper(..)) || !self.followed.insert(run.to_string()) {
            return;
        }
        let dir = self.root.join(run);
        // A linked run folder is left alone (inotify would follow the link).
        if !crate::store::is_real_dir(&dir) {
            return;
        }
        let workers = dir.join("workers");
        let _ = self.add(&dir);
        let _ = self.add(&workers);
        for label in folder_names(&workers) {
            let _ = self.add(&workers.join(label));
        }
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
            Ok(backend) => Ok(Watcher::with(home, tx, rx, backend, mode)),
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
                    self.switch_to_polling();
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
            let c = match c {
                // A transition in some run: follow it, and have every worker of it looked
                // at (the marker does not say which one changed).
                Touched::Marker(run) => {
                    self.follow(&run);
                    let labels = folder_names(&self.root.join(&run).join("workers"));
                    out.workers
                        .extend(labels.into_iter().map(|l| (run.clone(), l)));
                    Touched::Run(run)
                }
                Touched::Run(run) if new_folder && path.parent() == Some(self.root.as_path()) => {
                    self.follow(&run);
                    Touched::Run(run)
                }
                Touched::Worker(key)
                    if new_folder
                        && path.parent().and_then(Path::file_name) == Some("workers".as_ref()) =>
                {
                    if self.followed.contains(&key.0) {
                        let _ = self.add(path);
                    }
                    Touched::Worker(key)
                }
                c => c,
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

    /// Maps a path under `runs/` (or a marker in `changes/`) to what it belongs to.
    fn classify(&self, path: &Path) -> Option<Touched> {
        if path.parent() == Some(self.changes.as_path()) {
            let name = path.file_name()?.to_str()?;
            return (!name.starts_with('.')).then(|| Touched::Marker(name.to_string()));
        }
        if path == self.changes {
            return Some(Touched::Everything);
        }
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
                    // The summary cache is written by whoever reads a grown log (status,
                    // the dashboard): counted as a state change, every look would make
                    // the dashboard look again.
                    ["events.jsonl" | "stderr.log" | "events.summary.json"] => {
                        Some(Touched::Logs(key))
                    }
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
    /// The run's marker in `changes/`: some worker of it changed state.
    Marker(String),
    Run(String),
    Worker(WorkerKey),
    Logs(WorkerKey),
}

impl Touched {
    fn into(self, out: &mut Changes) {
        match self {
            Touched::Everything => out.rescan = true,
            Touched::Run(r) | Touched::Marker(r) => {
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

fn inotify_backend(tx: &Sender<Msg>) -> notify::Result<Backend> {
    let tx = tx.clone();
    // notify follows links by default; a linked run folder in runs/ is left alone.
    let w = RecommendedWatcher::new(
        move |r| {
            let _ = tx.send(Msg::Fs(r));
        },
        notify::Config::default().with_follow_symlinks(false),
    )?;
    Ok(Backend::Inotify(w))
}

fn poll_backend(tx: &Sender<Msg>, every: Duration) -> Result<Backend> {
    let tx = tx.clone();
    let config = notify::Config::default()
        .with_poll_interval(every)
        .with_follow_symlinks(false);
    let w = PollWatcher::new(
        move |r| {
            let _ = tx.send(Msg::Fs(r));
        },
        config,
    )
    .context("cannot start polling")?;
    Ok(Backend::Poll(w))
}

/// The names of the folders in `dir` (none if it is gone).
fn folder_names(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// Runs that changed within [`FOLLOW_RECENT`]: by their marker in `changes/`, else (runs
/// of older versions, which have none) by their `workers/` folder.
fn recent_runs(home: &Home) -> Vec<String> {
    let changes = home.changes_dir();
    let fresh = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < FOLLOW_RECENT)
    };
    folder_names(&home.runs_dir())
        .into_iter()
        .filter(|run| {
            let marker = changes.join(run);
            if marker.exists() {
                fresh(&marker)
            } else {
                fresh(&home.runs_dir().join(run).join("workers"))
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn old(path: &Path) {
        let t = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }

    fn make_run(home: &Home, id: &str, workers: usize, stale: bool) {
        let w = home.runs_dir().join(id).join("workers");
        for i in 1..=workers {
            std::fs::create_dir_all(w.join(format!("W{i}"))).unwrap();
        }
        let marker = home.changes_dir().join(id);
        std::fs::create_dir_all(home.changes_dir()).unwrap();
        std::fs::write(&marker, "").unwrap();
        if stale {
            old(&marker);
        }
    }

    /// 300 runs that ended long ago cost no watches; a change in one of them is still
    /// heard (through its marker) and the run is followed from then on.
    #[test]
    fn watches_grow_with_active_runs_not_with_runs_on_disk() {
        let t = tempfile::tempdir().unwrap();
        let home = Home::open(t.path().to_path_buf()).unwrap();
        for i in 0..300 {
            make_run(&home, &format!("old-{i:03}"), 3, true);
        }
        make_run(&home, "live", 4, false);
        let mut w = Watcher::new(&home, Mode::Inotify).unwrap();
        // runs/ and changes/, plus the live run: its folder, workers/ and 4 workers.
        assert_eq!(w.watch_count(), 2 + 2 + 4, "{:?}", w.watched);

        // A worker of an old run is retried: its transition touches the marker.
        std::fs::write(home.changes_dir().join("old-007"), "").unwrap();
        let ch = w.next(Duration::from_secs(5)).expect("a change");
        assert!(ch.runs.contains("old-007"), "{ch:?}");
        assert!(
            ch.workers
                .contains(&("old-007".to_string(), "W2".to_string())),
            "every worker of the run is to be looked at: {ch:?}"
        );
        assert_eq!(w.watch_count(), 8 + 2 + 3);

        // Followed now: a record written in one of its workers is seen as that worker.
        let exit = home.runs_dir().join("old-007/workers/W2/exit.json");
        std::fs::write(&exit, "{}").unwrap();
        let ch = w.next(Duration::from_secs(5)).expect("a change");
        assert!(
            ch.workers
                .contains(&("old-007".to_string(), "W2".to_string())),
            "{ch:?}"
        );
    }

    /// A new run is followed as soon as its folder appears.
    #[test]
    fn a_new_run_is_followed() {
        let t = tempfile::tempdir().unwrap();
        let home = Home::open(t.path().to_path_buf()).unwrap();
        let mut w = Watcher::new(&home, Mode::Inotify).unwrap();
        assert_eq!(w.watch_count(), 2);
        std::fs::create_dir_all(home.runs_dir().join("r1")).unwrap();
        let ch = w.next(Duration::from_secs(5)).expect("a change");
        assert!(ch.runs.contains("r1"), "{ch:?}");
        assert!(w.watch_count() >= 3, "{:?}", w.watched);
    }
}
