//! orch's own commands with the REAL codex as the worker program, against the stand-in:
//! what a user of `orch spawn/status/result/stop/resume/fanout/merge` sees when codex
//! 0.169.0 (node launcher and native binary) does the work.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::orch::{OrchHome, WORKER_TIMEOUT, run_of};
use crate::standin::{CodexHome, HomeOptions, Reply, StandIn, Step, Usage};

/// codex 0.169.0's own text for any 5xx, whatever the server's body says (U+2019).
const HIGH_DEMAND: &str =
    "We’re currently experiencing high demand, which may cause temporary errors.";

fn reply(text: &str, usage: Usage) -> Step {
    Step::reply_with(Reply {
        text: text.to_owned(),
        usage,
        ..Reply::default()
    })
}

fn usage(input_tokens: u64, output_tokens: u64) -> Usage {
    Usage {
        input_tokens,
        output_tokens,
        ..Usage::default()
    }
}

/// The processes whose process group is `pgid`, as (pid, comm).
fn group_members(pgid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let pgrp = stat[close + 1..].split_whitespace().nth(2);
        if pgrp.and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            found.push((pid, comm));
        }
    }
    found
}

/// Polls until no process is left in group `pgid`; fails the test with the survivors.
fn wait_group_gone(pgid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = group_members(pgid);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "codex's process group {pgid} outlived its worker: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn codex_pid(t: &OrchHome, address: &str) -> u32 {
    let started: Value = serde_json::from_str(
        &std::fs::read_to_string(t.worker_dir(address).join("started.json")).expect("started.json"),
    )
    .expect("started.json is JSON");
    started["codex_pid"].as_u64().expect("codex_pid") as u32
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn spawn_then_result_is_the_reply_and_status_has_the_tokens() {
    let standin = StandIn::builder()
        .usage(Usage {
            input_tokens: 321,
            cached_input_tokens: 40,
            output_tokens: 12,
            reasoning_output_tokens: 3,
        })
        .reply("Summary: the README is accurate.\nNothing to fix.")
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let prompt = "Check that the README matches the code.";
    let address = t.spawn(&codex, &["--label", "solo", prompt]);

    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&address));
    assert_eq!(w["exit_code"], 0, "{w:#}");
    assert_eq!(w["error"], Value::Null, "{w:#}");
    assert_eq!(w["tokens"]["input"], 321, "{w:#}");
    assert_eq!(w["tokens"]["cached_input"], 40, "{w:#}");
    assert_eq!(w["tokens"]["output"], 12, "{w:#}");
    assert_eq!(w["tokens"]["reasoning"], 3, "{w:#}");
    let thread = w["thread_id"].as_str().unwrap_or_default();
    assert_eq!(thread.len(), 36, "a codex thread id (UUID): {w:#}");
    let run = t.status(&codex, run_of(&address));
    assert_eq!(run["tokens"]["input"], 321, "the run's total: {run:#}");

    assert_eq!(
        t.ok(&codex, &["result", &address]),
        "Summary: the README is accurate.\nNothing to fix."
    );
    // orch feeds the prompt on stdin; codex passes it on verbatim, after its own context.
    assert_eq!(standin.prompts_per_request(), vec![vec![prompt.to_owned()]]);
    assert!(standin.unknown_requests().is_empty());
    // The wrapper leaves nothing of codex behind (node launcher or native binary).
    wait_group_gone(codex_pid(&t, &address));
}

/// A turn with a tool call makes two model requests; codex reports their sum, and a
/// worker's tokens are what `turn.completed` says.
#[test]
fn a_turn_with_a_shell_command_reports_the_sum_of_its_requests() {
    let standin = StandIn::builder()
        .queue([
            Step::shell("echo hi"),
            reply("It printed hi.", usage(200, 20)),
        ])
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["Run echo hi and tell me what it printed."]);
    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&address));
    // The shell step reports the stand-in's default usage, 10 in / 5 out.
    assert_eq!(w["tokens"]["input"], 210, "{w:#}");
    assert_eq!(w["tokens"]["output"], 25, "{w:#}");
    assert_eq!(t.ok(&codex, &["result", &address]), "It printed hi.");
    let logs = t.ok(&codex, &["logs", &address]);
    assert!(
        logs.contains("echo hi"),
        "orch logs shows the command: {logs}"
    );
}

