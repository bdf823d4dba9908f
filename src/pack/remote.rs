//! Bringing a bundle's history into a repository: fetch, clone and pull.

use std::path::{Path, PathBuf};

use crate::config::{ConfigFile, ConfigKey};
use crate::error::{Error, Result};
use crate::history::is_ancestor;
use crate::history::state::WorkState;
use crate::id::{CommitId, ObjectId};
use crate::merge::Favor;
use crate::merge::ops::{FastForward, MergeOptions, MergeOutcome, merge_commit};
use crate::refs::{Change, Expected, RefName, RefValue, Transaction};
use crate::repo::{InitOptions, Repo};
use crate::store::PackStore;

use super::{BundleHeader, Received, Verified, receive};

/// How a ref changed in a fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// The ref did not exist.
    New,
    /// The ref moved forward (the old commit is an ancestor of the new one).
    FastForward,
    /// The ref moved to a commit that does not contain the old one.
    Forced,
    /// Nothing to do.
    UpToDate,
    /// A local tag of that name names another object: kept, not overwritten.
    Rejected,
}

/// One ref a fetch considered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// The ref in the bundle (`refs/heads/main`).
    pub source: String,
    /// The local ref (`refs/remotes/origin/main`, `refs/tags/v1`).
    pub local: RefName,
    /// Its value before.
    pub old: Option<ObjectId>,
    /// The bundle's value.
    pub new: ObjectId,
    /// What happened.
    pub kind: UpdateKind,
}

/// What [`fetch`] did.
#[derive(Clone, Debug)]
pub struct FetchOutcome {
    /// Objects in the bundle.
    pub objects: u64,
    /// Of those, objects the repository did not have.
    pub new_objects: u64,
    /// Ref updates, in the bundle's ref order.
    pub updates: Vec<RefUpdate>,
    /// The bundle's HEAD branch (full name), if it records one.
    pub head: Option<String>,
}

/// Checks a remote name: one ref-name component.
pub fn check_remote_name(name: &str) -> Result<()> {
    if name.contains('/') || RefName::new(&format!("refs/remotes/{name}/x")).is_err() {
        return Err(Error::Invalid(format!(
            "invalid remote name '{name}': use one ref-name component such as 'origin'"
        )));
    }
    Ok(())
}

/// Where a bundle ref lands locally: branches under `refs/remotes/<remote>/`, tags as tags;
/// anything else is not fetched.
fn local_name(remote: &str, name: &str) -> Option<RefName> {
    if let Some(b) = name.strip_prefix("refs/heads/") {
        RefName::new(&format!("refs/remotes/{remote}/{b}")).ok()
    } else if name.starts_with("refs/tags/") {
        RefName::new(name).ok()
    } else {
        None
    }
}

/// Plans ref updates for a verified bundle against the repository's current refs.
fn plan(repo: &Repo, remote: &str, verified: &Verified) -> Result<Vec<RefUpdate>> {
    let mut out = Vec::new();
    for r in &verified.header.refs {
        let Some(local) = local_name(remote, &r.name) else {
            continue;
        };
        let old = match repo.refs().get(&local)? {
            Some(RefValue::Direct(id)) => Some(id),
            Some(RefValue::Symbolic(_)) | None => None,
        };
        let kind = match old {
            None => UpdateKind::New,
            Some(o) if o == r.id => UpdateKind::UpToDate,
            Some(_) if r.name.starts_with("refs/tags/") => UpdateKind::Rejected,
            // The ancestry check needs the new objects: decided after they are stored.
            Some(_) => UpdateKind::Forced,
        };
        out.push(RefUpdate {
            source: r.name.clone(),
            local,
            old,
            new: r.id,
            kind,
        });
    }
    Ok(out)
}

