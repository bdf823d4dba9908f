//! Three-way merge of one table: schema by column tag, rows by primary key, cell by cell.
//!
//! When base, ours and theirs share one schema (and for keyless tables) the rows merge
//! structurally ([`crate::table::merge3`]): a subtree only one side changed is taken from that
//! side by id without being read, so the merge reads only the nodes both sides changed (and,
//! to count the rows it takes from their side, base's and theirs' version of what only theirs
//! changed), and writes only nodes holding rows both sides changed. Otherwise the result
//! starts from our row tree and gets the edits the merge decides on, applied with
//! [`NodeStore::apply`], read through [`NodeStore::diff3`]. Only when a schema change on their
//! side makes our rows unreadable under the merged schema (a type change) are all our rows
//! re-encoded. Both ways give the same tree (trees are history independent).

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::id::{NodeId, TableId};
use crate::object::Table;
use crate::schema::{RowCodec, Schema, Type, Value};
use crate::table::merge3::{Merge3Rules, Resolved, Resolver, merge3};
use crate::table::{NodeStore, Row};

use super::Favor;
use super::conflicts::{Cells, ConflictSet, RowConflict, TableConflict, cell};
use super::schema::{merge_schemas, reads_as};
use crate::schema::convert_value;

/// The outcome of merging one table.
#[derive(Clone, Debug)]
pub struct TableMerge {
    /// The merged table (`None`: the table is absent from the result).
    pub table: Option<TableId>,
    /// What could not be merged.
    pub conflicts: ConflictSet,
    /// Rows the merge wrote into our version (inserted, updated or deleted).
    pub rows_changed: u64,
}

impl TableMerge {
    fn plain(table: Option<TableId>) -> Self {
        TableMerge {
            table,
            conflicts: ConflictSet::default(),
            rows_changed: 0,
        }
    }
}

/// One side's schema, ready to decode its rows into cells.
struct Side {
    schema: Schema,
    codec: RowCodec,
}

impl Side {
    fn new(schema: Schema) -> Side {
        Side {
            codec: RowCodec::new(&schema),
            schema,
        }
    }

    fn cells(&self, r: &Row) -> Result<Cells> {
        let values = self.codec.decode_row(r.key(), r.value())?;
        Ok(self
            .schema
            .columns()
            .iter()
            .map(|c| c.tag)
            .zip(values)
            .collect())
    }

    fn ty(&self, tag: u64) -> Option<Type> {
        self.schema.column_by_tag(tag).map(|(_, c)| c.ty)
    }
}

/// The encoding under `schema` of one version of a row given as cells: each column takes the
/// cell with its tag, converted to its type, or its default (NULL) when that version lacks
/// the column; the error says which value does not fit.
pub(crate) fn encode_cells(
    schema: &Schema,
    codec: &RowCodec,
    cells: &Cells,
) -> std::result::Result<(Vec<u8>, Vec<u8>), String> {
    let mut row = Vec::with_capacity(schema.columns().len());
    for c in schema.columns() {
        row.push(match cell(cells, c.tag) {
            Some(v) => convert_value(v, &c.ty).map_err(|e| format!("column '{}': {e}", c.name))?,
            None => c.default.clone().unwrap_or(Value::Null),
        });
    }
    codec.encode_row(&row).map_err(|e| e.to_string())
}

/// What to do with one key of the result.
enum Outcome {
    /// Our version stays.
    Keep,
    /// Upsert this value.
    Put(Vec<u8>),
    /// Remove the key.
    Delete,
    /// Record a conflict; our version stays.
    Conflict(RowConflict),
}

/// Merges one table given its three versions (`None`: absent on that side).
///
/// `favor` decides conflicts (see [`Favor`]); with [`Favor::None`] they are returned.
pub fn merge_table(
    ns: &NodeStore,
    name: &str,
    base: Option<TableId>,
    ours: Option<TableId>,
    theirs: Option<TableId>,
    favor: Favor,
) -> Result<TableMerge> {
    merge_table_with(ns, name, base, ours, theirs, favor, false)
}

