//! Stored-value framing: a codec byte, then raw or zstd-compressed canonical bytes.
//!
//! Layout (see `objects_format.md`, "Stored values"):
//! - `0x00` + canonical bytes (stored raw);
//! - `0x01` + uncompressed length (u32 little-endian) + one zstd frame;
//! - `0x02` + uncompressed length (u32 little-endian) + dictionary tag (4 bytes: the first
//!   bytes of the dictionary object's id) + one zstd frame compressed with that dictionary.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use zstd::zstd_safe;

use crate::id::ObjectId;
use crate::object::{FORMAT_VERSION, Kind};

/// Largest canonical object accepted when decompressing (guards against decompression bombs).
pub const MAX_OBJECT_SIZE: u32 = 256 << 20;

/// Codec byte of a raw stored value.
pub const CODEC_RAW: u8 = 0;
/// Codec byte of a zstd frame without a dictionary.
pub const CODEC_ZSTD: u8 = 1;
/// Codec byte of a zstd frame compressed with a stored dictionary.
pub const CODEC_ZSTD_DICT: u8 = 2;
/// Bytes of a dictionary tag.
pub const TAG_LEN: usize = 4;
/// Bytes before the zstd frame of a [`CODEC_ZSTD_DICT`] value: codec, length, tag.
pub const DICT_FRAME_HEADER: usize = 1 + 4 + TAG_LEN;
/// Objects smaller than this are stored raw: compression would not pay for its header.
const MIN_COMPRESS_LEN: usize = 96;
const ZSTD_LEVEL: i32 = 1;
/// zstd level of frames compressed with a dictionary when that costs little space: level −1
/// stores literals raw (fast to decode), and the dictionary's content and entropy tables make
/// up for most of what that loses.
pub const DICT_FAST_LEVEL: i8 = -1;
/// zstd level of frames compressed with a dictionary when level −1 would cost more than
/// [`FAST_LEVEL_MAX_GROWTH`] over this level (varied text needs compressed literals).
pub const DICT_SMALL_LEVEL: i8 = 1;
/// Level −1 is chosen when held-out samples compress to at most this factor of their size
/// at level 1 with the same dictionary.
///
/// Measured on held-out leaves of the first build: the diff benchmark's table (ids, short
/// names, numbers) 1.06, whose whole table then grows 1.5 % for ~10 % less node-read CPU; the
/// table benchmark's random 8–12-letter names about 1.17 (the whole table 17 % larger).
pub const FAST_LEVEL_MAX_GROWTH: f64 = 1.10;
/// Lowest and highest compression level a Dict object may name.
const LEVELS: std::ops::RangeInclusive<i8> = -7..=22;
/// The zstd dictionary format's magic number, as the first four bytes of a dictionary.
pub const ZSTD_DICT_MAGIC: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];
/// Largest dictionary payload accepted (dictionaries are trained at 16 KiB).
pub const MAX_DICT_LEN: usize = 1 << 20;

/// A dictionary tag: the first [`TAG_LEN`] bytes of a dictionary object's id.
pub type DictTag = [u8; TAG_LEN];

/// The tag of the dictionary object `id`.
pub fn dict_tag(id: &ObjectId) -> DictTag {
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&id.as_bytes()[..TAG_LEN]);
    t
}

/// A zstd dictionary object, digested for compression and decompression.
pub struct Dictionary {
    id: ObjectId,
    canonical: Vec<u8>,
    /// The zstd level frames are compressed at with it.
    level: i8,
    ddict: zstd_safe::DDict<'static>,
    /// Built on first compression: readers never need it.
    cdict: OnceLock<Option<zstd_safe::CDict<'static>>>,
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dictionary({})", self.id.short())
    }
}

impl Dictionary {
    /// Digests the canonical bytes of a Dict object (kind byte, version, zstd dictionary);
    /// the error says what is wrong with them.
    pub fn from_canonical(canonical: Vec<u8>) -> Result<Dictionary, String> {
        let (level, zstd_dict) = check_dict_canonical(&canonical)?;
        let ddict = zstd_safe::DDict::try_create(zstd_dict)
            .ok_or("zstd cannot load the dictionary (its entropy tables are malformed)")?;
        Ok(Dictionary {
            id: ObjectId::hash(&canonical),
            canonical,
            level,
            ddict,
            cdict: OnceLock::new(),
        })
    }

