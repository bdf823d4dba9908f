//! Workspaces: independent HEAD, staged and working roots, each with a tip ref
//! `refs/workspaces/<name>` that HEAD is symbolic to, so commits made in the workspace move it.

use crate::error::{Error, Result};
use crate::id::CommitId;
use crate::refs::{Change, Expected, RefName, RefValue, Transaction, WorkspaceName};
use crate::repo::Repo;
use crate::workingset::WorkingSet;

use super::revision::resolve_commit;
use super::state::WorkState;

/// One workspace in a listing.
#[derive(Clone, Debug)]
pub struct WorkspaceInfo {
    /// Its state.
    pub state: WorkState,
    /// Whether it is the current workspace.
    pub current: bool,
}

/// Creates a workspace starting at `from` (default: the current HEAD commit).
pub fn create(repo: &Repo, name: &str, from: Option<&str>) -> Result<Option<CommitId>> {
    let ws = WorkspaceName::new(name)?;
    if repo.refs().working_set(&ws)?.is_some() {
        return Err(Error::Invalid(format!("workspace '{name}' already exists")));
    }
    let start = match from {
        Some(rev) => Some(resolve_commit(repo, rev)?),
        None => WorkState::load(repo)?.head_commit,
    };
    let tip = RefName::workspace_tip(&ws);
    let mut tx = Transaction::new();
    if let Some(c) = start {
        tx = tx.update_ref(
            tip.clone(),
            Expected::Absent,
            Change::Set(RefValue::Direct(c.id())),
        );
    } else if repo.refs().get(&tip)?.is_some() {
        return Err(Error::Invalid(format!("{tip} already exists")));
    }
    tx = tx.update_working_set(
        ws,
        Expected::Absent,
        Change::Set(WorkingSet {
            head: RefValue::Symbolic(tip),
            staged: None,
            working: None,
            merge: None,
        }),
    );
    repo.transaction(
        &tx,
        &format!("workspace: created {name} from {}", from.unwrap_or("HEAD")),
    )?;
    Ok(start)
}

/// Makes `name` the current workspace.
pub fn switch(repo: &Repo, name: &str) -> Result<()> {
    let ws = WorkspaceName::new(name)?;
    if repo.refs().working_set(&ws)?.is_none() {
        return Err(Error::Invalid(format!(
            "workspace '{name}' does not exist\nhint: create it with 'kodiak workspace create {name}'"
        )));
    }
    let tx = Transaction::new().switch_workspace(ws);
    repo.transaction(&tx, &format!("workspace: switch to {name}"))
}

/// Every workspace, sorted by name.
pub fn list(repo: &Repo) -> Result<Vec<WorkspaceInfo>> {
    let current = repo.current_workspace()?;
    let mut out = Vec::new();
    for (ws, _) in repo.refs().working_sets()? {
        out.push(WorkspaceInfo {
            current: ws == current,
            state: WorkState::load_workspace(repo, &ws)?,
        });
    }
    Ok(out)
}

/// Brings a workspace's commits into the current HEAD: fast-forward when possible, else a
/// three-way merge (see [`crate::merge::ops::merge_commit`]).
pub fn merge(
    repo: &Repo,
    name: &str,
    opts: &crate::merge::ops::MergeOptions,
) -> Result<crate::merge::ops::MergeOutcome> {
    let ws = WorkspaceName::new(name)?;
    let st = WorkState::load(repo)?;
    if ws == st.workspace {
        return Err(Error::Invalid(format!(
            "cannot merge workspace '{name}' into itself"
        )));
    }
    let other = WorkState::load_workspace(repo, &ws)?;
    let Some(tip) = other.head_commit else {
        return Ok(crate::merge::ops::MergeOutcome::UpToDate);
    };
    crate::merge::ops::merge_commit(repo, tip, &format!("workspace {name}"), opts)
}

/// Deletes a workspace and its tip ref; refuses the current one, and one with uncommitted
/// changes unless `force`.
pub fn delete(repo: &Repo, name: &str, force: bool) -> Result<()> {
    let ws = WorkspaceName::new(name)?;
    if ws == repo.current_workspace()? {
        return Err(Error::Invalid(format!(
            "cannot delete workspace '{name}': it is the current workspace\nhint: switch to another workspace first"
        )));
    }
    let st = WorkState::load_workspace(repo, &ws)?;
    if st.is_dirty() && !force {
        return Err(Error::Invalid(format!(
            "workspace '{name}' has uncommitted changes\nhint: commit them there, or use 'kodiak workspace delete --force {name}' to discard them"
        )));
    }
    let mut tx = Transaction::new().update_working_set(
        ws.clone(),
        Expected::Equals(st.record.clone()),
        Change::Delete,
    );
    let tip = RefName::workspace_tip(&ws);
    if let Some(v) = repo.refs().get(&tip)? {
        tx = tx.update_ref(tip, Expected::Equals(v), Change::Delete);
    }
    repo.transaction(&tx, &format!("workspace: deleted {name}"))
}
