//! Backend-independent transaction logic: what to read, what to check, what to write.
//!
//! A backend reads the [`Needs`] of a transaction into a [`Snapshot`] (inside its own atomic
//! section), calls [`plan`], and applies the returned [`Write`]s only if it succeeded.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Change, Expected, RefName, RefValue, ReflogEntry, ReflogMeta, Transaction, WorkspaceName,
    describe, head_log_name, log_name,
};
use crate::error::{Error, Result};
use crate::workingset::WorkingSet;

/// Keys a transaction reads.
pub(crate) struct Needs {
    /// Stored refs (never `HEAD`).
    pub refs: BTreeSet<RefName>,
    /// Working sets.
    pub worksets: BTreeSet<WorkspaceName>,
    /// Reflogs whose next sequence number is needed.
    pub logs: BTreeSet<String>,
}

/// Current values of everything in [`Needs`].
#[derive(Default)]
pub(crate) struct Snapshot {
    pub refs: BTreeMap<RefName, Option<RefValue>>,
    pub worksets: BTreeMap<WorkspaceName, Option<WorkingSet>>,
    /// Next free sequence number per reflog.
    pub log_next: BTreeMap<String, u64>,
    /// Entries (oldest first) of the reflogs named in `Transaction::carry_reflogs`, by log name.
    pub carried: BTreeMap<String, Vec<ReflogEntry>>,
}

/// One write of a planned transaction.
pub(crate) enum Write {
    Ref(RefName, Option<RefValue>),
    WorkingSet(WorkspaceName, Option<WorkingSet>),
    /// Appends a reflog entry at sequence number `seq` and records `seq + 1` as next.
    Log(String, u64, ReflogEntry),
    Current(WorkspaceName),
}

/// Validates the shape of `tx` and lists what it reads.
pub(crate) fn needs(tx: &Transaction, current: &WorkspaceName) -> Result<Needs> {
    let mut needs = Needs {
        refs: BTreeSet::new(),
        worksets: BTreeSet::new(),
        logs: BTreeSet::new(),
    };
    let mut seen = BTreeSet::new();
    for u in &tx.refs {
        if !seen.insert(&u.name) {
            return Err(Error::Invalid(format!(
                "transaction updates {} twice",
                u.name
            )));
        }
        if u.name.is_head() {
            match &u.change {
                Change::Delete => return Err(Error::Invalid("HEAD cannot be deleted".into())),
                Change::Set(RefValue::Symbolic(t)) if !t.can_be_head() => {
                    return Err(Error::Invalid(format!(
                        "HEAD can only be symbolic to a branch, not {t}"
                    )));
                }
                Change::Set(_) => {}
            }
            needs.worksets.insert(current.clone());
        } else {
            if let Change::Set(RefValue::Symbolic(t)) = &u.change
                && (t.is_head() || *t == u.name)
            {
                return Err(Error::Invalid(format!(
                    "{} cannot be symbolic to {t}",
                    u.name
                )));
            }
            needs.refs.insert(u.name.clone());
        }
        needs.logs.insert(log_name(&u.name, current));
    }
    // Moving the ref the current HEAD is symbolic to is logged in HEAD's reflog too.
    if tx.refs.iter().any(|u| !u.name.is_head()) {
        needs.worksets.insert(current.clone());
        needs.logs.insert(head_log_name(current));
    }
    let head_updated = tx.refs.iter().any(|u| u.name.is_head());
    let mut seen_ws = BTreeSet::new();
    for u in &tx.working_sets {
        if !seen_ws.insert(&u.workspace) {
            return Err(Error::Invalid(format!(
                "transaction updates workspace {} twice",
                u.workspace
            )));
        }
        if head_updated && u.workspace == *current {
            return Err(Error::Invalid(format!(
                "transaction updates both HEAD and the working set of workspace {current}; set the head in the working set"
            )));
        }
        if let Change::Set(ws) = &u.change
            && let RefValue::Symbolic(t) = &ws.head
            && !t.can_be_head()
        {
            return Err(Error::Invalid(format!(
                "HEAD can only be symbolic to a branch, not {t}"
            )));
        }
        let deletes_current = matches!(u.change, Change::Delete)
            && u.workspace == *tx.set_current_workspace.as_ref().unwrap_or(current);
        if deletes_current {
            return Err(Error::Invalid(format!(
                "cannot delete the current workspace {}",
                u.workspace
            )));
        }
        needs.worksets.insert(u.workspace.clone());
        needs.logs.insert(head_log_name(&u.workspace));
    }
    if let Some(ws) = &tx.set_current_workspace {
        needs.worksets.insert(ws.clone());
    }
    Ok(needs)
}

fn check<T: PartialEq + std::fmt::Display>(
    what: &str,
    expected: &Expected<T>,
    actual: Option<&T>,
) -> Result<()> {
    let ok = match expected {
        Expected::Any => true,
        Expected::Absent => actual.is_none(),
        Expected::Equals(v) => actual == Some(v),
    };
    if ok {
        return Ok(());
    }
    Err(Error::RefConflict {
        name: what.to_string(),
        expected: match expected {
            Expected::Any => "anything".into(),
            Expected::Absent => "nothing (absent)".into(),
            Expected::Equals(v) => v.to_string(),
        },
        actual: describe(actual),
    })
}

