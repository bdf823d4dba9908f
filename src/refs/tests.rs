use super::*;
use crate::workingset::WorkingSet;

fn stores() -> Vec<(&'static str, Box<dyn RefStore>)> {
    let db = sled::Config::new()
        .temporary(true)
        .open()
        .expect("temporary sled db");
    vec![
        ("memory", Box::new(MemoryRefStore::new())),
        ("sled", Box::new(SledRefStore::new(&db).expect("ref trees"))),
    ]
}

fn meta(msg: &str) -> ReflogMeta {
    ReflogMeta {
        who: "Test <t@example.com>".into(),
        time: 1_700_000_000,
        tz_offset_min: 60,
        message: msg.into(),
    }
}

fn oid(s: &str) -> ObjectId {
    ObjectId::hash(s.as_bytes())
}

fn main_branch() -> RefName {
    RefName::branch("main").unwrap()
}

fn set(name: &RefName, expected: Expected<RefValue>, v: ObjectId) -> Transaction {
    Transaction::new().update_ref(name.clone(), expected, Change::Set(RefValue::Direct(v)))
}

#[test]
fn create_get_list_delete() {
    for (label, s) in stores() {
        let main = main_branch();
        let tag = RefName::tag("v1").unwrap();
        assert_eq!(s.get(&main).unwrap(), None, "{label}");
        s.transaction(&set(&main, Expected::Absent, oid("a")), &meta("create"))
            .unwrap();
        s.transaction(&set(&tag, Expected::Any, oid("t")), &meta("tag"))
            .unwrap();
        assert_eq!(
            s.get(&main).unwrap(),
            Some(RefValue::Direct(oid("a"))),
            "{label}"
        );
        let heads = s.list("refs/heads/").unwrap();
        assert_eq!(
            heads,
            vec![(main.clone(), RefValue::Direct(oid("a")))],
            "{label}"
        );
        assert_eq!(s.list("refs/").unwrap().len(), 2, "{label}");
        let del = Transaction::new().update_ref(
            main.clone(),
            Expected::Equals(RefValue::Direct(oid("a"))),
            Change::Delete,
        );
        s.transaction(&del, &meta("delete")).unwrap();
        assert_eq!(s.get(&main).unwrap(), None, "{label}");
        let log = s.reflog(&main).unwrap();
        assert_eq!(log.len(), 2, "{label}");
        assert_eq!(log[0].new, None);
        assert_eq!(log[0].old, Some(RefValue::Direct(oid("a"))));
        assert_eq!(log[0].message, "delete");
    }
}

