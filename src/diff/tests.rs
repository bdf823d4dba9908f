//! Library tests of the diff: table matching, schema diffs, and row diffs checked against a
//! naive full-scan diff.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::object::Table;
use crate::schema::{ColumnDef, RowCodec, Schema, Type, Value};
use crate::table::NodeStore;

fn put_table(store: &Store, schema: &Schema, rows: &[Vec<Value>]) -> TableId {
    let codec = RowCodec::new(schema);
    let mut pairs: BTreeMap<Vec<u8>, (u64, Vec<u8>)> = BTreeMap::new();
    for r in rows {
        if codec.is_keyless() {
            let v = codec.encode_value(r).unwrap();
            let k = RowCodec::keyless_key(&v).to_vec();
            pairs.entry(k).or_insert((0, v)).0 += 1;
        } else {
            let (k, v) = codec.encode_row(r).unwrap();
            pairs.insert(k, (1, v));
        }
    }
    let ns = NodeStore::new(store.clone());
    let tree = ns
        .build(pairs.iter().map(|(k, (c, v))| {
            let v = if codec.is_keyless() {
                RowCodec::keyless_join(*c, v)
            } else {
                v.clone()
            };
            (k.clone(), v)
        }))
        .unwrap();
    let table = Table {
        schema: store.put(schema).unwrap(),
        rows: tree,
        row_count: rows.len() as u64,
    };
    store.put(&table).unwrap()
}

fn root(tables: &[(&str, TableId)]) -> Root {
    Root {
        tables: tables.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        ..Root::default()
    }
}

fn items_schema() -> Schema {
    Schema::new(
        "items",
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::new("name", Type::Text),
            ColumnDef::new("qty", Type::Int),
        ],
        &["id"],
    )
    .unwrap()
}

fn item(id: i64, name: &str, qty: i64) -> Vec<Value> {
    vec![Value::Int(id), Value::Text(name.into()), Value::Int(qty)]
}

/// Every change of `t`; also checks that counting them without building rows
/// ([`RowDiff::count_changes`]) gives the counts of the changes themselves.
fn all_changes(store: &Store, t: &TableDiff) -> Vec<RowChange> {
    let changes = t
        .rows(store, &[], None)
        .unwrap()
        .collect::<Result<Vec<_>>>()
        .unwrap();
    let mut summed = DiffStats::default();
    for c in &changes {
        summed.add(c);
    }
    let counted = t.rows(store, &[], None).unwrap().count_changes().unwrap();
    assert_eq!(counted, summed);
    changes
}

#[test]
fn identical_roots_have_no_diff() {
    let store = Store::memory();
    let t = put_table(&store, &items_schema(), &[item(1, "a", 1)]);
    let r = root(&[("items", t)]);
    assert!(plan(&store, &r, &r, &[]).unwrap().is_empty());
}

#[test]
fn added_dropped_and_renamed_tables() {
    let store = Store::memory();
    let s = items_schema();
    let a = put_table(&store, &s, &[item(1, "a", 1), item(2, "b", 2)]);
    let other = Schema::new("other", vec![ColumnDef::new("x", Type::Int)], &[]).unwrap();
    let o = put_table(&store, &other, &[vec![Value::Int(1)]]);
    let fresh = Schema::new("fresh", vec![ColumnDef::new("y", Type::Text)], &[]).unwrap();
    let f = put_table(&store, &fresh, &[]);
    // `items` is renamed to `goods` and one row changes: matched by column tags.
    let b = put_table(&store, &s, &[item(1, "a", 1), item(2, "b", 3)]);
    let old = root(&[("items", a), ("other", o)]);
    let new = root(&[("goods", b), ("fresh", f)]);
    let p = plan(&store, &old, &new, &[]).unwrap();
    let kinds: Vec<(&str, Option<&str>, TableKind)> = p
        .iter()
        .map(|t| (t.name(), t.old_name(), t.kind()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("fresh", None, TableKind::Added),
            ("goods", Some("items"), TableKind::Renamed),
            ("other", Some("other"), TableKind::Dropped),
        ]
    );
    assert!(!p[0].data_changed(), "an empty new table has no rows");
    let changes = all_changes(&store, &p[1]);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, RowKind::Modified);
    assert_eq!(changes[0].changed, vec![false, false, true]);
    let dropped = all_changes(&store, &p[2]);
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].kind, RowKind::Deleted);

    // Limited to one table, by either name.
    assert_eq!(
        plan(&store, &old, &new, &["items".into()]).unwrap().len(),
        1
    );
    assert_eq!(
        plan(&store, &old, &new, &["goods".into()]).unwrap().len(),
        1
    );
    let err = plan(&store, &old, &new, &["nope".into()]).unwrap_err();
    assert!(err.to_string().contains("'nope' does not exist"), "{err}");
}

