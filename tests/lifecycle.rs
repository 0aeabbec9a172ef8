//! The lifecycle without tmux or codex: worker folders written by the factory in each
//! state, then read back through the public API (`state::view`, `has_ended`,
//! `sched::waiting_reason`, the retry policy, the writer slot).

#[path = "support/factory.rs"]
mod factory;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, Utc};
use factory::Factory;
use orch::lifecycle::state::{self, ViewOptions, WorkerView};
use orch::lifecycle::{retry, sched, writer};
use orch::model::{Sandbox, State};
use orch::store::{RunDir, WorkerDir, WorkerSpec};

const RUN: &str = "20260101-0000-tst";

fn view(w: &WorkerDir) -> WorkerView {
    state::view(w, &ViewOptions::default())
}

fn ended(w: &WorkerDir) -> bool {
    state::has_ended(w, state::state_of(w))
}

// ---- state derivation ----

#[test]
fn a_spawned_worker_is_queued_with_its_spec() {
    let f = Factory::new();
    let run = f.run(RUN);
    let mut s = factory::spec("W1", &f.tree("repo"));
    s.role = Some("reviewer".into());
    s.after = vec!["W0".into()];
    let v = view(&factory::queued(&run, &s));
    assert_eq!(v.state, State::Queued);
    assert_eq!(v.role.as_deref(), Some("reviewer"));
    assert_eq!(v.sandbox, Some(Sandbox::ReadOnly));
    assert_eq!(v.after, vec!["W0".to_string()]);
    assert_eq!(v.attempt, 0);
}

#[test]
fn launched_but_not_started_is_starting_then_lost_after_the_grace() {
    let f = Factory::new();
    let run = f.run(RUN);
    let w = factory::launched(&run, &factory::spec("W1", &f.tree("repo")));
    let v = view(&w);
    assert_eq!(v.state, State::Starting);
    assert_eq!(v.attempt, 1);

    let old = factory::queued(&run, &factory::spec("W2", &f.tree("repo")));
    factory::launch(&old, 1, Duration::seconds(120));
    let v = view(&old);
    assert_eq!(v.state, State::Lost);
    assert!(
        v.error.as_deref().unwrap().contains("never started"),
        "{v:?}"
    );
}

#[test]
fn a_held_live_lock_is_running_and_its_release_without_exit_is_lost() {
    let f = Factory::new();
    let run = f.run(RUN);
    let (w, lock) = factory::running(&run, &factory::spec("W1", &f.tree("repo")));
    let v = view(&w);
    assert_eq!(v.state, State::Running);
    assert!(v.started_at.is_some());
    assert!(v.elapsed_secs.is_some_and(|s| s >= 0));
    assert!(!v.stalled);
    drop(lock);
    let v = view(&w);
    assert_eq!(v.state, State::Lost);
    assert!(
        v.error
            .as_deref()
            .unwrap()
            .contains("without an exit record"),
        "{v:?}"
    );
}

#[test]
fn a_locked_worker_without_started_json_is_still_starting() {
    let f = Factory::new();
    let run = f.run(RUN);
    let w = factory::launched(&run, &factory::spec("W1", &f.tree("repo")));
    let _lock = factory::hold_live_lock(&w);
    assert_eq!(view(&w).state, State::Starting);
}

#[test]
fn a_silent_running_worker_is_stalled() {
    let f = Factory::new();
    let run = f.run(RUN);
    let w = factory::launched(&run, &factory::spec("W1", &f.tree("repo")));
    let _lock = factory::hold_live_lock(&w);
    factory::start(&w, Duration::seconds(600));
    let v = state::view(
        &w,
        &ViewOptions {
            stall_after: std::time::Duration::from_secs(60),
            activity: true,
            ..ViewOptions::default()
        },
    );
    assert_eq!(v.state, State::Running);
    assert!(v.stalled);
}