/// Stores a verified bundle's objects and then updates the planned refs in one transaction.
fn apply(
    repo: &Repo,
    path: &Path,
    remote: &str,
    received: Received,
    message: &str,
) -> Result<FetchOutcome> {
    let verified = received.verified.clone();
    let mut updates = plan(repo, remote, &verified)?;
    let new_objects = received.store_into(repo.store())?;
    let mut tx = Transaction::new();
    for u in &mut updates {
        if u.kind == UpdateKind::Forced
            && let Some(old) = u.old
            && repo.store().has(&old)?
            && is_commit_ancestor(repo, old, u.new)?
        {
            u.kind = UpdateKind::FastForward;
        }
        if matches!(u.kind, UpdateKind::UpToDate | UpdateKind::Rejected) {
            continue;
        }
        let expected = match u.old {
            Some(o) => Expected::Equals(RefValue::Direct(o)),
            None => Expected::Absent,
        };
        tx = tx.update_ref(
            u.local.clone(),
            expected,
            Change::Set(RefValue::Direct(u.new)),
        );
    }
    if !tx.refs.is_empty() {
        repo.transaction(&tx, &format!("{message}: {}", path.display()))?;
    }
    Ok(FetchOutcome {
        objects: verified.summary.objects,
        new_objects,
        updates,
        head: verified.header.head.clone(),
    })
}

fn is_commit_ancestor(repo: &Repo, old: ObjectId, new: ObjectId) -> Result<bool> {
    let kinds = (repo.store().kind_of(&old)?, repo.store().kind_of(&new)?);
    if kinds
        != (
            Some(crate::object::Kind::Commit),
            Some(crate::object::Kind::Commit),
        )
    {
        return Ok(false);
    }
    is_ancestor(repo.store(), CommitId::new(old), CommitId::new(new))
}

/// The config key `remote.<name>.url`.
fn remote_url_key(remote: &str) -> Result<ConfigKey> {
    ConfigKey::parse(&format!("remote.{remote}.url"))
}

/// The bundle path remembered for `remote` (set by clone), if any.
pub fn remote_url(repo: &Repo, remote: &str) -> Result<Option<PathBuf>> {
    let key = remote_url_key(remote)?;
    Ok(repo.config().get(&key).map(PathBuf::from))
}

/// Fetches the bundle at `path` into the repository as remote `remote`: verifies it entirely
/// (against the repository, for incremental bundles), stores its new objects, then updates
/// `refs/remotes/<remote>/*` and new tags in one transaction.
pub fn fetch(repo: &Repo, path: &Path, remote: &str) -> Result<FetchOutcome> {
    check_remote_name(remote)?;
    let received = receive(path, Some(repo.store()), &repo.paths().dot_dir)?;
    apply(repo, path, remote, received, "fetch")
}

/// What [`clone_bundle`] made.
#[derive(Clone, Debug)]
pub struct CloneOutcome {
    /// The new repository's work directory.
    pub dir: PathBuf,
    /// The fetch into it.
    pub fetch: FetchOutcome,
    /// The local branch checked out, if the bundle has any branch.
    pub branch: Option<String>,
}

/// Makes a new repository in `dir` from the full bundle at `path`: remote-tracking refs under
/// `refs/remotes/<remote>/`, tags, and a local branch (the bundle's HEAD branch, else `main`,
/// else its first branch) checked out and tracking its remote-tracking ref.
///
/// The repository is built in a temporary directory inside `dir` and renamed to `dir/.kodiak`
/// only when complete: objects, refs and config durable, after the whole bundle verified. A
/// failure removes everything the clone made (`dir` too, unless it existed), and a crash leaves
/// no repository behind (at most the temporary directory).
pub fn clone_bundle(path: &Path, dir: &Path, remote: &str) -> Result<CloneOutcome> {
    check_remote_name(remote)?;
    // The header alone tells whether the bundle can start a repository; the whole file
    // (header included) is verified while it is received.
    let header = super::read_header_file(path)?;
    refuse_incremental(path, &header)?;
    let dir = std::path::absolute(dir).map_err(|e| Error::io("resolving", dir, e))?;
    let existed = dir.exists();
    if existed {
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io("reading", &dir, e))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io("reading", &dir, e))?;
        if !names.is_empty() {
            let hint = if names.iter().all(|n| n.starts_with(CLONE_TEMP_PREFIX)) {
                format!(
                    "\nhint: it holds only what an interrupted clone left ({CLONE_TEMP_PREFIX}…); remove it and clone again"
                )
            } else {
                String::new()
            };
            return Err(Error::Invalid(format!(
                "destination {} already exists and is not empty{hint}",
                dir.display()
            )));
        }
    } else {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    }
    let result = tempfile::Builder::new()
        .prefix(CLONE_TEMP_PREFIX)
        .tempdir_in(&dir)
        .map_err(|e| Error::io("creating a temporary directory in", &dir, e))
        .and_then(|tmp| {
            let outcome = clone_into_temp(path, tmp.path(), remote, &header)?;
            // The complete repository appears at once; the emptied temporary directory goes.
            let built = tmp.path().join(crate::repo::DOT_DIR);
            let target = dir.join(crate::repo::DOT_DIR);
            std::fs::rename(&built, &target)
                .map_err(|e| Error::io("moving the new repository to", &target, e))?;
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io("syncing", &dir, e))?;
            tmp.close()
                .map_err(|e| Error::io("removing a temporary directory in", &dir, e))?;
            Ok(outcome)
        });
    match result {
        Ok((fetch, branch)) => Ok(CloneOutcome { dir, fetch, branch }),
        Err(e) => {
            // Nothing of a failed clone is kept (the temporary directory removed itself).
            if existed {
                let _ = std::fs::remove_dir_all(dir.join(crate::repo::DOT_DIR));
            } else {
                let _ = std::fs::remove_dir_all(&dir);
            }
            Err(e)
        }
    }
}

