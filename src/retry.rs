//! Retrying workers: a new attempt from the saved spec, earlier files kept.

use crate::store::{Home, RunDir};

/// Hook run by a wrapper after its worker ended (automatic retries live here).
pub fn after_exit(_home: &Home, _run: &RunDir) {}
