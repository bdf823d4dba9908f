//! Library tests of the table merge: the required cases, schema merges, and property tests
//! against a naive per-row reference merge.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::id::TableId;
use crate::object::Table;
use crate::schema::{Column, ColumnDef, RowCodec, Schema, Type, Value};
use crate::store::Store;

/// A row of the test table `(id INT primary key, a INT, b INT)`: the values of a and b.
type Cells2 = [Option<i64>; 2];
type Rows = BTreeMap<i64, Cells2>;

fn schema() -> Schema {
    Schema::new(
        "t",
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::new("a", Type::Int),
            ColumnDef::new("b", Type::Int),
        ],
        &["id"],
    )
    .unwrap()
}

fn int(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::Int)
}

/// Stores a table of `schema` whose rows are given as full value rows.
fn table_of_rows(ns: &NodeStore, schema: &Schema, rows: &[Vec<Value>]) -> TableId {
    let codec = RowCodec::new(schema);
    let mut enc: Vec<(Vec<u8>, Vec<u8>)> =
        rows.iter().map(|r| codec.encode_row(r).unwrap()).collect();
    enc.sort();
    let root = ns.build(enc.iter().map(|(k, v)| (k, v))).unwrap();
    let store = ns.store();
    store
        .put(&Table {
            schema: store.put(schema).unwrap(),
            rows: root,
            row_count: rows.len() as u64,
        })
        .unwrap()
}

fn table(ns: &NodeStore, rows: &Rows) -> TableId {
    let full: Vec<Vec<Value>> = rows
        .iter()
        .map(|(k, [a, b])| vec![Value::Int(*k), int(*a), int(*b)])
        .collect();
    table_of_rows(ns, &schema(), &full)
}

/// All rows of a table as value rows, with its schema.
fn read(ns: &NodeStore, id: TableId) -> (Schema, Vec<Vec<Value>>) {
    let t: Table = ns.store().get(&id).unwrap();
    let s: Schema = ns.store().get(&t.schema).unwrap();
    let codec = RowCodec::new(&s);
    let rows: Vec<Vec<Value>> = ns
        .scan(t.rows)
        .map(|r| {
            let r = r.unwrap();
            codec.decode_row(r.key(), r.value()).unwrap()
        })
        .collect();
    assert_eq!(
        t.row_count,
        rows.len() as u64,
        "row count of the merged table"
    );
    (s, rows)
}

fn rows_of(ns: &NodeStore, id: TableId) -> Rows {
    read(ns, id)
        .1
        .into_iter()
        .map(|r| {
            let get = |v: &Value| match v {
                Value::Int(i) => Some(*i),
                _ => None,
            };
            let Value::Int(k) = r[0] else { panic!("key") };
            (k, [get(&r[1]), get(&r[2])])
        })
        .collect()
}

fn conflict_keys(m: &TableMerge) -> BTreeSet<i64> {
    let codec = RowCodec::new(&schema());
    m.conflicts
        .rows
        .keys()
        .map(|k| match codec.decode_key(k).unwrap()[0] {
            Value::Int(i) => i,
            _ => panic!("key"),
        })
        .collect()
}

fn merge3(base: &Rows, ours: &Rows, theirs: &Rows) -> (NodeStore, TableMerge) {
    merge3_in(NodeStore::new(Store::memory()), base, ours, theirs)
}

/// [`merge3`] with small nodes, the three-way diff split over the threads (one per core).
fn merge3_split(base: &Rows, ours: &Rows, theirs: &Rows) -> (NodeStore, TableMerge) {
    merge3_in(
        NodeStore::splitting_small_trees(Store::memory()),
        base,
        ours,
        theirs,
    )
}

fn merge3_in(ns: NodeStore, base: &Rows, ours: &Rows, theirs: &Rows) -> (NodeStore, TableMerge) {
    let (b, o, t) = (table(&ns, base), table(&ns, ours), table(&ns, theirs));
    let m = merge_table(&ns, "t", Some(b), Some(o), Some(t), Favor::None).unwrap();
    (ns, m)
}

