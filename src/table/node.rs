//! Prolly tree nodes: the canonical payload layout and a validating, zero-copy decoder.
//!
//! Payload (see `objects_format.md`, "Prolly tree nodes"):
//! `level u8`, `count varint`, `count` key-length varints, the keys back to back, then for a
//! leaf `count` value-length varints and the values back to back, and for an internal node
//! `count` 32-byte child ids followed by `count` subtree row counts (varint u64).

use std::cmp::Ordering;

use crate::id::{ID_LEN, NodeId, ObjectId};
use crate::object::{DecodeError, FORMAT_VERSION, Kind, Object};

/// Bytes of a child entry's value as seen by the chunker: child id then row count (u64 LE).
pub(crate) const CHILD_ENTRY_LEN: usize = ID_LEN + 8;

/// A decoded prolly tree node. Keys and values are slices into the node's own bytes.
///
/// A leaf (level 0) holds sorted `(key, value)` rows; an internal node holds, per child, the
/// last key of the child's subtree, the child's id and the number of rows under it.
#[derive(Clone)]
pub struct Node {
    /// Canonical bytes (or a bare payload); `start` is where the payload begins.
    buf: Vec<u8>,
    start: u32,
    level: u8,
    /// Offsets into `buf`, in one allocation: `len + 1` key offsets (key `i` is
    /// `buf[offs[i]..offs[i + 1]]`), then for a leaf `len + 1` value offsets.
    offs: Vec<u32>,
    /// Number of entries.
    len: u32,
    /// Internal: offset of the child id array.
    children_at: u32,
    /// Internal: subtree row counts.
    counts: Vec<u64>,
    /// Rows in this node's subtree.
    total: u64,
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.payload() == other.payload()
    }
}

impl Eq for Node {}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("level", &self.level)
            .field("len", &self.len())
            .field("rows", &self.total)
            .finish()
    }
}

fn malformed(reason: impl Into<String>) -> DecodeError {
    DecodeError::Malformed {
        kind: Kind::Node,
        reason: reason.into(),
    }
}

/// Byte-wise lexicographic order of two keys, as `<[u8]>::cmp`.
///
/// Compares eight bytes at a time inline: keys are short (an INT key is eight bytes), and a
/// `memcmp` call per comparison was a tenth of the time of a cold diff's node decoding.
#[inline]
pub(crate) fn cmp_keys(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
        x.copy_from_slice(&a[i..i + 8]);
        y.copy_from_slice(&b[i..i + 8]);
        if x != y {
            return u64::from_be_bytes(x).cmp(&u64::from_be_bytes(y));
        }
        i += 8;
    }
    for k in i..n {
        if a[k] != b[k] {
            return a[k].cmp(&b[k]);
        }
    }
    a.len().cmp(&b.len())
}

