//! The `codex exec --json` event stream: one JSON object per line.
//!
//! Parsed loosely on purpose: the schema grows between codex versions, so unknown event
//! types and fields are tolerated (kept as `Other`) and never fail a worker.

use serde_json::Value;

use crate::model::text::one_line;
use crate::store::Tokens;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    ThreadStarted {
        thread_id: String,
    },
    TurnStarted,
    TurnCompleted {
        usage: Tokens,
    },
    TurnFailed {
        message: String,
    },
    /// A top-level `error`: fatal only if `turn.failed` follows (codex reports retries this way).
    Error {
        message: String,
    },
    ItemStarted(Item),
    ItemUpdated(Item),
    ItemCompleted(Item),
    Other {
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub kind: String,
    pub text: Option<String>,
    pub command: Option<String>,
    pub exit_code: Option<i64>,
    pub status: Option<String>,
    pub changes: Vec<String>,
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Parses one line; `None` for blank or non-JSON lines.
pub fn parse(line: &str) -> Option<Event> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let v: Value = serde_json::from_str(line).ok()?;
    let kind = s(&v, "type")?;
    Some(match kind.as_str() {
        "thread.started" => Event::ThreadStarted {
            thread_id: s(&v, "thread_id").unwrap_or_default(),
        },
        "turn.started" => Event::TurnStarted,
        "turn.completed" => {
            let usage = v.get("usage").cloned().unwrap_or(Value::Null);
            Event::TurnCompleted {
                usage: Tokens {
                    input: u(&usage, "input_tokens"),
                    cached_input: u(&usage, "cached_input_tokens"),
                    output: u(&usage, "output_tokens"),
                    reasoning: u(&usage, "reasoning_output_tokens"),
                    cache_write_input: u(&usage, "cache_write_input_tokens"),
                },
            }
        }
        "turn.failed" => Event::TurnFailed {
            message: v
                .get("error")
                .and_then(|e| s(e, "message"))
                .unwrap_or_else(|| "turn failed".into()),
        },
        "error" => Event::Error {
            message: s(&v, "message").unwrap_or_else(|| "error".into()),
        },
        "item.started" | "item.updated" | "item.completed" => {
            let item = parse_item(v.get("item").unwrap_or(&Value::Null));
            match kind.as_str() {
                "item.started" => Event::ItemStarted(item),
                "item.updated" => Event::ItemUpdated(item),
                _ => Event::ItemCompleted(item),
            }
        }
        _ => Event::Other { kind },
    })
}

