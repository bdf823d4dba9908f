//! Listing, showing and resolving the conflicts of an unfinished merge.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::history::WorkState;
use crate::history::state::write_root;
use crate::id::TableId;
use crate::object::{Root, Table};
use crate::schema::{RowCodec, Schema, Value};
use crate::table::NodeStore;
use crate::workingset::MergeState;

use super::conflicts::{Cells, ConflictSet, RowConflict, TableConflict, cell};
use super::table::encode_cells;

/// The unfinished merge of the current workspace and its conflicts per table.
pub fn current(
    repo: &crate::repo::Repo,
) -> Result<Option<(MergeState, BTreeMap<String, ConflictSet>)>> {
    let st = WorkState::load(repo)?;
    let Some(m) = st.record.merge else {
        return Ok(None);
    };
    let mut sets = BTreeMap::new();
    for (name, id) in &m.conflicts {
        sets.insert(name.clone(), ConflictSet::read(repo.store(), *id)?);
    }
    Ok(Some((m, sets)))
}

/// One column of a conflicting row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownCell {
    /// The column's name in the merged table.
    pub column: String,
    /// Base value (`None`: the row or column is absent at the base).
    pub base: Option<Value>,
    /// Our value (`None`: absent on our side).
    pub ours: Option<Value>,
    /// Their value (`None`: absent on their side).
    pub theirs: Option<Value>,
    /// Whether the two sides changed this cell differently.
    pub conflict: bool,
}

/// One conflicting row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownRow {
    /// The key values, rendered.
    pub key: Vec<String>,
    /// `both modified`, `both added`, `deleted by us`, `deleted by them` or `does not fit`.
    pub kind: &'static str,
    /// Every column of the merged table.
    pub cells: Vec<ShownCell>,
}

/// The conflicts of one table, ready to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// A table-level conflict, if any.
    pub table: Option<TableConflict>,
    /// Names of the key columns.
    pub key_columns: Vec<String>,
    /// Conflicting rows in key order.
    pub rows: Vec<ShownRow>,
}

fn no_merge() -> Error {
    Error::Invalid("there is no merge in progress, so there are no conflicts".into())
}

fn table_set(sets: &BTreeMap<String, ConflictSet>, table: &str) -> Result<ConflictSet> {
    sets.get(table).cloned().ok_or_else(|| {
        let names: Vec<&str> = sets.keys().map(String::as_str).collect();
        Error::Invalid(format!(
            "table '{table}' has no conflicts{}",
            if names.is_empty() {
                String::new()
            } else {
                format!(" (tables with conflicts: {})", names.join(", "))
            }
        ))
    })
}

/// The schema conflicting rows of `table` are shown and resolved in: the working table's.
fn working_schema(
    store: &crate::store::Store,
    working: &Root,
    table: &str,
) -> Result<Option<(Table, Schema)>> {
    match working.tables.get(table) {
        Some(id) => {
            let t: Table = store.get(id)?;
            let s: Schema = store.get(&t.schema)?;
            Ok(Some((t, s)))
        }
        None => Ok(None),
    }
}

fn row_kind(rc: &RowConflict) -> &'static str {
    match (&rc.base, &rc.ours, &rc.theirs) {
        (_, None, Some(_)) if rc.base.is_some() => "deleted by us",
        (_, Some(_), None) if rc.base.is_some() => "deleted by them",
        (None, Some(_), Some(_)) => "both added",
        (Some(_), Some(_), Some(_)) => "both modified",
        _ => "does not fit",
    }
}

/// The rendered key of a conflicting row.
fn key_text(codec: &RowCodec, key: &[u8]) -> Result<Vec<String>> {
    Ok(codec.decode_key(key)?.iter().map(Value::render).collect())
}

