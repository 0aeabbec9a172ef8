//! The worker wrapper: the hidden `orch __worker` that each tmux window runs.
//!
//! It holds `live.lock` for its whole life and lets codex inherit the descriptor, so the
//! lock is released by the kernel only when both are gone: `status` tells running from
//! lost with one lock attempt. It feeds the prompt on stdin, appends every event line
//! to events.jsonl as it arrives, shows readable progress in the pane, forwards Ctrl-C
//! and TERM to codex's process group, and ends by writing exit.json atomically. A turn
//! that ends well with messages in the inbox (`orch send`) does not end the worker: the
//! same conversation continues (`codex exec … resume THREAD -`) with the oldest one, in
//! this window, as many times as messages come; a turn that `orch send --now`
//! interrupted continues the same way at once (see `inbox`).

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::{Context, Result};
use chrono::Utc;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use std::time::{Duration, Instant};

use super::deadline::{self, Watchdog};
use super::inbox::{self as steer, Next};
use super::{activity, offline, pause, transition, writer};
use crate::lifecycle::state::State;
use crate::store::fsutil::{open_append, open_lock_file, read_json};
use crate::store::{ExitRecord, Home, LaunchRecord, RunDir, StartRecord, WorkerDir, WorkerSpec};
use crate::sys::codex::{self, events, limits};

/// Writes to the pane, ignoring errors: the pane may be gone (server killed) and the
/// record on disk matters more than the screen.
macro_rules! pane {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}

/// Signals the wrapper received, and the process group they are forwarded to (0 until
/// codex runs: before that a signal only sets its flag).
#[derive(Clone, Default)]
struct Signals {
    interrupted: Arc<AtomicBool>,
    hung_up: Arc<AtomicBool>,
    child_pg: Arc<AtomicI32>,
}

impl Signals {
    /// Installed as soon as the wrapper holds its life lock, so a Ctrl-C or `orch stop`
    /// while it waits (for the writer slot, say) is recorded as stopped, not lost.
    fn install() -> Result<Signals> {
        let s = Signals::default();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let t = s.clone();
        std::thread::spawn(move || {
            for sig in signals.forever() {
                let forward = match sig {
                    SIGHUP => {
                        // The pane or the whole tmux server went away.
                        t.hung_up.store(true, Ordering::SeqCst);
                        Signal::SIGTERM
                    }
                    SIGTERM => {
                        t.interrupted.store(true, Ordering::SeqCst);
                        Signal::SIGTERM
                    }
                    _ => {
                        t.interrupted.store(true, Ordering::SeqCst);
                        Signal::SIGINT
                    }
                };
                let pg = t.child_pg.load(Ordering::SeqCst);
                if pg > 0 {
                    let _ = killpg(Pid::from_raw(pg), forward);
                }
            }
        });
        Ok(s)
    }

    fn stop_asked(&self, w: &WorkerDir) -> bool {
        self.interrupted.load(Ordering::SeqCst) || w.stop_path().exists()
    }
}

/// How often the wrapper records what the event log adds up to, so a reader of a long
/// log parses at most this much of it.
const ACTIVITY_SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a new wrapper waits for the life lock: a status call holds it (shared) for
/// an instant, and the previous attempt's last processes may take a moment to go.
const LIFE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A worker that ended before codex ran: stopped if someone asked (`orch stop`, Ctrl-C),
/// else its window or the tmux server went away (a hang-up) — `lost`, as when that
/// happens while codex runs, never a stop nobody asked for.
fn ended_before_start(sig: &Signals, w: &WorkerDir) -> (State, String) {
    if sig.stop_asked(w) {
        (State::Stopped, "stopped before it started".into())
    } else {
        (
            State::Lost,
            "its tmux window or server went away before codex started; `orch retry` runs it again"
                .into(),
        )
    }
}

/// What the layers above want done once a worker has ended for good (no retry coming),
/// such as the merge `fanout --merge` asked for. Passed in by the caller, so the
/// lifecycle never imports the operations built on it.
pub struct Hooks {
    pub on_end: fn(&RunDir, &str),
}

