//! Kept old-format records (tests/fixtures/records/, see its README): today's reader
//! must load what older orch versions wrote, with the right states and fields, and
//! refuse what a newer orch wrote with "written by a newer orch" rather than misread
//! or call it damage.

use std::path::{Path, PathBuf};
use std::process::Command;

use orch::lifecycle::state::{self, ViewOptions, WorkerView};
use orch::model::{Sandbox, State};
use orch::store::fsutil::read_json;
use orch::store::{ExitRecord, Home, LaunchRecord, WorkerSpec};
use serde_json::Value;

/// A private copy of the fixture home (readers may tick a run, and must never
/// change the kept files).
struct Copy {
    _tmp: tempfile::TempDir,
    home: Home,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records/home")
}

fn copy() -> Copy {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("home");
    copy_dir(&fixtures(), &root);
    Copy {
        home: Home::open(root).unwrap(),
        _tmp: tmp,
    }
}

fn view(home: &Home, run: &str, label: &str) -> WorkerView {
    state::view(&home.run(run).worker(label), &ViewOptions::default())
}

const V01: &str = "20261124-1701-v01";
const MIN: &str = "20250101-0900-min";
const NXT: &str = "20261201-0800-nxt";
const FUT: &str = "20261201-0900-fut";

#[test]
fn first_release_records_load_with_the_window_id_inside_launch_json() {
    let c = copy();
    let run = c.home.run(V01);
    let rec = run.record().unwrap();
    assert_eq!((rec.schema, rec.kind.as_str()), (1, "fanout"));
    // (Listed in spec.json mtime order, which a checkout or copy does not keep.)
    let mut labels = run.labels().unwrap();
    labels.sort();
    assert_eq!(labels, ["W1", "W2", "W3", "W4"]);

    let w1 = view(&c.home, V01, "W1");
    assert_eq!(w1.state, State::Done);
    assert_eq!(
        w1.window.as_deref(),
        Some("@3"),
        "no `window` file: launch.json has it"
    );
    assert_eq!(
        (w1.attempt, w1.exit_code, w1.elapsed_secs),
        (1, Some(0), Some(120))
    );
    assert_eq!(
        (w1.role.as_deref(), w1.lens.as_deref()),
        (Some("reviewer"), Some("security"))
    );
    assert_eq!((w1.tokens.input, w1.tokens.reasoning), (5100, 64));
    assert_eq!(w1.thread_id.as_deref(), Some("0199a1b2-thread-w1"));
    assert_eq!(w1.last_activity.as_deref(), Some("result: Two findings"));

    let w2 = view(&c.home, V01, "W2");
    assert_eq!(w2.state, State::Failed);
    assert_eq!((w2.attempt, w2.window.as_deref()), (2, Some("@7")));
    assert_eq!(w2.sandbox, Some(Sandbox::WorkspaceWrite));
    assert_eq!(w2.error.as_deref(), Some("codex exited with code 1"));
    let first = run.worker("W2").dir.join("attempt-1");
    assert_eq!(orch::store::window_in(&first).as_deref(), Some("@4"));
    assert_eq!(
        orch::lifecycle::transition::next_attempt(&run.worker("W2")),
        2
    );

    let w3 = view(&c.home, V01, "W3");
    assert_eq!(w3.state, State::Skipped);
    assert_eq!(w3.after, ["W2"]);
    assert_eq!(w3.error.as_deref(), Some("dependency W2 ended failed"));

    let w4 = view(&c.home, V01, "W4");
    assert_eq!(w4.state, State::Lost);
    assert_eq!(w4.window.as_deref(), Some("@9"));
    assert!(
        w4.error
            .as_deref()
            .unwrap()
            .contains("without an exit record")
    );
    assert_eq!(
        w4.thread_id.as_deref(),
        Some("0199a1b2-thread-w4"),
        "read from events.jsonl"
    );
    for l in ["W1", "W2", "W3", "W4"] {
        assert!(
            state::has_ended(&run.worker(l), view(&c.home, V01, l).state),
            "{l}"
        );
    }
}

