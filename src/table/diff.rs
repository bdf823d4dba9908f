//! Two-way and three-way diffs that skip subtrees with equal ids.
//!
//! Two cursors walk the trees in key order. Whenever both stand at the first row of nodes of
//! the same level with the same id, the whole subtree is skipped on both sides without being
//! loaded; otherwise the side with the higher unloaded child descends one level, and at the
//! leaves rows are merged by key. The cost follows the nodes that differ.

use std::cmp::Ordering;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use crate::error::Result;
use crate::id::NodeId;

use super::node::cmp_keys;
use super::{Cursor, Node, NodeStore, Row};

/// A row that differs between two trees: at least one side is present.
#[derive(Clone, Debug)]
pub struct DiffRow {
    /// The row in the old tree, if it exists there.
    pub old: Option<Row>,
    /// The row in the new tree, if it exists there.
    pub new: Option<Row>,
}

impl DiffRow {
    /// The row's key.
    pub fn key(&self) -> &[u8] {
        match (&self.old, &self.new) {
            (Some(r), _) | (None, Some(r)) => r.key(),
            (None, None) => &[],
        }
    }

    /// The old value, if any.
    pub fn old_value(&self) -> Option<&[u8]> {
        self.old.as_ref().map(Row::value)
    }

    /// The new value, if any.
    pub fn new_value(&self) -> Option<&[u8]> {
        self.new.as_ref().map(Row::value)
    }
}

/// Turns the rows of a diff into results on the thread that finds them (see
/// [`NodeStore::diff_map`]).
///
/// A diff split over threads hands each worker a clone. A row's leaves are released as soon as
/// it is mapped, so only the (small, owned) results wait in a worker's queue for the
/// consumer, and the mapping work is spread over the threads.
pub trait RowMap: Clone + Send + 'static {
    /// What a row becomes.
    type Out: Send + 'static;

    /// The result for one changed row; `None` drops the row.
    fn map(&mut self, row: DiffRow) -> Result<Option<Self::Out>>;
}

/// The [`RowMap`] of a plain [`Diff`]: every row as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepRows;

impl RowMap for KeepRows {
    type Out = DiffRow;

    fn map(&mut self, row: DiffRow) -> Result<Option<DiffRow>> {
        Ok(Some(row))
    }
}

enum State {
    Start(NodeId, NodeId),
    Running(Cursor, Cursor),
    /// This thread's range is done; the remaining items come from the workers, in order.
    Draining,
    Done,
}

/// Messages from a worker producing the items of one key range.
enum Msg<T> {
    Items(Vec<T>),
    Err(crate::Error),
    Done,
}

/// Items a worker sends per message.
pub(super) const WORKER_BATCH: usize = 256;

/// Batches a worker may queue ahead of the consumer (about 260k items).
///
/// A worker's range is consumed only after the ranges before it, so the queue must hold
/// most of a range's items for the worker to finish it while the consumer is still busy with
/// the earlier ones; a short queue stalls the worker and serializes the diff. Queued
/// [`DiffRow`]s are 32 bytes each plus the leaves they keep alive, which is why callers that
/// keep only something derived from each row map it in the worker ([`NodeStore::diff_map`]).
pub(super) const WORKER_QUEUE: usize = 1024;

/// Trees whose new root is at least this level are diffed on several threads.
pub(super) const PARALLEL_MIN_LEVEL: u8 = 2;

/// Changed subtrees of the new root must hold at least this many rows for a diff to use
/// several threads: a smaller diff is done before a worker would be up to speed, and each
/// batch a worker hands over costs a thread wakeup.
pub(super) const PARALLEL_MIN_ROWS: u64 = 100_000;

/// Most threads one diff uses.
const MAX_DIFF_THREADS: usize = 4;

/// Threads a diff uses by default: one per core, up to [`MAX_DIFF_THREADS`].
pub(super) fn default_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_DIFF_THREADS)
    })
}

/// A worker thread producing the items of one key range, streaming them back.
struct Worker<T> {
    rx: std::sync::mpsc::Receiver<Msg<T>>,
    handle: std::thread::JoinHandle<()>,
}

