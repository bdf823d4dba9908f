//! Schema merge by column tag, and the value conversion a type change on one side needs.

use crate::error::Result;
use crate::schema::{Column, DroppedColumn, Schema};

/// The outcome of merging three versions of a table's schema.
#[derive(Clone, Debug)]
pub struct SchemaMerge {
    /// The merged schema (ours, where a conflict left no merged one).
    pub schema: Schema,
    /// Why the schemas could not be merged; empty when they merged cleanly.
    pub conflicts: Vec<String>,
}

/// The attribute of a column that can change independently of the others.
fn same_def(a: &Column, b: &Column) -> bool {
    a.name == b.name && a.ty == b.ty && a.nullable == b.nullable && a.default == b.default
}

/// Three-way merge of one attribute: `None` when both sides changed it differently.
fn merge3<T: PartialEq + Clone>(base: &T, ours: &T, theirs: &T) -> Option<T> {
    if ours == theirs || theirs == base {
        Some(ours.clone())
    } else if ours == base {
        Some(theirs.clone())
    } else {
        None
    }
}

/// Merges the schemas of one table by column tag.
///
/// Columns keep ours' order, then columns only theirs added, in theirs' order. A column
/// renamed, retyped or otherwise changed on one side takes that change; the same column
/// (same tag) added on both sides must be defined identically; a column dropped on one side
/// and changed on the other, both sides changing one attribute differently, or the primary
/// keys differing are conflicts. Ours' columns keep their slots, so ours' rows stay readable;
/// a column only theirs added keeps its slot when ours never used it.
pub fn merge_schemas(
    table: &str,
    base: Option<&Schema>,
    ours: &Schema,
    theirs: &Schema,
) -> Result<SchemaMerge> {
    let clean = |s: &Schema| SchemaMerge {
        schema: s.clone(),
        conflicts: Vec::new(),
    };
    if ours == theirs || base == Some(theirs) {
        return Ok(clean(ours));
    }
    if base == Some(ours) {
        return Ok(clean(theirs));
    }
    let mut conflicts = Vec::new();
    if ours.primary_key_tags() != theirs.primary_key_tags() {
        conflicts.push(format!(
            "table '{table}': the primary key differs between the two sides"
        ));
    }
    let base_col = |tag: u64| base.and_then(|b| b.column_by_tag(tag).map(|(_, c)| c));
    let mut columns: Vec<Column> = Vec::new();
    let mut dropped: Vec<DroppedColumn> = ours.dropped().to_vec();
    for o in ours.columns() {
        let t = theirs.column_by_tag(o.tag).map(|(_, c)| c);
        match (base_col(o.tag), t) {
            (Some(b), Some(t)) => {
                let name = merge3(&b.name, &o.name, &t.name);
                let ty = merge3(&b.ty, &o.ty, &t.ty);
                let nullable = merge3(&b.nullable, &o.nullable, &t.nullable);
                let default = merge3(&b.default, &o.default, &t.default);
                match (name, ty, nullable, default) {
                    (Some(name), Some(ty), Some(nullable), Some(default)) => {
                        columns.push(Column {
                            name,
                            ty,
                            nullable,
                            default,
                            ..o.clone()
                        })
                    }
                    _ => conflicts.push(format!(
                        "table '{table}': column '{}' was changed differently on the two sides (ours: {}, theirs: {})",
                        b.name,
                        describe(o),
                        describe(t)
                    )),
                }
            }
            (Some(b), None) => {
                if same_def(b, o) {
                    dropped.push(DroppedColumn {
                        tag: o.tag,
                        slot: o.slot,
                        ty: o.ty,
                    });
                } else {
                    conflicts.push(format!(
                        "table '{table}': column '{}' was dropped on their side and changed on ours",
                        b.name
                    ));
                }
            }
            (None, Some(t)) => {
                if same_def(o, t) {
                    columns.push(o.clone());
                } else {
                    conflicts.push(format!(
                        "table '{table}': column '{}' was added on both sides with different definitions (ours: {}, theirs: {})",
                        o.name,
                        describe(o),
                        describe(t)
                    ));
                }
            }
            (None, None) => columns.push(o.clone()),
        }
    }
    let mut used: Vec<u32> = ours.columns().iter().map(|c| c.slot).collect();
    used.extend(ours.dropped().iter().map(|d| d.slot));
    let mut next_slot = ours.next_slot().max(theirs.next_slot());
    for t in theirs.columns() {
        if ours.column_by_tag(t.tag).is_some() {
            continue;
        }
        match base_col(t.tag) {
            Some(b) => {
                if !same_def(b, t) {
                    conflicts.push(format!(
                        "table '{table}': column '{}' was dropped on our side and changed on theirs",
                        b.name
                    ));
                }
                // Dropped by ours: already in ours' dropped list.
            }
            None => {
                let slot = if used.contains(&t.slot) {
                    next_slot += 1;
                    next_slot - 1
                } else {
                    t.slot
                };
                used.push(slot);
                columns.push(Column { slot, ..t.clone() });
            }
        }
    }
    // Theirs' dropped columns matter only for theirs' rows, which are re-encoded; keep those
    // whose tag and slot are free so neither is handed out again.
    for d in theirs.dropped() {
        let tag_taken =
            columns.iter().any(|c| c.tag == d.tag) || dropped.iter().any(|x| x.tag == d.tag);
        let slot_taken =
            columns.iter().any(|c| c.slot == d.slot) || dropped.iter().any(|x| x.slot == d.slot);
        if !tag_taken && !slot_taken {
            dropped.push(d.clone());
        }
    }
    let mut names: Vec<String> = columns
        .iter()
        .map(|c| c.name.to_ascii_lowercase())
        .collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        conflicts.push(format!(
            "table '{table}': both sides have a column named '{}' with different definitions",
            w[0]
        ));
    }
    if !conflicts.is_empty() {
        return Ok(SchemaMerge {
            schema: ours.clone(),
            conflicts,
        });
    }
    let max_slot = columns
        .iter()
        .map(|c| c.slot)
        .chain(dropped.iter().map(|d| d.slot))
        .max()
        .map_or(0, |s| s + 1);
    let pk = ours.primary_key_tags().to_vec();
    let schema = Schema::from_parts(columns, pk, next_slot.max(max_slot), dropped)?;
    Ok(SchemaMerge {
        schema,
        conflicts: Vec::new(),
    })
}

