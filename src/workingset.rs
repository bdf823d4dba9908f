//! Working sets: the per-workspace record of HEAD, staged and working roots and merge state.
//!
//! A working set is stored as one version byte (`0x01`) followed by the postcard encoding of
//! [`WorkingSet`]; see "Working sets" in `objects_format.md`. It is read and updated through
//! [`crate::refs::RefStore`], compare-and-swap like a ref and in the same transactions.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{CommitId, RootId, TableId};
use crate::refs::{RefName, RefValue};

/// Version byte written before every encoded working set.
pub const WORKING_SET_VERSION: u8 = 1;

/// The state of one workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingSet {
    /// What HEAD points at: `Symbolic` to a branch (possibly unborn) or `Direct` (detached).
    pub head: RefValue,
    /// The staged database, if anything was staged since the last commit.
    pub staged: Option<RootId>,
    /// The working database, if it differs from what HEAD records.
    pub working: Option<RootId>,
    /// An unfinished merge, if any.
    pub merge: Option<MergeState>,
}

/// An in-progress merge recorded in a working set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeState {
    /// The commit being merged into HEAD.
    pub other: CommitId,
    /// The merge base, if one was found.
    pub base: Option<CommitId>,
    /// The message the merge commit will get.
    pub message: String,
    /// Table name → table of unresolved conflicts for that table, sorted by name.
    pub conflicts: BTreeMap<String, TableId>,
    /// What started it, which decides the parents of the commit that concludes it.
    pub kind: MergeKind,
    /// The staged root before the merge started (restored by `merge --abort`).
    pub orig_staged: RootId,
    /// The working root before the merge started (restored by `merge --abort`).
    pub orig_working: RootId,
}

/// The operation an unfinished merge belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergeKind {
    /// `merge`: the concluding commit has parents HEAD and [`MergeState::other`].
    Merge,
    /// `merge --squash`: the concluding commit has HEAD as its only parent.
    Squash,
    /// `revert`: one parent; [`MergeState::other`] is the reverted commit.
    Revert,
    /// `cherry-pick`: one parent; [`MergeState::other`] is the picked commit.
    CherryPick,
}

impl WorkingSet {
    /// A fresh working set whose HEAD is symbolic to `branch`, with nothing staged.
    pub fn on_branch(branch: RefName) -> Self {
        WorkingSet {
            head: RefValue::Symbolic(branch),
            staged: None,
            working: None,
            merge: None,
        }
    }

    /// Encodes the record: version byte then postcard.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![WORKING_SET_VERSION];
        crate::object::postcard_encode(self, &mut out);
        out
    }

    /// Decodes a record written by [`WorkingSet::encode`]; `what` names it in errors.
    pub fn decode(bytes: &[u8], what: &str) -> Result<Self> {
        let malformed =
            |reason: String| Error::Storage(format!("{what}: malformed record: {reason}"));
        match bytes.split_first() {
            None => Err(malformed("empty".into())),
            Some((&WORKING_SET_VERSION, rest)) => {
                let (ws, tail) = postcard::take_from_bytes::<WorkingSet>(rest)
                    .map_err(|e| malformed(e.to_string()))?;
                if !tail.is_empty() {
                    return Err(malformed(format!("{} trailing bytes", tail.len())));
                }
                if let RefValue::Symbolic(target) = &ws.head
                    && !target.can_be_head()
                {
                    return Err(malformed(format!(
                        "HEAD is symbolic to non-branch {target}"
                    )));
                }
                Ok(ws)
            }
            Some((v, _)) => Err(malformed(format!("unsupported version {v}"))),
        }
    }
}

impl fmt::Display for WorkingSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |r: &Option<RootId>| r.map_or("-".to_string(), |r| r.short());
        write!(
            f,
            "HEAD {}, staged {}, working {}{}",
            self.head,
            opt(&self.staged),
            opt(&self.working),
            if self.merge.is_some() {
                ", merging"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ObjectId;

    fn sample() -> WorkingSet {
        WorkingSet {
            head: RefValue::Direct(ObjectId::hash(b"c")),
            staged: Some(RootId::new(ObjectId::hash(b"s"))),
            working: None,
            merge: Some(MergeState {
                other: CommitId::new(ObjectId::hash(b"o")),
                base: None,
                message: "merge feature".into(),
                conflicts: [("people".to_string(), TableId::new(ObjectId::hash(b"t")))].into(),
                kind: MergeKind::Merge,
                orig_staged: RootId::new(ObjectId::hash(b"s")),
                orig_working: RootId::new(ObjectId::hash(b"w")),
            }),
        }
    }

    #[test]
    fn round_trip() {
        for ws in [
            sample(),
            WorkingSet::on_branch(RefName::branch("main").unwrap()),
        ] {
            let bytes = ws.encode();
            assert_eq!(bytes[0], WORKING_SET_VERSION);
            assert_eq!(WorkingSet::decode(&bytes, "ws").unwrap(), ws);
        }
    }

    #[test]
    fn encoding_is_pinned() {
        let ws = WorkingSet::on_branch(RefName::branch("main").unwrap());
        let mut expected = vec![1u8, 1, 15];
        expected.extend_from_slice(b"refs/heads/main");
        expected.extend_from_slice(&[0, 0, 0]);
        assert_eq!(ws.encode(), expected);
    }

    #[test]
    fn bad_records_are_errors() {
        let ws = sample();
        let mut bytes = ws.encode();
        bytes.push(0);
        assert!(
            WorkingSet::decode(&bytes, "ws x")
                .unwrap_err()
                .to_string()
                .contains("ws x")
        );
        assert!(WorkingSet::decode(&[], "ws").is_err());
        assert!(WorkingSet::decode(&[9, 0], "ws").is_err());
        let mut bad = vec![1u8, 1, 14];
        bad.extend_from_slice(b"refs/tags/main");
        bad.extend_from_slice(&[0, 0, 0]);
        assert!(WorkingSet::decode(&bad, "ws").is_err());
    }
}
