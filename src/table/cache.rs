//! A bounded cache of decoded nodes, two generations deep.
//!
//! New entries go into the young generation; when both generations together outgrow the
//! budget the old generation is dropped and the young one becomes old. A hit in the old
//! generation moves the node back to the young one, so recently used nodes survive.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::id::NodeId;

use super::node::Node;

/// Node ids are uniformly random: their first eight bytes are a fine hash.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
}

/// Decoded nodes by id.
pub(crate) type IdMap = HashMap<NodeId, Arc<Node>, BuildHasherDefault<IdHasher>>;

pub(crate) struct NodeCache {
    budget: usize,
    young: IdMap,
    young_bytes: usize,
    old: IdMap,
    old_bytes: usize,
}

impl NodeCache {
    pub(crate) fn new(budget: usize) -> Self {
        NodeCache {
            budget,
            young: IdMap::default(),
            young_bytes: 0,
            old: IdMap::default(),
            old_bytes: 0,
        }
    }

    pub(crate) fn get(&mut self, id: &NodeId) -> Option<Arc<Node>> {
        if let Some(n) = self.young.get(id) {
            return Some(Arc::clone(n));
        }
        let n = self.old.remove(id)?;
        self.old_bytes = self.old_bytes.saturating_sub(n.heap_size());
        // Moving a node to the young generation never outgrows the budget: the total is
        // unchanged, and it was within budget after the last insert.
        let size = n.heap_size();
        if self.young.insert(*id, Arc::clone(&n)).is_none() {
            self.young_bytes += size;
        }
        Some(n)
    }

    /// Adds a node; returns the dropped old generation, if any, for the caller to free
    /// after releasing the cache lock (freeing thousands of nodes takes milliseconds).
    #[must_use]
    pub(crate) fn insert(&mut self, id: NodeId, node: Arc<Node>) -> Option<IdMap> {
        let size = node.heap_size();
        if self.young.insert(id, node).is_none() {
            self.young_bytes += size;
        }
        if self.young_bytes + self.old_bytes > self.budget {
            let dropped = std::mem::replace(&mut self.old, std::mem::take(&mut self.young));
            self.old_bytes = self.young_bytes;
            self.young_bytes = 0;
            return Some(dropped);
        }
        None
    }

    /// The byte budget.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }
}
