//! User-facing errors and exit codes.
//!
//! Exit codes: 0 success; 1 the thing asked about failed (a worker failed, an error);
//! 2 bad usage or input (clap's own code too); 124 a wait timed out (like timeout(1)).

use std::fmt;

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_TIMEOUT: i32 = 124;

/// An error whose message is meant for the user as it stands, with its exit code.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub code: i32,
}

impl UserError {
    pub fn usage(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            code: EXIT_FAILED,
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Ends the process with `code` without printing anything more: for commands whose
/// output already said what happened (e.g. `wait` listing failed workers).
#[derive(Debug)]
pub struct Exit(pub i32);

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// Maps any error to the one line printed and the exit code.
pub fn report(err: &anyhow::Error) -> (Option<String>, i32) {
    if let Some(Exit(code)) = err.downcast_ref::<Exit>() {
        return (None, *code);
    }
    if let Some(u) = err.downcast_ref::<UserError>() {
        return (Some(u.message.clone()), u.code);
    }
    // anyhow's alternate form joins the context chain on one line: "cannot x: because y".
    (Some(format!("{err:#}")), EXIT_FAILED)
}
