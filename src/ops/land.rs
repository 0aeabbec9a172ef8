//! `orch land`: applies a worktree worker's branch to a branch of the user's checkout,
//! or refuses with nothing changed. Every new commit is made first as a git object
//! (`merge-tree --write-tree`, `commit-tree`), so a conflict is found before any ref or
//! file moves; only then does the target move: a fast-forward of the checkout when it is
//! the branch checked out there (its files follow), else an `update-ref` that checks the
//! branch did not move meanwhile.

use anyhow::Result;
use chrono::Utc;

use crate::lifecycle::state::{self, State};
use crate::lifecycle::transition;
use crate::model::error::UserError;
use crate::store::{LandRecord, WorkerDir};
use crate::sys::git;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A merge commit (a fast-forward when the target has not moved).
    #[default]
    Merge,
    /// One new commit holding all of the branch's changes.
    Squash,
    /// The branch's commits replayed on the target, one by one.
    Rebase,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Merge => "merge",
            Mode::Squash => "squash",
            Mode::Rebase => "rebase",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct LandOptions {
    pub mode: Mode,
    /// The branch to land on (default: the one checked out in the checkout).
    pub into: Option<String>,
    /// Land a worker that did not end done.
    pub force: bool,
}

/// What a land did, for the user.
pub struct Landed {
    pub record: LandRecord,
    pub branch: String,
    pub commits: usize,
    pub fast_forward: bool,
    pub repo: std::path::PathBuf,
}

impl Landed {
    /// One line for a person (`orch land`, the MCP `land` tool).
    pub fn describe(&self, address: &str) -> String {
        let r = &self.record;
        let how = match (r.mode.as_str(), self.fast_forward) {
            ("squash", _) => "as one squashed commit",
            (_, true) => "by fast-forward",
            ("rebase", false) => "rebased",
            _ => "with a merge commit",
        };
        format!(
            "landed {address} ({}, {}) on {} in {} {how}: {} is now {}",
            self.branch,
            crate::model::text::count(self.commits, "commit"),
            r.into,
            self.repo.display(),
            r.into,
            short(&r.commit)
        )
    }

    /// The same as JSON.
    pub fn to_json(&self, address: &str) -> serde_json::Value {
        let r = &self.record;
        serde_json::json!({
            "worker": address,
            "branch": self.branch,
            "commits": self.commits,
            "into": r.into,
            "mode": r.mode,
            "fast_forward": self.fast_forward,
            "commit": r.commit,
            "repo": self.repo,
        })
    }
}

