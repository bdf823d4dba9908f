//! The `.kdk` bundle file format: a streaming writer and a streaming, verifying reader.
//!
//! Layout (see "Bundles (.kdk)" in `objects_format.md`):
//! ```text
//! magic "KODIAKBN" | u32le version (3) | u32le header length | postcard BundleHeader
//! chunk*           : 'C' | u32le length | records back to back
//!                    (record: kind u8 | u32le length | the object's stored value)
//! index            : 'I' | u64le count | count × (32-byte id | u64le chunk offset | u32le offset in chunk)
//! trailer          : u64le index offset | "KDKTRAIL" | 32-byte BLAKE3 of every byte before it
//! ```
//! A record carries the object exactly as the object store keeps it (its *stored value*: a
//! codec byte, then raw or zstd-compressed canonical bytes, see [`crate::store::frame`]), so
//! neither side compresses anything: the writer copies what its store holds, the reader
//! unframes and hashes each object to check it and hands the same stored value to its store.
//! A value compressed with a zstd dictionary (codec `0x02`) needs that dictionary: the bundle
//! carries it as a Dict record ahead of the first record that needs it (version 3).
//! Memory on both sides is bounded by one chunk, i.e. by `max(CHUNK_TARGET, largest object)`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::id::{CommitId, ObjectId};
use crate::object::{self, Kind};
use crate::store::{
    DictTag, Dictionary, MAX_OBJECT_SIZE, frame, frame_dict_tag, tag_hex, unframe_with,
};

/// The first eight bytes of a bundle.
pub const BUNDLE_MAGIC: [u8; 8] = *b"KODIAKBN";
/// The bundle format version written after the magic (see `objects_format.md`, "Version
/// changes": version 2 is read too, version 1 is refused).
pub const BUNDLE_VERSION: u32 = 3;
/// The oldest bundle format version read: version 2 has no dictionaries.
pub const OLDEST_BUNDLE_VERSION: u32 = 2;
/// The magic inside the trailer, before the checksum.
pub const TRAILER_MAGIC: [u8; 8] = *b"KDKTRAIL";
/// Bytes of the trailer: index offset, trailer magic, checksum.
pub const TRAILER_LEN: u64 = 8 + 8 + 32;
/// Section tag of a chunk of object records.
pub const CHUNK_TAG: u8 = b'C';
/// Section tag of the index.
pub const INDEX_TAG: u8 = b'I';
/// Bytes of a record header: kind byte and `u32le` length.
pub const RECORD_HEADER_LEN: usize = 5;
/// Set in a record's kind byte when the record is a delta against an object the receiver has.
pub const DELTA_FLAG: u8 = 0x80;
/// Bytes of a delta record's body before its zstd frame: target id, base id, target length.
pub const DELTA_HEADER_LEN: usize = 32 + 32 + 4;
/// Bytes of one index entry: id, chunk offset, offset in the chunk.
pub const INDEX_ENTRY_LEN: usize = 32 + 8 + 4;
/// A writer closes a chunk once its raw records reach this many bytes.
pub const CHUNK_TARGET: usize = 4 << 20;
/// Largest header accepted by a reader.
pub const MAX_HEADER_LEN: u32 = 16 << 20;
/// Largest record body: a stored value of the largest object (codec byte and, for zstd
/// frames, the `u32le` canonical length and a dictionary tag before a frame smaller than the
/// object).
pub const MAX_RECORD_BODY: u32 = MAX_OBJECT_SIZE + crate::store::DICT_FRAME_HEADER as u32;
/// Largest chunk accepted by a reader: one largest record and its header.
pub const MAX_CHUNK_RAW: u32 = MAX_RECORD_BODY + RECORD_HEADER_LEN as u32;
/// zstd level of delta records (few, small objects: size matters more than speed).
pub const DELTA_ZSTD_LEVEL: i32 = 19;

/// Why a bundle cannot be read; the message says what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BundleError(pub String);

fn bad(msg: impl Into<String>) -> BundleError {
    BundleError(msg.into())
}

/// A ref carried by a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRef {
    /// Full ref name (`refs/heads/main`, `refs/tags/v1`).
    pub name: String,
    /// The object it names (a commit, or a tag object for annotated tags).
    pub id: ObjectId,
}

/// Who made a bundle and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creator {
    /// The program, e.g. `kodiak 0.1.0`.
    pub tool: String,
    /// `Name <email>` of the user, or `unknown`.
    pub who: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
}

/// The bundle header: refs, prerequisites and creator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleHeader {
    /// Refs, sorted by name, each at most once.
    pub refs: Vec<BundleRef>,
    /// The branch (full name) HEAD was on when packed, if it is one of `refs`.
    pub head: Option<String>,
    /// Commits the receiver must already have (an incremental bundle); sorted, distinct.
    pub prerequisites: Vec<CommitId>,
    /// Who made the bundle.
    pub creator: Creator,
}

