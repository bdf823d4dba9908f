//! The object index of a `PackStore` at scale (library, in-process): 1M small objects loaded
//! as `clone` loads them, then lookups of present and absent ids, reads through the block
//! cache, reopening (mapping the index files) and small flushes (commit-sized).
//!
//! Run with `cargo bench --bench index`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use kodiak::id::ObjectId;
use kodiak::store::{ObjectStore, PackStore};

const OBJECTS: u64 = 1_000_000;
const LOOKUPS: u64 = 200_000;

fn open(dir: &Path) -> (sled::Db, PackStore) {
    let db = sled::Config::new()
        .path(dir.join("db"))
        .open()
        .expect("open sled");
    let store = PackStore::open(&db, &dir.join("packs")).expect("pack store");
    (db, store)
}

fn id(i: u64) -> ObjectId {
    ObjectId::hash(&i.to_le_bytes())
}

/// A 40-byte stored value (raw codec byte, then bytes derived from `i`).
fn value(i: u64) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(&i.to_le_bytes().repeat(5)[..39]);
    v
}

fn per(d: Duration, n: u64) -> String {
    format!("{:.0} ns", d.as_nanos() as f64 / n as f64)
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    {
        let (_db, store) = open(dir);
        let t = Instant::now();
        let mut i = 0;
        while i < OBJECTS {
            let batch: Vec<_> = (i..(i + 20_000).min(OBJECTS))
                .map(|j| (id(j), value(j)))
                .collect();
            i += batch.len() as u64;
            store.load_unsynced(batch).expect("load");
        }
        let loaded = t.elapsed();
        let t = Instant::now();
        store.flush().expect("flush");
        println!(
            "load {OBJECTS} objects: {:.0} ms, then flush (sync + one index file): {:.0} ms",
            loaded.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
        let index = store.index_paths();
        let bytes: u64 = index
            .iter()
            .map(|p| std::fs::metadata(p).expect("index").len())
            .sum();
        println!(
            "index files: {}, {:.1} MB ({:.1} bytes per object)",
            index.len(),
            bytes as f64 / 1e6,
            bytes as f64 / OBJECTS as f64
        );
    }
    let t = Instant::now();
    let (db, store) = open(dir);
    println!(
        "reopen (sled + map the index): {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    // Spread over the whole key space: each first lookup of a page faults it in.
    let step = OBJECTS / LOOKUPS;
    let present: Vec<ObjectId> = (0..LOOKUPS).map(|k| id(k * step)).collect();
    let absent: Vec<ObjectId> = (0..LOOKUPS).map(|k| id(OBJECTS + k)).collect();
    let t = Instant::now();
    for id in &present {
        assert!(store.has(id).expect("has"));
    }
    println!(
        "has, present, first pass (page faults): {}",
        per(t.elapsed(), LOOKUPS)
    );
    for pass in 0..2 {
        let t = Instant::now();
        for id in &present {
            black_box(store.has(id).expect("has"));
        }
        let found = t.elapsed();
        let t = Instant::now();
        for id in &absent {
            black_box(store.has(id).expect("has"));
        }
        let missing = t.elapsed();
        let t = Instant::now();
        let mut total = 0usize;
        for id in &present {
            store
                .with_stored(id, &mut |v| total += v.len())
                .expect("read");
        }
        let read = t.elapsed();
        black_box(total);
        println!(
            "pass {pass}: has present {}, has absent {}, read 40-byte value (block cache) {}",
            per(found, LOOKUPS),
            per(missing, LOOKUPS),
            per(read, LOOKUPS)
        );
    }
    // Commit-sized writes: a few objects, then a flush, a hundred times.
    let t = Instant::now();
    for k in 0..100u64 {
        let batch: Vec<_> = (0..5)
            .map(|j| (id(2 * OBJECTS + k * 5 + j), value(j)))
            .collect();
        store.put_stored_batch(batch).expect("put");
        store.flush().expect("flush");
    }
    println!(
        "100 flushes of 5 new objects: {:.2} ms each; index files now {}",
        t.elapsed().as_secs_f64() * 1e3 / 100.0,
        store.index_paths().len()
    );
    drop(store);
    drop(db);
}
