//! The content-addressed prolly tree that holds every version of every table.
//!
//! Rows are opaque `(key, value)` byte pairs ordered by key bytes. A tree is a B+ tree whose
//! node boundaries are chosen by hashing keys (see `objects_format.md`), so the same set of rows always
//! gives the same nodes and root id, whatever order or batching of writes produced it. Nodes
//! are stored as [`Node`] objects; identical subtrees share ids, which lets [`NodeStore::diff`]
//! skip them and [`NodeStore::apply`] rewrite only the nodes on the paths of edited keys.

mod apply;
mod cache;
mod chunk;
mod diff;
pub(crate) mod merge3;
mod node;

#[cfg(test)]
mod tests;

use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

pub use chunk::TreeBuilder;
pub use diff::{Diff, Diff3, Diff3Row, DiffRow, KeepRows, MapDiff, RowMap};
pub use node::Node;

use crate::error::{Error, Result};
use crate::id::{NodeId, ObjectId};
use crate::object::Kind;
use crate::store::Store;

use cache::NodeCache;
use chunk::{ChunkParams, DEFAULT_PARAMS};

/// Batches of at least this many nodes are framed on two threads.
const PARALLEL_FRAME_MIN: usize = 64;

/// Default budget of the decoded-node cache.
///
/// A decoded node takes about 1.25 times its canonical size, so a 1M-row table of ~35-byte
/// rows is ~45 MB decoded. The cache keeps between half and all of its budget (two
/// generations), so 256 MiB holds both versions of such a table across an `apply`, and the
/// diff that follows reads nothing from the store.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// Reads and writes prolly trees in a [`Store`], with a bounded cache of decoded nodes.
///
/// Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct NodeStore {
    store: Store,
    cache: Arc<Mutex<NodeCache>>,
    params: ChunkParams,
    /// Whether loaded and written leaves go into the cache (internal nodes always do).
    cache_leaves: bool,
    /// Tests: diffs split even small trees over their threads.
    #[cfg(test)]
    split_small: bool,
}

/// One row of a tree: a loaded leaf and an index into it (cheap to clone), or a copy of the
/// row's bytes ([`Row::detach`]).
#[derive(Clone)]
pub struct Row {
    at: RowAt,
}

#[derive(Clone)]
enum RowAt {
    /// Row `idx` of a loaded leaf.
    Leaf(Arc<Node>, usize),
    /// The key followed by the value, and the key's length.
    Owned(Box<[u8]>, usize),
}

impl Row {
    fn in_leaf(node: Arc<Node>, idx: usize) -> Row {
        Row {
            at: RowAt::Leaf(node, idx),
        }
    }

    /// The row's key.
    pub fn key(&self) -> &[u8] {
        match &self.at {
            RowAt::Leaf(node, idx) => node.key(*idx),
            RowAt::Owned(bytes, key_len) => &bytes[..*key_len],
        }
    }

    /// The row's value.
    pub fn value(&self) -> &[u8] {
        match &self.at {
            RowAt::Leaf(node, idx) => node.value(*idx),
            RowAt::Owned(bytes, key_len) => &bytes[*key_len..],
        }
    }

    /// The same row holding a copy of its bytes instead of its leaf: for rows kept a while
    /// (queued between threads), which would otherwise keep whole leaves alive.
    pub fn detach(self) -> Row {
        match self.at {
            RowAt::Leaf(node, idx) => {
                let (key, value) = (node.key(idx), node.value(idx));
                let mut bytes = Vec::with_capacity(key.len() + value.len());
                bytes.extend_from_slice(key);
                bytes.extend_from_slice(value);
                Row {
                    at: RowAt::Owned(bytes.into_boxed_slice(), key.len()),
                }
            }
            owned @ RowAt::Owned(..) => Row { at: owned },
        }
    }

