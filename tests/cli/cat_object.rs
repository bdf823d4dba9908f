//! cat-object on every core kind, --json, abbreviated/ambiguous ids and corruption.

use std::collections::BTreeMap;
use std::sync::Arc;

use kodiak::id::{BlobId, CommitId, NodeId, ObjectId, RootId, SchemaId, TableId};
use kodiak::object::{Blob, Commit, Kind, PackageRecord, Root, Signature, Table, Tag};
use kodiak::store::{SledStore, Store};

use crate::common::TestEnv;

fn sig(name: &str, time: i64, tz: i16) -> Signature {
    Signature {
        name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        time,
        tz_offset_min: tz,
    }
}

struct Objects {
    blob: BlobId,
    binary: BlobId,
    table: TableId,
    root: RootId,
    commit: CommitId,
    tag: kodiak::id::TagId,
    node: ObjectId,
}

fn write_objects(env: &TestEnv) -> Objects {
    let repo = env.open_repo(&env.path("demo"));
    let s = repo.store();
    let blob = s
        .put(&Blob {
            data: b"hello\nworld\n".to_vec(),
        })
        .unwrap();
    let binary = s
        .put(&Blob {
            data: vec![0, 1, 2, 255],
        })
        .unwrap();
    let table = s
        .put(&Table {
            schema: SchemaId::new(ObjectId::hash(b"schema")),
            rows: NodeId::new(ObjectId::hash(b"rows")),
            row_count: 3,
        })
        .unwrap();
    let root = s
        .put(&Root {
            tables: BTreeMap::from([("people".to_string(), table)]),
            blobs: BTreeMap::from([("readme".to_string(), blob)]),
            packages: BTreeMap::from([(
                "geo".to_string(),
                PackageRecord {
                    source: "/srv/geo".into(),
                    commit: CommitId::new(ObjectId::hash(b"pkg")),
                    content_hash: ObjectId::hash(b"content"),
                    tables: vec!["countries".into()],
                    dependencies: vec![],
                    source_ref: None,
                },
            )]),
        })
        .unwrap();
    let parent = CommitId::new(ObjectId::hash(b"parent"));
    let commit = s
        .put(&Commit {
            root,
            parents: vec![parent],
            author: sig("Alice", 1_700_000_000, 60),
            committer: sig("Bob", 1_700_000_100, -300),
            message: "Add people\n\nWith details.".into(),
            change_id: [7; 16],
        })
        .unwrap();
    let tag = s
        .put(&Tag {
            target: commit.id(),
            target_kind: Kind::Commit,
            name: "v1".into(),
            tagger: sig("Carol", 0, 0),
            message: "release".into(),
        })
        .unwrap();
    // A one-leaf prolly tree with two rows.
    let node = kodiak::table::NodeStore::new(s.clone())
        .build(vec![
            (vec![0x01u8], vec![0xaau8]),
            (vec![0x02], vec![0xbb, 0xcc]),
        ])
        .unwrap()
        .id();
    repo.close().unwrap();
    Objects {
        blob,
        binary,
        table,
        root,
        commit,
        tag,
        node,
    }
}

