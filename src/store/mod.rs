//! The on-disk protocol: every file orch keeps, who writes it, how, and in which order.
//! There is no daemon and no cache; a worker's state is derived from its folder alone
//! (`lifecycle::state`). `tests/layers.rs` checks that every path the code touches is
//! named here.
//!
//! ```text
//! $ORCH_HOME/                 (0700; `ORCH_HOME`, else ~/.local/state/orch)
//!   runs/<run>/               one run; <run> is YYYYMMDD-HHMM-xyz, so name order is age
//!     run.json                RunRecord. ops (new run), ops::spawn::set_max_parallel,
//!                             cli fanout/run (stages, merge_on_finish). [A]
//!     run.lock                flock; held while workers are added, scheduled, retried,
//!                             resumed or a retry is cancelled (RunDir::lock).
//!     findings.schema.json    copy of the shipped schema for `--output-schema`; written
//!                             once by ops::spawn when missing. [A]
//!     merge.md                the merge report: `orch merge`, or ops::merge after the
//!                             last worker of a `fanout --merge` run ended. [A]
//!     synthesis.md            final message of the run's `synthesis` worker. [A]
//!     run-end.json            the run ends `watch --on-run-end` hooks were told of, per
//!                             hook command (store::run_end), written AFTER the hook
//!                             succeeded, under run-end.lock (flock). [A]
//!     summary.json            `orch ls`'s cached line of an ended run, stamped with the
//!                             mtimes of run.json and each worker folder (ops::listing);
//!                             trusted only while the stamp matches. [U]
//!     workers/<label>/        one worker (0700), made by ops::spawn
//!       prompt.md             the task as given.            ] transition::create, one
//!       env                   spawner's environment, NUL-   ] batch: data fsynced,
//!                             separated (store::envfile);   ] renamed in this order,
//!                             rewritten by a manual retry.  ] spec.json LAST, then
//!       spec.json             WorkerSpec, written once.     ] the folder fsynced. [B]
//!       input.md              prompt + dependencies' final messages (sched::launch), or
//!                             the prompt of `orch resume` (transition::queue_resume);
//!                             fed instead of prompt.md when present. [A]
//!       resume.json           ResumeRequest (transition::queue_resume): continue a codex
//!                             thread; removed by the launch that used it. [A]
//!       launch.json           LaunchRecord {attempt, codex, resume_thread}
//!                             (transition::launched, from sched::launch) BEFORE the
//!                             tmux window exists. [A]
//!                             Older orch kept the window id inside it (`window_id`).
//!       window                the tmux window id (`@12`), written after the window is
//!                             made, and by the wrapper as it starts (from $TMUX_PANE);
//!                             ops::window finds and rewrites a missing one by run,
//!                             label and wrapper pid. [U] A torn one only hides the window.
//!       live.lock             flock held by the `__worker` wrapper for its whole life and
//!                             inherited by codex: locked = alive. Readers try a shared
//!                             lock (fsutil::is_locked); the kernel drops it on death.
//!       started.json          StartRecord {wrapper_pid, codex_pid, boot_id}
//!                             (transition::started): the wrapper, once it holds
//!                             live.lock and codex is spawned. [A]
//!       events.jsonl          codex's JSON events, appended by the wrapper line by line
//!                             as they arrive. [append, unsynced]
//!       events.summary.json   cache of what events.jsonl adds up to (tokens, thread, last
//!                             activity) and the byte offset, inode and hash it covers
//!                             (lifecycle::activity): written by the wrapper as it goes
//!                             and by readers that brought it up to date. [U] A cache
//!                             that does not match the log is ignored.
//!       stderr.log            codex's stderr. [append, unsynced]
//!       last-message.md       codex's final message (`codex -o`); empty on failure.
//!       stop.json             StopRequest (transition::request_stop, from `orch stop`;
//!                             with a reason from `wait --kill-stalled`):
//!                             the wrapper then records `stopped`, and no automatic
//!                             retry follows. [A]
//!       pause.json            PauseRecord {since, until, resets_at, message, thread_id}
//!                             (transition::paused): codex's turn failed on a usage
//!                             limit and the wrapper waits in its window; `paused` only
//!                             while live.lock is held. Removed by transition::resumed
//!                             before codex continues. [A]
//!       continue.md           the prompt that continues a paused conversation
//!                             (transition::resumed); fed instead of input.md. [A]
//!       offline.json          OfflineRecord {since} (transition::offline): codex only
//!                             reports `waiting for network`; removed at the next
//!                             progress (transition::online). A flag, not a state. [A]
//!       inbox/                (0700) messages `orch send` queued for the worker; not
//!                             part of an attempt (a retry or resume keeps it):
//!         NNNN.md             one pending message (0001.md, 0002.md, …; numbers never
//!                             repeat), written by ops::send through store::inbox under
//!                             inbox.lock. [A] Delivered in name order, one per turn.
//!         delivered/NNNN.md   a message codex has started a turn on, moved here by the
//!                             wrapper (lifecycle::inbox) at that turn's `turn.started`;
//!                             both folders fsynced. [rename]
//!         sending.json        inbox::Sending {message, attempt, events_offset}: the
//!                             wrapper, BEFORE it starts codex with that message; removed
//!                             after the move to delivered/. A crash leaves it: the next
//!                             look finds a `turn.started` after the offset in that
//!                             attempt's events.jsonl (delivered) or none (pending). [A]
//!         now.json            SteerRequest {codex_pid} (transition::request_steer, from
//!                             `orch send --now`), written after the message and before
//!                             Ctrl-C to that codex: the wrapper then continues with the
//!                             inbox instead of recording `stopped`; removed by the
//!                             wrapper (transition::steered). [A]
//!       inbox.lock            flock: a send (state check + write) and the wrapper's
//!                             decision to end (no message pending → exit.json written
//!                             under it) exclude each other, so no message is queued
//!                             for a worker that is ending (store::inbox).
//!       retry.json            retry::Plan {attempt, of, at, reason} (retry::PLAN_FILE):
//!                             transition::ended writes it BEFORE exit.json. [A]
//!       exit.json             ExitRecord, the final word on an attempt [A], written only
//!                             by lifecycle::transition: `ended` (the wrapper),
//!                             `never_ran` (skipped, failed launch, stopped while queued),
//!                             `failed_early` (a wrapper that could not start codex),
//!                             `cancel_retry` (stopped during a retry's back-off).
//!       setup.log             output of the worktree's setup command (`--setup`, or
//!                             `.orch/worktree-setup`), run by the wrapper in the
//!                             worktree before codex starts. [append, unsynced]
//!       landed.json           LandRecord {landed_at, into, mode, commit, branch_tip}
//!                             (transition::landed, from `orch land`): the worker's
//!                             branch was applied to `into`. A flag, not a state. [A]
//!       attempt-N/            an earlier attempt's files (launch.json, started.json,
//!                             input.md, events.jsonl, events.summary.json, stderr.log,
//!                             last-message.md, exit.json, stop.json, resume.json,
//!                             window, pause.json, continue.md, offline.json), moved here
//!                             by transition::requeue before a retry.
//!   writers/<hash>.lock       flock of one working tree (hash of its git top level;
//!                             lifecycle::writer): held by the one writing worker's
//!                             wrapper for its attempt; holds the tree's path as text
//!                             (plain write, unsynced, for a person looking).
//!   worktrees/<run>/<label>/  the git worktree of a `spawn --worktree` worker, on its
//!                             branch `orch/<run>/<label>` (ops::worktree, `git worktree
//!                             add`); outside runs/ so codex's edits there wake no
//!                             watcher, and never inside the user's checkout. Removed
//!                             by `orch gc` with its run (`git worktree remove`).
//!   worktrees/add.lock        flock held while a worktree is added, so two spawns never
//!                             run `git worktree add` on one repository at once.
//!   changes/<run>             an empty file per run whose mtime lifecycle::transition
//!                             sets after every transition of one of its workers, so a
//!                             watcher hears of a change in any run through one folder
//!                             (sys::watch). [utimensat, unsynced]
//!   watch/delivered.json      notifications `orch watch` has delivered, and the ones
//!                             being delivered (claimed), per subscriber; read and
//!                             rewritten under watch/delivered.lock. [A]
//!   watch/watchers/ID.lock    flock held by one running `orch watch` for its life: its
//!                             claims are taken over once it is free (store::delivered).
//!   ssh-agent.sock            with ORCH_SSH_AGENT=stable, a symlink to the newest orch
//!                             command's SSH agent (store::envfile), the workers'
//!                             SSH_AUTH_SOCK. [symlink + rename]
//!   watch/run-end.json        since when run ends are news to `--on-run-end` watchers;
//!                             written once by the first, under watch/run-end.lock. [A]
//!   tmux/                     (0700) the private tmux server's socket `tmux/server`;
//!                             when that path is too long for a socket, it lives under a
//!                             private $XDG_RUNTIME_DIR, else in a mkdtemp folder
//!                             /tmp/orch-XXXXXX named by `tmux/socket-dir` [A];
//!                             ORCH_TMUX_SOCKET overrides both. The socket and its folder
//!                             must be the caller's (lstat, never following a link).
//!     version-ok              cache of a passed `tmux -V` check, keyed by the tmux
//!                             binary's path, size and mtime. [A]
//!   templates/ lenses/ pipelines/ pack.md schemas/
//!                             optional user overrides of the shipped files, read only
//!                             (content::share; first root that has a file wins).
//!   prices.toml               optional user prices per model over share/prices.toml,
//!                             read only (content::prices).
//! <checkout>/.orch/worktree-include, <checkout>/.orch/worktree-setup
//!                             the user's list of gitignored files to copy into each
//!                             new worktree, and its setup script; read only
//!                             (ops::worktree), never under ORCH_HOME.
//! $CODEX_HOME/config.toml     (else ~/.codex/config.toml) codex's config, read only
//!                             for a worker's `model` (sys::codex::config).
//! ```
//!
//! Everything is the caller's alone: folders 0700 (a pre-existing ORCH_HOME with looser
//! modes is tightened, one owned by someone else refused), files 0600. orch never
//! follows a symbolic link inside `runs/`: a linked run or worker folder is left alone.
//!
//! Write disciplines (store::fsutil), the only ways orch writes state; the letters
//! mark the files above:
//! - `A`, atomic: temp file in the same folder, fsync, rename, fsync of the folder. A
//!   reader sees the old record or the whole new one, never half of one.
//! - `B`, a batch (`write_atomic_all`): every file's data fsynced, then renamed in order,
//!   one folder fsync after the last, so a crash leaves a prefix of the batch.
//! - `U`, unsynced: temp file and rename without fsync, for facts worth nothing after a
//!   crash.
//! - append: log files opened O_APPEND (0600); a crash can lose their tail.
//!
//! Locks (flock via `File::lock`; released by the kernel when the holder dies):
//! - run.lock: one process changes a run's workers at a time: adding workers
//!   (spawn, fanout, run), scheduling (`sched::tick`, taken only when something is
//!   queued or a retry is due), `orch set`, retry, resume, stop of a queued worker,
//!   cancelling a retry plan, gc. Reading a worker's state never needs it.
//! - live.lock: held means the worker's wrapper or codex still runs; pid reuse and
//!   reboots cannot fool it.
//! - writers/<hash>.lock: held means a writing worker (sandbox other than read-only)
//!   works in that tree; a second writer waits for it (spawn `--force` skips this).
//! - inbox.lock: a send and the wrapper's look at the inbox before it ends exclude each
//!   other (the wrapper writes exit.json while holding it).
//! - worktrees/add.lock: one `git worktree add` at a time (they race on the
//!   repository's `.git/worktrees/` and its locks).
//! - watch/delivered.lock: one watcher of a subscriber records a delivery at a time.
//!
//! Ordering rules (what a reader may rely on):
//! - spec.json is renamed last at spawn: a worker folder without it is a spawn that died
//!   half-way (`incomplete`, removed by `orch gc`), never a worker with a partial spec.
//! - launch.json exists before the window does, so the wrapper can read it at once; a
//!   launch.json with neither live.lock held nor exit.json is `starting` for a grace
//!   period, then `lost`.
//! - a retry plan (retry.json) is written before exit.json, so whoever sees the exit
//!   also sees that a retry is coming; a retry archives exit.json last and removes
//!   retry.json after it, so no reader sees the old exit without its plan.
//! - exit.json is final: once it exists the attempt's state is decided, whatever
//!   live.lock says. Only a new attempt (which first moves it into attempt-N/) or
//!   `orch stop` cancelling a planned retry (which records `stopped`) replaces it.
//! - an inbox message is written before `orch send --now` writes now.json and signals
//!   codex; the wrapper writes sending.json before codex is given the message and moves
//!   it to delivered/ only once codex's turn on it has started (in codex's rollout), so
//!   a crash never loses a message (and delivers one twice only if the wrapper dies
//!   between reading codex's `turn.started` and appending it to events.jsonl);
//!   exit.json is written under inbox.lock after the wrapper found nothing pending,
//!   and a send checks the state under the same lock.
//! - records carry `schema` (missing = 1); a record with a larger schema is refused with
//!   "written by a newer orch" rather than misread. New fields get `#[serde(default)]`.

