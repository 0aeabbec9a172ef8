//! The command line, defined once: it feeds `--help`, the man page and completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Workers are addressed as RUN/LABEL, or LABEL for the latest run; a unique prefix of a
run id, or its random tail (k3f of 20261124-1412-k3f), is enough. State lives in $ORCH_HOME (default ~/.local/state/orch).

Exit status: 0 success; 1 the thing asked about failed (a worker failed, an error);
2 bad usage or input; 124 a wait timed out.

Environment: ORCH_HOME (state root), ORCH_CODEX (the codex program), ORCH_TMUX_SOCKET
(path of orch's private tmux socket), ORCH_SHARE_DIR (more templates, lenses and
pipelines), ORCH_SSH_AGENT=stable (workers use $ORCH_HOME/ssh-agent.sock, kept
pointing at the current SSH agent), NO_COLOR (no colour).

Examples:
  orch spawn \"Review src/ for race conditions\"       # prints RUN/W1
  orch fanout --lens correctness,security,tests \"Review src/\" && orch wait && orch merge
  orch run review-fix-verify --var target=src/merge/ --dry-run
  orch status --json | jq '.workers[] | {label, state}'";

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
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a codex worker in a new or existing run; prints RUN/LABEL
    #[command(after_help = "Examples:
  orch spawn \"Review src/ for race conditions\"
  run=$(orch spawn --label scout --role scout \"Map the storage layer\" | cut -d/ -f1)
  orch spawn --run $run --label fix --role implementer --sandbox workspace-write --after scout \"Fix what the scout found\"
  orch spawn --prompt-file pack.md -- -c model_reasoning_effort=high")]
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
    /// Block until workers end; exit 0 if all ended done, 1 if any did not, 124 on timeout
    #[command(after_help = "Examples:
  orch wait                          # every worker of the latest run
  orch wait 20261124-1412 --timeout 30m
  orch wait W1 W2 --any --json")]
    Wait(WaitArgs),
    /// Print a line for each worker that ends, in all runs (long-running)
    #[command(after_help = "Examples:
  orch watch --bell
  orch watch --json --on-finish 'notify-send \"$ORCH_LABEL $ORCH_STATE\"'")]
    Watch(WatchArgs),
    /// The dashboard: workers, a preview of the selected one, keys to act on it (? for help)
    Top(TopCommandArgs),
    /// One read-only reviewer per lens (or N attempts of one task) in a new run; prints the run id
    #[command(after_help = "Examples:
  orch fanout --lens correctness,security,tests \"Review src/\" && orch wait && orch merge
  orch fanout --attempts 3 --worktree \"Fix the flaky test in tests/net.rs\"   # best-of-N
  orch fanout --lens security,\"perf=allocations, copies and locks\" --context pack.md --merge \"Review the diff of HEAD~3..\"")]
    Fanout(FanoutArgs),
    /// Run a pipeline file (or a shipped pipeline by name)
    #[command(
        after_help = "Shipped pipelines: triangulated-review, review-fix-verify, scout-act-verify,
split-by-sections, research-synthesis, options-sprint, best-of-n (see docs/patterns.md).

Examples:
  orch run review-fix-verify --var target=src/merge/ --dry-run
  orch run split-by-sections --var task=\"port to thiserror\" --var sections=src/a/,src/b/
  orch run ./my-pipeline.toml --var context=pack.md"
    )]
    Run(RunArgs),
    /// Print a run's plan: its stages and which one is in progress
    Plan(PlanArgs),
    /// Context packs: write a skeleton, or check one
    #[command(subcommand, disable_help_subcommand = true)]
    Pack(PackCommand),
    /// Curate a run's final messages into one ranked, de-duplicated result
    #[command(after_help = "Examples:
  orch merge                         # the latest run, as markdown (also saved as merge.md)
  orch merge 20261124-1412 --json --min-severity medium
  orch merge --synthesize && orch wait")]
    Merge(MergeArgs),
    /// Show what a worktree worker changed, against the commit it started from
    Diff(DiffArgs),
    /// Apply a worktree worker's branch to a branch of your checkout
    #[command(
        after_help = "Refuses, changing nothing, when the checkout has uncommitted changes to \
tracked files, when the branch would conflict with the target (checked first with \
`git merge-tree --write-tree`, git 2.38 or newer), or when the worker did not end done \
(unless --force). A landed worker shows `landed` in `orch status`. Given a run (best-of-N, \
`fanout --attempts N`), lands the attempt its `pick` worker named on its `Best: LABEL` line.

