//! Content-defined chunking: the key hash, the boundary rule, and node encoding.
//!
//! A node ends after an entry when (checked in order) the node holds `max_entries` entries,
//! or its entry weights sum to at least `max_bytes`, or it holds at least `min_entries`
//! entries and `key_hash(key, level) < threshold`. Only keys (and the level) are hashed, so
//! editing a value never moves a boundary unless `max_bytes` is involved.

use crate::error::Result;
use crate::id::{ID_LEN, NodeId, ObjectId};
use crate::object::{FORMAT_VERSION, Kind};
use crate::store::{TRAIN_MAX_LEAVES, TRAIN_MIN_BYTES, TRAIN_MIN_LEAVES};

use super::NodeStore;
use super::node::{CHILD_ENTRY_LEN, Node, write_varint};

/// Parameters of the boundary rule. Changing any of them changes node ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkParams {
    /// No hash-decided boundary before this many entries.
    pub min_entries: u32,
    /// A node always ends at this many entries.
    pub max_entries: u32,
    /// A node always ends once its entry weights reach this many bytes.
    pub max_bytes: u64,
    /// A boundary falls after an entry whose key hash is below this.
    pub threshold: u64,
}

/// The format's chunking parameters: about 111 entries (~4 KiB of 35-byte rows) per node.
pub(crate) const DEFAULT_PARAMS: ChunkParams = ChunkParams {
    min_entries: 16,
    max_entries: 1024,
    max_bytes: 64 * 1024,
    // floor(2^64 / 96): one boundary per 96 entries on average past the minimum.
    threshold: 0x02AA_AAAA_AAAA_AAAA,
};

const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;
const HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

/// murmur3's 64-bit finalizer.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The chunking hash of a key at a level (specified in `objects_format.md`).
pub(crate) fn key_hash(key: &[u8], level: u8) -> u64 {
    let mut h = HASH_SEED ^ u64::from(level).wrapping_mul(HASH_MUL) ^ key.len() as u64;
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(HASH_MUL);
        h ^= h >> 29;
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(HASH_MUL);
        h ^= h >> 29;
    }
    fmix64(h)
}

/// Canonical bytes of the empty leaf (an empty table's root).
pub(crate) fn empty_leaf_bytes() -> Vec<u8> {
    vec![Kind::Node as u8, FORMAT_VERSION, 0, 0]
}

/// Entries of the node being filled at one level.
pub(crate) struct LevelChunker {
    level: u8,
    keys: Vec<u8>,
    key_ends: Vec<u32>,
    vals: Vec<u8>,
    val_ends: Vec<u32>,
    weight: u64,
    rows: u64,
}

impl LevelChunker {
    /// An empty chunker for `level`.
    pub(crate) fn new(level: u8) -> Self {
        LevelChunker {
            level,
            keys: Vec::new(),
            key_ends: Vec::new(),
            vals: Vec::new(),
            val_ends: Vec::new(),
            weight: 0,
            rows: 0,
        }
    }