/// The naive reference: per key, then per cell; conflicting rows keep our version.
fn reference(base: &Rows, ours: &Rows, theirs: &Rows) -> (Rows, BTreeSet<i64>) {
    let mut out = Rows::new();
    let mut conflicts = BTreeSet::new();
    let keys: BTreeSet<i64> = base
        .keys()
        .chain(ours.keys())
        .chain(theirs.keys())
        .copied()
        .collect();
    for k in keys {
        let (b, o, t) = (base.get(&k), ours.get(&k), theirs.get(&k));
        let pick = if o == t || t == b {
            o.copied()
        } else if o == b {
            t.copied()
        } else {
            match (b, o, t) {
                (Some(b), Some(o), Some(t)) => {
                    let mut row = [None; 2];
                    let mut bad = false;
                    for i in 0..2 {
                        row[i] = if o[i] == t[i] || t[i] == b[i] {
                            o[i]
                        } else if o[i] == b[i] {
                            t[i]
                        } else {
                            bad = true;
                            o[i]
                        };
                    }
                    if bad {
                        conflicts.insert(k);
                        Some(*o)
                    } else {
                        Some(row)
                    }
                }
                _ => {
                    conflicts.insert(k);
                    o.copied()
                }
            }
        };
        if let Some(r) = pick {
            out.insert(k, r);
        }
    }
    (out, conflicts)
}

fn rows(list: &[(i64, i64, i64)]) -> Rows {
    list.iter()
        .map(|&(k, a, b)| (k, [Some(a), Some(b)]))
        .collect()
}

#[test]
fn different_columns_of_one_row_merge_cleanly() {
    let base = rows(&[(1, 10, 20), (2, 30, 40)]);
    let ours = rows(&[(1, 11, 20), (2, 30, 40)]);
    let theirs = rows(&[(1, 10, 21), (2, 30, 40)]);
    let (ns, m) = merge3(&base, &ours, &theirs);
    assert!(m.conflicts.is_empty());
    assert_eq!(
        rows_of(&ns, m.table.unwrap()),
        rows(&[(1, 11, 21), (2, 30, 40)])
    );
}

#[test]
fn different_new_keys_on_both_sides_merge_cleanly() {
    let base = rows(&[(1, 1, 1)]);
    let ours = rows(&[(1, 1, 1), (2, 2, 2)]);
    let theirs = rows(&[(1, 1, 1), (3, 3, 3)]);
    let (ns, m) = merge3(&base, &ours, &theirs);
    assert!(m.conflicts.is_empty());
    assert_eq!(
        rows_of(&ns, m.table.unwrap()),
        rows(&[(1, 1, 1), (2, 2, 2), (3, 3, 3)])
    );
}

#[test]
fn the_same_new_key_with_different_values_conflicts() {
    let base = rows(&[(1, 1, 1)]);
    let ours = rows(&[(1, 1, 1), (2, 2, 2)]);
    let theirs = rows(&[(1, 1, 1), (2, 9, 2)]);
    let (ns, m) = merge3(&base, &ours, &theirs);
    assert_eq!(conflict_keys(&m), [2].into());
    let rc = m.conflicts.rows.values().next().unwrap();
    assert!(rc.base.is_none());
    // Never two rows with one key: the table keeps our row only.
    assert_eq!(rows_of(&ns, m.table.unwrap()), ours);
    // Identical inserts on both sides are not a conflict.
    let (_, m) = merge3(&base, &ours, &ours);
    assert!(m.conflicts.is_empty());
}

