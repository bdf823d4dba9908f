//! Operations that record and move through history: commit, stage, branch, switch, tag,
//! reset, rollback and checkout.
//!
//! Every operation writes its objects first, then applies ONE ref/working-set transaction whose
//! compare-and-swap preconditions are the values it read, so a concurrent change makes it fail
//! instead of being lost.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::id::{CommitId, ObjectId, RootId};
use crate::object::{Commit, Kind, Root, Signature, Tag, encode};
use crate::refs::{Change, Expected, RefName, RefValue, Transaction, WorkspaceName};
use crate::repo::Repo;

use super::diff::{TableChange, apply_changes, collisions, diff_roots};
use super::revision::{find_ref, peel_to_commit, resolve, resolve_commit};
use super::state::{WorkState, commit_root, empty_root_id, read_root, write_root};
use super::walk::is_ancestor;

/// A change id for a new commit: random, or derived from the commit's content when
/// `KODIAK_TIMESTAMP` pins the clock (so tests are reproducible).
pub fn new_change_id(commit: &Commit) -> [u8; 16] {
    let pinned = std::env::var("KODIAK_TIMESTAMP").is_ok_and(|t| !t.trim().is_empty());
    if !pinned {
        return ulid::Ulid::generate().to_bytes();
    }
    let digest = ObjectId::hash(&encode(commit));
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest.as_bytes()[..10]);
    let ms = u64::try_from(commit.committer.time)
        .unwrap_or(0)
        .saturating_mul(1000);
    ulid::Ulid::from_parts(ms, u128::from_be_bytes(random)).to_bytes()
}

/// Parses `Name <email>` into a signature at `when`'s time.
pub fn parse_author(text: &str, when: &Signature) -> Result<Signature> {
    let bad = || Error::Invalid(format!("invalid author '{text}': expected 'Name <email>'"));
    let (name, rest) = text.split_once('<').ok_or_else(bad)?;
    let email = rest.strip_suffix('>').ok_or_else(bad)?;
    let name = name.trim();
    if name.is_empty() || email.trim().is_empty() || email.contains(['<', '>']) {
        return Err(bad());
    }
    Ok(Signature {
        name: name.to_string(),
        email: email.trim().to_string(),
        time: when.time,
        tz_offset_min: when.tz_offset_min,
    })
}

/// The first line of a message.
pub fn subject(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

/// Builds and stores a commit signed by the repository identity.
pub fn write_commit(
    repo: &Repo,
    root: RootId,
    parents: Vec<CommitId>,
    message: &str,
    author: Option<Signature>,
    change_id: Option<[u8; 16]>,
) -> Result<(CommitId, Commit)> {
    let committer = repo.signature()?;
    // The root must be stored so the commit never points at a missing object.
    if root == empty_root_id() {
        write_root(repo.store(), &Root::default())?;
    } else if !repo.store().has(&root.id())? {
        return Err(Error::Missing {
            id: root.id(),
            kind: Kind::Root,
        });
    }
    let mut commit = Commit {
        root,
        parents,
        author: author.unwrap_or_else(|| committer.clone()),
        committer,
        message: message.to_string(),
        change_id: [0; 16],
    };
    commit.change_id = change_id.unwrap_or_else(|| new_change_id(&commit));
    let id = repo.store().put(&commit)?;
    Ok((id, commit))
}

/// What HEAD's ref (or HEAD itself when detached) is expected to hold.
fn head_expected(st: &WorkState) -> Expected<RefValue> {
    match st.head_commit {
        Some(c) => Expected::Equals(RefValue::Direct(c.id())),
        None => Expected::Absent,
    }
}

/// A transaction moving HEAD (its branch, or itself when detached) to `commit`, with staged and
/// working roots `staged` and `working`.
pub fn move_head_tx(
    st: &WorkState,
    commit: CommitId,
    new_head_root: RootId,
    staged: RootId,
    working: RootId,
) -> Transaction {
    match &st.head_ref {
        Some(r) => {
            let record = st.record_with(st.record.head.clone(), new_head_root, staged, working);
            let tx = Transaction::new().update_ref(
                r.clone(),
                head_expected(st),
                Change::Set(RefValue::Direct(commit.id())),
            );
            Transaction {
                working_sets: st.update(record).working_sets,
                ..tx
            }
        }
        None => st.update(st.record_with(
            RefValue::Direct(commit.id()),
            new_head_root,
            staged,
            working,
        )),
    }
}

/// Options of [`commit`].
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// The message.
    pub message: String,
    /// Commit the working root (`-a`) instead of the staged one.
    pub all: bool,
    /// Replace HEAD's commit instead of adding a child.
    pub amend: bool,
    /// Author, if not the committer.
    pub author: Option<Signature>,
    /// Allow a commit whose root equals its parent's.
    pub allow_empty: bool,
}

