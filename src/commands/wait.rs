//! `orch wait` (being built).

use anyhow::Result;

use crate::cli::WaitArgs;
use crate::error::UserError;

pub fn run(_args: WaitArgs) -> Result<i32> {
    Err(UserError::failed("`orch wait` is not built yet").into())
}
