//! History benchmark: builds a 10,000-commit history through the library, then times the real
//! `kodiak` binary (whole processes) for log, branch, tag and switch.
//!
//! Run with `cargo bench --bench history`. Prints the median and minimum of several runs.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kodiak::history::WorkState;
use kodiak::id::{CommitId, NodeId, SchemaId};
use kodiak::object::{Blob, Commit, Root, Table};
use kodiak::refs::{Change, Expected, RefName, RefValue, Transaction};
use kodiak::repo::{InitOptions, Repo};
use kodiak::schema::{ColumnDef, RowCodec, Schema, Type, Value};
use kodiak::table::NodeStore;

const COMMITS: u64 = 10_000;
const RUNS: usize = 21;

use common::sig;

fn build(dir: &Path, commits: u64) -> CommitId {
    let repo = Repo::init(dir, &InitOptions::default()).expect("init");
    let store = repo.store();
    let schema = store
        .put(&Blob {
            data: b"schema".to_vec(),
        })
        .expect("put");
    let mut parent: Option<CommitId> = None;
    for i in 0..commits {
        let rows = store
            .put(&Blob {
                data: format!("rows {i}").into_bytes(),
            })
            .expect("put");
        let table = store
            .put(&Table {
                schema: SchemaId::new(schema.id()),
                rows: NodeId::new(rows.id()),
                row_count: i,
            })
            .expect("put");
        let mut root = Root::default();
        root.tables.insert("t".into(), table);
        root.tables.insert(format!("t{}", i % 7), table);
        let root = store.put(&root).expect("put");
        let commit = Commit {
            root,
            parents: parent.into_iter().collect(),
            author: sig(1_600_000_000 + i as i64),
            committer: sig(1_600_000_000 + i as i64),
            message: format!("commit number {i}\n\nbody"),
            change_id: (u128::from(i) + 1).to_be_bytes(),
        };
        parent = Some(store.put(&commit).expect("put"));
    }
    let tip = parent.expect("at least one commit");
    let tx = Transaction::new().update_ref(
        RefName::branch("main").expect("name"),
        Expected::Absent,
        Change::Set(RefValue::Direct(tip.id())),
    );
    repo.transaction(&tx, "bench").expect("tx");
    assert!(!WorkState::load(&repo).expect("state").is_dirty());
    repo.close().expect("close");
    tip
}

const BIG_ROWS: i64 = 1_000_000;
const CHANGED_ROWS: i64 = 10_000;

/// A repository whose HEAD has a 1M-row table `big (id INT, v TEXT, n INT)`.
fn build_big(dir: &Path) {
    let repo = Repo::init(dir, &InitOptions::default()).expect("init");
    let store = repo.store();
    let schema = Schema::new(
        "big",
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::new("v", Type::Text),
            ColumnDef::new("n", Type::Int),
        ],
        &["id"],
    )
    .expect("schema");
    let codec = RowCodec::new(&schema);
    let ns = NodeStore::new(store.clone());
    let mut b = ns.builder();
    for i in 0..BIG_ROWS {
        let (k, v) = codec
            .encode_row(&[
                Value::Int(i),
                Value::Text(format!("row {i}")),
                Value::Int(i * 7),
            ])
            .expect("encode");
        b.push(&k, &v).expect("push");
    }
    let rows = b.finish().expect("finish");
    let table = store
        .put(&Table {
            schema: store.put(&schema).expect("put"),
            rows,
            row_count: BIG_ROWS as u64,
        })
        .expect("put");
    let mut root = Root::default();
    root.tables.insert("big".into(), table);
    let root = store.put(&root).expect("put");
    let commit = Commit {
        root,
        parents: vec![],
        author: sig(1_600_000_000),
        committer: sig(1_600_000_000),
        message: "big table".into(),
        change_id: [1; 16],
    };
    let c = store.put(&commit).expect("put");
    let tx = Transaction::new().update_ref(
        RefName::branch("main").expect("name"),
        Expected::Absent,
        Change::Set(RefValue::Direct(c.id())),
    );
    repo.transaction(&tx, "bench").expect("tx");
    repo.close().expect("close");
}

/// Changes CHANGED_ROWS rows spread over the table in the working state (`round` varies the
/// values so every round is a real change).
fn change_rows(dir: &Path, round: i64) {
    let step = BIG_ROWS / CHANGED_ROWS;
    let ids = (0..CHANGED_ROWS).map(|j| j * step + round % step);
    common::put_working_rows(dir, "big", ids, |i| {
        vec![
            Value::Int(i),
            Value::Text(format!("changed {round}")),
            Value::Int(round),
        ]
    });
}

fn run(dir: &Path, args: &[&str]) -> Duration {
    common::kodiak(dir, args).0
}