pub mod delivered;
pub mod envfile;
pub mod fsutil;
pub mod inbox;
pub mod records;
pub mod run_end;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::UserError;
use crate::model::names as ids;
use fsutil::{ReadError, create_private_dir, read_json};
pub use records::*;

/// The state root, `ORCH_HOME`.
#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    /// `ORCH_HOME`, else the XDG state dir (`~/.local/state/orch`), else a folder in the
    /// platform's local data dir. Creates it (0700) so later writes fail only for disk space.
    pub fn from_env() -> Result<Home> {
        Home::open(Home::locate()?)
    }

    /// The folder [`Home::from_env`] opens, without creating or changing anything.
    pub fn locate() -> Result<PathBuf> {
        let root = match std::env::var_os("ORCH_HOME").filter(|v| !v.is_empty()) {
            Some(v) => PathBuf::from(v),
            None => default_home().ok_or_else(|| {
                UserError::failed(
                    "cannot find a home folder for orch state; set ORCH_HOME to a writable folder",
                )
            })?,
        };
        Ok(if root.is_relative() {
            std::env::current_dir()?.join(root)
        } else {
            root
        })
    }

    pub fn open(root: PathBuf) -> Result<Home> {
        let home = Home { root };
        create_private_dir(&home.runs_dir()).map_err(|e| {
            UserError::failed(format!(
                "cannot use ORCH_HOME {}: {e}; make it writable or set ORCH_HOME to another folder",
                home.root.display()
            ))
        })?;
        if let Some(mode) = secure_root(&home.root)? {
            eprintln!(
                "orch: ORCH_HOME {} was mode {mode:o}, readable by other users; made it 0700",
                home.root.display()
            );
        }
        Ok(home)
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    pub fn run(&self, id: &str) -> RunDir {
        RunDir {
            id: id.to_string(),
            dir: self.runs_dir().join(id),
        }
    }

    /// One empty file per run, touched after each state transition of one of its
    /// workers: a watcher needs two inotify watches (`runs/`, this) to hear of a change
    /// in any run (see `sys::watch`).
    pub fn changes_dir(&self) -> PathBuf {
        self.root.join("changes")
    }

    pub fn writers_dir(&self) -> PathBuf {
        self.root.join("writers")
    }

    /// Where `spawn --worktree` makes workers' git worktrees (see `ops::worktree`).
    pub fn worktrees_dir(&self) -> PathBuf {
        self.root.join("worktrees")
    }

    /// The worktree of worker `label` of run `run`.
    pub fn worktree_path(&self, run: &str, label: &str) -> PathBuf {
        self.worktrees_dir().join(run).join(label)
    }

    /// Held while `git worktree add` runs.
    pub fn worktree_add_lock_path(&self) -> PathBuf {
        self.worktrees_dir().join("add.lock")
    }

    /// Every run id on disk, newest first. Ids start with the local time of creation,
    /// so the name order is the age order; ties within a minute fall back to run.json.
    pub fn run_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = match fs::read_dir(self.runs_dir()) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(e).context("cannot list runs"),
        };
        for entry in rd {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            // file_type() does not follow links: a linked run is never walked into.
            if name.starts_with('.')
                || ids::validate_run_ref(name).is_err()
                || !entry.file_type().is_ok_and(|t| t.is_dir())
            {
                continue;
            }
            ids.push(name.to_string());
        }
        ids.sort_by(|a, b| b.cmp(a));
        // Same minute: order by creation time, newest first.
        let mut i = 0;
        while i < ids.len() {
            let minute = &ids[i][..ids[i].len().min(13)];
            let j = ids[i..]
                .iter()
                .position(|x| !x.starts_with(minute))
                .map_or(ids.len(), |p| i + p);
            if j - i > 1 {
                // The folder's birth time (one statx) where the file system keeps it, else
                // run.json's created_at.
                ids[i..j].sort_by_cached_key(|id| {
                    let run = self.run(id);
                    let born = fs::metadata(&run.dir)
                        .and_then(|m| m.created())
                        .ok()
                        .map(chrono::DateTime::<chrono::Utc>::from)
                        .or_else(|| run.record().ok().map(|r| r.created_at));
                    std::cmp::Reverse(born)
                });
            }
            i = j;
        }
        Ok(ids)
    }

    /// The entries of `runs/` that are symbolic links, which orch leaves alone.
    pub fn linked_runs(&self) -> Vec<String> {
        let Ok(rd) = fs::read_dir(self.runs_dir()) else {
            return Vec::new();
        };
        let mut out: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    /// Resolves a run reference: an exact id, a unique prefix, or a unique suffix of
    /// three or more characters.
    pub fn resolve_run(&self, reference: &str) -> Result<RunDir> {
        ids::validate_run_ref(reference)?;
        // An exact id (what scripts and `spawn --run` pass) needs no scan of every run.
        let exact = self.run(reference);
        if is_real_dir(&exact.dir) {
            return Ok(exact);
        }
        if is_link(&exact.dir) {
            return Err(linked(&exact.dir).into());
        }
        let all = self.run_ids()?;
        if all.iter().any(|id| id == reference) {
            return Ok(self.run(reference));
        }
        let mut matches: Vec<&String> = all.iter().filter(|id| id.starts_with(reference)).collect();
        if matches.is_empty() && reference.len() >= 3 {
            // The random tail (`k3f` of 20261124-1412-k3f) tells runs of one day apart.
            matches = all.iter().filter(|id| id.ends_with(reference)).collect();
        }
        match matches.len() {
            1 => Ok(self.run(matches[0])),
            0 => {
                let hint = ids::closest(reference, all.iter().map(String::as_str))
                    .map(|c| format!("; did you mean {c}?"))
                    .unwrap_or_else(|| "; `orch ls` lists runs".to_string());
                Err(UserError::usage(format!("no run {}{hint}", ids::shown(reference))).into())
            }
            n => {
                let list: Vec<&str> = matches.iter().take(8).map(|s| s.as_str()).collect();
                Err(UserError::usage(format!(
                    "run prefix {} is ambiguous ({n} runs: {}{}); type more of the id",
                    ids::shown(reference),
                    list.join(", "),
                    if n > 8 { ", …" } else { "" }
                ))
                .into())
            }
        }
    }

    /// The newest run that holds a worker. A run without one (a spawn refused after it
    /// was made, a half-made run, a stray folder in runs/) is never "latest": `orch
    /// wait` on it would return at once while the real work goes on elsewhere.
    pub fn latest_run(&self) -> Result<RunDir> {
        let ids = self.run_ids()?;
        let latest = ids.iter().map(|id| self.run(id)).find(|r| {
            r.record_path().is_file() && r.labels_unordered().is_ok_and(|l| !l.is_empty())
        });
        match latest {
            Some(r) => Ok(r),
            None => {
                Err(UserError::failed("no runs yet; start one with `orch spawn \"PROMPT\"`").into())
            }
        }
    }

    /// `RUN/LABEL`, or `LABEL` in the latest run.
    pub fn resolve_worker(&self, address: &str) -> Result<WorkerDir> {
        let (run, label) = match address.split_once('/') {
            Some((r, l)) => (self.resolve_run(r)?, l),
            None => (self.latest_run()?, address),
        };
        ids::validate_label(label)?;
        let w = run.worker(label);
        if is_link(&w.dir) {
            return Err(linked(&w.dir).into());
        }
        if !is_real_dir(&w.dir) {
            let labels = run.labels().unwrap_or_default();
            let hint = ids::closest(label, labels.iter().map(String::as_str))
                .map(|c| format!("; did you mean {}/{c}?", run.id))
                .unwrap_or_else(|| format!("; workers of {}: {}", run.id, labels.join(", ")));
            return Err(UserError::usage(format!(
                "no worker {} in run {}{hint}",
                ids::shown(label),
                run.id
            ))
            .into());
        }
        Ok(w)
    }

    /// What a command that takes workers or runs (`wait`, `stop`) means by `text`:
    /// `RUN/LABEL`; else a label of the latest run; else a run (id or unique prefix).
    pub fn resolve_target(&self, text: &str) -> Result<Target> {
        if text.contains('/') {
            return Ok(Target::Worker(self.resolve_worker(text)?));
        }
        let worker_err = match self.resolve_worker(text) {
            Ok(w) => return Ok(Target::Worker(w)),
            Err(e) => e,
        };
        match self.resolve_run(text) {
            Ok(run) => Ok(Target::Run(run)),
            // An ambiguous run prefix says so; anything else is best told as the
            // worker that was not found (with its did-you-mean).
            Err(e)
                if e.downcast_ref::<UserError>()
                    .is_some_and(|u| u.message.contains("ambiguous")) =>
            {
                Err(e)
            }
            Err(_) => Err(worker_err),
        }
    }

    /// Resolves a run reference, or the latest run when none is given.
    pub fn run_or_latest(&self, reference: Option<&str>) -> Result<RunDir> {
        match reference {
            Some(r) => self.resolve_run(r),
            None => self.latest_run(),
        }
    }
}

