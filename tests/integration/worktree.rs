//! `--worktree` workers on real git repositories in temp folders: parallel writers,
//! `orch diff`, `orch land` and its refusals, gc keeping unlanded branches, the include
//! list, the setup command and best-of-N.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{TestHome, run_of};

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn git_ok(dir: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
        .status
        .success()
}

/// A repository with one commit: `a.txt` ("one"), a .gitignore that hides `.env` and
/// `local/`, and a user identity of its own.
pub fn repo(t: &TestHome) -> PathBuf {
    let r = PathBuf::from(t.subdir("repo"));
    git(&r, &["init", "-q", "-b", "main"]);
    git(&r, &["config", "user.name", "Test User"]);
    git(&r, &["config", "user.email", "user@example.com"]);
    std::fs::write(r.join("a.txt"), "one\n").unwrap();
    std::fs::write(r.join(".gitignore"), ".env\nlocal/\n").unwrap();
    git(&r, &["add", "-A"]);
    git(&r, &["commit", "-q", "-m", "init"]);
    r
}

fn head(r: &Path) -> String {
    git(r, &["rev-parse", "HEAD"]).trim().to_string()
}

/// Spawns a worktree writer in `r` with `prompt`; returns RUN/LABEL.
fn writer(t: &TestHome, r: &Path, extra: &[&str], prompt: &str) -> String {
    let mut a = vec![
        "--worktree",
        "--sandbox",
        "workspace-write",
        "--cd",
        r.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    a.push(prompt);
    t.spawn(&a)
}

fn branch_of(address: &str) -> String {
    format!("orch/{address}")
}

#[test]
fn two_worktree_writers_run_at_once_each_committing_on_its_own_branch() {
    let t = TestHome::new();
    let r = repo(&t);
    let start = head(&r);
    let api = writer(
        &t,
        &r,
        &["--label", "api"],
        "Add the API\nFAKE:write=api.txt=pages\nFAKE:sleep=3",
    );
    let run = run_of(&api).to_string();
    let ui = writer(
        &t,
        &r,
        &["--run", &run, "--label", "ui"],
        "Add the pager\nFAKE:write=ui.txt=pager\nFAKE:sleep=3",
    );
    // Both writers run at the same time: neither waits for the other's writer slot.
    crate::support::eventually(20, "both writers running at once", || {
        let st = t.status(&run);
        let w = st["workers"].as_array().unwrap();
        w.iter().all(|w| w["state"] == "running").then_some(())
    });
    let table = t.ok(&["status", &run]);
    assert!(table.contains("BRANCH"), "{table}");
    assert!(table.contains(&branch_of(&api)), "{table}");
    t.wait_state(&api, "done", 30);
    let w = t.wait_state(&ui, "done", 30);
    assert_eq!(w["branch"], branch_of(&ui), "{w}");

    for (addr, file) in [(&api, "api.txt"), (&ui, "ui.txt")] {
        let b = branch_of(addr);
        // The branch holds the worker's work, committed by orch with run and label.
        let files = git(&r, &["diff", "--name-only", &start, &b]);
        assert_eq!(files.trim(), file, "{addr}");
        let log = git(&r, &["log", "-1", "--format=%an <%ae>%n%B", &b]);
        assert!(log.starts_with("orch <orch@localhost>"), "{log}");
        assert!(log.contains(&format!("Orch-Run: {run}")), "{log}");
        assert!(
            log.contains(&format!("Orch-Worker: {}", addr.split('/').nth(1).unwrap())),
            "{log}"
        );
    }
    // The user's checkout is untouched: same HEAD, no new files.
    assert_eq!(head(&r), start);
    assert!(!r.join("api.txt").exists() && !r.join("ui.txt").exists());
    // codex ran in the worktree, outside the checkout.
    let cwd = t.invocations(&api)[0]["cwd"].as_str().unwrap().to_string();
    assert!(
        cwd.starts_with(t.home.to_str().unwrap()) && !cwd.starts_with(r.to_str().unwrap()),
        "{cwd}"
    );
}

#[test]
fn diff_shows_the_change_against_the_commit_the_worker_started_from() {
    let t = TestHome::new();
    let r = repo(&t);
    let a = writer(&t, &r, &[], "Change a\nFAKE:write=a.txt=two\\n");
    t.wait_state(&a, "done", 30);
    // The checkout moves on; the diff still compares with where the worker started.
    std::fs::write(r.join("c.txt"), "c\n").unwrap();
    git(&r, &["add", "c.txt"]);
    git(&r, &["commit", "-q", "-m", "user work"]);
    let diff = t.ok(&["diff", &a]);
    assert!(diff.contains("-one") && diff.contains("+two"), "{diff}");
    assert!(!diff.contains("c.txt"), "{diff}");
    let stat = t.ok(&["diff", &a, "--stat"]);
    assert!(
        stat.contains("a.txt") && stat.contains("1 file changed"),
        "{stat}"
    );

    // A worker without a worktree has no diff to show, and says where its work is.
    let plain = t.spawn(&["--cd", r.to_str().unwrap(), "Look around"]);
    let err = t.fails(&["diff", &plain], 2);
    assert!(err.contains("not spawned with --worktree"), "{err}");
}

#[test]
fn land_applies_the_branch_to_the_checkout_and_status_says_landed() {
    let t = TestHome::new();
    let r = repo(&t);
    let a = writer(
        &t,
        &r,
        &["--label", "api"],
        "Add b\nFAKE:write=b.txt=bee\\n",
    );
    t.wait_state(&a, "done", 30);
    let out = t.ok(&["land", &a]);
    assert!(
        out.contains("landed") && out.contains("on main") && out.contains("fast-forward"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(r.join("b.txt")).unwrap(), "bee\n");
    assert_eq!(head(&r), git(&r, &["rev-parse", &branch_of(&a)]).trim());
    assert!(git(&r, &["status", "--porcelain"]).is_empty());
    let w = t.worker(&a);
    assert_eq!(w["state"], "done");
    assert_eq!(w["landed"]["into"], "main", "{w}");
    assert_eq!(w["landed"]["mode"], "merge", "{w}");
    let table = t.ok(&["status", run_of(&a)]);
    assert!(table.contains("landed"), "{table}");
    // Landing twice is refused.
    let err = t.fails(&["land", &a], 1);
    assert!(err.contains("already landed"), "{err}");

    // --squash onto a target that moved: one new commit on top, the worker's message.
    let b = writer(
        &t,
        &r,
        &["--run", run_of(&a), "--label", "sq"],
        "Add d\nFAKE:write=d.txt=dee\\n",
    );
    t.wait_state(&b, "done", 30);
    std::fs::write(r.join("e.txt"), "e\n").unwrap();
    git(&r, &["add", "e.txt"]);
    git(&r, &["commit", "-q", "-m", "user e"]);
    let before = head(&r);
    t.ok(&["land", &b, "--squash"]);
    assert_eq!(git(&r, &["rev-parse", "HEAD~1"]).trim(), before);
    assert_eq!(
        git(&r, &["rev-list", "--count", "--merges", "HEAD"]).trim(),
        "0"
    );
    assert!(r.join("d.txt").is_file());

    // --rebase --into another branch that moved: the commits are replayed there (author
    // kept), the checkout does not move.
    git(&r, &["branch", "release", "HEAD"]);
    let c = writer(
        &t,
        &r,
        &["--run", run_of(&a), "--label", "rb", "--base", "release"],
        "Add f\nFAKE:write=f.txt=eff\\n",
    );
    t.wait_state(&c, "done", 30);
    git(&r, &["commit", "-q", "--allow-empty", "-m", "unrelated"]);
    git(&r, &["branch", "-f", "release", "main"]);
    let main_before = head(&r);
    t.ok(&["land", &c, "--rebase", "--into", "release"]);
    assert_eq!(head(&r), main_before);
    assert!(!r.join("f.txt").exists());
    let files = git(&r, &["show", "--name-only", "--format=%an", "release"]);
    assert_eq!(files.trim(), "orch\n\nf.txt");
    assert_eq!(git(&r, &["rev-parse", "release~1"]).trim(), main_before);
}

#[test]
fn land_refuses_a_conflict_a_dirty_checkout_and_a_worker_not_done_changing_nothing() {
    let t = TestHome::new();
    let r = repo(&t);
    let conflict = writer(
        &t,
        &r,
        &["--label", "c"],
        "Edit a\nFAKE:write=a.txt=worker\\n",
    );
    let run = run_of(&conflict).to_string();
    t.wait_state(&conflict, "done", 30);
    // The user changed the same line meanwhile.
    std::fs::write(r.join("a.txt"), "user\n").unwrap();
    git(&r, &["commit", "-q", "-am", "user edit"]);
    let before = head(&r);
    let err = t.fails(&["land", &conflict], 1);
    assert!(err.contains("conflict in a.txt"), "{err}");
    assert_eq!(head(&r), before);
    assert!(git(&r, &["status", "--porcelain"]).is_empty());
    assert_eq!(std::fs::read_to_string(r.join("a.txt")).unwrap(), "user\n");
    assert!(t.worker(&conflict).get("landed").is_none());

    // A dirty checkout is refused before anything moves.
    let clean = writer(
        &t,
        &r,
        &["--run", &run, "--label", "n"],
        "New file\nFAKE:write=n.txt=new\\n",
    );
    t.wait_state(&clean, "done", 30);
    std::fs::write(r.join("a.txt"), "uncommitted\n").unwrap();
    let err = t.fails(&["land", &clean], 1);
    assert!(
        err.contains("uncommitted changes (a.txt)"),
        "the refusal names the file: {err}"
    );
    assert_eq!(head(&r), before);
    assert!(!r.join("n.txt").exists());
    assert_eq!(
        std::fs::read_to_string(r.join("a.txt")).unwrap(),
        "uncommitted\n"
    );
    git(&r, &["checkout", "-q", "a.txt"]);

    // A failed worker is refused; --force lands what it left in its worktree.
    let failed = writer(
        &t,
        &r,
        &["--run", &run, "--label", "f"],
        "Half done\nFAKE:write=half.txt=half\\n\nFAKE:exit=3",
    );
    t.wait_state(&failed, "failed", 30);
    let err = t.fails(&["land", &failed], 1);
    assert!(
        err.contains("ended failed, not done") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(head(&r), before);
    let out = t.ok(&["land", &failed, "--force"]);
    assert!(out.contains("landed"), "{out}");
    assert_eq!(
        std::fs::read_to_string(r.join("half.txt")).unwrap(),
        "half\n"
    );
    assert_eq!(t.worker(&failed)["landed"]["forced"], true);
}

#[test]
fn gc_removes_worktrees_but_keeps_a_branch_with_unlanded_work_unless_forced() {
    let t = TestHome::new();
    let r = repo(&t);
    let landed = writer(&t, &r, &["--label", "l"], "Land me\nFAKE:write=l.txt=l\\n");
    let run = run_of(&landed).to_string();
    let unlanded = writer(
        &t,
        &r,
        &["--run", &run, "--label", "u"],
        "Keep me\nFAKE:write=u.txt=u\\n",
    );
    let unchanged = writer(&t, &r, &["--run", &run, "--label", "z"], "Change nothing");
    for a in [&landed, &unlanded, &unchanged] {
        t.wait_state(a, "done", 30);
    }
    t.ok(&["land", &landed]);
    let dry = t.ok(&["gc", "--older-than", "0s", "--dry-run"]);
    assert!(dry.contains("would remove worktree"), "{dry}");
    assert!(t.home.join("worktrees").join(&run).join("u").is_dir());

    let out = t.ok(&["gc", "--older-than", "0s"]);
    assert!(
        out.contains(&format!("kept branch {}", branch_of(&unlanded)))
            && out.contains("1 commit not on any other branch"),
        "{out}"
    );
    assert!(git_ok(
        &r,
        &["rev-parse", "--verify", &branch_of(&unlanded)]
    ));
    assert!(!git_ok(&r, &["rev-parse", "--verify", &branch_of(&landed)]));
    assert!(!git_ok(
        &r,
        &["rev-parse", "--verify", &branch_of(&unchanged)]
    ));
    assert!(!t.home.join("worktrees").join(&run).exists());
    let listed = git(&r, &["worktree", "list", "--porcelain"]);
    assert_eq!(listed.matches("worktree ").count(), 1, "{listed}");

    // A failed worker's uncommitted edits live only in its worktree: its run is kept.
    let half = writer(
        &t,
        &r,
        &["--label", "h"],
        "Half\nFAKE:write=h.txt=h\\n\nFAKE:exit=3",
    );
    t.wait_state(&half, "failed", 30);
    let out = t.ok(&["gc", "--older-than", "0s"]);
    assert!(
        out.contains(&format!("kept run {}", run_of(&half)))
            && out.contains("uncommitted changes (1 file)"),
        "{out}"
    );
    assert!(t.home.join("worktrees").join(&half).join("h.txt").is_file());
    assert_eq!(t.state(&half), "failed");

    // --force deletes an unlanded branch too (and drops uncommitted edits).
    let forced = writer(&t, &r, &["--label", "g"], "Drop me\nFAKE:write=g.txt=g\\n");
    t.wait_state(&forced, "done", 30);
    let out = t.ok(&["gc", "--older-than", "0s", "--force"]);
    assert!(out.contains(&branch_of(&forced)), "{out}");
    assert!(!git_ok(&r, &["rev-parse", "--verify", &branch_of(&forced)]));
    assert!(!git_ok(&r, &["rev-parse", "--verify", &branch_of(&half)]));
    assert!(!t.home.join("worktrees").join(&half).exists());
    // The branch kept before stays kept: its run is gone, the branch is the user's now.
    assert!(git_ok(
        &r,
        &["rev-parse", "--verify", &branch_of(&unlanded)]
    ));
}

#[test]
fn listed_gitignored_files_are_copied_into_the_worktree_and_never_committed() {
    let t = TestHome::new();
    let r = repo(&t);
    std::fs::write(r.join(".env"), "SECRET=1\n").unwrap();
    std::fs::create_dir_all(r.join("local/deep")).unwrap();
    std::fs::write(r.join("local/deep/cfg"), "x\n").unwrap();
    std::fs::create_dir_all(r.join(".orch")).unwrap();
    std::fs::write(
        r.join(".orch/worktree-include"),
        "# copied into every worktree\n.env\nmissing.txt\n",
    )
    .unwrap();
    git(&r, &["add", ".orch"]);
    git(&r, &["commit", "-q", "-m", "include list"]);
    let a = writer(
        &t,
        &r,
        &["--include", "local"],
        "Read the env\nFAKE:reply-file=.env",
    );
    t.wait_state(&a, "done", 30);
    // codex saw the copy: its reply is the file's content.
    assert_eq!(t.ok(&["result", &a]), "SECRET=1\n");
    let tree = t.home.join("worktrees").join(&a);
    assert_eq!(
        std::fs::read_to_string(tree.join("local/deep/cfg")).unwrap(),
        "x\n"
    );
    // Gitignored copies stay out of the branch.
    let files = git(&r, &["ls-tree", "-r", "--name-only", &branch_of(&a)]);
    assert!(
        !files.contains(".env\n") && !files.contains("local/"),
        "{files}"
    );
}

#[test]
fn the_setup_command_runs_in_the_worktree_before_codex_and_its_failure_fails_the_worker() {
    let t = TestHome::new();
    let r = repo(&t);
    let a = writer(
        &t,
        &r,
        &["--setup", "echo \"set up in $(pwd)\" > .env"],
        "Report\nFAKE:reply-file=.env",
    );
    t.wait_state(&a, "done", 30);
    let tree = t.home.join("worktrees").join(&a);
    assert_eq!(
        t.ok(&["result", &a]),
        format!("set up in {}\n", tree.display())
    );

    // The shared script in the checkout runs when --setup is not given.
    std::fs::create_dir_all(r.join(".orch")).unwrap();
    std::fs::write(
        r.join(".orch/worktree-setup"),
        "echo broken setup >&2\nexit 3\n",
    )
    .unwrap();
    git(&r, &["add", ".orch"]);
    git(&r, &["commit", "-q", "-m", "setup script"]);
    let b = writer(&t, &r, &["--run", run_of(&a)], "Never runs");
    let w = t.wait_state(&b, "failed", 30);
    let err = w["error"].as_str().unwrap();
    assert!(
        err.contains("setup command failed (exit 3)") && err.contains("setup.log"),
        "{err}"
    );
    assert!(t.invocations(&b).is_empty(), "codex must not start");
    let log = std::fs::read_to_string(t.worker_dir(&b).join("setup.log")).unwrap();
    assert!(log.contains("broken setup"), "{log}");
}

/// `fanout --attempts N` in `r` with `task`; returns the run id.
fn best_of(t: &TestHome, r: &Path, n: &str, task: &str) -> String {
    t.ok(&[
        "fanout",
        "--attempts",
        n,
        "--worktree",
        "--cd",
        r.to_str().unwrap(),
        task,
    ])
    .trim()
    .to_string()
}

#[test]
fn best_of_n_runs_n_attempts_then_a_verifier_whose_pick_orch_land_run_lands() {
    let t = TestHome::new();
    let r = repo(&t);
    let run = best_of(
        &t,
        &r,
        "3",
        "Fix it\n\
         FAKE:@A1:write=fix.txt=first\\n\n\
         FAKE:@A2:write=fix.txt=second\\n\n\
         FAKE:@A3:write=fix.txt=third, longer\\n\n\
         FAKE:@pick:reply=A1 works; A2 works and is smaller.\\n\\n**Best:** A2\n",
    );
    let st = t.status(&run);
    let labels: Vec<&str> = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["A1", "A2", "A3", "pick"]);
    for l in ["A1", "A2", "A3"] {
        let w = t.wait_state(&format!("{run}/{l}"), "done", 30);
        assert_eq!(w["role"], "implementer");
        assert_eq!(w["sandbox"], "workspace-write");
        let stat = t.ok(&["diff", &format!("{run}/{l}"), "--stat"]);
        assert!(stat.contains("fix.txt"), "{stat}");
    }
    let pick = t.wait_state(&format!("{run}/pick"), "done", 30);
    assert_eq!(pick["role"], "verifier");
    assert_eq!(pick["sandbox"], "read-only");
    // The verifier was given each attempt's branch and diff, in its own checkout.
    let inv = t.invocations(&format!("{run}/pick"));
    let prompt = inv[0]["prompt"].as_str().unwrap();
    for (l, text) in [
        ("A1", "+first"),
        ("A2", "+second"),
        ("A3", "+third, longer"),
    ] {
        assert!(
            prompt.contains(&format!("Branch: orch/{run}/{l}")),
            "{prompt}"
        );
        assert!(prompt.contains(text), "{l}'s diff in {prompt}");
    }
    assert!(prompt.contains("fix.txt | 1 +"), "the stat: {prompt}");
    assert!(
        prompt.contains("Best: A2"),
        "the format it must answer in: {prompt}"
    );
    assert_eq!(
        std::fs::canonicalize(inv[0]["cwd"].as_str().unwrap()).unwrap(),
        std::fs::canonicalize(&r).unwrap()
    );
    assert_eq!(t.status(&run)["picked"], "A2");
    let table = t.ok(&["status", &run]);
    assert!(
        table.contains(&format!("picked A2 · `orch land {run}` lands it")),
        "{table}"
    );

    let out = t.ok(&["land", &run]);
    assert!(out.contains(&format!("landed {run}/A2")), "{out}");
    assert_eq!(
        std::fs::read_to_string(r.join("fix.txt")).unwrap(),
        "second\n"
    );
    assert_eq!(t.worker(&format!("{run}/A2"))["landed"]["mode"], "merge");
    assert!(t.worker(&format!("{run}/A1")).get("landed").is_none());
    let again = t.fails(&["land", &run], 1);
    assert!(again.contains("already landed"), "{again}");
}

#[test]
fn the_verifier_runs_when_one_attempt_failed_and_is_skipped_when_all_did() {
    let t = TestHome::new();
    let r = repo(&t);
    let run = best_of(
        &t,
        &r,
        "2",
        "Fix it\n\
         FAKE:@A1:fail=model refused\n\
         FAKE:@A2:write=fix.txt=two\\n\n\
         FAKE:@pick:reply=Only A2 ended done.\\nBest: A2\n",
    );
    t.wait_state(&format!("{run}/A1"), "failed", 30);
    t.wait_state(&format!("{run}/pick"), "done", 30);
    let prompt = t.invocations(&format!("{run}/pick"))[0]["prompt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        prompt.contains("It ended failed, not done: it is not a candidate."),
        "{prompt}"
    );
    assert!(prompt.contains("+two"), "{prompt}");
    t.ok(&["land", &run]);
    assert_eq!(std::fs::read_to_string(r.join("fix.txt")).unwrap(), "two\n");

    let all_failed = best_of(&t, &r, "2", "Fix it\nFAKE:@A1:exit=3\nFAKE:@A2:exit=3\n");
    let pick = t.wait_state(&format!("{all_failed}/pick"), "skipped", 30);
    assert!(
        pick["error"]
            .as_str()
            .unwrap()
            .contains("no dependency ended done (A1 failed, A2 failed)"),
        "{pick}"
    );
    let err = t.fails(&["land", &all_failed], 1);
    assert!(
        err.contains(&format!(
            "{all_failed}/pick ended skipped and named no attempt"
        )),
        "{err}"
    );
}

#[test]
fn land_run_refuses_until_the_verifier_names_a_known_attempt() {
    let t = TestHome::new();
    let r = repo(&t);
    let gate = t.path().join("gate");
    let held = best_of(
        &t,
        &r,
        "2",
        &format!("Fix it\nFAKE:@pick:wait-for={}\n", gate.display()),
    );
    t.wait_state(&format!("{held}/pick"), "running", 30);
    let err = t.fails(&["land", &held], 1);
    assert!(
        err.contains(&format!("{held}/pick is still running"))
            && err.contains(&format!("orch wait {held}/pick")),
        "{err}"
    );
    std::fs::write(&gate, "").unwrap();
    t.wait_state(&format!("{held}/pick"), "done", 30);

    let before = head(&r);
    for (reply, want) in [
        (
            "Neither passes the tests.\\nBest: none",
            "found no attempt fit to land",
        ),
        (
            "Best: A7",
            "named A7, which is not one of the attempts (A1, A2)",
        ),
        ("A2 looks best to me.", "has no `Best: LABEL` line"),
    ] {
        let run = best_of(
            &t,
            &r,
            "2",
            &format!("Fix it\nFAKE:@A2:write=fix.txt=x\\n\nFAKE:@pick:reply={reply}\n"),
        );
        t.wait_state(&format!("{run}/pick"), "done", 30);
        let err = t.fails(&["land", &run], 1);
        assert!(err.contains(want), "{reply}: {err}");
        assert!(
            err.contains(&format!("orch land {run}/A1")),
            "says how to land one yourself: {err}"
        );
        assert!(t.status(&run).get("picked").is_none());
        assert_eq!(head(&r), before, "nothing landed");
    }
    // A run that is no best-of-N: name a worker.
    let plain = writer(&t, &r, &["--label", "w"], "Edit\nFAKE:write=w.txt=w\\n");
    let err = t.fails(&["land", run_of(&plain)], 2);
    assert!(err.contains("has no pick worker"), "{err}");
}

#[test]
fn worktree_needs_a_git_repository_and_says_so_leaving_no_run() {
    let t = TestHome::new();
    let plain = t.subdir("plain");
    let err = t.fails(
        &[
            "spawn",
            "--worktree",
            "--sandbox",
            "workspace-write",
            "--cd",
            &plain,
            "Work",
        ],
        2,
    );
    assert!(
        err.contains("is not inside a git repository") && err.contains("--worktree"),
        "{err}"
    );
    let runs = std::fs::read_dir(t.home.join("runs")).map_or(0, |d| d.count());
    assert_eq!(runs, 0);
}

fn worktree_check(t: &TestHome) -> serde_json::Value {
    let out = t.run(&["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "worktrees")
        .cloned()
        .unwrap_or_else(|| panic!("no worktrees check: {v}"))
}

#[test]
fn doctor_reports_stale_worktrees_with_their_disk_use() {
    let t = TestHome::new();
    let r = repo(&t);
    let a = writer(&t, &r, &["--label", "a"], "Work\nFAKE:write=w.txt=w\\n");
    let b = writer(&t, &r, &["--run", run_of(&a), "--label", "b"], "More");
    t.wait_state(&a, "done", 30);
    t.wait_state(&b, "done", 30);
    let c = worktree_check(&t);
    assert_eq!(c["ok"], true, "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("no stale worktrees"),
        "{c}"
    );

    // A worker folder removed by hand leaves its worktree behind, owned by no one; a
    // worktree folder removed by hand leaves git's record of it (prunable).
    std::fs::remove_dir_all(t.worker_dir(&a)).unwrap();
    let b_tree = t.home.join("worktrees").join(&b);
    std::fs::remove_dir_all(&b_tree).unwrap();
    let c = worktree_check(&t);
    assert_eq!(c["ok"], false, "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("2 worktrees stale"), "{detail}");
    assert!(
        detail.contains(&format!("no worker {a} owns it")) && detail.contains(" MB"),
        "{detail}"
    );
    assert!(
        detail.contains(b_tree.to_str().unwrap()) && detail.contains("prunable"),
        "{detail}"
    );
    assert!(c["fix"].as_str().unwrap().contains("worktree prune"), "{c}");
}

#[test]
fn spawns_at_once_and_another_gits_index_lock_do_not_break_worktrees_or_land() {
    let t = TestHome::new();
    let r = repo(&t);
    let first = writer(&t, &r, &["--label", "x0"], "Seed");
    let run = run_of(&first).to_string();
    // Four spawns at the same moment into one repository: each gets its worktree.
    let children: Vec<_> = (1..=4)
        .map(|i| {
            t.cmd()
                .args([
                    "spawn",
                    "--run",
                    &run,
                    "--label",
                    &format!("x{i}"),
                    "--worktree",
                    "--sandbox",
                    "workspace-write",
                    "--cd",
                    r.to_str().unwrap(),
                    &format!("Write\nFAKE:write=x{i}.txt=x\\n"),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for i in 0..=4 {
        t.wait_state(&format!("{run}/x{i}"), "done", 30);
    }
    let listed = git(&r, &["worktree", "list", "--porcelain"]);
    assert_eq!(
        listed.matches("branch refs/heads/orch/").count(),
        5,
        "{listed}"
    );

    // Another git holds the checkout's index.lock for a moment: land waits it out.
    let lock = r.join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let held = lock.clone();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(600));
        std::fs::remove_file(held).unwrap();
    });
    t.ok(&["land", &format!("{run}/x1")]);
    release.join().unwrap();
    assert!(r.join("x1.txt").is_file());

    // A lock that stays is reported, naming the repository, and nothing moved.
    std::fs::write(&lock, "").unwrap();
    let before = head(&r);
    let err = t.fails(&["land", &format!("{run}/x2")], 1);
    assert!(
        err.contains("index.lock") && err.contains(r.to_str().unwrap()),
        "{err}"
    );
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(head(&r), before);
    assert!(t.worker(&format!("{run}/x2")).get("landed").is_none());
}
