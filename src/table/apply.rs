//! Applying a sorted batch of edits by re-chunking only the regions around them.
//!
//! Level by level, from the leaves up: each edit's region starts at the first entry of the old
//! node that holds (or would hold) its key — a boundary that cannot move, since boundaries
//! depend only on the entries before them — and is re-chunked, merging old entries with
//! edits, until a new node ends exactly where an old node ended with no edit pending in
//! between (from there on old and new chunking agree). The replaced and new nodes become the
//! edits of the level above. The root level is re-chunked whole, then the top of the tree is
//! grown or collapsed exactly as a bulk build would shape it.

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::id::NodeId;

use super::chunk::{LevelChunker, LevelStack, NodeSink, child_entry, empty_leaf_bytes};
use super::node::{CHILD_ENTRY_LEN, Node};
use super::{Frame, NodeStore};

/// Sorted edits: keys and values live in one buffer.
#[derive(Default)]
pub(crate) struct EditList {
    bytes: Vec<u8>,
    items: Vec<(Range<usize>, Option<Range<usize>>)>,
}

impl EditList {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn key(&self, i: usize) -> &[u8] {
        &self.bytes[self.items[i].0.clone()]
    }

    pub(crate) fn value(&self, i: usize) -> Option<&[u8]> {
        self.items[i].1.clone().map(|r| &self.bytes[r])
    }

    fn push(&mut self, key: &[u8], value: Option<&[u8]>) {
        let k = self.bytes.len()..self.bytes.len() + key.len();
        self.bytes.extend_from_slice(key);
        let v = value.map(|v| {
            let r = self.bytes.len()..self.bytes.len() + v.len();
            self.bytes.extend_from_slice(v);
            r
        });
        self.items.push((k, v));
    }

    /// Appends an edit; its key must be greater than the previous edit's.
    pub(crate) fn push_checked(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        if let Some(last) = self.items.last()
            && key <= &self.bytes[last.0.clone()]
        {
            return Err(Error::Invalid(format!(
                "edit {}: key {} is not greater than the previous edit's key",
                self.items.len(),
                crate::id::hex_encode(key)
            )));
        }
        self.push(key, value);
        Ok(())
    }
}

/// A node written while re-chunking: its last key, id and row count.
struct NewNode {
    key: Vec<u8>,
    id: NodeId,
    rows: u64,
}

/// Applies `edits` to the tree at `root` and returns the new root.
pub(crate) fn apply(ns: &NodeStore, root: NodeId, edits: &EditList) -> Result<NodeId> {
    if edits.is_empty() {
        return Ok(root);
    }
    let root_node = ns.load(root)?;
    let height = root_node.level();
    let mut sink = NodeSink::new(ns);
    let mut level = 0u8;
    let mut current = None;
    loop {
        let edits_here = current.as_ref().unwrap_or(edits);
        let (above, fresh) = rechunk_level(ns, &mut sink, root, &root_node, level, edits_here)?;
        if level == height {
            return finish_top(ns, &mut sink, level, fresh);
        }
        if above.is_empty() {
            sink.flush()?;
            return Ok(root);
        }
        current = Some(above);
        level += 1;
    }
}

/// Turns the new nodes of the old root level into the new root.
fn finish_top(
    ns: &NodeStore,
    sink: &mut NodeSink,
    level: u8,
    fresh: Vec<NewNode>,
) -> Result<NodeId> {
    let root = match fresh.len() {
        0 => {
            let bytes = empty_leaf_bytes();
            let id = NodeId::new(crate::id::ObjectId::hash(&bytes));
            sink.push(id, bytes)?;
            id
        }
        1 => {
            sink.flush()?;
            let mut id = fresh[0].id;
            // A bulk build's root is the lowest level with one node: drop single-child tops.
            loop {
                let node = ns.load(id)?;
                if node.is_leaf() || node.len() != 1 {
                    break id;
                }
                id = node.child(0);
            }
        }
        _ => {
            let base = level
                .checked_add(1)
                .ok_or_else(|| Error::Invalid("prolly tree exceeds 255 levels".into()))?;
            let mut stack = LevelStack::new(base, ns.params());
            for n in &fresh {
                stack.add(sink, 0, &n.key, &child_entry(n.id, n.rows))?;
            }
            stack.finish(sink)?
        }
    };
    sink.flush()?;
    Ok(root)
}

/// The old tree's entries at one level, node by node.
struct LevelCursor {
    frames: Vec<Frame>,
    end: bool,
}

impl LevelCursor {
    /// Positions at the first entry of the level-`level` node whose key range holds `key`
    /// (the last node when `key` is past every key).
    fn seek(
        ns: &NodeStore,
        root_id: NodeId,
        root: &Arc<Node>,
        level: u8,
        key: &[u8],
    ) -> Result<Self> {
        let mut frames = vec![Frame {
            id: root_id,
            node: Arc::clone(root),
            idx: 0,
        }];
        while let Some(top) = frames.last_mut() {
            if top.node.level() <= level {
                break;
            }
            let idx = match top.node.search(key) {
                Ok(i) | Err(i) => i.min(top.node.len().saturating_sub(1)),
            };
            top.idx = idx;
            let (id, node) = ns.load_child(&top.node, idx)?;
            frames.push(Frame { id, node, idx: 0 });
        }
        Ok(LevelCursor { frames, end: false })
    }