pub fn run(home: &Home, run_id: &str, label: &str, hooks: &Hooks) -> Result<i32> {
    let run = home.run(run_id);
    let w = run.worker(label);
    let lock = open_lock_file(&w.live_lock_path())
        .with_context(|| format!("cannot open {}", w.live_lock_path().display()))?;
    let started_at = Utc::now();
    if !take_life_lock(&lock) {
        // Something of an earlier attempt (a background process codex left) still holds
        // the lock: say so in a record rather than leave the worker `starting`.
        let msg = "processes of an earlier attempt still hold its live.lock (`orch doctor` lists them; stop them, then `orch retry`)";
        pane!("orch: {}: {msg}", w.address());
        if !w.exit_path().exists() {
            transition::failed_early(&w, started_at, msg)?;
            after_exit(home, &run, &w, None, hooks);
        }
        return Ok(1);
    }
    // Let codex (and its children) inherit the locked descriptor.
    nix::fcntl::fcntl(
        &lock,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .context("cannot share the life lock with codex")?;
    let sig = Signals::install()?;
    crate::sys::tmux::record_own_window(&home.root, &w);
    match attempt(home, &run, &w, lock, &sig, started_at, hooks) {
        Ok(code) => Ok(code),
        Err(e) => {
            // Any failure of the wrapper itself still ends in a record, never in a
            // silent `lost`, and dependents hear of it.
            let msg = format!("{e:#}");
            pane!("orch: {msg}");
            if !w.exit_path().exists() {
                transition::failed_early(&w, started_at, &msg)?;
            }
            after_exit(home, &run, &w, None, hooks);
            Ok(1)
        }
    }
}

fn take_life_lock(lock: &File) -> bool {
    let deadline = std::time::Instant::now() + LIFE_LOCK_WAIT;
    loop {
        if lock.try_lock().is_ok() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// One attempt, from the life lock to the exit record.
fn attempt(
    home: &Home,
    run: &RunDir,
    w: &WorkerDir,
    lock: File,
    sig: &Signals,
    started_at: chrono::DateTime<Utc>,
    hooks: &Hooks,
) -> Result<i32> {
    let spec: WorkerSpec = read_json(&w.spec_path())?;
    let launch: LaunchRecord = read_json(&w.launch_path())?;
    let finish = |state: State, error: Option<String>| -> Result<()> {
        write_exit(
            w,
            &launch,
            state,
            None,
            None,
            &events::Summary::default(),
            started_at,
            error,
        )
    };

    let env = crate::store::envfile::read(&w.env_path())?;
    let writer = if writer::needs_slot(&spec) {
        let tree = writer::working_tree(&spec.cd);
        let give_up = || sig.stop_asked(w) || sig.hung_up.load(Ordering::SeqCst);
        let waiting = || {
            pane!(
                "waiting for the writer slot of {} (another worker writes there)",
                tree.display()
            )
        };
        match writer::take(home, &tree, give_up, waiting)? {
            Some(f) => Some(f),
            None => {
                let (state, why) = ended_before_start(sig, w);
                finish(state, Some(why))?;
                drop(lock);
                after_exit(home, run, w, None, hooks);
                return Ok(0);
            }
        }
    } else {
        None
    };
    if sig.stop_asked(w) || sig.hung_up.load(Ordering::SeqCst) {
        let (state, why) = ended_before_start(sig, w);
        finish(state, Some(why))?;
        drop((lock, writer));
        after_exit(home, run, w, Some(&spec), hooks);
        return Ok(0);
    }

    if let Some(wt) = &spec.worktree
        && let Some(script) = &wt.setup
    {
        pane!("worktree setup in {}", wt.path.display());
        if let Err((state, msg)) = run_setup(w, wt, script, &env, sig) {
            pane!("{msg}");
            finish(state, Some(msg))?;
            drop((lock, writer));
            after_exit(home, run, w, Some(&spec), hooks);
            return Ok(1);
        }
    }

    let input_path = if w.input_path().exists() {
        w.input_path()
    } else {
        w.prompt_path()
    };
    let mut events_file = open_append(&w.events_path())?;

    pane!(
        "orch worker {} · {} · sandbox {} · attempt {}",
        w.address(),
        spec.role.as_deref().unwrap_or("worker"),
        spec.sandbox,
        launch.attempt
    );
    pane!("codex: {}", launch.codex.display());

    // One attempt may run codex more than once: a usage limit pauses it, and the same
    // conversation continues after the reset (see `pause`).
    // A message from the inbox is the prompt of a run too (see `steer`).
    let mut resume = launch.resume_thread.clone();
    let mut stdin_path = input_path;
    let mut delivering: Option<String> = None;
    let mut ran = Duration::ZERO;
    let mut pauses = 0u32;
    let (state, error, ran_codex, inbox_lock) = loop {
        let args = codex::exec_args(&spec, &w.last_message_path(), resume.as_deref());
        let budget = spec
            .timeout_secs
            .map(|t| Duration::from_secs(t).saturating_sub(ran));
        let began = Instant::now();
        let run_ctx = CodexRun {
            w,
            launch: &launch,
            spec: &spec,
            env: &env,
            args: &args,
            stdin: &stdin_path,
            sig,
            started_at,
            budget,
            delivering: delivering.take(),
        };
        let out = match run_ctx.go(&mut events_file)? {
            Ok(o) => o,
            Err(msg) => {
                pane!("{msg}");
                let inbox = steer::after_run(w, launch.attempt, false)?;
                finish(State::Failed, Some(msg))?;
                drop((inbox, lock, writer));
                after_exit(home, run, w, Some(&spec), hooks);
                return Ok(1);
            }
        };
        ran += began.elapsed();
        let hung_up = || sig.hung_up.load(Ordering::SeqCst);
        // `orch send --now` interrupted this run to deliver a message at once.
        let steered = steer::take_steer(w, out.codex_pid)
            && !sig.stop_asked(w)
            && !hung_up()
            && !out.timed_out;
        let (state, error) = classify(w, sig, &out, spec.timeout_secs);
        let limit = error
            .as_deref()
            .filter(|_| state == State::Failed && pauses < pause::MAX_PAUSES && !steered)
            .and(out.summary.failure())
            .filter(|m| limits::is_usage_limit(m));
        let Some(message) = limit else {
            let thread = out.summary.thread_id.clone().or_else(|| resume.clone());
            let may_continue = (state == State::Done || steered)
                && thread.is_some()
                && !sig.stop_asked(w)
                && !hung_up();
            match steer::after_run(w, launch.attempt, may_continue)? {
                Next::Deliver { message, path } => {
                    pane!(
                        "── {} continuing with message {message} (orch send) ──",
                        if steered {
                            "turn interrupted;"
                        } else {
                            "turn ended;"
                        }
                    );
                    stdin_path = path;
                    resume = thread;
                    delivering = Some(message);
                    continue;
                }
                Next::End(inbox) => {
                    let (state, error) = if steered && state != State::Done {
                        let why = if thread.is_none() {
                            "interrupted by `orch send --now` before codex began a conversation; the message stays pending (`orch retry` delivers it after the first turn)"
                        } else {
                            "interrupted by `orch send --now`, with no message left to deliver"
                        };
                        (State::Stopped, Some(why.to_string()))
                    } else {
                        (state, error)
                    };
                    break (state, error, out, inbox);
                }
            }
        };
        pauses += 1;
        let thread = out.summary.thread_id.clone().or_else(|| resume.clone());
        let p = pause::plan(&message, thread.clone(), pauses, Utc::now());
        transition::paused(w, &p)?;
        pane!(
            "── paused: {message} ── waiting for {} ──",
            pause::waiting_for(&p)
        );
        if !pause::wait_until(p.until, || sig.stop_asked(w) || hung_up()) {
            let (state, why) = if hung_up() {
                (
                    State::Lost,
                    "its tmux window or server went away while it was paused on a usage limit; `orch recover` continues it",
                )
            } else {
                (
                    State::Stopped,
                    "stopped by the user while paused on a usage limit",
                )
            };
            break (state, Some(why.to_string()), out, None);
        }
        transition::resumed(w, thread.is_some().then_some(pause::CONTINUE_PROMPT))?;
        if let Some(t) = thread {
            stdin_path = w.continue_path();
            resume = Some(t);
        }
        pane!("── the usage limit has reset; continuing ──");
    };
    // The branch holds the work before the record says done (see `worktree`).
    let (state, error) = match (&spec.worktree, state) {
        (Some(wt), State::Done) => match super::worktree::commit_work(w, wt, State::Done) {
            Ok(Some(c)) => {
                pane!(
                    "committed the work on {} ({})",
                    wt.branch,
                    &c[..c.len().min(10)]
                );
                (state, error)
            }
            Ok(None) => {
                pane!(
                    "changed nothing: {} stays at the commit it started from",
                    wt.branch
                );
                (state, error)
            }
            Err(e) => (
                State::Failed,
                Some(format!(
                    "its work could not be committed on {}: {e:#}; the changes are still in {}",
                    wt.branch,
                    wt.path.display()
                )),
            ),
        },
        _ => (state, error),
    };
    let summary = ran_codex.summary;
    let (exit_code, signal) = (ran_codex.exit_code, ran_codex.signal);
    // No send may queue a message between the last look at the inbox and the exit.
    let inbox_lock = match inbox_lock {
        Some(l) => Some(l),
        None => match steer::after_run(w, launch.attempt, false)? {
            Next::End(l) => l,
            Next::Deliver { .. } => None,
        },
    };
    write_exit(
        w,
        &launch,
        state,
        exit_code,
        signal,
        &summary,
        started_at,
        error.clone(),
    )?;
    drop(inbox_lock);

    let took = (Utc::now() - started_at).num_milliseconds();
    pane!(
        "── {state} after {} · tokens {} in / {} out{} ──",
        crate::model::text::duration_ms(took),
        summary.tokens.input,
        summary.tokens.output,
        error.map(|e| format!(" · {e}")).unwrap_or_default()
    );
    if state == State::Done {
        pane!("final message: {}", w.last_message_path().display());
    }
    // A retry's new wrapper must be able to take the life lock, and the next writer
    // of this tree the writer slot, before the scheduler looks.
    drop((lock, writer));
    after_exit(home, run, w, Some(&spec), hooks);
    Ok(if state == State::Done { 0 } else { 1 })
}

/// Runs the worktree's setup command with the worker's environment, in its own
/// process group (`orch stop` reaches it like codex); the state and reason to end with
/// when it fails or is stopped.
fn run_setup(
    w: &WorkerDir,
    wt: &crate::store::WorktreeSpec,
    script: &str,
    env: &[(std::ffi::OsString, std::ffi::OsString)],
    sig: &Signals,
) -> std::result::Result<(), (State, String)> {
    let mut cmd = super::worktree::setup_command(w, wt, script).map_err(|m| (State::Failed, m))?;
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("ORCH_WORKER", w.address())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        (
            State::Failed,
            format!("cannot run the worktree setup command: {e}"),
        )
    })?;
    sig.child_pg.store(child.id() as i32, Ordering::SeqCst);
    let status = child.wait();
    sig.child_pg.store(0, Ordering::SeqCst);
    if sig.stop_asked(w) || sig.hung_up.load(Ordering::SeqCst) {
        return Err(ended_before_start(sig, w));
    }
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err((State::Failed, super::worktree::setup_failed(w, script, s))),
        Err(e) => Err((
            State::Failed,
            format!("cannot wait for the worktree setup command: {e}"),
        )),
    }
}