#[test]
fn delete_against_modify_conflicts_both_ways() {
    let base = rows(&[(1, 1, 1), (2, 2, 2)]);
    let deleted = rows(&[(1, 1, 1)]);
    let edited = rows(&[(1, 1, 1), (2, 2, 5)]);
    let (ns, m) = merge3(&base, &deleted, &edited);
    assert_eq!(conflict_keys(&m), [2].into());
    assert_eq!(rows_of(&ns, m.table.unwrap()), deleted);
    let (ns, m) = merge3(&base, &edited, &deleted);
    assert_eq!(conflict_keys(&m), [2].into());
    assert_eq!(rows_of(&ns, m.table.unwrap()), edited);
    // Delete against no change deletes.
    let (ns, m) = merge3(&base, &base, &deleted);
    assert!(m.conflicts.is_empty());
    assert_eq!(rows_of(&ns, m.table.unwrap()), deleted);
}

#[test]
fn reimport_in_another_order_is_no_change() {
    // Row order does not exist in a keyed table: the same rows give the same tree and id.
    let ns = NodeStore::new(Store::memory());
    let base = rows(&[(1, 1, 1), (2, 2, 2), (3, 3, 3)]);
    let mut reversed: Vec<Vec<Value>> = base
        .iter()
        .rev()
        .map(|(k, [a, b])| vec![Value::Int(*k), int(*a), int(*b)])
        .collect();
    reversed.rotate_left(1);
    let b = table(&ns, &base);
    let reimported = table_of_rows(&ns, &schema(), &reversed);
    assert_eq!(b, reimported);
    let ours = table(&ns, &rows(&[(1, 7, 1), (2, 2, 2), (3, 3, 3)]));
    let m = merge_table(&ns, "t", Some(b), Some(ours), Some(reimported), Favor::None).unwrap();
    assert_eq!(m.table, Some(ours));
}

#[test]
fn strategies_decide_conflicting_cells_only() {
    let base = rows(&[(1, 1, 1)]);
    let ours = rows(&[(1, 2, 5)]);
    let theirs = rows(&[(1, 3, 1)]);
    let ns = NodeStore::new(Store::memory());
    let (b, o, t) = (table(&ns, &base), table(&ns, &ours), table(&ns, &theirs));
    let get = |favor| {
        let m = merge_table(&ns, "t", Some(b), Some(o), Some(t), favor).unwrap();
        assert!(m.conflicts.is_empty());
        rows_of(&ns, m.table.unwrap())
    };
    assert_eq!(get(Favor::Ours), rows(&[(1, 2, 5)]));
    assert_eq!(get(Favor::Theirs), rows(&[(1, 3, 5)]));
    assert_eq!(get(Favor::Base), rows(&[(1, 1, 5)]));
}

/// A schema for `t` built by `edit` from the base schema.
fn altered(edit: impl FnOnce(&mut Schema)) -> Schema {
    let mut s = schema();
    edit(&mut s);
    s
}

fn values(rows: &[(i64, i64, i64)]) -> Vec<Vec<Value>> {
    rows.iter()
        .map(|&(k, a, b)| vec![Value::Int(k), Value::Int(a), Value::Int(b)])
        .collect()
}

#[test]
fn added_column_on_one_side_and_cell_edits_on_the_other_merge() {
    let ns = NodeStore::new(Store::memory());
    let base = table_of_rows(&ns, &schema(), &values(&[(1, 1, 1), (2, 2, 2)]));
    let ours = table_of_rows(&ns, &schema(), &values(&[(1, 5, 1), (2, 2, 2), (3, 3, 3)]));
    let with_c = altered(|s| s.add_column("t", ColumnDef::new("c", Type::Text)).unwrap());
    let theirs_rows = vec![
        vec![Value::Int(1), Value::Int(1), Value::Int(1), Value::Null],
        vec![
            Value::Int(2),
            Value::Int(2),
            Value::Int(2),
            Value::Text("x".into()),
        ],
    ];
    let theirs = table_of_rows(&ns, &with_c, &theirs_rows);
    for (o, t) in [(ours, theirs), (theirs, ours)] {
        let m = merge_table(&ns, "t", Some(base), Some(o), Some(t), Favor::None).unwrap();
        assert!(m.conflicts.is_empty(), "{:?}", m.conflicts);
        let (s, got) = read(&ns, m.table.unwrap());
        assert_eq!(s.columns().len(), 4);
        let c = s.column("c").unwrap().0;
        let a = s.column("a").unwrap().0;
        let by_key: BTreeMap<i64, Vec<Value>> = got
            .into_iter()
            .map(|r| match r[0] {
                Value::Int(k) => (k, r),
                _ => panic!("key"),
            })
            .collect();
        assert_eq!(by_key[&1][a], Value::Int(5));
        assert_eq!(by_key[&2][c], Value::Text("x".into()));
        assert_eq!(by_key[&3][c], Value::Null);
        assert_eq!(by_key.len(), 3);
    }
}

