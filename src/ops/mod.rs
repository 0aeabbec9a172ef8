//! The use cases commands share: make a run, add a worker, stop workers, collect a run's
//! status, merge a run, send a running worker a message, judge what a pipeline file may ask for. Arguments are plain
//! types, never clap's.

pub mod land;
pub mod listing;
pub mod merge;
pub mod output;
pub mod pick;
pub mod recover;
pub mod resume;
pub mod retry;
pub mod run_end;
pub mod send;
pub mod spawn;
pub mod start;
pub mod status;
pub mod stop;
pub mod trust;
pub mod wait;
pub mod window;
pub mod worktree;
