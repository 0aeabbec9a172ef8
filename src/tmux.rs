//! The only place that speaks to tmux.
//!
//! A thin adapter over `std::process::Command` rather than the `tmux_interface` crate:
//! that crate (0.4) is marked experimental, builds targets from strings without the
//! exact-match `=` prefix and leaves quoting to the caller. Here every call:
//! - uses orch's private server (`-S socket`), never the user's own;
//! - passes `-f /dev/null`, so a user's tmux.conf can't change what orch relies on;
//! - targets sessions as `=RUN` (exact, not prefix) and windows by id (`@N`);
//! - gives the worker command as separate argv words, which tmux runs with execvp,
//!   so no user text ever passes through a shell.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, anyhow};

use crate::error::UserError;
use crate::store::fsutil::create_private_dir;

#[derive(Debug, Clone)]
pub struct Tmux {
    pub socket: PathBuf,
}

/// Unix socket paths are limited to 108 bytes; stay well under.
const SOCKET_PATH_MAX: usize = 100;

impl Tmux {
    /// `ORCH_TMUX_SOCKET`, else `$ORCH_HOME/tmux/server` (or, when that path is too
    /// long for a socket, a per-home folder under the runtime dir). Two homes never
    /// share a server; the socket's folder is 0700 so other users can't attach.
    pub fn for_home(home: &Path) -> Result<Tmux> {
        if let Some(s) = std::env::var_os("ORCH_TMUX_SOCKET").filter(|s| !s.is_empty()) {
            let socket = PathBuf::from(s);
            if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_private_dir(dir).with_context(|| {
                    format!(
                        "cannot create the folder of ORCH_TMUX_SOCKET {}",
                        socket.display()
                    )
                })?;
            }
            return Ok(Tmux { socket });
        }
        let mut socket = home.join("tmux").join("server");
        if socket.as_os_str().len() > SOCKET_PATH_MAX {
            let base = std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(format!("/tmp/orch-{}", nix::unistd::getuid().as_raw()))
                });
            let mut h = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&home, &mut h);
            socket = base
                .join("orch")
                .join(format!("{:016x}", std::hash::Hasher::finish(&h)));
        }
        create_private_dir(socket.parent().expect("socket has a folder")).with_context(|| {
            format!("cannot create tmux socket folder for {}", socket.display())
        })?;
        Ok(Tmux { socket })
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).arg("-f").arg("/dev/null");
        c.stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&OsStr]) -> Result<Output> {
        self.command().args(args).output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(UserError::failed(
                    "tmux not found; install it (e.g. `apt-get install tmux` or `brew install tmux`), version 3.0 or newer"
                ))
            } else {
                anyhow!("cannot run tmux: {e}")
            }
        })
    }

    fn ok(&self, args: &[&OsStr]) -> Result<String> {
        let out = self.run(args)?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(anyhow!("tmux {}: {err}", args[0].to_string_lossy()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Opens a detached window running `argv` in session `session` (made if needed)
    /// and returns its window id. The new server, if this starts one, keeps finished
    /// panes (`remain-on-exit`) so a worker's last screen stays inspectable.
    pub fn new_window(
        &self,
        session: &str,
        name: &str,
        cwd: &Path,
        argv: &[OsString],
    ) -> Result<String> {
        let target = format!("={session}:");
        let mut args: Vec<&OsStr> = vec![
            "new-window".as_ref(),
            "-d".as_ref(),
            "-P".as_ref(),
            "-F".as_ref(),
            "#{window_id}".as_ref(),
            "-t".as_ref(),
            target.as_ref(),
            "-n".as_ref(),
            name.as_ref(),
            "-c".as_ref(),
            cwd.as_os_str(),
            "--".as_ref(),
        ];
        args.extend(argv.iter().map(OsString::as_os_str));
        let first = match self.ok(&args) {
            Ok(id) => return Ok(id),
            Err(e) => e,
        };
        if first.downcast_ref::<UserError>().is_some() {
            return Err(first);
        }
        // No server or no such session yet: make the session, setting the server's
        // options in the same call (before the first pane exists).
        let mut args: Vec<&OsStr> = vec![
            "set-option".as_ref(),
            "-g".as_ref(),
            "remain-on-exit".as_ref(),
            "on".as_ref(),
            ";".as_ref(),
            "set-option".as_ref(),
            "-g".as_ref(),
            "history-limit".as_ref(),
            "50000".as_ref(),
            ";".as_ref(),
            "new-session".as_ref(),
            "-d".as_ref(),
            "-P".as_ref(),
            "-F".as_ref(),
            "#{window_id}".as_ref(),
            "-s".as_ref(),
            session.as_ref(),
            "-n".as_ref(),
            name.as_ref(),
            "-x".as_ref(),
            "200".as_ref(),
            "-y".as_ref(),
            "50".as_ref(),
            "-c".as_ref(),
            cwd.as_os_str(),
            "--".as_ref(),
        ];
        args.extend(argv.iter().map(OsString::as_os_str));
        self.ok(&args)
            .map(|out| out.lines().last().unwrap_or_default().to_string())
            .map_err(|e| anyhow!("cannot open a tmux window: {e} (after: {first})"))
    }

    /// Window ids that exist on the server, or none if no server runs.
    pub fn window_ids(&self) -> Result<Vec<String>> {
        let out = self.run(&[
            "list-windows".as_ref(),
            "-a".as_ref(),
            "-F".as_ref(),
            "#{window_id}".as_ref(),
        ])?;
        if !out.status.success() {
            return Ok(Vec::new());
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    }

    pub fn kill_window(&self, window_id: &str) -> Result<()> {
        self.ok(&["kill-window".as_ref(), "-t".as_ref(), window_id.as_ref()])
            .map(drop)
    }

    pub fn kill_server(&self) -> Result<()> {
        self.ok(&["kill-server".as_ref()]).map(drop)
    }

    pub fn server_running(&self) -> bool {
        self.run(&["list-sessions".as_ref()])
            .is_ok_and(|o| o.status.success())
    }

    /// Shows `text` in the status line of every client attached to orch's server.
    pub fn display_message(&self, text: &str) -> Result<()> {
        let clients = self.ok(&[
            "list-clients".as_ref(),
            "-F".as_ref(),
            "#{client_name}".as_ref(),
        ])?;
        for c in clients.lines() {
            let _ = self.ok(&[
                "display-message".as_ref(),
                "-c".as_ref(),
                c.as_ref(),
                "--".as_ref(),
                text.as_ref(),
            ]);
        }
        Ok(())
    }

    pub fn version(&self) -> Result<String> {
        let out = Command::new("tmux")
            .arg("-V")
            .output()
            .map_err(|_| UserError::failed("tmux not found; install tmux 3.0 or newer"))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The command that attaches the caller's terminal to `window_id` of `session`.
    /// Inside orch's own server it switches the client instead; inside another tmux it
    /// nests (TMUX unset), since a client can't switch to a session on another server.
    pub fn attach_command(&self, session: &str, window_id: &str) -> Command {
        let inside_ours = std::env::var_os("TMUX")
            .and_then(|t| {
                t.to_str()
                    .and_then(|t| t.split(',').next())
                    .map(PathBuf::from)
            })
            .is_some_and(|s| same_file(&s, &self.socket));
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).arg("-f").arg("/dev/null");
        let session_target = format!("={session}");
        if inside_ours {
            c.args(["switch-client", "-t", window_id]);
        } else {
            c.env_remove("TMUX");
            c.args(["select-window", "-t", window_id, ";"]);
            c.args(["attach-session", "-t", &session_target]);
        }
        c
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