/// [`merge_table`] through the three-way diff and `apply` only (the structural merge's
/// reference in tests).
#[cfg(test)]
pub(crate) fn merge_table_legacy(
    ns: &NodeStore,
    name: &str,
    base: Option<TableId>,
    ours: Option<TableId>,
    theirs: Option<TableId>,
    favor: Favor,
) -> Result<TableMerge> {
    merge_table_with(ns, name, base, ours, theirs, favor, true)
}

fn merge_table_with(
    ns: &NodeStore,
    name: &str,
    base: Option<TableId>,
    ours: Option<TableId>,
    theirs: Option<TableId>,
    favor: Favor,
    legacy: bool,
) -> Result<TableMerge> {
    if ours == theirs || base == theirs {
        return Ok(TableMerge::plain(ours));
    }
    if base == ours {
        return Ok(TableMerge::plain(theirs));
    }
    let store = ns.store();
    let table_conflict = |reason: String| -> Result<TableMerge> {
        let chosen = match favor {
            Favor::None | Favor::Ours => ours,
            Favor::Theirs => theirs,
            Favor::Base => base,
        };
        let mut conflicts = ConflictSet::default();
        if favor == Favor::None {
            conflicts.table = Some(TableConflict {
                base,
                ours,
                theirs,
                reason,
            });
        }
        Ok(TableMerge {
            table: chosen,
            conflicts,
            rows_changed: 0,
        })
    };
    let (o_id, t_id) = match (ours, theirs) {
        (Some(o), Some(t)) => (o, t),
        (None, _) => {
            return table_conflict(format!(
                "table '{name}' was deleted on our side and changed on theirs"
            ));
        }
        (_, None) => {
            return table_conflict(format!(
                "table '{name}' was deleted on their side and changed on ours"
            ));
        }
    };
    let o: Table = store.get(&o_id)?;
    let t: Table = store.get(&t_id)?;
    let b: Option<Table> = base.map(|id| store.get(&id)).transpose()?;
    let o_schema: Schema = store.get(&o.schema)?;
    let t_schema: Schema = store.get(&t.schema)?;
    let b_schema: Option<Schema> = b.as_ref().map(|b| store.get(&b.schema)).transpose()?;
    let sm = merge_schemas(name, b_schema.as_ref(), &o_schema, &t_schema)?;
    if !sm.conflicts.is_empty() {
        return table_conflict(sm.conflicts.join("; "));
    }
    let merged = sm.schema;
    let key_types =
        |s: &Schema| -> Vec<Type> { s.primary_key().iter().map(|&i| s.columns()[i].ty).collect() };
    if key_types(&o_schema) != key_types(&merged) || key_types(&t_schema) != key_types(&merged) {
        return table_conflict(format!(
            "table '{name}': the type of a primary key column differs between the two sides"
        ));
    }
    let base_rows = match &b {
        Some(b) => b.rows,
        None => ns.empty()?,
    };
    let same = b.as_ref().is_none_or(|b| b.schema == o.schema) && o.schema == t.schema;
    if merged.is_keyless() {
        if !same {
            return table_conflict(format!(
                "table '{name}' has no primary key and its schema changed: keyless tables merge only with one schema on all sides"
            ));
        }
        return merge_keyless(ns, &o, base_rows, t.rows, &merged, legacy);
    }
    let mut m = DataMerge {
        ns,
        base: b_schema.map(Side::new),
        ours: Side::new(o_schema),
        theirs: Side::new(t_schema),
        merged: Side::new(merged),
        same,
        favor,
        legacy,
    };
    m.run(&o, base_rows, t.rows)
}

