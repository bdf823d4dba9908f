//! Dictionary frames: codec round trips, the registry, training, collisions and errors.

use std::sync::Arc;

use super::*;
use crate::table::NodeStore;

/// Canonical bytes of the leaves of a bench-like table (`rows` rows of ~35 bytes).
fn leaves(rows: u32) -> Vec<Vec<u8>> {
    let store = Store::memory();
    let ns = NodeStore::new(store.clone());
    let root = ns
        .build((0..rows).map(|i| {
            let key = (u64::from(i) ^ (1 << 63)).to_be_bytes();
            let val = format!(
                "\x01\x07name {i}\x02{}\x03{}",
                i * 7 % 1000,
                f64::from(i) * 0.37
            );
            (key, val.into_bytes())
        }))
        .unwrap();
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        let node = ns.load(id).unwrap();
        if node.is_leaf() {
            out.push(store.get_canonical(&id.id(), Kind::Node).unwrap());
        } else {
            stack.extend((0..node.len()).map(|i| node.child(i)));
        }
    }
    out
}

/// The leaves' samples as training input.
fn samples(l: &[Vec<u8>]) -> Vec<&[u8]> {
    l.iter()
        .take(TRAIN_MAX_LEAVES)
        .map(|v| v.as_slice())
        .collect()
}

fn trained(l: &[Vec<u8>]) -> Arc<Dictionary> {
    let d = frame::train(&samples(l), DICT_SIZE).expect("training");
    Arc::new(Dictionary::from_canonical(Dictionary::canonical_of(-1, &d)).expect("dictionary"))
}

#[test]
fn every_codec_round_trips() {
    let l = leaves(20_000);
    let dict = trained(&l);
    let one = |_: DictTag| Ok(vec![Arc::clone(&dict)]);
    let mut inputs: Vec<Vec<u8>> = l.iter().take(20).cloned().collect();
    inputs.push(b"\x02\x01short".to_vec());
    inputs.push(
        (0..4000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    );
    inputs.push(vec![9u8; 100_000]);
    let mut codecs = std::collections::BTreeSet::new();
    for c in &inputs {
        for f in [frame(c), frame_with(c, Some(&dict))] {
            codecs.insert(f[0]);
            assert_eq!(unframe_with(&f, &mut one.clone()).unwrap(), *c);
            if f[0] != CODEC_ZSTD_DICT {
                assert_eq!(unframe(&f).unwrap(), *c);
            } else {
                assert_eq!(frame_dict_tag(&f), Some(dict.tag()));
                assert!(unframe(&f).unwrap_err().contains(&tag_hex(&dict.tag())));
            }
        }
    }
    assert_eq!(
        codecs.into_iter().collect::<Vec<_>>(),
        vec![CODEC_RAW, CODEC_ZSTD, CODEC_ZSTD_DICT]
    );
}

#[test]
fn training_is_deterministic() {
    let l = leaves(20_000);
    let s = samples(&l);
    assert_eq!(frame::train(&s, DICT_SIZE), frame::train(&s, DICT_SIZE));
    // Too little to learn from: no dictionary.
    assert_eq!(frame::train(&[b"ab".as_slice(); 3], DICT_SIZE), None);
}

#[test]
fn bulk_builds_train_and_use_a_dictionary() {
    let store = Store::memory();
    assert!(store.active_dictionary().unwrap().is_none());
    // A small build trains nothing.
    NodeStore::new(store.clone())
        .build((0..100u32).map(|i| (i.to_be_bytes(), [1u8; 30])))
        .unwrap();
    assert!(store.active_dictionary().unwrap().is_none());
    let ns = NodeStore::new(store.clone());
    let rows = |n: u32| {
        (0..n).map(|i| {
            let key = u64::from(i).to_be_bytes();
            (
                key,
                format!("\x01\x07name {i}\x02{}", i * 7 % 1000).into_bytes(),
            )
        })
    };
    let root = ns.build(rows(30_000)).unwrap();
    let dict = store.active_dictionary().unwrap().expect("trained");
    assert_eq!(store.kind_of(&dict.id()).unwrap(), Some(Kind::Dict));
    // Its own stored value needs no dictionary.
    let own = store.backend().get_stored(&dict.id()).unwrap().unwrap();
    assert_ne!(own[0], CODEC_ZSTD_DICT);
    // Leaves are stored with it, and read back verified from a cold node store.
    let cold = NodeStore::new(store.clone());
    let mut leaves_seen = 0;
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        let stored = store.backend().get_stored(&id.id()).unwrap().unwrap();
        let node = cold.load(id).unwrap();
        if node.is_leaf() {
            assert_eq!(frame_dict_tag(&stored), Some(dict.tag()));
            leaves_seen += 1;
        } else {
            stack.extend((0..node.len()).map(|i| node.child(i)));
        }
    }
    assert!(leaves_seen > TRAIN_MIN_LEAVES);
    assert_eq!(cold.count(root).unwrap(), 30_000);
    // Same rows, same ids, whatever the framing: a store without the dictionary agrees.
    let plain = Store::memory();
    let other = NodeStore::new(plain.clone()).build(rows(30_000)).unwrap();
    assert_eq!(other, root);
    // A second build keeps the active dictionary.
    ns.build(rows(40_000)).unwrap();
    assert_eq!(store.active_dictionary().unwrap().unwrap().id(), dict.id());
}

