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
//! `{{item}}` (this copy's item) and `{{items}}` (all of them, comma-separated) work in
//! every field of that worker and nowhere else. The base label stands for all copies:
//! `after = ["section"]` waits for every copy, and `{{out:section}}` becomes one line per
//! copy, `ITEM: {{out:section-N}}` (put it on a line of its own). Items are used as
//! given, never globbed: let the shell expand a glob, e.g.
//! `--var sections="$(ls -d src/*/)"` (newlines separate items too).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::content::pack::{self, PackError};
use crate::content::share::{self, Share, ShareError};
use crate::content::template::{self, ITEM, ITEMS, Prompt};

use crate::model::Sandbox;

/// The most stages a pipeline may have: a plan longer than that stops being a plan.
pub const MAX_STAGES: usize = 6;

/// The most copies one `each` worker may make: every copy is a codex session and a tmux
/// window, and a list longer than this is more likely a mistake (a glob that matched too
/// much) than a plan.
pub const MAX_EACH: usize = 20;

/// A place in a pipeline file, shown as `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] ShareError),
    #[error("{at}: {message}")]
    Toml { at: Loc, message: String },
    #[error(
        "{at}: invalid worker label `{label}`: use 1-64 of A-Z a-z 0-9 . _ -, not starting with - or ."
    )]
    InvalidLabel { at: Loc, label: String },
    #[error("{at}: duplicate worker label `{label}` (first used on line {first_line})")]
    DuplicateLabel {
        at: Loc,
        label: String,
        first_line: usize,
    },
    #[error("{at}: `after` names unknown worker `{name}`; workers: {known}")]
    UnknownAfter {
        at: Loc,
        name: String,
        known: String,
    },
    #[error("{at}: cycle in `after`: {cycle} (each waits for the next)")]
    Cycle { at: Loc, cycle: String },
    #[error(
        "{at}: undefined variable `{{{{{name}}}}}`; pass --var {name}=... or give it a default in [vars]"
    )]
    UndefinedVar { at: Loc, name: String },
    #[error("unknown --var `{name}`: {pipeline} takes {known}")]
    UnknownVar {
        pipeline: String,
        name: String,
        known: String,
    },
    #[error("{at}: {source}")]
    Share {
        at: Loc,
        #[source]
        source: ShareError,
    },
    #[error("{at}: template file {} not found (paths are relative to the pipeline file)", path.display())]
    MissingTemplate { at: Loc, path: PathBuf },
    #[error(
        "{at}: bad sandbox `{value}`; use one of read-only, workspace-write, danger-full-access"
    )]
    BadSandbox { at: Loc, value: String },
    #[error("{at}: {source}")]
    Pack {
        at: Loc,
        #[source]
        source: PackError,
    },
    #[error("{at}: cannot read {}: {source}", path.display())]
    Read {
        at: Loc,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}: {message}")]
    Invalid { at: Loc, message: String },
}

impl PipelineError {
    /// Where in the pipeline file the error is, when it is in one.
    pub fn loc(&self) -> Option<&Loc> {
        match self {
            PipelineError::Source(_) | PipelineError::UnknownVar { .. } => None,
            PipelineError::Toml { at, .. }
            | PipelineError::InvalidLabel { at, .. }
            | PipelineError::DuplicateLabel { at, .. }
            | PipelineError::UnknownAfter { at, .. }
            | PipelineError::Cycle { at, .. }
            | PipelineError::UndefinedVar { at, .. }
            | PipelineError::Share { at, .. }
            | PipelineError::MissingTemplate { at, .. }
            | PipelineError::BadSandbox { at, .. }
            | PipelineError::Pack { at, .. }
            | PipelineError::Read { at, .. }
            | PipelineError::Invalid { at, .. } => Some(at),
        }
    }
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    description: Option<Spanned<String>>,
    max_parallel: Option<Spanned<i64>>,
    context: Option<Spanned<String>>,
    cd: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    #[serde(default)]
    vars: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    stage: Vec<Spanned<RawStage>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: Spanned<String>,
    description: Option<Spanned<String>>,
    #[serde(default)]
    worker: Vec<RawWorker>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorker {
    label: Spanned<String>,
    role: Spanned<String>,
    task: Spanned<String>,
    lens: Option<Spanned<String>>,
    template: Option<Spanned<String>>,
    context: Option<Spanned<String>>,
    sandbox: Option<Spanned<String>>,
    after: Option<Spanned<Vec<Spanned<String>>>>,
    cd: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    output_schema: Option<bool>,
    each: Option<Spanned<String>>,
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
    expander.load(raw, share, source.name())
}

pub use crate::content::template::fill_outputs;

/// Whether `label` is a valid worker label: 1-64 of `[A-Za-z0-9._-]`, not starting with
/// `-` or `.` (labels become file names, tmux window names and command-line arguments).
pub fn valid_label(label: &str) -> bool {
    crate::model::names::validate_label(label).is_ok()
}

fn merge_vars(
    file: &File,
    raw: &RawPipeline,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, PipelineError> {
    let mut vars: BTreeMap<String, String> = raw
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
        .collect();
    if let Some((name, value)) = raw
        .vars
        .iter()
        .find(|(k, _)| [ITEM, ITEMS].contains(&k.as_str()))
    {
        return Err(PipelineError::Invalid {
            at: file.loc(value.span()),
            message: format!(
                "`{name}` is reserved (`{{{{{name}}}}}` is set by `each`); rename this var"
            ),
        });
    }
    let mut known: BTreeSet<&str> = raw.vars.keys().map(String::as_str).collect();
    known.extend(
        template::tags(file.text)
            .filter_map(|t| t.var())
            .filter(|n| ![ITEM, ITEMS].contains(n)),
    );
    for (name, value) in given {
        if !known.contains(name.as_str()) {
            return Err(PipelineError::UnknownVar {
                pipeline: file.origin.clone(),
                name: name.clone(),
                known: if known.is_empty() {
                    "no vars".to_string()
                } else {
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                },
            });
        }
        vars.insert(name.clone(), value.clone());
    }
    Ok(vars)
}

struct File<'a> {
    origin: String,
    text: &'a str,
    base: PathBuf,
}

impl File<'_> {
    fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text[..offset].matches('\n').count() + 1
    }

    fn loc(&self, span: Range<usize>) -> Loc {
        Loc {
            file: self.origin.clone(),
            line: self.line(span.start),
        }
    }

    fn loc_opt(&self, span: Option<Range<usize>>) -> Loc {
        self.loc(span.unwrap_or(0..0))
    }

    /// The line of byte `pos` of a string value's decoded text: exact for single-line
    /// strings and for multi-line literals without escaped line breaks.
    fn line_in(&self, value: &Spanned<String>, pos: usize) -> Loc {
        let span = value.span();
        let raw = &self.text[span.start.min(self.text.len())..];
        let mut line = self.line(span.start);
        if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            // The line break right after the opening quotes is not part of the value.
            if raw[3..].starts_with('\n') || raw[3..].starts_with("\r\n") {
                line += 1;
            }
            line += value.get_ref()[..pos.min(value.get_ref().len())]
                .matches('\n')
                .count();
        }
        Loc {
            file: self.origin.clone(),
            line,
        }
    }
}