/// Makes a pre-existing ORCH_HOME private: `Some(old mode)` when it was readable or
/// writable by others and has been made 0700; refused when it belongs to someone else.
/// ORCH_HOME itself may be a link (to another disk, say): its target is checked.
pub fn secure_root(root: &Path) -> Result<Option<u32>, UserError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = fs::metadata(root)
        .map_err(|e| UserError::failed(format!("cannot use ORCH_HOME {}: {e}", root.display())))?;
    let me = nix::unistd::getuid().as_raw();
    if m.uid() != me {
        return Err(UserError::failed(format!(
            "ORCH_HOME {} belongs to uid {}, not to you (uid {me}); set ORCH_HOME to a folder of your own",
            root.display(),
            m.uid()
        )));
    }
    let mode = m.mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(|e| {
        UserError::failed(format!(
            "ORCH_HOME {} is mode {mode:o}, readable by other users, and cannot be made private: {e}; run `chmod 700 {}`",
            root.display(),
            root.display()
        ))
    })?;
    Ok(Some(mode))
}

/// A real folder (`lstat`: a link to one is not).
pub fn is_real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

fn is_link(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

fn linked(p: &Path) -> UserError {
    UserError::usage(format!(
        "{} is a symbolic link; orch never follows links in runs/ and leaves it alone (move the folder itself there, or remove the link)",
        p.display()
    ))
}

fn default_home() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "orch")?;
    Some(match dirs.state_dir() {
        Some(d) => d.to_path_buf(),
        None => dirs.data_local_dir().to_path_buf(),
    })
}

