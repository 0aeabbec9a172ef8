//! The only place that speaks to tmux.
//!
//! A thin adapter over `std::process::Command` rather than the `tmux_interface` crate:
//! that crate (0.4) is marked experimental, builds targets from strings without the
//! exact-match `=` prefix and leaves quoting to the caller. Here every call:
//! - uses orch's private server (`-S socket`), never the user's own;
//! - passes `-f /dev/null`, so a user's tmux.conf can't change what orch relies on;
//! - targets sessions as `=RUN` (exact, not prefix) and windows by id (`@N`);
//! - gives the worker command as separate argv words, which tmux runs with execvp,
//!   so no user text ever passes through a shell;
//! - runs the tmux client with a cleared environment plus [`CLIENT_ENV`]: a tmux client
//!   sends its whole environment to the server it connects to, and the server that
//!   client starts keeps it as its global environment for every pane. Workers get the
//!   spawner's environment from their 0600 env file (`store::envfile`), so neither the
//!   server nor whoever listens on the socket ever sees an API key;
//! - talks only to a socket whose folder and file belong to the caller ([`check_socket`],
//!   by `lstat`, never following a symlink), so another user can't pose as the server.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, anyhow};

use crate::model::error::UserError;
use crate::store::fsutil::create_private_dir;

/// `new-window -d -P -F #{window_id} -t TARGET -n NAME -c CWD -- ARGV…`, appended.
fn new_window_args<'a>(args: &mut Vec<&'a OsStr>, target: &'a str, w: &NewWindow<'a>) {
    args.extend::<[&OsStr; 12]>([
        "new-window".as_ref(),
        "-d".as_ref(),
        "-P".as_ref(),
        "-F".as_ref(),
        "#{window_id}".as_ref(),
        "-t".as_ref(),
        target.as_ref(),
        "-n".as_ref(),
        w.name.as_ref(),
        "-c".as_ref(),
        w.cwd.as_os_str(),
        "--".as_ref(),
    ]);
    args.extend(w.argv.iter().map(OsString::as_os_str));
}

/// How many bytes of arguments one chained tmux call may carry. The client sends the
/// whole command in one message of at most 16 KiB (tmux 3.x `MAX_IMSGSIZE`; longer
/// gets "command too long" and makes no window at all); stay well below.
const COMMAND_BYTES: usize = 12 * 1024;

/// `windows` cut into runs of consecutive windows whose chained `new-window` arguments
/// fit in `limit` bytes (a window too big on its own gets a run of its own).
fn chunks_within<'w, 'a>(
    target: &str,
    windows: &'w [NewWindow<'a>],
    limit: usize,
) -> Vec<&'w [NewWindow<'a>]> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, w) in windows.iter().enumerate() {
        let mut args: Vec<&OsStr> = Vec::new();
        new_window_args(&mut args, target, w);
        // Each argument goes as its bytes and a NUL; `;` joins windows.
        let size: usize = args.iter().map(|a| a.len() + 1).sum::<usize>() + 2;
        if i > start && used + size > limit {
            out.push(&windows[start..i]);
            (start, used) = (i, 0);
        }
        used += size;
    }
    if start < windows.len() {
        out.push(&windows[start..]);
    }
    out
}

