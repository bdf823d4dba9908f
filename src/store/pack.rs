//! The pack-file [`ObjectStore`]: stored values appended to pack files, located through
//! immutable index files.
//!
//! Layout (see `objects_format.md`, "Stored values"): every stored value is a record in a pack
//! `packs/pack-NNNNNN.kpk`; index files `packs/index-GGGGGG.kix` map ids to [`Location`]s and
//! record the packs' durable lengths. Repositories written before index files keep their
//! index in the sled tree `objects` (inline values and locations) and their durable lengths in
//! the sled tree `packs`; both are still read (see [`PackStore::open`]).
//!
//! Durability invariant: no index file ever lists a location whose pack bytes are not yet
//! durable. Writes go to an in-memory *pending* index; [`ObjectStore::flush`] syncs the pack
//! files first and only then writes the pending entries as one new index file. After a crash an
//! object is therefore either fully readable or absent, so `has` never vouches for a lost
//! object.
//!
//! One directory is open at most once per process: opening it again (as `kodiak clone` does,
//! with a second handle for its bulk load) returns a handle to the same store, so every handle
//! sees the index files the others write.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use super::ObjectStore;
use super::index::{self, IndexFile};
use super::sled_store::OBJECTS_TREE;
use crate::error::{Error, Result};
use crate::id::ObjectId;

/// Name of the sled tree in which repositories written before index files recorded each
/// pack's durable length (read, never written).
pub const PACKS_TREE: &str = "packs";
/// The first eight bytes of every pack file.
pub const PACK_MAGIC: [u8; 8] = *b"KODIAKPK";
/// Pack file format version written after the magic.
pub const PACK_VERSION: u32 = 1;
/// Bytes of the pack file header: magic, `u32le` version, `u32le` pack number.
pub const PACK_HEADER_LEN: u64 = 16;
/// Bytes of a record header: the `u32le` stored-value length.
///
/// Records carry no id: it is the hash of the stored value's canonical bytes, so an index can be
/// rebuilt by scanning records and hashing them, and every read verifies it anyway.
pub const RECORD_HEADER_LEN: usize = 4;
/// A pack is not appended to once it is this long; the next batch starts a new pack.
pub const MAX_PACK_BYTES: u64 = 1 << 30;
/// First byte of a legacy sled index value that is a pack location (stored values start below
/// `0x80`).
pub const LOCATION_TAG: u8 = 0x80;
/// Bytes of an encoded legacy [`Location`] index value.
pub const LOCATION_LEN: usize = 17;
/// A flush folds the newest index files into the one it writes while the next older file has
/// at most this many times the entries gathered so far: file sizes then grow geometrically
/// with age, so there are O(log n) files and each entry is rewritten O(log n) times.
pub const INDEX_MERGE_FACTOR: u64 = 2;

/// Pending entries past which a write flushes by itself (bounds memory).
const AUTO_FLUSH_ENTRIES: usize = 1 << 20;

/// Where a stored value lives: the record starting at `offset` in pack `pack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Pack number (the `NNNNNN` in `pack-NNNNNN.kpk`).
    pub pack: u32,
    /// Offset of the record header in the pack file.
    pub offset: u64,
    /// Length of the stored value (the record is [`RECORD_HEADER_LEN`] bytes longer).
    pub len: u32,
}

impl Location {
    /// The legacy sled index value: [`LOCATION_TAG`], `u32le` pack, `u64le` offset, `u32le`
    /// length.
    pub fn encode(&self) -> [u8; LOCATION_LEN] {
        let mut out = [0u8; LOCATION_LEN];
        out[0] = LOCATION_TAG;
        out[1..5].copy_from_slice(&self.pack.to_le_bytes());
        out[5..13].copy_from_slice(&self.offset.to_le_bytes());
        out[13..17].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Parses a legacy sled index value that starts with [`LOCATION_TAG`].
    pub fn decode(value: &[u8]) -> Option<Location> {
        if value.len() != LOCATION_LEN || value[0] != LOCATION_TAG {
            return None;
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([value[i], value[i + 1], value[i + 2], value[i + 3]]);
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&value[5..13]);
        Some(Location {
            pack: u32_at(1),
            offset: u64::from_le_bytes(offset),
            len: u32_at(13),
        })
    }
}

/// File name of pack number `n`.
pub fn pack_file_name(n: u32) -> String {
    format!("pack-{n:06}.kpk")
}

fn parse_pack_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("pack-")?.strip_suffix(".kpk")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn pack_header(n: u32) -> [u8; PACK_HEADER_LEN as usize] {
    let mut h = [0u8; PACK_HEADER_LEN as usize];
    h[..8].copy_from_slice(&PACK_MAGIC);
    h[8..12].copy_from_slice(&PACK_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&n.to_le_bytes());
    h
}

/// Appends `value` as a pack record to `records`, noting `(id, offset in records, length)`.
fn push_record(
    records: &mut Vec<u8>,
    packed: &mut Vec<(ObjectId, u64, u32)>,
    id: ObjectId,
    value: &[u8],
) -> Result<()> {
    let len = u32::try_from(value.len()).map_err(|_| {
        Error::Invalid(format!(
            "object {id} is too large to store ({} bytes)",
            value.len()
        ))
    })?;
    packed.push((id, records.len() as u64, len));
    records.extend_from_slice(&len.to_le_bytes());
    records.extend_from_slice(value);
    Ok(())
}

/// Index state not yet in an index file.
#[derive(Default)]
struct Pending {
    /// Written records not yet listed in an index file.
    entries: BTreeMap<ObjectId, Location>,
    /// Records of [`PackStore::load_unsynced`] not yet listed in an index file: one run per
    /// batch, each sorted by id (cheaper than a map insert per object for large loads).
    loaded: Vec<Vec<(ObjectId, Location)>>,
    /// Ids removed since the last flush that index files (or the legacy index) still list.
    removed: BTreeSet<ObjectId>,
}

impl Pending {
    /// The pending location of `id`, if any.
    fn get(&self, id: &ObjectId) -> Option<Location> {
        if let Some(loc) = self.entries.get(id) {
            return Some(*loc);
        }
        self.loaded.iter().find_map(|run| {
            run.binary_search_by(|(e, _)| e.cmp(id))
                .ok()
                .map(|i| run[i].1)
        })
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.loaded.is_empty()
    }

