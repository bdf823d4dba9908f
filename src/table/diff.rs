//! Two-way and three-way diffs that skip subtrees with equal ids.
//!
//! Two cursors walk the trees in key order. Whenever both stand at the first row of nodes of
//! the same level with the same id, the whole subtree is skipped on both sides without being
//! loaded; otherwise the side with the higher unloaded child descends one level, and at the
//! leaves rows are merged by key. The cost follows the nodes that differ.

use std::cmp::Ordering;

use crate::error::Result;
use crate::id::NodeId;

use super::{Cursor, NodeStore, Row};

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

enum State {
    Start(NodeId, NodeId),
    Running(Cursor, Cursor),
    /// The first half is done; rows of the second half come from the worker.
    Draining,
    Done,
}

/// Messages from the worker diffing the second half of the key space.
enum Msg {
    Rows(Vec<DiffRow>),
    Err(crate::Error),
    Done,
}

/// Rows the worker sends per message.
const WORKER_BATCH: usize = 256;

/// Trees whose new root is at least this level are diffed on two threads.
const PARALLEL_MIN_LEVEL: u8 = 2;

/// The stream of rows that differ between two trees, in key order, from [`NodeStore::diff`].
/// Yields an error at most once, then ends.
///
/// Large trees with changes on both sides of the new root's middle are diffed on two
/// threads: a worker takes the keys above the middle key and streams its rows back, and this
/// iterator yields them after its own.
pub struct Diff {
    ns: NodeStore,
    state: State,
    /// Rows with keys above this bound belong to the worker.
    hi: Option<Vec<u8>>,
    worker: Option<std::sync::mpsc::Receiver<Msg>>,
    pending: std::vec::IntoIter<DiffRow>,
    parallel: bool,
}

impl Diff {
    pub(crate) fn new(ns: NodeStore, old: NodeId, new: NodeId) -> Self {
        let state = if old == new {
            State::Done
        } else {
            State::Start(old, new)
        };
        Diff {
            ns,
            state,
            hi: None,
            worker: None,
            pending: Vec::new().into_iter(),
            parallel: true,
        }
    }

    /// Starts the cursors, handing the upper half of the key space to a worker thread when
    /// the trees are large.
    fn start(&mut self, old: NodeId, new: NodeId) -> Result<()> {
        let ns = &self.ns;
        let root = ns.load(new)?;
        if self.parallel && root.level() >= PARALLEL_MIN_LEVEL && root.len() >= 2 {
            // Only worth a thread when both halves of the new root hold changed children.
            let old_root = ns.load(old)?;
            let old_children: std::collections::BTreeSet<NodeId> =
                if old_root.level() == root.level() {
                    (0..old_root.len()).map(|i| old_root.child(i)).collect()
                } else {
                    Default::default()
                };
            let mid = root.len() / 2;
            let changed = |r: std::ops::Range<usize>| {
                r.into_iter()
                    .any(|i| !old_children.contains(&root.child(i)))
            };
            if changed(0..mid) && changed(mid..root.len()) {
                self.spawn_worker(old, new, root.key(mid - 1).to_vec());
            }
        }
        let a = Cursor::at_start(&self.ns, old)?;
        let b = Cursor::at_start(&self.ns, new)?;
        self.state = State::Running(a, b);
        Ok(())
    }

    /// Hands the rows with keys above `split` to a worker thread.
    fn spawn_worker(&mut self, old: NodeId, new: NodeId, split: Vec<u8>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let worker_ns = self.ns.clone();
        let key = split.clone();
        let spawned = std::thread::Builder::new()
            .name("kodiak-diff".into())
            .spawn(move || diff_worker(worker_ns, old, new, &key, tx));
        // Without a thread the diff simply runs on this one.
        if spawned.is_ok() {
            self.worker = Some(rx);
            self.hi = Some(split);
        }
    }

    fn step(&mut self) -> Result<Option<DiffRow>> {
        if let State::Start(old, new) = self.state {
            self.start(old, new)?;
        }
        if let State::Draining = self.state {
            return self.drain();
        }
        let Some(row) = self.step_local()? else {
            if self.worker.is_some() {
                self.state = State::Draining;
                return self.drain();
            }
            return Ok(None);
        };
        if let Some(hi) = &self.hi
            && row.key() > hi.as_slice()
        {
            self.state = State::Draining;
            return self.drain();
        }
        Ok(Some(row))
    }

