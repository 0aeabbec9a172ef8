//! What looking costs at hour ten and at 10,000 runs (issue: scale).
//!
//! `cargo bench --bench scale [-- --write BENCHMARKS.md] [--quick] [--only abcde]`
//!
//! (a) `orch status --json` of a run with 10 running workers whose events.jsonl hold
//!     40 KB each, against the same with 100 MB each: the first look (which reads the
//!     logs and keeps their summaries), later looks, and a look after each log grew by
//!     1 MB; wall time and peak memory (`/usr/bin/time`);
//! (b) `orch ls` at 1,000 and 10,000 ended runs, against `tsp -l` and
//!     `pueue status --json` with 500, 1,000 and 10,000 jobs;
//! (c) `orch status --json` of one 500-worker run;
//! (d) an idle `orch watch` over 5,000 ended runs: inotify watches and CPU;
//! (e) making many windows at once: `orch fanout` of 6 lenses and `orch retry RUN
//!     --failed` of 20 and 100 workers (real tmux on a private socket; codex is a
//!     `sleep`), against the floor: one tmux invocation chaining as many `new-window`s.
//!
//! For (a)-(d) worker folders are written directly (as the wrapper would), so no tmux
//! or codex runs; those figures are orch's reading costs alone. Prints a markdown section;
//! `--write FILE` replaces its `## Scale` section.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use orch::store::Home;

#[path = "../tests/support/factory.rs"]
mod factory;
use factory::{new_run, spec};

#[path = "support/report.rs"]
mod report;
use report::{replace_section, sh};

