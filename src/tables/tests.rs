//! Library tests: imports that spill sorted runs to disk give the same table as in-memory
//! ones, and a failed import leaves the working root untouched.

use std::path::Path;

use super::{ImportMode, ImportOptions, import, read_rows, root_at, table_of};
use crate::history::WorkState;
use crate::repo::{InitOptions, Repo};
use crate::schema::Value;

fn repo(dir: &Path) -> Repo {
    match Repo::init(dir, &InitOptions::default()) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

fn rows(repo: &Repo, table: &str) -> Vec<Vec<Value>> {
    let root = root_at(repo, None).unwrap_or_else(|e| panic!("{e}"));
    let (t, s) = table_of(repo.store(), &root, table).unwrap_or_else(|e| panic!("{e}"));
    read_rows(repo.store(), &t, &s, &[], None).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn spilling_import_matches_in_memory_import() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = repo(&dir.path().join("r"));
    let mut csv = String::from("id,name\n");
    for i in 0..3000u64 {
        let id = (i * 7919) % 3000;
        csv.push_str(&format!("{id},n{}\n", id % 17));
    }
    let file = dir.path().join("d.csv");
    std::fs::write(&file, &csv).unwrap_or_else(|e| panic!("{e}"));
    let mut opts = ImportOptions {
        primary_key: Some(vec!["id".into()]),
        ..ImportOptions::default()
    };
    import(&r, "mem", &file, &opts, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    opts.sort_memory = 4096;
    import(&r, "disk", &file, &opts, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (rows(&r, "mem"), rows(&r, "disk"));
    assert_eq!(a.len(), 3000);
    assert_eq!(a, b);
    assert!(a.windows(2).all(|w| w[0][0] < w[1][0]));
    // Keyless, spilled: duplicates across runs are counted once per copy.
    opts.primary_key = None;
    let o = import(&r, "bag", &file, &opts, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.row_count, 3000);

    // A duplicate key found only when merging runs fails the import; nothing changes.
    csv.push_str("5,again\n");
    std::fs::write(&file, &csv).unwrap_or_else(|e| panic!("{e}"));
    let before = WorkState::load(&r)
        .unwrap_or_else(|e| panic!("{e}"))
        .working_root;
    opts.primary_key = Some(vec!["id".into()]);
    opts.mode = Some(ImportMode::Replace);
    let err = import(&r, "disk", &file, &opts, &mut |_| {})
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("duplicate primary key (id=5)"), "{err}");
    // Physical lines, header counted: the original row and the appended one.
    assert!(err.contains("d.csv line 3002:"), "{err}");
    assert!(err.contains("first seen on line 2397"), "{err}");
    let after = WorkState::load(&r)
        .unwrap_or_else(|e| panic!("{e}"))
        .working_root;
    assert_eq!(before, after);

    // In memory (sorted in buckets over two parts: tests use tiny buckets), the same.
    opts.sort_memory = 0;
    let err = import(&r, "mem", &file, &opts, &mut |_| {})
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("d.csv line 3002: duplicate primary key (id=5), first seen on line 2397"),
        "{err}"
    );
}

#[test]
fn small_batches_keep_file_order_progress_and_first_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = repo(&dir.path().join("r"));
    // Sorted by key (the sort is skipped) and read in many small batches, so batches are
    // encoded on several threads and must still come out in file order.
    let mut csv = String::from("id,name\n");
    for i in 0..500u64 {
        csv.push_str(&format!("{i},n{}\n", i % 7));
    }
    let file = dir.path().join("s.csv");
    std::fs::write(&file, &csv).unwrap_or_else(|e| panic!("{e}"));
    let size = csv.len() as u64;
    let mut opts = ImportOptions {
        primary_key: Some(vec!["id".into()]),
        ..ImportOptions::default()
    };
    opts.read.batch_size = 7;
    let mut seen = Vec::new();
    let o = import(&r, "s", &file, &opts, &mut |p| seen.push(p)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.rows_read, 500);
    let got = rows(&r, "s");
    assert_eq!(got.len(), 500);
    assert!(got.windows(2).all(|w| w[0][0] < w[1][0]));
    // Progress: rows and bytes only grow, bytes are of the file (the type inference pass is
    // not counted) and end at its size.
    assert!(
        seen.windows(2)
            .all(|w| w[0].rows < w[1].rows && w[0].bytes <= w[1].bytes)
    );
    let last = seen.last().copied().unwrap_or_default();
    assert_eq!(
        (last.rows, last.bytes, last.total_bytes),
        (500, size, Some(size))
    );

    // Two bad rows in different batches: the first in the file is the one reported.
    let mut bad = String::from("id,name\n");
    for i in 0..100u64 {
        bad.push_str(&format!(
            "{},n\n",
            if i == 40 || i == 90 {
                String::new()
            } else {
                i.to_string()
            }
        ));
    }
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, &bad).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..5 {
        let err = import(&r, "bad", &file, &opts, &mut |_| {})
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("bad.csv line 42, column id: NULL"), "{err}");
    }
}

