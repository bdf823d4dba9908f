//! Sorting encoded `(key, value)` pairs in bounded memory: sorted runs spill to temporary
//! files once the in-memory budget is reached, and are merged on the way out.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::error::{Error, Result};

/// Default in-memory budget (bytes of keys, values and bookkeeping).
const DEFAULT_BUDGET: usize = 256 << 20;

/// Entries whose pairs [`Gathered::fill`] copies at a time.
const GATHER: usize = 256;

/// Bytes of bookkeeping per pair, counted against the budget: its entry, and its copy while
/// [`Part::partition`] moves it.
const ENTRY_OVERHEAD: usize = 2 * std::mem::size_of::<Entry>();

/// Pairs per bucket aimed at by [`Part::partition`]: a bucket this size sorts within the
/// first-level cache. (Tests use tiny buckets, so that small inputs use many.)
const BUCKET_TARGET: usize = if cfg!(test) { 4 } else { 256 };

/// At most this many bits of key prefix choose a bucket.
const MAX_BUCKET_BITS: u32 = 16;

/// One collected pair: where its bytes are in the arena, and its row number.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// The key's first 8 bytes, big-endian, zero-padded: comparing these first orders most
    /// pairs without touching the arena (equal prefixes fall back to the full keys).
    prefix: u64,
    off: usize,
    klen: u32,
    vlen: u32,
    row: u64,
}

