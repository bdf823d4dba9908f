//! Resolving revisions (`main~2`, `v1.0^2`, `HEAD@{3}`, `1a2b3c:orders`, …) to commits.

use crate::error::{Error, Result};
use crate::id::{CommitId, ObjectId, TableId};
use crate::object::{Commit, Kind, Tag};
use crate::refs::{RefName, RefValue};
use crate::repo::Repo;
use crate::revspec::{RevSpec, Step};

use super::state::{commit_root, read_root};

/// Longest chain of annotated tags followed before giving up.
const MAX_TAG_DEPTH: usize = 16;

/// A resolved revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The commit the revision names.
    pub commit: CommitId,
    /// The ref the name matched, if it was a ref.
    pub via_ref: Option<RefName>,
    /// With `:<table>`: the table's name and version at that commit.
    pub table: Option<(String, TableId)>,
}

/// An error for a revision that names nothing, with the usual hint.
pub fn unknown_revision(text: &str) -> Error {
    Error::Invalid(format!(
        "unknown revision '{text}'\nhint: a revision is a branch, a tag, HEAD, a full ref (refs/…) or a commit id of at least 4 hex digits, optionally followed by ~N, ^N, @{{N}} or :TABLE"
    ))
}

/// The refs a short name may denote, in the order they are tried.
pub fn candidate_refs(name: &str) -> Vec<RefName> {
    if name == "HEAD" {
        return vec![RefName::head()];
    }
    if name.starts_with("refs/") {
        return RefName::new(name).into_iter().collect();
    }
    [
        "refs/heads/",
        "refs/tags/",
        "refs/workspaces/",
        "refs/snapshots/",
        "refs/remotes/",
    ]
    .iter()
    .filter_map(|ns| RefName::new(&format!("{ns}{name}")).ok())
    .collect()
}

/// Follows annotated tags from `id` to the commit they name.
pub fn peel_to_commit(repo: &Repo, id: ObjectId, what: &str) -> Result<CommitId> {
    let mut id = id;
    for _ in 0..MAX_TAG_DEPTH {
        match repo.store().kind_of(&id)? {
            Some(Kind::Commit) => return Ok(CommitId::new(id)),
            Some(Kind::Tag) => {
                let tag: Tag = repo.store().get(&crate::id::TagId::new(id))?;
                id = tag.target;
            }
            Some(k) => {
                return Err(Error::Invalid(format!(
                    "'{what}' names a {} ({}), not a commit",
                    k.name(),
                    id.short()
                )));
            }
            None => {
                return Err(Error::Missing {
                    id,
                    kind: Kind::Commit,
                });
            }
        }
    }
    Err(Error::Invalid(format!("'{what}': tag chain is too long")))
}