pub fn land(w: &WorkerDir, opts: &LandOptions) -> Result<Landed> {
    let wt = crate::ops::worktree::of(w)?;
    let st = state::state_of(w);
    if !st.is_final() {
        return Err(UserError::failed(format!(
            "{} is still {st}; its branch gets its work when it ends (`orch wait {}`)",
            w.address(),
            w.address()
        ))
        .into());
    }
    if st != State::Done && !opts.force {
        return Err(UserError::failed(format!(
            "{} ended {st}, not done; `orch land --force {}` lands what its branch holds anyway",
            w.address(),
            w.address()
        ))
        .into());
    }
    let repo = &wt.repo;
    if st != State::Done && wt.path.is_dir() {
        // Forced: what the worker left uncommitted in its worktree is part of what lands.
        crate::lifecycle::worktree::commit_work(w, &wt, st)?;
    }
    let tip = git::branch_tip(repo, &wt.branch).ok_or_else(|| {
        UserError::failed(format!(
            "branch {} is gone from {}; nothing to land",
            wt.branch,
            repo.display()
        ))
    })?;
    if let Some(prev) = crate::ops::worktree::landed(w)
        && prev.branch_tip == tip
    {
        return Err(UserError::failed(format!(
            "{} is already landed on {} ({} at {})",
            w.address(),
            prev.into,
            prev.mode,
            short(&prev.commit)
        ))
        .into());
    }
    let target = match &opts.into {
        Some(b) => b.clone(),
        None => git::current_branch(repo).ok_or_else(|| {
            UserError::usage(format!(
                "the checkout {} is on a detached HEAD; name the branch to land on with --into BRANCH",
                repo.display()
            ))
        })?,
    };
    let target_tip = git::branch_tip(repo, &target).ok_or_else(|| {
        UserError::usage(format!(
            "--into {target}: no branch {target} in {}",
            repo.display()
        ))
    })?;
    let commits = git::commits_between(repo, &target_tip, &tip)?;
    if commits.is_empty() {
        let why = if tip == wt.base {
            format!(
                "{} changed nothing (its branch {} is at the commit it started from)",
                w.address(),
                wt.branch
            )
        } else {
            format!("{target} already holds everything on {}", wt.branch)
        };
        return Err(UserError::failed(format!("nothing to land: {why}")).into());
    }
    // Where the target is checked out, its files move with it: only a clean checkout.
    let checked_out = git::worktrees(repo)?
        .into_iter()
        .find(|t| t.branch.as_deref() == Some(target.as_str()));
    let in_checkout = match &checked_out {
        Some(t) if same_dir(&t.path, repo) => true,
        Some(t) => {
            return Err(UserError::failed(format!(
                "branch {target} is checked out in {}, not in {}; land it there with `git -C {} merge {}`, or --into another branch",
                t.path.display(),
                repo.display(),
                t.path.display(),
                wt.branch
            ))
            .into());
        }
        None => false,
    };
    if in_checkout {
        let dirty = git::dirty_files(repo)?;
        if !dirty.is_empty() {
            return Err(UserError::failed(format!(
                "the checkout {} has uncommitted changes ({}); commit or stash them, then land again",
                repo.display(),
                list(&dirty)
            ))
            .into());
        }
    }
    let trailer = format!("Orch-Run: {}\nOrch-Worker: {}", w.run, w.label);
    let fast_forward = opts.mode != Mode::Squash && git::is_ancestor(repo, &target_tip, &tip)?;
    let new = if fast_forward {
        tip.clone()
    } else {
        match opts.mode {
            Mode::Merge => {
                let tree = merged(repo, &target_tip, &tip, None, &target, &wt.branch)?;
                let msg = format!("Merge {} into {target}\n\n{trailer}", wt.branch);
                git::commit_tree(repo, &tree, &[&target_tip, &tip], &msg, None)?
            }
            Mode::Squash => {
                let tree = merged(repo, &target_tip, &tip, None, &target, &wt.branch)?;
                if tree == git::tree_of(repo, &target_tip)? {
                    return Err(UserError::failed(format!(
                        "nothing to land: {target} already has every change of {}",
                        wt.branch
                    ))
                    .into());
                }
                let msg = squash_message(repo, &commits, &wt.branch, &trailer)?;
                git::commit_tree(repo, &tree, &[&target_tip], &msg, None)?
            }
            Mode::Rebase => {
                let mut cur = target_tip.clone();
                for c in &commits {
                    let parent = format!("{c}^");
                    let tree = merged(repo, &cur, c, Some(&parent), &target, &wt.branch)?;
                    let info = git::commit_info(repo, c)?;
                    cur = git::commit_tree(
                        repo,
                        &tree,
                        &[&cur],
                        &info.message,
                        Some((&info.author_name, &info.author_email, &info.author_date)),
                    )?;
                }
                cur
            }
        }
    };
    if in_checkout {
        git::fast_forward(repo, &new)?;
    } else {
        git::update_branch(
            repo,
            &target,
            &new,
            &target_tip,
            &format!("orch land {}", w.address()),
        )?;
    }
    let record = LandRecord {
        schema: crate::store::SCHEMA,
        landed_at: Utc::now(),
        into: target,
        mode: opts.mode.as_str().to_string(),
        commit: new,
        branch_tip: tip,
        forced: st != State::Done,
    };
    transition::landed(w, &record)?;
    Ok(Landed {
        record,
        branch: wt.branch,
        commits: commits.len(),
        fast_forward,
        repo: wt.repo,
    })
}

/// The tree of `theirs` merged into `ours`, or the refusal naming the conflicted files.
fn merged(
    repo: &std::path::Path,
    ours: &str,
    theirs: &str,
    base: Option<&str>,
    target: &str,
    branch: &str,
) -> Result<String> {
    match git::merge_tree(repo, ours, theirs, base)? {
        Ok(tree) => Ok(tree),
        Err(files) => Err(UserError::failed(format!(
            "conflict in {}: {branch} does not apply cleanly to {target}, which changed the same lines since; nothing was changed (`orch diff` shows the worker's side)",
            list(&files)
        ))
        .into()),
    }
}

fn squash_message(
    repo: &std::path::Path,
    commits: &[String],
    branch: &str,
    trailer: &str,
) -> Result<String> {
    if let [one] = commits {
        let info = git::commit_info(repo, one)?;
        let body: Vec<&str> = info
            .message
            .lines()
            .filter(|l| !l.starts_with("Orch-Run:") && !l.starts_with("Orch-Worker:"))
            .collect();
        return Ok(format!("{}\n\n{trailer}", body.join("\n").trim_end()));
    }
    let mut msg = format!("Squash of {branch} ({} commits)\n\n", commits.len());
    for c in commits {
        let info = git::commit_info(repo, c)?;
        msg.push_str(&format!(
            "* {}\n",
            info.message.lines().next().unwrap_or("")
        ));
    }
    msg.push('\n');
    msg.push_str(trailer);
    Ok(msg)
}

fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    let c = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or(p.to_path_buf());
    c(a) == c(b)
}

fn list(files: &[String]) -> String {
    let shown: Vec<&str> = files.iter().take(8).map(String::as_str).collect();
    let more = files.len().saturating_sub(8);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}
