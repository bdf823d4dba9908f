//! Commits, annotated tags and the signatures they carry.

use serde::{Deserialize, Serialize};

use crate::id::{CommitId, ObjectId, RootId, TagId};

use super::{Kind, postcard_object};

/// Who did something and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Seconds since the Unix epoch, UTC.
    pub time: i64,
    /// Offset of the local time zone from UTC, in minutes.
    pub tz_offset_min: i16,
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// A point in history: a database root, its parents and who made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// The database this commit records.
    pub root: RootId,
    /// Parent commits, first parent first; empty for a root commit.
    pub parents: Vec<CommitId>,
    /// Who wrote the change.
    pub author: Signature,
    /// Who recorded it.
    pub committer: Signature,
    /// The commit message.
    pub message: String,
    /// A ULID that stays the same when a commit is amended or rebased.
    pub change_id: [u8; 16],
}
postcard_object!(Commit, Commit, CommitId);

/// An annotated tag: a named, signed pointer to any object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The tagged object.
    pub target: ObjectId,
    /// The tagged object's kind.
    pub target_kind: Kind,
    /// The tag's name (without `refs/tags/`).
    pub name: String,
    /// Who made the tag.
    pub tagger: Signature,
    /// The tag message.
    pub message: String,
}
postcard_object!(Tag, Tag, TagId);
