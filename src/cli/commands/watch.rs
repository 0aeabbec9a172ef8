//! `orch watch`: one line per worker that ends (or stalls, pauses on a usage limit, or
//! goes offline), in every run, for as long
//! as it runs. Deliveries are recorded in `$ORCH_HOME/watch/delivered.json` (see
//! `store::delivered`), so a restarted watcher catches up on what ended while it was
//! away and repeats nothing; a watcher's first start announces only what ends later.
//!
//! A watcher whose output is gone (the reader of its pipe left, its terminal hung up:
//! a dropped SSH session) stops before it claims another notice, and gives back one it
//! could not print, so the next watcher gets every notice. Hooks run in their own
//! session, and a notice counts as delivered only once its hook has ended.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{IsTerminal, Read, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::args::WatchArgs;
use crate::cli::render;
use crate::lifecycle::state::{self, State, ViewOptions, WorkerView};
use crate::model::names as ids;
use crate::model::text;
use crate::store::delivered::{Claim, Deliveries};
use crate::store::{Home, Tokens, WorkerDir};
use crate::sys::output;
use crate::sys::tmux::Tmux;
use crate::sys::watch::{self, Mode, WorkerKey};

/// Dead processes write nothing and stalls are silence: look at live workers this often.
const SWEEP: Duration = Duration::from_secs(1);

/// One line of `orch watch --json`. Field names are a contract: add, never rename.
#[derive(Debug, Serialize)]
struct Notice {
    run: String,
    label: String,
    /// A final state, or "stalled", "offline" or "paused" (a usage limit; once a pause).
    state: String,
    attempt: u32,
    exit_code: Option<i32>,
    error: Option<String>,
    tokens: Tokens,
    elapsed_secs: Option<i64>,
    finished_at: Option<DateTime<Utc>>,
    last_event_at: Option<DateTime<Utc>>,
    /// Path of the final message.
    result: String,
    /// For "paused": when the limit resets and the worker continues.
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_for: Option<String>,
}

/// The notices that are not an end: no `--on-finish` hook, and more may follow.
const FLAGS: [&str; 3] = ["stalled", "offline", "paused"];

fn flag_of(key: &str) -> Option<&'static str> {
    FLAGS
        .into_iter()
        .find(|f| key.ends_with(&format!("#{f}")) || key.contains(&format!("#{f}@")))
}

struct Watch {
    home: Home,
    args: WatchArgs,
    deliveries: Deliveries,
    opts: ViewOptions,
    /// Last state seen per worker; workers not ended are swept.
    known: BTreeMap<WorkerKey, State>,
    /// Keys this process has handled (delivered by it or by a twin): no lock needed.
    handled: HashSet<String>,
    runs: BTreeSet<String>,
    tmux: Option<Tmux>,
    /// Notices a live twin is delivering: asked again each sweep, in case it dies.
    busy: BTreeMap<String, WorkerDir>,
    /// Set by SIGHUP: the terminal is gone.
    hung_up: Arc<AtomicBool>,
    /// `--on-run-end` and since when runs' ends are news (see `store::run_end`).
    run_end: Option<(String, DateTime<Utc>)>,
}

/// Why a watcher stopped: nobody reads its output any more.
#[derive(Debug)]
struct Gone(&'static str);

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "watch: {}; stopping so another watcher gets the notices",
            self.0
        )
    }
}

impl std::error::Error for Gone {}

/// Catches SIGHUP in a flag, unless it is ignored (`nohup orch watch`): then it stays so.
fn hangup_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    if !sighup_ignored() {
        let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, flag.clone());
    }
    flag
}

/// Whether SIGHUP was ignored when we started (bit 0 of SigIgn in /proc/self/status).
fn sighup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let mask = s.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|m| m & 1 == 1)
}

