//! `orch plan` (being built).

use anyhow::Result;

use crate::cli::PlanArgs;
use crate::error::UserError;

pub fn run(_args: PlanArgs) -> Result<i32> {
    Err(UserError::failed("`orch plan` is not built yet").into())
}
