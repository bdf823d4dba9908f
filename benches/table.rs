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
    for id in &ids {
        let t = Instant::now();
        let stored = backend.get_stored(id).expect("get").expect("present");
        let t1 = Instant::now();
        let canonical = kodiak::store::unframe(&stored).expect("unframe");
        let t2 = Instant::now();
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
        canon.push(kodiak::store::unframe(&v).expect("unframe"));
        stored.push((*id, v));
    }
    let t = Instant::now();
    for c in &canon {
        kodiak::store::frame(c);
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
    let per = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6 / ids.len() as f64);
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
    load_breakdown(&db.store);

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
