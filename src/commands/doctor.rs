//! `orch doctor` (being built).

use anyhow::Result;

use crate::cli::DoctorArgs;
use crate::error::UserError;

pub fn run(_args: DoctorArgs) -> Result<i32> {
    Err(UserError::failed("`orch doctor` is not built yet").into())
}
