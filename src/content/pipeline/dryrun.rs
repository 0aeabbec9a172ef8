//! `orch run --dry-run`: the plan and every rendered prompt, as text.

use super::{Plan, PlannedWorker};

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
    if w.worktree {
        line.push_str(", own worktree");
    }
    if w.after_any_done {
        line.push_str(", once one is done");
    }
    line.push(']');
    line
}
