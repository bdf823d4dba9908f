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
    let after = WorkState::load(&r)
        .unwrap_or_else(|e| panic!("{e}"))
        .working_root;
    assert_eq!(before, after);
}
