//! A `--worktree` writer with the REAL codex in its `workspace-write` sandbox: what codex
//! may do to a git worktree, and that orch's branch holds the work once it is `done`.
//!
//! The repository lives under CARGO_TARGET_TMPDIR, not /tmp: codex's workspace-write
//! sandbox lets every command write /tmp, which would hide what it refuses elsewhere.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

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

/// A repository with one commit (`a.txt` "one", a .gitignore hiding `.env`) under
/// CARGO_TARGET_TMPDIR, and its own user identity.
fn repo() -> tempfile::TempDir {
    let dir = crate::scratch_dir("repo-");
    let r = dir.path();
    git(r, &["init", "-q", "-b", "main"]);
    git(r, &["config", "user.name", "Test User"]);
    git(r, &["config", "user.email", "user@example.com"]);
    std::fs::write(r.join("a.txt"), "one\n").unwrap();
    std::fs::write(r.join(".gitignore"), ".env\n").unwrap();
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "init"]);
    dir
}

fn head(r: &Path) -> String {
    git(r, &["rev-parse", "HEAD"]).trim().to_string()
}

/// A `--worktree` writer in `repo` with the real codex.
fn writer(t: &OrchHome, codex: &CodexHome, repo: &Path, extra: &[&str], task: &str) -> String {
    let mut args = vec![
        "--worktree",
        "--sandbox",
        "workspace-write",
        "--cd",
        repo.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(task);
    t.spawn(codex, &args)
}

fn wait_done(t: &OrchHome, codex: &CodexHome, address: &str) {
    let w = t.wait_final(codex, address);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(address));
}

