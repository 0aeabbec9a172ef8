//! Generated docs stay true: the man pages match the clap definition, completions
//! generate, and the README's two commands are the ones CI and the project use.
//! Regenerate the man pages with `ORCH_UPDATE_MAN=1 cargo test --test docs`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every man page orch ships: `orch.1` and one per visible subcommand.
fn man_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = orch::cli::Cli::command();
    let mut pages = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf).unwrap();
    pages.push(("orch.1".to_string(), buf));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("orch-{}", sub.get_name());
        let sub = sub.clone().bin_name(format!("orch {}", sub.get_name()));
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub)
            .title(name.clone())
            .render(&mut buf)
            .unwrap();
        pages.push((format!("{name}.1"), buf));
    }
    pages
}

#[test]
fn man_pages_are_current() {
    let dir = root().join("man");
    let pages = man_pages();
    if std::env::var_os("ORCH_UPDATE_MAN").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, bytes) in &pages {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut wanted: Vec<String> = pages.iter().map(|(n, _)| n.clone()).collect();
    wanted.sort();
    assert_eq!(
        on_disk, wanted,
        "man/ has stale or missing pages; run ORCH_UPDATE_MAN=1 cargo test --test docs"
    );
    for (name, bytes) in &pages {
        let have = std::fs::read(dir.join(name)).unwrap();
        assert!(
            have == *bytes,
            "man/{name} is out of date; run ORCH_UPDATE_MAN=1 cargo test --test docs"
        );
    }
}

#[test]
fn man_page_documents_exit_codes_and_environment() {
    let page = String::from_utf8(man_pages().remove(0).1).unwrap();
    for needle in [
        "124",
        "ORCH_HOME",
        "ORCH_CODEX",
        "ORCH_TMUX_SOCKET",
        "NO_COLOR",
    ] {
        assert!(page.contains(needle), "orch.1 lacks {needle}");
    }
}

#[test]
fn completions_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_orch"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("fanout") && text.contains("spawn"), "{shell}");
    }
}

fn fenced_command_after(readme: &str, marker: &str) -> String {
    let from = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README lacks {marker:?}"));
    let rest = &readme[from..];
    let start = rest.find("```sh\n").unwrap() + 6;
    let end = rest[start..].find("```").unwrap();
    rest[start..start + end].trim().to_string()
}

#[test]
fn readme_commands_are_the_ones_ci_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let test_cmd = fenced_command_after(&readme, "Run the whole test suite");
    assert_eq!(test_cmd, "scripts/test");
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let calls: Vec<&str> = ci
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(
        calls.iter().any(|l| l.contains(&test_cmd)),
        ".ci/run must call exactly the README's test command {test_cmd:?}"
    );
    assert!(Path::new(&root().join(&test_cmd)).exists());
    let install = fenced_command_after(&readme, "Install orch and run its main job");
    assert!(
        install.starts_with("cargo install --locked --path . && orch "),
        "{install}"
    );
    // The main job's subcommands exist.
    for word in ["fanout", "wait", "merge"] {
        assert!(install.contains(&format!("orch {word}")));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_orch"))
            .args([word, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success(), "orch {word} --help");
    }
}
