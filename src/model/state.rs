//! The states a worker moves through. Which record puts it in which state is the
//! lifecycle's business (`lifecycle::state` reads them, `lifecycle::transition` writes
//! them); this is only the vocabulary, shared by every layer.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for dependencies, a parallel slot or the working tree's writer slot.
    Queued,
    /// The tmux window was made; the wrapper has not taken its lock yet.
    Starting,
    Running,
    /// exit 0 and `turn.completed` seen.
    Done,
    Failed,
    /// Ended by `orch stop` (or Ctrl-C in its window).
    Stopped,
    /// No exit record and its processes are gone (tmux server killed, reboot, OOM).
    Lost,
    /// Not started because a dependency did not end `done`.
    Skipped,
    /// A record in its folder cannot be read; the error names it.
    Corrupt,
    /// Its folder has no spec.json: a spawn was killed half-way. `orch gc` removes it.
    Incomplete,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Starting => "starting",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Stopped => "stopped",
            State::Lost => "lost",
            State::Skipped => "skipped",
            State::Corrupt => "corrupt",
            State::Incomplete => "incomplete",
        }
    }
    /// Will not change without a retry.
    pub fn is_final(self) -> bool {
        !matches!(self, State::Queued | State::Starting | State::Running)
    }
    pub fn is_active(self) -> bool {
        matches!(self, State::Starting | State::Running)
    }
    pub const ALL: [State; 10] = [
        State::Queued,
        State::Starting,
        State::Running,
        State::Done,
        State::Failed,
        State::Stopped,
        State::Lost,
        State::Skipped,
        State::Corrupt,
        State::Incomplete,
    ];
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
