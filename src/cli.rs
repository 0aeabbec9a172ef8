//! The command line, defined once: it feeds `--help`, the man page and completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Workers are addressed as RUN/LABEL, or LABEL for the latest run; a unique prefix of a
run id is enough. State lives in $ORCH_HOME (default ~/.local/state/orch).

Exit status: 0 success; 1 the thing asked about failed (a worker failed, an error);
2 bad usage or input; 124 a wait timed out.

Environment: ORCH_HOME (state root), ORCH_CODEX (the codex program), ORCH_TMUX_SOCKET
(path of orch's private tmux socket), NO_COLOR (no colour).";

#[derive(Debug, Parser)]
#[command(
    name = "orch",
    version,
    about = "Run codex exec workers as detached tmux windows, with every fact on disk",
    long_about = "Run codex exec workers as detached tmux windows, with every fact on disk.\n\n\
        Each worker is a `codex exec --json` in a window of orch's own tmux server; its prompt, \
        events, stderr, final message and exit record are files in a run folder, so workers \
        survive a dropped SSH session and `orch status` tells the truth after any crash.",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a codex worker in a new or existing run; prints RUN/LABEL
    Spawn(SpawnArgs),
    /// Show the workers of a run (default: the latest)
    #[command(visible_alias = "st")]
    Status(StatusArgs),
    /// List all runs, newest first, with counts per state
    Ls(LsArgs),
    /// Show a worker's progress: commands run, files changed, messages
    Logs(LogsArgs),
    /// Attach the terminal to a worker's tmux window (detach with C-b d)
    Attach(AttachArgs),
    /// Print a worker's final message exactly as it wrote it
    Result(ResultArgs),
    /// Stop workers: Ctrl-C to codex, then TERM and KILL after a grace period
    Stop(StopArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Run a worker inside its tmux window (internal)
    #[command(name = "__worker", hide = true)]
    Worker(WorkerArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sandbox {
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

impl Sandbox {
    pub fn as_str(self) -> &'static str {
        match self {
            Sandbox::ReadOnly => "read-only",
            Sandbox::WorkspaceWrite => "workspace-write",
            Sandbox::DangerFullAccess => "danger-full-access",
        }
    }
}

/// Options describing what a worker runs, shared by spawn, fanout and friends.
#[derive(Debug, Args, Clone)]
pub struct CodexOpts {
    /// Working directory for codex (default: the current directory)
    #[arg(long = "cd", value_name = "DIR")]
    pub cd: Option<PathBuf>,
    /// codex sandbox policy
    #[arg(long, value_enum, default_value = "read-only")]
    pub sandbox: Sandbox,
    /// Model for codex (`codex exec --model`)
    #[arg(long)]
    pub model: Option<String>,
    /// codex config profile (`codex exec --profile`)
    #[arg(long)]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct SpawnArgs {
    /// The task; `-` reads it from stdin
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// Read the prompt from FILE
    #[arg(long, value_name = "FILE", conflicts_with = "prompt")]
    pub prompt_file: Option<PathBuf>,
    /// Add the worker to this run (id or unique prefix) instead of making a new run
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Worker label (default W1, W2, …): 1-64 of A-Z a-z 0-9 . _ -
    #[arg(long)]
    pub label: Option<String>,
    /// Worker role, shown in status (e.g. reviewer, scout, implementer, verifier)
    #[arg(long)]
    pub role: Option<String>,
    #[command(flatten)]
    pub codex: CodexOpts,
    /// Arguments passed to `codex exec` verbatim
    #[arg(last = true, value_name = "CODEX_ARGS")]
    pub codex_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Run id or unique prefix (default: the latest run)
    pub run: Option<String>,
    /// Print JSON: {"run", "workers": [{"label", "state", "exit_code", "tokens", …}]}
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON lines' worth as one JSON array
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// RUN/LABEL or LABEL
    pub worker: String,
    /// Keep printing as the worker goes on, until it ends
    #[arg(short, long)]
    pub follow: bool,
    /// Print the raw JSON events instead of readable lines
    #[arg(long)]
    pub raw: bool,
    /// Print codex's stderr instead of its events
    #[arg(long, conflicts_with = "raw")]
    pub stderr: bool,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// RUN/LABEL or LABEL
    pub worker: String,
}

#[derive(Debug, Args)]
pub struct ResultArgs {
    /// RUN/LABEL or LABEL
    pub worker: String,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// RUN/LABEL, LABEL, or a run id to stop all its workers
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Seconds to wait after Ctrl-C before TERM, and after TERM before KILL
    #[arg(long, default_value_t = 10)]
    pub grace: u64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[arg(long)]
    pub home: PathBuf,
    pub run: String,
    pub label: String,
}