fn parse_item(v: &Value) -> Item {
    let changes = v
        .get("changes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    let path = s(c, "path")?;
                    Some(match s(c, "kind") {
                        Some(k) => format!("{k} {path}"),
                        None => path,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Item {
        kind: s(v, "type").unwrap_or_else(|| "unknown".into()),
        text: s(v, "text").or_else(|| s(v, "message")),
        command: s(v, "command"),
        exit_code: v.get("exit_code").and_then(Value::as_i64),
        status: s(v, "status"),
        changes,
    }
}

/// A readable line for the pane, `orch logs` and status's "last activity";
/// `None` for events not worth a line.
pub fn describe(event: &Event, width: usize) -> Option<String> {
    Some(match event {
        Event::ThreadStarted { thread_id } => format!("thread {thread_id}"),
        Event::TurnStarted => "turn started".into(),
        Event::TurnCompleted { usage } => format!(
            "turn completed ({} in, {} out tokens)",
            usage.input, usage.output
        ),
        Event::TurnFailed { message } => format!("turn failed: {}", one_line(message, width)),
        Event::Error { message } => format!("error: {}", one_line(message, width)),
        Event::ItemStarted(i) if i.kind == "command_execution" => {
            format!("$ {}", one_line(i.command.as_deref().unwrap_or(""), width))
        }
        Event::ItemCompleted(i) => match i.kind.as_str() {
            "agent_message" => format!("message: {}", one_line(i.text.as_deref()?, width)),
            "reasoning" => format!("thinking: {}", one_line(i.text.as_deref()?, width)),
            "command_execution" => format!(
                "$ {} → exit {}",
                one_line(i.command.as_deref().unwrap_or(""), width),
                i.exit_code.map_or("?".into(), |c| c.to_string())
            ),
            "file_change" => format!("changed {}", i.changes.join(", ")),
            "error" => format!(
                "warning: {}",
                one_line(i.text.as_deref().unwrap_or(""), width)
            ),
            "todo_list" => "plan updated".into(),
            other => format!("{other} done"),
        },
        _ => return None,
    })
}

/// What a stream of events adds up to. Serialisable: `lifecycle::activity` keeps it
/// beside the log so readers parse only what is new.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Summary {
    pub thread_id: Option<String>,
    /// From the last `turn.completed`: codex reports usage as a running total for the
    /// whole thread (measured on 0.169.0: a resumed turn reports earlier turns too).
    pub tokens: Tokens,
    pub turn_completed: bool,
    pub turn_failed: Option<String>,
    pub last_error: Option<String>,
    pub last_activity: Option<String>,
}

impl Summary {
    pub fn add(&mut self, event: &Event) {
        match event {
            Event::ThreadStarted { thread_id } => self.thread_id = Some(thread_id.clone()),
            Event::TurnCompleted { usage } => {
                self.tokens = *usage;
                self.turn_completed = true;
            }
            Event::TurnFailed { message } => self.turn_failed = Some(message.clone()),
            Event::Error { message } => self.last_error = Some(message.clone()),
            Event::TurnStarted => self.turn_completed = false,
            _ => {}
        }
        if let Some(line) = describe(event, 100) {
            self.last_activity = Some(line);
        }
    }

    /// The reason to show for a failed worker, best first.
    pub fn failure(&self) -> Option<String> {
        self.turn_failed.clone().or_else(|| self.last_error.clone())
    }
}

pub fn summarize<'a>(lines: impl Iterator<Item = &'a str>) -> Summary {
    let mut sum = Summary::default();
    for line in lines {
        if let Some(ev) = parse(line) {
            sum.add(&ev);
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS: &str = r#"{"type":"thread.started","thread_id":"t-1"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"a warning"}}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"i2","type":"command_execution","command":"ls","status":"in_progress"}}
{"type":"item.completed","item":{"id":"i2","type":"command_execution","command":"ls","exit_code":0,"status":"completed"}}
{"type":"some.future.event","x":1}
{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"All good."}}
{"type":"turn.completed","usage":{"input_tokens":101,"cached_input_tokens":3,"cache_write_input_tokens":0,"output_tokens":14,"reasoning_output_tokens":2}}"#;

    #[test]
    fn success_stream() {
        let s = summarize(SUCCESS.lines());
        assert_eq!(s.thread_id.as_deref(), Some("t-1"));
        assert!(s.turn_completed);
        assert_eq!(
            s.tokens,
            Tokens {
                input: 101,
                cached_input: 3,
                output: 14,
                reasoning: 2,
                cache_write_input: 0,
            }
        );
        assert_eq!(s.failure(), None, "an error item is only a warning");
    }

    #[test]
    fn failed_stream() {
        let text = r#"{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 1/5"}
{"type":"turn.failed","error":{"message":"stream error: 500"}}"#;
        let s = summarize(text.lines());
        assert!(!s.turn_completed);
        assert_eq!(s.failure().as_deref(), Some("stream error: 500"));
    }

    #[test]
    fn tolerates_junk() {
        assert_eq!(parse("not json"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse(r#"{"no_type":1}"#), None);
        assert_eq!(
            parse(r#"{"type":"x.y"}"#),
            Some(Event::Other { kind: "x.y".into() })
        );
    }

    /// The real codex 0.169.0's stdout, recorded by the contract tests.
    const FIXTURES: &[(&str, &str)] = &[
        (
            "success",
            include_str!("../../../tests/fixtures/codex-events/success.jsonl"),
        ),
        (
            "api-error-500",
            include_str!("../../../tests/fixtures/codex-events/api-error-500.jsonl"),
        ),
        (
            "sigint",
            include_str!("../../../tests/fixtures/codex-events/sigint.jsonl"),
        ),
        (
            "resume",
            include_str!("../../../tests/fixtures/codex-events/resume.jsonl"),
        ),
        (
            "shell-command",
            include_str!("../../../tests/fixtures/codex-events/shell-command.jsonl"),
        ),
        (
            "shell-command-sandbox-denied",
            include_str!("../../../tests/fixtures/codex-events/shell-command-sandbox-denied.jsonl"),
        ),
        (
            "reasoning",
            include_str!("../../../tests/fixtures/codex-events/reasoning.jsonl"),
        ),
    ];

    /// codex's own text for any 5xx (note the U+2019 apostrophe).
    const HIGH_DEMAND: &str =
        "We’re currently experiencing high demand, which may cause temporary errors.";

    fn tokens(input: u64, cached_input: u64, output: u64, reasoning: u64) -> Tokens {
        Tokens {
            input,
            cached_input,
            output,
            reasoning,
            cache_write_input: 0,
        }
    }

    /// What each recorded run must add up to: (turn completed, failure, tokens).
    fn expected(name: &str) -> (bool, Option<&'static str>, Tokens) {
        match name {
            "success" => (true, None, tokens(1234, 200, 56, 7)),
            "api-error-500" => (false, Some(HIGH_DEMAND), Tokens::default()),
            "sigint" => (false, None, Tokens::default()),
            // A resumed turn reports the thread's running total (100/10 + 1000/1).
            "resume" => (true, None, tokens(1100, 0, 11, 0)),
            "shell-command" | "shell-command-sandbox-denied" => (true, None, tokens(20, 0, 10, 0)),
            "reasoning" => (true, None, tokens(10, 0, 5, 0)),
            other => panic!("no expectation for fixture {other}"),
        }
    }

    #[test]
    fn every_recorded_codex_run_adds_up() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/codex-events");
        let on_disk = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".jsonl"))
            .count();
        assert_eq!(
            on_disk,
            FIXTURES.len(),
            "a fixture in {dir} is not checked here"
        );
        for (name, text) in FIXTURES {
            for line in text.lines() {
                assert!(parse(line).is_some(), "{name}: unparsed line {line}");
            }
            let s = summarize(text.lines());
            let (completed, failure, tokens) = expected(name);
            assert_eq!(s.turn_completed, completed, "{name}");
            assert_eq!(s.failure().as_deref(), failure, "{name}");
            assert_eq!(s.tokens, tokens, "{name}");
            assert_eq!(
                s.thread_id.as_deref(),
                Some("00000000-0000-7000-8000-000000000001"),
                "{name}"
            );
            assert!(s.last_activity.is_some(), "{name}");
        }
    }

    #[test]
    fn unknown_event_and_item_types_change_nothing() {
        let unknown = [
            r#"{"type":"session.future_thing","payload":{"x":1}}"#,
            r#"{"type":"item.completed","item":{"id":"u1","type":"brand_new_item","blob":[1,2]}}"#,
            r#"{"type":"item.updated","item":{"id":"u2","type":"todo_list","items":[]}}"#,
            r#"{"type":"turn.progress","usage":{"input_tokens":999}}"#,
        ];
        for (name, text) in FIXTURES {
            // After every real line, each unknown one.
            let mixed: Vec<&str> = text
                .lines()
                .flat_map(|l| std::iter::once(l).chain(unknown))
                .collect();
            let plain = summarize(text.lines());
            let s = summarize(mixed.iter().copied());
            assert_eq!(s.turn_completed, plain.turn_completed, "{name}");
            assert_eq!(s.failure(), plain.failure(), "{name}");
            assert_eq!(s.tokens, plain.tokens, "{name}");
            assert_eq!(s.thread_id, plain.thread_id, "{name}");
        }
        assert_eq!(
            parse(unknown[0]),
            Some(Event::Other {
                kind: "session.future_thing".into()
            })
        );
    }

    #[test]
    fn describes_commands() {
        let ev = parse(r#"{"type":"item.completed","item":{"type":"command_execution","command":"cargo test","exit_code":101}}"#).unwrap();
        assert_eq!(describe(&ev, 80).unwrap(), "$ cargo test → exit 101");
    }
}
