//! One worker of a pipeline: its role's template, lens, sandbox and context pack, and
//! the prompt they render to.

use std::collections::HashMap;
use std::path::PathBuf;

use toml::Spanned;

use super::PlannedWorker;
use super::expand::{Expander, Families, expand_outputs};
use super::file::{PipelineError, RawPipeline, RawWorker};
use crate::content::pack;
use crate::content::share::{Share, ShareError};
use crate::content::template::{self, Prompt};
use crate::model::Sandbox;

impl Expander<'_> {
    /// One worker with its prompt rendered; the caller sets its label, item and `after`.
    pub(super) fn worker(
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

        let worktree = match &w.worktree {
            None => false,
            Some(v) => {
                let text = match v.get_ref() {
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::String(t) => self.subst(&Spanned::new(v.span(), t.clone()))?,
                    other => other.to_string(),
                };
                match text.trim() {
                    "true" => sandbox.writes(),
                    "false" => false,
                    other => {
                        return Err(PipelineError::Invalid {
                            at: self.at(v.span()),
                            message: format!("worktree must be true or false, not {other:?}"),
                        });
                    }
                }
            }
        };

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
            timeout_secs: None,
            worktree,
            after_any_done: w.after_any_done.unwrap_or(false),
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
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::load;
    use super::super::testing::{TWO_STAGES, err};
    use crate::content::share::Share;

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
