//! `orch retry` (being built).

use anyhow::Result;

use crate::cli::RetryArgs;
use crate::error::UserError;

pub fn run(_args: RetryArgs) -> Result<i32> {
    Err(UserError::failed("`orch retry` is not built yet").into())
}