/// A window for [`Tmux::new_windows`]: its name, working folder and command.
pub struct NewWindow<'a> {
    pub name: &'a str,
    pub cwd: &'a Path,
    pub argv: &'a [OsString],
}

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
    /// Every socket is checked with [`check_socket`] before any client connects to it.
    pub fn for_home(home: &Path) -> Result<Tmux> {
        let socket = Tmux::socket_for(home)?;
        check_socket(&socket)?;
        Ok(Tmux { socket })
    }

    fn socket_for(home: &Path) -> Result<PathBuf> {
        if let Some(s) = std::env::var_os("ORCH_TMUX_SOCKET").filter(|s| !s.is_empty()) {
            // Absolute, so a worker's wrapper (in another folder) finds the same server.
            let socket = std::path::absolute(PathBuf::from(s))
                .context("cannot read the current directory")?;
            // Made private if orch creates it; an existing folder is the user's choice
            // (it may be their home) and only has to pass `check_socket`.
            if let Some(dir) = socket.parent().filter(|d| !d.exists()) {
                create_private_dir(dir).with_context(|| {
                    format!(
                        "cannot create the folder of ORCH_TMUX_SOCKET {}",
                        socket.display()
                    )
                })?;
            }
            return Ok(socket);
        }
        let socket = home.join("tmux").join("server");
        if socket.as_os_str().len() <= SOCKET_PATH_MAX {
            create_private_dir(socket.parent().expect("socket has a folder")).with_context(
                || format!("cannot create tmux socket folder for {}", socket.display()),
            )?;
            return Ok(socket);
        }
        if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute() && private_dir(d).is_ok())
        {
            let mut h = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&home, &mut h);
            let socket = run
                .join("orch")
                .join(format!("{:016x}", std::hash::Hasher::finish(&h)));
            create_private_dir(socket.parent().expect("socket has a folder")).with_context(
                || format!("cannot create tmux socket folder for {}", socket.display()),
            )?;
            return Ok(socket);
        }
        Ok(fallback_dir(home)?.join("server"))
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        client_env(&mut c);
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
        let mut args: Vec<&OsStr> = Vec::new();
        new_window_args(&mut args, &target, &NewWindow { name, cwd, argv });
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
            // A run id (20261201-0930-k3f) is 17 characters: tmux's default of 10
            // cuts the status bar's session name to `[20261201-0`.
            "set-option".as_ref(),
            "-g".as_ref(),
            "status-left-length".as_ref(),
            "40".as_ref(),
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
        let out = self.run_detached(&args)?;
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            return Ok(text.trim().lines().last().unwrap_or_default().to_string());
        }
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        // An old tmux fails here with an obscure message; say what to do instead.
        let old = self
            .version()
            .ok()
            .and_then(|v| parse_version(&v).map(|n| (v, n)))
            .filter(|(_, n)| *n < (3, 0))
            .map(|(v, _)| format!("; {v} is too old, install tmux 3.0 or newer"))
            .unwrap_or_default();
        Err(anyhow!(
            "cannot open a tmux window: tmux new-session: {err} (after: {first}){old}"
        ))
    }

    /// Opens several detached windows in session `session` with as few tmux calls as it
    /// can: the first as [`Tmux::new_window`] (it may have to make the session or the
    /// server), the rest in one command sequence (`new-window … ; new-window …`), which
    /// costs one client start instead of one per window. Returns the ids of the windows
    /// made, in order, and the error that stopped the rest, if any.
    pub fn new_windows(
        &self,
        session: &str,
        windows: &[NewWindow<'_>],
    ) -> (Vec<String>, Option<anyhow::Error>) {
        let Some((first, rest)) = windows.split_first() else {
            return (Vec::new(), None);
        };
        let mut ids = match self.new_window(session, first.name, first.cwd, first.argv) {
            Ok(id) => vec![id],
            Err(e) => return (Vec::new(), Some(e)),
        };
        // tmux ends a command at any argument that ends in ';': such a word (a path,
        // say) could only be passed on its own, one window per call.
        let chainable = |w: &NewWindow<'_>| {
            w.argv
                .iter()
                .chain([&OsString::from(w.name), &w.cwd.as_os_str().to_os_string()])
                .all(|a| !a.as_encoded_bytes().ends_with(b";"))
        };
        if !rest.iter().all(chainable) {
            for w in rest {
                match self.new_window(session, w.name, w.cwd, w.argv) {
                    Ok(id) => ids.push(id),
                    Err(e) => return (ids, Some(e)),
                }
            }
            return (ids, None);
        }
        let target = format!("={session}:");
        for chunk in chunks_within(&target, rest, COMMAND_BYTES) {
            let mut args: Vec<&OsStr> = Vec::new();
            for (i, w) in chunk.iter().enumerate() {
                if i > 0 {
                    args.push(";".as_ref());
                }
                new_window_args(&mut args, &target, w);
            }
            let before = ids.len();
            let out = match self.run(&args) {
                Ok(out) => out,
                Err(e) => return (ids, Some(e)),
            };
            ids.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with('@'))
                    .map(str::to_string),
            );
            if !out.status.success() || ids.len() != before + chunk.len() {
                let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return (ids, Some(anyhow!("tmux new-window: {err}")));
            }
        }
        (ids, None)
    }

    /// Runs the tmux client call that may start the server, detached from the caller:
    /// in its own session (setsid, else its own process group) with stdin from
    /// /dev/null, so the hang-up of the spawning terminal never reaches the server.
    /// Where logind kills a user's processes at logout, the server is started inside a
    /// `systemd-run --user --scope` unit; if that does not work here, silently without.
    fn run_detached(&self, args: &[&OsStr]) -> Result<Output> {
        let setsid = which("setsid");
        let client = |program: &OsStr| -> Command {
            let mut c = Command::new(program);
            client_env(&mut c);
            if setsid.is_some() {
                c.arg("-w").arg("tmux");
            }
            c.arg("-S").arg(&self.socket).arg("-f").arg("/dev/null");
            c.args(args).stdin(Stdio::null());
            c
        };
        let program: &OsStr = setsid.as_deref().map_or("tmux".as_ref(), |p| p.as_os_str());
        if !self.server_running()
            && crate::sys::logind::kill_user_processes() == Some(true)
            && which("systemd-run").is_some()
        {
            let inner = client(program);
            // The scope runs the client with systemd-run's own environment.
            let mut c = Command::new("systemd-run");
            client_env(&mut c);
            c.args(["--user", "--scope", "--quiet", "--collect", "--"])
                .arg(inner.get_program())
                .args(inner.get_args())
                .stdin(Stdio::null());
            if let Ok(out) = c.output()
                && out.status.success()
            {
                return Ok(out);
            }
        }
        let mut c = client(program);
        if setsid.is_none() {
            c.process_group(0);
        }
        c.output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(UserError::failed(
                    "tmux not found; install it (e.g. `apt-get install tmux` or `brew install tmux`), version 3.0 or newer"
                ))
            } else {
                anyhow!("cannot run tmux: {e}")
            }
        })
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

    /// The window named `name` in `session` whose pane runs `pane_pid` — or, without a
    /// pid, the newest such window whose pane is alive. For a worker whose spawner died
    /// between `new-window` and writing the window id down.
    pub fn find_window(&self, session: &str, name: &str, pane_pid: Option<u32>) -> Option<String> {
        let target = format!("={session}");
        let out = self
            .ok(&[
                "list-windows".as_ref(),
                "-t".as_ref(),
                target.as_ref(),
                "-F".as_ref(),
                "#{window_id}\t#{pane_pid}\t#{pane_dead}\t#{window_name}".as_ref(),
            ])
            .ok()?;
        let mut found = None;
        for line in out.lines() {
            let mut f = line.splitn(4, '\t');
            let (Some(id), Some(pid), Some(dead), Some(wname)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            if wname != name {
                continue;
            }
            match pane_pid {
                Some(p) if pid.parse::<u32>().ok() == Some(p) => return Some(id.to_string()),
                Some(_) => {}
                // Windows are listed oldest first: the last live one is the newest.
                None if dead != "1" => found = Some(id.to_string()),
                None => {}
            }
        }
        found
    }

    /// The id of the window that holds pane `pane` (`%N`, as in `$TMUX_PANE`).
    pub fn window_of_pane(&self, pane: &str) -> Option<String> {
        let id = self
            .ok(&[
                "display-message".as_ref(),
                "-p".as_ref(),
                "-t".as_ref(),
                pane.as_ref(),
                "#{window_id}".as_ref(),
            ])
            .ok()?;
        (id.starts_with('@') && id.len() > 1 && id[1..].chars().all(|c| c.is_ascii_digit()))
            .then_some(id)
    }

    pub fn kill_window(&self, window_id: &str) -> Result<()> {
        self.ok(&["kill-window".as_ref(), "-t".as_ref(), window_id.as_ref()])
            .map(drop)
    }

    /// The window ids of one session (none if it or the server is gone).
    pub fn session_windows(&self, session: &str) -> Vec<String> {
        let target = format!("={session}");
        self.ok(&[
            "list-windows".as_ref(),
            "-t".as_ref(),
            target.as_ref(),
            "-F".as_ref(),
            "#{window_id}".as_ref(),
        ])
        .map(|out| out.lines().map(str::to_string).collect())
        .unwrap_or_default()
    }

    /// Ends a run's session and any window left in it; fine if it is already gone.
    pub fn kill_session(&self, session: &str) -> Result<()> {
        let target = format!("={session}");
        self.run(&["kill-session".as_ref(), "-t".as_ref(), target.as_ref()])
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
        client_env(&mut c);
        c.arg("-S").arg(&self.socket).arg("-f").arg("/dev/null");
        let session_target = format!("={session}");
        if inside_ours {
            // switch-client finds the client to switch through TMUX.
            for k in ["TMUX", "TMUX_PANE"] {
                if let Some(v) = std::env::var_os(k) {
                    c.env(k, v);
                }
            }
            c.args(["switch-client", "-t", window_id]);
        } else {
            c.args(["select-window", "-t", window_id, ";"]);
            c.args(["attach-session", "-t", &session_target]);
        }
        c
    }
}

