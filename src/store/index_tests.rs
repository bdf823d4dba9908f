//! Index files: model-based tests, crash consistency, legacy sled indexes, merging.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use super::tests::{entry, noise, open, open_db};
use super::*;
use crate::object::Blob;
use crate::store::{INDEX_ENTRY_LEN, INDEX_FANOUT_LEN, INDEX_HEADER_LEN, Store, index_file_name};

/// What stores before index files kept inline in sled.
const LEGACY_INLINE_MAX: usize = 256;

/// Writes `items` as stores before index files did: small values inline in the sled tree
/// `objects`, the others as records appended to pack 1 and located there by a [`Location`],
/// with the pack's durable length in the sled tree `packs`.
fn write_legacy(dir: &Path, items: &[(ObjectId, Vec<u8>)]) {
    let db = open_db(dir);
    let objects = db.open_tree(OBJECTS_TREE).unwrap();
    let lengths = db.open_tree(PACKS_TREE).unwrap();
    std::fs::create_dir_all(dir.join("packs")).unwrap();
    let path = dir.join("packs").join(pack_file_name(1));
    let mut bytes = std::fs::read(&path).unwrap_or_else(|_| pack_header(1).to_vec());
    for (id, v) in items {
        if v.len() <= LEGACY_INLINE_MAX && v[0] < LOCATION_TAG {
            objects.insert(id.as_bytes(), v.as_slice()).unwrap();
            continue;
        }
        let loc = Location {
            pack: 1,
            offset: bytes.len() as u64,
            len: v.len() as u32,
        };
        bytes.extend_from_slice(&loc.len.to_le_bytes());
        bytes.extend_from_slice(v);
        objects.insert(id.as_bytes(), &loc.encode()[..]).unwrap();
    }
    std::fs::write(&path, &bytes).unwrap();
    lengths
        .insert(1u32.to_be_bytes(), &(bytes.len() as u64).to_le_bytes())
        .unwrap();
    db.flush().unwrap();
}

fn ids(store: &PackStore, prefix: &[u8]) -> Vec<ObjectId> {
    store
        .ids_with_prefix(prefix)
        .collect::<Result<_>>()
        .unwrap()
}

fn entries_in(path: &Path) -> u64 {
    let len = std::fs::metadata(path).unwrap().len();
    (len - (INDEX_HEADER_LEN + INDEX_FANOUT_LEN) as u64) / INDEX_ENTRY_LEN as u64
}

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>),
    Load(Vec<u8>),
    Remove(u8),
    Flush,
    Reopen,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(0u8..40, 1..8).prop_map(Op::Put),
        1 => prop::collection::vec(0u8..40, 1..8).prop_map(Op::Load),
        1 => (0u8..40).prop_map(Op::Remove),
        2 => Just(Op::Flush),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

/// The store as the model says it is: durable entries less unflushed removals, plus
/// unflushed puts.
struct Model {
    durable: BTreeMap<ObjectId, Vec<u8>>,
    unflushed: BTreeMap<ObjectId, Vec<u8>>,
    removed: BTreeSet<ObjectId>,
}

impl Model {
    fn visible(&self) -> BTreeMap<ObjectId, Vec<u8>> {
        let mut m: BTreeMap<_, _> = self
            .durable
            .iter()
            .filter(|(id, _)| !self.removed.contains(id))
            .map(|(id, v)| (*id, v.clone()))
            .collect();
        m.extend(self.unflushed.clone());
        m
    }

