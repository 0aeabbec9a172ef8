//! The command line: clap's definitions (`args`), one thin handler per command
//! (`commands`), what people read (`render`), and the dispatch from one to the other.

pub mod args;
pub mod commands;
mod dispatch;
pub mod render;

pub use dispatch::dispatch;
