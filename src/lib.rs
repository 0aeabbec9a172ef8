//! orch: codex workers as detached tmux windows, with every fact on disk.
//!
//! The crate is built in layers; each imports only the layers above it in this list
//! (`tests/layers.rs` holds it to that, `docs/architecture.md` says where each concept
//! lives):
//!
//! - [`model`]: plain data (states, sandboxes, tokens, names, errors); no I/O.
//! - [`store`]: the on-disk protocol: every path and record, atomic I/O.
//! - [`sys`]: the outside world: tmux, processes, logind, codex, the file watcher.
//! - [`content`]: user-editable text: templates, lenses, packs, pipelines.
//! - [`merge`]: a pure library that curates workers' final messages.
//! - [`lifecycle`]: state derivation, transitions, retry policy, scheduling, the wrapper.
//! - [`ops`]: the use cases commands share; never a clap type.
//! - [`cli`]: clap, one thin file per command, rendering, exit codes.
#![forbid(unsafe_code)]

pub mod cli;
pub mod content;
pub mod lifecycle;
pub mod merge;
pub mod model;
pub mod ops;
pub mod store;
pub mod sys;
