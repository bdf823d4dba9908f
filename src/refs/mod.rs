//! Refs, the reflog and working sets: the mutable state of a repository.
//!
//! A [`RefStore`] maps full [`RefName`]s to [`RefValue`]s, keeps one [`WorkingSet`] per
//! workspace and a reflog per ref. `HEAD` is not a stored ref: it is the `head` field of the
//! current workspace's working set, exposed as the ref `HEAD` so it can be read and updated in
//! the same [`Transaction`] as branches. Every change goes through
//! [`RefStore::transaction`], whose checks and writes are all-or-nothing.

mod memory;
mod name;
mod sled_refs;
mod tx;

pub use memory::MemoryRefStore;
pub use name::{DEFAULT_WORKSPACE, HEAD, NAMESPACES, RefName, WorkspaceName, check_ref_format};
pub use sled_refs::{META_TREE, REFLOG_TREE, REFS_TREE, SledRefStore, WORKSETS_TREE};

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::workingset::WorkingSet;

/// Longest chain of symbolic refs followed before giving up.
pub const MAX_SYMBOLIC_DEPTH: usize = 8;

/// What a ref points at.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum RefValue {
    /// An object id (a commit for branches; any object for tags).
    Direct(ObjectId),
    /// Another ref, by full name (HEAD → a branch).
    Symbolic(RefName),
}

impl fmt::Display for RefValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefValue::Direct(id) => write!(f, "{id}"),
            RefValue::Symbolic(name) => write!(f, "ref: {name}"),
        }
    }
}

impl Serialize for RefName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RefName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RefName::new(&s).map_err(serde::de::Error::custom)
    }
}

/// The precondition of one compare-and-swap update.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Expected<T> {
    /// No check.
    Any,
    /// The entry must not exist.
    Absent,
    /// The entry must exist with exactly this value.
    Equals(T),
}

/// What an update does.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Change<T> {
    /// Create or overwrite.
    Set(T),
    /// Remove (removing a missing entry is allowed when the precondition holds).
    Delete,
}

/// One ref update in a [`Transaction`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefUpdate {
    /// The ref; `HEAD` means the current workspace's HEAD.
    pub name: RefName,
    /// The compare-and-swap precondition.
    pub expected: Expected<RefValue>,
    /// The new value.
    pub change: Change<RefValue>,
}

/// One working-set update in a [`Transaction`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WorkingSetUpdate {
    /// The workspace.
    pub workspace: WorkspaceName,
    /// The compare-and-swap precondition on the whole record.
    pub expected: Expected<WorkingSet>,
    /// The new record.
    pub change: Change<WorkingSet>,
}

/// A set of updates applied atomically: either every check passes and every write happens, or
/// nothing changes.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Transaction {
    /// Ref updates, at most one per ref.
    pub refs: Vec<RefUpdate>,
    /// Working-set updates, at most one per workspace; not combinable with a `HEAD` update of
    /// the same workspace.
    pub working_sets: Vec<WorkingSetUpdate>,
    /// Makes another workspace current (it must exist once the transaction is applied). `HEAD`
    /// updates in the same transaction apply to the workspace that was current before.
    pub set_current_workspace: Option<WorkspaceName>,
    /// Reflogs to carry over, `(from, to)`: `to`'s reflog gets a copy of `from`'s entries
    /// (oldest first) before this transaction's own entries, as a branch rename does. `to`
    /// must be a ref the transaction updates.
    pub carry_reflogs: Vec<(RefName, RefName)>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a ref update.
    pub fn update_ref(
        mut self,
        name: RefName,
        expected: Expected<RefValue>,
        change: Change<RefValue>,
    ) -> Self {
        self.refs.push(RefUpdate {
            name,
            expected,
            change,
        });
        self
    }

    /// Adds a working-set update.
    pub fn update_working_set(
        mut self,
        workspace: WorkspaceName,
        expected: Expected<WorkingSet>,
        change: Change<WorkingSet>,
    ) -> Self {
        self.working_sets.push(WorkingSetUpdate {
            workspace,
            expected,
            change,
        });
        self
    }

    /// Switches the current workspace.
    pub fn switch_workspace(mut self, workspace: WorkspaceName) -> Self {
        self.set_current_workspace = Some(workspace);
        self
    }

    /// Carries `from`'s reflog over to `to` (see [`Transaction::carry_reflogs`]).
    pub fn carry_reflog(mut self, from: RefName, to: RefName) -> Self {
        self.carry_reflogs.push((from, to));
        self
    }
}

/// Who makes a transaction, when and why; copied into every reflog entry it writes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReflogMeta {
    /// `Name <email>`.
    pub who: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// Minutes east of UTC.
    pub tz_offset_min: i16,
    /// Why (e.g. `commit: add people`, `init`).
    pub message: String,
}

/// One reflog entry: a ref's value before and after one update.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ReflogEntry {
    /// The value before (`None`: the ref did not exist).
    pub old: Option<RefValue>,
    /// The value after (`None`: the ref was deleted).
    pub new: Option<RefValue>,
    /// `Name <email>`.
    pub who: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// Minutes east of UTC.
    pub tz_offset_min: i16,
    /// Why.
    pub message: String,
}

/// Version byte written before every encoded reflog entry.
pub const REFLOG_ENTRY_VERSION: u8 = 1;