    fn flush(&mut self) {
        for id in std::mem::take(&mut self.removed) {
            self.durable.remove(&id);
        }
        self.durable.append(&mut self.unflushed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Puts, removals, flushes, reopens and crashes against a map, starting from a store
    /// whose legacy sled index lists `legacy` (possibly nothing).
    #[test]
    fn model_with_removals_and_a_legacy_index(
        legacy in prop_oneof![
            Just(BTreeSet::new()),
            prop::collection::btree_set(0u8..40, 1..10),
        ],
        ops in prop::collection::vec(op(), 1..30),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let legacy: Vec<_> = legacy.into_iter().map(entry).collect();
        if !legacy.is_empty() {
            write_legacy(tmp.path(), &legacy);
        }
        let mut model = Model {
            durable: legacy.into_iter().collect(),
            unflushed: BTreeMap::new(),
            removed: BTreeSet::new(),
        };
        let mut store = open(tmp.path());
        for op in ops {
            match op {
                Op::Put(keys) => {
                    let items: Vec<_> = keys.iter().map(|k| entry(*k)).collect();
                    let visible = model.visible();
                    for (id, v) in &items {
                        if !visible.contains_key(id) {
                            model.unflushed.insert(*id, v.clone());
                            model.removed.remove(id);
                        }
                    }
                    store.put_stored_batch(items).unwrap();
                }
                Op::Load(keys) => {
                    // A bulk load takes ids the store lacks, each once.
                    let visible = model.visible();
                    let keys: BTreeSet<u8> = keys.into_iter().collect();
                    let items: Vec<_> = keys
                        .iter()
                        .map(|k| entry(*k))
                        .filter(|(id, _)| !visible.contains_key(id))
                        .collect();
                    for (id, v) in &items {
                        model.unflushed.insert(*id, v.clone());
                        model.removed.remove(id);
                    }
                    store.load_unsynced(items).unwrap();
                }
                Op::Remove(k) => {
                    let (id, _) = entry(k);
                    model.unflushed.remove(&id);
                    if model.durable.contains_key(&id) {
                        model.removed.insert(id);
                    }
                    store.remove(&id).unwrap();
                }
                Op::Flush => {
                    store.flush().unwrap();
                    model.flush();
                }
                Op::Reopen => {
                    drop(store);
                    store = open(tmp.path());
                    model.flush();
                }
                Op::Crash => {
                    store.abandon();
                    store = open(tmp.path());
                    model.unflushed.clear();
                    model.removed.clear();
                }
            }
            let visible = model.visible();
            prop_assert_eq!(ids(&store, &[]), visible.keys().copied().collect::<Vec<_>>());
            for k in 0..40u8 {
                let (id, v) = entry(k);
                let got = store.get_stored(&id).unwrap();
                prop_assert_eq!(got.as_ref(), visible.get(&id));
                prop_assert_eq!(store.has(&id).unwrap(), visible.contains_key(&id));
                if visible.contains_key(&id) {
                    prop_assert_eq!(got, Some(v));
                }
                let first = id.as_bytes()[0];
                let want: Vec<_> = visible
                    .keys()
                    .filter(|i| i.as_bytes()[0] == first)
                    .copied()
                    .collect();
                prop_assert_eq!(ids(&store, &[first]), want);
            }
        }
    }
}

#[test]
fn legacy_repository_is_readable_and_writable() {
    let tmp = tempfile::tempdir().unwrap();
    let canonical: Vec<Vec<u8>> = (0..30u64)
        .map(|i| {
            let len = if i % 2 == 0 { 40 } else { 2000 };
            crate::object::encode(&Blob {
                data: noise(i, len),
            })
        })
        .collect();
    let items: Vec<_> = canonical
        .iter()
        .map(|c| (ObjectId::hash(c), crate::store::frame(c)))
        .collect();
    write_legacy(tmp.path(), &items);
    let legacy_len = std::fs::metadata(tmp.path().join("packs").join(pack_file_name(1)))
        .unwrap()
        .len();
    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    for (c, (id, _)) in canonical.iter().zip(&items) {
        assert_eq!(
            &store.get_canonical(id, crate::object::Kind::Blob).unwrap(),
            c
        );
    }
    // Inline legacy values have no location; packed ones do.
    assert_eq!(pack.location(&items[0].0).unwrap(), None);
    assert!(pack.location(&items[1].0).unwrap().is_some());
    // New objects are appended after the legacy pack's durable length, indexed in a file.
    let new = store.put(&Blob { data: vec![5; 10] }).unwrap();
    assert_eq!(
        pack.location(&new.id()).unwrap(),
        Some(Location {
            pack: 1,
            offset: legacy_len,
            len: crate::store::frame(&crate::object::encode(&Blob { data: vec![5; 10] })).len()
                as u32,
        })
    );
    // Storing a legacy object again appends nothing.
    store
        .put(&Blob {
            data: noise(1, 2000),
        })
        .unwrap();
    pack.remove(&items[2].0).unwrap();
    pack.flush().unwrap();
    assert_eq!(pack.index_paths().len(), 1);
    assert_eq!(entries_in(&pack.index_paths()[0]), 1);
    drop(store);
    drop(pack);

    let pack = Arc::new(open(tmp.path()));
    let store = Store::new(pack.clone());
    assert_eq!(store.get::<Blob>(&new).unwrap().data, vec![5; 10]);
    assert!(!pack.has(&items[2].0).unwrap());
    let mut want: Vec<ObjectId> = items.iter().map(|(id, _)| *id).collect();
    want.remove(2);
    want.push(new.id());
    want.sort();
    assert_eq!(ids(&pack, &[]), want);
    for (c, (id, _)) in canonical.iter().zip(&items).skip(3) {
        assert_eq!(
            &store.get_canonical(id, crate::object::Kind::Blob).unwrap(),
            c
        );
    }
    // The removal reached the sled tree itself.
    drop(store);
    drop(pack);
    let db = open_db(tmp.path());
    let objects = db.open_tree(OBJECTS_TREE).unwrap();
    assert!(!objects.contains_key(items[2].0.as_bytes()).unwrap());
    assert_eq!(objects.len(), items.len() - 1);
}

#[test]
fn ids_merge_every_source_in_order_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let all: Vec<_> = (0..60u8).map(entry).collect();
    // Legacy: 0..20; index files: 10..30 and 25..45 (overlapping); pending: 40..60.
    write_legacy(tmp.path(), &all[0..20]);
    let store = open(tmp.path());
    store.put_stored_batch(all[10..30].to_vec()).unwrap();
    store.flush().unwrap();
    // Force an overlapping second file by writing the batch directly.
    let entries: Vec<(ObjectId, Location)> = {
        let mut v: Vec<_> = all[25..45]
            .iter()
            .map(|(id, val)| {
                store.put_stored_batch(vec![(*id, val.clone())]).unwrap();
                (*id, store.location(id).unwrap().unwrap())
            })
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    };
    store.flush().unwrap();
    let durable: Vec<(u32, u64)> = read(&store.inner.durable)
        .iter()
        .map(|(p, l)| (*p, *l))
        .collect();
    index::write_index(store.dir(), 99, &entries, &durable).unwrap();
    drop(store);
    let store = open(tmp.path());
    assert!(store.index_paths().len() >= 2, "{:?}", store.index_paths());
    store.put_stored_batch(all[40..60].to_vec()).unwrap();
    let mut want: Vec<ObjectId> = all.iter().map(|(id, _)| *id).collect();
    want.sort();
    assert_eq!(ids(&store, &[]), want);
    for prefix in [
        vec![],
        vec![want[7].as_bytes()[0]],
        want[9].as_bytes()[..3].to_vec(),
    ] {
        let expect: Vec<_> = want
            .iter()
            .filter(|id| id.as_bytes().starts_with(&prefix))
            .copied()
            .collect();
        assert_eq!(ids(&store, &prefix), expect, "prefix {prefix:?}");
    }
    assert_eq!(ids(&store, want[3].as_bytes()), vec![want[3]]);
    for (id, v) in &all {
        assert_eq!(store.get_stored(id).unwrap().as_ref(), Some(v));
    }
    // The next flush folds the duplicate-holding files together.
    store.flush().unwrap();
    assert_eq!(ids(&store, &[]), want);
}

#[test]
fn geometric_merging_bounds_files_and_rewrites() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let mut written = 0u64;
    let mut last_generation = 0;
    let n = 400u64;
    for i in 0..n {
        let id = ObjectId::hash(&i.to_le_bytes());
        store.put_stored_batch(vec![(id, noise(i, 20))]).unwrap();
        store.flush().unwrap();
        let paths = store.index_paths();
        let newest = paths.last().unwrap();
        written += entries_in(newest);
        let generation = read(&store.inner.indexes).last().unwrap().generation();
        assert_eq!(generation, last_generation + 1);
        last_generation = generation;
        let stored = i + 1;
        let bound = (stored as f64).log2().floor() as usize + 2;
        assert!(
            paths.len() <= bound,
            "{} files for {stored} objects",
            paths.len()
        );
        let total: u64 = paths.iter().map(|p| entries_in(p)).sum();
        assert_eq!(total, stored);
    }
    // O(n log n) entries written in all (rewriting everything each time would be n²/2).
    let log = (n as f64).log2().ceil() as u64;
    assert!(
        written <= 2 * n * log,
        "{written} entries written for {n} objects"
    );
    // A one-object flush leaves the large oldest file alone.
    let oldest = store.index_paths()[0].clone();
    let before = std::fs::read(&oldest).unwrap();
    assert!(entries_in(&oldest) > n / 4);
    store
        .put_stored_batch(vec![(ObjectId::hash(b"one more"), noise(7, 20))])
        .unwrap();
    store.flush().unwrap();
    assert_eq!(std::fs::read(&oldest).unwrap(), before);
    drop(store);
    let store = open(tmp.path());
    assert_eq!(store.ids().count() as u64, n + 1);
}

