//! Prolly tree benchmark: bulk build, spread and contiguous updates, diffs and point gets on
//! rows of `items(id INT PK, name TEXT, qty INT, price FLOAT)` (encoded with the row codec)
//! in the store a repository uses (a `PackStore`: sled index + pack files).
//!
//! Run with `cargo bench --bench table`; add `-- 10m` (or set `KODIAK_BENCH_10M=1`) to also
//! run the contiguous-update diff on 10 million rows, and set `KODIAK_BENCH_STORE=sled` to
//! measure the pure-sled `SledStore` instead (for comparison).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kodiak::id::NodeId;
use kodiak::schema::{ColumnDef, RowCodec, Schema, Type, Value};
use kodiak::store::{ObjectStore, PackStore, SledStore, Store};
use kodiak::table::NodeStore;

const UPDATES: u64 = 10_000;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Rows of `items(id INT PK, name TEXT, qty INT, price FLOAT)`, encoded with the row codec.
struct Items {
    codec: RowCodec,
    row: Vec<Value>,
}

impl Items {
    fn new() -> Self {
        let schema = Schema::new(
            "items",
            vec![
                ColumnDef::new("id", Type::Int).not_null(),
                ColumnDef::new("name", Type::Text),
                ColumnDef::new("qty", Type::Int),
                ColumnDef::new("price", Type::Float),
            ],
            &["id"],
        )
        .expect("schema");
        Items {
            codec: RowCodec::new(&schema),
            row: Vec::new(),
        }
    }

    fn key(&self, i: u64) -> Vec<u8> {
        self.codec.encode_key(&[Value::Int(i as i64)]).expect("key")
    }

    /// Row `i`: an 8–12 letter name, a qty and a price; `version` changes qty and price.
    fn encode(&mut self, i: u64, version: u64, key: &mut Vec<u8>, value: &mut Vec<u8>) {
        let r = mix(i);
        let name_len = 8 + (r % 5) as usize;
        let mut name = String::with_capacity(name_len);
        let mut s = r;
        for _ in 0..name_len {
            name.push(char::from(b'a' + (s % 26) as u8));
            s = (s / 26) ^ (s << 7);
        }
        // Adding `version` guarantees an updated row differs from the original.
        let qty = (mix(r) % 1000) as i64 - 100 + version as i64;
        let price = (mix(r.wrapping_add(version)) % 100_000) as f64 / 100.0;
        self.row.clear();
        self.row.extend([
            Value::Int(i as i64),
            Value::Text(name),
            Value::Int(qty),
            Value::Float(price),
        ]);
        self.codec
            .encode_row_into(&self.row, key, value)
            .expect("encode row");
    }
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

struct Db {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
}

/// A store laid out like a repository's: `db/` (sled, 64 MiB cache) and `packs/`.
fn open_db() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let db = sled::Config::new()
        .path(path.join("db"))
        .cache_capacity(64 << 20)
        .open()
        .expect("open sled");
    let backend: Arc<dyn ObjectStore> =
        if std::env::var("KODIAK_BENCH_STORE").is_ok_and(|s| s == "sled") {
            Arc::new(SledStore::new(&db).expect("objects tree"))
        } else {
            Arc::new(PackStore::open(&db, &path.join("packs")).expect("pack store"))
        };
    let store = Store::new(backend);
    Db {
        _dir: dir,
        path,
        store,
    }
}

fn build(ns: &NodeStore, items: &mut Items, n: u64) -> NodeId {
    let mut b = ns.builder();
    let (mut k, mut v) = (Vec::new(), Vec::new());
    for i in 0..n {
        items.encode(i, 0, &mut k, &mut v);
        b.push(&k, &v).expect("push");
    }
    b.finish().expect("finish")
}

