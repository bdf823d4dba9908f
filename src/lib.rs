//! Kodiak: a Git-like, content-addressed version control tool for databases.
//!
//! Tables, schemas and blobs are content-addressed objects (BLAKE3) kept in an
//! [`store::ObjectStore`]; rows live in content-addressed prolly trees; refs name commits.

pub mod error;
pub mod id;
pub mod interchange;
pub mod object;
pub mod store;

pub use error::{Error, Result};
