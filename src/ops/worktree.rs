//! A git worktree per writing worker (`spawn --worktree`): made at spawn on a new branch
//! `orch/<run>/<label>` from the checkout's HEAD (or `--base`), under
//! `$ORCH_HOME/worktrees/`, with the checkout's listed gitignored files copied in; shown
//! by `orch diff`; removed by `orch gc`, which keeps branches holding unlanded work.
//!
//! Every git call goes through `sys::git`.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::error::UserError;
use crate::store::fsutil::{create_private_dir, open_lock_file, read_json_opt};
use crate::store::{Home, LandRecord, WorkerDir, WorktreeSpec};
use crate::sys::git;

/// Gitignored files (`.env`, `node_modules`) to copy into each new worktree: one path
/// per line, relative to the checkout's top level; `#` starts a comment.
pub const INCLUDE_LIST: &str = ".orch/worktree-include";
/// A shell script run in each new worktree before codex starts, unless `--setup`.
pub const SETUP_SCRIPT: &str = ".orch/worktree-setup";

/// What `spawn --worktree` asked for.
#[derive(Debug, Clone, Default)]
pub struct WorktreeRequest {
    /// `--base REF`: where the branch starts (default: the checkout's HEAD).
    pub base: Option<String>,
    /// `--include PATH`: more files to copy, beside the include list.
    pub include: Vec<PathBuf>,
    /// `--setup CMD`: replaces `.orch/worktree-setup`.
    pub setup: Option<String>,
}

/// The branch of worker `label` in run `run`.
pub fn branch_name(run: &str, label: &str) -> String {
    format!("orch/{run}/{label}")
}

/// Makes the worktree of a new worker; returns its record and the folder codex runs in
/// (the same place inside the worktree as `cd` is inside the checkout).
pub fn create(
    home: &Home,
    run: &str,
    label: &str,
    cd: &Path,
    req: &WorktreeRequest,
) -> Result<(WorktreeSpec, PathBuf)> {
    let repo = preflight(home, cd)?;
    let path = home.worktree_path(run, label);
    let branch = branch_name(run, label);
    if !git::valid_branch_name(&repo, &branch) {
        return Err(UserError::usage(format!(
            "label {label} cannot be part of a git branch name ({branch}); choose another --label"
        ))
        .into());
    }
    if git::branch_tip(&repo, &branch).is_some() {
        return Err(UserError::failed(format!(
            "branch {branch} already exists in {}; delete it (`git -C {} branch -D {branch}`) or choose another --label",
            repo.display(),
            repo.display()
        ))
        .into());
    }
    let base_rev = req.base.as_deref().unwrap_or("HEAD");
    let base = git::commit_of(&repo, base_rev)?;
    let base_ref = req.base.clone().or_else(|| git::current_branch(&repo));
    let setup = match &req.setup {
        Some(s) => Some(s.clone()),
        None => read_setup_script(&repo)?,
    };
    let includes = include_list(&repo, &req.include)?;

    create_private_dir(&home.worktrees_dir().join(run))
        .with_context(|| format!("cannot create {}", home.worktrees_dir().display()))?;
    {
        // Two spawns adding worktrees to one repository at once race on its locks.
        let lock = open_lock_file(&home.worktree_add_lock_path())?;
        lock.lock().context("cannot lock worktrees/add.lock")?;
        git::worktree_add(&repo, &path, &branch, &base)?;
    }
    let spec = WorktreeSpec {
        repo: repo.clone(),
        path: path.clone(),
        branch,
        base,
        base_ref,
        setup,
    };
    if let Err(e) = copy_includes(&repo, &path, &includes) {
        discard(&spec);
        return Err(e);
    }
    let inside = cd
        .strip_prefix(&repo)
        .map(|rel| path.join(rel))
        .unwrap_or(path);
    Ok((spec, inside))
}

/// What a worktree in `cd`'s repository needs before anything is made: git, a
/// repository, and ORCH_HOME outside it. Returns the repository's top level.
pub fn preflight(home: &Home, cd: &Path) -> Result<PathBuf> {
    git::check_installed()?;
    let repo = git::toplevel(cd)?;
    let home_real = std::fs::canonicalize(&home.root).unwrap_or(home.root.clone());
    if home_real.starts_with(&repo) {
        return Err(UserError::usage(format!(
            "ORCH_HOME {} is inside the repository {}: a worktree there would be part of your checkout; set ORCH_HOME to a folder outside it",
            home.root.display(),
            repo.display()
        ))
        .into());
    }
    Ok(repo)
}

/// Undoes [`create`] for a spawn that failed afterwards: the worktree and its branch
/// (which holds nothing yet).
pub fn discard(spec: &WorktreeSpec) {
    let _ = git::worktree_remove(&spec.repo, &spec.path);
    let _ = git::delete_branch(&spec.repo, &spec.branch);
}