/// Name prefix of the temporary directory a clone builds its repository in.
pub const CLONE_TEMP_PREFIX: &str = ".kodiak-clone-";

/// Refuses an incremental bundle as the start of a repository.
fn refuse_incremental(path: &Path, header: &BundleHeader) -> Result<()> {
    let n = header.prerequisites.len();
    if n == 0 {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "bundle {} is incremental (it needs {n} prerequisite commit{}), so it cannot start a repository\nhint: clone a full bundle, or fetch this one into a repository that has its prerequisites",
        path.display(),
        if n == 1 { "" } else { "s" }
    )))
}

/// Builds the cloned repository in `work` (a temporary work directory): init, objects stored
/// while the bundle verifies, refs, config; closes it. Returns the fetch and the local branch.
fn clone_into_temp(
    path: &Path,
    work: &Path,
    remote: &str,
    header: &BundleHeader,
) -> Result<(FetchOutcome, Option<String>)> {
    let branch = header_branch(header);
    // The repository is created on the storing thread while the first records verify.
    // Objects go in through a second handle on its database, which indexes without the
    // crash-safety syncs (the repository is not visible yet); the repository's own handle
    // has written nothing and reads what this one flushed.
    let (verified, repo) = super::receive_into_fresh(path, || {
        let repo = Repo::init(
            work,
            &InitOptions {
                initial_branch: branch.clone(),
            },
        )?;
        let loader = PackStore::open(repo.db(), &repo.paths().packs_path())?;
        Ok((repo, loader))
    })?;
    // The verified header is the one that counts: the file could have changed since.
    if verified.header != *header {
        return Err(Error::Invalid(format!(
            "bundle {} changed while it was being read",
            path.display()
        )));
    }
    let path_abs = std::path::absolute(path).map_err(|e| Error::io("resolving", path, e))?;
    let mut updates = plan(&repo, remote, &verified)?;
    let mut tx = Transaction::new();
    for u in &mut updates {
        // A new repository has no refs: every update creates one.
        u.kind = UpdateKind::New;
        tx = tx.update_ref(
            u.local.clone(),
            Expected::Absent,
            Change::Set(RefValue::Direct(u.new)),
        );
    }
    if !tx.refs.is_empty() {
        repo.transaction(&tx, &format!("clone: {}", path_abs.display()))?;
    }
    if let Some(b) = &branch {
        let tracking = RefName::new(&format!("refs/remotes/{remote}/{b}"))?;
        let id = updates
            .iter()
            .find(|u| u.local == tracking)
            .map(|u| u.new)
            .ok_or_else(|| Error::Storage(format!("{tracking} was not created")))?;
        let tx = Transaction::new().update_ref(
            RefName::branch(b)?,
            Expected::Absent,
            Change::Set(RefValue::Direct(id)),
        );
        repo.transaction(&tx, &format!("clone: from {}", path_abs.display()))?;
    }
    let cfg_path = repo.paths().config_path();
    let mut cfg = ConfigFile::load(&cfg_path)?;
    cfg.set(&remote_url_key(remote)?, &path_abs.to_string_lossy());
    if let Some(b) = &branch {
        cfg.set(&ConfigKey::parse(&format!("branch.{b}.remote"))?, remote);
        cfg.set(
            &ConfigKey::parse(&format!("branch.{b}.merge"))?,
            &format!("refs/heads/{b}"),
        );
    }
    cfg.save(&cfg_path)?;
    // The new repository compresses what it writes with the bundle's first dictionary.
    if let Some(d) = verified.summary.dictionaries.first() {
        repo.store().adopt_stored_dictionary(d)?;
    }
    repo.close()?;
    let fetch = FetchOutcome {
        objects: verified.summary.objects,
        new_objects: verified.summary.objects,
        updates,
        head: verified.header.head.clone(),
    };
    Ok((fetch, branch))
}

