use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::store::{MemoryStore, Store};
use crate::table::chunk::ChunkParams;
use crate::table::tests::ProbeStore;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
type Edits = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Small nodes so that a few hundred rows make a tree several levels deep.
const SMALL: ChunkParams = ChunkParams {
    min_entries: 2,
    max_entries: 24,
    max_bytes: 400,
    threshold: u64::MAX / 4,
};

fn store() -> NodeStore {
    NodeStore::with_params(Store::new(Arc::new(MemoryStore::new())), SMALL)
}

fn key(k: u16) -> Vec<u8> {
    k.to_be_bytes().to_vec()
}

fn apply(model: &Model, edits: &Edits) -> Model {
    let mut m = model.clone();
    for (k, v) in edits {
        match v {
            Some(v) => m.insert(k.clone(), v.clone()),
            None => m.remove(k),
        };
    }
    m
}

/// The test resolver: keep, concatenate, delete or conflict, by the key's last byte.
fn decide(key: &[u8], o: Option<&[u8]>, t: Option<&[u8]>) -> Resolved<Vec<u8>> {
    match key.last().copied().unwrap_or(0) % 4 {
        0 => Resolved::Keep,
        1 => {
            let mut v = o.unwrap_or_default().to_vec();
            v.extend_from_slice(t.unwrap_or_default());
            Resolved::Put(v)
        }
        2 => Resolved::Delete,
        _ => Resolved::Conflict(key.to_vec()),
    }
}

/// Records the keys it decides; the delta sums value lengths.
struct Decide {
    calls: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl Resolver for Decide {
    type Conflict = Vec<u8>;

    fn resolve(
        &self,
        key: &[u8],
        _b: Option<Row>,
        o: Option<Row>,
        t: Option<Row>,
    ) -> Result<Resolved<Vec<u8>>> {
        self.calls.lock().unwrap().push(key.to_vec());
        Ok(decide(
            key,
            o.as_ref().map(Row::value),
            t.as_ref().map(Row::value),
        ))
    }

    fn delta(&self, ours: Option<&[u8]>, result: Option<&[u8]>) -> Result<i64> {
        let len = |v: Option<&[u8]>| v.map_or(0, |v| v.len() as i64 + 1);
        Ok(len(result) - len(ours))
    }
}

/// What a merge gives by the definition, key by key.
struct Want {
    rows: Model,
    resolved: Vec<Vec<u8>>,
    written: u64,
    delta: i64,
    conflicts: Vec<Vec<u8>>,
}

fn reference(b: &Model, o: &Model, t: &Model, keyed: bool) -> Want {
    let keys: BTreeSet<&Vec<u8>> = b.keys().chain(o.keys()).chain(t.keys()).collect();
    let mut w = Want {
        rows: Model::new(),
        resolved: Vec::new(),
        written: 0,
        delta: 0,
        conflicts: Vec::new(),
    };
    let len = |v: Option<&Vec<u8>>| v.map_or(0, |v| v.len() as i64 + 1);
    for k in keys {
        let (bv, ov, tv) = (b.get(k), o.get(k), t.get(k));
        let result = if tv == bv || (keyed && ov == tv) {
            ov.cloned()
        } else if ov == bv {
            w.written += 1;
            w.delta += len(tv) - len(ov);
            tv.cloned()
        } else {
            w.resolved.push(k.clone());
            match decide(k, ov.map(Vec::as_slice), tv.map(Vec::as_slice)) {
                Resolved::Keep => ov.cloned(),
                Resolved::Conflict(c) => {
                    w.conflicts.push(c);
                    ov.cloned()
                }
                Resolved::Put(v) => {
                    w.written += 1;
                    w.delta += len(Some(&v)) - len(ov);
                    Some(v)
                }
                Resolved::Delete => {
                    if ov.is_some() {
                        w.written += 1;
                        w.delta -= len(ov);
                    }
                    None
                }
            }
        };
        if let Some(v) = result {
            w.rows.insert(k.clone(), v);
        }
    }
    w
}

fn run(
    ns: &NodeStore,
    b: NodeId,
    o: NodeId,
    t: NodeId,
    keyed: bool,
) -> (Merge3<Vec<u8>>, Vec<Vec<u8>>) {
    let r = Decide {
        calls: Default::default(),
    };
    let rules = Merge3Rules {
        ours_eq_theirs: keyed,
    };
    let m = merge3(ns, b, o, t, rules, &r).unwrap();
    let mut calls = r.calls.into_inner().unwrap();
    calls.sort();
    (m, calls)
}

fn check(ns: &NodeStore, b: &Model, o: &Model, t: &Model, keyed: bool) {
    let (rb, ro, rt) = (
        ns.build(b).unwrap(),
        ns.build(o).unwrap(),
        ns.build(t).unwrap(),
    );
    let (m, calls) = run(ns, rb, ro, rt, keyed);
    let want = reference(b, o, t, keyed);
    assert_eq!(calls, want.resolved, "resolver calls");
    let got: Model = ns
        .scan(m.root)
        .map(|r| r.map(|r| (r.key().to_vec(), r.value().to_vec())))
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(got, want.rows, "merged rows");
    assert_eq!(m.root, ns.build(&want.rows).unwrap(), "merged root");
    assert_eq!(m.rows, want.rows.len() as u64, "row count");
    assert_eq!(m.written, want.written, "written rows");
    assert_eq!(m.delta, want.delta, "delta");
    let conflicts: Vec<Vec<u8>> = m.conflicts.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(conflicts, want.conflicts, "conflicts");
    assert!(m.conflicts.iter().all(|(k, c)| k == c));
}

fn arb_model(max_key: u16, max_rows: usize) -> impl Strategy<Value = Model> {
    prop::collection::btree_map(
        (0..max_key).prop_map(key),
        prop::collection::vec(any::<u8>(), 0..24),
        0..max_rows,
    )
}

fn arb_edits(max_key: u16, max_edits: usize) -> impl Strategy<Value = Edits> {
    prop::collection::btree_map(
        (0..max_key).prop_map(key),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..24)),
        0..max_edits,
    )
}

