//! `.kdk` bundles: carrying history from one repository to another without a server.
//!
//! [`pack`] walks the objects reachable from some refs (minus what an incremental bundle's
//! prerequisites already give the receiver) and streams them into a bundle file;
//! [`verify_file`] reads a bundle completely, checking its checksum, every object and its
//! completeness; [`fetch`] verifies first and only then stores objects, flushes, and updates
//! refs in one transaction, so a bad bundle changes nothing; [`clone_bundle`] stores objects
//! while verifying, into a new repository that stays in a temporary directory until complete.

pub mod format;
pub mod remote;
pub mod walk;

pub use format::{
    BUNDLE_MAGIC, BUNDLE_VERSION, BundleError, BundleHeader, BundleObject, BundleRef,
    BundleSummary, BundleWriter, Creator, read_bundle, read_bundle_checked, read_header,
};
pub use remote::{
    CloneOutcome, FetchOutcome, PullOutcome, RefUpdate, UpdateKind, clone_bundle, fetch, pull,
};
pub use walk::{Walker, required_refs};

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::history::resolve_commit;
use crate::history::revision::find_ref;
use crate::id::{CommitId, ObjectId};
use crate::object::Kind;
use crate::refs::{RefName, RefValue};
use crate::repo::Repo;
use crate::store::{Framer, PackStore, Store};
use std::sync::Arc;

/// File extension of bundles.
pub const BUNDLE_EXTENSION: &str = "kdk";

/// What to put in a bundle.
#[derive(Clone, Debug, Default)]
pub struct PackOptions {
    /// Refs to pack (branch or tag names, or full ref names); empty = every branch and tag.
    pub refs: Vec<String>,
    /// Pack every branch and tag (the default when `refs` is empty).
    pub all: bool,
    /// Make an incremental bundle: leave out what this revision already has.
    pub since: Option<String>,
}

/// What [`pack`] wrote.
#[derive(Clone, Debug)]
pub struct PackOutcome {
    /// The bundle's file.
    pub path: PathBuf,
    /// Its header.
    pub header: BundleHeader,
    /// Counts and checksum.
    pub summary: BundleSummary,
}

/// The default bundle path: `<project>.kdk` in the current directory, the project being the
/// repository's work directory name.
pub fn default_bundle_name(repo: &Repo) -> String {
    let project = repo
        .paths()
        .work_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "repository".to_string());
    format!("{project}.{BUNDLE_EXTENSION}")
}

fn bundle_error(path: &Path, e: BundleError) -> Error {
    Error::Invalid(format!("bundle {}: {}", path.display(), e.0))
}

/// The refs a pack covers, as full names with their targets, sorted by name.
fn selected_refs(repo: &Repo, opts: &PackOptions) -> Result<Vec<(RefName, ObjectId)>> {
    let mut out: BTreeMap<RefName, ObjectId> = BTreeMap::new();
    if opts.all || opts.refs.is_empty() {
        for prefix in ["refs/heads/", "refs/tags/"] {
            for (name, value) in repo.refs().list(prefix)? {
                if let RefValue::Direct(id) = value {
                    out.insert(name, id);
                }
            }
        }
        if out.is_empty() {
            return Err(Error::Invalid(
                "nothing to pack: the repository has no branches with commits\nhint: commit something first".into(),
            ));
        }
    }
    for text in &opts.refs {
        let name = find_ref(repo, text)?.ok_or_else(|| {
            Error::Invalid(format!("cannot pack '{text}': no such branch or tag"))
        })?;
        let resolved = repo.refs().resolve(&name)?;
        let target_ref = resolved.chain.last().cloned().unwrap_or(name.clone());
        let Some(id) = resolved.target else {
            return Err(Error::Invalid(format!(
                "cannot pack '{text}': {} has no commits yet",
                target_ref.short()
            )));
        };
        if !(target_ref.is_branch() || target_ref.as_str().starts_with("refs/tags/")) {
            return Err(Error::Invalid(format!(
                "cannot pack '{text}': only branches and tags go into bundles"
            )));
        }
        out.insert(target_ref, id);
    }
    Ok(out.into_iter().collect())
}

