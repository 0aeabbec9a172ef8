//! The command line: clap's definitions (`args`), one thin handler per command
//! (`commands`), what people read (`render`), the dispatch from one to the other, and
//! the MCP server that lets codex call the same operations (`mcp`), and the
//! dashboard `orch top` (`top`).

pub mod args;
pub mod commands;
mod dispatch;
pub mod mcp;
pub mod render;
pub mod top;

pub use dispatch::dispatch;