fn update(
    ns: &NodeStore,
    items: &mut Items,
    root: NodeId,
    keys: impl Iterator<Item = u64>,
) -> NodeId {
    let edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = keys
        .map(|i| {
            let (mut k, mut v) = (Vec::new(), Vec::new());
            items.encode(i, 1, &mut k, &mut v);
            (k, Some(v))
        })
        .collect();
    ns.apply(root, edits).expect("apply")
}

fn diff_count(ns: &NodeStore, a: NodeId, b: NodeId) -> (usize, Duration) {
    let t = Instant::now();
    let mut n = 0;
    for d in ns.diff(a, b) {
        d.expect("diff");
        n += 1;
    }
    (n, t.elapsed())
}

/// Peak resident set size, from `/proc/self/status`.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Process CPU time (user + system, all threads, 10 ms ticks) from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

/// Wall and CPU time of `f`.
fn timed(f: impl FnOnce()) -> (Duration, Duration) {
    let (t, c) = (Instant::now(), cpu_time());
    f();
    (t.elapsed(), cpu_time().saturating_sub(c))
}

/// Applies edits (a function of its own for `callgrind --toggle-collect`).
#[inline(never)]
fn spread_apply(ns: &NodeStore, root: NodeId, edits: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
    ns.apply(root, edits).expect("apply");
}

/// Counts diff rows (a function of its own for `callgrind --toggle-collect`).
#[inline(never)]
fn diff_count_on(ns: &NodeStore, a: NodeId, b: NodeId, threads: usize) {
    let mut d = ns.diff(a, b);
    if threads > 0 {
        d = d.with_threads(threads);
    }
    let mut n = 0u64;
    for r in d {
        r.expect("diff");
        n += 1;
    }
    assert_eq!(n, UPDATES);
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn height(ns: &NodeStore, root: NodeId) -> u8 {
    ns.load(root).expect("root").level()
}

/// Bulk build, then a contiguous 10k-row update and its diff; returns the diff time.
fn contiguous(n: u64, label: &str) -> Duration {
    let mut items = Items::new();
    let db = open_db();
    let ns = NodeStore::new(db.store.clone());
    let t = Instant::now();
    let root = build(&ns, &mut items, n);
    let built = t.elapsed();
    db.store.flush().expect("flush");
    println!(
        "[{label}] bulk build of {n} rows: {} (height {}), store dir (sled + packs) after flush: {:.1} MB",
        ms(built),
        height(&ns, root),
        dir_size(&db.path) as f64 / 1e6
    );
    let start = n / 2;
    let t = Instant::now();
    let root2 = update(&ns, &mut items, root, start..start + UPDATES);
    println!(
        "[{label}] {UPDATES} contiguous updates -> new root: {}",
        ms(t.elapsed())
    );
    if std::env::var_os("KODIAK_BENCH_PROBE").is_some() {
        for v in 2..5 {
            let edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = (start..start + UPDATES)
                .map(|i| {
                    let (mut k, mut v2) = (Vec::new(), Vec::new());
                    items.encode(i, v, &mut k, &mut v2);
                    (k, Some(v2))
                })
                .collect();
            let (w, c) = timed(|| spread_apply(&ns, root, edits));
            println!("[{label}] again: {} (cpu {})", ms(w), ms(c));
        }
    }
    let (rows, warm) = diff_count(&ns, root, root2);
    assert_eq!(rows as u64, UPDATES);
    let cold_ns = NodeStore::new(db.store.clone());
    let (_, cold) = diff_count(&cold_ns, root, root2);
    println!(
        "[{label}] diff after contiguous updates ({rows} rows): warm {}, cold cache {}",
        ms(warm),
        ms(cold)
    );
    warm
}

/// Where the time of a cold node load goes: backend read, unframing, hash check, decode.
fn load_breakdown(store: &Store) {
    let backend = store.backend();
    let ids: Vec<_> = backend.ids().map(|id| id.expect("id")).collect();
    let (mut get, mut unframe, mut hash, mut decode) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut lookup = |tag| store.dictionaries_with_tag(tag).map_err(|e| e.to_string());
    let mut nodes = 0usize;
    for id in &ids {
        let t = Instant::now();
        let stored = backend.get_stored(id).expect("get").expect("present");
        let t1 = Instant::now();
        let canonical = kodiak::store::unframe_with(&stored, &mut lookup).expect("unframe");
        let t2 = Instant::now();
        if canonical[0] != kodiak::object::Kind::Node as u8 {
            continue; // the store's dictionary
        }
        nodes += 1;
        assert_eq!(kodiak::id::ObjectId::hash(&canonical), *id);
        let t3 = Instant::now();
        kodiak::object::decode::<kodiak::table::Node>(&canonical).expect("decode");
        let t4 = Instant::now();
        get += t1 - t;
        unframe += t2 - t1;
        hash += t3 - t2;
        decode += t4 - t3;
    }
    let mut stored = Vec::new();
    let mut canon = Vec::new();
    for id in &ids {
        let v = backend.get_stored(id).expect("get").expect("present");
        canon.push(kodiak::store::unframe_with(&v, &mut lookup).expect("unframe"));
        stored.push((*id, v));
    }
    let framer = store.framer().expect("framer");
    let t = Instant::now();
    for c in &canon {
        framer.frame(c);
    }
    let frame = t.elapsed();
    let fresh = open_db();
    let t = Instant::now();
    for part in stored.chunks(2048) {
        fresh
            .store
            .backend()
            .put_stored_batch(part.to_vec())
            .expect("put");
    }
    fresh.store.flush().expect("flush");
    let put = t.elapsed();
    let per = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6 / nodes.max(1) as f64);
    println!(
        "write per node: frame (zstd) {}, store batch put + flush {}",
        per(frame),
        per(put)
    );
    println!(
        "cold load per node: store get {}, unframe (zstd) {}, blake3 check {}, decode {}",
        per(get),
        per(unframe),
        per(hash),
        per(decode)
    );
}

