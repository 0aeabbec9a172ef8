//! The spawner's environment, handed to its worker through a 0600 file rather than
//! argv or tmux's environment: the tmux server may have been started earlier from
//! another shell, and secrets (API keys) must not show in any process's argv.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use anyhow::{Context, Result};

/// Variables that describe the spawner's terminal, not the worker's.
const DROP: &[&str] = &["TMUX", "TMUX_PANE"];

pub fn capture() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(k, _)| !DROP.iter().any(|d| k == d))
        .collect()
}

pub fn write(path: &Path, env: &[(OsString, OsString)]) -> Result<()> {
    crate::store::fsutil::write_atomic(path, &encode(env))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `NAME=value` entries, each ended by a NUL (values may hold newlines).
pub fn encode(env: &[(OsString, OsString)]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (k, v) in env {
        buf.extend_from_slice(k.as_bytes());
        buf.push(b'=');
        buf.extend_from_slice(v.as_bytes());
        buf.push(0);
    }
    buf
}

pub fn read(path: &Path) -> Result<Vec<(OsString, OsString)>> {
    let buf = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the saved environment {}; `orch retry` saves a fresh one",
            path.display()
        )
    })?;
    Ok(buf
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let eq = e.iter().position(|b| *b == b'=')?;
            Some((
                OsString::from_vec(e[..eq].to_vec()),
                OsString::from_vec(e[eq + 1..].to_vec()),
            ))
        })
        .collect())
}
