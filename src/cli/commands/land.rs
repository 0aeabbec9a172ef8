//! `orch land`: a worktree worker's branch onto a branch of the user's checkout.

use anyhow::Result;

use crate::cli::args::LandArgs;
use crate::ops::land::{LandOptions, Mode, land};
use crate::store::Home;

pub fn run(args: LandArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let w = crate::ops::pick::resolve(&home, &args.worker)?;
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
    crate::outln!("{}", done.describe(&w.address()));
    Ok(0)
}