#[test]
fn the_exit_record_is_the_final_word() {
    let f = Factory::new();
    let run = f.run(RUN);
    let w = factory::done(&run, &factory::spec("W1", &f.tree("repo")));
    let v = view(&w);
    assert_eq!(v.state, State::Done);
    assert_eq!(v.exit_code, Some(0));
    assert_eq!(v.elapsed_secs, Some(42));
    assert_eq!(v.tokens.input, 1200);
    assert_eq!(v.thread_id.as_deref(), Some("thread-1"));
    assert_eq!(v.last_activity.as_deref(), Some("result: All good"));
    // Even while something still holds the life lock (codex's stray child, say).
    let _lock = factory::hold_live_lock(&w);
    assert_eq!(view(&w).state, State::Done);

    let (w, _) = factory::failed(&run, &factory::spec("W2", &f.tree("repo")), "fake exit 3");
    let v = view(&w);
    assert_eq!(v.state, State::Failed);
    assert_eq!(v.error.as_deref(), Some("fake exit 3"));
}

#[test]
fn damaged_half_made_and_newer_folders_say_so() {
    let f = Factory::new();
    let run = f.run(RUN);
    let half = run.worker("W1");
    std::fs::create_dir_all(&half.dir).unwrap();
    let v = view(&half);
    assert_eq!(v.state, State::Incomplete);
    assert!(v.error.as_deref().unwrap().contains("orch gc"));

    let w = factory::done(&run, &factory::spec("W2", &f.tree("repo")));
    std::fs::write(w.exit_path(), "{ not json").unwrap();
    let v = view(&w);
    assert_eq!(v.state, State::Corrupt);
    assert!(v.error.as_deref().unwrap().contains("exit.json"), "{v:?}");

    let mut s = factory::spec("W3", &f.tree("repo"));
    s.schema = orch::store::SCHEMA + 1;
    let v = view(&factory::queued(&run, &s));
    assert_eq!(v.state, State::Corrupt);
    assert!(
        v.error
            .as_deref()
            .unwrap()
            .contains("written by a newer orch"),
        "{v:?}"
    );
}

// ---- has_ended ----

#[test]
fn ended_means_final_with_no_retry_coming() {
    let f = Factory::new();
    let run = f.run(RUN);
    let cd = f.tree("repo");
    assert!(!ended(&factory::queued(&run, &factory::spec("Q", &cd))));
    let (r, _lock) = factory::running(&run, &factory::spec("R", &cd));
    assert!(!ended(&r));
    assert!(ended(&factory::done(&run, &factory::spec("D", &cd))));
    assert!(ended(
        &factory::failed(&run, &factory::spec("F", &cd), "fake exit 3").0
    ));
    assert!(ended(&factory::lost(&run, &factory::spec("L", &cd))));

    // A lost worker with retries left is owed one: not ended.
    let mut s = factory::spec("L2", &cd);
    s.retries = 2;
    assert!(!ended(&factory::lost(&run, &s)));
    // A failure with a plan on disk is not ended either.
    let (p, _) = factory::failed(&run, &factory::spec("P", &cd), "fake exit 3");
    factory::plan_retry(&p, 2, 3, Utc::now() + Duration::seconds(30));
    assert!(!ended(&p));

    // A folder without spec.json is ended only once the spawn that made it is surely gone.
    let half = run.worker("H");
    std::fs::create_dir_all(&half.dir).unwrap();
    assert!(!state::has_ended(&half, State::Incomplete));
}

// ---- waiting reasons ----

/// States and specs of every worker of `run`, as the scheduler gathers them.
fn snapshot(run: &RunDir) -> (HashMap<String, State>, HashMap<String, WorkerSpec>) {
    let mut states = HashMap::new();
    let mut specs = HashMap::new();
    for l in run.labels().unwrap() {
        let w = run.worker(&l);
        states.insert(l.clone(), state::state_of(&w));
        specs.insert(l, w.spec().unwrap());
    }
    (states, specs)
}

fn waiting(f: &Factory, run: &RunDir, label: &str) -> Option<String> {
    let (states, specs) = snapshot(run);
    sched::waiting_reason(
        &specs[label],
        &states,
        &specs,
        &run.record().unwrap(),
        &f.home,
    )
}

