//! `orch fanout` (being built).

use anyhow::Result;

use crate::cli::FanoutArgs;
use crate::error::UserError;

pub fn run(_args: FanoutArgs) -> Result<i32> {
    Err(UserError::failed("`orch fanout` is not built yet").into())
}
