use std::sync::Arc;

use super::*;
use crate::id::{BlobId, TypedId};
use crate::object::{Blob, Root};

fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::Config::new()
        .path(dir.path().join("db"))
        .cache_capacity(8 << 20)
        .open()
        .expect("open sled");
    let sled = Store::new(Arc::new(SledStore::new(&db).expect("tree")));
    let pack_dir = tempfile::tempdir().expect("tempdir");
    let pack_db = sled::Config::new()
        .path(pack_dir.path().join("db"))
        .cache_capacity(8 << 20)
        .open()
        .expect("open sled");
    let pack = PackStore::open(&pack_db, &pack_dir.path().join("packs")).expect("pack store");
    vec![
        (Store::memory(), None),
        (sled, Some(dir)),
        (Store::new(Arc::new(pack)), Some(pack_dir)),
    ]
}

#[test]
fn put_get_round_trip_and_idempotent() {
    for (store, _dir) in stores() {
        let blob = Blob {
            data: b"hello world".repeat(100),
        };
        let id = store.put(&blob).unwrap();
        assert_eq!(id, store.put(&blob).unwrap());
        assert_eq!(store.get::<Blob>(&id).unwrap(), blob);
        assert!(store.has(&id.id()).unwrap());
        assert_eq!(store.kind_of(&id.id()).unwrap(), Some(Kind::Blob));
        let ids: Vec<_> = store.backend().ids().collect::<Result<_>>().unwrap();
        assert_eq!(ids, vec![id.id()]);
    }
}

#[test]
fn missing_and_wrong_kind_are_errors() {
    for (store, _dir) in stores() {
        let missing = BlobId::new(ObjectId::hash(b"nothing"));
        assert!(matches!(
            store.get::<Blob>(&missing),
            Err(Error::Missing { .. })
        ));
        let id = store
            .put(&Blob {
                data: vec![1, 2, 3],
            })
            .unwrap();
        let as_root = crate::id::RootId::from_object_id(id.id());
        let err = store.get::<Root>(&as_root).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a root object, found a blob"),
            "{err}"
        );
    }
}

#[test]
fn corruption_is_detected_and_names_the_id() {
    let mem = Arc::new(MemoryStore::new());
    let store = Store::new(mem.clone());
    let blob = Blob {
        data: b"some data that compresses well ".repeat(20),
    };
    let id = store.put(&blob).unwrap();
    let mut stored = mem.get_stored(&id.id()).unwrap().unwrap();
    let last = stored.len() - 1;
    stored[last] ^= 1;
    mem.overwrite_stored(id.id(), stored);
    let err = store.get::<Blob>(&id).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }));
    assert!(err.to_string().contains(&id.to_hex()), "{err}");

    // A raw (uncompressed) value with one flipped byte fails the hash check.
    let small = store.put(&Blob { data: vec![5; 10] }).unwrap();
    let mut stored = mem.get_stored(&small.id()).unwrap().unwrap();
    stored[4] ^= 0x40;
    mem.overwrite_stored(small.id(), stored);
    let err = store.get::<Blob>(&small).unwrap_err();
    assert!(err.to_string().contains("hashes to"), "{err}");
}

#[test]
fn prefixes_resolve_or_report_ambiguity() {
    let store = Store::memory();
    let mut ids = Vec::new();
    for i in 0..2000u32 {
        ids.push(
            store
                .put(&Blob {
                    data: i.to_le_bytes().to_vec(),
                })
                .unwrap()
                .id(),
        );
    }
    let full = ids[0].to_hex();
    assert_eq!(store.resolve_prefix(&full[..12]).unwrap(), ids[0]);
    assert_eq!(store.resolve_prefix(&full.to_uppercase()).unwrap(), ids[0]);
    // With 2000 ids, some 2-byte prefix is shared by at least two of them.
    let mut sorted = ids.clone();
    sorted.sort();
    let pair = sorted
        .windows(2)
        .find(|w| w[0].0[..2] == w[1].0[..2])
        .expect("a shared 4-digit prefix among 2000 ids");
    let prefix = &pair[0].to_hex()[..4];
    match store.resolve_prefix(prefix) {
        Err(Error::AmbiguousPrefix { candidates, .. }) => {
            assert!(candidates.contains(&pair[0]) && candidates.contains(&pair[1]))
        }
        other => panic!("expected ambiguity, got {other:?}"),
    }
    assert!(matches!(
        store.resolve_prefix("abc"),
        Err(Error::Invalid(_))
    ));
    let absent = (0..=0xffffu32)
        .map(|n| format!("{n:04x}"))
        .find(|p| !ids.iter().any(|id| id.to_hex().starts_with(p.as_str())))
        .unwrap();
    assert!(matches!(
        store.resolve_prefix(&absent),
        Err(Error::UnknownPrefix(_))
    ));
}

#[test]
fn batch_put_skips_existing() {
    for (store, _dir) in stores() {
        // Half compress well, half are incompressible.
        let objs: Vec<Vec<u8>> = (0..50u8)
            .map(|i| {
                let data = if i % 2 == 0 {
                    vec![i; 200]
                } else {
                    let mut d = vec![0u8; 600];
                    blake3::Hasher::new()
                        .update(&[i])
                        .finalize_xof()
                        .fill(&mut d);
                    d
                };
                crate::object::encode(&Blob { data })
            })
            .collect();
        let ids = store.put_canonical_batch(&objs).unwrap();
        let again = store.put_canonical_batch(&objs).unwrap();
        assert_eq!(ids, again);
        for (id, bytes) in ids.iter().zip(&objs) {
            assert_eq!(&store.get_canonical(id, Kind::Blob).unwrap(), bytes);
        }
        assert_eq!(store.backend().ids().count(), 50);
    }
}
