//! Dataset packages: another project's tables installed into the working state as
//! `<name>.<table>`, with a manifest entry ([`PackageRecord`]) in the Root like a lockfile.
//!
//! A package's source is a `.kdk` bundle or a repository directory; one commit of it is
//! installed: its own tables (those not belonging to a package it installed itself) become
//! `<name>.<table>`, and the packages installed in that commit are its dependencies, installed
//! alongside under their own names (or refused if a different version is already installed).
//! Installing changes only the working state: the user commits it, so history shows it.
//! Package tables are protected from ordinary edits ([`check_editable`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::history::WorkState;
use crate::history::revision::find_ref;
use crate::history::rows::{TableStats, table_stats};
use crate::history::state::{commit_root, read_root};
use crate::id::{CommitId, ObjectId, RootId, TableId, TagId};
use crate::object::{Kind, PackageRecord, Root, Tag};
use crate::pack::{self, Walker};
use crate::repo::{LockWait, READ_LOCK_WAIT, Repo, RepoPaths};
use crate::store::Store;

/// Domain separator of [`content_hash`].
const CONTENT_HASH_DOMAIN: &[u8] = b"kodiak package content v1\0";

/// Checks a package name: letters, digits, `_` and `-`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<()> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(Error::Invalid(format!(
            "invalid package name '{name}': use letters, digits, '_' and '-' (starting with a letter or digit)\nhint: pick another with --as <name>"
        )));
    }
    Ok(())
}

/// The hash of a package's content: BLAKE3 over a domain string, then for each table in
/// ascending order of its name *within the package* (without the `<name>.` prefix) the
/// `u64le` name length, the name and the 32-byte table id. Independent of the install name.
pub fn content_hash<'a>(tables: impl IntoIterator<Item = (&'a str, TableId)>) -> ObjectId {
    let sorted: BTreeMap<&str, TableId> = tables.into_iter().collect();
    let mut h = blake3::Hasher::new();
    h.update(CONTENT_HASH_DOMAIN);
    for (name, id) in sorted {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(id.id().as_bytes());
    }
    ObjectId(*h.finalize().as_bytes())
}

/// The package owning table `table` of `root`, if any: it installed it, or the name lies in
/// its `<name>.` namespace.
pub fn owner<'a>(root: &'a Root, table: &str) -> Option<&'a str> {
    root.packages.iter().find_map(|(name, rec)| {
        let in_ns = table
            .strip_prefix(name.as_str())
            .is_some_and(|rest| rest.starts_with('.'));
        (in_ns || rec.tables.iter().any(|t| t == table)).then_some(name.as_str())
    })
}

/// Refuses an ordinary edit of a package's table (import, rm, mv, row put/delete, schema
/// alter), with a hint to go through the package commands.
pub fn check_editable(root: &Root, table: &str) -> Result<()> {
    match owner(root, table) {
        Some(p) => Err(Error::Invalid(format!(
            "table '{table}' belongs to package '{p}' and cannot be edited directly\nhint: change it with 'kodiak package update {p}', or remove the package with 'kodiak package uninstall {p}'"
        ))),
        None => Ok(()),
    }
}

/// The installed package's tables with their names inside the package.
fn package_tables<'a>(
    root: &'a Root,
    name: &str,
    rec: &'a PackageRecord,
) -> Result<Vec<(&'a str, TableId)>> {
    let prefix = format!("{name}.");
    rec.tables
        .iter()
        .map(|t| {
            let id = root.tables.get(t).copied().ok_or_else(|| {
                Error::Invalid(format!(
                    "package '{name}' lists table '{t}', which is not in the database"
                ))
            })?;
            Ok((t.strip_prefix(&prefix).unwrap_or(t), id))
        })
        .collect()
}

/// How a recorded [`PackageRecord::source_ref`] reads to a user: `tag v2`, `branch dev`,
/// `commit 1a2b3c4d5e6f`, or another full ref name as it is.
pub fn describe_ref(source_ref: &str) -> String {
    if let Some(t) = source_ref.strip_prefix("refs/tags/") {
        format!("tag {t}")
    } else if let Some(b) = source_ref.strip_prefix("refs/heads/") {
        format!("branch {b}")
    } else if let Ok(id) = ObjectId::from_hex(source_ref) {
        format!("commit {}", id.short())
    } else {
        source_ref.to_string()
    }
}