#[test]
fn a_worker_waits_for_its_dependencies_to_be_done() {
    let f = Factory::new();
    let run = f.run(RUN);
    let cd = f.tree("repo");
    let (_a, _lock) = factory::running(&run, &factory::spec("A", &cd));
    factory::done(&run, &factory::spec("B", &cd));
    let mut s = factory::spec("C", &cd);
    s.after = vec!["A".into(), "B".into()];
    factory::queued(&run, &s);
    assert_eq!(waiting(&f, &run, "C").as_deref(), Some("after A"));
    let mut s = factory::spec("D", &cd);
    s.after = vec!["B".into()];
    factory::queued(&run, &s);
    assert_eq!(waiting(&f, &run, "D"), None);
}

#[test]
fn an_after_any_done_worker_waits_for_every_dependency_to_end_not_to_be_done() {
    let f = Factory::new();
    let run = f.run(RUN);
    let cd = f.tree("repo");
    let (_a, lock) = factory::running(&run, &factory::spec("A", &cd));
    factory::failed(&run, &factory::spec("B", &cd), "the model refused");
    let mut s = factory::spec("pick", &cd);
    s.after = vec!["A".into(), "B".into()];
    s.after_any_done = true;
    factory::queued(&run, &s);
    // B failed, yet only the running A is waited for.
    assert_eq!(waiting(&f, &run, "pick").as_deref(), Some("after A"));
    drop(lock); // A is lost now: ended, not done
    assert_eq!(
        waiting(&f, &run, "pick"),
        None,
        "every dependency has ended"
    );
    // The scheduler then skips it: none ended done.
    sched::tick_locked(&f.home, &run).unwrap();
    let v = view(&run.worker("pick"));
    assert_eq!(v.state, State::Skipped);
    assert_eq!(
        v.error.as_deref(),
        Some("no dependency ended done (A lost, B failed)")
    );
}

#[test]
fn a_worker_waits_for_a_parallel_slot() {
    let f = Factory::new();
    let run = f.run(RUN);
    let cd = f.tree("repo");
    orch::ops::spawn::set_max_parallel(&run, Some(1)).unwrap();
    let (_a, lock) = factory::running(&run, &factory::spec("A", &cd));
    factory::queued(&run, &factory::spec("B", &cd));
    assert_eq!(
        waiting(&f, &run, "B").as_deref(),
        Some("a slot (max-parallel 1)")
    );
    drop(lock); // A is lost now: not active
    assert_eq!(waiting(&f, &run, "B"), None);
}

// ---- the writer slot ----

fn writer(label: &str, cd: &std::path::Path) -> WorkerSpec {
    let mut s = factory::spec(label, cd);
    s.sandbox = Sandbox::WorkspaceWrite;
    s
}

