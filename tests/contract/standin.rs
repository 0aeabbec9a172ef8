//! A scriptable stand-in for the model server, for driving the REAL `codex exec` in tests.
//!
//! codex 0.169.0, pointed at a custom provider with `wire_api = "responses"`, sends
//! `POST {base_url}/responses` with a streaming JSON body and reads Server-Sent Events
//! back; it calls no other endpoint once plugins and analytics are switched off (see
//! `NOTES.md`). This server speaks just enough HTTP/1.1 for that: one thread accepts on
//! `127.0.0.1:0`, one thread per connection, keep-alive, `content-length` or chunked
//! request bodies. Every request is recorded with its parsed JSON body so a test can ask
//! what codex sent. Dropping the [`StandIn`] stops it and closes every connection.
//!
//! Each request to `/v1/responses` takes the next [`Step`] from the queue; when the queue
//! is empty it takes the default step set through the builder.

#![allow(dead_code)] // a toolbox: each test binary uses a different part of it

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The model name written into the generated `config.toml`. codex does not know it, so
/// every run starts with a harmless `item.completed` of type `error` ("Model metadata for
/// `mock-model` not found") — a real warning item that orch's parser must tolerate.
pub const MODEL: &str = "mock-model";

/// Token counts the stand-in reports in `response.completed`. codex copies them into
/// `turn.completed.usage` (`input_tokens`, `cached_input_tokens`, `output_tokens`,
/// `reasoning_output_tokens`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            input_tokens: 10,
            cached_input_tokens: 0,
            output_tokens: 5,
            reasoning_output_tokens: 0,
        }
    }
}

/// The content of one assistant answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub findings: Vec<String>,
    pub usage: Usage,
    /// A reasoning summary sent before the message (codex shows it as a `reasoning` item).
    pub reasoning: Option<String>,
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            text: "Done.".to_owned(),
            findings: Vec::new(),
            usage: Usage::default(),
            reasoning: None,
        }
    }
}

impl Reply {
    /// The assistant message as codex receives it (and writes to `-o`).
    pub fn rendered(&self) -> String {
        render_reply(&self.text, &self.findings)
    }
}

/// The text and the findings as one message: the text, then a blank line and a ranked
/// list under `Top findings:` (the shape orch's review template asks workers for).
pub fn render_reply(text: &str, findings: &[String]) -> String {
    let mut out = text.to_owned();
    if !findings.is_empty() {
        out.push_str("\n\nTop findings:\n");
        for (i, f) in findings.iter().enumerate() {
            let _ = writeln!(out, "{}. {f}", i + 1);
        }
        out.truncate(out.trim_end().len());
    }
    out
}

/// What the stand-in does with one `/v1/responses` request.
#[derive(Clone, Debug)]
pub enum Action {
    /// `200` and the SSE sequence that completes a turn with this message.
    Reply(Reply),
    /// This HTTP status with a JSON error body, e.g. 500.
    Status(u16),
    /// Send nothing until [`StandIn::release`] is called (or the stand-in is dropped,
    /// which closes the connection), then answer like [`Action::Reply`].
    Hang(Reply),
    /// `429` with the body the ChatGPT backend sends when a plan's usage limit is
    /// reached: `{"error":{"type":"usage_limit_reached","plan_type":…,"resets_at":…}}`
    /// (epoch seconds; codex reads only these three fields, and does not retry).
    UsageLimit { resets_at: i64, plan_type: String },
    /// `200` and a `function_call` of codex's `exec_command` tool running `command`;
    /// codex runs it and sends another request carrying a `function_call_output`.
    Shell { call_id: String, command: String },
    /// `200` and a `function_call` item of a namespaced tool, the shape codex 0.169.0
    /// gives MCP tools (`name` = the tool, `namespace` = `mcp__SERVER`); codex calls the
    /// server and sends another request carrying a `function_call_output`.
    Call {
        call_id: String,
        namespace: String,
        name: String,
        arguments: Value,
    },
}

/// One scripted answer: an action after an optional delay.
#[derive(Clone, Debug)]
pub struct Step {
    pub delay: Duration,
    pub action: Action,
}

