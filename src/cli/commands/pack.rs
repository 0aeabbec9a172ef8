//! `orch pack`: context packs — the goal, non-goals, constraints, pointers, prior
//! decisions and success check that workers cannot infer.

use anyhow::Result;

use crate::cli::args::PackCommand;
use crate::content::share::Share;
use crate::model::error::UserError;

pub fn run(cmd: PackCommand) -> Result<i32> {
    match cmd {
        PackCommand::New { file, force } => {
            let share = match crate::store::Home::from_env() {
                Ok(home) => Share::new(&home.root),
                Err(_) => Share::from_roots(Vec::new()),
            };
            let dest = crate::content::pack::write_skeleton(file.as_deref(), force, &share)
                .map_err(|e| UserError::usage(format!("{e:#}")))?;
            if dest.as_os_str() != "-" {
                eprintln!(
                    "wrote {}; fill in at least Goal and Success check, then pass it with --context",
                    dest.display()
                );
            }
            Ok(0)
        }
        PackCommand::Check { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                UserError::usage(format!("cannot read context pack {}: {e}", file.display()))
            })?;
            // Bad input, exit 2: the same answer `spawn --context` gives for this pack.
            crate::content::pack::validate(&text, &file)
                .map_err(|e| UserError::usage(e.to_string()))?;
            println!("{}: ok", file.display());
            Ok(0)
        }
    }
}