fn main() {
    let big =
        std::env::args().any(|a| a == "10m") || std::env::var_os("KODIAK_BENCH_10M").is_some();
    let n: u64 = 1_000_000;
    let mut items = Items::new();
    let db = open_db();
    let ns = NodeStore::new(db.store.clone());

    let t = Instant::now();
    let root = build(&ns, &mut items, n);
    let built = t.elapsed();
    let t = Instant::now();
    db.store.flush().expect("flush");
    let flushed = t.elapsed();
    let backend = db.store.backend();
    let (mut nodes, mut stored, mut raw) = (0u64, 0u64, 0u64);
    for id in backend.ids() {
        let id = id.expect("id");
        let v = backend.get_stored(&id).expect("get").expect("present");
        nodes += 1;
        stored += v.len() as u64;
        raw += db
            .store
            .get_canonical(&id, kodiak::object::Kind::Node)
            .expect("node")
            .len() as u64;
    }
    println!(
        "stored node bytes {:.1} MB (canonical {:.1} MB)",
        stored as f64 / 1e6,
        raw as f64 / 1e6
    );
    println!(
        "bulk build of {n} rows: {} (+ flush {}), height {}, {nodes} nodes, store dir {:.1} MB \
         (sled {:.1} MB, packs {:.1} MB)",
        ms(built),
        ms(flushed),
        height(&ns, root),
        dir_size(&db.path) as f64 / 1e6,
        dir_size(&db.path.join("db")) as f64 / 1e6,
        dir_size(&db.path.join("packs")) as f64 / 1e6,
    );
    assert_eq!(ns.count(root).expect("count"), n);
    let focus = std::env::var_os("KODIAK_BENCH_DIFF_ONLY").is_some();
    if !focus {
        load_breakdown(&db.store);
    }

    let step = n / UPDATES;
    let t = Instant::now();
    let root2 = update(
        &ns,
        &mut items,
        root,
        (0..UPDATES).map(|j| j * step + step / 2),
    );
    println!("{UPDATES} spread updates -> new root: {}", ms(t.elapsed()));
    let (rows, warm) = diff_count(&ns, root, root2);
    assert_eq!(rows as u64, UPDATES);
    let cold_ns = NodeStore::new(db.store.clone());
    let (_, cold) = diff_count(&cold_ns, root, root2);
    println!(
        "diff of spread updates ({rows} rows): warm {}, cold cache {}",
        ms(warm),
        ms(cold)
    );
    println!("peak RSS so far: {}", peak_rss());
    if focus {
        // Repeated spread diffs, for profiling and for timing on a noisy machine: wall time
        // and the process's CPU time (all threads).
        let threads: Vec<usize> = std::env::var("KODIAK_BENCH_THREADS")
            .ok()
            .map(|s| s.split(',').filter_map(|t| t.parse().ok()).collect())
            .unwrap_or_else(|| vec![0]);
        let reps: u64 = std::env::var("KODIAK_BENCH_REPS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(5);
        let mut applies = Vec::new();
        for version in 2..2 + reps {
            let edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..UPDATES)
                .map(|j| {
                    let (mut k, mut v) = (Vec::new(), Vec::new());
                    items.encode(j * step + step / 2, version, &mut k, &mut v);
                    (k, Some(v))
                })
                .collect();
            applies.push(timed(|| spread_apply(&ns, root, edits)));
        }
        let wall = applies.iter().map(|x| x.0).min().unwrap_or_default();
        let cpu = applies.iter().map(|x| x.1).sum::<Duration>() / applies.len() as u32;
        println!("spread update: wall min {}, cpu mean {}", ms(wall), ms(cpu));
        for &th in &threads {
            let (mut warm, mut cold) = (Vec::new(), Vec::new());
            for _ in 0..reps {
                warm.push(timed(|| diff_count_on(&ns, root, root2, th)));
                let cold_ns = NodeStore::new(db.store.clone());
                cold.push(timed(|| diff_count_on(&cold_ns, root, root2, th)));
            }
            let best = |v: &[(Duration, Duration)]| {
                let wall = v.iter().map(|x| x.0).min().unwrap_or_default();
                let cpu = v.iter().map(|x| x.1).sum::<Duration>() / v.len() as u32;
                format!("wall min {}, cpu mean {}", ms(wall), ms(cpu))
            };
            println!(
                "spread diff on {} threads: warm {}; cold {}",
                if th == 0 {
                    "default".to_string()
                } else {
                    th.to_string()
                },
                best(&warm),
                best(&cold)
            );
        }
        return;
    }

    // Warm point gets on random keys.
    let gets = 200_000u64;
    for i in 0..gets {
        ns.get(root, &items.key(mix(i) % n)).expect("get");
    }
    let mut times = Vec::with_capacity(gets as usize);
    for i in 0..gets {
        let k = items.key(mix(i ^ 0x55) % n);
        let t = Instant::now();
        let row = ns.get(root, &k).expect("get");
        times.push(t.elapsed());
        assert!(row.is_some());
    }
    times.sort();
    println!(
        "warm point get: p50 {:.2} µs, p99 {:.2} µs",
        times[times.len() / 2].as_secs_f64() * 1e6,
        times[times.len() * 99 / 100].as_secs_f64() * 1e6
    );

    let t = Instant::now();
    let mut scanned = 0u64;
    for r in ns.scan(root) {
        scanned += u64::from(r.expect("scan").value()[0] > 0);
    }
    println!("full scan of {scanned} rows: {}", ms(t.elapsed()));
    drop(db);

    let one = contiguous(n, "1M");
    if big {
        let ten = contiguous(10 * n, "10M");
        println!(
            "contiguous diff 10M / 1M: {:.2}x",
            ten.as_secs_f64() / one.as_secs_f64()
        );
    }
}
