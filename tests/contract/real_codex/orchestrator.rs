//! The real codex 0.169.0 as the ORCHESTRATOR: `orch mcp install` registered orch in its
//! CODEX_HOME, the stand-in model answers with calls of orch's tools in the `mcp__orch`
//! namespace, codex starts `orch mcp` and calls them, orch starts a real worker (another
//! codex against the same stand-in), and the worker's result comes back to the model.

use serde_json::{Value, json};

use crate::orch::OrchHome;
use crate::standin::{CodexHome, Reply, StandIn, Step};

/// The worker's prompt carries this; the orchestrator's never does.
const WORKER_TASK: &str = "WORKER-TASK: find the double lock in src/queue.rs";
const WORKER_ANSWER: &str = "Found it: src/queue.rs:42 takes the lock twice.";

/// `orch mcp install` into `codex_home`, with orch's settings in its environment.
fn install(t: &OrchHome, codex_home: &CodexHome) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(["mcp", "install"])
        .env("CODEX_HOME", codex_home.path())
        .env("ORCH_HOME", &t.home)
        .env("ORCH_TMUX_SOCKET", &t.socket)
        .output()
        .expect("run orch mcp install");
    assert!(
        out.status.success(),
        "orch mcp install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `function_call_output` for `call_id` in any request the stand-in received.
fn call_output(standin: &StandIn, call_id: &str) -> Value {
    standin
        .responses_requests()
        .iter()
        .flat_map(|r| r.input())
        .find(|i| i["type"] == "function_call_output" && i["call_id"] == call_id)
        .unwrap_or_else(|| panic!("no function_call_output for {call_id}"))
}

/// The namespace `mcp__orch` in a request's tools, if offered.
fn orch_namespace(body: &Value) -> Option<Value> {
    body["tools"]
        .as_array()?
        .iter()
        .find(|t| t["type"] == "namespace" && t["name"] == "mcp__orch")
        .cloned()
}

#[test]
fn a_real_codex_orchestrator_spawns_waits_for_and_reads_an_orch_worker() {
    let t = OrchHome::new();
    let standin = StandIn::builder()
        .route(WORKER_TASK, Step::reply(WORKER_ANSWER))
        .queue([
            Step::mcp_call(
                "call_spawn",
                "orch",
                "spawn",
                json!({"prompt": WORKER_TASK, "label": "finder"}),
            ),
            Step::mcp_call("call_status", "orch", "status", json!({})),
            Step::mcp_call(
                "call_wait",
                "orch",
                "wait",
                json!({"targets": ["finder"], "timeout_secs": 60}),
            ),
            Step::mcp_call("call_result", "orch", "result", json!({"worker": "finder"})),
            Step::reply("The worker found the double lock at src/queue.rs:42."),
        ])
        .start();
    let codex_home = CodexHome::new(&standin);
    install(&t, &codex_home);

    let codex = crate::codex_bin();
    let out = crate::start_codex_with(
        &codex_home,
        &t.work,
        &["--sandbox", "workspace-write", "-"],
        "Orchestrate: have a worker look for the double lock, then tell me.",
        &[("ORCH_CODEX", codex.as_os_str())],
    )
    .wait(crate::RUN_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    assert_eq!(
        out.last_message.as_deref(),
        Some("The worker found the double lock at src/queue.rs:42.")
    );

    // The model was offered orch's tools as a namespace, with their schemas.
    let requests = standin.responses_requests();
    let first = requests
        .iter()
        .find(|r| !r.prompts().iter().any(|p| p.contains("WORKER-TASK")))
        .expect("an orchestrator request");
    let body = first.json.clone().expect("a JSON body");
    let ns = orch_namespace(&body)
        .unwrap_or_else(|| panic!("no mcp__orch namespace in tools: {}", body["tools"]));
    let names: Vec<&str> = ns["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for tool in [
        "spawn", "fanout", "run", "status", "wait", "result", "logs", "merge", "send", "diff",
        "land", "stop",
    ] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }
    // The skill is in codex's skills list: `- orch: DESCRIPTION (file: r0/orch/SKILL.md)`
    // with root r0 = $CODEX_HOME/skills.
    let input = body["input"].to_string();
    let root = format!("`r0` = `{}/skills`", codex_home.path().display());
    assert!(
        input.contains(&root)
            && input.contains("- orch: ")
            && input.contains("(file: r0/orch/SKILL.md)"),
        "the orch skill is not offered: {input}"
    );

    // codex called orch (events of type mcp_tool_call, server orch), and every call
    // ended completed.
    let calls: Vec<&Value> = out
        .events
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "mcp_tool_call")
        .collect();
    let tools: Vec<&str> = calls
        .iter()
        .filter_map(|e| e["item"]["tool"].as_str())
        .collect();
    assert_eq!(
        tools,
        ["spawn", "status", "wait", "result"],
        "{}",
        out.stdout
    );
    for c in &calls {
        assert_eq!(c["item"]["server"], "orch", "{c}");
        assert_eq!(c["item"]["status"], "completed", "{c}");
    }

    // A real worker ran in this test's ORCH_HOME and ended done with the stand-in's answer.
    let spawned = call_output(&standin, "call_spawn").to_string();
    assert!(spawned.contains("/finder"), "{spawned}");
    let addr = calls[0]["item"]["result"]["structured_content"]["workers"][0]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            // The address from orch's own records, if codex does not echo structured content.
            let runs: Vec<_> = std::fs::read_dir(t.home.join("runs"))
                .unwrap()
                .flatten()
                .collect();
            format!("{}/finder", runs[0].file_name().to_string_lossy())
        });
    let w = t.worker_dir(&addr);
    assert_eq!(
        std::fs::read_to_string(w.join("last-message.md")).unwrap(),
        WORKER_ANSWER
    );
    let exit: Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("exit.json")).unwrap()).unwrap();
    assert_eq!(exit["exit_code"], 0, "{exit}");

    // The worker's codex did not start orch's MCP server itself: no mcp__orch for it.
    let worker_req = requests
        .iter()
        .find(|r| r.prompts().iter().any(|p| p.contains("WORKER-TASK")))
        .expect("the worker's request");
    assert!(
        orch_namespace(worker_req.json.as_ref().unwrap()).is_none(),
        "the worker was offered orch's tools"
    );

    // What came back to the model. codex 0.169.0 hands the model a tool's structured
    // content (orch's --json value) rather than its text, after a "Wall time" line:
    // wait said the worker ended done, result carried the worker's final message.
    let waited = call_output(&standin, "call_wait");
    let text = waited["output"].as_str().unwrap_or_default();
    let json_part = &text[text
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {text}"))..];
    let report: Value = serde_json::from_str(json_part).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(report["timed_out"], false, "{report}");
    assert_eq!(report["workers"][0]["label"], "finder", "{report}");
    assert_eq!(report["workers"][0]["state"], "done", "{report}");
    assert_eq!(report["still_going"], json!([]), "{report}");
    let result = call_output(&standin, "call_result").to_string();
    assert!(result.contains(WORKER_ANSWER), "{result}");
    let status = call_output(&standin, "call_status").to_string();
    assert!(status.contains("finder"), "{status}");
}