Examples:
  orch land R/api                    # merge (fast-forward when the target has not moved)
  orch land R/api --squash --into release
  orch land R                        # the attempt R/pick chose"
    )]
    Land(LandArgs),
    /// Change a run's settings (e.g. --max-parallel)
    Set(SetArgs),
    /// Run a failed, stopped or lost worker again from its saved spec
    Retry(RetryArgs),
    /// Continue a worker's codex conversation with a new prompt
    Resume(ResumeArgs),
    /// Steer a running worker: after its current turn (at once with --now) it continues
    /// its conversation with MESSAGE
    #[command(
        after_help = "The message waits in the worker's inbox ($ORCH_HOME/runs/RUN/workers/LABEL/inbox/) \
and is delivered once, in the order sent, one per turn: when the current turn ends well the \
worker continues the same codex conversation (`codex exec resume THREAD`) in its window \
instead of ending, and its result is the answer to the last message. A worker still queued \
gets it after its first turn. A worker that has ended is refused: `orch resume` continues it.

Examples:
  orch send W1 \"Also check the error paths\"
  orch send --now W2 \"Stop refactoring; only fix the failing test\"
  git diff | orch send W1 -"
    )]
    Send(SendArgs),
    /// After a reboot or a killed tmux server: continue every lost worker's conversation
    #[command(
        after_help = "A lost worker that had reached codex continues its conversation \
(`codex exec resume THREAD`) with a short \"you were interrupted; continue\" prompt; one \
that never did starts again from its prompt. Starts are spaced by --stagger, so workers \
sharing one ChatGPT login do not all refresh its token at once; recovery stops after \
repeated refused credentials and says to `codex login`.

Examples:
  orch recover --dry-run
  orch recover --all --stagger 10s"
    )]
    Recover(RecoverArgs),
    /// Remove finished runs' windows, folders and worktrees (branches with unlanded work are kept)
    Gc(GcArgs),
    /// Check tmux, codex, ORCH_HOME, limits and records, each with a fix
    Doctor(DoctorArgs),
    /// Let codex drive orch: the stdio MCP server codex starts, and its registration
    #[command(
        after_help = "Without a subcommand, serves MCP on stdin/stdout (what codex \
runs). Tools: spawn, fanout, best_of_n, run, status, wait, result, logs, merge, send, \
diff, land, stop; each returns a short text and, as structured content, the command's --json \
output.

`orch mcp install` registers server \"orch\" in $CODEX_HOME/config.toml (default ~/.codex) \
with default_tools_approval_mode = \"approve\": codex calls orch's tools without asking, \
also from `codex exec`. Workers then start outside codex's sandbox, in the sandbox the \
model asks for (danger-full-access only with ORCH_MCP_FULL_ACCESS=1 in codex's \
environment). It also installs the skill $CODEX_HOME/skills/orch/SKILL.md.

Examples:
  orch mcp install --dry-run
  orch mcp install && codex
  orch mcp uninstall"
    )]
    Mcp(McpArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Run a worker inside its tmux window (internal)
    #[command(name = "__worker", hide = true)]
    Worker(WorkerArgs),
    /// Watch ORCH_HOME for `orch wait`, reporting changes on stdout (internal)
    #[command(name = "__watch", hide = true)]
    WatchHelper(WatchHelperArgs),
}

pub use crate::model::Sandbox;