    /// Every pending entry, sorted by id, each id once.
    fn sorted(&self) -> Vec<(ObjectId, Location)> {
        let mut all: Vec<(ObjectId, Location)> =
            self.entries.iter().map(|(id, l)| (*id, *l)).collect();
        if !self.loaded.is_empty() {
            for run in &self.loaded {
                all.extend_from_slice(run);
            }
            all.sort_unstable_by_key(|a| a.0);
            all.dedup_by(|a, b| a.0 == b.0);
        }
        all
    }
}

/// The pack being appended to.
struct Current {
    number: u32,
    file: Arc<PackFile>,
    len: u64,
}

#[derive(Default)]
struct Writer {
    current: Option<Current>,
    /// Packs written since the last flush.
    dirty: BTreeSet<u32>,
    /// A pack file was created since the last flush (the directory must be synced).
    new_file: bool,
    /// Set by `abandon`: drop without flushing, like a crash.
    abandoned: bool,
    /// The records buffer of [`PackStore::load_unsynced`], kept between calls.
    scratch: Vec<u8>,
}

/// An open pack file and the length below which its bytes never change.
struct PackFile {
    file: File,
    /// Bytes below this offset never change for the life of this store: they were durable
    /// when the file was opened, or this store appended them (appends start at or past the
    /// durable length and never rewrite written bytes), so blocks read from below it may be
    /// cached for the life of the process.
    sealed: AtomicU64,
}

/// Bytes of one cached pack block: reads of small records fetch the aligned block around them,
/// so the records written next to each other (the nodes of one tree) cost one `pread` per block.
const BLOCK_LEN: u64 = 64 << 10;
/// Blocks each thread keeps (least recently used first out).
const BLOCKS_PER_THREAD: usize = 8;

/// A cached block: bytes `[start, start + data.len())` of pack `pack` of store `store`.
struct Block {
    store: u64,
    pack: u32,
    start: u64,
    data: Vec<u8>,
}

thread_local! {
    /// Recently read pack blocks of this thread, most recently used last.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Source of [`Inner::uid`].
static NEXT_STORE_UID: AtomicU64 = AtomicU64::new(1);

/// The stores open in this process, by canonical pack directory. A store is dropped (and
/// flushed) when its last handle goes; a repository is opened by one process at a time and
/// its handles live as long as the repository, so no open races such a drop.
static OPEN_STORES: Mutex<Vec<(PathBuf, Weak<Inner>)>> = Mutex::new(Vec::new());

/// Objects in append-only pack files, located through immutable index files. Cheap to clone
/// (handles share one store).
#[derive(Clone)]
pub struct PackStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// The sled index of a repository written before index files, if it lists anything.
    legacy: Option<sled::Tree>,
    writer: Mutex<Writer>,
    pending: RwLock<Pending>,
    /// Open index files, oldest (and largest) first.
    indexes: RwLock<Vec<Arc<IndexFile>>>,
    /// Each pack's durable length: the largest any index file (or the legacy `packs` tree)
    /// records.
    durable: RwLock<BTreeMap<u32, u64>>,
    /// Open, header-checked pack files for positional reads.
    files: RwLock<BTreeMap<u32, Arc<PackFile>>>,
    /// [`MAX_PACK_BYTES`], except in tests of rotation.
    max_pack_bytes: AtomicU64,
    /// Tells this store's blocks apart from other stores' in the per-thread [`BLOCKS`] cache.
    uid: u64,
    /// Runs before the first index file goes into place (see
    /// [`PackStore::before_first_index`]); cleared once it succeeds.
    before_index: Mutex<Option<BeforeIndex>>,
}

/// A hook run before a store's first index file goes into place.
type BeforeIndex = Box<dyn Fn() -> Result<()> + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// A new index file written under its temporary name by a flush, with what it replaces.
struct Merged {
    temp: index::TempIndex,
    generation: u32,
    /// The index files it merged (deleted once it is in place).
    inputs: Vec<Arc<IndexFile>>,
    /// Its pack lengths.
    packs: Vec<(u32, u64)>,
}

/// Where [`Inner::locate`] found a stored value.
enum Found {
    Packed(Location),
    /// A legacy inline value from the sled tree `objects`.
    Inline(sled::IVec),
}

impl PackStore {
    /// Opens the store in the pack directory `dir` (created if missing); `db` is the
    /// repository's database, read only for a legacy index.
    ///
    /// Leftover temporary index files of an interrupted flush are removed; a damaged index
    /// file is an error naming it. If the sled tree `objects` of a repository written before
    /// index files lists anything, it is consulted after the index files (and its `packs`
    /// tree for durable lengths); new objects always go to packs and index files. A directory
    /// already open in this process yields another handle to the same store.
    pub fn open(db: &sled::Db, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let key = std::fs::canonicalize(dir).map_err(|e| Error::io("resolving", dir, e))?;
        let mut open = lock(&OPEN_STORES);
        open.retain(|(_, w)| w.strong_count() > 0);
        if let Some(inner) = open
            .iter()
            .find(|(p, _)| *p == key)
            .and_then(|(_, w)| w.upgrade())
        {
            return Ok(PackStore { inner });
        }
        let inner = Arc::new(Inner::open(db, dir)?);
        open.push((key, Arc::downgrade(&inner)));
        Ok(PackStore { inner })
    }

