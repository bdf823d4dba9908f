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

const PARENT1: u8 = 1;
const PARENT2: u8 = 2;
const STALE: u8 = 4;

/// The best common ancestors of `a` and `b`: common ancestors that are not ancestors of
/// another common ancestor. Empty when the histories are unrelated; more than one in
/// criss-cross histories. Sorted newest first (committer time, then id).
///
/// Walks both histories newest first, painting each commit with the side(s) it is reachable
/// from, and stops once every commit still queued is below a common ancestor already found.
pub fn merge_bases(store: &Store, a: CommitId, b: CommitId) -> Result<Vec<CommitId>> {
    if a == b {
        return Ok(vec![a]);
    }
    let mut flags: std::collections::HashMap<CommitId, u8> = std::collections::HashMap::new();
    let mut heap: BinaryHeap<Pending> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<Pending>, id: CommitId| -> Result<()> {
        let commit: Commit = store.get(&id)?;
        heap.push(Pending {
            time: commit.committer.time,
            seq,
            id,
            commit,
        });
        seq += 1;
        Ok(())
    };
    flags.insert(a, PARENT1);
    flags.insert(b, PARENT2);
    push(&mut heap, a)?;
    push(&mut heap, b)?;
    let mut found: Vec<(i64, CommitId)> = Vec::new();
    while heap
        .iter()
        .any(|p| flags.get(&p.id).copied().unwrap_or(0) & STALE == 0)
    {
        let Some(p) = heap.pop() else { break };
        let mut f = flags.get(&p.id).copied().unwrap_or(0) & (PARENT1 | PARENT2 | STALE);
        if f & (PARENT1 | PARENT2) == PARENT1 | PARENT2 && f & STALE == 0 {
            if !found.iter().any(|(_, id)| *id == p.id) {
                found.push((p.commit.committer.time, p.id));
            }
            f |= STALE;
            flags.insert(p.id, f | flags.get(&p.id).copied().unwrap_or(0));
        }
        for parent in p.commit.parents.iter().copied() {
            let pf = flags.get(&parent).copied().unwrap_or(0);
            if pf & f == f {
                continue;
            }
            flags.insert(parent, pf | f);
            push(&mut heap, parent)?;
        }
    }
    // Clock skew can let a non-best ancestor be found first: drop any result that is an
    // ancestor of another one.
    let mut best = Vec::new();
    for (i, (time, id)) in found.iter().enumerate() {
        let mut redundant = false;
        for (j, (_, other)) in found.iter().enumerate() {
            if i != j && is_ancestor(store, *id, *other)? {
                redundant = true;
                break;
            }
        }
        if !redundant {
            best.push((*time, *id));
        }
    }
    best.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
    Ok(best.into_iter().map(|(_, id)| id).collect())
}

/// One best common ancestor of `a` and `b` (the newest when there are several), if any.
pub fn merge_base(store: &Store, a: CommitId, b: CommitId) -> Result<Option<CommitId>> {
    Ok(merge_bases(store, a, b)?.into_iter().next())
}