/// The workers of a diff split by key ranges: one per range above the consumer's own, in
/// key order, whose items are yielded range after range.
struct Workers<T> {
    workers: std::collections::VecDeque<Worker<T>>,
    pending: std::vec::IntoIter<T>,
    /// Set when the diff is dropped: workers stop at their next item.
    cancel: Arc<AtomicBool>,
}

impl<T: Send + 'static> Workers<T> {
    fn new() -> Self {
        Workers {
            workers: Default::default(),
            pending: Vec::new().into_iter(),
            cancel: Default::default(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.workers.len()
    }

    /// Starts one worker per range `(splits[j], splits[j + 1]]` (the last one unbounded),
    /// each iterating `open(lo, hi)` (which ends after key `hi`); false (and no workers) when
    /// a thread could not be started.
    fn spawn<I, F>(&mut self, splits: &[Vec<u8>], open: F) -> bool
    where
        I: Iterator<Item = Result<T>>,
        F: Fn(&[u8], Option<&[u8]>) -> Result<I> + Clone + Send + 'static,
    {
        for (j, lo) in splits.iter().enumerate() {
            let (tx, rx) = std::sync::mpsc::sync_channel(WORKER_QUEUE);
            let lo = lo.clone();
            let hi = splits.get(j + 1).cloned();
            let cancel = Arc::clone(&self.cancel);
            let open = open.clone();
            let spawned = std::thread::Builder::new()
                .name("kodiak-diff".into())
                .spawn(move || range_worker(|| open(&lo, hi.as_deref()), &cancel, tx));
            match spawned {
                Ok(handle) => self.workers.push_back(Worker { rx, handle }),
                Err(_) => {
                    self.stop();
                    return false;
                }
            }
        }
        true
    }

    /// Stops the workers and waits for them to end.
    fn stop(&mut self) {
        self.cancel.store(true, AtomicOrdering::Relaxed);
        // Disconnect every worker before joining any: a worker blocked on a full queue
        // wakes up with a send error and returns.
        let handles: Vec<_> = self.workers.drain(..).map(|w| w.handle).collect();
        for h in handles {
            // A worker that panicked has nothing left to clean up.
            let _ = h.join();
        }
    }

    /// The next item from the workers, in range order.
    fn next(&mut self) -> Result<Option<T>> {
        loop {
            if let Some(item) = self.pending.next() {
                return Ok(Some(item));
            }
            let Some(w) = self.workers.front() else {
                return Ok(None);
            };
            match w.rx.recv() {
                Ok(Msg::Items(items)) => self.pending = items.into_iter(),
                Ok(Msg::Err(e)) => {
                    self.stop();
                    return Err(e);
                }
                Ok(Msg::Done) => {
                    if let Some(w) = self.workers.pop_front() {
                        // The worker has sent its last message and is returning.
                        let _ = w.handle.join();
                    }
                }
                Err(_) => {
                    self.stop();
                    return Err(crate::Error::Storage("a diff worker thread stopped".into()));
                }
            }
        }
    }
}

impl<T> Drop for Workers<T> {
    fn drop(&mut self) {
        self.cancel.store(true, AtomicOrdering::Relaxed);
        let handles: Vec<_> = self.workers.drain(..).map(|w| w.handle).collect();
        for h in handles {
            let _ = h.join();
        }
    }
}

/// Iterates the items `open` gives (one key range's, ending with its range) and sends them
/// to `tx` in batches; an error follows the items before it, as a one-thread diff yields
/// them.
fn range_worker<T, I: Iterator<Item = Result<T>>>(
    open: impl FnOnce() -> Result<I>,
    cancel: &AtomicBool,
    tx: std::sync::mpsc::SyncSender<Msg<T>>,
) {
    let mut batch = Vec::with_capacity(WORKER_BATCH);
    let run = || -> Result<bool> {
        for item in open()? {
            let item = item?;
            if cancel.load(AtomicOrdering::Relaxed) {
                return Ok(false);
            }
            batch.push(item);
            if batch.len() == WORKER_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(WORKER_BATCH));
                if tx.send(Msg::Items(full)).is_err() {
                    // The consumer dropped the diff.
                    return Ok(false);
                }
            }
        }
        Ok(true)
    };
    let msg = match run() {
        Ok(true) => Msg::Done,
        // Cancelled, or the consumer is gone.
        Ok(false) => return,
        Err(e) => Msg::Err(e),
    };
    if !batch.is_empty() && tx.send(Msg::Items(batch)).is_err() {
        return;
    }
    // A send error means the consumer is gone; nothing is left to report to.
    let _ = tx.send(msg);
}

