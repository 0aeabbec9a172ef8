//! `orch set` (being built).

use anyhow::Result;

use crate::cli::SetArgs;
use crate::error::UserError;

pub fn run(_args: SetArgs) -> Result<i32> {
    Err(UserError::failed("`orch set` is not built yet").into())
}
