//! `orch resume` (being built).

use anyhow::Result;

use crate::cli::ResumeArgs;
use crate::error::UserError;

pub fn run(_args: ResumeArgs) -> Result<i32> {
    Err(UserError::failed("`orch resume` is not built yet").into())
}