/// What one codex run came to.
struct Ran {
    summary: events::Summary,
    exit_code: Option<i32>,
    signal: Option<String>,
    timed_out: bool,
    codex_pid: u32,
}

/// One run of codex within an attempt: its argv, input and time budget.
struct CodexRun<'a> {
    w: &'a WorkerDir,
    launch: &'a LaunchRecord,
    spec: &'a WorkerSpec,
    env: &'a [(std::ffi::OsString, std::ffi::OsString)],
    args: &'a [std::ffi::OsString],
    stdin: &'a std::path::Path,
    sig: &'a Signals,
    started_at: chrono::DateTime<Utc>,
    budget: Option<Duration>,
    /// The inbox message this run is given, marked delivered once its turn starts.
    delivering: Option<String>,
}

impl CodexRun<'_> {
    /// Runs codex to its end, its events appended to `events_file`; the inner error is
    /// a codex that could not be started.
    fn go(&self, events_file: &mut File) -> Result<std::result::Result<Ran, String>> {
        let w = self.w;
        let stdin = File::open(self.stdin)
            .with_context(|| format!("cannot open the prompt {}", self.stdin.display()))?;
        let stderr = open_append(&w.stderr_path())?;
        let mut cmd = Command::new(&self.launch.codex);
        cmd.args(self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("ORCH_WORKER", w.address())
            .current_dir(&self.spec.cd)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(format!(
                    "cannot start codex {}: {e}",
                    self.launch.codex.display()
                )));
            }
        };
        let pgid = child.id() as i32;
        self.sig.child_pg.store(pgid, Ordering::SeqCst);
        // A stop that came while codex was being started is passed on now.
        if self.sig.stop_asked(w) {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGINT);
        }
        transition::started(
            w,
            &StartRecord {
                attempt: self.launch.attempt,
                started_at: self.started_at,
                wrapper_pid: std::process::id(),
                codex_pid: child.id(),
                boot_id: crate::store::boot_id(),
            },
        )?;
        let watchdog = Watchdog::start(pgid, self.budget);
        let mut net = offline::Tracker::default();
        // `summary` is this codex run's (the exit record's facts); `log` covers the whole
        // events.jsonl for readers (see `activity`), saved every few seconds.
        let mut summary = events::Summary::default();
        let mut log = activity::summary(w).unwrap_or_default();
        let mut log_offset = fs::metadata(w.events_path()).map_or(0, |m| m.len());
        let mut saved_at = Instant::now();
        let mut delivering = self.delivering.clone();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => break,
            }
            if !line.ends_with('\n') {
                line.push('\n');
            }
            if events_file.write_all(line.as_bytes()).is_ok() {
                log_offset += line.len() as u64;
            }
            if let Some(ev) = events::parse(&line) {
                if ev == events::Event::TurnStarted
                    && let Some(m) = delivering.take()
                    && let Err(e) = steer::delivered(w, &m)
                {
                    // It stays in flight; the next look at the inbox settles it.
                    pane!("orch: cannot mark message {m} delivered: {e:#}");
                }
                summary.add(&ev);
                log.add(&ev);
                net.see(w, &ev);
                if let Some(text) = events::describe(&ev, 160) {
                    pane!("{} {text}", Utc::now().format("%H:%M:%S"));
                }
            }
            if saved_at.elapsed() >= ACTIVITY_SAVE_EVERY {
                activity::save(w, log_offset, &log);
                saved_at = Instant::now();
            }
        }
        activity::save(w, log_offset, &log);
        let status = child.wait().context("cannot wait for codex")?;
        let timed_out = watchdog.fired();
        drop(watchdog);
        net.clear(w);
        self.sig.child_pg.store(0, Ordering::SeqCst);
        let _ = events_file.sync_all();
        // Leave no stragglers in codex's process group.
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        let signal = status.signal().map(|s| {
            Signal::try_from(s)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| s.to_string())
        });
        Ok(Ok(Ran {
            summary,
            exit_code: status.code(),
            signal,
            timed_out,
            codex_pid: pgid as u32,
        }))
    }
}