/// What [`commit`] made.
#[derive(Clone, Debug)]
pub struct CommitOutcome {
    /// The new commit.
    pub id: CommitId,
    /// The commit object.
    pub commit: Commit,
    /// Where it went: branch short name, workspace tip, or `HEAD` when detached.
    pub label: String,
    /// Whether it has no parents.
    pub root_commit: bool,
    /// Table changes relative to its first parent.
    pub changes: BTreeMap<String, TableChange>,
}

/// Records the staged (or with `all`, the working) database as a new commit on HEAD.
pub fn commit(repo: &Repo, opts: &CommitOptions) -> Result<CommitOutcome> {
    let st = WorkState::load(repo)?;
    if let Some(m) = &st.record.merge
        && !m.conflicts.is_empty()
    {
        return Err(Error::Invalid(format!(
            "cannot commit: {} table(s) have unresolved merge conflicts ({})\nhint: see them with 'kodiak conflicts', resolve them with 'kodiak conflicts resolve', or abort with 'kodiak merge --abort'",
            m.conflicts.len(),
            m.conflicts.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    if opts.message.trim().is_empty() {
        return Err(Error::Invalid(
            "aborting commit due to an empty commit message".into(),
        ));
    }
    let root = if opts.all {
        st.working_root
    } else {
        st.staged_root
    };
    let (parents, base_root, change_id) = if opts.amend {
        let head = st.head_commit.ok_or_else(|| {
            Error::Invalid("nothing to amend: the current branch has no commits yet".into())
        })?;
        let old: Commit = repo.store().get(&head)?;
        let base = match old.parents.first() {
            Some(p) => commit_root(repo.store(), *p)?,
            None => empty_root_id(),
        };
        (old.parents, base, Some(old.change_id))
    } else {
        let mut parents: Vec<CommitId> = st.head_commit.into_iter().collect();
        if let Some(m) = &st.record.merge
            && m.kind == crate::workingset::MergeKind::Merge
        {
            parents.push(m.other);
        }
        (parents, st.head_root, None)
    };
    if !opts.amend && !opts.allow_empty && root == st.head_root && st.record.merge.is_none() {
        let unstaged = st.working_root != st.staged_root;
        return Err(Error::Invalid(if unstaged {
            "nothing staged to commit; use 'kodiak add <table>…' or 'kodiak commit -a' to record working changes (or --allow-empty)".to_string()
        } else {
            "nothing to commit, working state clean (use --allow-empty to record an empty commit)"
                .to_string()
        }));
    }
    let (id, c) = write_commit(
        repo,
        root,
        parents,
        &opts.message,
        opts.author.clone(),
        change_id,
    )?;
    let working = if opts.all { root } else { st.working_root };
    let mut tx = move_head_tx(&st, id, root, root, working);
    if st.record.merge.is_some()
        && let Some(u) = tx.working_sets.first_mut()
        && let Change::Set(w) = &mut u.change
    {
        w.merge = None;
    }
    let kind = if opts.amend {
        "commit (amend)"
    } else if c.parents.is_empty() {
        "commit (initial)"
    } else if c.parents.len() > 1 {
        "commit (merge)"
    } else {
        "commit"
    };
    repo.transaction(&tx, &format!("{kind}: {}", subject(&opts.message)))?;
    let changes = diff_roots(
        &read_root(repo.store(), base_root)?,
        &read_root(repo.store(), root)?,
    );
    Ok(CommitOutcome {
        id,
        root_commit: c.parents.is_empty(),
        commit: c,
        label: commit_label(&st),
        changes,
    })
}

/// Where a commit went, for `[LABEL id] subject`: the branch or workspace tip, or
/// `detached HEAD`.
fn commit_label(st: &WorkState) -> String {
    match &st.head_ref {
        Some(r) => r.short().to_string(),
        None => "detached HEAD".to_string(),
    }
}

fn check_tables_exist(names: &[String], roots: &[&Root]) -> Result<()> {
    for n in names {
        if !roots.iter().any(|r| r.tables.contains_key(n)) {
            return Err(Error::Invalid(format!("table '{n}' does not exist")));
        }
    }
    Ok(())
}

fn copy_tables(target: &mut Root, source: &Root, names: &[String]) {
    for n in names {
        match source.tables.get(n) {
            Some(t) => {
                target.tables.insert(n.clone(), *t);
            }
            None => {
                target.tables.remove(n);
            }
        }
    }
}

/// Stages tables: the staged root takes their working version (or their deletion).
pub fn stage(repo: &Repo, tables: &[String]) -> Result<()> {
    let st = WorkState::load(repo)?;
    let working = st.working(repo.store())?;
    let mut staged = st.staged(repo.store())?;
    check_tables_exist(tables, &[&working, &staged])?;
    copy_tables(&mut staged, &working, tables);
    let id = write_root(repo.store(), &staged)?;
    st.set_roots(
        repo,
        id,
        st.working_root,
        &format!("add: {}", tables.join(" ")),
    )
}

/// Stages everything: the staged root becomes the working root.
pub fn stage_all(repo: &Repo) -> Result<()> {
    let st = WorkState::load(repo)?;
    st.set_roots(repo, st.working_root, st.working_root, "add: -A")
}

/// Unstages tables: their staged version goes back to HEAD's.
pub fn unstage(repo: &Repo, tables: &[String]) -> Result<()> {
    let st = WorkState::load(repo)?;
    let head = st.head(repo.store())?;
    let mut staged = st.staged(repo.store())?;
    let working = st.working(repo.store())?;
    check_tables_exist(tables, &[&head, &staged, &working])?;
    copy_tables(&mut staged, &head, tables);
    let id = write_root(repo.store(), &staged)?;
    st.set_roots(
        repo,
        id,
        st.working_root,
        &format!("reset: unstage {}", tables.join(" ")),
    )
}

/// How far [`reset`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetMode {
    /// Move HEAD only; staged and working stay.
    Soft,
    /// Move HEAD and reset the staged root; the working root stays.
    Mixed,
    /// Move HEAD and reset both staged and working roots.
    Hard,
}

/// Moves HEAD (its branch) to `rev`, resetting staged and working roots per `mode`; an
/// unfinished merge is abandoned.
pub fn reset(repo: &Repo, rev: &str, mode: ResetMode) -> Result<CommitId> {
    let st = WorkState::load(repo)?;
    let target = resolve_commit(repo, rev)?;
    let root = commit_root(repo.store(), target)?;
    let (staged, working) = match mode {
        ResetMode::Soft => (st.staged_root, st.working_root),
        ResetMode::Mixed => (root, st.working_root),
        ResetMode::Hard => (root, root),
    };
    let mut tx = move_head_tx(&st, target, root, staged, working);
    // Like git, any reset ends an unfinished merge.
    if let Some(u) = tx.working_sets.first_mut()
        && let Change::Set(w) = &mut u.change
    {
        w.merge = None;
    }
    let mode_name = match mode {
        ResetMode::Soft => "soft",
        ResetMode::Mixed => "mixed",
        ResetMode::Hard => "hard",
    };
    repo.transaction(&tx, &format!("reset ({mode_name}): moving to {rev}"))?;
    Ok(target)
}

/// Records a new commit on HEAD whose database equals that of `rev`; nothing is rewritten.
pub fn rollback(repo: &Repo, rev: &str, message: Option<&str>) -> Result<CommitOutcome> {
    let st = WorkState::load(repo)?;
    if st.is_dirty() {
        return Err(Error::Invalid(
            "cannot roll back with uncommitted changes; commit them or discard them with 'kodiak reset --hard'".into(),
        ));
    }
    let head = st
        .head_commit
        .ok_or_else(|| Error::Invalid("nothing to roll back: no commits yet".into()))?;
    let target = resolve_commit(repo, rev)?;
    let root = commit_root(repo.store(), target)?;
    if root == st.head_root {
        return Err(Error::Invalid(format!(
            "nothing to roll back: the database already equals that of '{rev}'"
        )));
    }
    let message = match message {
        Some(m) => m.to_string(),
        None => format!("Rollback to {rev} ({})", target.short()),
    };
    let (id, c) = write_commit(repo, root, vec![head], &message, None, None)?;
    let tx = move_head_tx(&st, id, root, root, root);
    repo.transaction(&tx, &format!("rollback: to {rev}"))?;
    let changes = diff_roots(
        &read_root(repo.store(), st.head_root)?,
        &read_root(repo.store(), root)?,
    );
    Ok(CommitOutcome {
        id,
        commit: c,
        label: commit_label(&st),
        root_commit: false,
        changes,
    })
}

/// Restores tables from `rev` into the working root (a table absent at `rev` is an error).
pub fn checkout_tables(repo: &Repo, rev: &str, tables: &[String]) -> Result<()> {
    let st = WorkState::load(repo)?;
    let target = resolve_commit(repo, rev)?;
    let source = read_root(repo.store(), commit_root(repo.store(), target)?)?;
    for t in tables {
        if !source.tables.contains_key(t) {
            return Err(Error::Invalid(format!(
                "table '{t}' does not exist in '{rev}'"
            )));
        }
    }
    let mut working = st.working(repo.store())?;
    copy_tables(&mut working, &source, tables);
    st.set_working(
        repo,
        &working,
        &format!("checkout: {} from {rev}", tables.join(" ")),
    )?;
    Ok(())
}

/// Which workspace (other than `except`) has HEAD on `branch`, if any.
pub fn checked_out_elsewhere(
    repo: &Repo,
    branch: &RefName,
    except: &WorkspaceName,
) -> Result<Option<WorkspaceName>> {
    for (ws, set) in repo.refs().working_sets()? {
        if ws != *except && set.head == RefValue::Symbolic(branch.clone()) {
            return Ok(Some(ws));
        }
    }
    Ok(None)
}

/// Staged and working roots after moving HEAD from `st` to a commit with root `new_root`,
/// carrying uncommitted changes; an error lists the tables that would be overwritten.
pub fn carry_changes(
    repo: &Repo,
    st: &WorkState,
    new_root: RootId,
    target: &str,
) -> Result<(RootId, RootId)> {
    if !st.is_dirty() {
        return Ok((new_root, new_root));
    }
    if new_root == st.head_root {
        return Ok((st.staged_root, st.working_root));
    }
    let store = repo.store();
    let head = st.head(store)?;
    let staged = st.staged(store)?;
    let working = st.working(store)?;
    let onto = read_root(store, new_root)?;
    let mut clash = collisions(&head, &staged, &onto);
    for c in collisions(&head, &working, &onto) {
        if !clash.contains(&c) {
            clash.push(c);
        }
    }
    if !clash.is_empty() {
        clash.sort();
        return Err(Error::Invalid(format!(
            "your uncommitted changes to these tables would be overwritten by switching to '{target}':\n{}\nhint: commit them, or discard them with 'kodiak reset --hard', then switch again",
            clash
                .iter()
                .map(|c| format!("  {c}"))
                .collect::<Vec<_>>()
                .join("\n")
        )));
    }
    let staged2 = write_root(store, &apply_changes(&onto, &head, &staged))?;
    let working2 = write_root(store, &apply_changes(&onto, &head, &working))?;
    Ok((staged2, working2))
}

/// Makes HEAD symbolic to `target` (a branch or workspace tip), carrying uncommitted changes;
/// `create` also creates that ref at a commit in the same transaction.
pub fn switch_head(
    repo: &Repo,
    target: &RefName,
    create: Option<Option<CommitId>>,
    message: &str,
) -> Result<()> {
    let st = WorkState::load(repo)?;
    if st.record.merge.is_some() {
        return Err(Error::Invalid(
            "cannot switch during a merge; finish it with 'kodiak commit' or abort it with 'kodiak reset --hard'".into(),
        ));
    }
    if let Some(ws) = checked_out_elsewhere(repo, target, &st.workspace)? {
        return Err(Error::Invalid(format!(
            "'{}' is already checked out in workspace '{ws}'",
            target.short()
        )));
    }
    let (new_commit, mut tx) = match create {
        Some(start) => {
            let mut tx = Transaction::new();
            if let Some(c) = start {
                tx = tx.update_ref(
                    target.clone(),
                    Expected::Absent,
                    Change::Set(RefValue::Direct(c.id())),
                );
            } else if repo.refs().get(target)?.is_some() {
                return Err(Error::Invalid(format!(
                    "'{}' already exists",
                    target.short()
                )));
            }
            (start, tx)
        }
        None => {
            let r = repo.refs().resolve(target)?;
            let c = r
                .target
                .map(|id| peel_to_commit(repo, id, target.as_str()))
                .transpose()?;
            (c, Transaction::new())
        }
    };
    let new_root = match new_commit {
        Some(c) => commit_root(repo.store(), c)?,
        None => empty_root_id(),
    };
    let (staged, working) = carry_changes(repo, &st, new_root, target.short())?;
    let record = st.record_with(
        RefValue::Symbolic(target.clone()),
        new_root,
        staged,
        working,
    );
    tx.working_sets = st.update(record).working_sets;
    repo.transaction(&tx, message)
}

/// Detaches HEAD at `rev`, carrying uncommitted changes like a branch switch.
pub fn switch_detached(repo: &Repo, rev: &str) -> Result<CommitId> {
    let st = WorkState::load(repo)?;
    if st.record.merge.is_some() {
        return Err(Error::Invalid(
            "cannot switch during a merge; finish it with 'kodiak commit' or abort it with 'kodiak reset --hard'".into(),
        ));
    }
    let target = resolve_commit(repo, rev)?;
    let new_root = commit_root(repo.store(), target)?;
    let (staged, working) = carry_changes(repo, &st, new_root, rev)?;
    let record = st.record_with(RefValue::Direct(target.id()), new_root, staged, working);
    repo.transaction(
        &st.update(record),
        &format!("checkout: moving from {} to {rev}", st.head_label()),
    )?;
    Ok(target)
}

/// Switches HEAD to an existing branch.
pub fn switch_branch(repo: &Repo, name: &str) -> Result<()> {
    let branch = match RefName::branch(name) {
        Ok(b) if repo.refs().get(&b)?.is_some() => b,
        other => {
            if resolve(repo, name).is_ok() {
                return Err(Error::Invalid(format!(
                    "'{name}' is not a branch\nhint: to start a branch there, use 'kodiak switch -c <new-branch> {name}'"
                )));
            }
            other?;
            return Err(Error::Invalid(format!(
                "no branch named '{name}'\nhint: create it with 'kodiak switch -c {name}'"
            )));
        }
    };
    let from = WorkState::load(repo)?.head_label();
    switch_head(
        repo,
        &branch,
        None,
        &format!("checkout: moving from {from} to {name}"),
    )
}

/// Creates branch `name` at `start` (default HEAD) and switches to it.
pub fn switch_new_branch(repo: &Repo, name: &str, start: Option<&str>) -> Result<()> {
    let branch = RefName::branch(name)?;
    if repo.refs().get(&branch)?.is_some() {
        return Err(Error::Invalid(format!(
            "a branch named '{name}' already exists"
        )));
    }
    let st = WorkState::load(repo)?;
    let start_commit = match start {
        Some(s) => Some(resolve_commit(repo, s)?),
        None => st.head_commit,
    };
    switch_head(
        repo,
        &branch,
        Some(start_commit),
        &format!("checkout: moving from {} to {name}", st.head_label()),
    )
}

/// Branches with the commit each points at, sorted by name.
pub fn list_branches(repo: &Repo) -> Result<Vec<(RefName, ObjectId)>> {
    Ok(repo
        .refs()
        .list("refs/heads/")?
        .into_iter()
        .filter_map(|(n, v)| match v {
            RefValue::Direct(id) => Some((n, id)),
            RefValue::Symbolic(_) => None,
        })
        .collect())
}

/// Creates branch `name` at `start` (default HEAD).
pub fn create_branch(repo: &Repo, name: &str, start: Option<&str>) -> Result<CommitId> {
    let branch = RefName::branch(name)?;
    let commit = match start {
        Some(s) => resolve_commit(repo, s)?,
        None => WorkState::load(repo)?.head_commit.ok_or_else(|| {
            Error::Invalid(format!(
                "cannot create branch '{name}': HEAD has no commits yet"
            ))
        })?,
    };
    if repo.refs().get(&branch)?.is_some() {
        return Err(Error::Invalid(format!(
            "a branch named '{name}' already exists"
        )));
    }
    let tx = Transaction::new().update_ref(
        branch,
        Expected::Absent,
        Change::Set(RefValue::Direct(commit.id())),
    );
    repo.transaction(
        &tx,
        &format!("branch: created from {}", start.unwrap_or("HEAD")),
    )?;
    Ok(commit)
}

/// Deletes a branch; without `force`, refuses one whose commits HEAD does not contain.
pub fn delete_branch(repo: &Repo, name: &str, force: bool) -> Result<ObjectId> {
    let branch = RefName::branch(name)?;
    let st = WorkState::load(repo)?;
    if st.head_ref.as_ref() == Some(&branch) {
        return Err(Error::Invalid(format!(
            "cannot delete branch '{name}': it is the current branch\nhint: switch to another branch first"
        )));
    }
    if let Some(ws) = checked_out_elsewhere(repo, &branch, &st.workspace)? {
        return Err(Error::Invalid(format!(
            "cannot delete branch '{name}': it is checked out in workspace '{ws}'"
        )));
    }
    let Some(value) = repo.refs().get(&branch)? else {
        return Err(Error::Invalid(format!("branch '{name}' not found")));
    };
    let RefValue::Direct(id) = value else {
        return Err(Error::Invalid(format!("branch '{name}' is a symbolic ref")));
    };
    if !force {
        let merged = match st.head_commit {
            Some(h) => is_ancestor(repo.store(), CommitId::new(id), h)?,
            None => false,
        };
        if !merged {
            return Err(Error::Invalid(format!(
                "the branch '{name}' is not fully merged into HEAD\nhint: to delete it anyway, use 'kodiak branch -D {name}'"
            )));
        }
    }
    let tx = Transaction::new().update_ref(
        branch,
        Expected::Equals(RefValue::Direct(id)),
        Change::Delete,
    );
    repo.transaction(&tx, &format!("branch: deleted {name}"))?;
    Ok(id)
}

/// Renames (`keep_old` false) or copies a branch; a renamed current branch stays current.
pub fn rename_branch(repo: &Repo, old: &str, new: &str, keep_old: bool) -> Result<()> {
    let from = RefName::branch(old)?;
    let to = RefName::branch(new)?;
    let Some(value) = repo.refs().get(&from)? else {
        return Err(Error::Invalid(format!("branch '{old}' not found")));
    };
    if repo.refs().get(&to)?.is_some() {
        return Err(Error::Invalid(format!(
            "a branch named '{new}' already exists"
        )));
    }
    // Like git, the new name keeps the branch's history of moves (copied for -c).
    let mut tx = Transaction::new()
        .update_ref(to.clone(), Expected::Absent, Change::Set(value.clone()))
        .carry_reflog(from.clone(), to.clone());
    if !keep_old {
        tx = tx.update_ref(from.clone(), Expected::Equals(value), Change::Delete);
        for (ws, set) in repo.refs().working_sets()? {
            if set.head == RefValue::Symbolic(from.clone()) {
                let mut moved = set.clone();
                moved.head = RefValue::Symbolic(to.clone());
                tx = tx.update_working_set(ws, Expected::Equals(set), Change::Set(moved));
            }
        }
    }
    let verb = if keep_old { "copied" } else { "renamed" };
    repo.transaction(&tx, &format!("branch: {verb} {old} to {new}"))
}

/// Creates a tag at `rev` (default HEAD): lightweight, or annotated with `message`.
pub fn create_tag(
    repo: &Repo,
    name: &str,
    rev: Option<&str>,
    message: Option<&str>,
    force: bool,
) -> Result<ObjectId> {
    let tag_ref = RefName::tag(name)?;
    let rev_text = rev.unwrap_or("HEAD");
    let commit = resolve_commit(repo, rev_text)?;
    let existing = repo.refs().get(&tag_ref)?;
    if existing.is_some() && !force {
        return Err(Error::Invalid(format!("tag '{name}' already exists")));
    }
    let target = match message {
        None => commit.id(),
        Some(m) => repo
            .store()
            .put(&Tag {
                target: commit.id(),
                target_kind: Kind::Commit,
                name: name.to_string(),
                tagger: repo.signature()?,
                message: m.to_string(),
            })?
            .id(),
    };
    let expected = match existing {
        Some(v) => Expected::Equals(v),
        None => Expected::Absent,
    };
    let tx =
        Transaction::new().update_ref(tag_ref, expected, Change::Set(RefValue::Direct(target)));
    repo.transaction(&tx, &format!("tag: {name} at {rev_text}"))?;
    Ok(target)
}

/// Deletes a tag.
pub fn delete_tag(repo: &Repo, name: &str) -> Result<ObjectId> {
    let tag_ref = RefName::tag(name)?;
    let Some(RefValue::Direct(id)) = repo.refs().get(&tag_ref)? else {
        return Err(Error::Invalid(format!("tag '{name}' not found")));
    };
    let tx = Transaction::new().update_ref(
        tag_ref,
        Expected::Equals(RefValue::Direct(id)),
        Change::Delete,
    );
    repo.transaction(&tx, &format!("tag: deleted {name}"))?;
    Ok(id)
}

/// Whether `name` (a short or full ref name) exists as a ref.
pub fn ref_exists(repo: &Repo, name: &str) -> Result<bool> {
    Ok(find_ref(repo, name)?.is_some_and(|r| !r.is_head()))
}