impl BundleHeader {
    fn check(&self) -> Result<(), BundleError> {
        for w in self.refs.windows(2) {
            if w[0].name >= w[1].name {
                return Err(bad(format!(
                    "header lists refs out of order or twice ('{}' then '{}')",
                    w[0].name, w[1].name
                )));
            }
        }
        for r in &self.refs {
            crate::refs::RefName::new(&r.name)
                .map_err(|e| bad(format!("header names a bad ref: {e}")))?;
        }
        if let Some(h) = &self.head
            && !self.refs.iter().any(|r| &r.name == h)
        {
            return Err(bad(format!("header's HEAD '{h}' is not one of its refs")));
        }
        for w in self.prerequisites.windows(2) {
            if w[0] >= w[1] {
                return Err(bad("header lists prerequisites out of order or twice"));
            }
        }
        Ok(())
    }
}

/// What a finished bundle holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleSummary {
    /// Objects in the bundle.
    pub objects: u64,
    /// Sum of their canonical lengths.
    pub object_bytes: u64,
    /// Length of the file.
    pub file_bytes: u64,
    /// The trailer's checksum.
    pub checksum: [u8; 32],
    /// Objects stored as deltas against objects of the receiver.
    pub deltas: u64,
    /// Delta objects whose base was not available (verification without a repository):
    /// id, kind and base id. They were not checked and not handed to the visitor.
    pub unresolved: Vec<(ObjectId, Kind, ObjectId)>,
    /// The zstd dictionaries the bundle carries, in file order.
    pub dictionaries: Vec<ObjectId>,
}

/// A writer that hashes and counts everything written through it.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
    pos: u64,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes)?;
        self.hasher.update(bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }
}

/// The hashing, writing end of a [`BundleWriter`], run on its own thread.
struct Sink<W> {
    out: Hashing<W>,
    /// The index so far, as encoded entries (44 bytes each).
    index: Vec<u8>,
}

impl<W: Write> Sink<W> {
    fn write_chunk(&mut self, raw: &[u8], entries: &[(ObjectId, u32)]) -> std::io::Result<()> {
        let at = self.out.pos;
        self.out.put(&[CHUNK_TAG])?;
        self.out.put(&(raw.len() as u32).to_le_bytes())?;
        self.out.put(raw)?;
        for (id, off) in entries {
            self.index.extend_from_slice(id.as_bytes());
            self.index.extend_from_slice(&at.to_le_bytes());
            self.index.extend_from_slice(&off.to_le_bytes());
        }
        Ok(())
    }
}

/// A full chunk on its way to the sink: raw records and their index entries.
type Job = (Vec<u8>, Vec<(ObjectId, u32)>);

/// Streams objects into a bundle: [`BundleWriter::new`], [`BundleWriter::add`] each object,
/// then [`BundleWriter::finish`].
///
/// Chunks are hashed and written on a second thread while the caller reads the next objects
/// (at most two chunks wait in between, so memory stays bounded).
pub struct BundleWriter<W: Write + Send + 'static> {
    chunk: Vec<u8>,
    /// Index entries of the objects in `chunk`.
    pending: Vec<(ObjectId, u32)>,
    count: u64,
    object_bytes: u64,
    deltas: u64,
    /// Dictionaries written so far, by tag (a tag names one dictionary in a bundle).
    dictionaries: BTreeMap<DictTag, ObjectId>,
    dictionary_order: Vec<ObjectId>,
    jobs: Option<std::sync::mpsc::SyncSender<Job>>,
    sink: Option<std::thread::JoinHandle<std::io::Result<Sink<W>>>>,
}