/// The state and reason a codex run ended in.
fn classify(
    w: &WorkerDir,
    sig: &Signals,
    out: &Ran,
    timeout: Option<u64>,
) -> (State, Option<String>) {
    let done = out.exit_code == Some(0) && out.summary.turn_completed;
    if done {
        (State::Done, None)
    } else if w.stop_path().exists() || sig.interrupted.load(Ordering::SeqCst) {
        // A stop request may say who stopped it (`wait --kill-stalled`).
        let why = crate::store::fsutil::read_json_opt::<crate::store::StopRequest>(&w.stop_path())
            .ok()
            .flatten()
            .and_then(|r| r.reason)
            .unwrap_or_else(|| "stopped by the user".to_string());
        (State::Stopped, Some(why))
    } else if sig.hung_up.load(Ordering::SeqCst) {
        (
            State::Lost,
            Some(
                "its tmux window or server went away while it ran; `orch recover` continues it (`orch retry` starts it over)"
                    .to_string(),
            ),
        )
    } else if out.timed_out {
        let limit = deadline::shown(timeout.unwrap_or(0));
        (
            State::Failed,
            Some(format!(
                "timed out after {limit} (--timeout {limit}); `orch resume` continues it"
            )),
        )
    } else {
        let why = out
            .summary
            .failure()
            .or_else(|| stderr_tail(w))
            .unwrap_or_else(|| match (&out.exit_code, &out.signal) {
                (Some(0), _) => "codex exited 0 without completing its turn".into(),
                (Some(c), _) => format!("codex exited with code {c}"),
                (None, Some(s)) => format!("codex was killed by {s}"),
                _ => "codex ended abnormally".into(),
            });
        (State::Failed, Some(with_login_hint(why)))
    }
}

