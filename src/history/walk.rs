//! Streaming history walks: commits newest first, loaded one at a time.
//!
//! The walk keeps a priority queue of the frontier ordered by committer time (newer first),
//! then by discovery order (earlier first), so on a linear history it holds one commit at a
//! time and `log -n 20` reads 20 commits no matter how long the history is.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use crate::error::Result;
use crate::id::CommitId;
use crate::object::Commit;
use crate::store::Store;

struct Pending {
    time: i64,
    seq: u64,
    id: CommitId,
    commit: Commit,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap: newer time first, then lower sequence (discovered earlier) first.
        self.time
            .cmp(&other.time)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// An iterator over the commits reachable from some starting commits, newest first, each once.
pub struct Walk {
    store: Store,
    heap: BinaryHeap<Pending>,
    seen: HashSet<CommitId>,
    seq: u64,
    first_parent: bool,
}

impl Walk {
    /// A walk from `starts`.
    pub fn new(store: &Store, starts: &[CommitId]) -> Result<Walk> {
        let mut w = Walk {
            store: store.clone(),
            heap: BinaryHeap::new(),
            seen: HashSet::new(),
            seq: 0,
            first_parent: false,
        };
        for s in starts {
            w.push(*s)?;
        }
        Ok(w)
    }

    /// Follows only first parents.
    pub fn first_parent_only(mut self) -> Walk {
        self.first_parent = true;
        self
    }

    fn push(&mut self, id: CommitId) -> Result<()> {
        if !self.seen.insert(id) {
            return Ok(());
        }
        let commit: Commit = self.store.get(&id)?;
        self.heap.push(Pending {
            time: commit.committer.time,
            seq: self.seq,
            id,
            commit,
        });
        self.seq += 1;
        Ok(())
    }

    fn step(&mut self) -> Result<Option<(CommitId, Commit)>> {
        let Some(p) = self.heap.pop() else {
            return Ok(None);
        };
        let parents: &[CommitId] = if self.first_parent {
            p.commit.parents.get(..1).unwrap_or(&[])
        } else {
            &p.commit.parents
        };
        for parent in parents.iter().copied() {
            self.push(parent)?;
        }
        Ok(Some((p.id, p.commit)))
    }
}

impl Iterator for Walk {
    type Item = Result<(CommitId, Commit)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step().transpose()
    }
}

/// Whether `ancestor` is reachable from `descendant` (a commit is its own ancestor).
pub fn is_ancestor(store: &Store, ancestor: CommitId, descendant: CommitId) -> Result<bool> {
    if ancestor == descendant {
        return Ok(true);
    }
    for item in Walk::new(store, &[descendant])? {
        if item?.0 == ancestor {
            return Ok(true);
        }
    }
    Ok(false)
}