    /// The canonical bytes of a Dict object holding the zstd dictionary `zstd_dict`, to be
    /// used at compression level `level`.
    pub fn canonical_of(level: i8, zstd_dict: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + zstd_dict.len());
        out.push(Kind::Dict as u8);
        out.push(FORMAT_VERSION);
        out.push(level as u8);
        out.extend_from_slice(zstd_dict);
        out
    }

    /// The zstd level frames are compressed at with this dictionary.
    pub fn level(&self) -> i8 {
        self.level
    }

    /// The dictionary object's id.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// The tag frames compressed with it carry.
    pub fn tag(&self) -> DictTag {
        dict_tag(&self.id)
    }

    /// The dictionary object's canonical bytes.
    pub fn canonical(&self) -> &[u8] {
        &self.canonical
    }

    fn cdict(&self) -> Option<&zstd_safe::CDict<'static>> {
        self.cdict
            .get_or_init(|| {
                zstd_safe::CDict::try_create(&self.canonical[3..], i32::from(self.level))
            })
            .as_ref()
    }
}

/// Checks the canonical bytes of a Dict object; returns its compression level and its zstd
/// dictionary.
pub fn check_dict_canonical(canonical: &[u8]) -> Result<(i8, &[u8]), String> {
    if canonical.len() < 3 || canonical[0] != Kind::Dict as u8 || canonical[1] != FORMAT_VERSION {
        return Err("it is not a version-1 dictionary object".into());
    }
    let level = canonical[2] as i8;
    if !LEVELS.contains(&level) {
        return Err(format!(
            "its compression level {level} is outside {}..={}",
            LEVELS.start(),
            LEVELS.end()
        ));
    }
    let payload = &canonical[3..];
    // Magic, dictionary id, and at least some entropy tables.
    if payload.len() < 16 || payload[..4] != ZSTD_DICT_MAGIC {
        return Err("its payload is not a zstd dictionary (magic number missing)".into());
    }
    if payload.len() > MAX_DICT_LEN {
        return Err(format!(
            "its payload is {} bytes, more than the {MAX_DICT_LEN}-byte limit",
            payload.len()
        ));
    }
    Ok((level, payload))
}

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    /// Compression context for dictionary frames: level −1, no dictionary id in frames.
    static DICT_CCTX: RefCell<Option<zstd_safe::CCtx<'static>>> = const { RefCell::new(None) };
    static DICT_DCTX: RefCell<Option<zstd_safe::DCtx<'static>>> = const { RefCell::new(None) };
}

/// Frames canonical bytes for storage, compressing when it saves at least an eighth.
pub fn frame(canonical: &[u8]) -> Vec<u8> {
    frame_with(canonical, None)
}

/// Frames canonical bytes, compressing with `dict` when given (codec `0x02`), else without
/// (codec `0x01`); stored raw when compression saves less than an eighth.
pub fn frame_with(canonical: &[u8], dict: Option<&Dictionary>) -> Vec<u8> {
    if canonical.len() >= MIN_COMPRESS_LEN && canonical.len() <= MAX_OBJECT_SIZE as usize {
        let worth = |z: usize, header: usize| z + header < canonical.len() - canonical.len() / 8;
        if let Some(d) = dict
            && let Some(out) = compress_dict(canonical, d)
        {
            if worth(out.len() - DICT_FRAME_HEADER, DICT_FRAME_HEADER) {
                return out;
            }
        } else {
            let compressed = COMPRESSOR.with(|c| {
                let mut c = c.borrow_mut();
                if c.is_none() {
                    *c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
                }
                c.as_mut().and_then(|c| c.compress(canonical).ok())
            });
            if let Some(z) = compressed
                && worth(z.len(), 5)
            {
                let mut out = Vec::with_capacity(z.len() + 5);
                out.push(CODEC_ZSTD);
                out.extend_from_slice(&(canonical.len() as u32).to_le_bytes());
                out.extend_from_slice(&z);
                return out;
            }
        }
    }
    let mut out = Vec::with_capacity(canonical.len() + 1);
    out.push(CODEC_RAW);
    out.extend_from_slice(canonical);
    out
}

