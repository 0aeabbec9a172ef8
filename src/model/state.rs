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
    /// Its turn failed on a usage limit: the wrapper waits in its window until the limit
    /// resets, then continues the same codex conversation (same attempt, no retry).
    Paused,
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
            State::Paused => "paused",
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
        !matches!(
            self,
            State::Queued | State::Starting | State::Running | State::Paused
        )
    }
    /// Holds a parallel slot. A paused worker does: its wrapper still lives in its window
    /// (holding the working tree's writer lock, for a writer) and will carry on by itself
    /// when the limit resets, so a slot given away meanwhile would put one worker too
    /// many to work at the reset.
    pub fn is_active(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Paused)
    }
    pub const ALL: [State; 11] = [
        State::Queued,
        State::Starting,
        State::Running,
        State::Paused,
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