#[test]
fn records_without_the_fields_added_later_take_their_defaults() {
    let c = copy();
    let run = c.home.run(MIN);
    let rec = run.record().unwrap();
    assert_eq!(rec.schema, 1, "no `schema` means schema 1");
    assert_eq!((rec.kind.as_str(), rec.merge_on_finish), ("", false));
    assert!(rec.stages.is_empty() && rec.max_parallel.is_none());

    let w = run.worker("W1");
    let spec: WorkerSpec = read_json(&w.spec_path()).unwrap();
    assert_eq!(
        (spec.schema, spec.retries, spec.force_writer),
        (1, 0, false)
    );
    assert!(spec.is_writer());
    let exit: ExitRecord = read_json(&w.exit_path()).unwrap();
    assert_eq!(
        (exit.schema, exit.attempt, exit.turn_completed),
        (1, 0, false)
    );
    let launch: LaunchRecord = read_json(&w.launch_path()).unwrap();
    assert!(launch.resume_thread.is_none());

    let v = view(&c.home, MIN, "W1");
    assert_eq!(v.state, State::Done);
    assert_eq!(
        v.attempt, 1,
        "an exit without `attempt` keeps launch.json's"
    );
    assert_eq!(v.window.as_deref(), Some("@1"));
    assert_eq!(v.tokens.input, 0);
    assert_eq!(v.started_at, None);
    assert!(v.last_activity.is_none(), "no last-message.md");

    let v = view(&c.home, MIN, "W2");
    assert_eq!(v.state, State::Stopped);
    assert_eq!(v.signal.as_deref(), Some("SIGINT"));
    assert_eq!(v.elapsed_secs, Some(54));
}

#[test]
fn records_of_a_newer_orch_are_refused_by_name() {
    let c = copy();
    // spec.json of a newer schema, with a field this orch does not know.
    let v = view(&c.home, NXT, "W1");
    assert_eq!(v.state, State::Corrupt);
    let err = v.error.unwrap();
    assert!(
        err.contains("W1/spec.json was written by a newer orch (schema 99, this orch knows 1)"),
        "{err}"
    );
    // exit.json of a newer schema holding a state this orch does not know: still
    // "newer", never "not valid JSON … run `orch gc`", which would clean it away.
    let v = view(&c.home, NXT, "W2");
    assert_eq!(v.state, State::Corrupt);
    let err = v.error.unwrap();
    assert!(
        err.contains("W2/exit.json was written by a newer orch"),
        "{err}"
    );
    assert!(!err.contains("orch gc"), "{err}");

    let err = format!("{:#}", c.home.run(FUT).record().unwrap_err());
    assert!(
        err.contains("run.json was written by a newer orch (schema 99"),
        "{err}"
    );
    assert!(err.ends_with("upgrade orch to read it"), "{err}");
}

fn orch(c: &Copy, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(args)
        .env("ORCH_HOME", &c.home.root)
        .env("ORCH_TMUX_SOCKET", c.home.root.join("test-tmux"))
        .env("ORCH_CODEX", "/nonexistent/codex")
        .env_remove("TMUX")
        .output()
        .unwrap()
}

fn status_json(c: &Copy, run: &str) -> (i32, Value, String) {
    let out = orch(c, &["status", run, "--json"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap(),
        json,
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn worker<'a>(status: &'a Value, label: &str) -> &'a Value {
    status["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["label"] == label)
        .unwrap_or_else(|| panic!("no {label} in {status}"))
}

#[test]
fn orch_status_json_reads_the_kept_runs() {
    let c = copy();
    let (code, s, err) = status_json(&c, V01);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["kind"], "fanout");
    assert_eq!(
        s["counts"],
        serde_json::json!({"done": 1, "failed": 1, "skipped": 1, "lost": 1})
    );
    assert_eq!(worker(&s, "W1")["window"], "@3");
    assert_eq!(worker(&s, "W2")["attempt"], 2);
    assert_eq!(worker(&s, "W3")["state"], "skipped");
    assert_eq!(worker(&s, "W4")["state"], "lost");

    let (code, s, err) = status_json(&c, MIN);
    assert_eq!(code, 0, "{err}");
    assert_eq!(worker(&s, "W1")["state"], "done");
    assert_eq!(worker(&s, "W1")["sandbox"], "workspace-write");
    assert_eq!(worker(&s, "W2")["state"], "stopped");

    // Reading never rewrites a kept record; the only file it may add is the event-log
    // summary cache (lifecycle::activity), which is not a record.
    for run in [V01, MIN] {
        let dir = c.home.run(run).dir;
        let mut files = Vec::new();
        collect(&dir, &mut files);
        for f in files {
            let rel = f.strip_prefix(&c.home.root).unwrap();
            match std::fs::read(fixtures().join(rel)) {
                Ok(kept) => assert!(
                    std::fs::read(&f).unwrap() == kept,
                    "{} changed",
                    rel.display()
                ),
                Err(_) => assert!(
                    f.ends_with("events.summary.json"),
                    "{} appeared",
                    rel.display()
                ),
            }
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn orch_status_names_records_of_a_newer_orch() {
    let c = copy();
    let (code, s, err) = status_json(&c, NXT);
    assert_eq!(code, 1, "a damaged or unreadable record fails status");
    assert_eq!(worker(&s, "W1")["state"], "corrupt");
    assert!(err.contains("written by a newer orch"), "{err}");

    let out = orch(&c, &["status", FUT, "--json"]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("run.json was written by a newer orch"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
