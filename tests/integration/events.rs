//! codex event types orch does not know (a newer codex) never fail a worker.

use crate::support::*;

#[test]
fn unknown_event_types_are_kept_and_the_worker_still_ends_done() {
    let t = TestHome::new();
    let addr = t.spawn(&["Look around.\nFAKE:unknown\nFAKE:reply=Looked.\nFAKE:tokens=7,3"]);
    let w = t.wait_state(&addr, "done", 20);
    assert_eq!(w["exit_code"], 0, "{w}");
    assert_eq!(w["error"], serde_json::Value::Null, "{w}");
    assert_eq!(w["tokens"]["input"], 7, "{w}");
    assert_eq!(w["tokens"]["output"], 3, "{w}");
    assert_eq!(t.ok(&["result", &addr]), "Looked.");
    // Recorded as they came, for whoever reads events.jsonl with a newer parser.
    let events = std::fs::read_to_string(t.worker_dir(&addr).join("events.jsonl")).unwrap();
    assert!(
        events.contains(r#""type":"session.future_thing""#),
        "{events}"
    );
    assert!(events.contains(r#""type":"brand_new_item""#), "{events}");
    let logs = t.ok(&["logs", &addr]);
    assert!(logs.contains("message: Looked."), "{logs}");
}
