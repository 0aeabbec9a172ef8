//! The spawner's environment, handed to its worker through a 0600 file rather than
//! argv or tmux's environment: the tmux server may have been started earlier from
//! another shell, and secrets (API keys) must not show in any process's argv.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use anyhow::{Context, Result};

/// Variables that describe the spawner's terminal or SSH session, not the worker's: they
/// point at things (a tty, a connection) that are gone once that session drops.
pub const DROP: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "SSH_TTY",
    "SSH_CONNECTION",
    "SSH_CLIENT",
    "SSH_ORIGINAL_COMMAND",
];

/// `ORCH_SSH_AGENT=stable`: workers get `SSH_AUTH_SOCK=$ORCH_HOME/ssh-agent.sock`, a
/// symlink every orch command points at its own (forwarded) agent, so a worker keeps a
/// working agent after the session that spawned it dropped and a new one connected.
pub const AGENT_MODE: &str = "ORCH_SSH_AGENT";

/// The stable agent path in `home`.
pub fn agent_link(home: &Path) -> std::path::PathBuf {
    home.join("ssh-agent.sock")
}

/// The environment a worker gets: ours, minus `DROP`, with `SSH_AUTH_SOCK` pointed at
/// the stable link when `ORCH_SSH_AGENT=stable` (see `refresh_agent_link`).
pub fn capture() -> Vec<(OsString, OsString)> {
    let stable = std::env::var_os(AGENT_MODE).is_some_and(|v| v == "stable");
    let link = stable
        .then(|| super::Home::from_env().ok())
        .flatten()
        .and_then(|h| refresh_agent_link(&h.root).then(|| agent_link(&h.root)));
    std::env::vars_os()
        .filter(|(k, _)| !DROP.iter().any(|d| k == d))
        .map(|(k, v)| match &link {
            Some(l) if k == "SSH_AUTH_SOCK" => (k, l.clone().into_os_string()),
            _ => (k, v),
        })
        .collect()
}

/// With `ORCH_SSH_AGENT=stable` and a live `SSH_AUTH_SOCK`, points
/// `$ORCH_HOME/ssh-agent.sock` at it (atomically). True when the link now points at our
/// agent; false (link untouched) when there is no agent to point at.
pub fn refresh_agent_link(home: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    if std::env::var_os(AGENT_MODE).is_none_or(|v| v != "stable") {
        return false;
    }
    let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").map(std::path::PathBuf::from) else {
        return false;
    };
    let link = agent_link(home);
    if sock == link {
        // Already the stable path (an orch command run from inside a worker).
        return true;
    }
    if !std::fs::metadata(&sock).is_ok_and(|m| m.file_type().is_socket()) {
        return false;
    }
    if std::fs::read_link(&link).is_ok_and(|t| t == sock) {
        return true;
    }
    let tmp = home.join(format!(".ssh-agent.sock.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&sock, &tmp).is_ok() && std::fs::rename(&tmp, &link).is_ok()
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