/// The output codex sent back for its command in the request whose prompt has `needle`.
fn command_output(standin: &StandIn, needle: &str) -> String {
    standin
        .responses_requests()
        .iter()
        .filter(|r| r.prompts().last().is_some_and(|p| p.contains(needle)))
        .flat_map(|r| r.input())
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| i["output"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// When the stand-in got the first request of the turn whose prompt has `needle`, and
/// the request that carried its command's output back.
fn turn_times(standin: &StandIn, needle: &str) -> (std::time::Instant, std::time::Instant) {
    let mine: Vec<_> = standin
        .responses_requests()
        .into_iter()
        .filter(|r| r.prompts().last().is_some_and(|p| p.contains(needle)))
        .collect();
    let first = mine
        .iter()
        .find(|r| {
            !r.input()
                .iter()
                .any(|i| i["type"] == "function_call_output")
        })
        .expect("a first request")
        .received;
    let back = mine
        .iter()
        .find(|r| {
            r.input()
                .iter()
                .any(|i| i["type"] == "function_call_output")
        })
        .expect("a request with the command's output")
        .received;
    (first, back)
}

const HOLD: Duration = Duration::from_secs(3);

/// Three real codex writers, each in its own worktree, run at once: the stand-in holds
/// each one's first answer (the command that writes its file) for HOLD, and every
/// worker's first request arrives before any of them gets its command's output back.
/// Then `orch diff`, and `orch land` in each mode.
#[test]
fn three_real_codex_writers_run_at_once_then_diff_and_land_in_each_mode() {
    let standin = StandIn::builder()
        .route_then(
            "Write api.txt",
            Step::shell("printf 'api\\n' > api.txt").after(HOLD),
            Step::reply("Wrote api.txt."),
        )
        .route_then(
            "Write ui.txt",
            Step::shell("printf 'ui\\n' > ui.txt").after(HOLD),
            Step::reply("Wrote ui.txt."),
        )
        .route_then(
            "Write docs.txt",
            Step::shell("printf 'docs\\n' > docs.txt").after(HOLD),
            Step::reply("Wrote docs.txt."),
        )
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let dir = repo();
    let r = dir.path();
    let api = writer(&t, &codex, r, &["--label", "api"], "Write api.txt.");
    let run = crate::orch::run_of(&api).to_string();
    let ui = writer(
        &t,
        &codex,
        r,
        &["--run", &run, "--label", "ui"],
        "Write ui.txt.",
    );
    let docs = writer(
        &t,
        &codex,
        r,
        &["--run", &run, "--label", "docs"],
        "Write docs.txt.",
    );
    for a in [&api, &ui, &docs] {
        wait_done(&t, &codex, a);
    }
    let times: Vec<_> = ["Write api.txt", "Write ui.txt", "Write docs.txt"]
        .iter()
        .map(|n| turn_times(&standin, n))
        .collect();
    let earliest = times.iter().map(|(f, _)| *f).min().unwrap();
    for (i, (first, _)) in times.iter().enumerate() {
        for (j, (_, back)) in times.iter().enumerate() {
            assert!(
                i == j || first < back,
                "writer {i} only reached codex after writer {j} had finished its command"
            );
        }
    }
    eprintln!(
        "first requests at +{:?}; outputs back at +{:?}",
        times.iter().map(|(f, _)| *f - earliest).collect::<Vec<_>>(),
        times.iter().map(|(_, b)| *b - earliest).collect::<Vec<_>>()
    );
    // Each branch holds only its own file; the checkout has none of them yet.
    for (a, file) in [(&api, "api.txt"), (&ui, "ui.txt"), (&docs, "docs.txt")] {
        let stat = t.ok(&codex, &["diff", a, "--stat"]);
        assert!(stat.contains(&format!("{file} | 1 +")), "{stat}");
        assert!(stat.contains("1 file changed"), "{stat}");
        assert!(!r.join(file).exists());
    }
    let diff = t.ok(&codex, &["diff", &api]);
    assert!(
        diff.contains("+++ b/api.txt") && diff.contains("\n+api"),
        "{diff}"
    );

    // merge: the target has not moved, so a fast-forward to the branch.
    let out = t.ok(&codex, &["land", &api]);
    assert!(out.contains("by fast-forward"), "{out}");
    assert_eq!(
        head(r),
        git(r, &["rev-parse", &format!("orch/{api}")]).trim()
    );
    assert_eq!(std::fs::read_to_string(r.join("api.txt")).unwrap(), "api\n");

    // --squash: one new commit on the moved target, with the worker's trailers.
    let before = head(r);
    let out = t.ok(&codex, &["land", &ui, "--squash"]);
    assert!(out.contains("as one squashed commit"), "{out}");
    assert_eq!(git(r, &["rev-parse", "HEAD^"]).trim(), before);
    assert_eq!(
        git(r, &["log", "-1", "--format=%P"])
            .split_whitespace()
            .count(),
        1
    );
    assert!(git(r, &["log", "-1", "--format=%B"]).contains("Orch-Worker: ui"));
    assert_eq!(std::fs::read_to_string(r.join("ui.txt")).unwrap(), "ui\n");

    // --rebase: the worker's commit replayed on the target, its author kept.
    let before = head(r);
    let out = t.ok(&codex, &["land", &docs, "--rebase"]);
    assert!(out.contains("rebased"), "{out}");
    assert_eq!(git(r, &["rev-parse", "HEAD^"]).trim(), before);
    assert_ne!(
        head(r),
        git(r, &["rev-parse", &format!("orch/{docs}")]).trim()
    );
    assert_eq!(
        git(r, &["log", "-1", "--format=%an %s"]).trim(),
        "orch Wrote docs.txt."
    );
    assert_eq!(
        std::fs::read_to_string(r.join("docs.txt")).unwrap(),
        "docs\n"
    );
    assert!(git(r, &["status", "--porcelain"]).is_empty());
    for a in [&api, &ui, &docs] {
        assert!(
            t.worker(&codex, a)["landed"].is_object(),
            "{a} shows landed"
        );
    }
}

/// A real codex edit that conflicts with the user's own commit is refused with nothing
/// changed; a dirty checkout is refused; gc keeps the branches that hold unlanded work.
#[test]
fn a_conflicting_land_and_a_dirty_checkout_are_refused_and_gc_keeps_unlanded_branches() {
    let standin = StandIn::builder()
        .route_then(
            "Edit a.txt",
            Step::shell("printf 'worker\\n' > a.txt"),
            Step::reply("Edited a.txt."),
        )
        .route_then(
            "Write n.txt",
            Step::shell("printf 'new\\n' > n.txt"),
            Step::reply("Wrote n.txt."),
        )
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let dir = repo();
    let r = dir.path();
    let c = writer(&t, &codex, r, &["--label", "c"], "Edit a.txt.");
    let run = crate::orch::run_of(&c).to_string();
    let n = writer(
        &t,
        &codex,
        r,
        &["--run", &run, "--label", "n"],
        "Write n.txt.",
    );
    wait_done(&t, &codex, &c);
    wait_done(&t, &codex, &n);

    std::fs::write(r.join("a.txt"), "user\n").unwrap();
    git(r, &["commit", "-q", "-am", "user edit"]);
    let before = head(r);
    let out = t.run(&codex, &["land", &c]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict in a.txt") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(head(r), before);
    assert!(git(r, &["status", "--porcelain"]).is_empty());
    assert_eq!(std::fs::read_to_string(r.join("a.txt")).unwrap(), "user\n");

    std::fs::write(r.join("a.txt"), "uncommitted\n").unwrap();
    let out = t.run(&codex, &["land", &n]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has uncommitted changes (a.txt)"), "{err}");
    assert_eq!(head(r), before);
    assert!(!r.join("n.txt").exists());
    assert_eq!(
        std::fs::read_to_string(r.join("a.txt")).unwrap(),
        "uncommitted\n"
    );
    git(r, &["checkout", "-q", "a.txt"]);

    let trees: Vec<std::path::PathBuf> = [&c, &n]
        .iter()
        .map(|a| t.home.join("worktrees").join(a))
        .collect();
    assert!(trees.iter().all(|p| p.is_dir()), "{trees:?}");
    let out = t.ok(&codex, &["gc", "--older-than", "0s"]);
    for a in [&c, &n] {
        assert!(
            out.contains(&format!("kept branch orch/{a}"))
                && out.contains("1 commit not on any other branch"),
            "{out}"
        );
        assert!(!git(r, &["branch", "--list", &format!("orch/{a}")]).is_empty());
    }
    assert!(
        trees.iter().all(|p| !p.exists()),
        "worktrees removed: {trees:?}"
    );
}

/// `.orch/worktree-include` copies a gitignored `.env` into the worktree, where the real
/// codex's sandboxed shell reads it; it never reaches the branch.
#[test]
fn a_listed_gitignored_env_is_copied_into_the_worktree_and_codex_can_read_it() {
    let standin = StandIn::builder()
        .route_then(
            "Read the env file",
            Step::shell("cat .env"),
            Step::reply("Read .env."),
        )
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let dir = repo();
    let r = dir.path();
    std::fs::write(r.join(".env"), "API_URL=http://localhost:9/s3cret-42\n").unwrap();
    std::fs::create_dir(r.join(".orch")).unwrap();
    std::fs::write(r.join(".orch/worktree-include"), "# secrets\n.env\n").unwrap();
    let w = writer(&t, &codex, r, &["--label", "env"], "Read the env file.");
    wait_done(&t, &codex, &w);
    let said = command_output(&standin, "Read the env file");
    assert!(said.contains("s3cret-42"), "codex's shell saw: {said}");
    let files = git(r, &["ls-tree", "-r", "--name-only", &format!("orch/{w}")]);
    assert!(!files.lines().any(|f| f == ".env"), "{files}");
}

/// Best-of-N with the real codex: two attempts write different files' contents in their
/// own worktrees, the verifier is given both diffs and names A2, `orch land RUN` lands it.
#[test]
fn best_of_n_end_to_end_the_verifier_sees_both_diffs_and_land_run_lands_its_pick() {
    let standin = StandIn::builder()
        // First: the verifier's prompt also quotes the attempts' task.
        .route(
            "picking one of several attempts",
            Step::reply("A1 and A2 both greet; A2's greeting names its author.\n\n**Best:** A2"),
        )
        .route_then(
            "Fix the greeting",
            // Each attempt writes its own name: the prompts are the same.
            Step::shell("printf 'hello from %s\\n' \"$ORCH_WORKER\" > hello.txt"),
            Step::reply("Fixed hello.txt."),
        )
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let dir = repo();
    let r = dir.path();
    let run = t
        .ok(
            &codex,
            &[
                "fanout",
                "--attempts",
                "2",
                "--worktree",
                "--cd",
                r.to_str().unwrap(),
                "Fix the greeting in hello.txt.",
            ],
        )
        .trim()
        .to_string();
    let pick = format!("{run}/pick");
    wait_done(&t, &codex, &format!("{run}/A1"));
    wait_done(&t, &codex, &format!("{run}/A2"));
    wait_done(&t, &codex, &pick);
    let asked = standin
        .responses_requests()
        .iter()
        .filter_map(|q| q.prompts().last().cloned())
        .find(|p| p.contains("picking one of several attempts"))
        .expect("the verifier asked the model");
    for l in ["A1", "A2"] {
        assert!(
            asked.contains(&format!("Branch: orch/{run}/{l}")),
            "{asked}"
        );
        assert!(asked.contains(&format!("+hello from {run}/{l}")), "{asked}");
    }
    assert_eq!(t.status(&codex, &run)["picked"], "A2");
    let out = t.ok(&codex, &["land", &run]);
    assert!(out.contains(&format!("landed {run}/A2")), "{out}");
    assert_eq!(
        std::fs::read_to_string(r.join("hello.txt")).unwrap(),
        format!("hello from {run}/A2\n")
    );
}

/// The shipped `split-by-sections` with the real codex: its implementers each get a
/// worktree, so the sections run at the same time (each held HOLD at its first answer),
/// each section's work is on its own branch, and each lands.
#[test]
fn split_by_sections_runs_its_real_codex_writers_at_once_each_on_its_branch() {
    let standin = StandIn::builder()
        .route_then(
            "Your section is s1/",
            Step::shell("mkdir -p s1 && printf 'one\\n' > s1/f.txt").after(HOLD),
            Step::reply("Did s1/."),
        )
        .route_then(
            "Your section is s2/",
            Step::shell("mkdir -p s2 && printf 'two\\n' > s2/f.txt").after(HOLD),
            Step::reply("Did s2/."),
        )
        .reply("Verdict: PASS, the sections fit.\n\nNo findings.")
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let dir = repo();
    let r = dir.path();
    let out = t
        .cmd(&codex)
        .args([
            "run",
            "split-by-sections",
            "--var",
            "task=Add f.txt.",
            "--var",
            "sections=s1/,s2/",
        ])
        .current_dir(r)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = String::from_utf8(out.stdout).unwrap().trim().to_string();
    wait_done(&t, &codex, &format!("{run}/consistency"));
    let (f1, b1) = turn_times(&standin, "Your section is s1/");
    let (f2, b2) = turn_times(&standin, "Your section is s2/");
    assert!(f1 < b2 && f2 < b1, "the sections took turns");
    eprintln!(
        "section first requests {:?} apart; outputs back at +{:?} / +{:?}",
        f1.max(f2) - f1.min(f2),
        b1 - f1.min(f2),
        b2 - f1.min(f2)
    );
    for (n, text) in [(1, "one\n"), (2, "two\n")] {
        let addr = format!("{run}/section-{n}");
        assert_eq!(t.worker(&codex, &addr)["branch"], format!("orch/{addr}"));
        assert!(!r.join(format!("s{n}/f.txt")).exists());
        t.ok(&codex, &["land", &addr]);
        assert_eq!(
            std::fs::read_to_string(r.join(format!("s{n}/f.txt"))).unwrap(),
            text
        );
    }
}