/// What a tmux client is given of orch's environment: what tmux needs to find itself,
/// the user's locale and terminal (so `attach` draws right), and what a worker's
/// wrapper needs to find orch's state and this server again. Never a credential.
pub const CLIENT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "TZ",
    "LANG",
    "LANGUAGE",
    "TERM",
    "COLORTERM",
    "TERMINFO",
    "TERMINFO_DIRS",
    "TERM_PROGRAM",
    "TERM_PROGRAM_VERSION",
    // systemd-run --user reaches the user manager through these.
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
    "ORCH_HOME",
    "ORCH_SHARE_DIR",
];

/// Clears `c`'s environment down to [`CLIENT_ENV`], the `LC_*` variables and
/// `ORCH_TMUX_SOCKET` (made absolute, see `socket_for`).
fn client_env(c: &mut Command) {
    c.env_clear();
    for (k, v) in std::env::vars_os() {
        let keep = k
            .to_str()
            .is_some_and(|k| CLIENT_ENV.contains(&k) || (k.starts_with("LC_") && k.len() > 3));
        if keep {
            c.env(k, v);
        }
    }
    if let Some(s) = std::env::var_os("ORCH_TMUX_SOCKET").filter(|s| !s.is_empty())
        && let Ok(s) = std::path::absolute(PathBuf::from(s))
    {
        c.env("ORCH_TMUX_SOCKET", s);
    }
}

