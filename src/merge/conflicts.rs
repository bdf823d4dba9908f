//! The conflicts table: every unresolved conflict of one table, with all three versions.
//!
//! A conflicts table is an ordinary Table object whose schema is [`conflicts_schema`]:
//! `key BYTES` (primary key), `base BYTES`, `ours BYTES`, `theirs BYTES`, `reason TEXT`.
//! A row conflict is keyed by the conflicting row's key (in the merged table's key encoding);
//! each side holds the postcard encoding of that version's cells as `(tag, value)` pairs, or
//! NULL when the row is absent on that side. A table-level conflict (schemas that cannot be
//! merged, a table dropped on one side and changed on the other) is the row with the empty
//! key; its sides hold the 32-byte table ids (NULL when absent) and `reason` says why.
//! See "Conflicts tables" in `objects_format.md`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::id::{ObjectId, TableId};
use crate::object::Table;
use crate::schema::{ColumnDef, RowCodec, Schema, Type, Value};
use crate::store::Store;
use crate::table::NodeStore;

/// One version of a row: `(column tag, value)` per column of that side's schema.
pub type Cells = Vec<(u64, Value)>;

/// A row changed incompatibly on the two sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowConflict {
    /// The row at the merge base, if it existed there.
    pub base: Option<Cells>,
    /// Our version, if the row exists on our side.
    pub ours: Option<Cells>,
    /// Their version, if the row exists on their side.
    pub theirs: Option<Cells>,
}

/// A whole table that could not be merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableConflict {
    /// The table at the merge base.
    pub base: Option<TableId>,
    /// Our table.
    pub ours: Option<TableId>,
    /// Their table.
    pub theirs: Option<TableId>,
    /// Why it could not be merged.
    pub reason: String,
}

/// Every unresolved conflict of one table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConflictSet {
    /// A table-level conflict, if any.
    pub table: Option<TableConflict>,
    /// Row conflicts by row key.
    pub rows: BTreeMap<Vec<u8>, RowConflict>,
}

/// The schema of every conflicts table.
pub fn conflicts_schema() -> Result<Schema> {
    let bytes = |n: &str| ColumnDef::new(n, Type::Bytes);
    Schema::new(
        "kodiak_conflicts",
        vec![
            bytes("key").not_null(),
            bytes("base"),
            bytes("ours"),
            bytes("theirs"),
            ColumnDef::new("reason", Type::Text),
        ],
        &["key"],
    )
}

fn cells_value(cells: &Option<Cells>) -> Value {
    match cells {
        Some(c) => {
            let mut out = Vec::new();
            crate::object::postcard_encode(c, &mut out);
            Value::Bytes(out)
        }
        None => Value::Null,
    }
}

fn table_value(id: &Option<TableId>) -> Value {
    id.map_or(Value::Null, |t| Value::Bytes(t.id().as_bytes().to_vec()))
}

fn malformed(what: &str) -> Error {
    Error::Invalid(format!("malformed conflicts table: {what}"))
}

fn cells_of(v: &Value) -> Result<Option<Cells>> {
    match v {
        Value::Null => Ok(None),
        Value::Bytes(b) => {
            let (cells, rest) = postcard::take_from_bytes::<Cells>(b)
                .map_err(|e| malformed(&format!("row version: {e}")))?;
            if !rest.is_empty() {
                return Err(malformed("trailing bytes after a row version"));
            }
            Ok(Some(cells))
        }
        _ => Err(malformed("row version is not BYTES")),
    }
}

fn table_id_of(v: &Value) -> Result<Option<TableId>> {
    match v {
        Value::Null => Ok(None),
        Value::Bytes(b) => ObjectId::from_slice(b)
            .map(|id| Some(TableId::new(id)))
            .ok_or_else(|| malformed("table version is not a 32-byte id")),
        _ => Err(malformed("table version is not a 32-byte id")),
    }
}

impl ConflictSet {
    /// Whether nothing is left to resolve.
    pub fn is_empty(&self) -> bool {
        self.table.is_none() && self.rows.is_empty()
    }

    /// Number of conflicts: conflicting rows, plus one for a table-level conflict.
    pub fn len(&self) -> u64 {
        self.rows.len() as u64 + u64::from(self.table.is_some())
    }

    /// Stores the set as a conflicts table and returns its id.
    pub fn write(&self, store: &Store) -> Result<TableId> {
        let schema = conflicts_schema()?;
        let codec = RowCodec::new(&schema);
        let ns = NodeStore::new(store.clone());
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(self.rows.len() + 1);
        if let Some(t) = &self.table {
            let row = [
                Value::Bytes(Vec::new()),
                table_value(&t.base),
                table_value(&t.ours),
                table_value(&t.theirs),
                Value::Text(t.reason.clone()),
            ];
            rows.push(codec.encode_row(&row)?);
        }
        for (key, c) in &self.rows {
            if key.is_empty() {
                return Err(Error::Invalid("a conflicting row has an empty key".into()));
            }
            let row = [
                Value::Bytes(key.clone()),
                cells_value(&c.base),
                cells_value(&c.ours),
                cells_value(&c.theirs),
                Value::Null,
            ];
            rows.push(codec.encode_row(&row)?);
        }
        // Encoded keys sort like the raw keys, and the empty key first.
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let root = ns.build(rows.iter().map(|(k, v)| (k, v)))?;
        let schema_id = store.put(&schema)?;
        store.put(&Table {
            schema: schema_id,
            rows: root,
            row_count: rows.len() as u64,
        })
    }

    /// Reads a conflicts table written by [`ConflictSet::write`].
    pub fn read(store: &Store, id: TableId) -> Result<ConflictSet> {
        let t: Table = store.get(&id)?;
        let schema: Schema = store.get(&t.schema)?;
        if schema != conflicts_schema()? {
            return Err(malformed(&format!(
                "table {} does not have the conflicts schema",
                id.short()
            )));
        }
        let codec = RowCodec::new(&schema);
        let ns = NodeStore::new(store.clone());
        let mut out = ConflictSet::default();
        for r in ns.scan(t.rows) {
            let r = r?;
            let row = codec.decode_row(r.key(), r.value())?;
            let Value::Bytes(key) = &row[0] else {
                return Err(malformed("key is not BYTES"));
            };
            if key.is_empty() {
                let reason = match &row[4] {
                    Value::Text(s) => s.clone(),
                    _ => return Err(malformed("table conflict without a reason")),
                };
                out.table = Some(TableConflict {
                    base: table_id_of(&row[1])?,
                    ours: table_id_of(&row[2])?,
                    theirs: table_id_of(&row[3])?,
                    reason,
                });
            } else {
                out.rows.insert(
                    key.clone(),
                    RowConflict {
                        base: cells_of(&row[1])?,
                        ours: cells_of(&row[2])?,
                        theirs: cells_of(&row[3])?,
                    },
                );
            }
        }
        Ok(out)
    }
}

/// The value of the column with `tag` in `cells`, if that version has the column.
pub fn cell(cells: &Cells, tag: u64) -> Option<&Value> {
    cells.iter().find(|(t, _)| *t == tag).map(|(_, v)| v)
}
