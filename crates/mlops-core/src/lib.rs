//! # mlops-core
//!
//! The small set of types every other `mlops-*` crate shares:
//!
//! - [`ContentHash`]: a sha256 digest with a stable lowercase-hex form, used for content addressing,
//!   dataset fingerprints and the audit-log hash chain; [`hash_bytes`] and [`hash_reader`] compute one.
//! - [`Name`]: a validated name for models, aliases, tags and datasets (no path traversal, separators,
//!   control characters, empty or overlong names).
//! - [`event`]: the prediction and outcome events serving emits and monitoring consumes.
//! - [`Error`]: the typed errors of this crate, `#[non_exhaustive]`, with structured fields.
//!
//! It depends on nothing heavier than `sha2` and `serde`, so every crate can use it.
#![warn(missing_docs)]

mod error;
mod hash;
mod name;

pub mod event;

pub use error::{Error, Result};
pub use hash::{ContentHash, Sha256Stream, hash_bytes, hash_reader};
pub use name::{MAX_NAME_LEN, Name};
