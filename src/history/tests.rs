//! Library tests of history operations, including a property test over random command
//! sequences.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;

use super::ops::{self, CommitOptions, ResetMode};
use super::state::{WorkState, empty_root_id};
use super::walk::Walk;
use super::{resolve, resolve_commit, snapshot, workspace};
use crate::config::{ConfigFile, ConfigKey};
use crate::error::Error;
use crate::id::{CommitId, NodeId, ObjectId, SchemaId};
use crate::object::{Blob, Commit, Table};
use crate::refs::{RefName, RefValue, WorkspaceName};
use crate::repo::{InitOptions, LockWait, Repo, RepoPaths};

/// A repository with an identity in its config.
fn test_repo(dir: &Path) -> Repo {
    Repo::init(dir, &InitOptions::default())
        .unwrap()
        .close()
        .unwrap();
    let paths = RepoPaths::new(dir);
    let mut cfg = ConfigFile::load(&paths.config_path()).unwrap();
    cfg.set(&ConfigKey::parse("user.name").unwrap(), "Lib Test");
    cfg.set(&ConfigKey::parse("user.email").unwrap(), "lib@example.com");
    cfg.save(&paths.config_path()).unwrap();
    // sled's background thread may hold the database lock briefly after a close.
    for _ in 0..500 {
        match Repo::open(paths.clone(), LockWait::No) {
            Ok(r) => return r,
            Err(Error::Storage(m)) if m.contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("could not reopen the test repository");
}

/// Puts a table version derived from `content` into the working root (or deletes it).
fn set_table(repo: &Repo, name: &str, content: Option<&str>) {
    let st = WorkState::load(repo).unwrap();
    let mut root = st.working(repo.store()).unwrap();
    match content {
        Some(c) => {
            let blob = repo
                .store()
                .put(&Blob {
                    data: c.as_bytes().to_vec(),
                })
                .unwrap();
            let t = repo
                .store()
                .put(&Table {
                    schema: SchemaId::new(blob.id()),
                    rows: NodeId::new(blob.id()),
                    row_count: c.len() as u64,
                })
                .unwrap();
            root.tables.insert(name.to_string(), t);
        }
        None => {
            root.tables.remove(name);
        }
    }
    st.set_working(repo, &root, "test").unwrap();
}

fn commit_all(repo: &Repo, message: &str) -> CommitId {
    ops::commit(
        repo,
        &CommitOptions {
            message: message.into(),
            all: true,
            ..CommitOptions::default()
        },
    )
    .unwrap()
    .id
}

#[test]
fn working_state_defaults_and_normalisation() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = test_repo(tmp.path());
    let st = WorkState::load(&repo).unwrap();
    assert_eq!(st.head_root, empty_root_id());
    assert_eq!(st.staged_root, empty_root_id());
    assert!(!st.is_dirty());
    assert_eq!(st.head_ref, Some(RefName::branch("main").unwrap()));
    set_table(&repo, "a", Some("1"));
    let st = WorkState::load(&repo).unwrap();
    assert!(st.is_dirty());
    assert_eq!(st.record.staged, None);
    assert!(st.record.working.is_some());
    // Setting the working root back to HEAD's clears the record.
    set_table(&repo, "a", None);
    let st = WorkState::load(&repo).unwrap();
    assert_eq!(st.record.working, None);
    assert!(!st.is_dirty());
}

#[test]
fn stale_working_state_updates_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = test_repo(tmp.path());
    let stale = WorkState::load(&repo).unwrap();
    set_table(&repo, "a", Some("1"));
    // A writer that read the state before the change above must not overwrite it.
    let root = WorkState::load(&repo).unwrap().working_root;
    let err = stale.set_roots(&repo, root, root, "late").unwrap_err();
    assert!(matches!(err, Error::RefConflict { .. }), "{err}");
    let now = WorkState::load(&repo).unwrap();
    assert_eq!(
        now.staged_root,
        empty_root_id(),
        "nothing was staged by the stale writer"
    );
}

