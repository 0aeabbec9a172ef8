//! The shipped share data and the pipeline loader, as the command layer sees them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use orch::content::pipeline::{self, Plan};
use orch::content::share::{self, PipelineSource, Share};

/// Each shipped pipeline with the vars it requires.
const SHIPPED: &[(&str, &[(&str, &str)])] = &[
    ("triangulated-review", &[("target", "src/store/")]),
    ("review-fix-verify", &[("target", "src/merge/")]),
    ("scout-act-verify", &[("goal", "add --json to orch status")]),
    (
        "split-by-sections",
        &[
            ("task", "port errors to thiserror"),
            ("sections", "src/store/,src/merge/,src/tmux.rs"),
        ],
    ),
    ("research-synthesis", &[("question", "is notify reliable?")]),
    ("options-sprint", &[("problem", "how to store state")]),
    ("best-of-n", &[("task", "fix the flaky test")]),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A share that sees only the compiled-in copies.
fn builtin_only() -> Share {
    Share::from_roots(vec![])
}

fn check_plan(plan: &Plan) {
    assert!(
        (3..=6).contains(&plan.stages.len()),
        "{}: {} stages",
        plan.name,
        plan.stages.len()
    );
    let text = plan.dry_run_text();
    for w in &plan.workers {
        assert!(
            text.contains(&w.label),
            "{}: no {} in dry run",
            plan.name,
            w.label
        );
        assert!(
            text.contains(&format!("stage {}", w.stage)),
            "{}",
            plan.name
        );
        assert!(
            w.prompt.starts_with(share::PREAMBLE_MARKER),
            "{}/{}",
            plan.name,
            w.label
        );
        assert!(w.prompt.contains(&format!("SANDBOX: {}", w.sandbox)));
        // Only `{{out:…}}` may be left for the command layer.
        let without_outputs = pipeline::fill_outputs(&w.prompt, |l| format!("<{l}>"));
        assert!(
            !without_outputs.contains("{{"),
            "{}/{}: {}",
            plan.name,
            w.label,
            w.prompt
        );
        assert!(w.context.is_none());
    }
    assert_eq!(
        text.matches(share::PREAMBLE_MARKER).count(),
        plan.workers.len()
    );
    // One writer per tree: only stages with a single worker may hold a writer of the
    // user's tree; writers with a worktree each have their own.
    for stage in &plan.stages {
        let writers = plan
            .workers
            .iter()
            .filter(|w| w.stage == stage.name && w.sandbox.as_str() != "read-only")
            .filter(|w| !w.worktree)
            .count();
        assert!(
            writers <= 1 || plan.name == "split-by-sections",
            "{}: {writers} writers in stage {}",
            plan.name,
            stage.name
        );
    }
}

#[test]
fn every_shipped_pipeline_loads_and_renders() {
    let share = builtin_only();
    let mut names = share.pipeline_names();
    names.sort();
    let mut expected: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
    expected.sort();
    assert_eq!(names, expected);

    for (name, required) in SHIPPED {
        // By path, as in the docs...
        let path = repo().join(format!("share/pipelines/{name}.toml"));
        let plan = pipeline::load(&path, &vars(required), &share)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check_plan(&plan);
        // ...and by name, from the compiled-in copy.
        let source = share.pipeline_path(name).unwrap();
        assert!(matches!(source, PipelineSource::Builtin { .. }));
        let builtin = pipeline::load_source(&source, &vars(required), &share).unwrap();
        assert_eq!(builtin.workers, plan.workers);
    }
}

#[test]
fn shipped_pipelines_document_their_vars_and_require_the_required_ones() {
    let share = builtin_only();
    for (name, required) in SHIPPED {
        let path = repo().join(format!("share/pipelines/{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(header.contains("Use when:"), "{name}");
        assert!(
            header.contains(&format!("orch run {name}")),
            "{name}: no example"
        );
        let plan = pipeline::load(&path, &vars(required), &share).unwrap();
        for var in plan.vars.keys() {
            assert!(
                header.contains(var.as_str()),
                "{name}: header does not mention {var}"
            );
        }
        for (var, _) in *required {
            let mut missing = vars(required);
            missing.remove(*var);
            let e = pipeline::load(&path, &missing, &share)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("undefined variable `{{{{{var}}}}}`")),
                "{name}: {e}"
            );
        }
    }
}

#[test]
fn later_stages_wait_and_read_earlier_outputs() {
    let share = builtin_only();
    let path = repo().join("share/pipelines/review-fix-verify.toml");
    let plan = pipeline::load(&path, &vars(&[("target", "src/")]), &share).unwrap();
    let by = |l: &str| plan.workers.iter().find(|w| w.label == l).unwrap();
    assert_eq!(by("fix").after, ["review"]);
    assert_eq!(by("fix").sandbox.as_str(), "workspace-write");
    assert_eq!(by("verify").after, ["fix"]);
    assert_eq!(by("verify").inputs, ["review", "fix"]);
    let filled = pipeline::fill_outputs(&by("verify").prompt, |l| format!("/run/{l}/last.md"));
    assert!(filled.contains("/run/review/last.md") && filled.contains("/run/fix/last.md"));
}

#[test]
fn split_by_sections_takes_any_number_of_sections() {
    let share = builtin_only();
    let path = repo().join("share/pipelines/split-by-sections.toml");
    for sections in [
        vec!["src/store/", "src/merge/"],
        vec!["src/a/", "src/b/", "src/c.rs", "docs/", "README.md"],
    ] {
        // Newline-separated, as `$(ls -d src/*/)` gives them.
        let given = vars(&[("task", "port errors"), ("sections", &sections.join("\n"))]);
        let plan = pipeline::load(&path, &given, &share).unwrap();
        let copies: Vec<String> = (1..=sections.len())
            .map(|n| format!("section-{n}"))
            .collect();
        let labels: Vec<&str> = plan.workers.iter().map(|w| w.label.as_str()).collect();
        let mut expected: Vec<&str> = copies.iter().map(String::as_str).collect();
        expected.push("consistency");
        assert_eq!(labels, expected);
        assert_eq!(plan.stages[0].workers, copies);
        let all = sections.join(", ");
        for (w, section) in plan.workers.iter().zip(&sections) {
            assert_eq!(w.item.as_deref(), Some(*section));
            assert_eq!(w.sandbox.as_str(), "workspace-write");
            assert!(w.after.is_empty());
            assert!(
                w.prompt.contains(&format!("Your section is {section};"))
                    && w.prompt.contains(&format!("touch none but yours: {all}.")),
                "{}",
                w.prompt
            );
        }
        let verifier = plan.workers.last().unwrap();
        assert_eq!(verifier.after, copies);
        assert_eq!(verifier.inputs, copies);
        let filled = pipeline::fill_outputs(&verifier.prompt, |l| format!("/run/{l}/last.md"));
        let listed: String = sections
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s}: /run/section-{}/last.md\n", i + 1))
            .collect();
        assert!(
            filled.contains(&format!("one per section:\n{listed}Check")),
            "{filled}"
        );
    }
    let e = pipeline::load(&path, &vars(&[("task", "t"), ("sections", ",")]), &share)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("split-by-sections.toml:") && e.contains("gives no items"),
        "{e}"
    );
}

