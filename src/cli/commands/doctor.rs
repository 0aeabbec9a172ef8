//! `orch doctor`: checks what orch depends on, each problem with the line that fixes it.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::cli::args::DoctorArgs;
use crate::lifecycle::state::{self, State, ViewOptions};
use crate::store::Home;
use crate::sys::tmux::{self, Tmux};

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn ok(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok: true,
        detail: detail.into(),
        fix: None,
    }
}

fn problem(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name,
        ok: false,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

const MIN_FREE_BYTES: u64 = 100 << 20;

pub fn run(args: DoctorArgs) -> Result<i32> {
    let mut checks = vec![check_tmux(), check_codex(), check_login()];
    // Opening the home tightens a loose one; say what it was.
    let mode_before = Home::locate().ok().and_then(|r| mode_of(&r));
    match Home::from_env() {
        Ok(home) => {
            checks.push(match mode_before {
                Some(m) if m & 0o077 != 0 && mode_of(&home.root).is_some_and(|n| n & 0o077 == 0) => ok(
                    "orch home",
                    format!(
                        "{} was mode {m:o}, readable by other users; orch made it 0700 (private)",
                        home.root.display()
                    ),
                ),
                _ => check_home_mode(&home.root),
            });
            checks.push(check_writable(&home));
            checks.push(check_space(&home.root));
            checks.push(match Tmux::for_home(&home.root) {
                Ok(t) => check_home_mode_named(
                    "tmux socket",
                    t.socket.parent().unwrap_or(Path::new("/")),
                ),
                Err(e) => problem(
                    "tmux socket",
                    format!("{e:#}"),
                    "point ORCH_TMUX_SOCKET at a path in a folder only you own (e.g. under $XDG_RUNTIME_DIR), or unset it",
                ),
            });
            checks.extend(check_records(&home));
            checks.push(check_worktrees(&home));
        }
        Err(e) => checks.push(problem(
            "orch home",
            format!("{e:#}"),
            "set ORCH_HOME to a writable folder on a disk with space",
        )),
    }
    checks.extend(check_inotify());
    checks.push(check_logind());
    checks.push(check_mcp());
    let bad = checks.iter().filter(|c| !c.ok).count();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"ok": bad == 0, "checks": checks}))?
        );
    } else {
        for c in &checks {
            println!(
                "{} {:<12} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            );
            if let Some(f) = &c.fix {
                println!("     {:<12} fix: {f}", "");
            }
        }
        println!(
            "{}",
            if bad == 0 {
                "no problems found".to_string()
            } else {
                format!("{bad} problem(s)")
            }
        );
    }
    Ok(if bad == 0 { 0 } else { 1 })
}

/// `orch mcp install`'s registration in codex's config: optional, but when present
/// it must start this orch and let `codex exec` call it.
fn check_mcp() -> Check {
    use crate::cli::mcp::install;
    let Ok(home) = install::codex_home() else {
        return ok(
            "codex mcp",
            "no CODEX_HOME or HOME; codex cannot run orch's MCP server",
        );
    };
    let config = home.join("config.toml");
    let Some((command, approve)) = install::registered(&home) else {
        return ok(
            "codex mcp",
            format!(
                "orch is not registered in {} (optional: `orch mcp install` lets codex drive orch)",
                config.display()
            ),
        );
    };
    let me = std::env::current_exe().and_then(|p| p.canonicalize()).ok();
    if !Path::new(&command).is_file() {
        return problem(
            "codex mcp",
            format!(
                "{} registers orch as {command}, which does not exist",
                config.display()
            ),
            "run `orch mcp install` with the orch you use",
        );
    }
    if !approve {
        return problem(
            "codex mcp",
            format!(
                "{}: [mcp_servers.orch] has no default_tools_approval_mode = \"approve\"; `codex exec` refuses every orch tool call",
                config.display()
            ),
            "run `orch mcp install` (or set it yourself)",
        );
    }
    if !install::skill_path(&home).is_file() {
        return problem(
            "codex mcp",
            format!(
                "the orch skill is missing ({})",
                install::skill_path(&home).display()
            ),
            "run `orch mcp install`",
        );
    }
    let other = me.is_some_and(|m| m != Path::new(&command));
    ok(
        "codex mcp",
        format!(
            "codex starts {command}{} (registered in {})",
            if other { ", not this orch" } else { "" },
            config.display()
        ),
    )
}

fn check_tmux() -> Check {
    let out = std::process::Command::new("tmux").arg("-V").output();
    match out {
        Err(_) => problem(
            "tmux",
            "tmux not found on PATH",
            "install tmux 3.0 or newer (e.g. `apt-get install tmux`)",
        ),
        Ok(o) => {
            let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
            match tmux::parse_version(&v) {
                Some(n) if n >= (3, 0) => ok("tmux", v),
                _ => problem(
                    "tmux",
                    format!("{v:?} is older than 3.0 or unreadable"),
                    "install tmux 3.0 or newer",
                ),
            }
        }
    }
}

