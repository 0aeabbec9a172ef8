//! orch: codex workers as detached tmux windows, with every fact on disk.
#![forbid(unsafe_code)]

pub mod merge;
pub mod pack;
pub mod pipeline;
pub mod share;
