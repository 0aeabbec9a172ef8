//! The night runs to the end with the REAL codex against the stand-in: a usage limit
//! pauses the worker and the same conversation continues after the reset; a worker
//! lost with its tmux server continues its conversation through `orch recover`; a
//! `--timeout` stops codex; a spent `--budget` holds the run's queued workers.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::orch::{OrchHome, WORKER_TIMEOUT};
use crate::standin::{CodexHome, StandIn, Step, Usage};

/// codex prints the reset at minute resolution, so orch waits until the end of the
/// printed minute: a limit that resets in a few seconds may take a minute to pass.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(120);

fn wait_until(
    t: &OrchHome,
    codex: &CodexHome,
    address: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let w = t.worker(codex, address);
        if done(&w) {
            return w;
        }
        assert!(
            Instant::now() < deadline,
            "{address} did not reach {what}: {w:#}\n{}",
            t.diagnostics(address)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_usage_limit_pauses_and_the_same_conversation_continues_after_the_reset() {
    let standin = StandIn::builder()
        .reply("Finished after the limit.")
        .queue([Step::usage_limit_for(3)])
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["Count the modules."]);
    let paused = wait_until(&t, &codex, &address, WORKER_TIMEOUT, "paused", |w| {
        w["state"] == "paused"
    });
    let said = paused["error"].as_str().unwrap_or("");
    assert!(
        said.contains("hit your usage limit") && said.contains("try again at"),
        "codex's own message: {paused:#}"
    );
    assert!(
        paused["waiting_for"]
            .as_str()
            .unwrap_or("")
            .contains("reset at"),
        "{paused:#}"
    );
    let done = wait_until(&t, &codex, &address, PAUSE_TIMEOUT, "done", |w| {
        !matches!(
            w["state"].as_str(),
            Some("queued" | "starting" | "running" | "paused")
        )
    });
    assert_eq!(
        done["state"],
        "done",
        "{done:#}\n{}",
        t.diagnostics(&address)
    );
    assert_eq!(done["attempt"], 1, "no retry spent: {done:#}");
    assert_eq!(
        t.ok(&codex, &["result", &address]),
        "Finished after the limit."
    );
    let requests = standin.responses_requests();
    assert_eq!(
        requests.len(),
        2,
        "one refused request, one after the reset"
    );
    let prompts = requests[1].prompts();
    assert_eq!(
        prompts[0], "Count the modules.",
        "the earlier conversation again"
    );
    assert!(
        prompts.last().unwrap().contains("usage limit"),
        "then the continue prompt: {prompts:?}"
    );
    let exit: Value =
        serde_json::from_slice(&std::fs::read(t.worker_dir(&address).join("exit.json")).unwrap())
            .unwrap();
    assert_eq!(exit["thread_id"], done["thread_id"]);
    // What codex printed, for tests/contract/NOTES.md (`-- --nocapture` shows it).
    eprintln!("{}", t.diagnostics(&address));
}

#[test]
fn recover_continues_the_conversation_of_a_worker_lost_with_its_tmux_server() {
    let standin = StandIn::builder()
        .reply("Picked up where I stopped.")
        .queue([Step::hang()])
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["Survey the tests."]);
    assert!(
        standin.wait_for_requests(1, WORKER_TIMEOUT),
        "codex never called the stand-in\n{}",
        t.diagnostics(&address)
    );
    let thread = wait_until(&t, &codex, &address, WORKER_TIMEOUT, "a thread", |w| {
        w["thread_id"].is_string()
    })["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let killed = std::process::Command::new("tmux")
        .arg("-S")
        .arg(&t.socket)
        .arg("kill-server")
        .status()
        .unwrap();
    assert!(killed.success());
    let lost = t.wait_final(&codex, &address);
    assert_eq!(lost["state"], "lost", "{lost:#}");
    let out = t.ok(&codex, &["recover", "--stagger", "0s"]);
    assert!(out.contains(&format!("resuming thread {thread}")), "{out}");
    let done = t.wait_for(&codex, &address, "attempt 2 ended", |w| {
        w["attempt"] == 2 && !matches!(w["state"].as_str(), Some("queued" | "starting" | "running"))
    });
    assert_eq!(
        done["state"],
        "done",
        "{done:#}\n{}",
        t.diagnostics(&address)
    );
    assert_eq!(done["thread_id"], thread.as_str(), "same codex thread");
    let requests = standin.responses_requests();
    let last = requests.last().unwrap().prompts();
    assert_eq!(
        last[0], "Survey the tests.",
        "the earlier conversation again: {last:?}"
    );
    assert!(last.last().unwrap().contains("interrupted"), "{last:?}");
    eprintln!("{}", t.diagnostics(&address));
}

#[test]
fn a_timeout_stops_the_real_codex_and_fails_the_worker() {
    let standin = StandIn::builder().hang().start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    let address = t.spawn(&codex, &["--timeout", "3s", "Take your time."]);
    let w = t.wait_final(&codex, &address);
    assert_eq!(w["state"], "failed", "{w:#}\n{}", t.diagnostics(&address));
    assert!(
        w["error"]
            .as_str()
            .unwrap_or("")
            .contains("timed out after 3s"),
        "{w:#}"
    );
    eprintln!("{}", t.diagnostics(&address));
}

/// A newcomer's first command, with the real codex installed but never logged in (the
/// default OpenAI provider, no key): refused at once with the fix, and no run is left
/// behind; `doctor` says the same. (Offline, codex itself would retry for ever.)
#[test]
fn not_logged_in_is_refused_before_any_worker_starts() {
    let standin = StandIn::builder().reply("never asked").start();
    let codex = CodexHome::new(&standin);
    // No provider of ours: what `npm install -g @openai/codex` leaves a user with.
    std::fs::write(codex.path().join("config.toml"), "").unwrap();
    let t = OrchHome::new();
    let began = Instant::now();
    let out = t.run(
        &codex,
        &[
            "fanout",
            "--lens",
            "correctness,security",
            "Review this repository",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not logged in") && err.contains("codex login"),
        "one line naming the fix: {err}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "refused at once, not after codex's retries"
    );
    let ls = t.ok(&codex, &["ls"]);
    assert!(ls.contains("no runs yet"), "nothing left behind: {ls}");
    let doctor = t.run(&codex, &["doctor"]);
    let text = String::from_utf8_lossy(&doctor.stdout).to_string()
        + &String::from_utf8_lossy(&doctor.stderr);
    assert!(text.contains("FAIL codex login"), "{text}");
    assert_eq!(standin.requests().len(), 0, "the model was never called");
}

/// codex's own token counts, priced by a user's `$ORCH_HOME/prices.toml`, hold the
/// run's next worker once the budget is spent; raising it starts that worker.
#[test]
fn a_spent_budget_holds_the_next_real_codex_worker_until_it_is_raised() {
    let standin = StandIn::builder()
        .reply("Counted.")
        .usage(Usage {
            input_tokens: 1_000_000,
            cached_input_tokens: 0,
            output_tokens: 100_000,
            reasoning_output_tokens: 0,
        })
        .start();
    let codex = CodexHome::new(&standin);
    let t = OrchHome::new();
    std::fs::create_dir_all(&t.home).unwrap();
    // The stand-in's model has no list price: the user's table gives it one.
    std::fs::write(
        t.home.join("prices.toml"),
        format!(
            "[\"{}\"]\ninput = 1.0\ncached_input = 0.1\noutput = 10.0\n",
            crate::standin::MODEL
        ),
    )
    .unwrap();
    let first = t.spawn(
        &codex,
        &[
            "--budget",
            "1.50",
            "--max-parallel",
            "1",
            "Count the modules.",
        ],
    );
    let run = crate::orch::run_of(&first).to_string();
    let second = t.spawn(&codex, &["--run", &run, "Count the tests."]);
    let done = t.wait_final(&codex, &first);
    assert_eq!(done["state"], "done", "{done:#}\n{}", t.diagnostics(&first));
    assert_eq!(done["tokens"]["input"], 1_000_000, "{done:#}");
    // $1.00 input + $1.00 output, from codex's reported usage.
    assert_eq!(done["cost_usd"], 2.0, "{done:#}");
    let held = wait_until(&t, &codex, &second, WORKER_TIMEOUT, "held", |w| {
        w["waiting_for"]
            .as_str()
            .is_some_and(|s| s.starts_with("budget"))
    });
    assert_eq!(held["state"], "queued", "{held:#}");
    assert_eq!(
        held["waiting_for"], "budget: $2.00 of $1.50 spent",
        "{held:#}"
    );
    assert_eq!(
        standin.responses_requests().len(),
        1,
        "the held worker never asked"
    );
    let out = t.run(&codex, &["wait", &run, "--timeout", "60"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("held by its budget"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    t.ok(&codex, &["set", &run, "--budget", "10"]);
    let w = t.wait_final(&codex, &second);
    assert_eq!(w["state"], "done", "{w:#}\n{}", t.diagnostics(&second));
    assert_eq!(t.ok(&codex, &["result", &second]), "Counted.");
    assert_eq!(t.status(&codex, &run)["cost_usd"], 4.0);
}