/// Keys cutting the tree under `root` into up to `threads` ranges of about equal row counts,
/// each holding a root child flagged in `changed`; empty when one thread should do it all.
///
/// A range runs from just above one key to the next key inclusive. Each key is the last
/// key of a leaf, so leaves (and the cursors' skips) line up with the cuts.
pub(super) fn split_points(
    ns: &NodeStore,
    root: &Arc<Node>,
    changed: &[bool],
    threads: usize,
    min_rows: u64,
) -> Result<Vec<Vec<u8>>> {
    let changed_rows: u64 = (0..root.len())
        .filter(|&i| changed[i])
        .map(|i| root.child_rows(i))
        .sum();
    if changed.iter().filter(|c| **c).count() < 2 || changed_rows < min_rows {
        // Changes within one subtree (or only deletions), or a small diff.
        return Ok(Vec::new());
    }
    let total = root.row_count();
    let parts = threads as u64;
    let mut keys: Vec<(usize, Vec<u8>)> = Vec::new();
    for j in 1..parts {
        let (child, key) = leaf_end_at_rank(ns, root, total * j / parts)?;
        if keys.last().is_none_or(|(_, k)| *k < key) {
            keys.push((child, key));
        }
    }
    // Merge ranges without a changed root child into a neighbour: such a worker would
    // only walk shared subtrees.
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut lo_child = 0usize;
    for (child, key) in keys {
        if changed[lo_child..=child].iter().any(|c| *c) {
            out.push(key);
            // The child holding the cut is shared by both ranges.
            lo_child = child;
        }
    }
    if !changed[lo_child..].iter().any(|c| *c) {
        out.pop();
    }
    Ok(out)
}

/// Per child of `root`, whether `other` lacks it among its root's children (every child
/// counts as changed when the roots differ in level).
pub(super) fn changed_children(ns: &NodeStore, root: &Node, other: NodeId) -> Result<Vec<bool>> {
    let other = ns.load(other)?;
    let children: std::collections::BTreeSet<NodeId> = if other.level() == root.level() {
        (0..other.len()).map(|i| other.child(i)).collect()
    } else {
        Default::default()
    };
    Ok((0..root.len())
        .map(|i| !children.contains(&root.child(i)))
        .collect())
}

/// The stream of rows that differ between two trees, in key order, from [`NodeStore::diff`].
/// Yields an error at most once, then ends.
///
/// See [`MapDiff`] for how large diffs use several threads.
pub type Diff = MapDiff<KeepRows>;

/// The rows that differ between two trees, in key order, each turned into at most one item
/// by a [`RowMap`], from [`NodeStore::diff_map`]. Yields an error at most once, then ends.
///
/// Large trees with changes spread over the new root's children are diffed on up to one
/// thread per core: the key space is cut into ranges of about equal row counts, this
/// iterator diffs (and maps) the first range itself, and a worker per other range diffs
/// and maps its rows with its own clone of the map and streams the results back; they are
/// yielded range after range. Dropping the iterator stops and joins the workers.
pub struct MapDiff<M: RowMap> {
    ns: NodeStore,
    /// Reads the new tree (the same store, perhaps keeping its leaves out of the cache).
    new_ns: NodeStore,
    state: State,
    /// Rows with keys above this bound belong to the workers (or, in a worker, to the next
    /// range).
    hi: Option<Vec<u8>>,
    /// Workers for the ranges above `hi`, in key order.
    workers: Workers<M::Out>,
    /// Threads this diff may use (1: no workers).
    threads: usize,
    /// See [`PARALLEL_MIN_ROWS`].
    min_split_rows: u64,
    map: M,
}

impl Diff {
    pub(crate) fn new(ns: NodeStore, old: NodeId, new: NodeId) -> Self {
        MapDiff::mapped(ns, old, new, KeepRows)
    }

