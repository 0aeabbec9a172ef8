//! The outside world orch talks to: tmux, processes, logind, the codex program and its
//! event stream, git (worktrees, diffs, landing), and the file-system watcher.

pub mod codex;
pub mod git;
pub mod logind;
pub mod output;
pub mod procs;
pub mod testhook;
pub mod tmux;
pub mod watch;