/// A whole `0x02` stored value of `canonical` compressed with `dict`, or `None` when zstd
/// fails (the caller then frames without the dictionary).
fn compress_dict(canonical: &[u8], dict: &Dictionary) -> Option<Vec<u8>> {
    let cdict = dict.cdict()?;
    DICT_CCTX.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            // The level comes with each dictionary (its CDict).
            let mut cctx = zstd_safe::CCtx::try_create()?;
            cctx.set_parameter(zstd_safe::CParameter::DictIdFlag(false))
                .ok()?;
            cctx.set_parameter(zstd_safe::CParameter::ChecksumFlag(false))
                .ok()?;
            // The value's header holds the length: the frame need not repeat it.
            cctx.set_parameter(zstd_safe::CParameter::ContentSizeFlag(false))
                .ok()?;
            *c = Some(cctx);
        }
        let cctx = c.as_mut()?;
        let mut out =
            Vec::with_capacity(DICT_FRAME_HEADER + zstd_safe::compress_bound(canonical.len()));
        out.push(CODEC_ZSTD_DICT);
        out.extend_from_slice(&(canonical.len() as u32).to_le_bytes());
        out.extend_from_slice(&dict.tag());
        let mut frame = std::io::Cursor::new(&mut out);
        frame.set_position(DICT_FRAME_HEADER as u64);
        cctx.ref_cdict(cdict).ok()?;
        let done = cctx.compress2(&mut frame, canonical);
        // The context must not keep pointing at a dictionary that may be freed.
        let _ = cctx.disable_dictionary();
        done.ok()?;
        Some(out)
    })
}

/// The dictionary tag a stored value names, if it is a `0x02` value.
pub fn frame_dict_tag(stored: &[u8]) -> Option<DictTag> {
    if stored.first() != Some(&CODEC_ZSTD_DICT) || stored.len() < DICT_FRAME_HEADER {
        return None;
    }
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&stored[5..DICT_FRAME_HEADER]);
    Some(t)
}

/// Hex form of a dictionary tag, as error messages print it.
pub fn tag_hex(tag: &DictTag) -> String {
    crate::id::hex_encode(tag)
}

/// Recovers canonical bytes from a stored value without dictionaries (codecs `0x00` and
/// `0x01`); the error says what is wrong with the frame.
pub fn unframe(stored: &[u8]) -> Result<Vec<u8>, String> {
    unframe_with(stored, &mut |tag| {
        Err(format!(
            "it is compressed with dictionary {}, which is not available here",
            tag_hex(&tag)
        ))
    })
}

/// Finds the dictionaries a `0x02` value may name by its tag (usually one; several only
/// after a tag collision, see [`unframe_with`]).
pub type DictLookup<'a> = dyn FnMut(DictTag) -> Result<Vec<Arc<Dictionary>>, String> + 'a;

/// Recovers canonical bytes from a stored value, finding dictionaries with `lookup`.
///
/// When several dictionaries share the tag, each is tried in turn and the first output
/// that decompresses to the declared length is returned: callers check its hash and, on a
/// mismatch, use [`unframe_candidates`] (a wrong dictionary cannot give the right hash).
pub fn unframe_with(stored: &[u8], lookup: &mut DictLookup<'_>) -> Result<Vec<u8>, String> {
    match DictFrame::parse(stored, lookup)? {
        None => unframe_plain(stored),
        Some(f) => {
            let mut last_err = String::new();
            for out in f.outputs(stored) {
                match out {
                    Ok(out) => return Ok(out),
                    Err(e) => last_err = e,
                }
            }
            Err(f.failed(&last_err))
        }
    }
}

