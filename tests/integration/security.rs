//! Shared boxes: planted pipeline files, tmux sockets of other users, secrets in
//! tmux, loose homes and links in runs/. Tests that need a second local user create a
//! throwaway one (as root) and remove it after; elsewhere they say why they skip.

use std::io::ErrorKind;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

use crate::support::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A local user made for one test (`useradd`), removed when dropped.
struct OtherUser {
    name: String,
    uid: u32,
}

/// useradd and userdel lock /etc/passwd; tests of this binary run in parallel.
static PASSWD: Mutex<()> = Mutex::new(());

impl OtherUser {
    /// None, with a line saying why, where this machine can't have a second user.
    fn create(test: &str) -> Option<OtherUser> {
        if !nix::unistd::getuid().is_root() {
            eprintln!("skipping {test}: making a second local user needs root");
            return None;
        }
        let _g = PASSWD.lock().unwrap_or_else(|e| e.into_inner());
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("orcht{}-{n}", std::process::id());
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(&name)
            .output();
        match made {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!("skipping {test}: useradd failed: {}", stderr(&o).trim());
                return None;
            }
            Err(e) => {
                eprintln!("skipping {test}: no useradd here ({e})");
                return None;
            }
        }
        let uid = nix::unistd::User::from_name(&name)
            .unwrap()
            .expect("the user just made")
            .uid
            .as_raw();
        Some(OtherUser { name, uid })
    }

    fn owns(&self, p: &Path) {
        std::os::unix::fs::lchown(p, Some(self.uid), None).unwrap();
    }
}