#[test]
fn stale_update_is_refused_and_changes_nothing() {
    for (label, s) in stores() {
        let main = main_branch();
        s.transaction(&set(&main, Expected::Absent, oid("a")), &meta("c1"))
            .unwrap();
        s.transaction(
            &set(
                &main,
                Expected::Equals(RefValue::Direct(oid("a"))),
                oid("b"),
            ),
            &meta("c2"),
        )
        .unwrap();
        let log_before = s.reflog(&main).unwrap();
        let err = s
            .transaction(
                &set(
                    &main,
                    Expected::Equals(RefValue::Direct(oid("a"))),
                    oid("c"),
                ),
                &meta("stale"),
            )
            .unwrap_err();
        match &err {
            Error::RefConflict {
                name,
                expected,
                actual,
            } => {
                assert_eq!(name, "refs/heads/main", "{label}");
                assert_eq!(*expected, oid("a").to_hex());
                assert_eq!(*actual, oid("b").to_hex());
            }
            other => panic!("{label}: unexpected {other}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("refs/heads/main") && msg.contains(&oid("a").to_hex()),
            "{msg}"
        );
        assert_eq!(
            s.get(&main).unwrap(),
            Some(RefValue::Direct(oid("b"))),
            "{label}"
        );
        assert_eq!(s.reflog(&main).unwrap(), log_before, "{label}");
        // Must-not-exist on an existing ref fails too.
        let err = s
            .transaction(&set(&main, Expected::Absent, oid("d")), &meta("x"))
            .unwrap_err();
        assert!(
            err.to_string().contains("nothing (absent)"),
            "{label}: {err}"
        );
    }
}

#[test]
fn multi_ref_transaction_is_all_or_nothing() {
    for (label, s) in stores() {
        let a = RefName::branch("a").unwrap();
        let b = RefName::branch("b").unwrap();
        s.transaction(&set(&b, Expected::Absent, oid("b1")), &meta("b"))
            .unwrap();
        // `a` would succeed but `b`'s precondition fails: neither changes.
        let tx = set(&a, Expected::Absent, oid("a1")).update_ref(
            b.clone(),
            Expected::Absent,
            Change::Set(RefValue::Direct(oid("b2"))),
        );
        assert!(
            matches!(
                s.transaction(&tx, &meta("both")),
                Err(Error::RefConflict { .. })
            ),
            "{label}"
        );
        assert_eq!(s.get(&a).unwrap(), None, "{label}");
        assert!(s.reflog(&a).unwrap().is_empty(), "{label}");
        assert_eq!(
            s.get(&b).unwrap(),
            Some(RefValue::Direct(oid("b1"))),
            "{label}"
        );
        assert_eq!(s.reflog(&b).unwrap().len(), 1, "{label}");
        // Both succeed together.
        let tx = set(&a, Expected::Absent, oid("a1")).update_ref(
            b.clone(),
            Expected::Equals(RefValue::Direct(oid("b1"))),
            Change::Set(RefValue::Direct(oid("b2"))),
        );
        s.transaction(&tx, &meta("both")).unwrap();
        assert_eq!(
            s.get(&a).unwrap(),
            Some(RefValue::Direct(oid("a1"))),
            "{label}"
        );
        assert_eq!(
            s.get(&b).unwrap(),
            Some(RefValue::Direct(oid("b2"))),
            "{label}"
        );
    }
}

#[test]
fn renames_carry_the_reflog() {
    for (label, s) in stores() {
        let main = main_branch();
        let dev = RefName::branch("dev").unwrap();
        s.transaction(&set(&main, Expected::Absent, oid("1")), &meta("one"))
            .unwrap();
        s.transaction(
            &set(
                &main,
                Expected::Equals(RefValue::Direct(oid("1"))),
                oid("2"),
            ),
            &meta("two"),
        )
        .unwrap();
        let rename = Transaction::new()
            .update_ref(
                dev.clone(),
                Expected::Absent,
                Change::Set(RefValue::Direct(oid("2"))),
            )
            .update_ref(
                main.clone(),
                Expected::Equals(RefValue::Direct(oid("2"))),
                Change::Delete,
            )
            .carry_reflog(main.clone(), dev.clone());
        s.transaction(&rename, &meta("renamed")).unwrap();
        let log: Vec<String> = s
            .reflog(&dev)
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(log, ["renamed", "two", "one"], "{label}");
        // The old name's log is kept, ending with the deletion.
        let old = s.reflog(&main).unwrap();
        assert_eq!(old.len(), 3, "{label}");
        assert_eq!(old[0].new, None, "{label}");
        // Carrying to a ref the transaction does not update is refused; nothing is written.
        let bad = Transaction::new()
            .update_ref(
                main.clone(),
                Expected::Absent,
                Change::Set(RefValue::Direct(oid("3"))),
            )
            .carry_reflog(dev.clone(), RefName::branch("x").unwrap());
        assert!(s.transaction(&bad, &meta("bad")).is_err(), "{label}");
        assert_eq!(s.get(&main).unwrap(), None, "{label}");
    }
}

#[test]
fn reflog_is_newest_first_with_metadata() {
    for (label, s) in stores() {
        let main = main_branch();
        let mut prev = None;
        for i in 0..5 {
            let v = oid(&i.to_string());
            let expected = prev.clone().map_or(Expected::Absent, Expected::Equals);
            s.transaction(&set(&main, expected, v), &meta(&format!("step {i}")))
                .unwrap();
            prev = Some(RefValue::Direct(v));
        }
        let log = s.reflog(&main).unwrap();
        assert_eq!(log.len(), 5, "{label}");
        assert_eq!(log[0].message, "step 4");
        assert_eq!(log[4].message, "step 0");
        assert_eq!(log[4].old, None);
        assert_eq!(log[0].old, Some(RefValue::Direct(oid("3"))));
        assert_eq!(log[0].who, "Test <t@example.com>");
        assert_eq!((log[0].time, log[0].tz_offset_min), (1_700_000_000, 60));
        // A ref whose name extends another's keeps a separate log.
        let longer = RefName::branch("main2").unwrap();
        s.transaction(&set(&longer, Expected::Any, oid("x")), &meta("other"))
            .unwrap();
        assert_eq!(s.reflog(&main).unwrap().len(), 5, "{label}");
        assert_eq!(s.reflog(&longer).unwrap().len(), 1, "{label}");
    }
}

#[test]
fn head_lives_in_the_working_set() {
    for (label, s) in stores() {
        let main = main_branch();
        let ws = WorkspaceName::default_workspace();
        assert_eq!(s.get(&RefName::head()).unwrap(), None, "{label}");
        let init = Transaction::new().update_working_set(
            ws.clone(),
            Expected::Absent,
            Change::Set(WorkingSet::on_branch(main.clone())),
        );
        s.transaction(&init, &meta("init")).unwrap();
        assert_eq!(
            s.get(&RefName::head()).unwrap(),
            Some(RefValue::Symbolic(main.clone())),
            "{label}"
        );
        let resolved = s.resolve(&RefName::head()).unwrap();
        assert_eq!(resolved.chain, vec![RefName::head(), main.clone()]);
        assert_eq!(resolved.target, None, "unborn");

        // Commit on the branch and detach HEAD in one transaction.
        let tx = set(&main, Expected::Absent, oid("c1")).update_ref(
            RefName::head(),
            Expected::Equals(RefValue::Symbolic(main.clone())),
            Change::Set(RefValue::Direct(oid("c1"))),
        );
        s.transaction(&tx, &meta("detach")).unwrap();
        assert_eq!(
            s.resolve(&RefName::head()).unwrap().target,
            Some(oid("c1")),
            "{label}"
        );
        let ws_rec = s.working_set(&ws).unwrap().unwrap();
        assert_eq!(ws_rec.head, RefValue::Direct(oid("c1")));
        let log = s.reflog(&RefName::head()).unwrap();
        assert_eq!(log.len(), 2, "{label}");
        assert_eq!(log[0].message, "detach");
        assert_eq!(log[1].message, "init");
        assert_eq!(log, s.head_reflog(&ws).unwrap());

        // HEAD cannot be deleted, nor pointed at a tag.
        let del = Transaction::new().update_ref(RefName::head(), Expected::Any, Change::Delete);
        assert!(s.transaction(&del, &meta("x")).is_err());
        let tag = Transaction::new().update_ref(
            RefName::head(),
            Expected::Any,
            Change::Set(RefValue::Symbolic(RefName::tag("v1").unwrap())),
        );
        assert!(s.transaction(&tag, &meta("x")).is_err());
        // Updating HEAD and the same working set at once is ambiguous.
        let both = Transaction::new()
            .update_ref(
                RefName::head(),
                Expected::Any,
                Change::Set(RefValue::Direct(oid("z"))),
            )
            .update_working_set(
                ws.clone(),
                Expected::Any,
                Change::Set(WorkingSet::on_branch(main.clone())),
            );
        assert!(s.transaction(&both, &meta("x")).is_err());
        assert_eq!(s.reflog(&RefName::head()).unwrap().len(), 2, "{label}");
    }
}

#[test]
fn working_set_cas_and_workspaces() {
    for (label, s) in stores() {
        let main = main_branch();
        let def = WorkspaceName::default_workspace();
        let other = WorkspaceName::new("other").unwrap();
        let w0 = WorkingSet::on_branch(main.clone());
        s.transaction(
            &Transaction::new().update_working_set(
                def.clone(),
                Expected::Absent,
                Change::Set(w0.clone()),
            ),
            &meta("init"),
        )
        .unwrap();
        let mut w1 = w0.clone();
        w1.working = Some(crate::id::RootId::new(oid("r")));
        s.transaction(
            &Transaction::new().update_working_set(
                def.clone(),
                Expected::Equals(w0.clone()),
                Change::Set(w1.clone()),
            ),
            &meta("edit"),
        )
        .unwrap();
        // Only HEAD changes are logged.
        assert_eq!(s.head_reflog(&def).unwrap().len(), 1, "{label}");
        let err = s
            .transaction(
                &Transaction::new().update_working_set(
                    def.clone(),
                    Expected::Equals(w0.clone()),
                    Change::Set(w0.clone()),
                ),
                &meta("stale"),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("workspace default"),
            "{label}: {err}"
        );
        assert_eq!(s.working_set(&def).unwrap(), Some(w1.clone()), "{label}");

        // Switching to a missing workspace fails; creating and switching at once works.
        assert!(
            s.transaction(
                &Transaction::new().switch_workspace(other.clone()),
                &meta("x")
            )
            .is_err()
        );
        assert_eq!(s.current_workspace().unwrap(), def, "{label}");
        let create = Transaction::new()
            .update_working_set(
                other.clone(),
                Expected::Absent,
                Change::Set(WorkingSet::on_branch(RefName::branch("dev").unwrap())),
            )
            .switch_workspace(other.clone());
        s.transaction(&create, &meta("new workspace")).unwrap();
        assert_eq!(s.current_workspace().unwrap(), other, "{label}");
        assert_eq!(
            s.get(&RefName::head()).unwrap(),
            Some(RefValue::Symbolic(RefName::branch("dev").unwrap())),
            "{label}"
        );
        assert_eq!(s.working_sets().unwrap().len(), 2, "{label}");
        // The current workspace cannot be deleted.
        let del =
            Transaction::new().update_working_set(other.clone(), Expected::Any, Change::Delete);
        assert!(s.transaction(&del, &meta("x")).is_err(), "{label}");
    }
}

#[test]
fn invalid_transactions() {
    for (label, s) in stores() {
        let main = main_branch();
        let twice = set(&main, Expected::Any, oid("a")).update_ref(
            main.clone(),
            Expected::Any,
            Change::Delete,
        );
        assert!(
            matches!(s.transaction(&twice, &meta("x")), Err(Error::Invalid(_))),
            "{label}"
        );
        let self_ref = Transaction::new().update_ref(
            main.clone(),
            Expected::Any,
            Change::Set(RefValue::Symbolic(main.clone())),
        );
        assert!(s.transaction(&self_ref, &meta("x")).is_err(), "{label}");
        assert!(s.list("").unwrap().is_empty(), "{label}");
    }
}

#[test]
fn symbolic_loops_are_errors() {
    let s = MemoryRefStore::new();
    let a = RefName::branch("a").unwrap();
    let b = RefName::branch("b").unwrap();
    let tx = Transaction::new()
        .update_ref(
            a.clone(),
            Expected::Any,
            Change::Set(RefValue::Symbolic(b.clone())),
        )
        .update_ref(
            b.clone(),
            Expected::Any,
            Change::Set(RefValue::Symbolic(a.clone())),
        );
    s.transaction(&tx, &meta("loop")).unwrap();
    assert!(s.resolve(&a).unwrap_err().to_string().contains("loops"));
}

#[test]
fn corrupt_ref_record_is_reported() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let s = SledRefStore::new(&db).unwrap();
    db.open_tree(REFS_TREE)
        .unwrap()
        .insert("refs/heads/main", &[1u8, 7][..])
        .unwrap();
    let err = s.get(&main_branch()).unwrap_err();
    assert!(err.to_string().contains("ref refs/heads/main"), "{err}");
}

