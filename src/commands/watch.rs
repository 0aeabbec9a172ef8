//! `orch watch` (being built).

use anyhow::Result;

use crate::cli::WatchArgs;
use crate::error::UserError;

pub fn run(_args: WatchArgs) -> Result<i32> {
    Err(UserError::failed("`orch watch` is not built yet").into())
}