    /// A one-thread diff of the rows with keys above `lo`, reading the new tree through
    /// `new_ns`.
    pub(super) fn after(
        ns: NodeStore,
        new_ns: NodeStore,
        old: NodeId,
        new: NodeId,
        lo: &[u8],
    ) -> Result<Self> {
        MapDiff::range(ns, new_ns, old, new, lo, None, KeepRows)
    }
}

impl<M: RowMap> MapDiff<M> {
    pub(crate) fn mapped(ns: NodeStore, old: NodeId, new: NodeId, map: M) -> Self {
        let state = if old == new {
            State::Done
        } else {
            State::Start(old, new)
        };
        MapDiff {
            new_ns: ns.clone(),
            ns,
            state,
            hi: None,
            workers: Workers::new(),
            threads: default_threads(),
            min_split_rows: PARALLEL_MIN_ROWS,
            map,
        }
    }

    /// A one-thread diff of the rows with keys in `(lo, hi]` (`hi` `None`: to the end),
    /// reading the new tree through `new_ns`.
    fn range(
        ns: NodeStore,
        new_ns: NodeStore,
        old: NodeId,
        new: NodeId,
        lo: &[u8],
        hi: Option<&[u8]>,
        map: M,
    ) -> Result<Self> {
        let a = Cursor::seek(&ns, old, lo, false)?;
        let b = Cursor::seek(&new_ns, new, lo, false)?;
        Ok(MapDiff {
            state: State::Running(a, b),
            threads: 1,
            new_ns,
            hi: hi.map(<[u8]>::to_vec),
            ..MapDiff::mapped(ns, old, new, map)
        })
    }

    /// Reads the new tree without caching its leaves: for a tree that is read once.
    fn new_leaves_uncached(mut self) -> Self {
        self.new_ns = self.ns.without_leaf_cache();
        self
    }

    /// Diffs on at most `threads` threads (default: one per core, up to four).
    ///
    /// Takes effect when called before the first row is read.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Splits even small diffs (tests split trees of a few hundred rows).
    #[cfg(test)]
    pub(crate) fn split_small(mut self) -> Self {
        self.min_split_rows = 0;
        self
    }

    /// Workers running or queued (tests check that a split happened).
    #[cfg(test)]
    pub(crate) fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Starts the cursors, handing the upper key ranges to worker threads when the trees are
    /// large and changed in several places.
    fn start(&mut self, old: NodeId, new: NodeId) -> Result<()> {
        if self.threads > 1 {
            let splits = self.split_keys(old, new)?;
            let (ns, new_ns, map) = (self.ns.clone(), self.new_ns.clone(), self.map.clone());
            if self.workers.spawn(&splits, move |lo, hi| {
                MapDiff::range(ns.clone(), new_ns.clone(), old, new, lo, hi, map.clone())
            }) {
                // Without every thread, this one diffs everything.
                self.hi = splits.into_iter().next();
            }
        }
        let a = Cursor::at_start(&self.ns, old)?;
        let b = Cursor::at_start(&self.new_ns, new)?;
        self.state = State::Running(a, b);
        Ok(())
    }

    /// Keys cutting the new tree into up to `threads` ranges (see [`split_points`]), at
    /// the new root's children missing from the old root.
    fn split_keys(&self, old: NodeId, new: NodeId) -> Result<Vec<Vec<u8>>> {
        let ns = &self.ns;
        let root = ns.load(new)?;
        if root.level() < PARALLEL_MIN_LEVEL || root.len() < 2 {
            return Ok(Vec::new());
        }
        let changed = changed_children(ns, &root, old)?;
        split_points(ns, &root, &changed, self.threads, self.min_split_rows)
    }

    fn step(&mut self) -> Result<Option<M::Out>> {
        if let State::Start(old, new) = self.state {
            self.start(old, new)?;
        }
        while let State::Running(..) = self.state {
            match self.step_local()? {
                Some(row) if self.hi.as_ref().is_none_or(|hi| row.key() <= hi.as_slice()) => {
                    if let Some(out) = self.map.map(row)? {
                        return Ok(Some(out));
                    }
                }
                _ => self.state = State::Draining,
            }
        }
        if let State::Draining = self.state {
            return self.workers.next();
        }
        Ok(None)
    }

