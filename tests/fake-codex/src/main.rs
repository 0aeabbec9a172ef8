//! A stand-in for `codex exec --json`, for orch's integration tests.
//!
//! It emits the event shapes measured on codex 0.169.0 (see shared/reference), honours
//! `-o`/`--output-last-message` (created EMPTY at start, filled only on success, like the
//! real binary), and behaves as the prompt's `FAKE:` lines say:
//!
//! - `FAKE:sleep=SECS`    work this long before answering (fractions allowed)
//! - `FAKE:hang`          never answer; only a signal ends it
//! - `FAKE:wait-for=PATH` work until file PATH exists (a test's gate), then answer
//! - `FAKE:fail=MESSAGE`  the turn fails: `error` events, `turn.failed`, exit 1
//! - `FAKE:exit=N`        exit with code N after the turn (N≠0: no `turn.completed`)
//! - `FAKE:incomplete`    exit 0 without `turn.completed`
//! - `FAKE:reply=TEXT`    the final message (`\n` for newlines); default echoes the prompt
//! - `FAKE:reply-file=P`  the final message is the content of file P
//! - `FAKE:env=NAME`      append `NAME=<value>` of the environment to the reply
//! - `FAKE:write=PATH=TEXT` write TEXT (`\n` for newlines) to PATH, relative to the
//!   working folder, before answering (repeatable: every such line is applied)
//! - `FAKE:stderr=TEXT`   write TEXT to stderr
//! - `FAKE:tokens=IN,OUT[,CACHED]` usage reported in `turn.completed` (CACHED is a part
//!   of IN, as with the real codex)
//! - `FAKE:commands=N`    run N fake shell commands (item events), one per 50 ms
//! - `FAKE:unknown`       also emit event types orch does not know
//! - `FAKE:spawn-child`   start a `sleep 300` child in its process group (orphan tests)
//! - `FAKE:first=N`       apply `fail`/`hang`/`exit` only to the first N invocations in
//!   this worker folder (later attempts succeed: retry tests)
//! - `FAKE:usage-limit=SECS` the first invocation starts a usage limit that lasts SECS
//!   seconds (kept in `fake-limit-until` beside `-o`); every invocation while it lasts
//!   fails like codex does on HTTP 429 `usage_limit_reached`: an `error` event and
//!   `turn.failed` with "You’ve hit your usage limit. … try again in N seconds.", exit 1
//! - `FAKE:usage-limit-text=T` the same, once, with message T (codex's own wording)
//! - `FAKE:@LABEL:D`      directive `FAKE:D` for worker LABEL only (ORCH_WORKER RUN/LABEL)
//! - `FAKE:offline=SECS`  first report `Reconnecting... waiting for network` every 0.2 s
//!   for SECS seconds (`forever`: until a signal), as codex does without a network
//!
//! `FAKE_CODEX_RESUME_FAIL=MESSAGE` in the environment: a `resume` invocation fails its
//! turn with MESSAGE (a login refused after a reboot: recover tests).
//!
//! `codex login status` answers "Logged in using ChatGPT" (exit 0), or "Not logged in"
//! (exit 1) when FAKE_CODEX_LOGIN=none.
//!
//! An argument starting with `--bogus` is refused as the real binary's clap parser does
//! (an `error:` line, usage, `For more information, try '--help'.`, exit 2, no events).
//!
//! SIGINT or SIGTERM: stop at once, exit 1, leave the last-message file empty.
//! Every invocation is appended to `fake-invocations.jsonl` beside the `-o` file.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--version") {
        println!("codex-cli 0.169.0 (fake)");
        return;
    }
    if args.first().map(String::as_str) == Some("login") {
        // Like codex 0.171.0: the answer goes to stderr, stdout stays empty.
        if std::env::var("FAKE_CODEX_LOGIN").as_deref() == Ok("none") {
            eprintln!("Not logged in");
            std::process::exit(1);
        }
        eprintln!("Logged in using ChatGPT");
        return;
    }
    let mut out_file: Option<String> = None;
    let mut resume: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-o" | "--output-last-message" => {
                out_file = args.get(i + 1).cloned();
                i += 1;
            }
            "resume" => {
                resume = args.get(i + 1).cloned();
                i += 1;
            }
            a if a.starts_with("--bogus") => {
                eprintln!(
                    "error: unexpected argument '{a}' found\n\n  tip: to pass '{a}' as a value, use '-- {a}'\n\nUsage: codex exec [OPTIONS] [PROMPT]\n\nFor more information, try '--help'."
                );
                std::process::exit(2);
            }
            _ => {}
        }
        i += 1;
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).expect("signal handler");
    }

    let mut raw = String::new();
    let _ = std::io::stdin().read_to_string(&mut raw);
    // `FAKE:@LABEL:…` is a directive for that worker alone (ORCH_WORKER ends `/LABEL`):
    // workers of one task that share a prompt (best-of-N) can still behave apart.
    let me = std::env::var("ORCH_WORKER").unwrap_or_default();
    let me = me.rsplit('/').next().unwrap_or("").to_string();
    let prompt: String = raw
        .lines()
        .filter_map(|l| match l.trim().strip_prefix("FAKE:@") {
            Some(rest) => {
                let (label, directive) = rest.split_once(':')?;
                (label == me).then(|| format!("FAKE:{directive}"))
            }
            None => Some(l.to_string()),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let directive = |name: &str| -> Option<String> {
        prompt.lines().find_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("FAKE:")?;
            if rest == name {
                Some(String::new())
            } else {
                rest.strip_prefix(name)?
                    .strip_prefix('=')
                    .map(str::to_string)
            }
        })
    };

    let mut invocation = 0;
    if let Some(path) = &out_file {
        let dir = std::path::Path::new(path).parent().unwrap();
        let record = json!({
            "argv": args,
            "prompt": prompt,
            "cwd": std::env::current_dir().unwrap(),
            "pid": std::process::id(),
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("fake-invocations.jsonl"))
            .unwrap();
        writeln!(f, "{record}").unwrap();
        drop(f);
        invocation = std::fs::read_to_string(dir.join("fake-invocations.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(1);
        std::fs::write(path, b"").expect("create the -o file");
    }
    let misbehave = directive("first")
        .and_then(|n| n.parse::<usize>().ok())
        .is_none_or(|n| invocation <= n);
    let directive = |name: &str| -> Option<String> {
        if matches!(name, "fail" | "hang" | "exit") && !misbehave {
            return None;
        }
        directive(name)
    };

    if let Some(text) = directive("stderr") {
        eprintln!("{text}");
    }
    let thread_id = resume
        .clone()
        .unwrap_or_else(|| format!("fake-thread-{}", std::process::id()));
    emit(json!({"type": "thread.started", "thread_id": thread_id}));
    emit(json!({"type": "turn.started"}));
    if directive("unknown").is_some() {
        emit(json!({"type": "session.future_thing", "payload": {"x": 1}}));
        emit(
            json!({"type": "item.completed", "item": {"id": "u1", "type": "brand_new_item", "blob": [1, 2]}}),
        );
    }
    if directive("spawn-child").is_some() {
        let _ = std::process::Command::new("sleep").arg("300").spawn();
    }

    let interrupted = || {
        // Real codex exits 1 on Ctrl-C and leaves the -o file empty.
        std::process::exit(1)
    };
    let pause = |d: Duration| {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if stop.load(Ordering::SeqCst) {
                interrupted();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    let commands: u32 = directive("commands")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    for n in 0..commands {
        let cmd = format!("echo step {n}");
        emit(
            json!({"type": "item.started", "item": {"id": format!("c{n}"), "type": "command_execution", "command": cmd, "status": "in_progress"}}),
        );
        pause(Duration::from_millis(50));
        emit(
            json!({"type": "item.completed", "item": {"id": format!("c{n}"), "type": "command_execution", "command": cmd, "exit_code": 0, "status": "completed", "aggregated_output": format!("step {n}\n")}}),
        );
    }
    if let Some(gate) = directive("wait-for") {
        while !std::path::Path::new(&gate).exists() {
            pause(Duration::from_millis(10));
        }
    }
    if let Some(secs) = directive("sleep").and_then(|s| s.parse::<f64>().ok()) {
        pause(Duration::from_secs_f64(secs));
    }
    if directive("hang").is_some() {
        loop {
            pause(Duration::from_secs(3600));
        }
    }
    if stop.load(Ordering::SeqCst) {
        interrupted();
    }

    if let (Some(_), Ok(message)) = (&resume, std::env::var("FAKE_CODEX_RESUME_FAIL")) {
        emit(json!({"type": "error", "message": message}));
        emit(json!({"type": "turn.failed", "error": {"message": message}}));
        std::process::exit(1);
    }
    if let Some(secs) = directive("offline") {
        let end = secs
            .parse::<f64>()
            .ok()
            .map(|s| Instant::now() + Duration::from_secs_f64(s));
        while end.is_none_or(|e| Instant::now() < e) {
            emit(
                json!({"type": "error", "message": "Reconnecting... waiting for network (Connection failed: error sending request)"}),
            );
            pause(Duration::from_millis(200));
        }
    }
    if let (Some(secs), Some(path)) = (directive("usage-limit"), &out_file) {
        let marker = std::path::Path::new(path)
            .parent()
            .unwrap()
            .join("fake-limit-until");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let until = match std::fs::read_to_string(&marker) {
            Ok(t) => t.trim().parse::<f64>().unwrap_or(0.0),
            Err(_) => {
                let u = now + secs.parse::<f64>().unwrap_or(3.0);
                std::fs::write(&marker, u.to_string()).unwrap();
                u
            }
        };
        if now < until {
            let left = (until - now).ceil() as u64;
            usage_limit(&format!(
                "You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again in {left} seconds."
            ));
        }
    }
    if let Some(text) = directive("usage-limit-text")
        && invocation <= 1
    {
        usage_limit(&text);
    }
    if let Some(message) = directive("fail") {
        for n in 1..=2 {
            emit(json!({"type": "error", "message": format!("Reconnecting... {n}/5 ({message})")}));
        }
        emit(json!({"type": "turn.failed", "error": {"message": message}}));
        std::process::exit(1);
    }
    for l in prompt.lines() {
        if let Some((path, text)) = l
            .trim()
            .strip_prefix("FAKE:write=")
            .and_then(|r| r.split_once('='))
        {
            let path = std::path::Path::new(path);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).expect("create the folder of a written file");
            }
            std::fs::write(path, text.replace("\\n", "\n")).expect("write a file");
        }
    }
    let exit_code: i32 = directive("exit").and_then(|n| n.parse().ok()).unwrap_or(0);
    if exit_code != 0 {
        emit(json!({"type": "error", "message": format!("fake exit {exit_code}")}));
        std::process::exit(exit_code);
    }

    let mut reply = if let Some(path) = directive("reply-file") {
        std::fs::read_to_string(path).expect("reply file")
    } else if let Some(text) = directive("reply") {
        text.replace("\\n", "\n")
    } else {
        let first = prompt
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with("FAKE:"))
            .unwrap_or("");
        match &resume {
            Some(id) => format!("resumed {id}: {first}"),
            None => format!("fake reply to: {first}"),
        }
    };
    if let Some(name) = directive("env") {
        let value = std::env::var(&name).unwrap_or_default();
        reply.push_str(&format!("\n{name}={value}"));
    }
    emit(
        json!({"type": "item.completed", "item": {"id": "item_1", "type": "agent_message", "text": reply}}),
    );
    if directive("incomplete").is_some() {
        std::process::exit(0);
    }
    let (input, output, cached) = directive("tokens")
        .and_then(|t| {
            let mut n = t.split(',').map(|x| x.trim().parse::<u64>().ok());
            Some((n.next()??, n.next()??, n.next().flatten().unwrap_or(0)))
        })
        .unwrap_or((100u64, 10u64, 0u64));
    emit(
        json!({"type": "turn.completed", "usage": {"input_tokens": input, "cached_input_tokens": cached,
        "cache_write_input_tokens": 0, "output_tokens": output, "reasoning_output_tokens": 0}}),
    );
    if let Some(path) = &out_file {
        std::fs::write(path, &reply).expect("write the -o file");
    }
}

/// What codex 0.171.0 does on HTTP 429 `usage_limit_reached`: no retry, exit 1.
fn usage_limit(message: &str) -> ! {
    emit(json!({"type": "error", "message": message}));
    emit(json!({"type": "turn.failed", "error": {"message": message}}));
    std::process::exit(1);
}

fn emit(v: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}
