//! orch: codex workers as detached tmux windows, with every fact on disk.
#![forbid(unsafe_code)]

pub mod cli;
pub mod codex;
pub mod commands;
pub mod envfile;
pub mod error;
pub mod logind;
pub mod merge;
pub mod pack;
pub mod pipeline;
pub mod plan;
pub mod procs;
pub mod retry;
pub mod sched;
pub mod share;
pub mod state;
pub mod store;
pub mod testhook;
pub mod tmux;
pub mod ui;
pub mod worker;
