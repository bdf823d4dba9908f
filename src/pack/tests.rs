//! Bundle format tests: round trips, and every kind of bad file rejected with a clear error.

use std::io::Cursor;

use proptest::prelude::*;

use super::format::*;
use crate::id::{CommitId, ObjectId};
use crate::object::{self, Blob, Kind};

fn header(prereqs: Vec<CommitId>) -> BundleHeader {
    BundleHeader {
        refs: vec![BundleRef {
            name: "refs/heads/main".into(),
            id: ObjectId::hash(b"x"),
        }],
        head: Some("refs/heads/main".into()),
        prerequisites: prereqs,
        creator: Creator {
            tool: "test".into(),
            who: "T <t@x>".into(),
            time: 1,
        },
    }
}

fn blobs(sizes: &[usize]) -> Vec<(ObjectId, Vec<u8>)> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let data: Vec<u8> = (0..*n).map(|j| (i * 7 + j % 251) as u8).collect();
            let (id, bytes) = object::encode_with_id(&Blob { data });
            (id.id(), bytes)
        })
        .collect()
}

fn write(objects: &[(ObjectId, Vec<u8>)]) -> Vec<u8> {
    let mut w = BundleWriter::new(Vec::new(), &header(Vec::new())).unwrap();
    for (id, b) in objects {
        w.add(*id, b).unwrap();
    }
    w.finish().unwrap().0
}

fn read(bytes: &[u8]) -> Result<Vec<(ObjectId, Kind, Vec<u8>)>, BundleError> {
    let mut out = Vec::new();
    read_bundle(Cursor::new(bytes), &mut no_bases, |o| {
        out.push((o.id, o.kind, o.canonical.to_vec()));
        Ok(())
    })?;
    Ok(out)
}

/// Recomputes the trailing checksum, so a test reaches the check behind it.
fn reseal(bytes: &mut Vec<u8>) {
    let n = bytes.len() - 32;
    bytes.truncate(n);
    let sum = *blake3::hash(bytes).as_bytes();
    bytes.extend_from_slice(&sum);
}

/// Offset of the first chunk (after magic, version, header length and header).
fn first_chunk(bytes: &[u8]) -> usize {
    16 + u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize
}

fn err(bytes: &[u8]) -> String {
    read(bytes).expect_err("the bundle must be rejected").0
}

#[test]
fn round_trip_keeps_objects_in_order_across_chunks() {
    let objs = blobs(&[10, 3_000_000, 2_000_000, 5, 100]);
    let bytes = write(&objs);
    let got = read(&bytes).unwrap();
    assert_eq!(got.len(), objs.len());
    for ((id, b), (gid, kind, gb)) in objs.iter().zip(&got) {
        assert_eq!(id, gid);
        assert_eq!(*kind, Kind::Blob);
        assert_eq!(b, gb);
    }
    let h = read_header(Cursor::new(&bytes)).unwrap();
    assert_eq!(h, header(Vec::new()));
}

#[test]
fn truncation_anywhere_is_rejected() {
    let bytes = write(&blobs(&[100, 200, 5000]));
    for cut in [
        0,
        4,
        11,
        15,
        20,
        first_chunk(&bytes) + 3,
        bytes.len() / 2,
        bytes.len() - 40,
        bytes.len() - 1,
    ] {
        let e = err(&bytes[..cut]);
        assert!(
            e.contains("truncated") || e.contains("not a kodiak bundle"),
            "cut at {cut}: {e}"
        );
    }
}

#[test]
fn flipped_bytes_fail_the_checksum_or_a_structural_check() {
    let bytes = write(&blobs(&[100, 200, 5000]));
    for at in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[at] ^= 0x40;
        assert!(read(&b).is_err(), "flip at {at} was accepted");
    }
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 1] ^= 1;
    assert!(err(&b).contains("checksum does not match"));
}

#[test]
fn altered_object_with_resealed_checksum_fails_the_index() {
    // Change a stored (raw) record's payload: its hash changes, so the index (naming the
    // original id) no longer matches.
    let objs = blobs(&[50]);
    let mut b = write(&objs);
    let c = first_chunk(&b);
    let len = u32::from_le_bytes(b[c + 1..c + 5].try_into().unwrap()) as usize;
    assert_eq!(
        b[c + 5 + RECORD_HEADER_LEN],
        0,
        "a 50-byte blob is stored raw"
    );
    b[c + 5 + len - 1] ^= 1;
    reseal(&mut b);
    let e = err(&b);
    assert!(e.contains("index entry 0 does not match"), "{e}");
}

