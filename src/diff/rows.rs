//! Row and cell changes of one table, streamed in key order from the prolly tree diff.
//!
//! Rows are compared as stored: the tree diff skips every subtree (and every row) whose bytes
//! are equal, so the cost follows what changed. A changed row is decoded with its own side's
//! schema and its cells are compared column by column, matching columns by tag, so a renamed
//! column is the same column. A column only the new schema has is compared with its default
//! (what rows written before it read); a column only the old schema has is not compared (it
//! is gone). Keyless tables are multisets: a row whose duplicate count changed is added or
//! deleted that many times.
//!
//! When the two sides' keys are encoded differently (another primary key, or a key column's
//! type changed), rows cannot be matched by key bytes; every old row is then deleted and every
//! new row added.

use serde::Serialize;

use super::TableDiff;
use crate::error::{Error, Result};
use crate::id::NodeId;
use crate::schema::{RowCodec, Schema, Type, Value};
use crate::store::Store;
use crate::table::{DiffRow, MapDiff, NodeStore, Row, RowMap, Rows};

/// A column as rows are shown: in the new schema, the old one, or both (matched by tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffColumn {
    /// The name shown: the new name, or the old one for a dropped column.
    pub name: String,
    /// The column's position in the old schema.
    pub old: Option<usize>,
    /// The column's position in the new schema.
    pub new: Option<usize>,
    /// Its type in the old schema.
    pub old_ty: Option<Type>,
    /// Its type in the new schema.
    pub new_ty: Option<Type>,
    /// Whether it is part of the key rows are identified by (the new schema's primary key, or
    /// the old one's for a dropped table).
    pub key: bool,
    /// For a column only the new schema has: what rows written before it read.
    pub default: Value,
}

impl DiffColumn {
    /// The type values are parsed with: the new type, else the old one.
    pub fn ty(&self) -> Type {
        self.new_ty.or(self.old_ty).unwrap_or(Type::Text)
    }
}

/// The columns of a table diff: the new schema's in order, then those only the old one has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffColumns {
    /// The columns.
    pub cols: Vec<DiffColumn>,
    /// Whether the table is keyless (on the side(s) it exists).
    pub keyless: bool,
}

impl DiffColumns {
    /// The columns for a table with schema `old` before and `new` after.
    pub fn new(old: Option<&Schema>, new: Option<&Schema>) -> DiffColumns {
        let mut cols = Vec::new();
        let key_schema = new.or(old);
        let key_tags: &[u64] = key_schema.map_or(&[], |s| s.primary_key_tags());
        if let Some(n) = new {
            for (i, c) in n.columns().iter().enumerate() {
                let o = old.and_then(|o| o.column_by_tag(c.tag));
                cols.push(DiffColumn {
                    name: c.name.clone(),
                    old: o.map(|(j, _)| j),
                    new: Some(i),
                    old_ty: o.map(|(_, oc)| oc.ty),
                    new_ty: Some(c.ty),
                    key: key_tags.contains(&c.tag),
                    default: c.default.clone().unwrap_or(Value::Null),
                });
            }
        }
        if let Some(o) = old {
            for (j, c) in o.columns().iter().enumerate() {
                if new.is_some_and(|n| n.column_by_tag(c.tag).is_some()) {
                    continue;
                }
                cols.push(DiffColumn {
                    name: c.name.clone(),
                    old: Some(j),
                    new: None,
                    old_ty: Some(c.ty),
                    new_ty: None,
                    key: new.is_none() && key_tags.contains(&c.tag),
                    default: Value::Null,
                });
            }
        }
        DiffColumns {
            cols,
            keyless: key_tags.is_empty(),
        }
    }

    /// Positions of the key columns.
    pub fn key_positions(&self) -> Vec<usize> {
        (0..self.cols.len()).filter(|&i| self.cols[i].key).collect()
    }

    /// The position of the column named `name` (new name first, ASCII case-insensitive).
    pub fn find(&self, name: &str) -> Option<usize> {
        self.cols
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// What happened to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// Only in the new state.
    Added,
    /// Only in the old state.
    Deleted,
    /// In both (same key), with some cells changed.
    Modified,
}

impl RowKind {
    /// `added`, `deleted` or `modified`.
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Added => "added",
            RowKind::Deleted => "deleted",
            RowKind::Modified => "modified",
        }
    }
}

