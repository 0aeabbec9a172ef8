//! `orch land`: a worktree worker's branch onto a branch of the user's checkout.

use anyhow::Result;

use crate::cli::args::LandArgs;
use crate::ops::land::{LandOptions, Mode, land, short};
use crate::store::Home;

pub fn run(args: LandArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let w = home.resolve_worker(&args.worker)?;
    let mode = if args.squash {
        Mode::Squash
    } else if args.rebase {
        Mode::Rebase
    } else {
        Mode::Merge
    };
    let done = land(
        &w,
        &LandOptions {
            mode,
            into: args.into,
            force: args.force,
        },
    )?;
    let r = &done.record;
    let how = match (mode, done.fast_forward) {
        (Mode::Squash, _) => "as one squashed commit".to_string(),
        (_, true) => "by fast-forward".to_string(),
        (Mode::Merge, false) => "with a merge commit".to_string(),
        (Mode::Rebase, false) => "rebased".to_string(),
    };
    println!(
        "landed {} ({}, {}) on {} in {} {how}: {} is now {}",
        w.address(),
        done.branch,
        crate::model::text::count(done.commits, "commit"),
        r.into,
        done.repo.display(),
        r.into,
        short(&r.commit)
    );
    Ok(0)
}