#[test]
fn rename_plus_type_change_in_one_step() {
    let old = items_schema();
    let mut new = old.clone();
    new.rename_column("qty", "quantity").unwrap();
    new.set_type("quantity", Type::Float).unwrap();
    let d = diff_schemas(&old, &new);
    assert_eq!(d.columns.len(), 1);
    assert_eq!(
        d.describe(),
        vec![
            "column renamed: qty -> quantity".to_string(),
            "column retyped: quantity INT -> FLOAT".to_string(),
        ]
    );
    assert_eq!(
        d.to_sql("items"),
        vec![
            "ALTER TABLE \"items\" RENAME COLUMN \"qty\" TO \"quantity\";".to_string(),
            "ALTER TABLE \"items\" ALTER COLUMN \"quantity\" SET DATA TYPE FLOAT;".to_string(),
        ]
    );
    let j = d.to_json();
    assert_eq!(j["columns"][0]["renamed"], true);
    assert_eq!(j["columns"][0]["retyped"], true);

    // Rows of the retyped column are compared by their text: 3 -> 3.0 is no change.
    let store = Store::memory();
    let a = put_table(&store, &old, &[item(1, "a", 3), item(2, "b", 4)]);
    let rows_b = vec![
        vec![Value::Int(1), Value::Text("a".into()), Value::Float(3.0)],
        vec![Value::Int(2), Value::Text("b".into()), Value::Float(4.5)],
    ];
    let b = put_table(&store, &new, &rows_b);
    let p = plan(&store, &root(&[("items", a)]), &root(&[("items", b)]), &[]).unwrap();
    let changes = all_changes(&store, &p[0]);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].shown()[0], Value::Int(2));
    assert_eq!(changes[0].cells_changed(), 1);
}

#[test]
fn column_changes_nullability_default_and_key() {
    let old = items_schema();
    let mut new = old.clone();
    new.drop_column("name").unwrap();
    new.add_column(
        "items",
        ColumnDef::new("note", Type::Text).with_default(Value::Text("n/a".into())),
    )
    .unwrap();
    new.set_nullable("qty", false).unwrap();
    new.set_primary_key(&[]).unwrap();
    new.set_primary_key(&["id", "qty"]).unwrap();
    let d = diff_schemas(&old, &new);
    let lines = d.describe();
    assert!(
        lines.contains(&"column dropped: name TEXT".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"column added: note TEXT DEFAULT 'n/a'".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"column nullability: qty NULL -> NOT NULL".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"primary key: (id) -> (id, qty)".to_string()),
        "{lines:?}"
    );
    let sql = d.to_sql("items").join("\n");
    assert!(
        sql.contains("ADD COLUMN \"note\" TEXT DEFAULT 'n/a';"),
        "{sql}"
    );
    assert!(sql.contains("DROP COLUMN \"name\";"), "{sql}");
    assert!(sql.contains("ALTER COLUMN \"qty\" SET NOT NULL;"), "{sql}");
    assert!(sql.contains("ADD PRIMARY KEY (\"id\", \"qty\");"), "{sql}");

    // With another key, rows are compared as deleted and re-added.
    let store = Store::memory();
    let a = put_table(&store, &old, &[item(1, "a", 3)]);
    let b = put_table(
        &store,
        &new,
        &[vec![
            Value::Int(1),
            Value::Int(3),
            Value::Text("n/a".into()),
        ]],
    );
    let p = plan(&store, &root(&[("items", a)]), &root(&[("items", b)]), &[]).unwrap();
    let kinds: Vec<RowKind> = all_changes(&store, &p[0]).iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![RowKind::Deleted, RowKind::Added]);
}

#[test]
fn added_column_compares_with_its_default() {
    let old = items_schema();
    let mut new = old.clone();
    new.add_column(
        "items",
        ColumnDef::new("note", Type::Text).with_default(Value::Text("-".into())),
    )
    .unwrap();
    let store = Store::memory();
    let a = put_table(&store, &old, &[item(1, "a", 1), item(2, "b", 2)]);
    // Row 1 is rewritten with the default (same values), row 2 gets a real note.
    let b = put_table(
        &store,
        &new,
        &[
            vec![
                Value::Int(1),
                Value::Text("a".into()),
                Value::Int(1),
                Value::Text("-".into()),
            ],
            vec![
                Value::Int(2),
                Value::Text("b".into()),
                Value::Int(2),
                Value::Text("hello".into()),
            ],
        ],
    );
    let p = plan(&store, &root(&[("t", a)]), &root(&[("t", b)]), &[]).unwrap();
    let changes = all_changes(&store, &p[0]);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].changed, vec![false, false, false, true]);
    assert_eq!(
        changes[0].old.as_ref().unwrap()[3],
        Value::Text("-".into()),
        "the old side of an added column is its default"
    );
}

