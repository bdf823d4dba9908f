//! Diffs between two database states: which tables changed (with renames matched by column
//! tags), how their schemas changed (by column tag), and which rows and cells changed (from the
//! prolly tree diff), plus writers for text, JSON, CSV and SQL output.
//!
//! - [`plan`] pairs the tables of two roots into [`TableDiff`]s; unchanged tables (same
//!   [`TableId`]) are never loaded, so identical states cost nothing per row.
//! - [`schema::diff_schemas`] compares two schemas column by column by tag.
//! - [`TableDiff::rows`] streams [`rows::RowChange`]s in key order without collecting them.
//! - [`format`] writes a plan in each output format, streaming rows.

pub mod format;
pub mod rows;
pub mod schema;
pub mod words;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::id::TableId;
use crate::object::{Root, Table};
use crate::schema::Schema;
use crate::store::Store;

pub use rows::{DiffColumn, DiffColumns, DiffStats, RowChange, RowDiff, RowKind};
pub use schema::{ColumnChange, SchemaDiff, diff_schemas};

/// One side of a table pair: its name, version, table object and schema.
#[derive(Clone, Debug)]
pub struct TableSide {
    /// The table's name in its root.
    pub name: String,
    /// The table version.
    pub id: TableId,
    /// The table object.
    pub table: Table,
    /// Its schema.
    pub schema: Schema,
}

impl TableSide {
    fn load(store: &Store, name: &str, id: TableId) -> Result<TableSide> {
        let table: Table = store.get(&id)?;
        let schema: Schema = store.get(&table.schema)?;
        Ok(TableSide {
            name: name.to_string(),
            id,
            table,
            schema,
        })
    }
}

/// How a table differs between the two states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// Only in the new state.
    Added,
    /// Only in the old state.
    Dropped,
    /// In both under the same name, with another version.
    Modified,
    /// In both under different names (matched by version or column tags); it may also have
    /// other changes.
    Renamed,
}

impl TableKind {
    /// The word used in every output format: `added`, `dropped`, `modified`, `renamed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Added => "added",
            TableKind::Dropped => "dropped",
            TableKind::Modified => "modified",
            TableKind::Renamed => "renamed",
        }
    }
}

/// A table that differs between two states: its old and new sides and its schema changes.
#[derive(Clone, Debug)]
pub struct TableDiff {
    /// The table in the old state, if it exists there.
    pub old: Option<TableSide>,
    /// The table in the new state, if it exists there.
    pub new: Option<TableSide>,
    /// Column and primary key changes (empty for added or dropped tables).
    pub schema: SchemaDiff,
}

impl TableDiff {
    /// The name to show: the new name, or the old one for a dropped table.
    pub fn name(&self) -> &str {
        match (&self.new, &self.old) {
            (Some(s), _) | (None, Some(s)) => &s.name,
            (None, None) => "",
        }
    }

    /// The old name, if the table exists in the old state.
    pub fn old_name(&self) -> Option<&str> {
        self.old.as_ref().map(|s| s.name.as_str())
    }

    /// The new name, if the table exists in the new state.
    pub fn new_name(&self) -> Option<&str> {
        self.new.as_ref().map(|s| s.name.as_str())
    }

    /// What happened to the table.
    pub fn kind(&self) -> TableKind {
        match (&self.old, &self.new) {
            (None, _) => TableKind::Added,
            (Some(_), None) => TableKind::Dropped,
            (Some(o), Some(n)) if o.name != n.name => TableKind::Renamed,
            _ => TableKind::Modified,
        }
    }

    /// Whether the rows may differ (the row trees differ, or one side is missing). A table
    /// whose trees differ only in bytes that decode to equal values yields no row changes.
    pub fn data_changed(&self) -> bool {
        match (&self.old, &self.new) {
            (Some(o), Some(n)) => {
                o.table.rows != n.table.rows || rows::reads_old_slots(&o.schema, &n.schema)
            }
            (Some(s), None) | (None, Some(s)) => s.table.row_count > 0,
            (None, None) => false,
        }
    }

    /// Whether the schema differs (columns, primary key), or the table was added or dropped.
    pub fn schema_changed(&self) -> bool {
        match (&self.old, &self.new) {
            (Some(o), Some(n)) => o.table.schema != n.table.schema && !self.schema.is_empty(),
            _ => true,
        }
    }

    /// The columns rows are shown with: the new schema's, then columns only the old one has.
    pub fn columns(&self) -> DiffColumns {
        DiffColumns::new(
            self.old.as_ref().map(|s| &s.schema),
            self.new.as_ref().map(|s| &s.schema),
        )
    }

    /// The row changes, in key order, keeping rows that match every `COLUMN=VALUE` filter,
    /// at most `limit` of them.
    pub fn rows(&self, store: &Store, filters: &[String], limit: Option<u64>) -> Result<RowDiff> {
        RowDiff::new(store, self, filters, limit)
    }

