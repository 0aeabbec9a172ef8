//! orch's integration tests: one test binary, each test with its own ORCH_HOME,
//! tmux socket and the fake codex.

mod support;

mod core;
mod cost;
mod dropped;
mod events;
mod hostile;
mod mcp;
mod merge;
mod night;
mod patterns;
mod recovery;
mod security;
mod steer;
mod top;
mod watch;
mod worktree;