fn read_setup_script(repo: &Path) -> Result<Option<String>> {
    let p = repo.join(SETUP_SCRIPT);
    match std::fs::read_to_string(&p) {
        Ok(t) if t.trim().is_empty() => Ok(None),
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UserError::usage(format!("cannot read {}: {e}", p.display())).into()),
    }
}

/// The include list's entries, then `--include`'s; each a relative path that stays in
/// the checkout.
fn include_list(repo: &Path, extra: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let list = repo.join(INCLUDE_LIST);
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    match std::fs::read_to_string(&list) {
        Ok(text) => {
            for (n, l) in text.lines().enumerate() {
                let l = l.split('#').next().unwrap_or("").trim();
                if !l.is_empty() {
                    out.push((PathBuf::from(l), format!("{}:{}", list.display(), n + 1)));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(UserError::usage(format!("cannot read {}: {e}", list.display())).into());
        }
    }
    for p in extra {
        // `--include` given from a subfolder or as an absolute path inside the checkout.
        let abs = std::fs::canonicalize(p).unwrap_or(p.clone());
        let rel = abs
            .strip_prefix(repo)
            .map(Path::to_path_buf)
            .unwrap_or(p.clone());
        out.push((rel, format!("--include {}", p.display())));
    }
    let mut paths = Vec::new();
    for (p, from) in out {
        if p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(UserError::usage(format!(
                "{from}: {} is not a path inside the checkout {}; list paths relative to its top level",
                p.display(),
                repo.display()
            ))
            .into());
        }
        paths.push(p);
    }
    Ok(paths)
}

/// Copies each listed file or folder from the checkout into the new worktree, unless
/// the worktree has it already (a tracked file is git's to provide).
fn copy_includes(repo: &Path, tree: &Path, paths: &[PathBuf]) -> Result<()> {
    for rel in paths {
        let from = repo.join(rel);
        let to = tree.join(rel);
        if std::fs::symlink_metadata(&from).is_err() {
            crate::errln!(
                "orch: note: {} is listed to copy into worktrees but {} has none; skipped",
                rel.display(),
                repo.display()
            );
            continue;
        }
        if std::fs::symlink_metadata(&to).is_ok() {
            continue;
        }
        copy_tree(&from, &to)
            .with_context(|| format!("cannot copy {} into the worktree", from.display()))?;
    }
    Ok(())
}

/// A copy that keeps symbolic links as links and file modes as they are.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        std::fs::set_permissions(to, meta.permissions())?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to).map(|_| ())
    }
}

/// The worker's worktree record, or a clear error for one spawned without `--worktree`.
pub fn of(w: &WorkerDir) -> Result<WorktreeSpec> {
    let spec = w
        .spec()
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", w.spec_path().display()))?;
    spec.worktree.ok_or_else(|| {
        UserError::usage(format!(
            "{} has no worktree (it was not spawned with --worktree); its changes are in {}",
            w.address(),
            spec.cd.display()
        ))
        .into()
    })
}

pub fn landed(w: &WorkerDir) -> Option<LandRecord> {
    read_json_opt(&w.landed_path()).ok().flatten()
}

/// `orch diff`: what the worker changed since the commit it started from. While the
/// worktree exists that includes its uncommitted edits (a running worker's progress);
/// after `gc` it is the branch alone.
pub fn diff(w: &WorkerDir, stat: bool) -> Result<String> {
    let wt = of(w)?;
    if wt.path.is_dir() {
        let mut out = git::diff(&wt.path, &wt.base, None, stat)?;
        let new = git::untracked(&wt.path)?;
        if !new.is_empty() {
            out.push_str(&format!(
                "# new files not committed yet (shown once the worker ends done): {}\n",
                new.join(", ")
            ));
        }
        return Ok(out);
    }
    if git::branch_tip(&wt.repo, &wt.branch).is_none() {
        return Err(UserError::failed(format!(
            "{}'s worktree and its branch {} are gone from {}",
            w.address(),
            wt.branch,
            wt.repo.display()
        ))
        .into());
    }
    git::diff(&wt.repo, &wt.base, Some(&wt.branch), stat)
}

/// Why a worker's branch must be kept when its worktree goes: `None` when it holds
/// nothing that is not elsewhere (no commits past its base, landed, or on another
/// branch).
pub fn unlanded_work(w: &WorkerDir, wt: &WorktreeSpec) -> Result<Option<String>> {
    let Some(tip) = git::branch_tip(&wt.repo, &wt.branch) else {
        return Ok(None);
    };
    if landed(w).is_some_and(|l| l.branch_tip == tip) {
        return Ok(None);
    }
    let commits = git::commits_between(&wt.repo, &wt.base, &tip)?;
    if commits.is_empty() {
        return Ok(None);
    }
    let elsewhere = git::branches_containing(&wt.repo, &tip)?
        .iter()
        .any(|b| b != &wt.branch);
    if elsewhere {
        return Ok(None);
    }
    Ok(Some(format!(
        "{} not on any other branch",
        crate::model::text::count(commits.len(), "commit")
    )))
}

