//! The sled-backed [`RefStore`]: four trees in the repository's sled database.
//!
//! Layout (see "Refs", "Reflog" and "Working sets" in `objects_format.md`):
//! - `refs`: full ref name → version byte + postcard [`RefValue`];
//! - `reflog`: log name, `0x00`, sequence number (u64 big-endian) → version byte + postcard
//!   [`ReflogEntry`];
//! - `worksets`: workspace name → version byte + postcard [`WorkingSet`];
//! - `meta`: `current-workspace` → workspace name; `reflog-next:<log name>` → next sequence
//!   number (u64 big-endian).

use std::collections::BTreeMap;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::tx::{self, Snapshot, Write};
use super::{
    RefName, RefStore, RefValue, ReflogEntry, ReflogMeta, Transaction, WorkspaceName,
    decode_ref_value, encode_ref_value, head_log_name, log_name,
};
use crate::error::{Error, Result};
use crate::workingset::WorkingSet;

/// Tree of refs.
pub const REFS_TREE: &str = "refs";
/// Tree of reflog entries.
pub const REFLOG_TREE: &str = "reflog";
/// Tree of working sets.
pub const WORKSETS_TREE: &str = "worksets";
/// Tree of bookkeeping values.
pub const META_TREE: &str = "meta";

const CURRENT_WORKSPACE_KEY: &[u8] = b"current-workspace";
const REFLOG_NEXT_PREFIX: &str = "reflog-next:";

/// Refs, reflogs and working sets in sled trees.
#[derive(Clone)]
pub struct SledRefStore {
    refs: sled::Tree,
    reflog: sled::Tree,
    worksets: sled::Tree,
    meta: sled::Tree,
}

fn log_key_prefix(log: &str) -> Vec<u8> {
    let mut k = log.as_bytes().to_vec();
    k.push(0);
    k
}

fn log_key(log: &str, seq: u64) -> Vec<u8> {
    let mut k = log_key_prefix(log);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn decode_u64(bytes: &[u8], what: &str) -> Result<u64> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| Error::Storage(format!("{what}: expected 8 bytes, found {}", bytes.len())))
}

fn decode_workspace(bytes: &[u8]) -> Result<WorkspaceName> {
    let s = std::str::from_utf8(bytes)
        .map_err(|_| Error::Storage("current workspace name is not UTF-8".into()))?;
    WorkspaceName::new(s).map_err(|e| Error::Storage(format!("stored current workspace: {e}")))
}

fn decode_ws(bytes: &[u8], ws: &WorkspaceName) -> Result<WorkingSet> {
    WorkingSet::decode(bytes, &format!("working set of workspace {ws}"))
}

fn decode_ref(bytes: &[u8], name: &RefName) -> Result<RefValue> {
    decode_ref_value(bytes, &format!("ref {name}"))
}

impl SledRefStore {
    /// Opens (creating if needed) the ref trees of an open sled database.
    pub fn new(db: &sled::Db) -> Result<Self> {
        Ok(SledRefStore {
            refs: db.open_tree(REFS_TREE)?,
            reflog: db.open_tree(REFLOG_TREE)?,
            worksets: db.open_tree(WORKSETS_TREE)?,
            meta: db.open_tree(META_TREE)?,
        })
    }