/// Writes a bundle of `opts`' refs to `path` (through a temporary file renamed into place, so
/// a failure leaves no partial bundle).
pub fn pack(repo: &Repo, opts: &PackOptions, path: &Path) -> Result<PackOutcome> {
    let store = repo.store();
    let refs = selected_refs(repo, opts)?;
    let mut walker = Walker::new(store);
    if let Some(since) = &opts.since {
        let base = resolve_commit(repo, since)?;
        walker.exclude(&[base.id()])?;
    }
    let mut starts = Vec::new();
    for (name, id) in &refs {
        let kind = store.kind_of(id)?.ok_or(Error::Missing {
            id: *id,
            kind: Kind::Commit,
        })?;
        if !matches!(kind, Kind::Commit | Kind::Tag) {
            return Err(Error::Invalid(format!(
                "cannot pack {name}: it names a {kind}, not a commit or tag"
            )));
        }
        starts.push((*id, kind));
    }
    let head = match repo.head()? {
        RefValue::Symbolic(b) if refs.iter().any(|(n, _)| *n == b) => Some(b.to_string()),
        _ => None,
    };
    // The header (with the prerequisites) precedes the objects, so the prerequisites come
    // from the commit graph first. Only what the prerequisites' roots hold is left out (and
    // used as delta bases): the receiver is promised those commits, not `--since` itself.
    let boundary = walker.commit_boundary(&starts)?;
    walker.exclude_roots(&boundary)?;
    let prerequisites: Vec<CommitId> = boundary.into_iter().map(CommitId::new).collect();
    let (time, _) = crate::config::now()?;
    let who = repo.reflog_meta("pack")?.who;
    let header = BundleHeader {
        refs: refs
            .iter()
            .map(|(n, id)| BundleRef {
                name: n.to_string(),
                id: *id,
            })
            .collect(),
        head,
        prerequisites,
        creator: Creator {
            tool: format!("kodiak {}", env!("CARGO_PKG_VERSION")),
            who,
            time,
        },
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    let io = |e: std::io::Error| Error::io("writing", path, e);
    let file = tmp.as_file().try_clone().map_err(io)?;
    let (out, syncer) = WriteBack::start(file).map_err(io)?;
    let mut w = BundleWriter::new(out, &header).map_err(io)?;
    // Whole objects go in as the store keeps them (already compressed): nothing is
    // compressed again. A value compressed with a dictionary is preceded by the dictionary
    // (once per bundle).
    walker.walk(
        &starts,
        &mut |id, kind, canonical, stored, base| match base {
            Some(b) => {
                let base_bytes = store.get_canonical(&b, kind)?;
                w.add_delta(id, canonical, b, &base_bytes).map_err(io)
            }
            None => add_whole(store, &mut w, path, id, canonical, stored),
        },
    )?;
    // Bundles are files to share (0644), not private like temporary files.
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    debug_assert_eq!(
        walker.prerequisites(),
        header
            .prerequisites
            .iter()
            .map(|c| c.id())
            .collect::<Vec<_>>()
    );
    let (out, summary) = w.finish().map_err(io)?;
    let file = out.finish(syncer).map_err(io)?;
    file.sync_all().map_err(io)?;
    tmp.persist(path)
        .map_err(|e| Error::io("replacing", path, e.error))?;
    Ok(PackOutcome {
        path: path.to_path_buf(),
        header,
        summary,
    })
}

/// Adds a whole object to a bundle as its store keeps it, adding the dictionary its value
/// is compressed with first if the bundle lacks it. A value whose dictionary shares its tag
/// with another dictionary already in the bundle (a tag collision between two stored
/// dictionaries) is framed again without a dictionary.
fn add_whole<W: std::io::Write + Send + 'static>(
    store: &Store,
    w: &mut BundleWriter<W>,
    path: &Path,
    id: ObjectId,
    canonical: &[u8],
    stored: &[u8],
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("writing", path, e);
    let Some(tag) = crate::store::frame_dict_tag(stored) else {
        return w.add_stored(id, canonical, stored).map_err(io);
    };
    // The store verified `stored` with its dictionary; with one candidate no check is needed.
    let candidates = store.dictionaries_with_tag(tag)?;
    let dict = match candidates.as_slice() {
        [one] => Arc::clone(one),
        _ => store
            .dictionary_of(&id, stored)?
            .ok_or_else(|| Error::Corrupt {
                id,
                reason: "its stored value names no dictionary".into(),
            })?,
    };
    match w.dictionary_with_tag(&tag) {
        Some(d) if d == dict.id() => w.add_stored(id, canonical, stored).map_err(io),
        Some(_) => w.add(id, canonical).map_err(io),
        None => {
            w.add_dictionary(&dict).map_err(io)?;
            w.add_stored(id, canonical, stored).map_err(io)
        }
    }
}