impl ReflogEntry {
    /// Encodes the entry: version byte then postcard.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![REFLOG_ENTRY_VERSION];
        crate::object::postcard_encode(self, &mut out);
        out
    }

    /// Decodes an entry written by [`ReflogEntry::encode`]; `what` names it in errors.
    pub fn decode(bytes: &[u8], what: &str) -> Result<Self> {
        decode_versioned(bytes, REFLOG_ENTRY_VERSION, what)
    }
}

/// The version byte of stored ref values.
pub const REF_VALUE_VERSION: u8 = 1;

/// Encodes a stored ref value: version byte then postcard [`RefValue`].
pub fn encode_ref_value(value: &RefValue) -> Vec<u8> {
    let mut out = vec![REF_VALUE_VERSION];
    crate::object::postcard_encode(value, &mut out);
    out
}

/// Decodes a stored ref value; `what` names it in errors.
pub fn decode_ref_value(bytes: &[u8], what: &str) -> Result<RefValue> {
    decode_versioned(bytes, REF_VALUE_VERSION, what)
}

fn decode_versioned<T: for<'a> Deserialize<'a>>(
    bytes: &[u8],
    version: u8,
    what: &str,
) -> Result<T> {
    let malformed = |reason: String| Error::Storage(format!("{what}: malformed record: {reason}"));
    match bytes.split_first() {
        None => Err(malformed("empty".into())),
        Some((v, rest)) if *v == version => {
            let (value, tail) =
                postcard::take_from_bytes::<T>(rest).map_err(|e| malformed(e.to_string()))?;
            if !tail.is_empty() {
                return Err(malformed(format!("{} trailing bytes", tail.len())));
            }
            Ok(value)
        }
        Some((v, _)) => Err(malformed(format!("unsupported version {v}"))),
    }
}

/// The name a reflog is kept under: the full ref name, or `HEAD:<workspace>` for a HEAD.
pub fn log_name(name: &RefName, workspace: &WorkspaceName) -> String {
    if name.is_head() {
        head_log_name(workspace)
    } else {
        name.as_str().to_string()
    }
}

/// The reflog name of a workspace's HEAD (`:` cannot occur in ref names, so it never clashes).
pub fn head_log_name(workspace: &WorkspaceName) -> String {
    format!("{HEAD}:{workspace}")
}

/// Where a chain of symbolic refs ends.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Resolved {
    /// Every ref visited, starting with the one asked for.
    pub chain: Vec<RefName>,
    /// The object at the end, or `None` if the last ref does not exist (an unborn branch).
    pub target: Option<ObjectId>,
}

/// Storage of refs, reflogs and working sets.
pub trait RefStore: Send + Sync {
    /// The value of a ref; `HEAD` is the current workspace's HEAD.
    fn get(&self, name: &RefName) -> Result<Option<RefValue>>;
    /// Refs whose full name starts with `prefix` (never `HEAD`), sorted by name.
    fn list(&self, prefix: &str) -> Result<Vec<(RefName, RefValue)>>;
    /// Reflog of a ref, newest first; `HEAD` is the current workspace's HEAD.
    fn reflog(&self, name: &RefName) -> Result<Vec<ReflogEntry>>;
    /// Reflog of one workspace's HEAD, newest first.
    fn head_reflog(&self, workspace: &WorkspaceName) -> Result<Vec<ReflogEntry>>;
    /// The current workspace (`default` until another is made current).
    fn current_workspace(&self) -> Result<WorkspaceName>;
    /// The working set of a workspace.
    fn working_set(&self, workspace: &WorkspaceName) -> Result<Option<WorkingSet>>;
    /// Every workspace with its working set, sorted by name.
    fn working_sets(&self) -> Result<Vec<(WorkspaceName, WorkingSet)>>;
    /// Applies a transaction atomically, appending reflog entries for what it changes.
    ///
    /// A failed precondition is an [`Error::RefConflict`] naming the ref (or workspace), the
    /// expected and the actual value; nothing is written then.
    fn transaction(&self, tx: &Transaction, meta: &ReflogMeta) -> Result<()>;

    /// Follows symbolic refs from `name` to an object id.
    fn resolve(&self, name: &RefName) -> Result<Resolved> {
        let mut chain = vec![name.clone()];
        let mut current = name.clone();
        loop {
            match self.get(&current)? {
                None => {
                    return Ok(Resolved {
                        chain,
                        target: None,
                    });
                }
                Some(RefValue::Direct(id)) => {
                    return Ok(Resolved {
                        chain,
                        target: Some(id),
                    });
                }
                Some(RefValue::Symbolic(next)) => {
                    if chain.len() > MAX_SYMBOLIC_DEPTH || chain.contains(&next) {
                        return Err(Error::Invalid(format!(
                            "symbolic ref {name} does not resolve: chain {} is too long or loops",
                            chain
                                .iter()
                                .map(|r| r.as_str())
                                .collect::<Vec<_>>()
                                .join(" -> ")
                        )));
                    }
                    chain.push(next.clone());
                    current = next;
                }
            }
        }
    }
}

fn describe<T: fmt::Display>(value: Option<&T>) -> String {
    value.map_or_else(|| "nothing (absent)".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests;