#[derive(Clone, Copy)]
struct Expander<'a> {
    file: &'a File<'a>,
    vars: &'a BTreeMap<String, String>,
    /// Inside a copy of an `each` worker: its item and the whole list, comma-separated.
    each: Option<(&'a str, &'a str)>,
}

/// The copies an `each` worker expands to, in list order.
struct Family {
    items: Vec<String>,
    labels: Vec<String>,
    joined: String,
}

type Families = HashMap<String, Family>;

/// A worker read from the file, before `after` is resolved.
struct Pending<'r> {
    raw: &'r RawWorker,
    worker: PlannedWorker,
    stage_index: usize,
}

impl Expander<'_> {
    fn at(&self, span: Range<usize>) -> Loc {
        self.file.loc(span)
    }

    /// `{{var}}` substitution; `{{out:…}}` and other non-variable tags stay as they are.
    fn subst(&self, value: &Spanned<String>) -> Result<String, PipelineError> {
        let (vars, each) = (self.vars, self.each);
        template::substitute(value.get_ref(), |tag| {
            let Some(name) = tag.var() else {
                return Ok(None);
            };
            Ok(Some(match (name, each) {
                (ITEM, Some((item, _))) => item,
                (ITEMS, Some((_, items))) => items,
                (ITEM | ITEMS, None) => {
                    return Err(PipelineError::Invalid {
                        at: self.file.line_in(value, tag.start),
                        message: format!(
                            "`{{{{{name}}}}}` is only set in a worker with `each = \"...\"`; add `each` to this worker or remove `{{{{{name}}}}}`"
                        ),
                    });
                }
                _ => match vars.get(name) {
                    Some(v) => v.as_str(),
                    None => {
                        return Err(PipelineError::UndefinedVar {
                            at: self.file.line_in(value, tag.start),
                            name: name.to_string(),
                        });
                    }
                },
            }))
        })
    }

    fn subst_opt(&self, value: Option<&Spanned<String>>) -> Result<Option<String>, PipelineError> {
        Ok(match value {
            Some(v) => Some(self.subst(v)?).filter(|s| !s.trim().is_empty()),
            None => None,
        })
    }

    /// A path from the file: relative to the pipeline file when written there literally,
    /// relative to the current directory when it came from a variable (`--var` values are
    /// typed at the shell, relative to where orch runs).
    fn path(&self, raw: &Spanned<String>, expanded: &str) -> PathBuf {
        let p = Path::new(expanded.trim());
        if raw.get_ref().contains("{{") || p.is_absolute() {
            p.to_path_buf()
        } else {
            self.file.base.join(p)
        }
    }

    fn load(&self, raw: RawPipeline, share: &Share, name: String) -> Result<Plan, PipelineError> {
        let whole = self.at(0..0);
        if raw.stage.is_empty() {
            return Err(PipelineError::Invalid {
                at: whole,
                message: "no [[stage]]: a pipeline needs 1 to 6 stages".into(),
            });
        }
        if raw.stage.len() > MAX_STAGES {
            return Err(PipelineError::Invalid {
                at: self.at(raw.stage[MAX_STAGES].span()),
                message: format!(
                    "{} stages; keep a plan to at most {MAX_STAGES} (merge some)",
                    raw.stage.len()
                ),
            });
        }
        let max_parallel = match &raw.max_parallel {
            Some(m) if *m.get_ref() < 1 || *m.get_ref() > i64::from(u32::MAX) => {
                return Err(PipelineError::Invalid {
                    at: self.at(m.span()),
                    message: format!("max_parallel must be at least 1, not {}", m.get_ref()),
                });
            }
            Some(m) => Some(*m.get_ref() as u32),
            None => None,
        };

        let families = self.families(&raw)?;
        let mut stages = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut packs: HashMap<PathBuf, String> = HashMap::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for (index, stage) in raw.stage.iter().enumerate() {
            let stage = stage.get_ref();
            let stage_name = self.subst(&stage.name)?;
            if stage_name.trim().is_empty() {
                return Err(PipelineError::Invalid {
                    at: self.at(stage.name.span()),
                    message: "empty stage name".into(),
                });
            }
            if stages.iter().any(|s: &Stage| s.name == stage_name) {
                return Err(PipelineError::Invalid {
                    at: self.at(stage.name.span()),
                    message: format!("duplicate stage name `{stage_name}`"),
                });
            }
            let mut labels = Vec::new();
            for w in &stage.worker {
                let base = w.label.get_ref();
                let at = self.at(w.label.span());
                // The base label of an `each` worker is taken too: `after` and `{{out:…}}`
                // use it to mean all the copies.
                claim_label(base, &at, &mut first_line)?;
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
                        claim_label(label, &at, &mut first_line)?;
                    }
                    let scoped = Expander { each, ..*self };
                    let mut worker =
                        scoped.worker(&raw, w, &stage_name, share, &mut packs, &families)?;
                    worker.label = label.to_string();
                    worker.item = each.map(|(item, _)| item.to_string());
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
                description: self
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

        self.resolve_after(&mut pending, &stages, &families)?;
        self.check_cycles(&pending)?;
        self.check_inputs(&pending)?;

        Ok(Plan {
            name,
            source: self.file.origin.clone(),
            description: self
                .subst_opt(raw.description.as_ref())?
                .unwrap_or_default(),
            stages,
            workers: pending.into_iter().map(|p| p.worker).collect(),
            max_parallel,
            vars: self.vars.clone(),
        })
    }

    /// The copies of every `each` worker, by base label, worked out before any worker is
    /// built so that `after` and `{{out:…}}` anywhere in the file can name them.
    fn families(&self, raw: &RawPipeline) -> Result<Families, PipelineError> {
        let mut families = Families::new();
        for stage in &raw.stage {
            for w in &stage.get_ref().worker {
                let Some(each) = &w.each else { continue };
                let at = self.at(each.span());
                if let Some(name) = template::tags(each.get_ref())
                    .map(|t| t.name)
                    .find(|n| [ITEM, ITEMS].contains(n))
                {
                    return Err(PipelineError::Invalid {
                        at,
                        message: format!(
                            "`each` cannot use `{{{{{name}}}}}`, which it defines; give it a list or a var"
                        ),
                    });
                }
                let mut items: Vec<String> = Vec::new();
                for item in self
                    .subst(each)?
                    .split([',', '\n'])
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                {
                    if items.iter().any(|i| i == item) {
                        return Err(PipelineError::Invalid {
                            at,
                            message: format!(
                                "`each` lists `{item}` twice; every item gets its own worker, so list it once"
                            ),
                        });
                    }
                    items.push(item.to_string());
                }
                if items.is_empty() {
                    let hint = template::tags(each.get_ref())
                        .find_map(|t| t.var())
                        .map(|n| format!(", e.g. --var {n}=src/a/,src/b/"))
                        .unwrap_or_default();
                    return Err(PipelineError::Invalid {
                        at,
                        message: format!(
                            "`each = {:?}` gives no items; give a list separated by commas or newlines{hint}",
                            each.get_ref()
                        ),
                    });
                }
                if items.len() > MAX_EACH {
                    return Err(PipelineError::Invalid {
                        at,
                        message: format!(
                            "`each` gives {} items; one worker makes at most {MAX_EACH} copies (split the list over several runs)",
                            items.len()
                        ),
                    });
                }
                let base = w.label.get_ref();
                families.insert(
                    base.clone(),
                    Family {
                        labels: (1..=items.len()).map(|n| format!("{base}-{n}")).collect(),
                        joined: items.join(", "),
                        items,
                    },
                );
            }
        }
        Ok(families)
    }

    fn worker(
        &self,
        raw: &RawPipeline,
        w: &RawWorker,
        stage: &str,
        share: &Share,
        packs: &mut HashMap<PathBuf, String>,
        families: &Families,
    ) -> Result<PlannedWorker, PipelineError> {
        let role = self.subst(&w.role)?.trim().to_string();
        let template = match &w.template {
            Some(t) => self.template(t, share)?,
            None => share
                .template(&role)
                .map_err(|source| PipelineError::Share {
                    at: self.at(w.role.span()),
                    source,
                })?,
        };
        let lens = match &w.lens {
            Some(l) => match self.subst_opt(Some(l))? {
                Some(spec) => Some(share.lens(&spec).map_err(|source| PipelineError::Share {
                    at: self.at(l.span()),
                    source,
                })?),
                None => None,
            },
            None => None,
        };
        let sandbox = match &w.sandbox {
            Some(s) => {
                let value = self.subst(s)?.trim().to_string();
                value
                    .parse::<Sandbox>()
                    .map_err(|_| PipelineError::BadSandbox {
                        at: self.at(s.span()),
                        value,
                    })?
            }
            None if role == "implementer" => Sandbox::WorkspaceWrite,
            None => Sandbox::ReadOnly,
        };

        let (context_path, context) = match w.context.as_ref().or(raw.context.as_ref()) {
            Some(field) => match self.subst_opt(Some(field))? {
                Some(value) => {
                    let path = self.path(field, &value);
                    let at = self.at(field.span());
                    let text = match packs.get(&path) {
                        Some(text) => text.clone(),
                        None => {
                            let text = std::fs::read_to_string(&path).map_err(|source| {
                                PipelineError::Read {
                                    at: at.clone(),
                                    path: path.clone(),
                                    source,
                                }
                            })?;
                            pack::validate(&text, &path)
                                .map_err(|source| PipelineError::Pack { at, source })?;
                            packs.insert(path.clone(), text.clone());
                            text
                        }
                    };
                    (Some(path), Some(pack::for_prompt(&text)))
                }
                None => (None, None),
            },
            None => (None, None),
        };

        let task = expand_outputs(&self.subst(&w.task)?, families);
        if task.trim().is_empty() {
            return Err(PipelineError::Invalid {
                at: self.at(w.task.span()),
                message: format!("worker `{}` has an empty task", w.label.get_ref()),
            });
        }
        let prompt = template::render(
            &template,
            &Prompt {
                task,
                lens: lens.clone(),
                context,
                sandbox,
            },
        );

        let cd_field = w.cd.as_ref().or(raw.cd.as_ref());
        let cd = match cd_field {
            Some(field) => self.subst_opt(Some(field))?.map(|v| self.path(field, &v)),
            None => None,
        };
        let model = self.subst_opt(w.model.as_ref().or(raw.model.as_ref()))?;

        let mut inputs: Vec<String> = Vec::new();
        for tag in template::tags(w.task.get_ref()) {
            let Some(label) = tag.out_label() else {
                continue;
            };
            let named = match families.get(label) {
                Some(f) => f.labels.clone(),
                None => vec![label.to_string()],
            };
            for label in named {
                if !inputs.contains(&label) {
                    inputs.push(label);
                }
            }
        }

        Ok(PlannedWorker {
            label: w.label.get_ref().clone(),
            role,
            lens: lens.map(|l| l.name),
            stage: stage.to_string(),
            prompt,
            sandbox,
            after: Vec::new(),
            cd,
            model,
            output_schema: w.output_schema.unwrap_or(false),
            context: context_path,
            inputs,
            item: None,
        })
    }

    /// A `template = …` field: a file (anything with `/` or ending in `.md`) or the name
    /// of another role's template.
    fn template(&self, field: &Spanned<String>, share: &Share) -> Result<String, PipelineError> {
        let value = self.subst(field)?.trim().to_string();
        let at = self.at(field.span());
        if !(value.contains('/') || value.ends_with(".md")) {
            return share
                .template(&value)
                .map_err(|source| PipelineError::Share { at, source });
        }
        let path = self.path(field, &value);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PipelineError::MissingTemplate { at, path });
            }
            Err(source) => return Err(PipelineError::Read { at, path, source }),
        };
        template::check(&text).map_err(|problem| PipelineError::Share {
            at,
            source: ShareError::BadTemplate {
                origin: path.display().to_string(),
                problem,
            },
        })?;
        Ok(text)
    }

    fn resolve_after(
        &self,
        pending: &mut [Pending],
        stages: &[Stage],
        families: &Families,
    ) -> Result<(), PipelineError> {
        let labels: Vec<String> = pending.iter().map(|p| p.worker.label.clone()).collect();
        // As written in the file: an `each` worker once, by its base label.
        let mut known: Vec<&str> = Vec::new();
        for p in pending.iter() {
            if !known.contains(&p.raw.label.get_ref().as_str()) {
                known.push(p.raw.label.get_ref());
            }
        }
        for p in pending.iter_mut() {
            p.worker.after = match &p.raw.after {
                Some(list) => {
                    let mut after = Vec::new();
                    for name in list.get_ref() {
                        let n = name.get_ref();
                        let named = match families.get(n) {
                            Some(f) => f.labels.clone(),
                            None if labels.contains(n) => vec![n.clone()],
                            None => {
                                return Err(PipelineError::UnknownAfter {
                                    at: self.at(name.span()),
                                    name: n.clone(),
                                    known: known.join(", "),
                                });
                            }
                        };
                        if n == &p.worker.label || n == p.raw.label.get_ref() {
                            return Err(PipelineError::Cycle {
                                at: self.at(name.span()),
                                cycle: format!("{n} -> {n}"),
                            });
                        }
                        for label in named {
                            if !after.contains(&label) {
                                after.push(label);
                            }
                        }
                    }
                    after
                }
                None => stages[..p.stage_index]
                    .iter()
                    .rev()
                    .find(|s| !s.workers.is_empty())
                    .map(|s| s.workers.clone())
                    .unwrap_or_default(),
            };
        }
        Ok(())
    }

    fn check_cycles(&self, pending: &[Pending]) -> Result<(), PipelineError> {
        let index: HashMap<&str, usize> = pending
            .iter()
            .enumerate()
            .map(|(i, p)| (p.worker.label.as_str(), i))
            .collect();
        let deps: Vec<Vec<usize>> = pending
            .iter()
            .map(|p| p.worker.after.iter().map(|a| index[a.as_str()]).collect())
            .collect();
        // 0 = not seen, 1 = on the current path, 2 = done.
        let mut state = vec![0u8; pending.len()];
        let mut path: Vec<usize> = Vec::new();
        for start in 0..pending.len() {
            if state[start] == 0
                && let Some((from, to)) = visit(start, &deps, &mut state, &mut path)
            {
                let begin = path.iter().position(|&n| n == to).unwrap_or(0);
                let mut cycle: Vec<&str> = path[begin..]
                    .iter()
                    .map(|&n| pending[n].worker.label.as_str())
                    .collect();
                cycle.push(pending[to].worker.label.as_str());
                // Point at the `after` entry that closes the cycle, or at the worker when
                // the edge comes from stage order.
                let p = &pending[from];
                let span = p
                    .raw
                    .after
                    .as_ref()
                    .and_then(|l| {
                        let to = &pending[to];
                        l.get_ref().iter().find(|n| {
                            n.get_ref() == &to.worker.label || n.get_ref() == to.raw.label.get_ref()
                        })
                    })
                    .map(|n| n.span())
                    .unwrap_or_else(|| p.raw.label.span());
                return Err(PipelineError::Cycle {
                    at: self.at(span),
                    cycle: cycle.join(" -> "),
                });
            }
        }
        Ok(())
    }

    fn check_inputs(&self, pending: &[Pending]) -> Result<(), PipelineError> {
        let by_label: HashMap<&str, &Pending> = pending
            .iter()
            .map(|p| (p.worker.label.as_str(), p))
            .collect();
        for p in pending {
            if p.worker.inputs.is_empty() {
                continue;
            }
            // Everything this worker waits for, directly or not.
            let mut upstream: BTreeSet<&str> = BTreeSet::new();
            let mut todo: Vec<&str> = p.worker.after.iter().map(String::as_str).collect();
            while let Some(label) = todo.pop() {
                if upstream.insert(label) {
                    todo.extend(by_label[label].worker.after.iter().map(String::as_str));
                }
            }
            for input in &p.worker.inputs {
                if upstream.contains(input.as_str()) {
                    continue;
                }
                // A copy of an `each` worker is named in the file by its base label.
                let task = p.raw.task.get_ref();
                let base = by_label
                    .get(input.as_str())
                    .map_or(input.as_str(), |q| q.raw.label.get_ref().as_str());
                let pos = task
                    .find(&format!("out:{input}"))
                    .or_else(|| task.find(&format!("out:{base}")))
                    .unwrap_or(0);
                let message = if by_label.contains_key(input.as_str()) {
                    format!(
                        "`{{{{out:{input}}}}}`: worker `{}` does not wait for `{input}`, so its output may not exist yet; add it to `after`",
                        p.worker.label
                    )
                } else {
                    format!(
                        "`{{{{out:{input}}}}}` names unknown worker `{input}`; workers: {}",
                        pending
                            .iter()
                            .map(|p| p.worker.label.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                return Err(PipelineError::Invalid {
                    at: self.file.line_in(&p.raw.task, pos),
                    message,
                });
            }
        }
        Ok(())
    }
}

/// Marks `label` as used at `at`, refusing an invalid or already used one.
fn claim_label(
    label: &str,
    at: &Loc,
    first_line: &mut HashMap<String, usize>,
) -> Result<(), PipelineError> {
    if !valid_label(label) {
        return Err(PipelineError::InvalidLabel {
            at: at.clone(),
            label: label.to_string(),
        });
    }
    if let Some(&first) = first_line.get(label) {
        return Err(PipelineError::DuplicateLabel {
            at: at.clone(),
            label: label.to_string(),
            first_line: first,
        });
    }
    first_line.insert(label.to_string(), at.line);
    Ok(())
}

/// `{{out:BASE}}` of an `each` worker becomes one line per copy, `ITEM: {{out:COPY}}`,
/// so a later worker reads every copy's result knowing which item it was about.
fn expand_outputs(task: &str, families: &Families) -> String {
    fill_outputs(task, |label| match families.get(label) {
        Some(f) => f
            .items
            .iter()
            .zip(&f.labels)
            .map(|(item, copy)| format!("{item}: {{{{out:{copy}}}}}"))
            .collect::<Vec<_>>()
            .join("\n"),
        None => format!("{{{{out:{label}}}}}"),
    })
}

/// Depth-first search; returns the edge (from, to) that closes a cycle, with `path`
/// holding the nodes from the search root to `from`.
fn visit(
    node: usize,
    deps: &[Vec<usize>],
    state: &mut [u8],
    path: &mut Vec<usize>,
) -> Option<(usize, usize)> {
    state[node] = 1;
    path.push(node);
    for &next in &deps[node] {
        match state[next] {
            1 => return Some((node, next)),
            0 => {
                if let Some(edge) = visit(next, deps, state, path) {
                    return Some(edge);
                }
            }
            _ => {}
        }
    }
    path.pop();
    state[node] = 2;
    None
}

impl Plan {
    /// The plan and every rendered prompt, for `orch run --dry-run`.
    pub fn dry_run_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "pipeline: {} ({})", self.name, self.source);
        if !self.description.is_empty() {
            let _ = writeln!(out, "{}", self.description);
        }
        if let Some(n) = self.max_parallel {
            let _ = writeln!(out, "max parallel: {n}");
        }
        if !self.vars.is_empty() {
            let _ = writeln!(out, "vars:");
            for (k, v) in &self.vars {
                let _ = writeln!(out, "  {k} = {v:?}");
            }
        }
        let _ = writeln!(out, "\nplan:");
        for (i, stage) in self.stages.iter().enumerate() {
            let _ = write!(out, "  {}. {}", i + 1, stage.name);
            if !stage.description.is_empty() {
                let _ = write!(out, " — {}", stage.description);
            }
            out.push('\n');
            if stage.workers.is_empty() {
                let _ = writeln!(out, "       (no workers: the orchestrator's step)");
            }
            for w in self.workers.iter().filter(|w| w.stage == stage.name) {
                let _ = writeln!(out, "       {}", worker_line(w));
            }
        }
        for w in &self.workers {
            let _ = writeln!(out, "\n===== {} =====", worker_line(w));
            if let Some(c) = &w.context {
                let _ = writeln!(out, "context pack: {}", c.display());
            }
            if !w.inputs.is_empty() {
                let _ = writeln!(
                    out,
                    "reads: {} (each {{{{out:LABEL}}}} becomes that worker's final-message file at start)",
                    w.inputs.join(", ")
                );
            }
            out.push('\n');
            out.push_str(w.prompt.trim_end());
            out.push('\n');
        }
        out
    }
}

