use std::sync::Arc;

use super::*;
use crate::object::Blob;
use crate::store::Store;

/// `n` bytes that zstd cannot shrink, determined by `seed`.
pub(super) fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    blake3::Hasher::new()
        .update(&seed.to_le_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// Opens the store in `dir`, retrying while sled's background threads of a just-dropped
/// instance still hold the database's file lock.
pub(super) fn open(dir: &Path) -> PackStore {
    PackStore::open(&open_db(dir), &dir.join("packs")).expect("open pack store")
}

/// Opens the sled database in `dir` (as [`open`] does).
pub(super) fn open_db(dir: &Path) -> sled::Db {
    let mut tries = 0;
    loop {
        match sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(1 << 20)
            .open()
        {
            Ok(db) => return db,
            Err(e) if tries < 200 && e.to_string().contains("lock") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("open sled: {e}"),
        }
    }
}

fn big_blob(seed: u64) -> Blob {
    Blob {
        data: noise(seed, 1000 + (seed as usize % 7) * 300),
    }
}

#[test]
fn all_objects_go_to_packs_and_index_files() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    let big: Vec<_> = (0..40).map(|i| store.put(&big_blob(i)).unwrap()).collect();
    let small = store.put(&Blob { data: vec![9; 50] }).unwrap();
    for id in big.iter().map(|b| b.id()).chain([small.id()]) {
        assert!(pack.location(&id).unwrap().is_some());
    }
    assert!(pack.index_paths().is_empty());
    let mut expected: Vec<ObjectId> = big.iter().map(|b| b.id()).collect();
    expected.push(small.id());
    expected.sort();
    // Before the flush everything is pending, after it everything is indexed.
    for _ in 0..2 {
        let ids: Vec<_> = pack.ids().collect::<Result<_>>().unwrap();
        assert_eq!(ids, expected);
        let first = expected[0].as_bytes()[0];
        let with_prefix: Vec<_> = pack
            .ids_with_prefix(&[first])
            .collect::<Result<_>>()
            .unwrap();
        let want: Vec<_> = expected
            .iter()
            .filter(|id| id.as_bytes()[0] == first)
            .copied()
            .collect();
        assert_eq!(with_prefix, want);
        for (i, id) in big.iter().enumerate() {
            assert_eq!(store.get::<Blob>(id).unwrap(), big_blob(i as u64));
        }
        pack.flush().unwrap();
    }
    // One index file; nothing in sled.
    assert_eq!(pack.index_paths().len(), 1);
    assert_eq!(store.get::<Blob>(&small).unwrap().data, vec![9; 50]);
    drop(store);
    drop(pack);
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    for (i, id) in big.iter().enumerate() {
        assert_eq!(store.get::<Blob>(id).unwrap(), big_blob(i as u64));
    }
    assert_eq!(pack.ids().count(), 41);
    // Idempotent: a second put of a stored object appends nothing.
    let len = std::fs::metadata(pack.pack_path(1)).unwrap().len();
    pack.put_stored_batch(vec![(big[0].id(), vec![0; 1000])])
        .unwrap();
    assert_eq!(std::fs::metadata(pack.pack_path(1)).unwrap().len(), len);
    assert_eq!(store.get::<Blob>(&big[0]).unwrap(), big_blob(0));
    pack.remove(&big[0].id()).unwrap();
    assert!(!pack.has(&big[0].id()).unwrap());
    assert_eq!(pack.ids().count(), 40);
}

#[test]
fn the_before_first_index_hook_runs_once_and_a_failure_indexes_nothing() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let tmp = tempfile::tempdir().unwrap();
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    let calls = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&calls);
    pack.before_first_index(move || {
        // The first call fails, like a FORMAT file that cannot be written.
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(Error::Storage("no upgrade today".into()))
        } else {
            Ok(())
        }
    });
    // A flush with nothing to index does not run it.
    pack.flush().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let a = store.put(&big_blob(1)).unwrap();
    let err = pack.flush().unwrap_err();
    assert!(err.to_string().contains("no upgrade today"), "{err}");
    assert!(pack.index_paths().is_empty(), "nothing is indexed");
    assert_eq!(store.get::<Blob>(&a).unwrap(), big_blob(1));
    // The next flush runs it again, and then never more.
    pack.flush().unwrap();
    assert_eq!(pack.index_paths().len(), 1);
    store.put(&big_blob(2)).unwrap();
    pack.flush().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    drop(store);
    drop(pack);
    let store = Store::new(Arc::new(open(tmp.path())));
    assert_eq!(store.get::<Blob>(&a).unwrap(), big_blob(1));
}