#[test]
fn http_500_fails_the_worker_with_codexs_message_after_its_retries() {
    let standin = StandIn::builder().status(500).start();
    let codex = CodexHome::with_options(
        &standin,
        HomeOptions {
            request_max_retries: 1,
            stream_max_retries: 1,
        },
    );
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["This will fail."]);
    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "failed", "{w:#}\n{}", t.diagnostics(&address));
    assert_eq!(w["exit_code"], 1, "{w:#}");
    assert_eq!(w["error"], HIGH_DEMAND, "{w:#}");
    // (1 + request_max_retries) × (1 + stream_max_retries) requests before giving up.
    assert_eq!(standin.responses_requests().len(), 4);

    let out = t.run(&codex, &["result", &address]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ended failed") && stderr.contains(HIGH_DEMAND),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// `orch stop` sends Ctrl-C to codex's process group: the node launcher (node 20 has no
/// `process.execve`, so it spawns the native binary as a child) and the native binary
/// both get it, and the worker ends `stopped` — though codex exits 1 and leaves the `-o`
/// file created but empty, just like a failure.
#[test]
fn stop_during_a_hanging_reply_ends_stopped_through_the_node_launcher() {
    let standin = StandIn::builder().hang().start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["Take your time."]);
    assert!(
        standin.wait_for_requests(1, WORKER_TIMEOUT),
        "codex never called the stand-in\n{}",
        t.diagnostics(&address)
    );
    let w = t.wait_for(&codex, &address, "running", |w| w["state"] == "running");
    assert_eq!(w["exit_code"], Value::Null);

    let pgid = codex_pid(&t, &address);
    let members = group_members(pgid);
    let comms: Vec<&str> = members.iter().map(|(_, c)| c.as_str()).collect();
    assert!(
        comms.contains(&"node") && comms.contains(&"codex"),
        "orch starts the node launcher, which runs the native codex in the same group: {members:?}"
    );
    assert_eq!(
        members
            .iter()
            .find(|(pid, _)| *pid == pgid)
            .map(|(_, c)| c.as_str()),
        Some("node"),
        "the pid orch records is the launcher's: {members:?}"
    );

    let began = Instant::now();
    let out = t.ok(&codex, &["stop", &address]);
    let took = began.elapsed();
    assert_eq!(out.trim(), format!("{address} stopped"));
    // Ctrl-C alone was enough: stop escalates to TERM only after its 10 s grace.
    assert!(took < Duration::from_secs(8), "stop took {took:?}");

    let w = t.worker(&codex, &address);
    assert_eq!(w["state"], "stopped", "{w:#}\n{}", t.diagnostics(&address));
    assert_eq!(w["error"], "stopped by the user", "{w:#}");
    // codex exits 1 on its own (the launcher passes the code on); it is not killed.
    assert_eq!(w["exit_code"], 1, "{w:#}");
    assert_eq!(w["signal"], Value::Null, "{w:#}");
    let last = t.worker_dir(&address).join("last-message.md");
    assert_eq!(
        std::fs::read_to_string(&last).expect("codex creates the -o file at start"),
        "",
        "codex leaves it empty"
    );
    let out = t.run(&codex, &["result", &address]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ended stopped"));
    wait_group_gone(pgid);
}

#[test]
fn fanout_of_three_lenses_then_merge_groups_the_shared_finding() {
    let shared = "- [high] src/a.rs:10 — parse() unwraps user input and panics on bad data\n  \
                  Evidence: src/a.rs:10 calls unwrap() on the parsed value";
    let standin = StandIn::builder()
        .route(
            "LENS: correctness",
            Step::reply(format!(
                "{shared}\n- [low] src/b.rs:3 — the name `tmp` hides what it holds\n\
                 Summary: one real bug."
            )),
        )
        .route(
            "LENS: security",
            Step::reply(format!(
                "{shared}\n- [medium] src/c.rs:7 — the API token is logged in plain text\n\
                 Summary: fix the panic and the log line."
            )),
        )
        .route(
            "LENS: tests",
            Step::reply(format!(
                "{shared}\nSummary: parse() needs a bad-input test."
            )),
        )
        // Anything else (a lens routed wrong) gets an answer the asserts would reject.
        .reply("No findings.")
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let run = t
        .ok(
            &codex,
            &[
                "fanout",
                "--lens",
                "correctness,security,tests",
                "--merge",
                "Review src/.",
            ],
        )
        .trim()
        .to_owned();
    for lens in ["correctness", "security", "tests"] {
        let address = format!("{run}/{lens}");
        let w = t.wait_final(&codex, &address);
        assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&address));
        assert_eq!(w["lens"], lens);
    }
    assert_eq!(standin.responses_requests().len(), 3);

    // `--merge`: the last wrapper to end writes merge.md.
    let merge_md = t.home.join("runs").join(&run).join("merge.md");
    let deadline = Instant::now() + WORKER_TIMEOUT;
    while !merge_md.exists() {
        assert!(
            Instant::now() < deadline,
            "fanout --merge wrote no merge.md"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let saved = std::fs::read_to_string(&merge_md).unwrap();

    let md = t.ok(&codex, &["merge", &run]);
    assert_eq!(md, saved, "orch merge and fanout --merge agree");
    assert!(
        md.contains("reported by: correctness, security, tests (3/3)"),
        "{md}"
    );

    let json: Value = serde_json::from_str(&t.ok(&codex, &["merge", &run, "--json"])).unwrap();
    let findings = json["findings"].as_array().expect("findings");
    let summary: Vec<(String, String, Vec<String>)> = findings
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap_or("?").to_owned(),
                f["location"].to_string(),
                sorted(&f["reported_by"]),
            )
        })
        .collect();
    assert_eq!(findings.len(), 3, "{summary:#?}\n{md}");
    assert_eq!(findings[0]["severity"], "high", "{summary:#?}");
    assert!(
        findings[0]["claim"]
            .as_str()
            .unwrap_or("")
            .contains("parse() unwraps user input"),
        "{:#}",
        findings[0]
    );
    assert_eq!(
        sorted(&findings[0]["reported_by"]),
        ["correctness", "security", "tests"],
        "{summary:#?}"
    );
    let labels: Vec<String> = {
        let mut l: Vec<String> = findings[0]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["label"].as_str().unwrap().to_owned())
            .collect();
        l.sort();
        l
    };
    assert_eq!(labels, ["correctness", "security", "tests"]);
    // The two single reports keep their lens, ranked by severity.
    assert_eq!(findings[1]["severity"], "medium", "{summary:#?}");
    assert_eq!(sorted(&findings[1]["reported_by"]), ["security"]);
    assert_eq!(findings[2]["severity"], "low", "{summary:#?}");
    assert_eq!(sorted(&findings[2]["reported_by"]), ["correctness"]);
}

