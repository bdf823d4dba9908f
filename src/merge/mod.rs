//! Three-way merge of databases: tables by primary key and cell, schemas by column tag,
//! with conflicts recorded in conflicts tables; and the operations built on it (merge,
//! revert, cherry-pick, conflict resolution). See `docs/merge.md`.

pub mod conflicts;
pub mod ops;
pub mod resolve;
pub mod schema;
pub mod table;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::id::{CommitId, RootId, TableId};
use crate::object::Root;
use crate::store::Store;
use crate::table::NodeStore;

pub use conflicts::{Cells, ConflictSet, RowConflict, TableConflict};
pub use table::{TableMerge, merge_table};

/// How conflicts are decided while merging.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Favor {
    /// Record them as conflicts.
    #[default]
    None,
    /// Take our version of each conflicting cell or row.
    Ours,
    /// Take their version.
    Theirs,
    /// Take the base version (used for the virtual base of criss-cross merges).
    Base,
}

/// The merge of three database roots.
#[derive(Clone, Debug, Default)]
pub struct RootMerge {
    /// The merged database (conflicting rows hold our version).
    pub root: Root,
    /// Per table with conflicts, what is unresolved.
    pub conflicts: BTreeMap<String, ConflictSet>,
    /// Per table the merge changed relative to ours, the rows it wrote (`None`: their
    /// version of the table was taken whole, or the table removed).
    pub changed: BTreeMap<String, Option<u64>>,
}

/// Merges `ours` and `theirs` against `base`: tables table by table (see [`merge_table`]);
/// blobs and packages by name, where a name changed differently on both sides is an error
/// (they have no finer merge).
pub fn merge_roots(
    ns: &NodeStore,
    base: &Root,
    ours: &Root,
    theirs: &Root,
    favor: Favor,
) -> Result<RootMerge> {
    let mut out = RootMerge {
        root: ours.clone(),
        ..RootMerge::default()
    };
    out.root.blobs = merge_map(&base.blobs, &ours.blobs, &theirs.blobs, "blob")?;
    out.root.packages = merge_map(&base.packages, &ours.packages, &theirs.packages, "package")?;
    let names: std::collections::BTreeSet<&String> =
        ours.tables.keys().chain(theirs.tables.keys()).collect();
    for name in names {
        let b = base.tables.get(name).copied();
        let o = ours.tables.get(name).copied();
        let t = theirs.tables.get(name).copied();
        let m = merge_table(ns, name, b, o, t, favor)?;
        match m.table {
            Some(id) => out.root.tables.insert(name.clone(), id),
            None => out.root.tables.remove(name),
        };
        if m.table != o {
            let whole = m.table == t || m.table.is_none();
            out.changed
                .insert(name.clone(), (!whole).then_some(m.rows_changed));
        }
        if !m.conflicts.is_empty() {
            out.conflicts.insert(name.clone(), m.conflicts);
        }
    }
    Ok(out)
}

fn merge_map<V: Clone + PartialEq>(
    base: &BTreeMap<String, V>,
    ours: &BTreeMap<String, V>,
    theirs: &BTreeMap<String, V>,
    what: &str,
) -> Result<BTreeMap<String, V>> {
    let mut out = ours.clone();
    for name in ours.keys().chain(theirs.keys()) {
        let (b, o, t) = (base.get(name), ours.get(name), theirs.get(name));
        if o == t || b == t {
            continue;
        }
        if b == o {
            match t {
                Some(v) => out.insert(name.clone(), v.clone()),
                None => out.remove(name),
            };
            continue;
        }
        return Err(Error::Invalid(format!(
            "cannot merge: {what} '{name}' was changed differently on the two sides\nhint: make both sides agree on {what} '{name}' first, then merge again"
        )));
    }
    Ok(out)
}

/// The database to merge against for commits `ours` and `theirs`: the root of their best
/// common ancestor, or with several (criss-cross histories) the recursive merge of those,
/// whose own conflicts take the value of their base; the empty root when unrelated.
pub fn base_root(
    store: &Store,
    ours: CommitId,
    theirs: CommitId,
) -> Result<(Root, Option<CommitId>)> {
    let bases = crate::history::merge_bases(store, ours, theirs)?;
    let first = bases.first().copied();
    let ns = NodeStore::new(store.clone());
    Ok((virtual_base(store, &ns, &bases, 0)?, first))
}

/// Deepest recursion of virtual bases before giving up (each level needs another criss-cross).
const MAX_VIRTUAL_DEPTH: u32 = 32;

fn virtual_base(store: &Store, ns: &NodeStore, bases: &[CommitId], depth: u32) -> Result<Root> {
    let root_of = |c: CommitId| -> Result<Root> {
        crate::history::read_root(store, crate::history::state::commit_root(store, c)?)
    };
    match bases {
        [] => Ok(Root::default()),
        [one] => root_of(*one),
        [first, rest @ ..] => {
            if depth > MAX_VIRTUAL_DEPTH {
                return Err(Error::Invalid(
                    "cannot merge: the history has too many nested criss-cross merges".into(),
                ));
            }
            let mut acc = root_of(*first)?;
            let mut acc_commit = *first;
            for other in rest {
                let bb = crate::history::merge_bases(store, acc_commit, *other)?;
                let base = virtual_base(store, ns, &bb, depth + 1)?;
                acc = merge_roots(ns, &base, &acc, &root_of(*other)?, Favor::Base)?.root;
                acc_commit = *other;
            }
            Ok(acc)
        }
    }
}

/// Stores every conflict set; the map of table name → conflicts table for a merge state.
pub fn store_conflicts(
    store: &Store,
    conflicts: &BTreeMap<String, ConflictSet>,
) -> Result<BTreeMap<String, TableId>> {
    conflicts
        .iter()
        .map(|(n, c)| Ok((n.clone(), c.write(store)?)))
        .collect()
}

/// Stores a merged root and returns its id.
pub fn write_root(store: &Store, root: &Root) -> Result<RootId> {
    crate::history::state::write_root(store, root)
}
