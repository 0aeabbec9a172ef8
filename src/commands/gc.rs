//! `orch gc` (being built).

use anyhow::Result;

use crate::cli::GcArgs;
use crate::error::UserError;

pub fn run(_args: GcArgs) -> Result<i32> {
    Err(UserError::failed("`orch gc` is not built yet").into())
}
