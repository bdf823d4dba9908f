use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use proptest::prelude::*;

use super::chunk::{ChunkParams, DEFAULT_PARAMS, key_hash};
use super::*;
use crate::object::{self, DecodeError, Object};
use crate::store::{MemoryStore, ObjectStore};

type Edits = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

fn ed(e: &Edits) -> impl Iterator<Item = (&Vec<u8>, Option<&Vec<u8>>)> {
    e.iter().map(|(k, v)| (k, v.as_ref()))
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
type Changes = Vec<(Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>)>;

/// Small nodes so that a few hundred rows make a tree several levels deep.
const SMALL: ChunkParams = ChunkParams {
    min_entries: 2,
    max_entries: 24,
    max_bytes: 400,
    threshold: u64::MAX / 4,
};

fn small_store() -> (NodeStore, Arc<MemoryStore>) {
    let mem = Arc::new(MemoryStore::new());
    let ns = NodeStore::with_params(Store::new(mem.clone()), SMALL);
    (ns, mem)
}

/// Overwrites the last leaf of the tree under `root` in `mem` with a malformed node.
fn damage_last_leaf(ns: &NodeStore, mem: &MemoryStore, root: NodeId) {
    let mut node = ns.load(root).unwrap();
    while !node.is_leaf() {
        let child = node.child(node.len() - 1);
        if node.level() == 1 {
            mem.overwrite_stored(child.id(), vec![0, 2, 1, 0, 0]);
        }
        node = ns.load(child).unwrap();
    }
}

fn key(k: u16) -> Vec<u8> {
    k.to_be_bytes().to_vec()
}

fn scan_all(ns: &NodeStore, root: NodeId) -> Model {
    ns.scan(root)
        .map(|r| r.map(|r| (r.key().to_vec(), r.value().to_vec())))
        .collect::<Result<_>>()
        .unwrap()
}

fn height(ns: &NodeStore, root: NodeId) -> u8 {
    ns.load(root).unwrap().level()
}

fn naive_diff(a: &Model, b: &Model) -> Changes {
    let keys: std::collections::BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| ((*k).clone(), a.get(k).cloned(), b.get(k).cloned()))
        .collect()
}

fn tree_diff(ns: &NodeStore, a: NodeId, b: NodeId) -> Changes {
    ns.diff(a, b)
        .map(|d| {
            let d = d.unwrap();
            (
                d.key().to_vec(),
                d.old_value().map(<[u8]>::to_vec),
                d.new_value().map(<[u8]>::to_vec),
            )
        })
        .collect()
}

fn diff_on(ns: &NodeStore, a: NodeId, b: NodeId, threads: usize) -> Changes {
    ns.diff(a, b)
        .with_threads(threads)
        .split_small()
        .map(|d| {
            let d = d.unwrap();
            (
                d.key().to_vec(),
                d.old_value().map(<[u8]>::to_vec),
                d.new_value().map(<[u8]>::to_vec),
            )
        })
        .collect()
}