#[test]
fn commit_resolve_walk() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = test_repo(tmp.path());
    set_table(&repo, "a", Some("1"));
    let c1 = commit_all(&repo, "one");
    set_table(&repo, "a", Some("2"));
    let c2 = commit_all(&repo, "two");
    let commit: Commit = repo.store().get(&c2).unwrap();
    assert_eq!(commit.parents, vec![c1]);
    assert_eq!(commit.author.name, "Lib Test");
    assert_eq!(resolve_commit(&repo, "HEAD~1").unwrap(), c1);
    assert_eq!(resolve_commit(&repo, "main").unwrap(), c2);
    assert_eq!(resolve_commit(&repo, &c1.to_hex()[..8]).unwrap(), c1);
    let r = resolve(&repo, "HEAD^:a").unwrap();
    assert_eq!(r.commit, c1);
    assert_eq!(r.table.as_ref().map(|t| t.0.as_str()), Some("a"));
    assert!(
        resolve(&repo, "nope")
            .unwrap_err()
            .to_string()
            .starts_with("unknown revision 'nope'")
    );
    let ids: Vec<CommitId> = Walk::new(repo.store(), &[c2])
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(ids, vec![c2, c1]);
    assert!(super::is_ancestor(repo.store(), c1, c2).unwrap());
    assert!(!super::is_ancestor(repo.store(), c2, c1).unwrap());
    // Lightweight and annotated tags resolve to the commit.
    ops::create_tag(&repo, "light", Some("HEAD~1"), None, false).unwrap();
    ops::create_tag(&repo, "heavy", None, Some("msg"), false).unwrap();
    assert_eq!(resolve_commit(&repo, "light").unwrap(), c1);
    assert_eq!(resolve_commit(&repo, "heavy").unwrap(), c2);
    assert_eq!(resolve_commit(&repo, "refs/tags/heavy~1").unwrap(), c1);
    // HEAD's reflog records the commits made on its branch.
    assert_eq!(resolve_commit(&repo, "HEAD@{1}").unwrap(), c1);
}

#[test]
fn walk_visits_merges_once_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = test_repo(tmp.path());
    set_table(&repo, "a", Some("1"));
    let base = commit_all(&repo, "base");
    let st = WorkState::load(&repo).unwrap();
    let root = st.head_root;
    let mk = |parents: Vec<CommitId>, msg: &str, time: i64| {
        let (id, _) = ops::write_commit(&repo, root, parents, msg, None, None).unwrap();
        // Rewrite with a pinned time so the order is known.
        let mut c: Commit = repo.store().get(&id).unwrap();
        c.committer.time = time;
        repo.store().put(&c).unwrap()
    };
    let left = mk(vec![base], "left", 2_000_000_000);
    let right = mk(vec![base], "right", 2_000_000_100);
    let merge = mk(vec![left, right], "merge", 2_000_000_200);
    let ids: Vec<CommitId> = Walk::new(repo.store(), &[merge])
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(ids, vec![merge, right, left, base]);
    let fp: Vec<CommitId> = Walk::new(repo.store(), &[merge])
        .unwrap()
        .first_parent_only()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(fp, vec![merge, left, base]);
    assert_eq!(
        resolve_commit(&repo, &format!("{}^2", merge.to_hex())).unwrap(),
        right
    );
}

#[test]
fn merge_bases_linear_forked_criss_cross_and_skewed() {
    use crate::history::{merge_base, merge_bases};
    let tmp = tempfile::tempdir().unwrap();
    let repo = test_repo(tmp.path());
    set_table(&repo, "a", Some("1"));
    let base = commit_all(&repo, "base");
    let root = WorkState::load(&repo).unwrap().head_root;
    let mk = |parents: Vec<CommitId>, msg: &str, time: i64| {
        let (id, _) = ops::write_commit(&repo, root, parents, msg, None, None).unwrap();
        let mut c: Commit = repo.store().get(&id).unwrap();
        c.committer.time = time;
        repo.store().put(&c).unwrap()
    };
    let s = repo.store();
    let a1 = mk(vec![base], "a1", 2_000_000_000);
    let a2 = mk(vec![a1], "a2", 2_000_000_010);
    let b1 = mk(vec![base], "b1", 2_000_000_005);
    // Linear: the older commit is the base; a commit is its own base.
    assert_eq!(merge_base(s, a1, a2).unwrap(), Some(a1));
    assert_eq!(merge_base(s, a2, a1).unwrap(), Some(a1));
    assert_eq!(merge_base(s, a2, a2).unwrap(), Some(a2));
    // Forked.
    assert_eq!(merge_bases(s, a2, b1).unwrap(), vec![base]);
    // Criss-cross: two best bases.
    let x = mk(vec![a2, b1], "x", 2_000_000_020);
    let y = mk(vec![b1, a2], "y", 2_000_000_021);
    let x2 = mk(vec![x], "x2", 2_000_000_030);
    let y2 = mk(vec![y], "y2", 2_000_000_031);
    let mut bases = merge_bases(s, x2, y2).unwrap();
    bases.sort();
    let mut want = vec![a2, b1];
    want.sort();
    assert_eq!(bases, want);
    // Clock skew: an ancestor with a newer time than its descendants is still found right.
    let skew_base = mk(vec![base], "skewed", 2_100_000_000);
    let l = mk(vec![skew_base], "l", 2_000_000_001);
    let r = mk(vec![skew_base], "r", 2_000_000_002);
    assert_eq!(merge_bases(s, l, r).unwrap(), vec![skew_base]);
    // Unrelated histories have no base.
    let (lone, _) = ops::write_commit(&repo, root, vec![], "lone", None, None).unwrap();
    assert_eq!(merge_base(s, lone, a2).unwrap(), None);
}

