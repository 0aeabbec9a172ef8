//! From parsed arguments to the command that handles them.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::args::{Cli, Command};
use crate::cli::commands::*;
use crate::store::Home;

pub fn dispatch(cli: Cli) -> Result<i32> {
    // Everything orch (and codex under it) creates is private: results and prompts
    // are nobody else's business on a shared box.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    // With ORCH_SSH_AGENT=stable, any orch command after a reconnect points the
    // workers' agent link at this session's agent.
    if std::env::var_os(crate::store::envfile::AGENT_MODE).is_some()
        && !matches!(cli.command, Command::Worker(_) | Command::WatchHelper(_))
        && let Ok(home) = Home::from_env()
        && home.root.is_dir()
    {
        crate::store::envfile::refresh_agent_link(&home.root);
    }
    if changes_state(&cli.command) {
        crate::sys::procs::finish_despite_hangup();
    }
    match cli.command {
        Command::Spawn(a) => spawn::run(a),
        Command::Status(a) => status::run(a),
        Command::Ls(a) => ls::run(a),
        Command::Logs(a) => logs::run(a),
        Command::Attach(a) => attach::run(a),
        Command::Result(a) => result::run(a),
        Command::Stop(a) => stop::run(a),
        Command::Wait(a) => wait::run(a),
        Command::Watch(a) => watch::run(a),
        Command::Top(a) => top::run_command(a),
        Command::Fanout(a) => fanout::run(a),
        Command::Run(a) => run::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Pack(a) => pack::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Land(a) => land::run(a),
        Command::Set(a) => set::run(a),
        Command::Retry(a) => retry::run(a),
        Command::Resume(a) => resume::run(a),
        Command::Send(a) => send::run(a),
        Command::Recover(a) => recover::run(a),
        Command::Gc(a) => gc::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Mcp(a) => crate::cli::mcp::run(a),
        Command::Completions(a) => {
            clap_complete::generate(a.shell, &mut Cli::command(), "orch", &mut std::io::stdout());
            Ok(0)
        }
        Command::WatchHelper(a) => crate::sys::watch::helper(&Home::open(a.home)?),
        Command::Worker(a) => {
            let home = Home::open(a.home)?;
            let hooks = crate::lifecycle::worker::Hooks {
                on_end: crate::ops::merge::after_worker_exit,
            };
            crate::lifecycle::worker::run(&home, &a.run, &a.label, &hooks)
        }
    }
}

/// Short commands that write state: a hang-up must not cut them off half-way. The
/// long-running lookers (wait, watch, top, attach, logs -f) still end on SIGHUP.
fn changes_state(c: &Command) -> bool {
    matches!(
        c,
        Command::Spawn(_)
            | Command::Fanout(_)
            | Command::Run(_)
            | Command::Stop(_)
            | Command::Set(_)
            | Command::Retry(_)
            | Command::Resume(_)
            | Command::Recover(_)
            | Command::Gc(_)
            | Command::Merge(_)
            | Command::Send(_)
            | Command::Land(_)
    )
}