/// A worker or a whole run, as named on the command line.
#[derive(Debug, Clone)]
pub enum Target {
    Worker(WorkerDir),
    Run(RunDir),
}

#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub dir: PathBuf,
}

impl RunDir {
    pub fn record_path(&self) -> PathBuf {
        self.dir.join("run.json")
    }

    pub fn record(&self) -> Result<RunRecord> {
        let rec: RunRecord = read_json(&self.record_path()).map_err(|e| match e {
            ReadError::Missing => anyhow::anyhow!(
                "run {} has no run.json (a half-made run, or a folder that is not orch's); `orch gc` removes it once it is a minute old",
                self.id
            ),
            e => anyhow::Error::new(e),
        })?;
        check_schema(rec.schema, &self.record_path())?;
        Ok(rec)
    }

    /// `$ORCH_HOME/changes/<run>` (see `Home::changes_dir`).
    pub fn changes_marker(&self) -> Option<PathBuf> {
        Some(self.dir.parent()?.parent()?.join("changes").join(&self.id))
    }

    /// `orch ls`'s cached line of an ended run (see `ops::listing`).
    pub fn summary_path(&self) -> PathBuf {
        self.dir.join("summary.json")
    }

    pub fn workers_dir(&self) -> PathBuf {
        self.dir.join("workers")
    }

