//! Does a worker's codex have a credential? Checked before any work starts, because a
//! codex without one does not fail: against the default provider it retries
//! `401 Missing bearer…` and, offline, `Reconnecting… waiting for network` forever.
//!
//! What `codex exec` 0.169–0.171 really sends (measured; tests/contract/NOTES.md):
//! - a provider that uses OpenAI auth (the built-in `openai`, the default, or a custom
//!   one with `requires_openai_auth = true`) sends `CODEX_API_KEY` from the environment,
//!   else the login in `$CODEX_HOME/auth.json` (`codex login`). `OPENAI_API_KEY` in the
//!   environment is ignored by `codex exec`.
//! - a provider with `env_key = "VAR"` sends `$VAR`; codex fails at once without it.
//! - any other custom provider (a local model server, the tests' stand-in) sends nothing
//!   and needs nothing.
//!
//! `codex login status` exits 0 when auth.json holds a key or ChatGPT tokens and 1
//! ("Not logged in", on stderr) otherwise, in about 0.3 s. It is asked once per command
//! and nothing is cached: a login can appear or expire between two commands.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use toml::Value;

/// What the effective model provider needs from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// An OpenAI login (`codex login`) or `CODEX_API_KEY`.
    OpenAiLogin {
        provider: String,
    },
    /// The provider reads its key from this variable.
    EnvKey {
        provider: String,
        var: String,
    },
    Nothing,
}

/// The answer of `codex login status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    LoggedIn,
    /// Exit non-zero; what it printed.
    NotLoggedIn(String),
    /// It could not be asked (did not start, took too long): the caller should not refuse.
    Unknown(String),
}

fn get<'a>(env: &'a [(OsString, OsString)], key: &str) -> Option<&'a OsString> {
    env.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home(env: &[(OsString, OsString)]) -> Option<PathBuf> {
    get(env, "CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| get(env, "HOME").map(|h| Path::new(h).join(".codex")))
}

/// The `-c key=value` overrides and the `-p/--profile` among codex's own arguments.
fn overrides(codex_args: &[String]) -> (Vec<(String, Value)>, Option<String>) {
    let mut pairs = Vec::new();
    let mut profile = None;
    let mut i = 0;
    while i < codex_args.len() {
        let a = codex_args[i].as_str();
        let (kv, step) = match a {
            "-c" | "--config" => (codex_args.get(i + 1).map(String::as_str), 2),
            "-p" | "--profile" => {
                profile = codex_args.get(i + 1).cloned();
                (None, 2)
            }
            _ => {
                if let Some(rest) = a.strip_prefix("--config=") {
                    (Some(rest), 1)
                } else if let Some(rest) = a.strip_prefix("--profile=") {
                    profile = Some(rest.to_string());
                    (None, 1)
                } else if let Some(rest) = a.strip_prefix("-c").filter(|r| r.contains('=')) {
                    (Some(rest), 1)
                } else {
                    (None, 1)
                }
            }
        };
        if let Some((k, v)) = kv.and_then(|kv| kv.split_once('=')) {
            pairs.push((k.trim().to_string(), parse_value(v)));
        }
        i += step;
    }
    (pairs, profile)
}

/// codex parses a `-c` value as TOML, falling back to the literal string.
fn parse_value(text: &str) -> Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(text.to_string()))
}

fn set_path(root: &mut toml::Table, path: &str, value: Value) {
    let parts: Vec<&str> = path.split('.').map(str::trim).collect();
    let mut table = root;
    for p in &parts[..parts.len() - 1] {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("made a table above");
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
}

fn lookup<'a>(t: &'a toml::Table, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = t.get(*first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        lookup(v.as_table()?, rest)
    }
}