    /// Whether no entry is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.key_ends.is_empty()
    }

    /// Appends an entry; returns whether the node must end after it.
    ///
    /// For internal levels `val` is a child entry: id then row count (u64 LE).
    pub(crate) fn push(&mut self, key: &[u8], val: &[u8], p: &ChunkParams) -> bool {
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len() as u32);
        self.vals.extend_from_slice(val);
        self.val_ends.push(self.vals.len() as u32);
        self.weight += (key.len() + val.len()) as u64;
        self.rows += if self.level == 0 {
            1
        } else {
            let mut c = [0u8; 8];
            c.copy_from_slice(&val[ID_LEN..CHILD_ENTRY_LEN]);
            u64::from_le_bytes(c)
        };
        let n = self.key_ends.len() as u64;
        n >= u64::from(p.max_entries)
            || self.weight >= p.max_bytes
            || (n >= u64::from(p.min_entries) && key_hash(key, self.level) < p.threshold)
    }

    /// Encodes the pending entries as a node, hands it to `sink` and resets.
    ///
    /// Returns the node's id and row count.
    pub(crate) fn cut(&mut self, sink: &mut NodeSink) -> Result<(NodeId, u64)> {
        let n = self.key_ends.len();
        let mut out = Vec::with_capacity(16 + 3 * n + self.keys.len() + self.vals.len());
        out.push(Kind::Node as u8);
        out.push(FORMAT_VERSION);
        out.push(self.level);
        write_varint(&mut out, n as u64);
        let mut prev = 0u32;
        for &e in &self.key_ends {
            write_varint(&mut out, u64::from(e - prev));
            prev = e;
        }
        out.extend_from_slice(&self.keys);
        if self.level == 0 {
            let mut prev = 0u32;
            for &e in &self.val_ends {
                write_varint(&mut out, u64::from(e - prev));
                prev = e;
            }
            out.extend_from_slice(&self.vals);
        } else {
            for entry in self.vals.chunks_exact(CHILD_ENTRY_LEN) {
                out.extend_from_slice(&entry[..ID_LEN]);
            }
            for entry in self.vals.chunks_exact(CHILD_ENTRY_LEN) {
                let mut c = [0u8; 8];
                c.copy_from_slice(&entry[ID_LEN..]);
                write_varint(&mut out, u64::from_le_bytes(c));
            }
        }
        let id = NodeId::new(ObjectId::hash(&out));
        let rows = self.rows;
        self.keys.clear();
        self.key_ends.clear();
        self.vals.clear();
        self.val_ends.clear();
        self.weight = 0;
        self.rows = 0;
        sink.push(id, out)?;
        Ok((id, rows))
    }
}

/// The chunker value of a child entry.
pub(crate) fn child_entry(id: NodeId, rows: u64) -> [u8; CHILD_ENTRY_LEN] {
    let mut v = [0u8; CHILD_ENTRY_LEN];
    v[..ID_LEN].copy_from_slice(id.id().as_bytes());
    v[ID_LEN..].copy_from_slice(&rows.to_le_bytes());
    v
}

/// Pending node writes, flushed to the store in batches and added to the node cache.
///
/// Full batches go to a queue that a background thread frames (zstd) and writes while
/// chunking goes on; [`NodeSink::flush`] has this thread help drain the queue, so framing,
/// which costs more than chunking, runs on two threads. Small rewrites never start the
/// thread.
pub(crate) struct NodeSink {
    ns: NodeStore,
    pending: Vec<(ObjectId, Vec<u8>)>,
    bytes: usize,
    cached_leaf_bytes: usize,
    leaf_cache_limit: usize,
    /// The background framer and writer, started with the first full batch.
    pipeline: Option<Pipeline>,
    /// Bulk builds: the background writer flushes the store after this many batches, so
    /// that the store's indexing of the new nodes (which a flush does) overlaps the build
    /// instead of following it.
    flush_every: Option<usize>,
    /// Bulk builds: the first batch may train the store's dictionary (see
    /// [`NodeSink::maybe_train`]).
    train: bool,
}

/// Share of the node cache budget that one edit's new leaves may take (as canonical bytes,
/// about 4/5 of their cached size). A quarter leaves at least another quarter for the old
/// tree's nodes that the rewrite reads, since the cache keeps the latest half of its budget;
/// and with the default budget it keeps every leaf of a 10,000-row spread update of a 1M-row
/// table, so a diff right after the update reads nothing from the store.
const LEAF_CACHE_SHARE: usize = 4;

/// Canonical bytes per queued batch (about 250 leaves).
///
/// Small enough that the queue left at [`NodeSink::flush`] splits evenly between the two
/// threads draining it; large enough that queue handoffs cost nothing.
const SINK_BATCH_BYTES: usize = 1 << 20;

/// Batches a bulk build's background writer writes between store flushes (about 1,000
/// leaves): few enough flushes that their syncs cost little, and a short tail of index
/// entries for the final flush.
const BULK_FLUSH_BATCHES: usize = 4;

/// Batches queued for the background thread at most; past this the chunking thread frames
/// and writes batches too.
const MAX_QUEUED_BATCHES: usize = 4;

/// Batches queued at most while the background writer flushes the store (its sync can take
/// a while; this bounds the memory held meanwhile).
const MAX_QUEUED_WHILE_FLUSHING: usize = 16;

type Batch = Vec<(ObjectId, Vec<u8>)>;

