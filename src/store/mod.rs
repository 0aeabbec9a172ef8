//! The on-disk layout, the single source of truth:
//!
//! ```text
//! $ORCH_HOME/
//!   runs/<run>/run.json, run.lock
//!   runs/<run>/workers/<label>/spec.json prompt.md env launch.json started.json live.lock
//!                              input.md events.jsonl stderr.log last-message.md exit.json
//!                              stop.json attempt-N/
//!   writers/<tree-hash>.lock   held by the one writing worker of a working tree
//!   watch/delivered.json       notifications `orch watch` has delivered
//!   tmux/                      the private tmux socket's folder (0700); socket-dir names
//!                              the /tmp folder of the socket when this path is too long
//! ```
//!
//! Everything is the caller's alone: folders 0700 (a pre-existing ORCH_HOME with looser
//! modes is tightened, one owned by someone else refused), files 0600. orch never
//! follows a symbolic link inside `runs/`: a linked run or worker folder is left alone.

pub mod delivered;
pub mod envfile;
pub mod fsutil;
pub mod records;

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

    pub fn latest_run(&self) -> Result<RunDir> {
        let ids = self.run_ids()?;
        match ids.first() {
            Some(id) => Ok(self.run(id)),
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
                "run {} has no run.json (half-made run); `orch gc` removes it",
                self.id
            ),
            e => anyhow::Error::new(e),
        })?;
        check_schema(rec.schema, &self.record_path())?;
        Ok(rec)
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
    pub fn resume_path(&self) -> PathBuf {
        self.path("resume.json")
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