    fn step_local(&mut self) -> Result<Option<DiffRow>> {
        let State::Running(a, b) = &mut self.state else {
            return Ok(None);
        };
        let (ns, new_ns) = (&self.ns, &self.new_ns);
        loop {
            match (a.is_end(), b.is_end()) {
                (true, true) => return Ok(None),
                (false, true) => {
                    a.descend_to_row(ns)?;
                    let old = a.row();
                    a.advance();
                    return Ok(Some(DiffRow { old, new: None }));
                }
                (true, false) => {
                    b.descend_to_row(new_ns)?;
                    let new = b.row();
                    b.advance();
                    return Ok(Some(DiffRow { old: None, new }));
                }
                (false, false) => {}
            }
            if let (Some((alo, ahi)), Some((blo, bhi))) = (a.aligned_levels(), b.aligned_levels()) {
                let lo = alo.max(blo);
                let mut level = ahi.min(bhi);
                let mut skipped = false;
                while level >= lo {
                    if a.id_at(level).is_some() && a.id_at(level) == b.id_at(level) {
                        a.skip(level);
                        b.skip(level);
                        skipped = true;
                        break;
                    }
                    if level == 0 {
                        break;
                    }
                    level -= 1;
                }
                if skipped {
                    continue;
                }
            }
            match (a.pending_level(), b.pending_level()) {
                (Some(x), Some(y)) => {
                    if x >= y {
                        a.descend_one(ns)?;
                    }
                    if y >= x {
                        b.descend_one(new_ns)?;
                    }
                    continue;
                }
                (Some(_), None) => {
                    a.descend_one(ns)?;
                    continue;
                }
                (None, Some(_)) => {
                    b.descend_one(new_ns)?;
                    continue;
                }
                (None, None) => {}
            }
            let (Some((na, ia)), Some((nb, ib))) = (a.leaf(), b.leaf()) else {
                return Ok(None);
            };
            match cmp_keys(na.key(ia), nb.key(ib)) {
                Ordering::Less => {
                    let old = a.row();
                    a.advance();
                    return Ok(Some(DiffRow { old, new: None }));
                }
                Ordering::Greater => {
                    let new = b.row();
                    b.advance();
                    return Ok(Some(DiffRow { old: None, new }));
                }
                Ordering::Equal => {
                    if na.value(ia) == nb.value(ib) {
                        // Skip this and the following equal rows in bulk: changed leaves
                        // usually differ in a row or two. (Checking this row first keeps
                        // leaves whose rows all changed at one comparison per row.)
                        let run = na.equal_run(ia, nb, ib).max(1);
                        a.advance_in_leaf(run);
                        b.advance_in_leaf(run);
                        continue;
                    }
                    let (old, new) = (a.row(), b.row());
                    a.advance();
                    b.advance();
                    return Ok(Some(DiffRow { old, new }));
                }
            }
        }
    }
}

/// The last key of the leaf holding the row at `rank` (0-based, clamped to the last row) in
/// the tree under `root`, and the index of the root child holding it.
fn leaf_end_at_rank(ns: &NodeStore, root: &Arc<Node>, rank: u64) -> Result<(usize, Vec<u8>)> {
    let mut node = Arc::clone(root);
    let mut rank = rank;
    let mut root_child = None;
    loop {
        // The child holding `rank`, or the last child.
        let mut i = 0;
        while i + 1 < node.len() && rank >= node.child_rows(i) {
            rank -= node.child_rows(i);
            i += 1;
        }
        let child_idx = *root_child.get_or_insert(i);
        if node.level() == 1 {
            return Ok((child_idx, node.key(i).to_vec()));
        }
        node = ns.load_child(&node, i)?.1;
    }
}

impl<M: RowMap> Iterator for MapDiff<M> {
    type Item = Result<M::Out>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.state = State::Done;
                None
            }
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

/// A key where `ours` or `theirs` differs from `base`, with all three versions.
#[derive(Clone, Debug)]
pub struct Diff3Row {
    /// The row in the base tree, if any.
    pub base: Option<Row>,
    /// The row in our tree, if any.
    pub ours: Option<Row>,
    /// The row in their tree, if any.
    pub theirs: Option<Row>,
}

