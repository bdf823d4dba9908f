//! Structural three-way merge of row trees: equal subtrees decide whole key ranges unread.
//!
//! Three cursors walk the base, our and their trees in key order, positioned at the first row
//! not yet decided. Where two of them stand at the start of nodes of one level with one id,
//! the whole key range up to that node's last key is decided without reading below it: ours
//! equal to base takes their rows there, theirs equal to base takes ours, and (when
//! [`Merge3Rules::ours_eq_theirs`]) ours equal to theirs takes ours. Elsewhere the cursor with
//! the highest unloaded child descends, and at the leaves rows are merged one key at a time.
//!
//! The result is built bottom-up from a stream of rows and whole nodes. A node is taken by
//! id, without reading its rows, only when the result's chunkers of its level and below are
//! empty right before it (every node starts where chunking is empty, and chunking decisions
//! depend only on the entries since the last cut, so chunking its rows from there cuts exactly
//! its nodes) and it is not at the right edge of its tree (whose last cut may be the end of the
//! tree rather than a boundary). Otherwise it is descended and its rows are chunked. So the
//! result is the tree a bulk build of the merged rows gives, and its root id is the same as
//! applying the merge's edits to our tree.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::id::NodeId;

use super::chunk::{ChunkParams, LevelChunker, NodeSink, child_entry, empty_leaf_bytes};
use super::node::cmp_keys;
use super::{Cursor, Node, NodeStore, Row};

/// The decision for one key where base, ours and theirs all differ, from a [`Resolver`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolved<C> {
    /// Our version stays.
    Keep,
    /// The key gets this value.
    Put(Vec<u8>),
    /// The key is removed.
    Delete,
    /// Our version stays, and the key is reported with this conflict.
    Conflict(C),
}

/// Decides the keys a [`merge3`] cannot decide by equality. Shared by the threads of a merge.
pub(crate) trait Resolver: Sync {
    /// What a conflict records.
    type Conflict: Send;

    /// The result for `key` where base, ours and theirs all differ (and, without
    /// [`Merge3Rules::ours_eq_theirs`], where ours and theirs changed it the same way).
    fn resolve(
        &self,
        key: &[u8],
        base: Option<Row>,
        ours: Option<Row>,
        theirs: Option<Row>,
    ) -> Result<Resolved<Self::Conflict>>;

    /// A number summed over the written keys (see [`Merge3::written`]), from our value and
    /// the result (keyless tables sum duplicate counts).
    fn delta(&self, _ours: Option<&[u8]>, _result: Option<&[u8]>) -> Result<i64> {
        Ok(0)
    }
}

/// Which equalities decide a key without the resolver.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Merge3Rules {
    /// A key where ours equals theirs keeps ours (true for keyed tables; keyless tables add
    /// duplicate counts, so there both sides' changes count).
    pub ours_eq_theirs: bool,
}

/// The result of [`merge3`].
#[derive(Clone, Debug)]
pub(crate) struct Merge3<C> {
    /// The merged tree.
    pub root: NodeId,
    /// Rows in the merged tree.
    pub rows: u64,
    /// Keys whose result differs from ours by decision (their change taken, a resolved value
    /// written, or our row deleted), as a three-way diff applied to our tree counts its edits.
    pub written: u64,
    /// The sum of [`Resolver::delta`] over the written keys.
    pub delta: i64,
    /// The conflicts, in key order.
    pub conflicts: Vec<(Vec<u8>, C)>,
}

