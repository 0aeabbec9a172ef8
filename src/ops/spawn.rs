//! Making runs and adding workers to them: the one way any command (spawn, fanout,
//! run, merge --synthesize, the MCP server) puts a worker on disk and schedules it.

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;

use crate::content::share::{Lens, Prompt, Share};
use crate::lifecycle::{sched, transition, writer};
use crate::model::Sandbox;
use crate::model::error::UserError;
use crate::model::names::{self as ids, validate_label};
use crate::store::envfile;
use crate::store::fsutil::{sync_dir, write_atomic, write_json};
use crate::store::{Home, RunDir, RunRecord, StageRecord, WorkerDir, WorkerSpec};
use crate::sys::codex;

/// How codex runs for a worker: `--cd`, `--sandbox`, `--model`, `--profile`.
#[derive(Debug, Clone, Default)]
pub struct CodexSettings {
    pub cd: Option<PathBuf>,
    pub sandbox: Sandbox,
    pub model: Option<String>,
    pub profile: Option<String>,
}

/// How a new worker joins its run's schedule.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Sets the run's parallel limit.
    pub max_parallel: Option<u32>,
    /// Sets the run's budget (USD).
    pub budget_usd: Option<f64>,
    /// A writer starts even when another writes the same tree (with a warning).
    pub force: bool,
    /// A writer is refused, not queued, when another writes the same tree.
    pub no_wait: bool,
}

/// Prompts larger than this are refused: no model takes them, and a runaway
/// `--prompt-file` (a log, a binary) is far more likely than a real 1 MiB task.
pub const PROMPT_MAX: usize = 1 << 20;

/// Reads and checks a context pack; refuses one without Goal or Success check.
pub fn read_context(path: Option<&Path>) -> Result<Option<String>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| {
        UserError::usage(format!("cannot read context pack {}: {e}", path.display()))
    })?;
    crate::content::pack::validate(&text, path).map_err(|e| UserError::usage(e.to_string()))?;
    Ok(Some(crate::content::pack::for_prompt(&text)))
}

/// The prompt a worker gets: its role's template (worker preamble, lens, context pack,
/// task, deliverable format), or — with no role, or `--raw` — the task with the lens
/// and pack attached.
pub fn compose_prompt(
    share: &Share,
    role: Option<&str>,
    task: &str,
    lens: Option<Lens>,
    context: Option<String>,
    sandbox: Sandbox,
) -> Result<String> {
    let vars = Prompt {
        task: task.to_string(),
        lens,
        context,
        sandbox,
    };
    // A role names its template (shipped, or the user's in $ORCH_HOME/templates/): a
    // typo must not quietly drop the worker preamble and the output format merge needs.
    if let Some(role) = role {
        let template = share.template(role).map_err(|e| {
            UserError::usage(format!("{e} (or pass --raw to send the prompt as is)"))
        })?;
        return Ok(crate::content::template::render(&template, &vars));
    }
    let mut text = vars.task.clone();
    if let Some(l) = &vars.lens {
        text.push_str(&format!(
            "\n\n## Lens: {}\n\n{}\n",
            l.name,
            l.text.trim_end()
        ));
    }
    if let Some(c) = &vars.context {
        text.push_str(&format!("\n\n## Context pack\n\n{}\n", c.trim_end()));
    }
    Ok(text)
}