/// The message for a bad fixture, with the repository prefix removed.
fn fixture_error(name: &str, given: &[(&str, &str)]) -> String {
    let path = Path::new("tests/fixtures/pipelines").join(name);
    let full = repo().join(&path);
    let e = pipeline::load(&full, &vars(given), &builtin_only()).unwrap_err();
    let loc = e.loc().expect("error has a location");
    assert_eq!(loc.file, full.display().to_string());
    e.to_string().replace(&format!("{}/", repo().display()), "")
}

#[test]
fn bad_pipelines_name_file_and_line() {
    assert_eq!(
        fixture_error("unknown-field.toml", &[]),
        "tests/fixtures/pipelines/unknown-field.toml:8: unknown field `lense`, expected one of `label`, `role`, `task`, `lens`, `template`, `context`, `sandbox`, `after`, `cd`, `model`, `output_schema`, `each`, `worktree`, `after_any_done`"
    );
    assert_eq!(
        fixture_error("cycle.toml", &[]),
        "tests/fixtures/pipelines/cycle.toml:21: cycle in `after`: a -> b -> c -> a (each waits for the next)"
    );
    assert_eq!(
        fixture_error("missing-template.toml", &[]),
        "tests/fixtures/pipelines/missing-template.toml:8: template file tests/fixtures/pipelines/templates/critic.md not found (paths are relative to the pipeline file)"
    );
    assert_eq!(
        fixture_error("undefined-var.toml", &[]),
        "tests/fixtures/pipelines/undefined-var.toml:14: undefined variable `{{target}}`; pass --var target=... or give it a default in [vars]"
    );
    assert_eq!(
        fixture_error("unknown-after.toml", &[]),
        "tests/fixtures/pipelines/unknown-after.toml:17: `after` names unknown worker `reviewer`; workers: review, fix"
    );
}