/// Whether a node's canonical bytes (object header, then the level byte) are a leaf's.
fn is_leaf(canonical: &[u8]) -> bool {
    canonical.get(2) == Some(&0)
}

/// The queue of batches to frame and write, shared with the background thread.
struct PipeState {
    queue: std::collections::VecDeque<Batch>,
    closed: bool,
    /// The background writer is flushing the store: writes wait for the store until it is
    /// done, so the chunking thread does not help write meanwhile (see `queue_pending`).
    flushing: bool,
    /// The first write error; later batches are dropped.
    error: Option<crate::Error>,
}

struct Pipe {
    state: std::sync::Mutex<PipeState>,
    ready: std::sync::Condvar,
}

impl Pipe {
    fn lock(&self) -> std::sync::MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Frames and writes queued batches until the queue is empty (and, when `wait`, until it
    /// is closed too); after every `flush_every` batches (if given) it flushes the store.
    fn drain(&self, ns: &NodeStore, wait: bool, flush_every: Option<usize>) {
        let mut unflushed = 0usize;
        loop {
            let batch = {
                let mut st = self.lock();
                loop {
                    if let Some(b) = st.queue.pop_front() {
                        break Some(b);
                    }
                    if st.closed || !wait {
                        break None;
                    }
                    st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            };
            let Some(batch) = batch else { return };
            self.write(ns, batch);
            unflushed += 1;
            if flush_every.is_some_and(|n| unflushed >= n) {
                unflushed = 0;
                self.lock().flushing = true;
                let flushed = ns.store().flush();
                let mut st = self.lock();
                st.flushing = false;
                if let Err(e) = flushed {
                    st.error.get_or_insert(e);
                    st.queue.clear();
                }
            }
        }
    }

    /// Frames and writes one batch, recording a failure.
    fn write(&self, ns: &NodeStore, batch: Batch) {
        let written = ns.store().framer().and_then(|framer| {
            let framed: Batch = batch.iter().map(|(id, c)| (*id, framer.frame(c))).collect();
            drop(batch);
            ns.store().backend().put_stored_batch(framed)
        });
        if let Err(e) = written {
            let mut st = self.lock();
            st.error.get_or_insert(e);
            st.queue.clear();
        }
    }
}

struct Pipeline {
    pipe: std::sync::Arc<Pipe>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Pipeline {
    /// Closes the queue and waits for the background thread.
    fn close(&mut self) {
        self.pipe.lock().closed = true;
        self.pipe.ready.notify_all();
        if let Some(h) = self.worker.take() {
            // A panicking writer leaves its batch unwritten; `flush` reports that below.
            if h.join().is_err() {
                self.pipe
                    .lock()
                    .error
                    .get_or_insert(crate::Error::Storage("node writer thread panicked".into()));
            }
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // A sink dropped without a flush (after an error) stops the writer: unwritten nodes
        // are dropped, written ones are harmless. After a flush this does nothing.
        if self.worker.is_some() {
            self.pipe.lock().queue.clear();
            self.close();
        }
    }
}

impl NodeSink {
    /// A sink writing into `ns`.
    pub(crate) fn new(ns: &NodeStore) -> Self {
        NodeSink {
            ns: ns.clone(),
            pending: Vec::new(),
            bytes: 0,
            cached_leaf_bytes: 0,
            leaf_cache_limit: ns.cache_budget() / LEAF_CACHE_SHARE,
            pipeline: None,
            flush_every: None,
            train: false,
        }
    }

    /// A sink for bulk builds: it caches every node it writes (the build reads nothing), and
    /// its writer flushes the store every [`BULK_FLUSH_BATCHES`] batches.
    pub(crate) fn caching_all(ns: &NodeStore) -> Self {
        NodeSink {
            leaf_cache_limit: usize::MAX,
            flush_every: Some(BULK_FLUSH_BATCHES),
            train: true,
            ..NodeSink::new(ns)
        }
    }

    /// Queues a node's canonical bytes (the id must be their hash).
    ///
    /// Nothing reads queued nodes from the store before [`NodeSink::flush`]; they are in
    /// the node cache (within its limits) right away.
    pub(crate) fn push(&mut self, id: NodeId, canonical: Vec<u8>) -> Result<()> {
        self.cache_new(id, &canonical);
        self.bytes += canonical.len();
        self.pending.push((id.id(), canonical));
        if self.bytes >= SINK_BATCH_BYTES {
            self.queue_pending()?;
        }
        Ok(())
    }

    /// Adds a new node to the cache, unless it is a leaf past this sink's leaf limit or
    /// the store keeps leaves out of the cache.
    fn cache_new(&mut self, id: NodeId, canonical: &[u8]) {
        // Leaves of a large rewrite beyond the limit are not cached: they would evict the
        // old tree's nodes that the rest of the rewrite still has to read. Internal nodes
        // always are.
        if is_leaf(canonical) {
            if !self.ns.cache_leaves || self.cached_leaf_bytes >= self.leaf_cache_limit {
                return;
            }
            self.cached_leaf_bytes += canonical.len();
        }
        // These bytes were encoded by `LevelChunker::cut` just now; copying them is cheaper
        // than any other way of sharing them with the framing thread.
        if let Ok(node) = Node::parse(canonical.to_vec(), 2, false) {
            self.ns.cache_insert(id, node);
        }
    }

    /// A bulk build into a store without a dictionary trains one from its first batch's
    /// leaves before any node is framed, so the whole tree is compressed with it (only once
    /// per build, and only from enough leaves to learn from).
    fn maybe_train(&mut self, batch: &[(ObjectId, Vec<u8>)]) -> Result<()> {
        if !std::mem::replace(&mut self.train, false) {
            return Ok(());
        }
        let leaves: Vec<&[u8]> = batch
            .iter()
            .filter(|(_, c)| is_leaf(c))
            .map(|(_, c)| c.as_slice())
            .take(TRAIN_MAX_LEAVES)
            .collect();
        let bytes: usize = leaves.iter().map(|l| l.len()).sum();
        if leaves.len() < TRAIN_MIN_LEAVES || bytes < TRAIN_MIN_BYTES {
            return Ok(());
        }
        let store = self.ns.store();
        if store.active_dictionary()?.is_none() {
            store.train_dictionary(&leaves)?;
        }
        Ok(())
    }

    /// Hands the pending nodes to the background framer, starting it if needed.
    fn queue_pending(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.pending);
        self.maybe_train(&batch)?;
        self.bytes = 0;
        if self.pipeline.is_none() {
            let pipe = std::sync::Arc::new(Pipe {
                state: std::sync::Mutex::new(PipeState {
                    queue: Default::default(),
                    closed: false,
                    flushing: false,
                    error: None,
                }),
                ready: std::sync::Condvar::new(),
            });
            let (worker_pipe, ns) = (std::sync::Arc::clone(&pipe), self.ns.clone());
            let flush_every = self.flush_every;
            let worker = std::thread::Builder::new()
                .name("kodiak-node-writer".into())
                .spawn(move || worker_pipe.drain(&ns, true, flush_every))
                .map_err(|e| {
                    crate::Error::Storage(format!("cannot start a node writer thread: {e}"))
                })?;
            self.pipeline = Some(Pipeline {
                pipe,
                worker: Some(worker),
            });
        }
        if let Some(p) = &self.pipeline {
            let mut st = p.pipe.lock();
            if let Some(e) = st.error.take() {
                return Err(e);
            }
            st.queue.push_back(batch);
            drop(st);
            p.pipe.ready.notify_one();
            // Chunking outpaces framing and writing: rather than let the queue (memory)
            // grow, this thread frames and writes the oldest batches itself.
            loop {
                let oldest = {
                    let mut st = p.pipe.lock();
                    // While the writer flushes, a write here would only wait for it:
                    // keep chunking instead, up to a bound on the queue.
                    let limit = if st.flushing {
                        MAX_QUEUED_WHILE_FLUSHING
                    } else {
                        MAX_QUEUED_BATCHES
                    };
                    if st.queue.len() <= limit {
                        break;
                    }
                    st.queue.pop_front()
                };
                if let Some(b) = oldest {
                    p.pipe.write(&self.ns, b);
                }
            }
        }
        Ok(())
    }

    /// Writes every queued node and waits until all writes are in the store.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let Some(mut p) = self.pipeline.take() else {
            // Small rewrites: frame (on two threads when large enough) and write here.
            let pending = std::mem::take(&mut self.pending);
            self.bytes = 0;
            if pending.is_empty() {
                return Ok(());
            }
            self.maybe_train(&pending)?;
            let framed = self.ns.frame_nodes(&pending)?;
            drop(pending);
            return self.ns.store().backend().put_stored_batch(framed);
        };
        // Split the last nodes in two so both threads share them.
        let mut rest = std::mem::take(&mut self.pending);
        self.bytes = 0;
        {
            let mut st = p.pipe.lock();
            if rest.len() >= 2 {
                let second = rest.split_off(rest.len() / 2);
                st.queue.push_back(rest);
                st.queue.push_back(second);
            } else if !rest.is_empty() {
                st.queue.push_back(rest);
            }
        }
        p.pipe.ready.notify_all();
        p.pipe.drain(&self.ns, false, None);
        p.close();
        let error = p.pipe.lock().error.take();
        error.map_or(Ok(()), Err)
    }
}

struct LevelState {
    chunker: LevelChunker,
    emitted: u64,
    last: Option<NodeId>,
}

/// A stack of level chunkers building a tree bottom-up from a sorted entry stream.
pub(crate) struct LevelStack {
    base: u8,
    levels: Vec<LevelState>,
    params: ChunkParams,
}

impl LevelStack {
    /// A stack whose lowest level is `base`.
    pub(crate) fn new(base: u8, params: ChunkParams) -> Self {
        LevelStack {
            base,
            levels: Vec::new(),
            params,
        }
    }