/// The conflicts of `table` with base, ours and theirs per cell.
pub fn show(repo: &crate::repo::Repo, table: &str) -> Result<Shown> {
    let (_, sets) = current(repo)?.ok_or_else(no_merge)?;
    let set = table_set(&sets, table)?;
    let st = WorkState::load(repo)?;
    let working = st.working(repo.store())?;
    let mut out = Shown {
        table: set.table.clone(),
        key_columns: Vec::new(),
        rows: Vec::new(),
    };
    let Some((_, schema)) = working_schema(repo.store(), &working, table)? else {
        return Ok(out);
    };
    let codec = RowCodec::new(&schema);
    out.key_columns = schema
        .primary_key()
        .iter()
        .map(|&i| schema.columns()[i].name.clone())
        .collect();
    for (key, rc) in &set.rows {
        let get = |c: &Option<Cells>, tag: u64| c.as_ref().and_then(|c| cell(c, tag).cloned());
        let cells = schema
            .columns()
            .iter()
            .map(|c| {
                let (b, o, t) = (
                    get(&rc.base, c.tag),
                    get(&rc.ours, c.tag),
                    get(&rc.theirs, c.tag),
                );
                let conflict = o != t && o != b && t != b;
                ShownCell {
                    column: c.name.clone(),
                    base: b,
                    ours: o,
                    theirs: t,
                    conflict,
                }
            })
            .collect();
        out.rows.push(ShownRow {
            key: key_text(&codec, key)?,
            kind: row_kind(rc),
            cells,
        });
    }
    Ok(out)
}

/// How to resolve conflicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Keep our version.
    Ours,
    /// Take their version.
    Theirs,
    /// Take the rows in this file (CSV, JSONL, … with the table's columns).
    File(PathBuf),
}

/// What [`resolve`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Conflicts resolved.
    pub resolved: u64,
    /// Conflicts left in the table.
    pub remaining: u64,
}