/// Which commit of a source to install.
#[derive(Clone, Copy, Debug)]
enum Want<'a> {
    /// The source's HEAD branch (no ref recorded).
    Head,
    /// A revision given with `--ref`.
    Given(&'a str),
    /// The ref recorded for installed package `package`.
    Recorded { package: &'a str, rev: &'a str },
}

impl<'a> Want<'a> {
    /// `--ref REV`, where `HEAD` means the source's HEAD branch like no `--ref` at all.
    fn given(rev: Option<&'a str>) -> Self {
        match rev {
            None | Some("HEAD") => Want::Head,
            Some(r) => Want::Given(r),
        }
    }

    fn rev(self) -> Option<&'a str> {
        match self {
            Want::Head => None,
            Want::Given(rev) | Want::Recorded { rev, .. } => Some(rev),
        }
    }

    /// The error for a wanted revision that `source` does not have, or `None` to report it
    /// the ordinary way.
    fn vanished(self, source: &Path) -> Option<Error> {
        match self {
            Want::Recorded { package, rev } => Some(Error::Invalid(format!(
                "package '{package}' follows {}, which its source {} no longer has\nhint: choose what to follow with 'kodiak package update {package} --ref <tag|branch>' ('--ref HEAD' follows the source's HEAD branch)",
                describe_ref(rev),
                source.display()
            ))),
            Want::Head | Want::Given(_) => None,
        }
    }
}

/// Where a package comes from, resolved to one commit whose objects are in the repository.
struct Source {
    /// As recorded in the manifest (absolute path).
    text: String,
    commit: CommitId,
    /// What to record as followed: the full ref name the revision named, the commit's hex id
    /// for any other revision (`main~1`, an id), or `None` for the source's HEAD branch.
    source_ref: Option<String>,
    /// The commit's root (its objects are in the repository; the commit itself may not be).
    root: RootId,
    /// A default package name: the directory name or the bundle's file stem.
    default_name: String,
}

