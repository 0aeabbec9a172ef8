//! `orch ls`: every run, newest first, with counts per state and what it cost.

use anyhow::Result;

use crate::cli::args::LsArgs;
use crate::cli::render;
use crate::lifecycle::budget;
use crate::model::text;
use crate::ops::listing::collect;
use crate::store::Home;

pub fn run(args: LsArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let lines = collect(&home)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
        return Ok(0);
    }
    if lines.is_empty() {
        println!("no runs yet; start one with `orch spawn \"PROMPT\"`");
        return Ok(0);
    }
    let color = render::color_enabled();
    let header: Vec<String> = ["RUN", "AGE", "KIND", "WORKERS", "COST", "STATES"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut rows = vec![header.clone()];
    let mut painted = vec![
        header
            .iter()
            .map(|h| render::paint(color, "1", h))
            .collect(),
    ];
    let now = chrono::Utc::now();
    for l in &lines {
        let states = match &l.error {
            Some(e) => e.clone(),
            None => l
                .counts
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let row = vec![
            l.run.clone(),
            l.created_at
                .map(|c| text::duration((now - c).num_seconds()))
                .unwrap_or_else(|| "?".into()),
            if l.kind.is_empty() {
                "-".into()
            } else {
                l.kind.clone()
            },
            l.workers.to_string(),
            match l.cost_usd {
                _ if l.error.is_some() => "-".into(),
                Some(c) => budget::usd(c),
                None if l.spent_usd > 0.0 => format!("{}+?", budget::usd(l.spent_usd)),
                None => "?".into(),
            },
            states,
        ];
        painted.push(row.clone());
        rows.push(row);
    }
    print!("{}", render::table(&rows, &painted));
    Ok(0)
}