/// Merges a keyless table (one schema on all sides) by per-row duplicate counts: the result
/// count is ours + theirs − base, at least zero.
fn merge_keyless(
    ns: &NodeStore,
    ours: &Table,
    base_rows: NodeId,
    theirs_rows: NodeId,
    schema: &Schema,
    legacy: bool,
) -> Result<TableMerge> {
    let count = |r: &Option<Row>| -> Result<u64> {
        r.as_ref()
            .map_or(Ok(0), |r| Ok(RowCodec::keyless_split(r.value())?.0))
    };
    let store = ns.store();
    if !legacy {
        // Duplicate counts add up: a key both sides changed the same way is merged too.
        let rules = Merge3Rules {
            ours_eq_theirs: false,
        };
        let m = merge3(ns, base_rows, ours.rows, theirs_rows, rules, &Keyless)?;
        let row_count = i128::from(ours.row_count) + i128::from(m.delta);
        let row_count = u64::try_from(row_count).map_err(|_| {
            Error::Invalid(format!(
                "merging keyless table: row count {row_count} out of range"
            ))
        })?;
        let table = store.put(&Table {
            schema: store.put(schema)?,
            rows: m.root,
            row_count,
        })?;
        return Ok(TableMerge {
            table: Some(table),
            conflicts: ConflictSet::default(),
            rows_changed: m.written,
        });
    }
    let mut edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut row_count = ours.row_count;
    for d in ns.diff3(base_rows, ours.rows, theirs_rows) {
        let d = d?;
        let (b, o, t) = (count(&d.base)?, count(&d.ours)?, count(&d.theirs)?);
        let result = (o + t).saturating_sub(b);
        if result == o {
            continue;
        }
        row_count = row_count - o + result;
        let Some(any) = d.ours.as_ref().or(d.theirs.as_ref()).or(d.base.as_ref()) else {
            continue;
        };
        let value = if result == 0 {
            None
        } else {
            let (_, rv) = RowCodec::keyless_split(any.value())?;
            Some(RowCodec::keyless_join(result, rv))
        };
        edits.push((d.key().to_vec(), value));
    }
    let rows_changed = edits.len() as u64;
    let rows = ns.apply(ours.rows, edits)?;
    let table = store.put(&Table {
        schema: store.put(schema)?,
        rows,
        row_count,
    })?;
    Ok(TableMerge {
        table: Some(table),
        conflicts: ConflictSet::default(),
        rows_changed,
    })
}

/// Keyless rows: the result holds ours + theirs − base copies of a row.
struct Keyless;

fn keyless_count(v: Option<&[u8]>) -> Result<u64> {
    v.map_or(Ok(0), |v| Ok(RowCodec::keyless_split(v)?.0))
}

impl Resolver for Keyless {
    type Conflict = ();

    fn resolve(
        &self,
        _key: &[u8],
        b: Option<Row>,
        o: Option<Row>,
        t: Option<Row>,
    ) -> Result<Resolved<()>> {
        let count = |r: &Option<Row>| keyless_count(r.as_ref().map(Row::value));
        let (bc, oc, tc) = (count(&b)?, count(&o)?, count(&t)?);
        let result = (oc + tc).saturating_sub(bc);
        let Some(any) = o.as_ref().or(t.as_ref()).or(b.as_ref()) else {
            return Ok(Resolved::Keep);
        };
        Ok(if result == oc {
            Resolved::Keep
        } else if result == 0 {
            Resolved::Delete
        } else {
            let (_, rv) = RowCodec::keyless_split(any.value())?;
            Resolved::Put(RowCodec::keyless_join(result, rv))
        })
    }

    fn delta(&self, ours: Option<&[u8]>, result: Option<&[u8]>) -> Result<i64> {
        let (o, r) = (keyless_count(ours)?, keyless_count(result)?);
        i64::try_from(i128::from(r) - i128::from(o))
            .map_err(|_| Error::Invalid("keyless row count change out of range".into()))
    }
}

/// Keyed rows under one schema: [`DataMerge::slow_row`] decides.
impl Resolver for DataMerge<'_> {
    type Conflict = RowConflict;

    fn resolve(
        &self,
        _key: &[u8],
        b: Option<Row>,
        o: Option<Row>,
        t: Option<Row>,
    ) -> Result<Resolved<RowConflict>> {
        Ok(match self.slow_row(&b, &o, &t)? {
            Outcome::Keep => Resolved::Keep,
            Outcome::Put(v) => Resolved::Put(v),
            Outcome::Delete => Resolved::Delete,
            Outcome::Conflict(rc) => Resolved::Conflict(rc),
        })
    }
}

