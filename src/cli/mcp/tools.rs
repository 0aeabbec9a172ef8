//! The tools `orch mcp` offers, in one table: name, description, arguments (a struct
//! whose JSON schema codex shows the model) and the handler. Each handler calls the
//! same ops function as the CLI command of that name, and returns a short text for the
//! model plus, as structured content, exactly what that command prints with `--json`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::cli::args::StallOpts;
use crate::lifecycle::state::{State, ViewOptions};
use crate::merge::{MergeOptions, Severity};
use crate::model::Sandbox;
use crate::model::error::UserError;
use crate::ops;
use crate::ops::start::Started;
use crate::store::Home;

/// `wait` without `timeout_secs` returns after this long, so the orchestrating
/// session can keep talking to its user and call `wait` again.
pub const WAIT_DEFAULT_SECS: u64 = 120;
/// The longest `wait`: below the `tool_timeout_sec` that `orch mcp install` records
/// (codex gives up on a tool call after that and reports an error to the model).
pub const WAIT_MAX_SECS: u64 = 540;
/// `=1` in codex's environment lets the `spawn` tool start danger-full-access workers.
pub const FULL_ACCESS: &str = "ORCH_MCP_FULL_ACCESS";
/// What `orch mcp install` records as codex's per-call limit for orch's tools.
pub const TOOL_TIMEOUT_SECS: u64 = 600;

/// What a handler answers: text for the model, and the `--json` value.
pub struct Answer {
    pub text: String,
    pub structured: Value,
    /// Set when the call failed the way the CLI's non-zero exit says (the text is the
    /// CLI's stderr line); the structured value is still the `--json` output.
    pub failed: bool,
}

impl Answer {
    fn ok(text: impl Into<String>, structured: Value) -> Answer {
        Answer {
            text: text.into(),
            structured,
            failed: false,
        }
    }
}

type Handler = fn(&Home, Value) -> Result<Answer>;

pub struct ToolDef {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: fn() -> serde_json::Map<String, Value>,
    pub handler: Handler,
    /// Only looks (status, wait, result, logs): a hint for clients.
    pub read_only: bool,
}

fn schema<T: JsonSchema>() -> serde_json::Map<String, Value> {
    // Inline, no `$ref`/`$defs`: codex turns each schema into the model's function
    // parameters and understands only plain ones.
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut s =
        serde_json::to_value(generator.into_root_schema_for::<T>()).unwrap_or_else(|_| json!({}));
    drop_null_types(&mut s);
    if let Some(o) = s.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
        o.entry("properties").or_insert_with(|| json!({}));
    }
    match s {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    }
}

/// `"type": ["string", "null"]` (schemars' optional field) becomes `"type": "string"`:
/// optional is already said by `required`, and codex reads a single type only.
fn drop_null_types(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(types)) = o.get("type") {
                let left: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if left.len() == 1 {
                    o.insert("type".into(), left[0].clone());
                }
            }
            if let Some(Value::Array(e)) = o.get_mut("enum") {
                e.retain(|x| !x.is_null());
            }
            // `#[serde(default)]` on an optional list: absent means none.
            if o.get("default").is_some_and(Value::is_null) {
                o.remove("default");
            }
            o.values_mut().for_each(drop_null_types);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_null_types),
        _ => {}
    }
}