    /// Counts of changed rows and cells (row counts come straight from the table objects for
    /// added and dropped tables when there is no filter).
    pub fn stats(&self, store: &Store, filters: &[String]) -> Result<DiffStats> {
        if filters.is_empty() {
            match (&self.old, &self.new) {
                (None, Some(n)) => {
                    return Ok(DiffStats {
                        rows_added: n.table.row_count,
                        ..DiffStats::default()
                    });
                }
                (Some(o), None) => {
                    return Ok(DiffStats {
                        rows_deleted: o.table.row_count,
                        ..DiffStats::default()
                    });
                }
                _ => {}
            }
        }
        let mut rows = self.rows(store, filters, None)?;
        if filters.is_empty() {
            return rows.count_changes();
        }
        let mut stats = DiffStats::default();
        while let Some(change) = rows.next_change()? {
            stats.add(&change);
        }
        Ok(stats)
    }
}

/// Which tables to compare and which rows to show.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// Only these tables (by old or new name); empty means all.
    pub tables: Vec<String>,
    /// `COLUMN=VALUE` filters on rows (a row matches when its old or new version does).
    pub filters: Vec<String>,
    /// At most this many row changes per table.
    pub limit: Option<u64>,
}

fn column_tags(s: &Schema) -> BTreeSet<u64> {
    s.columns().iter().map(|c| c.tag).collect()
}

/// The tables that differ between `old` and `new`, sorted by their shown name.
///
/// Tables with the same name are paired. A table only in `old` and one only in `new` are paired
/// as a rename when they have the same version, or else when they share column tags (tags are
/// derived from the table a column was created in and survive renames); the pair sharing the
/// most tags is matched first. `tables` limits the result to tables with one of those names on
/// either side; a name on neither side is an error.
pub fn plan(store: &Store, old: &Root, new: &Root, tables: &[String]) -> Result<Vec<TableDiff>> {
    for t in tables {
        if !old.tables.contains_key(t) && !new.tables.contains_key(t) {
            return Err(Error::Invalid(format!(
                "table '{t}' does not exist in either state being compared"
            )));
        }
    }
    let mut out = Vec::new();
    let mut old_only: BTreeMap<&str, TableId> = BTreeMap::new();
    for (name, id) in &old.tables {
        match new.tables.get(name) {
            Some(n) if n == id => {}
            Some(n) => out.push((Some((name.as_str(), *id)), Some((name.as_str(), *n)))),
            None => {
                old_only.insert(name, *id);
            }
        }
    }
    let mut new_only: BTreeMap<&str, TableId> = new
        .tables
        .iter()
        .filter(|(n, _)| !old.tables.contains_key(*n))
        .map(|(n, id)| (n.as_str(), *id))
        .collect();
    // Renames without other changes: the same version under another name.
    let same: Vec<(&str, &str, TableId)> = new_only
        .iter()
        .filter_map(|(n, id)| {
            old_only
                .iter()
                .find(|(_, o)| *o == id)
                .map(|(o, _)| (*o, *n, *id))
        })
        .collect();
    for (o, n, id) in same {
        if old_only.remove(o).is_some() && new_only.remove(n).is_some() {
            out.push((Some((o, id)), Some((n, id))));
        }
    }
    // Renames with changes: shared column tags.
    if !old_only.is_empty() && !new_only.is_empty() {
        let mut olds = Vec::new();
        for (name, id) in &old_only {
            let t: Table = store.get(id)?;
            olds.push((*name, column_tags(&store.get(&t.schema)?)));
        }
        let mut news = Vec::new();
        for (name, id) in &new_only {
            let t: Table = store.get(id)?;
            news.push((*name, column_tags(&store.get(&t.schema)?)));
        }
        let mut pairs: Vec<(usize, &str, &str)> = Vec::new();
        for (o, ot) in &olds {
            for (n, nt) in &news {
                let shared = ot.intersection(nt).count();
                if shared > 0 {
                    pairs.push((shared, o, n));
                }
            }
        }
        // Most shared tags first, then by names for a deterministic choice.
        pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)).then(a.2.cmp(b.2)));
        for (_, o, n) in pairs {
            if old_only.contains_key(o) && new_only.contains_key(n) {
                let (Some(oid), Some(nid)) = (old_only.remove(o), new_only.remove(n)) else {
                    continue;
                };
                out.push((Some((o, oid)), Some((n, nid))));
            }
        }
    }
    for (name, id) in old_only {
        out.push((Some((name, id)), None));
    }
    for (name, id) in new_only {
        out.push((None, Some((name, id))));
    }
    let wanted = |o: &Option<(&str, TableId)>, n: &Option<(&str, TableId)>| {
        tables.is_empty()
            || tables.iter().any(|t| {
                o.is_some_and(|(name, _)| name == t) || n.is_some_and(|(name, _)| name == t)
            })
    };
    let mut diffs = Vec::new();
    for (o, n) in out {
        if !wanted(&o, &n) {
            continue;
        }
        let old = o
            .map(|(name, id)| TableSide::load(store, name, id))
            .transpose()?;
        let new = n
            .map(|(name, id)| TableSide::load(store, name, id))
            .transpose()?;
        let schema = match (&old, &new) {
            (Some(o), Some(n)) => diff_schemas(&o.schema, &n.schema),
            _ => SchemaDiff::default(),
        };
        diffs.push(TableDiff { old, new, schema });
    }
    diffs.sort_by(|a, b| a.name().cmp(b.name()).then(a.old_name().cmp(&b.old_name())));
    Ok(diffs)
}
