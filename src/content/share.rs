//! The user-editable data orch ships with: worker prompt templates, lenses, pipelines,
//! the context-pack skeleton and the findings schema.
//!
//! Each file is looked up in a list of roots, first hit wins, so a user can override or
//! add any single file without copying the rest:
//! 1. `$ORCH_HOME` (its `templates/`, `lenses/`, `pipelines/`, ...),
//! 2. `$ORCH_SHARE_DIR`,
//! 3. `<exe dir>/../share/orch`, then `<exe dir>/../share` (packaged installs),
//! 4. the copies compiled into the binary, so `cargo install` works with no share dir.
//!
//! This module only finds files; filling a template in is `content::template`'s job.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::content::template;
pub use crate::content::template::{Lens, Prompt};

/// The shipped worker roles, in the order they are usually listed.
pub const ROLES: &[&str] = &["reviewer", "researcher", "implementer", "verifier", "scout"];

/// The first line of every shipped template's worker preamble.
pub const PREAMBLE_MARKER: &str = "CONTEXT: WORKER";

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../share/", $path)))),*]
    };
}

/// Every shipped file, by its path under `share/`. A test keeps this list equal to the
/// directory's contents.
pub const EMBEDDED: &[(&str, &str)] = embedded![
    "pack.md",
    "prices.toml",
    "schemas/findings.schema.json",
    "templates/reviewer.md",
    "templates/researcher.md",
    "templates/implementer.md",
    "templates/verifier.md",
    "templates/scout.md",
    "templates/pick.md",
    "lenses/correctness.md",
    "lenses/security.md",
    "lenses/performance.md",
    "lenses/tests.md",
    "lenses/maintainability.md",
    "lenses/api-ux.md",
    "pipelines/triangulated-review.toml",
    "pipelines/review-fix-verify.toml",
    "pipelines/scout-act-verify.toml",
    "pipelines/split-by-sections.toml",
    "pipelines/research-synthesis.toml",
    "pipelines/options-sprint.toml",
    "pipelines/best-of-n.toml",
];

#[derive(Debug, Error)]
pub enum ShareError {
    #[error(
        "unknown role `{role}`; known roles: {known} (add one as $ORCH_HOME/templates/{role}.md)"
    )]
    UnknownRole { role: String, known: String },
    #[error(
        "unknown lens `{name}`; known lenses: {known} (add one as $ORCH_HOME/lenses/{name}.md, or give it inline as `{name}=what to look for`)"
    )]
    UnknownLens { name: String, known: String },
    #[error("bad inline lens `{spec}`: write it as name=focus text, both parts non-empty")]
    BadLens { spec: String },
    #[error(
        "unknown pipeline `{name}`; known pipelines: {known} (or give the path of a .toml file)"
    )]
    UnknownPipeline { name: String, known: String },
    #[error("pipeline file {} does not exist", path.display())]
    NoSuchPipeline { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template {origin}: {problem}")]
    BadTemplate { origin: String, problem: String },
}

/// Where a pipeline comes from: a file on disk, or a copy compiled into orch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineSource {
    File(PathBuf),
    Builtin { name: String, text: &'static str },
}

impl PipelineSource {
    /// The pipeline's name: the file stem.
    pub fn name(&self) -> String {
        match self {
            PipelineSource::File(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            PipelineSource::Builtin { name, .. } => name.clone(),
        }
    }

    /// How error messages name it: its path, or `built-in pipeline NAME` (the user has
    /// no such file; `orch run NAME --dry-run` prints what it holds).
    pub fn origin(&self) -> String {
        match self {
            PipelineSource::File(p) => p.display().to_string(),
            PipelineSource::Builtin { name, .. } => format!("built-in pipeline {name}"),
        }
    }

    /// The directory relative paths in the pipeline are resolved against (the current
    /// directory for built-in pipelines).
    pub fn base_dir(&self) -> PathBuf {
        match self {
            PipelineSource::File(p) => p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            PipelineSource::Builtin { .. } => PathBuf::from("."),
        }
    }

    pub fn read(&self) -> Result<String, ShareError> {
        match self {
            PipelineSource::File(p) => {
                std::fs::read_to_string(p).map_err(|source| ShareError::Read {
                    path: p.clone(),
                    source,
                })
            }
            PipelineSource::Builtin { text, .. } => Ok((*text).to_string()),
        }
    }
}

impl fmt::Display for PipelineSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin())
    }
}