    /// Runs `f` just before this store first puts an index file in place, and not again
    /// once it succeeds; if it fails, the flush fails and nothing is indexed. A repository
    /// of an older format marks itself as the newer one here: only index files hold what
    /// older readers would miss, so commands that write no object leave it readable by them.
    pub fn before_first_index(&self, f: impl Fn() -> Result<()> + Send + Sync + 'static) {
        *lock(&self.inner.before_index) = Some(Box::new(f));
    }

    /// The pack directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Where `id`'s stored value is, if it is in a pack (pending or indexed); `None` for an
    /// absent object or a legacy inline value.
    pub fn location(&self, id: &ObjectId) -> Result<Option<Location>> {
        Ok(match self.inner.locate(id)? {
            Some(Found::Packed(loc)) => Some(loc),
            _ => None,
        })
    }

    /// Path of pack number `n`.
    pub fn pack_path(&self, n: u32) -> PathBuf {
        self.inner.pack_path(n)
    }

    /// Paths of the index files in use, oldest first.
    pub fn index_paths(&self) -> Vec<PathBuf> {
        read(&self.inner.indexes)
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect()
    }

    /// Drops the store without its final flush, as a crash would (unflushed writes are lost):
    /// for crash tests, and for a failed bulk load whose repository is deleted anyway. Other
    /// handles of the same store will not flush either.
    pub fn abandon(self) {
        lock(&self.inner.writer).abandoned = true;
    }

    /// Lowers the pack size limit so tests can rotate packs.
    #[cfg(test)]
    pub(crate) fn set_max_pack_bytes(&self, max: u64) {
        self.inner.max_pack_bytes.store(max, Ordering::Relaxed);
    }

    /// Stores `items` (ids not yet in the store, each once) in a store that no one can see
    /// yet: appends the values to the current pack and lists them in the pending index,
    /// without looking ids up, syncing or flushing by itself.
    ///
    /// For bulk loads into a repository built in a temporary directory that is discarded
    /// unless the final [`ObjectStore::flush`] completes (`kodiak clone`): that flush syncs
    /// the packs and writes one index file for everything; [`PackStore::sync_appended`], on
    /// another thread, writes the pack back meanwhile so the flush has little left to sync.
    pub fn load_unsynced(&self, items: Vec<(ObjectId, Vec<u8>)>) -> Result<()> {
        let inner = &self.inner;
        let mut w = inner.writer();
        let mut packed = Vec::with_capacity(items.len());
        let mut records = std::mem::take(&mut w.scratch);
        records.clear();
        records.reserve(items.iter().map(|(_, v)| RECORD_HEADER_LEN + v.len()).sum());
        for (id, value) in items {
            push_record(&mut records, &mut packed, id, &value)?;
        }
        if !records.is_empty() {
            let (pack, start) = inner.append(&mut w, &records)?;
            let mut run: Vec<(ObjectId, Location)> = packed
                .into_iter()
                .map(|(id, rel, len)| {
                    let loc = Location {
                        pack,
                        offset: start + rel,
                        len,
                    };
                    (id, loc)
                })
                .collect();
            run.sort_unstable_by_key(|a| a.0);
            let mut pending = write(&inner.pending);
            if !pending.removed.is_empty() {
                for (id, _) in &run {
                    pending.removed.remove(id);
                }
            }
            pending.loaded.push(run);
        }
        w.scratch = records;
        Ok(())
    }