#[test]
fn rename_on_one_side_and_edits_on_the_other_merge() {
    let ns = NodeStore::new(Store::memory());
    let base = table_of_rows(&ns, &schema(), &values(&[(1, 1, 1)]));
    let renamed = altered(|s| s.rename_column("a", "alpha").unwrap());
    let ours = table_of_rows(&ns, &renamed, &values(&[(1, 1, 1)]));
    let theirs = table_of_rows(&ns, &schema(), &values(&[(1, 9, 1), (2, 2, 2)]));
    let m = merge_table(&ns, "t", Some(base), Some(ours), Some(theirs), Favor::None).unwrap();
    assert!(m.conflicts.is_empty());
    let (s, got) = read(&ns, m.table.unwrap());
    assert!(s.column("alpha").is_some());
    assert_eq!(got, values(&[(1, 9, 1), (2, 2, 2)]));
}

#[test]
fn schema_conflicts_are_table_level() {
    let ns = NodeStore::new(Store::memory());
    let base = table_of_rows(&ns, &schema(), &values(&[(1, 1, 1)]));
    // The same column added with different definitions (same name, other types).
    let c_text = altered(|s| s.add_column("t", ColumnDef::new("c", Type::Text)).unwrap());
    let c_int = altered(|s| s.add_column("t", ColumnDef::new("c", Type::Int)).unwrap());
    let ours = table_of_rows(
        &ns,
        &c_text,
        &[vec![
            Value::Int(1),
            Value::Int(1),
            Value::Int(1),
            Value::Null,
        ]],
    );
    let theirs = table_of_rows(
        &ns,
        &c_int,
        &[vec![
            Value::Int(1),
            Value::Int(2),
            Value::Int(1),
            Value::Null,
        ]],
    );
    let m = merge_table(&ns, "t", Some(base), Some(ours), Some(theirs), Favor::None).unwrap();
    let tc = m.conflicts.table.clone().unwrap();
    assert!(tc.reason.contains("'c'"), "{}", tc.reason);
    assert_eq!(m.table, Some(ours));
    // The same column added identically merges.
    let theirs2 = table_of_rows(
        &ns,
        &c_text,
        &[vec![
            Value::Int(1),
            Value::Int(1),
            Value::Int(7),
            Value::Null,
        ]],
    );
    let m = merge_table(&ns, "t", Some(base), Some(ours), Some(theirs2), Favor::None).unwrap();
    assert!(m.conflicts.is_empty());
    // Drop against modify.
    let dropped = altered(|s| {
        s.drop_column("b").unwrap();
    });
    let renamed_b = altered(|s| s.rename_column("b", "beta").unwrap());
    let ours = table_of_rows(&ns, &dropped, &[vec![Value::Int(1), Value::Int(1)]]);
    let theirs = table_of_rows(&ns, &renamed_b, &values(&[(1, 1, 1), (2, 2, 2)]));
    let m = merge_table(&ns, "t", Some(base), Some(ours), Some(theirs), Favor::None).unwrap();
    assert!(m.conflicts.table.unwrap().reason.contains("dropped"));
    // A table deleted on one side and changed on the other.
    let edited = table_of_rows(&ns, &schema(), &values(&[(1, 5, 1)]));
    let m = merge_table(&ns, "t", Some(base), None, Some(edited), Favor::None).unwrap();
    assert!(m.conflicts.table.unwrap().reason.contains("deleted"));
    assert_eq!(m.table, None);
}