    /// The leaf and index the row is read from, unless detached.
    pub(crate) fn leaf(&self) -> Option<(&Arc<Node>, usize)> {
        match &self.at {
            RowAt::Leaf(node, idx) => Some((node, *idx)),
            RowAt::Owned(..) => None,
        }
    }
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("key", &crate::id::hex_encode(self.key()))
            .field("value", &crate::id::hex_encode(self.value()))
            .finish()
    }
}

impl NodeStore {
    /// Wraps a store with a [`DEFAULT_CACHE_BYTES`] node cache.
    pub fn new(store: Store) -> Self {
        Self::with_cache_bytes(store, DEFAULT_CACHE_BYTES)
    }

    /// Wraps a store with a node cache of about `bytes` bytes.
    pub fn with_cache_bytes(store: Store, bytes: usize) -> Self {
        NodeStore {
            store,
            cache: Arc::new(Mutex::new(NodeCache::new(bytes))),
            params: DEFAULT_PARAMS,
            cache_leaves: true,
            #[cfg(test)]
            split_small: false,
        }
    }

    /// The same store, sharing the cache, but keeping loaded and written leaves out of it:
    /// for one pass over many leaves (a cold diff or scan, or a rewrite whose result is not
    /// read again) that will not read them again, which saves the cache's bookkeeping and
    /// lets their memory be reused at once. Leaves already cached are still found there.
    pub fn without_leaf_cache(&self) -> Self {
        NodeStore {
            cache_leaves: false,
            ..self.clone()
        }
    }

    /// A node store chunking with other parameters (tests use small nodes for deep trees).
    #[cfg(test)]
    pub(crate) fn with_params(store: Store, params: ChunkParams) -> Self {
        NodeStore {
            params,
            ..Self::new(store)
        }
    }

    /// A node store with small nodes whose three-way diffs split even a few dozen rows over
    /// `threads` threads (merge tests run the threaded diff with it).
    #[cfg(test)]
    pub(crate) fn splitting_small_trees(store: Store) -> Self {
        NodeStore {
            split_small: true,
            ..Self::with_params(
                store,
                ChunkParams {
                    min_entries: 2,
                    max_entries: 24,
                    max_bytes: 400,
                    threshold: u64::MAX / 4,
                },
            )
        }
    }