/// Every decompression of a stored value: one for codecs `0x00`/`0x01`, and one per
/// dictionary with the value's tag that decompresses it to the declared length (at least
/// one, else an error).
pub fn unframe_candidates(
    stored: &[u8],
    lookup: &mut DictLookup<'_>,
) -> Result<Vec<Vec<u8>>, String> {
    let Some(f) = DictFrame::parse(stored, lookup)? else {
        return Ok(vec![unframe_plain(stored)?]);
    };
    let mut outs = Vec::with_capacity(1);
    let mut last_err = String::new();
    for out in f.outputs(stored) {
        match out {
            Ok(out) => outs.push(out),
            Err(e) => last_err = e,
        }
    }
    if outs.is_empty() {
        return Err(f.failed(&last_err));
    }
    Ok(outs)
}

/// A `0x02` value's header and the dictionaries its tag names.
struct DictFrame {
    len: usize,
    tag: DictTag,
    /// At least one.
    dicts: Vec<Arc<Dictionary>>,
}

impl DictFrame {
    /// The header of a `0x02` value and the dictionaries `lookup` finds for it (none is an
    /// error); `None` for every other codec.
    fn parse(stored: &[u8], lookup: &mut DictLookup<'_>) -> Result<Option<DictFrame>, String> {
        if stored.first() != Some(&CODEC_ZSTD_DICT) {
            return Ok(None);
        }
        let len = declared(stored, DICT_FRAME_HEADER)? as usize;
        let tag = frame_dict_tag(stored).ok_or("dictionary frame is truncated")?;
        let dicts = lookup(tag)?;
        if dicts.is_empty() {
            return Err(format!(
                "it is compressed with dictionary {}, which is missing",
                tag_hex(&tag)
            ));
        }
        Ok(Some(DictFrame { len, tag, dicts }))
    }

    /// The value decompressed with each dictionary in turn, lazily.
    fn outputs<'a>(
        &'a self,
        stored: &'a [u8],
    ) -> impl Iterator<Item = Result<Vec<u8>, String>> + 'a {
        self.dicts
            .iter()
            .map(move |d| decompress_dict(&stored[DICT_FRAME_HEADER..], self.len, d))
    }

    /// The error when no dictionary decompresses the value.
    fn failed(&self, last_err: &str) -> String {
        format!("dictionary {} frame: {last_err}", tag_hex(&self.tag))
    }
}

/// Recovers the canonical bytes of a value stored without a dictionary (codecs `0x00` and
/// `0x01`); any other first byte is an error.
fn unframe_plain(stored: &[u8]) -> Result<Vec<u8>, String> {
    match stored.first() {
        None => Err("stored value is empty".into()),
        Some(&CODEC_RAW) => Ok(stored[1..].to_vec()),
        Some(&CODEC_ZSTD) => {
            let len = declared(stored, 5)?;
            let out = DECOMPRESSOR.with(|d| {
                let mut d = d.borrow_mut();
                if d.is_none() {
                    *d = Some(zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?);
                }
                let d = d.as_mut().ok_or("no zstd decompressor")?;
                d.decompress(&stored[5..], len as usize)
                    .map_err(|e| format!("zstd: {e}"))
            })?;
            if out.len() != len as usize {
                return Err(format!(
                    "decompressed to {} bytes, frame says {len}",
                    out.len()
                ));
            }
            Ok(out)
        }
        Some(&c) => Err(format!("unknown codec byte {c}")),
    }
}

/// The declared canonical length of a compressed value whose frame starts at `header`.
fn declared(stored: &[u8], header: usize) -> Result<u32, String> {
    if stored.len() < header {
        return Err("compressed frame is truncated".into());
    }
    let len = u32::from_le_bytes([stored[1], stored[2], stored[3], stored[4]]);
    if len > MAX_OBJECT_SIZE {
        return Err(format!(
            "declared size {len} exceeds the {MAX_OBJECT_SIZE}-byte limit"
        ));
    }
    Ok(len)
}

