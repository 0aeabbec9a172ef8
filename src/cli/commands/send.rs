//! `orch send`: queue a message for a running worker (`ops::send`).

use anyhow::Result;

use crate::cli::args::SendArgs;
use crate::model::error::UserError;
use crate::store::Home;

pub fn run(args: SendArgs) -> Result<i32> {
    if args.message.is_none() && args.file.is_none() {
        return Err(UserError::usage(
            "no message: give it as an argument, with --file FILE, or as - to read stdin",
        )
        .into());
    }
    let message = crate::ops::spawn::read_prompt(args.message.as_deref(), args.file.as_deref())?;
    let home = Home::from_env()?;
    let w = home.resolve_worker(&args.worker)?;
    let outcome = crate::ops::send::send(&w, &message, args.now)?;
    crate::outln!("{}", outcome.describe());
    Ok(0)
}