const SECTION: &str = "## Scale";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().all(|a| a == "--bench") {
        // Plain `cargo bench` (or `cargo test --all-targets`) runs every bench target;
        // this one takes minutes and writes gigabytes, so it runs only when asked.
        eprintln!("scale: run it with `cargo bench --bench scale -- --write BENCHMARKS.md`");
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let write_to = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let reps = if quick { 3 } else { 9 };
    // `--only e`: just those parts, printed (the section written is always whole).
    let only: Option<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    if only.is_some() && write_to.is_some() {
        eprintln!("scale: --only prints a part; --write needs every part");
        std::process::exit(2);
    }
    let part = |p: char| only.as_ref().is_none_or(|o| o.contains(p));

    let mut md = format!(
        "{SECTION}\n\nMeasured {} with `cargo bench --bench scale -- --write BENCHMARKS.md` \
         (release build) on `{}`, {} CPUs. Worker folders are written by the bench as the \
         wrapper writes them; medians of {reps} runs.\n\n",
        Utc::now().format("%Y-%m-%d"),
        sh("uname -srm"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    if part('a') {
        eprintln!("(a) status with large event logs…");
        md.push_str("### Status with large event logs (10 running workers)\n\n");
        md.push_str("| events.jsonl per worker | first look | later looks | after +1 MB each | peak memory (later look) |\n|---|---|---|---|---|\n");
        let small = big_logs(40 << 10, reps);
        let big = big_logs(if quick { 10 << 20 } else { 100 << 20 }, reps);
        for (size, r) in [
            ("40 KB", &small),
            (if quick { "10 MB" } else { "100 MB" }, &big),
        ] {
            md.push_str(&format!(
                "| {size} | {} | {} | {} | {:.1} MiB |\n",
                ms(r.first),
                ms(r.later),
                ms(r.grown),
                r.rss_kib as f64 / 1024.0
            ));
        }
        md.push_str(&format!(
            "\nLater looks at the large logs cost {:.2}× those at the small ones (target ≤ 2×); \
         the first look reads each log once, and the wrapper saves the summary every 2 s \
         while it writes, so a reader of a live worker never has more than that to catch up.\n\n",
            big.later.as_secs_f64() / small.later.as_secs_f64()
        ));
    }

    if part('b') {
        eprintln!("(b) ls at 1,000 and 10,000 runs…");
        md.push_str("### Listing and status at size\n\n| what | median |\n|---|---|\n");
        for n in [1000, 10_000] {
            let t = ls_at(n, reps);
            md.push_str(&format!(
                "| `orch ls` with {n} ended runs (3 workers each) | {} |\n",
                ms(t)
            ));
        }
        // The peers at the same sizes: tsp and pueue answer from a server's memory.
        for n in [500, 1000, 10_000] {
            if let Some(t) = tsp_l(n, reps) {
                md.push_str(&format!(
                    "| `tsp -l` with {n} finished jobs | {} |\n",
                    ms(t)
                ));
            }
            if let Some(t) = pueue_status(n, reps) {
                md.push_str(&format!(
                    "| `pueue status --json` with {n} tasks | {} |\n",
                    ms(t)
                ));
            }
        }
        eprintln!("(c) status of a 500-worker run…");
        md.push_str(&format!(
            "| `orch status --json` of one run of 500 ended workers | {} |\n\n",
            ms(status_500(reps))
        ));
    }

    if part('d') {
        eprintln!("(d) idle watch over 5,000 runs…");
        let (watches, cpu) = idle_watch(5000, if quick { 3 } else { 10 });
        md.push_str(&format!(
            "### Watching 5,000 runs\n\nAn idle `orch watch` over 5,000 ended runs uses {watches} \
         inotify watches (`runs/`, `changes/` and the runs active in the last 24 h; none \
         here) and {cpu:.2} % of a CPU. Runs older than that are followed from their first \
         change on; out of watches, the same folders are polled.\n"
        ));
    }

    if part('e') {
        eprintln!("(e) many windows in one tmux call…");
        md.push_str(
        "\n### Many windows at once\n\nWall time of the whole command, against one tmux \
         invocation that chains the same number of `new-window -d` (the floor); each worker's \
         wrapper starts a `sleep` as its codex, and the server is killed between rounds.\n\n\
         | what | orch | floor (chained new-window) | per window, orch / floor | ratio |\n|---|---|---|---|---|\n",
    );
        for n in [6, 20, 100] {
            let (o, f) = many_windows(n, reps);
            let what = if n == 6 {
                "`orch fanout` of 6 lenses".to_string()
            } else {
                format!("`orch retry RUN --failed` of {n} workers")
            };
            md.push_str(&format!(
                "| {what} | {} | {} | {:.2} / {:.2} ms | {:.2}× |\n",
                ms(o),
                ms(f),
                o.as_secs_f64() * 1000.0 / n as f64,
                f.as_secs_f64() * 1000.0 / n as f64,
                o.as_secs_f64() / f.as_secs_f64()
            ));
        }
    }

    print!("{md}");
    if let Some(path) = write_to {
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, replace_section(&doc, SECTION, &md)).unwrap();
        eprintln!("wrote the {SECTION} section of {}", path.display());
    }
}

struct LogFigures {
    first: Duration,
    later: Duration,
    grown: Duration,
    rss_kib: u64,
}

/// Status of 10 running workers with `size` bytes of events each.
fn big_logs(size: usize, reps: usize) -> LogFigures {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::open(tmp.path().join("home")).unwrap();
    let run = new_run(&home, "20260101-0000-big");
    let line = command_line(8 << 10);
    let mut locks = Vec::new();
    for l in 1..=10 {
        let label = format!("W{l}");
        locks.push(factory::running(&run, &spec(&label, &home.root)).1);
        let mut f = File::create(run.worker(&label).events_path()).unwrap();
        f.write_all(b"{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n")
            .unwrap();
        let mut written = 0;
        while written < size {
            f.write_all(line.as_bytes()).unwrap();
            written += line.len();
        }
    }
    let status = || timed(orch(&home.root).args(["status", "--json", &run.id]));
    let first = status();
    let later = median((0..reps).map(|_| status()).collect());
    let rss_kib = peak_rss(orch(&home.root).args(["status", "--json", &run.id]));
    let mut grown = Vec::new();
    for _ in 0..reps.min(3) {
        for l in 1..=10 {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(run.worker(&format!("W{l}")).events_path())
                .unwrap();
            for _ in 0..(1 << 20) / line.len() {
                f.write_all(line.as_bytes()).unwrap();
            }
        }
        grown.push(status());
    }
    drop(locks);
    LogFigures {
        first,
        later,
        grown: median(grown),
        rss_kib,
    }
}

/// A `command_execution` item with `n` bytes of output, as codex emits it.
fn command_line(n: usize) -> String {
    let out = "x".repeat(n);
    format!(
        "{{\"type\":\"item.completed\",\"item\":{{\"type\":\"command_execution\",\"command\":\"cat big\",\"aggregated_output\":\"{out}\",\"exit_code\":0,\"status\":\"completed\"}}}}\n"
    )
}

fn ls_at(n: usize, reps: usize) -> Duration {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::open(tmp.path().join("home")).unwrap();
    for i in 0..n {
        let run = new_run(
            &home,
            &format!("2025{:04}-{:04}-a{:02}", i / 10000 + 101, i % 10000, i % 97),
        );
        for l in 1..=3 {
            factory::done(&run, &spec(&format!("W{l}"), &home.root));
        }
    }
    // Ended runs keep their line only once settled for a second.
    std::thread::sleep(Duration::from_millis(1100));
    timed(orch(&home.root).arg("ls"));
    median(
        (0..reps)
            .map(|_| timed(orch(&home.root).arg("ls")))
            .collect(),
    )
}

fn tsp_l(n: usize, reps: usize) -> Option<Duration> {
    if Command::new("tsp").arg("-V").output().is_err() {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("tsp.sock");
    let tsp = |args: &[&str]| {
        let mut c = Command::new("tsp");
        c.env("TS_SOCKET", &sock)
            .env("TS_MAXFINISHED", (n * 2).to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    for _ in 0..n {
        tsp(&["true"]).status().ok()?;
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let out = tsp(&["-l"]).stdout(Stdio::piped()).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !text.contains("running") && !text.contains("queued") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let t = median((0..reps).map(|_| timed(&mut tsp(&["-l"]))).collect());
    let _ = tsp(&["-K"]).status();
    Some(t)
}

/// `pueue status --json` with `n` stashed tasks (they never run: only the daemon's
/// state grows), on a daemon of its own; None when pueue is not installed.
fn pueue_status(n: usize, reps: usize) -> Option<Duration> {
    Command::new("pueued").arg("--version").output().ok()?;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = d.join("pueue.yml");
    std::fs::write(
        &cfg,
        format!(
            "shared:\n  pueue_directory: {d}\n  runtime_directory: {d}\n  use_unix_socket: true\n  unix_socket_path: {d}/pueue.sock\n  pid_path: {d}/pueue.pid\n",
            d = d.display()
        ),
    )
    .unwrap();
    let mut daemon = Command::new("pueued")
        .arg("-c")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pueue = |args: &[&str]| {
        let mut c = Command::new("pueue");
        c.arg("-c").arg(&cfg).args(args);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pueue(&["status"]).status().is_ok_and(|s| s.success()) {
        if Instant::now() > deadline {
            let _ = daemon.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..n {
        if !pueue(&["add", "--stashed", "--", "true"])
            .status()
            .is_ok_and(|s| s.success())
        {
            let _ = daemon.kill();
            return None;
        }
    }
    let t = median(
        (0..reps)
            .map(|_| timed(&mut pueue(&["status", "--json"])))
            .collect(),
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
    Some(t)
}

fn status_500(reps: usize) -> Duration {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::open(tmp.path().join("home")).unwrap();
    let run = new_run(&home, "20260101-0000-500");
    for l in 1..=500 {
        factory::done(&run, &spec(&format!("W{l}"), &home.root));
    }
    median(
        (0..reps)
            .map(|_| timed(orch(&home.root).args(["status", "--json", &run.id])))
            .collect(),
    )
}

/// (inotify watches, CPU %) of an idle `orch watch` over `n` ended runs.
fn idle_watch(n: usize, secs: u64) -> (usize, f64) {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::open(tmp.path().join("home")).unwrap();
    for i in 0..n {
        let run = new_run(
            &home,
            &format!("2025{:04}-{:04}-w{:02}", i / 10000 + 101, i % 10000, i % 97),
        );
        factory::done(&run, &spec("W1", &home.root));
        // Ended long ago: its marker and folders carry an old mtime, as after a day.
        age(&home.changes_dir().join(&run.id));
        age(&run.workers_dir());
    }
    let mut child = orch(&home.root).arg("watch").spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let watches = inotify_watches(child.id());
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(secs));
    let after = cpu_ticks(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let hz: u64 = sh("getconf CLK_TCK").parse().unwrap_or(100);
    let ms = (after - before) * 1000 / hz;
    (watches, ms as f64 / (secs * 1000) as f64 * 100.0)
}

fn age(path: &Path) {
    let t = nix::sys::time::TimeSpec::new(1_700_000_000, 0);
    let _ = nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    );
}

fn inotify_watches(pid: u32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return 0;
    };
    fds.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|t| t.lines().filter(|l| l.starts_with("inotify wd:")).count())
        .sum()
}

/// (orch, floor) medians for making `n` windows: fanout for 6, retry of failed workers
/// otherwise; interleaved, so both see the same machine load.
fn many_windows(n: usize, reps: usize) -> (Duration, Duration) {
    let tmp = tempfile::Builder::new()
        .prefix("orch-b")
        .tempdir_in("/tmp")
        .unwrap();
    let socket = tmp.path().join("tmux.sock");
    let fake = tmp.path().join("codex");
    // Answers orch's login check at once (as a logged-in codex does), else waits.
    std::fs::write(
        &fake,
        "#!/bin/sh\n[ \"$1\" = login ] && { echo 'Logged in using ChatGPT'; exit 0; }\nexec sleep 60\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // A logged-in user's CODEX_HOME (orch checks for a credential before it starts work).
    let codex_home = tmp.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("auth.json"),
        r#"{"OPENAI_API_KEY":null,"tokens":{"access_token":"a","refresh_token":"r"}}"#,
    )
    .unwrap();
    let tmux = |args: &[&str]| {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&socket).args(args);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    // kill-server returns before the server has gone; a command in between would reach
    // the dying server and fail.
    let kill = || {
        let _ = tmux(&["kill-server"]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while tmux(&["list-sessions"]).status().is_ok_and(|s| s.success())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let (mut orch_t, mut floor_t) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        kill();
        // A fresh home each round, and a warm server (as during a night) for both.
        let home = Home::open(tmp.path().join(format!("home{rep}"))).unwrap();
        let _ = tmux(&["new-session", "-d", "-s", "keep"]).status();
        let mut c = orch(&home.root);
        c.env("ORCH_TMUX_SOCKET", &socket)
            .env("ORCH_CODEX", &fake)
            .env("CODEX_HOME", &codex_home);
        if n == 6 {
            c.args(["fanout", "--lens"])
                .arg(
                    (1..=6)
                        .map(|i| format!("l{i}=look at part {i}"))
                        .collect::<Vec<_>>()
                        .join(","),
                )
                .arg("Review it");
        } else {
            let run = new_run(&home, &format!("20260101-0000-r{rep:02}"));
            for l in 1..=n {
                factory::failed(&run, &spec(&format!("W{l}"), tmp.path()), "stream error");
            }
            c.args(["retry", &run.id, "--failed"]);
        }
        orch_t.push(timed(&mut c));
        kill();
        let _ = tmux(&["new-session", "-d", "-s", "keep"]).status();
        let mut args: Vec<String> =
            vec!["new-session".into(), "-d".into(), "-s".into(), "run".into()];
        for l in 1..=n {
            args.extend([";", "new-window", "-d", "-t", "run", "-n"].map(String::from));
            args.push(format!("W{l}"));
            args.push("sleep 60".into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        floor_t.push(timed(&mut tmux(&refs)));
    }
    kill();
    (median(orch_t), median(floor_t))
}

fn orch(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_orch"));
    c.env("ORCH_HOME", home)
        .env("ORCH_TMUX_SOCKET", home.join("no-tmux"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn timed(c: &mut Command) -> Duration {
    let t = Instant::now();
    let out = c.stderr(Stdio::piped()).output().unwrap();
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

/// Peak resident memory of one run of `c`, from GNU time.
fn peak_rss(c: &mut Command) -> u64 {
    let mut t = Command::new("/usr/bin/time");
    t.arg("-f")
        .arg("%M")
        .arg(c.get_program())
        .args(c.get_args());
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            t.env(k, v);
        }
    }
    let out = t.stdout(Stdio::null()).output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}