impl<W: Write + Send + 'static> BundleWriter<W> {
    /// Writes the magic and header and returns a writer ready for objects.
    pub fn new(out: W, header: &BundleHeader) -> std::io::Result<Self> {
        let mut out = Hashing {
            inner: out,
            hasher: blake3::Hasher::new(),
            pos: 0,
        };
        let mut head = Vec::new();
        object::postcard_encode(header, &mut head);
        out.put(&BUNDLE_MAGIC)?;
        out.put(&BUNDLE_VERSION.to_le_bytes())?;
        out.put(&(head.len() as u32).to_le_bytes())?;
        out.put(&head)?;
        let mut sink = Sink {
            out,
            index: Vec::new(),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(2);
        let handle = std::thread::Builder::new()
            .name("kdk-write".into())
            .spawn(move || {
                for (raw, entries) in rx {
                    sink.write_chunk(&raw, &entries)?;
                }
                Ok(sink)
            })?;
        Ok(BundleWriter {
            chunk: Vec::with_capacity(CHUNK_TARGET + (64 << 10)),
            pending: Vec::new(),
            count: 0,
            object_bytes: 0,
            deltas: 0,
            dictionaries: BTreeMap::new(),
            dictionary_order: Vec::new(),
            jobs: Some(tx),
            sink: Some(handle),
        })
    }

    /// Appends one object given by its canonical bytes, framing it as the store would (the
    /// caller passes each id once).
    pub fn add(&mut self, id: ObjectId, canonical: &[u8]) -> std::io::Result<()> {
        self.add_stored(id, canonical, &frame(canonical))
    }

    /// Tests: records `tag` as taken by dictionary `id` (a tag collision) without writing it.
    #[cfg(test)]
    pub(crate) fn claim_tag(&mut self, tag: DictTag, id: ObjectId) {
        self.dictionaries.insert(tag, id);
    }

    /// The dictionary written with `tag`, if any.
    pub fn dictionary_with_tag(&self, tag: &DictTag) -> Option<ObjectId> {
        self.dictionaries.get(tag).copied()
    }

    /// Appends a dictionary (never itself compressed with one), so that records after it
    /// may be compressed with it. Its tag must not name another dictionary of the bundle.
    pub fn add_dictionary(&mut self, dict: &Dictionary) -> std::io::Result<()> {
        match self.dictionaries.get(&dict.tag()) {
            Some(id) if *id == dict.id() => return Ok(()),
            Some(id) => {
                return Err(std::io::Error::other(format!(
                    "dictionaries {id} and {} share the tag {}: a bundle carries one of them",
                    dict.id(),
                    tag_hex(&dict.tag())
                )));
            }
            None => {}
        }
        self.dictionaries.insert(dict.tag(), dict.id());
        self.dictionary_order.push(dict.id());
        self.add_stored(dict.id(), dict.canonical(), &frame(dict.canonical()))
    }

    /// Appends one object given by its canonical bytes and its stored value, as
    /// [`crate::store::Store::try_get_verified`] returns them: `stored` must unframe to
    /// `canonical` (readers reject the bundle otherwise), and a value compressed with a
    /// dictionary needs that dictionary added first ([`BundleWriter::add_dictionary`]).
    /// Nothing is compressed.
    pub fn add_stored(
        &mut self,
        id: ObjectId,
        canonical: &[u8],
        stored: &[u8],
    ) -> std::io::Result<()> {
        if let Some(tag) = frame_dict_tag(stored)
            && (!self.dictionaries.contains_key(&tag)
                || canonical.first() == Some(&(Kind::Dict as u8)))
        {
            return Err(std::io::Error::other(format!(
                "object {id} is compressed with dictionary {}, which the bundle does not carry before it",
                tag_hex(&tag)
            )));
        }
        if canonical.len() > MAX_OBJECT_SIZE as usize
            || canonical.is_empty()
            || stored.is_empty()
            || stored.len() > MAX_RECORD_BODY as usize
        {
            return Err(std::io::Error::other(format!(
                "object {id} is {} bytes ({} stored), outside what a bundle can carry",
                canonical.len(),
                stored.len()
            )));
        }
        if !self.chunk.is_empty()
            && self.chunk.len() + RECORD_HEADER_LEN + stored.len() > CHUNK_TARGET
        {
            self.send_chunk()?;
        }
        self.pending.push((id, self.chunk.len() as u32));
        self.chunk.push(canonical[0]);
        self.chunk
            .extend_from_slice(&(stored.len() as u32).to_le_bytes());
        self.chunk.extend_from_slice(stored);
        self.count += 1;
        self.object_bytes += canonical.len() as u64;
        if self.chunk.len() >= CHUNK_TARGET {
            self.send_chunk()?;
        }
        Ok(())
    }

    /// Appends an object as a delta against `base` (an object the receiver is known to have,
    /// given as id and canonical bytes) when that is smaller, else whole.
    pub fn add_delta(
        &mut self,
        id: ObjectId,
        canonical: &[u8],
        base_id: ObjectId,
        base: &[u8],
    ) -> std::io::Result<()> {
        let z =
            zstd::bulk::Compressor::with_dictionary(DELTA_ZSTD_LEVEL, base)?.compress(canonical)?;
        let body = DELTA_HEADER_LEN + z.len();
        if body >= canonical.len() || canonical.is_empty() {
            return self.add(id, canonical);
        }
        if !self.chunk.is_empty() && self.chunk.len() + RECORD_HEADER_LEN + body > CHUNK_TARGET {
            self.send_chunk()?;
        }
        self.pending.push((id, self.chunk.len() as u32));
        self.chunk.push(canonical[0] | DELTA_FLAG);
        self.chunk.extend_from_slice(&(body as u32).to_le_bytes());
        self.chunk.extend_from_slice(id.as_bytes());
        self.chunk.extend_from_slice(base_id.as_bytes());
        self.chunk
            .extend_from_slice(&(canonical.len() as u32).to_le_bytes());
        self.chunk.extend_from_slice(&z);
        self.count += 1;
        self.object_bytes += canonical.len() as u64;
        self.deltas += 1;
        if self.chunk.len() >= CHUNK_TARGET {
            self.send_chunk()?;
        }
        Ok(())
    }

    fn send_chunk(&mut self) -> std::io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let raw = std::mem::replace(
            &mut self.chunk,
            Vec::with_capacity(CHUNK_TARGET + (64 << 10)),
        );
        let entries = std::mem::take(&mut self.pending);
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|tx| tx.send((raw, entries)).is_ok());
        if sent {
            Ok(())
        } else {
            // The sink stopped: its error says why.
            self.join().map(|_| ())?;
            Err(std::io::Error::other("the bundle writer thread stopped"))
        }
    }

    fn join(&mut self) -> std::io::Result<Sink<W>> {
        self.jobs = None;
        match self.sink.take() {
            Some(h) => h
                .join()
                .map_err(|_| std::io::Error::other("the bundle writer thread panicked"))?,
            None => Err(std::io::Error::other(
                "the bundle writer was already finished",
            )),
        }
    }

    /// Writes the last chunk, the index and the trailer; returns the output and a summary.
    pub fn finish(mut self) -> std::io::Result<(W, BundleSummary)> {
        self.send_chunk()?;
        let mut sink = self.join()?;
        let index_at = sink.out.pos;
        sink.out.put(&[INDEX_TAG])?;
        sink.out.put(&self.count.to_le_bytes())?;
        let index = std::mem::take(&mut sink.index);
        sink.out.put(&index)?;
        sink.out.put(&index_at.to_le_bytes())?;
        sink.out.put(&TRAILER_MAGIC)?;
        let checksum = *sink.out.hasher.finalize().as_bytes();
        sink.out.inner.write_all(&checksum)?;
        sink.out.inner.flush()?;
        let file_bytes = sink.out.pos + 32;
        Ok((
            sink.out.inner,
            BundleSummary {
                objects: self.count,
                object_bytes: self.object_bytes,
                file_bytes,
                checksum,
                deltas: self.deltas,
                unresolved: Vec::new(),
                dictionaries: self.dictionary_order,
            },
        ))
    }
}

