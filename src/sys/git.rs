//! Every git call orch makes, in one place: the user's own `git` (their config and
//! hooks), always as `git -C <dir> …`, never a re-implementation. An error names the
//! repository and what git said.
//!
//! `merge-tree --write-tree` (used to check a land before it changes anything) needs
//! git 2.38 or newer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::Result;

use crate::model::UserError;

/// How long a git call that found another git's `index.lock` keeps trying.
const LOCK_RETRIES: u32 = 20;
const LOCK_PAUSE: Duration = Duration::from_millis(150);

/// The identity of orch's own commits (the worker's work, a squash or merge of it).
pub const AUTHOR_NAME: &str = "orch";
pub const AUTHOR_EMAIL: &str = "orch@localhost";

/// One git call in `dir`; stdout on success, else an error naming `dir` and git's
/// message. Retries for a moment while another git holds `index.lock`.
pub fn run(dir: &Path, args: &[&str]) -> Result<String> {
    run_env(dir, args, &[])
}

pub fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let out = output(dir, args, env)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(failed(dir, args, &out).into())
}

/// The raw output of one git call (retried on `index.lock` like [`run`]).
pub fn output(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let mut tries = 0;
    loop {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(dir).args(args).stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                UserError::failed("git not found on PATH; install git 2.38 or newer")
            } else {
                UserError::failed(format!("cannot run git in {}: {e}", dir.display()))
            }
        })?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let held = stderr.contains("index.lock") && stderr.contains("File exists");
        if !out.status.success() && held && tries < LOCK_RETRIES {
            // Another git (the user's, an editor's) works in this repository right now;
            // it drops the lock within moments. (A lock that cannot be made for another
            // reason, such as a read-only file system, fails at once.)
            tries += 1;
            std::thread::sleep(LOCK_PAUSE);
            continue;
        }
        return Ok(out);
    }
}

fn failed(dir: &Path, args: &[&str], out: &Output) -> UserError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let said = if stderr.trim().is_empty() {
        stdout.trim()
    } else {
        stderr.trim()
    };
    let said: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
    UserError::failed(format!(
        "git {} in {} failed: {}",
        args.first().copied().unwrap_or(""),
        dir.display(),
        said.join("; ")
    ))
}

fn line(s: String) -> String {
    s.trim().to_string()
}

/// The top level of the git work tree holding `dir`; a clear error when there is none.
/// Whether `dir` is the top of a git work tree as git itself finds one without being
/// asked: a `.git` file (a linked worktree or submodule) or a `.git` folder holding
/// `HEAD`. An empty `.git` folder is not one: codex's workspace-write sandbox leaves
/// `/tmp/.git` (with `/tmp/.codex` and `/tmp/.agents`) as mount points, and every
/// folder under /tmp would otherwise belong to one "tree".
pub fn is_top(dir: &Path) -> bool {
    let git = dir.join(".git");
    match std::fs::symlink_metadata(&git) {
        Ok(m) if m.is_dir() => git.join("HEAD").exists(),
        Ok(_) => true,
        Err(_) => false,
    }
}

pub fn toplevel(dir: &Path) -> Result<PathBuf> {
    let out = output(dir, &["rev-parse", "--show-toplevel"], &[])?;
    if !out.status.success() {
        return Err(UserError::usage(format!(
            "{} is not inside a git repository; --worktree needs one (`git init` it, or drop --worktree)",
            dir.display()
        ))
        .into());
    }
    let top = PathBuf::from(line(String::from_utf8_lossy(&out.stdout).into_owned()));
    Ok(std::fs::canonicalize(&top).unwrap_or(top))
}

