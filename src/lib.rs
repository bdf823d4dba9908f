//! Kodiak: a Git-like, content-addressed version control tool for databases.
//!
//! Tables, schemas and blobs are content-addressed objects (BLAKE3) kept in an
//! [`store::ObjectStore`]; rows live in content-addressed prolly trees; refs name commits.

pub mod config;
pub mod diff;
pub mod error;
pub mod history;
pub mod id;
pub mod interchange;
pub mod merge;
pub mod object;
pub mod pack;
pub mod package;
pub mod refs;
pub mod repo;
pub mod revspec;
pub mod schema;
pub mod store;
pub mod table;
pub mod tables;
pub mod workingset;

pub use error::{Error, Result};