#[test]
fn unknown_var_is_refused_with_the_list() {
    let path = repo().join("share/pipelines/triangulated-review.toml");
    let e = pipeline::load(
        &path,
        &vars(&[("target", "x"), ("lens4", "y")]),
        &builtin_only(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("unknown --var `lens4`:"), "{e}");
    assert!(
        e.ends_with("takes context, lens1, lens2, lens3, target"),
        "{e}"
    );
}

#[test]
fn inline_lens_through_a_var() {
    let path = repo().join("share/pipelines/triangulated-review.toml");
    let given = vars(&[
        ("target", "README.md"),
        ("lens3", "docs=Is every example true?"),
    ]);
    let plan = pipeline::load(&path, &given, &builtin_only()).unwrap();
    let w = &plan.workers[2];
    assert_eq!(w.lens.as_deref(), Some("docs"));
    assert!(
        w.prompt.contains("LENS: docs\nIs every example true?\n"),
        "{}",
        w.prompt
    );
    let lens = builtin_only().lens("docs=Is every example true?").unwrap();
    assert_eq!(
        (lens.name.as_str(), lens.text.as_str()),
        ("docs", "Is every example true?")
    );
}

#[test]
fn user_files_in_orch_home_override_and_extend_the_shipped_ones() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for dir in ["lenses", "templates", "pipelines"] {
        std::fs::create_dir(h.join(dir)).unwrap();
    }
    std::fs::write(h.join("lenses/security.md"), "Only look at the parser.\n").unwrap();
    std::fs::write(h.join("lenses/docs.md"), "Is the README true?\n").unwrap();
    std::fs::write(
        h.join("templates/reviewer.md"),
        "CONTEXT: WORKER (mine)\n{{#lens}}[{{lens_name}}: {{lens}}]\n{{/lens}}{{task}}\n",
    )
    .unwrap();
    std::fs::write(
        h.join("pipelines/mine.toml"),
        "[[stage]]\nname = \"s\"\n[[stage.worker]]\nlabel = \"w\"\nrole = \"reviewer\"\nlens = \"security\"\ntask = \"t\"\n",
    )
    .unwrap();

    let share = Share::new(h);
    assert_eq!(share.roots()[0], h);
    assert_eq!(
        share.lens("security").unwrap().text,
        "Only look at the parser."
    );
    assert!(share.lens_names().contains(&"docs".to_string()));
    assert!(share.lens_names().contains(&"performance".to_string()));
    assert!(share.pipeline_names().contains(&"mine".to_string()));

    let source = share.pipeline_path("mine").unwrap();
    assert_eq!(source, PipelineSource::File(h.join("pipelines/mine.toml")));
    let plan = pipeline::load_source(&source, &BTreeMap::new(), &share).unwrap();
    assert_eq!(
        plan.workers[0].prompt,
        "CONTEXT: WORKER (mine)\n[security: Only look at the parser.]\nt\n"
    );
    // Files not overridden still come from the shipped set.
    assert!(share.template("scout").unwrap().contains("ROLE: scout"));

    // A typo in a user template is caught when it is loaded.
    std::fs::write(h.join("templates/scout.md"), "{{taks}}\n").unwrap();
    let e = share.template("scout").unwrap_err().to_string();
    assert!(
        e.contains("templates/scout.md") && e.contains("`{{taks}}`"),
        "{e}"
    );
}