/// Merges `ours` and `theirs` against `base` (see the module docs), deciding with `r` the
/// keys that equality does not.
///
/// Large trees changed in several places are walked on several threads (one key range per
/// core, cut at the base tree's leaf ends); this thread builds the result from their rows
/// and nodes in key order, and the node writer compresses and writes it.
pub(crate) fn merge3<R: Resolver>(
    ns: &NodeStore,
    base: NodeId,
    ours: NodeId,
    theirs: NodeId,
    rules: Merge3Rules,
    r: &R,
) -> Result<Merge3<R::Conflict>> {
    // Nothing the merge reads is read twice, and the new leaves are not read again.
    let read = ns.without_leaf_cache();
    let roots = [base, ours, theirs];
    let (threads, splits) = split_keys(&read, roots)?;
    let mut out = Out::new(&read);
    let mut acc = Acc::default();
    if splits.is_empty() {
        let mut w = Walk::new(&read, roots, None, None, rules, &mut out)?;
        w.run(r)?;
        w.count_taken(r)?;
        acc = w.acc;
    } else {
        let mut bounds: Vec<Option<Vec<u8>>> = vec![None];
        bounds.extend(splits.into_iter().map(Some));
        let mut rxs = Vec::with_capacity(bounds.len());
        let mut jobs = std::collections::VecDeque::with_capacity(bounds.len());
        for (j, lo) in bounds.iter().enumerate() {
            let (tx, rx) = std::sync::mpsc::sync_channel(super::diff::WORKER_QUEUE);
            let hi = bounds.get(j + 1).cloned().flatten();
            jobs.push_back((lo.clone(), hi, tx));
            rxs.push(rx);
        }
        // Ranges are handed out in key order to whichever worker is free, at most `threads`
        // ranges past the one being built (one of slack, for ranges of uneven work), so
        // only the units of those few ranges wait in queues (with the leaves they keep
        // alive).
        let ahead = threads;
        let jobs = std::sync::Mutex::new(Jobs {
            queue: jobs,
            next: 0,
            built: 0,
            stop: false,
        });
        let turn = std::sync::Condvar::new();
        let lock = || jobs.lock().unwrap_or_else(|p| p.into_inner());
        let halt = || {
            lock().stop = true;
            turn.notify_all();
        };
        std::thread::scope(|s| -> Result<()> {
            for _ in 0..threads.min(bounds.len()) {
                let (read, jobs, turn) = (&read, &jobs, &turn);
                let spawned = std::thread::Builder::new()
                    .name("kodiak-merge".into())
                    .spawn_scoped(s, move || {
                        while let Some((lo, hi, tx)) = Jobs::take(jobs, turn, ahead) {
                            range_worker(read, roots, lo, hi, rules, r, &tx);
                        }
                    });
                if let Err(e) = spawned {
                    halt();
                    return Err(Error::Storage(format!("cannot start a merge thread: {e}")));
                }
            }
            // Dropping the receivers (on an error too) stops the workers.
            let built = (|| {
                for rx in rxs {
                    loop {
                        match rx.recv() {
                            Ok(Msg::Units(units)) => {
                                for u in units {
                                    out.unit(u)?;
                                }
                            }
                            Ok(Msg::Done(a)) => {
                                acc.add(a);
                                break;
                            }
                            Ok(Msg::Err(e)) => return Err(e),
                            Err(_) => return Err(Error::Storage("a merge thread stopped".into())),
                        }
                    }
                    lock().built += 1;
                    turn.notify_all();
                }
                Ok(())
            })();
            if built.is_err() {
                halt();
            }
            built
        })?;
    }
    let rows = out.rows;
    let root = out.finish()?;
    Ok(Merge3 {
        root,
        rows,
        written: acc.written,
        delta: acc.delta,
        conflicts: acc.conflicts,
    })
}

/// The key ranges of a merge not yet walked, in key order.
struct Jobs<C> {
    queue: std::collections::VecDeque<Job<C>>,
    /// Index of the range at the front of `queue`.
    next: usize,
    /// Ranges the builder is done with.
    built: usize,
    /// Set on an error: no more ranges are handed out.
    stop: bool,
}

/// A range `(lo, hi]` to walk and where its units go.
type Job<C> = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    std::sync::mpsc::SyncSender<Msg<C>>,
);