/// Saves orch's findings schema in the run folder for `codex --output-schema`.
pub fn write_findings_schema(share: &Share, run: &RunDir) -> Result<PathBuf> {
    let path = run.dir.join("findings.schema.json");
    if !path.exists() {
        write_atomic(&path, share.findings_schema().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(path)
}

/// Reads the prompt from the argument, `-` (stdin) or a file; refuses empty,
/// oversized or non-UTF-8 prompts before anything is written.
pub fn read_prompt(arg: Option<&str>, file: Option<&Path>) -> Result<String> {
    let (bytes, from) = match (arg, file) {
        (Some("-"), None) => {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(PROMPT_MAX as u64 + 1)
                .read_to_end(&mut buf)
                .context("cannot read the prompt from stdin")?;
            (buf, "stdin".to_string())
        }
        (Some(text), None) => (text.as_bytes().to_vec(), "the prompt argument".to_string()),
        (None, Some(path)) => {
            let meta = std::fs::metadata(path).map_err(|e| {
                UserError::usage(format!("cannot read prompt file {}: {e}", path.display()))
            })?;
            if meta.len() > PROMPT_MAX as u64 {
                return Err(too_big(&path.display().to_string()).into());
            }
            let bytes = std::fs::read(path).map_err(|e| {
                UserError::usage(format!("cannot read prompt file {}: {e}", path.display()))
            })?;
            (bytes, path.display().to_string())
        }
        (None, None) => {
            return Err(UserError::usage(
                "no prompt: give it as an argument, with --prompt-file FILE, or as - to read stdin",
            )
            .into());
        }
        (Some(_), Some(_)) => {
            return Err(UserError::usage(
                "two prompts: give it as an argument or with --prompt-file FILE, not both",
            )
            .into());
        }
    };
    if bytes.len() > PROMPT_MAX {
        return Err(too_big(&from).into());
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        UserError::usage(format!(
            "the prompt from {from} is not valid UTF-8 (bad byte at offset {}); convert it to UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(UserError::usage(format!(
            "the prompt from {from} is empty; say what the worker should do"
        ))
        .into());
    }
    Ok(text)
}

fn too_big(from: &str) -> UserError {
    UserError::usage(format!(
        "the prompt from {from} is larger than {} KiB; point the worker at files instead of pasting them",
        PROMPT_MAX / 1024
    ))
}

/// Fails early, before any state is written, when tmux or codex is missing or orch's
/// tmux socket is one it must not talk to (see `Tmux::for_home`).
pub fn check_tools() -> Result<()> {
    let env = envfile::capture();
    codex::resolve_program(&env)?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    if !std::env::split_paths(&path).any(|d| d.join("tmux").is_file()) {
        return Err(UserError::failed(
            "tmux not found on PATH; install tmux 3.0 or newer (e.g. `apt-get install tmux`)",
        )
        .into());
    }
    crate::sys::tmux::check_version()?;
    crate::sys::tmux::Tmux::for_home(&Home::from_env()?.root)?;
    Ok(())
}

/// Refuses at once, before any state is written, a worker whose codex would run
/// without a credential (see `sys::codex::login`): without this, codex retries for
/// ever and the worker sits `running`. Asks `codex login status` at most once.
pub fn check_login(codex_args: &[String], profile: Option<&str>) -> Result<()> {
    let env = envfile::capture();
    let program = codex::resolve_program(&env)?;
    match codex::login::missing_credential(&program, codex_args, profile, &env) {
        Some(why) => Err(UserError::failed(why).into()),
        None => Ok(()),
    }
}

/// Makes a new run folder with a fresh id.
pub fn new_run(
    home: &Home,
    kind: &str,
    max_parallel: Option<u32>,
    stages: Vec<StageRecord>,
) -> Result<RunDir> {
    let now = chrono::Local::now();
    for salt in 0..100u64 {
        let id = ids::new_run_id(now, salt);
        let run = home.run(&id);
        match std::fs::DirBuilder::new().mode(0o700).create(&run.dir) {
            Ok(()) => crate::sys::testhook::crash_point("run-dir-created"),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(UserError::failed(format!(
                    "cannot create a run in {}: {e}; check ORCH_HOME is writable and has space",
                    home.runs_dir().display()
                ))
                .into());
            }
        }
        let made = (|| -> Result<()> {
            run.create()?;
            write_json(
                &run.record_path(),
                &RunRecord {
                    schema: crate::store::SCHEMA,
                    id: id.clone(),
                    created_at: Utc::now(),
                    cwd: std::env::current_dir().unwrap_or_default(),
                    max_parallel,
                    kind: kind.to_string(),
                    pipeline: None,
                    stages: stages.clone(),
                    merge_on_finish: false,
                    budget_usd: None,
                },
            )
        })();
        if let Err(e) = made {
            // Leave nothing half-made behind.
            let _ = std::fs::remove_dir_all(&run.dir);
            return Err(e);
        }
        return Ok(run);
    }
    anyhow::bail!("cannot find a free run id; try again")
}

