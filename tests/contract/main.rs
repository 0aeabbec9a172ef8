//! Contract tests: the REAL codex binary (`scripts/install-codex`) against the model
//! stand-in in `standin.rs`. They pin down the behaviour orch relies on — exit codes, the
//! `-o` file, the `--json` events, resume — for the codex version in
//! `scripts/codex-version`.
//!
//! codex is found through `ORCH_TEST_CODEX`, else `<repo>/.cache/codex/node_modules/.bin/codex`.
//! A missing binary fails the tests: they never pass without having run codex.
//!
//! `ORCH_RECORD_FIXTURES=1` also writes each run's stdout to
//! `tests/fixtures/codex-events/` (thread ids replaced by fixed ones).

mod orch;
mod standin;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;

use standin::{CodexHome, HomeOptions, Reply, StandIn, Step, Usage};

/// Upper bound for one codex run; a healthy one takes well under a second here.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn codex_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("ORCH_TEST_CODEX") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "ORCH_TEST_CODEX={} is not a file; unset it or run scripts/install-codex",
            path.display()
        );
        return path;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/codex/node_modules/.bin/codex");
    assert!(
        path.is_file(),
        "the real codex binary is not installed ({} is missing): run scripts/install-codex \
         (or set ORCH_TEST_CODEX to a codex binary)",
        path.display()
    );
    path
}

fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create scratch dir")
}

/// A codex process in its own process group (so a signal reaches it like a terminal's
/// Ctrl-C does, and a timeout kills the native binary as well as the node launcher).
struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    last_message: PathBuf,
    started: Instant,
}

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    events: Vec<Value>,
    /// The `-o` file: `None` if codex did not create it.
    last_message: Option<String>,
    elapsed: Duration,
}

