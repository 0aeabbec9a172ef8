//! Which model a worker's codex uses, as far as orch can know it without asking codex:
//! `--model` (or `-m`/`--model`/`-c model=` among the extra codex arguments), else
//! `model` in the active profile or at the top of `$CODEX_HOME/config.toml`. Otherwise
//! unknown: codex's own default depends on the login and the server's model list.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::store::WorkerSpec;

/// The model named on the worker's command line, if any (the last one wins, as in codex).
pub fn model_from_args(spec: &WorkerSpec) -> Option<String> {
    let mut found = spec.model.clone();
    let mut args = spec.codex_args.iter();
    while let Some(a) = args.next() {
        if a == "-m" || a == "--model" {
            found = args.next().cloned().or(found);
        } else if let Some(m) = a.strip_prefix("--model=") {
            found = Some(m.to_string());
        } else if a == "-c" || a == "--config" {
            if let Some(m) = args.next().and_then(|kv| config_override(kv)) {
                found = Some(m);
            }
        } else if let Some(m) = a.strip_prefix("--config=").and_then(config_override) {
            found = Some(m);
        }
    }
    found.filter(|m| !m.trim().is_empty())
}

/// `model=gpt-5` or `model="gpt-5"` (a `-c` override is TOML, bare strings allowed).
fn config_override(kv: &str) -> Option<String> {
    let (k, v) = kv.split_once('=')?;
    (k.trim() == "model").then(|| v.trim().trim_matches(['"', '\'']).to_string())
}

/// The profile the worker runs with: `--profile`, else codex_args' `-p`/`--profile`.
pub fn profile_of(spec: &WorkerSpec) -> Option<String> {
    let mut found = spec.profile.clone();
    let mut args = spec.codex_args.iter();
    while let Some(a) = args.next() {
        if a == "-p" || a == "--profile" {
            found = args.next().cloned().or(found);
        } else if let Some(p) = a.strip_prefix("--profile=") {
            found = Some(p.to_string());
        }
    }
    found
}

/// `$CODEX_HOME` of a saved environment, else `~/.codex`.
pub fn codex_home(env: &[(OsString, OsString)]) -> Option<PathBuf> {
    let get = |k: &str| {
        env.iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| PathBuf::from(v))
    };
    get("CODEX_HOME").or_else(|| get("HOME").map(|h| h.join(".codex")))
}

/// `model` of `profile` (or of the config's own `profile` key), else the top-level
/// `model`, in `CODEX_HOME/config.toml`; `None` when unreadable or unset.
pub fn config_model(codex_home: &std::path::Path, profile: Option<&str>) -> Option<String> {
    let text = std::fs::read_to_string(codex_home.join("config.toml")).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    let profile = profile
        .map(str::to_string)
        .or_else(|| table.get("profile")?.as_str().map(str::to_string));
    let from_profile = profile.and_then(|p| {
        table
            .get("profiles")?
            .get(&p)?
            .get("model")?
            .as_str()
            .map(str::to_string)
    });
    from_profile
        .or_else(|| table.get("model")?.as_str().map(str::to_string))
        .filter(|m| !m.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(model: Option<&str>, args: &[&str]) -> WorkerSpec {
        serde_json::from_value(serde_json::json!({
            "label": "W1", "created_at": "2026-12-01T00:00:00Z", "sandbox": "read-only",
            "cd": "/tmp", "model": model, "codex_args": args,
        }))
        .unwrap()
    }

    #[test]
    fn command_line_models() {
        assert_eq!(model_from_args(&spec(None, &[])), None);
        assert_eq!(model_from_args(&spec(Some("a"), &[])).as_deref(), Some("a"));
        assert_eq!(
            model_from_args(&spec(Some("a"), &["-m", "b"])).as_deref(),
            Some("b")
        );
        assert_eq!(
            model_from_args(&spec(None, &["-c", "model=\"gpt-5.4\""])).as_deref(),
            Some("gpt-5.4")
        );
        assert_eq!(
            model_from_args(&spec(None, &["-c", "model_reasoning_effort=high"])),
            None
        );
        assert_eq!(
            profile_of(&spec(None, &["--profile=fast"])).as_deref(),
            Some("fast")
        );
    }

    #[test]
    fn config_file_models() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(config_model(dir.path(), None), None);
        std::fs::write(
            dir.path().join("config.toml"),
            "model = \"gpt-5.4\"\n[profiles.cheap]\nmodel = \"gpt-5.4-mini\"\n[profiles.bare]\n",
        )
        .unwrap();
        assert_eq!(config_model(dir.path(), None).as_deref(), Some("gpt-5.4"));
        assert_eq!(
            config_model(dir.path(), Some("cheap")).as_deref(),
            Some("gpt-5.4-mini")
        );
        assert_eq!(
            config_model(dir.path(), Some("bare")).as_deref(),
            Some("gpt-5.4")
        );
        std::fs::write(dir.path().join("config.toml"), "model = [broken").unwrap();
        assert_eq!(config_model(dir.path(), None), None);
    }
}
