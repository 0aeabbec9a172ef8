//! `orch top` in a real terminal: the dashboard runs in a pane of a second tmux server
//! of the test's own (beside the one its workers run on), keys go in with send-keys and
//! what a user would see comes back with capture-pane.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use crate::support::*;

/// A terminal of `width` × `height` running `orch ARGS` with the test's environment.
struct Screen {
    socket: PathBuf,
}

impl Screen {
    fn start(t: &TestHome, args: &[&str], width: u16, height: u16) -> Screen {
        Screen::start_with(t, args, width, height, &[])
    }

    fn start_with(
        t: &TestHome,
        args: &[&str],
        width: u16,
        height: u16,
        env: &[(&str, &str)],
    ) -> Screen {
        let dir = t.path().join("ui");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let socket = dir.join("sock");
        let orch = orch_bin();
        // The pane stays after orch ends, saying how it ended.
        let line = format!(
            "{} {}; echo \"orch exited $?\"; sleep 600",
            orch.display(),
            args.join(" ")
        );
        // The server, and so the pane, inherits this environment.
        let base = t.cmd();
        let mut c = Command::new("tmux");
        c.env_clear();
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        for k in ["PATH", "HOME", "USER", "LANG"] {
            if let Some(v) = std::env::var_os(k) {
                c.env(k, v);
            }
        }
        c.envs(env.iter().copied());
        let out = c
            .current_dir(t.path())
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(line)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        Screen { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the terminal shows now.
    fn text(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys"];
        a.extend_from_slice(keys);
        self.tmux(&a);
    }

    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
    }

    /// Waits until the screen shows `what`; returns the screen.
    fn shows(&self, what: &str) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eventually(20, what, || {
                last = self.text();
                last.contains(what).then(|| last.clone())
            })
        }));
        found.unwrap_or_else(|_| panic!("the screen never showed {what:?}:\n{last}"))
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// Every parameter of every SGR sequence (`ESC [ … m`) in `text`.
fn sgr_codes(text: &str) -> Vec<u32> {
    text.split("\x1b[")
        .skip(1)
        .filter_map(|seq| {
            let end = seq.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
            (seq[end..].starts_with('m')).then(|| &seq[..end])
        })
        .flat_map(|params| {
            params
                .split(';')
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The table row of `label` on `screen`.
fn row<'a>(screen: &'a str, label: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.starts_with(&format!("{label} ")))
        .unwrap_or_else(|| panic!("no row {label}:\n{screen}"))
}

#[test]
fn top_in_a_terminal_lists_previews_moves_stops_after_y_and_quits() {
    let t = TestHome::new();
    let done = t.spawn(&["Summarise\nFAKE:reply=All good\\nNothing to fix"]);
    let run = run_of(&done).to_string();
    t.wait_state(&done, "done", 20);
    let slow = t.spawn(&[
        "--run",
        &run,
        "--label",
        "slow",
        "--role",
        "reviewer",
        "--lens",
        "security",
        "Review\nFAKE:commands=2\nFAKE:hang",
    ]);
    t.wait_state(&slow, "running", 20);
    let ui = Screen::start(&t, &["top", &run], 150, 30);

    // The list, in spawn order, and the preview of the first worker: its final message.
    let s = ui.shows(&format!("{done} · done · result"));
    assert!(s.contains(&format!("run {run} · 2 workers")), "{s}");
    assert!(
        s.contains("LABEL") && s.contains("STATE") && s.contains("FLAGS"),
        "{s}"
    );
    assert!(row(&s, "W1").contains("done"), "{s}");
    assert!(row(&s, "slow").contains("reviewer:security"), "{s}");
    assert!(row(&s, "slow").contains("running"), "{s}");
    assert!(
        s.contains("All good") && s.contains("Nothing to fix"),
        "{s}"
    );
    assert!(s.contains("s stop") && s.contains("q quit"), "footer: {s}");

    // Down: the running worker's progress, as `orch logs` shows it.
    ui.keys(&["j"]);
    let s = ui.shows(&format!("{slow} · running · progress"));
    let s = if s.contains("$ ") { s } else { ui.shows("$ ") };
    assert!(s.contains("turn started"), "{s}");
    // The hung worker writes nothing more, yet its elapsed time goes on.
    let before = row(&s, "slow").to_string();
    eventually(20, "the elapsed clock to tick", || {
        let now = ui.text();
        (row(&now, "slow") != before).then_some(())
    });

    // s asks first; anything but y leaves the worker alone.
    ui.keys(&["s"]);
    ui.shows(&format!("stop {slow}? y/n"));
    ui.keys(&["n"]);
    eventually(10, "the question to close", || {
        (!ui.text().contains("? y/n")).then_some(())
    });
    assert_eq!(t.state(&slow), "running");
    ui.keys(&["s"]);
    ui.shows(&format!("stop {slow}? y/n"));
    ui.keys(&["y"]);
    t.wait_state(&slow, "stopped", 30);
    let s = ui.shows(&format!("{slow} stopped"));
    let s = if row(&s, "slow").contains("stopped") {
        s
    } else {
        ui.shows(&format!("{slow} · stopped · error"))
    };
    assert!(row(&s, "slow").contains("stopped"), "{s}");

    // Up again, then q: exit 0, and the terminal is the shell's again.
    ui.keys(&["k"]);
    ui.shows(&format!("{done} · done · result"));
    ui.keys(&["q"]);
    let s = ui.shows("orch exited");
    assert!(s.contains("orch exited 0"), "{s}");
    assert!(!s.contains("LABEL"), "the dashboard's screen is gone: {s}");
}

#[test]
fn top_puts_failures_first_filters_and_shows_the_error_of_a_failed_worker() {
    let t = TestHome::new();
    let ok = t.spawn(&["fine\nFAKE:reply=fine"]);
    let run = run_of(&ok).to_string();
    let bad = t.spawn(&[
        "--run",
        &run,
        "--label",
        "bad",
        "x\nFAKE:fail=503 Service Unavailable",
    ]);
    t.wait_state(&ok, "done", 20);
    t.wait_state(&bad, "failed", 20);
    // Narrow: the preview goes below the table.
    let ui = Screen::start(&t, &["top"], 90, 30);
    let s = ui.shows(&format!("{ok} · done · result"));
    let lines: Vec<&str> = s.lines().collect();
    let w1 = lines.iter().position(|l| l.starts_with("W1 ")).unwrap();
    let bad_at = lines.iter().position(|l| l.starts_with("bad ")).unwrap();
    assert!(w1 < bad_at, "spawn order: {s}");
    assert!(row(&s, "bad").contains("failed"), "{s}");
    assert!(
        !s.lines().any(|l| l.contains("LABEL") && l.contains('┌')),
        "narrow: the preview is below the table: {s}"
    );
    // NO_COLOR (set for every test): no colour at all, the selection in reverse video.
    let styled = ui.tmux(&["capture-pane", "-p", "-e"]);
    let codes = sgr_codes(&styled);
    assert!(codes.contains(&7), "reverse video: {styled:?}");
    let colours: Vec<u32> = codes
        .into_iter()
        .filter(|c| matches!(c, 30..=38 | 40..=48 | 90..=97 | 100..=107))
        .collect();
    assert!(colours.is_empty(), "colours {colours:?}: {styled:?}");

    // Wider: the preview moves beside the table.
    ui.tmux(&["resize-window", "-x", "150", "-y", "30"]);
    eventually(20, "the side-by-side layout", || {
        let s = ui.text();
        s.lines()
            .any(|l| l.contains("LABEL") && l.contains('┌'))
            .then_some(())
    });

    // a: what needs attention first; the selection stays on its worker.
    ui.keys(&["a"]);
    let s = ui.shows("attention first");
    let lines: Vec<&str> = s.lines().collect();
    let w1 = lines.iter().position(|l| l.starts_with("W1 ")).unwrap();
    let bad_at = lines.iter().position(|l| l.starts_with("bad ")).unwrap();
    assert!(bad_at < w1, "failed first: {s}");
    assert!(s.contains(&format!("{ok} · done · result")), "{s}");

    // The filter narrows the list as it is typed; its one worker is selected.
    ui.keys(&["/"]);
    ui.type_text("fail");
    let s = ui.shows(&format!("{bad} · failed · error"));
    assert!(s.contains("503 Service Unavailable"), "{s}");
    assert!(!s.lines().any(|l| l.starts_with("W1 ")), "{s}");
    ui.keys(&["Enter"]);
    ui.shows("filter: fail");

    // r retries it (the fake fails again: a second attempt, failed again).
    ui.keys(&["r"]);
    ui.shows(&format!("{bad} retried"));
    eventually(20, "a second attempt", || {
        let w = t.worker(&bad);
        (w["attempt"] == 2 && w["state"] == "failed").then_some(())
    });

    // ? lists every key; any key closes it.
    ui.keys(&["?"]);
    let s = ui.shows("keys");
    for k in [
        "Enter attach",
        "s stop",
        "r retry",
        "R resume",
        "> send",
        "l its full log",
    ] {
        assert!(s.contains(k), "{k}: {s}");
    }
    ui.keys(&["Escape"]);
    eventually(10, "the help to close", || {
        (!ui.text().contains("Enter attach")).then_some(())
    });
    ui.keys(&["q"]);
    assert!(ui.shows("orch exited").contains("orch exited 0"));
}

#[test]
fn top_sends_resumes_and_attaches_and_comes_back_on_detach() {
    let t = TestHome::new();
    let gate = t.path().join("gate");
    let a = t.spawn(&[&format!("Map it\nFAKE:wait-for={}", gate.display())]);
    let run = run_of(&a).to_string();
    t.wait_state(&a, "running", 20);
    let ui = Screen::start(&t, &["top", &run], 150, 30);
    ui.shows(&format!("{a} · running · progress"));

    // > opens a prompt line; Enter sends through `orch send`'s path.
    ui.keys(&[">"]);
    ui.shows(&format!("send to {a}:"));
    ui.type_text("also list the tests");
    ui.keys(&["Enter"]);
    ui.shows(&format!(
        "{a}: message queued; delivered when its current turn ends"
    ));
    assert_eq!(t.worker(&a)["pending_messages"], 1);
    ui.shows("1 msg");

    // Enter: the worker's own window; C-b d comes back to the dashboard.
    ui.keys(&["Enter"]);
    ui.shows(&format!("orch worker {a}"));
    ui.keys(&["C-b", "d"]);
    ui.shows(&format!("back from {a}"));

    // Done (the follow-up answered), then R resumes with a typed prompt.
    std::fs::write(&gate, "").unwrap();
    t.wait_state(&a, "done", 30);
    ui.shows(&format!("{a} · done · result"));
    ui.keys(&["R"]);
    ui.shows(&format!("resume {a} with"));
    ui.type_text("and the docs");
    ui.keys(&["Enter"]);
    ui.shows(&format!("{a} resuming thread"));
    eventually(30, "the resumed turn", || {
        let inv = t.invocations(&a);
        (inv.len() == 3 && inv[2]["prompt"] == "and the docs").then_some(())
    });
    ui.keys(&["q"]);
    assert!(ui.shows("orch exited").contains("orch exited 0"));
}

#[test]
fn top_all_shows_every_active_run_and_not_the_ended_ones() {
    let t = TestHome::new();
    let old = t.spawn(&["finished long ago\nFAKE:reply=old"]);
    t.wait_state(&old, "done", 20);
    let a = t.spawn(&["--label", "alpha", "one\nFAKE:hang"]);
    let b = t.spawn(&["--label", "beta", "two\nFAKE:hang"]);
    t.wait_state(&a, "running", 20);
    t.wait_state(&b, "running", 20);
    let ui = Screen::start(&t, &["top", "--all"], 160, 30);
    let s = ui.shows("2 active runs");
    assert!(s.contains("RUN") && s.contains("LABEL"), "{s}");
    for addr in [&a, &b] {
        let (run, label) = addr.split_once('/').unwrap();
        assert!(
            s.lines().any(|l| l.starts_with(run) && l.contains(label)),
            "{addr}: {s}"
        );
    }
    assert!(!s.contains(run_of(&old)), "an ended run is not shown: {s}");
    // A run made while it is open joins the list.
    let c = t.spawn(&["--label", "gamma", "three\nFAKE:hang"]);
    let s = ui.shows("3 active runs");
    assert!(
        s.lines()
            .any(|l| l.starts_with(run_of(&c)) && l.contains("gamma")),
        "{s}"
    );
    ui.keys(&["q"]);
    assert!(ui.shows("orch exited").contains("orch exited 0"));
}

#[test]
fn top_shows_the_log_the_diff_and_the_merge_in_the_pager() {
    let t = TestHome::new();
    // A repository with one commit (a.txt: "one").
    let repo = crate::worktree::repo(&t);
    let a = t.spawn(&[
        "--worktree",
        "--sandbox",
        "workspace-write",
        "--cd",
        repo.to_str().unwrap(),
        "Change a\nFAKE:commands=2\nFAKE:write=a.txt=two\\n\nFAKE:reply=- **high** a.txt:1 changed one to two",
    ]);
    t.wait_state(&a, "done", 30);
    // The pager is the user's: here one that keeps what it was given.
    let paged = t.path().join("paged.txt");
    let pager = format!("cat > {}", paged.display());
    let ui = Screen::start_with(&t, &["top"], 150, 30, &[("PAGER", &pager)]);
    ui.shows(&format!("{a} · done · result"));
    let page = |key: &str| {
        let _ = std::fs::remove_file(&paged);
        ui.keys(&[key]);
        eventually(20, "the pager to get its text", || {
            std::fs::read_to_string(&paged)
                .ok()
                .filter(|p| !p.is_empty())
        })
    };
    let log = page("l");
    assert!(log.contains("turn started") && log.contains("$ "), "{log}");
    let diff = page("d");
    assert!(diff.contains("-one") && diff.contains("+two"), "{diff}");
    let merge = page("m");
    assert!(
        merge.contains("# Merge of run") && merge.contains("a.txt"),
        "{merge}"
    );
    // Back on the dashboard each time.
    ui.shows(&format!("{a} · done · result"));
    ui.keys(&["q"]);
    assert!(ui.shows("orch exited").contains("orch exited 0"));
}