impl<C> Jobs<C> {
    /// The next range for a worker, once it is at most `ahead` ranges past the one being
    /// built; `None` when all are taken or the merge stopped.
    fn take(
        jobs: &std::sync::Mutex<Jobs<C>>,
        turn: &std::sync::Condvar,
        ahead: usize,
    ) -> Option<Job<C>> {
        let mut j = jobs.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if j.stop || j.queue.is_empty() {
                return None;
            }
            if j.next <= j.built + ahead {
                j.next += 1;
                return j.queue.pop_front();
            }
            j = turn.wait(j).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Key ranges per merge thread: a worker done with its range takes the next one in key
/// order, so fewer units wait for the builder than with one range per thread.
const RANGES_PER_THREAD: usize = 32;

/// Threads for the merge and keys cutting the base tree into [`RANGES_PER_THREAD`] key
/// ranges per thread (empty: one thread), at base root children that ours or theirs lack.
fn split_keys(ns: &NodeStore, [base, ours, theirs]: [NodeId; 3]) -> Result<(usize, Vec<Vec<u8>>)> {
    let threads = super::diff::default_threads();
    #[cfg(test)]
    let (threads, min_rows) = if ns.split_small {
        (threads.max(3), 0)
    } else {
        (threads, super::diff::PARALLEL_MIN_ROWS)
    };
    #[cfg(not(test))]
    let min_rows = super::diff::PARALLEL_MIN_ROWS;
    if threads < 2 {
        return Ok((1, Vec::new()));
    }
    let root = ns.load(base)?;
    if root.level() < super::diff::PARALLEL_MIN_LEVEL || root.len() < 2 {
        return Ok((1, Vec::new()));
    }
    let mut changed = super::diff::changed_children(ns, &root, ours)?;
    for (c, t) in changed
        .iter_mut()
        .zip(super::diff::changed_children(ns, &root, theirs)?)
    {
        *c |= t;
    }
    let splits =
        super::diff::split_points(ns, &root, &changed, threads * RANGES_PER_THREAD, min_rows)?;
    Ok((threads, splits))
}

/// Walks the key range `(lo, hi]` and streams its result to `tx`.
fn range_worker<R: Resolver>(
    ns: &NodeStore,
    roots: [NodeId; 3],
    lo: Option<Vec<u8>>,
    hi: Option<Vec<u8>>,
    rules: Merge3Rules,
    r: &R,
    tx: &std::sync::mpsc::SyncSender<Msg<R::Conflict>>,
) {
    let run = || -> Result<Option<Acc<R::Conflict>>> {
        let mut units = Units {
            batch: Vec::with_capacity(super::diff::WORKER_BATCH),
            tx,
            closed: false,
        };
        let mut w = Walk::new(ns, roots, lo.as_deref(), hi, rules, &mut units)?;
        w.run(r)?;
        let acc_rows = std::mem::take(&mut w.acc);
        let taken = std::mem::take(&mut w.taken);
        drop(w);
        if !units.flush() {
            return Ok(None);
        }
        let mut acc = acc_rows;
        count_taken(ns, roots[0], roots[2], &taken, r, &mut acc)?;
        Ok(Some(acc))
    };
    let msg = match run() {
        Ok(Some(acc)) => Msg::Done(acc),
        Ok(None) => return,
        Err(e) => Msg::Err(e),
    };
    // A send error means the merge is gone; nothing is left to report to.
    let _ = tx.send(msg);
}

/// Messages from a range worker.
enum Msg<C> {
    Units(Vec<Unit>),
    Done(Acc<C>),
    Err(Error),
}

/// A piece of the result stream: rows of a loaded leaf, a new row, or a whole node.
enum Unit {
    Rows(Arc<Node>, usize, usize),
    Value(Vec<u8>, Vec<u8>),
    Node {
        level: u8,
        last: Vec<u8>,
        id: NodeId,
        rows: u64,
    },
}

/// Where a walk puts the result stream.
trait Emit {
    /// Rows `from..to` of a leaf.
    fn rows(&mut self, node: &Arc<Node>, from: usize, to: usize) -> Result<()>;
    /// One row.
    fn value(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    /// A whole node (not at the right edge of its tree); false when it must be descended.
    fn node(&mut self, level: u8, last: &[u8], id: NodeId, rows: u64) -> Result<bool>;
}

/// A worker's result stream, sent in batches.
struct Units<'a, C> {
    batch: Vec<Unit>,
    tx: &'a std::sync::mpsc::SyncSender<Msg<C>>,
    closed: bool,
}

impl<C> Units<'_, C> {
    fn push(&mut self, u: Unit) -> Result<()> {
        self.batch.push(u);
        if self.batch.len() >= super::diff::WORKER_BATCH && !self.flush() {
            // The merge is gone: stop walking.
            return Err(Error::Storage("the merge stopped".into()));
        }
        Ok(())
    }

    /// Sends the pending units; false when the receiver is gone.
    fn flush(&mut self) -> bool {
        if self.closed {
            return false;
        }
        if self.batch.is_empty() {
            return true;
        }
        let full = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(super::diff::WORKER_BATCH),
        );
        if self.tx.send(Msg::Units(full)).is_err() {
            self.closed = true;
        }
        !self.closed
    }
}

impl<C> Emit for Units<'_, C> {
    fn rows(&mut self, node: &Arc<Node>, from: usize, to: usize) -> Result<()> {
        self.push(Unit::Rows(Arc::clone(node), from, to))
    }
    fn value(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.push(Unit::Value(key.to_vec(), value.to_vec()))
    }
    fn node(&mut self, level: u8, last: &[u8], id: NodeId, rows: u64) -> Result<bool> {
        self.push(Unit::Node {
            level,
            last: last.to_vec(),
            id,
            rows,
        })?;
        Ok(true)
    }
}

