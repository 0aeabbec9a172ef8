//! How orch calls codex: the program, and the argv of one worker attempt.

pub mod config;
pub mod events;
pub mod limits;
pub mod login;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::model::error::UserError;
use crate::store::WorkerSpec;

/// Finds the codex program from a spawner's environment: `ORCH_CODEX`, else `codex` on PATH.
pub fn resolve_program(env: &[(OsString, OsString)]) -> Result<PathBuf, UserError> {
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (wanted, from_var) = match get("ORCH_CODEX").filter(|v| !v.is_empty()) {
        Some(v) => (PathBuf::from(v), true),
        None => (PathBuf::from("codex"), false),
    };
    let found = if wanted.components().count() > 1 {
        is_executable(&wanted).then(|| wanted.clone())
    } else {
        get("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(&wanted))
                .find(|p| is_executable(p))
        })
    };
    found
        .map(|p| std::path::absolute(&p).unwrap_or(p))
        .ok_or_else(|| {
            if from_var {
                UserError::failed(format!(
                    "ORCH_CODEX={} is not an executable program; point it at the codex binary or unset it",
                    wanted.display()
                ))
            } else {
                UserError::failed(
                    "codex not found on PATH; install it with `npm install -g @openai/codex` and log in with `codex login`, or set ORCH_CODEX to its path",
                )
            }
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The line of codex's stderr that says what went wrong: the last `error:` line (clap's
/// usage errors end with `For more information, try '--help'.`, which says nothing),
/// else the last line that is not such boilerplate. At most 300 characters.
pub fn stderr_summary(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let boilerplate = |l: &str| {
        l.starts_with("For more information, try")
            || l.starts_with("Usage:")
            || l.starts_with("tip:")
    };
    lines
        .iter()
        .rev()
        .find(|l| l.to_ascii_lowercase().starts_with("error"))
        .or_else(|| lines.iter().rev().find(|l| !boilerplate(l)))
        .map(|l| l.chars().take(300).collect())
}

/// The `-c` override every worker's codex gets: orch's own MCP server, off.
pub const DISABLE_ORCH_MCP: &str = r#"mcp_servers.orch={command="orch",enabled=false}"#;

/// `codex exec --json -o LAST --skip-git-repo-check -C DIR -s SANDBOX [...] [resume ID] -`;
/// the prompt goes on stdin, so it is never in argv or near a shell.
pub fn exec_args(spec: &WorkerSpec, last_message: &Path, resume: Option<&str>) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["exec".into(), "--json".into()];
    a.push("--output-last-message".into());
    a.push(last_message.into());
    a.push("--skip-git-repo-check".into());
    // codex starts every configured MCP server on every exec, so a worker would start
    // its own `orch mcp` (registered by `orch mcp install`) and could spawn workers of
    // its own. A whole table, not `mcp_servers.orch.enabled=false`: codex 0.169 merges
    // it into an existing entry, but refuses a lone `enabled` ("invalid transport in
    // `mcp_servers.orch`") when orch is not registered.
    a.push("-c".into());
    a.push(DISABLE_ORCH_MCP.into());
    a.push("--cd".into());
    a.push(spec.cd.clone().into());
    a.push("--sandbox".into());
    a.push(spec.sandbox.as_str().into());
    if let Some(m) = &spec.model {
        a.push("--model".into());
        a.push(m.into());
    }
    if let Some(p) = &spec.profile {
        a.push("--profile".into());
        a.push(p.into());
    }
    if let Some(s) = &spec.output_schema {
        a.push("--output-schema".into());
        a.push(s.into());
    }
    a.extend(spec.codex_args.iter().map(OsString::from));
    if let Some(thread) = resume {
        a.push("resume".into());
        a.push(thread.into());
    }
    a.push("-".into());
    a
}

#[cfg(test)]
mod tests {
    use super::stderr_summary;

    #[test]
    fn a_usage_error_is_summed_up_by_its_error_line_not_the_help_hint() {
        let clap = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\nUsage: codex exec [OPTIONS] [PROMPT]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            stderr_summary(clap).as_deref(),
            Some("error: unexpected argument '--bogus' found")
        );
        assert_eq!(stderr_summary("warn\nboom\n").as_deref(), Some("boom"));
        assert_eq!(stderr_summary("\n\n"), None);
    }
}