#[test]
fn type_change_converts_the_other_sides_values() {
    let ns = NodeStore::new(Store::memory());
    let base = table_of_rows(&ns, &schema(), &values(&[(1, 1, 1), (2, 2, 2)]));
    // Theirs makes `a` TEXT (tag and slot kept, rows re-encoded).
    let mut cols: Vec<Column> = schema().columns().to_vec();
    cols[1].ty = Type::Text;
    let s = schema();
    let text_a =
        Schema::from_parts(cols, s.primary_key_tags().to_vec(), s.next_slot(), vec![]).unwrap();
    let trow = |k: i64, a: &str, b: i64| vec![Value::Int(k), Value::Text(a.into()), Value::Int(b)];
    let theirs = table_of_rows(&ns, &text_a, &[trow(1, "1", 1), trow(2, "2", 2)]);
    let ours = table_of_rows(&ns, &schema(), &values(&[(1, 7, 1), (2, 2, 2), (3, 3, 3)]));
    let m = merge_table(&ns, "t", Some(base), Some(ours), Some(theirs), Favor::None).unwrap();
    assert!(m.conflicts.is_empty());
    let (s, got) = read(&ns, m.table.unwrap());
    assert_eq!(s.column("a").unwrap().1.ty, Type::Text);
    assert_eq!(got, vec![trow(1, "7", 1), trow(2, "2", 2), trow(3, "3", 3)]);
    // The other direction: theirs makes `a` INT again while ours wrote text into it; the
    // value that does not fit is a conflict holding all three versions.
    let base_text = table_of_rows(&ns, &text_a, &[trow(1, "1", 1), trow(2, "2", 2)]);
    let ours_text = table_of_rows(&ns, &text_a, &[trow(1, "1", 1), trow(2, "two", 2)]);
    let theirs_int = table_of_rows(&ns, &schema(), &values(&[(1, 1, 5), (2, 2, 2)]));
    let m = merge_table(
        &ns,
        "t",
        Some(base_text),
        Some(ours_text),
        Some(theirs_int),
        Favor::None,
    )
    .unwrap();
    assert!(m.conflicts.table.is_none());
    assert_eq!(conflict_keys(&m), [2].into());
    let rc = m.conflicts.rows.values().next().unwrap();
    assert!(
        rc.ours
            .as_ref()
            .unwrap()
            .contains(&(s.columns()[1].tag, Value::Text("two".into())))
    );
    let (s2, got) = read(&ns, m.table.unwrap());
    assert_eq!(s2.column("a").unwrap().1.ty, Type::Int);
    assert_eq!(got, values(&[(1, 1, 5)]));
}

/// A keyless table `k (v INT)` holding each key of `rows` as a value, with a duplicate count
/// from its cells (so edits change counts).
fn keyless(ns: &NodeStore, rows: &Rows) -> TableId {
    let s = Schema::new("k", vec![ColumnDef::new("v", Type::Int)], &[]).unwrap();
    let codec = RowCodec::new(&s);
    let mut enc: Vec<(Vec<u8>, Vec<u8>)> = rows
        .iter()
        .map(|(k, [a, b])| {
            let n = 1 + a.unwrap_or(0) as u64 + 3 * b.unwrap_or(0) as u64;
            let rv = codec.encode_value(&[Value::Int(*k)]).unwrap();
            (
                RowCodec::keyless_key(&rv).to_vec(),
                RowCodec::keyless_join(n, &rv),
            )
        })
        .collect();
    enc.sort();
    let root = ns.build(enc.iter().map(|(k, v)| (k, v))).unwrap();
    let count = enc
        .iter()
        .map(|(_, v)| RowCodec::keyless_split(v).unwrap().0)
        .sum();
    ns.store()
        .put(&Table {
            schema: ns.store().put(&s).unwrap(),
            rows: root,
            row_count: count,
        })
        .unwrap()
}

