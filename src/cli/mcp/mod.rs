//! `orch mcp`: codex drives orch. The stdio MCP server (`server.rs`) over one table of
//! tools (`tools.rs`) that call the same operations as the CLI, and `install.rs`, which
//! registers it in codex's config and installs the skill.

pub mod install;
pub mod server;
pub mod tools;

use anyhow::Result;

use crate::cli::args::{McpAction, McpArgs};

pub fn run(args: McpArgs) -> Result<i32> {
    match args.action {
        None => server::serve(),
        Some(McpAction::Install(a)) => install::install(a.dry_run),
        Some(McpAction::Uninstall(a)) => install::uninstall(a.dry_run),
    }
}
