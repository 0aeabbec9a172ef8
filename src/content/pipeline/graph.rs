//! The order workers run in: worker labels, `after` (explicit, or the nearest earlier
//! stage with workers), cycles, and `{{out:LABEL}}` only of workers waited for.

use std::collections::{BTreeSet, HashMap};

use super::expand::Families;
use super::file::{File, Loc, PipelineError, RawWorker};
use super::valid_label;
use super::{PlannedWorker, Stage};

/// A worker read from the file, before `after` is resolved.
pub(super) struct Pending<'r> {
    pub(super) raw: &'r RawWorker,
    pub(super) worker: PlannedWorker,
    pub(super) stage_index: usize,
}

/// Sets every worker's `after`: its explicit list (a base label standing for all its
/// copies), or the workers of the nearest earlier stage that has any.
pub(super) fn resolve_after(
    file: &File,
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
                                at: file.loc(name.span()),
                                name: n.clone(),
                                known: known.join(", "),
                            });
                        }
                    };
                    if n == &p.worker.label || n == p.raw.label.get_ref() {
                        return Err(PipelineError::Cycle {
                            at: file.loc(name.span()),
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

/// Refuses a cycle in `after`, naming it and pointing at the entry that closes it.
pub(super) fn check_cycles(file: &File, pending: &[Pending]) -> Result<(), PipelineError> {
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
                at: file.loc(span),
                cycle: cycle.join(" -> "),
            });
        }
    }
    Ok(())
}

/// Refuses `{{out:LABEL}}` of a worker that this one does not (transitively) wait for.
pub(super) fn check_inputs(file: &File, pending: &[Pending]) -> Result<(), PipelineError> {
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
                at: file.line_in(&p.raw.task, pos),
                message,
            });
        }
    }
    Ok(())
}

/// Marks `label` as used at `at`, refusing an invalid or already used one.
pub(super) fn claim_label(
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

#[cfg(test)]
mod tests {
    use super::super::testing::{EACH, TWO_STAGES, err, load_str};
    use super::super::valid_label;
    use crate::model::Sandbox;

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
}