impl Outcome {
    fn types(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    fn event(&self, kind: &str) -> Option<&Value> {
        self.events.iter().find(|e| e["type"] == kind)
    }

    fn thread_id(&self) -> String {
        self.event("thread.started")
            .and_then(|e| e["thread_id"].as_str())
            .unwrap_or_else(|| panic!("no thread.started event in:\n{}", self.stdout))
            .to_owned()
    }

    fn describe(&self) -> String {
        format!(
            "status: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

fn pump(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = from.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Start `codex exec --json --skip-git-repo-check -o FILE <args…>` with `prompt` on stdin
/// and `home` as `CODEX_HOME`, in `cwd`.
fn start_codex(home: &CodexHome, cwd: &Path, args: &[&str], prompt: &str) -> Running {
    start_codex_with(home, cwd, args, prompt, &[])
}

/// `start_codex` with more variables in codex's environment.
fn start_codex_with(
    home: &CodexHome,
    cwd: &Path,
    args: &[&str],
    prompt: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> Running {
    use std::os::unix::process::CommandExt;
    let last_message = home.path().join(format!(
        "last-message-{}.txt",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut cmd = Command::new(codex_bin());
    cmd.arg("exec")
        .arg("--json")
        .arg("--skip-git-repo-check")
        .arg("-o")
        .arg(&last_message)
        .args(args)
        .current_dir(cwd)
        .env("CODEX_HOME", home.path())
        // Nothing from the developer's own setup may leak in.
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn codex");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(prompt.as_bytes()).expect("write prompt");
    drop(stdin);
    let stdout = Some(pump(child.stdout.take().unwrap()));
    let stderr = Some(pump(child.stderr.take().unwrap()));
    Running {
        child,
        stdout,
        stderr,
        last_message,
        started: Instant::now(),
    }
}

impl Running {
    fn pgid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn signal(&self, signal: Signal) {
        killpg(self.pgid(), signal).expect("signal codex's process group");
    }

    /// Wait for exit; on timeout kill the whole group and fail the test.
    fn wait(mut self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = killpg(self.pgid(), Signal::SIGKILL);
                let _ = self.child.wait();
                let stdout = self.stdout.take().unwrap().join().unwrap_or_default();
                let stderr = self.stderr.take().unwrap().join().unwrap_or_default();
                panic!(
                    "codex did not exit within {timeout:?}; killed.\nstdout:\n{stdout}\nstderr:\n{stderr}"
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        let elapsed = self.started.elapsed();
        // The native binary may have left helpers in the group; they must not outlive us.
        let _ = killpg(self.pgid(), Signal::SIGKILL);
        let stdout = self.stdout.take().unwrap().join().unwrap_or_default();
        let stderr = self.stderr.take().unwrap().join().unwrap_or_default();
        let events = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let last_message = std::fs::read_to_string(&self.last_message).ok();
        Outcome {
            status,
            stdout,
            stderr,
            events,
            last_message,
            elapsed,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = killpg(self.pgid(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn run_codex(home: &CodexHome, cwd: &Path, args: &[&str], prompt: &str) -> Outcome {
    start_codex(home, cwd, args, prompt).wait(RUN_TIMEOUT)
}

/// With `ORCH_RECORD_FIXTURES` set, write `stdout` to `tests/fixtures/codex-events/NAME.jsonl`,
/// each thread id replaced by a fixed UUID (in order of appearance).
fn record_fixture(name: &str, stdouts: &[&str]) {
    if std::env::var_os("ORCH_RECORD_FIXTURES").is_none() {
        return;
    }
    let mut text = stdouts.concat();
    let mut n = 0;
    for line in stdouts.concat().lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(id) = event["thread_id"].as_str()
            && !id.starts_with("00000000-")
        {
            n += 1;
            text = text.replace(id, &format!("00000000-0000-7000-8000-{n:012}"));
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codex-events");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.jsonl")), text).unwrap();
}

/// Every test that drives the real codex lives here, so the fast suite can leave them
/// out by name: `cargo test -- --skip real_codex`.
mod real_codex {
    use super::*;

    /// The same, through orch's commands (`tests/contract/real_codex/through_orch.rs`).
    mod through_orch;

    /// `orch send`: follow-ups and `--now` through orch (`tests/contract/real_codex/steer.rs`).
    mod steer;

    /// Usage limits, recovery and timeouts through orch (`tests/contract/real_codex/night.rs`).
    mod night;

    /// The real codex as the orchestrator, calling orch's MCP tools
    /// (`tests/contract/real_codex/orchestrator.rs`).
    mod orchestrator;
    /// A `--worktree` writer in codex's sandbox (`tests/contract/real_codex/worktree.rs`).
    mod worktree;

    #[test]
    fn success_exits_0_and_reports_the_reply_and_usage() {
        let usage = Usage {
            input_tokens: 1234,
            cached_input_tokens: 200,
            output_tokens: 56,
            reasoning_output_tokens: 7,
        };
        let standin = StandIn::builder()
            .reply("Reviewed the module.")
            .findings(["unchecked unwrap in parse()", "missing fsync before rename"])
            .usage(usage)
            .start();
        let home = CodexHome::new(&standin);
        let cwd = scratch_dir("cwd-");
        let prompt = "Review src/lib.rs and list findings.";
        let out = run_codex(&home, cwd.path(), &["-"], prompt);
        record_fixture("success", &[&out.stdout]);

        assert_eq!(out.status.code(), Some(0), "{}", out.describe());
        let expected = Reply {
            text: "Reviewed the module.".into(),
            findings: vec![
                "unchecked unwrap in parse()".into(),
                "missing fsync before rename".into(),
            ],
            usage,
            reasoning: None,
        }
        .rendered();
        assert_eq!(out.last_message.as_deref(), Some(expected.as_str()));
        let types = out.types();
        assert_eq!(types.first().map(String::as_str), Some("thread.started"));
        assert_eq!(types.last().map(String::as_str), Some("turn.completed"));
        let message = out
            .events
            .iter()
            .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
            .expect("an agent_message item");
        assert_eq!(message["item"]["text"], expected.as_str());
        let got = &out.event("turn.completed").unwrap()["usage"];
        assert_eq!(got["input_tokens"], 1234, "{got}");
        assert_eq!(got["cached_input_tokens"], 200, "{got}");
        assert_eq!(got["output_tokens"], 56, "{got}");
        assert_eq!(got["reasoning_output_tokens"], 7, "{got}");

        // The prompt arrives verbatim as the last user message, after codex's own context.
        let requests = standin.responses_requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].prompts(), vec![prompt.to_owned()]);
        assert!(requests[0].user_texts()[0].starts_with("<environment_context>"));
        assert_eq!(requests[0].json.as_ref().unwrap()["model"], standin::MODEL);
        assert_eq!(requests[0].json.as_ref().unwrap()["stream"], true);
        assert!(
            standin.unknown_requests().is_empty(),
            "{:?}",
            standin.unknown_requests()
        );
        eprintln!("success run took {:?}", out.elapsed);
    }

    #[test]
    fn http_500_exits_1_with_an_empty_last_message_and_turn_failed() {
        let standin = StandIn::builder().status(500).start();
        let home = CodexHome::new(&standin); // 1 request retry, 1 stream retry
        let cwd = scratch_dir("cwd-");
        let out = run_codex(&home, cwd.path(), &["-"], "This will fail.");
        record_fixture("api-error-500", &[&out.stdout]);

        assert_eq!(out.status.code(), Some(1), "{}", out.describe());
        assert_eq!(
            out.last_message.as_deref(),
            Some(""),
            "-o is created but left empty"
        );
        let failed = out.event("turn.failed").expect("turn.failed");
        assert!(
            !failed["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{failed}"
        );
        assert_eq!(out.types().last().map(String::as_str), Some("turn.failed"));
        assert!(out.event("turn.completed").is_none());
        let reconnecting: Vec<&str> = out
            .events
            .iter()
            .filter(|e| e["type"] == "error")
            .filter_map(|e| e["message"].as_str())
            .filter(|m| m.starts_with("Reconnecting..."))
            .collect();
        assert_eq!(reconnecting.len(), 1, "{}", out.stdout);
        assert!(reconnecting[0].starts_with("Reconnecting... 1/1"));
        // (1 + request_max_retries) × (1 + stream_max_retries) attempts.
        assert_eq!(standin.responses_requests().len(), 4);
        eprintln!("500 run took {:?}", out.elapsed);
    }

    #[test]
    fn http_500_without_retries_fails_at_once() {
        let standin = StandIn::builder().status(500).start();
        let home = CodexHome::with_options(
            &standin,
            HomeOptions {
                request_max_retries: 0,
                stream_max_retries: 0,
            },
        );
        let cwd = scratch_dir("cwd-");
        let out = run_codex(&home, cwd.path(), &["-"], "This will fail.");
        assert_eq!(out.status.code(), Some(1), "{}", out.describe());
        assert!(out.event("turn.failed").is_some());
        assert_eq!(standin.responses_requests().len(), 1);
    }

    #[test]
    fn sigint_during_a_hanging_reply_exits_nonzero_with_an_empty_last_message() {
        let standin = StandIn::builder().hang().start();
        let home = CodexHome::new(&standin);
        let cwd = scratch_dir("cwd-");
        let running = start_codex(&home, cwd.path(), &["-"], "Take your time.");
        assert!(
            standin.wait_for_requests(1, RUN_TIMEOUT),
            "codex never called the stand-in"
        );
        running.signal(Signal::SIGINT);
        let out = running.wait(Duration::from_secs(20));
        record_fixture("sigint", &[&out.stdout]);
        eprintln!(
            "SIGINT run: {:?} after {:?}; stderr: {}",
            out.status, out.elapsed, out.stderr
        );

        assert_ne!(out.status.code(), Some(0), "{}", out.describe());
        assert_eq!(out.status.code(), Some(1), "{}", out.describe());
        assert_eq!(out.last_message.as_deref(), Some(""), "{}", out.describe());
        assert!(out.event("turn.completed").is_none(), "{}", out.stdout);
        assert!(out.event("turn.started").is_some(), "{}", out.stdout);
    }

    #[test]
    fn resume_sends_the_earlier_conversation_again() {
        let usage = |input_tokens, output_tokens| Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        };
        let standin = StandIn::builder()
            .queue([
                Step::reply_with(Reply {
                    text: "First answer.".into(),
                    usage: usage(100, 10),
                    ..Reply::default()
                }),
                Step::reply_with(Reply {
                    text: "Second answer.".into(),
                    usage: usage(1000, 1),
                    ..Reply::default()
                }),
            ])
            .start();
        let home = CodexHome::new(&standin);
        let cwd = scratch_dir("cwd-");
        let first = run_codex(&home, cwd.path(), &["-"], "First prompt.");
        assert_eq!(first.status.code(), Some(0), "{}", first.describe());
        let thread_id = first.thread_id();

        let second = run_codex(
            &home,
            cwd.path(),
            &["resume", thread_id.as_str(), "-"],
            "Second prompt.",
        );
        record_fixture("resume", &[&second.stdout]);
        assert_eq!(second.status.code(), Some(0), "{}", second.describe());
        assert_eq!(second.last_message.as_deref(), Some("Second answer."));
        assert_eq!(second.thread_id(), thread_id, "resume keeps the thread id");
        let used = &second.event("turn.completed").unwrap()["usage"];
        eprintln!("resumed turn usage: {used}");

        let requests = standin.responses_requests();
        assert_eq!(requests.len(), 2);
        let shape: Vec<String> = requests[1]
            .input()
            .iter()
            .map(|i| {
                let text = i["content"][0]["text"].as_str().unwrap_or("");
                let head: String = text.chars().take(24).collect();
                format!("{}/{}: {head:?}", i["type"], i["role"])
            })
            .collect();
        eprintln!("resumed request input: {shape:#?}");
        assert_eq!(requests[0].prompts(), vec!["First prompt.".to_owned()]);
        assert_eq!(
            requests[1].prompts(),
            vec!["First prompt.".to_owned(), "Second prompt.".to_owned()]
        );
        assert!(
            requests[1]
                .texts_of_role("assistant")
                .contains(&"First answer.".to_owned()),
            "{:?}",
            requests[1].input()
        );
        assert_eq!(
            standin
                .prompts_per_request()
                .last()
                .unwrap()
                .last()
                .unwrap(),
            "Second prompt."
        );
    }

    #[test]
    fn a_shell_call_runs_under_the_read_only_sandbox() {
        let standin = StandIn::builder()
            .queue([Step::shell("echo hi"), Step::reply("It printed hi.")])
            .start();
        let home = CodexHome::new(&standin);
        let cwd = scratch_dir("cwd-");
        let out = run_codex(
            &home,
            cwd.path(),
            &["--sandbox", "read-only", "-"],
            "Run echo hi.",
        );
        record_fixture("shell-command", &[&out.stdout]);
        assert_eq!(out.status.code(), Some(0), "{}", out.describe());
        assert_eq!(out.last_message.as_deref(), Some("It printed hi."));

        let done = out
            .events
            .iter()
            .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "command_execution")
            .unwrap_or_else(|| panic!("no command_execution item:\n{}", out.stdout));
        assert_eq!(done["item"]["exit_code"], 0, "{done}");
        assert_eq!(done["item"]["status"], "completed", "{done}");
        assert!(
            done["item"]["aggregated_output"]
                .as_str()
                .unwrap_or("")
                .contains("hi"),
            "{done}"
        );
        assert!(
            out.events
                .iter()
                .any(|e| e["type"] == "item.started" && e["item"]["type"] == "command_execution"),
            "{}",
            out.stdout
        );

        // The second request carries the command's output back to the model.
        let requests = standin.responses_requests();
        assert_eq!(requests.len(), 2);
        let output = requests[1]
            .input()
            .into_iter()
            .find(|i| i["type"] == "function_call_output")
            .unwrap_or_else(|| panic!("no function_call_output in {:?}", requests[1].input()));
        assert_eq!(output["call_id"], "call_1");
        assert!(output.to_string().contains("hi"), "{output}");
    }

    #[test]
    fn the_read_only_sandbox_refuses_writes() {
        let standin = StandIn::builder()
            .queue([
                Step::shell("touch written-by-codex"),
                Step::reply("Could not write."),
            ])
            .start();
        let home = CodexHome::new(&standin);
        let cwd = scratch_dir("cwd-");
        let out = run_codex(
            &home,
            cwd.path(),
            &["--sandbox", "read-only", "-"],
            "Create a file.",
        );
        record_fixture("shell-command-sandbox-denied", &[&out.stdout]);
        assert_eq!(out.status.code(), Some(0), "{}", out.describe());
        assert!(!cwd.path().join("written-by-codex").exists());
        // The model is told why; codex 0.169.0 emits NO command_execution item for a command
        // the sandbox refused (see NOTES.md), so the events are not asserted here.
        let requests = standin.responses_requests();
        assert_eq!(requests.len(), 2);
        let output = requests[1]
            .input()
            .into_iter()
            .find(|i| i["type"] == "function_call_output")
            .unwrap_or_else(|| panic!("no function_call_output in {:?}", requests[1].input()));
        let text = output["output"].as_str().unwrap_or("");
        assert!(text.contains("Read-only file system"), "{output}");
        assert!(text.contains("exited with code 1"), "{output}");
    }

    #[test]
    fn a_reasoning_summary_becomes_a_reasoning_item() {
        let standin = StandIn::builder()
            .reasoning("**Planning** Look at the tests first.")
            .reply("Looked.")
            .start();
        let home = CodexHome::new(&standin);
        let cwd = scratch_dir("cwd-");
        let out = run_codex(&home, cwd.path(), &["-"], "Think, then answer.");
        record_fixture("reasoning", &[&out.stdout]);
        assert_eq!(out.status.code(), Some(0), "{}", out.describe());
        assert_eq!(out.last_message.as_deref(), Some("Looked."));
        let reasoning = out
            .events
            .iter()
            .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "reasoning")
            .unwrap_or_else(|| panic!("no reasoning item:\n{}", out.stdout));
        assert!(
            reasoning["item"]["text"]
                .as_str()
                .unwrap_or("")
                .contains("Look at the tests first."),
            "{reasoning}"
        );
    }

    #[test]
    fn a_held_reply_completes_once_released() {
        let standin = StandIn::builder().reply("Late answer.").hang().start();
        let home = CodexHome::new(&standin);
        let cwd = scratch_dir("cwd-");
        let running = start_codex(&home, cwd.path(), &["-"], "Wait for it.");
        assert!(standin.wait_for_requests(1, RUN_TIMEOUT));
        thread::sleep(Duration::from_millis(300));
        standin.release();
        let out = running.wait(RUN_TIMEOUT);
        assert_eq!(out.status.code(), Some(0), "{}", out.describe());
        assert_eq!(out.last_message.as_deref(), Some("Late answer."));
    }

    #[test]
    fn a_delayed_reply_arrives_after_the_delay() {
        let delay = Duration::from_millis(1500);
        let standin = StandIn::builder().reply("Slow.").delay(delay).start();
        let home = CodexHome::new(&standin);
        let cwd = scratch_dir("cwd-");
        let out = run_codex(&home, cwd.path(), &["-"], "Slowly.");
        assert_eq!(out.status.code(), Some(0), "{}", out.describe());
        assert_eq!(out.last_message.as_deref(), Some("Slow."));
        assert!(out.elapsed >= delay, "{:?}", out.elapsed);
    }

    /// The stand-in on its own: keep-alive, unknown paths, JSON recording, status.
    #[test]
    fn standin_serves_several_requests_per_connection() {
        use std::io::{BufRead, BufReader};
        use std::net::TcpStream;

        let standin = StandIn::builder()
            .reply("hello")
            .queue([Step::status(503)])
            .start();
        let mut conn = TcpStream::connect(("127.0.0.1", standin.port())).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut exchange = |method: &str, path: &str, body: &str| -> (String, String) {
            write!(
                conn,
                "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut status = String::new();
            reader.read_line(&mut status).unwrap();
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            (status, String::from_utf8(body).unwrap())
        };
        let body = r#"{"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]}"#;
        let (status, _) = exchange("POST", "/v1/responses", body);
        assert!(status.starts_with("HTTP/1.1 503"), "{status}");
        let (status, sse) = exchange("POST", "/v1/responses", body);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert!(sse.contains("event: response.completed"), "{sse}");
        assert!(sse.contains(r#""text":"hello""#), "{sse}");
        let (status, _) = exchange("GET", "/v1/models", "");
        assert!(status.starts_with("HTTP/1.1 404"), "{status}");
        assert_eq!(
            standin.unknown_requests(),
            vec!["GET /v1/models".to_owned()]
        );
        assert_eq!(
            standin.prompts_per_request(),
            vec![vec!["hi".to_owned()], vec!["hi".to_owned()]]
        );
        let port = standin.port();
        drop(standin);
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "stand-in still listening after drop"
        );
    }
}
