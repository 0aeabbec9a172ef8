//! Filling a pipeline in: `[vars]` and `--var`, `{{var}}` in every field, and the copies
//! an `each` worker makes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::MAX_EACH;
use super::file::{File, Loc, PipelineError, RawPipeline};
use crate::content::template::{self, ITEM, ITEMS, fill_outputs};

/// The vars as used: `[vars]` defaults, overridden by `--var`. A `--var` must name a var
/// the file lists or uses, so a typo is refused instead of silently ignored.
pub(super) fn merge_vars(
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

/// Fills `{{var}}` (and, in a copy of an `each` worker, `{{item}}` and `{{items}}`) into
/// the fields of one pipeline file.
#[derive(Clone, Copy)]
pub(super) struct Expander<'a> {
    pub(super) file: &'a File<'a>,
    pub(super) vars: &'a BTreeMap<String, String>,
    /// Inside a copy of an `each` worker: its item and the whole list, comma-separated.
    pub(super) each: Option<(&'a str, &'a str)>,
}

/// The copies an `each` worker expands to, in list order.
pub(super) struct Family {
    pub(super) items: Vec<String>,
    pub(super) labels: Vec<String>,
    pub(super) joined: String,
}

pub(super) type Families = HashMap<String, Family>;

impl Expander<'_> {
    pub(super) fn at(&self, span: Range<usize>) -> Loc {
        self.file.loc(span)
    }

    /// `{{var}}` substitution; `{{out:…}}` and other non-variable tags stay as they are.
    pub(super) fn subst(&self, value: &Spanned<String>) -> Result<String, PipelineError> {
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

    pub(super) fn subst_opt(
        &self,
        value: Option<&Spanned<String>>,
    ) -> Result<Option<String>, PipelineError> {
        Ok(match value {
            Some(v) => Some(self.subst(v)?).filter(|s| !s.trim().is_empty()),
            None => None,
        })
    }

    /// A path from the file: relative to the pipeline file when written there literally,
    /// relative to the current directory when it came from a variable (`--var` values are
    /// typed at the shell, relative to where orch runs).
    pub(super) fn path(&self, raw: &Spanned<String>, expanded: &str) -> PathBuf {
        let p = Path::new(expanded.trim());
        if raw.get_ref().contains("{{") || p.is_absolute() {
            p.to_path_buf()
        } else {
            self.file.base.join(p)
        }
    }

    /// The copies of every `each` worker, by base label, worked out before any worker is
    /// built so that `after` and `{{out:…}}` anywhere in the file can name them.
    pub(super) fn families(&self, raw: &RawPipeline) -> Result<Families, PipelineError> {
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
}

/// `{{out:BASE}}` of an `each` worker becomes one line per copy, `ITEM: {{out:COPY}}`,
/// so a later worker reads every copy's result knowing which item it was about.
pub(super) fn expand_outputs(task: &str, families: &Families) -> String {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::MAX_EACH;
    use super::super::testing::{EACH, err, load_str};

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
}