#[test]
fn lying_lengths_are_rejected() {
    let bytes = write(&blobs(&[100, 200]));
    let c = first_chunk(&bytes);
    let chunk_len = u32::from_le_bytes(bytes[c + 1..c + 5].try_into().unwrap());
    // A chunk longer than its records swallows the index tag; a shorter one cuts a record.
    let mut b = bytes.clone();
    b[c + 1..c + 5].copy_from_slice(&(chunk_len + 1).to_le_bytes());
    reseal(&mut b);
    let e = err(&b);
    assert!(e.contains("ends inside a record header"), "{e}");
    let mut b = bytes.clone();
    b[c + 1..c + 5].copy_from_slice(&(chunk_len - 1).to_le_bytes());
    reseal(&mut b);
    let e = err(&b);
    assert!(e.contains("but") && e.contains("remain"), "{e}");
    // A chunk length past the end of the file.
    let mut b = bytes.clone();
    b[c + 1..c + 5].copy_from_slice(&(1_000_000u32).to_le_bytes());
    let e = err(&b);
    assert!(e.contains("truncated"), "{e}");
    // Header length beyond the limit, before anything is allocated.
    let mut b = bytes.clone();
    b[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(err(&b).contains("more than the limit"));
    // Chunk length beyond the limit.
    let mut b = bytes.clone();
    b[c + 1..c + 5].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(err(&b).contains("declares"));
}

/// One record: kind byte, `u32le` body length, body.
fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind];
    r.extend_from_slice(&(body.len() as u32).to_le_bytes());
    r.extend_from_slice(body);
    r
}

#[test]
fn record_lengths_inside_a_chunk_are_checked() {
    let (id, canonical) = object::encode_with_id(&Blob { data: vec![1; 40] });
    let stored = crate::store::frame(&canonical);
    let mut raw = vec![Kind::Blob as u8];
    raw.extend_from_slice(&(1000u32).to_le_bytes());
    raw.extend_from_slice(&stored);
    let e = err(&handmade(&raw, &[(id.id(), 0)]));
    assert!(e.contains("declares 1000 bytes"), "{e}");
    // A kind byte that disagrees with the object.
    let raw = record(Kind::Node as u8, &stored);
    let e = err(&handmade(&raw, &[(id.id(), 0)]));
    assert!(e.contains("says kind 2"), "{e}");
    // The handmade bundle itself is fine.
    let raw = record(Kind::Blob as u8, &stored);
    let got = read(&handmade(&raw, &[(id.id(), 0)])).unwrap();
    assert_eq!(got, vec![(id.id(), Kind::Blob, canonical.clone())]);
}

#[test]
fn stored_values_are_checked() {
    let (id, canonical) = object::encode_with_id(&Blob {
        data: vec![7; 5000],
    });
    let stored = crate::store::frame(&canonical);
    assert_eq!(
        stored[0], 1,
        "a repetitive 5000-byte blob is stored compressed"
    );
    let check = |body: &[u8], want: &str| {
        let e = err(&handmade(&record(Kind::Blob as u8, body), &[(id.id(), 0)]));
        assert!(e.contains("is corrupt") && e.contains(want), "{want}: {e}");
    };
    check(&[9, 1, 2, 3], "unknown codec byte 9");
    check(&[1, 1, 2], "truncated");
    // A declared size above the object limit is refused before anything is decompressed.
    let mut b = stored.clone();
    b[1..5].copy_from_slice(&(crate::store::MAX_OBJECT_SIZE + 1).to_le_bytes());
    check(&b, "limit");
    // A frame that yields fewer bytes than declared.
    let mut b = stored.clone();
    b[1..5].copy_from_slice(&(canonical.len() as u32 + 1).to_le_bytes());
    check(&b, "decompressed to");
    // Garbage in place of the zstd frame.
    let mut b = stored[..5].to_vec();
    b.extend_from_slice(&[0xAB; 40]);
    check(&b, "zstd");
    // A valid stored value of other bytes: the id is computed, so the index disagrees.
    let other = crate::store::frame(&object::encode(&Blob {
        data: vec![8; 5000],
    }));
    let e = err(&handmade(
        &record(Kind::Blob as u8, &other),
        &[(id.id(), 0)],
    ));
    assert!(e.contains("index entry 0 does not match"), "{e}");
}