/// clap parses `--sandbox` straight into the model's type (its names are codex's).
impl ValueEnum for Sandbox {
    fn value_variants<'a>() -> &'a [Self] {
        &Sandbox::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
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
    /// Worker role; a known role (reviewer, researcher, implementer, verifier, scout)
    /// wraps the prompt in its template unless --raw
    #[arg(long)]
    pub role: Option<String>,
    /// Focus of a reviewer: a lens name (see share/lenses) or inline name=text
    #[arg(long)]
    pub lens: Option<String>,
    /// Send the prompt exactly as given, without the role's template
    #[arg(long)]
    pub raw: bool,
    /// Print JSON: {"run", "workers": ["RUN/LABEL"]} instead of the address
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub sched: SchedOpts,
    #[command(flatten)]
    pub codex: CodexOpts,
    #[command(flatten)]
    pub worktree: WorktreeOpts,
    /// Arguments passed to `codex exec` verbatim
    #[arg(last = true, value_name = "CODEX_ARGS")]
    pub codex_args: Vec<String>,
}

/// A git worktree of the worker's own (spawn, fanout --attempts).
#[derive(Debug, Args, Clone, Default)]
pub struct WorktreeOpts {
    /// Give the worker its own git worktree on a new branch orch/RUN/LABEL (under
    /// $ORCH_HOME/worktrees), so writers work in parallel; its work is committed there
    /// when it ends done (see `orch diff`, `orch land`)
    #[arg(long)]
    pub worktree: bool,
    /// Start the worktree's branch at REF instead of the checkout's HEAD
    #[arg(long, value_name = "REF", requires = "worktree")]
    pub base: Option<String>,
    /// Copy this gitignored file or folder of the checkout into the worktree
    /// (repeatable; added to the list in .orch/worktree-include)
    #[arg(long = "include", value_name = "PATH", requires = "worktree")]
    pub include: Vec<PathBuf>,
    /// Run CMD with `sh -c` in the worktree before codex starts, instead of
    /// .orch/worktree-setup; if it fails, the worker fails (output in setup.log)
    #[arg(long, value_name = "CMD", requires = "worktree")]
    pub setup: Option<String>,
}

impl WorktreeOpts {
    pub fn request(&self) -> Option<crate::ops::worktree::WorktreeRequest> {
        self.worktree
            .then(|| crate::ops::worktree::WorktreeRequest {
                base: self.base.clone(),
                include: self.include.clone(),
                setup: self.setup.clone(),
            })
    }
}

/// When and how a worker may start.
#[derive(Debug, Args, Clone, Default)]
pub struct SchedOpts {
    /// Start only after these workers of the run ended done (comma-separated labels)
    #[arg(long, value_name = "LABEL,...", value_delimiter = ',')]
    pub after: Vec<String>,
    /// At most N workers of the run running at once (sets it for the run)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// Start no more of the run's workers once it has spent USD (sets it for the run)
    #[arg(long, value_name = "USD", value_parser = parse_budget)]
    pub budget: Option<f64>,
    /// Attach a context pack (must have Goal and Success check)
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// A writer refuses to queue behind another writer of the same tree
    #[arg(long)]
    pub no_wait: bool,
    /// Start a writer even if another writes the same working tree (with a warning)
    #[arg(long)]
    pub force: bool,
    /// Retry up to N times on failures that look transient (API errors, lost)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// Ask codex for structured findings (`--output-schema` with orch's findings schema)
    #[arg(long)]
    pub findings_schema: bool,
    /// Stop the worker once codex has run this long (Ctrl-C, then TERM); it ends failed
    /// with "timed out after …". Time paused on a usage limit does not count
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Run id or unique prefix (default: the latest run)
    pub run: Option<String>,
    /// Print JSON: {"run", "workers": [{"label", "state", "exit_code", "tokens", …}]}
    #[arg(long)]
    pub json: bool,
    /// Redraw as workers change, like `orch top`
    #[arg(long, conflicts_with = "json")]
    pub watch: bool,
    #[command(flatten)]
    pub stall: StallOpts,
}

#[derive(Debug, Args, Clone)]
pub struct StallOpts {
    /// Flag a running worker that wrote no event for this long (e.g. 90s, 15m, 2h)
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_secs)]
    pub stall_after: u64,
    /// Flag a running worker `offline` when codex has only been waiting for the network
    /// this long (codex never gives up by itself)
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_secs)]
    pub offline_after: u64,
}

#[derive(Debug, Args, Clone)]
pub struct PollOpts {
    /// Poll every MS milliseconds instead of inotify (for network filesystems)
    #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "500")]
    pub poll: Option<u64>,
}

