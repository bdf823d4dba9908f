//! Repositories: the `.kodiak/` directory, discovery, the lock, and access to objects, refs,
//! working sets and configuration.
//!
//! Layout (see "Repository layout" in `objects_format.md`):
//! ```text
//! <work dir>/.kodiak/
//!     FORMAT   "kodiak repository format 2\n", written last by `init` (format 1 is upgraded
//!              just before its first index file is written)
//!     config   repository configuration (git-config-like text)
//!     lock     exclusive OS file lock, holder's pid inside
//!     db/      sled database: trees refs, reflog, worksets, meta (and, in repositories
//!              made before format 2, the legacy object index trees objects and packs)
//!     packs/   append-only pack files pack-NNNNNN.kpk holding the objects, and the index
//!              files index-GGGGGG.kix locating them
//! ```

mod lock;

pub use lock::{LockWait, READ_LOCK_WAIT, RepoLock, lock_holder};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::object::Signature;
use crate::refs::{
    Change, Expected, RefName, RefStore, RefValue, ReflogMeta, SledRefStore, Transaction,
    WorkspaceName,
};
use crate::store::{PackStore, Store};
use crate::workingset::WorkingSet;

/// Name of the repository directory inside the work directory.
pub const DOT_DIR: &str = ".kodiak";
/// Format marker file inside [`DOT_DIR`].
pub const FORMAT_FILE: &str = "FORMAT";
/// Exact contents of the format marker.
pub const FORMAT_CONTENTS: &str = "kodiak repository format 2\n";
/// The format marker of repositories whose object index was in sled only: still read, and
/// upgraded to [`FORMAT_CONTENTS`] just before the first index file goes into place (older
/// binaries would not find objects that only index files list).
pub const FORMAT_V1_CONTENTS: &str = "kodiak repository format 1\n";
/// sled database directory inside [`DOT_DIR`].
pub const DB_DIR: &str = "db";
/// Pack file directory inside [`DOT_DIR`].
pub const PACKS_DIR: &str = "packs";
/// Repository configuration file inside [`DOT_DIR`].
pub const CONFIG_FILE: &str = "config";
/// Lock file inside [`DOT_DIR`].
pub const LOCK_FILE: &str = "lock";
/// sled page cache size.
pub const DB_CACHE_CAPACITY: u64 = 64 << 20;
/// Branch HEAD points at in a new repository unless configured otherwise.
pub const DEFAULT_BRANCH: &str = "main";

/// Where a repository's files are; knowing them does not open or lock anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoPaths {
    /// The directory holding `.kodiak`.
    pub work_dir: PathBuf,
    /// The `.kodiak` directory.
    pub dot_dir: PathBuf,
}

impl RepoPaths {
    /// Paths of a repository whose work directory is `work_dir` (nothing is checked).
    pub fn new(work_dir: &Path) -> Self {
        RepoPaths {
            work_dir: work_dir.to_path_buf(),
            dot_dir: work_dir.join(DOT_DIR),
        }
    }

    /// Finds the repository containing `start`: `start` or its nearest ancestor with `.kodiak`.
    pub fn discover(start: &Path) -> Result<Self> {
        let start = std::path::absolute(start).map_err(|e| Error::io("resolving", start, e))?;
        let mut dir = Some(start.as_path());
        while let Some(d) = dir {
            if d.join(DOT_DIR).is_dir() {
                return Ok(Self::new(d));
            }
            dir = d.parent();
        }
        Err(Error::NotARepository(start))
    }

    /// The repository at exactly `dir` (a work directory or a `.kodiak` directory), no search.
    pub fn at(dir: &Path) -> Result<Self> {
        let dir = std::path::absolute(dir).map_err(|e| Error::io("resolving", dir, e))?;
        if dir.file_name().is_some_and(|n| n == DOT_DIR) && dir.is_dir() {
            let work = dir.parent().unwrap_or(&dir);
            return Ok(Self::new(work));
        }
        if dir.join(DOT_DIR).is_dir() {
            return Ok(Self::new(&dir));
        }
        Err(Error::NotARepository(dir))
    }

    /// `.kodiak/config`.
    pub fn config_path(&self) -> PathBuf {
        self.dot_dir.join(CONFIG_FILE)
    }

    /// `.kodiak/lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.dot_dir.join(LOCK_FILE)
    }

    /// `.kodiak/db`.
    pub fn db_path(&self) -> PathBuf {
        self.dot_dir.join(DB_DIR)
    }

    /// `.kodiak/packs`.
    pub fn packs_path(&self) -> PathBuf {
        self.dot_dir.join(PACKS_DIR)
    }

    /// `.kodiak/FORMAT`.
    pub fn format_path(&self) -> PathBuf {
        self.dot_dir.join(FORMAT_FILE)
    }
}

