//! Blame: the commit that last changed each row of a table.
//!
//! The walk follows first parents from the starting commit. At every commit whose version of
//! the table has another row tree than its parent's, the tree diff names the rows it changed;
//! each row still unattributed that the commit added or changed is attributed to it. When the
//! table does not exist in the parent (or there is no parent), every remaining row is
//! attributed to that commit. The walk stops as soon as every row is attributed, and each diff
//! costs what differs, not the table's size.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::id::{CommitId, NodeId};
use crate::object::{Commit, Table};
use crate::repo::Repo;
use crate::schema::{RowCodec, Schema, Value};
use crate::table::NodeStore;

use super::state::read_root;

/// One row and the commit that last changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlameRow {
    /// The row's stored key.
    pub key: Vec<u8>,
    /// The row's stored value.
    pub value: Vec<u8>,
    /// The commit that last added or changed it.
    pub commit: CommitId,
}

/// A filter `column = value` on decoded rows.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Column position in the schema.
    pub column: usize,
    /// The value it must equal.
    pub value: Value,
}

/// Parses `col=value` filters against a schema.
pub fn parse_filters(schema: &Schema, texts: &[String]) -> Result<Vec<Filter>> {
    texts
        .iter()
        .map(|t| {
            let (col, val) = t.split_once('=').ok_or_else(|| {
                Error::Invalid(format!("invalid filter '{t}': expected COLUMN=VALUE"))
            })?;
            let (idx, c) = schema.column(col.trim()).ok_or_else(|| {
                Error::Invalid(format!(
                    "invalid filter '{t}': no column named '{}'",
                    col.trim()
                ))
            })?;
            let value = Value::parse(&c.ty, val)
                .map_err(|e| Error::Invalid(format!("invalid filter '{t}': {e}")))?;
            Ok(Filter { column: idx, value })
        })
        .collect()
}

fn table_rows(repo: &Repo, commit: &Commit, table: &str) -> Result<Option<NodeId>> {
    let root = read_root(repo.store(), commit.root)?;
    match root.tables.get(table) {
        Some(id) => Ok(Some(repo.store().get::<Table>(id)?.rows)),
        None => Ok(None),
    }
}

/// The table's schema at `start` and, in key order, every row (matching `filters`) with the
/// commit that last changed it.
pub fn blame(
    repo: &Repo,
    start: CommitId,
    table: &str,
    filters: &[String],
) -> Result<(Schema, Vec<BlameRow>)> {
    let store = repo.store();
    let first: Commit = store.get(&start)?;
    let root = read_root(store, first.root)?;
    let tid = root.tables.get(table).ok_or_else(|| {
        Error::Invalid(format!(
            "table '{table}' does not exist at {}",
            start.short()
        ))
    })?;
    let t: Table = store.get(tid)?;
    let schema: Schema = store.get(&t.schema)?;
    let codec = RowCodec::new(&schema);
    let filters = parse_filters(&schema, filters)?;
    let ns = NodeStore::new(store.clone());
    let mut pending: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for row in ns.scan(t.rows) {
        let row = row?;
        if !filters.is_empty() {
            let values = codec.decode_row(row.key(), row.value())?;
            if !filters.iter().all(|f| values[f.column] == f.value) {
                continue;
            }
        }
        pending.insert(row.key().to_vec(), row.value().to_vec());
    }
    let mut out: BTreeMap<Vec<u8>, BlameRow> = BTreeMap::new();
    let mut cur_id = start;
    let mut cur = first;
    let mut cur_rows = t.rows;
    while !pending.is_empty() {
        let parent = match cur.parents.first() {
            Some(p) => {
                let pc: Commit = store.get(p)?;
                let rows = table_rows(repo, &pc, table)?;
                rows.map(|r| (*p, pc, r))
            }
            None => None,
        };
        let Some((pid, pc, prows)) = parent else {
            for (key, value) in std::mem::take(&mut pending) {
                out.insert(
                    key.clone(),
                    BlameRow {
                        key,
                        value,
                        commit: cur_id,
                    },
                );
            }
            break;
        };
        if prows != cur_rows {
            for d in ns.diff(prows, cur_rows) {
                let d = d?;
                if d.new.is_none() {
                    continue;
                }
                if let Some(value) = pending.remove(d.key()) {
                    let key = d.key().to_vec();
                    out.insert(
                        key.clone(),
                        BlameRow {
                            key,
                            value,
                            commit: cur_id,
                        },
                    );
                }
            }
        }
        cur_id = pid;
        cur = pc;
        cur_rows = prows;
    }
    Ok((schema, out.into_values().collect()))
}
