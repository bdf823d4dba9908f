//! Repository operations built on the three-way merge: `merge`, `merge --abort`, `revert`
//! and `cherry-pick`.
//!
//! Each computes the merged database first (objects only), then applies one ref/working-set
//! transaction: a commit when the result is clean, else a working set holding the merged
//! database and a [`MergeState`] with the conflicts.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::history::WorkState;
use crate::history::diff::{apply_changes, collisions};
use crate::history::ops::{carry_changes, move_head_tx, subject, write_commit};
use crate::history::state::{commit_root, empty_root_id, read_root};
use crate::history::{is_ancestor, resolve_commit};
use crate::id::{CommitId, RootId};
use crate::object::{Commit, Root};
use crate::repo::Repo;
use crate::table::NodeStore;
use crate::workingset::{MergeKind, MergeState};

use super::{Favor, RootMerge, base_root, merge_roots, store_conflicts, write_root};

/// How `merge` may record its result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FastForward {
    /// Fast-forward when possible, else a merge commit.
    #[default]
    Allow,
    /// Always make a merge commit.
    Never,
    /// Only fast-forward; refuse otherwise.
    Only,
}

/// Options of [`merge`].
#[derive(Clone, Debug, Default)]
pub struct MergeOptions {
    /// Fast-forward policy.
    pub fast_forward: FastForward,
    /// Stage the merged database without committing or recording the other parent.
    pub squash: bool,
    /// The merge commit's message (default `Merge <what> into <branch>`).
    pub message: Option<String>,
    /// Decide conflicts for one side instead of stopping.
    pub favor: Favor,
}

/// What a merge, revert or cherry-pick did.
#[derive(Clone, Debug)]
pub enum MergeOutcome {
    /// HEAD already contains the other commit.
    UpToDate,
    /// HEAD moved forward to this commit.
    FastForward(CommitId),
    /// A new commit recorded the merged database.
    Committed {
        /// The new commit.
        commit: CommitId,
        /// Rows written per table (`None`: the table was taken whole).
        changed: BTreeMap<String, Option<u64>>,
    },
    /// The merged database was staged without a commit (`--squash`).
    Staged {
        /// Rows written per table (`None`: the table was taken whole).
        changed: BTreeMap<String, Option<u64>>,
    },
    /// The merge stopped with conflicts, stored in the working set.
    Conflicts {
        /// Per table with conflicts: conflicting rows, and the reason of a table-level
        /// conflict.
        tables: BTreeMap<String, (u64, Option<String>)>,
        /// Rows written per table.
        changed: BTreeMap<String, Option<u64>>,
    },
}

fn no_merge_in_progress(st: &WorkState) -> Result<()> {
    if let Some(m) = &st.record.merge {
        let what = match m.kind {
            MergeKind::Merge | MergeKind::Squash => "merge",
            MergeKind::Revert => "revert",
            MergeKind::CherryPick => "cherry-pick",
        };
        return Err(Error::Invalid(format!(
            "a {what} of {} is in progress\nhint: resolve its conflicts and commit, or abort it with 'kodiak merge --abort'",
            m.other.short()
        )));
    }
    Ok(())
}

/// Merges revision `rev` into HEAD.
pub fn merge(repo: &Repo, rev: &str, opts: &MergeOptions) -> Result<MergeOutcome> {
    let other = resolve_commit(repo, rev)?;
    merge_commit(repo, other, rev, opts)
}