#[test]
fn one_writer_per_working_tree_within_a_run() {
    let f = Factory::new();
    let run = f.run(RUN);
    let repo = f.tree("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    let tree = writer::working_tree(&repo);
    assert_eq!(
        writer::working_tree(&repo.join("sub")),
        tree,
        "a subfolder is the same tree"
    );

    let (_a, _lock) = factory::running(&run, &writer("A", &repo));
    factory::queued(&run, &writer("B", &repo.join("sub")));
    assert_eq!(
        waiting(&f, &run, "B"),
        Some(format!("the writer slot of {}", tree.display()))
    );
    // Readers, forced writers and writers of another tree do not wait.
    factory::queued(&run, &factory::spec("R", &repo));
    assert_eq!(waiting(&f, &run, "R"), None);
    let mut forced = writer("F", &repo);
    forced.force_writer = true;
    factory::queued(&run, &forced);
    assert_eq!(waiting(&f, &run, "F"), None);
    factory::queued(&run, &writer("O", &f.tree("other")));
    assert_eq!(waiting(&f, &run, "O"), None);
    // spawn --no-wait counts queued writers too.
    assert!(writer::claimed(&f.home, &run, &tree).unwrap());
    assert!(!writer::claimed(&f.home, &run, &writer::working_tree(&f.tree("third"))).unwrap());
}

#[test]
fn the_writer_lock_excludes_writers_of_other_runs() {
    let f = Factory::new();
    let repo = f.tree("repo");
    let tree = writer::working_tree(&repo);
    let slot = writer::take(&f.home, &tree, || false, || {})
        .unwrap()
        .unwrap();
    let path = writer::lock_path(&f.home, &tree);
    assert!(path.starts_with(f.home.writers_dir()));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim(),
        tree.display().to_string()
    );

    let run = f.run(RUN);
    factory::queued(&run, &writer("B", &repo));
    assert_eq!(
        waiting(&f, &run, "B"),
        Some(format!("the writer slot of {}", tree.display()))
    );
    assert!(writer::claimed(&f.home, &run, &tree).unwrap());

    // A second taker waits (told once) until it gives up.
    let asked = AtomicUsize::new(0);
    let told = AtomicUsize::new(0);
    let second = writer::take(
        &f.home,
        &tree,
        || asked.fetch_add(1, Ordering::SeqCst) >= 2,
        || {
            told.fetch_add(1, Ordering::SeqCst);
        },
    )
    .unwrap();
    assert!(second.is_none());
    assert_eq!(told.load(Ordering::SeqCst), 1);

    drop(slot);
    assert_eq!(waiting(&f, &run, "B"), None);
    assert!(
        writer::take(&f.home, &tree, || true, || {})
            .unwrap()
            .is_some()
    );
}

// ---- retry policy ----

fn retrying(label: &str, cd: &std::path::Path, retries: u32) -> WorkerSpec {
    let mut s = factory::spec(label, cd);
    s.retries = retries;
    s
}

#[test]
fn a_transient_failure_gets_a_plan_with_backoff_before_its_exit() {
    let f = Factory::new();
    let run = f.run(RUN);
    let (w, lock) = factory::running(&run, &retrying("W1", &f.tree("repo"), 2));
    factory::set_env(&w, &[]); // the default back-off, 5 s
    let before = Utc::now();
    let exit = factory::exit_record(
        State::Failed,
        Some("unexpected status 503 Service Unavailable"),
    );
    let plan = factory::end(&w, lock, &exit).expect("a plan");
    let after = Utc::now();
    assert_eq!((plan.attempt, plan.of), (2, 3));
    assert!(plan.at >= before + Duration::seconds(5) && plan.at <= after + Duration::seconds(5));
    assert!(w.path(retry::PLAN_FILE).exists() && w.exit_path().exists());

    let v = view(&w);
    assert_eq!(v.state, State::Failed);
    let err = v.error.unwrap();
    assert!(err.starts_with("unexpected status 503"), "{err}");
    assert!(
        err.contains("retrying in") && err.ends_with("(attempt 2/3)"),
        "{err}"
    );
    assert!(retry::coming(&w, State::Failed));
    assert!(
        !retry::any_due(&run, &run.labels().unwrap()),
        "not due before its time"
    );
}

#[test]
fn the_saved_environment_sets_the_backoff_base() {
    let f = Factory::new();
    let run = f.run(RUN);
    let (w, lock) = factory::running(&run, &retrying("W1", &f.tree("repo"), 1));
    factory::set_env(&w, &[("ORCH_RETRY_BACKOFF", "0")]);
    let exit = factory::exit_record(State::Failed, Some("Rate limit reached"));
    let plan = factory::end(&w, lock, &exit).expect("a plan");
    assert!(plan.at <= Utc::now());
    assert!(retry::any_due(&run, &["W1".to_string()]));
}

#[test]
fn backoff_doubles_per_retry_and_caps_at_five_minutes() {
    let secs = |n| retry::backoff(5.0, n).as_secs();
    assert_eq!([secs(0), secs(1), secs(2), secs(3)], [5, 10, 20, 40]);
    assert_eq!(secs(10), 300);
    assert_eq!(retry::backoff(0.5, 1), std::time::Duration::from_secs(1));
}