#[test]
fn compiled_in_copies_work_with_no_share_dir() {
    let nowhere = tempfile::tempdir().unwrap().path().join("gone");
    let share = Share::from_roots(vec![nowhere.clone()]);
    for role in share::ROLES {
        assert!(
            share
                .template(role)
                .unwrap()
                .starts_with(share::PREAMBLE_MARKER)
        );
    }
    assert_eq!(share.lens_names().len(), 6);
    assert!(share.pack_skeleton().contains("## Success check"));
    assert!(
        share
            .findings_schema()
            .contains("\"additionalProperties\": false")
    );
    let source = share.pipeline_path("scout-act-verify").unwrap();
    assert_eq!(source.origin(), "built-in pipeline scout-act-verify");
    pipeline::load_source(&source, &vars(&[("goal", "g")]), &share).unwrap();

    let e = share.pipeline_path("nope").unwrap_err().to_string();
    assert!(
        e.starts_with("unknown pipeline `nope`; known pipelines: best-of-n, options-sprint,"),
        "{e}"
    );
    let e = share.pipeline_path("nope.toml").unwrap_err().to_string();
    assert_eq!(e, "pipeline file nope.toml does not exist");
}

#[test]
fn context_packs_are_validated_when_a_pipeline_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline_path = repo().join("share/pipelines/scout-act-verify.toml");
    let cases = [
        (
            "no-goal.md",
            "## Success check\ncargo test\n",
            "no Goal section",
        ),
        (
            "no-check.md",
            "# Goal\nShip it.\n",
            "no Success check section",
        ),
        (
            "empty.md",
            "Goal:\n<!-- fill me -->\n\nSuccess check: cargo test\n",
            "fill in its Goal section",
        ),
    ];
    for (file, text, expected) in cases {
        let pack = dir.path().join(file);
        std::fs::write(&pack, text).unwrap();
        let given = vars(&[("goal", "g"), ("context", pack.to_str().unwrap())]);
        let e = pipeline::load(&pipeline_path, &given, &builtin_only())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("context pack {}: {expected}", pack.display())),
            "{e}"
        );
        assert!(e.contains("orch pack new") || e.contains("fill in"), "{e}");
        assert!(e.contains("scout-act-verify.toml:15:"), "{e}");
    }

    let good = dir.path().join("good.md");
    std::fs::write(
        &good,
        "## Goal\nShip it.\n## Success check\ncargo test passes\n",
    )
    .unwrap();
    let given = vars(&[("goal", "g"), ("context", good.to_str().unwrap())]);
    let plan = pipeline::load(&pipeline_path, &given, &builtin_only()).unwrap();
    for w in &plan.workers {
        assert_eq!(w.context.as_deref(), Some(good.as_path()));
        assert!(w.prompt.contains("CONTEXT PACK"));
        assert!(w.prompt.contains("cargo test passes"));
    }
}

#[test]
fn the_example_in_docs_patterns_loads() {
    let doc = std::fs::read_to_string(repo().join("docs/patterns.md")).unwrap();
    let start = doc.find("```toml\n").expect("a toml example") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, &doc[start..end]).unwrap();
    let plan = pipeline::load(&path, &vars(&[("target", "src/")]), &builtin_only()).unwrap();
    assert_eq!(plan.workers.len(), 3);
    assert_eq!(plan.workers[2].after, ["review-1", "review-2"]);
    assert_eq!(plan.workers[2].inputs, ["review-1", "review-2"]);
    assert_eq!(plan.workers[2].sandbox.as_str(), "workspace-write");
    assert_eq!(plan.max_parallel, Some(2));
}