/// Counts (and sums [`Resolver::delta`] over) the keys in the `taken` ranges where `theirs`
/// differs from `base`.
fn count_taken<R: Resolver>(
    ns: &NodeStore,
    base: NodeId,
    theirs: NodeId,
    taken: &[Taken],
    r: &R,
    acc: &mut Acc<R::Conflict>,
) -> Result<()> {
    for t in taken {
        let (mut d, hi) = match t {
            Taken::Nodes(b, t) => (super::Diff::new(ns.clone(), *b, *t).with_threads(1), None),
            Taken::Range(None, hi) => (
                super::Diff::new(ns.clone(), base, theirs).with_threads(1),
                Some(hi),
            ),
            Taken::Range(Some(lo), hi) => (
                super::Diff::after(ns.clone(), ns.clone(), base, theirs, lo)?,
                Some(hi),
            ),
        };
        for row in &mut d {
            let row = row?;
            if hi.is_some_and(|hi| cmp_keys(row.key(), hi).is_gt()) {
                break;
            }
            acc.written += 1;
            acc.delta += r.delta(row.old_value(), row.new_value())?;
        }
    }
    Ok(())
}

/// Where ours equals base and their rows were taken without being compared with the base.
enum Taken {
    /// A base node and the node of theirs that replaced it (over the same keys).
    Nodes(NodeId, NodeId),
    /// The key range `(lo, hi]` (`lo` `None`: from the start).
    Range(Option<Vec<u8>>, Vec<u8>),
}

/// What a walk adds up besides the result.
struct Acc<C> {
    written: u64,
    delta: i64,
    conflicts: Vec<(Vec<u8>, C)>,
}

impl<C> Default for Acc<C> {
    fn default() -> Self {
        Acc {
            written: 0,
            delta: 0,
            conflicts: Vec::new(),
        }
    }
}

impl<C> Acc<C> {
    fn add(&mut self, other: Acc<C>) {
        self.written += other.written;
        self.delta += other.delta;
        self.conflicts.extend(other.conflicts);
    }
}

const BASE: usize = 0;
const OURS: usize = 1;
const THEIRS: usize = 2;

/// A node whose first row is a cursor's position.
struct Aligned<'a> {
    id: NodeId,
    last: &'a [u8],
    rows: u64,
    /// The node is the last of its level in its tree.
    edge: bool,
}

/// The node at `level` starting at `c`'s position (`level` within `c.aligned_levels()`).
fn aligned(c: &Cursor, level: u8) -> Option<Aligned<'_>> {
    let frames = &c.frames;
    let top = frames.last()?;
    let at_last = |f: &super::Frame| f.idx + 1 == f.node.len();
    if !top.node.is_leaf() && level + 1 == top.node.level() {
        let i = top.idx;
        return Some(Aligned {
            id: top.node.child(i),
            last: top.node.key(i),
            rows: top.node.child_rows(i),
            edge: frames.iter().all(at_last),
        });
    }
    let d = usize::from(frames.first()?.node.level().checked_sub(level)?);
    let f = frames.get(d)?;
    if d == 0 {
        return Some(Aligned {
            id: f.id,
            last: f.node.key(f.node.len().checked_sub(1)?),
            rows: f.node.row_count(),
            edge: true,
        });
    }
    let p = &frames[d - 1];
    Some(Aligned {
        id: f.id,
        last: p.node.key(p.idx),
        rows: p.node.child_rows(p.idx),
        edge: frames[..d].iter().all(at_last),
    })
}

/// The highest level at which `a` and `b` both stand at the start of one node (same id)
/// ending at or before `hi`.
fn equal_level(a: &Cursor, b: &Cursor, hi: Option<&[u8]>) -> Option<u8> {
    let (alo, ahi) = a.aligned_levels()?;
    let (blo, bhi) = b.aligned_levels()?;
    let lo = alo.max(blo);
    let mut level = ahi.min(bhi);
    while level >= lo {
        let id = a.id_at(level);
        if id.is_some()
            && id == b.id_at(level)
            && hi.is_none_or(|hi| aligned(a, level).is_some_and(|n| cmp_keys(n.last, hi).is_le()))
        {
            return Some(level);
        }
        level = level.checked_sub(1)?;
    }
    None
}