#[test]
fn keyless_tables_merge_by_counts() {
    let ns = NodeStore::new(Store::memory());
    let s = Schema::new("k", vec![ColumnDef::new("v", Type::Int)], &[]).unwrap();
    let codec = RowCodec::new(&s);
    let build = |counts: &[(i64, u64)]| {
        let mut enc: Vec<(Vec<u8>, Vec<u8>)> = counts
            .iter()
            .map(|&(v, n)| {
                let rv = codec.encode_value(&[Value::Int(v)]).unwrap();
                (
                    RowCodec::keyless_key(&rv).to_vec(),
                    RowCodec::keyless_join(n, &rv),
                )
            })
            .collect();
        enc.sort();
        let root = ns.build(enc.iter().map(|(k, v)| (k, v))).unwrap();
        ns.store()
            .put(&Table {
                schema: ns.store().put(&s).unwrap(),
                rows: root,
                row_count: counts.iter().map(|c| c.1).sum(),
            })
            .unwrap()
    };
    let base = build(&[(1, 2), (2, 1)]);
    let ours = build(&[(1, 3), (2, 1)]);
    let theirs = build(&[(1, 2), (3, 1)]);
    let m = merge_table(&ns, "k", Some(base), Some(ours), Some(theirs), Favor::None).unwrap();
    assert!(m.conflicts.is_empty());
    assert_eq!(m.table, Some(build(&[(1, 3), (3, 1)])));
}

#[test]
fn conflict_sets_round_trip() {
    let store = Store::memory();
    let mut set = ConflictSet::default();
    set.rows.insert(
        vec![1, 2],
        RowConflict {
            base: None,
            ours: Some(vec![(7, Value::Int(1))]),
            theirs: Some(vec![(7, Value::Text("x".into()))]),
        },
    );
    set.table = Some(TableConflict {
        base: None,
        ours: Some(TableId::new(crate::id::ObjectId::hash(b"o"))),
        theirs: None,
        reason: "why".into(),
    });
    let id = set.write(&store).unwrap();
    assert_eq!(ConflictSet::read(&store, id).unwrap(), set);
    assert_eq!(set.len(), 2);
}

fn arb_cells() -> impl Strategy<Value = Cells2> {
    [proptest::option::of(0i64..3), proptest::option::of(0i64..3)]
}

fn arb_rows() -> impl Strategy<Value = Rows> {
    proptest::collection::btree_map(0i64..24, arb_cells(), 0..16)
}

/// A side derived from `base`: each row kept, edited or deleted, plus new rows.
fn arb_side(base: Rows) -> impl Strategy<Value = Rows> {
    arb_side_with(base, 4)
}

/// [`arb_side`] where a row is edited or deleted with probability `2 / ops` each.
fn arb_side_with(base: Rows, ops: u8) -> impl Strategy<Value = Rows> {
    let n = base.len();
    (
        proptest::collection::vec((0u8..ops, arb_cells()), n),
        proptest::collection::btree_map(0i64..24, arb_cells(), 0..4),
    )
        .prop_map(move |(edits, extra)| {
            let mut out = Rows::new();
            for ((k, v), (op, cells)) in base.iter().zip(edits) {
                match op {
                    0 | 1 => {
                        out.insert(*k, *v);
                    }
                    2 | 4 => {
                        // Edit one cell.
                        let mut v = *v;
                        v[usize::from(cells[0].unwrap_or(0) % 2 == 0)] = cells[1];
                        out.insert(*k, v);
                    }
                    3 | 5 => {}
                    _ => {
                        out.insert(*k, *v);
                    }
                }
            }
            for (k, v) in extra {
                out.entry(k).or_insert(v);
            }
            out
        })
}

fn arb_three() -> impl Strategy<Value = (Rows, Rows, Rows)> {
    arb_rows().prop_flat_map(|b| (Just(b.clone()), arb_side(b.clone()), arb_side(b)))
}

