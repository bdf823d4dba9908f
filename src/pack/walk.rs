//! The object graph: which objects an object references, and a walk that streams every object
//! reachable from some starting points (commits → roots → tables → schemas → prolly nodes →
//! blobs), skipping everything already known to the receiver.

use std::collections::BTreeSet;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::object::{self, Commit, DecodeError, Kind, Root, Table, Tag};
use crate::schema::{RowCodec, Schema, Type, Value};
use crate::store::Store;
use crate::table::Node;

/// The objects `canonical` must have alongside it: every reference except blobs named by row
/// or default values (those are carried when present but never required).
pub fn required_refs(kind: Kind, canonical: &[u8]) -> Result<Vec<(ObjectId, Kind)>, DecodeError> {
    Ok(match kind {
        Kind::Commit => {
            let c: Commit = object::decode(canonical)?;
            let mut out = vec![(c.root.id(), Kind::Root)];
            out.extend(c.parents.iter().map(|p| (p.id(), Kind::Commit)));
            out
        }
        Kind::Root => {
            let r: Root = object::decode(canonical)?;
            let mut out: Vec<_> = r.tables.values().map(|t| (t.id(), Kind::Table)).collect();
            // A package's commit is provenance only (like a lockfile entry): its tables are
            // in `tables`, its history is not needed.
            out.extend(r.blobs.values().map(|b| (b.id(), Kind::Blob)));
            out
        }
        Kind::Table => {
            let t: Table = object::decode(canonical)?;
            vec![(t.schema.id(), Kind::Schema), (t.rows.id(), Kind::Node)]
        }
        Kind::Node => {
            let n: Node = object::decode(canonical)?;
            if n.is_leaf() {
                Vec::new()
            } else {
                (0..n.len())
                    .map(|i| (n.child(i).id(), Kind::Node))
                    .collect()
            }
        }
        Kind::Tag => {
            let t: Tag = object::decode(canonical)?;
            vec![(t.target, t.target_kind)]
        }
        Kind::Schema => {
            object::decode::<Schema>(canonical)?;
            Vec::new()
        }
        Kind::Blob => Vec::new(),
        Kind::Dict => {
            crate::store::check_dict_canonical(canonical).map_err(|reason| {
                DecodeError::Malformed {
                    kind: Kind::Dict,
                    reason,
                }
            })?;
            Vec::new()
        }
    })
}

fn schema_has_blobs(s: &Schema) -> bool {
    s.columns().iter().any(|c| c.ty == Type::Blob) || s.dropped().iter().any(|d| d.ty == Type::Blob)
}

fn blob_of(v: &Value) -> Option<ObjectId> {
    match v {
        Value::Blob(b) => Some(b.id()),
        _ => None,
    }
}

/// Receives each walked object: id, kind, verified canonical bytes, the store's stored value
/// of them (see [`Store::try_get_verified`]), and a base.
///
/// The last argument is a *base*: an object of the same kind that the receiver has (it is
/// reachable from an excluded commit's root) and that is probably similar — the same table's
/// previous version, the node at the same place in its previous tree — for delta encoding.
pub type Emit<'e> = dyn FnMut(ObjectId, Kind, &[u8], &[u8], Option<ObjectId>) -> Result<()> + 'e;

/// A depth-first walk over the object graph that visits each object at most once.
pub struct Walker<'a> {
    store: &'a Store,
    /// Objects visited, or known to the receiver: never emitted (again).
    seen: BTreeSet<ObjectId>,
    /// Commits known to the receiver.
    excluded_commits: BTreeSet<ObjectId>,
    /// Excluded commits that a walked commit names as a parent: the bundle's prerequisites.
    boundary: BTreeSet<ObjectId>,
    /// Objects reachable from the excluded commits' roots: candidates for delta bases.
    excluded_objects: BTreeSet<ObjectId>,
    /// The first excluded commit's root: the base of every walked root.
    base_root: Option<ObjectId>,
}

/// One pending step of the walk; leaves of tables with BLOB columns carry the row codec.
struct Step {
    id: ObjectId,
    kind: Kind,
    codec: Option<Rc<RowCodec>>,
    required: bool,
    /// A similar object the receiver has, if known.
    base: Option<ObjectId>,
}

