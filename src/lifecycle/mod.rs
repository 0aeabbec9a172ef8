//! A worker's life: what state its folder says it is in (`state`), the records that move
//! it between states (`transition`, their only writer), automatic retries (`retry`),
//! starting queued workers (`sched`), the wrapper that runs in its window (`worker`), and the one-writer-per-tree rule
//! (`writer`), and what runs cost against their `--budget` (`budget`). A usage limit
//! pauses a worker (`pause`); `--timeout` stops one that runs too long (`deadline`);
//! endless network reconnects raise the `offline` flag. `orch send` steers a running
//! worker through its inbox (`inbox`).
//! A worker with its own git
//! worktree gets its setup command run and its work committed (`worktree`).

pub mod activity;
pub mod budget;
pub mod deadline;
pub mod inbox;
pub mod offline;
pub mod pause;
pub mod plan;
pub mod retry;
pub mod sched;
pub mod state;
pub mod transition;
pub mod worker;
pub mod worktree;
pub mod writer;
