//! systemd-logind facts: whether it kills a user's processes at logout, and linger.
//! Read from `loginctl` when the bus answers, else from logind.conf; `None` means no
//! systemd here (nothing to worry about).

use std::path::Path;
use std::process::{Command, Stdio};

/// logind's KillUserProcesses setting.
pub fn kill_user_processes() -> Option<bool> {
    if let Some(v) = loginctl(&["show-user", "-p", "KillUserProcesses", "--value"]) {
        return Some(v == "yes");
    }
    if !Path::new("/run/systemd/system").exists() {
        return None;
    }
    let mut files = vec![std::path::PathBuf::from("/etc/systemd/logind.conf")];
    if let Ok(rd) = std::fs::read_dir("/etc/systemd/logind.conf.d") {
        let mut extra: Vec<_> = rd.filter_map(|e| Some(e.ok()?.path())).collect();
        extra.sort();
        files.extend(extra);
    }
    let mut value = false;
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("KillUserProcesses=") {
                value = matches!(v.trim(), "yes" | "true" | "1" | "on");
            }
        }
    }
    Some(value)
}

/// Whether the current user has linger enabled (their user manager outlives logout).
pub fn linger() -> Option<bool> {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid()).ok()??;
    if let Some(v) = loginctl(&["show-user", &user.name, "-p", "Linger", "--value"]) {
        return Some(v == "yes");
    }
    Path::new("/run/systemd/system").exists().then(|| {
        Path::new("/var/lib/systemd/linger")
            .join(&user.name)
            .exists()
    })
}

fn loginctl(args: &[&str]) -> Option<String> {
    let out = Command::new("loginctl")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