#[test]
fn after_chain_hands_the_dependencys_reply_to_the_dependent() {
    let standin = StandIn::builder()
        // The dependent's prompt holds the first reply, so its route comes first.
        .route("Step two", Step::reply("Used 42: the build passes."))
        .route("Step one", Step::reply("The answer is 42."))
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let first = t.spawn(&codex, &["--label", "first", "Step one: find the answer."]);
    let run = run_of(&first).to_owned();
    let second = t.spawn(
        &codex,
        &[
            "--run",
            &run,
            "--label",
            "second",
            "--after",
            "first",
            "Step two: use the answer.",
        ],
    );
    let w = t.wait_final(&codex, &second);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&second));
    assert_eq!(t.worker(&codex, &first)["state"], "done");
    assert_eq!(
        t.ok(&codex, &["result", &second]),
        "Used 42: the build passes."
    );

    let prompts = standin.prompts_per_request();
    assert_eq!(prompts.len(), 2, "{prompts:#?}");
    assert_eq!(prompts[0], vec!["Step one: find the answer.".to_owned()]);
    let dependent = prompts[1].last().expect("a prompt");
    assert!(
        dependent.starts_with("Step two: use the answer."),
        "{dependent}"
    );
    assert!(
        dependent.contains("## first\n\nThe answer is 42."),
        "the dependency's final message reaches the dependent's request: {dependent}"
    );
}

