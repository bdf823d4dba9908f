//! Golden fixtures: pinned canonical encodings with their expected ids.
//!
//! `fixtures/objects/index.txt` lists `name kind id` lines; `<name>.bin` holds the canonical
//! bytes. Each test builds the object in code, encodes it and requires the fixture's exact bytes
//! and id, then decodes the fixture and re-encodes it. Set `KODIAK_BLESS=1` to rewrite fixtures
//! after an intended format change (which must also bump the version, see objects_format.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::id::{CommitId, NodeId, ObjectId, RootId, SchemaId, TableId};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/objects")
}

fn sig(name: &str, time: i64, tz: i16) -> Signature {
    Signature {
        name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        time,
        tz_offset_min: tz,
    }
}

fn fake_id(seed: &str) -> ObjectId {
    ObjectId::hash(seed.as_bytes())
}

/// Every fixture: name and canonical bytes built from code.
pub(crate) fn golden_objects() -> Vec<(&'static str, Kind, Vec<u8>)> {
    let blob = Blob {
        data: b"kodiak golden blob\n\x00\xff".to_vec(),
    };
    let empty_blob = Blob { data: Vec::new() };
    let table = Table {
        schema: SchemaId::new(fake_id("schema")),
        rows: NodeId::new(fake_id("node")),
        row_count: 1_000_000,
    };
    let mut tables = BTreeMap::new();
    tables.insert("customers".to_string(), TableId::new(fake_id("t1")));
    tables.insert("orders".to_string(), TableId::new(fake_id("t2")));
    let mut blobs = BTreeMap::new();
    blobs.insert(
        "logo.png".to_string(),
        crate::id::BlobId::new(fake_id("b1")),
    );
    let mut packages = BTreeMap::new();
    packages.insert(
        "geo".to_string(),
        PackageRecord {
            source: "geo.kdk".into(),
            commit: CommitId::new(fake_id("c0")),
            content_hash: fake_id("content"),
            tables: vec!["geo.countries".into()],
            dependencies: vec![],
            source_ref: None,
        },
    );
    let root = Root {
        tables,
        blobs,
        packages,
    };
    // Version 2: one package follows a tag, its dependency records no ref.
    let mut refs_root = root.clone();
    refs_root.packages.insert(
        "world".to_string(),
        PackageRecord {
            source: "/data/world".into(),
            commit: CommitId::new(fake_id("c1")),
            content_hash: fake_id("content-world"),
            tables: vec!["world.cities".into()],
            dependencies: vec!["geo".into()],
            source_ref: Some("refs/tags/v2".into()),
        },
    );
    refs_root
        .tables
        .insert("world.cities".to_string(), TableId::new(fake_id("t3")));
    let empty_root = Root::default();
    let commit = Commit {
        root: RootId::new(fake_id("root")),
        parents: vec![CommitId::new(fake_id("p1")), CommitId::new(fake_id("p2"))],
        author: sig("Ada", 1_700_000_000, 60),
        committer: sig("Grace", -86_400, -300),
        message: "Merge branch 'prices'\n\nÜnïcode body.\n".into(),
        change_id: [7; 16],
    };
    let tag = Tag {
        target: fake_id("commit"),
        target_kind: Kind::Commit,
        name: "v1.0".into(),
        tagger: sig("Ada", 1_700_000_123, 0),
        message: "First release\n".into(),
    };
    let mut schema = crate::schema::Schema::new(
        "orders",
        vec![
            crate::schema::ColumnDef::parse("id", "INT")
                .expect("type")
                .not_null(),
            crate::schema::ColumnDef::parse("name", "TEXT").expect("type"),
            crate::schema::ColumnDef::parse("price", "DECIMAL(10,2)").expect("type"),
            crate::schema::ColumnDef::parse("qty", "INT")
                .expect("type")
                .not_null()
                .with_default(crate::schema::Value::Int(1)),
            crate::schema::ColumnDef::parse("at", "TIMESTAMPTZ").expect("type"),
            crate::schema::ColumnDef::parse("score", "FLOAT")
                .expect("type")
                .with_default(crate::schema::Value::Float(-0.0)),
        ],
        &["id"],
    )
    .expect("valid schema");
    schema.drop_column("name").expect("drop");
    schema.rename_column("qty", "quantity").expect("rename");
    let keyless = crate::schema::Schema::new(
        "log",
        vec![
            crate::schema::ColumnDef::parse("line", "TEXT").expect("type"),
            crate::schema::ColumnDef::parse("data", "JSON").expect("type"),
        ],
        &[],
    )
    .expect("valid keyless schema");
    // A two-level prolly tree under the real chunking rule pins both node layouts and the
    // boundary rule: 600 rows give several leaves and one internal root.
    let nodes = crate::table::NodeStore::new(crate::store::Store::memory());
    let rows: Vec<(Vec<u8>, Vec<u8>)> = (0..600u32)
        .map(|i| (i.to_be_bytes().to_vec(), format!("row {i}").into_bytes()))
        .collect();
    let root_id = nodes.build(rows).expect("build tree");
    let root_node = nodes.load(root_id).expect("root");
    assert!(
        root_node.level() == 1 && root_node.len() > 2,
        "expected a 2-level tree"
    );
    let leaf_id = root_node.child(0);
    let canonical = |id: NodeId| {
        nodes
            .store()
            .get_canonical(&id.id(), Kind::Node)
            .expect("stored node")
    };
    let empty = nodes.empty().expect("empty tree");
    // A 1 KiB dictionary trained on fixed rows (training is deterministic for a zstd version;
    // Cargo.lock pins it), to be used at level -1.
    let rows: Vec<Vec<u8>> = (0..400u32)
        .map(|i| format!("row {i:05} name-{} qty {}", i % 17, i * 7 % 100).into_bytes())
        .collect();
    let samples: Vec<&[u8]> = rows.iter().map(|r| r.as_slice()).collect();
    let zstd_dict = crate::store::train(&samples, 1024).expect("golden dictionary trains");
    let dict = crate::store::Dictionary::canonical_of(-1, &zstd_dict);
    vec![
        ("dict", Kind::Dict, dict),
        ("node-internal", Kind::Node, canonical(root_id)),
        ("node-leaf", Kind::Node, canonical(leaf_id)),
        ("node-empty", Kind::Node, canonical(empty)),
        ("schema", Kind::Schema, encode(&schema)),
        ("schema-keyless", Kind::Schema, encode(&keyless)),
        ("blob", Kind::Blob, encode(&blob)),
        ("blob-empty", Kind::Blob, encode(&empty_blob)),
        ("table", Kind::Table, encode(&table)),
        ("root", Kind::Root, encode(&root)),
        ("root-empty", Kind::Root, encode(&empty_root)),
        ("root-refs", Kind::Root, encode(&refs_root)),
        ("commit", Kind::Commit, encode(&commit)),
        ("tag", Kind::Tag, encode(&tag)),
    ]
}

