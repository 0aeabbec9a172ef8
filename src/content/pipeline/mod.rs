//! Pipeline files: a TOML description of a run — its stages, the workers in each stage,
//! and the variables that fill them in. `load` turns one into a [`Plan`] whose workers
//! carry fully rendered prompts, ready to spawn.
//!
//! ```toml
//! description = "Two reviewers, then a verifier."
//! max_parallel = 2            # optional cap on workers running at once
//! context = "{{context}}"     # optional pack for every worker ("" = none)
//!
//! [vars]                      # defaults; --var k=v overrides; a var used but not
//! context = ""                # listed here must be given with --var
//!
//! [[stage]]                   # 1 to 6 stages, run in order
//! name = "review"
//! description = "Read-only reviewers, in parallel."
//!
//!   [[stage.worker]]
//!   label = "review-1"        # 1-64 of [A-Za-z0-9._-], not starting with - or .
//!   role = "reviewer"         # picks templates/<role>.md and the default sandbox
//!   lens = "correctness"      # a lens name, or inline "name=focus text"
//!   task = "Review {{target}}."
//!
//! [[stage]]
//! name = "verify"
//!
//!   [[stage.worker]]
//!   label = "verify"
//!   role = "verifier"
//!   task = "Check the review in {{out:review-1}}."   # that worker's final message
//! ```
//!
//! A worker without `after` waits for every worker of the nearest earlier stage that has
//! workers; `after = [...]` replaces that with an explicit list (`after = []`: no wait).
//!
//! One worker per item of a list (pattern D, any number of sections):
//!
//! ```toml
//!   [[stage.worker]]
//!   label = "section"         # copies are section-1, section-2, ... in list order
//!   each = "{{sections}}"     # rendered, then split on commas and newlines (trimmed,
//!                             # empties dropped); 1 to 20 distinct items
//!   role = "reviewer"
//!   task = "Review {{item}} only; the others ({{items}}) belong to other workers."
//! ```
//!
//! Writers that should not wait for each other get a git worktree each:
//!
//! ```toml
//!   [[stage.worker]]
//!   label = "attempt"
//!   role = "implementer"
//!   worktree = "{{worktrees}}"  # true or false, or a string that renders to one;
//!                               # ignored for read-only workers (nothing to commit)
//!   task = "…"
//!
//!   [[stage.worker]]
//!   label = "pick"
//!   role = "verifier"
//!   template = "pick"
//!   after_any_done = true       # start once all have ended and one ended done
//!   task = "…"
//! ```
//!
//! A worker that waits for a worktree worker is given its branch, worktree and diff.
//!
//! `{{item}}` (this copy's item) and `{{items}}` (all of them, comma-separated) work in
//! every field of that worker and nowhere else. The base label stands for all copies:
//! `after = ["section"]` waits for every copy, and `{{out:section}}` becomes one line per
//! copy, `ITEM: {{out:section-N}}` (put it on a line of its own). Items are used as
//! given, never globbed: let the shell expand a glob, e.g.
//! `--var sections="$(ls -d src/*/)"` (newlines separate items too).
//!
//! The code, by concept: `file` (the TOML shape, `file:line` locations, the errors),
//! `expand` (vars and `each`), `worker` (one worker's prompt), `graph` (labels, `after`,
//! cycles, which outputs a worker may read), `dryrun` (`orch run --dry-run`); this module
//! puts them together in [`load`].

mod dryrun;
mod expand;
mod file;
mod graph;
#[cfg(test)]
mod testing;
mod worker;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::content::share::{self, Share};
use crate::model::Sandbox;

/// Fills in `{{out:LABEL}}` once the run exists (the engine lives in `content::template`).
pub use crate::content::template::fill_outputs;
use expand::{Expander, merge_vars};
use file::{File, RawPipeline};
pub use file::{Loc, PipelineError};
use graph::Pending;

/// The most stages a pipeline may have: a plan longer than that stops being a plan.
pub const MAX_STAGES: usize = 6;

