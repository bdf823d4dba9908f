//! Row-level changes of one table between two versions, from the prolly tree diff.

use serde::Serialize;

use crate::error::Result;
use crate::id::TableId;
use crate::object::Table;
use crate::schema::RowCodec;
use crate::store::Store;
use crate::table::NodeStore;

/// How the rows (and schema) of a table changed between two versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TableStats {
    /// Whether the schema differs.
    pub schema_changed: bool,
    /// Rows only in the new version (for keyless tables: added duplicates too).
    pub added: u64,
    /// Rows whose key is in both versions with another value.
    pub modified: u64,
    /// Rows only in the old version (for keyless tables: removed duplicates too).
    pub deleted: u64,
}

impl TableStats {
    /// `+A ~M -D rows`, with `schema, ` in front when the schema changed.
    pub fn summary(&self) -> String {
        format!(
            "{}+{} ~{} -{} rows",
            if self.schema_changed { "schema, " } else { "" },
            self.added,
            self.modified,
            self.deleted
        )
    }
}

fn keyless_count(value: &[u8]) -> Result<u64> {
    Ok(RowCodec::keyless_split(value)?.0)
}

/// Row changes from `old` to `new` (either may be absent: the table was added or deleted).
///
/// Keyless tables are recognised by their schema; their duplicate counts are compared.
pub fn table_stats(
    store: &Store,
    old: Option<TableId>,
    new: Option<TableId>,
) -> Result<TableStats> {
    let old_t = old.map(|id| store.get::<Table>(&id)).transpose()?;
    let new_t = new.map(|id| store.get::<Table>(&id)).transpose()?;
    let (o, n) = match (old_t, new_t) {
        (None, None) => return Ok(TableStats::default()),
        (None, Some(n)) => {
            return Ok(TableStats {
                added: n.row_count,
                ..TableStats::default()
            });
        }
        (Some(o), None) => {
            return Ok(TableStats {
                deleted: o.row_count,
                ..TableStats::default()
            });
        }
        (Some(o), Some(n)) => (o, n),
    };
    let mut stats = TableStats {
        schema_changed: o.schema != n.schema,
        ..TableStats::default()
    };
    if o.rows == n.rows {
        return Ok(stats);
    }
    let keyless = store.get::<crate::schema::Schema>(&n.schema)?.is_keyless();
    let ns = NodeStore::new(store.clone());
    for d in ns.diff(o.rows, n.rows) {
        let d = d?;
        if keyless {
            let before = d.old_value().map(keyless_count).transpose()?.unwrap_or(0);
            let after = d.new_value().map(keyless_count).transpose()?.unwrap_or(0);
            if after > before {
                stats.added += after - before;
            } else {
                stats.deleted += before - after;
            }
            continue;
        }
        match (&d.old, &d.new) {
            (None, Some(_)) => stats.added += 1,
            (Some(_), None) => stats.deleted += 1,
            (Some(_), Some(_)) => stats.modified += 1,
            (None, None) => {}
        }
    }
    Ok(stats)
}