/// A worker ended: start whatever it unblocked (in other runs too, when it freed a
/// working tree's writer slot), then wait out a planned retry's back-off here.
fn after_exit(home: &Home, run: &RunDir, w: &WorkerDir, spec: Option<&WorkerSpec>, hooks: &Hooks) {
    let plan = crate::lifecycle::retry::pending(w);
    if let Err(e) = crate::lifecycle::sched::tick(home, run) {
        pane!("orch: scheduling the rest of the run failed: {e:#}");
    }
    if spec.is_some_and(writer::needs_slot) {
        // Writers of this tree may wait in other runs; nothing else would wake them.
        for id in home.run_ids().unwrap_or_default() {
            if id != run.id {
                let _ = crate::lifecycle::sched::tick(home, &home.run(&id));
            }
        }
    }
    if let Some(p) = plan {
        pane!(
            "retrying at {} (attempt {}/{}): {}",
            p.at.with_timezone(&chrono::Local).format("%H:%M:%S"),
            p.attempt,
            p.of,
            p.reason
        );
        crate::lifecycle::retry::after_exit(home, run, w, &p);
    } else {
        // A worker about to be retried has not ended yet: a `fanout --merge` waits for it.
        (hooks.on_end)(run, &w.label);
    }
}

#[allow(clippy::too_many_arguments)]
fn write_exit(
    w: &WorkerDir,
    launch: &LaunchRecord,
    state: State,
    exit_code: Option<i32>,
    signal: Option<String>,
    summary: &events::Summary,
    started_at: chrono::DateTime<Utc>,
    error: Option<String>,
) -> Result<()> {
    let record = ExitRecord {
        schema: crate::store::SCHEMA,
        state,
        attempt: launch.attempt,
        exit_code,
        signal,
        thread_id: summary
            .thread_id
            .clone()
            .or_else(|| launch.resume_thread.clone()),
        tokens: summary.tokens,
        started_at: Some(started_at),
        finished_at: Utc::now(),
        error,
        turn_completed: summary.turn_completed,
    };
    transition::ended(w, &record).map(|_| ())
}