impl Step {
    pub fn reply(text: impl Into<String>) -> Step {
        Step::from(Action::Reply(Reply {
            text: text.into(),
            ..Reply::default()
        }))
    }
    pub fn reply_with(reply: Reply) -> Step {
        Step::from(Action::Reply(reply))
    }
    pub fn status(code: u16) -> Step {
        Step::from(Action::Status(code))
    }
    /// A usage limit that resets `secs` seconds from now.
    pub fn usage_limit_for(secs: i64) -> Step {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64;
        Step::from(Action::UsageLimit {
            resets_at: now + secs,
            plan_type: "plus".to_owned(),
        })
    }
    pub fn hang() -> Step {
        Step::from(Action::Hang(Reply::default()))
    }
    pub fn shell(command: impl Into<String>) -> Step {
        Step::from(Action::Shell {
            call_id: "call_1".to_owned(),
            command: command.into(),
        })
    }
    /// A call of MCP tool `name` of server `server` with these arguments.
    pub fn mcp_call(call_id: &str, server: &str, name: &str, arguments: Value) -> Step {
        Step::from(Action::Call {
            call_id: call_id.to_owned(),
            namespace: format!("mcp__{server}"),
            name: name.to_owned(),
            arguments,
        })
    }
    pub fn after(mut self, delay: Duration) -> Step {
        self.delay = delay;
        self
    }
}

