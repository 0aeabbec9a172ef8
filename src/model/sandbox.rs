//! codex's sandbox policies: the one type every layer uses for them (the CLI parses
//! into it, records store it, pipelines name it, codex's argv is built from it).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sandbox {
    #[default]
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

impl Sandbox {
    pub const ALL: [Sandbox; 3] = [
        Sandbox::ReadOnly,
        Sandbox::WorkspaceWrite,
        Sandbox::DangerFullAccess,
    ];

    /// The name codex takes for `--sandbox`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sandbox::ReadOnly => "read-only",
            Sandbox::WorkspaceWrite => "workspace-write",
            Sandbox::DangerFullAccess => "danger-full-access",
        }
    }

    /// A worker that may change files: the one-writer rule applies to it.
    pub fn writes(self) -> bool {
        self != Sandbox::ReadOnly
    }

    /// The names, for error messages: `read-only, workspace-write, danger-full-access`.
    pub fn names() -> String {
        Sandbox::ALL.map(Sandbox::as_str).join(", ")
    }
}

impl fmt::Display for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Sandbox {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sandbox::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown sandbox {s:?} (one of {})", Sandbox::names()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Sandbox::ALL {
            assert_eq!(s.as_str().parse::<Sandbox>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("read_only".parse::<Sandbox>().is_err());
        assert!(!Sandbox::ReadOnly.writes() && Sandbox::WorkspaceWrite.writes());
    }
}
