//! Token counts of a worker, as codex reports them in `turn.completed`.
//!
//! codex follows OpenAI's convention: `input` counts every prompt token, the cached ones
//! included (`cached_input` is a part of `input`, not an addition), and `output` counts
//! the reasoning tokens too (`reasoning` is a part of `output`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub cached_input: u64,
    pub output: u64,
    pub reasoning: u64,
    /// Prompt tokens written to the prompt cache (`cache_write_input_tokens`; models that
    /// bill cache writes separately). Records of older orch versions have none.
    #[serde(default)]
    pub cache_write_input: u64,
}

impl Tokens {
    pub fn add(&mut self, o: &Tokens) {
        self.input += o.input;
        self.cached_input += o.cached_input;
        self.output += o.output;
        self.reasoning += o.reasoning;
        self.cache_write_input += o.cache_write_input;
    }
    pub fn total(&self) -> u64 {
        self.input + self.output
    }
}