/// The share data, found through an ordered list of directories and the compiled-in copies.
#[derive(Debug, Clone)]
pub struct Share {
    roots: Vec<PathBuf>,
}

impl Share {
    /// The standard search order for this orch home (see the module docs). Reads
    /// `ORCH_SHARE_DIR` and the current executable's location.
    pub fn new(orch_home: &Path) -> Share {
        let mut roots = vec![orch_home.to_path_buf()];
        if let Some(dir) = std::env::var_os("ORCH_SHARE_DIR").filter(|d| !d.is_empty()) {
            roots.push(PathBuf::from(dir));
        }
        if let Some(prefix) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        {
            // `<prefix>/share` is shared with every other program on the system; only
            // treat it as orch's when it looks like orch's.
            for dir in [prefix.join("share/orch"), prefix.join("share")] {
                if dir.join("templates").is_dir() || dir.join("pipelines").is_dir() {
                    roots.push(dir);
                }
            }
        }
        Share { roots }
    }

    /// An explicit search list, before the compiled-in copies (an empty list means
    /// compiled-in only). For tests and for callers that want full control.
    pub fn from_roots(roots: Vec<PathBuf>) -> Share {
        Share { roots }
    }

    /// The directories searched, in order (the compiled-in copies come after them).
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The text of `rel` (a path under a share root) and where it came from.
    fn find(&self, rel: &str) -> Result<Option<(String, String)>, ShareError> {
        for root in &self.roots {
            let path = root.join(rel);
            if path.is_file() {
                let text = std::fs::read_to_string(&path).map_err(|source| ShareError::Read {
                    path: path.clone(),
                    source,
                })?;
                return Ok(Some((path.display().to_string(), text)));
            }
        }
        Ok(EMBEDDED
            .iter()
            .find(|(p, _)| *p == rel)
            .map(|(p, text)| (format!("share/{p} (built in)"), (*text).to_string())))
    }