#[test]
fn flipped_byte_in_a_pack_record_is_reported_with_the_id() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    let a = store.put(&big_blob(1)).unwrap();
    let b = store.put(&big_blob(2)).unwrap();
    pack.flush().unwrap();
    let path = pack.pack_path(1);
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"KODIAKPK");
    let la = pack.location(&a.id()).unwrap().unwrap();
    let lb = pack.location(&b.id()).unwrap().unwrap();
    // One byte of a's value, one byte of b's record header (its length).
    bytes[la.offset as usize + RECORD_HEADER_LEN + 100] ^= 0x10;
    bytes[lb.offset as usize + 3] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    drop(store);
    drop(pack);
    let store = Store::new(Arc::new(open(tmp.path())));
    let err = store.get::<Blob>(&a).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&a.to_hex()), "{err}");
    let err = store.get::<Blob>(&b).unwrap_err();
    assert!(err.to_string().contains(&b.to_hex()), "{err}");
    assert!(err.to_string().contains("the index says"), "{err}");
}

#[test]
fn truncated_pack_is_an_error_naming_the_id() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    let a = store.put(&big_blob(1)).unwrap();
    let b = store.put(&big_blob(2)).unwrap();
    pack.flush().unwrap();
    let lb = pack.location(&b.id()).unwrap().unwrap();
    drop(store);
    drop(pack);
    let file = OpenOptions::new()
        .write(true)
        .open(tmp.path().join("packs").join(pack_file_name(1)))
        .unwrap();
    file.set_len(lb.offset + 50).unwrap();
    drop(file);
    let store = Store::new(Arc::new(open(tmp.path())));
    assert_eq!(store.get::<Blob>(&a).unwrap(), big_blob(1));
    let err = store.get::<Blob>(&b).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&b.to_hex()), "{err}");
    assert!(err.to_string().contains("ends inside"), "{err}");
    // A missing pack file is reported the same way.
    std::fs::remove_file(tmp.path().join("packs").join(pack_file_name(1))).unwrap();
    let store = Store::new(Arc::new(open(&{
        drop(store);
        tmp.path().to_path_buf()
    })));
    let err = store.get::<Blob>(&a).unwrap_err();
    assert!(err.to_string().contains(&a.to_hex()), "{err}");
}

#[test]
fn crash_before_flush_leaves_objects_absent_and_re_storable() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    let kept = store.put(&big_blob(1)).unwrap();
    let small_kept = store.put(&Blob { data: vec![1; 20] }).unwrap();
    pack.flush().unwrap();
    let durable = std::fs::metadata(pack.pack_path(1)).unwrap().len();
    let lost: Vec<_> = (2..6).map(|i| store.put(&big_blob(i)).unwrap()).collect();
    let small_lost = store.put(&Blob { data: vec![2; 20] }).unwrap();
    drop(store);
    let pack = Arc::into_inner(pack).unwrap();
    pack.abandon();
    // The unflushed records reached the file; tear the last one.
    let path = tmp.path().join("packs").join(pack_file_name(1));
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > durable);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 100)
        .unwrap();

    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    assert_eq!(store.get::<Blob>(&kept).unwrap(), big_blob(1));
    assert!(store.has(&small_kept.id()).unwrap());
    for id in lost.iter().map(|b| b.id()).chain([small_lost.id()]) {
        assert!(!pack.has(&id).unwrap());
        assert_eq!(pack.get_stored(&id).unwrap(), None);
    }
    assert_eq!(pack.ids().count(), 2);
    // Re-putting stores them again; appending resumed at the durable length.
    for (i, id) in lost.iter().enumerate() {
        assert_eq!(store.put(&big_blob(i as u64 + 2)).unwrap(), *id);
    }
    assert_eq!(
        pack.location(&lost[0].id()).unwrap().unwrap().offset,
        durable
    );
    store.put(&Blob { data: vec![2; 20] }).unwrap();
    drop(store);
    drop(pack);
    let store = Store::new(Arc::new(open(tmp.path())));
    for (i, id) in lost.iter().enumerate() {
        assert_eq!(store.get::<Blob>(id).unwrap(), big_blob(i as u64 + 2));
    }
    assert!(store.has(&small_lost.id()).unwrap());
}

#[test]
fn unknown_newest_pack_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    let a = store.put(&big_blob(1)).unwrap();
    drop(store);
    drop(pack);
    let foreign = tmp.path().join("packs").join(pack_file_name(7));
    std::fs::write(&foreign, b"not a pack file at all").unwrap();
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    let b = store.put(&big_blob(2)).unwrap();
    assert_eq!(pack.location(&b.id()).unwrap().unwrap().pack, 8);
    assert_eq!(std::fs::read(&foreign).unwrap(), b"not a pack file at all");
    assert_eq!(store.get::<Blob>(&a).unwrap(), big_blob(1));
    assert_eq!(store.get::<Blob>(&b).unwrap(), big_blob(2));
}

