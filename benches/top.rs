//! What the dashboard (`orch top`) costs with 200 workers in a run.
//!
//! `cargo bench --bench top [-- --write BENCHMARKS.md] [--secs N]`
//!
//! One run of 200 workers written as the wrapper writes them (150 running, the bench
//! holding their live.lock as wrappers would, each with an event log of 60 events; 30
//! done; 20 failed), no tmux or codex behind them:
//!
//! (a) a redraw in-process, as the dashboard does it on a file change: read the run
//!     from disk (`ops::status::collect_from_disk`), take it into the model, read the
//!     selected worker's preview, draw a 200×50 frame (ratatui's TestBackend, so the
//!     terminal's own work is not counted); and the draw alone (the clock tick);
//! (b) the real `orch top` (release build) in a 200×50 pane of a private tmux server:
//!     CPU over N seconds while nothing happens, and while one worker writes an event
//!     every 100 ms, from /proc/PID/stat.
//!
//! Prints a markdown section; `--write FILE` replaces the `## Dashboard` section of FILE
//! (or appends it), leaving the other sections alone.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use orch::cli::top::model::{Model, Scope};
use orch::lifecycle::state::ViewOptions;
use orch::store::Home;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[path = "../tests/support/factory.rs"]
mod factory;
use factory::{new_run, spec};

#[path = "support/report.rs"]
mod report;
use report::{replace_section, sh};

const SECTION: &str = "## Dashboard";
const RUN: &str = "20260101-0000-top";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().all(|a| a == "--bench") {
        // Plain `cargo bench` runs every bench target; this one takes a minute and runs
        // a tmux server, so it runs only when asked.
        eprintln!("top: run it with `cargo bench --bench top -- --write BENCHMARKS.md`");
        return;
    }
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let write_to = flag("--write").map(PathBuf::from);
    let secs: u64 = flag("--secs").and_then(|s| s.parse().ok()).unwrap_or(20);

    let tmp = tempfile::Builder::new()
        .prefix("orch-top-bench")
        .tempdir_in("/tmp")
        .unwrap();
    let home = Home::open(tmp.path().join("home")).unwrap();
    eprintln!("writing 200 workers…");
    let _locks = two_hundred(&home);

    eprintln!("(a) redraw in-process…");
    let (full, grown, draw_only) = redraws(&home, 200);

    eprintln!("(b) orch top in a tmux pane, {secs} s idle and {secs} s with one busy worker…");
    let (idle, busy) = live_cpu(&home, tmp.path(), secs);

    let md = format!(
        "{SECTION}\n\nMeasured {} with `cargo bench --bench top -- --write BENCHMARKS.md` \
         (release build) on `{}`, {} CPUs ({}). One run of 200 workers written by the bench \
         as wrappers write them: 150 running (the bench holds their live.lock), each with an \
         event log of 60 events, 30 done, 20 failed; no tmux or codex behind them.\n\n\
         | what | median | p95 | target |\n|---|---|---|---|\n\
         | a redraw on a file change: read the run from disk, update the model, read the \
         selected worker's preview, draw a 200×50 frame | {} | {} | < 20 ms |\n\
         | a redraw when only the selected worker's log grew: re-read that worker, its \
         preview, draw | {} | {} | |\n\
         | a clock tick: draw the frame from the model alone | {} | {} | |\n\n\
         | `orch top` in a 200×50 tmux pane | CPU | target |\n|---|---|---|\n\
         | idle, {secs} s (clock ticks every second, a look at the whole run every 10 s) | {:.2} % | < 1 % |\n\
         | one worker writing an event every 100 ms, {secs} s | {:.2} % | |\n\n\
         The draw is ratatui's into its test backend, so what the terminal itself does with the \
         bytes is not counted; the CPU figures are the `orch top` process's user + system time \
         from /proc. No tmux command runs per redraw (`collect_from_disk`).\n",
        Utc::now().format("%Y-%m-%d"),
        sh("uname -srm"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        ms(full.0),
        ms(full.1),
        ms(grown.0),
        ms(grown.1),
        ms(draw_only.0),
        ms(draw_only.1),
        idle,
        busy,
    );
    print!("{md}");
    if let Some(path) = write_to {
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, replace_section(&doc, SECTION, &md)).unwrap();
        eprintln!("wrote the {SECTION} section of {}", path.display());
    }
}

