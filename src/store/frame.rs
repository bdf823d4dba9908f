//! Stored-value framing: a codec byte, then raw or zstd-compressed canonical bytes.
//!
//! Layout (see `objects_format.md`, "Stored values"):
//! - `0x00` + canonical bytes (stored raw);
//! - `0x01` + uncompressed length (u32 little-endian) + one zstd frame.

use std::cell::RefCell;

/// Largest canonical object accepted when decompressing (guards against decompression bombs).
pub const MAX_OBJECT_SIZE: u32 = 256 << 20;

const CODEC_RAW: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// Objects smaller than this are stored raw: compression would not pay for its header.
const MIN_COMPRESS_LEN: usize = 96;
const ZSTD_LEVEL: i32 = 1;

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Frames canonical bytes for storage, compressing when it saves at least an eighth.
pub fn frame(canonical: &[u8]) -> Vec<u8> {
    if canonical.len() >= MIN_COMPRESS_LEN && canonical.len() <= MAX_OBJECT_SIZE as usize {
        let compressed = COMPRESSOR.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_none() {
                *c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
            }
            c.as_mut().and_then(|c| c.compress(canonical).ok())
        });
        if let Some(z) = compressed {
            if z.len() + 5 < canonical.len() - canonical.len() / 8 {
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

/// Recovers canonical bytes from a stored value; the error says what is wrong with the frame.
pub fn unframe(stored: &[u8]) -> Result<Vec<u8>, String> {
    match stored.first() {
        None => Err("stored value is empty".into()),
        Some(&CODEC_RAW) => Ok(stored[1..].to_vec()),
        Some(&CODEC_ZSTD) => {
            if stored.len() < 5 {
                return Err("compressed frame is truncated".into());
            }
            let len = u32::from_le_bytes([stored[1], stored[2], stored[3], stored[4]]);
            if len > MAX_OBJECT_SIZE {
                return Err(format!(
                    "declared size {len} exceeds the {MAX_OBJECT_SIZE}-byte limit"
                ));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

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
