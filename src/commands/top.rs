//! `orch top` (being built).

use anyhow::Result;

use crate::cli::TopArgs;
use crate::error::UserError;

pub fn run(_args: TopArgs) -> Result<i32> {
    Err(UserError::failed("`orch top` is not built yet").into())
}