#[test]
fn restored_column_is_compared_in_every_row() {
    // B drops `name` without rewriting rows; going back from B to A restores it, and rows
    // whose bytes never changed read their old names again.
    let a_schema = items_schema();
    let mut b_schema = a_schema.clone();
    b_schema.drop_column("name").unwrap();
    let store = Store::memory();
    let a = put_table(&store, &a_schema, &[item(1, "a", 1), item(2, "b", 2)]);
    let a_table: Table = store.get(&a).unwrap();
    let b = store
        .put(&Table {
            schema: store.put(&b_schema).unwrap(),
            ..a_table
        })
        .unwrap();
    let forward = plan(&store, &root(&[("t", a)]), &root(&[("t", b)]), &[]).unwrap();
    assert!(!forward[0].data_changed());
    assert!(all_changes(&store, &forward[0]).is_empty());
    let back = plan(&store, &root(&[("t", b)]), &root(&[("t", a)]), &[]).unwrap();
    assert!(back[0].data_changed());
    let changes = all_changes(&store, &back[0]);
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.iter().all(|c| c.kind == RowKind::Modified));
    assert_eq!(changes[1].new.as_ref().unwrap()[1], Value::Text("b".into()));
    assert_eq!(changes[1].old.as_ref().unwrap()[1], Value::Null);
}

#[test]
fn filters_and_limit() {
    let store = Store::memory();
    let s = items_schema();
    let a = put_table(
        &store,
        &s,
        &[item(1, "a", 1), item(2, "b", 2), item(3, "c", 3)],
    );
    let b = put_table(
        &store,
        &s,
        &[item(1, "a", 9), item(2, "x", 2), item(4, "d", 4)],
    );
    let p = plan(&store, &root(&[("t", a)]), &root(&[("t", b)]), &[]).unwrap();
    let t = &p[0];
    let keys = |filters: &[&str], limit: Option<u64>| -> Vec<Value> {
        let f: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
        t.rows(&store, &f, limit)
            .unwrap()
            .map(|c| c.unwrap().shown()[0].clone())
            .collect()
    };
    assert_eq!(keys(&[], None).len(), 4);
    // A row matches when its old or its new version does.
    assert_eq!(keys(&["name=b"], None), vec![Value::Int(2)]);
    assert_eq!(keys(&["name=x"], None), vec![Value::Int(2)]);
    assert_eq!(keys(&["qty=9", "name=a"], None), vec![Value::Int(1)]);
    assert_eq!(keys(&[], Some(2)), vec![Value::Int(1), Value::Int(2)]);
    let err = t.rows(&store, &["nope=1".into()], None).err().unwrap();
    assert!(err.to_string().contains("no column named 'nope'"), "{err}");
    let err = t.rows(&store, &["qty=abc".into()], None).err().unwrap();
    assert!(err.to_string().contains("qty=abc"), "{err}");
    let s = t.stats(&store, &[]).unwrap();
    assert_eq!(
        s,
        DiffStats {
            rows_added: 1,
            rows_deleted: 1,
            rows_modified: 2,
            cells_changed: 2
        }
    );
}

/// The expected changes of a keyed table by comparing full scans.
fn naive_keyed(
    old: &BTreeMap<i64, (String, i64)>,
    new: &BTreeMap<i64, (String, i64)>,
) -> Vec<(RowKind, i64, Vec<bool>)> {
    let mut keys: Vec<i64> = old.keys().chain(new.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        match (old.get(&k), new.get(&k)) {
            (Some(_), None) => out.push((RowKind::Deleted, k, vec![false; 3])),
            (None, Some(_)) => out.push((RowKind::Added, k, vec![false; 3])),
            (Some(a), Some(b)) if a != b => {
                out.push((RowKind::Modified, k, vec![false, a.0 != b.0, a.1 != b.1]))
            }
            _ => {}
        }
    }
    out
}