/// Decompresses one dictionary frame to exactly `len` bytes.
fn decompress_dict(frame: &[u8], len: usize, dict: &Dictionary) -> Result<Vec<u8>, String> {
    DICT_DCTX.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(zstd_safe::DCtx::try_create().ok_or("no zstd decompression context")?);
        }
        let d = d.as_mut().ok_or("no zstd decompression context")?;
        let mut out: Vec<u8> = Vec::with_capacity(len);
        d.decompress_using_ddict(&mut out, frame, &dict.ddict)
            .map_err(|code| format!("zstd: {}", zstd_safe::get_error_name(code)))?;
        if out.len() != len {
            return Err(format!(
                "decompressed to {} bytes, frame says {len}",
                out.len()
            ));
        }
        Ok(out)
    })
}

/// Trains a zstd dictionary of at most `size` bytes from `samples`; `None` when zstd finds
/// too little to learn from (the caller then keeps compressing without one).
pub fn train(samples: &[&[u8]], size: usize) -> Option<Vec<u8>> {
    train_with(samples, size, TRAIN_K, TRAIN_D, TRAIN_F, TRAIN_ACCEL)
}

/// [`train`] with explicit fastCover parameters.
pub(crate) fn train_with(
    samples: &[&[u8]],
    size: usize,
    k: std::ffi::c_uint,
    d: std::ffi::c_uint,
    f: std::ffi::c_uint,
    accel: std::ffi::c_uint,
) -> Option<Vec<u8>> {
    let total: usize = samples.iter().map(|s| s.len()).sum();
    let mut flat = Vec::with_capacity(total);
    let mut sizes = Vec::with_capacity(samples.len());
    for s in samples {
        flat.extend_from_slice(s);
        sizes.push(s.len());
    }
    let nb = std::ffi::c_uint::try_from(sizes.len()).ok()?;
    if !fast_cover_abi_known() {
        // Another zstd than the one `FastCoverParams` mirrors: its safe default trainer
        // (slower, and a different dictionary, which only changes frames, never ids).
        let dict = zstd::dict::from_continuous(&flat, &sizes, size).ok()?;
        return (dict.len() >= 16 && dict[..4] == ZSTD_DICT_MAGIC).then_some(dict);
    }
    let params = FastCoverParams {
        k,
        d,
        f,
        steps: 0,
        nb_threads: 0,
        split_point: 1.0,
        accel,
        shrink_dict: 0,
        shrink_dict_max_regression: 0,
        z_params: ZdictParams {
            compression_level: i32::from(DICT_FAST_LEVEL),
            notification_level: 0,
            dict_id: 0,
        },
    };
    let mut dict = vec![0u8; size];
    // SAFETY: the buffers are valid for the lengths passed (`dict` for `size` bytes, `flat`
    // holding exactly the sum of `sizes`), and the parameter struct matches zstd 1.5's
    // `ZDICT_fastCover_params_t` (the version `zstd-sys` bundles, pinned in Cargo.lock).
    let written = unsafe {
        ZDICT_trainFromBuffer_fastCover(
            dict.as_mut_ptr().cast(),
            dict.len(),
            flat.as_ptr().cast(),
            sizes.as_ptr(),
            nb,
            params,
        )
    };
    // SAFETY: a pure function of the code.
    if unsafe { zstd_safe::zstd_sys::ZDICT_isError(written) } != 0 || written > size {
        return None;
    }
    dict.truncate(written);
    (dict.len() >= 16 && dict[..4] == ZSTD_DICT_MAGIC).then_some(dict)
}

/// The level to use a freshly trained zstd dictionary at: [`DICT_FAST_LEVEL`] unless that
/// makes `samples` (not used for training) more than [`FAST_LEVEL_MAX_GROWTH`] times larger
/// than [`DICT_SMALL_LEVEL`] with the same dictionary does (level −1 stores literals raw,
/// which costs little on numbers and repeated text but much on varied text), else
/// [`DICT_SMALL_LEVEL`]. Deterministic, like training.
pub fn choose_level(samples: &[&[u8]], zstd_dict: &[u8]) -> i8 {
    let at = |level: i8| Dictionary::from_canonical(Dictionary::canonical_of(level, zstd_dict));
    let (Ok(fast), Ok(small)) = (at(DICT_FAST_LEVEL), at(DICT_SMALL_LEVEL)) else {
        return DICT_SMALL_LEVEL;
    };
    let (mut fast_len, mut small_len) = (0usize, 0usize);
    for s in samples {
        fast_len += frame_with(s, Some(&fast)).len();
        small_len += frame_with(s, Some(&small)).len();
    }
    if fast_len as f64 <= small_len as f64 * FAST_LEVEL_MAX_GROWTH {
        DICT_FAST_LEVEL
    } else {
        DICT_SMALL_LEVEL
    }
}