pub fn run(args: WatchArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let scope = match &args.run {
        Some(r) => Some(home.resolve_run(r)?.id),
        None => None,
    };
    // Watchers that differ in what they do each see every notice; twins share them.
    let subscriber = format!(
        "run={} format={} bell={} on-finish={}",
        scope.as_deref().unwrap_or("*"),
        if args.json { "json" } else { "text" },
        args.bell,
        args.on_finish.as_deref().unwrap_or("-")
    );
    let deliveries = Deliveries::open(&home, &subscriber)?;
    let mut watcher = watch::Watcher::new(&home, Mode::from_poll(args.poll.poll))?;
    let tmux = args.bell.then(|| Tmux::for_home(&home.root).ok()).flatten();
    let run_end = match &args.on_run_end {
        Some(cmd) => Some((cmd.clone(), crate::store::run_end::since(&home)?)),
        None => None,
    };
    let mut w = Watch {
        opts: ViewOptions {
            stall_after: Duration::from_secs(args.stall.stall_after),
            offline_after: Duration::from_secs(args.stall.offline_after),
            activity: false,
        },
        home,
        args,
        deliveries,
        known: BTreeMap::new(),
        handled: HashSet::new(),
        runs: BTreeSet::new(),
        tmux,
        busy: BTreeMap::new(),
        hung_up: hangup_flag(),
        run_end,
    };
    if let Some(r) = scope {
        w.runs.insert(r);
    }
    match w.watch(&mut watcher) {
        Err(e) if e.is::<Gone>() => {
            // Our stderr may be gone too: say why if anyone can hear it.
            let _ = writeln!(std::io::stderr(), "orch: {e}");
            Ok(if w.hung_up.load(Ordering::Relaxed) {
                129
            } else {
                141
            })
        }
        other => other.map(|()| 0),
    }
}

impl Watch {
    fn watch(&mut self, watcher: &mut watch::Watcher) -> Result<()> {
        let w = self;

        // First look: everything in scope. A new subscriber takes it as already told.
        let mut pending = Vec::new();
        for r in w.list_runs() {
            w.runs.insert(r);
        }
        for r in w.runs.clone() {
            pending.extend(w.scan_run(&r));
        }
        let home_root = w.home.root.clone();
        let new = w
            .deliveries
            .start(pending.iter().map(|(k, _, _)| k.clone()), |key| {
                key.split('/')
                    .next()
                    .is_some_and(|r| home_root.join("runs").join(r).is_dir())
            })?;
        if new {
            w.handled.extend(pending.drain(..).map(|(k, _, _)| k));
        }
        for (key, wd, view) in pending {
            w.deliver(&key, &wd, &view)?;
        }
        // Runs that ended while no watcher was there.
        for r in w.runs.clone() {
            w.tell_run_end(&r);
        }

        let mut next_sweep = Instant::now() + SWEEP;
        loop {
            w.check_output()?;
            let now = Instant::now();
            if now >= next_sweep {
                w.sweep()?;
                next_sweep = Instant::now() + SWEEP;
            }
            let Some(ch) = watcher.next(next_sweep.saturating_duration_since(Instant::now()))
            else {
                continue;
            };
            let mut runs: BTreeSet<String> = ch.runs.clone();
            if ch.rescan {
                runs.extend(w.list_runs());
                runs.extend(w.runs.iter().cloned());
            }
            for r in runs {
                if w.in_scope(&r) {
                    w.runs.insert(r.clone());
                    for (key, wd, view) in w.scan_run(&r) {
                        w.deliver(&key, &wd, &view)?;
                    }
                }
            }
            for (run, label) in &ch.workers {
                if w.in_scope(run) {
                    w.runs.insert(run.clone());
                    let wd = w.home.run(run).worker(label);
                    if let Some((key, view)) = w.check(&wd) {
                        w.deliver(&key, &wd, &view)?;
                    }
                }
            }
        }
    }

    /// Fails with `Gone` when nobody can read what we print.
    fn check_output(&self) -> Result<()> {
        if self.hung_up.load(Ordering::Relaxed) {
            return Err(Gone("the terminal hung up").into());
        }
        if output::stdout_closed() {
            return Err(Gone("the output is closed").into());
        }
        Ok(())
    }

    fn in_scope(&self, run: &str) -> bool {
        match &self.args.run {
            Some(_) => self.runs.contains(run),
            None => true,
        }
    }

    fn list_runs(&self) -> Vec<String> {
        if self.args.run.is_some() {
            return self.runs.iter().cloned().collect();
        }
        // Names only: `Home::run_ids` also orders them, reading run.json of same-minute
        // runs, which an idle watcher would otherwise pay every second.
        let Ok(rd) = std::fs::read_dir(self.home.runs_dir()) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.') && ids::validate_run_ref(n).is_ok())
            .collect()
    }

    fn scan_run(&mut self, run: &str) -> Vec<(String, WorkerDir, WorkerView)> {
        let r = self.home.run(run);
        let mut out = Vec::new();
        for l in r.labels().unwrap_or_default() {
            let wd = r.worker(&l);
            if let Some((key, view)) = self.check(&wd) {
                out.push((key, wd, view));
            }
        }
        out
    }