impl Diff3Row {
    /// The row's key.
    pub fn key(&self) -> &[u8] {
        match (&self.base, &self.ours, &self.theirs) {
            (Some(r), _, _) | (None, Some(r), _) | (None, None, Some(r)) => r.key(),
            (None, None, None) => &[],
        }
    }

    /// Whether ours changed the row relative to base.
    pub fn ours_changed(&self) -> bool {
        value_of(&self.base) != value_of(&self.ours)
    }

    /// Whether theirs changed the row relative to base.
    pub fn theirs_changed(&self) -> bool {
        value_of(&self.base) != value_of(&self.theirs)
    }

    /// The same versions holding copies of their bytes instead of their leaves
    /// ([`Row::detach`]).
    fn detach(self) -> Diff3Row {
        Diff3Row {
            base: self.base.map(Row::detach),
            ours: self.ours.map(Row::detach),
            theirs: self.theirs.map(Row::detach),
        }
    }
}

fn value_of(r: &Option<Row>) -> Option<&[u8]> {
    r.as_ref().map(Row::value)
}

/// The two-way diffs a three-way diff merges on one thread.
struct Diffs {
    ours: std::iter::Peekable<Diff>,
    theirs: std::iter::Peekable<Diff>,
}

enum State3 {
    Start {
        base: NodeId,
        ours: NodeId,
        theirs: NodeId,
    },
    Running(Box<Diffs>),
    /// This thread's range is done; the remaining rows come from the workers, in order.
    Draining,
    Done,
}

/// The three-way diff stream from [`NodeStore::diff3`]: a merge of base→ours and base→theirs.
/// Yields an error at most once, then ends.
///
/// Like [`Diff`], large trees with changes spread over the base root's children are split
/// into key ranges of about equal row counts, one per thread (up to one per core): this
/// iterator merges the first range itself and a worker per other range merges its own two
/// diffs; rows are yielded in key order. Each range's worker reads the base leaves both
/// diffs compare, so a leaf is loaded once (the second diff finds it in the cache). Their
/// leaves stay out of the node cache: a merge reads them once, while it rewrites our tree
/// (whose leaves stay cached for that).
pub struct Diff3 {
    ns: NodeStore,
    state: State3,
    /// Rows with keys above this bound belong to the workers.
    hi: Option<Vec<u8>>,
    workers: Workers<Diff3Row>,
    threads: usize,
    min_split_rows: u64,
    /// A worker's rows wait in its queue until the consumer reaches its range: they are
    /// detached from their leaves so as not to keep every changed leaf of the range alive.
    detach: bool,
}

impl Diff3 {
    pub(crate) fn new(ns: NodeStore, base: NodeId, ours: NodeId, theirs: NodeId) -> Self {
        #[cfg(test)]
        let min_split_rows = if ns.split_small { 0 } else { PARALLEL_MIN_ROWS };
        #[cfg(not(test))]
        let min_split_rows = PARALLEL_MIN_ROWS;
        Diff3 {
            ns,
            state: State3::Start { base, ours, theirs },
            hi: None,
            workers: Workers::new(),
            threads: default_threads(),
            min_split_rows,
            detach: false,
        }
    }

    /// A one-thread three-way diff of the rows with keys in `(lo, hi]` (`hi` `None`: to the
    /// end).
    fn range(
        ns: NodeStore,
        [base, ours, theirs]: [NodeId; 3],
        lo: &[u8],
        hi: Option<&[u8]>,
    ) -> Result<Self> {
        let o = Diff::after(ns.clone(), ns.clone(), base, ours, lo)?;
        let t = Diff::after(ns.clone(), ns.without_leaf_cache(), base, theirs, lo)?;
        Ok(Diff3 {
            state: State3::Running(Box::new(Diffs {
                ours: o.peekable(),
                theirs: t.peekable(),
            })),
            threads: 1,
            hi: hi.map(<[u8]>::to_vec),
            detach: true,
            ..Diff3::new(ns, base, ours, theirs)
        })
    }