/// One changed row, with values in [`DiffColumns`] order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowChange {
    /// What happened.
    pub kind: RowKind,
    /// How many copies were added or deleted (1 unless the table is keyless).
    pub count: u64,
    /// The old row (absent for an added row). A column only the new schema has holds its
    /// default.
    pub old: Option<Vec<Value>>,
    /// The new row (absent for a deleted row). A column only the old schema has holds NULL.
    pub new: Option<Vec<Value>>,
    /// Per column, whether the cell changed (all false unless modified).
    pub changed: Vec<bool>,
}

impl RowChange {
    /// The row as shown: the new version, else the old one.
    pub fn shown(&self) -> &[Value] {
        match (&self.new, &self.old) {
            (Some(r), _) | (None, Some(r)) => r,
            (None, None) => &[],
        }
    }

    /// Number of changed cells.
    pub fn cells_changed(&self) -> u64 {
        self.changed.iter().filter(|c| **c).count() as u64
    }
}

/// Counts of changed rows and cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiffStats {
    /// Rows added (keyless tables: copies).
    pub rows_added: u64,
    /// Rows deleted (keyless tables: copies).
    pub rows_deleted: u64,
    /// Rows modified.
    pub rows_modified: u64,
    /// Cells changed in modified rows.
    pub cells_changed: u64,
}

impl DiffStats {
    /// Counts one row change.
    pub fn add(&mut self, c: &RowChange) {
        match c.kind {
            RowKind::Added => self.rows_added += c.count,
            RowKind::Deleted => self.rows_deleted += c.count,
            RowKind::Modified => {
                self.rows_modified += 1;
                self.cells_changed += c.cells_changed();
            }
        }
    }

    /// Adds another table's counts.
    pub fn merge(&mut self, o: &DiffStats) {
        self.rows_added += o.rows_added;
        self.rows_deleted += o.rows_deleted;
        self.rows_modified += o.rows_modified;
        self.cells_changed += o.cells_changed;
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == DiffStats::default()
    }
}

/// A parsed `COLUMN=VALUE` filter on [`DiffColumns`].
#[derive(Clone, Debug)]
struct Filter {
    col: usize,
    value: Value,
}

fn parse_filters(cols: &DiffColumns, texts: &[String]) -> Result<Vec<Filter>> {
    texts
        .iter()
        .map(|t| {
            let (name, val) = t.split_once('=').ok_or_else(|| {
                Error::Invalid(format!("invalid filter '{t}': expected COLUMN=VALUE"))
            })?;
            let col = cols.find(name.trim()).ok_or_else(|| {
                let names: Vec<&str> = cols.cols.iter().map(|c| c.name.as_str()).collect();
                Error::Invalid(format!(
                    "invalid filter '{t}': no column named '{}' (columns: {})",
                    name.trim(),
                    names.join(", ")
                ))
            })?;
            let value = Value::parse(&cols.cols[col].ty(), val)
                .map_err(|e| Error::Invalid(format!("invalid filter '{t}': {e}")))?;
            Ok(Filter { col, value })
        })
        .collect()
}

enum Source {
    /// Both sides' rows are keyed alike: the structural diff.
    Tree(Tree),
    /// Both sides keyed alike, but rows with equal bytes may read differently (a dropped
    /// column came back): every row of both sides, merged by key.
    Merge {
        old: std::iter::Peekable<Box<Rows>>,
        new: std::iter::Peekable<Box<Rows>>,
    },
    /// Every old row deleted, then every new row added.
    Scan {
        old: Option<Box<Rows>>,
        new: Option<Box<Rows>>,
    },
}

/// The structural diff, started on the first read: whether it yields changes or counts is
/// decided then (each is computed on the diff's threads, see [`RowMap`]).
enum Tree {
    Pending {
        ns: NodeStore,
        old: NodeId,
        new: NodeId,
    },
    Changes(Box<MapDiff<Changes>>),
}

#[derive(Clone)]
struct Side {
    codec: RowCodec,
    buf: Vec<Value>,
}

impl Side {
    fn new(schema: &Schema) -> Side {
        Side {
            codec: RowCodec::new(schema),
            buf: vec![Value::Null; schema.columns().len()],
        }
    }

    fn decode(&mut self, row: &Row) -> Result<u64> {
        self.codec
            .decode_row_into(row.key(), row.value(), &mut self.buf)?;
        if self.codec.is_keyless() {
            Ok(RowCodec::keyless_split(row.value())?.0)
        } else {
            Ok(1)
        }
    }
}