/// A `--budget`: a positive amount of USD (`4`, `4.50`, `$4.50`).
pub fn parse_budget(text: &str) -> Result<f64, String> {
    match crate::lifecycle::budget::parse_usd(text)? {
        0.0 => Err("a budget of 0 would start nothing; give a positive amount".into()),
        n => Ok(n),
    }
}

pub fn parse_secs(text: &str) -> Result<u64, String> {
    crate::model::text::parse_duration(text)
}

fn parse_timeout(text: &str) -> Result<u64, String> {
    match parse_secs(text)? {
        0 => Err("a timeout of 0 would stop every worker at once; give e.g. 30m".into()),
        n => Ok(n),
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Workers that did not end done are named on stderr, one line each \
    (`orch: RUN/LABEL STATE: why`). On a terminal, a progress line is redrawn on stderr."
)]
pub struct WaitArgs {
    /// Runs, RUN/LABEL or LABEL (default: every worker of the latest run)
    pub targets: Vec<String>,
    /// Return as soon as one of them ends
    #[arg(long)]
    pub any: bool,
    /// Give up after this long (exit 124), e.g. 90s, 30m
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    pub timeout: Option<u64>,
    /// Print the final states as JSON
    #[arg(long)]
    pub json: bool,
    /// Stop workers that stall (see --stall-after) instead of waiting for them
    #[arg(long)]
    pub kill_stalled: bool,
    #[command(flatten)]
    pub stall: StallOpts,
    #[command(flatten)]
    pub poll: PollOpts,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only this run (default: all runs, including ones made later)
    #[arg(long)]
    pub run: Option<String>,
    /// Run CMD with `sh -c` once per ended worker (ORCH_RUN, ORCH_LABEL, ORCH_STATE,
    /// ORCH_EXIT_CODE, ORCH_RESULT in its environment)
    #[arg(long, value_name = "CMD")]
    pub on_finish: Option<String>,
    /// Run CMD with `sh -c` once per run when all its workers have ended (or the rest
    /// wait on its budget), with a JSON summary on stdin (counts, cost, top findings)
    #[arg(long, value_name = "CMD")]
    pub on_run_end: Option<String>,
    /// Ring the terminal bell and show a message in orch's tmux clients
    #[arg(long)]
    pub bell: bool,
    /// Print JSON lines
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub stall: StallOpts,
    #[command(flatten)]
    pub poll: PollOpts,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Keys (also in the footer and on ?): j/k or arrows move, Enter attaches to \
    the worker's window (back on detach), s stops it (after y), r retries, R resumes with a \
    prompt, > sends it a message, l shows its log in $PAGER, d its diff, m the run's merge, \
    f or / filters, a puts what needs attention first, q quits.

Not on a terminal, prints the table each time a worker's state changes and exits 0 once \
every worker shown has ended."
)]
pub struct TopCommandArgs {
    #[command(flatten)]
    pub top: TopArgs,
    /// Every active run (one with a worker that has not ended) instead of one run
    #[arg(long, conflicts_with = "run")]
    pub all: bool,
}

/// What `top` and `status --watch` share.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Run id or unique prefix (default: the latest run)
    pub run: Option<String>,
    #[command(flatten)]
    pub stall: StallOpts,
    #[command(flatten)]
    pub poll: PollOpts,
}

