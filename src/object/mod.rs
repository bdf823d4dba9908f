//! Canonical object encoding.
//!
//! Every object is stored as its *canonical bytes*: one kind byte, one format-version byte,
//! then the kind's payload (postcard for structured kinds, raw bytes for blobs, a custom layout
//! for prolly nodes). The object id is the BLAKE3-256 hash of exactly these bytes, so any change
//! to an encoding is a format change (see `objects_format.md`).

mod commit;
mod root;

pub use commit::{Commit, Signature, Tag};
pub use root::{PackageRecord, ROOT_VERSION_REFS, Root, Table};

use serde::{Deserialize, Serialize};

use crate::id::{BlobId, ObjectId, TypedId};

/// Format version written into object headers: every kind's first version, and the only one
/// of every kind but Root (see [`Kind::newest_version`]).
pub const FORMAT_VERSION: u8 = 1;

/// The kind of an object, its first canonical byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Opaque user bytes.
    Blob = 1,
    /// A prolly tree node (leaf or internal).
    Node = 2,
    /// A table schema.
    Schema = 3,
    /// A table: schema id, row tree root, row count.
    Table = 4,
    /// A whole database: table name → table id, blobs, packages.
    Root = 5,
    /// A commit.
    Commit = 6,
    /// An annotated tag.
    Tag = 7,
    /// A zstd dictionary that stored values may be compressed with (storage only: no other
    /// object references one).
    Dict = 8,
}

impl Kind {
    /// All kinds, in tag order.
    pub const ALL: [Kind; 8] = [
        Kind::Blob,
        Kind::Node,
        Kind::Schema,
        Kind::Table,
        Kind::Root,
        Kind::Commit,
        Kind::Tag,
        Kind::Dict,
    ];

    /// Decodes a kind byte.
    pub fn from_u8(b: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u8 == b)
    }

    /// The newest header version byte this build reads for objects of this kind.
    pub fn newest_version(self) -> u8 {
        match self {
            Kind::Root => ROOT_VERSION_REFS,
            _ => FORMAT_VERSION,
        }
    }

    /// Lowercase name, as printed by `cat-object`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Blob => "blob",
            Kind::Node => "node",
            Kind::Schema => "schema",
            Kind::Table => "table",
            Kind::Root => "root",
            Kind::Commit => "commit",
            Kind::Tag => "tag",
            Kind::Dict => "dictionary",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let b = u8::deserialize(d)?;
        Kind::from_u8(b).ok_or_else(|| serde::de::Error::custom(format!("unknown object kind {b}")))
    }
}

/// Why canonical bytes could not be decoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than the two header bytes.
    #[error("object is truncated: {0} bytes")]
    Truncated(usize),
    /// The kind byte names no known kind.
    #[error("unknown object kind byte {0}")]
    UnknownKind(u8),
    /// The object is of another kind than the caller asked for.
    #[error("expected a {expected} object, found a {found}")]
    WrongKind {
        /// What the caller asked for.
        expected: Kind,
        /// What the header says.
        found: Kind,
    },
    /// A format version this build does not read.
    #[error("unsupported {kind} format version {version}")]
    UnsupportedVersion {
        /// Kind of the object.
        kind: Kind,
        /// Version byte found.
        version: u8,
    },
    /// The payload is malformed.
    #[error("malformed {kind} payload: {reason}")]
    Malformed {
        /// Kind of the object.
        kind: Kind,
        /// What is wrong.
        reason: String,
    },
}

/// A kind of object with a canonical encoding.
pub trait Object: Sized {
    /// The kind byte written in the header.
    const KIND: Kind;
    /// The typed id naming objects of this kind.
    type Id: TypedId;
    /// The header version byte `self` is encoded with; the payload layout follows it.
    fn version(&self) -> u8 {
        FORMAT_VERSION
    }
    /// Appends the canonical payload (everything after the two header bytes).
    fn encode_payload(&self, out: &mut Vec<u8>);
    /// Decodes a payload written by [`Object::encode_payload`] at `version`.
    fn decode_payload(payload: &[u8], version: u8) -> Result<Self, DecodeError>;
}

