//! Differences between two roots, table by table (by [`TableId`]), and carrying changes from
//! one root onto another.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::id::TableId;
use crate::object::Root;

/// How one table differs between two roots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum TableChange {
    /// Only in the new root.
    New {
        /// The table version.
        id: TableId,
    },
    /// Only in the old root.
    Deleted {
        /// The table version it had.
        id: TableId,
    },
    /// In both, with another version.
    Modified {
        /// Version before.
        old: TableId,
        /// Version after.
        new: TableId,
    },
    /// Deleted under `from` and added under this name with the same version.
    Renamed {
        /// The old name.
        from: String,
        /// The table version.
        id: TableId,
    },
}

impl TableChange {
    /// A short word for listings: `new table`, `deleted`, `modified`, `renamed`.
    pub fn label(&self) -> &'static str {
        match self {
            TableChange::New { .. } => "new table",
            TableChange::Deleted { .. } => "deleted",
            TableChange::Modified { .. } => "modified",
            TableChange::Renamed { .. } => "renamed",
        }
    }
}

/// Table changes from `old` to `new`, by table name (a rename is listed under its new name).
pub fn diff_roots(old: &Root, new: &Root) -> BTreeMap<String, TableChange> {
    let mut out = BTreeMap::new();
    let mut deleted: BTreeMap<String, TableId> = BTreeMap::new();
    for (name, id) in &old.tables {
        match new.tables.get(name) {
            None => {
                deleted.insert(name.clone(), *id);
            }
            Some(n) if n != id => {
                out.insert(name.clone(), TableChange::Modified { old: *id, new: *n });
            }
            Some(_) => {}
        }
    }
    let mut added = Vec::new();
    for (name, id) in &new.tables {
        if !old.tables.contains_key(name) {
            added.push((name.clone(), *id));
        }
    }
    for (name, id) in added {
        // A table that disappeared under one name and appeared unchanged under another.
        let from = deleted
            .iter()
            .find(|(_, d)| **d == id)
            .map(|(n, _)| n.clone());
        match from {
            Some(from) => {
                deleted.remove(&from);
                out.insert(name, TableChange::Renamed { from, id });
            }
            None => {
                out.insert(name, TableChange::New { id });
            }
        }
    }
    for (name, id) in deleted {
        out.insert(name, TableChange::Deleted { id });
    }
    out
}

/// Names (tables as `name`, blobs as `blob:name`) whose entry differs between two roots.
pub fn changed_entries(a: &Root, b: &Root) -> Vec<String> {
    let mut out = Vec::new();
    changed_keys(&a.tables, &b.tables, "", &mut out);
    changed_keys(&a.blobs, &b.blobs, "blob:", &mut out);
    let pa: BTreeMap<&String, _> = a.packages.iter().collect();
    let pb: BTreeMap<&String, _> = b.packages.iter().collect();
    changed_keys(&pa, &pb, "package:", &mut out);
    out
}

fn changed_keys<K: Ord + std::fmt::Display, V: PartialEq>(
    a: &BTreeMap<K, V>,
    b: &BTreeMap<K, V>,
    prefix: &str,
    out: &mut Vec<String>,
) {
    for (k, v) in a {
        if b.get(k) != Some(v) {
            out.push(format!("{prefix}{k}"));
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            out.push(format!("{prefix}{k}"));
        }
    }
}

fn carry<V: Clone + PartialEq>(
    target: &mut BTreeMap<String, V>,
    from: &BTreeMap<String, V>,
    to: &BTreeMap<String, V>,
) {
    for (k, v) in from {
        match to.get(k) {
            None => {
                target.remove(k);
            }
            Some(n) if n != v => {
                target.insert(k.clone(), n.clone());
            }
            Some(_) => {}
        }
    }
    for (k, v) in to {
        if !from.contains_key(k) {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// `base` with every change from `from` to `to` applied (tables, blobs and packages).
pub fn apply_changes(base: &Root, from: &Root, to: &Root) -> Root {
    let mut out = base.clone();
    carry(&mut out.tables, &from.tables, &to.tables);
    carry(&mut out.blobs, &from.blobs, &to.blobs);
    carry(&mut out.packages, &from.packages, &to.packages);
    out
}

/// Entries changed from `from` to `to` that differ between `from` and `onto`: carrying the
/// changes onto `onto` would overwrite something. Empty when they can be carried.
pub fn collisions(from: &Root, to: &Root, onto: &Root) -> Vec<String> {
    let changed = changed_entries(from, to);
    let moved = changed_entries(from, onto);
    changed.into_iter().filter(|c| moved.contains(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ObjectId;

    fn t(s: &str) -> TableId {
        TableId::new(ObjectId::hash(s.as_bytes()))
    }

    fn root(tables: &[(&str, &str)]) -> Root {
        Root {
            tables: tables.iter().map(|(n, v)| (n.to_string(), t(v))).collect(),
            ..Root::default()
        }
    }

    #[test]
    fn diff_finds_new_deleted_modified_renamed() {
        let a = root(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        let b = root(&[("a", "1"), ("b", "X"), ("e", "3"), ("f", "9")]);
        let d = diff_roots(&a, &b);
        assert_eq!(
            d["b"],
            TableChange::Modified {
                old: t("2"),
                new: t("X")
            }
        );
        assert_eq!(
            d["e"],
            TableChange::Renamed {
                from: "c".into(),
                id: t("3")
            }
        );
        assert_eq!(d["f"], TableChange::New { id: t("9") });
        assert_eq!(d["d"], TableChange::Deleted { id: t("4") });
        assert_eq!(d.len(), 4);
        assert!(diff_roots(&a, &a).is_empty());
    }

    #[test]
    fn carrying_changes_and_collisions() {
        let head = root(&[("a", "1"), ("b", "2")]);
        let work = root(&[("a", "1x"), ("c", "3")]);
        let other = root(&[("a", "1"), ("b", "2"), ("z", "26")]);
        assert!(collisions(&head, &work, &other).is_empty());
        let carried = apply_changes(&other, &head, &work);
        assert_eq!(carried, root(&[("a", "1x"), ("c", "3"), ("z", "26")]));
        let clash = root(&[("a", "other")]);
        assert_eq!(
            collisions(&head, &work, &clash),
            vec!["a".to_string(), "b".to_string()]
        );
    }
}