#[derive(Debug, Args)]
pub struct FanoutArgs {
    /// Print JSON: {"run", "workers": ["RUN/LABEL", …]} instead of the run id
    #[arg(long)]
    pub json: bool,
    /// The task every reviewer gets; `-` reads it from stdin
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// Read the task from FILE
    #[arg(long, value_name = "FILE", conflicts_with = "prompt")]
    pub prompt_file: Option<PathBuf>,
    /// 2-6 lenses, comma-separated or repeated: names from share/lenses, or inline
    /// name=text (its text may hold commas: a comma starts a new lens only before a
    /// known lens name or another name=text)
    #[arg(long, value_name = "LENS,...", required_unless_present = "attempts")]
    pub lens: Vec<String>,
    /// Best-of-N: N writers (2-4) of the same task instead of reviewers, each in its
    /// own worktree (needs --worktree), then a read-only verifier `pick` that compares
    /// their diffs and names the best; `orch land RUN` lands it
    #[arg(long, value_name = "N", conflicts_with_all = ["lens", "merge", "findings_schema"],
          value_parser = clap::value_parser!(u32).range(2..=4))]
    pub attempts: Option<u32>,
    /// The attempts' role (default implementer)
    #[arg(long, requires = "attempts")]
    pub role: Option<String>,
    #[command(flatten)]
    pub worktree: WorktreeOpts,
    /// Attach a context pack to every reviewer
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// Merge the results when every reviewer has ended (writes merge.md in the run)
    #[arg(long)]
    pub merge: bool,
    /// At most N reviewers running at once
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// Start no more reviewers once the run has spent USD
    #[arg(long, value_name = "USD", value_parser = parse_budget)]
    pub budget: Option<f64>,
    /// Ask codex for structured findings (`--output-schema`)
    #[arg(long)]
    pub findings_schema: bool,
    /// Stop each reviewer once codex has run this long (e.g. 30m); it ends failed
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<u64>,
    /// Working directory for codex (default: the current directory)
    #[arg(long = "cd", value_name = "DIR")]
    pub cd: Option<PathBuf>,
    /// Model for codex
    #[arg(long)]
    pub model: Option<String>,
    /// codex config profile
    #[arg(long)]
    pub profile: Option<String>,
    /// Arguments passed to `codex exec` verbatim
    #[arg(last = true, value_name = "CODEX_ARGS")]
    pub codex_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Print JSON: {"run", "workers": ["RUN/LABEL", …]} instead of the run id
    #[arg(long, conflicts_with = "dry_run")]
    pub json: bool,
    /// The name of a pipeline (shipped, or yours in $ORCH_HOME/pipelines), or a file path
    /// (anything with a `/` or ending in .toml; a bare name never reads the current folder)
    pub pipeline: String,
    /// Set a pipeline variable (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// Print the plan and every rendered prompt; spawn nothing
    #[arg(long)]
    pub dry_run: bool,
    /// At most N workers running at once (overrides the file)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// Allow a pipeline given as a path to ask for sandbox danger-full-access, or a cd
    /// or context pack outside the working tree
    #[arg(long)]
    pub trust_pipeline: bool,
    /// Start no more of the run's workers once it has spent USD
    #[arg(long, value_name = "USD", value_parser = parse_budget)]
    pub budget: Option<f64>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Run id or unique prefix (default: the latest run)
    pub run: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Write a context-pack skeleton (Goal, Non-goals, Constraints, Pointers, Prior
    /// decisions, Success check) to FILE (default context.md; - for stdout)
    New {
        file: Option<PathBuf>,
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
    },
    /// Check that a pack has a Goal and a Success check
    Check { file: PathBuf },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SeverityArg {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Run id or unique prefix (default: the latest run)
    pub run: Option<String>,
    /// Print JSON instead of markdown
    #[arg(long)]
    pub json: bool,
    /// Also write the result to FILE
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Spawn a `synthesis` worker that writes a decision-ready summary of the merge
    #[arg(long)]
    pub synthesize: bool,
    /// Leave out findings below this severity
    #[arg(long, value_enum, default_value = "info")]
    pub min_severity: SeverityArg,
    /// Also read failed, stopped and lost workers' messages
    #[arg(long)]
    pub include_failed: bool,
    /// Merge even though some workers are still running or queued
    #[arg(long)]
    pub partial: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// RUN/LABEL or LABEL
    pub worker: String,
    /// Only the changed files and line counts
    #[arg(long)]
    pub stat: bool,
}

#[derive(Debug, Args)]
pub struct LandArgs {
    /// RUN/LABEL, LABEL, or a best-of-N run (the attempt its pick worker named)
    pub worker: String,
    /// One new commit holding all of the worker's changes
    #[arg(long, conflicts_with_all = ["rebase", "merge"])]
    pub squash: bool,
    /// Replay the worker's commits on the target branch
    #[arg(long, conflicts_with = "merge")]
    pub rebase: bool,
    /// A merge commit, or a fast-forward when the target has not moved (the default)
    #[arg(long)]
    pub merge: bool,
    /// The branch to land on (default: the one checked out in the checkout)
    #[arg(long, value_name = "BRANCH")]
    pub into: Option<String>,
    /// Land a worker that did not end done (what its branch holds)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Run id or unique prefix
    pub run: String,
    /// At most N workers of the run running at once (0 removes the limit)
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<u32>,
    /// Start no more of its workers once the run has spent USD (0 removes the budget)
    #[arg(long, value_name = "USD", value_parser = crate::lifecycle::budget::parse_usd)]
    pub budget: Option<f64>,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// RUN/LABEL or LABEL; with --failed, a run
    pub target: String,
    /// Retry every failed, stopped, lost and skipped worker of the run
    #[arg(long)]
    pub failed: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// RUN/LABEL or LABEL
    pub worker: String,
    /// The follow-up prompt (default: "Continue where you stopped and finish the task.");
    /// `-` reads it from stdin
    pub prompt: Option<String>,
    /// Read the prompt from FILE
    #[arg(long, value_name = "FILE", conflicts_with = "prompt")]
    pub prompt_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// RUN/LABEL or LABEL
    pub worker: String,
    /// The message; `-` reads it from stdin
    pub message: Option<String>,
    /// Read the message from FILE
    #[arg(long, value_name = "FILE", conflicts_with = "message")]
    pub file: Option<PathBuf>,
    /// Interrupt the current turn (Ctrl-C to codex, as `orch stop` does, without ending
    /// the worker) and continue with the message at once
    #[arg(long)]
    pub now: bool,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Run id or unique prefix (default: the latest run)
    #[arg(conflicts_with = "all")]
    pub run: Option<String>,
    /// Every run
    #[arg(long)]
    pub all: bool,
    /// Say what would be done; start nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Wait this long between two starts (e.g. 5s, 1m)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_secs)]
    pub stagger: u64,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only runs whose workers all ended longer ago than this (e.g. 7d, 12h)
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_secs)]
    pub older_than: u64,
    /// Say what would be removed; remove nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete worktree branches that hold commits on no other branch (by default
    /// they are kept, and named)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print the runs as one JSON array
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
    /// Only the last N lines
    #[arg(long, value_name = "N", conflicts_with = "follow")]
    pub tail: Option<usize>,
    /// Print JSON: {"worker", "state", "lines", "skipped", "note"}
    #[arg(long, conflicts_with = "follow")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// RUN/LABEL or LABEL
    pub worker: String,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub action: Option<McpAction>,
}