/// Whether two schemas encode keys alike, so equal key bytes mean the same row.
fn keys_compatible(old: &Schema, new: &Schema) -> bool {
    if old.primary_key_tags() != new.primary_key_tags() {
        return false;
    }
    old.primary_key_tags()
        .iter()
        .all(|t| match (old.column_by_tag(*t), new.column_by_tag(*t)) {
            (Some((_, a)), Some((_, b))) => a.ty == b.ty,
            _ => false,
        })
}

/// A numeric value as a float, for comparing numbers of different types.
fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Decimal(d) => d.to_string().parse().ok(),
        _ => None,
    }
}

/// Whether the new schema reads a column from a slot the old schema had used (a dropped
/// column restored): rows whose bytes did not change may then still read other values.
pub(crate) fn reads_old_slots(old: &Schema, new: &Schema) -> bool {
    new.columns()
        .iter()
        .any(|c| old.column_by_tag(c.tag).is_none() && c.slot < old.next_slot())
}

/// Whether two cells are equal. Values of a retyped column are compared as numbers when both
/// are numeric (INT 3 and FLOAT 3.0 are equal), else by their text.
fn same_cell(a: &Value, b: &Value, retyped: bool) -> bool {
    if !retyped {
        return a == b;
    }
    if a.is_null() || b.is_null() {
        return a.is_null() == b.is_null();
    }
    match (numeric(a), numeric(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.render() == b.render(),
    }
}

/// Turns raw pairs of rows into changes: decodes each side with its own schema and compares
/// cells. Cloned onto every thread of a split diff.
#[derive(Clone)]
struct Changer {
    cols: DiffColumns,
    old: Option<Side>,
    new: Option<Side>,
    filters: Vec<Filter>,
}

impl Changer {
    /// The old side's decoded row in column order (new-only columns hold their defaults).
    fn old_row(&self) -> Vec<Value> {
        let buf = self.old.as_ref().map(|s| s.buf.as_slice()).unwrap_or(&[]);
        self.cols
            .cols
            .iter()
            .map(|c| match c.old {
                Some(j) => buf.get(j).cloned().unwrap_or(Value::Null),
                None => c.default.clone(),
            })
            .collect()
    }

    /// The new side's decoded row in column order (old-only columns hold NULL).
    fn new_row(&self) -> Vec<Value> {
        let buf = self.new.as_ref().map(|s| s.buf.as_slice()).unwrap_or(&[]);
        self.cols
            .cols
            .iter()
            .map(|c| match c.new {
                Some(i) => buf.get(i).cloned().unwrap_or(Value::Null),
                None => Value::Null,
            })
            .collect()
    }

    fn decode_old(&mut self, r: &Row) -> Result<u64> {
        match &mut self.old {
            Some(s) => s.decode(r),
            None => Err(Error::Invalid(
                "row diff: an old row for a table without an old version".into(),
            )),
        }
    }

    fn decode_new(&mut self, r: &Row) -> Result<u64> {
        match &mut self.new {
            Some(s) => s.decode(r),
            None => Err(Error::Invalid(
                "row diff: a new row for a table without a new version".into(),
            )),
        }
    }

    /// Turns a raw pair into a change; `None` when the rows are equal once decoded.
    fn change(&mut self, old: Option<Row>, new: Option<Row>) -> Result<Option<RowChange>> {
        let n = self.cols.cols.len();
        Ok(match (old, new) {
            (None, None) => None,
            (Some(o), None) => {
                let count = self.decode_old(&o)?;
                Some(RowChange {
                    kind: RowKind::Deleted,
                    count,
                    old: Some(self.old_row()),
                    new: None,
                    changed: vec![false; n],
                })
            }
            (None, Some(r)) => {
                let count = self.decode_new(&r)?;
                Some(RowChange {
                    kind: RowKind::Added,
                    count,
                    old: None,
                    new: Some(self.new_row()),
                    changed: vec![false; n],
                })
            }
            (Some(o), Some(r)) => {
                let before = self.decode_old(&o)?;
                let after = self.decode_new(&r)?;
                if self.cols.keyless {
                    // Same key, same row: only the duplicate count differs.
                    let (kind, count, old, new) = if after > before {
                        (RowKind::Added, after - before, None, Some(self.new_row()))
                    } else if before > after {
                        (RowKind::Deleted, before - after, Some(self.old_row()), None)
                    } else {
                        return Ok(None);
                    };
                    return Ok(Some(RowChange {
                        kind,
                        count,
                        old,
                        new,
                        changed: vec![false; n],
                    }));
                }
                let old = self.old_row();
                let new = self.new_row();
                let changed: Vec<bool> = self
                    .cols
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        c.new.is_some() && !same_cell(&old[i], &new[i], c.old_ty != c.new_ty)
                    })
                    .collect();
                if !changed.iter().any(|c| *c) {
                    return Ok(None);
                }
                Some(RowChange {
                    kind: RowKind::Modified,
                    count: 1,
                    old: Some(old),
                    new: Some(new),
                    changed,
                })
            }
        })
    }

    /// The change of a raw pair if it passes the filters.
    fn filtered_change(&mut self, old: Option<Row>, new: Option<Row>) -> Result<Option<RowChange>> {
        Ok(self.change(old, new)?.filter(|c| self.matches(c)))
    }

    fn matches(&self, c: &RowChange) -> bool {
        self.filters.iter().all(|f| {
            let col = &self.cols.cols[f.col];
            let old_hit = col.old.is_some() && c.old.as_ref().is_some_and(|r| r[f.col] == f.value);
            let new_hit = col.new.is_some() && c.new.as_ref().is_some_and(|r| r[f.col] == f.value);
            old_hit || new_hit
        })
    }

    /// The counts of a raw pair's change, without building a [`RowChange`] (no row copies).
    fn count(&mut self, old: Option<Row>, new: Option<Row>) -> Result<DiffStats> {
        let mut stats = DiffStats::default();
        match (old, new) {
            (None, None) => {}
            (Some(o), None) => stats.rows_deleted += self.decode_old(&o)?,
            (None, Some(r)) => stats.rows_added += self.decode_new(&r)?,
            (Some(o), Some(r)) => {
                let before = self.decode_old(&o)?;
                let after = self.decode_new(&r)?;
                if self.cols.keyless {
                    stats.rows_added += after.saturating_sub(before);
                    stats.rows_deleted += before.saturating_sub(after);
                } else {
                    let cells = self.changed_cells();
                    if cells > 0 {
                        stats.rows_modified += 1;
                        stats.cells_changed += cells;
                    }
                }
            }
        }
        Ok(stats)
    }

    /// Cells that differ between the decoded old and new rows (as `change` marks them).
    fn changed_cells(&self) -> u64 {
        let old = self.old.as_ref().map(|s| s.buf.as_slice()).unwrap_or(&[]);
        let new = self.new.as_ref().map(|s| s.buf.as_slice()).unwrap_or(&[]);
        let null = Value::Null;
        self.cols
            .cols
            .iter()
            .filter(|c| {
                let Some(i) = c.new else {
                    return false;
                };
                let a = match c.old {
                    Some(j) => old.get(j).unwrap_or(&null),
                    None => &c.default,
                };
                let b = new.get(i).unwrap_or(&null);
                !same_cell(a, b, c.old_ty != c.new_ty)
            })
            .count() as u64
    }
}