fn describe(c: &Column) -> String {
    let mut s = format!("{} {}", c.name, c.ty);
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {}", d.render()));
    }
    s
}

/// Whether every row written under `old` reads the same under `new` (apart from columns
/// `new` adds, which read their defaults): same key, and every column of `old` kept with the
/// same slot and type, or dropped with the same slot and type.
pub fn reads_as(old: &Schema, new: &Schema) -> bool {
    if old == new {
        return true;
    }
    if old.primary_key_tags() != new.primary_key_tags() {
        return false;
    }
    for c in old.columns() {
        let kept = match new.column_by_tag(c.tag) {
            Some((_, n)) => {
                n.slot == c.slot
                    && n.ty == c.ty
                    && n.default == c.default
                    && (n.nullable || !c.nullable)
            }
            None => new
                .dropped()
                .iter()
                .any(|d| d.tag == c.tag && d.slot == c.slot && d.ty == c.ty),
        };
        if !kept {
            return false;
        }
    }
    let old_slots: Vec<u32> = old
        .columns()
        .iter()
        .map(|c| c.slot)
        .chain(old.dropped().iter().map(|d| d.slot))
        .collect();
    new.columns()
        .iter()
        .filter(|c| old.column_by_tag(c.tag).is_none())
        .all(|c| !old_slots.contains(&c.slot))
}