#[derive(Debug, Subcommand)]
pub enum McpAction {
    /// Register `orch mcp` in codex's config.toml and install the orch skill (idempotent)
    Install(McpInstallArgs),
    /// Remove what `orch mcp install` added, and nothing else
    Uninstall(McpInstallArgs),
}

#[derive(Debug, Args)]
pub struct McpInstallArgs {
    /// Print the change; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ResultArgs {
    /// RUN/LABEL or LABEL
    pub worker: String,
    /// Print JSON: {"worker", "state", "result"}
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Print JSON: {"stopped": [{"worker", "state"}]}
    #[arg(long)]
    pub json: bool,
    /// RUN/LABEL, LABEL, or a run id to stop all its workers
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// How long to wait after Ctrl-C before TERM, and after TERM before KILL (90, 90s,
    /// 2m)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_secs)]
    pub grace: u64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct WatchHelperArgs {
    #[arg(long)]
    pub home: PathBuf,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[arg(long)]
    pub home: PathBuf,
    pub run: String,
    pub label: String,
}

// Conversions into the operations' own types: the one place clap's structs end.
impl From<&CodexOpts> for crate::ops::spawn::CodexSettings {
    fn from(o: &CodexOpts) -> Self {
        crate::ops::spawn::CodexSettings {
            cd: o.cd.clone(),
            sandbox: o.sandbox,
            model: o.model.clone(),
            profile: o.profile.clone(),
        }
    }
}

impl From<&SchedOpts> for crate::ops::spawn::AddOptions {
    fn from(o: &SchedOpts) -> Self {
        crate::ops::spawn::AddOptions {
            max_parallel: o.max_parallel,
            budget_usd: o.budget,
            force: o.force,
            no_wait: o.no_wait,
        }
    }
}