    pub fn worker(&self, label: &str) -> WorkerDir {
        WorkerDir {
            run: self.id.clone(),
            label: label.to_string(),
            dir: self.workers_dir().join(label),
        }
    }

    /// Labels in creation order (spec time, then name); half-made workers last.
    pub fn labels(&self) -> Result<Vec<String>> {
        let mut out = self.labels_unordered()?;
        let key = |l: &String| {
            let created = fs::metadata(self.worker(l).dir.join("spec.json"))
                .and_then(|m| m.modified())
                .ok();
            (created.is_none(), created, natural_key(l))
        };
        out.sort_by_cached_key(key);
        Ok(out)
    }

    /// Labels in folder order: for counting, where the order (a stat per worker) is waste.
    /// A linked run or worker folder has none: orch never follows links in `runs/`.
    pub fn labels_unordered(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if is_link(&self.dir) || is_link(&self.workers_dir()) {
            return Ok(out);
        }
        let rd = match fs::read_dir(self.workers_dir()) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("cannot list workers of {}", self.id)),
        };
        for entry in rd {
            let entry = entry?;
            let name = entry.file_name();
            if let Some(name) = name.to_str()
                && ids::validate_label(name).is_ok()
                && entry.file_type().is_ok_and(|t| t.is_dir())
            {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    /// Serialises changes to the run (new workers, scheduling) across processes.
    pub fn lock(&self) -> Result<RunLock> {
        if is_link(&self.dir) {
            return Err(linked(&self.dir).into());
        }
        let file = fsutil::open_lock_file(&self.dir.join("run.lock"))
            .with_context(|| format!("cannot open the lock of run {}", self.id))?;
        file.lock()
            .with_context(|| format!("cannot lock run {}", self.id))?;
        Ok(RunLock { _file: file })
    }

    pub fn create(&self) -> Result<()> {
        create_private_dir(&self.workers_dir())
            .with_context(|| format!("cannot create run folder {}", self.dir.display()))
    }
}

/// Held while a run is being changed; released on drop (or by the kernel on death).
pub struct RunLock {
    _file: File,
}

/// "W10" sorts after "W9".
fn natural_key(label: &str) -> (String, u64) {
    let digits = label.len() - label.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, tail) = label.split_at(label.len() - digits);
    (head.to_string(), tail.parse().unwrap_or(0))
}