/// The run; the returned locks keep the running workers alive.
fn two_hundred(home: &Home) -> Vec<std::fs::File> {
    let run = new_run(home, RUN);
    let mut locks = Vec::new();
    for i in 1..=200 {
        let mut s = spec(&format!("W{i}"), &home.root);
        s.role = Some("reviewer".into());
        s.lens = Some(["correctness", "security", "tests"][i % 3].into());
        match i {
            1..=150 => {
                let (w, lock) = factory::running(&run, &s);
                let mut log = std::fs::File::create(w.events_path()).unwrap();
                writeln!(log, r#"{{"type":"thread.started","thread_id":"t-{i}"}}"#).unwrap();
                writeln!(log, r#"{{"type":"turn.started"}}"#).unwrap();
                for n in 0..58 {
                    writeln!(
                        log,
                        r#"{{"type":"item.completed","item":{{"id":"item_{n}","type":"command_execution","command":"rg -n 'fn parse' src/merge/read/{n}.rs","aggregated_output":"","exit_code":0,"status":"completed"}}}}"#
                    )
                    .unwrap();
                }
                locks.push(lock);
            }
            151..=180 => {
                factory::done(&run, &s);
            }
            _ => {
                factory::failed(&run, &s, "stream disconnected before completion");
            }
        }
    }
    locks
}

type Stats = (Duration, Duration);

/// (median, p95) of a full redraw, of a redraw after one worker's log grew, and of a
/// draw alone.
fn redraws(home: &Home, n: usize) -> (Stats, Stats, Stats) {
    let opts = ViewOptions::default();
    let run = home.run(RUN);
    let mut model = Model::new(Scope::Run(RUN.into()), true);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let mut full = Vec::new();
    let mut grown = Vec::new();
    let mut draw = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        let status = orch::ops::status::collect_from_disk(home, &run, &opts).unwrap();
        model.update(std::slice::from_ref(&status));
        let mut status = status;
        // Walk the selection over running workers, as a user moving through would.
        model.move_by(if i % 20 < 10 { 1 } else { -1 });
        if let Some(r) = model.selected_row() {
            model.preview = orch::cli::top::preview(home, r);
        }
        terminal
            .draw(|f| orch::cli::top::view::draw(f, &model))
            .unwrap();
        full.push(t.elapsed());
        let t = Instant::now();
        terminal
            .draw(|f| orch::cli::top::view::draw(f, &model))
            .unwrap();
        draw.push(t.elapsed());
        // The selected worker's log grew: that worker re-read, its preview, a frame.
        let t = Instant::now();
        let label = model.selected_row().unwrap().view.label.clone();
        orch::ops::status::refresh_workers(home, &run, &mut status, &[label], &opts).unwrap();
        model.update(std::slice::from_ref(&status));
        model.preview = orch::cli::top::preview(home, model.selected_row().unwrap());
        terminal
            .draw(|f| orch::cli::top::view::draw(f, &model))
            .unwrap();
        grown.push(t.elapsed());
    }
    (stats(full), stats(grown), stats(draw))
}

/// CPU % of `orch top` idle, then with one worker writing 10 events a second.
fn live_cpu(home: &Home, tmp: &Path, secs: u64) -> (f64, f64) {
    let dir = tmp.join("ui");
    std::fs::create_dir(&dir).unwrap();
    let socket = dir.join("sock");
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(args)
            .env("ORCH_HOME", &home.root)
            .env("ORCH_TMUX_SOCKET", tmp.join("no-tmux"))
            .env_remove("TMUX")
            .output()
            .unwrap()
    };
    let orch = env!("CARGO_BIN_EXE_orch");
    let out = tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "200",
        "-y",
        "50",
        orch,
        "top",
        RUN,
    ]);
    assert!(out.status.success(), "{out:?}");
    let pid: u32 = String::from_utf8_lossy(&tmux(&["display", "-p", "#{pane_pid}"]).stdout)
        .trim()
        .parse()
        .unwrap();
    // Past the first frame and the watcher's set-up.
    std::thread::sleep(Duration::from_secs(3));
    let screen = String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    assert!(
        screen.contains("200 workers"),
        "orch top is not showing the run:\n{screen}"
    );
    let cpu = |f: &mut dyn FnMut()| {
        let before = cpu_ns(pid);
        f();
        let after = cpu_ns(pid);
        (after - before) as f64 / (secs as f64 * 1e9) * 100.0
    };
    let idle = cpu(&mut || std::thread::sleep(Duration::from_secs(secs)));
    let events = home.run(RUN).worker("W1").events_path();
    let busy = cpu(&mut || {
        let mut log = OpenOptions::new().append(true).open(&events).unwrap();
        let end = Instant::now() + Duration::from_secs(secs);
        let mut n = 0;
        while Instant::now() < end {
            writeln!(
                log,
                r#"{{"type":"item.completed","item":{{"id":"busy_{n}","type":"command_execution","command":"cargo test {n}","aggregated_output":"","exit_code":0,"status":"completed"}}}}"#
            )
            .unwrap();
            n += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    tmux(&["kill-server"]);
    (idle, busy)
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    (v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Nanoseconds the process (all its threads) has run on a CPU.
fn cpu_ns(pid: u32) -> u64 {
    let mut total = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
