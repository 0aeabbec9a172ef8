//! Money: prices turn tokens into cost in status, ls and merge; `--budget` holds a run's
//! queued workers once it has spent it.

use crate::support::*;

/// 1M input tokens of which 400k cached, and 100k output, on gpt-5.4 (2.50 / 0.25 /
/// 15.00 per million): 600k × 2.50 + 400k × 0.25 + 100k × 15 = $3.10.
const PRICED: &str = "price me\nFAKE:tokens=1000000,100000,400000";

fn spawn_env(t: &TestHome, codex_home: &std::path::Path, args: &[&str]) -> String {
    let out = t
        .cmd()
        .env("CODEX_HOME", codex_home)
        .arg("spawn")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn status_and_ls_show_cost_and_leave_unknown_models_unpriced() {
    let t = TestHome::new();
    let empty = t.path().join("codex-empty");
    std::fs::create_dir(&empty).unwrap();
    let configured = t.path().join("codex-configured");
    std::fs::create_dir(&configured).unwrap();
    std::fs::write(configured.join("config.toml"), "model = \"gpt-4.1\"\n").unwrap();

    let a = spawn_env(&t, &empty, &["--model", "gpt-5.4", PRICED]);
    let run = run_of(&a).to_string();
    // No --model: codex's config says gpt-4.1 (2.00 / 8.00): 1M in + 1M out = $10.
    let b = spawn_env(
        &t,
        &configured,
        &["--run", &run, "x\nFAKE:tokens=1000000,1000000"],
    );
    t.ok(&["wait", &run]);
    let st = t.status(&run);
    let w = |label: &str| {
        st["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["label"] == label)
            .unwrap()
            .clone()
    };
    assert_eq!(w("W1")["model"], "gpt-5.4", "{st}");
    assert_eq!(w("W1")["cost_usd"], 3.1, "{st}");
    assert_eq!(w("W2")["model"], "gpt-4.1", "{st}");
    assert_eq!(w("W2")["cost_usd"], 10.0, "{st}");
    assert_eq!(st["cost_usd"], 13.1, "{st}");
    let ls: serde_json::Value = serde_json::from_str(&t.ok(&["ls", "--json"])).unwrap();
    assert_eq!(ls[0]["cost_usd"], 13.1, "{ls}");
    let text = t.ok(&["status", &run]);
    assert!(text.contains("$13.10"), "{text}");
    assert!(text.contains("$3.10") && text.contains("$10.00"), "{text}");
    assert!(t.ok(&["ls"]).contains("$13.10"));
    let merged = t.ok(&["merge", &run]);
    assert!(merged.contains("Cost: $13.10"), "{merged}");

    // A model without a price: tokens shown, no cost, and the run's cost unknown.
    let c = spawn_env(&t, &empty, &["--run", &run, "--model", "mock-model", "y"]);
    t.ok(&["wait", &c]);
    let st = t.status(&run);
    let w3 = &st["workers"][2];
    assert_eq!(w3["model"], "mock-model");
    assert!(w3["cost_usd"].is_null(), "{st}");
    assert_eq!(w3["tokens"]["input"], 100);
    assert!(st["cost_usd"].is_null(), "never a made-up total: {st}");
    assert_eq!(st["spent_usd"], 13.1);
    assert_eq!(st["unpriced_workers"], 1);
    let text = t.ok(&["status", &run]);
    assert!(text.contains("unpriced"), "{text}");
    assert!(text.contains("no price for mock-model"), "{text}");
    let _ = b;
}

#[test]
fn user_prices_win_and_a_broken_price_file_is_named_with_its_line() {
    let t = TestHome::new();
    let a = t.spawn(&["--model", "gpt-5.4", PRICED]);
    t.ok(&["wait", &a]);
    std::fs::write(
        t.home.join("prices.toml"),
        "[\"gpt-5.4\"]\ninput = 1.0\ncached_input = 1.0\noutput = 10.0\n",
    )
    .unwrap();
    assert_eq!(t.worker(&a)["cost_usd"], 2.0);
    std::fs::write(
        t.home.join("prices.toml"),
        "[\"gpt-5.4\"]\ninput = 1.0\ncached_input = 1.0\nouptut = 10.0\n",
    )
    .unwrap();
    let err = t.fails(&["status", run_of(&a)], 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{}:4:", t.home.join("prices.toml").display())),
        "{err}"
    );
    assert!(err.contains("ouptut"), "{err}");
    t.fails(&["ls"], 2);
}

#[test]
fn a_spent_budget_holds_queued_workers_until_it_is_raised() {
    let t = TestHome::new();
    let a = t.spawn(&[
        "--model",
        "gpt-5.4",
        "--budget",
        "1",
        "--max-parallel",
        "1",
        "first\nFAKE:sleep=0.5\nFAKE:tokens=1000000,100000,400000",
    ]);
    let run = run_of(&a).to_string();
    let b = t.spawn(&["--run", &run, "--model", "gpt-5.4", "second"]);
    assert_eq!(t.state(&b), "queued");
    t.wait_state(&a, "done", 20);
    // The first worker's wrapper ticked the run: the second stays queued.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let w = t.worker(&b);
    assert_eq!(w["state"], "queued", "{w}");
    assert_eq!(w["waiting_for"], "budget: $3.10 of $1.00 spent", "{w}");
    let st = t.status(&run);
    assert_eq!(st["budget_usd"], 1.0);
    let text = t.ok(&["status", &run]);
    assert!(text.contains("budget $1.00 reached"), "{text}");
    assert!(
        text.contains("waits for budget: $3.10 of $1.00 spent"),
        "{text}"
    );

    // `wait` does not wait for ever on workers the budget holds: it says so and fails.
    let err = t.fails(&["wait", &run, "--timeout", "60s"], 1);
    assert!(
        err.contains("held by its budget: $3.10 of $1.00 spent")
            && err.contains(&format!("orch set {run} --budget USD")),
        "{err}"
    );

    let out = t.ok(&["set", &run, "--budget", "5"]);
    assert!(out.contains("budget $5.00 ($3.10 spent so far)"), "{out}");
    t.wait_state(&b, "done", 20);
    let err = t.fails(&["set", &run, "--budget", "lots"], 2);
    assert!(err.contains("not an amount of USD"), "{err}");
}
