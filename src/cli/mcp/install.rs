//! `orch mcp install` / `uninstall`: register `orch mcp` as codex's MCP server "orch"
//! in `$CODEX_HOME/config.toml` (default `~/.codex`) and install the skill
//! `$CODEX_HOME/skills/orch/SKILL.md`.
//!
//! The config is edited with toml_edit: the user's comments, order and other tables are
//! kept byte for byte; install replaces only `[mcp_servers.orch]`, uninstall removes
//! only that table (and an `mcp_servers` parent install left empty). Facts about codex
//! 0.169 this relies on (its `rmcp-client` and config code):
//! - a stdio server gets only HOME, LOGNAME, PATH, SHELL, USER, LANG, LC_ALL, TERM,
//!   TMPDIR, TZ from codex's environment, plus the names in `env_vars` (when set) and
//!   the literal `env` table (which wins). Workers inherit the server's environment, so
//!   what they need (credentials, CODEX_HOME, orch's own settings) is listed here;
//! - `default_tools_approval_mode = "approve"` lets `codex exec` (approval policy
//!   "never") call the tools; without it every call is refused;
//! - a tool call is abandoned after `tool_timeout_sec` (60 s by default).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use toml_edit::{Array, DocumentMut, Item, Table, value};

use crate::model::error::UserError;

/// The server's name in codex's config, and so the tools' namespace `mcp__orch`.
pub const SERVER: &str = "orch";

/// The skill as shipped (share/skills/orch/SKILL.md).
pub const SKILL: &str = include_str!("../../../share/skills/orch/SKILL.md");

/// Variables codex passes on to `orch mcp` when they are set in its environment.
pub const ENV_VARS: &[&str] = &[
    "ORCH_HOME",
    "ORCH_TMUX_SOCKET",
    "ORCH_CODEX",
    "ORCH_SHARE_DIR",
    "ORCH_SSH_AGENT",
    "ORCH_MCP_FULL_ACCESS",
    "CODEX_HOME",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "OPENAI_BASE_URL",
    "SSH_AUTH_SOCK",
    "XDG_RUNTIME_DIR",
    "XDG_STATE_HOME",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "TMUX_TMPDIR",
    "NO_COLOR",
];

const MARK: &str = "# Added by `orch mcp install`; `orch mcp uninstall` removes it.\n";

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| UserError::usage("neither CODEX_HOME nor HOME is set; set CODEX_HOME"))?;
    Ok(PathBuf::from(home).join(".codex"))
}

pub fn skill_path(codex_home: &Path) -> PathBuf {
    codex_home.join("skills").join(SERVER).join("SKILL.md")
}

/// The entry install writes, for this orch binary and this environment.
pub fn entry(orch: &Path, codex_home: &Path) -> Table {
    let mut t = Table::new();
    t.decor_mut().set_prefix(format!("\n{MARK}"));
    t["command"] = value(orch.display().to_string());
    let mut args = Array::new();
    args.push("mcp");
    t["args"] = value(args);
    let mut names = Array::new();
    for n in ENV_VARS {
        names.push(*n);
    }
    t["env_vars"] = value(names);
    t["default_tools_approval_mode"] = value("approve");
    t["tool_timeout_sec"] = value(super::tools::TOOL_TIMEOUT_SECS as i64);
    let mut env = Table::new();
    // What this shell has now, recorded: codex may be started from somewhere with a
    // poorer PATH (no tmux) or without orch's settings.
    for k in ["PATH", "ORCH_HOME", "ORCH_TMUX_SOCKET"] {
        if let Some(v) = std::env::var_os(k).filter(|v| !v.is_empty()) {
            env[k] = value(v.to_string_lossy().into_owned());
        }
    }
    // The codex reading this config runs with this CODEX_HOME; its workers must too.
    env["CODEX_HOME"] = value(codex_home.display().to_string());
    t["env"] = Item::Table(env);
    t
}

fn read_config(path: &Path) -> Result<(String, DocumentMut)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(UserError::failed(format!("cannot read {}: {e}", path.display())).into());
        }
    };
    let doc = text.parse::<DocumentMut>().map_err(|e| {
        UserError::failed(format!(
            "{} is not valid TOML ({}); fix it first, nothing was changed",
            path.display(),
            e.to_string().lines().next().unwrap_or("parse error")
        ))
    })?;
    Ok((text, doc))
}

/// The config with orch's entry set (replacing an earlier one).
pub fn with_entry(doc: &mut DocumentMut, entry: Table) -> Result<()> {
    let servers = doc
        .entry("mcp_servers")
        .or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| {
            UserError::failed("mcp_servers in config.toml is not a table; fix it first")
        })?;
    match servers.get_mut(SERVER) {
        // Replaced in place, keeping the user's position for it.
        Some(Item::Table(old)) => {
            let decor = old.decor().clone();
            let pos = old.position();
            *old = entry;
            *old.decor_mut() = decor;
            old.set_position(pos);
        }
        _ => {
            servers.insert(SERVER, Item::Table(entry));
        }
    }
    Ok(())
}