impl<'a> Walker<'a> {
    /// A walk over `store` that has visited nothing.
    pub fn new(store: &'a Store) -> Self {
        Walker {
            store,
            seen: BTreeSet::new(),
            excluded_commits: BTreeSet::new(),
            boundary: BTreeSet::new(),
            excluded_objects: BTreeSet::new(),
            base_root: None,
        }
    }

    /// Marks every commit reachable from `commits` (them included) as known to the receiver:
    /// walks stop there. Their objects are not excluded: see [`Walker::exclude_roots`].
    pub fn exclude(&mut self, commits: &[ObjectId]) -> Result<()> {
        let mut stack: Vec<ObjectId> = commits.to_vec();
        while let Some(c) = stack.pop() {
            if !self.excluded_commits.insert(c) {
                continue;
            }
            let commit: Commit = self.store.get(&crate::id::CommitId::new(c))?;
            stack.extend(commit.parents.iter().map(|p| p.id()));
        }
        Ok(())
    }

    /// Marks every object of the given commits' roots as known to the receiver (the receiver
    /// has these commits: they are the bundle's prerequisites), making them delta bases; the
    /// first one's root is the base of every walked root.
    pub fn exclude_roots(&mut self, commits: &[ObjectId]) -> Result<()> {
        for c in commits {
            let commit: Commit = self.store.get(&crate::id::CommitId::new(*c))?;
            self.walk(&[(commit.root.id(), Kind::Root)], &mut |_, _, _, _, _| {
                Ok(())
            })?;
            self.base_root.get_or_insert(commit.root.id());
        }
        self.excluded_objects = self.seen.clone();
        Ok(())
    }

    /// Excluded commits named as parents by walked commits (sorted).
    pub fn prerequisites(&self) -> Vec<ObjectId> {
        self.boundary.iter().copied().collect()
    }

    /// The prerequisites a walk from `starts` will find, from the commit graph alone: the
    /// excluded commits that a reachable, non-excluded commit names as a parent (sorted).
    pub fn commit_boundary(&self, starts: &[(ObjectId, Kind)]) -> Result<Vec<ObjectId>> {
        let mut seen = BTreeSet::new();
        let mut boundary = BTreeSet::new();
        let mut stack: Vec<(ObjectId, Kind)> = starts.to_vec();
        while let Some((id, kind)) = stack.pop() {
            match kind {
                Kind::Tag => {
                    let t: Tag = self.store.get(&crate::id::TagId::new(id))?;
                    stack.push((t.target, t.target_kind));
                }
                Kind::Commit => {
                    if self.excluded_commits.contains(&id) {
                        boundary.insert(id);
                        continue;
                    }
                    if !seen.insert(id) {
                        continue;
                    }
                    let c: Commit = self.store.get(&crate::id::CommitId::new(id))?;
                    stack.extend(c.parents.iter().map(|p| (p.id(), Kind::Commit)));
                }
                _ => {}
            }
        }
        Ok(boundary.into_iter().collect())
    }