/// Decodes canonical bytes as their header's kind and re-encodes them.
fn reencode(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let (kind, _, _) = split_header(bytes)?;
    Ok(match kind {
        Kind::Blob => encode(&decode::<Blob>(bytes)?),
        Kind::Table => encode(&decode::<Table>(bytes)?),
        Kind::Root => encode(&decode::<Root>(bytes)?),
        Kind::Commit => encode(&decode::<Commit>(bytes)?),
        Kind::Tag => encode(&decode::<Tag>(bytes)?),
        Kind::Schema => encode(&decode::<crate::schema::Schema>(bytes)?),
        Kind::Node => encode(&decode::<crate::table::Node>(bytes)?),
        Kind::Dict => {
            crate::store::Dictionary::from_canonical(bytes.to_vec()).map_err(|reason| {
                DecodeError::Malformed {
                    kind: Kind::Dict,
                    reason,
                }
            })?;
            bytes.to_vec()
        }
    })
}

fn read_index() -> BTreeMap<String, (String, ObjectId)> {
    let text = std::fs::read_to_string(fixtures_dir().join("index.txt")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "bad index line {l:?}");
            let id = ObjectId::from_hex(f[2]).expect("index id");
            (f[0].to_string(), (f[1].to_string(), id))
        })
        .collect()
}