fn check_codex() -> Check {
    match crate::sys::codex::resolve_program(&crate::store::envfile::capture()) {
        Err(e) => problem(
            "codex",
            e.to_string(),
            "install codex (`npm install -g @openai/codex`) or set ORCH_CODEX",
        ),
        Ok(p) => match std::process::Command::new(&p).arg("--version").output() {
            Ok(o) if o.status.success() => ok(
                "codex",
                format!(
                    "{} ({})",
                    String::from_utf8_lossy(&o.stdout).trim(),
                    p.display()
                ),
            ),
            _ => problem(
                "codex",
                format!("{} --version failed", p.display()),
                "reinstall codex or point ORCH_CODEX at a working binary",
            ),
        },
    }
}

fn mode_of(dir: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// A codex without a credential does not fail: it retries for ever (see
/// `sys::codex::login`).
fn check_login() -> Check {
    use crate::sys::codex::login::{self, Need};
    let env = crate::store::envfile::capture();
    let Ok(program) = crate::sys::codex::resolve_program(&env) else {
        return problem(
            "codex login",
            "codex not found, so its login cannot be checked",
            "install codex, then `codex login`",
        );
    };
    if let Some(why) = login::missing_credential(&program, &[], None, &env) {
        return problem(
            "codex login",
            why,
            "`codex login` (or `codex login --with-api-key`), or export CODEX_API_KEY",
        );
    }
    let detail = match login::requirement(&[], None, &env) {
        Need::Nothing => "the configured model provider needs no OpenAI login".to_string(),
        Need::EnvKey { provider, var } => format!("provider {provider}: {var} is set"),
        Need::OpenAiLogin { .. } if std::env::var_os("CODEX_API_KEY").is_some() => {
            "CODEX_API_KEY is set".to_string()
        }
        Need::OpenAiLogin { .. } => {
            match login::status(&program, &env, std::time::Duration::from_secs(5)) {
                login::Status::Unknown(why) => format!("could not be checked: {why}"),
                _ => "logged in (`codex login status`)".to_string(),
            }
        }
    };
    ok("codex login", detail)
}

/// Every record orch keeps is written under ORCH_HOME: a read-only one fails every
/// command that changes anything.
fn check_writable(home: &Home) -> Check {
    match tempfile::NamedTempFile::new_in(home.runs_dir()) {
        Ok(_) => ok(
            "home writable",
            format!("{} is writable", home.root.display()),
        ),
        Err(e) => problem(
            "home writable",
            format!("cannot write in {}: {e}", home.runs_dir().display()),
            format!(
                "make it writable (`chmod u+w {}`) or set ORCH_HOME to a writable folder",
                home.runs_dir().display()
            ),
        ),
    }
}

fn check_home_mode(root: &Path) -> Check {
    check_home_mode_named("orch home", root)
}

fn check_home_mode_named(name: &'static str, dir: &Path) -> Check {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(dir) {
        Ok(m) if m.permissions().mode() & 0o077 == 0 => {
            ok(name, format!("{} (private, 0700)", dir.display()))
        }
        Ok(m) => problem(
            name,
            format!(
                "{} is mode {:o}: other users can read it",
                dir.display(),
                m.permissions().mode() & 0o777
            ),
            format!("chmod 700 {}", dir.display()),
        ),
        Err(e) => problem(
            name,
            format!("{}: {e}", dir.display()),
            "set ORCH_HOME to a writable folder",
        ),
    }
}

// statvfs field types differ between platforms (u32 on some 32-bit ones).
#[allow(clippy::unnecessary_cast)]
fn check_space(root: &Path) -> Check {
    match nix::sys::statvfs::statvfs(root) {
        Ok(s) => {
            let free = s.blocks_available() as u64 * s.fragment_size() as u64;
            let inodes = s.files_available() as u64;
            let detail = format!(
                "{} MiB and {inodes} inodes free under {}",
                free >> 20,
                root.display()
            );
            if free < MIN_FREE_BYTES || (s.files() > 0 && inodes < 1000) {
                problem(
                    "disk space",
                    detail,
                    "free space on that disk, or set ORCH_HOME to another one",
                )
            } else {
                ok("disk space", detail)
            }
        }
        Err(e) => problem(
            "disk space",
            format!("cannot stat {}: {e}", root.display()),
            "check ORCH_HOME",
        ),
    }
}

/// `orch wait` and `watch` use inotify; too few watches makes them fall back to polling.
fn check_inotify() -> Vec<Check> {
    let read = |f: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/proc/sys/fs/inotify/{f}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let mut out = Vec::new();
    for (file, min) in [("max_user_watches", 8192u64), ("max_user_instances", 128)] {
        match read(file) {
            Some(n) if n >= min => out.push(ok("inotify", format!("{file} = {n}"))),
            Some(n) => out.push(problem(
                "inotify",
                format!("{file} = {n} (below {min}): wait/watch will poll"),
                format!("sudo sysctl fs.inotify.{file}={}", min * 64),
            )),
            None => out.push(ok(
                "inotify",
                format!("{file} not readable (not Linux?); wait/watch poll"),
            )),
        }
    }
    out
}

