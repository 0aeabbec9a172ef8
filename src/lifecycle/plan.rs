//! A run's plan: its stages as 3–6 steps, with exactly one in progress while work
//! remains, derived from the stage records and the workers' states (never stored).

use serde::Serialize;

use crate::lifecycle::state::State;
use crate::store::RunRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Completed,
    InProgress,
    /// Its workers have all ended but some not `done`: the orchestrator must act
    /// (retry, or change course) before the plan can go on. It is the current step.
    Failed,
    Pending,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub description: String,
    pub state: StepState,
    /// The stage's workers and their states; empty for the orchestrator's own steps.
    pub workers: Vec<(String, State)>,
    /// Workers of the stage that ended other than done.
    pub problems: Vec<String>,
}

/// The orchestrator's step that `orch merge` (or `fanout --merge`, `--synthesize`)
/// carries out: complete once the run's merge.md exists and the steps before it are.
pub const MERGE_STEP: &str = "merge";

/// `workers` are (label, stage, state) of the run's workers; `merged`: the run has a
/// saved merge (merge.md).
pub fn derive(
    record: &RunRecord,
    workers: &[(String, Option<String>, State)],
    merged: bool,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut in_progress_given = false;
    for stage in &record.stages {
        let mine: Vec<(String, State)> = workers
            .iter()
            .filter(|(_, s, _)| s.as_deref() == Some(stage.name.as_str()))
            .map(|(l, _, st)| (l.clone(), *st))
            .collect();
        let problems: Vec<String> = mine
            .iter()
            .filter(|(_, st)| st.is_final() && *st != State::Done)
            .map(|(l, st)| format!("{l} {st}"))
            .collect();
        // A stage of workers is complete when all have ended; a stage without workers
        // (the orchestrator's step) only when it is the merge and a merge was saved.
        let complete = if mine.is_empty() {
            merged && stage.name == MERGE_STEP
        } else {
            mine.iter().all(|(_, st)| st.is_final())
        };
        let state = if complete && !in_progress_given && problems.is_empty() {
            StepState::Completed
        } else if complete && !in_progress_given {
            in_progress_given = true;
            StepState::Failed
        } else if !in_progress_given {
            in_progress_given = true;
            StepState::InProgress
        } else {
            StepState::Pending
        };
        steps.push(Step {
            name: stage.name.clone(),
            description: stage.description.clone(),
            state,
            workers: mine,
            problems,
        });
    }
    steps
}

pub fn render(steps: &[Step]) -> String {
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        let mark = match s.state {
            StepState::Completed => "[x]",
            StepState::InProgress => "[>]",
            StepState::Failed => "[!]",
            StepState::Pending => "[ ]",
        };
        out.push_str(&format!("{mark} {}. {}", i + 1, s.name));
        if !s.description.is_empty() {
            out.push_str(&format!(" — {}", s.description));
        }
        if !s.workers.is_empty() {
            let ws: Vec<String> = s
                .workers
                .iter()
                .map(|(l, st)| format!("{l} {st}"))
                .collect();
            out.push_str(&format!(" ({})", ws.join(", ")));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StageRecord;

    fn record(stages: &[&str]) -> RunRecord {
        let mut r: RunRecord = serde_json::from_value(serde_json::json!({
            "id": "20261201-0000-abc",
            "created_at": "2026-12-01T00:00:00Z",
            "cwd": "/",
            "kind": "fanout",
        }))
        .unwrap();
        r.stages = stages
            .iter()
            .map(|n| StageRecord {
                name: n.to_string(),
                description: String::new(),
            })
            .collect();
        r
    }

    #[test]
    fn the_merge_step_is_done_once_a_merge_is_saved_after_the_reviews() {
        let rec = record(&["review", "merge", "decide"]);
        let done = [("a".to_string(), Some("review".to_string()), State::Done)];
        let states = |merged| -> Vec<StepState> {
            derive(&rec, &done, merged)
                .iter()
                .map(|s| s.state)
                .collect()
        };
        use StepState::*;
        assert_eq!(states(false), [Completed, InProgress, Pending]);
        assert_eq!(states(true), [Completed, Completed, InProgress]);
        // A merge saved while reviews still run does not complete the step.
        let running = [("a".to_string(), Some("review".to_string()), State::Running)];
        let st: Vec<_> = derive(&rec, &running, true)
            .iter()
            .map(|s| s.state)
            .collect();
        assert_eq!(st, [InProgress, Pending, Pending]);
    }
}