/// Refuses a socket that another user could have put there or could answer on: its
/// folder must be a real folder (not a symlink) owned by the caller and writable by
/// no one else, and the socket, if it exists, a socket (not a symlink) owned by the
/// caller. Checked with `lstat` before any client connects, so nothing is sent to a
/// refused socket; once its folder is the caller's alone, nobody can swap the socket.
pub fn check_socket(socket: &Path) -> Result<(), UserError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let dir = socket.parent().unwrap_or(Path::new("/"));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let refuse = |what: String| {
        UserError::usage(format!(
            "tmux socket {}: {what}; orch talks only to a socket in a folder of your own: set ORCH_TMUX_SOCKET to a path in one (e.g. under $XDG_RUNTIME_DIR), or unset it",
            socket.display()
        ))
    };
    match private_dir(dir) {
        Ok(()) => {}
        Err(why) => return Err(refuse(format!("its folder {} {why}", dir.display()))),
    }
    match std::fs::symlink_metadata(socket) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(refuse(format!("cannot check it: {e}"))),
        Ok(m) if m.file_type().is_symlink() => Err(refuse("it is a symbolic link".into())),
        Ok(m) if !m.file_type().is_socket() => Err(refuse("it is not a socket".into())),
        Ok(m) if m.uid() != nix::unistd::getuid().as_raw() => Err(refuse(format!(
            "it belongs to {}, not to you",
            user_name(m.uid())
        ))),
        Ok(_) => Ok(()),
    }
}

