//! Whole-process timings of `kodiak diff` (release binary) on a 1M-row table
//! `items(id INT primary key, name TEXT, qty INT, price FLOAT)`.
//!
//! Builds a repository on disk: commit `base` with the table, commit `spread` changing 10,000
//! rows spread evenly over the key range (every 100th row), and commit `range` (on a branch
//! from `base`) changing 10,000 neighbouring rows. Each measured command is a fresh process,
//! so the node cache starts cold (the OS page cache is warm). Prints median and minimum of
//! `KODIAK_BENCH_RUNS` runs (default 11).
//!
//! Run with `cargo bench --bench diff`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kodiak::interchange::{Format, WriteOptions, write_path};
use kodiak::schema::Value;

const ROWS: usize = 1_000_000;
const CHANGED: i64 = 10_000;

fn kodiak(dir: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kodiak"))
        .args(args)
        .current_dir(dir)
        .env("KODIAK_AUTHOR_NAME", "bench")
        .env("KODIAK_AUTHOR_EMAIL", "bench@example.com")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("running kodiak");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "kodiak {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn output(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kodiak"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running kodiak");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Changes the rows with the given ids in the working state (name and qty), through the
/// library; the binary then commits them.
fn edit(dir: &Path, ids: impl Iterator<Item = i64>) {
    common::put_working_rows(dir, "items", ids, |i| {
        vec![
            Value::Int(i),
            Value::Text(format!("changed {i}")),
            Value::Int(-i),
            Value::Float(i as f64 * 0.37 + 0.01),
        ]
    });
    // sled's background thread of the closed handle may hold its lock briefly.
    std::thread::sleep(Duration::from_millis(200));
}

fn report(dir: &Path, runs: usize, label: &str, args: &[&str]) {
    let mut times: Vec<Duration> = (0..runs).map(|_| kodiak(dir, args)).collect();
    times.sort();
    println!(
        "{label:<44} median {:>7.1} ms   min {:>7.1} ms",
        times[runs / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}

fn main() {
    let runs: usize = std::env::var("KODIAK_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11)
        .max(1);
    let tmp = tempfile::tempdir().expect("temp dir");
    let (schema, data) = common::items_batches(ROWS, |i| i as i64, 7);
    let arrow = tmp.path().join("items.arrow");
    write_path(
        Format::Arrow,
        &arrow,
        &schema,
        data.into_iter().map(Ok),
        &WriteOptions::default(),
    )
    .expect("writing input");
    // KODIAK_BENCH_DIR keeps the repository for inspection (it must not exist yet).
    let dir = match std::env::var_os("KODIAK_BENCH_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => tmp.path().join("repo"),
    };
    kodiak(tmp.path(), &["init", dir.to_str().expect("utf-8 path")]);
    let start = Instant::now();
    let file = arrow.to_str().expect("utf-8 path");
    kodiak(&dir, &["table", "import", "items", file, "--pk", "id"]);
    kodiak(&dir, &["commit", "-a", "-m", "base"]);
    kodiak(&dir, &["tag", "base"]);
    kodiak(&dir, &["branch", "ranged"]);
    let step = ROWS as i64 / CHANGED;
    edit(&dir, (0..CHANGED).map(|j| j * step + 7));
    kodiak(&dir, &["commit", "-a", "-m", "spread"]);
    kodiak(&dir, &["tag", "spread"]);
    kodiak(&dir, &["switch", "ranged"]);
    edit(&dir, 500_000..500_000 + CHANGED);
    kodiak(&dir, &["commit", "-a", "-m", "range"]);
    kodiak(&dir, &["tag", "range"]);
    println!(
        "built the repository ({ROWS} rows, two edits of {CHANGED} rows) in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    print!("{}", output(&dir, &["diff", "--stat", "base", "spread"]));
    print!("{}", output(&dir, &["diff", "--stat", "base", "range"]));

    report(
        &dir,
        runs,
        "show-ref (open + read: the floor)",
        &["show-ref"],
    );
    report(
        &dir,
        runs,
        "diff --stat base spread",
        &["diff", "--stat", "base", "spread"],
    );
    report(
        &dir,
        runs,
        "diff --format json base spread (> /dev/null)",
        &["diff", "--format", "json", "base", "spread"],
    );
    report(
        &dir,
        runs,
        "diff --stat base range",
        &["diff", "--stat", "base", "range"],
    );
    report(
        &dir,
        runs,
        "diff --format json base range",
        &["diff", "--format", "json", "base", "range"],
    );
    report(
        &dir,
        runs,
        "diff base base (identical)",
        &["diff", "base", "base"],
    );
    report(
        &dir,
        runs,
        "diff --format sql base spread",
        &["diff", "--format", "sql", "base", "spread"],
    );
}