/// A key's first 8 bytes as a big-endian number, zero-padded.
fn prefix(key: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = key.len().min(8);
    p[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(p)
}

/// Whether a pair with key `key` (first 8 bytes `prefix`) may follow `last` without a sort.
///
/// Rows come in increasing row order, so equal keys are in order too.
fn follows(last: &Entry, arena: &[u8], prefix: u64, key: &[u8]) -> bool {
    match last.prefix.cmp(&prefix) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => arena[last.off..last.off + last.klen as usize] <= *key,
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::Io {
        op: "sorting rows in a temporary file",
        path: std::env::temp_dir(),
        source: e,
    }
}

/// Collects pairs with the row number they came from; yields them ordered by key, then row.
pub(crate) struct SortedPairs {
    budget: usize,
    arena: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<File>,
    /// Whether `entries` are already in order (pushed with non-decreasing keys): input sorted
    /// by key, common for dumps, then needs no sort.
    in_order: bool,
    /// The prefix of the first entry, and the bits in which any entry's prefix differs from
    /// it: the bits above the highest differing one are equal in every entry, so buckets
    /// are chosen by the bits just below.
    first_prefix: u64,
    differing: u64,
}

impl SortedPairs {
    /// A collector with `budget` bytes of memory (0: the default).
    pub(crate) fn new(budget: usize) -> Self {
        SortedPairs {
            budget: if budget == 0 { DEFAULT_BUDGET } else { budget },
            arena: Vec::new(),
            entries: Vec::new(),
            runs: Vec::new(),
            in_order: true,
            first_prefix: 0,
            differing: 0,
        }
    }

    /// Notes a new entry's prefix for the order check and the bucket choice.
    fn observe(&mut self, prefix: u64, key_at: usize, klen: usize) {
        match self.entries.last() {
            None => self.first_prefix = prefix,
            Some(last) => {
                if self.in_order {
                    let key = &self.arena[key_at..key_at + klen];
                    self.in_order = follows(last, &self.arena, prefix, key);
                }
                self.differing |= prefix ^ self.first_prefix;
            }
        }
    }

    /// Adds a pair.
    pub(crate) fn push(&mut self, key: &[u8], value: &[u8], row: u64) -> Result<()> {
        let too_long = || Error::Invalid(format!("row {row}: a key or value is over 4 GiB"));
        let prefix = prefix(key);
        let klen = u32::try_from(key.len()).map_err(|_| too_long())?;
        let vlen = u32::try_from(value.len()).map_err(|_| too_long())?;
        let off = self.arena.len();
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        self.observe(prefix, off, key.len());
        self.entries.push(Entry {
            prefix,
            off,
            klen,
            vlen,
            row,
        });
        if self.arena.len() + self.entries.len() * ENTRY_OVERHEAD >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Adds pairs stored back to back in `bytes` (each key, then its value; lengths in
    /// `lens`), from rows `first_row`, `first_row + 1`, …: one copy for the lot.
    pub(crate) fn push_packed(
        &mut self,
        bytes: &[u8],
        lens: &[(u32, u32)],
        first_row: u64,
    ) -> Result<()> {
        let total: u64 = lens.iter().map(|&(k, v)| u64::from(k) + u64::from(v)).sum();
        if total != bytes.len() as u64 {
            return Err(Error::Invalid(format!(
                "rows from {first_row}: {} bytes of encoded rows, but their lengths add up to {total}",
                bytes.len()
            )));
        }
        let mut off = self.arena.len();
        self.arena.extend_from_slice(bytes);
        self.entries.reserve(lens.len());
        for (row, &(klen, vlen)) in (first_row..).zip(lens) {
            let prefix = prefix(&self.arena[off..off + klen as usize]);
            self.observe(prefix, off, klen as usize);
            self.entries.push(Entry {
                prefix,
                off,
                klen,
                vlen,
                row,
            });
            off += klen as usize + vlen as usize;
        }
        if self.arena.len() + self.entries.len() * ENTRY_OVERHEAD >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Moves the entries into parts of buckets by key prefix (nothing to do when they are in
    /// order); each bucket still has to be sorted, see [`Part::sort_through`].
    fn partition(&mut self) -> Vec<Part> {
        let entries = std::mem::take(&mut self.entries);
        if self.in_order {
            return vec![Part::sorted(entries)];
        }
        Part::partition(entries, self.differing)
    }

    fn spill(&mut self) -> Result<()> {
        let mut parts = self.partition();
        let file = tempfile::tempfile().map_err(io_err)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        for part in &mut parts {
            part.sort_through(&self.arena, part.entries.len());
            for e in &part.entries {
                w.write_all(&e.klen.to_le_bytes()).map_err(io_err)?;
                w.write_all(&e.vlen.to_le_bytes()).map_err(io_err)?;
                w.write_all(&e.row.to_le_bytes()).map_err(io_err)?;
                let end = e.off + e.klen as usize + e.vlen as usize;
                w.write_all(&self.arena[e.off..end]).map_err(io_err)?;
            }
        }
        let mut file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        self.runs.push(file);
        self.arena.clear();
        self.entries.clear();
        self.in_order = true;
        self.differing = 0;
        Ok(())
    }

    /// Every pair in order.
    pub(crate) fn finish(mut self) -> Result<Merged> {
        if self.runs.is_empty() {
            // Buckets are sorted as they are reached, so the sort overlaps the tree build
            // (whose writer thread compresses meanwhile) and each bucket is still in cache
            // when its pairs are copied out.
            let parts = self.partition();
            let mut m = Merged::Memory {
                arena: self.arena,
                parts,
                part: 0,
                pos: 0,
                gathered: Gathered::default(),
            };
            m.refill();
            return Ok(m);
        }
        if !self.entries.is_empty() {
            self.spill()?;
        }
        let mut runs = Vec::with_capacity(self.runs.len());
        for f in self.runs {
            let mut r = Run {
                reader: BufReader::with_capacity(1 << 20, f),
                head: None,
            };
            r.advance()?;
            runs.push(r);
        }
        Ok(Merged::Runs(runs))
    }
}

/// Entries in buckets of increasing key prefix, sorted bucket by bucket; a partition is one
/// or more parts, each holding a range of buckets.
pub(crate) struct Part {
    entries: Vec<Entry>,
    /// Start of each bucket in `entries`, then their end.
    bounds: Vec<usize>,
    /// Buckets before this one are sorted.
    next: usize,
}

/// From this many entries on, [`Part::partition`] moves them on two threads.
const TWO_THREAD_PARTITION: usize = if cfg!(test) { 64 } else { 1 << 16 };

impl Part {
    /// Entries that are in order already: one bucket, sorted.
    fn sorted(entries: Vec<Entry>) -> Part {
        Part {
            bounds: vec![0, entries.len()],
            entries,
            next: 1,
        }
    }

    /// Moves `entries` into buckets by the prefix bits just below the highest bit set in
    /// `differing` (the bits where some prefix differs from another; the bits above it are
    /// the same in every entry, so the bucket order is the prefix order).
    ///
    /// The entries are copied once (the copy is counted in [`ENTRY_OVERHEAD`]): moving them
    /// in place would chase one cache miss after another. Large inputs are copied on two
    /// threads, each writing the buckets of one half of the prefix range into its own part.
    fn partition(entries: Vec<Entry>, differing: u64) -> Vec<Part> {
        let n = entries.len();
        let want = (n / BUCKET_TARGET)
            .max(1)
            .next_power_of_two()
            .trailing_zeros();
        let span = 64 - differing.leading_zeros();
        let bits = want.min(MAX_BUCKET_BITS).min(span);
        if bits == 0 {
            return vec![Part {
                bounds: vec![0, n],
                entries,
                next: 0,
            }];
        }
        let shift = span - bits;
        let mask = (1u64 << bits) - 1;
        let bucket = |e: &Entry| ((e.prefix >> shift) & mask) as usize;
        let count = 1usize << bits;
        let mut sizes = vec![0usize; count];
        for e in &entries {
            sizes[bucket(e)] += 1;
        }
        // Buckets `first..last` into one part.
        let gather = |first: usize, last: usize| -> Part {
            let mut bounds = Vec::with_capacity(last - first + 1);
            bounds.push(0);
            for &size in &sizes[first..last] {
                bounds.push(bounds[bounds.len() - 1] + size);
            }
            let blank = Entry {
                prefix: 0,
                off: 0,
                klen: 0,
                vlen: 0,
                row: 0,
            };
            let mut out = vec![blank; bounds[bounds.len() - 1]];
            let mut fill = bounds.clone();
            for e in &entries {
                let b = bucket(e);
                if (first..last).contains(&b) {
                    out[fill[b - first]] = *e;
                    fill[b - first] += 1;
                }
            }
            Part {
                entries: out,
                bounds,
                next: 0,
            }
        };
        if n < TWO_THREAD_PARTITION {
            return vec![gather(0, count)];
        }
        let half = count / 2;
        std::thread::scope(|scope| {
            let low = std::thread::Builder::new().spawn_scoped(scope, || gather(0, half));
            let high = gather(half, count);
            match low.map(|h| h.join()) {
                Ok(Ok(low)) => vec![low, high],
                // No second thread (or it panicked): the low half here, then.
                _ => vec![gather(0, half), high],
            }
        })
    }

    /// Sorts the buckets holding the entries before `upto`.
    fn sort_through(&mut self, arena: &[u8], upto: usize) {
        let key = |e: &Entry| &arena[e.off..e.off + e.klen as usize];
        while self.next + 1 < self.bounds.len() && self.bounds[self.next] < upto {
            let bucket = &mut self.entries[self.bounds[self.next]..self.bounds[self.next + 1]];
            bucket.sort_unstable_by(|a, b| {
                a.prefix
                    .cmp(&b.prefix)
                    .then_with(|| key(a).cmp(key(b)))
                    .then(a.row.cmp(&b.row))
            });
            self.next += 1;
        }
    }
}

/// A pair and the row number it came from.
pub(crate) type Item = (Vec<u8>, Vec<u8>, u64);

/// One spilled sorted run and its next pair.
pub(crate) struct Run {
    reader: BufReader<File>,
    head: Option<Item>,
}

impl Run {
    fn advance(&mut self) -> Result<()> {
        let mut hdr = [0u8; 16];
        match self.reader.read_exact(&mut hdr) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.head = None;
                return Ok(());
            }
            Err(e) => return Err(io_err(e)),
        }
        let word = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&hdr[i..i + 4]);
            u32::from_le_bytes(b) as usize
        };
        let mut rb = [0u8; 8];
        rb.copy_from_slice(&hdr[8..16]);
        let mut k = vec![0u8; word(0)];
        let mut v = vec![0u8; word(4)];
        self.reader.read_exact(&mut k).map_err(io_err)?;
        self.reader.read_exact(&mut v).map_err(io_err)?;
        self.head = Some((k, v, u64::from_le_bytes(rb)));
        Ok(())
    }
}

/// Copies of the pairs of the next few sorted entries, back to back.
///
/// Sorted entries point all over the arena, so reading them one by one between other work
/// waits for memory on almost every pair; copying a few hundred in a tight loop lets those
/// waits overlap.
#[derive(Default)]
pub(crate) struct Gathered {
    bytes: Vec<u8>,
    /// Key length, value length and row number of each copied pair, in order.
    items: Vec<(u32, u32, u64)>,
    /// Next item to hand out, and where its bytes start.
    next: usize,
    off: usize,
}

impl Gathered {
    fn is_empty(&self) -> bool {
        self.next == self.items.len()
    }

    /// Replaces the contents with copies of the pairs of (up to [`GATHER`] of) `entries`.
    fn fill(&mut self, arena: &[u8], entries: &[Entry]) {
        self.bytes.clear();
        self.items.clear();
        (self.next, self.off) = (0, 0);
        // Touch each pair's first and last byte first: these loads do not depend on each
        // other, so their cache misses overlap, and the copies below then hit the cache.
        let mut touched = 0u8;
        for e in entries.iter().take(GATHER) {
            let end = e.off + e.klen as usize + e.vlen as usize;
            if end > e.off {
                touched ^= arena[e.off] ^ arena[end - 1];
            }
        }
        std::hint::black_box(touched);
        for e in entries.iter().take(GATHER) {
            let end = e.off + e.klen as usize + e.vlen as usize;
            self.bytes.extend_from_slice(&arena[e.off..end]);
            self.items.push((e.klen, e.vlen, e.row));
        }
    }

    /// The next pair without consuming it.
    fn peek(&self) -> Option<(&[u8], &[u8], u64)> {
        let &(klen, vlen, row) = self.items.get(self.next)?;
        let k = self.off + klen as usize;
        Some((
            &self.bytes[self.off..k],
            &self.bytes[k..k + vlen as usize],
            row,
        ))
    }

    /// The next pair.
    fn next(&mut self) -> Option<(&[u8], &[u8], u64)> {
        let &(klen, vlen, _) = self.items.get(self.next)?;
        let start = self.off;
        self.next += 1;
        self.off += klen as usize + vlen as usize;
        let k = start + klen as usize;
        let row = self.items[self.next - 1].2;
        Some((
            &self.bytes[start..k],
            &self.bytes[k..k + vlen as usize],
            row,
        ))
    }
}

/// Sorted pairs, from memory or merged from spilled runs.
pub(crate) enum Merged {
    /// Everything fitted in memory.
    Memory {
        /// Keys and values back to back.
        arena: Vec<u8>,
        /// The entries in parts of buckets of increasing keys.
        parts: Vec<Part>,
        /// The part holding the next entry.
        part: usize,
        /// Next entry of that part.
        pos: usize,
        /// Copies of the pairs of the entries from `pos` on.
        gathered: Gathered,
    },
    /// Sorted runs on disk.
    Runs(Vec<Run>),
}

impl Merged {
    fn min_run(runs: &[Run]) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, r) in runs.iter().enumerate() {
            let Some((k, _, row)) = &r.head else { continue };
            best = match best {
                Some(b) => {
                    let (bk, _, brow) = runs[b].head.as_ref()?;
                    if (k.as_slice(), row) < (bk.as_slice(), brow) {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
                None => Some(i),
            };
        }
        best
    }

    /// The next pair and its row number.
    pub(crate) fn next(&mut self) -> Result<Option<Item>> {
        if let Merged::Runs(runs) = self {
            let Some(i) = Self::min_run(runs) else {
                return Ok(None);
            };
            let item = runs[i].head.take();
            runs[i].advance()?;
            return Ok(item);
        }
        let (mut key, mut value) = (Vec::new(), Vec::new());
        Ok(self
            .next_into(&mut key, &mut value)?
            .map(|r| (key, value, r)))
    }

    /// Moves to the next pair, copying its key and value into the caller's buffers; returns
    /// its row number.
    pub(crate) fn next_into(
        &mut self,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<Option<u64>> {
        match self {
            Merged::Memory { pos, gathered, .. } => {
                let Some((k, v, row)) = gathered.next() else {
                    return Ok(None);
                };
                *pos += 1;
                key.clear();
                key.extend_from_slice(k);
                value.clear();
                value.extend_from_slice(v);
                if gathered.is_empty() {
                    self.refill();
                }
                Ok(Some(row))
            }
            Merged::Runs(_) => Ok(self.next()?.map(|(k, v, r)| {
                *key = k;
                *value = v;
                r
            })),
        }
    }

    /// Copies out the next pairs, sorting the buckets they are in first.
    ///
    /// Invariant: `gathered` is empty only once every pair has been handed out.
    fn refill(&mut self) {
        if let Merged::Memory {
            arena,
            parts,
            part,
            pos,
            gathered,
        } = self
        {
            while let Some(p) = parts.get_mut(*part) {
                if *pos == p.entries.len() {
                    // This part is done: free it at once.
                    *p = Part::sorted(Vec::new());
                    (*part, *pos) = (*part + 1, 0);
                    continue;
                }
                let upto = (*pos + GATHER).min(p.entries.len());
                p.sort_through(arena, upto);
                gathered.fill(arena, &p.entries[*pos..upto]);
                return;
            }
            gathered.fill(arena, &[]);
        }
    }

    /// The row number of the next pair if its key equals `key` (nothing is consumed).
    pub(crate) fn peek_equal(&self, key: &[u8]) -> Result<Option<u64>> {
        let found = match self {
            Merged::Memory { gathered, .. } => gathered
                .peek()
                .and_then(|(k, _, row)| (k == key).then_some(row)),
            Merged::Runs(runs) => Self::min_run(runs)
                .and_then(|i| runs[i].head.as_ref())
                .filter(|(k, _, _)| k.as_slice() == key)
                .map(|(_, _, r)| *r),
        };
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pairs from keys of a few shapes: short, sharing long prefixes, with duplicates.
    fn keys() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let key = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..4),
            (0u32..5000).prop_map(|i| i.to_be_bytes().to_vec()),
            (0u64..300).prop_map(|i| (i << 40).to_be_bytes().to_vec()),
            (0u32..50, proptest::collection::vec(0u8..3, 0..12)).prop_map(|(i, tail)| {
                let mut k = b"common-prefix".to_vec();
                k.extend_from_slice(&i.to_be_bytes());
                k.extend_from_slice(&tail);
                k
            }),
        ];
        proptest::collection::vec(key, 0..600)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Bucketed sorting (in memory, or spilled in runs) yields pairs ordered by key, then
        /// row, exactly like a plain sort.
        #[test]
        fn bucketed_sort_matches_a_plain_sort(keys in keys(), budget in prop_oneof![Just(0usize), 300usize..5000]) {
            let mut pairs = SortedPairs::new(budget);
            let mut expected: Vec<Item> = Vec::new();
            for (n, k) in keys.iter().enumerate() {
                let v = (n as u32).to_le_bytes();
                pairs.push(k, &v, n as u64).unwrap_or_else(|e| panic!("{e}"));
                expected.push((k.clone(), v.to_vec(), n as u64));
            }
            expected.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
            let mut merged = pairs.finish().unwrap_or_else(|e| panic!("{e}"));
            let mut got = Vec::new();
            let (mut k, mut v) = (Vec::new(), Vec::new());
            while let Some(row) = merged.next_into(&mut k, &mut v).unwrap_or_else(|e| panic!("{e}")) {
                // The duplicate check sees the next pair with an equal key.
                let next_equal = got.len() + 1 < expected.len() && expected[got.len() + 1].0 == k;
                let peeked = merged.peek_equal(&k).unwrap_or_else(|e| panic!("{e}"));
                prop_assert_eq!(peeked.is_some(), next_equal);
                got.push((k.clone(), v.clone(), row));
            }
            prop_assert_eq!(got, expected);
        }
    }

    fn drain(mut m: Merged) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(i) = m.next().unwrap_or_else(|e| panic!("{e}")) {
            out.push(i);
        }
        out
    }

    #[test]
    fn spilled_runs_merge_like_memory() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..2000u32)
            .map(|i| {
                let k = (i.wrapping_mul(2_654_435_761) % 500).to_be_bytes().to_vec();
                (k, i.to_le_bytes().to_vec())
            })
            .collect();
        let mut small = SortedPairs::new(1000);
        let mut big = SortedPairs::new(0);
        for (n, (k, v)) in pairs.iter().enumerate() {
            small.push(k, v, n as u64).unwrap_or_else(|e| panic!("{e}"));
            big.push(k, v, n as u64).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(small.runs.len() > 3);
        let a = drain(small.finish().unwrap_or_else(|e| panic!("{e}")));
        let b = drain(big.finish().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(a.len(), 2000);
        assert_eq!(a, b);
        assert!(a.windows(2).all(|w| (&w[0].0, w[0].2) < (&w[1].0, w[1].2)));
    }

    #[test]
    fn packed_pushes_match_single_pushes() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..1000u32)
            .map(|i| {
                let k = (i.wrapping_mul(2_654_435_761) % 300).to_be_bytes().to_vec();
                (k, vec![b'v'; (i % 5) as usize])
            })
            .collect();
        for budget in [0, 2000] {
            let mut single = SortedPairs::new(budget);
            let mut packed = SortedPairs::new(budget);
            for (n, chunk) in pairs.chunks(37).enumerate() {
                let (mut bytes, mut lens) = (Vec::new(), Vec::new());
                for (i, (k, v)) in chunk.iter().enumerate() {
                    let row = (n * 37 + i) as u64;
                    single.push(k, v, row).unwrap_or_else(|e| panic!("{e}"));
                    bytes.extend_from_slice(k);
                    bytes.extend_from_slice(v);
                    lens.push((k.len() as u32, v.len() as u32));
                }
                packed
                    .push_packed(&bytes, &lens, (n * 37) as u64)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            assert_eq!(budget > 0, !packed.runs.is_empty());
            let a = drain(single.finish().unwrap_or_else(|e| panic!("{e}")));
            let b = drain(packed.finish().unwrap_or_else(|e| panic!("{e}")));
            assert_eq!(a.len(), 1000);
            assert_eq!(a, b);
        }
        // Lengths that do not add up are refused, not sliced past the end.
        let mut p = SortedPairs::new(0);
        assert!(p.push_packed(b"abc", &[(2, 2)], 0).is_err());
    }

    #[test]
    fn input_in_key_order_is_detected() {
        let mut sorted = SortedPairs::new(0);
        for i in 0..300u32 {
            // Keys longer than the 8-byte prefix, equal in it: the full keys decide.
            let mut k = vec![7u8; 8];
            k.extend_from_slice(&(i / 2).to_be_bytes());
            sorted
                .push(&k, b"v", u64::from(i))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(sorted.in_order);
        let out = drain(sorted.finish().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(out.len(), 300);
        assert!(
            out.windows(2)
                .all(|w| (&w[0].0, w[0].2) < (&w[1].0, w[1].2))
        );

        // One pair out of place at the very end still gets everything sorted.
        let mut late = SortedPairs::new(0);
        for i in 1..200u32 {
            late.push(&i.to_be_bytes(), b"v", u64::from(i))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(late.in_order);
        late.push(&0u32.to_be_bytes(), b"v", 200)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!late.in_order);
        let out = drain(late.finish().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(out[0].0, 0u32.to_be_bytes().to_vec());
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));

        // Spilled runs: each run's order is tracked on its own.
        let mut spilled = SortedPairs::new(600);
        for i in (0..100u32).rev() {
            spilled
                .push(&i.to_be_bytes(), b"v", u64::from(100 - i))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(spilled.runs.len() > 1);
        let out = drain(spilled.finish().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(out.len(), 100);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