/// The ref a name denotes if it exists (HEAD resolves even when its branch is unborn).
pub fn find_ref(repo: &Repo, name: &str) -> Result<Option<RefName>> {
    for r in candidate_refs(name) {
        if r.is_head() || repo.refs().get(&r)?.is_some() {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

fn base_commit(repo: &Repo, spec: &RevSpec, text: &str) -> Result<(CommitId, Option<RefName>)> {
    if let Some(r) = find_ref(repo, &spec.name)? {
        if let Some(n) = spec.reflog {
            let log = repo.refs().reflog(&r)?;
            let entry = log.get(n as usize).ok_or_else(|| {
                Error::Invalid(format!(
                    "'{text}': the reflog of {r} has only {} entries",
                    log.len()
                ))
            })?;
            let value = match &entry.new {
                Some(RefValue::Direct(id)) => *id,
                // HEAD was made symbolic to a branch (a switch). Its commit then is what the
                // next move of HEAD started from (a move of that branch while HEAD was on it
                // is logged in HEAD's reflog too); without such a move, the branch's value.
                Some(RefValue::Symbolic(t)) => {
                    let newer = (n as usize).checked_sub(1).and_then(|i| log.get(i));
                    match newer.and_then(|e| e.old.as_ref()) {
                        Some(RefValue::Direct(id)) => *id,
                        _ => repo.refs().resolve(t)?.target.ok_or_else(|| {
                            Error::Invalid(format!("'{text}': {t} had no commits then"))
                        })?,
                    }
                }
                None => {
                    return Err(Error::Invalid(format!(
                        "'{text}': {r} was deleted at that point"
                    )));
                }
            };
            return Ok((peel_to_commit(repo, value, text)?, Some(r)));
        }
        let target = repo.refs().resolve(&r)?.target;
        return match target {
            Some(id) => Ok((peel_to_commit(repo, id, text)?, Some(r))),
            None => Err(Error::Invalid(format!(
                "'{text}': {} does not have any commits yet",
                repo.refs()
                    .resolve(&r)?
                    .chain
                    .last()
                    .map_or_else(|| r.to_string(), |l| l.short().to_string())
            ))),
        };
    }
    if spec.reflog.is_some() {
        return Err(unknown_revision(text));
    }
    let looks_like_id = spec.name.len() >= crate::id::MIN_PREFIX_HEX
        && spec.name.bytes().all(|b| b.is_ascii_hexdigit());
    if !looks_like_id {
        return Err(unknown_revision(text));
    }
    let id = match repo.store().resolve_prefix(&spec.name) {
        Ok(id) => id,
        Err(Error::UnknownPrefix(_)) => return Err(unknown_revision(text)),
        Err(Error::AmbiguousPrefix { prefix, candidates }) => {
            // Only commits and tags can be meant; if exactly one is, it wins.
            let mut meant = Vec::new();
            for c in &candidates {
                if matches!(repo.store().kind_of(c)?, Some(Kind::Commit | Kind::Tag)) {
                    meant.push(*c);
                }
            }
            if meant.len() == 1 {
                meant[0]
            } else {
                return Err(Error::AmbiguousPrefix {
                    prefix,
                    candidates: if meant.is_empty() { candidates } else { meant },
                });
            }
        }
        Err(e) => return Err(e),
    };
    Ok((peel_to_commit(repo, id, text)?, None))
}

/// Resolves a revision string to a commit (and a table, with `:<table>`).
pub fn resolve(repo: &Repo, text: &str) -> Result<Resolved> {
    let spec = RevSpec::parse(text).map_err(|e| Error::Invalid(e.to_string()))?;
    let (mut commit, via_ref) = base_commit(repo, &spec, text)?;
    for step in &spec.steps {
        match *step {
            Step::Ancestor(n) => {
                for i in 0..n {
                    let c: Commit = repo.store().get(&commit)?;
                    commit = *c.parents.first().ok_or_else(|| {
                        Error::Invalid(format!(
                            "'{text}': {} has only {i} ancestors along first parents",
                            commit.short()
                        ))
                    })?;
                }
            }
            Step::Parent(0) => {}
            Step::Parent(n) => {
                let c: Commit = repo.store().get(&commit)?;
                commit = *c.parents.get(n as usize - 1).ok_or_else(|| {
                    Error::Invalid(format!(
                        "'{text}': commit {} has {} parent(s), not {n}",
                        commit.short(),
                        c.parents.len()
                    ))
                })?;
            }
        }
    }
    let table = match &spec.table {
        None => None,
        Some(t) => {
            let root = read_root(repo.store(), commit_root(repo.store(), commit)?)?;
            let id = root.tables.get(t).ok_or_else(|| {
                Error::Invalid(format!(
                    "table '{t}' does not exist in '{}' (commit {})",
                    text.split(':').next().unwrap_or(text),
                    commit.short()
                ))
            })?;
            Some((t.clone(), *id))
        }
    };
    Ok(Resolved {
        commit,
        via_ref,
        table,
    })
}

/// Resolves a revision that must name a commit (no `:<table>`).
pub fn resolve_commit(repo: &Repo, text: &str) -> Result<CommitId> {
    let r = resolve(repo, text)?;
    if r.table.is_some() {
        return Err(Error::Invalid(format!(
            "'{text}' names a table; a commit is needed here"
        )));
    }
    Ok(r.commit)
}