fn time_cmd(dir: &Path, args: &[&str]) -> (Duration, Duration, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_kodiak"))
            .args(args)
            .current_dir(dir)
            .env("KODIAK_AUTHOR_NAME", "Bench")
            .env("KODIAK_AUTHOR_EMAIL", "bench@example.com")
            .output()
            .expect("run kodiak");
        times.push(start.elapsed());
        assert!(
            out.status.success(),
            "kodiak {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bytes = out.stdout.len();
    }
    times.sort();
    (times[times.len() / 2], times[0], bytes)
}

fn report(dir: &Path, label: &str, args: &[&str]) {
    let (median, min, bytes) = time_cmd(dir, args);
    println!(
        "{label:<34} median {:>7.2} ms   min {:>7.2} ms   ({bytes} bytes out)",
        median.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3
    );
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // KODIAK_BENCH_DIR keeps the repository for inspection (it must not exist yet).
    let dir = match std::env::var_os("KODIAK_BENCH_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => tmp.path().join("repo"),
    };
    let start = Instant::now();
    build(&dir, COMMITS);
    println!(
        "built {COMMITS} commits in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    report(&dir, "log -n 20", &["log", "-n", "20"]);
    report(
        &dir,
        "log -n 20 --oneline",
        &["log", "-n", "20", "--oneline"],
    );
    report(
        &dir,
        "log --oneline (10,000 commits)",
        &["log", "--oneline"],
    );
    report(&dir, "status", &["status"]);
    report(&dir, "--version (process start, no repo)", &["--version"]);
    report(&dir, "show-ref (baseline: open + read)", &["show-ref"]);
    report(&dir, "branch (list)", &["branch"]);
    report(&dir, "tag (list)", &["tag"]);
    // Create/delete pairs so every run does the same work.
    report_pair(
        &dir,
        &["branch", "topic"],
        &["branch", "-D", "topic"],
        "branch NAME (create)",
        "",
    );
    report_pair(
        &dir,
        &["tag", "v1"],
        &["tag", "-d", "v1"],
        "tag NAME (create)",
        "",
    );
    run(&dir, &["branch", "other", "HEAD~5000"]);
    report_pair(
        &dir,
        &["switch", "other"],
        &["switch", "main"],
        "switch (clean, to HEAD~5000)",
        "switch (clean, back)",
    );

    // Commit after changing 10,000 rows of a 1M-row table.
    let big = tmp.path().join("big");
    let start = Instant::now();
    build_big(&big);
    println!(
        "\nbuilt a {BIG_ROWS}-row table in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    let mut times = Vec::new();
    for round in 1..=5 {
        change_rows(&big, round);
        // sled's background thread of the handle just closed may hold its lock briefly.
        std::thread::sleep(Duration::from_millis(200));
        times.push(run(&big, &["commit", "-a", "-m", "change 10k rows"]));
    }
    times.sort();
    println!(
        "{:<34} median {:>7.2} ms   min {:>7.2} ms",
        "commit -a (10,000 of 1M rows)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
    report(&big, "status (clean, 1M rows)", &["status"]);

    // The same moves in a small repository, where opening the database costs least.
    let small = tmp.path().join("small");
    build(&small, 20);
    println!("\nsmall repository (20 commits):");
    report(&small, "show-ref (baseline: open + read)", &["show-ref"]);
    report(&small, "branch (list)", &["branch"]);
    report_pair(
        &small,
        &["branch", "topic"],
        &["branch", "-D", "topic"],
        "branch NAME (create)",
        "",
    );
    report_pair(
        &small,
        &["tag", "v1"],
        &["tag", "-d", "v1"],
        "tag NAME (create)",
        "",
    );
    run(&small, &["branch", "other", "HEAD~10"]);
    report_pair(
        &small,
        &["switch", "other"],
        &["switch", "main"],
        "switch (clean)",
        "switch (clean, back)",
    );
}

/// Runs `a` and `b` alternately and prints median and minimum of `a` (and of `b` when
/// `label_b` is not empty).
fn report_pair(dir: &Path, a: &[&str], b: &[&str], label_a: &str, label_b: &str) {
    let mut ta = Vec::new();
    let mut tb = Vec::new();
    for _ in 0..RUNS {
        ta.push(run(dir, a));
        tb.push(run(dir, b));
    }
    ta.sort();
    tb.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label_a:<34} median {:>7.2} ms   min {:>7.2} ms",
        ms(ta[RUNS / 2]),
        ms(ta[0])
    );
    if !label_b.is_empty() {
        println!(
            "{label_b:<34} median {:>7.2} ms   min {:>7.2} ms",
            ms(tb[RUNS / 2]),
            ms(tb[0])
        );
    }
}