/// Canonical bytes of `obj`: kind byte, version byte, payload.
pub fn encode<T: Object>(obj: &T) -> Vec<u8> {
    let mut out = vec![T::KIND as u8, obj.version()];
    obj.encode_payload(&mut out);
    out
}

/// Canonical bytes and id of `obj`.
pub fn encode_with_id<T: Object>(obj: &T) -> (T::Id, Vec<u8>) {
    let bytes = encode(obj);
    (T::Id::from_object_id(ObjectId::hash(&bytes)), bytes)
}

/// The typed id `obj` would be stored under.
pub fn id_of<T: Object>(obj: &T) -> T::Id {
    encode_with_id(obj).0
}

/// Splits canonical bytes into kind, version and payload.
pub fn split_header(bytes: &[u8]) -> Result<(Kind, u8, &[u8]), DecodeError> {
    if bytes.len() < 2 {
        return Err(DecodeError::Truncated(bytes.len()));
    }
    let kind = Kind::from_u8(bytes[0]).ok_or(DecodeError::UnknownKind(bytes[0]))?;
    let version = bytes[1];
    if version == 0 || version > kind.newest_version() {
        return Err(DecodeError::UnsupportedVersion { kind, version });
    }
    Ok((kind, version, &bytes[2..]))
}

/// Decodes canonical bytes as a `T`, checking the header.
pub fn decode<T: Object>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (kind, version, payload) = split_header(bytes)?;
    if kind != T::KIND {
        return Err(DecodeError::WrongKind {
            expected: T::KIND,
            found: kind,
        });
    }
    T::decode_payload(payload, version)
}

/// Appends the postcard encoding of `value` to `out`.
pub fn postcard_encode<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    // Serializing plain data structs into a Vec cannot fail.
    let bytes = postcard::to_stdvec(value).expect("postcard encoding into a Vec is infallible");
    out.extend_from_slice(&bytes);
}

/// Decodes a whole postcard payload, requiring it to be canonical.
///
/// Trailing bytes are an error, and so is any payload that does not re-encode to the same bytes
/// (unsorted map keys, overlong varints): every value has exactly one canonical encoding.
pub fn postcard_decode<'a, T: Serialize + Deserialize<'a>>(
    kind: Kind,
    payload: &'a [u8],
) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes(payload).map_err(|e| DecodeError::Malformed {
        kind,
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed {
            kind,
            reason: format!("{} trailing bytes", rest.len()),
        });
    }
    let mut again = Vec::with_capacity(payload.len());
    postcard_encode(&value, &mut again);
    if again != payload {
        return Err(DecodeError::Malformed {
            kind,
            reason: "payload is not in canonical form".into(),
        });
    }
    Ok(value)
}

/// Opaque user bytes; the payload is the bytes themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// The content.
    pub data: Vec<u8>,
}

impl Object for Blob {
    const KIND: Kind = Kind::Blob;
    type Id = BlobId;
    fn encode_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.data);
    }
    fn decode_payload(payload: &[u8], _version: u8) -> Result<Self, DecodeError> {
        Ok(Blob {
            data: payload.to_vec(),
        })
    }
}

/// Implements [`Object`] for a serde type whose payload is its postcard encoding.
macro_rules! postcard_object {
    ($ty:ty, $kind:ident, $id:ty) => {
        impl $crate::object::Object for $ty {
            const KIND: $crate::object::Kind = $crate::object::Kind::$kind;
            type Id = $id;
            fn encode_payload(&self, out: &mut Vec<u8>) {
                $crate::object::postcard_encode(self, out)
            }
            fn decode_payload(
                payload: &[u8],
                _version: u8,
            ) -> Result<Self, $crate::object::DecodeError> {
                $crate::object::postcard_decode($crate::object::Kind::$kind, payload)
            }
        }
    };
}
pub(crate) use postcard_object;

#[cfg(test)]
mod golden;
