//! `orch send`: steering a running worker through its inbox.

use serde_json::Value;

use crate::support::*;

/// The thread an invocation resumed (`… resume THREAD -`), if any.
fn resumed(inv: &Value) -> Option<String> {
    let a = inv["argv"].as_array()?;
    let i = a.iter().position(|x| x == "resume")?;
    a.get(i + 1)?.as_str().map(str::to_string)
}

fn prompts(t: &TestHome, addr: &str) -> Vec<String> {
    t.invocations(addr)
        .iter()
        .map(|i| i["prompt"].as_str().unwrap().to_string())
        .collect()
}

/// A gate file the fake codex's first turn waits for (`FAKE:wait-for`).
fn gate(t: &TestHome) -> String {
    t.path().join("gate").to_str().unwrap().to_string()
}

fn open_gate(t: &TestHome) {
    std::fs::write(gate(t), "").unwrap();
}

/// Waits until codex's turn has begun (its `turn.started` is in events.jsonl).
fn wait_turn_started(t: &TestHome, addr: &str) {
    let events = t.worker_dir(addr).join("events.jsonl");
    eventually(20, "codex's first turn", || {
        std::fs::read_to_string(&events)
            .ok()
            .filter(|e| e.contains("turn.started"))
    });
}

#[test]
fn a_message_sent_during_a_turn_continues_the_same_conversation_after_it() {
    let t = TestHome::new();
    let addr = t.spawn(&[&format!(
        "Map the storage layer\nFAKE:wait-for={}",
        gate(&t)
    )]);
    t.wait_state(&addr, "running", 20);
    wait_turn_started(&t, &addr);

    let out = t.ok(&["send", &addr, "Now list its tests too\nFAKE:tokens=300,30"]);
    assert_eq!(
        out.trim(),
        format!("{addr}: message queued; delivered when its current turn ends")
    );
    let w = t.worker(&addr);
    assert_eq!(w["state"], "running");
    assert_eq!(w["pending_messages"], 1, "{w}");

    open_gate(&t);
    let w = t.wait_state(&addr, "done", 20);
    assert_eq!(w["attempt"], 1, "one attempt, continued in its window: {w}");
    assert_eq!(w["pending_messages"], 0, "{w}");
    let inv = t.invocations(&addr);
    assert_eq!(inv.len(), 2, "{inv:?}");
    let thread = w["thread_id"].as_str().unwrap().to_string();
    assert_eq!(resumed(&inv[0]), None);
    assert_eq!(resumed(&inv[1]).as_deref(), Some(thread.as_str()));
    assert_ne!(
        inv[1]["pid"], inv[0]["pid"],
        "a second codex run, not the same process"
    );
    assert_eq!(
        prompts(&t, &addr)[1],
        "Now list its tests too\nFAKE:tokens=300,30"
    );
    // The result answers the last message; tokens are the continued turn's running total.
    assert_eq!(
        t.ok(&["result", &addr]),
        format!("resumed {thread}: Now list its tests too")
    );
    assert_eq!(w["tokens"]["input"], 300, "{w}");
    // Both turns are in the one event log, which `orch logs` reads.
    let events = std::fs::read_to_string(t.worker_dir(&addr).join("events.jsonl")).unwrap();
    assert_eq!(events.matches("turn.completed").count(), 2, "{events}");
    let logs = t.ok(&["logs", &addr]);
    assert!(
        logs.contains("fake reply to: Map the storage layer"),
        "{logs}"
    );
    assert!(logs.contains("Now list its tests too"), "{logs}");
    // Delivered once: moved out of the pending inbox.
    let delivered = t.worker_dir(&addr).join("inbox/delivered/0001.md");
    assert_eq!(
        std::fs::read_to_string(delivered).unwrap(),
        "Now list its tests too\nFAKE:tokens=300,30"
    );
}

#[test]
fn two_messages_are_delivered_in_order_one_turn_each_and_status_shows_them_pending() {
    let t = TestHome::new();
    let addr = t.spawn(&[&format!("Survey the code\nFAKE:wait-for={}", gate(&t))]);
    t.wait_state(&addr, "running", 20);
    t.ok(&["send", &addr, "First follow-up"]);
    let out = t.ok(&["send", &addr, "Second follow-up"]);
    assert!(
        out.contains("2 messages pending, delivered in order"),
        "{out}"
    );

    let w = t.worker(&addr);
    assert_eq!(w["pending_messages"], 2, "{w}");
    let table = t.ok(&["status", run_of(&addr)]);
    assert!(table.contains("running (2 messages)"), "{table}");

    open_gate(&t);
    t.wait_state(&addr, "done", 30);
    let p = prompts(&t, &addr);
    assert_eq!(p.len(), 3, "{p:?}");
    assert_eq!(&p[1..], &["First follow-up", "Second follow-up"]);
    let inv = t.invocations(&addr);
    let thread = t.worker(&addr)["thread_id"].as_str().unwrap().to_string();
    assert!(
        inv[1..]
            .iter()
            .all(|i| resumed(i).as_deref() == Some(&thread))
    );
    assert_eq!(
        t.ok(&["result", &addr]),
        format!("resumed {thread}: Second follow-up")
    );
    let table = t.ok(&["status", run_of(&addr)]);
    assert!(!table.contains("message"), "nothing pending now: {table}");
}

