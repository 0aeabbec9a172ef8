//! Plain data every layer shares: states, sandboxes, tokens, names, durations and
//! user-facing errors. No I/O; imports nothing else of the crate.

pub mod error;
pub mod names;
pub mod sandbox;
pub mod state;
pub mod text;
pub mod tokens;

pub use error::UserError;
pub use sandbox::Sandbox;
pub use state::State;
pub use tokens::Tokens;