/// The reviewers' prompts carry this; the orchestrator's never does.
const REVIEW_TASK: &str = "REVIEW-TASK: review src/queue.rs";

/// The method's main pattern driven by a real codex: `fanout` two lenses, `wait`, then
/// `merge`, whose one de-duplicated finding (both reviewers reported it) reaches the
/// model. Then `orch mcp uninstall` gives codex back its config byte for byte, and the
/// next codex session is offered no orch tools.
#[test]
fn a_real_codex_orchestrator_fans_out_waits_and_merges_then_uninstall_restores_its_config() {
    let t = OrchHome::new();
    let finding = "[high] src/queue.rs:42 — takes the lock twice under contention";
    let standin = StandIn::builder()
        .route(
            REVIEW_TASK,
            Step::reply_with(Reply {
                text: "Reviewed src/queue.rs.".into(),
                findings: vec![finding.into()],
                ..Reply::default()
            }),
        )
        .queue([
            Step::mcp_call(
                "call_fanout",
                "orch",
                "fanout",
                json!({"prompt": REVIEW_TASK, "lenses": ["correctness", "security"]}),
            ),
            Step::mcp_call("call_wait", "orch", "wait", json!({"timeout_secs": 120})),
            Step::mcp_call("call_merge", "orch", "merge", json!({})),
            Step::reply("One finding, reported by both reviewers: src/queue.rs:42."),
        ])
        .start();
    let codex_home = CodexHome::new(&standin);
    let config = codex_home.path().join("config.toml");
    let before = std::fs::read_to_string(&config).unwrap();
    install(&t, &codex_home);
    let installed = std::fs::read_to_string(&config).unwrap();
    assert!(
        installed.starts_with(before.trim_end()),
        "install kept the provider config as it was:\n{installed}"
    );

    let codex = crate::codex_bin();
    let out = crate::start_codex_with(
        &codex_home,
        &t.work,
        &["--sandbox", "workspace-write", "-"],
        "Orchestrate a review of src/queue.rs from two angles and give me one list.",
        &[("ORCH_CODEX", codex.as_os_str())],
    )
    .wait(crate::RUN_TIMEOUT);
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    let tools: Vec<&str> = out
        .events
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "mcp_tool_call")
        .filter_map(|e| e["item"]["tool"].as_str())
        .collect();
    assert_eq!(tools, ["fanout", "wait", "merge"], "{}", out.stdout);

    // Two real reviewers ran; the merge folded their identical findings into one item
    // that names both, and that is what the model read.
    let started = call_output(&standin, "call_fanout").to_string();
    assert!(
        started.contains("correctness") && started.contains("security"),
        "{started}"
    );
    let merged = call_output(&standin, "call_merge");
    let text = merged["output"].as_str().unwrap_or_default();
    let json_part = &text[text
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {text}"))..];
    let report: Value = serde_json::from_str(json_part).unwrap_or_else(|e| panic!("{e}: {text}"));
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["severity"], "high", "{report:#}");
    assert_eq!(findings[0]["location"]["path"], "src/queue.rs");
    assert_eq!(findings[0]["location"]["start_line"], 42);
    assert_eq!(
        findings[0]["reported_by"],
        json!(["correctness", "security"]),
        "{report:#}"
    );

    // Uninstall: the config is the user's again, byte for byte, and codex offers no
    // mcp__orch any more.
    let un = std::process::Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(["mcp", "uninstall"])
        .env("CODEX_HOME", codex_home.path())
        .output()
        .unwrap();
    assert!(
        un.status.success(),
        "{}",
        String::from_utf8_lossy(&un.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    assert!(!codex_home.path().join("skills/orch").exists());
    let seen = standin.responses_requests().len();
    let again = crate::start_codex_with(
        &codex_home,
        &t.work,
        &["--sandbox", "read-only", "-"],
        "Anything left?",
        &[],
    )
    .wait(crate::RUN_TIMEOUT);
    assert_eq!(again.status.code(), Some(0), "{}", again.describe());
    let later = standin.responses_requests();
    let body = later[seen..]
        .iter()
        .find_map(|r| r.json.clone())
        .expect("the next session's request");
    assert!(
        orch_namespace(&body).is_none(),
        "orch's tools are still offered"
    );
}