#[test]
fn spawns_with_different_codex_homes_each_reach_their_own_model() {
    let standin_a = StandIn::builder().reply("Answer from A.").start();
    let standin_b = StandIn::builder().reply("Answer from B.").start();
    let codex_a = CodexHome::new(&standin_a);
    let codex_b = CodexHome::new(&standin_b);
    let t = OrchHome::new();
    let a = t.spawn(&codex_a, &["--label", "a", "Question for A."]);
    let run = run_of(&a).to_owned();
    let b = t.spawn(
        &codex_b,
        &["--run", &run, "--label", "b", "Question for B."],
    );
    for address in [&a, &b] {
        let w = t.wait_final(&codex_a, address);
        assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(address));
    }
    assert_eq!(t.ok(&codex_a, &["result", &a]), "Answer from A.");
    // Whose CODEX_HOME runs `orch result` does not matter; the spawner's did.
    assert_eq!(t.ok(&codex_a, &["result", &b]), "Answer from B.");
    assert_eq!(
        standin_a.prompts_per_request(),
        vec![vec!["Question for A.".to_owned()]]
    );
    assert_eq!(
        standin_b.prompts_per_request(),
        vec![vec!["Question for B.".to_owned()]]
    );
}

#[test]
fn resume_sends_the_earlier_conversation_and_the_new_prompt() {
    let standin = StandIn::builder()
        .queue([
            reply("First answer.", usage(100, 10)),
            reply("Second answer.", usage(1000, 1)),
        ])
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["First prompt."]);
    let first = t.wait_final(&codex, &address);
    assert_eq!(
        first["state"],
        "done",
        "{first:#}\n{}",
        t.diagnostics(&address)
    );
    let thread = first["thread_id"].as_str().expect("a thread id").to_owned();

    let out = t.ok(&codex, &["resume", &address, "Second prompt."]);
    assert!(out.contains(&thread), "{out}");
    let second = t.wait_for(&codex, &address, "attempt 2 ended", |w| {
        w["attempt"] == 2 && !matches!(w["state"].as_str(), Some("queued" | "starting" | "running"))
    });
    assert_eq!(
        second["state"],
        "done",
        "{second:#}\n{}",
        t.diagnostics(&address)
    );
    assert_eq!(second["thread_id"], thread.as_str(), "same codex thread");
    // codex reports the thread's running total: both turns.
    assert_eq!(second["tokens"]["input"], 1100, "{second:#}");
    assert_eq!(second["tokens"]["output"], 11, "{second:#}");
    assert_eq!(t.ok(&codex, &["result", &address]), "Second answer.");

    let requests = standin.responses_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].prompts(),
        vec!["First prompt.".to_owned(), "Second prompt.".to_owned()],
        "the earlier user message again, then the new prompt"
    );
    assert!(
        requests[1]
            .texts_of_role("assistant")
            .contains(&"First answer.".to_owned()),
        "{:?}",
        requests[1].input()
    );
}

/// The worker's tmux window id, from its `window` record.
fn window_id(t: &OrchHome, address: &str) -> String {
    std::fs::read_to_string(t.worker_dir(address).join("window"))
        .expect("the worker's window record")
        .trim()
        .to_owned()
}