    /// Visits every object reachable from `starts` that was not seen before, calling `emit`
    /// with its id, kind and verified canonical bytes.
    pub fn walk(&mut self, starts: &[(ObjectId, Kind)], emit: &mut Emit<'_>) -> Result<()> {
        let mut stack: Vec<Step> = starts
            .iter()
            .rev()
            .map(|(id, kind)| Step {
                id: *id,
                kind: *kind,
                codec: None,
                required: true,
                base: None,
            })
            .collect();
        while let Some(step) = stack.pop() {
            if step.kind == Kind::Commit && self.excluded_commits.contains(&step.id) {
                self.boundary.insert(step.id);
                continue;
            }
            if !self.seen.insert(step.id) {
                continue;
            }
            let (stored, canonical) = match self.store.try_get_verified(&step.id)? {
                Some(c) => c,
                None if step.required => {
                    return Err(Error::Missing {
                        id: step.id,
                        kind: step.kind,
                    });
                }
                None => continue,
            };
            let decode_err = |source| Error::Decode {
                id: step.id,
                source,
            };
            let (kind, _, _) = object::split_header(&canonical).map_err(decode_err)?;
            if kind != step.kind {
                return Err(Error::Decode {
                    id: step.id,
                    source: DecodeError::WrongKind {
                        expected: step.kind,
                        found: kind,
                    },
                });
            }
            let base = step
                .base
                .filter(|b| *b != step.id && self.excluded_objects.contains(b));
            emit(step.id, kind, &canonical, &stored, base)?;
            let mut next: Vec<Step> = Vec::new();
            match kind {
                Kind::Table => {
                    let t: Table = object::decode(&canonical).map_err(decode_err)?;
                    let schema: Schema = self.store.get(&t.schema)?;
                    for c in schema.columns() {
                        if let Some(b) = c.default.as_ref().and_then(blob_of) {
                            next.push(Step {
                                id: b,
                                kind: Kind::Blob,
                                codec: None,
                                required: false,
                                base: None,
                            });
                        }
                    }
                    let codec = schema_has_blobs(&schema).then(|| Rc::new(RowCodec::new(&schema)));
                    let old_rows = match base {
                        Some(b) => Some(
                            self.store
                                .get::<Table>(&crate::id::TableId::new(b))?
                                .rows
                                .id(),
                        ),
                        None => None,
                    };
                    next.push(Step {
                        id: t.schema.id(),
                        kind: Kind::Schema,
                        codec: None,
                        required: true,
                        base: None,
                    });
                    next.push(Step {
                        id: t.rows.id(),
                        kind: Kind::Node,
                        codec,
                        required: true,
                        base: old_rows,
                    });
                }
                Kind::Node => {
                    let n: Node = object::decode(&canonical).map_err(decode_err)?;
                    if n.is_leaf() {
                        if let Some(codec) = &step.codec {
                            for i in 0..n.len() {
                                let row = codec.decode_row(n.key(i), n.value(i))?;
                                for b in row.iter().filter_map(blob_of) {
                                    next.push(Step {
                                        id: b,
                                        kind: Kind::Blob,
                                        codec: None,
                                        required: false,
                                        base: None,
                                    });
                                }
                            }
                        }
                    } else {
                        // The old node at the same place: same level, its children cover the
                        // same key ranges, mostly with the same boundaries.
                        let old = match base {
                            Some(b) => Some(self.store.get::<Node>(&crate::id::NodeId::new(b))?)
                                .filter(|o| o.level() == n.level()),
                            None => None,
                        };
                        for i in 0..n.len() {
                            let child_base = old.as_ref().and_then(|o| {
                                let j = match o.search(n.key(i)) {
                                    Ok(j) | Err(j) => j,
                                };
                                (j < o.len()).then(|| o.child(j).id())
                            });
                            next.push(Step {
                                id: n.child(i).id(),
                                kind: Kind::Node,
                                codec: step.codec.clone(),
                                required: true,
                                base: child_base,
                            });
                        }
                    }
                }
                Kind::Root => {
                    let r: Root = object::decode(&canonical).map_err(decode_err)?;
                    let old = match base {
                        Some(b) => Some(self.store.get::<Root>(&crate::id::RootId::new(b))?),
                        None => None,
                    };
                    for (name, t) in &r.tables {
                        next.push(Step {
                            id: t.id(),
                            kind: Kind::Table,
                            codec: None,
                            required: true,
                            base: old
                                .as_ref()
                                .and_then(|o| o.tables.get(name))
                                .map(|t| t.id()),
                        });
                    }
                    for b in r.blobs.values() {
                        next.push(Step {
                            id: b.id(),
                            kind: Kind::Blob,
                            codec: None,
                            required: true,
                            base: None,
                        });
                    }
                }
                _ => {
                    for (id, kind) in required_refs(kind, &canonical).map_err(decode_err)? {
                        next.push(Step {
                            id,
                            kind,
                            codec: None,
                            required: true,
                            base: (kind == Kind::Root).then_some(self.base_root).flatten(),
                        });
                    }
                }
            }
            stack.extend(next.into_iter().rev());
        }
        Ok(())
    }
}
