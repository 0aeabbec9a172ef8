//! `orch pack` (being built).

use anyhow::Result;

use crate::cli::PackCommand;
use crate::error::UserError;

pub fn run(_args: PackCommand) -> Result<i32> {
    Err(UserError::failed("`orch pack` is not built yet").into())
}