    fn log(&self, log: &str) -> Result<Vec<ReflogEntry>> {
        let mut out = Vec::new();
        for kv in self.reflog.scan_prefix(log_key_prefix(log)) {
            let (_, v) = kv?;
            out.push(ReflogEntry::decode(&v, &format!("reflog entry of {log}"))?);
        }
        out.reverse();
        Ok(out)
    }
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

fn abort<T>(e: Error) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// Reads a snapshot, plans and writes, all inside one sled transaction.
fn run(
    t: &Transaction,
    meta: &ReflogMeta,
    carried: &BTreeMap<String, Vec<ReflogEntry>>,
    refs: &TransactionalTree,
    reflog: &TransactionalTree,
    worksets: &TransactionalTree,
    metat: &TransactionalTree,
) -> TxResult<()> {
    let current = match metat.get(CURRENT_WORKSPACE_KEY)? {
        Some(v) => match decode_workspace(&v) {
            Ok(w) => w,
            Err(e) => return abort(e),
        },
        None => WorkspaceName::default_workspace(),
    };
    let needs = match tx::needs(t, &current) {
        Ok(n) => n,
        Err(e) => return abort(e),
    };
    let mut snap = Snapshot::default();
    for r in needs.refs {
        let v = match refs.get(r.as_str())? {
            Some(b) => match decode_ref(&b, &r) {
                Ok(v) => Some(v),
                Err(e) => return abort(e),
            },
            None => None,
        };
        snap.refs.insert(r, v);
    }
    for w in needs.worksets {
        let v = match worksets.get(w.as_str())? {
            Some(b) => match decode_ws(&b, &w) {
                Ok(v) => Some(v),
                Err(e) => return abort(e),
            },
            None => None,
        };
        snap.worksets.insert(w, v);
    }
    for l in needs.logs {
        let key = format!("{REFLOG_NEXT_PREFIX}{l}");
        let next = match metat.get(key.as_bytes())? {
            Some(b) => match decode_u64(&b, &key) {
                Ok(n) => n,
                Err(e) => return abort(e),
            },
            None => 0,
        };
        snap.log_next.insert(l, next);
    }
    snap.carried = carried.clone();
    let writes = match tx::plan(t, meta, &current, &snap) {
        Ok(w) => w,
        Err(e) => return abort(e),
    };
    for w in writes {
        match w {
            Write::Ref(name, Some(v)) => {
                refs.insert(name.as_str(), encode_ref_value(&v))?;
            }
            Write::Ref(name, None) => {
                refs.remove(name.as_str())?;
            }
            Write::WorkingSet(name, Some(v)) => {
                worksets.insert(name.as_str(), v.encode())?;
            }
            Write::WorkingSet(name, None) => {
                worksets.remove(name.as_str())?;
            }
            Write::Log(name, seq, entry) => {
                reflog.insert(log_key(&name, seq), entry.encode())?;
                let key = format!("{REFLOG_NEXT_PREFIX}{name}");
                metat.insert(key.as_bytes(), &(seq + 1).to_be_bytes())?;
            }
            Write::Current(ws) => {
                metat.insert(CURRENT_WORKSPACE_KEY, ws.as_str())?;
            }
        }
    }
    Ok(())
}

impl RefStore for SledRefStore {
    fn get(&self, name: &RefName) -> Result<Option<RefValue>> {
        if name.is_head() {
            let ws = self.current_workspace()?;
            return Ok(self.working_set(&ws)?.map(|w| w.head));
        }
        match self.refs.get(name.as_str())? {
            Some(b) => Ok(Some(decode_ref(&b, name)?)),
            None => Ok(None),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<(RefName, RefValue)>> {
        let mut out = Vec::new();
        for kv in self.refs.scan_prefix(prefix) {
            let (k, v) = kv?;
            let key = std::str::from_utf8(&k)
                .map_err(|_| Error::Storage("a stored ref name is not UTF-8".into()))?;
            let name = RefName::new(key).map_err(|e| Error::Storage(format!("stored ref: {e}")))?;
            let value = decode_ref(&v, &name)?;
            out.push((name, value));
        }
        Ok(out)
    }

    fn reflog(&self, name: &RefName) -> Result<Vec<ReflogEntry>> {
        self.log(&log_name(name, &self.current_workspace()?))
    }

    fn head_reflog(&self, workspace: &WorkspaceName) -> Result<Vec<ReflogEntry>> {
        self.log(&head_log_name(workspace))
    }

    fn current_workspace(&self) -> Result<WorkspaceName> {
        match self.meta.get(CURRENT_WORKSPACE_KEY)? {
            Some(v) => decode_workspace(&v),
            None => Ok(WorkspaceName::default_workspace()),
        }
    }

    fn working_set(&self, workspace: &WorkspaceName) -> Result<Option<WorkingSet>> {
        match self.worksets.get(workspace.as_str())? {
            Some(b) => Ok(Some(decode_ws(&b, workspace)?)),
            None => Ok(None),
        }
    }

    fn working_sets(&self) -> Result<Vec<(WorkspaceName, WorkingSet)>> {
        let mut out = Vec::new();
        for kv in self.worksets.iter() {
            let (k, v) = kv?;
            let ws = decode_workspace(&k)?;
            let set = decode_ws(&v, &ws)?;
            out.push((ws, set));
        }
        Ok(out)
    }

    fn transaction(&self, t: &Transaction, meta: &ReflogMeta) -> Result<()> {
        // Reflogs to carry are read before the transaction (sled transactions cannot scan);
        // reflogs only ever grow, and writers hold the repository lock.
        let mut carried = BTreeMap::new();
        if !t.carry_reflogs.is_empty() {
            let current = self.current_workspace()?;
            for (from, _) in &t.carry_reflogs {
                let name = log_name(from, &current);
                let mut entries = self.log(&name)?;
                entries.reverse();
                carried.insert(name, entries);
            }
        }
        (&self.refs, &self.reflog, &self.worksets, &self.meta)
            .transaction(|(refs, reflog, worksets, metat)| {
                run(t, meta, &carried, refs, reflog, worksets, metat)
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => Error::from(e),
            })
    }
}
