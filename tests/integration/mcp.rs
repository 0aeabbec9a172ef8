//! `orch mcp` over stdio, driven as codex drives it (JSON-RPC, one message per line),
//! and `orch mcp install` / `uninstall` on a temporary CODEX_HOME.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use serde_json::{Value, json};

use crate::support::TestHome;

/// An `orch mcp` process and a JSON-RPC client for it. Every line the server writes on
/// stdout must be a JSON-RPC message: anything else fails the test.
struct Mcp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Mcp {
    fn start(t: &TestHome) -> Mcp {
        let mut child = t
            .cmd()
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start orch mcp");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut m = Mcp {
            child,
            stdin,
            stdout,
            next_id: 1,
        };
        let init = m.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "orch", "{init}");
        assert!(
            init["result"]["capabilities"]["tools"].is_object(),
            "{init}"
        );
        m.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        m
    }

    fn send(&mut self, msg: Value) {
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends a request and returns its response (notifications in between are skipped).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "orch mcp closed stdout while {method} was pending");
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not JSON-RPC on stdout ({e}): {line:?}"));
            assert_eq!(msg["jsonrpc"], "2.0", "{msg}");
            if msg["id"] == id {
                return msg;
            }
        }
    }

    /// `tools/call`; returns the result (isError, content, structuredContent).
    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert!(r["result"].is_object(), "{tool}: {r}");
        r["result"].clone()
    }

    fn ok(&mut self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args.clone());
        assert_eq!(r["isError"], false, "{tool} {args}: {r}");
        r
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(r: &Value) -> String {
    r["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn tools_list_offers_every_tool_with_its_arguments() {
    let t = TestHome::new();
    let mut m = Mcp::start(&t);
    let list = m.request("tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "spawn",
            "fanout",
            "best_of_n",
            "run",
            "status",
            "wait",
            "result",
            "logs",
            "merge",
            "send",
            "diff",
            "land",
            "stop"
        ]
    );
    assert_eq!(
        tools.iter().find(|t| t["name"] == "best_of_n").unwrap()["inputSchema"]["required"],
        json!(["prompt", "attempts"])
    );
    let tool = |n: &str| tools.iter().find(|t| t["name"] == n).unwrap().clone();
    let spawn = tool("spawn")["inputSchema"].clone();
    assert_eq!(spawn["type"], "object");
    assert_eq!(spawn["required"], json!(["prompt"]));
    assert_eq!(
        spawn["properties"]["sandbox"]["enum"],
        json!(["read-only", "workspace-write", "danger-full-access"])
    );
    assert_eq!(spawn["properties"]["after"]["type"], "array");
    assert_eq!(spawn["properties"]["label"]["type"], "string");
    assert!(!spawn.to_string().contains("$ref"), "{spawn}");
    assert!(!spawn.to_string().contains("null"), "{spawn}");
    assert_eq!(
        tool("fanout")["inputSchema"]["required"],
        json!(["prompt", "lenses"])
    );
    assert_eq!(tool("stop")["inputSchema"]["required"], json!(["targets"]));
    let wait = tool("wait")["inputSchema"].clone();
    assert_eq!(wait["properties"]["timeout_secs"]["type"], "integer");
    assert_eq!(wait.get("required"), None, "{wait}");
    assert_eq!(spawn["properties"]["worktree"]["type"], "boolean");
    assert_eq!(
        tool("send")["inputSchema"]["required"],
        json!(["worker", "message"])
    );
    assert_eq!(
        tool("land")["inputSchema"]["properties"]["mode"]["enum"],
        json!(["merge", "squash", "rebase"])
    );
    assert_eq!(tool("diff")["annotations"]["readOnlyHint"], true);
    assert_eq!(tool("land")["annotations"]["readOnlyHint"], false);
    assert_eq!(tool("status")["annotations"]["readOnlyHint"], true);
    assert_eq!(tool("spawn")["annotations"]["readOnlyHint"], false);
}