fn worker_line(w: &PlannedWorker) -> String {
    let mut line = format!(
        "{}  [stage {}, role {}, sandbox {}",
        w.label, w.stage, w.role, w.sandbox
    );
    if let Some(lens) = &w.lens {
        line.push_str(&format!(", lens {lens}"));
    }
    if let Some(item) = &w.item {
        line.push_str(&format!(", item {item:?}"));
    }
    if !w.after.is_empty() {
        line.push_str(&format!(", after {}", w.after.join(" ")));
    }
    if let Some(cd) = &w.cd {
        line.push_str(&format!(", cd {}", cd.display()));
    }
    if let Some(model) = &w.model {
        line.push_str(&format!(", model {model}"));
    }
    if w.output_schema {
        line.push_str(", output schema");
    }
    line.push(']');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `text` as `p.toml`; errors come back as their message with the temporary
    /// directory removed.
    fn load_str(text: &str, vars: &[(&str, &str)]) -> Result<Plan, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(&path, &vars, &Share::from_roots(vec![])).map_err(|e| {
            e.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
    }

    fn err(text: &str, vars: &[(&str, &str)]) -> String {
        load_str(text, vars).unwrap_err()
    }

    const TWO_STAGES: &str = r#"
[[stage]]
name = "a"
  [[stage.worker]]
  label = "r1"
  role = "reviewer"
  task = "one"
  [[stage.worker]]
  label = "r2"
  role = "reviewer"
  task = "two"
[[stage]]
name = "b"
  [[stage.worker]]
  label = "fix"
  role = "implementer"
  task = "fix using {{out:r1}}"
"#;

    #[test]
    fn stage_order_gives_the_default_after_and_sandbox() {
        let plan = load_str(TWO_STAGES, &[]).unwrap();
        let fix = &plan.workers[2];
        assert_eq!(fix.after, ["r1", "r2"]);
        assert_eq!(fix.sandbox, Sandbox::WorkspaceWrite);
        assert_eq!(fix.inputs, ["r1"]);
        assert!(fix.prompt.contains("fix using {{out:r1}}"));
        assert_eq!(plan.workers[0].sandbox, Sandbox::ReadOnly);
        assert!(plan.workers[0].after.is_empty());
        assert_eq!(plan.stages[1].workers, ["fix"]);
    }

    #[test]
    fn explicit_after_replaces_stage_order() {
        let text = TWO_STAGES.replace(
            "role = \"implementer\"",
            "role = \"implementer\"\n  after = [\"r1\"]",
        );
        assert_eq!(load_str(&text, &[]).unwrap().workers[2].after, ["r1"]);
    }

    #[test]
    fn out_reference_must_be_upstream() {
        let text = TWO_STAGES.replace(
            "role = \"implementer\"",
            "role = \"implementer\"\n  after = []",
        );
        let e = err(&text, &[]);
        assert!(
            e.starts_with("p.toml:18: `{{out:r1}}`: worker `fix` does not wait for `r1`"),
            "{e}"
        );
    }

    #[test]
    fn vars_substitute_and_unknown_vars_are_refused() {
        let text = "[vars]\nwho = \"world\"\n[[stage]]\nname = \"s\"\n[[stage.worker]]\nlabel = \"w\"\nrole = \"scout\"\ntask = \"hello {{who}}, {{ x }}\"\n";
        let plan = load_str(text, &[("x", "1")]).unwrap();
        assert!(plan.workers[0].prompt.contains("hello world, 1"));
        let plan = load_str(text, &[("x", "1"), ("who", "you")]).unwrap();
        assert!(plan.workers[0].prompt.contains("hello you, 1"));
        let e = err(text, &[("x", "1"), ("y", "2")]);
        assert!(
            e.starts_with("unknown --var `y`: ") && e.ends_with("p.toml takes who, x"),
            "{e}"
        );
        assert_eq!(
            err(text, &[]),
            "p.toml:8: undefined variable `{{x}}`; pass --var x=... or give it a default in [vars]"
        );
    }

    #[test]
    fn undefined_var_in_a_multiline_task_points_at_its_line() {
        let text = "[[stage]]\nname = \"s\"\n[[stage.worker]]\nlabel = \"w\"\nrole = \"scout\"\ntask = \"\"\"\nfirst\nsecond {{nope}}\n\"\"\"\n";
        assert!(err(text, &[]).starts_with("p.toml:8: undefined variable `{{nope}}`"));
    }

    #[test]
    fn label_rules() {
        for ok in ["a", "review-1", "A.b_c", &"x".repeat(64)] {
            assert!(valid_label(ok), "{ok}");
        }
        for bad in ["", "-a", ".a", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(!valid_label(bad), "{bad}");
        }
        let text = TWO_STAGES.replace("\"r2\"", "\"-r2\"");
        assert!(err(&text, &[]).starts_with("p.toml:9: invalid worker label `-r2`"));
        let text = TWO_STAGES.replace("\"r2\"", "\"r1\"");
        assert_eq!(
            err(&text, &[]),
            "p.toml:9: duplicate worker label `r1` (first used on line 5)"
        );
    }

    #[test]
    fn bad_sandbox_unknown_role_and_lens() {
        let text = TWO_STAGES.replace("task = \"one\"", "task = \"one\"\n  sandbox = \"full\"");
        assert!(err(&text, &[]).starts_with("p.toml:8: bad sandbox `full`"));
        let text = TWO_STAGES.replace("role = \"implementer\"", "role = \"fixer\"");
        let e = err(&text, &[]);
        assert!(
            e.starts_with("p.toml:16: unknown role `fixer`; known roles: reviewer"),
            "{e}"
        );
        let text = TWO_STAGES.replace("task = \"one\"", "task = \"one\"\n  lens = \"speed\"");
        let e = err(&text, &[]);
        assert!(e.starts_with("p.toml:8: unknown lens `speed`"), "{e}");
    }

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

    const EACH: &str = r#"
[[stage]]
name = "a"
  [[stage.worker]]
  label = "part"
  each = "{{parts}}"
  role = "reviewer"
  cd = "{{item}}"
  task = "review {{item}} of {{items}}"
[[stage]]
name = "b"
  [[stage.worker]]
  label = "check"
  role = "verifier"
  task = """
reports:
{{out:part}}
first: {{out:part-1}}"""
"#;

    #[test]
    fn each_makes_one_worker_per_item() {
        let plan = load_str(EACH, &[("parts", " src/a/,\nsrc/b/ ,, lib.rs\n")]).unwrap();
        let labels: Vec<&str> = plan.workers.iter().map(|w| w.label.as_str()).collect();
        assert_eq!(labels, ["part-1", "part-2", "part-3", "check"]);
        assert_eq!(plan.stages[0].workers, ["part-1", "part-2", "part-3"]);
        for (w, item) in plan.workers.iter().zip(["src/a/", "src/b/", "lib.rs"]) {
            assert_eq!(w.item.as_deref(), Some(item));
            assert_eq!(w.cd.as_deref(), Some(Path::new(item)));
            assert!(
                w.prompt
                    .contains(&format!("review {item} of src/a/, src/b/, lib.rs")),
                "{}",
                w.prompt
            );
        }
        let check = &plan.workers[3];
        assert_eq!(check.item, None);
        assert_eq!(check.after, ["part-1", "part-2", "part-3"]);
        assert_eq!(check.inputs, ["part-1", "part-2", "part-3"]);
        assert!(
            check.prompt.contains(
                "reports:\nsrc/a/: {{out:part-1}}\nsrc/b/: {{out:part-2}}\nlib.rs: {{out:part-3}}\nfirst: {{out:part-1}}"
            ),
            "{}",
            check.prompt
        );
        assert!(plan.dry_run_text().contains(
            "part-2  [stage a, role reviewer, sandbox read-only, item \"src/b/\", cd src/b/]"
        ));
    }

    #[test]
    fn after_the_base_label_waits_for_every_copy() {
        let text = EACH.replace(
            "role = \"verifier\"",
            "role = \"verifier\"\n  after = [\"part\", \"part-2\"]",
        );
        let plan = load_str(&text, &[("parts", "x,y")]).unwrap();
        assert_eq!(plan.workers[2].after, ["part-1", "part-2"]);
        // Not waiting for them while reading their output is refused, at the reference.
        let text = EACH.replace(
            "role = \"verifier\"",
            "role = \"verifier\"\n  after = [\"part-1\"]",
        );
        let e = err(&text, &[("parts", "x,y")]);
        assert!(
            e.starts_with("p.toml:18: `{{out:part-2}}`: worker `check` does not wait for `part-2`"),
            "{e}"
        );
        // An `each` worker cannot wait for its own copies.
        let text = EACH.replace("cd = ", "after = [\"part\"]\n  cd = ");
        assert_eq!(
            err(&text, &[("parts", "x,y")]),
            "p.toml:8: cycle in `after`: part -> part (each waits for the next)"
        );
        let text = EACH.replace(
            "role = \"verifier\"",
            "role = \"verifier\"\n  after = [\"parts\"]",
        );
        assert_eq!(
            err(&text, &[("parts", "x,y")]),
            "p.toml:15: `after` names unknown worker `parts`; workers: part, check"
        );
    }

    #[test]
    fn each_errors_name_the_line() {
        assert_eq!(
            err(EACH, &[("parts", " , \n")]),
            "p.toml:6: `each = \"{{parts}}\"` gives no items; give a list separated by commas or newlines, e.g. --var parts=src/a/,src/b/"
        );
        assert_eq!(
            err(EACH, &[("parts", "a,b,a")]),
            "p.toml:6: `each` lists `a` twice; every item gets its own worker, so list it once"
        );
        let many: Vec<String> = (1..=MAX_EACH + 1).map(|n| format!("s{n}")).collect();
        assert_eq!(
            err(EACH, &[("parts", &many.join(","))]),
            "p.toml:6: `each` gives 21 items; one worker makes at most 20 copies (split the list over several runs)"
        );
        let twenty = &many[..MAX_EACH].join("\n");
        assert_eq!(
            load_str(EACH, &[("parts", twenty)]).unwrap().workers.len(),
            21
        );
        let no_each = EACH.replace("  each = \"{{parts}}\"\n", "");
        assert_eq!(
            err(&no_each, &[]),
            "p.toml:8: `{{item}}` is only set in a worker with `each = \"...\"`; add `each` to this worker or remove `{{item}}`"
        );
        let in_check = EACH.replace("first:", "{{items}}");
        assert!(
            err(&in_check, &[("parts", "x")]).starts_with("p.toml:18: `{{items}}` is only set"),
            "{}",
            err(&in_check, &[("parts", "x")])
        );
        let e = err(&format!("[vars]\nitem = \"x\"\n{EACH}"), &[("parts", "x")]);
        assert_eq!(
            e,
            "p.toml:2: `item` is reserved (`{{item}}` is set by `each`); rename this var"
        );
        let e = err(&EACH.replace("{{parts}}", "{{item}}"), &[]);
        assert_eq!(
            e,
            "p.toml:6: `each` cannot use `{{item}}`, which it defines; give it a list or a var"
        );
        let e = err(EACH, &[("parts", "x"), ("item", "y")]);
        assert!(e.starts_with("unknown --var `item`"), "{e}");
    }

    #[test]
    fn copies_get_valid_unique_labels() {
        let clash = format!(
            "{EACH}  [[stage.worker]]\n  label = \"part-2\"\n  role = \"scout\"\n  task = \"t\"\n"
        );
        assert_eq!(
            err(&clash, &[("parts", "x,y")]),
            "p.toml:20: duplicate worker label `part-2` (first used on line 5)"
        );
        let base = format!(
            "{EACH}  [[stage.worker]]\n  label = \"part\"\n  role = \"scout\"\n  task = \"t\"\n"
        );
        assert!(
            err(&base, &[("parts", "x")]).starts_with("p.toml:20: duplicate worker label `part`")
        );
        let long = "p".repeat(63);
        let text = EACH.replace("\"part\"", &format!("\"{long}\""));
        assert_eq!(
            err(&text, &[("parts", "x")]),
            format!(
                "p.toml:5: invalid worker label `{long}-1`: use 1-64 of A-Z a-z 0-9 . _ -, not starting with - or ."
            )
        );
    }

    #[test]
    fn context_pack_is_validated_and_inlined() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ctx.md"),
            "## Goal\nShip.\n<!-- hint -->\n## Success check\nTests pass.\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("bad.md"), "## Goal\nShip.\n").unwrap();
        let pipeline = dir.path().join("p.toml");
        let share = Share::from_roots(vec![]);
        let write = |ctx: &str| {
            std::fs::write(
                &pipeline,
                format!("context = \"{ctx}\"\n[[stage]]\nname = \"s\"\n[[stage.worker]]\nlabel = \"w\"\nrole = \"scout\"\ntask = \"t\"\n"),
            )
            .unwrap();
        };
        write("ctx.md");
        let plan = load(&pipeline, &BTreeMap::new(), &share).unwrap();
        let w = &plan.workers[0];
        assert_eq!(
            w.context.as_deref(),
            Some(dir.path().join("ctx.md").as_path())
        );
        assert!(w.prompt.contains("CONTEXT PACK"));
        assert!(
            w.prompt
                .contains("## Goal\nShip.\n## Success check\nTests pass."),
            "{}",
            w.prompt
        );
        write("bad.md");
        let e = load(&pipeline, &BTreeMap::new(), &share)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.toml:1: context pack") && e.contains("no Success check section"),
            "{e}"
        );
        write("none.md");
        let e = load(&pipeline, &BTreeMap::new(), &share)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.toml:1: cannot read") && e.contains("none.md"),
            "{e}"
        );
    }
}