/// The commit `rev` names in `repo`, as a full id.
pub fn commit_of(repo: &Path, rev: &str) -> Result<String> {
    let spec = format!("{rev}^{{commit}}");
    let out = output(repo, &["rev-parse", "--verify", "--quiet", &spec], &[])?;
    if !out.status.success() {
        return Err(UserError::usage(format!(
            "{rev} names no commit in {} (a branch, tag or commit id; `git log` lists them)",
            repo.display()
        ))
        .into());
    }
    Ok(line(String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The commit a branch points at, if the branch exists.
pub fn branch_tip(repo: &Path, branch: &str) -> Option<String> {
    let r = format!("refs/heads/{branch}");
    let out = output(repo, &["rev-parse", "--verify", "--quiet", &r], &[]).ok()?;
    out.status
        .success()
        .then(|| line(String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The branch checked out in `dir`, or `None` on a detached HEAD.
pub fn current_branch(dir: &Path) -> Option<String> {
    let out = output(dir, &["symbolic-ref", "--short", "-q", "HEAD"], &[]).ok()?;
    let b = line(String::from_utf8_lossy(&out.stdout).into_owned());
    (out.status.success() && !b.is_empty()).then_some(b)
}

/// Whether `name` is a valid branch name (`git check-ref-format --branch`).
pub fn valid_branch_name(repo: &Path, name: &str) -> bool {
    output(repo, &["check-ref-format", "--branch", name], &[]).is_ok_and(|o| o.status.success())
}

/// `git worktree add -b BRANCH PATH BASE`.
pub fn worktree_add(repo: &Path, path: &Path, branch: &str, base: &str) -> Result<()> {
    let p = path.to_string_lossy();
    run(
        repo,
        &["worktree", "add", "--quiet", "-b", branch, &p, base],
    )
    .map(|_| ())
}

/// `git worktree remove --force PATH`: the worktree's files and its metadata.
pub fn worktree_remove(repo: &Path, path: &Path) -> Result<()> {
    let p = path.to_string_lossy();
    run(repo, &["worktree", "remove", "--force", "--force", &p]).map(|_| ())
}

pub fn worktree_prune(repo: &Path) -> Result<()> {
    run(repo, &["worktree", "prune"]).map(|_| ())
}

/// One entry of `git worktree list --porcelain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Worktree {
    pub path: PathBuf,
    pub branch: Option<String>,
    /// git says its folder is gone (`git worktree prune` would drop it).
    pub prunable: bool,
}

pub fn worktrees(repo: &Path) -> Result<Vec<Worktree>> {
    Ok(parse_worktrees(&run(
        repo,
        &["worktree", "list", "--porcelain"],
    )?))
}

fn parse_worktrees(text: &str) -> Vec<Worktree> {
    let mut out: Vec<Worktree> = Vec::new();
    for l in text.lines() {
        if let Some(p) = l.strip_prefix("worktree ") {
            out.push(Worktree {
                path: PathBuf::from(p),
                branch: None,
                prunable: false,
            });
        } else if let Some(last) = out.last_mut() {
            if let Some(b) = l.strip_prefix("branch ") {
                last.branch = Some(b.trim_start_matches("refs/heads/").to_string());
            } else if l.starts_with("prunable") {
                last.prunable = true;
            }
        }
    }
    out
}

/// Tracked files changed in the work tree or index of `dir` (untracked files left out).
pub fn dirty_files(dir: &Path) -> Result<Vec<String>> {
    let out = run(dir, &["status", "--porcelain", "--untracked-files=no"])?;
    Ok(out
        .lines()
        .filter(|l| l.len() > 3)
        .map(|l| l[3..].to_string())
        .collect())
}

/// Stages everything in the work tree `dir` and commits it with `message`, as orch
/// (the committer is the user's configured identity, else orch too). `None` when there
/// was nothing to commit.
pub fn commit_all(dir: &Path, message: &str) -> Result<Option<String>> {
    run(dir, &["add", "--all"])?;
    let staged = output(dir, &["diff", "--cached", "--quiet"], &[])?;
    if staged.status.success() {
        return Ok(None);
    }
    let mut env = vec![
        ("GIT_AUTHOR_NAME", AUTHOR_NAME),
        ("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL),
    ];
    let configured = output(dir, &["config", "user.email"], &[])?
        .status
        .success();
    if !configured {
        env.push(("GIT_COMMITTER_NAME", AUTHOR_NAME));
        env.push(("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL));
    }
    run_env(dir, &["commit", "--quiet", "-m", message], &env)?;
    Ok(Some(line(run(dir, &["rev-parse", "HEAD"])?)))
}

/// `git diff FROM [TO]` (with `--stat`); without TO, against the work tree of `dir`.
pub fn diff(dir: &Path, from: &str, to: Option<&str>, stat: bool) -> Result<String> {
    let mut args = vec!["diff"];
    if stat {
        args.push("--stat");
    }
    args.push(from);
    if let Some(t) = to {
        args.push(t);
    }
    run(dir, &args)
}

/// Files tracked in the work tree `dir`, relative to it.
pub fn tracked(dir: &Path) -> Result<Vec<String>> {
    Ok(run(dir, &["ls-files"])?
        .lines()
        .map(str::to_string)
        .collect())
}

/// Files not tracked and not ignored in the work tree `dir`.
pub fn untracked(dir: &Path) -> Result<Vec<String>> {
    Ok(run(dir, &["ls-files", "--others", "--exclude-standard"])?
        .lines()
        .map(str::to_string)
        .collect())
}

/// Commits in `to` that are not in `from`, oldest first.
pub fn commits_between(repo: &Path, from: &str, to: &str) -> Result<Vec<String>> {
    let range = format!("{from}..{to}");
    Ok(run(repo, &["rev-list", "--reverse", &range])?
        .lines()
        .map(str::to_string)
        .collect())
}

pub fn is_ancestor(repo: &Path, ancestor: &str, of: &str) -> Result<bool> {
    let out = output(repo, &["merge-base", "--is-ancestor", ancestor, of], &[])?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(failed(repo, &["merge-base"], &out).into()),
    }
}

/// Local branches whose history holds `commit`.
pub fn branches_containing(repo: &Path, commit: &str) -> Result<Vec<String>> {
    Ok(run(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "--contains",
            commit,
            "refs/heads/",
        ],
    )?
    .lines()
    .map(str::to_string)
    .collect())
}

pub fn delete_branch(repo: &Path, branch: &str) -> Result<()> {
    run(repo, &["branch", "--quiet", "-D", branch]).map(|_| ())
}

/// What a three-way merge of `theirs` into `ours` gives, computed without touching any
/// work tree or ref (`git merge-tree --write-tree`): the tree, or the conflicted files.
/// With `base`, that commit is the merge base (a cherry-pick of one commit).
pub fn merge_tree(
    repo: &Path,
    ours: &str,
    theirs: &str,
    base: Option<&str>,
) -> Result<std::result::Result<String, Vec<String>>> {
    let merge_base = base.map(|b| format!("--merge-base={b}"));
    let mut args = vec!["merge-tree", "--write-tree", "--name-only", "--no-messages"];
    if let Some(b) = &merge_base {
        args.push(b);
    }
    args.extend([ours, theirs]);
    let out = output(repo, &args, &[])?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let tree = lines.next().unwrap_or("").trim().to_string();
    match out.status.code() {
        Some(0) => Ok(Ok(tree)),
        Some(1) => {
            let mut files: Vec<String> = lines
                .take_while(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            files.dedup();
            Ok(Err(files))
        }
        _ => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("--write-tree") || stderr.contains("usage: git merge-tree") {
                return Err(UserError::failed(format!(
                    "git in {} is too old for `merge-tree --write-tree`; orch land needs git 2.38 or newer",
                    repo.display()
                ))
                .into());
            }
            Err(failed(repo, &args, &out).into())
        }
    }
}

/// The tree of a commit.
pub fn tree_of(repo: &Path, commit: &str) -> Result<String> {
    let spec = format!("{commit}^{{tree}}");
    Ok(line(run(repo, &["rev-parse", &spec])?))
}

/// A commit's author (name, email, date) and whole message.
pub struct CommitInfo {
    pub author_name: String,
    pub author_email: String,
    pub author_date: String,
    pub message: String,
}

pub fn commit_info(repo: &Path, commit: &str) -> Result<CommitInfo> {
    let text = run(
        repo,
        &["log", "-1", "--format=%an%x00%ae%x00%aI%x00%B", commit],
    )?;
    let mut parts = text.splitn(4, '\0');
    let mut next = || parts.next().unwrap_or("").to_string();
    Ok(CommitInfo {
        author_name: next(),
        author_email: next(),
        author_date: next(),
        message: next().trim_end().to_string(),
    })
}

/// A new commit object of `tree` with `parents` (no ref moves); the author is
/// `author` (name, email, date) or orch.
pub fn commit_tree(
    repo: &Path,
    tree: &str,
    parents: &[&str],
    message: &str,
    author: Option<(&str, &str, &str)>,
) -> Result<String> {
    let mut args = vec!["commit-tree", tree];
    for p in parents {
        args.push("-p");
        args.push(p);
    }
    args.push("-m");
    args.push(message);
    let mut env = match author {
        Some((n, e, d)) => vec![
            ("GIT_AUTHOR_NAME", n),
            ("GIT_AUTHOR_EMAIL", e),
            ("GIT_AUTHOR_DATE", d),
        ],
        None => vec![
            ("GIT_AUTHOR_NAME", AUTHOR_NAME),
            ("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL),
        ],
    };
    let configured = output(repo, &["config", "user.email"], &[])?
        .status
        .success();
    if !configured {
        env.push(("GIT_COMMITTER_NAME", AUTHOR_NAME));
        env.push(("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL));
    }
    Ok(line(run_env(repo, &args, &env)?))
}

/// Moves `refs/heads/BRANCH` from `old` to `new`; fails if it no longer points at `old`.
pub fn update_branch(repo: &Path, branch: &str, new: &str, old: &str, why: &str) -> Result<()> {
    let r = format!("refs/heads/{branch}");
    run(repo, &["update-ref", "-m", why, &r, new, old]).map(|_| ())
}

/// Moves the checked-out branch of `dir` forward to `commit`, its files with it.
pub fn fast_forward(dir: &Path, commit: &str) -> Result<()> {
    run(dir, &["merge", "--quiet", "--ff-only", commit]).map(|_| ())
}

/// Whether `git` runs at all; `Err` says how to get it.
pub fn check_installed() -> Result<()> {
    match Command::new("git")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        _ => Err(UserError::failed("git not found on PATH; install git 2.38 or newer").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_git_folder_is_not_a_work_tree_but_a_git_file_or_a_head_is() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path();
        std::fs::create_dir(top.join(".git")).unwrap();
        assert!(
            !is_top(top),
            "an empty .git, as codex's sandbox leaves in /tmp"
        );
        std::fs::write(top.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        assert!(is_top(top));
        let linked = top.join("linked");
        std::fs::create_dir(&linked).unwrap();
        std::fs::write(linked.join(".git"), "gitdir: /elsewhere\n").unwrap();
        assert!(is_top(&linked), "a linked worktree's .git file");
        assert!(!is_top(&top.join("nowhere")));
    }

    #[test]
    fn worktree_list_porcelain_is_read_with_branches_and_prunable_entries() {
        let text = "worktree /r\nHEAD abc\nbranch refs/heads/main\n\nworktree /h/w/x\nHEAD def\nbranch refs/heads/orch/R/x\nprunable gitdir file points to non-existent location\n\nworktree /d\nHEAD 123\ndetached\n";
        let w = parse_worktrees(text);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].branch.as_deref(), Some("main"));
        assert!(!w[0].prunable);
        assert_eq!(w[1].branch.as_deref(), Some("orch/R/x"));
        assert!(w[1].prunable);
        assert_eq!(w[2].branch, None);
    }
}