#[test]
fn leftover_temporary_index_files_are_removed_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let (id, v) = entry(1);
    store.put_stored_batch(vec![(id, v.clone())]).unwrap();
    store.flush().unwrap();
    drop(store);
    let tmp_file = tmp
        .path()
        .join("packs")
        .join(format!("{}.tmp", index_file_name(2)));
    std::fs::write(&tmp_file, b"half an index").unwrap();
    let store = open(tmp.path());
    assert!(!tmp_file.exists());
    assert_eq!(store.get_stored(&id).unwrap(), Some(v));
    assert_eq!(store.index_paths().len(), 1);
}

#[test]
fn damaged_index_files_are_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    store
        .put_stored_batch((0..5u8).map(entry).collect())
        .unwrap();
    store.flush().unwrap();
    let path = store.index_paths()[0].clone();
    drop(store);
    let good = std::fs::read(&path).unwrap();
    let damage = |bytes: &[u8], want: &str| {
        std::fs::write(&path, bytes).unwrap();
        let err = PackStore::open(&open_db(tmp.path()), &tmp.path().join("packs"))
            .err()
            .expect("a damaged index file is an error")
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(want), "{err}");
    };
    damage(&good[..good.len() - 10], "truncated");
    damage(&good[..100], "shorter than its");
    let mut bad = good.clone();
    bad[0] = b'X';
    damage(&bad, "KODIAKIX");
    let mut bad = good.clone();
    bad[8] = 9;
    damage(&bad, "version 9");
    let mut bad = good.clone();
    // The fanout entry of byte 0xff must equal the entry count.
    let at = INDEX_HEADER_LEN + 255 * 4;
    bad[at..at + 4].copy_from_slice(&4u32.to_le_bytes());
    damage(&bad, "fanout");
    std::fs::write(&path, &good).unwrap();
    let store = open(tmp.path());
    assert_eq!(store.ids().count(), 5);
}