/// The table. Names are fixed: skills and users call them by name.
pub fn table() -> Vec<ToolDef> {
    vec![
        ToolDef {
            name: "spawn",
            description: "Start one codex worker (orch spawn). It runs detached in orch's tmux \
                server, outside your sandbox, and goes on after this call returns. Returns its \
                address RUN/LABEL; `wait` for it, then read its `result`.",
            schema: schema::<SpawnParams>,
            handler: spawn,
            read_only: false,
        },
        ToolDef {
            name: "fanout",
            description: "Start a triangulated review (orch fanout): one read-only reviewer \
                per lens (2-6; names like correctness, security, tests, or name=text), all in \
                one new run. Then `wait` for the run and `merge` it.",
            schema: schema::<FanoutParams>,
            handler: fanout,
            read_only: false,
        },
        ToolDef {
            name: "best_of_n",
            description: "Best-of-N (orch fanout --attempts): N implementers (2-4) of one task, \
                each in its own git worktree and branch, all at once, then a read-only verifier \
                `pick` that compares their diffs and names the best. `wait` for the run, read \
                pick's `result`, then `land` with the run id lands its choice.",
            schema: schema::<BestOfNParams>,
            handler: best_of_n,
            read_only: false,
        },
        ToolDef {
            name: "run",
            description: "Start a pipeline (orch run): a named pipeline (e.g. review, \
                fix-verify) or a file, with its variables; its stages start as their turn \
                comes.",
            schema: schema::<RunParams>,
            handler: run_pipeline,
            read_only: false,
        },
        ToolDef {
            name: "status",
            description: "The workers of a run (orch status): state, elapsed, tokens, cost, \
                last activity. Default: the latest run.",
            schema: schema::<StatusParams>,
            handler: status,
            read_only: true,
        },
        ToolDef {
            name: "wait",
            description: "Wait for workers to end (orch wait), but never longer than \
                timeout_secs (default 120, at most 540); says which ones still run. Targets: \
                run ids, RUN/LABEL or LABEL (default: the latest run). Call it again to keep \
                waiting; the workers go on either way.",
            schema: schema::<WaitParams>,
            handler: wait,
            read_only: true,
        },
        ToolDef {
            name: "result",
            description: "A done worker's final message, exactly as it wrote it (orch result).",
            schema: schema::<WorkerParams>,
            handler: result,
            read_only: true,
        },
        ToolDef {
            name: "logs",
            description: "A worker's progress as readable lines (orch logs): commands run, \
                files changed, messages. tail: only the last N lines.",
            schema: schema::<LogsParams>,
            handler: logs,
            read_only: true,
        },
        ToolDef {
            name: "merge",
            description: "Curate a run's results into one ranked, de-duplicated list with \
                provenance (orch merge; also saved as merge.md in the run). Use it instead of \
                forwarding workers' raw messages. Refuses a run still going unless partial.",
            schema: schema::<MergeParams>,
            handler: merge,
            read_only: false,
        },
        ToolDef {
            name: "send",
            description: "Steer a running worker (orch send): the message is queued and the \
                worker continues the same conversation with it when its current turn ends \
                (now: interrupt the turn and continue with it at once). Its result is then the \
                answer to the last message.",
            schema: schema::<SendParams>,
            handler: send,
            read_only: false,
        },
        ToolDef {
            name: "diff",
            description: "What a worktree worker changed, against the commit it started from \
                (orch diff); stat: only files and line counts.",
            schema: schema::<DiffParams>,
            handler: diff,
            read_only: true,
        },
        ToolDef {
            name: "land",
            description: "Put a done worktree worker's branch onto a branch of the user's \
                checkout (orch land): a merge (fast-forward when possible), squash or rebase. \
                Read its `diff` first.",
            schema: schema::<LandParams>,
            handler: land,
            read_only: false,
        },
        ToolDef {
            name: "stop",
            description: "Stop workers or whole runs (orch stop): RUN/LABEL, LABEL or a run id.",
            schema: schema::<StopParams>,
            handler: stop,
            read_only: false,
        },
    ]
}

/// A list argument given as a list or, as a model sometimes writes it, as one string.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<String>),
    One(String),
}

/// Lenses: one string stays whole (`"correctness, perf=allocations, copies"`), and
/// fanout splits it as it splits `--lens` (inline lens text may hold commas).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(s) => vec![s],
    })
}

/// Labels, run ids and addresses (which hold no commas): one string is split at commas
/// or spaces (`"W1, W2"`).
fn some_one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Some(names(OneOrMany::deserialize(d)?)))
}

fn many_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(names(OneOrMany::deserialize(d)?))
}

fn names(v: OneOrMany) -> Vec<String> {
    match v {
        OneOrMany::Many(v) => v,
        OneOrMany::One(s) => s
            .split([',', ' '])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// Arguments of a call as the tool's struct; a bad one is a usage error naming the tool.
fn args<T: DeserializeOwned>(tool: &str, v: Value) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| UserError::usage(format!("{tool}: bad arguments: {e}")).into())
}

/// codex's sandbox policies, as `--sandbox` names them.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum SandboxArg {
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