    fn level(&mut self, idx: usize) -> Result<&mut LevelState> {
        while self.levels.len() <= idx {
            let level = usize::from(self.base) + self.levels.len();
            let level = u8::try_from(level)
                .map_err(|_| crate::Error::Invalid("prolly tree exceeds 255 levels".into()))?;
            self.levels.push(LevelState {
                chunker: LevelChunker::new(level),
                emitted: 0,
                last: None,
            });
        }
        Ok(&mut self.levels[idx])
    }

    /// Appends an entry at `base + idx`; completed nodes propagate upwards.
    pub(crate) fn add(
        &mut self,
        sink: &mut NodeSink,
        idx: usize,
        key: &[u8],
        val: &[u8],
    ) -> Result<()> {
        let params = self.params;
        let st = self.level(idx)?;
        if st.chunker.push(key, val, &params) {
            let (id, rows) = st.chunker.cut(sink)?;
            st.emitted += 1;
            st.last = Some(id);
            self.add(sink, idx + 1, key, &child_entry(id, rows))?;
        }
        Ok(())
    }

    /// Ends every level and returns the root: the lowest level holding a single node.
    pub(crate) fn finish(mut self, sink: &mut NodeSink) -> Result<NodeId> {
        let mut idx = 0;
        loop {
            self.level(idx)?;
            let st = &mut self.levels[idx];
            if st.emitted == 0 {
                // Every entry of this level is pending: they form its only node.
                if st.chunker.is_empty() {
                    let bytes = empty_leaf_bytes();
                    let id = NodeId::new(ObjectId::hash(&bytes));
                    sink.push(id, bytes)?;
                    return Ok(id);
                }
                return Ok(st.chunker.cut(sink)?.0);
            }
            if !st.chunker.is_empty() {
                let last_key = st.chunker.last_key().to_vec();
                let (id, rows) = st.chunker.cut(sink)?;
                st.emitted += 1;
                st.last = Some(id);
                self.add(sink, idx + 1, &last_key, &child_entry(id, rows))?;
            }
            let st = &self.levels[idx];
            if st.emitted == 1
                && let Some(id) = st.last
            {
                return Ok(id);
            }
            idx += 1;
        }
    }
}

impl LevelChunker {
    /// Key of the last pending entry (empty if none).
    pub(crate) fn last_key(&self) -> &[u8] {
        let n = self.key_ends.len();
        if n == 0 {
            return &[];
        }
        let start = if n >= 2 {
            self.key_ends[n - 2] as usize
        } else {
            0
        };
        &self.keys[start..self.key_ends[n - 1] as usize]
    }
}

/// Builds a tree from rows pushed in strictly ascending key order.
pub struct TreeBuilder {
    stack: LevelStack,
    sink: NodeSink,
    last_key: Vec<u8>,
    rows: u64,
}

impl TreeBuilder {
    pub(crate) fn new(ns: &NodeStore) -> Self {
        TreeBuilder {
            stack: LevelStack::new(0, ns.params()),
            sink: NodeSink::caching_all(ns),
            last_key: Vec::new(),
            rows: 0,
        }
    }