// ---- property test: random command sequences keep the invariants ----

#[derive(Clone, Debug)]
enum Op {
    Edit(u8, Option<u8>),
    Stage(u8),
    Commit { all: bool, amend: bool, empty: bool },
    Branch(u8),
    DeleteBranch(u8),
    Switch(u8),
    SwitchNew(u8),
    Tag(u8),
    DeleteTag(u8),
    Reset(u8, u8),
    Rollback,
    Checkout(u8),
    WsCreate(u8),
    WsSwitch(u8),
    WsMerge(u8),
    WsDelete(u8),
    SnapCreate(u8),
    SnapRestore(u8),
    SnapDelete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3u8, proptest::option::weighted(0.8, 0..6u8)).prop_map(|(t, v)| Op::Edit(t, v)),
        1 => (0..3u8).prop_map(Op::Stage),
        6 => (prop::bool::weighted(0.8), prop::bool::weighted(0.15), prop::bool::weighted(0.2))
            .prop_map(|(all, amend, empty)| Op::Commit { all, amend, empty }),
        1 => (0..3u8).prop_map(Op::Branch),
        1 => (0..3u8).prop_map(Op::DeleteBranch),
        1 => (0..3u8).prop_map(Op::Switch),
        1 => (0..3u8).prop_map(Op::SwitchNew),
        1 => (0..2u8).prop_map(Op::Tag),
        1 => (0..2u8).prop_map(Op::DeleteTag),
        2 => (0..3u8, 0..3u8).prop_map(|(m, b)| Op::Reset(m, b)),
        1 => Just(Op::Rollback),
        1 => (0..3u8).prop_map(Op::Checkout),
        1 => (0..2u8).prop_map(Op::WsCreate),
        1 => (0..3u8).prop_map(Op::WsSwitch),
        1 => (0..2u8).prop_map(Op::WsMerge),
        1 => (0..2u8).prop_map(Op::WsDelete),
        1 => (0..2u8).prop_map(Op::SnapCreate),
        1 => (0..2u8).prop_map(Op::SnapRestore),
        1 => (0..2u8).prop_map(Op::SnapDelete),
    ]
}