/// The config without orch's entry; false when there was none.
pub fn without_entry(doc: &mut DocumentMut) -> bool {
    let Some(servers) = doc.get_mut("mcp_servers").and_then(Item::as_table_mut) else {
        return false;
    };
    if servers.remove(SERVER).is_none() {
        return false;
    }
    if servers.is_empty() && servers.is_implicit() {
        doc.remove("mcp_servers");
    }
    true
}

/// orch's registration in a codex config: its command, when there is one.
pub fn registered(codex_home: &Path) -> Option<(String, bool)> {
    let text = std::fs::read_to_string(codex_home.join("config.toml")).ok()?;
    let doc = text.parse::<DocumentMut>().ok()?;
    let t = doc.get("mcp_servers")?.get(SERVER)?;
    let command = t.get("command")?.as_str()?.to_string();
    let approve = t
        .get("default_tools_approval_mode")
        .and_then(|v| v.as_str())
        == Some("approve");
    Some((command, approve))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().context("a file has a folder")?;
    std::fs::create_dir_all(dir)
        .map_err(|e| UserError::failed(format!("cannot create {}: {e}", dir.display())))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| UserError::failed(format!("cannot write in {}: {e}", dir.display())))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    if let Ok(m) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), m.permissions())?;
    }
    tmp.persist(path)
        .map_err(|e| UserError::failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

pub fn install(dry_run: bool) -> Result<i32> {
    let home = codex_home()?;
    let config = home.join("config.toml");
    let (before, mut doc) = read_config(&config)?;
    let orch = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot find the orch binary's own path")?;
    with_entry(&mut doc, entry(&orch, &home))?;
    let after = doc.to_string();
    let skill = skill_path(&home);
    let skill_same = std::fs::read_to_string(&skill).is_ok_and(|s| s == SKILL);
    if dry_run {
        if after == before {
            println!("{}: unchanged", config.display());
        } else {
            println!("{}: would set [mcp_servers.{SERVER}] to:", config.display());
            let mut only = DocumentMut::new();
            with_entry(&mut only, entry(&orch, &home))?;
            print!("{}", only.to_string().trim_start());
        }
        if skill_same {
            println!("{}: unchanged", skill.display());
        } else {
            println!("{}: would write the orch skill", skill.display());
        }
        return Ok(0);
    }
    if after != before {
        write_file(&config, &after)?;
        println!(
            "{}: registered MCP server \"{SERVER}\" ({})",
            config.display(),
            orch.display()
        );
    } else {
        println!("{}: already registered", config.display());
    }
    if !skill_same {
        write_file(&skill, SKILL)?;
        println!("{}: installed the orch skill", skill.display());
    } else {
        println!("{}: already installed", skill.display());
    }
    println!(
        "codex may now call orch's tools without asking (default_tools_approval_mode = \"approve\"); `orch mcp uninstall` undoes this"
    );
    Ok(0)
}

pub fn uninstall(dry_run: bool) -> Result<i32> {
    let home = codex_home()?;
    let config = home.join("config.toml");
    let (_, mut doc) = read_config(&config)?;
    let had = without_entry(&mut doc);
    let skill = skill_path(&home);
    // Only the skill as orch wrote it: an edited one is the user's now.
    let skill_ours = std::fs::read_to_string(&skill).is_ok_and(|s| s == SKILL);
    let skill_edited = !skill_ours && skill.exists();
    if dry_run {
        if had {
            println!("{}: would remove [mcp_servers.{SERVER}]", config.display());
        }
        if skill_ours {
            println!("{}: would remove the orch skill", skill.display());
        }
    } else {
        if had {
            write_file(&config, &doc.to_string())?;
            println!("{}: removed [mcp_servers.{SERVER}]", config.display());
        }
        if skill_ours {
            std::fs::remove_file(&skill).map_err(|e| {
                UserError::failed(format!("cannot remove {}: {e}", skill.display()))
            })?;
            if let Some(dir) = skill.parent() {
                let _ = std::fs::remove_dir(dir); // only if empty
            }
            println!("{}: removed the orch skill", skill.display());
        }
    }
    if skill_edited {
        eprintln!(
            "orch: {} differs from the skill orch installs; left in place (remove it yourself if you mean to)",
            skill.display()
        );
    }
    if !had && !skill_ours {
        println!(
            "{}: orch is not registered; nothing to remove",
            config.display()
        );
    }
    Ok(0)
}