/// A reader that hashes and counts everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    pos: u64,
}

impl<R: Read> HashingReader<R> {
    /// Reads exactly `buf.len()` bytes; running out is a truncated bundle.
    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), BundleError> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad(format!(
                    "the file is truncated: it ends inside the {what} at byte {}",
                    self.pos
                ))
            } else {
                bad(format!("reading the {what} at byte {}: {e}", self.pos))
            }
        })?;
        self.hasher.update(buf);
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// Reads `len` bytes into a fresh vector that grows only as data arrives.
    fn vec(&mut self, len: u64, what: &str) -> Result<Vec<u8>, BundleError> {
        let mut out = Vec::new();
        self.fill(&mut out, len, what)?;
        Ok(out)
    }

    /// Reads `len` bytes into `out` (cleared first, its capacity reused).
    fn fill(&mut self, out: &mut Vec<u8>, len: u64, what: &str) -> Result<(), BundleError> {
        out.clear();
        // Room for a whole chunk of the usual size at once (no regrowing and copying); a
        // larger declared length is trusted only as far as bytes arrive.
        out.reserve(len.min(CHUNK_TARGET as u64 + (64 << 10)) as usize);
        let got = (&mut self.inner)
            .take(len)
            .read_to_end(out)
            .map_err(|e| bad(format!("reading the {what} at byte {}: {e}", self.pos)))?;
        if (got as u64) < len {
            return Err(bad(format!(
                "the file is truncated: the {what} at byte {} declares {len} bytes but only {got} follow",
                self.pos
            )));
        }
        self.hasher.update(out);
        self.pos += len;
        Ok(())
    }

    fn u8(&mut self, what: &str) -> Result<u8, BundleError> {
        let mut b = [0u8; 1];
        self.exact(&mut b, what)?;
        Ok(b[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, BundleError> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self, what: &str) -> Result<u64, BundleError> {
        let mut b = [0u8; 8];
        self.exact(&mut b, what)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// One object as the reader hands it to its visitor.
pub struct BundleObject<'a> {
    /// The object's id (the BLAKE3 hash of `canonical`, computed by the reader).
    pub id: ObjectId,
    /// Its kind.
    pub kind: Kind,
    /// Its canonical bytes.
    pub canonical: &'a [u8],
    /// The record's stored value, checked to unframe to `canonical`: what a store can keep
    /// as is. `None` for delta records (rebuilt objects must be framed by the receiver).
    pub stored: Option<&'a [u8]>,
}

/// Reads only the magic, version and header of a bundle (no verification of the rest).
pub fn read_header<R: Read>(r: R) -> Result<BundleHeader, BundleError> {
    let mut r = HashingReader {
        inner: r,
        hasher: blake3::Hasher::new(),
        pos: 0,
    };
    read_header_from(&mut r)
}

fn read_header_from<R: Read>(r: &mut HashingReader<R>) -> Result<BundleHeader, BundleError> {
    read_versioned_header(r).map(|(h, _)| h)
}

/// The header and the bundle's format version.
fn read_versioned_header<R: Read>(
    r: &mut HashingReader<R>,
) -> Result<(BundleHeader, u32), BundleError> {
    let mut magic = [0u8; 8];
    r.exact(&mut magic, "magic")?;
    if magic != BUNDLE_MAGIC {
        return Err(bad("it is not a kodiak bundle (bad magic bytes)"));
    }
    let version = r.u32("version")?;
    if version == 1 {
        return Err(bad(
            "it is a version 1 bundle (zstd-compressed chunks), which this kodiak no longer reads (it reads versions 2 and 3)\nhint: make the bundle again with this kodiak's `kodiak pack`",
        ));
    }
    if !(OLDEST_BUNDLE_VERSION..=BUNDLE_VERSION).contains(&version) {
        return Err(bad(format!(
            "unsupported bundle version {version} (this kodiak reads versions {OLDEST_BUNDLE_VERSION} to {BUNDLE_VERSION})"
        )));
    }
    let len = r.u32("header length")?;
    if len > MAX_HEADER_LEN {
        return Err(bad(format!(
            "the header declares {len} bytes, more than the limit of {MAX_HEADER_LEN}"
        )));
    }
    let bytes = r.vec(u64::from(len), "header")?;
    // postcard_decode needs a kind only to label its errors; the reason alone is reported.
    let header: BundleHeader = object::postcard_decode(Kind::Blob, &bytes).map_err(|e| {
        let why = match e {
            object::DecodeError::Malformed { reason, .. } => reason,
            other => other.to_string(),
        };
        bad(format!("the header is malformed: {why}"))
    })?;
    header.check()?;
    Ok((header, version))
}

/// Reads a whole bundle, checking every byte, and hands each object to `visit` in file order.
///
/// Checked: magic, version, header, every chunk's length (bounded by [`MAX_CHUNK_RAW`]; its
/// buffer grows only as bytes arrive), every record's kind and length, every stored value
/// (its codec, its declared size against [`MAX_OBJECT_SIZE`], decompression stopping at that
/// size) and the BLAKE3 hash of what it unframes to (the id), every object's header, the index against the records (same ids, same
/// places, same count), the trailer and the BLAKE3 checksum of the whole file, and that
/// nothing follows it. `visit` sees objects before the checksum is known to match: callers
/// must not make anything durable until this returns `Ok`.
pub fn read_bundle<R: Read>(
    r: R,
    bases: &mut Bases<'_>,
    mut visit: impl FnMut(&BundleObject<'_>) -> Result<(), BundleError>,
) -> Result<(BundleHeader, BundleSummary), BundleError> {
    read_bundle_checked(r, bases, &|_: &BundleObject<'_>| Ok(()), |o, ()| visit(o))
}

/// [`read_bundle`] with a per-object `check` that runs on the verifying threads (in any
/// order, in parallel) before `visit` gets each object, in file order, with what `check`
/// returned. The first failure in file order is the one reported.
pub fn read_bundle_checked<R: Read, T: Send>(
    r: R,
    bases: &mut Bases<'_>,
    check: &(dyn Fn(&BundleObject<'_>) -> Result<T, BundleError> + Sync),
    mut visit: impl FnMut(&BundleObject<'_>, T) -> Result<(), BundleError>,
) -> Result<(BundleHeader, BundleSummary), BundleError> {
    let mut r = HashingReader {
        inner: r,
        hasher: blake3::Hasher::new(),
        pos: 0,
    };
    let (header, version) = read_versioned_header(&mut r)?;
    // The dictionaries read so far, by tag: records after one may be compressed with it.
    let mut dicts: BTreeMap<DictTag, Arc<Dictionary>> = BTreeMap::new();
    let mut dictionary_order: Vec<ObjectId> = Vec::new();
    // (id, chunk offset, offset in chunk) of every record, checked against the index.
    let mut seen: Vec<(ObjectId, u64, u32)> = Vec::new();
    // One chunk buffer for the whole file: its pages are touched once.
    let mut raw = Vec::new();
    let mut object_bytes: u64 = 0;
    let mut deltas = 0u64;
    let mut unresolved = Vec::new();
    loop {
        let at = r.pos;
        let tag = r.u8("section tag")?;
        match tag {
            CHUNK_TAG => {
                let raw_len = r.u32("chunk header")?;
                if raw_len == 0 || raw_len > MAX_CHUNK_RAW {
                    return Err(bad(format!(
                        "the chunk at byte {at} declares {raw_len} bytes of records (allowed: 1 to {MAX_CHUNK_RAW})"
                    )));
                }
                r.fill(&mut raw, u64::from(raw_len), "chunk")?;
                // Record boundaries first; then, batch by batch, whole records are unframed
                // and hashed on two threads, and everything is checked and visited in order.
                let mut records: Vec<(usize, u8, std::ops::Range<usize>)> = Vec::new();
                let mut p = 0usize;
                while p < raw.len() {
                    if raw.len() - p < RECORD_HEADER_LEN {
                        return Err(bad(format!(
                            "the chunk at byte {at} ends inside a record header (offset {p})"
                        )));
                    }
                    let kind_byte = raw[p];
                    let len = u32::from_le_bytes([raw[p + 1], raw[p + 2], raw[p + 3], raw[p + 4]])
                        as usize;
                    let body = p + RECORD_HEADER_LEN;
                    if len == 0 || len > raw.len() - body {
                        return Err(bad(format!(
                            "the record at offset {p} of the chunk at byte {at} declares {len} bytes but {} remain",
                            raw.len() - body
                        )));
                    }
                    if kind_byte == Kind::Dict as u8 && version < 3 {
                        return Err(bad(format!(
                            "the record at offset {p} of the chunk at byte {at} is a dictionary, which version {version} bundles do not carry"
                        )));
                    }
                    records.push((p, kind_byte, body..body + len));
                    p = body + len;
                }
                let mut first = 0;
                while first < records.len() {
                    // Bounded by declared canonical sizes, so memory stays at one batch (or
                    // one object) even when stored values compress extremely well.
                    // A dictionary is verified alone, and known before the records after it.
                    let is_dict = |i: usize| records[i].1 == Kind::Dict as u8;
                    let mut last = first;
                    let mut declared = 0u64;
                    while last < records.len()
                        && (last == first || (declared < VERIFY_BATCH && !is_dict(last)))
                    {
                        let (_, kind_byte, range) = &records[last];
                        if kind_byte & DELTA_FLAG == 0 {
                            declared += declared_len(&raw[range.clone()]);
                        }
                        last += 1;
                        if is_dict(last - 1) {
                            break;
                        }
                    }
                    let batch = &records[first..last];
                    first = last;
                    let whole: Vec<(u8, &[u8])> = batch
                        .iter()
                        .filter(|(_, k, _)| k & DELTA_FLAG == 0)
                        .map(|(_, k, range)| (*k, &raw[range.clone()]))
                        .collect();
                    let mut verified = verify_records(&whole, &dicts, check).into_iter();
                    for (p, kind_byte, range) in batch {
                        let (p, kind_byte) = (*p, *kind_byte);
                        let record = &raw[range.clone()];
                        if kind_byte & DELTA_FLAG == 0 {
                            let (obj, extra) = verified
                                .next()
                                .unwrap_or(Err(Rejected::Corrupt("it was not verified".into())))
                                .map_err(|e| e.explain(p, at))?;
                            if obj.kind == Kind::Dict {
                                let d = Dictionary::from_canonical(obj.canonical.clone())
                                    .map_err(|why| {
                                        bad(format!("dictionary {} (chunk at byte {at}) is malformed: {why}", obj.id))
                                    })?;
                                if let Some(other) = dicts.get(&d.tag()) {
                                    return Err(bad(format!(
                                        "dictionaries {} and {} share the tag {}: a bundle may carry only one of them",
                                        other.id(),
                                        d.id(),
                                        tag_hex(&d.tag())
                                    )));
                                }
                                dictionary_order.push(d.id());
                                dicts.insert(d.tag(), Arc::new(d));
                            }
                            let o = BundleObject {
                                id: obj.id,
                                kind: obj.kind,
                                canonical: &obj.canonical,
                                stored: Some(record),
                            };
                            visit(&o, extra)?;
                            object_bytes += obj.canonical.len() as u64;
                            seen.push((obj.id, at, p as u32));
                            continue;
                        }
                        deltas += 1;
                        let (id, rebuilt) = match resolve_delta(record, bases).map_err(|why| {
                            bad(format!("the delta record at offset {p} of the chunk at byte {at} is bad: {why}"))
                        })? {
                            Delta::Rebuilt(id, bytes) => (id, bytes),
                            Delta::Unresolved(id, base) => {
                                let kind = Kind::from_u8(kind_byte & !DELTA_FLAG).ok_or_else(|| {
                                    bad(format!("the record of object {id} has unknown kind {kind_byte}"))
                                })?;
                                unresolved.push((id, kind, base));
                                seen.push((id, at, p as u32));
                                continue;
                            }
                        };
                        let kind = kind_of(id, &rebuilt, kind_byte & !DELTA_FLAG)
                            .map_err(|e| e.explain(p, at))?;
                        let o = BundleObject {
                            id,
                            kind,
                            canonical: &rebuilt,
                            stored: None,
                        };
                        let extra = check(&o)?;
                        visit(&o, extra)?;
                        object_bytes += rebuilt.len() as u64;
                        seen.push((id, at, p as u32));
                    }
                }
            }
            INDEX_TAG => {
                let count = r.u64("index count")?;
                if count != seen.len() as u64 {
                    return Err(bad(format!(
                        "the index lists {count} objects but the bundle holds {}",
                        seen.len()
                    )));
                }
                let mut entry = [0u8; INDEX_ENTRY_LEN];
                for (i, (id, chunk_at, off)) in seen.iter().enumerate() {
                    r.exact(&mut entry, "index")?;
                    let eid = ObjectId::from_slice(&entry[..32])
                        .ok_or_else(|| bad("index entry is short"))?;
                    let mut c = [0u8; 8];
                    c.copy_from_slice(&entry[32..40]);
                    let mut o = [0u8; 4];
                    o.copy_from_slice(&entry[40..44]);
                    if eid != *id
                        || u64::from_le_bytes(c) != *chunk_at
                        || u32::from_le_bytes(o) != *off
                    {
                        return Err(bad(format!(
                            "index entry {i} does not match the records (it names {eid}, the record holds {id})"
                        )));
                    }
                }
                let index_at = r.u64("trailer")?;
                if index_at != at {
                    return Err(bad(format!(
                        "the trailer says the index is at byte {index_at} but it is at byte {at}"
                    )));
                }
                let mut magic = [0u8; 8];
                r.exact(&mut magic, "trailer")?;
                if magic != TRAILER_MAGIC {
                    return Err(bad("the trailer's magic bytes are wrong"));
                }
                let expected = *r.hasher.finalize().as_bytes();
                let mut sum = [0u8; 32];
                r.inner.read_exact(&mut sum).map_err(|_| {
                    bad("the file is truncated: it ends inside the trailer's checksum")
                })?;
                if sum != expected {
                    return Err(bad(
                        "the checksum does not match the contents (the file is corrupt)",
                    ));
                }
                let mut extra = [0u8; 1];
                match r.inner.read(&mut extra) {
                    Ok(0) => {}
                    Ok(_) => return Err(bad("unexpected bytes after the trailer")),
                    Err(e) => return Err(bad(format!("reading past the trailer: {e}"))),
                }
                return Ok((
                    header,
                    BundleSummary {
                        objects: seen.len() as u64,
                        object_bytes,
                        file_bytes: r.pos + 32,
                        checksum: sum,
                        deltas,
                        unresolved,
                        dictionaries: dictionary_order,
                    },
                ));
            }
            other => {
                return Err(bad(format!(
                    "unknown section tag 0x{other:02x} at byte {at}"
                )));
            }
        }
    }
}

/// Looks up a delta's base object: its canonical bytes, or `None` when it is not available.
pub type Bases<'a> = dyn FnMut(&ObjectId) -> Result<Option<Vec<u8>>, BundleError> + 'a;

/// A base lookup that never finds anything (verification without a repository).
pub fn no_bases(_: &ObjectId) -> Result<Option<Vec<u8>>, BundleError> {
    Ok(None)
}

enum Delta {
    Rebuilt(ObjectId, Vec<u8>),
    Unresolved(ObjectId, ObjectId),
}

/// Rebuilds a delta record's object from its base, checking its length and hash.
fn resolve_delta(record: &[u8], bases: &mut Bases<'_>) -> Result<Delta, String> {
    if record.len() < DELTA_HEADER_LEN {
        return Err(format!(
            "it is {} bytes, shorter than its header",
            record.len()
        ));
    }
    let id = ObjectId::from_slice(&record[..32]).ok_or("short target id")?;
    let base_id = ObjectId::from_slice(&record[32..64]).ok_or("short base id")?;
    let len = u32::from_le_bytes([record[64], record[65], record[66], record[67]]);
    if len == 0 || len > MAX_OBJECT_SIZE {
        return Err(format!(
            "object {id} declares {len} bytes (allowed: 1 to {MAX_OBJECT_SIZE})"
        ));
    }
    let Some(base) = bases(&base_id).map_err(|e| e.0)? else {
        return Ok(Delta::Unresolved(id, base_id));
    };
    let mut dec = zstd::stream::read::Decoder::with_dictionary(&record[DELTA_HEADER_LEN..], &base)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let got = (&mut dec)
        .take(u64::from(len) + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("object {id}: zstd: {e}"))?;
    if got as u64 != u64::from(len) {
        return Err(format!(
            "object {id} rebuilds to another length than the declared {len}"
        ));
    }
    let actual = ObjectId::hash(&out);
    if actual != id {
        return Err(format!("object {id} rebuilds to bytes hashing to {actual}"));
    }
    Ok(Delta::Rebuilt(id, out))
}

/// Canonical bytes a reader may unframe in one batch before checking and visiting them.
const VERIFY_BATCH: u64 = 8 << 20;

/// The canonical length a stored value declares (0 when it is malformed: unframing says why).
fn declared_len(stored: &[u8]) -> u64 {
    match stored {
        [0, rest @ ..] => rest.len() as u64,
        [1 | 2, a, b, c, d, ..] => u64::from(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => 0,
    }
}

/// An object a verifying thread unframed, hashed and header-checked.
struct Unframed {
    id: ObjectId,
    kind: Kind,
    canonical: Vec<u8>,
}

/// Why a record was rejected, before its place in the file is added to the message.
enum Rejected {
    /// The stored value does not unframe (or is too large).
    Corrupt(String),
    /// The canonical bytes have no valid object header.
    Malformed(ObjectId, String),
    /// The record's kind byte names another kind than the object's header.
    WrongKind(ObjectId, u8, Kind),
    /// The caller's check failed (its message is complete).
    Check(BundleError),
}

impl Rejected {
    /// The error for the record at offset `p` of the chunk at byte `at`.
    fn explain(self, p: usize, at: u64) -> BundleError {
        match self {
            Rejected::Corrupt(why) => bad(format!(
                "the record at offset {p} of the chunk at byte {at} is corrupt: {why}"
            )),
            Rejected::Malformed(id, why) => bad(format!(
                "object {id} (chunk at byte {at}) is malformed: {why}"
            )),
            Rejected::WrongKind(id, byte, kind) => bad(format!(
                "the record of object {id} says kind {byte} but the object is a {kind}"
            )),
            Rejected::Check(e) => e,
        }
    }
}

/// The kind of the object `canonical` (whose id is `id`), checked against a record's kind.
fn kind_of(id: ObjectId, canonical: &[u8], record_kind: u8) -> Result<Kind, Rejected> {
    let (kind, _, _) =
        object::split_header(canonical).map_err(|e| Rejected::Malformed(id, e.to_string()))?;
    if kind as u8 != record_kind {
        return Err(Rejected::WrongKind(id, record_kind, kind));
    }
    Ok(kind)
}

/// Unframes, hashes and header-checks one whole record, then runs `check` on it.
fn verify_record<T>(
    kind_byte: u8,
    stored: &[u8],
    dicts: &BTreeMap<DictTag, Arc<Dictionary>>,
    check: &(dyn Fn(&BundleObject<'_>) -> Result<T, BundleError> + Sync),
) -> Result<(Unframed, T), Rejected> {
    if kind_byte == Kind::Dict as u8 && frame_dict_tag(stored).is_some() {
        return Err(Rejected::Corrupt(
            "a dictionary is stored compressed with a dictionary".into(),
        ));
    }
    let canonical = unframe_with(stored, &mut |tag| match dicts.get(&tag) {
        Some(d) => Ok(vec![Arc::clone(d)]),
        None => Err(format!(
            "it is compressed with dictionary {}, which the bundle does not carry before it",
            tag_hex(&tag)
        )),
    })
    .map_err(Rejected::Corrupt)?;
    // A raw stored value may be a few bytes longer than the largest object.
    if canonical.len() > MAX_OBJECT_SIZE as usize {
        return Err(Rejected::Corrupt(format!(
            "it holds {} bytes, more than the {MAX_OBJECT_SIZE}-byte object limit",
            canonical.len()
        )));
    }
    let id = ObjectId::hash(&canonical);
    let kind = kind_of(id, &canonical, kind_byte)?;
    let extra = check(&BundleObject {
        id,
        kind,
        canonical: &canonical,
        stored: Some(stored),
    })
    .map_err(Rejected::Check)?;
    Ok((
        Unframed {
            id,
            kind,
            canonical,
        },
        extra,
    ))
}

/// What verifying one whole record gives: the object and what the caller's check returned.
type RecordResult<T> = Result<(Unframed, T), Rejected>;

/// Verifies whole records (kind byte, stored value) on two threads, each taking the next
/// unclaimed record, so neither waits while the other has work; results stay in order.
fn verify_records<T: Send>(
    records: &[(u8, &[u8])],
    dicts: &BTreeMap<DictTag, Arc<Dictionary>>,
    check: &(dyn Fn(&BundleObject<'_>) -> Result<T, BundleError> + Sync),
) -> Vec<RecordResult<T>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let work = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((kind_byte, stored)) = records.get(i) else {
                return out;
            };
            out.push((i, verify_record(*kind_byte, stored, dicts, check)));
        }
    };
    let mut slots: Vec<Option<RecordResult<T>>> = std::iter::repeat_with(|| None)
        .take(records.len())
        .collect();
    let mut place = |done: Vec<(usize, RecordResult<T>)>| {
        for (i, r) in done {
            slots[i] = Some(r);
        }
    };
    if records.len() < 2 {
        place(work());
    } else {
        std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("kdk-verify".into())
                .spawn_scoped(scope, work);
            // Without a second thread (it could not start) this one does everything.
            place(work());
            if let Ok(h) = helper {
                // A panicked helper leaves its claimed slots empty: reported as unverified.
                if let Ok(done) = h.join() {
                    place(done);
                }
            }
        });
    }
    slots
        .into_iter()
        .map(|r| r.unwrap_or(Err(Rejected::Corrupt("it was not verified".into()))))
        .collect()
}