#[test]
fn a_missing_dictionary_is_an_error_naming_object_and_tag() {
    let l = leaves(20_000);
    let dict = trained(&l);
    let canonical = &l[3];
    let id = ObjectId::hash(canonical);
    let store = Store::memory();
    store
        .backend()
        .put_stored_batch(vec![(id, frame_with(canonical, Some(&dict)))])
        .unwrap();
    let err = store
        .get_canonical(&id, Kind::Node)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&id.to_hex()), "{err}");
    assert!(err.contains(&tag_hex(&dict.tag())), "{err}");
    assert!(err.contains("missing"), "{err}");
    // Once the dictionary is stored (a fetch), the same store reads it.
    store.put_dictionary(&dict).unwrap();
    assert_eq!(store.get_canonical(&id, Kind::Node).unwrap(), *canonical);
    // Stored by another writer than this store (the registry learns it on the retry).
    let other = Store::new(Arc::new(MemoryStore::new()));
    other
        .backend()
        .put_stored_batch(vec![(id, frame_with(canonical, Some(&dict)))])
        .unwrap();
    assert!(other.get_canonical(&id, Kind::Node).is_err());
    other
        .backend()
        .put_stored_batch(vec![(dict.id(), frame(dict.canonical()))])
        .unwrap();
    assert_eq!(other.get_canonical(&id, Kind::Node).unwrap(), *canonical);
}

#[test]
fn a_wrong_dictionary_never_gives_data() {
    let l = leaves(20_000);
    let right = trained(&l);
    let wrong = trained(&l[100..]);
    assert_ne!(right.id(), wrong.id());
    let canonical = &l[5];
    let id = ObjectId::hash(canonical);
    let mut f = frame_with(canonical, Some(&right));
    // The frame names the wrong dictionary's tag: decompression fails or the hash does.
    f[5..9].copy_from_slice(&wrong.tag());
    let store = Store::memory();
    store.put_dictionary(&wrong).unwrap();
    store.backend().put_stored_batch(vec![(id, f)]).unwrap();
    let err = store.get_canonical(&id, Kind::Node).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}

#[test]
fn tag_collisions_are_resolved_by_the_hash() {
    let l = leaves(20_000);
    let a = trained(&l);
    let b = trained(&l[100..]);
    let store = Store::memory();
    store.put_dictionary(&a).unwrap();
    store.put_dictionary(&b).unwrap();
    // `b` filed under `a`'s tag too: a frame tagged `a` has two candidates.
    store.register_dictionary_as(a.tag(), &b);
    for (i, dict) in [&b, &a].into_iter().enumerate() {
        let canonical = &l[10 + i];
        let id = ObjectId::hash(canonical);
        let mut f = frame_with(canonical, Some(dict));
        f[5..9].copy_from_slice(&a.tag());
        store
            .backend()
            .put_stored_batch(vec![(id, f.clone())])
            .unwrap();
        assert_eq!(store.get_canonical(&id, Kind::Node).unwrap(), *canonical);
        assert_eq!(
            store.dictionary_of(&id, &f).unwrap().unwrap().id(),
            dict.id()
        );
    }
}

#[test]
fn new_dictionaries_avoid_a_taken_tag() {
    let l = leaves(20_000);
    let s = samples(&l);
    let first = Store::memory().train_dictionary(&s).unwrap().unwrap();
    // Another dictionary already holds that tag: training the same samples picks another id.
    let store = Store::memory();
    let other = trained(&l[100..]);
    store.put_dictionary(&other).unwrap();
    store.register_dictionary_as(first.tag(), &other);
    let second = store.train_dictionary(&s).unwrap().unwrap();
    assert_ne!(second.tag(), first.tag());
    assert_eq!(second.canonical().len(), first.canonical().len());
    assert_eq!(
        store.active_dictionary().unwrap().unwrap().id(),
        second.id()
    );
}