    /// Syncs the pack bytes appended so far, touching no index, without blocking writers
    /// meanwhile: a bulk load runs it on another thread as it goes, so that its final
    /// [`ObjectStore::flush`] has little left to write.
    pub fn sync_appended(&self) -> Result<()> {
        let current = self
            .inner
            .writer()
            .current
            .as_ref()
            .map(|c| (c.number, Arc::clone(&c.file)));
        if let Some((n, pack)) = current {
            pack.file
                .sync_data()
                .map_err(|e| Error::io("syncing", self.inner.pack_path(n), e))?;
        }
        Ok(())
    }
}

impl Inner {
    fn open(db: &sled::Db, dir: &Path) -> Result<Inner> {
        let names = db.tree_names();
        let has_tree = |name: &str| names.iter().any(|n| n.as_ref() == name.as_bytes());
        let mut durable: BTreeMap<u32, u64> = BTreeMap::new();
        let legacy = if has_tree(OBJECTS_TREE) {
            let tree = db.open_tree(OBJECTS_TREE)?;
            (!tree.is_empty()).then_some(tree)
        } else {
            None
        };
        if has_tree(PACKS_TREE) {
            for kv in db.open_tree(PACKS_TREE)?.iter() {
                let (k, v) = kv?;
                let (Ok(k), Ok(v)) = (
                    <[u8; 4]>::try_from(k.as_ref()),
                    <[u8; 8]>::try_from(v.as_ref()),
                ) else {
                    return Err(Error::Storage(format!(
                        "a malformed durable pack length ({} key bytes, {} value bytes) in the sled tree '{PACKS_TREE}'",
                        k.len(),
                        v.len()
                    )));
                };
                durable.insert(u32::from_be_bytes(k), u64::from_le_bytes(v));
            }
        }
        let mut generations = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io("listing", dir, e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io("listing", dir, e))?;
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(g) = index::parse_index_file_name(name) {
                generations.push(g);
            } else if index::is_index_temp_name(name) {
                // An interrupted flush: the file was never renamed into place, so nothing
                // depends on it. Only this process has the repository open.
                let path = e.path();
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("removing", &path, e)),
                }
            }
        }
        generations.sort_unstable();
        let mut indexes = Vec::with_capacity(generations.len());
        for g in generations {
            let file = IndexFile::open(&dir.join(index::index_file_name(g)), g)?;
            for &(p, l) in file.packs() {
                let d = durable.entry(p).or_insert(l);
                *d = (*d).max(l);
            }
            indexes.push(Arc::new(file));
        }
        Ok(Inner {
            dir: dir.to_path_buf(),
            legacy,
            writer: Mutex::new(Writer::default()),
            pending: RwLock::new(Pending::default()),
            indexes: RwLock::new(indexes),
            durable: RwLock::new(durable),
            files: RwLock::new(BTreeMap::new()),
            max_pack_bytes: AtomicU64::new(MAX_PACK_BYTES),
            uid: NEXT_STORE_UID.fetch_add(1, Ordering::Relaxed),
            before_index: Mutex::new(None),
        })
    }

    fn pack_path(&self, n: u32) -> PathBuf {
        self.dir.join(pack_file_name(n))
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        lock(&self.writer)
    }

    fn durable_len(&self, n: u32) -> Option<u64> {
        read(&self.durable).get(&n).copied()
    }

    /// Finds `id`: pending entries first (a flush lists entries in an index file before it
    /// drops them from the pending index, so a reader never misses one in between), then
    /// the index files, then the legacy sled index.
    fn locate(&self, id: &ObjectId) -> Result<Option<Found>> {
        {
            let pending = read(&self.pending);
            if let Some(loc) = pending.get(id) {
                return Ok(Some(Found::Packed(loc)));
            }
            if !pending.removed.is_empty() && pending.removed.contains(id) {
                return Ok(None);
            }
        }
        // Any order is correct (listings of one id all locate its content); the oldest files
        // are the largest, so most hits come first.
        for f in read(&self.indexes).iter() {
            if let Some(loc) = f.lookup(id) {
                return Ok(Some(Found::Packed(loc)));
            }
        }
        let Some(legacy) = &self.legacy else {
            return Ok(None);
        };
        let Some(v) = legacy.get(id.as_bytes())? else {
            return Ok(None);
        };
        if v.first() != Some(&LOCATION_TAG) {
            return Ok(Some(Found::Inline(v)));
        }
        let loc = Location::decode(&v).ok_or_else(|| Error::Corrupt {
            id: *id,
            reason: format!(
                "its legacy index entry is a malformed {}-byte location",
                v.len()
            ),
        })?;
        Ok(Some(Found::Packed(loc)))
    }

    fn has(&self, id: &ObjectId) -> Result<bool> {
        {
            let pending = read(&self.pending);
            if pending.get(id).is_some() {
                return Ok(true);
            }
            if !pending.removed.is_empty() && pending.removed.contains(id) {
                return Ok(false);
            }
        }
        if read(&self.indexes).iter().any(|f| f.find(id).is_some()) {
            return Ok(true);
        }
        match &self.legacy {
            Some(t) => Ok(t.contains_key(id.as_bytes())?),
            None => Ok(false),
        }
    }

    fn existing_packs(&self) -> Result<Vec<u32>> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| Error::io("listing", &self.dir, e))?;
        let mut packs = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io("listing", &self.dir, e))?;
            if let Some(n) = e.file_name().to_str().and_then(parse_pack_file_name) {
                packs.push(n);
            }
        }
        packs.sort_unstable();
        Ok(packs)
    }

    /// Creates pack `n` with its header and makes it current.
    fn create_pack(&self, w: &mut Writer, n: u32) -> Result<()> {
        let path = self.pack_path(n);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("creating", &path, e))?;
        file.write_all_at(&pack_header(n), 0)
            .map_err(|e| Error::io("writing", &path, e))?;
        self.start_appending(w, n, file, PACK_HEADER_LEN);
        w.new_file = true;
        Ok(())
    }

    fn start_appending(&self, w: &mut Writer, n: u32, file: File, len: u64) {
        let file = Arc::new(PackFile {
            file,
            // Appends start at `len`; a torn tail past it was cut off by the caller.
            sealed: AtomicU64::new(len),
        });
        write(&self.files).insert(n, Arc::clone(&file));
        w.dirty.insert(n);
        w.current = Some(Current {
            number: n,
            file,
            len,
        });
    }

    /// Makes a pack current for appending: the newest pack if it is sound, else a new one.
    ///
    /// Bytes past the newest pack's recorded durable length were never indexed (a torn tail
    /// from a crash), so appending resumes at that length and overwrites them.
    fn open_current(&self, w: &mut Writer) -> Result<()> {
        let packs = self.existing_packs()?;
        let Some(&last) = packs.last() else {
            return self.create_pack(w, 1);
        };
        let next = last.checked_add(1).ok_or_else(|| {
            Error::Storage(format!(
                "pack numbers are exhausted in {}",
                self.dir.display()
            ))
        })?;
        let path = self.pack_path(last);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("opening", &path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io("reading metadata of", &path, e))?
            .len();
        let mut header = [0u8; PACK_HEADER_LEN as usize];
        let header_ok = file_len >= PACK_HEADER_LEN
            && file.read_exact_at(&mut header, 0).is_ok()
            && header == pack_header(last);
        let resume = match self.durable_len(last) {
            Some(d) if header_ok && d >= PACK_HEADER_LEN && d <= file_len => Some(d),
            // No durable record: nothing in this pack is indexed yet.
            None if header_ok || file_len < PACK_HEADER_LEN => Some(PACK_HEADER_LEN),
            _ => None,
        };
        match resume {
            Some(len) if len < self.max_pack_bytes.load(Ordering::Relaxed) => {
                if !header_ok {
                    file.set_len(0)
                        .map_err(|e| Error::io("truncating", &path, e))?;
                    file.write_all_at(&pack_header(last), 0)
                        .map_err(|e| Error::io("writing", &path, e))?;
                }
                file.set_len(len)
                    .map_err(|e| Error::io("truncating", &path, e))?;
                self.start_appending(w, last, file, len);
                Ok(())
            }
            // Full, or not ours to touch (unknown header, shorter than recorded).
            _ => self.create_pack(w, next),
        }
    }

    /// Appends `records` (whole records, concatenated) to the current pack; returns the pack
    /// number and the offset of the first record.
    fn append(&self, w: &mut Writer, records: &[u8]) -> Result<(u32, u64)> {
        if w.current.is_none() {
            self.open_current(w)?;
        }
        let full = w.current.as_ref().is_some_and(|c| {
            c.len > PACK_HEADER_LEN
                && c.len + records.len() as u64 > self.max_pack_bytes.load(Ordering::Relaxed)
        });
        if full {
            let n = w.current.as_ref().map_or(1, |c| c.number);
            let next = n.checked_add(1).ok_or_else(|| {
                Error::Storage(format!(
                    "pack numbers are exhausted in {}",
                    self.dir.display()
                ))
            })?;
            self.create_pack(w, next)?;
        }
        let cur = w
            .current
            .as_mut()
            .ok_or_else(|| Error::Storage("no current pack".into()))?;
        let start = cur.len;
        // Positional write: the file is not opened for append when resuming after a crash.
        if let Err(e) = cur.file.file.write_all_at(records, start) {
            // Cut off whatever part was written; those bytes are not indexed.
            let _ = cur.file.file.set_len(start);
            return Err(Error::io("writing", self.pack_path(cur.number), e));
        }
        cur.len += records.len() as u64;
        // Written bytes are never rewritten (appends continue past them): cacheable now.
        cur.file.sealed.fetch_max(cur.len, Ordering::Release);
        w.dirty.insert(cur.number);
        Ok((cur.number, start))
    }

    /// The open, header-checked handle of pack `n`; `id` names the object being read.
    fn pack_file(&self, n: u32, id: &ObjectId) -> Result<Arc<PackFile>> {
        if let Some(f) = read(&self.files).get(&n) {
            return Ok(Arc::clone(f));
        }
        let path = self.pack_path(n);
        let file = File::open(&path).map_err(|e| Error::Corrupt {
            id: *id,
            reason: format!("cannot open its pack {}: {e}", path.display()),
        })?;
        let mut header = [0u8; PACK_HEADER_LEN as usize];
        if file.read_exact_at(&mut header, 0).is_err() || header != pack_header(n) {
            return Err(Error::Corrupt {
                id: *id,
                reason: format!("its pack {} has no valid header", path.display()),
            });
        }
        // Only bytes recorded as durable are immutable: past them may lie a torn tail that the
        // writer cuts off and overwrites.
        let sealed = self.durable_len(n).unwrap_or(PACK_HEADER_LEN);
        let entry = Arc::new(PackFile {
            file,
            sealed: AtomicU64::new(sealed),
        });
        Ok(Arc::clone(write(&self.files).entry(n).or_insert(entry)))
    }

    /// Checks a record's length header against the index and returns its stored value.
    fn record_value<'a>(&self, id: &ObjectId, loc: Location, record: &'a [u8]) -> Result<&'a [u8]> {
        let len = u32::from_le_bytes([record[0], record[1], record[2], record[3]]);
        if len != loc.len {
            return Err(Error::Corrupt {
                id: *id,
                reason: format!(
                    "the record at offset {} of {} has length {len}, the index says {}",
                    loc.offset,
                    self.pack_path(loc.pack).display(),
                    loc.len
                ),
            });
        }
        Ok(&record[RECORD_HEADER_LEN..])
    }

    /// Hands the stored value of `id` from its pack record to `f`, checking the record header:
    /// borrowed from this thread's block cache when the record lies in one cacheable block,
    /// else read directly.
    fn read_packed(&self, id: &ObjectId, loc: Location, f: &mut dyn FnMut(&[u8])) -> Result<()> {
        let pack = self.pack_file(loc.pack, id)?;
        let need = RECORD_HEADER_LEN + loc.len as usize;
        let end = loc.offset + need as u64;
        let start = loc.offset - loc.offset % BLOCK_LEN;
        let sealed = pack.sealed.load(Ordering::Acquire);
        if end <= sealed && end <= start + BLOCK_LEN {
            let done = BLOCKS.with(|blocks| -> Option<Result<()>> {
                // Busy only if `f` reads the store again: then read directly.
                let mut blocks = blocks.try_borrow_mut().ok()?;
                let hit = blocks.iter().rposition(|b| {
                    b.store == self.uid
                        && b.pack == loc.pack
                        && b.start == start
                        && start + b.data.len() as u64 >= end
                });
                match hit {
                    Some(i) => {
                        let b = blocks.remove(i);
                        blocks.push(b);
                    }
                    None => {
                        // A shorter copy of this block (cached before `sealed` grew) goes.
                        blocks.retain(|b| {
                            !(b.store == self.uid && b.pack == loc.pack && b.start == start)
                        });
                        let len = (start + BLOCK_LEN).min(sealed) - start;
                        let mut data = match blocks.len() {
                            BLOCKS_PER_THREAD => blocks.remove(0).data,
                            _ => Vec::new(),
                        };
                        data.resize(len as usize, 0);
                        if pack.file.read_exact_at(&mut data, start).is_err() {
                            return None;
                        }
                        blocks.push(Block {
                            store: self.uid,
                            pack: loc.pack,
                            start,
                            data,
                        });
                    }
                }
                let block = blocks.last()?;
                let at = (loc.offset - start) as usize;
                Some(
                    match self.record_value(id, loc, &block.data[at..at + need]) {
                        Ok(v) => {
                            f(v);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    },
                )
            });
            if let Some(done) = done {
                return done;
            }
        }
        let mut buf = vec![0u8; need];
        if let Err(e) = pack.file.read_exact_at(&mut buf, loc.offset) {
            let path = self.pack_path(loc.pack);
            let reason = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!(
                    "its pack {} ends inside its record ({} bytes at offset {})",
                    path.display(),
                    buf.len(),
                    loc.offset
                )
            } else {
                format!(
                    "reading its pack {} at offset {}: {e}",
                    path.display(),
                    loc.offset
                )
            };
            return Err(Error::Corrupt { id: *id, reason });
        }
        f(self.record_value(id, loc, &buf)?);
        Ok(())
    }

    fn with_stored(&self, id: &ObjectId, f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.locate(id)? {
            None => Ok(false),
            Some(Found::Inline(v)) => {
                f(&v);
                Ok(true)
            }
            Some(Found::Packed(loc)) => self.read_packed(id, loc, f).map(|()| true),
        }
    }

    fn flush_locked(&self, w: &mut Writer) -> Result<()> {
        let (entries, removed) = {
            let pending = read(&self.pending);
            (!pending.is_empty(), !pending.removed.is_empty())
        };
        // Nothing written since the last flush: no sync (ref updates flush the database
        // themselves, so an idle store would only repeat their flush).
        if w.dirty.is_empty() && !entries && !removed {
            return Ok(());
        }
        // The lengths the packs will have once synced (the writer lock keeps them).
        let mut synced = BTreeMap::new();
        let mut to_sync = Vec::with_capacity(w.dirty.len());
        for &n in &w.dirty {
            let pack = read(&self.files)
                .get(&n)
                .map(Arc::clone)
                .ok_or_else(|| Error::Storage(format!("{} is not open", pack_file_name(n))))?;
            let len = match &w.current {
                Some(c) if c.number == n => c.len,
                _ => pack
                    .file
                    .metadata()
                    .map_err(|e| Error::io("reading metadata of", self.pack_path(n), e))?
                    .len(),
            };
            synced.insert(n, len);
            to_sync.push((n, pack));
        }
        let sync_packs = || -> Result<()> {
            for (n, pack) in &to_sync {
                pack.file
                    .sync_data()
                    .map_err(|e| Error::io("syncing", self.pack_path(*n), e))?;
            }
            if w.new_file {
                File::open(&self.dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| Error::io("syncing", &self.dir, e))?;
            }
            Ok(())
        };
        // The writer lock keeps `pending` unchanged until the end.
        let (snapshot, removed): (Vec<(ObjectId, Location)>, BTreeSet<ObjectId>) = {
            let pending = read(&self.pending);
            (pending.sorted(), pending.removed.clone())
        };
        if snapshot.is_empty() {
            sync_packs()?;
        } else {
            // 1. Pack bytes (and a new pack's directory entry) become durable — on another
            // thread while this one writes and syncs the new index file under its temporary
            // name — and only then is the index file renamed into place. Its pack lengths are
            // the ones just synced, so a listed record always lies below its pack's durable
            // length.
            let merged = std::thread::scope(|scope| -> Result<Merged> {
                let syncer = (!to_sync.is_empty())
                    .then(|| {
                        std::thread::Builder::new()
                            .name("kdk-pack-sync".into())
                            .spawn_scoped(scope, sync_packs)
                    })
                    .transpose()
                    .map_err(|e| Error::Storage(format!("starting a thread: {e}")))?;
                let prepared = self.prepare_merged(&snapshot, &synced, &removed);
                if let Some(syncer) = syncer {
                    syncer
                        .join()
                        .map_err(|_| Error::Storage("the pack syncing thread panicked".into()))??;
                }
                prepared
            })?;
            // 2. The new index file goes into place, replacing the files it merged.
            self.install_merged(merged)?;
        }
        if !removed.is_empty() {
            self.rewrite_without(&removed)?;
            if let Some(legacy) = &self.legacy {
                for id in &removed {
                    legacy.remove(id.as_bytes())?;
                }
                legacy.flush()?;
            }
        }
        // 3. Only now may readers stop finding them in the pending index.
        {
            let mut pending = write(&self.pending);
            pending.entries.clear();
            pending.loaded.clear();
            pending.removed.clear();
        }
        w.dirty.clear();
        w.new_file = false;
        Ok(())
    }

    /// Writes `snapshot` (sorted pending entries) as a new index file under its temporary
    /// name, folding in the newest files while they are no more than [`INDEX_MERGE_FACTOR`]
    /// times the entries gathered so far; entries of `removed` ids are left out.
    fn prepare_merged(
        &self,
        snapshot: &[(ObjectId, Location)],
        synced: &BTreeMap<u32, u64>,
        removed: &BTreeSet<ObjectId>,
    ) -> Result<Merged> {
        let files: Vec<Arc<IndexFile>> = read(&self.indexes).clone();
        let mut gathered = snapshot.len() as u64;
        let mut first = files.len();
        while first > 0 && files[first - 1].len() <= gathered.saturating_mul(INDEX_MERGE_FACTOR) {
            first -= 1;
            gathered += files[first].len();
        }
        let inputs = files[first..].to_vec();
        let merged = merge_entries(snapshot, &inputs, removed);
        let mut packs = synced.clone();
        for f in &inputs {
            for &(p, l) in f.packs() {
                let d = packs.entry(p).or_insert(l);
                *d = (*d).max(l);
            }
        }
        let packs: Vec<(u32, u64)> = packs.into_iter().collect();
        let generation = match files.last() {
            None => 1,
            Some(f) => f.generation().checked_add(1).ok_or_else(|| {
                Error::Storage(format!(
                    "index generations are exhausted in {}",
                    self.dir.display()
                ))
            })?,
        };
        let temp = index::write_temp(&self.dir, generation, &merged, &packs)?;
        Ok(Merged {
            temp,
            generation,
            inputs,
            packs,
        })
    }

    /// Renames a prepared index file into place and puts it in use instead of its inputs.
    fn install_merged(&self, merged: Merged) -> Result<()> {
        let Merged {
            temp,
            generation,
            inputs,
            packs,
        } = merged;
        {
            let mut hook = lock(&self.before_index);
            if let Some(h) = hook.as_ref() {
                h()?;
                *hook = None;
            }
        }
        let path = temp.install()?;
        let file = Arc::new(IndexFile::open(&path, generation)?);
        {
            let mut durable = write(&self.durable);
            for &(p, l) in &packs {
                let d = durable.entry(p).or_insert(l);
                *d = (*d).max(l);
            }
        }
        {
            let mut indexes = write(&self.indexes);
            indexes.retain(|f| !inputs.iter().any(|i| Arc::ptr_eq(i, f)));
            indexes.push(file);
        }
        for f in &inputs {
            // The new file (durable, renamed into place) lists everything these did: one that
            // cannot be removed only duplicates entries, which readers and merges tolerate.
            let _ = std::fs::remove_file(f.path());
        }
        Ok(())
    }

    /// Rewrites every index file that lists one of `removed` without those entries, under its
    /// own name (its generation, and so its place in merge order, stays).
    fn rewrite_without(&self, removed: &BTreeSet<ObjectId>) -> Result<()> {
        let files: Vec<Arc<IndexFile>> = read(&self.indexes).clone();
        for f in files {
            if !removed.iter().any(|id| f.find(id).is_some()) {
                continue;
            }
            let kept = merge_entries(&[], std::slice::from_ref(&f), removed);
            let path = index::write_index(&self.dir, f.generation(), &kept, f.packs())?;
            let new = Arc::new(IndexFile::open(&path, f.generation())?);
            let mut indexes = write(&self.indexes);
            for slot in indexes.iter_mut() {
                if Arc::ptr_eq(slot, &f) {
                    *slot = Arc::clone(&new);
                }
            }
        }
        Ok(())
    }
}

