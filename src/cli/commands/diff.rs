//! `orch diff`: what a worktree worker changed, against the commit it started from.

use std::io::Write;

use anyhow::Result;

use crate::cli::args::DiffArgs;
use crate::store::Home;

pub fn run(args: DiffArgs) -> Result<i32> {
    let home = Home::from_env()?;
    let w = home.resolve_worker(&args.worker)?;
    let text = crate::ops::worktree::diff(&w, args.stat)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(0)
}