/// Merges commit `other` (called `label` in messages) into HEAD; `workspace merge` uses it
/// too.
pub fn merge_commit(
    repo: &Repo,
    other: CommitId,
    label: &str,
    opts: &MergeOptions,
) -> Result<MergeOutcome> {
    let st = WorkState::load(repo)?;
    no_merge_in_progress(&st)?;
    let store = repo.store();
    let other_root = commit_root(store, other)?;
    let Some(head) = st.head_commit else {
        // An unborn branch: the other commit becomes HEAD.
        if opts.fast_forward == FastForward::Never || opts.squash {
            return Err(Error::Invalid(format!(
                "cannot merge '{label}' with --no-ff or --squash: {} has no commits yet",
                st.head_label()
            )));
        }
        return fast_forward(repo, &st, other, other_root, label);
    };
    if is_ancestor(store, other, head)? {
        return Ok(MergeOutcome::UpToDate);
    }
    let can_ff = is_ancestor(store, head, other)?;
    if can_ff && opts.fast_forward != FastForward::Never && !opts.squash {
        return fast_forward(repo, &st, other, other_root, label);
    }
    if opts.fast_forward == FastForward::Only {
        return Err(Error::Invalid(format!(
            "not possible to fast-forward to '{label}': {} and '{label}' have diverged\nhint: merge without --ff-only to make a merge commit",
            st.head_label()
        )));
    }
    if !opts.squash {
        // A missing identity fails before the merge is computed.
        repo.signature()?;
    }
    let (base, base_commit) = base_root(store, head, other)?;
    let ours = st.head(store)?;
    let theirs = read_root(store, other_root)?;
    let ns = NodeStore::new(store.clone());
    let merged = merge_roots(&ns, &base, &ours, &theirs, opts.favor)?;
    let message = opts
        .message
        .clone()
        .unwrap_or_else(|| format!("Merge {label} into {}", st.head_label()));
    let kind = if opts.squash {
        MergeKind::Squash
    } else {
        MergeKind::Merge
    };
    conclude(
        repo,
        &st,
        merged,
        Conclude {
            other,
            base: base_commit,
            kind,
            message,
            parents: vec![head, other],
            author: None,
            label,
        },
    )
}

/// Fast-forwards HEAD to `other`, carrying uncommitted changes that do not collide.
fn fast_forward(
    repo: &Repo,
    st: &WorkState,
    other: CommitId,
    other_root: RootId,
    label: &str,
) -> Result<MergeOutcome> {
    let (staged, working) = carry_changes(repo, st, other_root, label)?;
    let tx = move_head_tx(st, other, other_root, staged, working);
    repo.transaction(&tx, &format!("merge {label}: Fast-forward"))?;
    Ok(MergeOutcome::FastForward(other))
}

struct Conclude<'a> {
    other: CommitId,
    base: Option<CommitId>,
    kind: MergeKind,
    message: String,
    parents: Vec<CommitId>,
    author: Option<crate::object::Signature>,
    label: &'a str,
}