fn run_op(repo: &Repo, op: &Op) -> crate::Result<()> {
    let branch = |b: u8| format!("b{b}");
    let ws = |w: u8| {
        if w == 2 {
            "default".to_string()
        } else {
            format!("w{w}")
        }
    };
    match op {
        Op::Edit(t, v) => {
            set_table(
                repo,
                &format!("t{t}"),
                v.map(|v| format!("v{v}")).as_deref(),
            );
            Ok(())
        }
        Op::Stage(t) => ops::stage(repo, &[format!("t{t}")]),
        Op::Commit { all, amend, empty } => ops::commit(
            repo,
            &CommitOptions {
                message: "c".into(),
                all: *all,
                amend: *amend,
                allow_empty: *empty,
                author: None,
            },
        )
        .map(|_| ()),
        Op::Branch(b) => ops::create_branch(repo, &branch(*b), None).map(|_| ()),
        Op::DeleteBranch(b) => ops::delete_branch(repo, &branch(*b), true).map(|_| ()),
        Op::Switch(b) => ops::switch_branch(repo, &branch(*b)),
        Op::SwitchNew(b) => ops::switch_new_branch(repo, &branch(*b), None),
        Op::Tag(t) => ops::create_tag(repo, &format!("v{t}"), None, None, false).map(|_| ()),
        Op::DeleteTag(t) => ops::delete_tag(repo, &format!("v{t}")).map(|_| ()),
        Op::Reset(m, b) => {
            let mode = [ResetMode::Soft, ResetMode::Mixed, ResetMode::Hard][*m as usize];
            let rev = if *b == 2 {
                "HEAD~1".to_string()
            } else {
                branch(*b)
            };
            ops::reset(repo, &rev, mode).map(|_| ())
        }
        Op::Rollback => ops::rollback(repo, "HEAD~1", None).map(|_| ()),
        Op::Checkout(t) => ops::checkout_tables(repo, "HEAD~1", &[format!("t{t}")]),
        Op::WsCreate(w) => workspace::create(repo, &ws(*w), None).map(|_| ()),
        Op::WsSwitch(w) => workspace::switch(repo, &ws(*w)),
        Op::WsMerge(w) => workspace::merge(repo, &ws(*w), &Default::default()).map(|_| ()),
        Op::WsDelete(w) => workspace::delete(repo, &ws(*w), true),
        Op::SnapCreate(s) => snapshot::create(repo, &format!("s{s}"), None).map(|_| ()),
        Op::SnapRestore(s) => snapshot::restore(repo, &format!("s{s}"), true),
        Op::SnapDelete(s) => snapshot::delete(repo, &format!("s{s}")),
    }
}

/// Commits reachable from `starts` (tags peeled).
fn reachable(repo: &Repo, starts: &[ObjectId], into: &mut BTreeSet<CommitId>) {
    let mut commits = Vec::new();
    for id in starts {
        if let Ok(c) = super::revision::peel_to_commit(repo, *id, "test") {
            commits.push(c);
        }
    }
    for item in Walk::new(repo.store(), &commits).unwrap() {
        let (id, c) = item.unwrap();
        // Every reachable commit's database is readable.
        super::read_root(repo.store(), c.root).unwrap();
        into.insert(id);
    }
}

fn ref_targets(repo: &Repo) -> Vec<ObjectId> {
    let mut out = Vec::new();
    for (_, v) in repo.refs().list("refs/").unwrap() {
        if let RefValue::Direct(id) = v {
            out.push(id);
        }
    }
    for (_, ws) in repo.refs().working_sets().unwrap() {
        if let RefValue::Direct(id) = ws.head {
            out.push(id);
        }
    }
    out
}

fn check_refs_exist(repo: &Repo) {
    for (name, v) in repo.refs().list("refs/").unwrap() {
        if let RefValue::Direct(id) = v {
            assert!(repo.store().has(&id).unwrap(), "{name} names missing {id}");
        }
    }
    for (name, ws) in repo.refs().working_sets().unwrap() {
        if let RefValue::Direct(id) = ws.head {
            assert!(
                repo.store().has(&id).unwrap(),
                "HEAD of {name} names missing {id}"
            );
        }
        for root in [ws.staged, ws.working].into_iter().flatten() {
            assert!(
                root == empty_root_id() || repo.store().has(&root.id()).unwrap(),
                "workspace {name} names missing root {root}"
            );
        }
        // Every workspace's state can be read.
        WorkState::load_workspace(repo, &name).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_sequences_keep_invariants(ops in prop::collection::vec(op(), 1..40)) {
        let tmp = tempfile::tempdir().unwrap();
        let repo = test_repo(tmp.path());
        let mut ever: BTreeSet<CommitId> = BTreeSet::new();
        let mut log_names: BTreeSet<RefName> = BTreeSet::new();
        let mut workspaces: BTreeSet<WorkspaceName> = BTreeSet::new();
        let mut succeeded = 0usize;
        set_table(&repo, "t0", Some("base"));
        commit_all(&repo, "base");
        for op in &ops {
            // Operations may refuse (that is part of the test); they must never break state.
            if run_op(&repo, op).is_ok() {
                succeeded += 1;
            }
            check_refs_exist(&repo);
            reachable(&repo, &ref_targets(&repo), &mut ever);
            for (n, _) in repo.refs().list("refs/").unwrap() {
                log_names.insert(n);
            }
            for (w, _) in repo.refs().working_sets().unwrap() {
                workspaces.insert(w);
            }
        }
        // Every commit that was ever reachable is reachable from some reflog entry.
        let mut logged = Vec::new();
        let mut entries = Vec::new();
        for n in &log_names {
            entries.extend(repo.refs().reflog(n).unwrap());
        }
        for w in &workspaces {
            entries.extend(repo.refs().head_reflog(w).unwrap());
        }
        for e in entries {
            for v in [e.old, e.new].into_iter().flatten() {
                if let RefValue::Direct(id) = v {
                    logged.push(id);
                }
            }
        }
        let mut from_logs = BTreeSet::new();
        reachable(&repo, &logged, &mut from_logs);
        let lost: Vec<_> = ever.difference(&from_logs).collect();
        prop_assert!(lost.is_empty(), "commits lost from the reflog: {lost:?}");
        if std::env::var_os("KODIAK_PROPTEST_STATS").is_some() {
            eprintln!("{} ops, {succeeded} succeeded, {} commits ever reachable", ops.len(), ever.len());
        }
    }
}

// ---- row statistics and blame on real tables ----

use crate::id::TableId;
use crate::schema::{ColumnDef, RowCodec, Schema, Type, Value};
use crate::table::NodeStore;

fn keyed_schema() -> Schema {
    Schema::new(
        "t",
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::new("v", Type::Text),
        ],
        &["id"],
    )
    .unwrap()
}