/// Whether the linked zstd is a 1.5 release, whose `ZDICT_fastCover_params_t` layout
/// [`FastCoverParams`] mirrors (the struct sits in zdict.h's static-linking-only section, which
/// zstd may change between minor versions).
fn fast_cover_abi_known() -> bool {
    zstd_safe::version_number() / 100 == 105
}

/// fastCover segment size (bytes); measured on bench leaves: 50 beats 30, 64, 200 and 1000.
const TRAIN_K: std::ffi::c_uint = 50;
/// fastCover d-mer size.
const TRAIN_D: std::ffi::c_uint = 8;
/// log2 of fastCover's frequency table (6 × 2^f bytes of memory).
const TRAIN_F: std::ffi::c_uint = 18;
/// fastCover acceleration (1 = slowest, most accurate; up to 10).
const TRAIN_ACCEL: std::ffi::c_uint = 1;

/// zstd's `ZDICT_params_t`.
#[repr(C)]
struct ZdictParams {
    compression_level: std::ffi::c_int,
    notification_level: std::ffi::c_uint,
    dict_id: std::ffi::c_uint,
}

/// zstd's `ZDICT_fastCover_params_t` (zdict.h, static-linking-only section).
#[repr(C)]
struct FastCoverParams {
    k: std::ffi::c_uint,
    d: std::ffi::c_uint,
    f: std::ffi::c_uint,
    steps: std::ffi::c_uint,
    nb_threads: std::ffi::c_uint,
    split_point: f64,
    accel: std::ffi::c_uint,
    shrink_dict: std::ffi::c_uint,
    shrink_dict_max_regression: std::ffi::c_uint,
    z_params: ZdictParams,
}

unsafe extern "C" {
    /// fastCover training with fixed parameters (one pass, single-threaded, deterministic);
    /// compiled into `zstd-sys`'s library with its dictionary builder.
    fn ZDICT_trainFromBuffer_fastCover(
        dict_buffer: *mut std::ffi::c_void,
        dict_buffer_capacity: usize,
        samples_buffer: *const std::ffi::c_void,
        samples_sizes: *const usize,
        nb_samples: std::ffi::c_uint,
        parameters: FastCoverParams,
    ) -> usize;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_zstd_matches_the_fast_cover_struct() {
        // Fails when a dependency update brings another zstd: check `FastCoverParams`
        // against its zdict.h, then widen `fast_cover_abi_known`.
        assert!(
            fast_cover_abi_known(),
            "zstd {}",
            zstd_safe::version_number()
        );
    }

    #[test]
    fn small_values_stay_raw() {
        let f = frame(b"hello");
        assert_eq!(f, b"\0hello");
        assert_eq!(unframe(&f).unwrap(), b"hello");
    }

    #[test]
    fn compressible_values_are_compressed() {
        let data = vec![7u8; 10_000];
        let f = frame(&data);
        assert_eq!(f[0], CODEC_ZSTD);
        assert!(f.len() < 100);
        assert_eq!(unframe(&f).unwrap(), data);
    }

    #[test]
    fn bad_frames_are_errors() {
        assert!(unframe(b"").is_err());
        assert!(unframe(b"\x09abc").is_err());
        assert!(unframe(b"\x01\x10").is_err());
        let mut f = frame(&vec![7u8; 10_000]);
        f[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unframe(&f).unwrap_err().contains("limit"));
        let mut f = frame(&vec![7u8; 10_000]);
        f[1..5].copy_from_slice(&100u32.to_le_bytes());
        assert!(unframe(&f).is_err());
    }
}