#[test]
fn the_active_dictionary_is_recorded_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join(DICTIONARY_RECORD_FILE);
    let backend: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let store = Store::with_dictionary_record(Arc::clone(&backend), record.clone());
    assert!(store.active_dictionary().unwrap().is_none());
    let l = leaves(20_000);
    let dict = store.train_dictionary(&samples(&l)).unwrap().unwrap();
    let text = std::fs::read_to_string(&record).unwrap();
    assert_eq!(text, format!("zstd-dictionary {}\n", dict.id().to_hex()));
    // A new handle on the same objects reads the record.
    let again = Store::with_dictionary_record(Arc::clone(&backend), record.clone());
    assert_eq!(again.active_dictionary().unwrap().unwrap().id(), dict.id());
    // A malformed record, or one naming a missing dictionary, is an error naming the file.
    std::fs::write(&record, "zstd-dictionary 12\n").unwrap();
    let err = Store::with_dictionary_record(Arc::clone(&backend), record.clone())
        .active_dictionary()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("malformed") && err.contains(DICTIONARY_RECORD_FILE),
        "{err}"
    );
    std::fs::write(
        &record,
        format!("zstd-dictionary {}\n", ObjectId::hash(b"x").to_hex()),
    )
    .unwrap();
    let err = Store::with_dictionary_record(Arc::new(MemoryStore::new()), record)
        .framer()
        .unwrap_err()
        .to_string();
    assert!(err.contains("not stored"), "{err}");
}

#[test]
fn malformed_dictionaries_are_rejected() {
    assert!(Dictionary::from_canonical(vec![8, 1]).is_err());
    assert!(Dictionary::from_canonical(Dictionary::canonical_of(-1, &[0u8; 64])).is_err());
    let mut bad = ZSTD_DICT_MAGIC_FOR_TESTS.to_vec();
    bad.extend_from_slice(&[0xff; 60]);
    assert!(Dictionary::from_canonical(Dictionary::canonical_of(-1, &bad)).is_err());
}

const ZSTD_DICT_MAGIC_FOR_TESTS: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Arbitrary bytes, also behind a dictionary frame's header, never make unframing panic.
    #[test]
    fn unframing_garbage_never_panics(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        len in 0u32..5000,
        codec in 0u8..4,
    ) {
        let dict = fixed_dict();
        let _ = unframe(&bytes);
        let _ = unframe_with(&bytes, &mut |_| Ok(vec![Arc::clone(dict)]));
        let mut framed = vec![codec];
        framed.extend_from_slice(&len.to_le_bytes());
        framed.extend_from_slice(&dict.tag());
        framed.extend_from_slice(&bytes);
        let _ = unframe(&framed);
        let _ = unframe_candidates(&framed, &mut |_| Ok(vec![Arc::clone(dict), Arc::clone(dict)]));
        // A real frame, cut or with a byte changed, fails cleanly too.
        let real = frame_with(&LEAF.with(|l| l.clone()), Some(dict));
        let cut = &real[..(len as usize).min(real.len())];
        let _ = unframe_with(cut, &mut |_| Ok(vec![Arc::clone(dict)]));
        let mut flipped = real.clone();
        let at = (len as usize) % flipped.len();
        flipped[at] ^= bytes.first().copied().unwrap_or(1) | 1;
        let _ = unframe_with(&flipped, &mut |_| Ok(vec![Arc::clone(dict)]));
        let _ = Dictionary::from_canonical(Dictionary::canonical_of(-1, &bytes));
    }
}

thread_local! {
    static LEAF: Vec<u8> = leaves(3_000).swap_remove(1);
}

/// One dictionary for the whole proptest run.
fn fixed_dict() -> &'static Arc<Dictionary> {
    static DICT: std::sync::OnceLock<Arc<Dictionary>> = std::sync::OnceLock::new();
    DICT.get_or_init(|| trained(&leaves(20_000)))
}

/// Leaves of `rows` rows whose values `value(i)` gives, in a store that trained on them.
fn trained_store(rows: u32, value: impl Fn(u32) -> Vec<u8>) -> Arc<Dictionary> {
    let store = Store::memory();
    NodeStore::new(store.clone())
        .build((0..rows).map(|i| (u64::from(i).to_be_bytes(), value(i))))
        .unwrap();
    store.active_dictionary().unwrap().expect("trained")
}

#[test]
fn the_level_follows_the_data() {
    // Varied text: literals must stay compressed (level 1).
    let text = trained_store(60_000, |i| {
        let mut s = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (0..10)
            .map(|_| {
                s = s.rotate_left(5) ^ (s >> 3);
                b'a' + (s % 26) as u8
            })
            .collect()
    });
    assert_eq!(text.level(), frame::DICT_SMALL_LEVEL);
    // Hashes behind a common prefix: literals do not compress anyway, so level −1 costs
    // nothing.
    let numbers = trained_store(60_000, |i| {
        let mut v = b"\x01\x05price\x02".to_vec();
        v.extend_from_slice(&blake3::hash(&i.to_le_bytes()).as_bytes()[..12]);
        v
    });
    assert_eq!(numbers.level(), frame::DICT_FAST_LEVEL);
    // A level outside zstd's range is malformed.
    let mut canonical = numbers.canonical().to_vec();
    canonical[2] = 100;
    assert!(
        Dictionary::from_canonical(canonical)
            .unwrap_err()
            .contains("level")
    );
}