/// A keyed table with rows `(id, v)`.
fn keyed_table(repo: &Repo, rows: &[(i64, &str)]) -> TableId {
    let schema = keyed_schema();
    let codec = RowCodec::new(&schema);
    let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = rows
        .iter()
        .map(|(i, v)| {
            codec
                .encode_row(&[Value::Int(*i), Value::Text(v.to_string())])
                .unwrap()
        })
        .collect();
    encoded.sort();
    let tree = NodeStore::new(repo.store().clone()).build(encoded).unwrap();
    repo.store()
        .put(&Table {
            schema: repo.store().put(&schema).unwrap(),
            rows: tree,
            row_count: rows.len() as u64,
        })
        .unwrap()
}

/// A keyless table `(v TEXT)` holding each value `count` times.
fn keyless_table(repo: &Repo, rows: &[(&str, u64)]) -> TableId {
    let schema = Schema::new("k", vec![ColumnDef::new("v", Type::Text)], &[]).unwrap();
    let codec = RowCodec::new(&schema);
    let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = rows
        .iter()
        .map(|(v, n)| {
            let (k, val) = codec.encode_row(&[Value::Text(v.to_string())]).unwrap();
            let (_, bare) = RowCodec::keyless_split(&val).unwrap();
            (k, RowCodec::keyless_join(*n, bare))
        })
        .collect();
    encoded.sort();
    let tree = NodeStore::new(repo.store().clone()).build(encoded).unwrap();
    repo.store()
        .put(&Table {
            schema: repo.store().put(&schema).unwrap(),
            rows: tree,
            row_count: rows.iter().map(|r| r.1).sum(),
        })
        .unwrap()
}

fn put_tables(repo: &Repo, tables: &[(&str, Option<TableId>)]) {
    let st = WorkState::load(repo).unwrap();
    let mut root = st.working(repo.store()).unwrap();
    for (name, t) in tables {
        match t {
            Some(t) => root.tables.insert(name.to_string(), *t),
            None => root.tables.remove(*name),
        };
    }
    st.set_working(repo, &root, "test").unwrap();
}