/// Reads a minimal LEB128 varint of at most 64 bits.
pub(crate) fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let Some(&b) = buf.get(*pos) else {
            return Err(malformed(format!("truncated varint at byte {}", *pos)));
        };
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(malformed(format!(
                "varint overflows u64 at byte {}",
                *pos - 1
            )));
        }
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            if b == 0 && shift > 0 {
                return Err(malformed(format!(
                    "non-minimal varint ending at byte {}",
                    *pos - 1
                )));
            }
            return Ok(value);
        }
        shift += 7;
    }
}

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Node {
    /// Parses a payload that starts at `start` in `buf` and runs to its end.
    ///
    /// With `validate` false the key order check is skipped (only for bytes this process
    /// just encoded itself); structural checks always run.
    pub(crate) fn parse(buf: Vec<u8>, start: usize, validate: bool) -> Result<Node, DecodeError> {
        if buf.len() > u32::MAX as usize {
            return Err(malformed(format!(
                "node of {} bytes is too large",
                buf.len()
            )));
        }
        let end = buf.len();
        let mut pos = start;
        let Some(&level) = buf.get(pos) else {
            return Err(malformed("missing level byte"));
        };
        pos += 1;
        let count = read_varint(&buf, &mut pos)?;
        // Every entry takes at least one length byte per column (and 33 bytes when internal).
        let min_entry = if level == 0 { 2 } else { 1 + ID_LEN as u64 + 1 };
        if count.saturating_mul(min_entry) > (end - pos) as u64 {
            return Err(malformed(format!(
                "entry count {count} does not fit in {} bytes",
                end - pos
            )));
        }
        if level > 0 && count == 0 {
            return Err(malformed(format!(
                "internal node at level {level} has no children"
            )));
        }
        let n = count as usize;
        let mut offs = Vec::with_capacity(if level == 0 { 2 * (n + 1) } else { n + 1 });
        let keys_len = read_lengths(&buf, &mut pos, n, &mut offs, "key")?;
        if keys_len > (end - pos) as u64 {
            return Err(malformed(format!(
                "keys need {keys_len} bytes, {} remain",
                end - pos
            )));
        }
        pos += keys_len as usize;
        let mut node = Node {
            buf: Vec::new(),
            start: start as u32,
            level,
            offs,
            // `count` fits: its entries take at least a byte each of a buffer under 4 GiB.
            len: n as u32,
            children_at: 0,
            counts: Vec::new(),
            total: 0,
        };
        if level == 0 {
            let vals_len = read_lengths(&buf, &mut pos, n, &mut node.offs, "value")?;
            if vals_len > (end - pos) as u64 {
                return Err(malformed(format!(
                    "values need {vals_len} bytes, {} remain",
                    end - pos
                )));
            }
            pos += vals_len as usize;
            node.total = count;
        } else {
            if (n * ID_LEN) > end - pos {
                return Err(malformed("child ids are truncated"));
            }
            node.children_at = pos as u32;
            pos += n * ID_LEN;
            let mut counts = Vec::with_capacity(n);
            let mut total: u64 = 0;
            for i in 0..n {
                let c = read_varint(&buf, &mut pos)?;
                if c == 0 {
                    return Err(malformed(format!("child {i} has a row count of zero")));
                }
                total = total
                    .checked_add(c)
                    .ok_or_else(|| malformed("subtree row counts overflow u64"))?;
                counts.push(c);
            }
            node.counts = counts;
            node.total = total;
        }
        if pos != end {
            return Err(malformed(format!("{} trailing bytes", end - pos)));
        }
        node.buf = buf;
        if validate {
            let (buf, offs) = (&node.buf, node.key_offs());
            if let Some(first) = offs.get(..2) {
                let mut prev = &buf[first[0] as usize..first[1] as usize];
                for (i, w) in offs[1..].windows(2).enumerate() {
                    let key = &buf[w[0] as usize..w[1] as usize];
                    if cmp_keys(prev, key) != Ordering::Less {
                        return Err(malformed(format!(
                            "keys {i} and {} are not strictly ascending",
                            i + 1
                        )));
                    }
                    prev = key;
                }
            }
        }
        Ok(node)
    }

    /// Parses verified canonical bytes (header included) of a node.
    pub(crate) fn from_canonical(canonical: Vec<u8>) -> Result<Node, DecodeError> {
        let (kind, version, _) = crate::object::split_header(&canonical)?;
        if kind != Kind::Node {
            return Err(DecodeError::WrongKind {
                expected: Kind::Node,
                found: kind,
            });
        }
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion { kind, version });
        }
        Node::parse(canonical, 2, true)
    }

    /// The node's level: 0 for a leaf, parents are one above their children.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Whether this is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.level == 0
    }

    /// Number of entries (rows in a leaf, children in an internal node).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The `len + 1` key offsets.
    #[inline]
    fn key_offs(&self) -> &[u32] {
        &self.offs[..=self.len as usize]
    }

    /// The `len + 1` value offsets of a leaf; empty for an internal node.
    #[inline]
    fn val_offs(&self) -> &[u32] {
        self.offs.get(self.len as usize + 1..).unwrap_or(&[])
    }

    /// Whether the node has no entries (only an empty tree's root leaf).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows in this node's subtree.
    pub fn row_count(&self) -> u64 {
        self.total
    }

    /// Key of entry `i` (for an internal node, the last key of child `i`'s subtree).
    ///
    /// Panics if `i >= len()`.
    pub fn key(&self, i: usize) -> &[u8] {
        assert!(
            i < self.len as usize,
            "key {i} of a node of {} entries",
            self.len
        );
        &self.buf[self.offs[i] as usize..self.offs[i + 1] as usize]
    }

    /// Value of row `i` of a leaf; empty for an internal node.
    ///
    /// Panics if `i >= len()`.
    pub fn value(&self, i: usize) -> &[u8] {
        match self.val_offs().get(i..i + 2) {
            Some(w) => &self.buf[w[0] as usize..w[1] as usize],
            None => &[],
        }
    }

    /// Id of child `i` of an internal node.
    ///
    /// Panics if the node is a leaf or `i >= len()`.
    pub fn child(&self, i: usize) -> NodeId {
        assert!(self.level > 0, "leaf nodes have no children");
        let at = self.children_at as usize + i * ID_LEN;
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&self.buf[at..at + ID_LEN]);
        NodeId::new(ObjectId(id))
    }

    /// Rows under child `i` of an internal node.
    ///
    /// Panics if the node is a leaf or `i >= len()`.
    pub fn child_rows(&self, i: usize) -> u64 {
        self.counts[i]
    }

    /// The entry's value as the chunker sees it: the row value, or child id + count (u64 LE).
    pub(crate) fn entry_value<'a>(
        &'a self,
        i: usize,
        scratch: &'a mut [u8; CHILD_ENTRY_LEN],
    ) -> &'a [u8] {
        if self.level == 0 {
            self.value(i)
        } else {
            let at = self.children_at as usize + i * ID_LEN;
            scratch[..ID_LEN].copy_from_slice(&self.buf[at..at + ID_LEN]);
            scratch[ID_LEN..].copy_from_slice(&self.counts[i].to_le_bytes());
            &scratch[..]
        }
    }

    /// Index of `key` (`Ok`) or where it would be inserted (`Err`).
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match cmp_keys(self.key(mid), key) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// How many rows from row `i` of this leaf on equal (in key and value) the rows from
    /// row `j` of leaf `other` on, pairwise.
    ///
    /// Compares offset tables and then key and value bytes as whole ranges, a block of rows
    /// at a time, which is much cheaper than comparing row by row when long runs are equal
    /// (as in a diff of leaves that differ in a row or two). Blocks start at eight rows and
    /// double, so the cost stays proportional to the run found, and a row that differs
    /// right away (as in a diff of a bulk update) costs a comparison of a few rows.
    /// Both nodes must be leaves with `i <= len()` and `j <= other.len()`.
    pub(crate) fn equal_run(&self, i: usize, other: &Node, j: usize) -> usize {
        const FIRST_BLOCK_ROWS: usize = 8;
        const MAX_BLOCK_ROWS: usize = 64;
        let n = (self.len() - i).min(other.len() - j);
        let (ak, av) = (self.key_offs(), self.val_offs());
        let (bk, bv) = (other.key_offs(), other.val_offs());
        let mut run = 0;
        let mut block = FIRST_BLOCK_ROWS;
        while run < n {
            let c = (n - run).min(block);
            let (x, y) = (i + run, j + run);
            let c = c
                .min(same_lengths(&ak[x..=x + c], &bk[y..=y + c]))
                .min(same_lengths(&av[x..=x + c], &bv[y..=y + c]));
            let c = equal_prefix_entries(&self.buf, &ak[x..=x + c], &other.buf, &bk[y..=y + c]);
            let c = equal_prefix_entries(&self.buf, &av[x..=x + c], &other.buf, &bv[y..=y + c]);
            run += c;
            if c < block {
                break;
            }
            block = (block * 2).min(MAX_BLOCK_ROWS);
        }
        run
    }

    /// Approximate heap bytes held, for cache accounting.
    pub(crate) fn heap_size(&self) -> usize {
        self.buf.capacity() + 4 * self.offs.capacity() + 8 * self.counts.capacity() + 96
    }

    /// The payload bytes (everything after the object header).
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.start as usize..]
    }
}