fn tmux(t: &OrchHome, args: &[&str]) {
    let out = std::process::Command::new("tmux")
        .arg("-S")
        .arg(&t.socket)
        .args(args)
        .output()
        .expect("run tmux");
    assert!(
        out.status.success(),
        "tmux {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Ctrl-C typed in the worker's window reaches the wrapper (the pane's foreground
/// process), which passes it to codex's own process group.
#[test]
fn ctrl_c_in_the_workers_window_ends_it_stopped() {
    let standin = StandIn::builder().hang().start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["Take your time."]);
    assert!(
        standin.wait_for_requests(1, WORKER_TIMEOUT),
        "codex never called the stand-in\n{}",
        t.diagnostics(&address)
    );
    let pgid = codex_pid(&t, &address);
    tmux(&t, &["send-keys", "-t", &window_id(&t, &address), "C-c"]);
    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "stopped", "{w:#}\n{}", t.diagnostics(&address));
    assert_eq!(w["error"], "stopped by the user", "{w:#}");
    wait_group_gone(pgid);
}

/// The tmux server going away (SIGHUP to the wrapper) takes codex down with it, and the
/// worker says what happened instead of hanging on in `running`.
#[test]
fn killing_the_tmux_server_ends_codex_and_marks_the_worker_lost() {
    let standin = StandIn::builder().hang().start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["Take your time."]);
    assert!(
        standin.wait_for_requests(1, WORKER_TIMEOUT),
        "codex never called the stand-in\n{}",
        t.diagnostics(&address)
    );
    let pgid = codex_pid(&t, &address);
    tmux(&t, &["kill-server"]);
    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "lost", "{w:#}\n{}", t.diagnostics(&address));
    assert!(
        w["error"].as_str().unwrap_or("").contains("orch recover"),
        "says how to recover: {w:#}"
    );
    wait_group_gone(pgid);
}

/// `--findings-schema` reaches the model as a strict JSON-schema output format, and a
/// JSON answer in that schema merges like the text format.
#[test]
fn findings_schema_goes_to_the_model_and_its_json_answer_merges() {
    let answer = serde_json::json!({
        "findings": [{
            "severity": "critical",
            "location": "src/auth.rs:42-50",
            "claim": "verify() accepts expired tokens",
            "evidence": "no check of exp at src/auth.rs:45",
            "fix": null,
        }],
        "summary": "One blocker.",
    });
    let standin = StandIn::builder().reply(answer.to_string()).start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(
        &codex,
        &[
            "--role",
            "reviewer",
            "--lens",
            "security",
            "--findings-schema",
            "Review src/auth.rs.",
        ],
    );
    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&address));

    let requests = standin.responses_requests();
    assert_eq!(requests.len(), 1);
    let body = requests[0].json.as_ref().expect("a JSON body");
    let format = &body["text"]["format"];
    assert_eq!(format["type"], "json_schema", "{body:#}");
    assert_eq!(format["strict"], true, "{format:#}");
    let ours: Value = serde_json::from_str(
        &std::fs::read_to_string(
            t.home
                .join("runs")
                .join(run_of(&address))
                .join("findings.schema.json"),
        )
        .expect("the run keeps the schema it gave codex"),
    )
    .unwrap();
    assert_eq!(
        format["schema"]["properties"], ours["properties"],
        "{format:#}"
    );
    assert_eq!(format["schema"]["required"], ours["required"], "{format:#}");

    let json: Value =
        serde_json::from_str(&t.ok(&codex, &["merge", run_of(&address), "--json"])).unwrap();
    let findings = json["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{json:#}");
    assert_eq!(findings[0]["severity"], "critical");
    assert_eq!(findings[0]["claim"], "verify() accepts expired tokens");
    assert_eq!(sorted(&findings[0]["reported_by"]), ["security"]);
}
