//! Object index files: immutable, sorted `id -> pack location` tables in the pack directory.
//!
//! Layout (see `objects_format.md`, "Index files"): a 32-byte header, a 256-entry fanout table,
//! fixed-width entries sorted by id, then the durable lengths of the packs the entries point
//! into. Files are written once under a temporary name, synced and renamed into place, and
//! never modified afterwards (a rewrite is a new file renamed over the old name), which is what
//! makes reading them through a shared memory map sound.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::pack::Location;
use crate::error::{Error, Result};
use crate::id::ObjectId;

/// The first eight bytes of every index file.
pub const INDEX_MAGIC: [u8; 8] = *b"KODIAKIX";
/// Index file format version written after the magic.
pub const INDEX_VERSION: u32 = 1;
/// Bytes of the index file header: magic, `u32le` version, `u32le` pack count, `u64le` entry
/// count, eight zero bytes.
pub const INDEX_HEADER_LEN: usize = 32;
/// Bytes of the fanout table: 256 `u32le` cumulative entry counts by first id byte.
pub const INDEX_FANOUT_LEN: usize = 256 * 4;
/// Bytes of one entry: id, `u32le` pack, `u64le` record offset, `u32le` stored-value length.
pub const INDEX_ENTRY_LEN: usize = 48;
/// Bytes of one durable pack length: `u32le` pack, `u64le` length.
pub const INDEX_PACK_LEN: usize = 12;

/// File name of the index file of generation `g`.
pub fn index_file_name(g: u32) -> String {
    format!("index-{g:06}.kix")
}

