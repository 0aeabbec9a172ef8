//! `orch status`: the workers of one run, from disk.

use std::collections::HashMap;
use std::io::IsTerminal;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{PollOpts, StatusArgs, TopArgs};
use crate::sched;
use crate::state::{self, State, ViewOptions, WorkerView};
use crate::store::{Home, RunDir, RunRecord, Tokens};
use crate::ui;

/// `orch status --json`. Field names are a contract: add, never rename.
#[derive(Debug, Serialize)]
pub struct RunStatus {
    pub run: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub kind: String,
    pub max_parallel: Option<u32>,
    pub counts: std::collections::BTreeMap<&'static str, usize>,
    pub tokens: Tokens,
    /// The run's stages as steps (empty for ad-hoc runs).
    pub plan: Vec<crate::plan::Step>,
    pub workers: Vec<WorkerView>,
}

pub fn run(args: StatusArgs) -> Result<i32> {
    if args.watch {
        return super::top::run(TopArgs {
            run: args.run,
            stall: args.stall,
            poll: PollOpts { poll: None },
        });
    }
    let home = Home::from_env()?;
    let run = home.run_or_latest(args.run.as_deref())?;
    // Any orch command may start queued workers whose turn has come.
    let _ = sched::tick(&home, &run);
    let opts = ViewOptions {
        stall_after: std::time::Duration::from_secs(args.stall.stall_after),
        activity: true,
    };
    let status = collect(&home, &run, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render(&status, ui::color_enabled()));
    }
    let broken: Vec<&WorkerView> = status
        .workers
        .iter()
        .filter(|w| w.state == State::Corrupt)
        .collect();
    for w in &broken {
        eprintln!(
            "orch: worker {}/{} has a damaged record: {}",
            status.run,
            w.label,
            w.error.as_deref().unwrap_or("?")
        );
    }
    Ok(if broken.is_empty() { 0 } else { 1 })
}

pub fn collect(home: &Home, run: &RunDir, opts: &ViewOptions) -> Result<RunStatus> {
    let record: RunRecord = run.record()?;
    let labels = run.labels()?;
    let mut workers: Vec<WorkerView> = labels
        .iter()
        .map(|l| state::view(&run.worker(l), opts))
        .collect();
    // Say why queued workers wait.
    if workers.iter().any(|w| w.state == State::Queued) {
        let states: HashMap<String, State> =
            workers.iter().map(|w| (w.label.clone(), w.state)).collect();
        let specs: HashMap<_, _> = labels
            .iter()
            .filter_map(|l| run.worker(l).spec().ok().map(|s| (l.clone(), s)))
            .collect();
        for w in workers.iter_mut().filter(|w| w.state == State::Queued) {
            if let Some(spec) = specs.get(&w.label) {
                w.waiting_for = sched::waiting_reason(spec, &states, &specs, &record, home);
            }
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    let mut tokens = Tokens::default();
    for w in &workers {
        *counts.entry(w.state.as_str()).or_insert(0) += 1;
        tokens.add(&w.tokens);
    }
    let stage_states: Vec<_> = workers
        .iter()
        .map(|w| (w.label.clone(), w.stage.clone(), w.state))
        .collect();
    let plan = crate::plan::derive(&record, &stage_states);
    Ok(RunStatus {
        plan,
        run: record.id,
        created_at: record.created_at,
        kind: record.kind,
        max_parallel: record.max_parallel,
        counts,
        tokens,
        workers,
    })
}

pub fn render(status: &RunStatus, color: bool) -> String {
    let age = (chrono::Utc::now() - status.created_at).num_seconds();
    let mut out = format!(
        "run {} · {} workers · started {} ago · tokens {} in / {} out\n",
        status.run,
        status.workers.len(),
        ui::duration(age),
        ui::tokens_short(status.tokens.input),
        ui::tokens_short(status.tokens.output),
    );
    if !status.plan.is_empty() {
        out.push_str(&crate::plan::render(&status.plan));
    }
    if status.workers.is_empty() {
        out.push_str("no workers yet\n");
        return out;
    }
    let header: Vec<String> = [
        "LABEL",
        "ROLE",
        "STATE",
        "ELAPSED",
        "TOKENS",
        "LAST ACTIVITY",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows = vec![header.clone()];
    let mut painted = vec![
        header
            .iter()
            .map(|h| ui::paint(color, "1", h))
            .collect::<Vec<_>>(),
    ];
    for w in &status.workers {
        let state = if w.stalled {
            "running (stalled)".to_string()
        } else {
            w.state.to_string()
        };
        let role = match (&w.role, &w.lens) {
            (Some(r), Some(l)) => format!("{r}:{l}"),
            (Some(r), None) => r.clone(),
            (None, Some(l)) => l.clone(),
            (None, None) => "-".into(),
        };
        let activity = match w.state {
            State::Queued => w
                .waiting_for
                .as_ref()
                .map(|r| match r.strip_prefix("after ") {
                    Some(deps) => format!("waits for {deps} to end"),
                    None => format!("waits for {r}"),
                })
                .unwrap_or_else(|| "about to start".into()),
            s if s.is_final() && s != State::Done => w.error.clone().unwrap_or_default(),
            _ => w.last_activity.clone().unwrap_or_default(),
        };
        let row = vec![
            w.label.clone(),
            role,
            state.clone(),
            w.elapsed_secs
                .map(ui::duration)
                .unwrap_or_else(|| "-".into()),
            if w.tokens.total() > 0 {
                ui::tokens_short(w.tokens.total())
            } else {
                "-".into()
            },
            // On a terminal the table fits the screen; piped, nothing is cut off.
            if std::io::stdout().is_terminal() {
                clip(&activity, 70)
            } else {
                activity.split_whitespace().collect::<Vec<_>>().join(" ")
            },
        ];
        let mut p = row.clone();
        let code = if w.stalled {
            "33"
        } else {
            ui::state_color(w.state)
        };
        p[2] = ui::paint(color, code, &state);
        rows.push(row);
        painted.push(p);
    }
    out.push_str(&ui::table(&rows, &painted));
    out
}

fn clip(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max - 1).collect::<String>())
    } else {
        flat
    }
}