fn apply_model(model: &mut Model, edits: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
    for (k, v) in edits {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

fn arb_model(max_key: u16, max_rows: usize) -> impl Strategy<Value = Model> {
    prop::collection::btree_map(
        (0..max_key).prop_map(key),
        prop::collection::vec(any::<u8>(), 0..40),
        0..max_rows,
    )
}

fn arb_edits(
    max_key: u16,
    max_edits: usize,
) -> impl Strategy<Value = BTreeMap<Vec<u8>, Option<Vec<u8>>>> {
    prop::collection::btree_map(
        (0..max_key).prop_map(key),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        0..max_edits,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn build_get_scan_count_match_model(model in arb_model(600, 400), probes in prop::collection::vec(0u16..650, 0..30)) {
        let (ns, _) = small_store();
        let root = ns.build(&model).unwrap();
        prop_assert_eq!(ns.count(root).unwrap(), model.len() as u64);
        prop_assert_eq!(scan_all(&ns, root), model.clone());
        for p in probes {
            let k = key(p);
            let got = ns.get(root, &k).unwrap().map(|r| r.value().to_vec());
            prop_assert_eq!(got.as_ref(), model.get(&k));
        }
        for (k, v) in model.iter().take(20) {
            let got = ns.get(root, k).unwrap().map(|r| r.value().to_vec());
            prop_assert_eq!(got.as_ref(), Some(v));
        }
    }

    #[test]
    fn range_matches_model(model in arb_model(300, 200), lo in 0u16..320, len in 0u16..200, lo_incl: bool, hi_incl: bool) {
        let (ns, _) = small_store();
        let root = ns.build(&model).unwrap();
        let (lo_k, hi_k) = (key(lo), key(lo.saturating_add(len)));
        let start = if lo_incl { Bound::Included(&lo_k[..]) } else { Bound::Excluded(&lo_k[..]) };
        let end = if hi_incl { Bound::Included(&hi_k[..]) } else { Bound::Excluded(&hi_k[..]) };
        let got: Vec<(Vec<u8>, Vec<u8>)> = ns.range(root, start, end)
            .map(|r| r.map(|r| (r.key().to_vec(), r.value().to_vec())))
            .collect::<Result<_>>().unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter()
            .filter(|(k, _)| std::ops::RangeBounds::<&[u8]>::contains(&(start, end), &&k[..]))
            .map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn apply_equals_fresh_build(model in arb_model(500, 300), edits in arb_edits(520, 80), edits2 in arb_edits(520, 20)) {
        let (ns, _) = small_store();
        let root = ns.build(&model).unwrap();
        let mut want = model.clone();
        apply_model(&mut want, &edits);
        let root2 = ns.apply(root, ed(&edits)).unwrap();
        prop_assert_eq!(scan_all(&ns, root2), want.clone());
        prop_assert_eq!(ns.count(root2).unwrap(), want.len() as u64);
        prop_assert_eq!(root2, ns.build(&want).unwrap());
        apply_model(&mut want, &edits2);
        let root3 = ns.apply(root2, ed(&edits2)).unwrap();
        prop_assert_eq!(root3, ns.build(&want).unwrap());
    }

    #[test]
    fn history_independence(model in arb_model(400, 250), seed in any::<u64>(), batches in 1usize..8) {
        let (ns, _) = small_store();
        let want = ns.build(&model).unwrap();
        // A pseudo-random order and batching of the same inserts, plus a detour through
        // rows that are inserted and deleted again.
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
        let mut s = seed | 1;
        for i in (1..rows.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            rows.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut root = ns.empty().unwrap();
        let per = rows.len() / batches + 1;
        for chunk in rows.chunks(per) {
            let mut batch: BTreeMap<Vec<u8>, Option<Vec<u8>>> =
                chunk.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
            batch.insert(vec![0xff, 0xff, 0x01], Some(vec![1; 30]));
            root = ns.apply(root, ed(&batch)).unwrap();
        }
        root = ns.apply(root, [(vec![0xffu8, 0xff, 0x01], None::<Vec<u8>>)]).unwrap();
        prop_assert_eq!(root, want);
    }

    #[test]
    fn diff_matches_naive(model in arb_model(500, 300), edits in arb_edits(520, 60)) {
        let (ns, _) = small_store();
        let a = ns.build(&model).unwrap();
        let mut m2 = model.clone();
        apply_model(&mut m2, &edits);
        let b = ns.apply(a, ed(&edits)).unwrap();
        prop_assert_eq!(tree_diff(&ns, a, b), naive_diff(&model, &m2));
        prop_assert_eq!(tree_diff(&ns, b, a), naive_diff(&m2, &model));
    }

    #[test]
    fn diff_on_many_threads_matches_naive(
        model in arb_model(500, 400),
        edits in arb_edits(520, 80),
        threads in 2usize..5,
    ) {
        let (ns, _) = small_store();
        let a = ns.build(&model).unwrap();
        let mut m2 = model.clone();
        apply_model(&mut m2, &edits);
        let b = ns.apply(a, ed(&edits)).unwrap();
        prop_assert_eq!(diff_on(&ns, a, b, threads), naive_diff(&model, &m2));
        prop_assert_eq!(diff_on(&ns, b, a, threads), naive_diff(&m2, &model));
    }

    #[test]
    fn mapped_diff_on_many_threads_matches_naive(
        model in arb_model(500, 400),
        edits in arb_edits(520, 80),
        threads in 1usize..5,
        modulus in 1u8..4,
    ) {
        let (ns, _) = small_store();
        let a = ns.build(&model).unwrap();
        let mut m2 = model.clone();
        apply_model(&mut m2, &edits);
        let b = ns.apply(a, ed(&edits)).unwrap();
        let map = KeyMod { modulus, fail_at: None, _live: Arc::new(()) };
        let got: Vec<_> = ns
            .diff_map(a, b, map)
            .with_threads(threads)
            .split_small()
            .collect::<Result<_>>()
            .unwrap();
        let want: Changes = naive_diff(&model, &m2)
            .into_iter()
            .filter(|(k, _, _)| k[1] % modulus == 0)
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn rows_of_any_length_round_trip_through_nodes(
        rows in prop::collection::btree_map(
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(any::<u8>(), 0..300),
            0..40,
        ),
    ) {
        // Lengths of 128 and more take two varint bytes: the decoder's slow path, mixed
        // with one-byte lengths in one node.
        let (ns, _) = small_store();
        let root = ns.build(&rows).unwrap();
        prop_assert_eq!(scan_all(&ns, root), rows.clone());
        let cold = NodeStore::with_params(ns.store().clone(), SMALL);
        prop_assert_eq!(scan_all(&cold, root), rows);
    }

    #[test]
    fn equal_run_counts_equal_row_pairs(
        a in prop::collection::btree_map(
            prop::collection::vec(0u8..3, 0..4),
            prop::collection::vec(0u8..2, 0..3),
            0..60,
        ),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..4),
        i in any::<prop::sample::Index>(),
        j in any::<prop::sample::Index>(),
    ) {
        // Leaves of up to 60 short rows (one node with these parameters), the second a
        // copy of the first with a few rows removed or changed.
        let params = ChunkParams { min_entries: 1, max_entries: 1024, max_bytes: 1 << 20, threshold: 0 };
        let ns = NodeStore::with_params(Store::new(Arc::new(MemoryStore::new())), params);
        let mut b = a.clone();
        for (at, remove) in &flips {
            if b.is_empty() {
                break;
            }
            let k = b.keys().nth(at.index(b.len())).cloned().unwrap();
            if *remove {
                b.remove(&k);
            } else {
                b.get_mut(&k).unwrap().push(9);
            }
        }
        let (na, nb) = (ns.load(ns.build(&a).unwrap()).unwrap(), ns.load(ns.build(&b).unwrap()).unwrap());
        prop_assert!(na.is_leaf() && nb.is_leaf());
        let (i, j) = (i.index(na.len() + 1), j.index(nb.len() + 1));
        let naive = (0..)
            .take_while(|&r| {
                i + r < na.len()
                    && j + r < nb.len()
                    && na.key(i + r) == nb.key(j + r)
                    && na.value(i + r) == nb.value(j + r)
            })
            .count();
        prop_assert_eq!(na.equal_run(i, &nb, j), naive);
        // Aligned positions exercise long runs.
        let k = i.min(nb.len());
        let naive_aligned = (k..na.len().min(nb.len()))
            .take_while(|&r| na.key(r) == nb.key(r) && na.value(r) == nb.value(r))
            .count();
        prop_assert_eq!(na.equal_run(k, &nb, k), naive_aligned);
    }

    #[test]
    fn cmp_keys_is_slice_order(
        a in prop::collection::vec(0u8..4, 0..20),
        b in prop::collection::vec(0u8..4, 0..20),
    ) {
        prop_assert_eq!(node::cmp_keys(&a, &b), a.cmp(&b));
        let mut c = a.clone();
        c.extend_from_slice(&b);
        prop_assert_eq!(node::cmp_keys(&a, &c), a.cmp(&c));
        prop_assert_eq!(node::cmp_keys(&c, &a), c.cmp(&a));
    }

    #[test]
    fn diff3_matches_naive(
        model in arb_model(400, 300),
        e1 in arb_edits(420, 40),
        e2 in arb_edits(420, 40),
        threads in 1usize..5,
    ) {
        let (ns, _) = small_store();
        let base = ns.build(&model).unwrap();
        let (mut m1, mut m2) = (model.clone(), model.clone());
        apply_model(&mut m1, &e1);
        apply_model(&mut m2, &e2);
        let ours = ns.apply(base, ed(&e1)).unwrap();
        let theirs = ns.apply(base, ed(&e2)).unwrap();
        let got: Vec<_> = ns.diff3(base, ours, theirs).with_threads(threads).split_small().map(|r| {
            let r = r.unwrap();
            let v = |x: &Option<Row>| x.as_ref().map(|r| r.value().to_vec());
            (r.key().to_vec(), v(&r.base), v(&r.ours), v(&r.theirs))
        }).collect();
        let keys: std::collections::BTreeSet<&Vec<u8>> = model.keys().chain(m1.keys()).chain(m2.keys()).collect();
        let want: Vec<_> = keys.into_iter()
            .filter(|k| model.get(*k) != m1.get(*k) || model.get(*k) != m2.get(*k))
            .map(|k| (k.clone(), model.get(k).cloned(), m1.get(k).cloned(), m2.get(k).cloned()))
            .collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn empty_tree_is_an_empty_leaf() {
    let (ns, _) = small_store();
    let e = ns.empty().unwrap();
    assert_eq!(e, ns.build(Vec::<(Vec<u8>, Vec<u8>)>::new()).unwrap());
    assert_eq!(object::encode(&*ns.load(e).unwrap()), vec![2, 1, 0, 0]);
    assert_eq!(ns.count(e).unwrap(), 0);
    assert!(ns.get(e, b"x").unwrap().is_none());
    assert_eq!(ns.scan(e).count(), 0);
    // Deleting every row returns to the empty tree.
    let root = ns
        .build((0..300u16).map(|i| (key(i), vec![1u8; 3])))
        .unwrap();
    let root = ns
        .apply(root, (0..300u16).map(|i| (key(i), None::<Vec<u8>>)))
        .unwrap();
    assert_eq!(root, e);
    assert_eq!(tree_diff(&ns, e, e), vec![]);
}

#[test]
fn unsorted_input_is_rejected() {
    let (ns, _) = small_store();
    let err = ns
        .build([(b"b".to_vec(), vec![]), (b"a".to_vec(), vec![])])
        .unwrap_err();
    assert!(err.to_string().contains("not greater"), "{err}");
    assert!(
        ns.build([(b"a".to_vec(), vec![]), (b"a".to_vec(), vec![])])
            .is_err()
    );
    let e = ns.empty().unwrap();
    let err = ns
        .apply(e, [(b"b".to_vec(), Some(vec![])), (b"a".to_vec(), None)])
        .unwrap_err();
    assert!(err.to_string().contains("not greater"), "{err}");
}

#[test]
fn one_edit_writes_only_its_path() {
    let (ns, mem) = small_store();
    let rows: Model = (0..3000u16)
        .map(|i| (key(i), vec![(i % 251) as u8; 12]))
        .collect();
    let root = ns.build(&rows).unwrap();
    let h = height(&ns, root);
    assert!(h >= 3, "tree of height {h} is too shallow for this test");
    for probe in [0u16, 1234, 2999] {
        let before = mem.ids().count();
        let root2 = ns
            .apply(root, [(key(probe), Some(vec![0xee; 13]))])
            .unwrap();
        assert_ne!(root2, root, "probe {probe}");
        assert_eq!(
            mem.ids().count() - before,
            usize::from(h) + 1,
            "probe {probe}"
        );
        assert_eq!(tree_diff(&ns, root, root2).len(), 1);
        // Writing the same value back restores the old root and writes nothing new.
        let before = mem.ids().count();
        assert_eq!(
            ns.apply(root2, [(key(probe), Some(vec![(probe % 251) as u8; 12]))])
                .unwrap(),
            root
        );
        assert_eq!(mem.ids().count(), before);
    }
}

#[test]
fn value_edits_never_move_boundaries() {
    let (ns, _) = small_store();
    // Values well below `max_bytes` per node: boundaries depend on keys only.
    let a = ns
        .build((0..2000u16).map(|i| (key(i), vec![1u8; 1])))
        .unwrap();
    let b = ns
        .build((0..2000u16).map(|i| (key(i), vec![2u8; 9])))
        .unwrap();
    let shape = |root: NodeId| -> Vec<usize> {
        let mut leaves = Vec::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            let n = ns.load(id).unwrap();
            if n.is_leaf() {
                leaves.push(n.len());
            } else {
                stack.extend((0..n.len()).rev().map(|i| n.child(i)));
            }
        }
        leaves
    };
    assert_eq!(shape(a), shape(b));
}

#[test]
fn huge_values_hit_the_byte_maximum() {
    let (ns, _) = small_store();
    let rows: Model = (0..50u16).map(|i| (key(i), vec![7u8; 300])).collect();
    let root = ns.build(&rows).unwrap();
    let mut leaf = ns.load(root).unwrap();
    while !leaf.is_leaf() {
        leaf = ns.load(leaf.child(0)).unwrap();
    }
    // 2 + 300 bytes per entry: the second entry reaches the 400-byte maximum.
    assert!(leaf.len() <= 2);
    assert_eq!(scan_all(&ns, root), rows);
}

#[test]
fn default_params_make_about_4k_nodes() {
    let ns = NodeStore::new(Store::memory());
    assert_eq!(ns.params(), DEFAULT_PARAMS);
    let n = 20_000u32;
    let root = ns
        .build((0..n).map(|i| ((u64::from(i) * 7919).to_be_bytes(), [i as u8; 26])))
        .unwrap();
    let top = ns.load(root).unwrap();
    assert_eq!(top.row_count(), u64::from(n));
    let leaves: u64 = if top.level() == 1 {
        top.len() as u64
    } else {
        (0..top.len())
            .map(|i| ns.load(top.child(i)).unwrap().len() as u64)
            .sum()
    };
    let avg = u64::from(n) / leaves;
    assert!((70..=160).contains(&avg), "{avg} rows per leaf");
}

#[test]
fn key_hash_is_pinned() {
    // These values fix node boundaries, hence ids, forever.
    assert_eq!(key_hash(b"", 0), 0xefd01f60ba992926);
    assert_eq!(key_hash(b"a", 0), 0x6da0cbcacfb66611);
    assert_eq!(key_hash(b"a", 1), 0xbd453fa492d60cee);
    assert_eq!(key_hash(b"0123456789abcdef!", 3), 0x3874c6adf5eb5dbf);
}

#[test]
fn node_round_trips_and_ids_are_pinned() {
    let (ns, _) = small_store();
    let root = ns
        .build([
            (b"k1".to_vec(), b"v1".to_vec()),
            (b"k2".to_vec(), b"".to_vec()),
        ])
        .unwrap();
    let node = ns.load(root).unwrap();
    let bytes = object::encode(&*node);
    assert_eq!(
        bytes,
        [2, 1, 0, 2, 2, 2, b'k', b'1', b'k', b'2', 2, 0, b'v', b'1']
    );
    let decoded: Node = object::decode(&bytes).unwrap();
    assert_eq!(decoded, Node::parse(bytes.clone(), 2, true).unwrap());
    assert_eq!(object::id_of(&decoded), root);
    assert_eq!(decoded.key(1), b"k2");
    assert_eq!(decoded.value(0), b"v1");
}

fn decode_err(payload: &[u8]) -> DecodeError {
    match Node::decode_payload(payload, 1) {
        Err(e) => e,
        Ok(n) => panic!("{payload:?} decoded as {n:?}"),
    }
}

#[test]
fn malformed_payloads_are_decode_errors() {
    let id = [9u8; 32];
    let internal = |count: u8| {
        let mut p = vec![1, 1, 1, b'a'];
        p.extend_from_slice(&id);
        p.push(count);
        p
    };
    assert!(Node::decode_payload(&internal(3), 1).is_ok());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "level"),
        (vec![0], "varint"),
        (vec![0, 1, 1, b'a', 1], "need"),
        (vec![0, 2, 1, 1, b'b', b'a', 0, 0], "ascending"),
        (vec![0, 2, 1, 1, b'a', b'a', 0, 0], "ascending"),
        (vec![0, 1, 1, b'a', 0, 0], "trailing"),
        (vec![0, 1, 5, b'a', 0], "need"),
        (vec![0, 1, 1, b'a', 3, b'x'], "need"),
        (vec![0, 0x80, 0x00], "non-minimal"),
        (vec![0, 200, 1], "does not fit"),
        (vec![1, 0], "no children"),
        (internal(0), "zero"),
        (internal(3)[..20].to_vec(), "fit"),
        ([internal(3), vec![0]].concat(), "trailing"),
        (
            vec![
                0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            "overflows",
        ),
    ];
    for (payload, what) in cases {
        let e = decode_err(&payload);
        assert!(e.to_string().contains(what), "{payload:?}: {e}");
    }
    assert!(Node::decode_payload(&[0, 0], 2).is_err());
}

#[test]
fn corrupted_nodes_are_errors() {
    let (ns, mem) = small_store();
    let rows: Model = (0..500u16).map(|i| (key(i), vec![3u8; 5])).collect();
    let root = ns.build(&rows).unwrap();
    let top = ns.load(root).unwrap();
    let victim = top.child(0);
    // A fresh node store has a cold cache and must read the damaged bytes.
    mem.overwrite_stored(victim.id(), vec![0, 2, 1, 0, 0]);
    let cold = NodeStore::with_params(ns.store().clone(), SMALL);
    let err = cold.get(root, &key(0)).unwrap_err();
    assert!(
        matches!(err, crate::Error::Corrupt { id, .. } if id == victim.id()),
        "{err}"
    );
    assert!(cold.scan(root).any(|r| r.is_err()));
    let other = cold.build([(key(0), vec![1])]).unwrap();
    assert!(cold.diff(root, other).any(|r| r.is_err()));
    // Bytes that hash correctly but are not a valid node are a decode error.
    let bad = vec![2u8, 1, 0, 2, 1, 1, b'b', b'a', 0, 0];
    let bad_id = ns.store().put_canonical(&bad).unwrap();
    let err = cold.load(NodeId::new(bad_id)).unwrap_err();
    assert!(matches!(err, crate::Error::Decode { .. }), "{err}");
}

#[test]
fn diff_skips_shared_subtrees() {
    let (ns, _) = small_store();
    let rows: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let a = ns.build(&rows).unwrap();
    let b = ns.apply(a, [(key(1500), Some(vec![2u8; 8]))]).unwrap();
    // With a cold cache, only the changed path and its neighbours are read.
    let mem2 = Arc::new(MemoryStore::new());
    for id in ns.store().backend().ids() {
        let id = id.unwrap();
        let stored = ns.store().backend().get_stored(&id).unwrap().unwrap();
        mem2.put_stored_batch(vec![(id, stored)]).unwrap();
    }
    let counting = Arc::new(ProbeStore::over(mem2));
    let cold = NodeStore::with_params(Store::new(counting.clone()), SMALL);
    assert_eq!(cold.diff(a, b).count(), 1);
    let gets = counting.gets.load(std::sync::atomic::Ordering::Relaxed);
    let h = usize::from(height(&ns, a));
    // Each side reads the changed path, and the parallel worker seeks to its split key.
    assert!(gets <= 4 * (h + 1), "{gets} node reads for height {h}");
}

#[test]
fn diff_with_changes_on_both_halves() {
    let (ns, _) = small_store();
    let mut model: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let a = ns.build(&model).unwrap();
    assert!(height(&ns, a) >= 2);
    let edits: Edits = (0..3000u16)
        .step_by(7)
        .map(|i| (key(i), if i % 2 == 0 { Some(vec![2u8; 8]) } else { None }))
        .chain([(key(5000), Some(vec![3u8]))])
        .collect();
    let b = ns.apply(a, ed(&edits)).unwrap();
    let old = model.clone();
    apply_model(&mut model, &edits);
    assert_eq!(tree_diff(&ns, a, b), naive_diff(&old, &model));
    for threads in 2..=4 {
        let mut d = ns.diff(a, b).with_threads(threads).split_small();
        assert!(d.next().is_some());
        assert_eq!(d.workers(), threads - 1, "{threads} threads");
        assert_eq!(diff_on(&ns, a, b, threads), naive_diff(&old, &model));
        assert_eq!(diff_on(&ns, b, a, threads), naive_diff(&model, &old));
        // Dropping a diff early stops and joins its workers: their node store clones
        // (sharing the cache) are gone once it returns.
        drop(d);
        assert_eq!(Arc::strong_count(&ns.cache), 1);
    }
}

/// A three-way diff row as its key and base, our and their values.
type Values3 = (Vec<u8>, [Option<Vec<u8>>; 3]);

/// The three-way diff as key and values.
fn diff3_values(d: Diff3) -> Vec<Values3> {
    let v = |x: &Option<Row>| x.as_ref().map(|r| r.value().to_vec());
    d.map(|r| {
        let r = r.unwrap();
        (r.key().to_vec(), [v(&r.base), v(&r.ours), v(&r.theirs)])
    })
    .collect()
}

#[test]
fn diff3_with_changes_on_both_halves_splits() {
    let (ns, _) = small_store();
    let model: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let base = ns.build(&model).unwrap();
    assert!(height(&ns, base) >= 2);
    // Ours edits the first half only, theirs the second half and one key past the end.
    let e1: Edits = (0..1500u16)
        .step_by(7)
        .map(|i| (key(i), Some(vec![2u8; 8])))
        .collect();
    let e2: Edits = (1500..3000u16)
        .step_by(5)
        .map(|i| (key(i), if i % 2 == 0 { Some(vec![3u8; 8]) } else { None }))
        .chain([(key(5000), Some(vec![4u8]))])
        .collect();
    let ours = ns.apply(base, ed(&e1)).unwrap();
    let theirs = ns.apply(base, ed(&e2)).unwrap();
    let want = diff3_values(ns.diff3(base, ours, theirs).with_threads(1));
    assert_eq!(want.len(), e1.len() + e2.len());
    for threads in 2..=4 {
        let mut d = ns
            .diff3(base, ours, theirs)
            .with_threads(threads)
            .split_small();
        assert!(d.next().is_some());
        assert_eq!(d.workers(), threads - 1, "{threads} threads");
        let got = diff3_values(
            ns.diff3(base, ours, theirs)
                .with_threads(threads)
                .split_small(),
        );
        assert_eq!(got, want, "{threads} threads");
        drop(d);
        assert_eq!(Arc::strong_count(&ns.cache), 1);
    }
}

#[test]
fn diff3_worker_error_is_reported_once() {
    let (ns, mem) = small_store();
    let model: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let base = ns.build(&model).unwrap();
    let edits = |v: u8| -> Edits {
        (0..3000u16)
            .step_by(5)
            .map(|i| (key(i), Some(vec![v; 8])))
            .collect()
    };
    let ours = ns.apply(base, ed(&edits(2))).unwrap();
    let theirs = ns.apply(base, ed(&edits(3))).unwrap();
    // Damage the last leaf of their tree: only the last worker reads it.
    damage_last_leaf(&ns, &mem, theirs);
    let cold = NodeStore::with_params(ns.store().clone(), SMALL);
    let results: Vec<_> = cold
        .diff3(base, ours, theirs)
        .with_threads(3)
        .split_small()
        .collect();
    assert!(results.len() > 1);
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert!(results.last().is_some_and(|r| r.is_err()));
}

#[test]
fn diff_split_with_one_changed_range_stays_on_one_thread() {
    let (ns, _) = small_store();
    let model: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let a = ns.build(&model).unwrap();
    let b = ns.apply(a, [(key(10), Some(vec![2u8]))]).unwrap();
    let mut d = ns.diff(a, b).with_threads(4).split_small();
    assert_eq!(d.next().map(|r| r.unwrap().key().to_vec()), Some(key(10)));
    assert_eq!(d.workers(), 0);
    assert!(d.next().is_none());
}

#[test]
fn diff_worker_error_is_reported_once() {
    let (ns, mem) = small_store();
    let model: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let a = ns.build(&model).unwrap();
    let edits: Edits = (0..3000u16)
        .step_by(5)
        .map(|i| (key(i), Some(vec![2u8; 8])))
        .collect();
    let b = ns.apply(a, ed(&edits)).unwrap();
    // Damage the last leaf of the new tree: only the last worker reads it.
    damage_last_leaf(&ns, &mem, b);
    let cold = NodeStore::with_params(ns.store().clone(), SMALL);
    let results: Vec<_> = cold.diff(a, b).with_threads(3).split_small().collect();
    assert!(results.len() > 1);
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert!(results.last().is_some_and(|r| r.is_err()));
}

/// Rows of [`wide_rows`] in the pipeline tests: about 7 MB, seven batches.
const ROWS: u32 = 64_000;

/// Rows large enough that builds and rewrites queue several batches to the node writer.
fn wide_rows(n: u32, version: u8) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| (i.to_be_bytes().to_vec(), vec![version ^ (i as u8); 100]))
        .collect()
}

#[test]
fn pipelined_writes_reach_the_store() {
    // Slow writes make the queue fill up, so the chunking thread writes batches too.
    let mem = Arc::new(ProbeStore::writes(
        usize::MAX,
        std::time::Duration::from_millis(30),
    ));
    let ns = NodeStore::new(Store::new(mem.clone()));
    // About 7 MB of leaves: the build and the rewrite go through the background writer.
    let a = ns.build(wide_rows(ROWS, 0)).unwrap();
    let edits: Vec<_> = wide_rows(ROWS, 1)
        .into_iter()
        .step_by(3)
        .map(|(k, v)| (k, Some(v)))
        .collect();
    let b = ns
        .apply(a, edits.iter().map(|(k, v)| (k, v.as_ref())))
        .unwrap();
    // A cold node store reads every node of both trees from the store.
    let cold = NodeStore::new(Store::new(mem));
    let got = scan_all(&cold, b);
    assert_eq!(got.len(), ROWS as usize);
    for (i, (k, v)) in wide_rows(ROWS, 0).into_iter().enumerate() {
        let want = if i % 3 == 0 {
            vec![1 ^ (i as u8); 100]
        } else {
            v
        };
        assert_eq!(got.get(&k), Some(&want), "row {i}");
    }
    assert_eq!(cold.diff(a, b).count(), (ROWS as usize).div_ceil(3));
}

/// A test backend over a memory store: counts reads, and can make writes slow and fail
/// ("disk full") once a number of batches is written.
pub(super) struct ProbeStore {
    inner: Arc<MemoryStore>,
    pub(super) gets: std::sync::atomic::AtomicUsize,
    batches_left: std::sync::atomic::AtomicUsize,
    delay: std::time::Duration,
}

impl ProbeStore {
    /// Counts reads of `inner`; writes are immediate and never fail.
    pub(super) fn over(inner: Arc<MemoryStore>) -> Self {
        ProbeStore {
            inner,
            gets: Default::default(),
            batches_left: usize::MAX.into(),
            delay: std::time::Duration::ZERO,
        }
    }

    /// An empty store whose writes take `delay` each and fail after `batches` batches.
    fn writes(batches: usize, delay: std::time::Duration) -> Self {
        ProbeStore {
            batches_left: batches.into(),
            delay,
            ..ProbeStore::over(Arc::new(MemoryStore::new()))
        }
    }
}

impl crate::store::ObjectStore for ProbeStore {
    fn get_stored(&self, id: &crate::id::ObjectId) -> Result<Option<Vec<u8>>> {
        self.gets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.get_stored(id)
    }
    fn has(&self, id: &crate::id::ObjectId) -> Result<bool> {
        self.inner.has(id)
    }
    fn put_stored_batch(&self, items: Vec<(crate::id::ObjectId, Vec<u8>)>) -> Result<()> {
        std::thread::sleep(self.delay);
        let left = self.batches_left.load(std::sync::atomic::Ordering::SeqCst);
        if left == 0 {
            return Err(crate::Error::Storage("disk full".into()));
        }
        self.batches_left
            .store(left - 1, std::sync::atomic::Ordering::SeqCst);
        self.inner.put_stored_batch(items)
    }
    fn ids(&self) -> Box<dyn Iterator<Item = Result<crate::id::ObjectId>> + '_> {
        self.inner.ids()
    }
    fn ids_with_prefix(
        &self,
        prefix: &[u8],
    ) -> Box<dyn Iterator<Item = Result<crate::id::ObjectId>> + '_> {
        self.inner.ids_with_prefix(prefix)
    }
    fn remove(&self, id: &crate::id::ObjectId) -> Result<()> {
        self.inner.remove(id)
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_surface_from_pipelined_writes() {
    for batches in [0, 1, 2] {
        let store = Arc::new(ProbeStore::writes(batches, std::time::Duration::ZERO));
        let ns = NodeStore::new(Store::new(store));
        let err = ns.build(wide_rows(ROWS, 0)).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        // Every writer thread is gone: only this node store holds the cache.
        assert_eq!(Arc::strong_count(&ns.cache), 1);
    }
}

#[test]
fn small_diffs_stay_on_one_thread() {
    let (ns, _) = small_store();
    let model: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let a = ns.build(&model).unwrap();
    let edits: Edits = (0..3000u16)
        .step_by(7)
        .map(|i| (key(i), Some(vec![2u8; 8])))
        .collect();
    let b = ns.apply(a, ed(&edits)).unwrap();
    // Changes everywhere, but in subtrees of far fewer rows than a split needs.
    let mut d = ns.diff(a, b).with_threads(4);
    assert!(d.next().is_some());
    assert_eq!(d.workers(), 0);
    assert_eq!(d.count() + 1, edits.len());
}

/// A [`RowMap`] keeping the rows whose last key byte is a multiple of `modulus`, as owned
/// `(key, old, new)` values, failing at key `fail_at`; `_live` counts its clones.
#[derive(Clone)]
struct KeyMod {
    modulus: u8,
    fail_at: Option<Vec<u8>>,
    _live: Arc<()>,
}

impl RowMap for KeyMod {
    type Out = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);

    fn map(&mut self, row: DiffRow) -> Result<Option<Self::Out>> {
        let key = row.key().to_vec();
        if self.fail_at.as_ref() == Some(&key) {
            return Err(Error::Invalid(format!("map fails at {key:?}")));
        }
        if key.last().is_none_or(|b| b % self.modulus != 0) {
            return Ok(None);
        }
        Ok(Some((
            key,
            row.old_value().map(<[u8]>::to_vec),
            row.new_value().map(<[u8]>::to_vec),
        )))
    }
}

/// Changes at every 5th key of 3000, in both halves of the tree.
fn spread_pair(ns: &NodeStore) -> (NodeId, NodeId, Model, Model) {
    let model: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let a = ns.build(&model).unwrap();
    let edits: Edits = (0..3000u16)
        .step_by(5)
        .map(|i| (key(i), if i % 3 == 0 { None } else { Some(vec![2u8; 8]) }))
        .collect();
    let b = ns.apply(a, ed(&edits)).unwrap();
    let mut m2 = model.clone();
    apply_model(&mut m2, &edits);
    (a, b, model, m2)
}

/// A [`RowMap`] giving each row's key and whether a diff worker thread mapped it.
#[derive(Clone)]
struct ThreadOf;

impl RowMap for ThreadOf {
    type Out = (Vec<u8>, bool);

    fn map(&mut self, row: DiffRow) -> Result<Option<Self::Out>> {
        let worker = std::thread::current().name() == Some("kodiak-diff");
        Ok(Some((row.key().to_vec(), worker)))
    }
}

#[test]
fn mapped_diff_maps_in_the_workers() {
    let (ns, _) = small_store();
    let (a, b, m1, m2) = spread_pair(&ns);
    let want: Vec<Vec<u8>> = naive_diff(&m1, &m2).into_iter().map(|c| c.0).collect();
    for threads in 1..=4 {
        let mut d = ns
            .diff_map(a, b, ThreadOf)
            .with_threads(threads)
            .split_small();
        let first = d.next().map(|r| r.unwrap());
        assert_eq!(d.workers(), threads - 1, "{threads} threads");
        let got: Vec<(Vec<u8>, bool)> = first.into_iter().chain(d.map(|r| r.unwrap())).collect();
        let keys: Vec<Vec<u8>> = got.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, want, "{threads} threads");
        // The first range is mapped here, every other one on its worker.
        let on_workers = got.iter().filter(|(_, w)| *w).count();
        assert!(!got[0].1);
        if threads == 1 {
            assert_eq!(on_workers, 0);
        } else {
            assert!(
                on_workers > 0 && on_workers < got.len(),
                "{threads} threads"
            );
            assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
        }
    }
}

#[test]
fn mapped_diff_dropped_early_stops_its_workers() {
    let (ns, _) = small_store();
    let (a, b, _, _) = spread_pair(&ns);
    let live = Arc::new(());
    let map = KeyMod {
        modulus: 1,
        fail_at: None,
        _live: Arc::clone(&live),
    };
    let mut d = ns.diff_map(a, b, map).with_threads(4).split_small();
    assert!(d.next().is_some());
    assert_eq!(d.workers(), 3);
    drop(d);
    // Workers are joined: their maps and node store clones are gone.
    assert_eq!(Arc::strong_count(&live), 1);
    assert_eq!(Arc::strong_count(&ns.cache), 1);
}

#[test]
fn mapped_diff_error_in_a_worker_follows_the_rows_before_it() {
    let (ns, _) = small_store();
    let (a, b, m1, m2) = spread_pair(&ns);
    let want = naive_diff(&m1, &m2);
    // A key in the last quarter, so the last worker of any split fails.
    let fail_at = want[want.len() * 7 / 8].0.clone();
    let run = |threads: usize| -> Vec<std::result::Result<Vec<u8>, String>> {
        let map = KeyMod {
            modulus: 1,
            fail_at: Some(fail_at.clone()),
            _live: Arc::new(()),
        };
        ns.diff_map(a, b, map)
            .with_threads(threads)
            .split_small()
            .map(|r| r.map(|(k, _, _)| k).map_err(|e| e.to_string()))
            .collect()
    };
    let one = run(1);
    let ok: Vec<_> = want
        .iter()
        .take_while(|(k, _, _)| *k != fail_at)
        .map(|(k, _, _)| Ok(k.clone()))
        .collect();
    assert_eq!(one[..one.len() - 1], ok[..]);
    assert!(one.last().is_some_and(|r| r.is_err()));
    for threads in 2..=4 {
        assert_eq!(run(threads), one, "{threads} threads");
    }
}

#[test]
fn detached_rows_keep_their_bytes_without_their_leaf() {
    let (ns, _) = small_store();
    let model: Model = (0..300u16).map(|i| (key(i), vec![i as u8; 3])).collect();
    let root = ns.build(&model).unwrap();
    let row = ns.get(root, &key(7)).unwrap().unwrap();
    assert!(row.leaf().is_some());
    let detached = row.clone().detach();
    assert!(detached.leaf().is_none());
    assert_eq!((detached.key(), detached.value()), (row.key(), row.value()));
    let again = detached.clone().detach();
    assert_eq!((again.key(), again.value()), (row.key(), row.value()));
}

#[test]
fn diff3_worker_rows_are_detached_from_their_leaves() {
    let (ns, _) = small_store();
    let model: Model = (0..3000u16).map(|i| (key(i), vec![1u8; 8])).collect();
    let base = ns.build(&model).unwrap();
    let edits = |v: u8, from: u16| -> Edits {
        (from..3000u16)
            .step_by(10)
            .map(|i| (key(i), Some(vec![v; 8])))
            .collect()
    };
    let ours = ns.apply(base, ed(&edits(2, 0))).unwrap();
    let theirs = ns.apply(base, ed(&edits(3, 5))).unwrap();
    let want = diff3_values(ns.diff3(base, ours, theirs).with_threads(1));
    let rows: Vec<Diff3Row> = ns
        .diff3(base, ours, theirs)
        .with_threads(2)
        .split_small()
        .collect::<Result<_>>()
        .unwrap();
    let v = |x: &Option<Row>| x.as_ref().map(|r| r.value().to_vec());
    let got: Vec<Values3> = rows
        .iter()
        .map(|r| (r.key().to_vec(), [v(&r.base), v(&r.ours), v(&r.theirs)]))
        .collect();
    assert_eq!(got, want);
    // The first range is read here (rows in their leaves), the second by the worker.
    let in_leaf = |r: &Diff3Row| {
        r.ours
            .as_ref()
            .or(r.theirs.as_ref())
            .and_then(Row::leaf)
            .is_some()
    };
    assert!(in_leaf(&rows[0]));
    assert!(!in_leaf(&rows[rows.len() - 1]));
    assert!(rows.windows(2).all(|w| in_leaf(&w[0]) || !in_leaf(&w[1])));
}