/// Checks every precondition against `snap` and returns the writes, or the first failure.
pub(crate) fn plan(
    tx: &Transaction,
    meta: &ReflogMeta,
    current: &WorkspaceName,
    snap: &Snapshot,
) -> Result<Vec<Write>> {
    let mut writes = Vec::new();
    let mut log_next = snap.log_next.clone();
    for (from, to) in &tx.carry_reflogs {
        if !tx.refs.iter().any(|u| u.name == *to) || from.is_head() || to.is_head() {
            return Err(Error::Invalid(format!(
                "a transaction can carry a reflog only to a branch or tag it updates ({from} -> {to})"
            )));
        }
        let from_log = log_name(from, current);
        let entries = snap.carried.get(&from_log).ok_or_else(|| {
            Error::Storage(format!("transaction snapshot lacks reflog {from_log}"))
        })?;
        let to_log = log_name(to, current);
        let next = log_next.entry(to_log.clone()).or_insert(0);
        for e in entries {
            writes.push(Write::Log(to_log.clone(), *next, e.clone()));
            *next += 1;
        }
    }
    let mut log =
        |writes: &mut Vec<Write>, name: String, old: Option<RefValue>, new: Option<RefValue>| {
            let next = log_next.entry(name.clone()).or_insert(0);
            let entry = ReflogEntry {
                old,
                new,
                who: meta.who.clone(),
                time: meta.time,
                tz_offset_min: meta.tz_offset_min,
                message: meta.message.clone(),
            };
            writes.push(Write::Log(name, *next, entry));
            *next += 1;
        };
    let missing = |what: String| Error::Storage(format!("transaction snapshot lacks {what}"));

    for u in &tx.refs {
        if u.name.is_head() {
            let ws = snap
                .worksets
                .get(current)
                .ok_or_else(|| missing(format!("workspace {current}")))?;
            let old = ws.as_ref().map(|w| w.head.clone());
            check(u.name.as_str(), &u.expected, old.as_ref())?;
            let Change::Set(new) = &u.change else {
                return Err(Error::Invalid("HEAD cannot be deleted".into()));
            };
            let record = match ws {
                Some(w) => WorkingSet {
                    head: new.clone(),
                    ..w.clone()
                },
                None => WorkingSet {
                    head: new.clone(),
                    staged: None,
                    working: None,
                    merge: None,
                },
            };
            writes.push(Write::WorkingSet(current.clone(), Some(record)));
            log(&mut writes, head_log_name(current), old, Some(new.clone()));
        } else {
            let old = snap
                .refs
                .get(&u.name)
                .ok_or_else(|| missing(format!("ref {}", u.name)))?;
            check(u.name.as_str(), &u.expected, old.as_ref())?;
            let new = match &u.change {
                Change::Set(v) => Some(v.clone()),
                Change::Delete => None,
            };
            writes.push(Write::Ref(u.name.clone(), new.clone()));
            log(&mut writes, u.name.as_str().to_string(), old.clone(), new);
        }
    }

    for u in &tx.working_sets {
        let old = snap
            .worksets
            .get(&u.workspace)
            .ok_or_else(|| missing(format!("workspace {}", u.workspace)))?;
        check(
            &format!("workspace {}", u.workspace),
            &u.expected,
            old.as_ref(),
        )?;
        let new = match &u.change {
            Change::Set(w) => Some(w.clone()),
            Change::Delete => None,
        };
        let old_head = old.as_ref().map(|w| w.head.clone());
        let new_head = new.as_ref().map(|w| w.head.clone());
        writes.push(Write::WorkingSet(u.workspace.clone(), new));
        if old_head != new_head {
            log(&mut writes, head_log_name(&u.workspace), old_head, new_head);
        }
    }

    // Like git, a move of the ref HEAD is symbolic to also appears in HEAD's reflog, unless
    // this transaction already logged a HEAD change of the current workspace.
    let head_log = head_log_name(current);
    let head_logged = writes
        .iter()
        .any(|w| matches!(w, Write::Log(name, _, _) if *name == head_log));
    if !head_logged {
        let head_after = match tx.working_sets.iter().find(|u| u.workspace == *current) {
            Some(u) => match &u.change {
                Change::Set(w) => Some(w.head.clone()),
                Change::Delete => None,
            },
            None => snap
                .worksets
                .get(current)
                .and_then(|w| w.as_ref().map(|w| w.head.clone())),
        };
        if let Some(RefValue::Symbolic(target)) = head_after
            && let Some(u) = tx.refs.iter().find(|u| u.name == target)
        {
            let old = snap.refs.get(&u.name).cloned().flatten();
            let new = match &u.change {
                Change::Set(v) => Some(v.clone()),
                Change::Delete => None,
            };
            log(&mut writes, head_log, old, new);
        }
    }

    if let Some(ws) = &tx.set_current_workspace {
        let exists_before = matches!(snap.worksets.get(ws), Some(Some(_)));
        let written = tx.working_sets.iter().find(|u| u.workspace == *ws);
        let exists_after = match written {
            Some(u) => matches!(u.change, Change::Set(_)),
            None => exists_before,
        };
        if !exists_after {
            return Err(Error::Invalid(format!("workspace {ws} does not exist")));
        }
        writes.push(Write::Current(ws.clone()));
    }
    Ok(writes)
}
