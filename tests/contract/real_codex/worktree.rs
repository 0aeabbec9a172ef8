//! A `--worktree` writer with the REAL codex in its `workspace-write` sandbox: what codex
//! may do to a git worktree, and that orch's branch holds the work once it is `done`.
//!
//! The repository lives under CARGO_TARGET_TMPDIR, not /tmp: codex's workspace-write
//! sandbox lets every command write /tmp, which would hide what it refuses elsewhere.

use std::path::Path;
use std::process::Command;

use crate::orch::OrchHome;
use crate::standin::{CodexHome, StandIn, Step};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("git prints UTF-8")
}

/// Measured with codex 0.169.0: inside a worktree, the sandbox lets codex write the
/// worktree's files but not its git metadata, which lives in the main repository's
/// `.git/worktrees/<name>/` (`git add` cannot create `index.lock` there). So orch's
/// wrapper, outside the sandbox, commits the work when the worker ends done.
#[test]
fn codex_cannot_commit_in_its_worktree_so_orch_commits_the_work_on_the_branch() {
    let standin = StandIn::builder()
        .queue([
            Step::shell(
                "echo by-codex > codex.txt; git add -A; echo git-add-exit=$?; git -c user.name=c -c user.email=c@x commit -qm by-codex; echo git-commit-exit=$?",
            ),
            Step::reply("Wrote codex.txt."),
        ])
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let repo_dir = crate::scratch_dir("repo-");
    let repo = repo_dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["config", "user.name", "Test User"]);
    git(repo, &["config", "user.email", "user@example.com"]);
    std::fs::write(repo.join("a.txt"), "one\n").unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "init"]);
    let base = git(repo, &["rev-parse", "HEAD"]).trim().to_string();

    let address = t.spawn(
        &codex,
        &[
            "--worktree",
            "--sandbox",
            "workspace-write",
            "--cd",
            repo.to_str().unwrap(),
            "Write codex.txt and commit it.",
        ],
    );
    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&address));

    // What the sandbox said to codex's git.
    let requests = standin.responses_requests();
    let output = requests[1]
        .input()
        .into_iter()
        .find(|i| i["type"] == "function_call_output")
        .expect("the command's output goes back to the model");
    let text = output["output"].as_str().unwrap_or("").to_string();
    eprintln!("codex's git in the worktree said:\n{text}");
    assert!(text.contains("index.lock"), "{text}");
    assert!(!text.contains("git-add-exit=0"), "{text}");
    assert!(!text.contains("git-commit-exit=0"), "{text}");

    // The file codex wrote is on the worker's branch, in one commit by orch.
    let branch = format!("orch/{address}");
    let commits = git(repo, &["rev-list", &format!("{base}..{branch}")]);
    assert_eq!(commits.lines().count(), 1, "{commits}");
    let log = git(repo, &["log", "-1", "--format=%an%n%B", &branch]);
    assert!(log.starts_with("orch\nWrote codex.txt."), "{log}");
    let files = git(repo, &["diff", "--name-only", &base, &branch]);
    assert_eq!(files.trim(), "codex.txt");
    // The user's checkout did not move.
    assert_eq!(git(repo, &["rev-parse", "HEAD"]).trim(), base);
    assert!(!repo.join("codex.txt").exists());
}