/// A failure that looks like missing credentials gets the fix attached: the most
/// common first-run failure, and codex's own message does not say what to do.
fn with_login_hint(why: String) -> String {
    let l = why.to_lowercase();
    let auth = [
        "401",
        "unauthorized",
        "not logged in",
        "api key",
        "authentication",
        "refresh token",
        "sign in again",
    ]
    .iter()
    .any(|k| l.contains(k));
    if auth {
        format!(
            "{why} — codex is not logged in: run `codex login` (or export OPENAI_API_KEY) in the shell you spawn from, then `orch retry`"
        )
    } else {
        why
    }
}

/// What codex's stderr says went wrong (see `codex::stderr_summary`).
fn stderr_tail(w: &WorkerDir) -> Option<String> {
    let mut f = File::open(w.stderr_path()).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    crate::sys::codex::stderr_summary(&String::from_utf8_lossy(&bytes))
        .map(|why| format!("{why} (`orch logs {} --stderr` shows all)", w.address()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hang-up before codex starts (tmux server killed) is `lost`, like one during
    /// the run; only a stop someone asked for is `stopped`.
    #[test]
    fn ending_before_start_is_lost_unless_a_stop_was_asked() {
        let t = tempfile::tempdir().unwrap();
        let w = WorkerDir {
            run: "r".into(),
            label: "W1".into(),
            dir: t.path().to_path_buf(),
        };
        let sig = Signals::default();
        sig.hung_up.store(true, Ordering::SeqCst);
        assert_eq!(ended_before_start(&sig, &w).0, State::Lost);
        std::fs::write(w.stop_path(), "{}").unwrap();
        assert_eq!(ended_before_start(&sig, &w).0, State::Stopped);
        std::fs::remove_file(w.stop_path()).unwrap();
        sig.interrupted.store(true, Ordering::SeqCst);
        assert_eq!(ended_before_start(&sig, &w).0, State::Stopped);
    }
}