/// The entries of `snapshot` and of every file in `files`, sorted by id, each id once, without
/// the ids in `removed`.
fn merge_entries(
    snapshot: &[(ObjectId, Location)],
    files: &[Arc<IndexFile>],
    removed: &BTreeSet<ObjectId>,
) -> Vec<(ObjectId, Location)> {
    let total = snapshot.len() + files.iter().map(|f| f.len() as usize).sum::<usize>();
    let mut out: Vec<(ObjectId, Location)> = Vec::with_capacity(total);
    let mut at = 0usize;
    let mut cursors: Vec<u64> = vec![0; files.len()];
    loop {
        // The smallest id among the sources' next entries (ties: any; duplicates drop below).
        let mut best: Option<(ObjectId, Location)> = snapshot.get(at).copied();
        let mut from: Option<usize> = None;
        for (i, f) in files.iter().enumerate() {
            if cursors[i] < f.len() {
                let id = f.id(cursors[i]);
                if best.is_none_or(|(b, _)| id < b) {
                    best = Some((id, f.location(cursors[i])));
                    from = Some(i);
                }
            }
        }
        let Some((id, loc)) = best else { break };
        match from {
            None => at += 1,
            Some(i) => cursors[i] += 1,
        }
        if out.last().is_some_and(|(last, _)| *last == id) || removed.contains(&id) {
            continue;
        }
        out.push((id, loc));
    }
    out
}

