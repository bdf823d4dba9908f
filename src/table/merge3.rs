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

/// The decision for one key both sides changed, from the row resolver of [`merge3`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Our version stays (also for a conflict, recorded by the resolver).
    Keep,
    /// The key gets this value.
    Put(Vec<u8>),
    /// The key is removed.
    Delete,
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
pub(crate) struct Merge3 {
    /// The merged tree.
    pub root: NodeId,
    /// Rows in the merged tree.
    pub rows: u64,
    /// Keys merged row by row whose result was written (taken from their side, resolved to
    /// a value, or deleted from ours), as a diff3-and-apply merge counts its edits.
    pub written: u64,
    /// Key ranges `(lo, hi]` (`lo` `None`: from the start) where ours equals base and their
    /// rows were taken without being compared with the base: the keys there where theirs
    /// differs from base are written too (see [`count_taken`]).
    pub taken: Vec<(Option<Vec<u8>>, Vec<u8>)>,
}

/// Merges `ours` and `theirs` against `base` (see the module docs). `resolve` decides each
/// key where base, ours and theirs all differ (and, without `rules.ours_eq_theirs`, where ours
/// and theirs changed it the same way); it is called in key order with the key and the three
/// versions. `written` sees our value and the result of each key merged row by row whose
/// result is written (see [`Merge3::written`]).
pub(crate) fn merge3<F, W>(
    ns: &NodeStore,
    base: NodeId,
    ours: NodeId,
    theirs: NodeId,
    rules: Merge3Rules,
    resolve: F,
    written: W,
) -> Result<Merge3>
where
    F: FnMut(&[u8], Option<Row>, Option<Row>, Option<Row>) -> Result<Resolved>,
    W: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<()>,
{
    // Nothing the merge reads is read twice, and the new leaves are not read again.
    let read = ns.without_leaf_cache();
    let mut w = Walk {
        c: [
            Cursor::at_start(&read, base)?,
            Cursor::at_start(&read, ours)?,
            Cursor::at_start(&read, theirs)?,
        ],
        out: Out::new(&read),
        ns: read,
        rules,
        done: None,
        written: 0,
        taken: Vec::new(),
    };
    w.run(resolve, written)?;
    let rows = w.out.rows;
    let root = w.out.finish()?;
    Ok(Merge3 {
        root,
        rows,
        written: w.written,
        taken: w.taken,
    })
}

