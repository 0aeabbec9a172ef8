//! `orch` against the floor (raw tmux, a `sleep`, a hello-world binary) and its peers
//! (pueue, nq, task-spooler), measured on one machine in one run.
//!
//! Not part of `cargo test`: `scripts/bench` installs the peers, builds everything in
//! release and runs this with `cargo bench --bench compare -- --write BENCHMARKS.md`.
//! Every tool runs on a private socket or folder under a scratch dir; every server this
//! starts is stopped at the end by its own socket or pid, never by name.
//!
//! Timing is wall-clock `Instant` around one `std::process::Command` each, repeated,
//! reported as median with p10/p90. Floor and peers are measured interleaved with orch
//! (same loop), so background load on the machine hits both sides alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Opts {
    orch: PathBuf,
    fake_codex: PathBuf,
    hello: Option<PathBuf>,
    pueue_dir: Option<PathBuf>,
    write: Option<PathBuf>,
    quick: bool,
}

fn main() {
    let opts = parse_args();
    let scratch = tempfile::Builder::new()
        .prefix("orch-bench-")
        .tempdir_in("/tmp")
        .expect("scratch dir");
    let mut b = Bench::new(opts, scratch.path().to_path_buf());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.run_all()));
    b.cleanup();
    // Stopped daemons and jobs may still be writing their state for a moment.
    for _ in 0..50 {
        if std::fs::remove_dir_all(scratch.path()).is_ok() || !scratch.path().exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    let report = b.report();
    print!("{report}");
    if let Some(path) = &b.opts.write {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let new = merge_sections(&old, &report);
        std::fs::write(path, new).expect("write BENCHMARKS.md");
        eprintln!("wrote {}", path.display());
    }
}

fn parse_args() -> Opts {
    // `cargo test --all-targets` runs harness-less benches with no arguments: say how to
    // run this one rather than fail a test run.
    if std::env::args().len() <= 1 {
        eprintln!("compare: nothing measured; run scripts/bench (it passes --orch and the rest)");
        std::process::exit(0);
    }
    let mut o = Opts {
        orch: PathBuf::new(),
        fake_codex: PathBuf::new(),
        hello: None,
        pueue_dir: None,
        write: None,
        quick: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || PathBuf::from(args.next().expect("flag needs a value"));
        match a.as_str() {
            "--orch" => o.orch = val(),
            "--fake-codex" => o.fake_codex = val(),
            "--hello" => o.hello = Some(val()),
            "--pueue-dir" => o.pueue_dir = Some(val()),
            "--write" => o.write = Some(val()),
            "--quick" => o.quick = true,
            // cargo bench passes --bench to harness=false targets.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        o.orch.is_file(),
        "--orch PATH (the release orch binary) is required"
    );
    assert!(
        o.fake_codex.is_file(),
        "--fake-codex PATH (the release fake codex) is required"
    );
    o
}

/// A sample of durations in milliseconds.
#[derive(Default, Clone)]
struct Sample(Vec<f64>);

impl Sample {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }
    fn q(&self, q: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() - 1) as f64 * q).round() as usize]
    }
    fn median(&self) -> f64 {
        self.q(0.5)
    }
    fn cell(&self, unit: &str) -> String {
        if self.0.is_empty() {
            return "not measured".into();
        }
        format!(
            "{} {unit} (p10 {}, p90 {}, n={})",
            fmt(self.median()),
            fmt(self.q(0.1)),
            fmt(self.q(0.9)),
            self.0.len()
        )
    }
}