#[test]
fn golden_fixtures_match_encoder_and_round_trip() {
    let dir = fixtures_dir();
    let objects = golden_objects();
    if std::env::var_os("KODIAK_BLESS").is_some() {
        let mut index = String::from("# name kind id — canonical bytes are in <name>.bin\n");
        for (name, kind, bytes) in &objects {
            std::fs::write(dir.join(format!("{name}.bin")), bytes).expect("write fixture");
            index.push_str(&format!("{name} {kind} {}\n", ObjectId::hash(bytes)));
        }
        std::fs::write(dir.join("index.txt"), index).expect("write index");
    }
    let index = read_index();
    assert_eq!(
        index.len(),
        objects.len(),
        "fixture index and golden_objects() disagree"
    );
    for (name, kind, bytes) in objects {
        let (ikind, iid) = &index[name];
        assert_eq!(ikind, kind.name(), "{name}: kind");
        let fixture = std::fs::read(dir.join(format!("{name}.bin"))).expect("read fixture");
        assert_eq!(
            fixture, bytes,
            "{name}: encoder output drifted from the fixture"
        );
        assert_eq!(ObjectId::hash(&fixture), *iid, "{name}: id drifted");
        assert_eq!(
            reencode(&fixture).expect("decode fixture"),
            fixture,
            "{name}: round trip"
        );
    }
}

#[test]
fn truncated_and_extended_fixtures_are_rejected() {
    for (name, kind, bytes) in golden_objects() {
        // Free-form payloads: a blob's bytes, a dictionary's content after its tables.
        if matches!(kind, Kind::Blob | Kind::Dict) {
            continue;
        }
        for cut in 0..bytes.len() {
            assert!(
                reencode(&bytes[..cut]).is_err(),
                "{name}: truncated at {cut} decoded"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(reencode(&longer).is_err(), "{name}: trailing byte accepted");
    }
}

#[test]
fn header_checks() {
    assert_eq!(split_header(&[]), Err(DecodeError::Truncated(0)));
    assert_eq!(split_header(&[9, 1]), Err(DecodeError::UnknownKind(9)));
    assert!(matches!(
        split_header(&[1, 2]),
        Err(DecodeError::UnsupportedVersion { version: 2, .. })
    ));
    assert!(matches!(
        split_header(&[1, 0]),
        Err(DecodeError::UnsupportedVersion { version: 0, .. })
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Decoding arbitrary bytes never panics.
    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let _ = reencode(&bytes);
        let _ = crate::store::unframe(&bytes);
    }
}

#[test]
fn non_canonical_payloads_are_rejected() {
    let mut tables = BTreeMap::new();
    tables.insert("a".to_string(), TableId::new(fake_id("a")));
    tables.insert("b".to_string(), TableId::new(fake_id("b")));
    let root = Root {
        tables,
        ..Root::default()
    };
    let bytes = encode(&root);
    // Swap the two map entries (each: 1-byte len, 1-byte name, 32-byte id) so keys are unsorted.
    let entry = 1 + 1 + 32;
    let start = 3;
    let mut swapped = bytes.clone();
    swapped[start..start + entry].copy_from_slice(&bytes[start + entry..start + 2 * entry]);
    swapped[start + entry..start + 2 * entry].copy_from_slice(&bytes[start..start + entry]);
    let err = decode::<Root>(&swapped).unwrap_err();
    assert!(err.to_string().contains("canonical"), "{err}");
    // An overlong varint for the table count (2 encoded as 0x82 0x00).
    let mut overlong = bytes[..2].to_vec();
    overlong.extend_from_slice(&[0x82, 0x00]);
    overlong.extend_from_slice(&bytes[3..]);
    assert!(decode::<Root>(&overlong).is_err());
}