/// Bytes written to a bundle between two write-back requests.
const WRITEBACK_BYTES: usize = 2 << 20;

/// A buffered file writer whose bytes are synced by a helper thread as they accumulate, so
/// the final `fsync` of a bundle has little left to write.
struct WriteBack {
    inner: BufWriter<File>,
    since: usize,
    signal: std::sync::mpsc::SyncSender<()>,
}

impl WriteBack {
    /// Wraps `file` and starts its syncing thread (returned, for [`WriteBack::finish`]).
    fn start(
        file: File,
    ) -> std::io::Result<(WriteBack, std::thread::JoinHandle<std::io::Result<()>>)> {
        let synced = file.try_clone()?;
        // Requests coalesce while a sync runs.
        let (signal, requests) = std::sync::mpsc::sync_channel::<()>(1);
        let syncer = std::thread::Builder::new()
            .name("kdk-sync".into())
            .spawn(move || {
                for () in requests {
                    synced.sync_data()?;
                }
                Ok(())
            })?;
        let out = WriteBack {
            inner: BufWriter::with_capacity(1 << 20, file),
            since: 0,
            signal,
        };
        Ok((out, syncer))
    }

    /// Flushes the buffer, stops the syncing thread (reporting its error) and returns the file.
    fn finish(self, syncer: std::thread::JoinHandle<std::io::Result<()>>) -> std::io::Result<File> {
        let WriteBack { inner, signal, .. } = self;
        drop(signal);
        let file = inner.into_inner().map_err(|e| e.into_error())?;
        syncer
            .join()
            .map_err(|_| std::io::Error::other("the syncing thread panicked"))??;
        Ok(file)
    }
}

