//! The pipeline file itself: the TOML shape it is read into, and where things are in it
//! (`file:line`) for the errors.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::content::pack::PackError;
use crate::content::share::ShareError;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPipeline {
    pub(super) description: Option<Spanned<String>>,
    pub(super) max_parallel: Option<Spanned<i64>>,
    pub(super) context: Option<Spanned<String>>,
    pub(super) cd: Option<Spanned<String>>,
    pub(super) model: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) vars: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) stage: Vec<Spanned<RawStage>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<Spanned<String>>,
    /// `timeout = "30m"`: every worker of the stage is stopped after running this long.
    pub(super) timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) worker: Vec<RawWorker>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorker {
    pub(super) label: Spanned<String>,
    pub(super) role: Spanned<String>,
    pub(super) task: Spanned<String>,
    pub(super) lens: Option<Spanned<String>>,
    pub(super) template: Option<Spanned<String>>,
    pub(super) context: Option<Spanned<String>>,
    pub(super) sandbox: Option<Spanned<String>>,
    pub(super) after: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) cd: Option<Spanned<String>>,
    pub(super) model: Option<Spanned<String>>,
    pub(super) output_schema: Option<bool>,
    pub(super) each: Option<Spanned<String>>,
    /// `worktree = true` (or a string such as `"{{worktrees}}"` that renders to `true`
    /// or `false`): a writer gets a git worktree and branch of its own.
    pub(super) worktree: Option<Spanned<toml::Value>>,
    /// `after_any_done = true`: start once every worker waited for has ended, if one
    /// ended done (best-of-N's picker); skipped only when none did.
    pub(super) after_any_done: Option<bool>,
}

/// A pipeline file's text, to turn byte spans into `file:line`.
pub(super) struct File<'a> {
    pub(super) origin: String,
    pub(super) text: &'a str,
    pub(super) base: PathBuf,
}

impl File<'_> {
    pub(super) fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text[..offset].matches('\n').count() + 1
    }

    pub(super) fn loc(&self, span: Range<usize>) -> Loc {
        Loc {
            file: self.origin.clone(),
            line: self.line(span.start),
        }
    }

    pub(super) fn loc_opt(&self, span: Option<Range<usize>>) -> Loc {
        self.loc(span.unwrap_or(0..0))
    }

    /// The line of byte `pos` of a string value's decoded text: exact for single-line
    /// strings and for multi-line literals without escaped line breaks.
    pub(super) fn line_in(&self, value: &Spanned<String>, pos: usize) -> Loc {
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

#[cfg(test)]
mod tests {
    use super::super::testing::err;

    #[test]
    fn undefined_var_in_a_multiline_task_points_at_its_line() {
        let text = "[[stage]]\nname = \"s\"\n[[stage.worker]]\nlabel = \"w\"\nrole = \"scout\"\ntask = \"\"\"\nfirst\nsecond {{nope}}\n\"\"\"\n";
        assert!(err(text, &[]).starts_with("p.toml:8: undefined variable `{{nope}}`"));
    }
}