struct DataMerge<'a> {
    ns: &'a NodeStore,
    base: Option<Side>,
    ours: Side,
    theirs: Side,
    merged: Side,
    /// Base, ours, theirs and merged share one schema: rows compare as bytes.
    same: bool,
    favor: Favor,
    /// Merge through the three-way diff and `apply` even where the structural merge
    /// applies (tests compare the two).
    legacy: bool,
}

/// A cell value converted to a column type, or why it does not fit.
type Converted = std::result::Result<Value, String>;

impl DataMerge<'_> {
    fn run(&mut self, ours: &Table, base_rows: NodeId, theirs_rows: NodeId) -> Result<TableMerge> {
        let ns = self.ns;
        let mut conflicts = ConflictSet::default();
        let mut row_count = ours.row_count;
        // Our rows must read correctly under the merged schema; a type change on their side
        // means re-encoding every one of them.
        let mut skip: BTreeSet<Vec<u8>> = BTreeSet::new();
        let carrier = if reads_as(&self.ours.schema, &self.merged.schema) {
            ours.rows
        } else {
            let (rows, failed) = self.reencode_ours(ours.rows)?;
            for key in failed {
                let base = self.lookup(base_rows, &key, true)?;
                let ours_row = ns.get(ours.rows, &key)?;
                let theirs_row = self.lookup(theirs_rows, &key, false)?;
                let rc = RowConflict {
                    base,
                    ours: ours_row.map(|r| self.ours.cells(&r)).transpose()?,
                    theirs: theirs_row,
                };
                row_count -= 1;
                skip.insert(key.clone());
                conflicts.rows.insert(key, rc);
            }
            rows
        };
        if self.same && skip.is_empty() && carrier == ours.rows && !self.legacy {
            return self.run_structural(ours, base_rows, theirs_rows);
        }
        let mut edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for d in ns.diff3(base_rows, ours.rows, theirs_rows) {
            let d = d?;
            if !skip.is_empty() && skip.contains(d.key()) {
                continue;
            }
            let outcome = if self.same {
                self.fast_row(&d.base, &d.ours, &d.theirs)?
            } else {
                self.slow_row(&d.base, &d.ours, &d.theirs)?
            };
            let in_ours = d.ours.is_some();
            match outcome {
                Outcome::Keep => {}
                Outcome::Put(v) => {
                    if !in_ours {
                        row_count += 1;
                    }
                    edits.push((d.key().to_vec(), Some(v)));
                }
                Outcome::Delete => {
                    if in_ours {
                        row_count -= 1;
                        edits.push((d.key().to_vec(), None));
                    }
                }
                Outcome::Conflict(rc) => {
                    conflicts.rows.insert(d.key().to_vec(), rc);
                }
            }
        }
        let rows_changed = edits.len() as u64;
        // The diff left our leaves in the cache for this rewrite; the merge does not read
        // the new leaves again.
        let rows = ns.without_leaf_cache().apply(carrier, edits)?;
        let store = ns.store();
        let table = store.put(&Table {
            schema: store.put(&self.merged.schema)?,
            rows,
            row_count,
        })?;
        Ok(TableMerge {
            table: Some(table),
            conflicts,
            rows_changed,
        })
    }

    /// [`DataMerge::run`] for rows under one schema: the structural merge
    /// ([`merge3`]), which takes whole subtrees that only one side changed without reading
    /// them.
    fn run_structural(
        &self,
        ours: &Table,
        base_rows: NodeId,
        theirs_rows: NodeId,
    ) -> Result<TableMerge> {
        let ns = self.ns;
        let rules = Merge3Rules {
            ours_eq_theirs: true,
        };
        let m = merge3(ns, base_rows, ours.rows, theirs_rows, rules, self)?;
        let mut conflicts = ConflictSet::default();
        conflicts.rows.extend(m.conflicts);
        let rows_changed = m.written;
        let store = ns.store();
        let table = store.put(&Table {
            schema: store.put(&self.merged.schema)?,
            rows: m.root,
            row_count: m.rows,
        })?;
        Ok(TableMerge {
            table: Some(table),
            conflicts,
            rows_changed,
        })
    }

    /// The cells of the row with `key` in a base (`is_base`) or their tree.
    fn lookup(&self, root: NodeId, key: &[u8], is_base: bool) -> Result<Option<Cells>> {
        let side = if is_base {
            match &self.base {
                Some(b) => b,
                None => return Ok(None),
            }
        } else {
            &self.theirs
        };
        self.ns.get(root, key)?.map(|r| side.cells(&r)).transpose()
    }

    /// Our rows re-encoded under the merged schema, and the keys of rows that do not fit.
    fn reencode_ours(&self, rows: NodeId) -> Result<(NodeId, Vec<Vec<u8>>)> {
        let mut b = self.ns.builder();
        let mut failed = Vec::new();
        for r in self.ns.scan(rows) {
            let r = r?;
            let cells = self.ours.cells(&r)?;
            match self.encode_side(&cells) {
                Ok((k, v)) if k == r.key() => b.push(&k, &v)?,
                _ => failed.push(r.key().to_vec()),
            }
        }
        Ok((b.finish()?, failed))
    }

    /// The merged-schema encoding of one side's version of a row.
    fn encode_side(&self, cells: &Cells) -> std::result::Result<(Vec<u8>, Vec<u8>), String> {
        encode_cells(&self.merged.schema, &self.merged.codec, cells)
    }

    /// Rows under one shared schema: compare bytes, merge cells only when both sides
    /// changed one row differently.
    fn fast_row(&self, b: &Option<Row>, o: &Option<Row>, t: &Option<Row>) -> Result<Outcome> {
        fn val(r: &Option<Row>) -> Option<&[u8]> {
            r.as_ref().map(Row::value)
        }
        let (bv, ov, tv) = (val(b), val(o), val(t));
        if ov == tv || tv == bv {
            return Ok(Outcome::Keep);
        }
        if ov == bv {
            return Ok(match tv {
                Some(v) => Outcome::Put(v.to_vec()),
                None => Outcome::Delete,
            });
        }
        self.slow_row(b, o, t)
    }

    /// Whether a side's version differs from the base version, comparing the columns both
    /// have (the base value converted to the side's type).
    fn changed(&self, side: &Side, cells: &Cells, base: &Cells) -> bool {
        cells.iter().any(|(tag, v)| match cell(base, *tag) {
            Some(bv) => side
                .ty(*tag)
                .is_none_or(|ty| convert_value(bv, &ty).as_ref() != Ok(v)),
            None => false,
        })
    }

    fn slow_row(&self, b: &Option<Row>, o: &Option<Row>, t: &Option<Row>) -> Result<Outcome> {
        let bc = match (b, &self.base) {
            (Some(r), Some(side)) => Some(side.cells(r)?),
            (Some(r), None) => Some(self.ours.cells(r)?),
            (None, _) => None,
        };
        let oc = o.as_ref().map(|r| self.ours.cells(r)).transpose()?;
        let tc = t.as_ref().map(|r| self.theirs.cells(r)).transpose()?;
        let conflict = |bc: Option<Cells>, oc: Option<Cells>, tc: Option<Cells>| RowConflict {
            base: bc,
            ours: oc,
            theirs: tc,
        };
        match (&bc, &oc, &tc) {
            (_, None, None) => Ok(Outcome::Keep),
            (None, Some(_), None) => Ok(Outcome::Keep),
            (None, None, Some(tc)) => Ok(self.put_side(tc)),
            (Some(bc), None, Some(tc)) => {
                if !self.changed(&self.theirs, tc, bc) {
                    return Ok(Outcome::Keep);
                }
                Ok(self.presence_conflict(conflict(Some(bc.clone()), None, Some(tc.clone()))))
            }
            (Some(bc), Some(oc), None) => {
                if !self.changed(&self.ours, oc, bc) {
                    return Ok(Outcome::Delete);
                }
                Ok(self.presence_conflict(conflict(Some(bc.clone()), Some(oc.clone()), None)))
            }
            (_, Some(oc), Some(tc)) => self.merge_cells(bc.as_ref(), oc, tc),
        }
    }

    /// A row present on one side only, or deleted on one side and changed on the other,
    /// decided by [`DataMerge::favor`].
    fn presence_conflict(&self, rc: RowConflict) -> Outcome {
        let pick = match self.favor {
            Favor::None => return Outcome::Conflict(rc),
            Favor::Ours => return Outcome::Keep,
            Favor::Theirs => &rc.theirs,
            Favor::Base => &rc.base,
        };
        match pick {
            Some(cells) => match self.put_side(cells) {
                Outcome::Conflict(_) => Outcome::Conflict(rc),
                other => other,
            },
            None => Outcome::Delete,
        }
    }

    /// Writes one side's version under the merged schema; a value that does not fit is a
    /// conflict.
    fn put_side(&self, cells: &Cells) -> Outcome {
        match self.encode_side(cells) {
            Ok((_, v)) => Outcome::Put(v),
            Err(_) => Outcome::Conflict(RowConflict {
                base: None,
                ours: None,
                theirs: Some(cells.clone()),
            }),
        }
    }

    /// Both sides have the row: merge cell by cell.
    fn merge_cells(&self, bc: Option<&Cells>, oc: &Cells, tc: &Cells) -> Result<Outcome> {
        let conflict = || {
            Outcome::Conflict(RowConflict {
                base: bc.cloned(),
                ours: Some(oc.clone()),
                theirs: Some(tc.clone()),
            })
        };
        let conv = |cells: &Cells, tag: u64, ty: &Type| -> Option<Converted> {
            cell(cells, tag).map(|v| convert_value(v, ty))
        };
        let mut row: Vec<Value> = Vec::with_capacity(self.merged.schema.columns().len());
        let mut conflicted = false;
        for c in self.merged.schema.columns() {
            let ov = conv(oc, c.tag, &c.ty);
            let tv = conv(tc, c.tag, &c.ty);
            let bv = bc.and_then(|bc| conv(bc, c.tag, &c.ty));
            let value = match (ov, tv) {
                (Some(Ok(o)), None) => o,
                (None, Some(Ok(t))) => t,
                (Some(Ok(o)), Some(Ok(t))) => {
                    let bv = bv.and_then(|b| b.ok());
                    if o == t || bv.as_ref() == Some(&t) {
                        o
                    } else if bv.as_ref() == Some(&o) {
                        t
                    } else {
                        match self.favor {
                            Favor::None => {
                                conflicted = true;
                                o
                            }
                            Favor::Ours => o,
                            Favor::Theirs => t,
                            Favor::Base => bv.unwrap_or(Value::Null),
                        }
                    }
                }
                (None, None) => c.default.clone().unwrap_or(Value::Null),
                // A value that does not fit the merged type.
                _ => return Ok(conflict()),
            };
            row.push(value);
        }
        // A column dropped on one side and edited on the other.
        if let Some(bc) = bc {
            for (side, cells) in [(&self.ours, oc), (&self.theirs, tc)] {
                for (tag, v) in cells {
                    if self.merged.schema.column_by_tag(*tag).is_some() {
                        continue;
                    }
                    let edited = cell(bc, *tag).is_some_and(|b| {
                        side.ty(*tag)
                            .is_none_or(|ty| convert_value(b, &ty).as_ref() != Ok(v))
                    });
                    if edited && self.favor == Favor::None {
                        conflicted = true;
                    }
                }
            }
        }
        if conflicted {
            return Ok(conflict());
        }
        match self.merged.codec.encode_row(&row) {
            Ok((_, v)) => Ok(Outcome::Put(v)),
            Err(Error::Invalid(_)) => Ok(conflict()),
            Err(e) => Err(e),
        }
    }
}