#[test]
fn crash_after_a_merge_before_its_inputs_are_deleted_only_duplicates_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    store
        .put_stored_batch((0..4u8).map(entry).collect())
        .unwrap();
    store.flush().unwrap();
    let first = store.index_paths()[0].clone();
    let saved = std::fs::read(&first).unwrap();
    store
        .put_stored_batch((4..8u8).map(entry).collect())
        .unwrap();
    store.flush().unwrap();
    // The merge replaced generation 1 by generation 2; put generation 1 back.
    assert_eq!(store.index_paths().len(), 1);
    assert!(!first.exists());
    drop(store);
    std::fs::write(&first, &saved).unwrap();
    let store = open(tmp.path());
    assert_eq!(store.index_paths().len(), 2);
    let want: BTreeSet<ObjectId> = (0..8u8).map(|k| entry(k).0).collect();
    assert_eq!(ids(&store, &[]), want.iter().copied().collect::<Vec<_>>());
    for k in 0..8u8 {
        let (id, v) = entry(k);
        assert_eq!(store.get_stored(&id).unwrap(), Some(v));
    }
    store.remove(&entry(0).0).unwrap();
    store.flush().unwrap();
    drop(store);
    let store = open(tmp.path());
    assert!(!store.has(&entry(0).0).unwrap());
    assert_eq!(store.ids().count(), 7);
}