/// The most copies one `each` worker may make: every copy is a codex session and a tmux
/// window, and a list longer than this is more likely a mistake (a glob that matched too
/// much) than a plan.
pub const MAX_EACH: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub name: String,
    pub description: String,
    /// The labels of this stage's workers; empty for a step the orchestrator does itself.
    pub workers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedWorker {
    pub label: String,
    pub role: String,
    pub lens: Option<String>,
    pub stage: String,
    /// Fully rendered: preamble, role, lens, context pack, task, output format. May hold
    /// `{{out:LABEL}}` references; see [`fill_outputs`].
    pub prompt: String,
    pub sandbox: Sandbox,
    /// Labels this worker waits for (explicit `after`, or the previous stage's workers).
    pub after: Vec<String>,
    pub cd: Option<PathBuf>,
    pub model: Option<String>,
    /// Pass `--output-schema` with [`Share::findings_schema`].
    pub output_schema: bool,
    /// The context pack file, if any (already validated and rendered into `prompt`).
    pub context: Option<PathBuf>,
    /// Labels whose final message this prompt refers to as `{{out:LABEL}}`; all of them
    /// are among the workers this one (transitively) waits for.
    pub inputs: Vec<String>,
    /// For a copy of an `each` worker, its item.
    pub item: Option<String>,
    /// The stage's `timeout = "30m"`, in seconds.
    pub timeout_secs: Option<u64>,
    /// `worktree = true` on a writer: its own git worktree and branch (read-only
    /// workers have nothing to commit and run where they are).
    pub worktree: bool,
    /// `after_any_done = true`: see `WorkerSpec::after_any_done`.
    pub after_any_done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    /// Where the pipeline came from (a path, or `share/pipelines/NAME.toml`).
    pub source: String,
    pub description: String,
    pub stages: Vec<Stage>,
    pub workers: Vec<PlannedWorker>,
    pub max_parallel: Option<u32>,
    /// The variables after `--var` overrides, as used.
    pub vars: BTreeMap<String, String>,
}

/// Loads the pipeline file at `path`.
pub fn load(
    path: &Path,
    vars: &BTreeMap<String, String>,
    share: &Share,
) -> Result<Plan, PipelineError> {
    load_source(
        &share::PipelineSource::File(path.to_path_buf()),
        vars,
        share,
    )
}

/// Loads a pipeline found by [`Share::pipeline_path`] (a file or a built-in copy).
pub fn load_source(
    source: &share::PipelineSource,
    vars: &BTreeMap<String, String>,
    share: &Share,
) -> Result<Plan, PipelineError> {
    let text = source.read()?;
    let file = File {
        origin: source.origin(),
        text: &text,
        base: source.base_dir(),
    };
    let raw: RawPipeline = toml::from_str(&text).map_err(|e| PipelineError::Toml {
        at: file.loc_opt(e.span()),
        message: e.message().trim().replace('\n', "; "),
    })?;

    let vars = merge_vars(&file, &raw, vars)?;
    let expander = Expander {
        file: &file,
        vars: &vars,
        each: None,
    };
    plan(&expander, raw, share, source.name())
}

/// Whether `label` is a valid worker label: 1-64 of `[A-Za-z0-9._-]`, not starting with
/// `-` or `.` (labels become file names, tmux window names and command-line arguments).
pub fn valid_label(label: &str) -> bool {
    crate::model::names::validate_label(label).is_ok()
}