pub fn check_schema(found: u32, path: &Path) -> Result<()> {
    if found > SCHEMA {
        return Err(UserError::failed(format!(
            "{} was written by a newer orch (schema {found}, this orch knows {SCHEMA}); upgrade orch to read it",
            path.display()
        ))
        .into());
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct WorkerDir {
    pub run: String,
    pub label: String,
    pub dir: PathBuf,
}

impl WorkerDir {
    pub fn address(&self) -> String {
        format!("{}/{}", self.run, self.label)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    /// `$ORCH_HOME/changes/<run>` (see `Home::changes_dir`), found from the worker's own
    /// path (`<home>/runs/<run>/workers/<label>`).
    pub fn changes_marker(&self) -> Option<PathBuf> {
        Some(self.dir.ancestors().nth(4)?.join("changes").join(&self.run))
    }
    pub fn spec_path(&self) -> PathBuf {
        self.path("spec.json")
    }
    pub fn spec(&self) -> Result<WorkerSpec, ReadError> {
        read_json(&self.spec_path())
    }
    pub fn prompt_path(&self) -> PathBuf {
        self.path("prompt.md")
    }
    pub fn input_path(&self) -> PathBuf {
        self.path("input.md")
    }
    pub fn env_path(&self) -> PathBuf {
        self.path("env")
    }
    pub fn launch_path(&self) -> PathBuf {
        self.path("launch.json")
    }
    pub fn started_path(&self) -> PathBuf {
        self.path("started.json")
    }
    pub fn live_lock_path(&self) -> PathBuf {
        self.path("live.lock")
    }
    pub fn events_path(&self) -> PathBuf {
        self.path("events.jsonl")
    }
    /// What events.jsonl adds up to, up to a byte offset (see `lifecycle::activity`).
    pub fn events_summary_path(&self) -> PathBuf {
        self.path("events.summary.json")
    }
    pub fn stderr_path(&self) -> PathBuf {
        self.path("stderr.log")
    }
    pub fn last_message_path(&self) -> PathBuf {
        self.path("last-message.md")
    }
    pub fn exit_path(&self) -> PathBuf {
        self.path("exit.json")
    }
    pub fn stop_path(&self) -> PathBuf {
        self.path("stop.json")
    }
    pub fn pause_path(&self) -> PathBuf {
        self.path("pause.json")
    }
    /// The short prompt a wrapper sends when it continues a paused conversation.
    pub fn continue_path(&self) -> PathBuf {
        self.path("continue.md")
    }
    pub fn offline_path(&self) -> PathBuf {
        self.path("offline.json")
    }
    pub fn resume_path(&self) -> PathBuf {
        self.path("resume.json")
    }
    /// Messages queued by `orch send` (see `store::inbox`).
    pub fn inbox_dir(&self) -> PathBuf {
        self.path("inbox")
    }
    pub fn inbox_lock_path(&self) -> PathBuf {
        self.path("inbox.lock")
    }
    /// The worktree setup command's output.
    pub fn setup_log_path(&self) -> PathBuf {
        self.path("setup.log")
    }
    /// Written by `orch land` (see `LandRecord`).
    pub fn landed_path(&self) -> PathBuf {
        self.path("landed.json")
    }
    pub fn window_path(&self) -> PathBuf {
        self.path("window")
    }
    /// The tmux window id of the current attempt, best effort (see `sched::launch`);
    /// records of older orch versions kept it in launch.json.
    pub fn window_id(&self) -> Option<String> {
        window_in(&self.dir)
    }
    /// The files one attempt produces; moved into `attempt-N/` before a retry.
    pub const ATTEMPT_FILES: &'static [&'static str] = &[
        "launch.json",
        "started.json",
        "input.md",
        "events.jsonl",
        "events.summary.json",
        "stderr.log",
        "last-message.md",
        "exit.json",
        "stop.json",
        "resume.json",
        "window",
        "pause.json",
        "continue.md",
        "offline.json",
    ];
}

/// The window id recorded in a worker (or attempt) folder, if any.
pub fn window_in(dir: &Path) -> Option<String> {
    let id = fs::read_to_string(dir.join("window")).ok().or_else(|| {
        fsutil::read_json_opt::<LaunchRecord>(&dir.join("launch.json"))
            .ok()
            .flatten()
            .map(|l| l.window_id)
    })?;
    let id = id.trim().to_string();
    (id.starts_with('@') && id[1..].chars().all(|c| c.is_ascii_digit()) && id.len() > 1)
        .then_some(id)
}

/// Reads the boot id so records can tell this boot from an earlier one.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