#[test]
fn send_now_interrupts_a_slow_turn_and_continues_with_the_message_at_once() {
    let t = TestHome::new();
    let addr = t.spawn(&["Rewrite everything\nFAKE:hang"]);
    t.wait_state(&addr, "running", 20);
    wait_turn_started(&t, &addr);

    let out = t.ok(&["send", "--now", &addr, "Stop that; only fix the README"]);
    assert_eq!(
        out.trim(),
        format!("{addr}: turn interrupted; the worker continues with the message now")
    );
    let w = t.wait_state(&addr, "done", 20);
    assert_eq!(
        w["error"],
        Value::Null,
        "a steering interrupt is no stop: {w}"
    );
    assert_eq!(w["attempt"], 1, "{w}");
    let inv = t.invocations(&addr);
    assert_eq!(inv.len(), 2, "{inv:?}");
    let thread = w["thread_id"].as_str().unwrap().to_string();
    assert_eq!(resumed(&inv[1]).as_deref(), Some(thread.as_str()));
    assert_eq!(
        t.ok(&["result", &addr]),
        format!("resumed {thread}: Stop that; only fix the README")
    );
    let dir = t.worker_dir(&addr);
    assert!(!dir.join("stop.json").exists());
    assert!(
        !dir.join("inbox/now.json").exists(),
        "the request is used up"
    );
}

#[test]
fn a_worker_still_queued_gets_the_message_after_its_first_turn() {
    let t = TestHome::new();
    let first = t.spawn(&[&format!("Scout\nFAKE:wait-for={}", gate(&t))]);
    let run = run_of(&first).to_string();
    let second = t.spawn(&["--run", &run, "--after", "W1", "Build on the scout"]);
    assert_eq!(t.state(&second), "queued");
    let out = t.ok(&["send", &second, "Keep it small"]);
    assert_eq!(
        out.trim(),
        format!("{second}: message queued; delivered after its first turn")
    );
    assert_eq!(t.worker(&second)["pending_messages"], 1);

    open_gate(&t);
    t.wait_state(&second, "done", 30);
    let p = prompts(&t, &second);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[1], "Keep it small");
}

#[test]
fn send_to_a_worker_that_ended_is_refused_with_the_resume_command() {
    let t = TestHome::new();
    let addr = t.spawn(&["Quick look"]);
    t.wait_state(&addr, "done", 20);
    let err = t.fails(&["send", &addr, "One more thing"], 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "{addr} has already ended (done); continue its conversation with `orch resume {addr} MESSAGE`"
        )),
        "{err}"
    );
    assert!(
        !t.worker_dir(&addr).join("inbox").exists(),
        "left untouched"
    );
    // No message at all is a usage error.
    let err = t.fails(&["send", &addr], 2);
    assert!(err.contains("no message"), "{err}");
}

/// A crash (here: the tmux server killed) before the message's turn: it is not lost;
/// the recovered worker delivers it after the turn `orch recover` continues.
#[test]
fn a_message_pending_at_a_crash_is_delivered_after_recovery() {
    let t = TestHome::new();
    let addr = t.spawn(&["Survey\nFAKE:first=1\nFAKE:hang"]);
    t.wait_state(&addr, "running", 20);
    wait_turn_started(&t, &addr);
    t.ok(&["send", &addr, "Then summarise"]);
    assert!(t.tmux(&["kill-server"]).status.success());
    let w = t.wait_state(&addr, "lost", 30);
    assert_eq!(w["pending_messages"], 1, "{w}");
    let table = t.ok(&["status", run_of(&addr)]);
    assert!(table.contains("lost (1 message)"), "{table}");

    t.ok(&["recover", run_of(&addr), "--stagger", "0s"]);
    t.wait_state(&addr, "done", 30);
    let p = prompts(&t, &addr);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[1].contains("interrupted"),
        "recover's prompt first: {p:?}"
    );
    assert_eq!(p[2], "Then summarise");
    assert_eq!(t.worker(&addr)["pending_messages"], 0);
}

/// A crash during the message's own turn: codex had begun it (and recorded it in its
/// conversation), so the recovered worker does not send it again.
#[test]
fn a_message_whose_turn_had_begun_at_a_crash_is_not_delivered_twice() {
    let t = TestHome::new();
    let addr = t.spawn(&[&format!("Survey\nFAKE:wait-for={}", gate(&t))]);
    t.wait_state(&addr, "running", 20);
    // The fake's second invocation (this message's turn) hangs; later ones answer.
    t.ok(&["send", &addr, "Dig deeper\nFAKE:first=2\nFAKE:hang"]);
    open_gate(&t);
    let delivered = t.worker_dir(&addr).join("inbox/delivered/0001.md");
    eventually(20, "the message's turn to begin", || {
        delivered.exists().then_some(())
    });
    assert!(t.tmux(&["kill-server"]).status.success());
    t.wait_state(&addr, "lost", 30);
    t.ok(&["recover", run_of(&addr), "--stagger", "0s"]);
    t.wait_state(&addr, "done", 30);
    let p = prompts(&t, &addr);
    assert_eq!(p.len(), 3, "{p:?}");
    assert_eq!(
        p.iter().filter(|x| x.starts_with("Dig deeper")).count(),
        1,
        "{p:?}"
    );
    assert!(p[2].contains("interrupted"), "{p:?}");
}