/// Merges ascending id streams, yielding each id once and none of `removed`.
struct MergeIds<'a> {
    sources: Vec<std::iter::Peekable<Box<dyn Iterator<Item = Result<ObjectId>> + 'a>>>,
    removed: BTreeSet<ObjectId>,
}

impl Iterator for MergeIds<'_> {
    type Item = Result<ObjectId>;

    fn next(&mut self) -> Option<Result<ObjectId>> {
        loop {
            let mut min: Option<ObjectId> = None;
            for s in &mut self.sources {
                match s.peek() {
                    Some(Err(_)) => return s.next(),
                    Some(Ok(id)) if min.is_none_or(|m| *id < m) => min = Some(*id),
                    _ => {}
                }
            }
            let min = min?;
            for s in &mut self.sources {
                if matches!(s.peek(), Some(Ok(id)) if *id == min) {
                    s.next();
                }
            }
            if !self.removed.contains(&min) {
                return Some(Ok(min));
            }
        }
    }
}

fn id_from_key(key: &[u8]) -> Result<ObjectId> {
    ObjectId::from_slice(key)
        .ok_or_else(|| Error::Storage(format!("object key of {} bytes in the store", key.len())))
}

impl ObjectStore for PackStore {
    fn get_stored(&self, id: &ObjectId) -> Result<Option<Vec<u8>>> {
        let mut out = None;
        self.inner
            .with_stored(id, &mut |v| out = Some(v.to_vec()))?;
        Ok(out)
    }