/// A bundle with one chunk of the given raw records and the given index entries.
fn handmade(raw: &[u8], index: &[(ObjectId, u32)]) -> Vec<u8> {
    let mut head = Vec::new();
    object::postcard_encode(&header(Vec::new()), &mut head);
    let mut b = BUNDLE_MAGIC.to_vec();
    b.extend_from_slice(&BUNDLE_VERSION.to_le_bytes());
    b.extend_from_slice(&(head.len() as u32).to_le_bytes());
    b.extend_from_slice(&head);
    let chunk_at = b.len() as u64;
    b.push(CHUNK_TAG);
    b.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    b.extend_from_slice(raw);
    let index_at = b.len() as u64;
    b.push(INDEX_TAG);
    b.extend_from_slice(&(index.len() as u64).to_le_bytes());
    for (id, off) in index {
        b.extend_from_slice(id.as_bytes());
        b.extend_from_slice(&chunk_at.to_le_bytes());
        b.extend_from_slice(&off.to_le_bytes());
    }
    b.extend_from_slice(&index_at.to_le_bytes());
    b.extend_from_slice(&TRAILER_MAGIC);
    b.extend_from_slice(&[0; 32]);
    reseal(&mut b);
    b
}

#[test]
fn decompression_bomb_stops_at_the_declared_size() {
    // 64 MiB of zeros compress to a few KiB; the stored value claims 100 KB.
    let zeros = vec![0u8; 64 << 20];
    let z = zstd::encode_all(&zeros[..], 3).unwrap();
    let mut body = vec![1u8];
    body.extend_from_slice(&100_000u32.to_le_bytes());
    body.extend_from_slice(&z);
    let id = ObjectId::hash(b"whatever");
    let e = err(&handmade(&record(Kind::Blob as u8, &body), &[(id, 0)]));
    assert!(e.contains("is corrupt") && e.contains("zstd"), "{e}");
}

#[test]
fn absurd_counts_and_junk_are_rejected() {
    let bytes = write(&blobs(&[100]));
    // The index count is right after the 'I' tag: find it through the trailer.
    let t = bytes.len() - 48;
    let idx = u64::from_le_bytes(bytes[t..t + 8].try_into().unwrap()) as usize;
    let mut b = bytes.clone();
    b[idx + 1..idx + 9].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    reseal(&mut b);
    assert!(err(&b).contains("the index lists"));
    let mut b = bytes.clone();
    b.insert(b.len() - 32, 0);
    reseal(&mut b);
    assert!(read(&b).is_err());
    let mut b = bytes.clone();
    b.push(0);
    assert!(read(&b).is_err());
    let mut b = bytes.clone();
    b[0] = b'X';
    assert!(err(&b).contains("not a kodiak bundle"));
    let mut b = bytes.clone();
    b[8] = 9;
    assert!(err(&b).contains("unsupported bundle version 9"));
    let mut b = bytes.clone();
    b[8] = 1;
    let e = err(&b);
    assert!(
        e.contains("version 1 bundle") && e.contains("hint: make the bundle again"),
        "{e}"
    );
    // A section tag that is neither chunk nor index.
    let mut b = bytes.clone();
    let c = first_chunk(&b);
    b[c] = b'Z';
    reseal(&mut b);
    assert!(err(&b).contains("unknown section tag 0x5a"));
}