/// The three cursors of one key range and what they decided so far.
struct Walk<'a, E: Emit, C> {
    ns: NodeStore,
    roots: [NodeId; 3],
    c: [Cursor; 3],
    out: &'a mut E,
    rules: Merge3Rules,
    /// The range's last key (`None`: to the end).
    hi: Option<Vec<u8>>,
    /// The last key decided (`None`: none yet in this range).
    done: Option<Vec<u8>>,
    acc: Acc<C>,
    /// Where their rows were taken (their written keys are counted by [`count_taken`]).
    taken: Vec<Taken>,
}

impl<'a, E: Emit, C> Walk<'a, E, C> {
    /// A walk of the keys above `lo` (from the start when `None`) up to `hi`.
    fn new(
        ns: &NodeStore,
        roots: [NodeId; 3],
        lo: Option<&[u8]>,
        hi: Option<Vec<u8>>,
        rules: Merge3Rules,
        out: &'a mut E,
    ) -> Result<Self> {
        let open = |root| match lo {
            None => Cursor::at_start(ns, root),
            Some(lo) => Cursor::seek(ns, root, lo, false),
        };
        Ok(Walk {
            ns: ns.clone(),
            roots,
            c: [open(roots[0])?, open(roots[1])?, open(roots[2])?],
            out,
            rules,
            hi,
            done: lo.map(<[u8]>::to_vec),
            acc: Acc::default(),
            taken: Vec::new(),
        })
    }

    fn run<R: Resolver<Conflict = C>>(&mut self, r: &R) -> Result<()> {
        loop {
            if self.c.iter().all(Cursor::is_end) {
                return Ok(());
            }
            if self.skip_equal()? {
                continue;
            }
            let pending = self.c.iter().filter_map(Cursor::pending_level).max();
            if let Some(max) = pending {
                for c in &mut self.c {
                    if c.pending_level() == Some(max) {
                        c.descend_one(&self.ns)?;
                    }
                }
                continue;
            }
            if !self.merge_rows(r)? {
                return Ok(());
            }
        }
    }

    /// Counts the written keys of the taken ranges (single-threaded walks).
    fn count_taken<R: Resolver<Conflict = C>>(&mut self, r: &R) -> Result<()> {
        let taken = std::mem::take(&mut self.taken);
        let [base, _, theirs] = self.roots;
        count_taken(&self.ns, base, theirs, &taken, r, &mut self.acc)
    }

    /// Decides a whole node's key range when two cursors stand at one node; false when none
    /// do.
    fn skip_equal(&mut self) -> Result<bool> {
        let mut best: Option<(u8, usize, usize)> = None;
        let pairs: &[(usize, usize)] = if self.rules.ours_eq_theirs {
            &[(BASE, OURS), (BASE, THEIRS), (OURS, THEIRS)]
        } else {
            &[(BASE, OURS), (BASE, THEIRS)]
        };
        for &(x, y) in pairs {
            if let Some(level) = equal_level(&self.c[x], &self.c[y], self.hi.as_deref())
                && best.is_none_or(|(l, _, _)| level > l)
            {
                best = Some((level, x, y));
            }
        }
        let Some((level, x, y)) = best else {
            return Ok(false);
        };
        let Some(hi) = aligned(&self.c[x], level).map(|a| a.last.to_vec()) else {
            return Ok(false);
        };
        match (x, y) {
            (BASE, OURS) => {
                let base_node = self.c[BASE].id_at(level);
                self.c[BASE].skip(level);
                self.c[OURS].skip(level);
                let lo = self.done.take();
                match (base_node, self.emit_until(THEIRS, &hi)?) {
                    (Some(b), Some(t)) => self.taken.push(Taken::Nodes(b, t)),
                    _ => self.taken.push(Taken::Range(lo, hi.clone())),
                }
            }
            (BASE, _) => {
                self.c[BASE].skip(level);
                self.c[THEIRS].skip(level);
                self.emit_until(OURS, &hi)?;
            }
            _ => {
                self.emit_until(OURS, &hi)?;
                self.c[THEIRS].skip(level);
                self.drop_until(BASE, &hi)?;
            }
        }
        self.done = Some(hi);
        Ok(true)
    }