#[test]
fn no_plan_for_task_failures_exhausted_retries_or_a_stop() {
    let f = Factory::new();
    let run = f.run(RUN);
    let cd = f.tree("repo");
    let (w, plan) = factory::failed(&run, &retrying("TASK", &cd, 2), "fake exit 3");
    assert!(plan.is_none());
    assert!(!w.path(retry::PLAN_FILE).exists());
    assert!(ended(&w));

    let (w, lock) = factory::running(&run, &retrying("LAST", &cd, 1));
    let mut exit = factory::exit_record(State::Failed, Some("stream error"));
    exit.attempt = 2;
    assert!(
        factory::end(&w, lock, &exit).is_none(),
        "attempt 2 of 2 was the last"
    );

    let (w, lock) = factory::running(&run, &retrying("STOP", &cd, 2));
    orch::lifecycle::transition::request_stop(&w).unwrap();
    let exit = factory::exit_record(State::Failed, Some("stream error"));
    assert!(
        factory::end(&w, lock, &exit).is_none(),
        "a stopped worker is not retried"
    );

    let (w, _) = factory::failed(&run, &factory::spec("NONE", &cd), "stream error");
    assert!(!w.path(retry::PLAN_FILE).exists(), "no --retries, no plan");
}

#[test]
fn a_lost_worker_with_retries_is_due_at_once_unless_stopped() {
    let f = Factory::new();
    let run = f.run(RUN);
    let cd = f.tree("repo");
    let w = factory::lost(&run, &retrying("L", &cd, 1));
    assert_eq!(state::state_of(&w), State::Lost);
    assert!(retry::coming(&w, State::Lost));
    assert!(retry::any_due(&run, &["L".to_string()]));
    orch::lifecycle::transition::request_stop(&w).unwrap();
    assert!(!retry::coming(&w, State::Lost));
    assert!(!retry::any_due(&run, &["L".to_string()]));
}

#[test]
fn a_due_plan_becomes_a_queued_attempt_with_the_old_one_kept() {
    let f = Factory::new();
    let run = f.run(RUN);
    let cd = f.tree("repo");
    let (w, _) = factory::failed(&run, &retrying("W1", &cd, 2), "fake exit 3");
    std::fs::write(
        w.events_path(),
        "{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n",
    )
    .unwrap();
    factory::plan_retry(&w, 2, 3, Utc::now() - Duration::seconds(1));
    let _lock = run.lock().unwrap();
    assert_eq!(
        retry::start_due_locked(&run).unwrap(),
        vec!["W1".to_string()]
    );
    assert_eq!(state::state_of(&w), State::Queued);
    assert!(!w.path(retry::PLAN_FILE).exists() && !w.exit_path().exists());
    let old = w.path("attempt-1");
    for f in ["launch.json", "started.json", "events.jsonl", "exit.json"] {
        assert!(old.join(f).exists(), "attempt-1/{f}");
    }
    assert!(w.spec_path().exists() && w.prompt_path().exists());
    assert_eq!(orch::lifecycle::transition::next_attempt(&w), 2);
}

#[test]
fn a_live_worker_with_a_pause_record_is_paused_holds_its_slot_and_the_queue() {
    let f = Factory::new();
    let run = f.run(RUN);
    let (w, lock) = factory::running(&run, &factory::spec("W1", &f.tree("repo")));
    let pause = orch::lifecycle::pause::plan(
        "You’ve hit your usage limit. Try again in 10 minutes.",
        Some("t-1".into()),
        1,
        chrono::Utc::now(),
    );
    orch::lifecycle::transition::paused(&w, &pause).unwrap();
    let v = view(&w);
    assert_eq!(v.state, State::Paused);
    assert!(v.state.is_active() && !v.state.is_final() && !ended(&w));
    assert!(v.waiting_for.unwrap().contains("usage limit"));
    let states: std::collections::HashMap<String, State> =
        [("W1".to_string(), State::Paused)].into();
    let hold = orch::lifecycle::pause::hold(&run, &states).unwrap();
    assert!(hold.contains("W1 is paused"), "{hold}");
    // The wrapper gone while paused: lost, for `orch recover` to continue.
    drop(lock);
    assert_eq!(view(&w).state, State::Lost);
}