/// Removes a run this command made when it ended up holding no worker (the spawn was
/// refused after the run existed), so no empty run is left to become "latest".
pub fn discard_if_empty(run: &RunDir) {
    if run.labels_unordered().is_ok_and(|l| l.is_empty()) {
        let _ = std::fs::remove_dir_all(&run.dir);
    }
}

/// A worker to be added to a run.
#[derive(Debug, Clone)]
pub struct NewWorker {
    pub label: Option<String>,
    pub role: Option<String>,
    pub lens: Option<String>,
    pub stage: Option<String>,
    pub prompt: String,
    pub opts: CodexSettings,
    pub codex_args: Vec<String>,
    pub after: Vec<String>,
    /// `after` is met when every dependency has ended and one ended done (see
    /// [`WorkerSpec::after_any_done`]).
    pub after_any_done: bool,
    pub output_schema: Option<PathBuf>,
    pub retries: u32,
    pub force_writer: bool,
    /// `--timeout`: stop codex after this many seconds of running.
    pub timeout_secs: Option<u64>,
    /// `--worktree`: the worker gets its own git worktree and branch (`ops::worktree`).
    pub worktree: Option<crate::ops::worktree::WorktreeRequest>,
}

/// Adds the worker under the run's lock, then starts whatever may start.
pub fn add_and_schedule(
    home: &Home,
    run: &RunDir,
    worker: NewWorker,
    sched_opts: &AddOptions,
) -> Result<String> {
    let _lock = run.lock()?;
    if let Some(n) = sched_opts.max_parallel {
        set_max_parallel(run, Some(n))?;
    }
    if let Some(b) = sched_opts.budget_usd {
        set_budget(run, Some(b))?;
    }
    // A worker with its own worktree is the only writer of that tree.
    if worker.opts.sandbox.writes() && worker.worktree.is_none() {
        check_writer_slot(home, run, &worker, sched_opts)?;
    }
    let w = add_unsynced(run, worker)?;
    let ticked = sched::tick_after_add(home, run, &w.label);
    // A launch syncs the worker's folder before its window opens, which makes the new
    // records durable too; otherwise that one fsync is done here.
    if !matches!(&ticked, Ok(l) if l.contains(&w.label)) {
        sync_dir(&w.dir).with_context(|| format!("cannot sync {}", w.dir.display()))?;
    }
    ticked?;
    Ok(w.address())
}

/// Changes the run's parallel limit (`None` removes it). Caller holds the run lock.
pub fn set_max_parallel(run: &RunDir, n: Option<u32>) -> Result<()> {
    let mut rec = run.record()?;
    rec.max_parallel = n;
    write_json(&run.record_path(), &rec)
}

/// Changes the run's budget in USD (`None` removes it). Caller holds the run lock.
pub fn set_budget(run: &RunDir, usd: Option<f64>) -> Result<()> {
    let mut rec = run.record()?;
    rec.budget_usd = usd;
    write_json(&run.record_path(), &rec)
}

/// One writer per working tree: with --no-wait a busy tree is refused; with --force
/// the writer starts anyway, with a warning.
fn check_writer_slot(
    home: &Home,
    run: &RunDir,
    worker: &NewWorker,
    opts: &AddOptions,
) -> Result<()> {
    let cd = resolve_cd(worker.opts.cd.as_deref())?;
    let tree = writer::working_tree(&cd);
    if !writer::claimed(home, run, &tree)? {
        return Ok(());
    }
    if opts.force {
        crate::errln!(
            "orch: warning: another worker writes {} too (--force); their edits may collide",
            tree.display()
        );
        Ok(())
    } else if opts.no_wait {
        Err(UserError::failed(format!(
            "another worker is writing {}; wait for it, or use --force to write anyway",
            tree.display()
        ))
        .into())
    } else {
        Ok(())
    }
}