/// Builds the plan: every stage and worker filled in, then `after` resolved and checked.
fn plan(
    ex: &Expander,
    raw: RawPipeline,
    share: &Share,
    name: String,
) -> Result<Plan, PipelineError> {
    let whole = ex.at(0..0);
    if raw.stage.is_empty() {
        return Err(PipelineError::Invalid {
            at: whole,
            message: "no [[stage]]: a pipeline needs 1 to 6 stages".into(),
        });
    }
    if raw.stage.len() > MAX_STAGES {
        return Err(PipelineError::Invalid {
            at: ex.at(raw.stage[MAX_STAGES].span()),
            message: format!(
                "{} stages; keep a plan to at most {MAX_STAGES} (merge some)",
                raw.stage.len()
            ),
        });
    }
    let max_parallel = match &raw.max_parallel {
        Some(m) if *m.get_ref() < 1 || *m.get_ref() > i64::from(u32::MAX) => {
            return Err(PipelineError::Invalid {
                at: ex.at(m.span()),
                message: format!("max_parallel must be at least 1, not {}", m.get_ref()),
            });
        }
        Some(m) => Some(*m.get_ref() as u32),
        None => None,
    };

    let families = ex.families(&raw)?;
    let mut stages = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut packs: HashMap<PathBuf, String> = HashMap::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (index, stage) in raw.stage.iter().enumerate() {
        let stage = stage.get_ref();
        let stage_name = ex.subst(&stage.name)?;
        if stage_name.trim().is_empty() {
            return Err(PipelineError::Invalid {
                at: ex.at(stage.name.span()),
                message: "empty stage name".into(),
            });
        }
        if stages.iter().any(|s: &Stage| s.name == stage_name) {
            return Err(PipelineError::Invalid {
                at: ex.at(stage.name.span()),
                message: format!("duplicate stage name `{stage_name}`"),
            });
        }
        let timeout_secs = match &stage.timeout {
            Some(t) => Some(crate::model::text::parse_duration(&ex.subst(t)?).map_err(
                |message| PipelineError::Invalid {
                    at: ex.at(t.span()),
                    message: format!("timeout: {message}"),
                },
            )?)
            .filter(|s| *s > 0),
            None => None,
        };
        let mut labels = Vec::new();
        for w in &stage.worker {
            let base = w.label.get_ref();
            let at = ex.at(w.label.span());
            // The base label of an `each` worker is taken too: `after` and `{{out:…}}`
            // use it to mean all the copies.
            graph::claim_label(base, &at, &mut first_line)?;
            let copies: Vec<(&str, Option<(&str, &str)>)> = match &w.each {
                None => vec![(base.as_str(), None)],
                Some(_) => {
                    let f = &families[base];
                    f.labels
                        .iter()
                        .zip(&f.items)
                        .map(|(l, i)| (l.as_str(), Some((i.as_str(), f.joined.as_str()))))
                        .collect()
                }
            };
            for (label, each) in copies {
                if each.is_some() {
                    graph::claim_label(label, &at, &mut first_line)?;
                }
                let scoped = Expander { each, ..*ex };
                let mut worker =
                    scoped.worker(&raw, w, &stage_name, share, &mut packs, &families)?;
                worker.label = label.to_string();
                worker.item = each.map(|(item, _)| item.to_string());
                worker.timeout_secs = timeout_secs;
                labels.push(label.to_string());
                pending.push(Pending {
                    raw: w,
                    worker,
                    stage_index: index,
                });
            }
        }
        stages.push(Stage {
            name: stage_name,
            description: ex
                .subst_opt(stage.description.as_ref())?
                .unwrap_or_default(),
            workers: labels,
        });
    }
    if pending.is_empty() {
        return Err(PipelineError::Invalid {
            at: whole,
            message: "no [[stage.worker]]: a pipeline needs at least one worker".into(),
        });
    }

    graph::resolve_after(ex.file, &mut pending, &stages, &families)?;
    graph::check_cycles(ex.file, &pending)?;
    graph::check_inputs(ex.file, &pending)?;

    Ok(Plan {
        name,
        source: ex.file.origin.clone(),
        description: ex.subst_opt(raw.description.as_ref())?.unwrap_or_default(),
        stages,
        workers: pending.into_iter().map(|p| p.worker).collect(),
        max_parallel,
        vars: ex.vars.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::testing::err;

    #[test]
    fn stage_limits() {
        let mut text = String::new();
        for i in 0..7 {
            text.push_str(&format!("[[stage]]\nname = \"s{i}\"\n"));
        }
        text.push_str("[[stage.worker]]\nlabel = \"w\"\nrole = \"scout\"\ntask = \"t\"\n");
        assert!(err(&text, &[]).starts_with("p.toml:13: 7 stages; keep a plan to at most 6"));
        assert!(err("description = \"x\"\n", &[]).contains("no [[stage]]"));
        assert!(err("[[stage]]\nname = \"a\"\n", &[]).contains("at least one worker"));
    }
}