fn keyed_rows(m: &BTreeMap<i64, (String, i64)>) -> Vec<Vec<Value>> {
    m.iter().map(|(k, (n, q))| item(*k, n, *q)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn keyed_diff_equals_naive_diff(
        old in proptest::collection::btree_map(0i64..400, ("[ab]{0,2}", 0i64..3), 0..300),
        edits in proptest::collection::vec((0i64..400, proptest::option::of(("[ab]{0,2}", 0i64..3))), 0..80),
    ) {
        let mut new = old.clone();
        for (k, v) in edits {
            match v {
                Some(v) => { new.insert(k, v); }
                None => { new.remove(&k); }
            }
        }
        let store = Store::memory();
        let s = items_schema();
        let a = put_table(&store, &s, &keyed_rows(&old));
        let b = put_table(&store, &s, &keyed_rows(&new));
        let p = plan(&store, &root(&[("t", a)]), &root(&[("t", b)]), &[]).unwrap();
        let got: Vec<(RowKind, i64, Vec<bool>)> = p
            .iter()
            .flat_map(|t| all_changes(&store, t))
            .map(|c| {
                let Value::Int(k) = c.shown()[0] else { panic!("int key") };
                (c.kind, k, c.changed.clone())
            })
            .collect();
        prop_assert_eq!(got, naive_keyed(&old, &new));
    }

    #[test]
    fn keyless_diff_equals_naive_multiset_diff(
        old in proptest::collection::vec((0i64..6, 0i64..3), 0..60),
        new in proptest::collection::vec((0i64..6, 0i64..3), 0..60),
    ) {
        let schema = Schema::new(
            "bag",
            vec![ColumnDef::new("a", Type::Int), ColumnDef::new("b", Type::Int)],
            &[],
        )
        .unwrap();
        let rows = |v: &[(i64, i64)]| -> Vec<Vec<Value>> {
            v.iter().map(|(a, b)| vec![Value::Int(*a), Value::Int(*b)]).collect()
        };
        let count = |v: &[(i64, i64)]| {
            let mut m: BTreeMap<(i64, i64), i64> = BTreeMap::new();
            for r in v {
                *m.entry(*r).or_default() += 1;
            }
            m
        };
        let store = Store::memory();
        let a = put_table(&store, &schema, &rows(&old));
        let b = put_table(&store, &schema, &rows(&new));
        let mut expected = count(&new);
        for (r, n) in count(&old) {
            *expected.entry(r).or_default() -= n;
        }
        expected.retain(|_, n| *n != 0);
        let p = plan(&store, &root(&[("t", a)]), &root(&[("t", b)]), &[]).unwrap();
        let mut got: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        for t in &p {
            for c in all_changes(&store, t) {
                let (Value::Int(x), Value::Int(y)) = (&c.shown()[0], &c.shown()[1]) else {
                    panic!("int cells")
                };
                let n = c.count as i64;
                let signed = if c.kind == RowKind::Added { n } else { -n };
                prop_assert_ne!(c.kind, RowKind::Modified);
                *got.entry((*x, *y)).or_default() += signed;
            }
        }
        prop_assert_eq!(got, expected);
    }
}

/// A table large enough for the row diff to run on several threads (changes spread over
/// every root child of a 120k-row tree): changes, counts, filters and limits are those of the
/// naive diff, in key order.
#[test]
fn large_split_row_diff_equals_naive_diff() {
    let old: BTreeMap<i64, (String, i64)> = (0..120_000i64)
        .map(|i| (i * 2, (format!("n{i}"), i % 7)))
        .collect();
    let mut new = old.clone();
    for i in (0..120_000i64).step_by(97) {
        new.insert(i * 2, (format!("m{i}"), i % 7));
    }
    for i in (0..120_000i64).step_by(89) {
        new.remove(&(i * 2));
    }
    for i in (0..120_000i64).step_by(101) {
        new.insert(i * 2 + 1, ("x".into(), 1));
    }
    let store = Store::memory();
    let s = items_schema();
    let a = put_table(&store, &s, &keyed_rows(&old));
    let b = put_table(&store, &s, &keyed_rows(&new));
    let ns = NodeStore::new(store.clone());
    let (ta, tb): (Table, Table) = (store.get(&a).unwrap(), store.get(&b).unwrap());
    let mut d = ns.diff(ta.rows, tb.rows);
    assert!(d.next().is_some());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(d.workers() > 0 || cores == 1);
    let p = plan(&store, &root(&[("t", a)]), &root(&[("t", b)]), &[]).unwrap();
    let key = |c: &RowChange| match c.shown()[0] {
        Value::Int(k) => k,
        _ => panic!("int key"),
    };
    let got: Vec<(RowKind, i64, Vec<bool>)> = all_changes(&store, &p[0])
        .iter()
        .map(|c| (c.kind, key(c), c.changed.clone()))
        .collect();
    let want = naive_keyed(&old, &new);
    assert_eq!(got, want);
    // Filters run on the workers, the limit on the consumer.
    let filtered: Vec<i64> = p[0]
        .rows(&store, &["qty=3".into()], Some(40))
        .unwrap()
        .map(|c| key(&c.unwrap()))
        .collect();
    let want_filtered: Vec<i64> = want
        .iter()
        .map(|w| w.1)
        .filter(|k| old.get(k).is_some_and(|v| v.1 == 3) || new.get(k).is_some_and(|v| v.1 == 3))
        .take(40)
        .collect();
    assert_eq!(filtered, want_filtered);
}
