//! Snapshots (`refs/snapshots/<name>`): the working state, committed or not, saved as a commit
//! whose root is the working root and whose parent is HEAD's commit.
//!
//! The commit message is the user's message followed by trailers naming where the snapshot was
//! taken: `Snapshot-Of: <HEAD's ref, or a commit id when detached>` and
//! `Snapshot-Workspace: <workspace>`.

use crate::error::{Error, Result};
use crate::id::CommitId;
use crate::object::Commit;
use crate::refs::{Change, Expected, RefName, RefValue, Transaction};
use crate::repo::Repo;

use super::ops::write_commit;
use super::revision::peel_to_commit;
use super::state::{WorkState, read_root};

const SOURCE_TRAILER: &str = "Snapshot-Of: ";
const WORKSPACE_TRAILER: &str = "Snapshot-Workspace: ";

/// `refs/snapshots/<name>`, validated.
pub fn snapshot_ref(name: &str) -> Result<RefName> {
    RefName::new(&format!("refs/snapshots/{name}"))
}

/// One snapshot in a listing.
#[derive(Clone, Debug)]
pub struct SnapshotInfo {
    /// Its name.
    pub name: String,
    /// Its commit.
    pub commit_id: CommitId,
    /// The commit.
    pub commit: Commit,
    /// HEAD's ref (or commit) when it was taken.
    pub source: String,
    /// The workspace it was taken in.
    pub workspace: String,
    /// The message without trailers.
    pub message: String,
    /// The tables it holds.
    pub tables: Vec<String>,
}

/// Saves the current working state as snapshot `name`.
pub fn create(repo: &Repo, name: &str, message: Option<&str>) -> Result<CommitId> {
    let r = snapshot_ref(name)?;
    if repo.refs().get(&r)?.is_some() {
        return Err(Error::Invalid(format!("snapshot '{name}' already exists")));
    }
    let st = WorkState::load(repo)?;
    let source = match (&st.head_ref, st.head_commit) {
        (Some(r), _) => r.as_str().to_string(),
        (None, Some(c)) => c.to_hex(),
        (None, None) => "HEAD".to_string(),
    };
    let text = format!(
        "{}\n\n{SOURCE_TRAILER}{source}\n{WORKSPACE_TRAILER}{}\n",
        message.unwrap_or(&format!("snapshot {name}")),
        st.workspace
    );
    let parents = st.head_commit.into_iter().collect();
    let (id, _) = write_commit(repo, st.working_root, parents, &text, None, None)?;
    let tx =
        Transaction::new().update_ref(r, Expected::Absent, Change::Set(RefValue::Direct(id.id())));
    repo.transaction(&tx, &format!("snapshot: created {name}"))?;
    Ok(id)
}

fn parse(repo: &Repo, name: &str, id: CommitId) -> Result<SnapshotInfo> {
    let commit: Commit = repo.store().get(&id)?;
    let mut source = String::new();
    let mut workspace = String::new();
    let mut body = Vec::new();
    for line in commit.message.lines() {
        if let Some(s) = line.strip_prefix(SOURCE_TRAILER) {
            source = s.to_string();
        } else if let Some(w) = line.strip_prefix(WORKSPACE_TRAILER) {
            workspace = w.to_string();
        } else {
            body.push(line);
        }
    }
    let tables = read_root(repo.store(), commit.root)?
        .tables
        .into_keys()
        .collect();
    Ok(SnapshotInfo {
        name: name.to_string(),
        commit_id: id,
        source,
        workspace,
        message: body.join("\n").trim().to_string(),
        tables,
        commit,
    })
}

/// Every snapshot, sorted by name.
pub fn list(repo: &Repo) -> Result<Vec<SnapshotInfo>> {
    let mut out = Vec::new();
    for (r, v) in repo.refs().list("refs/snapshots/")? {
        if let RefValue::Direct(id) = v {
            let c = peel_to_commit(repo, id, r.as_str())?;
            out.push(parse(repo, r.short(), c)?);
        }
    }
    Ok(out)
}

/// Looks up one snapshot.
pub fn get(repo: &Repo, name: &str) -> Result<SnapshotInfo> {
    let r = snapshot_ref(name)?;
    match repo.refs().get(&r)? {
        Some(RefValue::Direct(id)) => {
            let c = peel_to_commit(repo, id, r.as_str())?;
            parse(repo, name, c)
        }
        _ => Err(Error::Invalid(format!(
            "snapshot '{name}' not found\nhint: 'kodiak snapshot list' shows the snapshots"
        ))),
    }
}

/// Makes the snapshot's database the working root (HEAD stays; nothing staged); refuses to
/// overwrite uncommitted work unless `force`.
pub fn restore(repo: &Repo, name: &str, force: bool) -> Result<()> {
    let snap = get(repo, name)?;
    let st = WorkState::load(repo)?;
    if st.is_dirty() && !force {
        return Err(Error::Invalid(format!(
            "restoring snapshot '{name}' would overwrite uncommitted changes\nhint: commit them, take a snapshot of them, or use --force to discard them"
        )));
    }
    st.set_roots(
        repo,
        st.head_root,
        snap.commit.root,
        &format!("snapshot: restored {name}"),
    )
}

/// Deletes a snapshot.
pub fn delete(repo: &Repo, name: &str) -> Result<()> {
    let snap = get(repo, name)?;
    let r = snapshot_ref(name)?;
    let tx = Transaction::new().update_ref(
        r,
        Expected::Equals(RefValue::Direct(snap.commit_id.id())),
        Change::Delete,
    );
    repo.transaction(&tx, &format!("snapshot: deleted {name}"))
}
