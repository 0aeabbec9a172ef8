//! `orch resume`: continue a worker's codex conversation with a new prompt
//! (`ops::resume`).

use anyhow::Result;

use crate::cli::args::ResumeArgs;
use crate::store::Home;

pub use crate::ops::resume::DEFAULT_PROMPT;

pub fn run(args: ResumeArgs) -> Result<i32> {
    let prompt = match (args.prompt.as_deref(), args.prompt_file.as_deref()) {
        (None, None) => DEFAULT_PROMPT.to_string(),
        (p, f) => crate::ops::spawn::read_prompt(p, f)?,
    };
    let home = Home::from_env()?;
    let w = home.resolve_worker(&args.worker)?;
    let resumed = crate::ops::resume::resume(&home, &w, &prompt)?;
    crate::outln!("{}", resumed.describe(&w));
    Ok(0)
}