#[test]
fn ref_value_encoding_is_pinned() {
    let v = RefValue::Symbolic(main_branch());
    let mut expected = vec![1u8, 1, 15];
    expected.extend_from_slice(b"refs/heads/main");
    assert_eq!(encode_ref_value(&v), expected);
    let d = RefValue::Direct(oid("a"));
    let bytes = encode_ref_value(&d);
    assert_eq!(bytes.len(), 2 + 32);
    assert_eq!(&bytes[..2], &[1, 0]);
    assert_eq!(decode_ref_value(&bytes, "x").unwrap(), d);
    assert!(decode_ref_value(&[2, 0], "x").is_err());
}

mod model {
    use super::*;
    use proptest::prelude::*;

    fn value(i: u8) -> RefValue {
        match i % 4 {
            3 => RefValue::Symbolic(RefName::branch("b0").unwrap()),
            n => RefValue::Direct(oid(&n.to_string())),
        }
    }

    fn expected(sel: u8, v: u8) -> Expected<RefValue> {
        match sel % 3 {
            0 => Expected::Any,
            1 => Expected::Absent,
            _ => Expected::Equals(value(v)),
        }
    }

    fn update(op: &(u8, u8, u8, u8, bool)) -> RefUpdate {
        let (r, sel, ev, nv, delete) = *op;
        RefUpdate {
            name: RefName::branch(&format!("b{}", r % 3)).unwrap(),
            expected: expected(sel, ev),
            change: if delete {
                Change::Delete
            } else {
                Change::Set(value(nv))
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The sled and memory stores agree on every outcome, final state and reflog.
        #[test]
        fn sled_matches_memory(txs in proptest::collection::vec(
            proptest::collection::vec((0u8..3, 0u8..3, 0u8..4, 0u8..4, any::<bool>()), 1..3), 1..12)) {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let sled_store = SledRefStore::new(&db).unwrap();
            let mem = MemoryRefStore::new();
            for (i, ops) in txs.iter().enumerate() {
                let tx = Transaction { refs: ops.iter().map(update).collect(), ..Transaction::default() };
                let m = meta(&format!("tx {i}"));
                let a = mem.transaction(&tx, &m).map_err(|e| e.to_string());
                let b = sled_store.transaction(&tx, &m).map_err(|e| e.to_string());
                prop_assert_eq!(a, b);
            }
            prop_assert_eq!(mem.list("").unwrap(), sled_store.list("").unwrap());
            for r in 0..3 {
                let name = RefName::branch(&format!("b{r}")).unwrap();
                prop_assert_eq!(mem.reflog(&name).unwrap(), sled_store.reflog(&name).unwrap());
            }
        }
    }
}