/// Number of leading entries with equal lengths in two offset tables (`len - 1` entries
/// each at most).
fn same_lengths(a: &[u32], b: &[u32]) -> usize {
    let (Some(&a0), Some(&b0)) = (a.first(), b.first()) else {
        return 0;
    };
    a[1..]
        .iter()
        .zip(&b[1..])
        .position(|(x, y)| x.wrapping_sub(a0) != y.wrapping_sub(b0))
        .unwrap_or(a.len().min(b.len()).saturating_sub(1))
}

/// Given offset tables of `n + 1` entries with equal entry lengths, the number of leading
/// entries whose bytes are equal.
fn equal_prefix_entries(abuf: &[u8], aoffs: &[u32], bbuf: &[u8], boffs: &[u32]) -> usize {
    let n = aoffs.len() - 1;
    let (a0, b0) = (aoffs[0] as usize, boffs[0] as usize);
    let len = aoffs[n] as usize - a0;
    let (a, b) = (&abuf[a0..a0 + len], &bbuf[b0..b0 + len]);
    if a == b {
        return n;
    }
    let Some(at) = a.iter().zip(b).position(|(x, y)| x != y) else {
        return n;
    };
    // Entries ending at or before the differing byte are equal.
    let diff_at = (a0 + at) as u32;
    aoffs[1..].partition_point(|&end| end <= diff_at)
}

