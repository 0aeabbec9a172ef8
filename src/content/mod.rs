//! User-editable text: the shipped and user templates, lenses and schema (`share`),
//! context packs, and pipelines.

pub mod pack;
pub mod pipeline;
pub mod share;