/// The generation in an index file name.
pub(crate) fn parse_index_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("index-")?.strip_suffix(".kix")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether `name` is a temporary file an interrupted index write left behind.
pub(crate) fn is_index_temp_name(name: &str) -> bool {
    name.starts_with("index-") && name.ends_with(".kix.tmp")
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// An open, validated index file, read through a memory map.
pub(crate) struct IndexFile {
    path: PathBuf,
    generation: u32,
    // SAFETY (of the map): index files are immutable once renamed into place. Writers create
    // a new file under a temporary name and rename it over the old name, which leaves the
    // mapped inode untouched; only one process opens a repository at a time (sled's lock), so
    // nothing else truncates or writes the file while it is mapped.
    map: memmap2::Mmap,
    count: u64,
    packs: Vec<(u32, u64)>,
}

impl IndexFile {
    /// Maps and validates the index file at `path` (generation `generation`).
    pub(crate) fn open(path: &Path, generation: u32) -> Result<IndexFile> {
        let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("reading metadata of", path, e))?
            .len();
        let bad = |what: String| {
            Error::Storage(format!(
                "index file {} is damaged: {what} (restore it from a backup, or remove it and \
                 re-fetch the objects it listed)",
                path.display()
            ))
        };
        let fixed = (INDEX_HEADER_LEN + INDEX_FANOUT_LEN) as u64;
        if len < fixed {
            return Err(bad(format!(
                "it is {len} bytes long, shorter than its {fixed}-byte header"
            )));
        }
        // SAFETY: see the field comment: the file is never modified while mapped.
        let map =
            unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io("mapping", path, e))?;
        if map[..8] != INDEX_MAGIC {
            return Err(bad("it does not start with KODIAKIX".into()));
        }
        let version = u32_at(&map, 8);
        if version != INDEX_VERSION {
            return Err(Error::Storage(format!(
                "index file {} has format version {version}; this kodiak reads version \
                 {INDEX_VERSION} (written by a newer kodiak?)",
                path.display()
            )));
        }
        let pack_count = u64::from(u32_at(&map, 12));
        let count = u64_at(&map, 16);
        let expected = count
            .checked_mul(INDEX_ENTRY_LEN as u64)
            .and_then(|e| e.checked_add(fixed + pack_count * INDEX_PACK_LEN as u64));
        if expected != Some(len) {
            return Err(bad(format!(
                "it is {len} bytes long, but its header declares {count} entries and \
                 {pack_count} packs (truncated?)"
            )));
        }
        let mut prev = 0u32;
        for b in 0..256 {
            let f = u32_at(&map, INDEX_HEADER_LEN + 4 * b);
            if f < prev {
                return Err(bad(format!("its fanout table decreases at byte {b:#04x}")));
            }
            prev = f;
        }
        if u64::from(prev) != count {
            return Err(bad(format!(
                "its fanout table counts {prev} entries, its header {count}"
            )));
        }
        let table = (fixed + count * INDEX_ENTRY_LEN as u64) as usize;
        let mut packs = Vec::with_capacity(pack_count as usize);
        for i in 0..pack_count as usize {
            let at = table + i * INDEX_PACK_LEN;
            let pack = u32_at(&map, at);
            if packs.last().is_some_and(|&(p, _)| p >= pack) {
                return Err(bad(
                    "its pack lengths are not in ascending pack order".into()
                ));
            }
            packs.push((pack, u64_at(&map, at + 4)));
        }
        #[cfg(unix)]
        {
            // Lookups jump around the file: read-ahead around each touched page is wasted.
            let _ = map.advise(memmap2::Advice::Random);
        }
        Ok(IndexFile {
            path: path.to_path_buf(),
            generation,
            map,
            count,
            packs,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's generation (the `GGGGGG` of its name).
    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    /// The durable pack lengths recorded in the file, by ascending pack number.
    pub(crate) fn packs(&self) -> &[(u32, u64)] {
        &self.packs
    }

    fn fanout(&self, b: usize) -> u64 {
        u64::from(u32_at(&self.map, INDEX_HEADER_LEN + 4 * b))
    }

    fn entry_at(&self, i: u64) -> usize {
        INDEX_HEADER_LEN + INDEX_FANOUT_LEN + i as usize * INDEX_ENTRY_LEN
    }

    /// The id of entry `i` (`i < len()`).
    pub(crate) fn id(&self, i: u64) -> ObjectId {
        let at = self.entry_at(i);
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.map[at..at + 32]);
        ObjectId(id)
    }

    fn id_bytes(&self, i: u64) -> &[u8] {
        let at = self.entry_at(i);
        &self.map[at..at + 32]
    }

    /// The location of entry `i` (`i < len()`).
    pub(crate) fn location(&self, i: u64) -> Location {
        let at = self.entry_at(i) + 32;
        Location {
            pack: u32_at(&self.map, at),
            offset: u64_at(&self.map, at + 4),
            len: u32_at(&self.map, at + 12),
        }
    }

    /// Entries `[lo, hi)` whose first id byte is `b`.
    fn bucket(&self, b: u8) -> (u64, u64) {
        let hi = self.fanout(b as usize);
        let lo = if b == 0 {
            0
        } else {
            self.fanout(b as usize - 1)
        };
        (lo, hi)
    }

    /// Bytes 1..9 of entry `i`'s id as a big-endian number (its place within its bucket).
    fn rank(&self, i: u64) -> u128 {
        let at = self.entry_at(i) + 1;
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.map[at..at + 8]);
        u128::from(u64::from_be_bytes(a))
    }

    /// The entry index of `id`, if the file lists it.
    ///
    /// Ids are BLAKE3 hashes, uniform over the key space, so a few interpolation steps land
    /// next to the entry (each probe of a large file is a cache and TLB miss); a binary search
    /// finishes the narrowed range.
    pub(crate) fn find(&self, id: &ObjectId) -> Option<u64> {
        let key = id.as_bytes();
        let (mut lo, mut hi) = self.bucket(key[0]);
        let mut k = [0u8; 8];
        k.copy_from_slice(&key[1..9]);
        let k = u128::from(u64::from_be_bytes(k));
        // Invariant: entries below `lo` rank at most `klo`, entries from `hi` at least `khi`,
        // and `klo <= k <= khi`.
        let (mut klo, mut khi) = (0u128, u128::from(u64::MAX));
        for _ in 0..4 {
            if hi - lo <= 8 {
                break;
            }
            let n = u128::from(hi - lo);
            let pos = lo + ((k - klo) * n / (khi - klo + 1)) as u64;
            match self.id_bytes(pos).cmp(&key[..]) {
                std::cmp::Ordering::Less => {
                    lo = pos + 1;
                    klo = self.rank(pos);
                }
                std::cmp::Ordering::Greater => {
                    hi = pos;
                    khi = self.rank(pos);
                }
                std::cmp::Ordering::Equal => return Some(pos),
            }
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.id_bytes(mid).cmp(&key[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The location of `id`, if the file lists it.
    pub(crate) fn lookup(&self, id: &ObjectId) -> Option<Location> {
        self.find(id).map(|i| self.location(i))
    }

    /// Entries `[lo, hi)` whose ids start with `prefix`.
    pub(crate) fn prefix_range(&self, prefix: &[u8]) -> (u64, u64) {
        let Some(&first) = prefix.first() else {
            return (0, self.count);
        };
        let (lo, hi) = self.bucket(first);
        let n = prefix.len().min(32);
        let prefix = &prefix[..n];
        // First entry whose prefix is not below `prefix`, then first whose prefix is above.
        let lower = |strict: bool| {
            let (mut a, mut b) = (lo, hi);
            while a < b {
                let mid = a + (b - a) / 2;
                let p = &self.id_bytes(mid)[..n];
                let before = if strict { p <= prefix } else { p < prefix };
                if before {
                    a = mid + 1;
                } else {
                    b = mid;
                }
            }
            a
        };
        (lower(false), lower(true))
    }
}

/// Writes an index file of generation `generation` in `dir`: `entries` (sorted by id, each id
/// once) and the durable pack lengths `packs` (ascending pack number). The file is written
/// under a temporary name, synced, renamed into place and the directory synced, so the name
/// only ever holds a complete file.
pub(crate) fn write_index(
    dir: &Path,
    generation: u32,
    entries: &[(ObjectId, Location)],
    packs: &[(u32, u64)],
) -> Result<PathBuf> {
    write_temp(dir, generation, entries, packs)?.install()
}

/// A complete, synced index file under its temporary name, not yet in use; dropping it
/// without [`TempIndex::install`] deletes it.
pub(crate) struct TempIndex {
    dir: PathBuf,
    tmp: PathBuf,
    path: PathBuf,
    installed: bool,
}

impl TempIndex {
    /// Renames the file into place and syncs the directory; returns its path.
    pub(crate) fn install(mut self) -> Result<PathBuf> {
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io("renaming", &self.tmp, e))?;
        self.installed = true;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("syncing", &self.dir, e))?;
        Ok(self.path.clone())
    }
}

impl Drop for TempIndex {
    fn drop(&mut self) {
        if !self.installed {
            // Best effort: a leftover temporary file is ignored and deleted at the next open.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The first half of [`write_index`]: writes and syncs the file under its temporary name.
pub(crate) fn write_temp(
    dir: &Path,
    generation: u32,
    entries: &[(ObjectId, Location)],
    packs: &[(u32, u64)],
) -> Result<TempIndex> {
    let path = dir.join(index_file_name(generation));
    let tmp = dir.join(format!("{}.tmp", index_file_name(generation)));
    let count = u32::try_from(entries.len()).map_err(|_| {
        Error::Storage(format!(
            "{} would list {} objects, more than an index file holds",
            path.display(),
            entries.len()
        ))
    })?;
    let pack_count = u32::try_from(packs.len())
        .map_err(|_| Error::Storage(format!("{} packs in one index", packs.len())))?;
    let mut out = Vec::with_capacity(
        INDEX_HEADER_LEN
            + INDEX_FANOUT_LEN
            + entries.len() * INDEX_ENTRY_LEN
            + packs.len() * INDEX_PACK_LEN,
    );
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
    out.extend_from_slice(&pack_count.to_le_bytes());
    out.extend_from_slice(&u64::from(count).to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    let mut fanout = [0u32; 256];
    for (id, _) in entries {
        fanout[id.as_bytes()[0] as usize] += 1;
    }
    let mut total = 0u32;
    for f in fanout {
        total += f;
        out.extend_from_slice(&total.to_le_bytes());
    }
    for (id, loc) in entries {
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&loc.pack.to_le_bytes());
        out.extend_from_slice(&loc.offset.to_le_bytes());
        out.extend_from_slice(&loc.len.to_le_bytes());
    }
    for (pack, len) in packs {
        out.extend_from_slice(&pack.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    let temp = TempIndex {
        dir: dir.to_path_buf(),
        tmp,
        path,
        installed: false,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp.tmp)
        .map_err(|e| Error::io("creating", &temp.tmp, e))?;
    file.write_all(&out)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("writing", &temp.tmp, e))?;
    Ok(temp)
}