    /// Re-reads one worker; returns the notice it is due, if any.
    fn check(&mut self, wd: &WorkerDir) -> Option<(String, WorkerView)> {
        let view = state::view(wd, &self.opts);
        self.known
            .insert((wd.run.clone(), wd.label.clone()), view.state);
        let key = if state::has_ended(wd, view.state) {
            // Worker, attempt and the exit record's time: a retry is a new notice.
            let when = view
                .finished_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| view.state.to_string());
            format!("{}#{}#{when}", wd.address(), view.attempt)
        } else if view.state == State::Paused {
            // One notice per pause: an attempt may wait out several limits.
            let since = crate::lifecycle::pause::current(wd)
                .map(|p| p.since.timestamp())
                .unwrap_or(0);
            format!("{}#{}#paused@{since}", wd.address(), view.attempt)
        } else if view.offline {
            format!("{}#{}#offline", wd.address(), view.attempt)
        } else if view.stalled {
            format!("{}#{}#stalled", wd.address(), view.attempt)
        } else {
            return None;
        };
        (!self.handled.contains(&key)).then_some((key, view))
    }

    fn sweep(&mut self) -> Result<()> {
        if self.args.run.is_none() {
            for r in self.list_runs() {
                if self.runs.insert(r.clone()) {
                    for (key, wd, view) in self.scan_run(&r) {
                        self.deliver(&key, &wd, &view)?;
                    }
                }
            }
        }
        let live: Vec<WorkerKey> = self
            .known
            .iter()
            .filter(|(_, st)| !st.is_final() || **st == State::Incomplete)
            .map(|(k, _)| k.clone())
            .collect();
        for (run, label) in live {
            let wd = self.home.run(&run).worker(&label);
            if let Some((key, view)) = self.check(&wd) {
                self.deliver(&key, &wd, &view)?;
            }
        }
        for (key, wd) in std::mem::take(&mut self.busy) {
            let view = state::view(&wd, &self.opts);
            self.deliver(&key, &wd, &view)?;
        }
        Ok(())
    }

    fn deliver(&mut self, key: &str, wd: &WorkerDir, view: &WorkerView) -> Result<()> {
        if self.handled.contains(key) {
            return Ok(());
        }
        // Before taking a notice: one we could not print would be lost to the others.
        self.check_output()?;
        match self.deliveries.claim(key)? {
            Claim::AlreadyDelivered => {
                self.handled.insert(key.to_string());
                return Ok(());
            }
            Claim::Busy => {
                self.busy.insert(key.to_string(), wd.clone());
                return Ok(());
            }
            Claim::Taken => {}
        }
        let flag = flag_of(key);
        // Tokens: the exit record has them; a live worker's come from its events.
        let view = if flag.is_some() {
            state::view(
                wd,
                &ViewOptions {
                    activity: true,
                    ..self.opts.clone()
                },
            )
        } else {
            view.clone()
        };
        if let Err(e) = self.announce(wd, &view, flag) {
            self.deliveries.release(key)?;
            return Err(e);
        }
        self.deliveries.done(key)?;
        self.handled.insert(key.to_string());
        if flag.is_none() {
            self.tell_run_end(&wd.run);
        }
        Ok(())
    }

    /// `--on-run-end`: tells the hook once the run has ended; never fatal.
    fn tell_run_end(&self, run: &str) {
        use crate::ops::run_end::{Told, tell};
        let Some((cmd, since)) = &self.run_end else {
            return;
        };
        let mut err = std::io::stderr();
        let _ = match tell(&self.home, &self.home.run(run), cmd, *since) {
            Ok(Told::Failed(why)) => writeln!(
                err,
                "orch: --on-run-end hook for run {run}: {why}; watching on"
            ),
            Ok(_) => Ok(()),
            Err(e) => writeln!(err, "orch: --on-run-end for run {run}: {e:#}; watching on"),
        };
    }

    fn announce(&self, wd: &WorkerDir, v: &WorkerView, flag: Option<&str>) -> Result<()> {
        let state = flag.map_or_else(|| v.state.to_string(), str::to_string);
        let notice = Notice {
            run: wd.run.clone(),
            label: wd.label.clone(),
            state: state.clone(),
            attempt: v.attempt,
            exit_code: v.exit_code,
            error: v.error.clone(),
            tokens: v.tokens,
            elapsed_secs: v.elapsed_secs,
            finished_at: v.finished_at,
            last_event_at: v.last_event_at,
            result: wd.last_message_path().display().to_string(),
            waiting_for: (flag == Some("paused"))
                .then(|| v.waiting_for.clone())
                .flatten(),
        };
        let line = if self.args.json {
            serde_json::to_string(&notice).unwrap_or_default()
        } else {
            text_line(&notice, self.opts.stall_after)
        };
        {
            let mut out = std::io::stdout().lock();
            if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
                return Err(if output::is_gone(&e) {
                    Gone("the output is closed").into()
                } else {
                    anyhow::Error::new(e).context("watch: cannot write a notice")
                });
            }
        }
        if self.args.bell {
            self.ring(&format!("orch: {} {state}", wd.address()));
        }
        if flag.is_none()
            && let Some(cmd) = &self.args.on_finish
        {
            run_hook(cmd, &notice);
        }
        Ok(())
    }

    fn ring(&self, message: &str) {
        // BEL on whichever of our streams is a terminal; over SSH the terminal is local.
        if std::io::stderr().is_terminal() {
            let _ = std::io::stderr().write_all(b"\x07");
        } else if std::io::stdout().is_terminal() {
            let _ = std::io::stdout().write_all(b"\x07");
        }
        if let Some(t) = &self.tmux {
            let _ = t.display_message(message);
        }
    }
}

