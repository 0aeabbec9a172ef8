//! `orch run` (being built).

use anyhow::Result;

use crate::cli::RunArgs;
use crate::error::UserError;

pub fn run(_args: RunArgs) -> Result<i32> {
    Err(UserError::failed("`orch run` is not built yet").into())
}