impl Drop for OtherUser {
    fn drop(&mut self) {
        let _g = PASSWD.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// A listener posing as a tmux server; `received` says whether anyone connected.
struct Listener(UnixListener);

impl Listener {
    fn at(path: &Path) -> Listener {
        let l = UnixListener::bind(path).unwrap();
        l.set_nonblocking(true).unwrap();
        Listener(l)
    }

    fn received(&self) -> bool {
        match self.0.accept() {
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// orch with its tmux socket at `socket` and an API key in its environment.
fn spawn_with_socket(t: &TestHome, socket: &Path) -> Output {
    t.cmd()
        .env("ORCH_TMUX_SOCKET", socket)
        .env("OPENAI_API_KEY", "sk-must-not-leave")
        .args(["spawn", "x"])
        .output()
        .unwrap()
}

fn assert_refused(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(out), stderr(out));
    let e = stderr(out);
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} not in: {e}");
    }
    assert!(e.contains("ORCH_TMUX_SOCKET"), "names the fix: {e}");
}

#[test]
fn a_socket_another_user_owns_is_refused_and_sent_nothing() {
    let Some(other) = OtherUser::create("a_socket_another_user_owns") else {
        return;
    };
    let t = TestHome::new();
    let dir = t.path().join("sockets");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    let socket = dir.join("s");
    let listener = Listener::at(&socket);
    other.owns(&socket);
    let out = spawn_with_socket(&t, &socket);
    assert_refused(&out, &[socket.to_str().unwrap(), &other.name, "not to you"]);
    assert!(
        !listener.received(),
        "orch connected to the other user's socket"
    );
    assert!(t.ok(&["ls"]).contains("no runs yet"), "nothing was spawned");
    // doctor names it too.
    let doc = stdout(
        &t.cmd()
            .env("ORCH_TMUX_SOCKET", &socket)
            .arg("doctor")
            .output()
            .unwrap(),
    );
    assert!(
        doc.contains("FAIL tmux socket") && doc.contains(&other.name),
        "{doc}"
    );
    assert!(!listener.received());
}

#[test]
fn a_socket_folder_another_user_owns_is_refused() {
    let Some(other) = OtherUser::create("a_socket_folder_another_user") else {
        return;
    };
    let t = TestHome::new();
    let dir = t.path().join("theirs");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    // Their listener, in their folder.
    let listener = Listener::at(&dir.join("s"));
    other.owns(&dir.join("s"));
    other.owns(&dir);
    let out = spawn_with_socket(&t, &dir.join("s"));
    assert_refused(&out, &["its folder", &other.name]);
    assert!(!listener.received());
    // A folder of theirs with no socket yet: orch does not start a server in it.
    let empty = t.path().join("theirs-empty");
    std::fs::create_dir(&empty).unwrap();
    other.owns(&empty);
    let out = spawn_with_socket(&t, &empty.join("s"));
    assert_refused(&out, &["its folder", &other.name]);
    assert!(
        !empty.join("s").exists(),
        "no tmux server was started there"
    );
}

#[test]
fn sockets_others_could_swap_are_refused() {
    let t = TestHome::new();
    // A folder anyone can write to (like /tmp): someone could plant a listener there.
    let open = t.path().join("open");
    std::fs::create_dir(&open).unwrap();
    chmod(&open, 0o1777);
    let out = spawn_with_socket(&t, &open.join("s"));
    assert_refused(&out, &["writable by other users"]);
    assert!(!open.join("s").exists());
    // A link to a folder, and a link in place of the socket, are never followed.
    let real = t.path().join("real");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o700);
    symlink(&real, t.path().join("linked")).unwrap();
    let out = spawn_with_socket(&t, &t.path().join("linked").join("s"));
    assert_refused(&out, &["symbolic link"]);
    let listener = Listener::at(&real.join("target"));
    symlink(real.join("target"), real.join("s")).unwrap();
    let out = spawn_with_socket(&t, &real.join("s"));
    assert_refused(&out, &["is a symbolic link"]);
    assert!(!listener.received());
    // A file that is not a socket.
    std::fs::write(real.join("f"), "").unwrap();
    let out = spawn_with_socket(&t, &real.join("f"));
    assert_refused(&out, &["not a socket"]);
}

#[test]
fn keys_never_reach_the_tmux_server() {
    let t = TestHome::new();
    let secret = format!("sk-test-{}", std::process::id());
    let out = t
        .cmd()
        .env("OPENAI_API_KEY", &secret)
        .args(["spawn", "x\nFAKE:env=OPENAI_API_KEY\nFAKE:sleep=3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let a = stdout(&out).trim().to_string();
    t.wait_state(&a, "running", 20);
    let global = t.tmux(&["show-environment", "-g"]);
    assert!(global.status.success(), "{}", stderr(&global));
    let global = stdout(&global);
    assert!(
        global.contains("PATH="),
        "the server has an environment: {global}"
    );
    assert!(
        !global.contains(&secret),
        "key in the global environment: {global}"
    );
    assert!(!global.contains("OPENAI_API_KEY"), "{global}");
    let server = stdout(&t.tmux(&["display-message", "-p", "#{pid}"]));
    let started: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.worker_dir(&a).join("started.json")).unwrap())
            .unwrap();
    for (what, pid) in [
        ("tmux server", server.trim().to_string()),
        ("worker wrapper", started["wrapper_pid"].to_string()),
    ] {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        assert!(!environ.is_empty(), "{what} {pid} is alive");
        assert!(
            !String::from_utf8_lossy(&environ).contains(&secret),
            "the key is in the environment of the {what}"
        );
    }
    // The worker itself still gets it, from its 0600 env file.
    t.wait_state(&a, "done", 20);
    assert!(
        t.ok(&["result", &a])
            .ends_with(&format!("OPENAI_API_KEY={secret}"))
    );
}

const PLANTED: &str = r#"description = "planted"
[[stage]]
name = "s"
  [[stage.worker]]
  label = "w"
  role = "implementer"
  sandbox = "danger-full-access"
  task = "PLANTED TASK"
"#;

#[test]
fn a_planted_pipeline_file_is_ignored_by_name_and_loaded_only_by_path() {
    let t = TestHome::new();
    let repo = t.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(repo.join("triangulated-review"), PLANTED).unwrap();
    std::fs::write(repo.join("mine"), PLANTED).unwrap();
    let run = |args: &[&str]| t.cmd().args(args).current_dir(&repo).output().unwrap();

    let out = run(&[
        "run",
        "triangulated-review",
        "--var",
        "target=src/",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("loaded from: built-in triangulated-review\n"),
        "{text}"
    );
    assert!(!text.contains("PLANTED"), "{text}");

    let out = run(&["run", "mine"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown pipeline `mine`")
            && stderr(&out).contains("run it as ./mine"),
        "{}",
        stderr(&out)
    );

    let out = run(&["run", "./triangulated-review", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("loaded from: file ./triangulated-review (given as a path)\n"),
        "{text}"
    );
    assert!(
        text.contains("needs --trust-pipeline: worker w asks for sandbox danger-full-access"),
        "{text}"
    );
    assert!(text.contains("PLANTED TASK"), "{text}");

    let out = run(&["run", "./triangulated-review"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("danger-full-access") && e.contains("--trust-pipeline"),
        "{e}"
    );
    assert!(t.ok(&["ls"]).contains("no runs yet"), "nothing was spawned");

    let out = run(&["run", "./triangulated-review", "--trust-pipeline"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("loaded from: file ./triangulated-review (given as a path)"),
        "{}",
        stderr(&out)
    );
    let id = stdout(&out).trim().to_string();
    let w = t.wait_state(&format!("{id}/w"), "done", 20);
    assert_eq!(w["sandbox"], "danger-full-access", "{w}");
}

#[test]
fn a_path_pipeline_reaching_outside_the_tree_needs_the_flag() {
    let t = TestHome::new();
    let repo = t.path().join("repo");
    let outside = t.path().join("outside");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let file = |cd: &Path| {
        format!(
            "[[stage]]\nname = \"s\"\n  [[stage.worker]]\n  label = \"w\"\n  role = \"scout\"\n  cd = \"{}\"\n  task = \"t\"\n",
            cd.display()
        )
    };
    std::fs::write(repo.join("out.toml"), file(&outside)).unwrap();
    std::fs::write(repo.join("in.toml"), file(&repo.join("sub"))).unwrap();
    let run = |args: &[&str]| t.cmd().args(args).current_dir(&repo).output().unwrap();
    let out = run(&["run", "out.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "cd {} outside the working tree",
            outside.display()
        )) && e.contains("--trust-pipeline"),
        "{e}"
    );
    let out = run(&["run", "in.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["run", "out.toml", "--trust-pipeline"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_loose_orch_home_is_made_private_and_doctor_says_so() {
    let t = TestHome::new();
    std::fs::create_dir(&t.home).unwrap();
    chmod(&t.home, 0o755);
    let out = t.run(&["doctor"]);
    let text = stdout(&out);
    assert!(
        text.contains("orch home") && text.contains("was mode 755") && text.contains("0700"),
        "{text}"
    );
    assert!(stderr(&out).contains("made it 0700"), "{}", stderr(&out));
    assert_eq!(mode(&t.home), 0o700);
    // Once private, nothing more is said.
    let out = t.run(&["ls"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn an_orch_home_another_user_owns_is_refused() {
    let Some(other) = OtherUser::create("an_orch_home_another_user") else {
        return;
    };
    let t = TestHome::new();
    std::fs::create_dir_all(t.home.join("runs")).unwrap();
    chmod(&t.home, 0o755);
    other.owns(&t.home);
    let out = t.run(&["ls"]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("belongs to uid") && e.contains("set ORCH_HOME to a folder of your own"),
        "{e}"
    );
    assert_eq!(mode(&t.home), 0o755, "left as it was");
}

#[test]
fn symlinks_in_runs_are_left_alone() {
    let t = TestHome::new();
    let a = t.spawn(&["x"]);
    t.wait_state(&a, "done", 20);
    let run = run_of(&a).to_string();
    // A copy of a finished run somewhere else, linked into runs/ under another id.
    let target = t.path().join("elsewhere");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(t.home.join("runs").join(&run))
        .arg(&target)
        .status()
        .unwrap();
    assert!(copied.success());
    let _ = std::fs::remove_file(target.join("run.lock"));
    let link = t.home.join("runs").join("20990101-0000-lnk");
    symlink(&target, &link).unwrap();

    assert!(!t.ok(&["ls"]).contains("lnk"));
    let e = t.fails(&["status", "20990101-0000-lnk"], 2);
    assert!(e.contains("symbolic link"), "{e}");
    let doc = stdout(&t.run(&["doctor"]));
    assert!(
        doc.contains("FAIL records") && doc.contains("20990101-0000-lnk is a symbolic link"),
        "{doc}"
    );

    let gc = t.ok(&["gc", "--older-than", "0s"]);
    assert!(gc.contains(&format!("removed run {run}")), "{gc}");
    assert!(
        gc.contains(&format!("left alone {}", link.display())),
        "{gc}"
    );
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(target.join("run.json").exists(), "the target is untouched");
    assert!(
        !target.join("run.lock").exists(),
        "no lock made in the target"
    );
}

#[test]
fn a_socket_path_too_long_goes_to_a_folder_no_one_could_make_first() {
    let t = TestHome::new();
    let home = t.path().join("h".repeat(60)).join("o".repeat(60));
    let orch = |xdg: Option<&Path>, args: &[&str]| {
        let mut c = t.cmd();
        c.env("ORCH_HOME", &home).env_remove("ORCH_TMUX_SOCKET");
        match xdg {
            Some(d) => c.env("XDG_RUNTIME_DIR", d),
            None => c.env_remove("XDG_RUNTIME_DIR"),
        };
        let out = c.args(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let kill = |socket: &Path| {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .arg("kill-server")
            .output();
    };
    // No XDG_RUNTIME_DIR: a mkdtemp folder in /tmp, remembered and used again.
    let a = orch(None, &["spawn", "x"]).trim().to_string();
    let record = home.join("tmux/socket-dir");
    let dir = std::path::PathBuf::from(std::fs::read_to_string(&record).unwrap());
    let socket = dir.join("server");
    let name = dir.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        dir.starts_with("/tmp") && name.starts_with("orch-"),
        "{name}"
    );
    assert_ne!(
        name,
        format!("orch-{}", nix::unistd::getuid()),
        "not predictable"
    );
    assert_eq!(mode(&dir), 0o700);
    let b = orch(None, &["spawn", "--run", run_of(&a), "y"]);
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        dir.to_str().unwrap()
    );
    let windows = Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .args(["list-windows", "-a"])
        .output()
        .unwrap();
    assert_eq!(stdout(&windows).lines().count(), 2, "one server: {b}");
    kill(&socket);
    let _ = std::fs::remove_dir_all(&dir);
    // A private XDG_RUNTIME_DIR is used when there is one.
    let xdg = t.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    chmod(&xdg, 0o700);
    orch(Some(&xdg), &["spawn", "z"]);
    let sockets: Vec<_> = std::fs::read_dir(xdg.join("orch"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(sockets.len(), 1);
    kill(&sockets[0].path());
}