    /// Adds cursor `x`'s rows with keys up to `hi` to the result and moves past them, as
    /// whole nodes where the result's chunking allows. Returns the node's id when that was a
    /// single node.
    fn emit_until(&mut self, x: usize, hi: &[u8]) -> Result<Option<NodeId>> {
        // Whether anything but one whole node was emitted.
        let mut single: Option<Option<NodeId>> = None;
        loop {
            let c = &mut self.c[x];
            if c.is_end() {
                return Ok(single.flatten());
            }
            if let Some((node, idx)) = c.leaf() {
                let node = Arc::clone(node);
                let end = upto(&node, hi);
                if end <= idx {
                    return Ok(single.flatten());
                }
                self.out.rows(&node, idx, end)?;
                single = Some(None);
                c.advance_in_leaf(end - idx);
                if end < node.len() || node.key(end - 1) == hi {
                    return Ok(None);
                }
                continue;
            }
            let Some((lo, top)) = c.aligned_levels() else {
                return Ok(single.flatten());
            };
            let mut taken = None;
            for level in (lo..=top).rev() {
                if let Some(a) = aligned(c, level)
                    && cmp_keys(a.last, hi).is_le()
                    && !a.edge
                {
                    if self.out.node(level, a.last, a.id, a.rows)? {
                        taken = Some((level, a.last == hi, a.id));
                    }
                    break;
                }
            }
            match taken {
                Some((level, at_hi, id)) => {
                    single = Some(match single {
                        None => Some(id),
                        Some(_) => None,
                    });
                    c.skip(level);
                    if at_hi {
                        return Ok(single.flatten());
                    }
                }
                None => c.descend_one(&self.ns)?,
            }
        }
    }

    /// Moves cursor `x` past its rows with keys up to `hi`, skipping whole nodes unread.
    fn drop_until(&mut self, x: usize, hi: &[u8]) -> Result<()> {
        loop {
            let c = &mut self.c[x];
            if c.is_end() {
                return Ok(());
            }
            if let Some((node, idx)) = c.leaf() {
                let (end, len) = (upto(node, hi), node.len());
                if end <= idx {
                    return Ok(());
                }
                let at_hi = end < len || node.key(end - 1) == hi;
                c.advance_in_leaf(end - idx);
                if at_hi {
                    return Ok(());
                }
                continue;
            }
            let Some((lo, top)) = c.aligned_levels() else {
                return Ok(());
            };
            let mut skipped = None;
            for level in (lo..=top).rev() {
                if let Some(a) = aligned(c, level)
                    && cmp_keys(a.last, hi).is_le()
                {
                    skipped = Some((level, a.last == hi));
                    break;
                }
            }
            match skipped {
                Some((level, at_hi)) => {
                    c.skip(level);
                    if at_hi {
                        return Ok(());
                    }
                }
                None => c.descend_one(&self.ns)?,
            }
        }
    }

    /// Merges the rows at the smallest key the cursors stand at (all at loaded rows), or a
    /// run of rows equal on all three sides; false when that key is past the range.
    fn merge_rows<R: Resolver<Conflict = C>>(&mut self, r: &R) -> Result<bool> {
        let [b, o, t] = &mut self.c;
        if let (Some((nb, ib)), Some((no, io)), Some((nt, it))) = (b.leaf(), o.leaf(), t.leaf())
            && nb.key(ib) == no.key(io)
            && nb.key(ib) == nt.key(it)
        {
            let mut run = nb.equal_run(ib, no, io).min(nb.equal_run(ib, nt, it));
            if let Some(hi) = &self.hi {
                run = run.min(upto(no, hi).saturating_sub(io));
            }
            if run > 0 {
                let no = Arc::clone(no);
                self.out.rows(&no, io, io + run)?;
                b.advance_in_leaf(run);
                o.advance_in_leaf(run);
                t.advance_in_leaf(run);
                set_done(&mut self.done, no.key(io + run - 1));
                return Ok(true);
            }
        }
        let key = {
            let mut min: Option<&[u8]> = None;
            for c in &self.c {
                if let Some((n, i)) = c.leaf() {
                    let k = n.key(i);
                    if min.is_none_or(|m| cmp_keys(k, m).is_lt()) {
                        min = Some(k);
                    }
                }
            }
            match min {
                Some(k) if self.hi.as_deref().is_some_and(|hi| cmp_keys(k, hi).is_gt()) => {
                    return Ok(false);
                }
                Some(k) => k.to_vec(),
                None => return Err(Error::Storage("merge3: cursors stopped short".into())),
            }
        };
        let row = |c: &Cursor| {
            c.leaf()
                .filter(|(n, i)| n.key(*i) == key.as_slice())
                .and_then(|_| c.row())
        };
        let (br, or, tr) = (row(&self.c[BASE]), row(&self.c[OURS]), row(&self.c[THEIRS]));
        let present = [br.is_some(), or.is_some(), tr.is_some()];
        let (bv, ov, tv) = (
            br.as_ref().map(Row::value),
            or.as_ref().map(Row::value),
            tr.as_ref().map(Row::value),
        );
        if tv == bv || (self.rules.ours_eq_theirs && ov == tv) {
            if let Some(r) = &or {
                emit_row(self.out, r)?;
            }
        } else if ov == bv {
            if let Some(t) = &tr {
                // A copy of the row rather than a reference keeping their whole leaf alive
                // in a worker's queue (ours holds the rows around it).
                self.out.value(t.key(), t.value())?;
            }
            self.acc.written += 1;
            self.acc.delta += r.delta(ov, tv)?;
        } else {
            match r.resolve(&key, br.clone(), or.clone(), tr.clone())? {
                Resolved::Keep => {
                    if let Some(r) = &or {
                        emit_row(self.out, r)?;
                    }
                }
                Resolved::Conflict(c) => {
                    if let Some(r) = &or {
                        emit_row(self.out, r)?;
                    }
                    self.acc.conflicts.push((key.clone(), c));
                }
                Resolved::Put(v) => {
                    self.out.value(&key, &v)?;
                    self.acc.written += 1;
                    self.acc.delta += r.delta(ov, Some(&v))?;
                }
                Resolved::Delete => {
                    if ov.is_some() {
                        self.acc.written += 1;
                        self.acc.delta += r.delta(ov, None)?;
                    }
                }
            }
        }
        for (c, p) in self.c.iter_mut().zip(present) {
            if p {
                c.advance();
            }
        }
        self.done = Some(key);
        Ok(true)
    }
}