/// Files changed in the worktree and not committed (untracked ones included): work
/// that lives nowhere else. Empty when the worktree is gone.
pub fn uncommitted(wt: &WorktreeSpec) -> Vec<String> {
    if !wt.path.is_dir() {
        return Vec::new();
    }
    git::run(&wt.path, &["status", "--porcelain"])
        .map(|out| {
            out.lines()
                .filter(|l| l.len() > 3)
                .map(|l| l[3..].to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// What gc did (or would do) with one worker's branch, its worktree being removed.
pub struct Cleanup {
    pub branch_deleted: bool,
    /// Why the branch was kept.
    pub kept: Option<String>,
}

/// Removes the worker's worktree, and its branch unless it holds unlanded work (or
/// `force`). With `dry_run`, only says what it would do.
pub fn clean(w: &WorkerDir, wt: &WorktreeSpec, force: bool, dry_run: bool) -> Result<Cleanup> {
    let repo_there = wt.repo.is_dir();
    let kept = if repo_there {
        unlanded_work(w, wt)?
    } else {
        None
    };
    let delete = repo_there && (kept.is_none() || force);
    if !dry_run {
        if repo_there && wt.path.exists() {
            git::worktree_remove(&wt.repo, &wt.path)?;
        } else if wt.path.exists() {
            // The repository is gone: its worktree is plain files now.
            std::fs::remove_dir_all(&wt.path)
                .with_context(|| format!("cannot remove {}", wt.path.display()))?;
        }
        if repo_there {
            let _ = git::worktree_prune(&wt.repo);
        }
        if delete && git::branch_tip(&wt.repo, &wt.branch).is_some() {
            git::delete_branch(&wt.repo, &wt.branch)?;
        }
    }
    Ok(Cleanup {
        branch_deleted: delete,
        kept: if delete { None } else { kept },
    })
}

/// A worktree folder under `$ORCH_HOME/worktrees/` that no worker owns any more.
#[derive(Debug, Clone)]
pub struct Stale {
    pub path: PathBuf,
    pub bytes: u64,
    pub why: String,
}

/// For `doctor`: worktree folders whose run or worker is gone, and workers whose
/// worktree folder is gone while git still lists it (`git worktree prune` drops those).
pub fn stale(home: &Home) -> (Vec<Stale>, u64) {
    let mut out = Vec::new();
    let mut total = 0;
    let Ok(runs) = std::fs::read_dir(home.worktrees_dir()) else {
        return (out, total);
    };
    for run in runs.flatten().filter(|e| e.path().is_dir()) {
        let run_id = run.file_name().to_string_lossy().into_owned();
        let Ok(labels) = std::fs::read_dir(run.path()) else {
            continue;
        };
        for l in labels.flatten() {
            let label = l.file_name().to_string_lossy().into_owned();
            let bytes = disk_use(&l.path());
            total += bytes;
            let w = home.run(&run_id).worker(&label);
            let owned = w
                .spec()
                .ok()
                .and_then(|s| s.worktree)
                .is_some_and(|wt| wt.path == l.path());
            if !owned {
                out.push(Stale {
                    path: l.path(),
                    bytes,
                    why: format!("no worker {run_id}/{label} owns it"),
                });
            }
        }
    }
    for id in home.run_ids().unwrap_or_default() {
        let run = home.run(&id);
        for label in run.labels_unordered().unwrap_or_default() {
            let Some(wt) = run.worker(&label).spec().ok().and_then(|s| s.worktree) else {
                continue;
            };
            if !wt.path.exists() && wt.repo.is_dir() {
                let listed = git::worktrees(&wt.repo)
                    .unwrap_or_default()
                    .into_iter()
                    .any(|t| t.path == wt.path && t.prunable);
                if listed {
                    out.push(Stale {
                        path: wt.path.clone(),
                        bytes: 0,
                        why: format!(
                            "its folder is gone but {} still lists it (prunable)",
                            wt.repo.display()
                        ),
                    });
                }
            }
        }
    }
    (out, total)
}

/// Bytes under `p` (files and links, not following links).
pub fn disk_use(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !m.is_dir() {
        return m.blocks() * 512;
    }
    let mut n = m.blocks() * 512;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            n += disk_use(&e.path());
        }
    }
    n
}
