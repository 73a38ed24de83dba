//! The law of the municipal employment trials as pure, effective-dated rules (DOMAIN.md).
//!
//! - [`hetu`]: the personal identity code, validated and never displayed.
//! - [`registry`]: trial generations, areas and municipalities, loaded from data files.

pub mod hetu;
pub mod registry;