/// Adds one row to the result: by reference into its leaf, or as a copy when detached.
fn emit_row<E: Emit>(out: &mut E, r: &Row) -> Result<()> {
    match r.leaf() {
        Some((node, idx)) => out.rows(node, idx, idx + 1),
        None => out.value(r.key(), r.value()),
    }
}

fn set_done(done: &mut Option<Vec<u8>>, key: &[u8]) {
    match done {
        Some(d) => {
            d.clear();
            d.extend_from_slice(key);
        }
        None => *done = Some(key.to_vec()),
    }
}

/// Index just past the last row of leaf `node` with a key `<= hi`.
fn upto(node: &Node, hi: &[u8]) -> usize {
    match node.search(hi) {
        Ok(i) => i + 1,
        Err(i) => i,
    }
}

/// One level of the result being built.
struct Level {
    chunker: LevelChunker,
    /// Nodes of this level so far, counting one for each taken node of a higher level.
    count: u64,
    /// The last node cut or taken at this level (`None` after a higher level's take).
    last: Option<NodeId>,
}

/// The merged tree, built bottom-up from rows and whole nodes in key order.
struct Out {
    ns: NodeStore,
    params: ChunkParams,
    levels: Vec<Level>,
    sink: NodeSink,
    pushed: u64,
    taken: u64,
    first_taken: Option<NodeId>,
    rows: u64,
}

impl Emit for Out {
    fn rows(&mut self, node: &Arc<Node>, from: usize, to: usize) -> Result<()> {
        for i in from..to {
            self.push_row(node.key(i), node.value(i))?;
        }
        Ok(())
    }

    fn value(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.push_row(key, value)
    }

    fn node(&mut self, level: u8, last: &[u8], id: NodeId, rows: u64) -> Result<bool> {
        if !self.can_take(level) {
            return Ok(false);
        }
        self.take(level, last, id, rows)?;
        Ok(true)
    }
}

impl Out {
    fn new(ns: &NodeStore) -> Self {
        Out {
            ns: ns.clone(),
            params: ns.params(),
            levels: Vec::new(),
            sink: NodeSink::new(ns),
            pushed: 0,
            taken: 0,
            first_taken: None,
            rows: 0,
        }
    }

    fn level(&mut self, j: usize) -> Result<&mut Level> {
        while self.levels.len() <= j {
            let level = u8::try_from(self.levels.len())
                .map_err(|_| Error::Invalid("prolly tree exceeds 255 levels".into()))?;
            self.levels.push(Level {
                chunker: LevelChunker::new(level),
                count: 0,
                last: None,
            });
        }
        Ok(&mut self.levels[j])
    }

