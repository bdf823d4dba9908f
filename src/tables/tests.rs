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
