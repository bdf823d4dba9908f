//! Whole-process timings of `kodiak table import` and `kodiak table export` (release binary)
//! on a 1M-row, 4-column table (id INT primary key, name TEXT, qty INT, price FLOAT), with
//! rows in shuffled key order, and the same rows already sorted by key (a common case: dumps
//! ordered by id).
//!
//! Run with `cargo bench --bench import` (set `KODIAK_BENCH_ROWS` for another size). Each
//! step runs `KODIAK_BENCH_REPEAT` times (default 5) in a fresh repository; the minimum and
//! median wall time are printed, with the median user+sys CPU time of the process (from
//! `/proc/self/stat`, 10 ms resolution), which is much less disturbed by other load than the
//! wall time. `KODIAK_BENCH_DIR` keeps the input files and repositories there.

mod common;

fn kodiak(dir: &Path, args: &[&str]) -> Duration {
    common::kodiak(dir, args).0
}

use std::path::Path;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use kodiak::interchange::{Format, WriteOptions, write_path};

fn batches(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    // A permutation of 0..rows (7919 is prime and does not divide the row counts used).
    common::items_batches(rows, |i| ((i as u64 * 7919 + 13) % rows as u64) as i64, 31)
}

/// User + system CPU time of this process's waited-for children so far.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(13).copied().unwrap_or(0) + fields.get(14).copied().unwrap_or(0);
    // Linux reports these in USER_HZ, which is 100 on every mainstream configuration.
    Duration::from_millis(ticks * 10)
}

/// Wall and CPU time of one run.
fn kodiak_cpu(dir: &Path, args: &[&str]) -> (Duration, Duration) {
    let cpu = children_cpu();
    let wall = kodiak(dir, args);
    (wall, children_cpu().saturating_sub(cpu))
}

/// Prints min/median wall and median CPU of `runs`.
fn report(label: &str, mut runs: Vec<(Duration, Duration)>) {
    let mut cpu: Vec<Duration> = runs.iter().map(|r| r.1).collect();
    runs.sort();
    cpu.sort();
    let ms = |d: Duration| d.as_secs_f64();
    println!(
        "{label:<32} min {:>6.3} s   median {:>6.3} s   CPU median {:>6.2} s",
        ms(runs[0].0),
        ms(runs[runs.len() / 2].0),
        ms(cpu[cpu.len() / 2])
    );
}

fn main() {
    let rows: usize = std::env::var("KODIAK_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let repeat: usize = std::env::var("KODIAK_BENCH_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let tmp = tempfile::tempdir().expect("temp dir");
    let base = match std::env::var_os("KODIAK_BENCH_DIR") {
        Some(d) => {
            let d = std::path::PathBuf::from(d);
            std::fs::create_dir_all(&d).expect("creating KODIAK_BENCH_DIR");
            d
        }
        None => tmp.path().to_path_buf(),
    };
    let (schema, data) = batches(rows);
    let (_, sorted_data) = common::items_batches(rows, |i| i as i64, 31);
    let csv = base.join("data.csv");
    let arrow = base.join("data.arrow");
    let sorted_csv = base.join("sorted.csv");
    let sorted_arrow = base.join("sorted.arrow");
    for (f, p, d) in [
        (Format::Csv, &csv, &data),
        (Format::Arrow, &arrow, &data),
        (Format::Csv, &sorted_csv, &sorted_data),
        (Format::Arrow, &sorted_arrow, &sorted_data),
    ] {
        write_path(
            f,
            p,
            &schema,
            d.iter().cloned().map(Ok),
            &WriteOptions::default(),
        )
        .expect("writing input");
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "{rows} rows: CSV {:.1} MB, Arrow IPC {:.1} MB; {repeat} runs each",
        size(&csv),
        size(&arrow)
    );
    let mut repo_no = 0;
    let mut fresh = || {
        repo_no += 1;
        let name = format!("r{repo_no}");
        let _ = std::fs::remove_dir_all(base.join(&name));
        kodiak(&base, &["init", &name]);
        base.join(name)
    };
    for (label, file) in [
        ("import CSV (shuffled keys)", &csv),
        ("import Arrow IPC (shuffled)", &arrow),
        ("import CSV (sorted keys)", &sorted_csv),
        ("import Arrow IPC (sorted)", &sorted_arrow),
    ] {
        let runs = (0..repeat)
            .map(|_| {
                let dir = fresh();
                let f = file.to_str().expect("utf-8 path");
                kodiak_cpu(&dir, &["table", "import", "t", f, "--pk", "id"])
            })
            .collect();
        report(label, runs);
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
        let out = base.join(format!("out.{ext}"));
        let runs = (0..repeat)
            .map(|_| {
                kodiak_cpu(
                    &dir,
                    &["table", "export", "t", out.to_str().expect("utf-8")],
                )
            })
            .collect();
        report(&format!("export {ext}"), runs);
    }
}