/// Value-only updates of some of `model`'s keys (chunk boundaries stay put).
fn arb_updates(model: &Model, max: usize) -> impl Strategy<Value = Edits> + use<> {
    let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    let n = keys.len();
    prop::collection::vec((0..n.max(1), any::<u8>()), 0..max).prop_map(move |picks| {
        picks
            .into_iter()
            .filter(|(i, _)| *i < n)
            .map(|(i, v)| (keys[i].clone(), Some(vec![v; 8])))
            .collect()
    })
}

/// Base, ours and theirs: shared edits, edits per side, value-only updates per side, and
/// sometimes a side cut short (a different height and right edge).
fn arb_three() -> impl Strategy<Value = (Model, Model, Model)> {
    arb_model(700, 500).prop_flat_map(|base| {
        (
            Just(base.clone()),
            arb_edits(720, 6),
            arb_edits(720, 30),
            arb_edits(720, 30),
            arb_updates(&base, 30),
            arb_updates(&base, 30),
            prop::option::of(0u16..720),
            any::<bool>(),
        )
            .prop_map(|(base, common, e1, e2, u1, u2, cut, side)| {
                let mut o = apply(&apply(&apply(&base, &common), &e1), &u1);
                let mut t = apply(&apply(&apply(&base, &common), &e2), &u2);
                if let Some(c) = cut {
                    let m = if side { &mut o } else { &mut t };
                    m.retain(|k, _| k.as_slice() < key(c).as_slice());
                }
                (base, o, t)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn keyed_merge_matches_the_definition((b, o, t) in arb_three()) {
        check(&store(), &b, &o, &t, true);
    }

    #[test]
    fn count_merge_matches_the_definition((b, o, t) in arb_three()) {
        check(&store(), &b, &o, &t, false);
    }

    #[test]
    fn split_merge_matches_the_definition((b, o, t) in arb_three(), keyed: bool) {
        let ns = NodeStore::splitting_small_trees(Store::new(Arc::new(MemoryStore::new())));
        check(&ns, &b, &o, &t, keyed);
    }

    #[test]
    fn swapped_and_equal_sides_match_the_definition((b, o, t) in arb_three()) {
        let ns = store();
        check(&ns, &b, &t, &o, true);
        check(&ns, &b, &o, &o, true);
        check(&ns, &b, &b, &t, true);
        check(&ns, &o, &b, &t, true);
    }
}

#[test]
fn empty_and_tiny_trees() {
    let ns = store();
    let one: Model = [(key(1), vec![1])].into();
    let two: Model = [(key(1), vec![2]), (key(2), vec![2])].into();
    let empty = Model::new();
    for (b, o, t) in [
        (&empty, &empty, &empty),
        (&empty, &one, &empty),
        (&empty, &empty, &one),
        (&one, &empty, &one),
        (&one, &one, &empty),
        (&one, &two, &one),
        (&one, &one, &two),
        (&one, &two, &two),
        (&empty, &one, &two),
    ] {
        check(&ns, b, o, t, true);
        check(&ns, b, o, t, false);
    }
}

/// Disjoint spread value edits of a large tree: most leaves are taken whole, and only
/// leaves both sides changed are read.
#[test]
fn spread_edits_read_only_leaves_both_sides_changed() {
    let mem = Arc::new(MemoryStore::new());
    let ns = NodeStore::new(Store::new(mem.clone()));
    let base: Model = (0..20_000u32)
        .map(|i| (i.to_be_bytes().to_vec(), vec![7u8; 30]))
        .collect();
    let edit = |off: u32| -> Model {
        let mut m = base.clone();
        for i in (off..20_000).step_by(300) {
            m.insert(i.to_be_bytes().to_vec(), vec![off as u8; 30]);
        }
        m
    };
    let (o, t) = (edit(0), edit(150));
    check(&ns, &base, &o, &t, true);
    let (rb, ro, rt) = (
        ns.build(&base).unwrap(),
        ns.build(&o).unwrap(),
        ns.build(&t).unwrap(),
    );
    let leaves = |root: NodeId| -> BTreeSet<NodeId> {
        let mut out = BTreeSet::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            let n = ns.load(id).unwrap();
            if n.is_leaf() {
                out.insert(id);
            } else {
                stack.extend((0..n.len()).map(|i| n.child(i)));
            }
        }
        out
    };
    let (lb, lo, lt) = (leaves(rb), leaves(ro), leaves(rt));
    let both = lb
        .iter()
        .filter(|id| !lo.contains(id) && !lt.contains(id))
        .count();
    let one_side = lb.len() - both;
    assert!(
        both > 0 && one_side > both / 2,
        "both {both}, one side {one_side}"
    );
    // A fresh store over the same objects, counting reads: nothing cached.
    let probe = Arc::new(ProbeStore::over(mem));
    let cold = NodeStore::new(Store::new(probe.clone()));
    let (m, _) = run(&cold, rb, ro, rt, true);
    let want = reference(&base, &o, &t, true).rows;
    assert_eq!(m.root, ns.build(&want).unwrap());
    // The three versions of each leaf both sides changed, base and theirs of each leaf
    // only theirs changed (to count their changes), and some internal nodes; nothing of
    // the leaves only ours changed.
    let theirs_only = lb
        .iter()
        .filter(|id| lo.contains(id) && !lt.contains(id))
        .count();
    let reads = probe.gets.load(std::sync::atomic::Ordering::Relaxed);
    let least = 3 * both + 2 * theirs_only;
    let internal = lb.len().div_ceil(10) * 3;
    assert!(
        reads >= least && reads <= least + internal,
        "{reads} reads for {both} leaves changed on both sides and {theirs_only} on theirs of {}",
        lb.len()
    );
}

/// A missing node of theirs fails the merge with an error naming it, on one thread or
/// several, without hanging.
#[test]
fn missing_nodes_are_errors() {
    for split in [false, true] {
        let mem = Arc::new(MemoryStore::new());
        let ns = if split {
            NodeStore::splitting_small_trees(Store::new(mem.clone()))
        } else {
            NodeStore::with_params(Store::new(mem.clone()), SMALL)
        };
        let base: Model = (0..600u16).map(|i| (key(i), vec![1; 10])).collect();
        let side = |off: u16| -> Model {
            let mut m = base.clone();
            for i in (off..600).step_by(7) {
                m.insert(key(i), vec![off as u8 + 2; 10]);
            }
            m
        };
        let (rb, ro, rt) = (
            ns.build(&base).unwrap(),
            ns.build(&side(0)).unwrap(),
            ns.build(&side(3)).unwrap(),
        );
        // Every node of theirs that base and ours lack.
        let nodes = |root: NodeId| -> BTreeSet<NodeId> {
            let mut out = BTreeSet::new();
            let mut stack = vec![root];
            while let Some(id) = stack.pop() {
                out.insert(id);
                let n = ns.load(id).unwrap();
                if !n.is_leaf() {
                    stack.extend((0..n.len()).map(|i| n.child(i)));
                }
            }
            out
        };
        let keep: BTreeSet<NodeId> = nodes(rb).union(&nodes(ro)).copied().collect();
        let gone: Vec<NodeId> = nodes(rt)
            .into_iter()
            .filter(|id| !keep.contains(id) && *id != rt)
            .collect();
        assert!(!gone.is_empty());
        for id in &gone {
            crate::store::ObjectStore::remove(&*mem, &id.id()).unwrap();
        }
        let cold = if split {
            NodeStore::splitting_small_trees(Store::new(mem.clone()))
        } else {
            NodeStore::with_params(Store::new(mem.clone()), SMALL)
        };
        let r = Decide {
            calls: Default::default(),
        };
        let rules = Merge3Rules {
            ours_eq_theirs: true,
        };
        let err = merge3(&cold, rb, ro, rt, rules, &r).unwrap_err();
        assert!(
            gone.iter().any(|id| err.to_string().contains(&id.to_hex())),
            "{err}"
        );
    }
}