#[test]
fn headers_are_checked() {
    let mut h = header(Vec::new());
    h.head = Some("refs/heads/other".into());
    let mut w = BundleWriter::new(Vec::new(), &h).unwrap();
    w.add(
        ObjectId::hash(b"q"),
        &object::encode(&Blob { data: vec![1] }),
    )
    .unwrap();
    let bytes = w.finish().unwrap().0;
    assert!(err(&bytes).contains("HEAD 'refs/heads/other' is not one of its refs"));
    let mut h = header(Vec::new());
    h.refs.push(h.refs[0].clone());
    let bytes = BundleWriter::new(Vec::new(), &h)
        .unwrap()
        .finish()
        .unwrap()
        .0;
    assert!(err(&bytes).contains("out of order or twice"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_object_sizes_round_trip(sizes in proptest::collection::vec(0usize..20_000, 0..12)) {
        let objs = blobs(&sizes);
        let got = read(&write(&objs)).unwrap();
        prop_assert_eq!(got.len(), objs.len());
        for ((id, b), (gid, _, gb)) in objs.iter().zip(&got) {
            prop_assert_eq!(id, gid);
            prop_assert_eq!(b, gb);
        }
    }
}

#[test]
fn deltas_rebuild_from_their_base_and_are_checked() {
    let base_data: Vec<u8> = (0..20_000u32).flat_map(|i| (i * 7).to_le_bytes()).collect();
    let mut new_data = base_data.clone();
    new_data[1000] ^= 0xff;
    let (base_id, base) = object::encode_with_id(&Blob { data: base_data });
    let (id, canonical) = object::encode_with_id(&Blob { data: new_data });
    let mut w = BundleWriter::new(Vec::new(), &header(Vec::new())).unwrap();
    w.add_delta(id.id(), &canonical, base_id.id(), &base)
        .unwrap();
    let (bytes, summary) = w.finish().unwrap();
    assert_eq!(summary.deltas, 1);
    assert!(
        bytes.len() < 1000,
        "a one-byte change costs {} bytes",
        bytes.len()
    );

    // With the base: rebuilt and hash-checked.
    let mut got = Vec::new();
    let mut bases = |b: &ObjectId| Ok((*b == base_id.id()).then(|| base.clone()));
    let (_, s) = read_bundle(Cursor::new(&bytes), &mut bases, |o| {
        got.push((o.id, o.canonical.to_vec()));
        Ok(())
    })
    .unwrap();
    assert_eq!(got, vec![(id.id(), canonical.clone())]);
    assert!(s.unresolved.is_empty());

    // Without it: reported as unresolved, not visited.
    let (_, s) = read_bundle(Cursor::new(&bytes), &mut no_bases, |_| {
        panic!("an unresolved delta must not be visited")
    })
    .unwrap();
    assert_eq!(s.unresolved, vec![(id.id(), Kind::Blob, base_id.id())]);

    // Against another base: the rebuilt bytes do not hash to the id.
    let mut wrong = |_: &ObjectId| Ok(Some(object::encode(&Blob { data: vec![9; 50] })));
    let e = read_bundle(Cursor::new(&bytes), &mut wrong, |_| Ok(()))
        .expect_err("a wrong base must be rejected")
        .0;
    assert!(e.contains("delta record") && e.contains("bad"), "{e}");

    // A delta that does not pay is written whole.
    let mut w = BundleWriter::new(Vec::new(), &header(Vec::new())).unwrap();
    let (small_id, small) = object::encode_with_id(&Blob {
        data: vec![1, 2, 3],
    });
    w.add_delta(small_id.id(), &small, base_id.id(), &base)
        .unwrap();
    assert_eq!(w.finish().unwrap().1.deltas, 0);
}

mod graph {
    use std::collections::BTreeSet;

    use crate::id::{CommitId, ObjectId};
    use crate::object::{Commit, Kind, Root, Signature, Table};
    use crate::pack::Walker;
    use crate::schema::{ColumnDef, Schema, Type};
    use crate::store::Store;
    use crate::table::NodeStore;

    fn sig() -> Signature {
        Signature {
            name: "T".into(),
            email: "t@x".into(),
            time: 1,
            tz_offset_min: 0,
        }
    }

    /// A commit of one table `t` whose rows are `rows`, with `parents`.
    fn commit(store: &Store, rows: &[(Vec<u8>, Vec<u8>)], parents: Vec<CommitId>) -> CommitId {
        let schema = Schema::new(
            "t",
            vec![
                ColumnDef::new("k", Type::Int).not_null(),
                ColumnDef::new("v", Type::Text),
            ],
            &["k"],
        )
        .unwrap();
        let ns = NodeStore::new(store.clone());
        let rows_id = ns.build(rows.iter().map(|(k, v)| (k, v))).unwrap();
        let table = store
            .put(&Table {
                schema: store.put(&schema).unwrap(),
                rows: rows_id,
                row_count: rows.len() as u64,
            })
            .unwrap();
        let mut root = Root::default();
        root.tables.insert("t".into(), table);
        let root = store.put(&root).unwrap();
        store
            .put(&Commit {
                root,
                parents,
                author: sig(),
                committer: sig(),
                message: "m".into(),
                change_id: [0; 16],
            })
            .unwrap()
    }

    fn all(store: &Store, c: CommitId) -> BTreeSet<ObjectId> {
        let mut out = BTreeSet::new();
        Walker::new(store)
            .walk(&[(c.id(), Kind::Commit)], &mut |id, _, _, _, _| {
                out.insert(id);
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn incremental_walk_sends_only_what_the_prerequisite_lacks_with_delta_bases() {
        let store = Store::memory();
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = (0u32..20_000)
            .map(|i| (i.to_be_bytes().to_vec(), format!("value {i}").into_bytes()))
            .collect();
        let c1 = commit(&store, &rows, Vec::new());
        rows[12_345].1 = b"changed".to_vec();
        let c2 = commit(&store, &rows, vec![c1]);

        let mut w = Walker::new(&store);
        w.exclude(&[c1.id()]).unwrap();
        let starts = [(c2.id(), Kind::Commit)];
        let boundary = w.commit_boundary(&starts).unwrap();
        assert_eq!(boundary, vec![c1.id()]);
        w.exclude_roots(&boundary).unwrap();
        let mut sent = BTreeSet::new();
        let mut with_base = 0;
        w.walk(&starts, &mut |id, _, _, _, base| {
            sent.insert(id);
            with_base += usize::from(base.is_some());
            Ok(())
        })
        .unwrap();
        assert_eq!(w.prerequisites(), boundary);
        let old = all(&store, c1);
        let new = all(&store, c2);
        // Complete given the prerequisite, and nothing the prerequisite already has.
        assert!(new.iter().all(|id| sent.contains(id) || old.contains(id)));
        assert!(sent.iter().all(|id| !old.contains(id)));
        // Commit, root, table, and one node per tree level; all but the commit have a base.
        assert!(sent.len() <= 8, "{} objects sent", sent.len());
        assert_eq!(with_base, sent.len() - 1);
    }
}

#[test]
fn incomplete_and_inconsistent_bundles_fail_verification() {
    use crate::id::RootId;
    use crate::object::{Commit, Signature};
    let sig = Signature {
        name: "T".into(),
        email: "t@x".into(),
        time: 1,
        tz_offset_min: 0,
    };
    let commit = Commit {
        root: RootId::new(ObjectId::hash(b"no such root")),
        parents: Vec::new(),
        author: sig.clone(),
        committer: sig,
        message: "m".into(),
        change_id: [0; 16],
    };
    let (cid, bytes) = object::encode_with_id(&commit);
    let mut h = header(Vec::new());
    h.refs[0].id = cid.id();
    let tmp = tempfile::tempdir().unwrap();
    let write_file = |name: &str, objs: &[(ObjectId, Vec<u8>)], h: &BundleHeader| {
        let mut w = BundleWriter::new(Vec::new(), h).unwrap();
        for (id, b) in objs {
            w.add(*id, b).unwrap();
        }
        let path = tmp.path().join(name);
        std::fs::write(&path, w.finish().unwrap().0).unwrap();
        path
    };
    let p = write_file("incomplete.kdk", &[(cid.id(), bytes.clone())], &h);
    let e = super::verify_file(&p, None).unwrap_err().to_string();
    assert!(e.contains("incomplete") && e.contains("root"), "{e}");
    // The same object twice.
    let twice = [(cid.id(), bytes.clone()), (cid.id(), bytes.clone())];
    let p = write_file("twice.kdk", &twice, &h);
    let e = super::verify_file(&p, None).unwrap_err().to_string();
    assert!(e.contains("appears twice"), "{e}");
    // A ref to an object that is not there at all.
    let p = write_file("dangling.kdk", &[], &header(Vec::new()));
    let e = super::verify_file(&p, None).unwrap_err().to_string();
    assert!(e.contains("incomplete"), "{e}");
    // A ref naming a blob where a commit is expected: fine for the ref, but not for a parent.
    let blob = object::encode_with_id(&Blob { data: vec![1] });
    let (root_id, root_bytes) = object::encode_with_id(&crate::object::Root::default());
    let mut child = commit.clone();
    child.root = root_id;
    child.parents = vec![crate::id::CommitId::new(blob.0.id())];
    let (child_id, child_bytes) = object::encode_with_id(&child);
    let mut h2 = header(Vec::new());
    h2.refs[0].id = child_id.id();
    let p = write_file(
        "kinds.kdk",
        &[
            (child_id.id(), child_bytes),
            (root_id.id(), root_bytes),
            (blob.0.id(), blob.1),
        ],
        &h2,
    );
    let e = super::verify_file(&p, None).unwrap_err().to_string();
    assert!(
        e.contains("referenced as a commit but the bundle holds a blob"),
        "{e}"
    );
}

/// Cloning builds the repository in a temporary directory while the bundle verifies: these
/// bundles are big enough that objects reach the new store before the failure is found.
mod clone {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::pack::{clone_bundle, receive_into_fresh};
    use crate::repo::{DOT_DIR, Repo, RepoPaths};
    use crate::store::{ObjectStore, PackStore};

    /// 40 incompressible blobs of 100 KB (4 MB: several batches of the storing thread) and a
    /// tag naming the first one.
    fn big_bundle(dir: &Path) -> (PathBuf, Vec<ObjectId>) {
        let objs: Vec<(ObjectId, Vec<u8>)> = (0..40u64)
            .map(|i| {
                let mut data = vec![0u8; 100_000];
                blake3::Hasher::new()
                    .update(&i.to_le_bytes())
                    .finalize_xof()
                    .fill(&mut data);
                let (id, bytes) = object::encode_with_id(&Blob { data });
                (id.id(), bytes)
            })
            .collect();
        let mut h = header(Vec::new());
        h.refs[0] = BundleRef {
            name: "refs/tags/first".into(),
            id: objs[0].0,
        };
        h.head = None;
        let mut w = BundleWriter::new(Vec::new(), &h).unwrap();
        for (id, b) in &objs {
            w.add(*id, b).unwrap();
        }
        let path = dir.join("big.kdk");
        std::fs::write(&path, w.finish().unwrap().0).unwrap();
        (path, objs.into_iter().map(|(id, _)| id).collect())
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn clone_keeps_every_object_and_no_temporary_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, ids) = big_bundle(tmp.path());
        let dest = tmp.path().join("copy");
        let c = clone_bundle(&path, &dest, "origin").unwrap();
        assert_eq!(c.fetch.new_objects, 40);
        assert_eq!(c.branch, None);
        assert_eq!(names(&dest), vec![DOT_DIR.to_string()]);
        let repo = Repo::open(RepoPaths::new(&dest), crate::repo::LockWait::No).unwrap();
        for id in &ids {
            assert!(repo.store().get_canonical(id, Kind::Blob).is_ok(), "{id}");
        }
        let tag = crate::refs::RefName::new("refs/tags/first").unwrap();
        assert_eq!(
            repo.refs().get(&tag).unwrap(),
            Some(crate::refs::RefValue::Direct(ids[0]))
        );
    }

    #[test]
    fn late_failures_leave_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = big_bundle(tmp.path());
        let good = std::fs::read(&path).unwrap();
        let n = good.len();
        let index_at = u64::from_le_bytes(good[n - 48..n - 40].try_into().unwrap()) as usize;
        let mut last_record = good.clone();
        last_record[index_at - 1] ^= 0x55;
        reseal(&mut last_record);
        let mut checksum = good.clone();
        checksum[n - 1] ^= 1;
        let cases = [
            ("last-record", last_record, "does not match the records"),
            ("checksum", checksum, "checksum does not match"),
            (
                "truncated-index",
                good[..index_at + 20].to_vec(),
                "truncated",
            ),
        ];
        for (name, bytes, expect) in cases {
            let bad = tmp.path().join(format!("{name}.kdk"));
            std::fs::write(&bad, &bytes).unwrap();
            let fresh = tmp.path().join(format!("new-{name}"));
            let e = clone_bundle(&bad, &fresh, "origin")
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains(expect), "{name}: {e}");
            assert!(!fresh.exists(), "{name}");
            let empty = tmp.path().join(format!("empty-{name}"));
            std::fs::create_dir(&empty).unwrap();
            let e = clone_bundle(&bad, &empty, "origin")
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains(expect), "{name}: {e}");
            assert!(names(&empty).is_empty(), "{name}: {:?}", names(&empty));
        }
    }

    #[test]
    fn what_an_interrupted_clone_left_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = big_bundle(tmp.path());
        let dest = tmp.path().join("dest");
        std::fs::create_dir_all(dest.join(".kodiak-clone-abc123/.kodiak")).unwrap();
        let e = clone_bundle(&path, &dest, "origin")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not empty"), "{e}");
        assert!(e.contains("interrupted clone"), "{e}");
        // Left as it was: it is not this clone's to delete.
        assert_eq!(names(&dest), vec![".kodiak-clone-abc123".to_string()]);
        std::fs::write(dest.join("notes.txt"), b"x").unwrap();
        let e = clone_bundle(&path, &dest, "origin")
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains("interrupted clone"), "{e}");
    }

    #[test]
    fn objects_are_stored_before_the_checksum_is_known() {
        // Why the clone's repository must stay invisible until complete.
        let tmp = tempfile::tempdir().unwrap();
        let (path, ids) = big_bundle(tmp.path());
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let db = sled::Config::new()
            .path(tmp.path().join("db"))
            .open()
            .unwrap();
        let packs = tmp.path().join("packs");
        let e = receive_into_fresh(&path, || Ok(((), PackStore::open(&db, &packs)?)))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("checksum does not match"), "{e}");
        // The records reached the pack (the load was abandoned, so nothing indexes them).
        let pack = packs.join(crate::store::pack_file_name(1));
        let len = std::fs::metadata(&pack).unwrap().len();
        assert!(len > 1 << 16, "{len}");
        let store = PackStore::open(&db, &packs).unwrap();
        assert!(!store.has(&ids[0]).unwrap());
    }
}

