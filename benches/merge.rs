//! Merge benchmark: a 1M-row `items` table, two branches with disjoint 1% spread edits
//! committed on disk, and the real `kodiak merge` timed as a whole process (clean, and with
//! 10 conflicting rows on top).
//!
//! Run with `cargo bench --bench merge`. Prints the median and minimum of several runs.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use arrow_array::{Array, Float64Array, Int64Array, StringArray};
use kodiak::id::CommitId;
use kodiak::object::{Commit, Root, Table};
use kodiak::refs::{Change, Expected, RefName, RefValue, Transaction};
use kodiak::repo::{InitOptions, Repo};
use kodiak::schema::{ColumnDef, RowCodec, Schema, Type, Value};
use kodiak::table::NodeStore;

const ROWS: usize = 1_000_000;
/// Every STEP-th row is edited on each side (1%).
const STEP: i64 = 100;
const RUNS: usize = 7;

use common::sig;

fn schema() -> Schema {
    Schema::new(
        "items",
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::new("name", Type::Text),
            ColumnDef::new("qty", Type::Int),
            ColumnDef::new("price", Type::Float),
        ],
        &["id"],
    )
    .expect("schema")
}

/// Stores a commit of `root` with `parents` and points `branch` at it (created or moved).
fn commit(
    repo: &Repo,
    root: &Root,
    parents: Vec<CommitId>,
    msg: &str,
    branch: &str,
    t: i64,
) -> CommitId {
    let store = repo.store();
    let c = store
        .put(&Commit {
            root: store.put(root).expect("root"),
            parents,
            author: sig(t),
            committer: sig(t),
            message: msg.into(),
            change_id: [t as u8; 16],
        })
        .expect("commit");
    let name = RefName::branch(branch).expect("name");
    let expected = match repo.refs().get(&name).expect("ref") {
        Some(v) => Expected::Equals(v),
        None => Expected::Absent,
    };
    let tx = Transaction::new().update_ref(name, expected, Change::Set(RefValue::Direct(c.id())));
    repo.transaction(&tx, "bench").expect("tx");
    c
}

/// The table with every STEP-th row from `offset` (plus `extra` keys) rewritten.
fn edited(ns: &NodeStore, base: &Table, offset: i64, tag: &str, extra: &[i64]) -> Table {
    let codec = RowCodec::new(&schema());
    let mut keys: Vec<i64> = (0..ROWS as i64 / STEP).map(|j| j * STEP + offset).collect();
    keys.extend_from_slice(extra);
    keys.sort_unstable();
    keys.dedup();
    let edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = keys
        .iter()
        .map(|&i| {
            let (k, v) = codec
                .encode_row(&[
                    Value::Int(i),
                    Value::Text(format!("{tag} {i}")),
                    Value::Int(i % 7),
                    Value::Float(1.5),
                ])
                .expect("encode");
            (k, Some(v))
        })
        .collect();
    Table {
        rows: ns.apply(base.rows, edits).expect("apply"),
        ..base.clone()
    }
}

/// Builds the repository: `main` (ours) and `theirs` with disjoint spread edits, and
/// `conflicting` = theirs plus 10 rows ours also changed, differently.
fn build(dir: &Path) {
    let repo = Repo::init(dir, &InitOptions::default()).expect("init");
    let store = repo.store();
    let s = schema();
    let codec = RowCodec::new(&s);
    let ns = NodeStore::new(store.clone());
    let (_, batches) = common::items_batches(ROWS, |i| i as i64, 7919);
    let mut b = ns.builder();
    for batch in &batches {
        let col = |i: usize| batch.column(i);
        let ids = col(0).as_any().downcast_ref::<Int64Array>().expect("ids");
        let names = col(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("names");
        let qty = col(2).as_any().downcast_ref::<Int64Array>().expect("qty");
        let price = col(3)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("price");
        for r in 0..batch.num_rows() {
            let (k, v) = codec
                .encode_row(&[
                    Value::Int(ids.value(r)),
                    Value::Text(names.value(r).to_string()),
                    Value::Int(qty.value(r)),
                    Value::Float(price.value(r)),
                ])
                .expect("encode");
            b.push(&k, &v).expect("push");
        }
    }
    let base_t = Table {
        schema: store.put(&s).expect("schema"),
        rows: b.finish().expect("rows"),
        row_count: ROWS as u64,
    };
    let root_of = |t: &Table| {
        let mut r = Root::default();
        r.tables
            .insert("items".into(), store.put(t).expect("table"));
        r
    };
    let base = commit(
        &repo,
        &root_of(&base_t),
        vec![],
        "base",
        "main",
        1_600_000_000,
    );
    let ours_t = edited(&ns, &base_t, 0, "ours", &[]);
    commit(
        &repo,
        &root_of(&ours_t),
        vec![base],
        "ours",
        "main",
        1_600_000_001,
    );
    let theirs_t = edited(&ns, &base_t, STEP / 2, "theirs", &[]);
    commit(
        &repo,
        &root_of(&theirs_t),
        vec![base],
        "theirs",
        "theirs",
        1_600_000_002,
    );
    let clash: Vec<i64> = (0..10).map(|j| j * STEP * 1000).collect();
    let conflicting_t = edited(&ns, &base_t, STEP / 2, "theirs", &clash);
    commit(
        &repo,
        &root_of(&conflicting_t),
        vec![base],
        "conflicting",
        "conflicting",
        1_600_000_003,
    );
    repo.close().expect("close");
    // sled's background thread may hold the database lock briefly after a close.
    std::thread::sleep(Duration::from_millis(500));
}

fn kodiak(dir: &Path, args: &[&str]) -> (Duration, std::process::Output) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kodiak"))
        .args(args)
        .current_dir(dir)
        .env("KODIAK_AUTHOR_NAME", "Bench")
        .env("KODIAK_AUTHOR_EMAIL", "bench@example.com")
        .output()
        .expect("run kodiak");
    (start.elapsed(), out)
}

/// Times `kodiak merge REV` RUNS times, undoing it after each run with `undo`.
fn time_merge(dir: &Path, rev: &str, expect_ok: bool, undo: &[&str]) -> (Duration, Duration) {
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let (t, out) = kodiak(dir, &["merge", rev]);
        assert_eq!(
            out.status.success(),
            expect_ok,
            "kodiak merge {rev}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        times.push(t);
        let (_, u) = kodiak(dir, undo);
        assert!(u.status.success(), "{}", String::from_utf8_lossy(&u.stderr));
    }
    times.sort();
    (times[times.len() / 2], times[0])
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // KODIAK_BENCH_DIR keeps the repository for inspection (it must not exist yet).
    let dir = match std::env::var_os("KODIAK_BENCH_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => tmp.path().join("repo"),
    };
    let start = Instant::now();
    build(&dir);
    println!(
        "built a {ROWS}-row table and three branches in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    let show = |label: &str, (median, min): (Duration, Duration)| {
        println!(
            "{label:<46} median {:>7.1} ms   min {:>7.1} ms",
            median.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3
        );
    };
    let (t, _) = kodiak(&dir, &["show-ref"]);
    println!(
        "{:<46} {:>7.1} ms",
        "show-ref (process baseline)",
        t.as_secs_f64() * 1e3
    );
    show(
        "merge: clean, 2 x 10,000 disjoint spread edits",
        time_merge(&dir, "theirs", true, &["reset", "--hard", "HEAD~1"]),
    );
    show(
        "merge: same plus 10 conflicting rows",
        time_merge(&dir, "conflicting", false, &["merge", "--abort"]),
    );
}