fn peel(store: &Store, id: ObjectId, what: &str) -> Result<CommitId> {
    let mut id = id;
    for _ in 0..8 {
        match store.kind_of(&id)? {
            Some(Kind::Commit) => return Ok(CommitId::new(id)),
            Some(Kind::Tag) => id = store.get::<Tag>(&TagId::new(id))?.target,
            Some(k) => {
                return Err(Error::Invalid(format!(
                    "'{what}' names a {k}, not a commit"
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

/// Brings the chosen commit of a bundle or repository directory into `repo`'s store.
fn fetch_source(repo: &Repo, source: &Path, want: Want<'_>) -> Result<Source> {
    let abs = std::fs::canonicalize(source).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Invalid(format!(
                "package source {} does not exist",
                source.display()
            ))
        } else {
            Error::io("resolving", source, e)
        }
    })?;
    let stem = abs
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if abs.is_dir() {
        let paths = RepoPaths::at(&abs).map_err(|_| {
            Error::Invalid(format!(
                "package source {} is neither a .kdk bundle nor a kodiak repository",
                abs.display()
            ))
        })?;
        if paths.dot_dir == repo.paths().dot_dir {
            return Err(Error::Invalid(
                "a repository cannot install itself as a package".into(),
            ));
        }
        let src = Repo::open(paths, LockWait::Poll(READ_LOCK_WAIT))?;
        let (commit, source_ref) = match want.rev() {
            None => (crate::history::resolve_commit(&src, "HEAD")?, None),
            Some(rev) => {
                let named = find_ref(&src, rev)?.filter(|r| !r.is_head());
                // A recorded ref is a full ref name or a commit's full id.
                if let Some(e) = want.vanished(&abs)
                    && named.is_none()
                {
                    let pinned = match ObjectId::from_hex(rev) {
                        Ok(id) => src.store().has(&id)?,
                        Err(_) => false,
                    };
                    if !pinned {
                        return Err(e);
                    }
                }
                let commit = crate::history::resolve_commit(&src, rev).map_err(|e| match e {
                    Error::Invalid(m) => {
                        Error::Invalid(format!("package source {}: {m}", abs.display()))
                    }
                    e => e,
                })?;
                let followed = named.map_or_else(|| commit.id().to_hex(), |r| r.to_string());
                (commit, Some(followed))
            }
        };
        let root = commit_root(src.store(), commit)?;
        let mut walker = Walker::new(src.store());
        let dest = repo.store();
        let mut batch: Vec<(ObjectId, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        walker.walk(&[(root.id(), Kind::Root)], &mut |id, _, canonical, _, _| {
            bytes += canonical.len();
            batch.push((id, canonical.to_vec()));
            if bytes >= 32 << 20 {
                dest.put_hashed_batch(&batch)?;
                batch.clear();
                bytes = 0;
            }
            Ok(())
        })?;
        dest.put_hashed_batch(&batch)?;
        dest.flush()?;
        return Ok(Source {
            text: abs.to_string_lossy().into_owned(),
            commit,
            source_ref,
            root,
            default_name: stem,
        });
    }
    let received = pack::receive(&abs, Some(repo.store()), &repo.paths().dot_dir)?;
    let header = received.verified.header.clone();
    let wanted = match want.rev() {
        Some(r) => [
            r.to_string(),
            format!("refs/tags/{r}"),
            format!("refs/heads/{r}"),
        ]
        .into_iter()
        .find_map(|n| header.refs.iter().find(|x| x.name == n))
        .ok_or_else(|| {
            want.vanished(&abs).unwrap_or_else(|| {
                Error::Invalid(format!(
                    "bundle {} has no branch or tag '{r}'",
                    abs.display()
                ))
            })
        })?,
        None => header
            .head
            .as_deref()
            .or_else(|| {
                header
                    .refs
                    .iter()
                    .find(|x| x.name == "refs/heads/main")
                    .map(|x| x.name.as_str())
            })
            .and_then(|h| header.refs.iter().find(|x| x.name == h))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "bundle {} records no HEAD branch and no main\nhint: choose one with --ref <tag|branch>",
                    abs.display()
                ))
            })?,
    };
    let (id, what) = (wanted.id, wanted.name.clone());
    let source_ref = want.rev().map(|_| what.clone());
    received.store_into(repo.store())?;
    let commit = peel(repo.store(), id, &what)?;
    Ok(Source {
        text: abs.to_string_lossy().into_owned(),
        commit,
        source_ref,
        root: commit_root(repo.store(), commit)?,
        default_name: stem,
    })
}

/// The tables and dependencies a source commit brings, under install name `name`.
struct Plan {
    record: PackageRecord,
    /// Installed name → table id, for the package itself.
    tables: BTreeMap<String, TableId>,
    /// Dependencies: name → (record, installed name → table id), content hashes checked.
    deps: BTreeMap<String, (PackageRecord, BTreeMap<String, TableId>)>,
}

fn plan(store: &Store, name: &str, src: &Source) -> Result<Plan> {
    let root = read_root(store, src.root)?;
    let mut deps = BTreeMap::new();
    let mut dep_tables: Vec<&str> = Vec::new();
    for (dep, rec) in &root.packages {
        let tables = package_tables(&root, dep, rec)?;
        let hash = content_hash(tables.iter().copied());
        if hash != rec.content_hash {
            return Err(Error::Invalid(format!(
                "package source {}: dependency '{dep}' does not match its recorded content hash (recorded {}, computed {hash})",
                src.text, rec.content_hash
            )));
        }
        let installed: BTreeMap<String, TableId> = rec
            .tables
            .iter()
            .filter_map(|t| root.tables.get(t).map(|id| (t.clone(), *id)))
            .collect();
        dep_tables.extend(rec.tables.iter().map(String::as_str));
        deps.insert(dep.clone(), (rec.clone(), installed));
    }
    let own: Vec<(&str, TableId)> = root
        .tables
        .iter()
        .filter(|(t, _)| !dep_tables.contains(&t.as_str()))
        .map(|(t, id)| (t.as_str(), *id))
        .collect();
    if own.is_empty() {
        return Err(Error::Invalid(format!(
            "package source {} has no tables of its own at {}",
            src.text,
            src.commit.id().short()
        )));
    }
    let tables: BTreeMap<String, TableId> = own
        .iter()
        .map(|(t, id)| (format!("{name}.{t}"), *id))
        .collect();
    let record = PackageRecord {
        source: src.text.clone(),
        commit: src.commit,
        content_hash: content_hash(own.iter().copied()),
        tables: tables.keys().cloned().collect(),
        dependencies: deps.keys().cloned().collect(),
        source_ref: src.source_ref.clone(),
    };
    Ok(Plan {
        record,
        tables,
        deps,
    })
}

/// Adds a planned package (and missing dependencies) to `root`; `replacing` is the name of a
/// package being updated, whose old tables were removed already.
fn apply_plan(root: &mut Root, name: &str, plan: &Plan) -> Result<Vec<String>> {
    let mut installed_deps = Vec::new();
    for (dep, (rec, tables)) in &plan.deps {
        if dep == name {
            return Err(Error::Invalid(format!(
                "package '{name}' depends on a package of the same name\nhint: install it under another name with --as <name>"
            )));
        }
        match root.packages.get(dep) {
            Some(have) if have.content_hash == rec.content_hash => continue,
            Some(have) => {
                return Err(Error::Invalid(format!(
                    "package '{name}' needs '{dep}' at commit {} but another version of '{dep}' is installed (commit {})\nhint: update it with 'kodiak package update {dep} <source>' or uninstall it first",
                    rec.commit.id().short(),
                    have.commit.id().short()
                )));
            }
            None => {}
        }
        for (t, id) in tables {
            if root.tables.contains_key(t) {
                return Err(Error::Invalid(format!(
                    "cannot install dependency '{dep}' of package '{name}': table '{t}' already exists"
                )));
            }
            root.tables.insert(t.clone(), *id);
        }
        root.packages.insert(dep.clone(), rec.clone());
        installed_deps.push(dep.clone());
    }
    for (t, id) in &plan.tables {
        if root.tables.contains_key(t) {
            return Err(Error::Invalid(format!(
                "cannot install package '{name}': table '{t}' already exists\nhint: install it under another name with --as <name>"
            )));
        }
        root.tables.insert(t.clone(), *id);
    }
    root.packages.insert(name.to_string(), plan.record.clone());
    Ok(installed_deps)
}

/// What [`install`] did.
#[derive(Clone, Debug)]
pub struct Installed {
    /// The package's name.
    pub name: String,
    /// Its manifest entry.
    pub record: PackageRecord,
    /// Dependencies installed with it.
    pub dependencies: Vec<String>,
}

/// Installs the package at `source` (a bundle or repository directory) into the working
/// state, as `name` (default: the source's directory name or bundle file stem), at `rev`
/// (default, or `HEAD`: the source's HEAD branch). The record remembers `rev` for
/// [`update`]: the full name of the branch or tag it names, else the commit's id.
pub fn install(
    repo: &Repo,
    source: &Path,
    name: Option<&str>,
    rev: Option<&str>,
) -> Result<Installed> {
    if let Some(n) = name {
        check_name(n)?;
    }
    let st = WorkState::load(repo)?;
    let working = st.working(repo.store())?;
    if let Some(n) = name
        && working.packages.contains_key(n)
    {
        return Err(already(n));
    }
    let src = fetch_source(repo, source, Want::given(rev))?;
    let name = name.map_or(src.default_name.clone(), str::to_string);
    check_name(&name)?;
    if working.packages.contains_key(&name) {
        return Err(already(&name));
    }
    let plan = plan(repo.store(), &name, &src)?;
    let mut root = working;
    let dependencies = apply_plan(&mut root, &name, &plan)?;
    st.set_working(repo, &root, &format!("package install {name}"))?;
    Ok(Installed {
        name,
        record: plan.record,
        dependencies,
    })
}

fn already(name: &str) -> Error {
    Error::Invalid(format!(
        "package '{name}' is already installed\nhint: use 'kodiak package update {name}', or install under another name with --as <name>"
    ))
}

fn not_installed(name: &str) -> Error {
    Error::Invalid(format!(
        "no package named '{name}' is installed\nhint: 'kodiak package list' shows the installed packages"
    ))
}

/// Installed packages of the working state, by name.
pub fn list(repo: &Repo) -> Result<BTreeMap<String, PackageRecord>> {
    Ok(WorkState::load(repo)?.working(repo.store())?.packages)
}

/// One installed package's manifest entry.
pub fn info(repo: &Repo, name: &str) -> Result<PackageRecord> {
    list(repo)?.remove(name).ok_or_else(|| not_installed(name))
}

/// Removes package `name`: every table it installed and its manifest entry, nothing else.
/// Refused while another installed package depends on it.
pub fn uninstall(repo: &Repo, name: &str) -> Result<PackageRecord> {
    let st = WorkState::load(repo)?;
    let mut root = st.working(repo.store())?;
    let rec = root
        .packages
        .get(name)
        .cloned()
        .ok_or_else(|| not_installed(name))?;
    if let Some((user, _)) = root
        .packages
        .iter()
        .find(|(n, r)| n.as_str() != name && r.dependencies.iter().any(|d| d == name))
    {
        return Err(Error::Invalid(format!(
            "package '{user}' depends on '{name}'\nhint: uninstall '{user}' first"
        )));
    }
    for t in &rec.tables {
        root.tables.remove(t);
    }
    root.packages.remove(name);
    st.set_working(repo, &root, &format!("package uninstall {name}"))?;
    Ok(rec)
}

/// What [`update`] changed.
#[derive(Clone, Debug)]
pub struct Updated {
    /// The manifest entry before.
    pub old: PackageRecord,
    /// The manifest entry after.
    pub new: PackageRecord,
    /// Per installed table name: row changes (tables only before or after count as all
    /// deleted or added).
    pub tables: Vec<(String, TableStats)>,
    /// Dependencies newly installed.
    pub dependencies: Vec<String>,
}

/// Re-installs package `name` from `source` (default: its recorded source) at `rev`,
/// replacing its tables; returns the row changes it brings. Without `rev`, the ref recorded
/// at install (or by the last update with a `rev`) is followed: a tag stays on that tag, a
/// branch follows that branch; `rev` replaces the recorded ref (`HEAD`: none, follow the
/// source's HEAD branch). A recorded ref the source no longer has is an error naming it.
pub fn update(
    repo: &Repo,
    name: &str,
    source: Option<&Path>,
    rev: Option<&str>,
) -> Result<Updated> {
    let st = WorkState::load(repo)?;
    let mut root = st.working(repo.store())?;
    let old = root
        .packages
        .get(name)
        .cloned()
        .ok_or_else(|| not_installed(name))?;
    let source = source.map_or_else(|| PathBuf::from(&old.source), Path::to_path_buf);
    let want = match (rev, old.source_ref.as_deref()) {
        (Some(_), _) | (None, None) => Want::given(rev),
        (None, Some(recorded)) => Want::Recorded {
            package: name,
            rev: recorded,
        },
    };
    let src = fetch_source(repo, &source, want)?;
    let plan = plan(repo.store(), name, &src)?;
    let before: BTreeMap<String, TableId> = old
        .tables
        .iter()
        .filter_map(|t| root.tables.get(t).map(|id| (t.clone(), *id)))
        .collect();
    for t in &old.tables {
        root.tables.remove(t);
    }
    root.packages.remove(name);
    let dependencies = apply_plan(&mut root, name, &plan)?;
    let mut tables = Vec::new();
    let mut names: Vec<&String> = before.keys().chain(plan.tables.keys()).collect();
    names.sort();
    names.dedup();
    for t in names {
        let stats = table_stats(
            repo.store(),
            before.get(t).copied(),
            plan.tables.get(t).copied(),
        )?;
        tables.push((t.clone(), stats));
    }
    st.set_working(repo, &root, &format!("package update {name}"))?;
    Ok(Updated {
        old,
        new: plan.record,
        tables,
        dependencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ObjectId;

    fn tid(b: u8) -> TableId {
        TableId::new(ObjectId([b; 32]))
    }

    #[test]
    fn content_hash_is_order_independent_and_sensitive_to_names_and_ids() {
        let a = content_hash([("a", tid(1)), ("b", tid(2))]);
        assert_eq!(a, content_hash([("b", tid(2)), ("a", tid(1))]));
        assert_ne!(a, content_hash([("a", tid(1)), ("b", tid(3))]));
        assert_ne!(a, content_hash([("a", tid(1)), ("c", tid(2))]));
        // Length prefixes keep ("ab", "") apart from ("a", "b").
        assert_ne!(
            content_hash([("ab", tid(1))]),
            content_hash([("a", tid(1)), ("b", tid(1))])
        );
    }

    #[test]
    fn owners_and_names() {
        let mut root = Root::default();
        root.tables.insert("geo.countries".into(), tid(1));
        root.tables.insert("geography".into(), tid(2));
        root.packages.insert(
            "geo".into(),
            PackageRecord {
                source: "/x".into(),
                commit: CommitId::new(ObjectId([0; 32])),
                content_hash: ObjectId([0; 32]),
                tables: vec!["geo.countries".into()],
                dependencies: Vec::new(),
                source_ref: None,
            },
        );
        assert_eq!(owner(&root, "geo.countries"), Some("geo"));
        assert_eq!(owner(&root, "geo.new"), Some("geo"));
        assert_eq!(owner(&root, "geography"), None);
        assert!(check_editable(&root, "geography").is_ok());
        let e = check_editable(&root, "geo.x").unwrap_err().to_string();
        assert!(e.contains("package update geo"), "{e}");
        for bad in ["", "a.b", "-x", "a b", "a:b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in ["geo", "Geo_2", "a-b", "9lives"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
    }
}
