//! Table and Root objects: a table version and a whole-database version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::{BlobId, CommitId, NodeId, ObjectId, RootId, SchemaId, TableId};

use super::postcard_object;

/// One version of a table: its schema, the root of its row tree and its row count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The table's schema.
    pub schema: SchemaId,
    /// Root node of the prolly tree holding the rows.
    pub rows: NodeId,
    /// Number of rows (for keyless tables, counting duplicates).
    pub row_count: u64,
}
postcard_object!(Table, Table, TableId);

/// A dataset package installed into a database (see the packages issue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    /// Where it was installed from (path of the bundle or directory).
    pub source: String,
    /// The package's commit that was installed.
    pub commit: CommitId,
    /// Hash over the installed content, checked on install.
    pub content_hash: ObjectId,
    /// Names of the tables it installed, as they appear in [`Root::tables`].
    pub tables: Vec<String>,
    /// Names of packages this one depends on.
    pub dependencies: Vec<String>,
}

/// A whole database at one point in time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// Table name → table version, sorted by name.
    pub tables: BTreeMap<String, TableId>,
    /// Named blobs stored alongside the tables.
    pub blobs: BTreeMap<String, BlobId>,
    /// Installed packages by name.
    pub packages: BTreeMap<String, PackageRecord>,
}
postcard_object!(Root, Root, RootId);