    /// The next row from the worker.
    fn drain(&mut self) -> Result<Option<DiffRow>> {
        loop {
            if let Some(row) = self.pending.next() {
                return Ok(Some(row));
            }
            let Some(rx) = &self.worker else {
                return Ok(None);
            };
            match rx.recv() {
                Ok(Msg::Rows(rows)) => self.pending = rows.into_iter(),
                Ok(Msg::Err(e)) => return Err(e),
                Ok(Msg::Done) => {
                    self.worker = None;
                    return Ok(None);
                }
                Err(_) => {
                    self.worker = None;
                    return Err(crate::Error::Storage(
                        "the diff worker thread stopped".into(),
                    ));
                }
            }
        }
    }

    fn step_local(&mut self) -> Result<Option<DiffRow>> {
        let State::Running(a, b) = &mut self.state else {
            return Ok(None);
        };
        let ns = &self.ns;
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
                    b.descend_to_row(ns)?;
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
                        b.descend_one(ns)?;
                    }
                    continue;
                }
                (Some(_), None) => {
                    a.descend_one(ns)?;
                    continue;
                }
                (None, Some(_)) => {
                    b.descend_one(ns)?;
                    continue;
                }
                (None, None) => {}
            }
            let (Some((na, ia)), Some((nb, ib))) = (a.leaf(), b.leaf()) else {
                return Ok(None);
            };
            match na.key(ia).cmp(nb.key(ib)) {
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
                        a.advance();
                        b.advance();
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

/// Diffs the rows with keys above `split` and sends them to `tx` in batches.
fn diff_worker(
    ns: NodeStore,
    old: NodeId,
    new: NodeId,
    split: &[u8],
    tx: std::sync::mpsc::SyncSender<Msg>,
) {
    let run = || -> Result<bool> {
        let a = Cursor::seek(&ns, old, split, false)?;
        let b = Cursor::seek(&ns, new, split, false)?;
        let mut diff = Diff {
            ns: ns.clone(),
            state: State::Running(a, b),
            hi: None,
            worker: None,
            pending: Vec::new().into_iter(),
            parallel: false,
        };
        let mut batch = Vec::with_capacity(WORKER_BATCH);
        while let Some(row) = diff.step_local()? {
            batch.push(row);
            if batch.len() == WORKER_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(WORKER_BATCH));
                if tx.send(Msg::Rows(full)).is_err() {
                    // The consumer dropped the diff.
                    return Ok(false);
                }
            }
        }
        Ok(batch.is_empty() || tx.send(Msg::Rows(batch)).is_ok())
    };
    let msg = match run() {
        Ok(true) => Msg::Done,
        Ok(false) => return,
        Err(e) => Msg::Err(e),
    };
    // A send error means the consumer is gone; nothing is left to report to.
    let _ = tx.send(msg);
}

impl Iterator for Diff {
    type Item = Result<DiffRow>;

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
}

fn value_of(r: &Option<Row>) -> Option<&[u8]> {
    r.as_ref().map(Row::value)
}

/// The three-way diff stream from [`NodeStore::diff3`]: a merge of base→ours and base→theirs.
pub struct Diff3 {
    ours: std::iter::Peekable<Diff>,
    theirs: std::iter::Peekable<Diff>,
}

impl Diff3 {
    pub(crate) fn new(ours: Diff, theirs: Diff) -> Self {
        Diff3 {
            ours: ours.peekable(),
            theirs: theirs.peekable(),
        }
    }
}

impl Iterator for Diff3 {
    type Item = Result<Diff3Row>;

    fn next(&mut self) -> Option<Self::Item> {
        let ord = match (self.ours.peek(), self.theirs.peek()) {
            (None, None) => return None,
            (Some(Err(_)), _) | (Some(Ok(_)), None) => Ordering::Less,
            (_, Some(Err(_))) | (None, Some(Ok(_))) => Ordering::Greater,
            (Some(Ok(o)), Some(Ok(t))) => o.key().cmp(t.key()),
        };
        Some(match ord {
            Ordering::Less => self.ours.next()?.map(|o| Diff3Row {
                theirs: o.old.clone(),
                base: o.old,
                ours: o.new,
            }),
            Ordering::Greater => self.theirs.next()?.map(|t| Diff3Row {
                ours: t.old.clone(),
                base: t.old,
                theirs: t.new,
            }),
            Ordering::Equal => {
                let o = self.ours.next()?;
                let t = self.theirs.next()?;
                match (o, t) {
                    (Ok(o), Ok(t)) => Ok(Diff3Row {
                        base: o.old,
                        ours: o.new,
                        theirs: t.new,
                    }),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
        })
    }
}
