//! Blame: the commit that last changed each row of a table.
//!
//! The walk goes back from the starting commit through every parent, newest commit first,
//! carrying the rows still unattributed. At a commit, a row passes to the first parent whose
//! version of the table holds the same row (unchanged rows are found with the tree diff, which
//! costs what differs, not the table's size); a row no parent holds unchanged — added or
//! changed there, or resolved differently in a merge — is attributed to that commit, as is
//! every row reaching a root commit or a parent without the table. Rows that reach one commit
//! along several paths are handled once. The walk stops as soon as every row is attributed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

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

/// A commit still to visit: the commit, its version of the table's rows, and the rows (key →
/// value) handed to it that are not attributed yet.
type Visit = (Commit, NodeId, BTreeMap<Vec<u8>, Vec<u8>>);

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
    // Commits still to visit, newest first, each with the rows handed to it.
    let mut heap: BinaryHeap<(i64, Reverse<u64>, CommitId)> = BinaryHeap::new();
    let mut waiting: HashMap<CommitId, Visit> = HashMap::new();
    let mut seq = 0u64;
    heap.push((first.committer.time, Reverse(seq), start));
    waiting.insert(start, (first, t.rows, pending));
    while let Some((_, _, cid)) = heap.pop() {
        let Some((commit, rows, mut pending)) = waiting.remove(&cid) else {
            continue;
        };
        for p in &commit.parents {
            if pending.is_empty() {
                break;
            }
            let pc: Commit = store.get(p)?;
            let Some(prows) = table_rows(repo, &pc, table)? else {
                continue;
            };
            // Rows of `pending` the parent holds unchanged pass to it.
            let mut passed = BTreeMap::new();
            if prows == rows {
                passed = std::mem::take(&mut pending);
            } else {
                let mut changed = std::collections::BTreeSet::new();
                for d in ns.diff(prows, rows) {
                    let d = d?;
                    if d.new.is_some() && pending.contains_key(d.key()) {
                        changed.insert(d.key().to_vec());
                    }
                }
                let keys: Vec<Vec<u8>> = pending
                    .keys()
                    .filter(|k| !changed.contains(*k))
                    .cloned()
                    .collect();
                for k in keys {
                    if let Some(v) = pending.remove(&k) {
                        passed.insert(k, v);
                    }
                }
            }
            if passed.is_empty() {
                continue;
            }
            match waiting.get_mut(p) {
                Some((_, _, rows_there)) => rows_there.extend(passed),
                None => {
                    seq += 1;
                    heap.push((pc.committer.time, Reverse(seq), *p));
                    waiting.insert(*p, (pc, prows, passed));
                }
            }
        }
        for (key, value) in pending {
            out.insert(
                key.clone(),
                BlameRow {
                    key,
                    value,
                    commit: cid,
                },
            );
        }
        if waiting.is_empty() {
            break;
        }
    }
    Ok((schema, out.into_values().collect()))
}