/// Workers survive logout only if logind does not kill the user's processes, or the
/// user lingers (their user manager, where orch puts its tmux server, outlives logout).
/// Worktrees under $ORCH_HOME/worktrees that no worker owns, and ones git still lists
/// whose folder is gone; with the disk they use.
fn check_worktrees(home: &Home) -> Check {
    let (stale, total) = crate::ops::worktree::stale(home);
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    if stale.is_empty() {
        return ok(
            "worktrees",
            format!("no stale worktrees; workers' worktrees use {}", mb(total)),
        );
    }
    let lines: Vec<String> = stale
        .iter()
        .map(|s| format!("{} ({}, {})", s.path.display(), mb(s.bytes), s.why))
        .collect();
    problem(
        "worktrees",
        format!(
            "{} stale: {}",
            crate::model::text::count(stale.len(), "worktree"),
            lines.join("; ")
        ),
        "`git -C REPO worktree prune` drops the ones whose folder is gone; remove an unowned folder with `git -C REPO worktree remove --force PATH` (or rm -rf it when its repository is gone)",
    )
}

fn check_logind() -> Check {
    match (
        crate::sys::logind::kill_user_processes(),
        crate::sys::logind::linger(),
    ) {
        (None, _) => ok("logout", "no systemd-logind: workers survive logout"),
        (Some(false), _) => ok(
            "logout",
            "logind KillUserProcesses=no: workers survive logout",
        ),
        (Some(true), Some(true)) => ok(
            "logout",
            "logind KillUserProcesses=yes, but linger is on: orch's tmux server runs in a user scope that survives logout",
        ),
        (Some(true), _) => problem(
            "logout",
            "logind KillUserProcesses=yes and linger is off: logging out kills every worker",
            "loginctl enable-linger $USER (or set KillUserProcesses=no in /etc/systemd/logind.conf)",
        ),
    }
}

/// Records that fail to parse, half-made workers, orphaned processes, links in runs/.
fn check_records(home: &Home) -> Vec<Check> {
    let mut out = Vec::new();
    let ids = match home.run_ids() {
        Ok(ids) => ids,
        Err(e) => {
            return vec![problem(
                "records",
                format!("{e:#}"),
                "check ORCH_HOME's permissions",
            )];
        }
    };
    let opts = ViewOptions {
        activity: false,
        ..ViewOptions::default()
    };
    for name in home.linked_runs() {
        let link = home.runs_dir().join(&name);
        out.push(problem(
            "records",
            format!(
                "{} is a symbolic link: orch leaves it alone (never reads, locks or removes through it)",
                link.display()
            ),
            format!(
                "move the folder it points to into {} in its place, or remove the link",
                home.runs_dir().display()
            ),
        ));
    }
    let mut workers = 0;
    for id in &ids {
        let run = home.run(id);
        if !run.record_path().exists() {
            out.push(problem(
                "records",
                format!(
                    "{} has no run.json: a half-made run (its spawn was interrupted) or a folder that is not orch's",
                    run.dir.display()
                ),
                "`orch gc` removes it once it is a minute old (`orch gc --dry-run` lists it); move your own files out of runs/",
            ));
            continue;
        }
        if let Err(e) = run.record() {
            let p = run.record_path().display().to_string();
            out.push(problem(
                "records",
                format!("run {}: {e:#}", run.id),
                format!(
                    "mv {p} {p}.damaged to keep it for a look (a run without run.json is removed by `orch gc` once a minute old)"
                ),
            ));
            continue;
        }
        for l in run.labels().unwrap_or_default() {
            let w = run.worker(&l);
            workers += 1;
            let v = state::view(&w, &opts);
            match v.state {
                State::Corrupt => out.push(problem(
                    "records",
                    format!("{}: {}", w.address(), v.error.unwrap_or_default()),
                    "move the damaged file aside (the worker's other files stay readable)",
                )),
                State::Incomplete => out.push(problem(
                    "records",
                    format!(
                        "{}: half-made worker (its spawn was interrupted)",
                        w.address()
                    ),
                    "orch gc",
                )),
                _ => {}
            }
            if let Some(pids) = crate::sys::procs::orphaned(&w) {
                out.push(problem(
                    "processes",
                    format!(
                        "{}: its wrapper died but processes {} still run, unsupervised",
                        w.address(),
                        super::gc::join(&pids)
                    ),
                    format!("orch stop {}", w.address()),
                ));
            }
        }
    }
    if out.is_empty() {
        out.push(ok(
            "records",
            format!(
                "{}, {}, all readable",
                crate::model::text::count(ids.len(), "run"),
                crate::model::text::count(workers, "worker")
            ),
        ));
    }
    out
}
