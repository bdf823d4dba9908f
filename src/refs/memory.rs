//! An in-memory [`RefStore`] for tests and scratch repositories.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::tx::{self, Snapshot, Write};
use super::{
    RefName, RefStore, RefValue, ReflogEntry, ReflogMeta, Transaction, WorkspaceName,
    head_log_name, log_name,
};
use crate::error::Result;
use crate::workingset::WorkingSet;

#[derive(Default)]
struct State {
    refs: BTreeMap<RefName, RefValue>,
    /// Log name → entries, oldest first.
    logs: BTreeMap<String, Vec<ReflogEntry>>,
    worksets: BTreeMap<WorkspaceName, WorkingSet>,
    current: Option<WorkspaceName>,
}

/// Refs, reflogs and working sets in memory behind one mutex (so transactions are atomic).
#[derive(Default)]
pub struct MemoryRefStore {
    state: Mutex<State>,
}

impl MemoryRefStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn current(&self) -> WorkspaceName {
        self.current
            .clone()
            .unwrap_or_else(WorkspaceName::default_workspace)
    }

    fn log(&self, name: &str) -> Vec<ReflogEntry> {
        let mut entries = self.logs.get(name).cloned().unwrap_or_default();
        entries.reverse();
        entries
    }
}

impl RefStore for MemoryRefStore {
    fn get(&self, name: &RefName) -> Result<Option<RefValue>> {
        let s = self.lock();
        if name.is_head() {
            return Ok(s.worksets.get(&s.current()).map(|w| w.head.clone()));
        }
        Ok(s.refs.get(name).cloned())
    }

    fn list(&self, prefix: &str) -> Result<Vec<(RefName, RefValue)>> {
        let s = self.lock();
        Ok(s.refs
            .iter()
            .filter(|(k, _)| k.as_str().starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn reflog(&self, name: &RefName) -> Result<Vec<ReflogEntry>> {
        let s = self.lock();
        Ok(s.log(&log_name(name, &s.current())))
    }

    fn head_reflog(&self, workspace: &WorkspaceName) -> Result<Vec<ReflogEntry>> {
        Ok(self.lock().log(&head_log_name(workspace)))
    }

    fn current_workspace(&self) -> Result<WorkspaceName> {
        Ok(self.lock().current())
    }

    fn working_set(&self, workspace: &WorkspaceName) -> Result<Option<WorkingSet>> {
        Ok(self.lock().worksets.get(workspace).cloned())
    }

    fn working_sets(&self) -> Result<Vec<(WorkspaceName, WorkingSet)>> {
        Ok(self
            .lock()
            .worksets
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn transaction(&self, t: &Transaction, meta: &ReflogMeta) -> Result<()> {
        let mut s = self.lock();
        let current = s.current();
        let needs = tx::needs(t, &current)?;
        let mut snap = Snapshot::default();
        for r in needs.refs {
            let v = s.refs.get(&r).cloned();
            snap.refs.insert(r, v);
        }
        for w in needs.worksets {
            let v = s.worksets.get(&w).cloned();
            snap.worksets.insert(w, v);
        }
        for l in needs.logs {
            let next = s.logs.get(&l).map_or(0, |v| v.len() as u64);
            snap.log_next.insert(l, next);
        }
        for (from, _) in &t.carry_reflogs {
            let name = log_name(from, &current);
            let entries = s.logs.get(&name).cloned().unwrap_or_default();
            snap.carried.insert(name, entries);
        }
        for w in tx::plan(t, meta, &current, &snap)? {
            match w {
                Write::Ref(name, Some(v)) => {
                    s.refs.insert(name, v);
                }
                Write::Ref(name, None) => {
                    s.refs.remove(&name);
                }
                Write::WorkingSet(name, Some(v)) => {
                    s.worksets.insert(name, v);
                }
                Write::WorkingSet(name, None) => {
                    s.worksets.remove(&name);
                }
                Write::Log(name, _, entry) => s.logs.entry(name).or_default().push(entry),
                Write::Current(ws) => s.current = Some(ws),
            }
        }
        Ok(())
    }
}