#[test]
fn packs_rotate_and_all_stay_readable_across_reopen_and_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    store.set_max_pack_bytes(8 << 10);
    let items: Vec<_> = (0..30u64)
        .map(|i| (ObjectId::hash(&i.to_le_bytes()), noise(i, 1500)))
        .collect();
    for chunk in items[..20].chunks(3) {
        store.put_stored_batch(chunk.to_vec()).unwrap();
    }
    store.flush().unwrap();
    store.put_stored_batch(items[20..].to_vec()).unwrap();
    let packs = |dir: &Path| std::fs::read_dir(dir.join("packs")).unwrap().count();
    // 3 records of ~1.5 KB per batch, at most one batch past 8 KB per pack.
    assert!(packs(tmp.path()) >= 4, "{}", packs(tmp.path()));
    for (id, v) in &items {
        assert_eq!(store.get_stored(id).unwrap().as_ref(), Some(v));
    }
    store.abandon();
    let store = open(tmp.path());
    store.set_max_pack_bytes(8 << 10);
    for (i, (id, v)) in items.iter().enumerate() {
        let want = (i < 20).then_some(v);
        assert_eq!(store.get_stored(id).unwrap().as_ref(), want);
    }
    store.put_stored_batch(items[20..].to_vec()).unwrap();
    drop(store);
    let store = open(tmp.path());
    for (id, v) in &items {
        assert_eq!(store.get_stored(id).unwrap().as_ref(), Some(v));
    }
}

#[test]
fn reads_run_while_another_thread_writes_and_flushes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(open(tmp.path()));
    let items: Vec<_> = (0..400u64)
        .map(|i| {
            let len = if i % 4 == 0 { 100 } else { 900 + i as usize };
            (ObjectId::hash(&i.to_le_bytes()), noise(i, len))
        })
        .collect();
    let items = Arc::new(items);
    let writer = {
        let (store, items) = (Arc::clone(&store), Arc::clone(&items));
        std::thread::spawn(move || {
            for (n, chunk) in items.chunks(20).enumerate() {
                store.put_stored_batch(chunk.to_vec()).unwrap();
                if n % 5 == 4 {
                    store.flush().unwrap();
                }
            }
        })
    };
    // Whatever a reader finds must be whole; once found, an object stays found.
    let mut found = vec![false; items.len()];
    while found.iter().any(|f| !f) {
        for (i, (id, v)) in items.iter().enumerate() {
            match store.get_stored(id).unwrap() {
                Some(got) => {
                    assert_eq!(&got, v);
                    found[i] = true;
                }
                None => assert!(!found[i], "object {i} disappeared"),
            }
        }
    }
    writer.join().unwrap();
    assert_eq!(store.ids().count(), items.len());
}

#[test]
fn location_round_trips() {
    let loc = Location {
        pack: 3,
        offset: 1 << 33,
        len: 4096,
    };
    let v = loc.encode();
    assert_eq!(v[0], LOCATION_TAG);
    assert_eq!(Location::decode(&v), Some(loc));
    assert_eq!(Location::decode(&v[..16]), None);
    assert_eq!(parse_pack_file_name("pack-000012.kpk"), Some(12));
    assert_eq!(parse_pack_file_name("pack-12.kpk"), None);
    assert_eq!(parse_pack_file_name("pack-00001x.kpk"), None);
}

/// Key `k`'s id and value: a third are small (what older stores kept inline), the rest
/// larger.
pub(super) fn entry(k: u8) -> (ObjectId, Vec<u8>) {
    let id = ObjectId::hash(&[k]);
    let len = match k % 3 {
        0 => 1 + (k as usize * 7) % 250,
        _ => 300 + (k as usize * 97) % 3000,
    };
    (id, noise(u64::from(k), len))
}

/// Reads every id in a shuffled order (seeded) and checks each value.
fn check_all(store: &Store, ids: &[(crate::id::BlobId, u64)], seed: u64) {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    let mut x = seed | 1;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    for i in order {
        let (id, seed) = ids[i];
        assert_eq!(
            store.get::<Blob>(&id).unwrap(),
            big_blob(seed),
            "blob {seed}"
        );
    }
}

