//! `orch status`: the workers of one run, from disk.

use std::io::IsTerminal;

use anyhow::Result;

use crate::cli::args::{PollOpts, StatusArgs, TopArgs};
use crate::cli::render;
use crate::lifecycle::budget;
use crate::lifecycle::sched;
use crate::lifecycle::state::{State, ViewOptions, WorkerView};
use crate::model::text;
use crate::ops::status::{RunStatus, collect};
use crate::store::Home;

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
        offline_after: std::time::Duration::from_secs(args.stall.offline_after),
        activity: true,
    };
    let status = collect(&home, &run, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render(&status, render::color_enabled()));
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

pub fn render(status: &RunStatus, color: bool) -> String {
    let age = (chrono::Utc::now() - status.created_at).num_seconds();
    let mut out = format!(
        "run {} · {} · started {} ago · tokens {} in / {} out{}\n",
        status.run,
        text::count(status.workers.len(), "worker"),
        text::duration(age),
        render::tokens_short(status.tokens.input),
        render::tokens_short(status.tokens.output),
        money_line(status),
    );
    if !status.plan.is_empty() {
        out.push_str(&crate::lifecycle::plan::render(&status.plan));
    }
    if status.workers.is_empty() {
        out.push_str("no workers yet\n");
        return out;
    }
    // The BRANCH column only for runs with worktree workers.
    let branches = status.workers.iter().any(|w| w.branch.is_some());
    let mut header: Vec<String> = [
        "LABEL",
        "ROLE",
        "STATE",
        "ELAPSED",
        "TOKENS",
        "COST",
        "LAST ACTIVITY",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if branches {
        header.insert(3, "BRANCH".into());
    }
    let mut rows = vec![header.clone()];
    let mut painted = vec![
        header
            .iter()
            .map(|h| render::paint(color, "1", h))
            .collect::<Vec<_>>(),
    ];
    for w in &status.workers {
        let mut flags: Vec<String> = Vec::new();
        if w.offline {
            flags.push("offline".into());
        } else if w.stalled {
            flags.push("stalled".into());
        }
        if w.pending_messages > 0 {
            flags.push(text::count(w.pending_messages, "message"));
        }
        let state = if w.landed.is_some() {
            "landed".to_string()
        } else if flags.is_empty() {
            w.state.to_string()
        } else {
            format!("{} ({})", w.state, flags.join(", "))
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
                .map(|r| crate::ops::status::waits_for(r))
                .unwrap_or_else(|| "about to start".into()),
            State::Paused => w
                .waiting_for
                .as_ref()
                .map(|r| format!("waits for {r}"))
                .unwrap_or_default(),
            State::Running if w.offline => w.error.clone().unwrap_or_default(),
            s if s.is_final() && s != State::Done => w.error.clone().unwrap_or_default(),
            State::Done if w.label == crate::ops::pick::PICK && status.picked.is_some() => {
                format!(
                    "picked {} · `orch land {}` lands it",
                    status.picked.as_deref().unwrap_or_default(),
                    status.run
                )
            }
            _ => w.last_activity.clone().unwrap_or_default(),
        };
        let row = vec![
            w.label.clone(),
            role,
            state.clone(),
            w.elapsed_secs
                .map(text::duration)
                .unwrap_or_else(|| "-".into()),
            if w.tokens.total() > 0 {
                render::tokens_short(w.tokens.total())
            } else {
                "-".into()
            },
            match w.cost_usd {
                Some(c) if w.tokens.total() > 0 => budget::usd(c),
                None if w.tokens.total() > 0 => "unpriced".into(),
                _ => "-".into(),
            },
            activity.split_whitespace().collect::<Vec<_>>().join(" "),
        ];
        let mut row = row;
        if branches {
            row.insert(3, w.branch.clone().unwrap_or_else(|| "-".into()));
        }
        let mut p = row.clone();
        let code = if w.stalled {
            "33"
        } else {
            render::state_color(w.state)
        };
        p[2] = render::paint(color, code, &state);
        rows.push(row);
        painted.push(p);
    }
    // On a terminal the table fits the screen; piped, nothing is cut off.
    if std::io::stdout().is_terminal() {
        let columns = crate::sys::output::terminal_columns().unwrap_or(100);
        fit_last_column(&mut rows, &mut painted, columns);
    }
    out.push_str(&render::table(&rows, &painted));
    out
}

/// Clips the last column (LAST ACTIVITY) so that each line fits `columns`, keeping
/// at least [`MIN_ACTIVITY`] characters of it on a narrow terminal.
fn fit_last_column(rows: &mut [Vec<String>], painted: &mut [Vec<String>], columns: usize) {
    let Some(last) = rows.first().map(|r| r.len() - 1) else {
        return;
    };
    let used: usize = (0..last)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0) + 2)
        .sum();
    let room = columns.saturating_sub(used).max(MIN_ACTIVITY);
    for (r, p) in rows.iter_mut().zip(painted.iter_mut()) {
        r[last] = text::clip(&r[last], room);
        p[last] = r[last].clone();
    }
}

/// The least of LAST ACTIVITY a terminal row shows, however narrow the terminal.
const MIN_ACTIVITY: usize = 20;

/// ` · $1.23 · budget $4.00`, saying when the budget holds workers back and which
/// models have no price.
fn money_line(status: &RunStatus) -> String {
    let mut out = String::new();
    if status.unpriced_workers == 0 {
        out.push_str(&format!(" · {}", budget::usd(status.spent_usd)));
    } else {
        let mut models: Vec<&str> = status
            .workers
            .iter()
            .filter(|w| w.cost_usd.is_none() && w.tokens.total() > 0)
            .map(|w| w.model.as_deref().unwrap_or("an unknown model"))
            .collect();
        models.sort();
        models.dedup();
        let priced = if status.spent_usd > 0.0 {
            format!("{} priced + ", budget::usd(status.spent_usd))
        } else {
            String::new()
        };
        out.push_str(&format!(
            " · cost {priced}unknown (no price for {}; see share/prices.toml)",
            models.join(", ")
        ));
    }
    if let Some(b) = status.budget_usd {
        out.push_str(&format!(" · budget {}", budget::usd(b)));
        if status.spent_usd >= b {
            out.push_str(" reached: no new workers start");
        }
    }
    out
}
