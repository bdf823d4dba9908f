//! The pack-file [`ObjectStore`]: large stored values appended to pack files, small ones and
//! the index in sled.
//!
//! Layout (see `objects_format.md`, "Stored values"): the sled tree `objects` maps each id to an
//! *index value*, either the stored value itself (small objects, exactly as [`super::SledStore`]
//! keeps them) or a [`Location`] of a record in `packs/pack-NNNNNN.kpk`. The sled tree `packs`
//! records each pack's durable length.
//!
//! Durability invariant: sled never holds an index entry pointing at pack bytes that are not
//! yet durable. Writes go to an in-memory *pending* index; [`ObjectStore::flush`] syncs the pack
//! files first and only then inserts the pending entries into sled. After a crash an object is
//! therefore either fully readable or absent, so `has` never vouches for a lost object.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::ObjectStore;
use super::sled_store::OBJECTS_TREE;
use crate::error::{Error, Result};
use crate::id::ObjectId;

/// Name of the sled tree holding each pack's durable length.
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
/// Stored values up to this many bytes are kept inline in the sled index.
pub const INLINE_MAX: usize = 256;
/// A pack is not appended to once it is this long; the next batch starts a new pack.
pub const MAX_PACK_BYTES: u64 = 1 << 30;
/// First byte of an index value that is a pack location (stored values start below `0x80`).
pub const LOCATION_TAG: u8 = 0x80;
/// Bytes of an encoded [`Location`] index value.
pub const LOCATION_LEN: usize = 17;