/// Turns an optional identity into a name and email, or the error naming what is unset.
pub fn require_identity(name: Option<String>, email: Option<String>) -> Result<(String, String)> {
    match (name, email) {
        (Some(n), Some(e)) => Ok((n, e)),
        (None, None) => Err(Error::MissingIdentity(
            "user.name and user.email are not set".into(),
        )),
        (None, Some(_)) => Err(Error::MissingIdentity("user.name is not set".into())),
        (Some(_), None) => Err(Error::MissingIdentity("user.email is not set".into())),
    }
}

/// Options of [`Repo::init`].
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// Branch HEAD starts on; default: config `init.defaultBranch`, else `main`.
    pub initial_branch: Option<String>,
}

/// An open, locked repository.
///
/// Field order matters: everything using the database is dropped before the lock.
pub struct Repo {
    store: Store,
    refs: SledRefStore,
    db: sled::Db,
    config: Config,
    paths: RepoPaths,
    _lock: RepoLock,
}

/// How long opening the database waits for sled's own file lock (see [`open_db`]).
const DB_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Rewrites the format marker of a format-1 repository as [`FORMAT_CONTENTS`] (temporary
/// file, sync, rename, directory sync). Format 2 differs only in where new objects are
/// indexed, and a format-2 reader reads format-1 repositories as they are.
fn upgrade_format(paths: &RepoPaths) -> Result<()> {
    let format = paths.format_path();
    let tmp = paths.dot_dir.join(format!("{FORMAT_FILE}.tmp"));
    std::fs::write(&tmp, FORMAT_CONTENTS)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .map_err(|e| Error::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, &format).map_err(|e| Error::io("renaming", &tmp, e))?;
    std::fs::File::open(&paths.dot_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("syncing", &paths.dot_dir, e))
}

/// Opens the sled database; the caller holds the repository lock.
///
/// sled's periodic flusher thread is off (`flush_every_ms(None)`): it cleaned segments and
/// fsynced on every start, which doubled the CPU time of opening a large database, and nothing
/// relies on it — [`Repo::transaction`] and [`Repo::flush`] make writes durable explicitly,
/// and dropping the database flushes whatever is left. Segment cleaning still happens, one
/// page per write, inside sled's write path.
///
/// sled releases its file lock only when its last background reference is gone, which can be
/// a moment after the previous holder (in this or another process) closed the repository, so
/// a lock conflict is retried briefly: the repository lock already excludes live holders.
fn open_db(path: &Path) -> Result<sled::Db> {
    let start = std::time::Instant::now();
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(DB_CACHE_CAPACITY)
            .flush_every_ms(None)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && start.elapsed() < DB_LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => {
                return Err(Error::Storage(format!(
                    "opening the database {}: {e}",
                    path.display()
                )));
            }
        }
    }
}

impl Repo {
    /// Creates a repository in `dir` (created if missing) and returns it open and locked.
    ///
    /// Fails if `dir/.kodiak` already exists.
    pub fn init(dir: &Path, options: &InitOptions) -> Result<Repo> {
        let dir = std::path::absolute(dir).map_err(|e| Error::io("resolving", dir, e))?;
        let paths = RepoPaths::new(&dir);
        if paths.dot_dir.exists() {
            return Err(Error::Invalid(format!(
                "a kodiak repository already exists at {}",
                paths.dot_dir.display()
            )));
        }
        let global = Config::load(None)?;
        let branch_name = match &options.initial_branch {
            Some(b) => b.clone(),
            None => global
                .get_str("init.defaultbranch")
                .unwrap_or(DEFAULT_BRANCH)
                .to_string(),
        };
        let branch = RefName::branch(&branch_name)?;
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        std::fs::create_dir(&paths.dot_dir)
            .map_err(|e| Error::io("creating", &paths.dot_dir, e))?;
        let lock = RepoLock::acquire(&paths.lock_path(), LockWait::No)?;
        crate::config::ConfigFile::default().save(&paths.config_path())?;
        let db = open_db(&paths.db_path())?;
        let repo = Repo {
            store: Store::with_dictionary_record(
                Arc::new(PackStore::open(&db, &paths.packs_path())?),
                paths.dot_dir.join(crate::store::DICTIONARY_RECORD_FILE),
            ),
            refs: SledRefStore::new(&db)?,
            db,
            config: Config::load(Some(&paths.config_path()))?,
            paths,
            _lock: lock,
        };
        let tx = Transaction::new().update_working_set(
            WorkspaceName::default_workspace(),
            Expected::Absent,
            Change::Set(WorkingSet::on_branch(branch)),
        );
        repo.transaction(&tx, "init")?;
        repo.flush()?;
        let format = repo.paths.format_path();
        std::fs::write(&format, FORMAT_CONTENTS).map_err(|e| Error::io("writing", &format, e))?;
        Ok(repo)
    }

