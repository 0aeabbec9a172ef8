//! One file per subcommand; each is small and calls the modules above it.

pub mod attach;
pub mod logs;
pub mod ls;
pub mod result;
pub mod spawn;
pub mod status;
pub mod stop;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::store::Home;

pub fn dispatch(cli: Cli) -> Result<i32> {
    // Everything orch (and codex under it) creates is private: results and prompts
    // are nobody else's business on a shared box.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    match cli.command {
        Command::Spawn(a) => spawn::run(a),
        Command::Status(a) => status::run(a),
        Command::Ls(a) => ls::run(a),
        Command::Logs(a) => logs::run(a),
        Command::Attach(a) => attach::run(a),
        Command::Result(a) => result::run(a),
        Command::Stop(a) => stop::run(a),
        Command::Completions(a) => {
            clap_complete::generate(a.shell, &mut Cli::command(), "orch", &mut std::io::stdout());
            Ok(0)
        }
        Command::Worker(a) => {
            let home = Home::open(a.home)?;
            crate::worker::run(&home, &a.run, &a.label)
        }
    }
}
