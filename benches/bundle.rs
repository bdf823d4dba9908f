//! Whole-process timings of `kodiak pack` and `kodiak clone` (release binary) on the 1M-row
//! `items` table, and bundle sizes: the full table, and an incremental bundle after a 10-row
//! change.
//!
//! Run with `cargo bench --bench bundle` (`KODIAK_BENCH_ROWS` for another size,
//! `KODIAK_BENCH_REPEAT` for the number of runs per step, default 3; the fastest is printed).
//! Throughput is MB of object data (canonical bytes of every object in the bundle) per second
//! of wall time, process start and repository open included.

mod common;

use common::kodiak;

use std::path::Path;

use kodiak::interchange::{Format, WriteOptions, write_path};

/// The object bytes `kodiak pack` reports: "Packed N objects (B bytes) into …".
fn object_bytes(pack_out: &str) -> f64 {
    pack_out
        .split_once('(')
        .and_then(|(_, r)| r.split_once(' '))
        .and_then(|(n, _)| n.parse::<f64>().ok())
        .expect("pack output names the object bytes")
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|it| it.flatten().map(|e| size(&e.path())).sum())
        .unwrap_or(0)
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
    // KODIAK_BENCH_DIR keeps the repositories and bundles for inspection (it must not exist yet).
    let base = match std::env::var_os("KODIAK_BENCH_DIR") {
        Some(d) => {
            let d = std::path::PathBuf::from(d);
            std::fs::create_dir(&d).expect("KODIAK_BENCH_DIR must not exist yet");
            d
        }
        None => tmp.path().to_path_buf(),
    };
    let base = base.as_path();
    let (schema, data) = common::items_batches(rows, |i| i as i64, 31);
    let arrow = base.join("items.arrow");
    write_path(
        Format::Arrow,
        &arrow,
        &schema,
        data.iter().cloned().map(Ok),
        &WriteOptions::default(),
    )
    .expect("writing input");
    kodiak(base, &["init", "items"]);
    let repo = base.join("items");
    let arrow_s = arrow.to_str().expect("utf-8 path");
    kodiak(&repo, &["table", "import", "items", arrow_s, "--pk", "id"]);
    kodiak(&repo, &["commit", "-a", "-m", "items"]);
    kodiak(&repo, &["tag", "base"]);
    println!(
        "{rows} rows; repository packs {:.1} MB; best of {repeat} (shared 2-core machine: noisy)",
        dir_size(&repo.join(".kodiak/packs")) as f64 / 1e6
    );

    let full = base.join("full.kdk");
    let full_s = full.to_str().expect("utf-8 path");
    let mut data_mb = 0.0;
    let best_pack = (0..repeat)
        .map(|_| {
            let (t, out) = kodiak(&repo, &["pack", "-o", full_s]);
            data_mb = object_bytes(&out) / 1e6;
            t
        })
        .min()
        .unwrap_or_default();
    println!(
        "pack (full)      {:>7.3} s  {:>7.1} MB/s of {data_mb:.1} MB object data; bundle {:.2} MB",
        best_pack.as_secs_f64(),
        data_mb / best_pack.as_secs_f64(),
        size(&full) as f64 / 1e6
    );
    let mut n = 0;
    let best_clone = (0..repeat)
        .map(|_| {
            n += 1;
            let dest = format!("clone{n}");
            kodiak(base, &["clone", full_s, &dest]).0
        })
        .min()
        .unwrap_or_default();
    println!(
        "clone            {:>7.3} s  {:>7.1} MB/s",
        best_clone.as_secs_f64(),
        data_mb / best_clone.as_secs_f64()
    );
    let best_verify = (0..repeat)
        .map(|_| kodiak(base, &["bundle", "verify", full_s]).0)
        .min()
        .unwrap_or_default();
    println!(
        "bundle verify    {:>7.3} s  {:>7.1} MB/s",
        best_verify.as_secs_f64(),
        data_mb / best_verify.as_secs_f64()
    );

    // A 10-row change: rows spread over the key range get a new qty.
    let step = (rows / 10).max(1);
    let mut csv = String::from("id,name,qty,price\n");
    for k in 0..10usize {
        let id = (k * step).min(rows.saturating_sub(1));
        csv.push_str(&format!(
            "{id},name {id},{},{}\n",
            1000 + k,
            id as f64 * 0.37 + 0.01
        ));
    }
    let change = base.join("change.csv");
    std::fs::write(&change, csv).expect("writing change");
    let change_s = change.to_str().expect("utf-8 path");
    kodiak(&repo, &["table", "import", "items", change_s, "--update"]);
    kodiak(&repo, &["commit", "-a", "-m", "ten rows"]);
    let inc = base.join("inc.kdk");
    let inc_s = inc.to_str().expect("utf-8 path");
    let (t, out) = kodiak(&repo, &["pack", "-o", inc_s, "--since", "base", "main"]);
    println!(
        "pack --since     {:>7.3} s  incremental bundle after a 10-row change: {:.1} KB ({:.1} KB object data)",
        t.as_secs_f64(),
        size(&inc) as f64 / 1e3,
        object_bytes(&out) / 1e3
    );
    let (t, _) = kodiak(&base.join("clone1"), &["fetch", inc_s]);
    println!("fetch (incr.)    {:>7.3} s", t.as_secs_f64());
}