#[test]
fn every_core_kind_prints_readably() {
    let env = TestEnv::new();
    env.init_demo();
    let o = write_objects(&env);
    let cat = |id: &str| env.ok(&["-C", "demo", "cat-object", id]);
    let change = ulid::Ulid::from_bytes([7; 16]).to_string();
    assert_eq!(
        cat(&o.commit.to_hex()),
        format!(
            "commit {}\nroot {}\nparent {}\nauthor Alice <alice@example.com> 2023-11-14T23:13:20+01:00\n\
             committer Bob <bob@example.com> 2023-11-14T17:15:00-05:00\nchange-id {change}\n\n    Add people\n    \n    With details.\n",
            o.commit,
            o.root,
            ObjectId::hash(b"parent")
        )
    );
    assert_eq!(
        cat(&o.tag.to_hex()),
        format!(
            "tag {}\nobject {}\ntype commit\nname v1\ntagger Carol <carol@example.com> 1970-01-01T00:00:00+00:00\n\n    release\n",
            o.tag, o.commit
        )
    );
    let root = cat(&o.root.to_hex());
    assert!(
        root.starts_with(&format!(
            "root {}\ntable {} people\nblob {} readme\npackage geo\n",
            o.root, o.table, o.blob
        )),
        "{root}"
    );
    assert!(
        root.contains("    source /srv/geo\n") && root.contains("    tables countries\n"),
        "{root}"
    );
    assert_eq!(
        cat(&o.table.to_hex()),
        format!(
            "table {}\nschema {}\nrows {}\nrow-count 3\n",
            o.table,
            ObjectId::hash(b"schema"),
            ObjectId::hash(b"rows")
        )
    );
    assert_eq!(
        cat(&o.blob.to_hex()),
        format!("blob {}\nsize 12\n\nhello\nworld\n", o.blob)
    );
    assert_eq!(
        cat(&o.binary.to_hex()),
        format!(
            "blob {}\nsize 4\n\n00000000  00 01 02 ff {:37} |....|\n",
            o.binary, ""
        )
    );
    assert_eq!(
        cat(&o.node.to_hex()),
        format!(
            "node {}\nlevel 0\nentries 2\nrows 2\n01 aa\n02 bbcc\n",
            o.node
        )
    );
}

#[test]
fn json_output() {
    let env = TestEnv::new();
    env.init_demo();
    let o = write_objects(&env);
    let json = |id: &str| -> serde_json::Value {
        serde_json::from_str(&env.ok(&["-C", "demo", "cat-object", "--json", id])).unwrap()
    };
    let c = json(&o.commit.to_hex());
    assert_eq!(c["kind"], "commit");
    assert_eq!(c["id"], o.commit.to_hex());
    assert_eq!(c["version"], 1);
    assert_eq!(c["root"], o.root.to_hex());
    assert_eq!(c["parents"][0], ObjectId::hash(b"parent").to_hex());
    assert_eq!(c["author"]["date"], "2023-11-14T23:13:20+01:00");
    assert_eq!(c["author"]["tz_offset_min"], 60);
    assert_eq!(c["committer"]["name"], "Bob");
    assert_eq!(c["message"], "Add people\n\nWith details.");
    let t = json(&o.tag.to_hex());
    assert_eq!(
        (
            t["kind"].as_str(),
            t["target_kind"].as_str(),
            t["name"].as_str()
        ),
        (Some("tag"), Some("commit"), Some("v1"))
    );
    let r = json(&o.root.to_hex());
    assert_eq!(r["tables"]["people"], o.table.to_hex());
    assert_eq!(r["blobs"]["readme"], o.blob.to_hex());
    assert_eq!(r["packages"]["geo"]["source"], "/srv/geo");
    let tb = json(&o.table.to_hex());
    assert_eq!(tb["row_count"], 3);
    let b = json(&o.blob.to_hex());
    assert_eq!(b["text"], "hello\nworld\n");
    assert_eq!(b["size"], 12);
    let bin = json(&o.binary.to_hex());
    assert!(bin["text"].is_null());
    assert_eq!(bin["data_hex"], "000102ff");
    let n = json(&o.node.to_hex());
    assert_eq!(n["kind"], "node");
    assert_eq!(n["level"], 0);
    assert_eq!(n["rows"], 2);
    assert_eq!(n["entries"][1]["key"], "02");
    assert_eq!(n["entries"][1]["value"], "bbcc");
}