fn fmt(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

struct Row {
    what: String,
    value: String,
}

struct Check {
    figure: String,
    target: String,
    measured: String,
    ok: Option<bool>,
}

struct Bench {
    opts: Opts,
    scratch: PathBuf,
    tmux_sockets: Vec<PathBuf>,
    daemons: Vec<std::process::Child>,
    sections: BTreeMap<&'static str, Vec<Row>>,
    checks: Vec<Check>,
    started: String,
    load: String,
}

fn run_quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn timed(cmd: &mut Command) -> Duration {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = cmd.output().expect("run command");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().expect("run command");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn time_field(v: &Value, key: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(v.get(key)?.as_str()?).ok()
}

fn rss_kib(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Bench {
    fn new(opts: Opts, scratch: PathBuf) -> Bench {
        Bench {
            opts,
            scratch,
            tmux_sockets: Vec::new(),
            daemons: Vec::new(),
            sections: BTreeMap::new(),
            checks: Vec::new(),
            started: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            load: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    fn reps(&self, full: usize, quick: usize) -> usize {
        if self.opts.quick { quick } else { full }
    }

    fn row(&mut self, section: &'static str, what: impl Into<String>, value: impl Into<String>) {
        let (what, value) = (what.into(), value.into());
        eprintln!("  {what}: {value}");
        self.sections
            .entry(section)
            .or_default()
            .push(Row { what, value });
    }

    fn check(&mut self, figure: &str, target: &str, measured: String, ok: Option<bool>) {
        self.checks.push(Check {
            figure: figure.into(),
            target: target.into(),
            measured,
            ok,
        });
    }

    /// An orch command with its own home and tmux server under the scratch dir.
    fn orch(&mut self, home: &Path) -> Command {
        let sock = home.join("tmux.sock");
        if !self.tmux_sockets.contains(&sock) {
            self.tmux_sockets.push(sock.clone());
        }
        let mut c = Command::new(&self.opts.orch);
        c.env("ORCH_HOME", home)
            .env("ORCH_TMUX_SOCKET", &sock)
            .env("ORCH_CODEX", &self.opts.fake_codex)
            .env("NO_COLOR", "1")
            .current_dir(&self.scratch);
        c
    }

    fn tmux(&mut self, sock: &Path) -> Command {
        if !self.tmux_sockets.iter().any(|s| s == sock) {
            self.tmux_sockets.push(sock.to_path_buf());
        }
        let mut c = Command::new("tmux");
        c.arg("-S").arg(sock).arg("-f").arg("/dev/null");
        c
    }

    fn pueue(&self) -> Option<(PathBuf, PathBuf)> {
        let dir = self.opts.pueue_dir.as_ref()?;
        let (c, d) = (dir.join("bin/pueue"), dir.join("bin/pueued"));
        (c.is_file() && d.is_file()).then_some((c, d))
    }

    fn which(name: &str) -> bool {
        run_quiet(Command::new("sh").args(["-c", &format!("command -v {name}")]))
    }

    fn run_all(&mut self) {
        eprintln!("spawn…");
        let status_run = self.spawn();
        eprintln!("status and listing…");
        self.status(&status_run);
        eprintln!("memory…");
        self.memory(&status_run);
        eprintln!("queue latency…");
        self.queue_latency();
        eprintln!("start-up…");
        self.startup();
    }

    /// 20 and 100 sequential spawns into one run, beside raw tmux, pueue and nq.
    /// Returns the home and run of the last 100-worker run (its workers still live).
    fn spawn(&mut self) -> (PathBuf, String) {
        let mut last = None;
        for &n in &[20usize, 100] {
            let reps = if n == 20 {
                self.reps(5, 2)
            } else {
                self.reps(3, 1)
            };
            let (mut orch, mut raw, mut pq, mut nq, mut tsp) = (
                Sample::default(),
                Sample::default(),
                Sample::default(),
                Sample::default(),
                Sample::default(),
            );
            let mut tmpfs = Sample::default();
            let (mut orch_total, mut raw_total) = (Sample::default(), Sample::default());
            for rep in 0..reps {
                let home = self.scratch.join(format!("spawn-{n}-{rep}"));
                // The run is made by one untimed spawn; then N are timed into it.
                let out = self
                    .orch(&home)
                    .args(["spawn", "--label", "first", "FAKE:hang"])
                    .output()
                    .expect("orch spawn");
                assert!(out.status.success(), "{out:?}");
                let run = String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .split('/')
                    .next()
                    .unwrap()
                    .to_string();
                let raw_sock = self.scratch.join(format!("raw-{n}-{rep}.sock"));
                assert!(run_quiet(self.tmux(&raw_sock).args([
                    "new-session",
                    "-d",
                    "-s",
                    "bench",
                    "sleep",
                    "3600"
                ])));
                let pueue = self.start_pueue(&format!("spawn-{n}-{rep}"));
                let nqdir = self.scratch.join(format!("nq-{n}-{rep}"));
                std::fs::create_dir_all(&nqdir).unwrap();
                let tsp_sock = self.scratch.join(format!("tsp-{n}-{rep}.sock"));
                // The same spawns with ORCH_HOME on tmpfs, where fsync costs nothing:
                // what orch costs apart from making its records durable.
                let shm = (n == 20 && Path::new("/dev/shm").is_dir()).then(|| {
                    let h = PathBuf::from(format!(
                        "/dev/shm/{}-{rep}",
                        self.scratch.file_name().unwrap().to_string_lossy()
                    ));
                    let out = self
                        .orch(&h)
                        .args(["spawn", "--label", "first", "FAKE:hang"])
                        .output()
                        .expect("orch spawn");
                    let addr = String::from_utf8_lossy(&out.stdout).trim().to_string();
                    (h, addr.split('/').next().unwrap_or_default().to_string())
                });
                let (mut ot, mut rt) = (Duration::ZERO, Duration::ZERO);
                for _ in 0..n {
                    if let Some((h, r)) = &shm {
                        tmpfs.push(timed(self.orch(h).args(["spawn", "--run", r, "FAKE:hang"])));
                    }
                    let d = timed(self.orch(&home).args(["spawn", "--run", &run, "FAKE:hang"]));
                    ot += d;
                    orch.push(d);
                    let d = timed(self.tmux(&raw_sock).args([
                        "new-window",
                        "-d",
                        "-t",
                        "=bench:",
                        "--",
                        "sleep",
                        "3600",
                    ]));
                    rt += d;
                    raw.push(d);
                    if let Some((client, cfg)) = &pueue {
                        pq.push(timed(Command::new(client).arg("-c").arg(cfg).args([
                            "add",
                            "--stashed",
                            "--",
                            "true",
                        ])));
                    }
                    if Self::which("nq") {
                        nq.push(timed(Command::new("nq").env("NQDIR", &nqdir).arg("true")));
                    }
                    if Self::which("tsp") {
                        tsp.push(timed(
                            Command::new("tsp").env("TS_SOCKET", &tsp_sock).arg("true"),
                        ));
                    }
                }
                orch_total.push(ot);
                raw_total.push(rt);
                // nq's `true` jobs end by themselves; tsp's queue holds a server.
                self.stop_tsp(&tsp_sock);
                if let Some((client, cfg)) = &pueue {
                    self.stop_pueue(client, cfg);
                }
                let _ = run_quiet(self.tmux(&raw_sock).arg("kill-server"));
                if let Some((h, _)) = shm {
                    let _ = run_quiet(self.tmux(&h.join("tmux.sock")).arg("kill-server"));
                    let _ = std::fs::remove_dir_all(&h);
                }
                if n == 100 && rep == reps - 1 {
                    last = Some((home, run));
                } else {
                    let _ = run_quiet(self.tmux(&home.join("tmux.sock")).arg("kill-server"));
                }
            }
            let s = "Spawn";
            self.row(
                s,
                format!("`orch spawn --run R` ×{n}, per spawn"),
                orch.cell("ms"),
            );
            if !tmpfs.0.is_empty() {
                self.row(
                    s,
                    format!("`orch spawn --run R` ×{n} with ORCH_HOME on tmpfs (no fsync cost)"),
                    tmpfs.cell("ms"),
                );
            }
            self.row(
                s,
                format!("raw `tmux new-window -d` ×{n}, per window"),
                raw.cell("ms"),
            );
            self.row(s, format!("`pueue add` ×{n}, per task"), pq.cell("ms"));
            self.row(s, format!("`nq` ×{n}, per job"), nq.cell("ms"));
            self.row(s, format!("`tsp` ×{n}, per job"), tsp.cell("ms"));
            self.row(
                s,
                format!("all {n} orch spawns, total"),
                orch_total.cell("ms"),
            );
            self.row(
                s,
                format!("all {n} raw new-windows, total"),
                raw_total.cell("ms"),
            );
            let ratio = orch.median() / raw.median();
            self.check(
                &format!("spawn ×{n} per worker"),
                "≤ 2× raw tmux new-window",
                format!(
                    "{} ms vs {} ms = {:.1}×",
                    fmt(orch.median()),
                    fmt(raw.median()),
                    ratio
                ),
                Some(ratio <= 2.0),
            );
        }
        last.expect("a 100-worker run")
    }

    fn status(&mut self, (home, run): &(PathBuf, String)) {
        let reps = self.reps(40, 10);
        // A raw server with 100 windows, the floor for "list what runs".
        let raw_sock = self.scratch.join("raw-status.sock");
        assert!(run_quiet(self.tmux(&raw_sock).args([
            "new-session",
            "-d",
            "-s",
            "bench",
            "sleep",
            "3600"
        ])));
        for _ in 1..101 {
            assert!(run_quiet(self.tmux(&raw_sock).args([
                "new-window",
                "-d",
                "-t",
                "=bench:",
                "sleep",
                "3600"
            ])));
        }
        // Every worker has started (its wrapper took the lock) before status is timed.
        let st = self
            .orch(home)
            .args(["status", "--json", run])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&st.stdout).expect("status json");
        let n_workers = v["workers"].as_array().map_or(0, Vec::len);
        wait_for("all workers running", Duration::from_secs(120), || {
            let out = self
                .orch(home)
                .args(["status", "--json", run])
                .output()
                .unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            v["counts"]["running"].as_u64() == Some(n_workers as u64)
        });
        let (mut status, mut lw) = (Sample::default(), Sample::default());
        for _ in 0..reps {
            status.push(timed(self.orch(home).args(["status", "--json", run])));
            lw.push(timed(self.tmux(&raw_sock).args([
                "list-windows",
                "-a",
                "-F",
                "#{window_id} #{window_name} #{pane_pid} #{pane_dead}",
            ])));
        }
        let _ = run_quiet(self.tmux(&raw_sock).arg("kill-server"));
        let s = "Status and listing";
        self.row(
            s,
            format!("`orch status --json` of a {n_workers}-worker run (all running)"),
            status.cell("ms"),
        );
        self.row(
            s,
            "`tmux list-windows -a -F …` with 101 windows",
            lw.cell("ms"),
        );
        let ratio = status.median() / lw.median();
        self.check(
            "status --json, 100 workers",
            "≤ 3× tmux list-windows",
            format!(
                "{} ms vs {} ms = {:.1}×",
                fmt(status.median()),
                fmt(lw.median()),
                ratio
            ),
            Some(ratio <= 3.0),
        );

        // 1000 runs on disk: one real finished run, copied under 999 more ids.
        let big = self.scratch.join("ls-home");
        let out = self
            .orch(&big)
            .args(["spawn", "FAKE:reply=ok"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let addr = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (run0, label) = addr.split_once('/').unwrap();
        let exit = big.join(format!("runs/{run0}/workers/{label}/exit.json"));
        wait_for(
            "the template worker to finish",
            Duration::from_secs(60),
            || exit.exists(),
        );
        let _ = run_quiet(self.tmux(&big.join("tmux.sock")).arg("kill-server"));
        let src = big.join("runs").join(run0);
        for i in 0..999u32 {
            let id = format!(
                "20250101-{:02}{:02}-a{:02}",
                i / 60 % 24,
                i % 60,
                i / 1440 % 100
            );
            let dst = big.join("runs").join(&id);
            assert!(run_quiet(Command::new("cp").arg("-a").arg(&src).arg(&dst)));
            let rec = dst.join("run.json");
            let mut v = read_json(&rec).unwrap();
            v["id"] = Value::String(id);
            std::fs::write(&rec, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        }
        let (mut ls, mut ls_json) = (Sample::default(), Sample::default());
        for _ in 0..self.reps(20, 5) {
            ls.push(timed(self.orch(&big).arg("ls")));
            ls_json.push(timed(self.orch(&big).args(["ls", "--json"])));
        }
        self.row(s, "`orch ls` with 1000 runs on disk", ls.cell("ms"));
        self.row(
            s,
            "`orch ls --json` with 1000 runs on disk",
            ls_json.cell("ms"),
        );

        // Peers with 1000 jobs each.
        let mut tsp_l = Sample::default();
        if Self::which("tsp") {
            let sock = self.scratch.join("tsp-ls.sock");
            let tsp = |args: &[&str]| {
                let mut c = Command::new("tsp");
                c.env("TS_SOCKET", &sock)
                    .env("TS_MAXFINISHED", "2000")
                    .args(args);
                c
            };
            for _ in 0..1000 {
                assert!(run_quiet(&mut tsp(&["true"])));
            }
            // Let the queue drain so the list is 1000 finished jobs.
            wait_for("tsp queue to drain", Duration::from_secs(300), || {
                let out = output(&mut tsp(&["-l"]));
                !out.contains("running") && !out.contains("queued")
            });
            for _ in 0..self.reps(20, 5) {
                tsp_l.push(timed(&mut tsp(&["-l"])));
            }
            self.stop_tsp(&sock);
        }
        self.row(s, "`tsp -l` with 1000 jobs", tsp_l.cell("ms"));
        let mut nq_ls = Sample::default();
        if Self::which("nq") {
            let dir = self.scratch.join("nq-ls");
            std::fs::create_dir_all(&dir).unwrap();
            // nq names each job ,<time>.<pid>; 1000 finished jobs are 1000 files.
            for i in 0..1000 {
                std::fs::write(
                    dir.join(format!(",18f0c{i:05}.{}", 10000 + i)),
                    "exec true\n",
                )
                .unwrap();
            }
            for _ in 0..self.reps(20, 5) {
                nq_ls.push(timed(Command::new("ls").arg("-F").arg(&dir)));
            }
        }
        self.row(s, "`ls -F $NQDIR` with 1000 nq jobs", nq_ls.cell("ms"));
        let mut pq = Sample::default();
        if let Some((client, cfg)) = self.start_pueue("status") {
            // Stashed tasks never run: 1000 entries in the daemon's state.
            let mut batch = Command::new("sh");
            batch.arg("-c").arg(format!(
                "for i in $(seq 1000); do '{}' -c '{}' add --stashed -- true >/dev/null || exit 1; done",
                client.display(),
                cfg.display()
            ));
            assert!(run_quiet(&mut batch));
            for _ in 0..self.reps(20, 5) {
                pq.push(timed(
                    Command::new(&client)
                        .arg("-c")
                        .arg(&cfg)
                        .args(["status", "--json"]),
                ));
            }
            self.stop_pueue(&client, &cfg);
        }
        self.row(s, "`pueue status --json` with 1000 tasks", pq.cell("ms"));
        if !tsp_l.0.is_empty() {
            self.check(
                "`orch ls`, 1000 runs",
                "no slower than `tsp -l` with 1000 jobs",
                format!(
                    "{} ms vs {} ms = {:.1}×",
                    fmt(ls.median()),
                    fmt(tsp_l.median()),
                    ls.median() / tsp_l.median()
                ),
                Some(ls.median() <= tsp_l.median()),
            );
        }
    }

    /// Wrapper RSS from the live 100-worker run, beside `sleep` and pueued.
    fn memory(&mut self, (home, run): &(PathBuf, String)) {
        let s = "Memory";
        let mut wrappers = Vec::new();
        let mut codexes = Vec::new();
        for e in std::fs::read_dir(home.join("runs").join(run).join("workers")).unwrap() {
            let started = read_json(&e.unwrap().path().join("started.json"));
            if let Some(v) = started {
                if let Some(r) = v["wrapper_pid"].as_u64().and_then(|p| rss_kib(p as u32)) {
                    wrappers.push(r / 1024.0);
                }
                if let Some(r) = v["codex_pid"].as_u64().and_then(|p| rss_kib(p as u32)) {
                    codexes.push(r / 1024.0);
                }
            }
        }
        let mut sleep = Command::new("sleep").arg("60").spawn().expect("sleep");
        std::thread::sleep(Duration::from_millis(100));
        let sleep_rss = rss_kib(sleep.id()).unwrap_or(f64::NAN) / 1024.0;
        let _ = sleep.kill();
        let _ = sleep.wait();
        let w = Sample(wrappers);
        self.row(
            s,
            "RSS of one `orch __worker` wrapper while codex runs",
            w.cell("MiB"),
        );
        self.row(
            s,
            "RSS of the fake codex it runs (for scale)",
            Sample(codexes).cell("MiB"),
        );
        self.row(
            s,
            "RSS of a `sleep` process",
            format!("{} MiB", fmt(sleep_rss)),
        );
        if let Some((client, cfg)) = self.start_pueue("mem") {
            let pid = std::fs::read_to_string(self.scratch.join("pueue-mem/daemon.pid"))
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok());
            let rss = pid.and_then(rss_kib).map(|r| r / 1024.0);
            self.row(
                s,
                "RSS of pueued (idle, no tasks)",
                rss.map(|r| format!("{} MiB", fmt(r)))
                    .unwrap_or("not measured".into()),
            );
            self.stop_pueue(&client, &cfg);
        }
        let m = w.median();
        self.check(
            "wrapper RSS",
            "≤ 5 MiB",
            format!("{} MiB", fmt(m)),
            Some(m <= 5.0),
        );
    }

    /// max-parallel 1: the second worker starts when the first one's exit is written.
    fn queue_latency(&mut self) {
        let s = "Queue latency";
        let reps = self.reps(15, 4);
        let (mut launch, mut start) = (Sample::default(), Sample::default());
        let home = self.scratch.join("queue");
        for _ in 0..reps {
            let out = self
                .orch(&home)
                .args([
                    "spawn",
                    "--max-parallel",
                    "1",
                    "--label",
                    "a",
                    "FAKE:sleep=0.2",
                ])
                .output()
                .unwrap();
            assert!(out.status.success());
            let run = String::from_utf8_lossy(&out.stdout)
                .split('/')
                .next()
                .unwrap()
                .to_string();
            assert!(run_quiet(self.orch(&home).args([
                "spawn",
                "--run",
                &run,
                "--label",
                "b",
                "FAKE:reply=ok"
            ])));
            let wdir = home.join("runs").join(&run).join("workers");
            let b_started = wdir.join("b/started.json");
            wait_for(
                "the queued worker to start",
                Duration::from_secs(60),
                || b_started.exists() && wdir.join("a/exit.json").exists(),
            );
            let a_exit = read_json(&wdir.join("a/exit.json")).unwrap();
            let b_launch = read_json(&wdir.join("b/launch.json")).unwrap();
            let b_start = read_json(&b_started).unwrap();
            let end = time_field(&a_exit, "finished_at").unwrap();
            let ms = |t: chrono::DateTime<chrono::FixedOffset>| {
                Duration::from_micros((t - end).num_microseconds().unwrap_or(0).max(0) as u64)
            };
            launch.push(ms(time_field(&b_launch, "launched_at").unwrap()));
            start.push(ms(time_field(&b_start, "started_at").unwrap()));
        }
        self.row(
            s,
            "orch: first worker's exit (finished_at) → second's launch.json (launched_at)",
            launch.cell("ms"),
        );
        self.row(
            s,
            "orch: first worker's exit → second's wrapper started (started_at)",
            start.cell("ms"),
        );
        let mut pq = Sample::default();
        if let Some((client, cfg)) = self.start_pueue("queue") {
            let pueue = |args: &[&str]| {
                let mut c = Command::new(&client);
                c.arg("-c").arg(&cfg).args(args);
                c
            };
            for _ in 0..reps {
                assert!(run_quiet(&mut pueue(&["add", "--", "sleep", "0.2"])));
                assert!(run_quiet(&mut pueue(&["add", "--", "true"])));
                let mut tasks = Value::Null;
                wait_for("pueue tasks to finish", Duration::from_secs(60), || {
                    let v: Value = serde_json::from_str(&output(&mut pueue(&["status", "--json"])))
                        .unwrap_or_default();
                    let done = v["tasks"]
                        .as_object()
                        .is_some_and(|t| t.values().all(|t| t["status"].get("Done").is_some()));
                    tasks = v["tasks"].clone();
                    done
                });
                let mut ids: Vec<u64> = tasks
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter_map(|k| k.parse().ok())
                    .collect();
                ids.sort();
                let (a, b) = (ids[ids.len() - 2], ids[ids.len() - 1]);
                let a_end = time_field(&tasks[a.to_string()]["status"]["Done"], "end").unwrap();
                let b_start = time_field(&tasks[b.to_string()]["status"]["Done"], "start").unwrap();
                pq.push(Duration::from_micros(
                    (b_start - a_end).num_microseconds().unwrap_or(0).max(0) as u64,
                ));
            }
            self.stop_pueue(&client, &cfg);
        }
        self.row(
            s,
            "pueue (parallel 1): first task's end → second task's start",
            pq.cell("ms"),
        );
        let _ = run_quiet(self.tmux(&home.join("tmux.sock")).arg("kill-server"));
        let m = launch.median();
        self.check(
            "queue latency (exit → launch)",
            "≤ 10 ms",
            format!("{} ms", fmt(m)),
            Some(m <= 10.0),
        );
    }

    fn startup(&mut self) {
        let s = "Start-up";
        let reps = self.reps(200, 30);
        let (mut orch, mut hello, mut help) =
            (Sample::default(), Sample::default(), Sample::default());
        for _ in 0..reps {
            orch_push(&mut orch, &self.opts.orch, &["--version"]);
            orch_push(&mut help, &self.opts.orch, &["status", "--help"]);
            if let Some(h) = &self.opts.hello {
                orch_push(&mut hello, h, &[]);
            }
        }
        fn orch_push(s: &mut Sample, exe: &Path, args: &[&str]) {
            s.push(timed(Command::new(exe).args(args)));
        }
        self.row(s, "`orch --version`", orch.cell("ms"));
        self.row(
            s,
            "`orch status --help` (clap builds the full help)",
            help.cell("ms"),
        );
        self.row(
            s,
            "Rust hello-world, release, same profile",
            hello.cell("ms"),
        );
        if !hello.0.is_empty() {
            let ratio = orch.median() / hello.median();
            self.check(
                "start-up (`orch --version`)",
                "≤ 1.5× hello-world",
                format!(
                    "{} ms vs {} ms = {:.2}×",
                    fmt(orch.median()),
                    fmt(hello.median()),
                    ratio
                ),
                Some(ratio <= 1.5),
            );
        }
        let size = std::fs::metadata(&self.opts.orch).map_or(0, |m| m.len());
        self.row(
            s,
            "size of the orch binary",
            format!("{:.1} MiB", size as f64 / 1048576.0),
        );
    }

    /// A pueued on its own config, socket and state folder; returns (client, config).
    fn start_pueue(&mut self, name: &str) -> Option<(PathBuf, PathBuf)> {
        let (client, daemon) = self.pueue()?;
        let dir = self.scratch.join(format!("pueue-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("pueue.yml");
        std::fs::write(
            &cfg,
            format!(
                "shared:\n  pueue_directory: {d}\n  runtime_directory: {d}\n  use_unix_socket: true\n  unix_socket_path: {d}/pueue.sock\n  pid_path: {d}/pueue.pid\ndaemon:\n  default_parallel_tasks: 1\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new(&daemon)
            .arg("-c")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("pueued.log")).unwrap())
            .spawn()
            .expect("pueued");
        std::fs::write(dir.join("daemon.pid"), child.id().to_string()).unwrap();
        self.daemons.push(child);
        wait_for("pueued to listen", Duration::from_secs(20), || {
            run_quiet(Command::new(&client).arg("-c").arg(&cfg).arg("status"))
        });
        Some((client, cfg))
    }

    fn stop_pueue(&mut self, client: &Path, cfg: &Path) {
        let _ = run_quiet(
            Command::new(client)
                .arg("-c")
                .arg(cfg)
                .args(["kill", "--all"]),
        );
        let pid_file = cfg.parent().unwrap().join("daemon.pid");
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            && let Some(i) = self.daemons.iter().position(|c| c.id() == pid)
        {
            let mut child = self.daemons.remove(i);
            kill(pid);
            let _ = child.wait();
        }
    }

    fn stop_tsp(&self, sock: &Path) {
        if sock.exists() {
            let _ = run_quiet(Command::new("tsp").env("TS_SOCKET", sock).arg("-K"));
        }
    }

    fn cleanup(&mut self) {
        for sock in self.tmux_sockets.clone() {
            if sock.exists() {
                let _ = run_quiet(self.tmux(&sock).arg("kill-server"));
            }
        }
        for mut child in std::mem::take(&mut self.daemons) {
            kill(child.id());
            let _ = child.wait();
        }
    }

    fn report(&self) -> String {
        let mut out = String::new();
        let uname = output(Command::new("uname").arg("-srm"));
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("?")
            .trim()
            .to_string();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let mem = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or("?".into(), |k| format!("{:.1} GiB", k / 1048576.0));
        let versions = [
            output(Command::new(&self.opts.orch).arg("--version")),
            output(Command::new("tmux").arg("-V")),
            self.pueue()
                .map(|(c, _)| output(Command::new(c).arg("--version")))
                .unwrap_or("pueue: not installed".into()),
            output(Command::new("dpkg-query").args(["-W", "-f", "nq ${Version}", "nq"])),
            output(Command::new("dpkg-query").args([
                "-W",
                "-f",
                "task-spooler ${Version}",
                "task-spooler",
            ])),
        ];
        out.push_str("## Machine and method (compare)\n\n");
        out.push_str(&format!(
            "- machine: `{uname}`, {cpu}, {cores} cores, {mem} memory\n- run: {} (load average at start {})\n- tools: {}\n- command: `scripts/bench` (runs `cargo bench --bench compare -- --write BENCHMARKS.md`{})\n",
            self.started,
            self.load,
            versions.iter().filter(|v| !v.is_empty()).cloned().collect::<Vec<_>>().join(", "),
            if self.opts.quick { " --quick" } else { "" },
        ));
        out.push_str(
            "- method: wall-clock time around one process each (`std::time::Instant` around \
             `std::process::Command`), orch and its floor/peers interleaved in the same loop so \
             background load hits both; figures are median (p10, p90, n samples). orch runs the \
             fake codex (`tests/fake-codex`, prompt `FAKE:hang`) as codex, so only orch is timed; \
             its worker wrapper and the fake codex start in tmux after spawn returns and compete \
             for the 2 cores with the next spawn (the raw tmux windows run `sleep`). The \
             peers enqueue trivial jobs (`pueue add --stashed -- true`, `nq true`, \
             `tsp true`): only the enqueue is timed. Every tool \
             runs on a private socket/folder (tmux -S, ORCH_HOME/ORCH_TMUX_SOCKET, pueue -c, \
             NQDIR, TS_SOCKET) and is stopped by socket or pid at the end.\n\n",
        );
        out.push_str("## Targets (compare)\n\n| figure | target | measured (medians) | met |\n|---|---|---|---|\n");
        for c in &self.checks {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.figure,
                c.target,
                c.measured,
                match c.ok {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                }
            ));
        }
        out.push('\n');
        for title in [
            "Spawn",
            "Status and listing",
            "Queue latency",
            "Memory",
            "Start-up",
        ] {
            let Some(rows) = self.sections.get(title) else {
                continue;
            };
            out.push_str(&format!(
                "## {title} (compare)\n\n| what | median (p10, p90, n) |\n|---|---|\n"
            ));
            for r in rows {
                out.push_str(&format!("| {} | {} |\n", r.what, r.value));
            }
            out.push('\n');
        }
        out.push_str(NOTES);
        out
    }
}

/// What was changed in orch after the first measurement, and what remains.
const NOTES: &str = include_str!("compare-notes.md");

fn kill(pid: u32) {
    let _ = run_quiet(Command::new("kill").arg(pid.to_string()));
}

/// Replaces the `## … (compare)` sections of `old` with those of `new`, keeping every
/// other section (other benchmarks write their own) where it was.
fn merge_sections(old: &str, new: &str) -> String {
    fn split(text: &str) -> (String, Vec<(String, String)>) {
        let mut head = String::new();
        let mut secs: Vec<(String, String)> = Vec::new();
        for line in text.split_inclusive('\n') {
            if let Some(t) = line.strip_prefix("## ") {
                secs.push((t.trim().to_string(), line.to_string()));
            } else if let Some((_, body)) = secs.last_mut() {
                body.push_str(line);
            } else {
                head.push_str(line);
            }
        }
        (head, secs)
    }
    let ours = |t: &str| t.ends_with("(compare)");
    let (head, old_secs) = split(old);
    let (_, new_secs) = split(new);
    let mut out = if head.trim().is_empty() {
        "# Benchmarks\n\nMeasured figures; each `## …` section is written by the harness named \
         in its title. See README, \"Benchmarks\".\n\n"
            .to_string()
    } else {
        head
    };
    let mut placed = false;
    for (title, body) in &old_secs {
        if ours(title) {
            if !placed {
                for (_, b) in &new_secs {
                    out.push_str(b);
                }
                placed = true;
            }
        } else {
            out.push_str(body);
        }
    }
    if !placed {
        for (_, b) in &new_secs {
            out.push_str(b);
        }
    }
    out
}