    /// Appends a row; its key must be greater than every key pushed before.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if self.rows > 0 && key <= self.last_key.as_slice() {
            return Err(crate::Error::Invalid(format!(
                "row {} of a bulk build: key {} is not greater than the previous key {}",
                self.rows,
                crate::id::hex_encode(key),
                crate::id::hex_encode(&self.last_key)
            )));
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.rows += 1;
        self.stack.add(&mut self.sink, 0, key, value)
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the remaining nodes and returns the root id.
    pub fn finish(mut self) -> Result<NodeId> {
        let root = self.stack.finish(&mut self.sink)?;
        self.sink.flush()?;
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::error::Result;
    use crate::id::ObjectId;
    use crate::store::{MemoryStore, ObjectStore, Store};
    use crate::table::NodeStore;

    /// A memory store counting flushes; flushes take `delay` and fail when `fail` is set.
    struct Flushes {
        inner: MemoryStore,
        count: AtomicUsize,
        fail: bool,
        delay: std::time::Duration,
    }

    impl Flushes {
        fn new(fail: bool, delay: std::time::Duration) -> Arc<Flushes> {
            Arc::new(Flushes {
                inner: MemoryStore::new(),
                count: AtomicUsize::new(0),
                fail,
                delay,
            })
        }
    }

    impl ObjectStore for Flushes {
        fn get_stored(&self, id: &ObjectId) -> Result<Option<Vec<u8>>> {
            self.inner.get_stored(id)
        }
        fn has(&self, id: &ObjectId) -> Result<bool> {
            self.inner.has(id)
        }
        fn put_stored_batch(&self, items: Vec<(ObjectId, Vec<u8>)>) -> Result<()> {
            self.inner.put_stored_batch(items)
        }
        fn ids(&self) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
            self.inner.ids()
        }
        fn ids_with_prefix(
            &self,
            prefix: &[u8],
        ) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
            self.inner.ids_with_prefix(prefix)
        }
        fn remove(&self, id: &ObjectId) -> Result<()> {
            self.inner.remove(id)
        }
        fn flush(&self) -> Result<()> {
            std::thread::sleep(self.delay);
            self.count.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                return Err(crate::Error::Storage("sync failed".into()));
            }
            self.inner.flush()
        }
    }

    /// Rows of about 1 KB: 24 MB in all, many more sink batches than one flush interval.
    fn rows() -> impl Iterator<Item = ([u8; 4], Vec<u8>)> {
        (0..24_000u32).map(|i| (i.to_be_bytes(), vec![(i % 251) as u8; 1000]))
    }

    #[test]
    fn bulk_builds_flush_the_store_while_building() {
        let plain = NodeStore::new(Store::new(Arc::new(MemoryStore::new())));
        let expected = plain.build(rows()).unwrap_or_else(|e| panic!("{e}"));
        let store = Flushes::new(false, std::time::Duration::ZERO);
        let ns = NodeStore::new(Store::new(store.clone()));
        let root = ns.build(rows()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(root, expected);
        // The build itself flushed: the writer thread wrote most of the ~25 batches.
        assert!(store.count.load(Ordering::SeqCst) >= 1);

        // Slow flushes: the chunking thread queues batches meanwhile instead of writing them;
        // the tree is the same.
        let slow = Flushes::new(false, std::time::Duration::from_millis(30));
        let ns = NodeStore::new(Store::new(slow.clone()));
        assert_eq!(ns.build(rows()).unwrap_or_else(|e| panic!("{e}")), expected);
        assert!(slow.count.load(Ordering::SeqCst) >= 1);

        // A failed flush fails the build.
        let failing = Flushes::new(true, std::time::Duration::ZERO);
        let ns = NodeStore::new(Store::new(failing.clone()));
        let err = ns
            .build(rows())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("sync failed"), "{err}");
    }
}