    /// Appends an entry at level `j`; completed nodes propagate upwards.
    fn add(&mut self, j: usize, key: &[u8], val: &[u8]) -> Result<()> {
        let params = self.params;
        self.level(j)?;
        let sink = &mut self.sink;
        let st = &mut self.levels[j];
        if st.chunker.push(key, val, &params) {
            let (id, rows) = st.chunker.cut(sink)?;
            st.count += 1;
            st.last = Some(id);
            self.add(j + 1, key, &child_entry(id, rows))?;
        }
        Ok(())
    }

    fn push_row(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.pushed += 1;
        self.rows += 1;
        self.add(0, key, value)
    }

    /// Adds a unit from a range worker.
    fn unit(&mut self, u: Unit) -> Result<()> {
        match u {
            Unit::Rows(node, from, to) => self.rows(&node, from, to),
            Unit::Value(k, v) => self.push_row(&k, &v),
            Unit::Node {
                level,
                last,
                id,
                rows,
            } => self.node_or_rows(level, &last, id, rows),
        }
    }

    /// Takes a node whole, or else its children (down to rows) where the chunking is not at
    /// a boundary of its level.
    fn node_or_rows(&mut self, level: u8, last: &[u8], id: NodeId, rows: u64) -> Result<()> {
        if self.can_take(level) {
            return self.take(level, last, id, rows);
        }
        let node = self.ns.load(id)?;
        if node.level() != level || node.is_empty() {
            return Err(Error::Corrupt {
                id: id.id(),
                reason: format!(
                    "node has level {} and {} entries where a level-{level} node was expected",
                    node.level(),
                    node.len()
                ),
            });
        }
        if node.is_leaf() {
            return self.rows(&node, 0, node.len());
        }
        for i in 0..node.len() {
            self.node_or_rows(level - 1, node.key(i), node.child(i), node.child_rows(i))?;
        }
        Ok(())
    }

    /// Whether a node of `level` can be taken whole: no level up to it has pending entries.
    fn can_take(&self, level: u8) -> bool {
        self.levels
            .iter()
            .take(usize::from(level) + 1)
            .all(|l| l.chunker.is_empty())
    }

    /// Appends a whole node of `level` (after [`Out::can_take`]).
    fn take(&mut self, level: u8, last: &[u8], id: NodeId, rows: u64) -> Result<()> {
        let j = usize::from(level);
        for k in 0..=j {
            let l = self.level(k)?;
            l.count += 1;
            l.last = (k == j).then_some(id);
        }
        self.taken += 1;
        self.first_taken.get_or_insert(id);
        self.rows += rows;
        self.add(j + 1, last, &child_entry(id, rows))
    }

    /// Ends every level and returns the root: the lowest level holding a single node, as a
    /// bulk build shapes it.
    fn finish(mut self) -> Result<NodeId> {
        let root = match (self.pushed, self.taken, self.first_taken) {
            (0, 0, _) => {
                let bytes = empty_leaf_bytes();
                let id = NodeId::new(crate::id::ObjectId::hash(&bytes));
                self.sink.push(id, bytes)?;
                id
            }
            (0, 1, Some(id)) => {
                // The whole result is one node of another tree: drop single-child tops.
                let mut id = id;
                loop {
                    let node = self.ns.load(id)?;
                    if node.is_leaf() || node.len() != 1 {
                        break id;
                    }
                    id = node.child(0);
                }
            }
            _ => self.finish_levels()?,
        };
        self.sink.flush()?;
        Ok(root)
    }

    fn finish_levels(&mut self) -> Result<NodeId> {
        let mut j = 0;
        loop {
            self.level(j)?;
            let sink = &mut self.sink;
            let st = &mut self.levels[j];
            if st.count == 0 {
                if st.chunker.is_empty() {
                    return Err(Error::Storage(format!(
                        "merge3: level {j} of the merged tree is empty"
                    )));
                }
                // Every entry of this level is pending: they form its only node.
                return Ok(st.chunker.cut(sink)?.0);
            }
            if !st.chunker.is_empty() {
                let key = st.chunker.last_key().to_vec();
                let (id, rows) = st.chunker.cut(sink)?;
                st.count += 1;
                st.last = Some(id);
                self.add(j + 1, &key, &child_entry(id, rows))?;
            }
            let st = &self.levels[j];
            if st.count == 1 {
                return st.last.ok_or_else(|| {
                    Error::Storage(format!(
                        "merge3: level {j} of the merged tree has one node of unknown id"
                    ))
                });
            }
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests;