impl std::io::Write for WriteBack {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.since += n;
        if self.since >= WRITEBACK_BYTES {
            self.since = 0;
            self.inner.flush()?;
            // A stopped syncer reports its error in `finish`.
            let _ = self.signal.try_send(());
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A bundle that passed [`verify_file`].
#[derive(Clone, Debug)]
pub struct Verified {
    /// Its header.
    pub header: BundleHeader,
    /// Counts and checksum.
    pub summary: BundleSummary,
    /// Every object in file order.
    pub ids: Vec<ObjectId>,
    /// Objects the bundle references but does not hold, left to the prerequisites (only when
    /// no repository was given to check them against).
    pub assumed: u64,
}

/// Opens a bundle for buffered reading.
fn open_bundle(path: &Path) -> Result<BufReader<File>> {
    let f = File::open(path).map_err(|e| Error::io("opening the bundle", path, e))?;
    Ok(BufReader::with_capacity(1 << 20, f))
}

/// Reads the header of the bundle at `path` (nothing else is checked).
pub fn read_header_file(path: &Path) -> Result<BundleHeader> {
    read_header(open_bundle(path)?).map_err(|e| bundle_error(path, e))
}

/// Reads and checks a whole bundle: checksum, every object's hash and encoding, and
/// completeness — every object a bundled object or ref needs is in the bundle, or is a
/// prerequisite commit, or (with `store`) is already in the repository. With `store`, every
/// prerequisite must be in it.
pub fn verify_file(path: &Path, store: Option<&Store>) -> Result<Verified> {
    verify_with(path, store, &mut |_| Ok(()))
}

/// [`verify_file`], handing every object to `each` as it is read.
fn verify_with(
    path: &Path,
    store: Option<&Store>,
    each: &mut dyn FnMut(&BundleObject<'_>) -> Result<(), BundleError>,
) -> Result<Verified> {
    let mut present: BTreeMap<ObjectId, Kind> = BTreeMap::new();
    let mut needed: BTreeSet<(ObjectId, Kind)> = BTreeSet::new();
    let mut ids = Vec::new();
    let mut lookup = |id: &ObjectId| -> Result<Option<Vec<u8>>, BundleError> {
        match store {
            Some(s) => s
                .try_get_canonical(id)
                .map_err(|e| BundleError(format!("reading delta base {id}: {e}"))),
            None => Ok(None),
        }
    };
    // Decoding each object for what it references runs on the verifying threads.
    let check = |o: &BundleObject<'_>| {
        required_refs(o.kind, o.canonical)
            .map_err(|e| BundleError(format!("object {} is malformed: {e}", o.id)))
    };
    let (header, summary) =
        read_bundle_checked(open_bundle(path)?, &mut lookup, &check, |o, refs| {
            needed.extend(refs);
            if present.insert(o.id, o.kind).is_some() {
                return Err(BundleError(format!("object {} appears twice", o.id)));
            }
            ids.push(o.id);
            each(o)
        })
        .map_err(|e| bundle_error(path, e))?;
    let prereqs: BTreeSet<ObjectId> = header.prerequisites.iter().map(|c| c.id()).collect();
    let fail = |msg: String| Err(Error::Invalid(format!("bundle {}: {msg}", path.display())));
    if let Some(store) = store {
        let mut missing = Vec::new();
        for p in &header.prerequisites {
            if !store.has(&p.id())? {
                missing.push(p.id().short());
            }
        }
        if !missing.is_empty() {
            return fail(format!(
                "this repository lacks the bundle's prerequisite commit{} {}\nhint: the bundle was made with --since; fetch the bundle it builds on first, or ask for a full bundle",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ));
        }
    }
    let mut assumed = 0u64;
    if let Some((id, _, base)) = summary.unresolved.first() {
        if store.is_some() {
            return fail(format!(
                "object {id} is stored as a delta against {base}, which this repository does not have\nhint: the bundle was made with --since; fetch the bundle it builds on first"
            ));
        }
        for (id, kind, _) in &summary.unresolved {
            present.insert(*id, *kind);
            assumed += 1;
        }
    }
    for r in &header.refs {
        needed.insert((r.id, present.get(&r.id).copied().unwrap_or(Kind::Commit)));
    }
    for (id, kind) in needed {
        match present.get(&id) {
            Some(k) if *k == kind => continue,
            Some(k) => {
                return fail(format!(
                    "object {id} is referenced as a {kind} but the bundle holds a {k}"
                ));
            }
            None => {}
        }
        if kind == Kind::Commit && prereqs.contains(&id) {
            continue;
        }
        match store {
            Some(s) if s.has(&id)? => continue,
            None if !prereqs.is_empty() && kind != Kind::Commit => {
                assumed += 1;
                continue;
            }
            _ => {}
        }
        return fail(format!(
            "the bundle is incomplete: {kind} {id} is referenced but neither in the bundle nor {}",
            if store.is_some() {
                "in this repository"
            } else {
                "a prerequisite"
            }
        ));
    }
    Ok(Verified {
        header,
        summary,
        ids,
        assumed,
    })
}

/// A verified bundle whose objects wait, as stored values, in a temporary spill file.
pub struct Received {
    /// The verification result.
    pub verified: Verified,
    spill: File,
    spill_dir: PathBuf,
}

/// Objects per batch sent to the spill thread, by bytes.
const SPILL_BATCH_BYTES: usize = 4 << 20;

/// An object on its way to the spill file: its id, and its stored value (`true`) or its
/// canonical bytes still to be framed (`false`, objects rebuilt from deltas).
type SpillItem = (ObjectId, Vec<u8>, bool);

/// Collects verified objects into batches of about `limit` bytes for a writing thread.
struct Batcher {
    tx: Option<std::sync::mpsc::SyncSender<Vec<SpillItem>>>,
    batch: Vec<SpillItem>,
    bytes: usize,
    limit: usize,
    /// The error when the writing thread is gone (its own error explains why).
    gone: &'static str,
}

impl Batcher {
    fn new(
        tx: std::sync::mpsc::SyncSender<Vec<SpillItem>>,
        limit: usize,
        gone: &'static str,
    ) -> Self {
        Batcher {
            tx: Some(tx),
            batch: Vec::new(),
            bytes: 0,
            limit,
            gone,
        }
    }

    /// Adds one object: its stored value when the bundle carries one, else canonical bytes.
    fn push(&mut self, o: &format::BundleObject) -> Result<(), BundleError> {
        let item = match o.stored {
            Some(stored) => (o.id, stored.to_vec(), true),
            None => (o.id, o.canonical.to_vec(), false),
        };
        self.bytes += item.1.len();
        self.batch.push(item);
        if self.bytes >= self.limit {
            self.bytes = 0;
            let full = std::mem::take(&mut self.batch);
            if self.tx.as_ref().is_none_or(|t| t.send(full).is_err()) {
                return Err(BundleError(self.gone.into()));
            }
        }
        Ok(())
    }

    /// Closes the channel, sending the last batch first when `send_last`.
    fn finish(&mut self, send_last: bool) {
        if let Some(t) = self.tx.take()
            && send_last
        {
            let _ = t.send(std::mem::take(&mut self.batch));
        }
    }
}

/// Reads and verifies the bundle at `path` in one pass (as [`verify_file`]), writing every
/// object's stored value into an anonymous temporary file in `spill_dir` on a second thread.
/// Records carry stored values, which are kept as they are (checked by the reader); only
/// objects rebuilt from deltas are framed here. Nothing reaches a store until
/// [`Received::store_into`].
pub fn receive(path: &Path, store: Option<&Store>, spill_dir: &Path) -> Result<Received> {
    // Objects rebuilt from deltas are framed as the receiving store frames new objects.
    let framer = match store {
        Some(s) => s.framer()?,
        None => Framer::default(),
    };
    let spill = tempfile::tempfile_in(spill_dir)
        .map_err(|e| Error::io("creating a temporary file in", spill_dir, e))?;
    let writer = spill
        .try_clone()
        .map_err(|e| Error::io("opening a temporary file in", spill_dir, e))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<SpillItem>>(2);
    let spiller = std::thread::Builder::new()
        .name("kdk-spill".into())
        .spawn(move || -> std::io::Result<()> {
            use std::io::Write;
            let mut w = BufWriter::with_capacity(1 << 20, writer);
            for batch in rx {
                for (id, bytes, is_stored) in &batch {
                    let framed;
                    let stored = if *is_stored {
                        bytes
                    } else {
                        framed = framer.frame(bytes);
                        &framed
                    };
                    w.write_all(id.as_bytes())?;
                    w.write_all(&(stored.len() as u32).to_le_bytes())?;
                    w.write_all(stored)?;
                }
            }
            w.flush()
        })
        .map_err(|e| Error::Storage(format!("starting a thread: {e}")))?;
    let mut batcher = Batcher::new(tx, SPILL_BATCH_BYTES, "writing the temporary file failed");
    let result = verify_with(path, store, &mut |o| batcher.push(o));
    // The spill thread may have stopped on an error; join reports it.
    batcher.finish(true);
    let spilled = spiller
        .join()
        .map_err(|_| Error::Storage("the spill thread panicked".into()))?;
    // A failed write stops the spill thread first: its error is the one that explains.
    spilled.map_err(|e| Error::io("writing a temporary file in", spill_dir, e))?;
    let verified = result?;
    Ok(Received {
        verified,
        spill,
        spill_dir: spill_dir.to_path_buf(),
    })
}

/// Stored bytes of verified objects handed to the storing thread at a time by
/// [`receive_into_fresh`].
const STORE_BATCH_BYTES: usize = 1 << 20;

/// Reads and verifies the bundle at `path` (as [`verify_file`] without a repository) and
/// stores each object as soon as it is verified, on a second thread, so storing and indexing
/// overlap verification; flushes the store once everything verified.
///
/// The second thread first calls `open` for the store (and whatever the caller keeps with
/// it, returned with the result), so creating it overlaps the first reads too. Objects reach
/// the store (with [`PackStore::load_unsynced`]) before the bundle as a whole is known to be
/// good — its checksum, index and completeness are checked at the end — and before they are
/// durable: the store must belong to a repository no one can see yet, which the caller
/// discards when this fails. [`clone_bundle`] builds the new repository in a temporary
/// directory and renames it into place only when complete. The store must be empty.
pub fn receive_into_fresh<T: Send>(
    path: &Path,
    open: impl FnOnce() -> Result<(T, PackStore)> + Send,
) -> Result<(Verified, T)> {
    // Up to four batches wait while the storing thread indexes.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<SpillItem>>(4);
    std::thread::scope(|scope| {
        let storer = std::thread::Builder::new()
            .name("kdk-store".into())
            .spawn_scoped(scope, move || -> Result<(T, PackStore)> {
                let (keep, store) = open()?;
                // A third thread writes the pack back while this one indexes, so the final
                // flush has little left to sync; requests coalesce while it is busy.
                let (sync_tx, sync_rx) = std::sync::mpsc::sync_channel::<()>(1);
                std::thread::scope(|inner| -> Result<()> {
                    let syncer = std::thread::Builder::new()
                        .name("kdk-sync".into())
                        .spawn_scoped(inner, || -> Result<()> {
                            for () in sync_rx {
                                store.sync_appended()?;
                            }
                            Ok(())
                        })
                        .map_err(|e| Error::Storage(format!("starting a thread: {e}")))?;
                    let loaded = (|| -> Result<()> {
                        for batch in rx {
                            let items: Vec<(ObjectId, Vec<u8>)> = batch
                                .into_iter()
                                .map(|(id, bytes, is_stored)| {
                                    let stored = if is_stored {
                                        bytes
                                    } else {
                                        crate::store::frame(&bytes)
                                    };
                                    (id, stored)
                                })
                                .collect();
                            store.load_unsynced(items)?;
                            // A stopped syncer reports its error at the join.
                            let _ = sync_tx.try_send(());
                        }
                        Ok(())
                    })();
                    drop(sync_tx);
                    let synced = syncer
                        .join()
                        .map_err(|_| Error::Storage("the syncing thread panicked".into()))?;
                    loaded?;
                    synced
                })?;
                Ok((keep, store))
            })
            .map_err(|e| Error::Storage(format!("starting a thread: {e}")))?;
        let mut batcher = Batcher::new(tx, STORE_BATCH_BYTES, "storing objects failed");
        let result = verify_with(path, None, &mut |o| batcher.push(o));
        // The storing thread may have stopped on an error; join reports it.
        batcher.finish(result.is_ok());
        let stored = storer
            .join()
            .map_err(|_| Error::Storage("the storing thread panicked".into()))?;
        // A failed write (or `open`) stops the storing thread first: its error explains.
        let (keep, store) = stored?;
        let verified = match result {
            Ok(v) => v,
            Err(e) => {
                // The caller deletes the repository: syncing what was loaded is wasted.
                store.abandon();
                return Err(e);
            }
        };
        crate::store::ObjectStore::flush(&store)?;
        Ok((verified, keep))
    })
}

impl Received {
    /// Stores every object the store lacks from the spill file, then flushes; returns how
    /// many were new.
    pub fn store_into(self, store: &Store) -> Result<u64> {
        use std::io::{Read, Seek};
        const BATCH_BYTES: usize = 32 << 20;
        let io = |e: std::io::Error| Error::io("reading a temporary file in", &self.spill_dir, e);
        let mut f = self.spill;
        f.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        let mut r = BufReader::with_capacity(1 << 20, f);
        let mut batch: Vec<(ObjectId, Vec<u8>)> = Vec::new();
        let mut batch_bytes = 0usize;
        let mut new_objects = 0u64;
        for id in &self.verified.ids {
            let mut head = [0u8; 36];
            r.read_exact(&mut head).map_err(io)?;
            if head[..32] != id.as_bytes()[..] {
                return Err(Error::Storage(format!(
                    "the temporary file in {} does not hold object {id} where expected",
                    self.spill_dir.display()
                )));
            }
            let len = u32::from_le_bytes([head[32], head[33], head[34], head[35]]) as usize;
            let mut stored = vec![0u8; len];
            r.read_exact(&mut stored).map_err(io)?;
            if store.has(id)? {
                continue;
            }
            new_objects += 1;
            batch_bytes += len;
            batch.push((*id, stored));
            if batch_bytes >= BATCH_BYTES {
                store
                    .backend()
                    .put_stored_batch(std::mem::take(&mut batch))?;
                batch_bytes = 0;
            }
        }
        if !batch.is_empty() {
            store.backend().put_stored_batch(batch)?;
        }
        store.flush()?;
        // A repository without a dictionary adopts the bundle's (now durable) first one, so
        // what it writes next compresses like what it received.
        if let Some(d) = self.verified.summary.dictionaries.first()
            && store.active_dictionary()?.is_none()
        {
            store.adopt_stored_dictionary(d)?;
        }
        Ok(new_objects)
    }
}

#[cfg(test)]
mod tests;