/// Like [`arb_three`], with enough rows for trees of small nodes to be three levels deep.
fn arb_three_large() -> impl Strategy<Value = (Rows, Rows, Rows)> {
    proptest::collection::btree_map(0i64..400, arb_cells(), 100..200)
        .prop_flat_map(|b| (Just(b.clone()), arb_side(b.clone()), arb_side(b)))
}

/// Like [`arb_three_large`], with few edits per side: many subtrees change on one side only.
fn arb_three_sparse() -> impl Strategy<Value = (Rows, Rows, Rows)> {
    proptest::collection::btree_map(0i64..600, arb_cells(), 200..400).prop_flat_map(|b| {
        (
            Just(b.clone()),
            arb_side_with(b.clone(), 60),
            arb_side_with(b, 60),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn matches_the_reference_merge((base, ours, theirs) in arb_three()) {
        let (ns, m) = merge3(&base, &ours, &theirs);
        let (want, want_conflicts) = reference(&base, &ours, &theirs);
        prop_assert_eq!(rows_of(&ns, m.table.unwrap()), want);
        prop_assert_eq!(conflict_keys(&m), want_conflicts);
    }

    #[test]
    fn split_diff_matches_the_reference_merge((base, ours, theirs) in arb_three_large()) {
        let (ns, m) = merge3_split(&base, &ours, &theirs);
        let (want, want_conflicts) = reference(&base, &ours, &theirs);
        prop_assert_eq!(rows_of(&ns, m.table.unwrap()), want);
        prop_assert_eq!(conflict_keys(&m), want_conflicts);
    }

    #[test]
    fn structural_merge_equals_diff3_and_apply(
        (base, ours, theirs) in prop_oneof![arb_three_large(), arb_three_sparse()],
        favor in 0u8..3,
    ) {
        let favor = [Favor::None, Favor::Ours, Favor::Theirs][usize::from(favor)];
        let ns = NodeStore::splitting_small_trees(Store::memory());
        let (b, o, t) = (table(&ns, &base), table(&ns, &ours), table(&ns, &theirs));
        let new = merge_table(&ns, "t", Some(b), Some(o), Some(t), favor).unwrap();
        let old = super::table::merge_table_legacy(&ns, "t", Some(b), Some(o), Some(t), favor).unwrap();
        prop_assert_eq!(new.table, old.table);
        prop_assert_eq!(new.rows_changed, old.rows_changed);
        prop_assert_eq!(&new.conflicts, &old.conflicts);
        // Keyless tables: the same rows as a keyless table.
        let (kb, ko, kt) = (keyless(&ns, &base), keyless(&ns, &ours), keyless(&ns, &theirs));
        let new = merge_table(&ns, "k", Some(kb), Some(ko), Some(kt), favor).unwrap();
        let old = super::table::merge_table_legacy(&ns, "k", Some(kb), Some(ko), Some(kt), favor).unwrap();
        prop_assert_eq!(new.table, old.table);
        prop_assert_eq!(new.rows_changed, old.rows_changed);
    }

    #[test]
    fn merging_a_side_with_itself_or_base_is_that_side((base, a, b) in arb_three()) {
        let (ns, m) = merge3(&base, &a, &a);
        prop_assert!(m.conflicts.is_empty());
        prop_assert_eq!(rows_of(&ns, m.table.unwrap()), a);
        let (ns, m) = merge3(&base, &base, &b);
        prop_assert!(m.conflicts.is_empty());
        prop_assert_eq!(rows_of(&ns, m.table.unwrap()), b);
    }

    #[test]
    fn swapping_sides_swaps_ours_and_theirs((base, a, b) in arb_three()) {
        let (_, ab) = merge3(&base, &a, &b);
        let (_, ba) = merge3(&base, &b, &a);
        prop_assert_eq!(ab.conflicts.rows.len(), ba.conflicts.rows.len());
        for (k, c) in &ab.conflicts.rows {
            let d = &ba.conflicts.rows[k];
            prop_assert_eq!(&c.ours, &d.theirs);
            prop_assert_eq!(&c.theirs, &d.ours);
            prop_assert_eq!(&c.base, &d.base);
        }
    }
}
