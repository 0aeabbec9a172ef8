//! User-editable text: the shipped and user templates, lenses and schema (`share`),
//! the one template engine that fills them in (`template`), context packs, and pipelines.

pub mod pack;
pub mod pipeline;
pub mod prices;
pub mod share;
pub mod template;
