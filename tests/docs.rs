//! Generated docs stay true: the man pages match the clap definition, completions
//! generate, and the README's two commands are the ones CI and the project use.
//! Regenerate the man pages with `ORCH_UPDATE_MAN=1 cargo test --test docs`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every man page orch ships: `orch.1` and one per visible subcommand, nested ones
/// too (`orch-pack-new.1`). Each command is renamed `orch-…` so the NAME line and the
/// references between pages match the files.
fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: &clap::Command, page: &str, bin: &str, out: &mut Vec<(String, Vec<u8>)>) {
        let named = cmd
            .clone()
            .name(leak(page.to_string()))
            .bin_name(bin.to_string());
        let mut buf = Vec::new();
        clap_mangen::Man::new(named)
            .title(page.to_string())
            .render(&mut buf)
            .unwrap();
        out.push((format!("{page}.1"), buf));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(
                sub,
                &format!("{page}-{}", sub.get_name()),
                &format!("{bin} {}", sub.get_name()),
                out,
            );
        }
    }
    let mut pages = Vec::new();
    walk(&orch::cli::args::Cli::command(), "orch", "orch", &mut pages);
    pages
}

/// clap wants a `'static` name; these few strings live for the test's run.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
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

#[test]
fn a_closed_stdout_ends_quietly_like_any_filter() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(["completions", "fish"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader (`| head`) went away
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