/// Pending inline bytes past which a write flushes by itself (bounds memory).
const AUTO_FLUSH_INLINE_BYTES: usize = 64 << 20;
/// Pending entries past which a write flushes by itself.
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
    /// The index value: [`LOCATION_TAG`], `u32le` pack, `u64le` offset, `u32le` length.
    pub fn encode(&self) -> [u8; LOCATION_LEN] {
        let mut out = [0u8; LOCATION_LEN];
        out[0] = LOCATION_TAG;
        out[1..5].copy_from_slice(&self.pack.to_le_bytes());
        out[5..13].copy_from_slice(&self.offset.to_le_bytes());
        out[13..17].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Parses an index value that starts with [`LOCATION_TAG`].
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

/// Whether a stored value may be kept inline in the index.
fn is_inline(value: &[u8]) -> bool {
    value.len() <= INLINE_MAX && value.first().is_none_or(|b| *b < LOCATION_TAG)
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

/// A not-yet-indexed entry.
#[derive(Clone)]
enum Entry {
    Inline(Vec<u8>),
    Packed(Location),
}

impl Entry {
    fn index_value(&self) -> Vec<u8> {
        match self {
            Entry::Inline(v) => v.clone(),
            Entry::Packed(loc) => loc.encode().to_vec(),
        }
    }
}

#[derive(Default)]
struct Pending {
    entries: BTreeMap<ObjectId, Entry>,
    inline_bytes: usize,
}

/// The pack being appended to.
struct Current {
    number: u32,
    file: Arc<File>,
    len: u64,
}

#[derive(Default)]
struct Writer {
    current: Option<Current>,
    /// Packs written since the last flush.
    dirty: BTreeSet<u32>,
    /// A pack file was created since the last flush (the directory must be synced).
    new_file: bool,
    /// Set by `abandon` (tests): drop without flushing, like a crash.
    abandoned: bool,
    /// Index entries were removed since the last flush.
    removed: bool,
    /// Index values were inserted by [`PackStore::load_unsynced`] since the last flush.
    loaded: bool,
    /// The records buffer of [`PackStore::load_unsynced`], kept between calls.
    scratch: Vec<u8>,
}

/// Objects in append-only pack files indexed by a sled tree; small objects inline in sled.
pub struct PackStore {
    index: sled::Tree,
    lengths: sled::Tree,
    dir: PathBuf,
    writer: Mutex<Writer>,
    pending: RwLock<Pending>,
    /// Open, header-checked pack files for positional reads.
    files: RwLock<BTreeMap<u32, PackFile>>,
    /// [`MAX_PACK_BYTES`], except in tests of rotation.
    max_pack_bytes: u64,
    /// Tells this store's blocks apart from other stores' in the per-thread [`BLOCKS`] cache.
    uid: u64,
}

/// An open pack file and the length below which its bytes never change.
#[derive(Clone)]
struct PackFile {
    file: Arc<File>,
    /// Bytes below this offset were durable when the file was opened: records there are never
    /// overwritten or truncated (appends start at or past it), so blocks read from below it
    /// may be cached for the life of the process.
    sealed: u64,
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

/// Source of [`PackStore::uid`].
static NEXT_STORE_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl PackStore {
    /// Opens the store: the `objects` and `packs` trees of `db` and the pack directory `dir`
    /// (created if missing).
    pub fn open(db: &sled::Db, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        Ok(PackStore {
            index: db.open_tree(OBJECTS_TREE)?,
            lengths: db.open_tree(PACKS_TREE)?,
            dir: dir.to_path_buf(),
            writer: Mutex::new(Writer::default()),
            pending: RwLock::new(Pending::default()),
            files: RwLock::new(BTreeMap::new()),
            max_pack_bytes: MAX_PACK_BYTES,
            uid: NEXT_STORE_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// The sled index tree (for tools and corruption tests).
    pub fn index_tree(&self) -> &sled::Tree {
        &self.index
    }

    /// The pack directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `id`'s stored value is, if it is in a pack (pending or indexed).
    pub fn location(&self, id: &ObjectId) -> Result<Option<Location>> {
        if let Some(e) = self.pending().entries.get(id) {
            return Ok(match e {
                Entry::Packed(loc) => Some(*loc),
                Entry::Inline(_) => None,
            });
        }
        Ok(self
            .index
            .get(id.as_bytes())?
            .and_then(|v| Location::decode(&v)))
    }

    /// Path of pack number `n`.
    pub fn pack_path(&self, n: u32) -> PathBuf {
        self.dir.join(pack_file_name(n))
    }

    /// Drops the store without its final flush, as a crash would (unflushed writes are lost):
    /// for crash tests, and for a failed bulk load whose repository is deleted anyway.
    pub fn abandon(self) {
        self.writer().abandoned = true;
    }

    /// Lowers the pack size limit so tests can rotate packs.
    #[cfg(test)]
    pub(crate) fn set_max_pack_bytes(&mut self, max: u64) {
        self.max_pack_bytes = max;
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> RwLockReadGuard<'_, Pending> {
        self.pending.read().unwrap_or_else(|p| p.into_inner())
    }

    fn pending_mut(&self) -> RwLockWriteGuard<'_, Pending> {
        self.pending.write().unwrap_or_else(|p| p.into_inner())
    }

    fn durable_len(&self, n: u32) -> Result<Option<u64>> {
        let Some(v) = self.lengths.get(n.to_be_bytes())? else {
            return Ok(None);
        };
        let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| {
            Error::Storage(format!(
                "durable length of {} is {} bytes, not 8",
                pack_file_name(n),
                v.len()
            ))
        })?;
        Ok(Some(u64::from_le_bytes(bytes)))
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
        let file = Arc::new(file);
        let entry = PackFile {
            file: Arc::clone(&file),
            // Appends start at `len`; a torn tail past it was cut off by the caller.
            sealed: len,
        };
        self.files
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(n, entry);
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
        let resume = match self.durable_len(last)? {
            Some(d) if header_ok && d >= PACK_HEADER_LEN && d <= file_len => Some(d),
            // No durable record: nothing in this pack is indexed yet.
            None if header_ok || file_len < PACK_HEADER_LEN => Some(PACK_HEADER_LEN),
            _ => None,
        };
        match resume {
            Some(len) if len < self.max_pack_bytes => {
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
            c.len > PACK_HEADER_LEN && c.len + records.len() as u64 > self.max_pack_bytes
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
        if let Err(e) = cur.file.write_all_at(records, start) {
            // Cut off whatever part was written; those bytes are not indexed.
            let _ = cur.file.set_len(start);
            return Err(Error::io("writing", self.pack_path(cur.number), e));
        }
        cur.len += records.len() as u64;
        w.dirty.insert(cur.number);
        Ok((cur.number, start))
    }

    /// The open, header-checked handle of pack `n`; `id` names the object being read.
    fn pack_file(&self, n: u32, id: &ObjectId) -> Result<PackFile> {
        if let Some(f) = self.files.read().unwrap_or_else(|p| p.into_inner()).get(&n) {
            return Ok(f.clone());
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
        let sealed = self.durable_len(n)?.unwrap_or(PACK_HEADER_LEN);
        let entry = PackFile {
            file: Arc::new(file),
            sealed,
        };
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        Ok(files.entry(n).or_insert(entry).clone())
    }

    /// Copies `out.len()` bytes at `offset` of pack `n` out of this thread's block cache,
    /// reading the block around them if needed; false when the range is not cacheable (it
    /// crosses a block edge or the sealed length) or the block could not be read whole.
    fn read_cached(&self, n: u32, pack: &PackFile, offset: u64, out: &mut [u8]) -> bool {
        let end = offset + out.len() as u64;
        let start = offset - offset % BLOCK_LEN;
        if end > pack.sealed || end > start + BLOCK_LEN {
            return false;
        }
        BLOCKS.with(|blocks| {
            let mut blocks = blocks.borrow_mut();
            let hit = blocks
                .iter()
                .rposition(|b| b.store == self.uid && b.pack == n && b.start == start);
            let block = match hit {
                Some(i) => {
                    let b = blocks.remove(i);
                    blocks.push(b);
                    blocks.last()
                }
                None => {
                    let len = (start + BLOCK_LEN).min(pack.sealed) - start;
                    let mut data = match blocks.len() {
                        BLOCKS_PER_THREAD => blocks.remove(0).data,
                        _ => Vec::new(),
                    };
                    data.resize(len as usize, 0);
                    if pack.file.read_exact_at(&mut data, start).is_err() {
                        return false;
                    }
                    blocks.push(Block {
                        store: self.uid,
                        pack: n,
                        start,
                        data,
                    });
                    blocks.last()
                }
            };
            let Some(block) = block else {
                return false;
            };
            let at = (offset - start) as usize;
            out.copy_from_slice(&block.data[at..at + out.len()]);
            true
        })
    }

    /// Reads the stored value of `id` from its pack record, checking the record header.
    fn read_packed(&self, id: &ObjectId, loc: Location) -> Result<Vec<u8>> {
        let pack = self.pack_file(loc.pack, id)?;
        let path = || self.pack_path(loc.pack).display().to_string();
        let mut buf = vec![0u8; RECORD_HEADER_LEN + loc.len as usize];
        let cached = self.read_cached(loc.pack, &pack, loc.offset, &mut buf);
        if !cached && let Err(e) = pack.file.read_exact_at(&mut buf, loc.offset) {
            let reason = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!(
                    "its pack {} ends inside its record ({} bytes at offset {})",
                    path(),
                    buf.len(),
                    loc.offset
                )
            } else {
                format!("reading its pack {} at offset {}: {e}", path(), loc.offset)
            };
            return Err(Error::Corrupt { id: *id, reason });
        }
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if len != loc.len {
            return Err(Error::Corrupt {
                id: *id,
                reason: format!(
                    "the record at offset {} of {} has length {len}, the index says {}",
                    loc.offset,
                    path(),
                    loc.len
                ),
            });
        }
        buf.copy_within(RECORD_HEADER_LEN.., 0);
        buf.truncate(loc.len as usize);
        Ok(buf)
    }

    /// Stores `items` (ids not yet in the store, each once) in a store that no one can see
    /// yet: appends the large values to the current pack and inserts every index value into
    /// sled right away, **before** the pack bytes are durable.
    ///
    /// This suspends the crash invariant (an index value may point at pack bytes a crash
    /// loses) until the next [`ObjectStore::flush`], which syncs the packs and then sled as
    /// usual. It is for bulk loads into a repository built in a temporary directory that is
    /// discarded unless that flush completes (`kodiak clone`): skipping the per-object index
    /// lookups, the pending map and a sync per batch lets indexing keep pace with the reader
    /// ([`PackStore::sync_appended`], on another thread, writes the pack back meanwhile).
    pub fn load_unsynced(&self, items: Vec<(ObjectId, Vec<u8>)>) -> Result<()> {
        let mut w = self.writer();
        let mut batch = sled::Batch::default();
        let mut packed = Vec::new();
        let mut records = std::mem::take(&mut w.scratch);
        records.clear();
        records.reserve(
            items
                .iter()
                .filter(|(_, v)| !is_inline(v))
                .map(|(_, v)| RECORD_HEADER_LEN + v.len())
                .sum(),
        );
        for (id, value) in items {
            if is_inline(&value) {
                batch.insert(&id.as_bytes()[..], value);
                continue;
            }
            push_record(&mut records, &mut packed, id, &value)?;
        }
        if !records.is_empty() {
            let (pack, start) = self.append(&mut w, &records)?;
            for (id, rel, len) in packed {
                let loc = Location {
                    pack,
                    offset: start + rel,
                    len,
                };
                batch.insert(&id.as_bytes()[..], &loc.encode()[..]);
            }
        }
        w.scratch = records;
        w.loaded = true;
        self.index.apply_batch(batch)?;
        Ok(())
    }

    /// Syncs the pack bytes appended so far, touching no index, without blocking writers
    /// meanwhile: a bulk load runs it on another thread as it goes, so that its final
    /// [`ObjectStore::flush`] has little left to write.
    pub fn sync_appended(&self) -> Result<()> {
        let current = self
            .writer()
            .current
            .as_ref()
            .map(|c| (c.number, Arc::clone(&c.file)));
        if let Some((n, file)) = current {
            file.sync_data()
                .map_err(|e| Error::io("syncing", self.pack_path(n), e))?;
        }
        Ok(())
    }

    fn flush_locked(&self, w: &mut Writer) -> Result<()> {
        // Nothing written since the last flush: no sync (ref updates flush the database
        // themselves, so an idle store would only repeat their flush).
        if w.dirty.is_empty() && !w.removed && !w.loaded && self.pending().entries.is_empty() {
            return Ok(());
        }
        // 1. Pack bytes (and new directory entries) become durable first.
        let mut synced = Vec::with_capacity(w.dirty.len());
        for &n in &w.dirty {
            let file = self
                .files
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&n)
                .map(|p| Arc::clone(&p.file))
                .ok_or_else(|| Error::Storage(format!("{} is not open", pack_file_name(n))))?;
            file.sync_data()
                .map_err(|e| Error::io("syncing", self.pack_path(n), e))?;
            let len = match &w.current {
                Some(c) if c.number == n => c.len,
                _ => file
                    .metadata()
                    .map_err(|e| Error::io("reading metadata of", self.pack_path(n), e))?
                    .len(),
            };
            synced.push((n, len));
        }
        if w.new_file {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io("syncing", &self.dir, e))?;
        }
        // 2. Then the lengths and index entries, then sled's own flush. sled recovers a prefix
        // of its operations, so a durable index entry implies its pack length is durable too.
        for (n, len) in &synced {
            self.lengths.insert(n.to_be_bytes(), &len.to_le_bytes())?;
        }
        let snapshot: Vec<(ObjectId, Vec<u8>)> = self
            .pending()
            .entries
            .iter()
            .map(|(id, e)| (*id, e.index_value()))
            .collect();
        if !snapshot.is_empty() {
            let mut batch = sled::Batch::default();
            for (id, v) in &snapshot {
                batch.insert(&id.as_bytes()[..], v.as_slice());
            }
            self.index.apply_batch(batch)?;
        }
        self.index.flush()?;
        // 3. Only now may readers stop finding them in the pending map.
        {
            let mut pending = self.pending_mut();
            for (id, _) in &snapshot {
                pending.entries.remove(id);
            }
            pending.inline_bytes = 0;
        }
        w.dirty.clear();
        w.new_file = false;
        w.removed = false;
        w.loaded = false;
        Ok(())
    }
}

fn id_from_key(key: &[u8]) -> Result<ObjectId> {
    ObjectId::from_slice(key)
        .ok_or_else(|| Error::Storage(format!("object key of {} bytes in the store", key.len())))
}

/// Merges two ascending id streams, yielding each id once.
struct MergeIds<'a> {
    pending: std::iter::Peekable<std::vec::IntoIter<ObjectId>>,
    indexed: std::iter::Peekable<Box<dyn Iterator<Item = Result<ObjectId>> + 'a>>,
}

impl Iterator for MergeIds<'_> {
    type Item = Result<ObjectId>;

    fn next(&mut self) -> Option<Result<ObjectId>> {
        let p = self.pending.peek().copied();
        match (p, self.indexed.peek()) {
            (None, None) => None,
            (Some(_), None) => self.pending.next().map(Ok),
            (_, Some(Err(_))) | (None, Some(Ok(_))) => self.indexed.next(),
            (Some(p), Some(Ok(i))) => {
                let i = *i;
                if p < i {
                    self.pending.next().map(Ok)
                } else {
                    if p == i {
                        self.pending.next();
                    }
                    self.indexed.next()
                }
            }
        }
    }
}

impl ObjectStore for PackStore {
    fn get_stored(&self, id: &ObjectId) -> Result<Option<Vec<u8>>> {
        let loc = match self.pending().entries.get(id) {
            Some(Entry::Inline(v)) => return Ok(Some(v.clone())),
            Some(Entry::Packed(loc)) => Some(*loc),
            None => None,
        };
        let loc = match loc {
            Some(loc) => loc,
            None => {
                let Some(v) = self.index.get(id.as_bytes())? else {
                    return Ok(None);
                };
                if v.first() != Some(&LOCATION_TAG) {
                    return Ok(Some(v.to_vec()));
                }
                Location::decode(&v).ok_or_else(|| Error::Corrupt {
                    id: *id,
                    reason: format!("its index entry is a malformed {}-byte location", v.len()),
                })?
            }
        };
        self.read_packed(id, loc).map(Some)
    }

    fn has(&self, id: &ObjectId) -> Result<bool> {
        if self.pending().entries.contains_key(id) {
            return Ok(true);
        }
        Ok(self.index.contains_key(id.as_bytes())?)
    }

    fn put_stored_batch(&self, items: Vec<(ObjectId, Vec<u8>)>) -> Result<()> {
        let mut w = self.writer();
        let mut seen = BTreeSet::new();
        let mut inline = Vec::new();
        let mut packed = Vec::new();
        let mut records = Vec::new();
        {
            let pending = self.pending();
            for (id, value) in items {
                if pending.entries.contains_key(&id)
                    || !seen.insert(id)
                    || self.index.contains_key(id.as_bytes())?
                {
                    continue;
                }
                if is_inline(&value) {
                    inline.push((id, value));
                    continue;
                }
                push_record(&mut records, &mut packed, id, &value)?;
            }
        }
        let placed = if records.is_empty() {
            None
        } else {
            Some(self.append(&mut w, &records)?)
        };
        let flush_now = {
            let mut pending = self.pending_mut();
            for (id, v) in inline {
                pending.inline_bytes += v.len();
                pending.entries.insert(id, Entry::Inline(v));
            }
            if let Some((pack, start)) = placed {
                for (id, rel, len) in packed {
                    let loc = Location {
                        pack,
                        offset: start + rel,
                        len,
                    };
                    pending.entries.insert(id, Entry::Packed(loc));
                }
            }
            pending.inline_bytes > AUTO_FLUSH_INLINE_BYTES
                || pending.entries.len() > AUTO_FLUSH_ENTRIES
        };
        if flush_now {
            self.flush_locked(&mut w)?;
        }
        Ok(())
    }

    fn ids(&self) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
        self.ids_with_prefix(&[])
    }

    fn ids_with_prefix(&self, prefix: &[u8]) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
        let pending: Vec<ObjectId> = self
            .pending()
            .entries
            .keys()
            .filter(|id| id.0.starts_with(prefix))
            .copied()
            .collect();
        let indexed: Box<dyn Iterator<Item = Result<ObjectId>> + '_> = Box::new(
            self.index
                .scan_prefix(prefix)
                .keys()
                .map(|k| id_from_key(&k?)),
        );
        Box::new(MergeIds {
            pending: pending.into_iter().peekable(),
            indexed: indexed.peekable(),
        })
    }

    fn remove(&self, id: &ObjectId) -> Result<()> {
        let mut w = self.writer();
        w.removed = true;
        {
            let mut pending = self.pending_mut();
            if let Some(Entry::Inline(v)) = pending.entries.remove(id) {
                pending.inline_bytes = pending.inline_bytes.saturating_sub(v.len());
            }
        }
        self.index.remove(id.as_bytes())?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let mut w = self.writer();
        self.flush_locked(&mut w)
    }
}

impl Drop for PackStore {
    fn drop(&mut self) {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if !w.abandoned {
            // Best effort: an error here leaves the unflushed objects absent, never dangling.
            let _ = self.flush_locked(&mut w);
        }
    }
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
