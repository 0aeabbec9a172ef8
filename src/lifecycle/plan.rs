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

/// `workers` are (label, stage, state) of the run's workers.
pub fn derive(record: &RunRecord, workers: &[(String, Option<String>, State)]) -> Vec<Step> {
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
        // (the orchestrator's step) is never complete by itself.
        let complete = !mine.is_empty() && mine.iter().all(|(_, st)| st.is_final());
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