/// `ColumnReader::value_into` stores what `value` returns, whatever the buffer held before
/// (the import reuses one row buffer for every row).
#[test]
fn column_reader_value_into_matches_value() {
    use super::arrow::{ColumnBuilder, ColumnReader};
    use crate::id::{BlobId, ObjectId};
    use crate::schema::{Decimal, Type};
    use std::sync::Arc;

    let dec = |u| {
        Decimal::new(u, 2)
            .map(Value::Decimal)
            .unwrap_or(Value::Null)
    };
    let columns: Vec<(Type, Vec<Value>)> = vec![
        (Type::Bool, vec![Value::Bool(true), Value::Bool(false)]),
        (Type::Int, vec![Value::Int(-7), Value::Int(i64::MAX)]),
        (Type::Float, vec![Value::Float(1.5), Value::Float(-0.0)]),
        (
            Type::Decimal {
                precision: 10,
                scale: 2,
            },
            vec![dec(12345), dec(-1)],
        ),
        (
            Type::Text,
            vec![Value::Text("héllo".into()), Value::Text(String::new())],
        ),
        (
            Type::Json,
            vec![Value::Json("{\"a\":1}".into()), Value::Json("[]".into())],
        ),
        (
            Type::Bytes,
            vec![Value::Bytes(vec![0, 255]), Value::Bytes(vec![])],
        ),
        (
            Type::Blob,
            vec![Value::Blob(BlobId::new(ObjectId::hash(b"x")))],
        ),
        (Type::Date, vec![Value::Date(-3), Value::Date(19000)]),
        (
            Type::Timestamp { with_tz: false },
            vec![Value::Timestamp(1_700_000_000_000_000)],
        ),
        (
            Type::Timestamp { with_tz: true },
            vec![Value::TimestampTz(-1)],
        ),
    ];
    let starts = [
        Value::Null,
        Value::Text("old".into()),
        Value::Json("0".into()),
        Value::Bytes(vec![9; 40]),
        Value::Int(3),
    ];
    for (ty, values) in columns {
        // Values with NULLs between them.
        let mut all = Vec::new();
        for v in values {
            all.push(v);
            all.push(Value::Null);
        }
        let mut b = ColumnBuilder::new(&ty).unwrap_or_else(|e| panic!("{e}"));
        for v in &all {
            b.push(v).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut arrays = vec![b.finish()];
        if ty == Type::Bytes {
            // BYTES also reads from fixed-size binary arrays.
            let fixed = arrow_array::FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                [Some([1u8, 2]), None, Some([3, 4])].into_iter(),
                2,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            arrays.push(Arc::new(fixed));
        }
        for array in arrays {
            let r = ColumnReader::new(array.clone(), ty, "c").unwrap_or_else(|e| panic!("{e}"));
            for i in 0..array.len() {
                let want = r.value(i).unwrap_or_else(|e| panic!("{e}"));
                if array.len() == all.len() {
                    assert_eq!(want, all[i], "{ty} row {i}");
                }
                for start in &starts {
                    let mut got = start.clone();
                    r.value_into(i, &mut got).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(got, want, "{ty} row {i} from {start:?}");
                }
            }
        }
    }
}