/// The branch a clone checks out: the bundle's HEAD branch, else `main`, else its first.
fn header_branch(header: &BundleHeader) -> Option<String> {
    let branches: Vec<&str> = header
        .refs
        .iter()
        .filter_map(|r| r.name.strip_prefix("refs/heads/"))
        .collect();
    header
        .head
        .as_deref()
        .and_then(|h| h.strip_prefix("refs/heads/"))
        .or_else(|| branches.iter().copied().find(|b| *b == "main"))
        .or_else(|| branches.first().copied())
        .map(str::to_string)
}

/// What [`pull`] did after fetching.
#[derive(Clone, Debug)]
pub struct PullOutcome {
    /// The fetch.
    pub fetch: FetchOutcome,
    /// The remote-tracking ref merged.
    pub merged: RefName,
    /// HEAD's commit before.
    pub old: Option<CommitId>,
    /// What the merge did: up to date, a fast-forward, a merge commit, or stored conflicts.
    pub outcome: MergeOutcome,
}

/// Fetches `path` as `remote`, then merges the fetched counterpart of the current branch
/// (`refs/remotes/<remote>/<branch>`, else the bundle's HEAD branch) into HEAD.
///
/// Merging is [`merge_fetched`]: a fast-forward when possible, else a three-way merge.
pub fn pull(repo: &Repo, path: &Path, remote: &str) -> Result<PullOutcome> {
    let fetch = fetch(repo, path, remote)?;
    let st = WorkState::load(repo)?;
    let current = st.head_ref.as_ref().map(|r| r.short().to_string());
    let mut candidates = Vec::new();
    if let Some(b) = &current {
        candidates.push(format!("refs/heads/{b}"));
    }
    if let Some(h) = &fetch.head {
        candidates.push(h.clone());
    }
    let source = candidates
        .into_iter()
        .find(|c| fetch.updates.iter().any(|u| &u.source == c))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "the bundle {} has no branch '{}' to merge{}\nhint: merge one of its branches with 'kodiak merge refs/remotes/{remote}/<branch>'",
                path.display(),
                current.as_deref().unwrap_or("HEAD"),
                if fetch.head.is_none() { " and records no HEAD branch" } else { "" }
            ))
        })?;
    let merged = RefName::new(&format!(
        "refs/remotes/{remote}/{}",
        source.trim_start_matches("refs/heads/")
    ))?;
    let theirs = match repo.refs().get(&merged)? {
        Some(RefValue::Direct(id)) => CommitId::new(id),
        _ => return Err(Error::Storage(format!("{merged} was not fetched"))),
    };
    let old = WorkState::load(repo)?.head_commit;
    let outcome = merge_fetched(repo, &merged, theirs)?;
    Ok(PullOutcome {
        fetch,
        merged,
        old,
        outcome,
    })
}

/// Merges the fetched commit `theirs` (named by remote-tracking ref `merged`) into HEAD with
/// the same machinery as `kodiak merge`: an unborn HEAD or one `theirs` contains
/// fast-forwards (carrying uncommitted changes like a switch), a HEAD that contains `theirs`
/// stays, and diverged histories get a three-way merge commit, or stop with stored conflicts.
pub fn merge_fetched(repo: &Repo, merged: &RefName, theirs: CommitId) -> Result<MergeOutcome> {
    let opts = MergeOptions {
        fast_forward: FastForward::Allow,
        squash: false,
        message: Some(format!(
            "Merge {merged} into {}",
            WorkState::load(repo)?.head_label()
        )),
        favor: Favor::None,
    };
    merge_commit(repo, theirs, merged.as_str(), &opts)
}