#[test]
fn spawn_status_wait_result_over_mcp_match_the_cli() {
    let t = TestHome::new();
    let mut m = Mcp::start(&t);

    // A worker that never ends by itself: wait returns at its timeout, naming it.
    let r = m.ok(
        "spawn",
        json!({"prompt": "hold on\nFAKE:hang", "label": "slow"}),
    );
    let slow = r["structuredContent"]["workers"][0]
        .as_str()
        .expect("an address")
        .to_string();
    let run = r["structuredContent"]["run"].as_str().unwrap().to_string();
    assert_eq!(slow, format!("{run}/slow"));
    assert!(text(&r).contains(&slow), "{r}");

    // A second worker in the same run, that answers.
    let r = m.ok(
        "spawn",
        json!({"prompt": "answer\nFAKE:reply=Two findings.", "label": "quick", "run": run}),
    );
    let quick = format!("{run}/quick");
    assert_eq!(r["structuredContent"]["workers"], json!([quick]));

    let r = m.ok("wait", json!({"targets": [quick], "timeout_secs": 30}));
    assert_eq!(r["structuredContent"]["timed_out"], false, "{r}");
    assert_eq!(r["structuredContent"]["workers"][0]["state"], "done", "{r}");

    let r = m.ok("wait", json!({"targets": [run], "timeout_secs": 1}));
    let report = &r["structuredContent"];
    assert_eq!(report["timed_out"], true, "{r}");
    let still: Vec<String> = report["still_going"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(still.len(), 1, "{r}");
    assert!(still[0].starts_with(&slow), "{still:?}");
    assert!(text(&r).contains("still running after 1s"), "{}", text(&r));

    // status: structured content is `orch status --json`, field for field (the
    // moving parts aside).
    let r = m.ok("status", json!({"run": run}));
    let cli = json_of(&t.ok(&["status", &run, "--json"]));
    let mcp = &r["structuredContent"];
    assert_eq!(mcp["run"], cli["run"]);
    let states = |v: &Value| -> Vec<(String, String)> {
        v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["label"].as_str().unwrap().to_string(),
                    w["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(states(mcp), states(&cli));
    assert_eq!(
        states(mcp),
        [
            ("slow".to_string(), "running".to_string()),
            ("quick".to_string(), "done".to_string())
        ]
    );
    assert!(text(&r).contains("LABEL"), "{}", text(&r));

    // result: the final message as `orch result` prints it, and `result --json`.
    let r = m.ok("result", json!({"worker": quick}));
    assert_eq!(text(&r), t.ok(&["result", &quick]));
    assert_eq!(
        r["structuredContent"],
        json_of(&t.ok(&["result", &quick, "--json"]))
    );

    // logs: readable lines, the last N.
    let r = m.ok("logs", json!({"worker": quick, "tail": 1}));
    assert_eq!(
        r["structuredContent"]["lines"].as_array().unwrap().len(),
        1,
        "{r}"
    );
    assert_eq!(
        r["structuredContent"],
        json_of(&t.ok(&["logs", &quick, "--tail", "1", "--json"]))
    );

    // stop: the slow one ends stopped, as `orch stop` reports it.
    let r = m.ok("stop", json!({"targets": [slow]}));
    assert_eq!(
        r["structuredContent"],
        json!({"stopped": [{"worker": slow, "state": "stopped"}]})
    );
    assert_eq!(t.state(&slow), "stopped");
}

#[test]
fn a_worktree_writer_over_mcp_is_diffed_and_landed_on_the_users_branch() {
    let t = TestHome::new();
    let r = crate::worktree::repo(&t);
    let mut m = Mcp::start(&t);
    let r_str = r.to_str().unwrap();

    let bad = m.call("spawn", json!({"prompt": "x", "base": "main", "cd": r_str}));
    assert_eq!(bad["isError"], true, "{bad}");
    assert!(text(&bad).contains("set worktree: true"), "{bad}");

    let s = m.ok(
        "spawn",
        json!({"prompt": "Add notes\nFAKE:write=notes.txt=hello", "label": "w",
               "sandbox": "workspace-write", "worktree": true, "cd": r_str}),
    );
    let addr = s["structuredContent"]["workers"][0]
        .as_str()
        .unwrap()
        .to_string();
    let w = m.ok("wait", json!({"targets": [addr], "timeout_secs": 30}));
    assert_eq!(w["structuredContent"]["workers"][0]["state"], "done", "{w}");

    let d = m.ok("diff", json!({"worker": addr}));
    assert_eq!(text(&d), t.ok(&["diff", &addr]));
    assert!(text(&d).contains("+hello"), "{d}");
    let stat = m.ok("diff", json!({"worker": addr, "stat": true}));
    assert!(text(&stat).contains("notes.txt"), "{stat}");
    // The user's checkout is untouched until the land.
    assert!(!r.join("notes.txt").exists());

    let l = m.ok("land", json!({"worker": addr}));
    let landed = &l["structuredContent"];
    assert_eq!(landed["into"], "main", "{l}");
    assert_eq!(landed["fast_forward"], true, "{l}");
    assert_eq!(landed["branch"], format!("orch/{addr}"), "{l}");
    assert!(text(&l).starts_with(&format!("landed {addr} (")), "{l}");
    let tip = crate::worktree::git(&r, &["rev-parse", "main"]);
    assert_eq!(landed["commit"], tip.trim(), "{l}");
    assert_eq!(
        crate::worktree::git(&r, &["show", "main:notes.txt"]),
        "hello"
    );

    // A second land is refused with the CLI's message.
    let again = m.call("land", json!({"worker": addr}));
    assert_eq!(again["isError"], true, "{again}");
    let cli = t.fails(&["land", &addr], 1);
    assert!(
        cli.contains(text(&again).trim_start_matches("orch: ")),
        "{again} / {cli}"
    );
}

#[test]
fn send_over_mcp_steers_a_running_worker_and_its_result_answers_the_message() {
    let t = TestHome::new();
    let gate = t.path().join("gate");
    let mut m = Mcp::start(&t);
    let s = m.ok(
        "spawn",
        json!({"prompt": format!("Map the parser\nFAKE:wait-for={}", gate.display())}),
    );
    let addr = s["structuredContent"]["workers"][0]
        .as_str()
        .unwrap()
        .to_string();
    t.wait_state(&addr, "running", 20);
    let events = t.worker_dir(&addr).join("events.jsonl");
    crate::support::eventually(20, "codex's first turn", || {
        std::fs::read_to_string(&events)
            .ok()
            .filter(|e| e.contains("turn.started"))
    });

    let r = m.ok("send", json!({"worker": addr, "message": "Now its tests"}));
    assert_eq!(
        text(&r),
        format!("{addr}: message queued; delivered when its current turn ends")
    );
    assert_eq!(r["structuredContent"]["pending"], 1, "{r}");
    assert_eq!(r["structuredContent"]["interrupted"], false, "{r}");

    std::fs::write(&gate, "").unwrap();
    let w = m.ok("wait", json!({"targets": [addr], "timeout_secs": 30}));
    assert_eq!(w["structuredContent"]["workers"][0]["state"], "done", "{w}");
    let res = m.ok("result", json!({"worker": addr}));
    assert!(text(&res).ends_with("Now its tests"), "{res}");

    // An ended worker is refused, naming resume.
    let late = m.call("send", json!({"worker": addr, "message": "more"}));
    assert_eq!(late["isError"], true, "{late}");
    assert!(text(&late).contains("resume"), "{late}");
}

/// Best-of-N over MCP: attempts in worktrees, the verifier's pick, `land` with the run.
#[test]
fn best_of_n_over_mcp_lands_the_attempt_the_verifier_picked() {
    let t = TestHome::new();
    let r = crate::worktree::repo(&t);
    let mut m = Mcp::start(&t);
    let s = m.ok(
        "best_of_n",
        json!({
            "prompt": "Fix it\nFAKE:@A1:write=fix.txt=first\\n\nFAKE:@A2:write=fix.txt=second\\n\nFAKE:@pick:reply=A2 is smaller.\\n\\nBest: A2\n",
            "attempts": 2,
            "cd": r.to_str().unwrap(),
        }),
    );
    let run = s["structuredContent"]["run"].as_str().unwrap().to_string();
    assert_eq!(
        s["structuredContent"]["workers"],
        json!([
            format!("{run}/A1"),
            format!("{run}/A2"),
            format!("{run}/pick")
        ]),
        "{s}"
    );
    let w = m.ok("wait", json!({"targets": [run], "timeout_secs": 60}));
    assert_eq!(w["structuredContent"]["timed_out"], false, "{w}");
    let l = m.ok("land", json!({"worker": run}));
    assert!(text(&l).starts_with(&format!("landed {run}/A2 (")), "{l}");
    assert_eq!(
        crate::worktree::git(&r, &["show", "main:fix.txt"]),
        "second\n"
    );
    let bad = m.call(
        "best_of_n",
        json!({"prompt": "x", "attempts": 9, "cd": r.to_str().unwrap()}),
    );
    assert_eq!(bad["isError"], true, "{bad}");
    assert!(text(&bad).contains("2 to 4"), "{bad}");
}

/// A model sometimes writes a list as one string: lenses as the CLI's `--lens` takes
/// them, targets split at commas.
#[test]
fn list_arguments_given_as_one_string_are_taken_as_the_cli_takes_them() {
    let t = TestHome::new();
    let mut m = Mcp::start(&t);
    let r = m.ok(
        "fanout",
        json!({"prompt": "Review it\nFAKE:reply=fine", "lenses": "correctness, perf=allocations, copies and locks"}),
    );
    let run = r["structuredContent"]["run"].as_str().unwrap().to_string();
    let labels: Vec<String> = t.status(&run)["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["correctness", "perf"]);
    let w = m.ok(
        "wait",
        json!({"targets": format!("{run}/correctness, {run}/perf"), "timeout_secs": 30}),
    );
    assert_eq!(
        w["structuredContent"]["workers"].as_array().unwrap().len(),
        2,
        "{w}"
    );
    assert_eq!(w["structuredContent"]["timed_out"], false, "{w}");
    let s = m.ok("stop", json!({"targets": run}));
    assert!(s["structuredContent"]["stopped"].is_array(), "{s}");
}

#[test]
fn errors_are_tool_errors_with_the_cli_message() {
    let t = TestHome::new();
    let mut m = Mcp::start(&t);
    // Nothing to look at yet: the CLI's own one-line message.
    let r = m.call("status", json!({}));
    assert_eq!(r["isError"], true, "{r}");
    let cli = t.run(&["status"]);
    let cli_err = String::from_utf8_lossy(&cli.stderr).trim().to_string();
    assert_eq!(text(&r), cli_err);

    // A bad argument names the tool and the argument; nothing is started.
    let r = m.call("spawn", json!({"prompt": "x", "sandbox": "everything"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        text(&r).starts_with("orch: spawn: bad arguments:"),
        "{}",
        text(&r)
    );
    assert!(text(&r).contains("everything"), "{}", text(&r));
    let r = m.call("spawn", json!({"label": "x"}));
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("prompt"), "{}", text(&r));
    let r = m.call("spawn", json!({"prompt": "x", "label": "bad label!"}));
    assert_eq!(r["isError"], true);
    assert!(text(&r).starts_with("orch: "), "{}", text(&r));
    // Leaving every sandbox needs the user's say-so in codex's environment.
    let r = m.call(
        "spawn",
        json!({"prompt": "x", "sandbox": "danger-full-access"}),
    );
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("ORCH_MCP_FULL_ACCESS=1"), "{}", text(&r));
    assert!(
        !t.home.join("runs").exists()
            || std::fs::read_dir(t.home.join("runs"))
                .unwrap()
                .next()
                .is_none()
    );

    let r = m.call("result", json!({"worker": "nosuch/W1"}));
    assert_eq!(r["isError"], true);
    let cli = t.run(&["result", "nosuch/W1"]);
    assert_eq!(text(&r), String::from_utf8_lossy(&cli.stderr).trim());

    // An unknown tool is a protocol error, not a tool result.
    let r = m.request("tools/call", json!({"name": "nosuch", "arguments": {}}));
    assert!(r["error"].is_object(), "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("spawn"),
        "{r}"
    );
}

const USER_CONFIG: &str = r#"# my codex settings
model = "gpt-5.1"   # the one I like

[model_providers.work]
# the office proxy
name = "work"
base_url = "http://proxy.example/v1"

[mcp_servers.docs]
command = "docs-mcp"   # keep me
"#;

/// `orch doctor --json`'s "codex mcp" check (doctor may fail on other checks here).
fn mcp_check(t: &TestHome) -> Value {
    let out = t.run(&["doctor", "--json"]);
    let all = json_of(&String::from_utf8_lossy(&out.stdout));
    all["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "codex mcp")
        .cloned()
        .unwrap_or_else(|| panic!("no codex mcp check: {all}"))
}

fn codex_home(t: &TestHome) -> std::path::PathBuf {
    let dir = t.path().join("codex-home");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn install_keeps_the_users_config_is_idempotent_and_uninstall_restores_it() {
    let t = TestHome::new();
    let home = codex_home(&t);
    let config = home.join("config.toml");
    std::fs::write(&config, USER_CONFIG).unwrap();

    // --dry-run shows the entry and writes nothing.
    let dry = t.ok(&["mcp", "install", "--dry-run"]);
    assert!(dry.contains("[mcp_servers.orch]"), "{dry}");
    assert!(
        dry.contains("default_tools_approval_mode = \"approve\""),
        "{dry}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), USER_CONFIG);
    assert!(!home.join("skills").exists());

    t.ok(&["mcp", "install"]);
    let after = std::fs::read_to_string(&config).unwrap();
    // Everything of the user's is still there, byte for byte, before orch's entry.
    assert!(after.starts_with(USER_CONFIG), "{after}");
    let doc: toml::Table = toml::from_str(&after).unwrap();
    let orch = &doc["mcp_servers"]["orch"];
    let bin = std::fs::canonicalize(crate::support::orch_bin()).unwrap();
    assert_eq!(orch["command"].as_str(), Some(bin.to_str().unwrap()));
    assert_eq!(orch["args"].as_array().unwrap()[0].as_str(), Some("mcp"));
    assert_eq!(
        orch["default_tools_approval_mode"].as_str(),
        Some("approve")
    );
    assert_eq!(orch["tool_timeout_sec"].as_integer(), Some(600));
    let env = orch["env"].as_table().unwrap();
    assert_eq!(env["ORCH_HOME"].as_str(), t.home.to_str());
    assert_eq!(env["ORCH_TMUX_SOCKET"].as_str(), t.socket.to_str());
    assert_eq!(env["CODEX_HOME"].as_str(), home.to_str());
    assert!(env.contains_key("PATH"));
    let names: Vec<&str> = orch["env_vars"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for n in [
        "ORCH_CODEX",
        "OPENAI_API_KEY",
        "CODEX_HOME",
        "SSH_AUTH_SOCK",
    ] {
        assert!(names.contains(&n), "{n} not forwarded: {names:?}");
    }
    assert_eq!(
        doc["mcp_servers"]["docs"]["command"].as_str(),
        Some("docs-mcp")
    );
    let skill = std::fs::read_to_string(home.join("skills/orch/SKILL.md")).unwrap();
    assert!(
        skill.starts_with("---\nname: orch\ndescription: "),
        "{skill}"
    );
    assert!(skill.contains("mcp__orch"), "{skill}");

    // doctor sees the registration.
    let doctor = mcp_check(&t);
    assert_eq!(doctor["ok"], true, "{doctor}");
    assert!(
        doctor["detail"].as_str().unwrap().contains("codex starts"),
        "{doctor}"
    );

    // Again: nothing changes.
    let again = t.ok(&["mcp", "install"]);
    assert!(again.contains("already registered"), "{again}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), after);

    t.ok(&["mcp", "uninstall"]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), USER_CONFIG);
    assert!(!home.join("skills/orch").exists());
    assert!(
        mcp_check(&t)["detail"]
            .as_str()
            .unwrap()
            .contains("not registered"),
        "{}",
        mcp_check(&t)
    );
    let none = t.ok(&["mcp", "uninstall"]);
    assert!(none.contains("nothing to remove"), "{none}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), USER_CONFIG);
}

#[test]
fn install_into_an_empty_codex_home_and_uninstall_leave_nothing_behind() {
    let t = TestHome::new();
    let home = codex_home(&t);
    t.ok(&["mcp", "install"]);
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains("# Added by `orch mcp install`"), "{config}");
    t.ok(&["mcp", "uninstall"]);
    assert_eq!(
        std::fs::read_to_string(home.join("config.toml"))
            .unwrap()
            .trim(),
        ""
    );
    assert!(!home.join("skills/orch").exists());
}

#[test]
fn an_edited_skill_and_a_broken_config_are_left_alone() {
    let t = TestHome::new();
    let home = codex_home(&t);
    std::fs::write(home.join("config.toml"), "model = \n").unwrap();
    let err = t.fails(&["mcp", "install"], 1);
    assert!(err.contains("config.toml is not valid TOML"), "{err}");
    assert!(err.lines().count() == 1, "{err}");
    assert_eq!(
        std::fs::read_to_string(home.join("config.toml")).unwrap(),
        "model = \n"
    );
    assert!(!home.join("skills").exists());

    // A registration that points nowhere is a doctor problem with the fix.
    std::fs::write(
        home.join("config.toml"),
        "[mcp_servers.orch]\ncommand = \"/nonexistent/orch\"\nargs = [\"mcp\"]\n",
    )
    .unwrap();
    let check = mcp_check(&t);
    assert_eq!(check["ok"], false, "{check}");
    assert!(
        check["fix"].as_str().unwrap().contains("orch mcp install"),
        "{check}"
    );

    std::fs::write(home.join("config.toml"), "").unwrap();
    t.ok(&["mcp", "install"]);
    let skill = home.join("skills/orch/SKILL.md");
    std::fs::write(&skill, "my own notes\n").unwrap();
    let out = t.run(&["mcp", "uninstall"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("left in place"));
    assert_eq!(std::fs::read_to_string(&skill).unwrap(), "my own notes\n");
}