#[test]
fn a_stage_timeout_applies_to_each_of_its_workers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(
        &path,
        r#"
[[stage]]
name = "look"
timeout = "30m"
  [[stage.worker]]
  label = "r1"
  role = "reviewer"
  task = "one"
[[stage]]
name = "then"
  [[stage.worker]]
  label = "r2"
  role = "reviewer"
  task = "two"
"#,
    )
    .unwrap();
    let plan = pipeline::load(&path, &BTreeMap::new(), &builtin_only()).unwrap();
    assert_eq!(plan.workers[0].timeout_secs, Some(1800));
    assert_eq!(plan.workers[1].timeout_secs, None);
    std::fs::write(
        &path,
        "[[stage]]\nname = \"a\"\ntimeout = \"soon\"\n  [[stage.worker]]\n  label = \"r\"\n  role = \"reviewer\"\n  task = \"x\"\n",
    )
    .unwrap();
    let err = pipeline::load(&path, &BTreeMap::new(), &builtin_only())
        .unwrap_err()
        .to_string();
    assert!(err.contains("timeout") && err.contains("p.toml:3"), "{err}");
}

#[test]
fn worktree_and_after_any_done_fields_are_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    let text = |worktree: &str| {
        format!(
            "[vars]\nw = \"true\"\n[[stage]]\nname = \"a\"\n  [[stage.worker]]\n  label = \"writer\"\n  role = \"implementer\"\n  worktree = {worktree}\n  task = \"t\"\n  [[stage.worker]]\n  label = \"reader\"\n  role = \"reviewer\"\n  worktree = true\n  task = \"t\"\n[[stage]]\nname = \"b\"\n  [[stage.worker]]\n  label = \"pick\"\n  role = \"verifier\"\n  template = \"pick\"\n  after_any_done = true\n  task = \"t\"\n"
        )
    };
    let load = |worktree: &str, given: &[(&str, &str)]| {
        std::fs::write(&path, text(worktree)).unwrap();
        pipeline::load(&path, &vars(given), &builtin_only())
    };
    for (value, given, want) in [
        ("true", &[][..], true),
        ("false", &[], false),
        ("\"{{w}}\"", &[], true),
        ("\"{{w}}\"", &[("w", "false")], false),
    ] {
        let plan = load(value, given).unwrap();
        assert_eq!(
            plan.workers[0].worktree, want,
            "worktree = {value} {given:?}"
        );
        // A read-only worker has nothing to commit: it runs where it is.
        assert!(!plan.workers[1].worktree);
        assert!(plan.workers[2].after_any_done);
        assert!(!plan.workers[0].after_any_done);
        assert!(plan.workers[2].prompt.contains("Best: A2"));
    }
    let plan = load("true", &[]).unwrap();
    let dry = plan.dry_run_text();
    assert!(
        dry.contains("writer  [stage a, role implementer, sandbox workspace-write, own worktree]"),
        "{dry}"
    );
    assert!(dry.contains("once one is done"), "{dry}");
    let e = load("\"{{w}}\"", &[("w", "maybe")])
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("p.toml:8: worktree must be true or false, not \"maybe\""),
        "{e}"
    );
    let e = load("3", &[]).unwrap_err().to_string();
    assert!(
        e.contains("p.toml:8: worktree must be true or false"),
        "{e}"
    );

    let best = pipeline::load_source(
        &builtin_only().pipeline_path("best-of-n").unwrap(),
        &vars(&[("task", "fix the flaky test")]),
        &builtin_only(),
    )
    .unwrap();
    let labels: Vec<&str> = best.workers.iter().map(|w| w.label.as_str()).collect();
    assert_eq!(labels, ["attempt-1", "attempt-2", "attempt-3", "pick"]);
    assert!(
        best.workers[..3]
            .iter()
            .all(|w| w.worktree && w.sandbox.writes())
    );
    let pick = &best.workers[3];
    assert!(pick.after_any_done && !pick.worktree && !pick.sandbox.writes());
    assert_eq!(pick.after, ["attempt-1", "attempt-2", "attempt-3"]);
}