/// The structural diff's rows as changes that pass the filters, made on the diff's threads.
#[derive(Clone)]
struct Changes(Changer);

impl RowMap for Changes {
    type Out = RowChange;

    fn map(&mut self, row: DiffRow) -> Result<Option<RowChange>> {
        self.0.filtered_change(row.old, row.new)
    }
}

/// The structural diff's rows as counts (only for a diff without filters), made on the
/// diff's threads.
#[derive(Clone)]
struct Counts(Changer);

impl RowMap for Counts {
    type Out = DiffStats;

    fn map(&mut self, row: DiffRow) -> Result<Option<DiffStats>> {
        let stats = self.0.count(row.old, row.new)?;
        Ok((!stats.is_empty()).then_some(stats))
    }
}

/// The stream of row changes of one table, from [`TableDiff::rows`].
pub struct RowDiff {
    source: Source,
    changer: Changer,
    limit: Option<u64>,
    emitted: u64,
}

impl RowDiff {
    pub(crate) fn new(
        store: &Store,
        t: &TableDiff,
        filters: &[String],
        limit: Option<u64>,
    ) -> Result<RowDiff> {
        let cols = t.columns();
        let filters = parse_filters(&cols, filters)?;
        // Each changed leaf is read once: keep leaves out of the cache.
        let ns = NodeStore::new(store.clone()).without_leaf_cache();
        let source = match (&t.old, &t.new) {
            (Some(o), Some(n))
                if keys_compatible(&o.schema, &n.schema)
                    && reads_old_slots(&o.schema, &n.schema) =>
            {
                Source::Merge {
                    old: Box::new(ns.scan(o.table.rows)).peekable(),
                    new: Box::new(ns.scan(n.table.rows)).peekable(),
                }
            }
            (Some(o), Some(n)) if keys_compatible(&o.schema, &n.schema) => {
                Source::Tree(Tree::Pending {
                    ns,
                    old: o.table.rows,
                    new: n.table.rows,
                })
            }
            (o, n) => Source::Scan {
                old: o.as_ref().map(|s| Box::new(ns.scan(s.table.rows))),
                new: n.as_ref().map(|s| Box::new(ns.scan(s.table.rows))),
            },
        };
        Ok(RowDiff {
            source,
            changer: Changer {
                old: t.old.as_ref().map(|s| Side::new(&s.schema)),
                new: t.new.as_ref().map(|s| Side::new(&s.schema)),
                cols,
                filters,
            },
            limit,
            emitted: 0,
        })
    }