/// Records a merged database: refuses if uncommitted changes touch what the merge changed;
/// commits a clean result (except squash), else stores it with the merge state.
fn conclude(
    repo: &Repo,
    st: &WorkState,
    merged: RootMerge,
    c: Conclude<'_>,
) -> Result<MergeOutcome> {
    let store = repo.store();
    let head = st.head(store)?;
    let merged_id = write_root(store, &merged.root)?;
    let (staged, working) = if st.is_dirty() {
        let staged = st.staged(store)?;
        let working = st.working(store)?;
        let mut clash = collisions(&head, &staged, &merged.root);
        for x in collisions(&head, &working, &merged.root) {
            if !clash.contains(&x) {
                clash.push(x);
            }
        }
        if !clash.is_empty() {
            clash.sort();
            return Err(Error::Invalid(format!(
                "your uncommitted changes to these tables would be overwritten by merging '{}':\n{}\nhint: commit them, or discard them with 'kodiak reset --hard', then merge again",
                c.label,
                clash
                    .iter()
                    .map(|x| format!("  {x}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )));
        }
        (
            write_root(store, &apply_changes(&merged.root, &head, &staged))?,
            write_root(store, &apply_changes(&merged.root, &head, &working))?,
        )
    } else {
        (merged_id, merged_id)
    };
    let tables: BTreeMap<String, (u64, Option<String>)> = merged
        .conflicts
        .iter()
        .map(|(n, c)| {
            (
                n.clone(),
                (
                    c.rows.len() as u64,
                    c.table.as_ref().map(|t| t.reason.clone()),
                ),
            )
        })
        .collect();
    let changed = merged.changed.clone();
    if merged.conflicts.is_empty() && c.kind != MergeKind::Squash {
        let (id, _) = write_commit(repo, merged_id, c.parents, &c.message, c.author, None)?;
        let tx = move_head_tx(st, id, merged_id, staged, working);
        let what = match c.kind {
            MergeKind::Revert => "revert",
            MergeKind::CherryPick => "cherry-pick",
            MergeKind::Merge | MergeKind::Squash => "merge",
        };
        repo.transaction(&tx, &format!("{what} {}: {}", c.label, subject(&c.message)))?;
        return Ok(MergeOutcome::Committed {
            commit: id,
            changed,
        });
    }
    let state = if merged.conflicts.is_empty() {
        None
    } else {
        Some(MergeState {
            other: c.other,
            base: c.base,
            message: c.message.clone(),
            conflicts: store_conflicts(store, &merged.conflicts)?,
            kind: c.kind,
            orig_staged: st.staged_root,
            orig_working: st.working_root,
        })
    };
    let stopped = state.is_some();
    let mut record = st.record_with(st.record.head.clone(), st.head_root, staged, working);
    record.merge = state;
    repo.transaction(&st.update(record), &format!("merge {}: stopped", c.label))?;
    Ok(if stopped {
        MergeOutcome::Conflicts { tables, changed }
    } else {
        MergeOutcome::Staged { changed }
    })
}

/// Abandons an unfinished merge, revert or cherry-pick: the staged and working roots go
/// back to what they were before it started.
pub fn abort(repo: &Repo) -> Result<()> {
    let st = WorkState::load(repo)?;
    let Some(m) = &st.record.merge else {
        return Err(Error::Invalid("there is no merge to abort".into()));
    };
    let mut record = st.record_with(
        st.record.head.clone(),
        st.head_root,
        m.orig_staged,
        m.orig_working,
    );
    record.merge = None;
    repo.transaction(&st.update(record), "merge: abort")
}

/// The commit `rev` names, with its single parent's root (the empty root for a root commit);
/// merge commits are refused.
fn one_commit(repo: &Repo, rev: &str, what: &str) -> Result<(CommitId, Commit, Root)> {
    let id = resolve_commit(repo, rev)?;
    let store = repo.store();
    let c: Commit = store.get(&id)?;
    let parent_root = match c.parents.as_slice() {
        [] => empty_root_id(),
        [p] => commit_root(store, *p)?,
        _ => {
            return Err(Error::Invalid(format!(
                "cannot {what} {}: it is a merge commit",
                id.short()
            )));
        }
    };
    Ok((id, c, read_root(store, parent_root)?))
}

/// Commits the inverse of commit `rev` on HEAD through the three-way merge (base: the
/// commit, theirs: its parent), stopping with stored conflicts when it collides.
pub fn revert(repo: &Repo, rev: &str, favor: Favor) -> Result<MergeOutcome> {
    let (id, c, parent) = one_commit(repo, rev, "revert")?;
    let message = format!(
        "Revert \"{}\"\n\nThis reverts commit {}.",
        subject(&c.message),
        id.to_hex()
    );
    let base = read_root(repo.store(), c.root)?;
    apply_one(
        repo,
        rev,
        id,
        &base,
        &parent,
        message,
        None,
        MergeKind::Revert,
        favor,
    )
}

/// Applies the changes of commit `rev` onto HEAD as a new commit with its message and
/// author, stopping with stored conflicts when it collides.
pub fn cherry_pick(repo: &Repo, rev: &str, favor: Favor) -> Result<MergeOutcome> {
    let (id, c, parent) = one_commit(repo, rev, "cherry-pick")?;
    let theirs = read_root(repo.store(), c.root)?;
    apply_one(
        repo,
        rev,
        id,
        &parent,
        &theirs,
        c.message.clone(),
        Some(c.author.clone()),
        MergeKind::CherryPick,
        favor,
    )
}

#[allow(clippy::too_many_arguments)]
fn apply_one(
    repo: &Repo,
    label: &str,
    id: CommitId,
    base: &Root,
    theirs: &Root,
    message: String,
    author: Option<crate::object::Signature>,
    kind: MergeKind,
    favor: Favor,
) -> Result<MergeOutcome> {
    let st = WorkState::load(repo)?;
    no_merge_in_progress(&st)?;
    repo.signature()?;
    let ours = st.head(repo.store())?;
    let ns = NodeStore::new(repo.store().clone());
    let merged = merge_roots(&ns, base, &ours, theirs, favor)?;
    if merged.root == ours && merged.conflicts.is_empty() {
        return Err(Error::Invalid(format!(
            "nothing to commit: applying {} leaves the database unchanged",
            id.short()
        )));
    }
    conclude(
        repo,
        &st,
        merged,
        Conclude {
            other: id,
            base: None,
            kind,
            message,
            parents: st.head_commit.into_iter().collect(),
            author,
            label,
        },
    )
}