    fn with_stored(&self, id: &ObjectId, f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        self.inner.with_stored(id, f)
    }

    fn has(&self, id: &ObjectId) -> Result<bool> {
        self.inner.has(id)
    }

    fn put_stored_batch(&self, items: Vec<(ObjectId, Vec<u8>)>) -> Result<()> {
        let inner = &self.inner;
        let mut w = inner.writer();
        let mut seen = BTreeSet::new();
        let mut packed = Vec::with_capacity(items.len());
        let mut records =
            Vec::with_capacity(items.iter().map(|(_, v)| RECORD_HEADER_LEN + v.len()).sum());
        let several = items.len() > 1;
        for (id, value) in items {
            if (several && !seen.insert(id)) || inner.has(&id)? {
                continue;
            }
            push_record(&mut records, &mut packed, id, &value)?;
        }
        if records.is_empty() {
            return Ok(());
        }
        let (pack, start) = inner.append(&mut w, &records)?;
        let flush_now = {
            let mut pending = write(&inner.pending);
            for (id, rel, len) in packed {
                let loc = Location {
                    pack,
                    offset: start + rel,
                    len,
                };
                pending.entries.insert(id, loc);
                if !pending.removed.is_empty() {
                    pending.removed.remove(&id);
                }
            }
            pending.entries.len() > AUTO_FLUSH_ENTRIES
        };
        if flush_now {
            inner.flush_locked(&mut w)?;
        }
        Ok(())
    }