/// Resolves conflicts of `table`: all of them, or with `keys` (rendered key values, joined
/// by `,` for composite keys) only those rows. The working and staged table get the chosen
/// rows; the merge state keeps what is left.
pub fn resolve(
    repo: &crate::repo::Repo,
    table: &str,
    how: &Resolution,
    keys: &[String],
) -> Result<Resolved> {
    let st = WorkState::load(repo)?;
    let m = st.record.merge.clone().ok_or_else(no_merge)?;
    let store = repo.store();
    let conflicts_id = *m.conflicts.get(table).ok_or_else(|| {
        let names: Vec<&str> = m.conflicts.keys().map(String::as_str).collect();
        Error::Invalid(format!(
            "table '{table}' has no conflicts{}",
            if names.is_empty() {
                String::new()
            } else {
                format!(" (tables with conflicts: {})", names.join(", "))
            }
        ))
    })?;
    let mut set = ConflictSet::read(store, conflicts_id)?;
    let mut working = st.working(store)?;
    let mut staged = st.staged(store)?;
    let mut resolved = 0u64;
    let new_table: Option<TableId> = if let Some(tc) = set.table.clone() {
        if !keys.is_empty() {
            return Err(Error::Invalid(format!(
                "table '{table}' has a table-level conflict ({}); --key does not apply\nhint: resolve it with --ours or --theirs",
                tc.reason
            )));
        }
        let chosen = match how {
            Resolution::Ours => tc.ours,
            Resolution::Theirs => tc.theirs,
            Resolution::File(_) => {
                return Err(Error::Invalid(format!(
                    "table '{table}' has a table-level conflict ({}); --from-file resolves rows only\nhint: resolve it with --ours or --theirs",
                    tc.reason
                )));
            }
        };
        resolved = set.len();
        set = ConflictSet::default();
        chosen
    } else {
        let (t, schema) = working_schema(store, &working, table)?.ok_or_else(|| {
            Error::Invalid(format!("table '{table}' is not in the working state"))
        })?;
        let codec = RowCodec::new(&schema);
        let mut edits: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        match how {
            Resolution::Ours | Resolution::Theirs => {
                let selected: Vec<Vec<u8>> = if keys.is_empty() {
                    set.rows.keys().cloned().collect()
                } else {
                    select_keys(&codec, &set, keys, table)?
                };
                for key in selected {
                    let Some(rc) = set.rows.get(&key) else {
                        continue;
                    };
                    let side = if *how == Resolution::Ours {
                        &rc.ours
                    } else {
                        &rc.theirs
                    };
                    let value = match side {
                        None => None,
                        Some(cells) => {
                            let (k, v) = encode_cells(&schema, &codec, cells).map_err(|e| {
                                Error::Invalid(format!(
                                    "table '{table}' row ({}): the chosen version does not fit the table: {e}\nhint: write the row as it should be to a file and use --from-file",
                                    key_text(&codec, &key).map(|k| k.join(", ")).unwrap_or_default()
                                ))
                            })?;
                            if k != key {
                                return Err(Error::Invalid(format!(
                                    "table '{table}': a conflicting row's key no longer matches the table's key"
                                )));
                            }
                            Some(v)
                        }
                    };
                    edits.insert(key.clone(), value);
                    set.rows.remove(&key);
                    resolved += 1;
                }
            }
            Resolution::File(path) => {
                if !keys.is_empty() {
                    return Err(Error::Invalid(
                        "--key does not apply with --from-file: the file's rows name their keys"
                            .into(),
                    ));
                }
                let rows = crate::tables::read_file_rows(path, &schema, table)?;
                for row in rows {
                    let (k, v) = codec
                        .encode_row(&row)
                        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
                    if set.rows.remove(&k).is_none() {
                        let shown = key_text(&codec, &k)?.join(", ");
                        return Err(Error::Invalid(format!(
                            "{}: row ({shown}) is not a conflicting row of table '{table}'\nhint: see the conflicting rows with 'kodiak conflicts show {table}'",
                            path.display()
                        )));
                    }
                    edits.insert(k, Some(v));
                    resolved += 1;
                }
            }
        }
        let ns = NodeStore::new(store.clone());
        let mut row_count = t.row_count;
        for (k, v) in &edits {
            let exists = ns.get(t.rows, k)?.is_some();
            match (exists, v) {
                (false, Some(_)) => row_count += 1,
                (true, None) => row_count -= 1,
                _ => {}
            }
        }
        let rows = ns.apply(t.rows, edits)?;
        Some(store.put(&Table {
            schema: t.schema,
            rows,
            row_count,
        })?)
    };
    for root in [&mut working, &mut staged] {
        match new_table {
            Some(id) => root.tables.insert(table.to_string(), id),
            None => root.tables.remove(table),
        };
    }
    let working_id = write_root(store, &working)?;
    let staged_id = write_root(store, &staged)?;
    let remaining = set.len();
    let mut merge = m.clone();
    if set.is_empty() {
        merge.conflicts.remove(table);
    } else {
        merge.conflicts.insert(table.to_string(), set.write(store)?);
    }
    let mut record = st.record_with(st.record.head.clone(), st.head_root, staged_id, working_id);
    record.merge = Some(merge);
    repo.transaction(
        &st.update(record),
        &format!("conflicts: resolved {resolved} in {table}"),
    )?;
    Ok(Resolved {
        resolved,
        remaining,
    })
}

/// The stored keys of the conflicting rows named by `keys`; an unknown key is an error.
fn select_keys(
    codec: &RowCodec,
    set: &ConflictSet,
    keys: &[String],
    table: &str,
) -> Result<Vec<Vec<u8>>> {
    let mut by_text: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for k in set.rows.keys() {
        by_text.insert(key_text(codec, k)?.join(","), k.clone());
    }
    keys.iter()
        .map(|k| {
            by_text.get(k).cloned().ok_or_else(|| {
                Error::Invalid(format!(
                    "table '{table}' has no conflicting row with key '{k}'\nhint: see the conflicting rows with 'kodiak conflicts show {table}'"
                ))
            })
        })
        .collect()
}