    /// Opens and locks the repository at `paths`.
    pub fn open(paths: RepoPaths, wait: LockWait) -> Result<Repo> {
        let format = paths.format_path();
        let mut upgrade = false;
        match std::fs::read_to_string(&format) {
            Ok(s) if s == FORMAT_CONTENTS => {}
            Ok(s) if s == FORMAT_V1_CONTENTS => upgrade = true,
            Ok(s) => {
                return Err(Error::Invalid(format!(
                    "unsupported repository format in {}: {:?} (this kodiak reads '{}')",
                    format.display(),
                    s.trim(),
                    FORMAT_CONTENTS.trim()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Invalid(format!(
                    "{} is not a complete kodiak repository: {FORMAT_FILE} is missing (interrupted 'kodiak init'?)",
                    paths.dot_dir.display()
                )));
            }
            Err(e) => return Err(Error::io("reading", &format, e)),
        }
        let db_path = paths.db_path();
        if !db_path.is_dir() {
            return Err(Error::Storage(format!(
                "the database directory {} is missing",
                db_path.display()
            )));
        }
        let lock = RepoLock::acquire(&paths.lock_path(), wait)?;
        let db = open_db(&db_path)?;
        // Repositories made before pack files get their `packs` directory here.
        let packs = PackStore::open(&db, &paths.packs_path())?;
        if upgrade {
            // Just before the first index file: from then on only this format's readers find
            // every object, while commands that store nothing leave the repository as it was.
            let upgrade_paths = paths.clone();
            packs.before_first_index(move || upgrade_format(&upgrade_paths));
        }
        Ok(Repo {
            store: Store::with_dictionary_record(
                Arc::new(packs),
                paths.dot_dir.join(crate::store::DICTIONARY_RECORD_FILE),
            ),
            refs: SledRefStore::new(&db)?,
            db,
            config: Config::load(Some(&paths.config_path()))?,
            paths,
            _lock: lock,
        })
    }

    /// Discovers the repository containing `start` and opens it.
    pub fn discover(start: &Path, wait: LockWait) -> Result<Repo> {
        Self::open(RepoPaths::discover(start)?, wait)
    }

    /// Where the repository's files are.
    pub fn paths(&self) -> &RepoPaths {
        &self.paths
    }

    /// The verifying object store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Refs, reflogs and working sets.
    pub fn refs(&self) -> &dyn RefStore {
        &self.refs
    }

    /// The underlying sled database (for maintenance tools).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Global and repository configuration, as loaded when the repository was opened.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current workspace's name.
    pub fn current_workspace(&self) -> Result<WorkspaceName> {
        self.refs.current_workspace()
    }

    /// The current workspace's working set.
    pub fn working_set(&self) -> Result<WorkingSet> {
        let ws = self.current_workspace()?;
        self.refs
            .working_set(&ws)?
            .ok_or_else(|| Error::Storage(format!("the current workspace {ws} has no working set")))
    }

    /// What HEAD points at.
    pub fn head(&self) -> Result<RefValue> {
        Ok(self.working_set()?.head)
    }

    /// Signature for a new commit or tag: identity from env or config, time from
    /// `KODIAK_TIMESTAMP` or the clock. A missing name or email is an error.
    pub fn signature(&self) -> Result<Signature> {
        let (name, email) = config::identity(&self.config);
        let (name, email) = require_identity(name, email)?;
        let (time, tz_offset_min) = config::now()?;
        Ok(Signature {
            name,
            email,
            time,
            tz_offset_min,
        })
    }

    /// Reflog metadata for a transaction; an unset identity is recorded as `unknown`.
    pub fn reflog_meta(&self, message: &str) -> Result<ReflogMeta> {
        let (name, email) = config::identity(&self.config);
        let name = name
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "unknown".into());
        let email = email.unwrap_or_else(|| "unknown".into());
        let (time, tz_offset_min) = config::now()?;
        Ok(ReflogMeta {
            who: format!("{name} <{email}>"),
            time,
            tz_offset_min,
            message: message.to_string(),
        })
    }

    /// Applies a ref/working-set transaction with reflog message `message`; it is durable
    /// when this returns.
    ///
    /// Objects are flushed first, so a durable ref never names an object that a crash could
    /// still take away.
    pub fn transaction(&self, tx: &Transaction, message: &str) -> Result<()> {
        self.store.flush()?;
        self.refs.transaction(tx, &self.reflog_meta(message)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.store.flush()?;
        self.db.flush()?;
        Ok(())
    }

    /// Flushes and closes the repository, releasing the lock.
    pub fn close(self) -> Result<()> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_open_discover() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let repo = Repo::init(
            &dir,
            &InitOptions {
                initial_branch: Some("trunk".into()),
            },
        )
        .unwrap();
        assert_eq!(
            repo.head().unwrap(),
            RefValue::Symbolic(RefName::branch("trunk").unwrap())
        );
        assert!(matches!(
            Repo::open(RepoPaths::new(&dir), LockWait::No),
            Err(Error::Locked { .. })
        ));
        repo.close().unwrap();
        let err = Repo::init(&dir, &InitOptions::default()).err().unwrap();
        assert!(err.to_string().contains("already exists"), "{err}");
        let sub = dir.join("a").join("b");
        std::fs::create_dir_all(&sub).unwrap();
        let repo = Repo::discover(&sub, LockWait::No).unwrap();
        assert_eq!(repo.paths().work_dir, dir);
        assert_eq!(repo.refs().reflog(&RefName::head()).unwrap().len(), 1);
        drop(repo);
        assert_eq!(RepoPaths::at(&dir.join(DOT_DIR)).unwrap().work_dir, dir);
        assert!(matches!(RepoPaths::at(&sub), Err(Error::NotARepository(_))));
        assert!(matches!(
            RepoPaths::discover(tmp.path()),
            Err(Error::NotARepository(_))
        ));
    }

    #[test]
    fn objects_go_to_packs_and_older_repos_get_a_packs_dir() {
        use crate::object::Blob;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let repo = Repo::init(&dir, &InitOptions::default()).unwrap();
        let packs = repo.paths().packs_path();
        assert!(packs.is_dir());
        let mut data = vec![0u8; 4000];
        blake3::Hasher::new()
            .update(b"noise")
            .finalize_xof()
            .fill(&mut data);
        let big = Blob { data };
        let id = repo.store().put(&big).unwrap();
        repo.close().unwrap();
        assert!(packs.join(crate::store::pack_file_name(1)).is_file());
        std::fs::rename(&packs, tmp.path().join("moved")).unwrap();
        let repo = Repo::open(RepoPaths::new(&dir), LockWait::No).unwrap();
        assert!(packs.is_dir());
        assert!(repo.store().get::<Blob>(&id).is_err());
        drop(repo);
        std::fs::remove_dir(&packs).unwrap();
        std::fs::rename(tmp.path().join("moved"), &packs).unwrap();
        let repo = Repo::open(RepoPaths::new(&dir), LockWait::No).unwrap();
        assert_eq!(repo.store().get::<Blob>(&id).unwrap(), big);
    }

    #[test]
    fn bad_initial_branch_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("x");
        let err = Repo::init(
            &dir,
            &InitOptions {
                initial_branch: Some("a..b".into()),
            },
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("invalid ref name"));
        assert!(!dir.exists());
    }