    /// The underlying object store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn params(&self) -> ChunkParams {
        self.params
    }

    fn cache(&self) -> MutexGuard<'_, NodeCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn cache_insert(&self, id: NodeId, node: Node) {
        self.cache_insert_arc(id, Arc::new(node));
    }

    fn cache_insert_arc(&self, id: NodeId, node: Arc<Node>) {
        let evicted = self.cache().insert(id, node);
        // The guard is gone: the evicted generation is freed without holding the lock.
        drop(evicted);
    }

    /// The node cache's byte budget.
    pub(crate) fn cache_budget(&self) -> usize {
        self.cache().budget()
    }

    /// Frames freshly encoded nodes (each id is the hash of its bytes) for the backend.
    ///
    /// zstd is split over two threads for large batches. Writers skip the `has` check:
    /// new nodes are almost always absent, and rewriting an existing id stores identical
    /// bytes.
    pub(crate) fn frame_nodes(
        &self,
        items: &[(ObjectId, Vec<u8>)],
    ) -> Result<Vec<(ObjectId, Vec<u8>)>> {
        let framer = self.store.framer()?;
        let frame_all = |part: &[(ObjectId, Vec<u8>)]| -> Vec<(ObjectId, Vec<u8>)> {
            part.iter().map(|(id, c)| (*id, framer.frame(c))).collect()
        };
        if items.len() < PARALLEL_FRAME_MIN {
            return Ok(frame_all(items));
        }
        let (a, b) = items.split_at(items.len() / 2);
        std::thread::scope(|s| {
            let Ok(first) = std::thread::Builder::new().spawn_scoped(s, || frame_all(a)) else {
                // Without a second thread, frame everything here.
                return Ok(frame_all(items));
            };
            let mut second = frame_all(b);
            let mut all = first
                .join()
                .map_err(|_| Error::Storage("node framing thread panicked".into()))?;
            all.append(&mut second);
            Ok(all)
        })
    }

    /// Loads a node, verified and decoded, from the cache or the store.
    pub fn load(&self, id: NodeId) -> Result<Arc<Node>> {
        if let Some(n) = self.cache().get(&id) {
            return Ok(n);
        }
        let oid = id.id();
        let bytes = self.store.get_canonical(&oid, Kind::Node)?;
        let node = Arc::new(
            Node::from_canonical(bytes).map_err(|source| Error::Decode { id: oid, source })?,
        );
        if self.cache_leaves || !node.is_leaf() {
            self.cache_insert_arc(id, Arc::clone(&node));
        }
        Ok(node)
    }

    /// Loads child `idx` of `parent`, checking it fits in the tree structure.
    pub(crate) fn load_child(&self, parent: &Node, idx: usize) -> Result<(NodeId, Arc<Node>)> {
        let id = parent.child(idx);
        let node = self.load(id)?;
        if node.level() + 1 != parent.level() || node.is_empty() {
            return Err(Error::Corrupt {
                id: id.id(),
                reason: format!(
                    "child node has level {} and {} entries under a level-{} parent",
                    node.level(),
                    node.len(),
                    parent.level()
                ),
            });
        }
        Ok((id, node))
    }

    /// Stores the empty tree (an empty leaf) and returns its id.
    pub fn empty(&self) -> Result<NodeId> {
        let mut sink = chunk::NodeSink::new(self);
        let root = chunk::LevelStack::new(0, self.params).finish(&mut sink)?;
        sink.flush()?;
        Ok(root)
    }

    /// A builder for a tree from rows in strictly ascending key order, in O(n).
    pub fn builder(&self) -> TreeBuilder {
        TreeBuilder::new(self)
    }

    /// Builds a tree from rows in strictly ascending key order; returns its root.
    pub fn build<I, K, V>(&self, rows: I) -> Result<NodeId>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut b = self.builder();
        for (k, v) in rows {
            b.push(k.as_ref(), v.as_ref())?;
        }
        b.finish()
    }

    /// Applies edits in strictly ascending key order (`Some` upserts, `None` deletes).
    ///
    /// Writes only the nodes that change; the result is the tree a bulk build of the
    /// resulting rows would give. Costs O(k log n) for k edits.
    pub fn apply<I, K, V>(&self, root: NodeId, edits: I) -> Result<NodeId>
    where
        I: IntoIterator<Item = (K, Option<V>)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut list = apply::EditList::default();
        for (k, v) in edits {
            list.push_checked(k.as_ref(), v.as_ref().map(|v| v.as_ref()))?;
        }
        apply::apply(self, root, &list)
    }

    /// The row with `key`, if any.
    pub fn get(&self, root: NodeId, key: &[u8]) -> Result<Option<Row>> {
        let mut node = self.load(root)?;
        while !node.is_leaf() {
            let idx = match node.search(key) {
                Ok(i) | Err(i) => i,
            };
            if idx == node.len() {
                return Ok(None);
            }
            node = self.load_child(&node, idx)?.1;
        }
        Ok(match node.search(key) {
            Ok(idx) => Some(Row::in_leaf(node, idx)),
            Err(_) => None,
        })
    }

    /// Number of rows in the tree (read from the root).
    pub fn count(&self, root: NodeId) -> Result<u64> {
        Ok(self.load(root)?.row_count())
    }

    /// Every row in key order.
    pub fn scan(&self, root: NodeId) -> Rows {
        self.range(root, Bound::Unbounded, Bound::Unbounded)
    }

    /// Rows whose keys fall within the bounds, in key order.
    pub fn range(&self, root: NodeId, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Rows {
        Rows {
            ns: self.clone(),
            state: RowsState::Start(root, start.map(<[u8]>::to_vec)),
            end: end.map(<[u8]>::to_vec),
        }
    }

    /// The rows that differ between two trees, in key order; equal subtrees are skipped.
    pub fn diff(&self, old: NodeId, new: NodeId) -> Diff {
        Diff::new(self.clone(), old, new)
    }

    /// The rows that differ between two trees, each turned into at most one item by `map` on
    /// the thread that finds it, in key order (see [`MapDiff`]).
    pub fn diff_map<M: RowMap>(&self, old: NodeId, new: NodeId, map: M) -> MapDiff<M> {
        MapDiff::mapped(self.clone(), old, new, map)
    }

    /// Per key where `ours` or `theirs` differs from `base`, the three versions, in key order.
    pub fn diff3(&self, base: NodeId, ours: NodeId, theirs: NodeId) -> Diff3 {
        Diff3::new(self.clone(), base, ours, theirs)
    }
}

