//! Object ids: BLAKE3-256 digests of canonical object bytes, and typed wrappers per kind.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::object::Kind;

/// Length of an object id in bytes.
pub const ID_LEN: usize = 32;

/// Minimum number of hex digits accepted as an abbreviated id.
pub const MIN_PREFIX_HEX: usize = 4;

/// The BLAKE3-256 digest of an object's canonical bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId(pub [u8; ID_LEN]);

impl ObjectId {
    /// Hashes canonical object bytes into their id.
    pub fn hash(canonical: &[u8]) -> Self {
        ObjectId(*blake3::hash(canonical).as_bytes())
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// Builds an id from a 32-byte slice.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; ID_LEN]>::try_from(bytes).ok().map(ObjectId)
    }

    /// Full lowercase hex form (64 characters).
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// The first 12 hex digits, as shown in short listings.
    pub fn short(&self) -> String {
        let mut s = self.to_hex();
        s.truncate(12);
        s
    }

    /// Parses a full 64-digit hex id.
    pub fn from_hex(s: &str) -> Result<Self, IdParseError> {
        if s.len() != ID_LEN * 2 {
            return Err(IdParseError::Length(s.to_string()));
        }
        let bytes = hex_decode_prefix(s)?;
        Ok(ObjectId::from_slice(&bytes).expect("64 hex digits decode to 32 bytes"))
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.short())
    }
}

/// Why a string is not a valid id or id prefix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdParseError {
    /// The string is not 64 hex digits long.
    #[error("'{0}' is not a full object id (expected 64 hex digits)")]
    Length(String),
    /// A character is not a lowercase or uppercase hex digit.
    #[error("'{0}' is not a hex object id")]
    NotHex(String),
    /// An abbreviated id is shorter than [`MIN_PREFIX_HEX`].
    #[error(
        "'{0}' is too short to be an abbreviated id (need at least {MIN_PREFIX_HEX} hex digits)"
    )]
    TooShort(String),
}

/// A parsed hex prefix of an id: whole bytes plus an optional trailing nibble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPrefix {
    bytes: Vec<u8>,
    odd_nibble: Option<u8>,
    text: String,
}

impl IdPrefix {
    /// Parses an abbreviated id of at least [`MIN_PREFIX_HEX`] and at most 64 hex digits.
    pub fn parse(s: &str) -> Result<Self, IdParseError> {
        if s.len() < MIN_PREFIX_HEX {
            return Err(IdParseError::TooShort(s.to_string()));
        }
        if s.len() > ID_LEN * 2 {
            return Err(IdParseError::Length(s.to_string()));
        }
        let even = s.len() / 2 * 2;
        let bytes = hex_decode_prefix(&s[..even])?;
        let odd_nibble = if even < s.len() {
            Some(nibble(s.as_bytes()[even]).ok_or_else(|| IdParseError::NotHex(s.to_string()))?)
        } else {
            None
        };
        Ok(IdPrefix {
            bytes,
            odd_nibble,
            text: s.to_ascii_lowercase(),
        })
    }

    /// The whole bytes of the prefix, suitable for a byte-prefix scan.
    pub fn byte_prefix(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &ObjectId) -> bool {
        if !id.0.starts_with(&self.bytes) {
            return false;
        }
        match self.odd_nibble {
            Some(n) => id.0[self.bytes.len()] >> 4 == n,
            None => true,
        }
    }

    /// The prefix as typed (lowercased).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn hex_decode_prefix(s: &str) -> Result<Vec<u8>, IdParseError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => return Err(IdParseError::NotHex(s.to_string())),
        }
    }
    Ok(out)
}

/// Decodes hex text (either case) into bytes; `None` for an odd length or a non-hex digit.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    hex_decode_prefix(s).ok()
}

/// Lowercase hex encoding of arbitrary bytes.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// An id that names an object of one known kind.
pub trait TypedId: Copy + Eq + Ord + fmt::Debug + fmt::Display {
    /// The kind of object this id names.
    const KIND: Kind;
    /// Wraps an untyped id; the caller asserts the object has this kind.
    fn from_object_id(id: ObjectId) -> Self;
    /// The untyped id.
    fn object_id(&self) -> ObjectId;
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(ObjectId);

        impl $name {
            /// Wraps an untyped id; the caller asserts the object has this kind.
            pub fn new(id: ObjectId) -> Self {
                $name(id)
            }
            /// The untyped id.
            pub fn id(&self) -> ObjectId {
                self.0
            }
            /// Full lowercase hex form.
            pub fn to_hex(&self) -> String {
                self.0.to_hex()
            }
            /// The first 12 hex digits.
            pub fn short(&self) -> String {
                self.0.short()
            }
        }

        impl TypedId for $name {
            const KIND: Kind = Kind::$kind;
            fn from_object_id(id: ObjectId) -> Self {
                $name(id)
            }
            fn object_id(&self) -> ObjectId {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.short())
            }
        }
    };
}

typed_id!(
    /// Id of a [`crate::object::Blob`].
    BlobId, Blob
);
typed_id!(
    /// Id of a prolly tree node.
    NodeId, Node
);
typed_id!(
    /// Id of a table schema.
    SchemaId, Schema
);
typed_id!(
    /// Id of a [`crate::object::Table`].
    TableId, Table
);
typed_id!(
    /// Id of a [`crate::object::Root`]: a whole database at one point.
    RootId, Root
);
typed_id!(
    /// Id of a [`crate::object::Commit`].
    CommitId, Commit
);
typed_id!(
    /// Id of an annotated [`crate::object::Tag`].
    TagId, Tag
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = ObjectId::hash(b"abc");
        assert_eq!(ObjectId::from_hex(&id.to_hex()), Ok(id));
        assert_eq!(id.to_hex().len(), 64);
        assert_eq!(
            id.to_hex(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }

    #[test]
    fn hex_decode_accepts_either_case_and_rejects_the_rest() {
        assert_eq!(hex_decode("00aBff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(hex_decode(""), Some(vec![]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(
            hex_encode(&hex_decode("0123456789abcdef").unwrap()),
            "0123456789abcdef"
        );
    }

    #[test]
    fn prefix_matching() {
        let id = ObjectId::hash(b"abc");
        assert!(IdPrefix::parse("6437b").unwrap().matches(&id));
        assert!(IdPrefix::parse("6437B3").unwrap().matches(&id));
        assert!(!IdPrefix::parse("6438").unwrap().matches(&id));
        assert!(!IdPrefix::parse("64371").unwrap().matches(&id));
        assert_eq!(
            IdPrefix::parse("643"),
            Err(IdParseError::TooShort("643".into()))
        );
        assert!(matches!(
            IdPrefix::parse("64zz"),
            Err(IdParseError::NotHex(_))
        ));
        assert!(matches!(
            ObjectId::from_hex("abcd"),
            Err(IdParseError::Length(_))
        ));
    }
}