/// Counts the keys in the `taken` ranges of a [`merge3`] where `theirs` differs from `base`,
/// handing each such row to `each`.
pub(crate) fn count_taken(
    ns: &NodeStore,
    base: NodeId,
    theirs: NodeId,
    taken: &[(Option<Vec<u8>>, Vec<u8>)],
    mut each: impl FnMut(&super::DiffRow) -> Result<()>,
) -> Result<u64> {
    let read = ns.without_leaf_cache();
    let mut n = 0u64;
    for (lo, hi) in taken {
        let mut d = match lo {
            None => super::Diff::new(read.clone(), base, theirs).with_threads(1),
            Some(lo) => super::Diff::after(read.clone(), read.clone(), base, theirs, lo)?,
        };
        for row in &mut d {
            let row = row?;
            if cmp_keys(row.key(), hi) == std::cmp::Ordering::Greater {
                break;
            }
            each(&row)?;
            n += 1;
        }
    }
    Ok(n)
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

/// The highest level at which `a` and `b` both stand at the start of one node (same id).
fn equal_level(a: &Cursor, b: &Cursor) -> Option<u8> {
    let (alo, ahi) = a.aligned_levels()?;
    let (blo, bhi) = b.aligned_levels()?;
    let lo = alo.max(blo);
    let mut level = ahi.min(bhi);
    while level >= lo {
        let id = a.id_at(level);
        if id.is_some() && id == b.id_at(level) {
            return Some(level);
        }
        level = level.checked_sub(1)?;
    }
    None
}

struct Walk {
    ns: NodeStore,
    c: [Cursor; 3],
    out: Out,
    rules: Merge3Rules,
    /// The last key decided (`None`: none yet).
    done: Option<Vec<u8>>,
    written: u64,
    taken: Vec<(Option<Vec<u8>>, Vec<u8>)>,
}

impl Walk {
    fn run<F, W>(&mut self, mut resolve: F, mut written: W) -> Result<()>
    where
        F: FnMut(&[u8], Option<Row>, Option<Row>, Option<Row>) -> Result<Resolved>,
        W: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<()>,
    {
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
            self.merge_rows(&mut resolve, &mut written)?;
        }
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
            if let Some(level) = equal_level(&self.c[x], &self.c[y])
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
                self.c[BASE].skip(level);
                self.c[OURS].skip(level);
                self.taken.push((self.done.take(), hi.clone()));
                self.emit_until(THEIRS, &hi)?;
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

    /// Adds cursor `x`'s rows with keys up to `hi` to the result and moves past them, taking
    /// whole nodes where the result's chunking allows.
    fn emit_until(&mut self, x: usize, hi: &[u8]) -> Result<()> {
        loop {
            let c = &mut self.c[x];
            if c.is_end() {
                return Ok(());
            }
            if let Some((node, idx)) = c.leaf() {
                let node = Arc::clone(node);
                let end = upto(&node, hi);
                if end <= idx {
                    return Ok(());
                }
                for i in idx..end {
                    self.out.push_row(node.key(i), node.value(i))?;
                }
                c.advance_in_leaf(end - idx);
                if end < node.len() || node.key(end - 1) == hi {
                    return Ok(());
                }
                continue;
            }
            let Some((lo, top)) = c.aligned_levels() else {
                return Ok(());
            };
            let mut taken = None;
            for level in (lo..=top).rev() {
                if let Some(a) = aligned(c, level)
                    && cmp_keys(a.last, hi).is_le()
                    && !a.edge
                    && self.out.can_take(level)
                {
                    self.out.take(level, a.last, a.id, a.rows)?;
                    taken = Some((level, a.last == hi));
                    break;
                }
            }
            match taken {
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
    /// run of rows equal on all three sides.
    fn merge_rows<F, W>(&mut self, resolve: &mut F, written: &mut W) -> Result<()>
    where
        F: FnMut(&[u8], Option<Row>, Option<Row>, Option<Row>) -> Result<Resolved>,
        W: FnMut(Option<&[u8]>, Option<&[u8]>) -> Result<()>,
    {
        let [b, o, t] = &mut self.c;
        if let (Some((nb, ib)), Some((no, io)), Some((nt, it))) = (b.leaf(), o.leaf(), t.leaf())
            && nb.key(ib) == no.key(io)
            && nb.key(ib) == nt.key(it)
        {
            let run = nb.equal_run(ib, no, io).min(nb.equal_run(ib, nt, it));
            if run > 0 {
                let no = Arc::clone(no);
                for i in io..io + run {
                    self.out.push_row(no.key(i), no.value(i))?;
                }
                b.advance_in_leaf(run);
                o.advance_in_leaf(run);
                t.advance_in_leaf(run);
                set_done(&mut self.done, no.key(io + run - 1));
                return Ok(());
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
        let (bv, ov, tv) = (
            br.as_ref().map(Row::value),
            or.as_ref().map(Row::value),
            tr.as_ref().map(Row::value),
        );
        let ours_present = ov.is_some();
        if tv == bv || (self.rules.ours_eq_theirs && ov == tv) {
            if let Some(v) = ov {
                self.out.push_row(&key, v)?;
            }
        } else if ov == bv {
            if let Some(v) = tv {
                self.out.push_row(&key, v)?;
            }
            written(ov, tv)?;
            self.written += 1;
        } else {
            let present = [br.is_some(), or.is_some(), tr.is_some()];
            match resolve(&key, br, or.clone(), tr)? {
                Resolved::Keep => {
                    if let Some(r) = &or {
                        self.out.push_row(&key, r.value())?;
                    }
                }
                Resolved::Put(v) => {
                    self.out.push_row(&key, &v)?;
                    written(or.as_ref().map(Row::value), Some(&v))?;
                    self.written += 1;
                }
                Resolved::Delete => {
                    if ours_present {
                        written(or.as_ref().map(Row::value), None)?;
                        self.written += 1;
                    }
                }
            }
            for (c, p) in self.c.iter_mut().zip(present) {
                if p {
                    c.advance();
                }
            }
            self.done = Some(key);
            return Ok(());
        }
        let present = [br.is_some(), or.is_some(), tr.is_some()];
        for (c, p) in self.c.iter_mut().zip(present) {
            if p {
                c.advance();
            }
        }
        self.done = Some(key);
        Ok(())
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