fn text_line(n: &Notice, stall_after: Duration) -> String {
    let mut parts = vec![format!(
        "{} {}/{} {}",
        chrono::Local::now().format("%H:%M:%S"),
        n.run,
        n.label,
        n.state
    )];
    if n.state == "stalled" {
        parts.push(format!(
            "no event for {}",
            text::duration(stall_after.as_secs() as i64)
        ));
    } else if let Some(c) = n.exit_code {
        parts.push(format!("exit {c}"));
    }
    if let Some(e) = n.elapsed_secs {
        parts.push(text::duration(e));
    }
    parts.push(format!(
        "tokens {} in / {} out",
        render::tokens_short(n.tokens.input),
        render::tokens_short(n.tokens.output)
    ));
    if n.state != "stalled"
        && let Some(e) = &n.error
    {
        parts.push(e.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    if let Some(w) = &n.waiting_for {
        parts.push(format!("waits for {w}"));
    }
    parts.join(" · ")
}

/// Runs the user's hook to its end; its failure is reported, never fatal. It runs in
/// its own session, so the hang-up of our terminal does not kill it, and its output
/// (stdout and stderr) is copied to our stderr, keeping `--json` stdout one JSON object
/// per line; once our stderr is gone the copy is dropped while the hook goes on.
fn run_hook(cmd: &str, n: &Notice) {
    let who = format!("{}/{}", n.run, n.label);
    let mut command = crate::sys::procs::detached_shell();
    command
        .arg("-c")
        .arg(cmd)
        .env("ORCH_RUN", &n.run)
        .env("ORCH_LABEL", &n.label)
        .env("ORCH_STATE", &n.state)
        .env(
            "ORCH_EXIT_CODE",
            n.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        )
        .env("ORCH_RESULT", &n.result)
        .env("ORCH_TOKENS_IN", n.tokens.input.to_string())
        .env("ORCH_TOKENS_OUT", n.tokens.output.to_string())
        .stdin(Stdio::null());
    let reader = match std::io::pipe().and_then(|(r, w)| Ok((r, w.try_clone()?, w))) {
        Ok((r, w1, w2)) => {
            command.stdout(w1).stderr(w2);
            Some(r)
        }
        Err(_) => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
            None
        }
    };
    let child = command.spawn();
    // The copy ends when every holder of the pipe's write end (the hook and anything it
    // left behind) is gone; it is not waited for.
    drop(command);
    if let Some(mut r) = reader {
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut err = std::io::stderr();
            let mut open = true;
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if open && err.write_all(&buf[..n]).is_err() {
                    open = false;
                }
            }
        });
    }
    let status = child.and_then(|mut c| c.wait());
    let mut err = std::io::stderr();
    let _ = match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => writeln!(
            err,
            "orch: --on-finish hook for {who} failed ({s}); watching on"
        ),
        Err(e) => writeln!(
            err,
            "orch: cannot run the --on-finish hook for {who}: {e}; watching on"
        ),
    };
}
