//! The library's error type.

use std::path::PathBuf;

use crate::id::ObjectId;
use crate::object::{DecodeError, Kind};

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A stored object does not hash to its id, or its framing is broken.
    #[error("object {id} is corrupt: {reason}")]
    Corrupt {
        /// The id the object was stored under.
        id: ObjectId,
        /// What check failed.
        reason: String,
    },
    /// An object that should exist is not in the store.
    #[error("object {id} ({kind}) is missing from the store")]
    Missing {
        /// The missing id.
        id: ObjectId,
        /// The kind the caller expected.
        kind: Kind,
    },
    /// An object's bytes hash correctly but do not decode.
    #[error("object {id} cannot be decoded: {source}")]
    Decode {
        /// The object's id.
        id: ObjectId,
        /// The decoding failure.
        source: DecodeError,
    },
    /// An abbreviated id matches no object.
    #[error("no object matches '{0}'")]
    UnknownPrefix(String),
    /// An abbreviated id matches several objects.
    #[error("abbreviated id '{prefix}' is ambiguous; candidates:\n{}", candidates.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"))]
    AmbiguousPrefix {
        /// What the user typed.
        prefix: String,
        /// Every matching id.
        candidates: Vec<ObjectId>,
    },
    /// The storage engine failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// A file system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "creating", …).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Invalid input from the user or a file; the message says what and where.
    #[error("{0}")]
    Invalid(String),
    /// A compare-and-swap ref or working-set update found another value than expected.
    #[error("{name} was changed concurrently: expected {expected}, found {actual}")]
    RefConflict {
        /// The ref (or `workspace <name>`) whose check failed.
        name: String,
        /// What the transaction expected.
        expected: String,
        /// What is actually stored.
        actual: String,
    },
    /// No repository was found at or above a path.
    #[error("not a kodiak repository (or any parent up to /): {}", .0.display())]
    NotARepository(PathBuf),
    /// Another process holds the repository lock.
    #[error("repository is locked by another kodiak process ({})", match .pid { Some(p) => format!("pid {p}"), None => "pid unknown".to_string() })]
    Locked {
        /// The holder's process id, when it could be read from the lock file.
        pid: Option<u32>,
    },
    /// No author identity is configured.
    #[error("author identity unknown: {0}")]
    MissingIdentity(String),
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Storage(e.to_string())
    }
}