    #[test]
    fn missing_identity_names_what_is_unset() {
        let err = require_identity(None, Some("e".into()))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "author identity unknown: user.name is not set");
        let err = require_identity(None, None).unwrap_err().to_string();
        assert!(err.contains("user.name and user.email"), "{err}");
        assert_eq!(
            require_identity(Some("n".into()), Some("e".into())).unwrap(),
            ("n".into(), "e".into())
        );
    }

    #[test]
    fn reopening_a_fragmented_database_keeps_its_data() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        {
            // Enough churn for sled to free whole log segments, whose zeroing on open the
            // vendored sled skips when they are already zeroed (vendor/PATCHES.md).
            let db = open_db(&path).unwrap();
            let tree = db.open_tree("t").unwrap();
            for round in 0..4u32 {
                for i in 0..4000u32 {
                    tree.insert(i.to_be_bytes(), vec![round as u8; 300])
                        .unwrap();
                }
                db.flush().unwrap();
            }
            for i in 0..3990u32 {
                tree.remove(i.to_be_bytes()).unwrap();
            }
            db.flush().unwrap();
        }
        for round in 0..4u8 {
            let db = open_db(&path).unwrap();
            let tree = db.open_tree("t").unwrap();
            assert_eq!(tree.len(), 10 + usize::from(round));
            for i in 3990..4000u32 {
                let v = tree.get(i.to_be_bytes()).unwrap().unwrap_or_default();
                assert_eq!(&v[..], &[3u8; 300][..]);
            }
            // A write per session keeps the log tip moving through the recovered segment.
            tree.insert([b'k', round], vec![round]).unwrap();
            db.flush().unwrap();
        }
    }

    #[test]
    fn missing_format_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join(DOT_DIR)).unwrap();
        let err = Repo::open(RepoPaths::new(tmp.path()), LockWait::No)
            .err()
            .unwrap();
        assert!(err.to_string().contains("FORMAT is missing"), "{err}");
    }
}