/// A position in a tree: a stack of nodes from the root down.
///
/// When the top frame is internal, the position is the first row of its child at `idx`, which
/// is not loaded yet; when it is a leaf, the position is row `idx`. No frames means the end.
pub(crate) struct Cursor {
    frames: Vec<Frame>,
}

pub(crate) struct Frame {
    id: NodeId,
    node: Arc<Node>,
    idx: usize,
}

impl Cursor {
    /// A cursor at the first row of `root`.
    pub(crate) fn at_start(ns: &NodeStore, root: NodeId) -> Result<Cursor> {
        let node = ns.load(root)?;
        let frames = if node.is_empty() {
            Vec::new()
        } else {
            vec![Frame {
                id: root,
                node,
                idx: 0,
            }]
        };
        Ok(Cursor { frames })
    }

    /// A cursor at the first row whose key is `>= key` (or `> key` when not `inclusive`).
    pub(crate) fn seek(
        ns: &NodeStore,
        root: NodeId,
        key: &[u8],
        inclusive: bool,
    ) -> Result<Cursor> {
        let mut c = Cursor::at_start(ns, root)?;
        while let Some(top) = c.frames.last_mut() {
            let idx = match top.node.search(key) {
                Ok(i) if top.node.is_leaf() && !inclusive => i + 1,
                Ok(i) | Err(i) => i,
            };
            top.idx = idx;
            if idx >= top.node.len() || top.node.is_leaf() {
                break;
            }
            c.descend_one(ns)?;
        }
        c.normalize();
        Ok(c)
    }

    pub(crate) fn is_end(&self) -> bool {
        self.frames.is_empty()
    }

    /// Level of the unloaded child the position is at the start of, if any.
    pub(crate) fn pending_level(&self) -> Option<u8> {
        self.frames
            .last()
            .filter(|f| !f.node.is_leaf())
            .map(|f| f.node.level() - 1)
    }

    /// Loads the pending child and moves into it.
    pub(crate) fn descend_one(&mut self, ns: &NodeStore) -> Result<()> {
        if let Some(top) = self.frames.last()
            && !top.node.is_leaf()
        {
            let (id, node) = ns.load_child(&top.node, top.idx)?;
            self.frames.push(Frame { id, node, idx: 0 });
        }
        Ok(())
    }

    /// Loads nodes down to the leaf holding the current row.
    pub(crate) fn descend_to_row(&mut self, ns: &NodeStore) -> Result<()> {
        while self.pending_level().is_some() {
            self.descend_one(ns)?;
        }
        Ok(())
    }

    /// The current row's leaf and index (after [`Cursor::descend_to_row`]).
    pub(crate) fn leaf(&self) -> Option<(&Arc<Node>, usize)> {
        self.frames
            .last()
            .filter(|f| f.node.is_leaf())
            .map(|f| (&f.node, f.idx))
    }

    /// The current row (after [`Cursor::descend_to_row`]).
    pub(crate) fn row(&self) -> Option<Row> {
        self.leaf()
            .map(|(node, idx)| Row::in_leaf(Arc::clone(node), idx))
    }