    /// The names of the files in `dir` ending in `ext`, across all roots and the
    /// compiled-in copies.
    fn names(&self, dir: &str, ext: &str) -> Vec<String> {
        let mut names = BTreeSet::new();
        for root in &self.roots {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if let Some(stem) = file.strip_suffix(ext)
                    && !stem.is_empty()
                    && !stem.starts_with('.')
                {
                    names.insert(stem.to_string());
                }
            }
        }
        for (path, _) in EMBEDDED {
            if let Some(stem) = path
                .strip_prefix(dir)
                .and_then(|p| p.strip_prefix('/'))
                .and_then(|p| p.strip_suffix(ext))
            {
                names.insert(stem.to_string());
            }
        }
        names.into_iter().collect()
    }

    /// The known roles: the shipped ones, then any extra `templates/*.md` a user added.
    pub fn role_names(&self) -> Vec<String> {
        let mut roles: Vec<String> = ROLES.iter().map(|r| r.to_string()).collect();
        for name in self.names("templates", ".md") {
            if !roles.contains(&name) {
                roles.push(name);
            }
        }
        roles
    }

    /// The prompt template for `role`, checked for unknown placeholders.
    pub fn template(&self, role: &str) -> Result<String, ShareError> {
        let found = if is_plain_name(role) {
            self.find(&format!("templates/{role}.md"))?
        } else {
            None
        };
        let Some((origin, text)) = found else {
            return Err(ShareError::UnknownRole {
                role: role.to_string(),
                known: self.role_names().join(", "),
            });
        };
        template::check(&text).map_err(|problem| ShareError::BadTemplate { origin, problem })?;
        Ok(text)
    }

    /// A lens by name (`security`), or inline as `name=focus text`.
    pub fn lens(&self, spec: &str) -> Result<Lens, ShareError> {
        if let Some((name, text)) = spec.split_once('=') {
            let (name, text) = (name.trim(), text.trim());
            if name.is_empty() || text.is_empty() {
                return Err(ShareError::BadLens {
                    spec: spec.to_string(),
                });
            }
            return Ok(Lens {
                name: name.to_string(),
                text: text.to_string(),
            });
        }
        let name = spec.trim();
        let found = if is_plain_name(name) {
            self.find(&format!("lenses/{name}.md"))?
        } else {
            None
        };
        match found {
            Some((_, text)) if !text.trim().is_empty() => Ok(Lens {
                name: name.to_string(),
                text: text.trim().to_string(),
            }),
            _ => Err(ShareError::UnknownLens {
                name: name.to_string(),
                known: self.lens_names().join(", "),
            }),
        }
    }

    pub fn lens_names(&self) -> Vec<String> {
        self.names("lenses", ".md")
    }

    pub fn pipeline_names(&self) -> Vec<String> {
        self.names("pipelines", ".toml")
    }

    /// A pipeline given as a file path, or by the name of a user or shipped pipeline.
    /// Only text with a `/` or ending in `.toml` is a path: a bare name never looks in
    /// the current directory, so a file a cloned repository plants there under a
    /// shipped pipeline's name can't replace it.
    pub fn pipeline_path(&self, name_or_path: &str) -> Result<PipelineSource, ShareError> {
        if is_pipeline_path(name_or_path) {
            let as_path = Path::new(name_or_path);
            if as_path.is_file() {
                return Ok(PipelineSource::File(as_path.to_path_buf()));
            }
            return Err(ShareError::NoSuchPipeline {
                path: as_path.to_path_buf(),
            });
        }
        if is_plain_name(name_or_path) {
            let rel = format!("pipelines/{name_or_path}.toml");
            if let Some(root) = self.roots.iter().find(|r| r.join(&rel).is_file()) {
                return Ok(PipelineSource::File(root.join(rel)));
            }
            if let Some((_, text)) = EMBEDDED.iter().find(|(p, _)| *p == rel) {
                return Ok(PipelineSource::Builtin {
                    name: name_or_path.to_string(),
                    text,
                });
            }
        }
        Err(ShareError::UnknownPipeline {
            name: name_or_path.to_string(),
            known: self.pipeline_names().join(", "),
        })
    }

    /// Which share root a pipeline file found by name lives in (`None` for a path or a
    /// built-in copy).
    pub fn pipeline_root(&self, source: &PipelineSource) -> Option<&Path> {
        let PipelineSource::File(p) = source else {
            return None;
        };
        self.roots
            .iter()
            .find(|r| p.parent().and_then(Path::parent) == Some(r.as_path()))
            .map(PathBuf::as_path)
    }

    /// The context-pack skeleton written by `orch pack new`.
    pub fn pack_skeleton(&self) -> String {
        self.find_or_builtin("pack.md")
    }

    /// The JSON schema for `codex exec --output-schema`.
    pub fn findings_schema(&self) -> String {
        self.find_or_builtin("schemas/findings.schema.json")
    }

    fn find_or_builtin(&self, rel: &str) -> String {
        match self.find(rel) {
            Ok(Some((_, text))) => text,
            // An unreadable override should not take the shipped file down with it.
            _ => builtin(rel).unwrap_or_default().to_string(),
        }
    }
}

/// The compiled-in copy of a shipped file, by its path under `share/`.
pub fn builtin(rel: &str) -> Option<&'static str> {
    EMBEDDED.iter().find(|(p, _)| *p == rel).map(|(_, t)| *t)
}

