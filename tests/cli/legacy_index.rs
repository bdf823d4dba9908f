//! Repositories of format 1 (object index in sled) stay readable and writable, and are
//! upgraded to format 2 (index files in `packs/`) when their first index file is written.

use std::path::Path;

use kodiak::store::{
    INDEX_ENTRY_LEN, INDEX_FANOUT_LEN, INDEX_HEADER_LEN, INDEX_PACK_LEN, Location,
    RECORD_HEADER_LEN, pack_file_name,
};

use super::loop_helpers::Demo;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Rewrites the repository in `dot` as format 1 wrote it: every index entry moves into the
/// sled tree `objects` (values of at most 256 bytes inline, the others as locations), the
/// durable pack lengths into the sled tree `packs`, and the index files go.
fn make_format_1(dot: &Path) {
    let db = sled::open(dot.join("db")).unwrap();
    let objects = db.open_tree("objects").unwrap();
    let lengths = db.open_tree("packs").unwrap();
    let packs_dir = dot.join("packs");
    let mut inline = 0;
    for e in std::fs::read_dir(&packs_dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "kix") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let count = u64_at(&bytes, 16) as usize;
        let pack_count = u32_at(&bytes, 12) as usize;
        let entries = INDEX_HEADER_LEN + INDEX_FANOUT_LEN;
        for i in 0..count {
            let at = entries + i * INDEX_ENTRY_LEN;
            let id = &bytes[at..at + 32];
            let loc = Location {
                pack: u32_at(&bytes, at + 32),
                offset: u64_at(&bytes, at + 36),
                len: u32_at(&bytes, at + 44),
            };
            if loc.len <= 256 {
                let pack = std::fs::read(packs_dir.join(pack_file_name(loc.pack))).unwrap();
                let start = loc.offset as usize + RECORD_HEADER_LEN;
                objects
                    .insert(id, &pack[start..start + loc.len as usize])
                    .unwrap();
                inline += 1;
            } else {
                objects.insert(id, &loc.encode()[..]).unwrap();
            }
        }
        let table = entries + count * INDEX_ENTRY_LEN;
        for i in 0..pack_count {
            let at = table + i * INDEX_PACK_LEN;
            lengths
                .insert(
                    u32_at(&bytes, at).to_be_bytes(),
                    &u64_at(&bytes, at + 4).to_le_bytes(),
                )
                .unwrap();
        }
        std::fs::remove_file(&path).unwrap();
    }
    assert!(inline > 0, "some objects were small enough to be inline");
    db.flush().unwrap();
    drop(db);
    std::fs::write(dot.join("FORMAT"), "kodiak repository format 1\n").unwrap();
}

#[test]
fn format_1_repository_is_read_written_and_upgraded() {
    let d = Demo::new();
    d.commit_tables(
        &[("people", Some("abcdef")), ("orders", Some("xyz"))],
        "one",
    );
    d.commit_tables(&[("people", Some("abcXef"))], "two");
    let log = d.ok(&["log"]);
    let diff = d.ok(&["diff", "HEAD~1", "HEAD"]);
    let dot = d.env.path("demo/.kodiak");
    make_format_1(&dot);

    let format = || std::fs::read_to_string(dot.join("FORMAT")).unwrap();
    assert_eq!(d.ok(&["log"]), log);
    assert_eq!(d.ok(&["diff", "HEAD~1", "HEAD"]), diff);
    // Commands that store no object leave it readable by older versions.
    d.ok(&["branch", "side"]);
    assert_eq!(format(), "kodiak repository format 1\n");
    d.commit_tables(&[("orders", None)], "three");
    assert_eq!(format(), "kodiak repository format 2\n");
    let out = d.ok(&["log", "--oneline"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert_eq!(d.ok(&["diff", "HEAD~2", "HEAD~1"]), diff);
    let listed = std::fs::read_dir(dot.join("packs"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".kix")
        })
        .count();
    assert_eq!(listed, 1, "the new objects are in one index file");
}

#[test]
fn unknown_format_is_refused() {
    let d = Demo::new();
    let format = d.env.path("demo/.kodiak/FORMAT");
    std::fs::write(&format, "kodiak repository format 3\n").unwrap();
    let err = d.fails(&["log"], 1);
    assert!(err.contains("unsupported repository format"), "{err}");
    assert!(err.contains("format 3"), "{err}");
}
