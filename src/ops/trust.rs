//! What a pipeline file may ask for on its own word.
//!
//! A pipeline named by the user (`orch run triangulated-review`) comes from orch itself,
//! the user's own `$ORCH_HOME/pipelines/`, or a share folder the user or the installer
//! set up: its fields are taken as the user's. A pipeline given as a path may come from
//! a repository someone else wrote, so what would let its workers reach beyond the
//! working tree — `sandbox = "danger-full-access"`, a `cd` or a `context` pack outside
//! the tree — needs the user's explicit `--trust-pipeline`.

use std::path::{Component, Path, PathBuf};

use crate::content::pipeline::PlannedWorker;
use crate::content::share::{PipelineSource, Share, is_pipeline_path};
use crate::model::Sandbox;

/// Where a pipeline was loaded from, as `orch run` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into orch.
    Builtin(String),
    /// Found by name in a share root (`$ORCH_HOME`, `$ORCH_SHARE_DIR`, a packaged share).
    Named { file: PathBuf, root: PathBuf },
    /// Given as a path on the command line.
    Path(PathBuf),
}

impl Origin {
    /// `source` as [`Share::pipeline_path`] found it for the user's text `given`.
    pub fn of(given: &str, source: &PipelineSource, share: &Share) -> Origin {
        match source {
            PipelineSource::Builtin { name, .. } => Origin::Builtin(name.clone()),
            PipelineSource::File(p) if is_pipeline_path(given) => Origin::Path(p.clone()),
            PipelineSource::File(p) => Origin::Named {
                file: p.clone(),
                root: share
                    .pipeline_root(source)
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
            },
        }
    }

    /// One phrase: `built-in NAME`, `user file PATH (…)`, `file PATH (given as a path)`.
    pub fn describe(&self, orch_home: &Path) -> String {
        match self {
            Origin::Builtin(name) => format!("built-in {name}"),
            Origin::Named { file, root } if root == orch_home => {
                format!("user file {} (in $ORCH_HOME/pipelines)", file.display())
            }
            Origin::Named { file, root } => {
                format!(
                    "file {} (in share folder {})",
                    file.display(),
                    root.display()
                )
            }
            Origin::Path(p) => format!("file {} (given as a path)", p.display()),
        }
    }

    /// Only a pipeline given as a path needs `--trust-pipeline` for what reaches out.
    pub fn needs_trust(&self) -> bool {
        matches!(self, Origin::Path(_))
    }
}

/// The working tree a pipeline's workers are expected to stay in: the git work tree
/// holding `cwd` (the nearest folder with a `.git`), else `cwd` itself.
pub fn working_tree(cwd: &Path) -> PathBuf {
    let cwd = absolute(cwd);
    cwd.ancestors()
        .find(|d| crate::sys::git::is_top(d))
        .unwrap_or(&cwd)
        .to_path_buf()
}

/// What the workers ask for beyond `tree`, one phrase each (empty: nothing).
pub fn reaching_out(workers: &[PlannedWorker], tree: &Path) -> Vec<String> {
    let tree = resolved(tree);
    let mut out = Vec::new();
    for w in workers {
        if w.sandbox == Sandbox::DangerFullAccess {
            out.push(format!(
                "worker {} asks for sandbox {}",
                w.label,
                Sandbox::DangerFullAccess
            ));
        }
        for (field, path) in [("cd", &w.cd), ("context", &w.context)] {
            if let Some(p) = path
                && !resolved(p).starts_with(&tree)
            {
                out.push(format!(
                    "worker {} has {field} {} outside the working tree {}",
                    w.label,
                    p.display(),
                    tree.display()
                ));
            }
        }
    }
    out
}

/// `p` with symlinks resolved where it exists (a link inside the tree to a folder
/// outside it is outside), else made absolute and cleaned of `.` and `..`.
fn resolved(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| absolute(p))
}

fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(
        label: &str,
        sandbox: Sandbox,
        cd: Option<&Path>,
        ctx: Option<&Path>,
    ) -> PlannedWorker {
        PlannedWorker {
            label: label.into(),
            role: "reviewer".into(),
            lens: None,
            stage: "s".into(),
            prompt: String::new(),
            sandbox,
            after: Vec::new(),
            cd: cd.map(Path::to_path_buf),
            model: None,
            output_schema: false,
            context: ctx.map(Path::to_path_buf),
            inputs: Vec::new(),
            item: None,
            timeout_secs: None,
            worktree: false,
            after_any_done: false,
        }
    }

    #[test]
    fn danger_and_paths_outside_the_tree_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("repo");
        std::fs::create_dir_all(tree.join(".git")).unwrap();
        std::fs::write(tree.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::create_dir_all(tree.join("src")).unwrap();
        std::fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), tree.join("link")).unwrap();
        assert_eq!(working_tree(&tree.join("src")), tree);
        let inside = [
            worker("a", Sandbox::WorkspaceWrite, Some(&tree.join("src")), None),
            worker(
                "b",
                Sandbox::ReadOnly,
                None,
                Some(&tree.join("src/../pack.md")),
            ),
        ];
        assert!(reaching_out(&inside, &tree).is_empty());
        let out = reaching_out(
            &[
                worker("c", Sandbox::DangerFullAccess, None, None),
                worker(
                    "d",
                    Sandbox::ReadOnly,
                    Some(&tree.join("../elsewhere")),
                    None,
                ),
                worker("e", Sandbox::ReadOnly, Some(&tree.join("link")), None),
                worker("f", Sandbox::ReadOnly, None, Some(Path::new("/etc/passwd"))),
            ],
            &tree,
        );
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(out[0].contains("worker c asks for sandbox danger-full-access"));
        assert!(out[1].starts_with("worker d has cd "), "{}", out[1]);
        assert!(out[2].starts_with("worker e has cd "), "{}", out[2]);
        assert!(out[3].contains("context /etc/passwd outside"), "{}", out[3]);
    }
}