/// Why `dir` is not a folder only the caller controls (`lstat`: a symlink is refused).
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot be checked: {e}"))?;
    if m.file_type().is_symlink() {
        return Err("is a symbolic link".into());
    }
    if !m.is_dir() {
        return Err("is not a folder".into());
    }
    if m.uid() != nix::unistd::getuid().as_raw() {
        return Err(format!("belongs to {}, not to you", user_name(m.uid())));
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!(
            "is writable by other users (mode {:o})",
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("user {} (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    }
}

/// Where the socket goes when `$ORCH_HOME/tmux/server` is too long for a socket path and
/// there is no usable XDG_RUNTIME_DIR: a folder under /tmp with an unpredictable name
/// (made by mkdtemp, 0700), remembered in `$ORCH_HOME/tmux/socket-dir`. A predictable
/// name could be made first by another user.
fn fallback_dir(home: &Path) -> Result<PathBuf> {
    let record = home.join("tmux").join("socket-dir");
    if let Ok(text) = std::fs::read_to_string(&record) {
        let dir = PathBuf::from(text.trim());
        if dir.is_absolute() && private_dir(&dir).is_ok() {
            return Ok(dir);
        }
    }
    create_private_dir(record.parent().expect("record has a folder"))
        .with_context(|| format!("cannot create {}", home.join("tmux").display()))?;
    let dir = nix::unistd::mkdtemp("/tmp/orch-XXXXXX")
        .context("cannot create a tmux socket folder in /tmp")?;
    crate::store::fsutil::write_atomic(&record, dir.as_os_str().as_encoded_bytes())
        .with_context(|| format!("cannot write {}", record.display()))?;
    Ok(dir)
}

/// Refuses a tmux older than 3.0 (orch relies on `=` exact targets and new-window
/// -P -F of 3.0). One `tmux -V`, about a millisecond; unreadable versions pass.
pub fn check_version() -> Result<(), UserError> {
    // Running `tmux -V` costs a process on every spawn; the answer only changes with
    // the binary, so a good answer is remembered per binary (path, size, mtime).
    let key = which("tmux").and_then(|bin| {
        let m = std::fs::metadata(&bin).ok()?;
        let mtime = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(format!(
            "{} {} {}",
            bin.display(),
            m.len(),
            mtime.as_nanos()
        ))
    });
    let cache = crate::store::Home::from_env()
        .ok()
        .map(|h| h.root.join("tmux").join("version-ok"));
    if let (Some(k), Some(c)) = (&key, &cache)
        && std::fs::read_to_string(c).is_ok_and(|t| t == *k)
    {
        return Ok(());
    }
    let Ok(out) = Command::new("tmux").arg("-V").stdin(Stdio::null()).output() else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match parse_version(&text) {
        Some(v) if v < (3, 0) => Err(UserError::failed(format!(
            "{text} is too old: orch needs tmux 3.0 or newer; install a newer tmux"
        ))),
        _ => {
            if let (Some(k), Some(c)) = (key, cache)
                && c.parent().is_some_and(|d| create_private_dir(d).is_ok())
            {
                let _ = crate::store::fsutil::write_atomic(&c, k.as_bytes());
            }
            Ok(())
        }
    }
}

/// `tmux 3.3a` → (3, 3); `tmux next-3.4` → (3, 4).
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.split_whitespace().nth(1)?;
    let v = v.trim_start_matches(|c: char| !c.is_ascii_digit());
    let (major, rest) = v.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The full path of `program` on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Run by a worker's wrapper as it starts: writes down the window it runs in (from
/// `$TMUX_PANE`), so the id is known even when the spawner died between `new-window`
/// and writing it (a dropped SSH session). Best effort: status and attach also find
/// the window by run and label.
pub fn record_own_window(home: &Path, w: &crate::store::WorkerDir) {
    let Some(pane) = std::env::var("TMUX_PANE")
        .ok()
        .filter(|p| p.starts_with('%'))
    else {
        return;
    };
    if let Ok(t) = Tmux::for_home(home)
        && let Some(id) = t.window_of_pane(&pane)
    {
        let _ = crate::store::fsutil::write_atomic_unsynced(&w.window_path(), id.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert_eq!(super::parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(super::parse_version("tmux next-3.4"), Some((3, 4)));
        assert_eq!(super::parse_version("tmux 2.9"), Some((2, 9)));
        assert_eq!(super::parse_version("garbage"), None);
    }

    #[test]
    fn chained_windows_are_cut_to_fit_one_tmux_message() {
        use std::ffi::OsString;
        use std::path::Path;
        let argv: Vec<OsString> = ["/opt/orch/bin/orch", "__worker", "--home", "/home/u/.orch"]
            .iter()
            .map(OsString::from)
            .chain([OsString::from("x".repeat(100))])
            .collect();
        let names: Vec<String> = (1..=100).map(|i| format!("W{i}")).collect();
        let windows: Vec<super::NewWindow<'_>> = names
            .iter()
            .map(|n| super::NewWindow {
                name: n,
                cwd: Path::new("/home/u/src/project"),
                argv: &argv,
            })
            .collect();
        let chunks = super::chunks_within("=20261202-1200-abc:", &windows, 4096);
        assert!(chunks.len() > 1, "100 windows do not fit in 4 KiB");
        assert_eq!(
            chunks.iter().map(|c| c.len()).sum::<usize>(),
            100,
            "none lost"
        );
        let first: Vec<&str> = chunks.iter().map(|c| c[0].name).collect();
        assert_eq!(first[0], "W1", "in order");
        for c in &chunks {
            let mut args = Vec::new();
            for w in c.iter() {
                super::new_window_args(&mut args, "=20261202-1200-abc:", w);
            }
            let bytes: usize = args.iter().map(|a| a.len() + 1).sum::<usize>() + 2 * c.len();
            assert!(bytes <= 4096, "{bytes}");
        }
        // One window larger than the limit still goes, alone.
        let big = super::chunks_within("=r:", &windows[..3], 10);
        assert_eq!(big.iter().map(|c| c.len()).collect::<Vec<_>>(), [1, 1, 1]);
    }
}
