//! Every prompt orch composes reads as one instruction: each role × sandbox × lens ×
//! context pack, and every worker of every shipped pipeline. The checks name the
//! contradictions new users met (issue 19): a read-only worker told to make the change
//! or to report `Changed:`; a writer told it is the only one while its siblings run
//! "at the same time"; a reviewer without a lens told to stay within its lens; a
//! researcher told to search the web as if it surely could.

use std::collections::BTreeMap;

use orch::content::pipeline;
use orch::content::share::Share;
use orch::model::Sandbox;
use orch::ops::spawn::compose_prompt;

const SANDBOXES: [Sandbox; 3] = [
    Sandbox::ReadOnly,
    Sandbox::WorkspaceWrite,
    Sandbox::DangerFullAccess,
];

/// The contradictions, for one composed prompt; empty when it is coherent.
fn contradictions(prompt: &str, sandbox: Sandbox, has_lens: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    // `{{out:LABEL}}` is filled in when the worker starts, not a leftover.
    let filled = regex::Regex::new(r"\{\{out:[^}]*\}\}").unwrap();
    let prompt = filled.replace_all(prompt, "");
    let has = |s: &str| prompt.contains(s);
    if has("{{") || has("}}") {
        out.push("a placeholder was left in");
    }
    if has("only writer") {
        out.push("claims the worker is the only writer");
    }
    if !sandbox.writes() {
        if has("Make the change") {
            out.push("read-only, yet told to make the change");
        }
        if has("\nChanged:") {
            out.push("read-only, yet asked to report what it changed");
        }
        if has("Run the checks that apply (build, tests, linters) and fix what you broke") {
            out.push("read-only, yet told to fix what it broke");
        }
        if !has("you cannot change files") {
            out.push("read-only without saying so");
        }
    } else {
        if has("Do not change any file") || has("change no\nfile") || has("cannot change files") {
            out.push("writable, yet told not to change files");
        }
        if has("at the same time") {
            out.push("a writer told its siblings write at the same time (writers take turns)");
        }
    }
    if !has_lens && (has("within the lens") || has("LENS:")) {
        out.push("no lens given, yet one is mentioned");
    }
    if has("Search the web") {
        out.push("told to search the web as if it surely could");
    }
    out
}

#[test]
fn every_role_sandbox_lens_and_pack_reads_as_one_instruction() {
    let share = Share::from_roots(vec![]);
    let roles = share.role_names();
    assert!(roles.len() >= 5, "{roles:?}");
    let mut bad = Vec::new();
    for role in &roles {
        for sandbox in SANDBOXES {
            for lens in [None, Some(share.lens("correctness").unwrap())] {
                for context in [None, Some("## Goal\nShip it.\n".to_string())] {
                    let has_lens = lens.is_some();
                    let p = compose_prompt(
                        &share,
                        Some(role),
                        "Do the task.",
                        lens.clone(),
                        context,
                        sandbox,
                    )
                    .unwrap();
                    for c in contradictions(&p, sandbox, has_lens) {
                        bad.push(format!("{role} {} lens={has_lens}: {c}", sandbox.as_str()));
                    }
                    if *role == "implementer" && sandbox.writes() {
                        assert!(
                            p.contains("Make the change") && p.contains("\nChanged:"),
                            "{p}"
                        );
                    }
                    if *role == "researcher" {
                        assert!(p.contains("web search"), "{p}");
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_worker_of_every_shipped_pipeline_reads_as_one_instruction() {
    let share = Share::from_roots(vec![]);
    let required: &[(&str, &[(&str, &str)])] = &[
        ("triangulated-review", &[("target", "src/")]),
        ("review-fix-verify", &[("target", "src/")]),
        ("scout-act-verify", &[("goal", "add --json")]),
        (
            "split-by-sections",
            &[("task", "port"), ("sections", "a/,b/")],
        ),
        (
            "split-by-sections",
            &[
                ("task", "port"),
                ("sections", "a/,b/"),
                ("role", "reviewer"),
            ],
        ),
        ("research-synthesis", &[("question", "is notify reliable?")]),
        ("options-sprint", &[("problem", "how to store state")]),
        ("best-of-n", &[("task", "fix the flaky test")]),
    ];
    let names = share.pipeline_names();
    for n in &names {
        assert!(
            required.iter().any(|(r, _)| r == n),
            "{n} is not checked here"
        );
    }
    let mut bad = Vec::new();
    for (name, vars) in required {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let source = share.pipeline_path(name).unwrap();
        let plan = pipeline::load_source(&source, &vars, &share).unwrap();
        for w in &plan.workers {
            for c in contradictions(&w.prompt, w.sandbox, w.lens.is_some()) {
                bad.push(format!(
                    "{name}/{} ({} {}): {c}",
                    w.label,
                    w.role,
                    w.sandbox.as_str()
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