    /// The columns rows are given in.
    pub fn columns(&self) -> &DiffColumns {
        &self.changer.cols
    }

    /// The next raw pair of rows from a merge or scan source (`None` at their end, and for
    /// the structural diff, which maps its rows itself).
    fn next_pair(&mut self) -> Result<Option<(Option<Row>, Option<Row>)>> {
        match &mut self.source {
            Source::Tree(_) => Ok(None),
            Source::Merge { old, new } => {
                let order = match (old.peek(), new.peek()) {
                    (None, None) => return Ok(None),
                    (Some(Err(_)), _) | (Some(Ok(_)), None) => std::cmp::Ordering::Less,
                    (_, Some(Err(_))) | (None, Some(Ok(_))) => std::cmp::Ordering::Greater,
                    (Some(Ok(a)), Some(Ok(b))) => a.key().cmp(b.key()),
                };
                Ok(Some(match order {
                    std::cmp::Ordering::Less => (old.next().transpose()?, None),
                    std::cmp::Ordering::Greater => (None, new.next().transpose()?),
                    std::cmp::Ordering::Equal => (old.next().transpose()?, new.next().transpose()?),
                }))
            }
            Source::Scan { old, new } => {
                if let Some(rows) = old {
                    match rows.next().transpose()? {
                        Some(r) => return Ok(Some((Some(r), None))),
                        None => *old = None,
                    }
                }
                if let Some(rows) = new {
                    match rows.next().transpose()? {
                        Some(r) => return Ok(Some((None, Some(r)))),
                        None => *new = None,
                    }
                }
                Ok(None)
            }
        }
    }

    /// Counts every change this diff yields, without building [`RowChange`]s (no row copies):
    /// the same counts as adding up [`RowDiff::next_change`] with [`DiffStats::add`].
    ///
    /// Only for a diff without filters or limit, which would need the rows.
    pub fn count_changes(mut self) -> Result<DiffStats> {
        debug_assert!(self.changer.filters.is_empty() && self.limit.is_none());
        let mut stats = DiffStats::default();
        match &mut self.source {
            Source::Tree(Tree::Pending { ns, old, new }) => {
                for s in ns.diff_map(*old, *new, Counts(self.changer.clone())) {
                    stats.merge(&s?);
                }
            }
            Source::Tree(Tree::Changes(d)) => {
                for c in d.as_mut() {
                    stats.add(&c?);
                }
            }
            Source::Merge { .. } | Source::Scan { .. } => {
                while let Some((old, new)) = self.next_pair()? {
                    stats.merge(&self.changer.count(old, new)?);
                }
            }
        }
        Ok(stats)
    }

    /// The next change, or `None` at the end (or after `limit` changes).
    pub fn next_change(&mut self) -> Result<Option<RowChange>> {
        if self.limit.is_some_and(|l| self.emitted >= l) {
            return Ok(None);
        }
        let change = match &mut self.source {
            Source::Tree(tree) => {
                if let Tree::Pending { ns, old, new } = tree {
                    let d = ns.diff_map(*old, *new, Changes(self.changer.clone()));
                    *tree = Tree::Changes(Box::new(d));
                }
                match tree {
                    Tree::Changes(d) => d.next().transpose()?,
                    Tree::Pending { .. } => None,
                }
            }
            Source::Merge { .. } | Source::Scan { .. } => loop {
                let Some((old, new)) = self.next_pair()? else {
                    break None;
                };
                if let Some(c) = self.changer.filtered_change(old, new)? {
                    break Some(c);
                }
            },
        };
        if change.is_some() {
            self.emitted += 1;
        }
        Ok(change)
    }
}

impl Iterator for RowDiff {
    type Item = Result<RowChange>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_change().transpose()
    }
}