#[test]
fn abbreviated_and_ambiguous_ids() {
    let env = TestEnv::new();
    env.init_demo();
    // Store blobs until two share their first four hex digits.
    let repo = env.open_repo(&env.path("demo"));
    let mut seen = BTreeMap::new();
    let pair = (0u32..)
        .find_map(|i| {
            let id = repo
                .store()
                .put(&Blob {
                    data: i.to_le_bytes().to_vec(),
                })
                .unwrap();
            let prefix = id.to_hex()[..4].to_string();
            seen.insert(prefix.clone(), id)
                .filter(|old| *old != id)
                .map(|old| (prefix, old, id))
        })
        .unwrap();
    repo.close().unwrap();
    let (prefix, a, b) = pair;
    let err = env.fails(&["-C", "demo", "cat-object", &prefix], 1);
    assert!(
        err.starts_with(&format!(
            "error: abbreviated id '{prefix}' is ambiguous; candidates:\n"
        )),
        "{err}"
    );
    assert!(
        err.contains(&a.to_hex()) && err.contains(&b.to_hex()),
        "{err}"
    );
    assert!(err.contains("hint: type more hex digits"), "{err}");
    // A longer unique prefix (upper case accepted) resolves.
    let unique = &a.to_hex()[..20];
    let out = env.ok(&["-C", "demo", "cat-object", &unique.to_uppercase()]);
    assert!(out.starts_with(&format!("blob {a}\n")), "{out}");
    let err = env.fails(&["-C", "demo", "cat-object", "abc"], 1);
    assert!(err.contains("too short"), "{err}");
    let err = env.fails(&["-C", "demo", "cat-object", "xyz123"], 1);
    assert!(err.contains("not a hex object id"), "{err}");
}

#[test]
fn corruption_is_reported_with_exit_255() {
    let env = TestEnv::new();
    env.init_demo();
    let db_path = env.path("demo/.kodiak/db");
    let id = {
        let db = sled::open(&db_path).unwrap();
        let backend = SledStore::new(&db).unwrap();
        let store = Store::new(Arc::new(backend.clone()));
        let id = store
            .put(&Blob {
                data: b"precious data".to_vec(),
            })
            .unwrap();
        let mut stored = backend
            .tree()
            .get(id.id().as_bytes())
            .unwrap()
            .unwrap()
            .to_vec();
        let last = stored.len() - 1;
        stored[last] ^= 0x01;
        backend.tree().insert(id.id().as_bytes(), stored).unwrap();
        db.flush().unwrap();
        id
    };
    let r = env.run(&["-C", "demo", "cat-object", &id.to_hex()]);
    assert_eq!(r.code, 255, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr.starts_with(&format!(
            "error: object {id} is corrupt: content hashes to "
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: "), "{}", r.stderr);
}

#[test]
fn schema_objects_print_columns_tags_and_key() {
    use kodiak::schema::{ColumnDef, Schema};
    let env = TestEnv::new();
    env.init_demo();
    let id = {
        let repo = env.open_repo(&env.path("demo"));
        let mut schema = Schema::new(
            "people",
            vec![
                ColumnDef::parse("id", "INT").unwrap().not_null(),
                ColumnDef::parse("name", "TEXT").unwrap(),
                ColumnDef::parse("born", "DATE").unwrap(),
            ],
            &["id"],
        )
        .unwrap();
        schema.rename_column("name", "full_name").unwrap();
        schema.drop_column("born").unwrap();
        repo.store().put(&schema).unwrap()
    };
    let out = env.ok(&["-C", "demo", "cat-object", &id.to_hex()]);
    assert!(out.starts_with(&format!("schema {id}\n")), "{out}");
    assert!(out.contains("column id INT NOT NULL tag="), "{out}");
    assert!(out.contains("column full_name TEXT tag="), "{out}");
    assert!(out.contains("primary-key id\n"), "{out}");
    assert!(out.contains("dropped tag="), "{out}");
    let j: serde_json::Value =
        serde_json::from_str(&env.ok(&["-C", "demo", "cat-object", "--json", &id.to_hex()]))
            .unwrap();
    assert_eq!(j["kind"], "schema");
    assert_eq!(j["columns"][1]["name"], "full_name");
    assert_eq!(j["columns"][1]["slot"], 1);
    assert_eq!(j["primary_key"][0], "id");
}