    /// Diffs on at most `threads` threads (default: one per core, up to four).
    ///
    /// Takes effect when called before the first row is read.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Splits even small diffs (tests split trees of a few hundred rows).
    #[cfg(test)]
    pub(crate) fn split_small(mut self) -> Self {
        self.min_split_rows = 0;
        self
    }

    /// Workers running or queued (tests check that a split happened).
    #[cfg(test)]
    pub(crate) fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Starts the two diffs, handing the upper key ranges to worker threads when the trees
    /// are large and changed in several places.
    fn start(&mut self, base: NodeId, ours: NodeId, theirs: NodeId) -> Result<()> {
        if self.threads > 1 {
            let splits = self.split_keys(base, ours, theirs)?;
            let ns = self.ns.clone();
            if self.workers.spawn(&splits, move |lo, hi| {
                Diff3::range(ns.clone(), [base, ours, theirs], lo, hi)
            }) {
                self.hi = splits.into_iter().next();
            }
        }
        // The ranges are split here: each diff runs on this thread.
        let o = self.ns.diff(base, ours).with_threads(1);
        let t = self
            .ns
            .diff(base, theirs)
            .with_threads(1)
            .new_leaves_uncached();
        self.state = State3::Running(Box::new(Diffs {
            ours: o.peekable(),
            theirs: t.peekable(),
        }));
        Ok(())
    }

    /// Keys cutting the base tree into up to `threads` ranges (see [`split_points`]), at
    /// the base root's children missing from our root or from theirs.
    fn split_keys(&self, base: NodeId, ours: NodeId, theirs: NodeId) -> Result<Vec<Vec<u8>>> {
        let ns = &self.ns;
        let root = ns.load(base)?;
        if root.level() < PARALLEL_MIN_LEVEL || root.len() < 2 {
            return Ok(Vec::new());
        }
        let mut changed = changed_children(ns, &root, ours)?;
        for (c, t) in changed.iter_mut().zip(changed_children(ns, &root, theirs)?) {
            *c |= t;
        }
        split_points(ns, &root, &changed, self.threads, self.min_split_rows)
    }

    fn step(&mut self) -> Result<Option<Diff3Row>> {
        if let State3::Start { base, ours, theirs } = self.state {
            self.start(base, ours, theirs)?;
        }
        if let State3::Running(_) = self.state {
            match self.step_local()? {
                Some(row) if self.hi.as_ref().is_none_or(|hi| row.key() <= hi.as_slice()) => {
                    return Ok(Some(if self.detach { row.detach() } else { row }));
                }
                _ => self.state = State3::Draining,
            }
        }
        if let State3::Draining = self.state {
            return self.workers.next();
        }
        Ok(None)
    }

    /// The next row of the two diffs running on this thread.
    fn step_local(&mut self) -> Result<Option<Diff3Row>> {
        let State3::Running(diffs) = &mut self.state else {
            return Ok(None);
        };
        let Diffs { ours, theirs } = &mut **diffs;
        let ord = match (ours.peek(), theirs.peek()) {
            (None, None) => return Ok(None),
            (Some(Err(_)), _) | (Some(Ok(_)), None) => Ordering::Less,
            (_, Some(Err(_))) | (None, Some(Ok(_))) => Ordering::Greater,
            (Some(Ok(o)), Some(Ok(t))) => o.key().cmp(t.key()),
        };
        Ok(match ord {
            Ordering::Less => ours.next().transpose()?.map(|o| Diff3Row {
                theirs: o.old.clone(),
                base: o.old,
                ours: o.new,
            }),
            Ordering::Greater => theirs.next().transpose()?.map(|t| Diff3Row {
                ours: t.old.clone(),
                base: t.old,
                theirs: t.new,
            }),
            Ordering::Equal => match (ours.next().transpose()?, theirs.next().transpose()?) {
                (Some(o), Some(t)) => Some(Diff3Row {
                    base: o.old,
                    ours: o.new,
                    theirs: t.new,
                }),
                // Both peeked rows were there.
                _ => None,
            },
        })
    }
}

impl Iterator for Diff3 {
    type Item = Result<Diff3Row>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.state = State3::Done;
                None
            }
            Err(e) => {
                self.state = State3::Done;
                Some(Err(e))
            }
        }
    }
}