#[test]
fn block_cached_reads_span_blocks_and_see_later_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    {
        let pack = Arc::new(open(tmp.path()));
        let store = Store::new(pack.clone());
        // ~1.9 KB each: about 35 records per 64 KiB block, some crossing block edges.
        ids.extend((0..400).map(|i| (store.put(&big_blob(i)).unwrap(), i)));
        pack.flush().unwrap();
        assert!(std::fs::metadata(pack.pack_path(1)).unwrap().len() > 10 * BLOCK_LEN);
        let crossing = ids.iter().any(|(id, _)| {
            let l = pack.location(&id.id()).unwrap().unwrap();
            l.offset / BLOCK_LEN != (l.offset + 4 + u64::from(l.len) - 1) / BLOCK_LEN
        });
        assert!(crossing, "some record crosses a block edge");
    }
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    // More blocks than a thread keeps: reads evict and re-read blocks.
    check_all(&store, &ids, 1);
    check_all(&store, &ids, 2);
    // Records appended now lie past the sealed length: read directly, never from a block
    // that was cached before they existed.
    ids.extend((400..460).map(|i| (store.put(&big_blob(i)).unwrap(), i)));
    check_all(&store, &ids, 3);
    pack.flush().unwrap();
    check_all(&store, &ids, 4);
    // Other threads have their own blocks.
    std::thread::scope(|s| {
        for t in 0..2 {
            let (store, ids) = (&store, &ids);
            s.spawn(move || check_all(store, ids, 10 + t));
        }
    });
    drop(store);
    drop(pack);
    check_all(&Store::new(Arc::new(open(tmp.path()))), &ids, 5);
}

#[test]
fn stores_in_one_thread_do_not_share_cached_blocks() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The same record layout (same lengths at the same offsets), different bytes.
    let put = |dir: &Path, salt: u64| {
        let pack = Arc::new(open(dir));
        let store = Store::new(pack.clone());
        let ids: Vec<_> = (0..20)
            .map(|i| {
                let seed = i * 7 + salt;
                let blob = Blob {
                    data: noise(seed, 1500),
                };
                (store.put(&blob).unwrap(), seed)
            })
            .collect();
        pack.flush().unwrap();
        drop(store);
        drop(pack);
        (Store::new(Arc::new(open(dir))), ids)
    };
    let (sa, ia) = put(a.path(), 0);
    let (sb, ib) = put(b.path(), 1_000);
    for ((ida, seeda), (idb, seedb)) in ia.iter().zip(&ib) {
        assert_eq!(sa.get::<Blob>(ida).unwrap().data, noise(*seeda, 1500));
        assert_eq!(sb.get::<Blob>(idb).unwrap().data, noise(*seedb, 1500));
    }
}

/// Stored values (framed) of big blobs `seeds` and of small blobs `small`, with their ids.
fn framed(seeds: std::ops::Range<u64>, small: &[u8]) -> Vec<(ObjectId, Vec<u8>)> {
    let mut canonical: Vec<Vec<u8>> = seeds.map(|s| crate::object::encode(&big_blob(s))).collect();
    canonical.extend(
        small
            .iter()
            .map(|b| crate::object::encode(&Blob { data: vec![*b; 30] })),
    );
    canonical
        .iter()
        .map(|c| (ObjectId::hash(c), crate::store::frame(c)))
        .collect()
}

#[test]
fn bulk_load_is_indexed_at_once_and_durable_after_a_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = Arc::new(open(tmp.path()));
    let first = framed(0..30, &[1, 2, 3]);
    pack.load_unsynced(first.clone()).unwrap();
    // Readable right away, every value in a pack, no index file before the flush.
    for (id, stored) in &first {
        assert!(pack.location(id).unwrap().is_some());
        assert_eq!(pack.get_stored(id).unwrap().as_ref(), Some(stored));
    }
    assert!(pack.index_paths().is_empty());
    let small_only = framed(0..0, &[7, 8]);
    pack.load_unsynced(small_only.clone()).unwrap();
    pack.flush().unwrap();
    // The whole load is one index file.
    assert_eq!(pack.index_paths().len(), 1);
    let durable = std::fs::metadata(pack.pack_path(1)).unwrap().len();
    Arc::into_inner(pack).unwrap().abandon();

    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    for (id, _) in first.iter().chain(&small_only) {
        assert!(
            store.get_canonical(id, crate::object::Kind::Blob).is_ok(),
            "{id}"
        );
    }
    assert_eq!(pack.ids().count(), first.len() + small_only.len());
    // Ordinary writes append after the loaded records.
    let later = store.put(&big_blob(99)).unwrap();
    assert_eq!(pack.location(&later.id()).unwrap().unwrap().offset, durable);
    drop(store);
    drop(pack);
    let store = Store::new(Arc::new(open(tmp.path())));
    assert_eq!(store.get::<Blob>(&later).unwrap(), big_blob(99));
}
