//! The working state of a workspace: HEAD, staged and working roots, read and updated with a
//! compare-and-swap on the working-set record.
//!
//! `staged: None` means "the same as HEAD's root" and `working: None` means "the same as the
//! staged root"; [`WorkState::record_with`] normalises roots back to `None` when they equal what
//! they would default to, so a clean workspace always has both unset. An unborn branch has the
//! empty root [`Root::default`].

use crate::error::{Error, Result};
use crate::id::{CommitId, RootId};
use crate::object::{Commit, Root, id_of};
use crate::refs::{Change, Expected, RefName, RefValue, Transaction, WorkspaceName};
use crate::repo::Repo;
use crate::store::Store;
use crate::workingset::WorkingSet;

/// The id of the empty root (no tables, blobs or packages).
pub fn empty_root_id() -> RootId {
    id_of(&Root::default())
}

/// Loads a root; the empty root is known without being stored.
pub fn read_root(store: &Store, id: RootId) -> Result<Root> {
    if id == empty_root_id() {
        return Ok(Root::default());
    }
    store.get::<Root>(&id)
}

/// Stores a root and returns its id (the empty root is stored too, so it can be shown).
pub fn write_root(store: &Store, root: &Root) -> Result<RootId> {
    store.put(root)
}

/// The root a commit records.
pub fn commit_root(store: &Store, commit: CommitId) -> Result<RootId> {
    Ok(store.get::<Commit>(&commit)?.root)
}

/// A workspace's state as read at one moment; updates are checked against [`WorkState::record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkState {
    /// The workspace.
    pub workspace: WorkspaceName,
    /// The working-set record as read (the compare-and-swap precondition of updates).
    pub record: WorkingSet,
    /// The ref HEAD is symbolic to (a branch or a workspace tip), or `None` when detached.
    pub head_ref: Option<RefName>,
    /// The commit HEAD resolves to, `None` on an unborn branch.
    pub head_commit: Option<CommitId>,
    /// HEAD's root (the empty root when unborn).
    pub head_root: RootId,
    /// The staged root.
    pub staged_root: RootId,
    /// The working root.
    pub working_root: RootId,
}

impl WorkState {
    /// Reads the current workspace's state.
    pub fn load(repo: &Repo) -> Result<WorkState> {
        Self::load_workspace(repo, &repo.current_workspace()?)
    }

    /// Reads the state of `workspace`.
    pub fn load_workspace(repo: &Repo, workspace: &WorkspaceName) -> Result<WorkState> {
        let record = repo
            .refs()
            .working_set(workspace)?
            .ok_or_else(|| Error::Invalid(format!("workspace '{workspace}' does not exist")))?;
        let (head_ref, head_commit) = match &record.head {
            RefValue::Direct(id) => (None, Some(CommitId::new(*id))),
            RefValue::Symbolic(name) => {
                let target = repo.refs().resolve(name)?.target;
                (Some(name.clone()), target.map(CommitId::new))
            }
        };
        let head_root = match head_commit {
            Some(c) => commit_root(repo.store(), c)?,
            None => empty_root_id(),
        };
        let staged_root = record.staged.unwrap_or(head_root);
        let working_root = record.working.unwrap_or(staged_root);
        Ok(WorkState {
            workspace: workspace.clone(),
            record,
            head_ref,
            head_commit,
            head_root,
            staged_root,
            working_root,
        })
    }

    /// HEAD's root as an object.
    pub fn head(&self, store: &Store) -> Result<Root> {
        read_root(store, self.head_root)
    }

    /// The staged root as an object.
    pub fn staged(&self, store: &Store) -> Result<Root> {
        read_root(store, self.staged_root)
    }

    /// The working root as an object.
    pub fn working(&self, store: &Store) -> Result<Root> {
        read_root(store, self.working_root)
    }

    /// Whether anything is staged or changed since HEAD.
    pub fn is_dirty(&self) -> bool {
        self.staged_root != self.head_root || self.working_root != self.head_root
    }

    /// A branch name for messages: the short name HEAD is on, or `HEAD` when detached.
    pub fn head_label(&self) -> String {
        match &self.head_ref {
            Some(r) => r.short().to_string(),
            None => "HEAD".to_string(),
        }
    }

    /// The record with new roots, normalised against a HEAD whose root is `head_root`.
    pub fn record_with(
        &self,
        head: RefValue,
        head_root: RootId,
        staged: RootId,
        working: RootId,
    ) -> WorkingSet {
        WorkingSet {
            head,
            staged: (staged != head_root).then_some(staged),
            working: (working != staged).then_some(working),
            merge: self.record.merge.clone(),
        }
    }

    /// The transaction step that replaces this workspace's record, checked against the record
    /// as read.
    pub fn update(&self, new: WorkingSet) -> Transaction {
        Transaction::new().update_working_set(
            self.workspace.clone(),
            Expected::Equals(self.record.clone()),
            Change::Set(new),
        )
    }

    /// Sets the staged and working roots (HEAD unchanged), compare-and-swap.
    pub fn set_roots(
        &self,
        repo: &Repo,
        staged: RootId,
        working: RootId,
        message: &str,
    ) -> Result<()> {
        let new = self.record_with(self.record.head.clone(), self.head_root, staged, working);
        if new == self.record {
            return Ok(());
        }
        repo.transaction(&self.update(new), message)
    }

    /// Stores `root` and makes it the working root, compare-and-swap; returns its id.
    pub fn set_working(&self, repo: &Repo, root: &Root, message: &str) -> Result<RootId> {
        let id = write_root(repo.store(), root)?;
        self.set_roots(repo, self.staged_root, id, message)?;
        Ok(id)
    }

    /// Stores `root` and makes it both the staged and the working root; returns its id.
    pub fn set_staged_and_working(
        &self,
        repo: &Repo,
        root: &Root,
        message: &str,
    ) -> Result<RootId> {
        let id = write_root(repo.store(), root)?;
        self.set_roots(repo, id, id, message)?;
        Ok(id)
    }
}