#[test]
fn a_second_open_in_the_process_shares_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let a = open(tmp.path());
    let b = open(tmp.path());
    let (id, v) = entry(3);
    a.put_stored_batch(vec![(id, v.clone())]).unwrap();
    assert_eq!(b.get_stored(&id).unwrap(), Some(v.clone()));
    a.flush().unwrap();
    drop(a);
    assert_eq!(b.index_paths().len(), 1);
    assert_eq!(b.get_stored(&id).unwrap(), Some(v));
}

#[test]
fn stored_values_are_lent_without_copies_and_reads_may_nest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let items: Vec<_> = (0..6u8).map(entry).collect();
    store.put_stored_batch(items.clone()).unwrap();
    store.flush().unwrap();
    drop(store);
    let store = open(tmp.path());
    for (id, v) in &items {
        let mut seen = 0;
        // A read inside the callback (the block cache is busy then) reads directly.
        let found = store
            .with_stored(id, &mut |outer| {
                for (id2, v2) in &items {
                    assert_eq!(store.get_stored(id2).unwrap().as_ref(), Some(v2));
                }
                assert_eq!(outer, v.as_slice());
                seen += 1;
            })
            .unwrap();
        assert!(found);
        assert_eq!(seen, 1);
    }
    let absent = ObjectId::hash(b"absent");
    assert!(
        !store
            .with_stored(&absent, &mut |_| panic!("called"))
            .unwrap()
    );
}

/// Ids from `(first byte, middle byte, seed)`: clustered (few first and middle bytes, so
/// interpolation guesses badly) or spread like hashes.
fn clustered_id((a, b, seed): (u8, u8, u16)) -> ObjectId {
    let mut id = ObjectId::hash(&seed.to_le_bytes()).0;
    id[0] = a;
    if seed % 3 != 0 {
        // Equal bytes 1..9: only the tail tells these ids apart.
        id[1..9].copy_from_slice(&[b; 8]);
    }
    ObjectId(id)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Lookups and prefix ranges of an index file agree with a sorted list, however the ids
    /// are distributed.
    #[test]
    fn index_file_lookups_match_a_sorted_list(
        raw in prop::collection::btree_set((0u8..4, 0u8..3, any::<u16>()), 0..400),
        probes in prop::collection::vec((0u8..4, 0u8..3, any::<u16>()), 0..50),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let ids: BTreeSet<ObjectId> = raw.into_iter().map(clustered_id).collect();
        let entries: Vec<(ObjectId, Location)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, Location { pack: 1, offset: i as u64 * 10, len: 7 }))
            .collect();
        let path = index::write_index(tmp.path(), 3, &entries, &[(1, 1 << 20)]).unwrap();
        let file = IndexFile::open(&path, 3).unwrap();
        prop_assert_eq!(file.len(), entries.len() as u64);
        prop_assert_eq!(file.packs(), &[(1, 1 << 20)][..]);
        for (i, (id, loc)) in entries.iter().enumerate() {
            prop_assert_eq!(file.find(id), Some(i as u64));
            prop_assert_eq!(file.lookup(id), Some(*loc));
        }
        for p in probes {
            let id = clustered_id(p);
            let want = entries.iter().position(|(e, _)| *e == id).map(|i| i as u64);
            prop_assert_eq!(file.find(&id), want);
            for n in [1usize, 2, 9, 32] {
                let prefix = &id.as_bytes()[..n];
                let (lo, hi) = file.prefix_range(prefix);
                let got: Vec<ObjectId> = (lo..hi).map(|i| file.id(i)).collect();
                let want: Vec<ObjectId> = ids
                    .iter()
                    .filter(|i| i.as_bytes().starts_with(prefix))
                    .copied()
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