/// Reads `n` length varints at `pos` and pushes `n + 1` offsets into `buf` of the entries
/// that follow them back to back (from the byte after the last varint); returns their total
/// length. When the entries would run past the end of `buf`, nothing is pushed: the caller
/// rejects that total.
fn read_lengths(
    buf: &[u8],
    pos: &mut usize,
    n: usize,
    offs: &mut Vec<u32>,
    what: &str,
) -> Result<u64, DecodeError> {
    // Lengths under 128 (nearly all) are one byte each; then the entries start `n` bytes on.
    if let Some(lens) = buf.get(*pos..*pos + n)
        && all_below_128(lens)
    {
        let at = *pos + n;
        let total: u64 = lens.iter().map(|&b| u64::from(b)).sum();
        *pos = at;
        if at as u64 + total > buf.len() as u64 {
            return Ok(total);
        }
        // Offsets within the buffer fit in u32 (the parser rejects larger buffers).
        let mut acc = at as u32;
        offs.push(acc);
        offs.extend(lens.iter().map(|&b| {
            acc += u32::from(b);
            acc
        }));
        return Ok(total);
    }
    let first = offs.len();
    let mut total: u64 = 0;
    offs.push(0);
    for i in 0..n {
        let len = match buf.get(*pos) {
            Some(&b) if b < 0x80 => {
                *pos += 1;
                u64::from(b)
            }
            _ => read_varint(buf, pos)?,
        };
        total = total
            .checked_add(len)
            .filter(|t| *t <= u32::MAX as u64)
            .ok_or_else(|| malformed(format!("{what} {i} length {len} overflows the node")))?;
        offs.push(total as u32);
    }
    if *pos as u64 + total > buf.len() as u64 {
        offs.truncate(first);
        return Ok(total);
    }
    let at = *pos as u32;
    for off in &mut offs[first..] {
        *off += at;
    }
    Ok(total)
}

/// Whether every byte is below 128 (eight at a time).
fn all_below_128(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut high = 0u64;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        high |= u64::from_ne_bytes(w);
    }
    high & 0x8080_8080_8080_8080 == 0 && chunks.remainder().iter().all(|&b| b < 0x80)
}

impl Object for Node {
    const KIND: Kind = Kind::Node;
    type Id = NodeId;

    fn encode_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.payload());
    }

    fn decode_payload(payload: &[u8], version: u8) -> Result<Self, DecodeError> {
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                kind: Kind::Node,
                version,
            });
        }
        Node::parse(payload.to_vec(), 0, true)
    }
}
