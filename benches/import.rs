//! Whole-process timings of `kodiak table import` and `kodiak table export` (release binary)
//! on a 1M-row, 4-column table (id INT primary key, name TEXT, qty INT, price FLOAT), with
//! rows in shuffled key order.
//!
//! Run with `cargo bench --bench import` (set `KODIAK_BENCH_ROWS` for another size). Each
//! step runs `KODIAK_BENCH_REPEAT` times (default 3) in a fresh repository and the fastest
//! wall time is printed.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use kodiak::interchange::{Format, WriteOptions, write_path};

fn batches(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    // A permutation of 0..rows (7919 is prime and does not divide the row counts used).
    common::items_batches(rows, |i| ((i as u64 * 7919 + 13) % rows as u64) as i64, 31)
}

fn kodiak(dir: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kodiak"))
        .args(args)
        .current_dir(dir)
        .env("KODIAK_AUTHOR_NAME", "bench")
        .env("KODIAK_AUTHOR_EMAIL", "bench@example.com")
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

fn main() {
    let rows: usize = std::env::var("KODIAK_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let repeat: usize = std::env::var("KODIAK_BENCH_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let tmp = tempfile::tempdir().expect("temp dir");
    let (schema, data) = batches(rows);
    let csv = tmp.path().join("data.csv");
    let arrow = tmp.path().join("data.arrow");
    for (f, p) in [(Format::Csv, &csv), (Format::Arrow, &arrow)] {
        write_path(
            f,
            p,
            &schema,
            data.iter().cloned().map(Ok),
            &WriteOptions::default(),
        )
        .expect("writing input");
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "{rows} rows: CSV {:.1} MB, Arrow IPC {:.1} MB; best of {repeat}",
        size(&csv),
        size(&arrow)
    );
    let mut repo_no = 0;
    let mut fresh = || {
        repo_no += 1;
        let name = format!("r{repo_no}");
        kodiak(tmp.path(), &["init", &name]);
        tmp.path().join(name)
    };
    for (label, file) in [("import CSV", &csv), ("import Arrow IPC", &arrow)] {
        let best = (0..repeat)
            .map(|_| {
                let dir = fresh();
                let f = file.to_str().expect("utf-8 path");
                kodiak(&dir, &["table", "import", "t", f, "--pk", "id"])
            })
            .min()
            .unwrap_or_default();
        println!("{label:<24} {:>7.3} s", best.as_secs_f64());
    }
    let dir = fresh();
    kodiak(
        &dir,
        &[
            "table",
            "import",
            "t",
            arrow.to_str().expect("utf-8"),
            "--pk",
            "id",
        ],
    );
    for ext in ["csv", "arrow", "arrows", "parquet", "orc", "jsonl"] {
        let out = tmp.path().join(format!("out.{ext}"));
        let best = (0..repeat)
            .map(|_| {
                kodiak(
                    &dir,
                    &["table", "export", "t", out.to_str().expect("utf-8")],
                )
            })
            .min()
            .unwrap_or_default();
        println!(
            "{:<24} {:>7.3} s",
            format!("export {ext}"),
            best.as_secs_f64()
        );
    }
}