    /// Moves past `n` rows of the current leaf (at most up to its end).
    pub(crate) fn advance_in_leaf(&mut self, n: usize) {
        if let Some(top) = self.frames.last_mut()
            && top.node.is_leaf()
        {
            top.idx = (top.idx + n).min(top.node.len());
        }
        self.normalize();
    }

    /// Moves past the current row, or past the pending child.
    pub(crate) fn advance(&mut self) {
        if let Some(top) = self.frames.last_mut() {
            top.idx += 1;
        }
        self.normalize();
    }

    fn normalize(&mut self) {
        while let Some(top) = self.frames.last() {
            if top.idx < top.node.len() {
                break;
            }
            self.frames.pop();
            if let Some(parent) = self.frames.last_mut() {
                parent.idx += 1;
            }
        }
    }

    /// Levels `(lo, hi)` of the nodes (loaded or pending) whose first row is the position.
    pub(crate) fn aligned_levels(&self) -> Option<(u8, u8)> {
        let top = self.frames.last()?;
        let lo = if top.node.is_leaf() {
            if top.idx != 0 {
                return None;
            }
            0
        } else {
            top.node.level() - 1
        };
        let mut hi = lo;
        for f in self.frames.iter().rev() {
            if f.idx != 0 {
                break;
            }
            hi = f.node.level();
        }
        Some((lo, hi))
    }

    /// Id of the aligned node at `level` (within [`Cursor::aligned_levels`]).
    pub(crate) fn id_at(&self, level: u8) -> Option<NodeId> {
        let top = self.frames.last()?;
        if !top.node.is_leaf() && level + 1 == top.node.level() {
            return Some(top.node.child(top.idx));
        }
        let root_level = self.frames[0].node.level();
        let d = usize::from(root_level.checked_sub(level)?);
        self.frames.get(d).map(|f| f.id)
    }

    /// Moves past the whole subtree of the aligned node at `level`.
    pub(crate) fn skip(&mut self, level: u8) {
        let Some(top) = self.frames.last() else {
            return;
        };
        if !top.node.is_leaf() && level + 1 == top.node.level() {
            self.advance();
            return;
        }
        let root_level = self.frames[0].node.level();
        let d = usize::from(root_level.saturating_sub(level));
        self.frames.truncate(d);
        self.advance();
    }
}

enum RowsState {
    Start(NodeId, Bound<Vec<u8>>),
    Running(Cursor),
    Done,
}

/// An iterator over rows of a tree in key order, from [`NodeStore::scan`] or
/// [`NodeStore::range`]. Yields an error at most once, then ends.
pub struct Rows {
    ns: NodeStore,
    state: RowsState,
    end: Bound<Vec<u8>>,
}

impl Rows {
    fn step(&mut self) -> Result<Option<Row>> {
        if let RowsState::Start(root, start) = &self.state {
            let c = match start {
                Bound::Unbounded => Cursor::at_start(&self.ns, *root)?,
                Bound::Included(k) => Cursor::seek(&self.ns, *root, k, true)?,
                Bound::Excluded(k) => Cursor::seek(&self.ns, *root, k, false)?,
            };
            self.state = RowsState::Running(c);
        }
        let RowsState::Running(c) = &mut self.state else {
            return Ok(None);
        };
        c.descend_to_row(&self.ns)?;
        let Some(row) = c.row() else {
            return Ok(None);
        };
        let past_end = match &self.end {
            Bound::Unbounded => false,
            Bound::Included(k) => row.key() > k.as_slice(),
            Bound::Excluded(k) => row.key() >= k.as_slice(),
        };
        if past_end {
            return Ok(None);
        }
        c.advance();
        Ok(Some(row))
    }
}

impl Iterator for Rows {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.state = RowsState::Done;
                None
            }
            Err(e) => {
                self.state = RowsState::Done;
                Some(Err(e))
            }
        }
    }
}