/// What the worker's codex will need, from its config.toml, `--profile` and `-c` flags.
pub fn requirement(
    codex_args: &[String],
    profile: Option<&str>,
    env: &[(OsString, OsString)],
) -> Need {
    let mut config: toml::Table = codex_home(env)
        .and_then(|h| std::fs::read_to_string(h.join("config.toml")).ok())
        .and_then(|text| toml::from_str(&text).ok())
        .unwrap_or_default();
    let (pairs, arg_profile) = overrides(codex_args);
    let explicit_provider = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "model_provider")
        .and_then(|(_, v)| v.as_str().map(str::to_string));
    for (k, v) in pairs {
        set_path(&mut config, &k, v);
    }
    let profile = arg_profile
        .or_else(|| profile.map(str::to_string))
        .or_else(|| {
            config
                .get("profile")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let provider = explicit_provider
        .or_else(|| {
            let p = profile.as_deref()?;
            lookup(&config, &["profiles", p, "model_provider"])?
                .as_str()
                .map(str::to_string)
        })
        .or_else(|| {
            config
                .get("model_provider")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "openai".to_string());
    let def = lookup(&config, &["model_providers", &provider]).and_then(Value::as_table);
    match def {
        None if provider == "openai" => Need::OpenAiLogin { provider },
        // codex's other built-ins (oss, ollama, lmstudio) are local servers; an unknown
        // name is codex's to refuse, with its own message.
        None => Need::Nothing,
        Some(d) => {
            if let Some(var) = d.get("env_key").and_then(Value::as_str) {
                Need::EnvKey {
                    provider,
                    var: var.to_string(),
                }
            } else if d
                .get("requires_openai_auth")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                Need::OpenAiLogin { provider }
            } else {
                Need::Nothing
            }
        }
    }
}

/// Whether `CODEX_HOME/auth.json` holds a credential, as codex's file store writes it
/// after `codex login` (ChatGPT tokens, or an API key); `codex logout` deletes it. When
/// the file is missing (or codex keeps credentials in the OS keyring) only `codex login
/// status` can tell.
pub fn auth_file_has_credential(codex_home: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(codex_home.join("auth.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let key = v["OPENAI_API_KEY"]
        .as_str()
        .is_some_and(|k| !k.trim().is_empty());
    let tokens = ["refresh_token", "access_token"]
        .iter()
        .any(|t| v["tokens"][t].as_str().is_some_and(|s| !s.is_empty()));
    key || tokens
}

/// Asks `codex login status` (at most `timeout`), with the spawner's environment.
pub fn status(program: &Path, env: &[(OsString, OsString)], timeout: Duration) -> Status {
    let mut child = match Command::new(program)
        .args(["login", "status"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Status::Unknown(format!("cannot run `codex login status`: {e}")),
    };
    let deadline = Instant::now() + timeout;
    // Short naps first: the answer usually comes within milliseconds (or ~0.1-0.5 s
    // from the real codex), and each nap past it is paid by every spawn.
    let mut nap = Duration::from_millis(1);
    let code = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.code(),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Status::Unknown(format!(
                    "`codex login status` did not answer within {}s",
                    timeout.as_secs()
                ));
            }
            Err(e) => return Status::Unknown(format!("`codex login status`: {e}")),
        }
    };
    let mut text = String::new();
    for pipe in [
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut s = String::new();
        let _ = pipe.take(4096).read_to_string(&mut s);
        text.push_str(&s);
    }
    // codex may print warnings first (e.g. about CODEX_HOME): quote its answer, the
    // line that speaks of logging in, else its last line.
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let first = lines
        .iter()
        .find(|l| l.to_lowercase().contains("logged in"))
        .or_else(|| lines.iter().rev().find(|l| !l.starts_with("WARNING")))
        .or(lines.last())
        .copied()
        .unwrap_or("")
        .to_string();
    match code {
        Some(0) => Status::LoggedIn,
        Some(_) => Status::NotLoggedIn(first),
        None => Status::Unknown("`codex login status` was killed".into()),
    }
}

/// The refusal for a worker that would run without a credential, or `None` if it has
/// one (or it cannot be told). Runs `codex login status` only when it matters.
pub fn missing_credential(
    program: &Path,
    codex_args: &[String],
    profile: Option<&str>,
    env: &[(OsString, OsString)],
) -> Option<String> {
    match requirement(codex_args, profile, env) {
        Need::Nothing => None,
        Need::EnvKey { provider, var } => get(env, &var).is_none().then(|| {
            format!("model provider {provider} reads its key from {var}, which is not set; export {var} and run this again")
        }),
        Need::OpenAiLogin { provider } => {
            if get(env, "CODEX_API_KEY").is_some() {
                return None;
            }
            // The common case without starting codex (a node program: ~0.3 s per spawn).
            if crate::sys::codex::config::codex_home(env).is_some_and(|h| auth_file_has_credential(&h)) {
                return None;
            }
            match status(program, env, Duration::from_secs(5)) {
                Status::LoggedIn | Status::Unknown(_) => None,
                Status::NotLoggedIn(said) => Some(format!(
                    "codex is not logged in (`codex login status`: {}), so the {provider} provider would retry forever; run `codex login` (or export CODEX_API_KEY — `codex exec` ignores OPENAI_API_KEY) and run this again",
                    if said.is_empty() { "exit 1" } else { said.as_str() }
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with_config(dir: &Path, config: &str) -> Vec<(OsString, OsString)> {
        std::fs::write(dir.join("config.toml"), config).unwrap();
        vec![("CODEX_HOME".into(), dir.as_os_str().to_owned())]
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    /// A `codex` that says `Not logged in`, as the real one does without auth.json.
    fn not_logged_in_codex(dir: &Path) -> PathBuf {
        let p = dir.join("codex");
        std::fs::write(&p, "#!/bin/sh\necho 'Not logged in' >&2\nexit 1\n").unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn a_credential_in_auth_json_is_enough_and_codex_is_not_asked() {
        let d = tempfile::tempdir().unwrap();
        let env = env_with_config(d.path(), "");
        let codex = not_logged_in_codex(d.path());
        assert!(
            missing_credential(&codex, &[], None, &env).is_some(),
            "no auth.json: codex is asked, and says not logged in"
        );
        std::fs::write(
            d.path().join("auth.json"),
            r#"{"OPENAI_API_KEY":null,"tokens":{"id_token":"x","access_token":"a","refresh_token":"r"},"last_refresh":"2026-12-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(missing_credential(&codex, &[], None, &env), None);
        std::fs::write(
            d.path().join("auth.json"),
            r#"{"OPENAI_API_KEY":"sk-test"}"#,
        )
        .unwrap();
        assert_eq!(missing_credential(&codex, &[], None, &env), None);
        // An auth.json without a credential proves nothing: codex is asked.
        std::fs::write(d.path().join("auth.json"), r#"{"OPENAI_API_KEY":null}"#).unwrap();
        assert!(missing_credential(&codex, &[], None, &env).is_some());
        std::fs::write(d.path().join("auth.json"), "not json").unwrap();
        assert!(missing_credential(&codex, &[], None, &env).is_some());
    }

    #[test]
    fn the_default_provider_needs_a_login() {
        let d = tempfile::tempdir().unwrap();
        let env = env_with_config(d.path(), "model = \"gpt-6.2-sol\"\n");
        assert_eq!(
            requirement(&[], None, &env),
            Need::OpenAiLogin {
                provider: "openai".into()
            }
        );
    }

    #[test]
    fn a_custom_provider_in_config_or_flags_needs_nothing() {
        let d = tempfile::tempdir().unwrap();
        let env = env_with_config(
            d.path(),
            "model_provider = \"mock\"\n[model_providers.mock]\nbase_url = \"http://127.0.0.1:1/v1\"\n",
        );
        assert_eq!(requirement(&[], None, &env), Need::Nothing);
        let d2 = tempfile::tempdir().unwrap();
        let env = env_with_config(d2.path(), "");
        let a = args(&[
            "-c",
            "model_provider=\"m2\"",
            "-c",
            "model_providers.m2.base_url=\"http://x\"",
        ]);
        assert_eq!(requirement(&a, None, &env), Need::Nothing);
        // A literal (unquoted) value works as codex's fallback does.
        let a = args(&["--config=model_provider=ollama"]);
        assert_eq!(requirement(&a, None, &env), Need::Nothing);
    }

    #[test]
    fn requires_openai_auth_and_env_key_are_honoured() {
        let d = tempfile::tempdir().unwrap();
        let env = env_with_config(
            d.path(),
            "[model_providers.corp]\nbase_url = \"http://x\"\nrequires_openai_auth = true\n\
             [model_providers.keyed]\nbase_url = \"http://y\"\nenv_key = \"MY_KEY\"\n\
             [profiles.night]\nmodel_provider = \"keyed\"\n",
        );
        let a = args(&["-c", "model_provider=corp"]);
        assert_eq!(
            requirement(&a, None, &env),
            Need::OpenAiLogin {
                provider: "corp".into()
            }
        );
        let want = Need::EnvKey {
            provider: "keyed".into(),
            var: "MY_KEY".into(),
        };
        assert_eq!(requirement(&[], Some("night"), &env), want);
        assert_eq!(requirement(&args(&["-p", "night"]), None, &env), want);
        // -c defines a whole provider on the command line.
        let a = args(&[
            "-c",
            "model_provider=\"m3\"",
            "-c",
            "model_providers.m3.requires_openai_auth=true",
        ]);
        assert!(matches!(
            requirement(&a, None, &env),
            Need::OpenAiLogin { .. }
        ));
    }

    #[test]
    fn env_key_missing_is_named() {
        let d = tempfile::tempdir().unwrap();
        let mut env = env_with_config(
            d.path(),
            "model_provider = \"k\"\n[model_providers.k]\nbase_url = \"http://y\"\nenv_key = \"MY_KEY\"\n",
        );
        let msg = missing_credential(Path::new("/nonexistent"), &[], None, &env).unwrap();
        assert!(msg.contains("MY_KEY"), "{msg}");
        env.push(("MY_KEY".into(), "k".into()));
        assert_eq!(
            missing_credential(Path::new("/nonexistent"), &[], None, &env),
            None
        );
    }

    #[test]
    fn codex_api_key_is_a_credential_and_an_unaskable_codex_is_not_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut env = env_with_config(d.path(), "");
        // /nonexistent cannot be run: unknown, so no refusal.
        assert_eq!(
            missing_credential(Path::new("/nonexistent"), &[], None, &env),
            None
        );
        env.push(("CODEX_API_KEY".into(), "sk-x".into()));
        assert_eq!(
            missing_credential(Path::new("/bin/false"), &[], None, &env),
            None
        );
        env.pop();
        let msg = missing_credential(Path::new("/bin/false"), &[], None, &env).unwrap();
        assert!(
            msg.contains("codex login") && msg.contains("CODEX_API_KEY"),
            "{msg}"
        );
    }
}