impl From<Action> for Step {
    fn from(action: Action) -> Step {
        Step {
            delay: Duration::ZERO,
            action,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Reply,
    Status(u16),
    Hang,
}

/// Sets the default answer (used whenever the queue is empty) and the queue.
#[derive(Debug)]
pub struct StandInBuilder {
    reply: Reply,
    mode: Mode,
    delay: Duration,
    queue: VecDeque<Step>,
    routes: Vec<Route>,
}

impl StandInBuilder {
    /// The default reply text (default: `Done.`).
    pub fn reply(mut self, text: impl Into<String>) -> Self {
        self.reply.text = text.into();
        self
    }
    /// Findings rendered into the default reply, see [`render_reply`].
    pub fn findings<I, S>(mut self, findings: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.reply.findings = findings.into_iter().map(Into::into).collect();
        self
    }
    /// Token usage reported with the default reply.
    pub fn usage(mut self, usage: Usage) -> Self {
        self.reply.usage = usage;
        self
    }
    /// A reasoning summary sent before the default reply.
    pub fn reasoning(mut self, summary: impl Into<String>) -> Self {
        self.reply.reasoning = Some(summary.into());
        self
    }
    /// Wait this long before answering each request that uses the default.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    /// Answer every request (that uses the default) with this HTTP status.
    pub fn status(mut self, code: u16) -> Self {
        self.mode = Mode::Status(code);
        self
    }
    /// Hold every request (that uses the default) until [`StandIn::release`].
    pub fn hang(mut self) -> Self {
        self.mode = Mode::Hang;
        self
    }
    /// Answer the next requests with these steps, in order, before falling back to the
    /// default.
    pub fn queue(mut self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.queue.extend(steps);
        self
    }
    /// Answer every request whose latest prompt contains `needle` with `step`, before
    /// the queue and the default. Concurrent codex processes (a fanout) reach the
    /// stand-in in any order; routing by prompt gives each its own, known answer.
    pub fn route(mut self, needle: impl Into<String>, step: Step) -> Self {
        self.routes.push(Route {
            needle: needle.into(),
            first: step,
            then: None,
        });
        self
    }
    /// Like [`route`](Self::route), for a turn that runs a command: `first` answers the
    /// turn's first request (say a [`Step::shell`]), `then` every request of the turn
    /// that carries a `function_call_output` (codex sends the command's output back
    /// with the same latest prompt, so `route` alone would run the command again).
    pub fn route_then(mut self, needle: impl Into<String>, first: Step, then: Step) -> Self {
        self.routes.push(Route {
            needle: needle.into(),
            first,
            then: Some(then),
        });
        self
    }

    pub fn start(self) -> StandIn {
        let action = match self.mode {
            Mode::Reply => Action::Reply(self.reply.clone()),
            Mode::Status(code) => Action::Status(code),
            Mode::Hang => Action::Hang(self.reply.clone()),
        };
        let default = Step {
            delay: self.delay,
            action,
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("stand-in: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("stand-in: local_addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: self.queue,
                routes: self.routes,
                default,
                requests: Vec::new(),
                released: false,
                connections: Vec::new(),
            }),
            changed: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name("standin-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))
            .expect("stand-in: spawn accept thread");
        StandIn {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }
}

/// One request as the stand-in received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body parsed as JSON, if it was JSON.
    pub json: Option<Value>,
    pub received: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `input[]` items of a `/v1/responses` body.
    pub fn input(&self) -> Vec<Value> {
        self.json
            .as_ref()
            .and_then(|j| j.get("input"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The text of every `input[]` item with `role` `role`, in order, the text parts of
    /// one item joined.
    pub fn texts_of_role(&self, role: &str) -> Vec<String> {
        self.input()
            .iter()
            .filter(|item| item.get("role").and_then(Value::as_str) == Some(role))
            .map(content_text)
            .collect()
    }

    /// Every user message, including the context codex injects (`<environment_context>`).
    pub fn user_texts(&self) -> Vec<String> {
        self.texts_of_role("user")
    }

    /// The user messages without the context codex injects on its own: what a person or
    /// orch actually prompted. (codex adds `<environment_context>…`, and an
    /// `# AGENTS.md instructions…` message when the working folder has an AGENTS.md.)
    pub fn prompts(&self) -> Vec<String> {
        self.user_texts()
            .into_iter()
            .filter(|t| !is_injected_context(t))
            .collect()
    }
}

fn is_injected_context(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("<environment_context>")
        || t.starts_with("<user_instructions>")
        || t.starts_with("# AGENTS.md instructions")
}

/// The text of an input item: a string `content`, or the `text` of its content parts
/// (`input_text`, `output_text`, …) joined.
fn content_text(item: &Value) -> String {
    match item.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// A running stand-in. Stops on drop.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    shutdown: AtomicBool,
}

/// A step chosen by the latest prompt; see [`StandInBuilder::route_then`].
#[derive(Clone, Debug)]
struct Route {
    needle: String,
    first: Step,
    then: Option<Step>,
}

struct State {
    queue: VecDeque<Step>,
    routes: Vec<Route>,
    default: Step,
    requests: Vec<Request>,
    released: bool,
    connections: Vec<TcpStream>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection thread must not hide the recorded requests.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StandIn {
    pub fn builder() -> StandInBuilder {
        StandInBuilder {
            reply: Reply::default(),
            mode: Mode::Reply,
            delay: Duration::ZERO,
            queue: VecDeque::new(),
            routes: Vec::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/v1`, the provider's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Let every held ([`Action::Hang`]) request answer, now and from now on.
    pub fn release(&self) {
        self.shared.lock().released = true;
        self.shared.changed.notify_all();
    }

    /// Append steps to the queue while running.
    pub fn push(&self, step: Step) {
        self.shared.lock().queue.push_back(step);
    }

    /// Every request received so far, any path.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// The `POST /v1/responses` requests received so far.
    pub fn responses_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/responses")
            .collect()
    }

    /// The paths of requests the stand-in does not serve (answered 404), in order.
    pub fn unknown_requests(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| !(r.method == "POST" && r.path == "/v1/responses"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The prompts (see [`Request::prompts`]) of each `/v1/responses` request, in order.
    pub fn prompts_per_request(&self) -> Vec<Vec<String>> {
        self.responses_requests()
            .iter()
            .map(Request::prompts)
            .collect()
    }

    /// Wait until at least `n` `/v1/responses` requests have arrived; false on timeout.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            let seen = state
                .requests
                .iter()
                .filter(|r| r.path == "/v1/responses")
                .count();
            if seen >= n {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wake the blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for conn in self.shared.lock().connections.drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if let Ok(clone) = stream.try_clone() {
            shared.lock().connections.push(clone);
        }
        let shared = Arc::clone(shared);
        let _ = thread::Builder::new()
            .name("standin-conn".into())
            .spawn(move || {
                if let Err(e) = serve_connection(stream, &shared)
                    && !shared.shutdown.load(Ordering::SeqCst)
                {
                    eprintln!("stand-in: connection error: {e}");
                }
            });
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let Some(request) = read_request(&mut reader)? else {
            return Ok(()); // the client closed the connection
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let is_responses = request.method == "POST" && request.path == "/v1/responses";
        if !is_responses {
            eprintln!(
                "stand-in: unknown request {} {} (answering 404)",
                request.method, request.path
            );
        }
        let step = {
            let mut state = shared.lock();
            let latest = request.prompts().pop().unwrap_or_default();
            let continuing = request
                .input()
                .iter()
                .any(|i| i["type"] == "function_call_output");
            state.requests.push(request);
            let step = if is_responses {
                let routed = state
                    .routes
                    .iter()
                    .find(|r| latest.contains(r.needle.as_str()))
                    .map(|r| match (&r.then, continuing) {
                        (Some(then), true) => then.clone(),
                        _ => r.first.clone(),
                    });
                Some(routed.unwrap_or_else(|| {
                    state
                        .queue
                        .pop_front()
                        .unwrap_or_else(|| state.default.clone())
                }))
            } else {
                None
            };
            shared.changed.notify_all();
            step
        };
        match step {
            None => write_response(
                &mut writer,
                404,
                "application/json",
                br#"{"error":"not found"}"#,
            )?,
            Some(step) => {
                if !sleep_unless_shutdown(shared, step.delay) {
                    return Ok(());
                }
                if !answer(&mut writer, shared, step.action)? {
                    return Ok(());
                }
            }
        }
        if close {
            return Ok(());
        }
    }
}

/// Sleep for `delay`; false if the stand-in shut down meanwhile.
fn sleep_unless_shutdown(shared: &Shared, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    let mut state = shared.lock();
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        state = shared
            .changed
            .wait_timeout(state, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Answer one `/v1/responses` request; false if the connection must be dropped.
fn answer(writer: &mut TcpStream, shared: &Shared, action: Action) -> std::io::Result<bool> {
    match action {
        Action::Reply(reply) => {
            write_response(
                writer,
                200,
                "text/event-stream",
                reply_sse(&reply).as_bytes(),
            )?;
        }
        Action::Status(code) => {
            let body = json!({"error": {
                "message": format!("stand-in answered HTTP {code}"),
                "type": "server_error",
                "code": null,
            }});
            write_response(
                writer,
                code,
                "application/json",
                body.to_string().as_bytes(),
            )?;
        }
        Action::UsageLimit {
            resets_at,
            plan_type,
        } => {
            let body = json!({"error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "plan_type": plan_type,
                "resets_at": resets_at,
            }});
            write_response(writer, 429, "application/json", body.to_string().as_bytes())?;
        }
        Action::Hang(reply) => {
            let mut state = shared.lock();
            while !state.released {
                if shared.shutdown.load(Ordering::SeqCst) {
                    return Ok(false);
                }
                state = shared
                    .changed
                    .wait_timeout(state, Duration::from_millis(200))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            drop(state);
            write_response(
                writer,
                200,
                "text/event-stream",
                reply_sse(&reply).as_bytes(),
            )?;
        }
        Action::Shell { call_id, command } => {
            write_response(
                writer,
                200,
                "text/event-stream",
                shell_sse(&call_id, &command).as_bytes(),
            )?;
        }
        Action::Call {
            call_id,
            namespace,
            name,
            arguments,
        } => {
            write_response(
                writer,
                200,
                "text/event-stream",
                call_sse(&call_id, &namespace, &name, &arguments).as_bytes(),
            )?;
        }
    }
    Ok(true)
}

fn sse(events: &[Value]) -> String {
    let mut out = String::new();
    for event in events {
        let kind = event["type"].as_str().unwrap_or("message");
        let _ = write!(out, "event: {kind}\ndata: {event}\n\n");
    }
    out
}

fn completed(usage: &Usage) -> Value {
    json!({"type": "response.completed", "response": {
        "id": "resp_1",
        "usage": {
            "input_tokens": usage.input_tokens,
            "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_output_tokens},
            "total_tokens": usage.input_tokens + usage.output_tokens,
        },
    }})
}

/// The SSE body of one completed turn (the sequence in `codex-exec.md`).
pub fn reply_sse(reply: &Reply) -> String {
    let mut events = vec![json!({"type": "response.created", "response": {"id": "resp_1"}})];
    if let Some(summary) = &reply.reasoning {
        events.push(json!({"type": "response.output_item.done", "item": {
            "type": "reasoning", "id": "rs_1",
            "summary": [{"type": "summary_text", "text": summary}],
        }}));
    }
    events.push(json!({"type": "response.output_item.done", "item": {
        "type": "message", "role": "assistant", "id": "msg_1",
        "content": [{"type": "output_text", "text": reply.rendered()}],
    }}));
    events.push(completed(&reply.usage));
    sse(&events)
}

/// The SSE body of a response that asks codex to run `command` with `exec_command`.
pub fn shell_sse(call_id: &str, command: &str) -> String {
    // `login: false`: no profile scripts, so the output is the command's alone.
    let arguments = json!({"cmd": command, "login": false}).to_string();
    sse(&[
        json!({"type": "response.created", "response": {"id": "resp_1"}}),
        json!({"type": "response.output_item.done", "item": {
            "type": "function_call", "id": "fc_1", "call_id": call_id,
            "name": "exec_command", "arguments": arguments,
        }}),
        completed(&Usage::default()),
    ])
}

/// The SSE body of a response calling a namespaced (MCP) tool.
pub fn call_sse(call_id: &str, namespace: &str, name: &str, arguments: &Value) -> String {
    sse(&[
        json!({"type": "response.created", "response": {"id": "resp_1"}}),
        json!({"type": "response.output_item.done", "item": {
            "type": "function_call", "id": "fc_1", "call_id": call_id,
            "name": name, "namespace": namespace, "arguments": arguments.to_string(),
        }}),
        completed(&Usage::default()),
    ])
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_response(
    writer: &mut TcpStream,
    code: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         cache-control: no-cache\r\n\r\n",
        reason(code),
        body.len()
    );
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()
}

/// Read one request; `None` when the peer closed the connection before a request line.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    // Tolerate stray blank lines between keep-alive requests.
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if size == 0 {
                // Trailers end with a blank line.
                loop {
                    let mut t = String::new();
                    if reader.read_line(&mut t)? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    let json = serde_json::from_slice(&body).ok();
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
        json,
        received: Instant::now(),
    }))
}

/// A `CODEX_HOME` folder whose `config.toml` points codex at a stand-in: no login, no `-c`
/// flags, no traffic anywhere but the stand-in. Removed on drop.
pub struct CodexHome {
    dir: tempfile::TempDir,
}

/// Options for the generated `config.toml`.
#[derive(Clone, Copy, Debug)]
pub struct HomeOptions {
    /// `request_max_retries` of the provider: extra HTTP attempts per stream attempt
    /// (codex default 4).
    pub request_max_retries: u32,
    /// `stream_max_retries` of the provider: extra stream attempts, each reported as an
    /// `error` event "Reconnecting... n/N" (codex default 5).
    pub stream_max_retries: u32,
}

impl Default for HomeOptions {
    /// One retry of each kind: a 500 fails the turn after 4 requests in about a second,
    /// and still shows one "Reconnecting... 1/1" event like a real outage does.
    fn default() -> Self {
        HomeOptions {
            request_max_retries: 1,
            stream_max_retries: 1,
        }
    }
}

impl CodexHome {
    pub fn new(standin: &StandIn) -> CodexHome {
        CodexHome::with_options(standin, HomeOptions::default())
    }

    pub fn with_options(standin: &StandIn, options: HomeOptions) -> CodexHome {
        // Not under /tmp: codex 0.169.0 refuses to create its helper PATH aliases in a
        // temporary folder and warns on stderr about it.
        let dir = tempfile::Builder::new()
            .prefix("codex-home-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("create CODEX_HOME temp dir");
        std::fs::write(
            dir.path().join("config.toml"),
            config_toml(&standin.base_url(), options),
        )
        .expect("write config.toml");
        CodexHome { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where codex keeps the session files (`sessions/YYYY/MM/DD/rollout-….jsonl`).
    pub fn sessions(&self) -> PathBuf {
        self.dir.path().join("sessions")
    }
}

/// The `config.toml` that makes codex 0.169.0 talk to `base_url` and nothing else.
pub fn config_toml(base_url: &str, options: HomeOptions) -> String {
    format!(
        r#"# Generated by orch's contract tests: talk to the loopback stand-in only.
model = "{MODEL}"
model_provider = "mock"
check_for_update_on_startup = false

[analytics]
# Otherwise codex sends OTLP metrics to ab.chatgpt.com.
enabled = false

[features]
# Otherwise codex syncs curated plugins from github.com / chatgpt.com at startup.
plugins = false

[model_providers.mock]
name = "mock"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = {}
stream_max_retries = {}
"#,
        options.request_max_retries, options.stream_max_retries
    )
}