#[test]
fn row_stats_keyed_and_keyless() {
    use super::rows::{TableStats, table_stats};
    let tmp = tempfile::tempdir().unwrap();
    let repo = test_repo(tmp.path());
    let a = keyed_table(&repo, &[(1, "a"), (2, "b"), (3, "c")]);
    let b = keyed_table(&repo, &[(1, "a"), (2, "B"), (4, "d"), (5, "e")]);
    let s = table_stats(repo.store(), Some(a), Some(b)).unwrap();
    assert_eq!(
        s,
        TableStats {
            schema_changed: false,
            added: 2,
            modified: 1,
            deleted: 1
        }
    );
    assert_eq!(s.summary(), "+2 ~1 -1 rows");
    assert_eq!(table_stats(repo.store(), None, Some(a)).unwrap().added, 3);
    assert_eq!(table_stats(repo.store(), Some(b), None).unwrap().deleted, 4);
    assert_eq!(
        table_stats(repo.store(), Some(a), Some(a)).unwrap(),
        TableStats::default()
    );
    let k1 = keyless_table(&repo, &[("x", 2), ("y", 1)]);
    let k2 = keyless_table(&repo, &[("x", 5), ("z", 1)]);
    let s = table_stats(repo.store(), Some(k1), Some(k2)).unwrap();
    assert_eq!((s.added, s.modified, s.deleted), (4, 0, 1));
    let s = table_stats(repo.store(), Some(a), Some(k1)).unwrap();
    assert!(s.schema_changed);
}

#[test]
fn blame_attributes_rows_to_their_last_change() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = test_repo(tmp.path());
    put_tables(
        &repo,
        &[("t", Some(keyed_table(&repo, &[(1, "a"), (2, "b")])))],
    );
    let c1 = commit_all(&repo, "one");
    put_tables(
        &repo,
        &[(
            "t",
            Some(keyed_table(&repo, &[(1, "a"), (2, "B"), (3, "c")])),
        )],
    );
    let c2 = commit_all(&repo, "two");
    put_tables(&repo, &[("other", Some(keyed_table(&repo, &[(9, "z")])))]);
    let c3 = commit_all(&repo, "three");
    let (_, rows) = super::blame::blame(&repo, c3, "t", &[]).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.commit).collect::<Vec<_>>(),
        vec![c1, c2, c2]
    );
    let (_, rows) = super::blame::blame(&repo, c3, "t", &["v=a".to_string()]).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].commit, c1);
    // The table deleted and re-created: its rows start again at the re-creation.
    put_tables(&repo, &[("t", None)]);
    commit_all(&repo, "drop");
    put_tables(&repo, &[("t", Some(keyed_table(&repo, &[(1, "a")])))]);
    let c5 = commit_all(&repo, "recreate");
    let (_, rows) = super::blame::blame(&repo, c5, "t", &[]).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].commit, c5);
    assert!(super::blame::blame(&repo, c5, "nope", &[]).is_err());
}

#[test]
fn merge_state_in_the_working_set() {
    use crate::workingset::MergeState;
    let tmp = tempfile::tempdir().unwrap();
    let repo = test_repo(tmp.path());
    set_table(&repo, "a", Some("1"));
    let base = commit_all(&repo, "base");
    ops::create_branch(&repo, "other", None).unwrap();
    set_table(&repo, "a", Some("2"));
    let ours = commit_all(&repo, "ours");
    let set_merge = |conflicts: Vec<(String, TableId)>| {
        let st = WorkState::load(&repo).unwrap();
        let mut record = st.record.clone();
        record.merge = Some(MergeState {
            other: base,
            base: Some(base),
            message: "merge other".into(),
            conflicts: conflicts.into_iter().collect(),
            kind: crate::workingset::MergeKind::Merge,
            orig_staged: st.staged_root,
            orig_working: st.working_root,
        });
        repo.transaction(&st.update(record), "test: merge").unwrap();
    };
    let t = WorkState::load(&repo)
        .unwrap()
        .head(repo.store())
        .unwrap()
        .tables["a"];
    set_merge(vec![("a".into(), t)]);
    let err = ops::commit(
        &repo,
        &CommitOptions {
            message: "m".into(),
            ..CommitOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unresolved merge conflicts"),
        "{err}"
    );
    assert!(ops::switch_branch(&repo, "other").is_err());
    // Resolved: the commit gets both parents (even with no table change) and ends the merge.
    set_merge(vec![]);
    let m = ops::commit(
        &repo,
        &CommitOptions {
            message: "merge".into(),
            ..CommitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(m.commit.parents, vec![ours, base]);
    assert!(WorkState::load(&repo).unwrap().record.merge.is_none());
    // Any reset abandons a merge.
    set_merge(vec![("a".into(), t)]);
    ops::reset(&repo, "HEAD", ResetMode::Mixed).unwrap();
    assert!(WorkState::load(&repo).unwrap().record.merge.is_none());
}