/// Writes the worker's folder; spec.json is written last, so a folder without it is
/// a spawn that died half-way (`incomplete`), never a worker with a partial spec.
pub fn add_locked(run: &RunDir, worker: NewWorker) -> Result<String> {
    let w = add_unsynced(run, worker)?;
    sync_dir(&w.dir).with_context(|| format!("cannot sync {}", w.dir.display()))?;
    Ok(w.address())
}

/// `add_locked` without the final fsync of the worker's folder (the caller's to do).
fn add_unsynced(run: &RunDir, worker: NewWorker) -> Result<WorkerDir> {
    let record = run.record()?;
    let cd = resolve_cd(worker.opts.cd.as_deref())?;
    let labels = run.labels()?;
    for dep in &worker.after {
        validate_label(dep)?;
        if !labels.contains(dep) {
            let hint = ids::closest(dep, labels.iter().map(String::as_str))
                .map(|c| format!("; did you mean {c}?"))
                .unwrap_or_default();
            return Err(UserError::usage(format!(
                "--after {dep}: run {} has no worker {dep}{hint}",
                record.id
            ))
            .into());
        }
    }
    let label = match worker.label {
        Some(l) => {
            validate_label(&l)?;
            if labels.contains(&l) {
                return Err(UserError::usage(format!(
                    "run {} already has a worker {l}; choose another --label",
                    record.id
                ))
                .into());
            }
            l
        }
        None => (1..)
            .map(|n| format!("W{n}"))
            .find(|l| !labels.contains(l) && !run.worker(l).dir.exists())
            .expect("some label is free"),
    };
    let w = run.worker(&label);
    // The worktree first: a spawn refused there leaves no worker folder behind.
    let (worktree, cd) = match &worker.worktree {
        Some(req) => {
            let home = home_of(run)?;
            let (wt, inside) = crate::ops::worktree::create(&home, &run.id, &label, &cd, req)?;
            (Some(wt), inside)
        }
        None => (None, cd),
    };
    let undo = |e: anyhow::Error| {
        if let Some(wt) = &worktree {
            crate::ops::worktree::discard(wt);
        }
        e
    };
    crate::store::fsutil::create_private_dir(&w.dir)
        .with_context(|| format!("cannot create worker folder {}", w.dir.display()))
        .map_err(undo)?;
    crate::sys::testhook::crash_point("dir-created");
    let spec = WorkerSpec {
        schema: crate::store::SCHEMA,
        label: label.clone(),
        role: worker.role,
        lens: worker.lens,
        stage: worker.stage,
        created_at: Utc::now(),
        sandbox: worker.opts.sandbox,
        cd,
        model: worker.opts.model,
        profile: worker.opts.profile,
        codex_args: worker.codex_args,
        after: worker.after,
        after_any_done: worker.after_any_done,
        output_schema: worker.output_schema,
        retries: worker.retries,
        force_writer: worker.force_writer,
        timeout_secs: worker.timeout_secs,
        worktree: worktree.clone(),
    };
    let written = transition::create(&w, &worker.prompt, &spec);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&w.dir);
        return Err(undo(
            e.context(format!("cannot record worker {}", w.address())),
        ));
    }
    crate::sys::testhook::crash_point("spec-written");
    Ok(w)
}

/// The home a run folder lives in (`<home>/runs/<run>`).
fn home_of(run: &RunDir) -> Result<Home> {
    let root = run
        .dir
        .parent()
        .and_then(Path::parent)
        .context("a run folder outside ORCH_HOME")?;
    Ok(Home {
        root: root.to_path_buf(),
    })
}

pub fn resolve_cd(cd: Option<&Path>) -> Result<PathBuf> {
    let dir = match cd {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(std::fs::canonicalize(&dir).unwrap_or(dir)),
        Ok(_) => Err(UserError::usage(format!("--cd {}: not a directory", dir.display())).into()),
        Err(e) => Err(UserError::usage(format!("--cd {}: {e}", dir.display())).into()),
    }
}
