//! Rough timings of the interchange layer: a 1M-row, 4-column table (id INT, name TEXT,
//! qty INT, price FLOAT) read from CSV and Arrow IPC, and written to every format.
//!
//! Run with `cargo bench --bench interchange` (set `KODIAK_BENCH_ROWS` for another size and
//! `KODIAK_BENCH_FORMATS=csv,arrow` to time only some formats).

mod common;

use std::path::Path;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use kodiak::interchange::{Format, ReadOptions, WriteOptions, read, write_path};

/// The benchmark table, in batches of the default size.
fn batches(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    common::items_batches(rows, |i| i as i64, 7919)
}

/// Reads a whole file, returning the row count.
fn read_rows(path: &Path, options: &ReadOptions) -> usize {
    let (_, iter) = read(path, options).expect("read");
    iter.map(|b| b.expect("batch").num_rows()).sum()
}

fn main() {
    let rows: usize = std::env::var("KODIAK_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let only: Option<Vec<String>> = std::env::var("KODIAK_BENCH_FORMATS")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let dir = tempfile::tempdir().expect("temp dir");
    let (schema, data) = batches(rows);
    println!(
        "interchange bench: {rows} rows x 4 columns (id INT, name TEXT, qty INT, price FLOAT)"
    );
    for (format, ext) in [
        (Format::Csv, "csv"),
        (Format::Arrow, "arrow"),
        (Format::ArrowStream, "arrows"),
        (Format::Parquet, "parquet"),
        (Format::Orc, "orc"),
        (Format::Jsonl, "jsonl"),
    ] {
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == ext)) {
            continue;
        }
        let path = dir.path().join(format!("bench.{ext}"));
        let t = Instant::now();
        write_path(
            format,
            &path,
            &schema,
            data.iter().cloned().map(Ok),
            &WriteOptions::default(),
        )
        .expect("write");
        let written = t.elapsed();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let t = Instant::now();
        let n = read_rows(&path, &ReadOptions::default());
        let read_time = t.elapsed();
        assert_eq!(n, rows);
        let mut line = format!(
            "{:<8} {:>7.1} MB  write {:>7.3} s  read {:>7.3} s",
            ext,
            size as f64 / 1e6,
            written.as_secs_f64(),
            read_time.as_secs_f64()
        );
        if format == Format::Csv {
            let t = Instant::now();
            let declared = ReadOptions {
                schema: Some(schema.clone()),
                ..ReadOptions::default()
            };
            read_rows(&path, &declared);
            line.push_str(&format!(
                "  (read with declared schema, no inference pass: {:.3} s)",
                t.elapsed().as_secs_f64()
            ));
        }
        println!("{line}");
    }
}