    fn ids(&self) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
        self.ids_with_prefix(&[])
    }

    fn ids_with_prefix(&self, prefix: &[u8]) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
        let inner = &self.inner;
        let prefix: Vec<u8> = prefix.iter().take(32).copied().collect();
        let mut sources: Vec<std::iter::Peekable<Box<dyn Iterator<Item = Result<ObjectId>> + '_>>> =
            Vec::new();
        let removed = {
            let pending = read(&inner.pending);
            let mut low = [0u8; 32];
            low[..prefix.len()].copy_from_slice(&prefix);
            // The ids from `ids` (in order, starting at `low`) that carry the prefix.
            let mut push = |ids: &mut dyn Iterator<Item = ObjectId>| {
                let ids: Vec<ObjectId> = ids
                    .take_while(|id| id.as_bytes().starts_with(&prefix))
                    .collect();
                let it: Box<dyn Iterator<Item = Result<ObjectId>> + '_> =
                    Box::new(ids.into_iter().map(Ok));
                sources.push(it.peekable());
            };
            push(&mut pending.entries.range(ObjectId(low)..).map(|(id, _)| *id));
            for run in &pending.loaded {
                let start = run.partition_point(|(id, _)| id.as_bytes()[..] < low[..]);
                push(&mut run[start..].iter().map(|(id, _)| *id));
            }
            pending.removed.clone()
        };
        for f in read(&inner.indexes).iter() {
            let (lo, hi) = f.prefix_range(&prefix);
            let f = Arc::clone(f);
            let it: Box<dyn Iterator<Item = Result<ObjectId>> + '_> =
                Box::new((lo..hi).map(move |i| Ok(f.id(i))));
            sources.push(it.peekable());
        }
        if let Some(legacy) = &inner.legacy {
            let it: Box<dyn Iterator<Item = Result<ObjectId>> + '_> =
                Box::new(legacy.scan_prefix(prefix).keys().map(|k| id_from_key(&k?)));
            sources.push(it.peekable());
        }
        Box::new(MergeIds { sources, removed })
    }

    fn remove(&self, id: &ObjectId) -> Result<()> {
        let inner = &self.inner;
        let _w = inner.writer();
        let listed = read(&inner.indexes).iter().any(|f| f.find(id).is_some())
            || match &inner.legacy {
                Some(t) => t.contains_key(id.as_bytes())?,
                None => false,
            };
        let mut pending = write(&inner.pending);
        pending.entries.remove(id);
        for run in &mut pending.loaded {
            run.retain(|(e, _)| e != id);
        }
        if listed {
            pending.removed.insert(*id);
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let mut w = self.inner.writer();
        self.inner.flush_locked(&mut w)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let mut w = lock(&self.writer);
        if !w.abandoned {
            // Best effort: an error here leaves the unflushed objects absent, never dangling.
            let _ = self.flush_locked(&mut w);
        }
    }
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "index_tests.rs"]
mod index_tests;
