//! `orch send` with the REAL codex as the worker program: a message sent while a turn
//! runs continues the same codex conversation in the same wrapper, after the turn or
//! (with `--now`) at once.

use std::time::Duration;

use serde_json::Value;

use crate::orch::{OrchHome, WORKER_TIMEOUT};
use crate::standin::{Action, CodexHome, Reply, StandIn, Step, Usage};

fn reply(text: &str, input_tokens: u64, output_tokens: u64) -> Reply {
    Reply {
        text: text.to_owned(),
        usage: Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        },
        ..Reply::default()
    }
}

/// The thread ids of the `thread.started` events in the worker's event log, in order.
fn threads_started(t: &OrchHome, address: &str) -> Vec<String> {
    std::fs::read_to_string(t.worker_dir(address).join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "thread.started")
        .map(|e| e["thread_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Polls until codex has printed `turn.started` (it has then recorded the prompt).
fn wait_turn_started(t: &OrchHome, address: &str) {
    let events = t.worker_dir(address).join("events.jsonl");
    let deadline = std::time::Instant::now() + WORKER_TIMEOUT;
    while !std::fs::read_to_string(&events).is_ok_and(|e| e.contains("\"turn.started\"")) {
        assert!(
            std::time::Instant::now() < deadline,
            "codex never started its turn\n{}",
            t.diagnostics(address)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_message_sent_during_a_turn_is_the_next_turn_of_the_same_conversation() {
    let standin = StandIn::builder()
        .queue([
            Step::from(Action::Hang(reply("First answer.", 100, 10))),
            Step::reply_with(reply("Second answer.", 1000, 1)),
        ])
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["First prompt."]);
    assert!(
        standin.wait_for_requests(1, WORKER_TIMEOUT),
        "codex never called the stand-in\n{}",
        t.diagnostics(&address)
    );
    t.wait_for(&codex, &address, "running", |w| w["state"] == "running");

    let out = t.ok(&codex, &["send", &address, "Second prompt."]);
    assert_eq!(
        out.trim(),
        format!("{address}: message queued; delivered when its current turn ends")
    );
    let w = t.worker(&codex, &address);
    assert_eq!(w["pending_messages"], 1, "{w:#}");
    // The first turn ends; the wrapper continues instead of ending.
    standin.release();

    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&address));
    assert_eq!(w["attempt"], 1, "continued in the same attempt: {w:#}");
    assert_eq!(w["pending_messages"], 0, "{w:#}");
    let thread = w["thread_id"].as_str().expect("a thread id").to_owned();
    assert_eq!(
        threads_started(&t, &address),
        vec![thread.clone(), thread.clone()],
        "two codex runs of one thread, in one event log"
    );
    // codex reports the thread's running total: both turns count.
    assert_eq!(w["tokens"]["input"], 1100, "{w:#}");
    assert_eq!(w["tokens"]["output"], 11, "{w:#}");
    assert_eq!(t.ok(&codex, &["result", &address]), "Second answer.");

    let requests = standin.responses_requests();
    assert_eq!(requests.len(), 2, "{:?}", standin.prompts_per_request());
    assert_eq!(
        requests[1].prompts(),
        vec!["First prompt.".to_owned(), "Second prompt.".to_owned()],
        "the earlier turn and the new message in one conversation"
    );
    assert!(
        requests[1]
            .texts_of_role("assistant")
            .contains(&"First answer.".to_owned()),
        "{:?}",
        requests[1].input()
    );
}

#[test]
fn send_now_interrupts_a_slow_turn_and_the_conversation_continues_with_the_message() {
    let standin = StandIn::builder()
        .queue([
            Step::from(Action::Hang(reply("Never sent.", 100, 10))),
            Step::reply_with(reply("Only the README, then.", 1000, 1)),
        ])
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["Rewrite the whole crate."]);
    assert!(
        standin.wait_for_requests(1, WORKER_TIMEOUT),
        "codex never called the stand-in\n{}",
        t.diagnostics(&address)
    );
    t.wait_for(&codex, &address, "running", |w| w["state"] == "running");
    wait_turn_started(&t, &address);

    let out = t.ok(
        &codex,
        &[
            "send",
            "--now",
            &address,
            "Change of plan: only fix the README.",
        ],
    );
    assert_eq!(
        out.trim(),
        format!("{address}: turn interrupted; the worker continues with the message now")
    );
    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&address));
    assert_eq!(
        w["error"],
        Value::Null,
        "a steering interrupt is no stop: {w:#}"
    );
    assert_eq!(w["attempt"], 1, "{w:#}");
    let thread = w["thread_id"].as_str().expect("a thread id").to_owned();
    assert_eq!(threads_started(&t, &address), vec![thread.clone(), thread]);
    assert_eq!(
        t.ok(&codex, &["result", &address]),
        "Only the README, then."
    );

    let requests = standin.responses_requests();
    assert_eq!(requests.len(), 2, "{:?}", standin.prompts_per_request());
    // The interrupted turn's prompt is in the conversation (codex recorded it when the
    // turn started), then codex's own note that the user interrupted it (measured on
    // 0.169.0), then the message.
    let prompts = requests[1].prompts();
    assert_eq!(prompts.len(), 3, "{:?}", requests[1].input());
    assert_eq!(prompts[0], "Rewrite the whole crate.");
    assert!(
        prompts[1].starts_with("<turn_aborted>")
            && prompts[1].contains("The user interrupted the previous turn on purpose."),
        "{prompts:?}"
    );
    assert_eq!(prompts[2], "Change of plan: only fix the README.");
    assert!(
        !requests[1]
            .texts_of_role("assistant")
            .contains(&"Never sent.".to_owned()),
        "the interrupted turn never got its answer"
    );
}