    fn current(&self) -> Option<(Arc<Node>, usize, NodeId)> {
        if self.end {
            return None;
        }
        let top = self.frames.last()?;
        (top.idx < top.node.len()).then(|| (Arc::clone(&top.node), top.idx, top.id))
    }

    /// Moves to the next entry; returns whether that left a node.
    fn advance(&mut self, ns: &NodeStore) -> Result<bool> {
        let depth = self.frames.len();
        let Some(top) = self.frames.last_mut() else {
            self.end = true;
            return Ok(true);
        };
        top.idx += 1;
        if top.idx < top.node.len() {
            return Ok(false);
        }
        // Find the nearest ancestor with a next child, then walk down its leftmost path.
        let mut d = depth - 1;
        loop {
            if d == 0 {
                self.end = true;
                return Ok(true);
            }
            d -= 1;
            self.frames[d].idx += 1;
            if self.frames[d].idx < self.frames[d].node.len() {
                break;
            }
        }
        self.frames.truncate(d + 1);
        while self.frames.len() < depth {
            let Some(top) = self.frames.last() else { break };
            let (id, node) = ns.load_child(&top.node, top.idx)?;
            self.frames.push(Frame { id, node, idx: 0 });
        }
        Ok(true)
    }
}

fn push_entry(
    chunker: &mut LevelChunker,
    sink: &mut NodeSink,
    fresh: &mut Vec<NewNode>,
    key: &[u8],
    val: &[u8],
    ns: &NodeStore,
) -> Result<()> {
    if chunker.push(key, val, &ns.params()) {
        let (id, rows) = chunker.cut(sink)?;
        fresh.push(NewNode {
            key: key.to_vec(),
            id,
            rows,
        });
    }
    Ok(())
}

/// Re-chunks the regions of one level touched by `edits`.
///
/// Returns the edits for the level above and every node written at this level.
fn rechunk_level(
    ns: &NodeStore,
    sink: &mut NodeSink,
    root_id: NodeId,
    root: &Arc<Node>,
    level: u8,
    edits: &EditList,
) -> Result<(EditList, Vec<NewNode>)> {
    let mut above = EditList::default();
    let mut all_fresh = Vec::new();
    let mut chunker = LevelChunker::new(level);
    let mut scratch = [0u8; CHILD_ENTRY_LEN];
    let n = edits.len();
    let mut i = 0;
    while i < n {
        let mut cur = LevelCursor::seek(ns, root_id, root, level, edits.key(i))?;
        let mut replaced: Vec<(Vec<u8>, NodeId)> = Vec::new();
        let mut fresh: Vec<NewNode> = Vec::new();
        loop {
            let old = cur.current();
            let ord = match (&old, i < n) {
                (None, false) => {
                    if !chunker.is_empty() {
                        let key = chunker.last_key().to_vec();
                        let (id, rows) = chunker.cut(sink)?;
                        fresh.push(NewNode { key, id, rows });
                    }
                    break;
                }
                (None, true) => Ordering::Greater,
                (Some(_), false) => Ordering::Less,
                (Some((node, idx, _)), true) => node.key(*idx).cmp(edits.key(i)),
            };
            if ord != Ordering::Less {
                if let Some(v) = edits.value(i) {
                    push_entry(&mut chunker, sink, &mut fresh, edits.key(i), v, ns)?;
                }
                i += 1;
            }
            if let (Some((node, idx, id)), true) = (&old, ord != Ordering::Greater) {
                if ord == Ordering::Less {
                    let val = node.entry_value(*idx, &mut scratch);
                    push_entry(&mut chunker, sink, &mut fresh, node.key(*idx), val, ns)?;
                }
                if idx + 1 == node.len() {
                    replaced.push((node.key(*idx).to_vec(), *id));
                }
                let crossed = cur.advance(ns)?;
                if crossed && chunker.is_empty() && !cur.end {
                    break;
                }
            }
        }
        // The level above loses the replaced nodes and gains the new ones.
        let (mut a, mut b) = (0, 0);
        while a < replaced.len() || b < fresh.len() {
            let ord = match (replaced.get(a), fresh.get(b)) {
                (Some(r), Some(f)) => r.0.cmp(&f.key),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match ord {
                Ordering::Less => {
                    above.push(&replaced[a].0, None);
                    a += 1;
                }
                Ordering::Greater => {
                    let f = &fresh[b];
                    above.push(&f.key, Some(&child_entry(f.id, f.rows)));
                    b += 1;
                }
                Ordering::Equal => {
                    let f = &fresh[b];
                    if f.id != replaced[a].1 {
                        above.push(&f.key, Some(&child_entry(f.id, f.rows)));
                    }
                    a += 1;
                    b += 1;
                }
            }
        }
        all_fresh.extend(fresh);
    }
    Ok((above, all_fresh))
}
