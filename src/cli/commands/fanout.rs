//! `orch fanout`: a triangulated review in one command — one read-only reviewer per
//! lens, all in one new run, labels named after the lenses.

use anyhow::Result;

use crate::cli::args::{CodexOpts, FanoutArgs, Sandbox};
use crate::content::share::Share;
use crate::model::error::UserError;
use crate::model::names::validate_label;
use crate::store::fsutil::write_json;
use crate::store::{Home, StageRecord};

use crate::ops::spawn::{self, NewWorker};

pub const MIN_LENSES: usize = 2;
pub const MAX_LENSES: usize = 6;

pub fn run(args: FanoutArgs) -> Result<i32> {
    let task = spawn::read_prompt(args.prompt.as_deref(), args.prompt_file.as_deref())?;
    let home = Home::from_env()?;
    let share = Share::new(&home.root);
    let specs: Vec<String> = args
        .lens
        .iter()
        .flat_map(|l| split_lens_list(l, &share.lens_names()))
        .collect();
    if !(MIN_LENSES..=MAX_LENSES).contains(&specs.len()) {
        return Err(UserError::usage(format!(
            "--lens takes {MIN_LENSES} to {MAX_LENSES} lenses, got {}; e.g. --lens correctness,security,tests",
            specs.len()
        ))
        .into());
    }
    spawn::check_tools()?;
    spawn::check_login(&args.codex_args, args.profile.as_deref())?;
    let mut lenses = Vec::new();
    for spec in &specs {
        let lens = share
            .lens(spec)
            .map_err(|e| UserError::usage(e.to_string()))?;
        validate_label(&lens.name).map_err(|e| {
            UserError::usage(format!("lens {:?} can't be a worker label: {e}", lens.name))
        })?;
        if lenses
            .iter()
            .any(|l: &crate::content::share::Lens| l.name == lens.name)
        {
            return Err(UserError::usage(format!("lens {} is given twice", lens.name)).into());
        }
        lenses.push(lens);
    }
    let context = spawn::read_context(args.context.as_deref())?;
    let opts = CodexOpts {
        cd: args.cd.clone(),
        sandbox: Sandbox::ReadOnly,
        model: args.model.clone(),
        profile: args.profile.clone(),
    };
    spawn::resolve_cd(opts.cd.as_deref())?;
    let stages = vec![
        StageRecord {
            name: "review".into(),
            description: "One read-only reviewer per lens, in parallel.".into(),
        },
        StageRecord {
            name: "merge".into(),
            description: "Curate the findings into one ranked, de-duplicated list (`orch merge`)."
                .into(),
        },
        StageRecord {
            name: "decide".into(),
            description: "Check the top findings against the code; choose what to fix next.".into(),
        },
    ];
    let run = spawn::new_run(&home, "fanout", args.max_parallel, stages)?;
    if args.merge || args.budget.is_some() {
        let mut rec = run.record()?;
        rec.merge_on_finish = args.merge;
        rec.budget_usd = args.budget;
        write_json(&run.record_path(), &rec)?;
    }
    let output_schema = if args.findings_schema {
        Some(spawn::write_findings_schema(&share, &run)?)
    } else {
        None
    };
    let _lock = run.lock()?;
    for lens in lenses {
        let prompt = spawn::compose_prompt(
            &share,
            Some("reviewer"),
            &task,
            Some(lens.clone()),
            context.clone(),
            Sandbox::ReadOnly,
        )?;
        spawn::add_locked(
            &run,
            NewWorker {
                label: Some(lens.name.clone()),
                role: Some("reviewer".into()),
                lens: Some(lens.name),
                stage: Some("review".into()),
                prompt,
                opts: (&opts).into(),
                codex_args: args.codex_args.clone(),
                after: Vec::new(),
                output_schema: output_schema.clone(),
                retries: 0,
                force_writer: false,
                timeout_secs: args.timeout,
            },
        )?;
    }
    crate::lifecycle::sched::tick_locked(&home, &run)?;
    println!("{}", run.id);
    Ok(0)
}

/// Splits `--lens a,b,perf=allocations, copies and locks,api=naming`. A comma starts a
/// new lens before a known lens name or a `name=text`; anything else after an inline
/// lens is more of its text.
pub fn split_lens_list(text: &str, known: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in text.split(',') {
        let p = piece.trim();
        let inline = p
            .split_once('=')
            .is_some_and(|(n, _)| !n.trim().is_empty() && !n.trim().contains(char::is_whitespace));
        let new_lens = inline || known.iter().any(|k| k == p);
        match out.last_mut() {
            Some(last) if !new_lens && last.contains('=') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => out.push(p.to_string()),
        }
    }
    out.retain(|l| !l.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::split_lens_list;

    #[test]
    fn inline_lenses_keep_their_commas() {
        let known: Vec<String> = ["security", "tests"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            split_lens_list(
                "security,perf=allocations, copies and locks,api=naming,tests",
                &known
            ),
            [
                "security",
                "perf=allocations, copies and locks",
                "api=naming",
                "tests"
            ]
        );
        // A name that is not a known lens stays a lens of its own (and is reported
        // unknown), unless it follows inline text.
        assert_eq!(
            split_lens_list("security,nosuch", &known),
            ["security", "nosuch"]
        );
        assert_eq!(split_lens_list("a=x, y", &known), ["a=x, y"]);
    }
}