#[test]
fn write_back_keeps_every_byte_in_order_across_sync_requests() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("out");
    let file = std::fs::File::create(&path).unwrap();
    let (mut out, syncer) = super::WriteBack::start(file).unwrap();
    // 5 MiB in uneven pieces: several write-back requests, some while a sync runs.
    let mut expected = Vec::new();
    for i in 0..700u32 {
        let piece: Vec<u8> = (0..7_500u32).map(|j| (i * 31 + j) as u8).collect();
        out.write_all(&piece).unwrap();
        expected.extend_from_slice(&piece);
    }
    let file = out.finish(syncer).unwrap();
    drop(file);
    assert_eq!(std::fs::read(&path).unwrap(), expected);
}

mod dictionaries {
    use std::sync::Arc;

    use super::*;
    use crate::store::{Dictionary, Store, frame_dict_tag};
    use crate::table::NodeStore;

    /// A leaf: id, canonical bytes, stored value.
    type Leaf = (ObjectId, Vec<u8>, Vec<u8>);

    /// A store whose bulk build trained a dictionary, and (id, canonical, stored value) of
    /// some of its leaves, compressed with it.
    fn dict_leaves() -> (Arc<Dictionary>, Vec<Leaf>) {
        let store = Store::memory();
        let ns = NodeStore::new(store.clone());
        let root = ns
            .build((0..20_000u32).map(|i| {
                (
                    u64::from(i).to_be_bytes(),
                    format!("\x01\x07name {i}\x02{}", i * 7 % 1000).into_bytes(),
                )
            }))
            .unwrap();
        let dict = store.active_dictionary().unwrap().expect("trained");
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            let node = ns.load(id).unwrap();
            if !node.is_leaf() {
                stack.extend((0..node.len()).rev().map(|i| node.child(i)));
                continue;
            }
            let (stored, canonical) = store.try_get_verified(&id.id()).unwrap().unwrap();
            if frame_dict_tag(&stored).is_some() && out.len() < 5 {
                out.push((id.id(), canonical, stored));
            }
        }
        assert!(!out.is_empty());
        (dict, out)
    }

    #[test]
    fn records_follow_their_dictionary_and_read_back() {
        let (dict, leaves) = dict_leaves();
        let mut w = BundleWriter::new(Vec::new(), &header(Vec::new())).unwrap();
        // A record compressed with a dictionary the bundle lacks is refused by the writer.
        let (id, canonical, stored) = &leaves[0];
        let e = w
            .add_stored(*id, canonical, stored)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not carry"), "{e}");
        w.add_dictionary(&dict).unwrap();
        w.add_dictionary(&dict).unwrap(); // once only
        for (id, canonical, stored) in &leaves {
            w.add_stored(*id, canonical, stored).unwrap();
        }
        let (bytes, summary) = w.finish().unwrap();
        assert_eq!(summary.dictionaries, vec![dict.id()]);
        assert_eq!(summary.objects, 1 + leaves.len() as u64);
        assert_eq!(bytes[8..12], BUNDLE_VERSION.to_le_bytes());
        let got = read(&bytes).unwrap();
        assert_eq!(got[0], (dict.id(), Kind::Dict, dict.canonical().to_vec()));
        for ((id, canonical, _), (gid, kind, gc)) in leaves.iter().zip(&got[1..]) {
            assert_eq!((id, Kind::Node, canonical), (gid, *kind, gc));
        }
        let (_, s) = read_bundle(Cursor::new(&bytes), &mut no_bases, |_| Ok(())).unwrap();
        assert_eq!(s.dictionaries, vec![dict.id()]);
    }

    /// A bundle of `records` (kind byte, stored value) in one chunk, index and trailer valid.
    fn handmade_bundle(version: u32, records: &[(u8, ObjectId, &[u8])]) -> Vec<u8> {
        let mut raw = Vec::new();
        let mut index = Vec::new();
        for (kind, id, stored) in records {
            index.push((*id, raw.len() as u32));
            raw.push(*kind);
            raw.extend_from_slice(&(stored.len() as u32).to_le_bytes());
            raw.extend_from_slice(stored);
        }
        let mut bytes = handmade(&raw, &index);
        bytes[8..12].copy_from_slice(&version.to_le_bytes());
        reseal(&mut bytes);
        bytes
    }

    #[test]
    fn a_record_without_its_dictionary_is_rejected() {
        let (dict, leaves) = dict_leaves();
        let (id, _, stored) = &leaves[0];
        let bytes = handmade_bundle(BUNDLE_VERSION, &[(Kind::Node as u8, *id, stored)]);
        let e = err(&bytes);
        assert!(e.contains("does not carry before it"), "{e}");
        assert!(e.contains(&crate::store::tag_hex(&dict.tag())), "{e}");
        // After the record is too late.
        let dict_stored = crate::store::frame(dict.canonical());
        let bytes = handmade_bundle(
            BUNDLE_VERSION,
            &[
                (Kind::Node as u8, *id, stored),
                (Kind::Dict as u8, dict.id(), &dict_stored),
            ],
        );
        assert!(err(&bytes).contains("does not carry before it"));
        // In order it reads, in one batch of records or not.
        let bytes = handmade_bundle(
            BUNDLE_VERSION,
            &[
                (Kind::Dict as u8, dict.id(), &dict_stored),
                (Kind::Node as u8, *id, stored),
            ],
        );
        assert_eq!(read(&bytes).unwrap().len(), 2);
        // Version 2 bundles carry no dictionaries.
        let bytes = handmade_bundle(2, &[(Kind::Dict as u8, dict.id(), &dict_stored)]);
        assert!(
            err(&bytes).contains("version 2 bundles do not carry"),
            "{}",
            err(&bytes)
        );
        // A dictionary compressed with a dictionary is corrupt.
        let self_framed = crate::store::frame_with(dict.canonical(), Some(&dict));
        if frame_dict_tag(&self_framed).is_some() {
            let bytes = handmade_bundle(
                BUNDLE_VERSION,
                &[(Kind::Dict as u8, dict.id(), &self_framed)],
            );
            assert!(
                err(&bytes).contains("compressed with a dictionary"),
                "{}",
                err(&bytes)
            );
        }
        // A malformed dictionary (right hash, bad tables) is reported as such.
        let mut bad = dict.canonical().to_vec();
        let n = bad.len();
        bad[10..n.min(200)].fill(0xff);
        let bad_id = ObjectId::hash(&bad);
        let bad_stored = crate::store::frame(&bad);
        let bytes = handmade_bundle(BUNDLE_VERSION, &[(Kind::Dict as u8, bad_id, &bad_stored)]);
        let e = err(&bytes);
        assert!(e.contains("malformed"), "{e}");
    }

    #[test]
    fn a_tag_taken_by_another_dictionary_sends_values_reframed() {
        let (dict, leaves) = dict_leaves();
        let store = Store::memory();
        store.put_dictionary(&dict).unwrap();
        let mut w = BundleWriter::new(Vec::new(), &header(Vec::new())).unwrap();
        let (id, canonical, stored) = &leaves[0];
        let add = |w: &mut BundleWriter<Vec<u8>>| {
            crate::pack::add_whole(&store, w, std::path::Path::new("x"), *id, canonical, stored)
                .unwrap()
        };
        // Without a collision the dictionary goes first, then the value as stored.
        add(&mut w);
        assert_eq!(w.dictionary_with_tag(&dict.tag()), Some(dict.id()));
        let bytes = w.finish().unwrap().0;
        let got = read(&bytes).unwrap();
        assert_eq!(got.len(), 2);
        // Another dictionary holds the tag in this bundle: the value is framed again
        // without a dictionary, and the bundle reads without ours.
        let mut w = BundleWriter::new(Vec::new(), &header(Vec::new())).unwrap();
        w.claim_tag(dict.tag(), ObjectId::hash(b"another dictionary"));
        add(&mut w);
        let (bytes, summary) = w.finish().unwrap();
        assert!(summary.dictionaries.is_empty());
        let got = read(&bytes).unwrap();
        assert_eq!(got, vec![(*id, Kind::Node, canonical.clone())]);
        // A second dictionary with a taken tag is refused by the writer.
        let mut w = BundleWriter::new(Vec::new(), &header(Vec::new())).unwrap();
        w.claim_tag(dict.tag(), ObjectId::hash(b"another dictionary"));
        let e = w.add_dictionary(&dict).unwrap_err().to_string();
        assert!(e.contains("share the tag"), "{e}");
    }

    #[test]
    fn version_2_bundles_read() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/bundles/v2-full.kdk");
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(bytes[8..12], 2u32.to_le_bytes());
        let objs = read(&bytes).unwrap();
        assert_eq!(objs.len(), 10);
        assert!(objs.iter().any(|(_, k, _)| *k == Kind::Commit));
    }
}