impl From<SandboxArg> for Sandbox {
    fn from(s: SandboxArg) -> Sandbox {
        match s {
            SandboxArg::ReadOnly => Sandbox::ReadOnly,
            SandboxArg::WorkspaceWrite => Sandbox::WorkspaceWrite,
            SandboxArg::DangerFullAccess => Sandbox::DangerFullAccess,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SpawnParams {
    /// The task for the worker.
    prompt: String,
    /// Worker label (default W1, W2, ...): 1-64 of A-Z a-z 0-9 . _ -
    label: Option<String>,
    /// Add the worker to this run (id or unique prefix) instead of making a new run.
    run: Option<String>,
    /// reviewer, researcher, implementer, verifier or scout: wraps the prompt in that
    /// role's template.
    role: Option<String>,
    /// A reviewer's focus: a lens name or inline name=text.
    lens: Option<String>,
    /// codex sandbox for the worker (default read-only). One writing worker per
    /// working tree at a time; others queue.
    sandbox: Option<SandboxArg>,
    /// Start only after these workers of the run ended done (labels; needs run).
    #[serde(default, deserialize_with = "some_one_or_many")]
    after: Option<Vec<String>>,
    /// The worker's working directory (default: the server's, which is codex's).
    cd: Option<PathBuf>,
    /// Give the worker a git worktree and branch of its own (orch/RUN/LABEL), so
    /// several writers can work at once; see its `diff`, then `land` it.
    worktree: Option<bool>,
    /// With worktree: the commit or branch it starts from (default: the checkout's HEAD).
    base: Option<String>,
}

fn spawn(home: &Home, v: Value) -> Result<Answer> {
    let p: SpawnParams = args("spawn", v)?;
    if p.prompt.trim().is_empty() {
        return Err(
            UserError::usage("spawn: the prompt is empty; say what the worker should do").into(),
        );
    }
    let worktree = match (p.worktree.unwrap_or(false), p.base) {
        (true, base) => Some(ops::worktree::WorktreeRequest {
            base,
            ..Default::default()
        }),
        (false, Some(_)) => {
            return Err(UserError::usage(
                "spawn: base is where a worktree starts; set worktree: true with it",
            )
            .into());
        }
        (false, None) => None,
    };
    let sandbox = p.sandbox.map(Sandbox::from).unwrap_or_default();
    // The tools run without asking the user (see `orch mcp install`): leaving every
    // sandbox behind is the user's decision, made once in codex's environment.
    if sandbox == Sandbox::DangerFullAccess
        && std::env::var_os(FULL_ACCESS).is_none_or(|v| v != "1")
    {
        return Err(UserError::usage(format!(
            "spawn: sandbox danger-full-access is off for codex's tools; use workspace-write, or set {FULL_ACCESS}=1 in codex's environment to allow it"
        ))
        .into());
    }
    let req = ops::start::SpawnRequest {
        task: p.prompt,
        label: p.label,
        run: p.run,
        role: p.role,
        lens: p.lens,
        after: p.after.unwrap_or_default(),
        worktree,
        codex: ops::spawn::CodexSettings {
            cd: p.cd,
            sandbox,
            ..Default::default()
        },
        ..Default::default()
    };
    let address = ops::start::spawn_worker(home, &req)?;
    let started = Started::one(address.clone());
    Ok(Answer::ok(
        format!("started {address}; `wait` for it, then read its `result`"),
        serde_json::to_value(&started)?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FanoutParams {
    /// The task every reviewer gets.
    prompt: String,
    /// 2-6 lenses: names (correctness, security, tests, performance, ...) or name=text.
    #[serde(deserialize_with = "one_or_many")]
    lenses: Vec<String>,
    /// A context pack file (with Goal and Success check) attached to every reviewer.
    context: Option<PathBuf>,
}

fn fanout(home: &Home, v: Value) -> Result<Answer> {
    let p: FanoutParams = args("fanout", v)?;
    let req = ops::start::FanoutRequest {
        task: p.prompt,
        lenses: p.lenses,
        context: p.context,
        ..Default::default()
    };
    let run = ops::start::fanout(home, &req)?;
    let started = Started::run(home, run);
    Ok(Answer::ok(
        format!(
            "started run {} with {}; `wait` for the run, then `merge` it",
            started.run,
            started.workers.join(", ")
        ),
        serde_json::to_value(&started)?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BestOfNParams {
    /// The task every attempt gets.
    prompt: String,
    /// How many attempts: 2 to 4.
    attempts: u32,
    /// The git checkout they start from (default: the server's folder, which is codex's).
    cd: Option<PathBuf>,
    /// The commit or branch the attempts start from (default: the checkout's HEAD).
    base: Option<String>,
}

fn best_of_n(home: &Home, v: Value) -> Result<Answer> {
    let p: BestOfNParams = args("best_of_n", v)?;
    let req = ops::start::FanoutRequest {
        task: p.prompt,
        attempts: Some(p.attempts),
        cd: p.cd,
        worktree: Some(ops::worktree::WorktreeRequest {
            base: p.base,
            ..Default::default()
        }),
        ..Default::default()
    };
    let run = ops::start::fanout(home, &req)?;
    let started = Started::run(home, run);
    Ok(Answer::ok(
        format!(
            "started run {} with {}; `wait` for the run, then `land` {} lands pick's choice",
            started.run,
            started.workers.join(", "),
            started.run
        ),
        serde_json::to_value(&started)?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunParams {
    /// A pipeline name (shipped, or in $ORCH_HOME/pipelines) or a file path.
    pipeline: String,
    /// The pipeline's variables, e.g. {"target": "src/"}.
    #[serde(default)]
    vars: BTreeMap<String, String>,
}

fn run_pipeline(home: &Home, v: Value) -> Result<Answer> {
    let p: RunParams = args("run", v)?;
    let req = ops::start::PipelineRequest {
        pipeline: p.pipeline,
        vars: p.vars,
        ..Default::default()
    };
    let loaded = ops::start::load_pipeline(home, &req)?;
    let run = ops::start::start_pipeline(home, &req, loaded)?;
    let started = Started::run(home, run);
    Ok(Answer::ok(
        format!(
            "started run {} with {}; `wait` for the run",
            started.run,
            started.workers.join(", ")
        ),
        serde_json::to_value(&started)?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StatusParams {
    /// Run id or unique prefix (default: the latest run).
    run: Option<String>,
}

/// `orch status`'s defaults for `--stall-after` and `--offline-after`, from its clap
/// definition (one source for both).
fn stall_defaults() -> StallOpts {
    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        stall: StallOpts,
    }
    Only::parse_from(["orch"]).stall
}

fn status(home: &Home, v: Value) -> Result<Answer> {
    let p: StatusParams = args("status", v)?;
    let run = home.run_or_latest(p.run.as_deref())?;
    // Any orch command may start queued workers whose turn has come.
    let _ = crate::lifecycle::sched::tick(home, &run);
    let stall = stall_defaults();
    let opts = ViewOptions {
        stall_after: Duration::from_secs(stall.stall_after),
        offline_after: Duration::from_secs(stall.offline_after),
        activity: true,
    };
    let status = ops::status::collect(home, &run, &opts)?;
    Ok(Answer::ok(
        crate::cli::commands::status::render(&status, false),
        serde_json::to_value(&status)?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WaitParams {
    /// Runs, RUN/LABEL or LABEL (default: every worker of the latest run).
    #[serde(default, deserialize_with = "some_one_or_many")]
    targets: Option<Vec<String>>,
    /// Return after this many seconds even if workers still run (default 120, at most 540).
    timeout_secs: Option<u64>,
    /// Return as soon as one of them ends.
    any: Option<bool>,
}

fn wait(home: &Home, v: Value) -> Result<Answer> {
    let p: WaitParams = args("wait", v)?;
    let secs = p
        .timeout_secs
        .unwrap_or(WAIT_DEFAULT_SECS)
        .min(WAIT_MAX_SECS);
    let req = ops::wait::WaitRequest {
        targets: p.targets.unwrap_or_default(),
        any: p.any.unwrap_or(false),
        timeout: Some(Duration::from_secs(secs)),
        kill_stalled: false,
        stall_after: Duration::from_secs(stall_defaults().stall_after),
        poll_ms: None,
        // The server's stdout is the protocol: when codex goes, so does the server.
        give_up_unheard: false,
    };
    let report = ops::wait::wait(home, &req, &mut |_, _| {})?;
    let mut text = String::new();
    for w in &report.workers {
        let how = match (w.state, &w.error) {
            (State::Done, _) => "done: read it with `result`".to_string(),
            (s, Some(e)) if w.ended => format!("{s}: {e}"),
            (s, _) => s.to_string(),
        };
        text.push_str(&format!("{}/{} {how}\n", w.run, w.label));
    }
    if let Some(why) = &report.held {
        text.push_str(&format!("stopped waiting: {why}\n"));
    } else if report.timed_out {
        text.push_str(&format!(
            "still running after {secs}s: {}; call `wait` again (they go on meanwhile)\n",
            report.still_going.join(", ")
        ));
    } else if !report.still_going.is_empty() {
        text.push_str(&format!("still going: {}\n", report.still_going.join(", ")));
    }
    Ok(Answer::ok(text, serde_json::to_value(&report)?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WorkerParams {
    /// RUN/LABEL, or LABEL in the latest run.
    worker: String,
}

fn result(home: &Home, v: Value) -> Result<Answer> {
    let p: WorkerParams = args("result", v)?;
    let report = ops::output::result_report(home, &p.worker)?;
    Ok(Answer::ok(
        report.result.clone(),
        serde_json::to_value(&report)?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LogsParams {
    /// RUN/LABEL, or LABEL in the latest run.
    worker: String,
    /// Only the last N lines.
    tail: Option<usize>,
}

fn logs(home: &Home, v: Value) -> Result<Answer> {
    let p: LogsParams = args("logs", v)?;
    let report = ops::output::read_logs(home, &p.worker, ops::output::LogKind::Readable, p.tail)?;
    let mut text = report.lines.join("\n");
    if let Some(note) = &report.note {
        text = note.clone();
    } else if text.is_empty() {
        text = format!(
            "{} has no progress lines yet ({})",
            report.worker, report.state
        );
    }
    Ok(Answer::ok(text, serde_json::to_value(&report)?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MergeParams {
    /// Run id or unique prefix (default: the latest run).
    run: Option<String>,
    /// Merge even though some workers still run or wait.
    partial: Option<bool>,
}

fn merge(home: &Home, v: Value) -> Result<Answer> {
    let p: MergeParams = args("merge", v)?;
    let opts = MergeOptions {
        min_severity: Severity::Info,
        include_failed: false,
    };
    let merged = ops::merge::merge_run(home, p.run.as_deref(), &opts)?;
    match merged.partial {
        Some(why) if !p.partial.unwrap_or(false) => Ok(Answer {
            text: format!("orch: {why}"),
            structured: merged.json,
            failed: true,
        }),
        _ => Ok(Answer::ok(merged.markdown, merged.json)),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendParams {
    /// RUN/LABEL, or LABEL in the latest run.
    worker: String,
    /// What the worker should do next.
    message: String,
    /// Interrupt the current turn and continue with the message at once.
    now: Option<bool>,
}

fn send(home: &Home, v: Value) -> Result<Answer> {
    let p: SendParams = args("send", v)?;
    let w = home.resolve_worker(&p.worker)?;
    let outcome = ops::send::send(&w, &p.message, p.now.unwrap_or(false))?;
    Ok(Answer::ok(
        outcome.describe(),
        serde_json::to_value(&outcome)?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DiffParams {
    /// RUN/LABEL, or LABEL in the latest run.
    worker: String,
    /// Only the changed files and line counts.
    stat: Option<bool>,
}

fn diff(home: &Home, v: Value) -> Result<Answer> {
    let p: DiffParams = args("diff", v)?;
    let w = home.resolve_worker(&p.worker)?;
    let text = ops::worktree::diff(&w, p.stat.unwrap_or(false))?;
    let structured = json!({"worker": w.address(), "diff": text});
    let text = if text.is_empty() {
        format!("{} changed nothing against its base", w.address())
    } else {
        text
    };
    Ok(Answer::ok(text, structured))
}

/// How `land` puts a branch on the target.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum LandMode {
    Merge,
    Squash,
    Rebase,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LandParams {
    /// RUN/LABEL, LABEL in the latest run, or a best-of-N run (the attempt its pick
    /// worker named).
    worker: String,
    /// merge (default; a fast-forward when the target has not moved), squash or rebase.
    mode: Option<LandMode>,
    /// The branch to land on (default: the one checked out in the checkout).
    into: Option<String>,
    /// Land a worker that did not end done (what its branch holds).
    force: Option<bool>,
}

fn land(home: &Home, v: Value) -> Result<Answer> {
    let p: LandParams = args("land", v)?;
    let w = ops::pick::resolve(home, &p.worker)?;
    let mode = match p.mode.unwrap_or(LandMode::Merge) {
        LandMode::Merge => ops::land::Mode::Merge,
        LandMode::Squash => ops::land::Mode::Squash,
        LandMode::Rebase => ops::land::Mode::Rebase,
    };
    let done = ops::land::land(
        &w,
        &ops::land::LandOptions {
            mode,
            into: p.into,
            force: p.force.unwrap_or(false),
        },
    )?;
    let address = w.address();
    Ok(Answer::ok(done.describe(&address), done.to_json(&address)))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StopParams {
    /// RUN/LABEL, LABEL, or run ids (all their workers).
    #[serde(deserialize_with = "many_names")]
    targets: Vec<String>,
}

fn stop(home: &Home, v: Value) -> Result<Answer> {
    let p: StopParams = args("stop", v)?;
    if p.targets.is_empty() {
        return Err(
            UserError::usage("stop: name at least one target (RUN/LABEL, LABEL or a run)").into(),
        );
    }
    let report = ops::stop::stop_targets(home, &p.targets, Duration::from_secs(10))?;
    let text = report
        .stopped
        .iter()
        .map(|w| format!("{} {}", w.worker, w.state))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Answer::ok(text, serde_json::to_value(&report)?))
}