/// True when `orch run` takes `text` as a file path rather than a pipeline's name: it
/// holds a `/` or ends in `.toml`.
pub fn is_pipeline_path(text: &str) -> bool {
    text.contains('/') || text.ends_with(".toml")
}

/// A name that can be a file stem: no path separators, no leading dot.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::template::render;
    use crate::model::Sandbox;

    fn prompt(lens: Option<Lens>, context: Option<&str>) -> Prompt {
        Prompt {
            task: "Review src/a.rs.".into(),
            lens,
            context: context.map(String::from),
            sandbox: Sandbox::ReadOnly,
        }
    }

    #[test]
    fn embedded_list_matches_share_dir() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("share");
        let mut on_disk = Vec::new();
        for dir in ["", "schemas", "templates", "lenses", "pipelines"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                if entry.path().is_file() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    on_disk.push(if dir.is_empty() {
                        name
                    } else {
                        format!("{dir}/{name}")
                    });
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = EMBEDDED.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "share/ and share::EMBEDDED differ");
    }

    #[test]
    fn every_shipped_template_starts_with_the_same_preamble() {
        let share = Share::from_roots(vec![]);
        let first = share.template(ROLES[0]).unwrap();
        let preamble = &first[..first.find("SANDBOX:").unwrap()];
        assert!(preamble.starts_with(PREAMBLE_MARKER));
        for role in ROLES {
            let t = share.template(role).unwrap();
            assert!(
                t.starts_with(preamble),
                "{role}: preamble differs from {}",
                ROLES[0]
            );
        }
    }

    #[test]
    fn findings_templates_state_the_parseable_format() {
        let share = Share::from_roots(vec![]);
        for role in ["reviewer", "researcher", "verifier"] {
            let t = share.template(role).unwrap();
            assert!(
                t.contains("- [high] src/a.rs:42-50 — one-line claim"),
                "{role}"
            );
            assert!(t.contains("critical, high, medium, low, info"), "{role}");
        }
    }

    #[test]
    fn schema_is_strict() {
        let schema: serde_json::Value =
            serde_json::from_str(&Share::from_roots(vec![]).findings_schema()).unwrap();
        assert_eq!(schema["additionalProperties"], false);
        let item = &schema["properties"]["findings"]["items"];
        assert_eq!(item["additionalProperties"], false);
        let required: Vec<&str> = item["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let props: Vec<&String> = item["properties"].as_object().unwrap().keys().collect();
        assert_eq!(required.len(), props.len());
    }

    #[test]
    fn shipped_templates_render_without_leftover_tags() {
        let share = Share::from_roots(vec![]);
        for role in ROLES {
            let out = render(&share.template(role).unwrap(), &prompt(None, None));
            assert!(!out.contains("{{"), "{role}: {out}");
            assert!(
                !out.contains("\n\n\n"),
                "{role} leaves a double blank line:\n{out}"
            );
            assert!(!out.contains("LENS:"), "{role}");
        }
    }

    #[test]
    fn unknown_role_and_lens_list_the_known_ones() {
        let share = Share::from_roots(vec![]);
        let e = share.template("critic").unwrap_err().to_string();
        assert!(
            e.contains("critic") && e.contains("reviewer, researcher"),
            "{e}"
        );
        let e = share.lens("speed").unwrap_err().to_string();
        assert!(
            e.contains("api-ux, correctness") && e.contains("$ORCH_HOME/lenses/speed.md"),
            "{e}"
        );
        assert!(share.template("../secret").is_err());
    }

    #[test]
    fn inline_lens() {
        let share = Share::from_roots(vec![]);
        let lens = share.lens("docs = Is the README true?").unwrap();
        assert_eq!(
            lens,
            Lens {
                name: "docs".into(),
                text: "Is the README true?".into()
            }
        );
        assert!(matches!(share.lens("=x"), Err(ShareError::BadLens { .. })));
        assert!(matches!(share.lens("x="), Err(ShareError::BadLens { .. })));
    }
}
