//! `orch merge` (being built).

use anyhow::Result;

use crate::cli::MergeArgs;
use crate::error::UserError;

pub fn run(_args: MergeArgs) -> Result<i32> {
    Err(UserError::failed("`orch merge` is not built yet").into())
}
