//! The row codec: memcomparable keys and slot-addressed values (see `objects_format.md`,
//! "Row encoding").

use super::json;
use super::table_schema::Schema;
use super::types::{Decimal, Type, Value};
use crate::error::{Error, Result};
use crate::id::{BlobId, ObjectId};

/// Length of a keyless row's key: the first 16 bytes of BLAKE3 over its row value.
pub const KEYLESS_KEY_LEN: usize = 16;

const SIGN64: u64 = 1 << 63;

/// What a slot of an encoded row value holds under the codec's schema.
#[derive(Clone, Debug)]
enum SlotPlan {
    /// Never used by this table: a value there means corruption.
    Unknown,
    /// A key column's slot: key columns live in the key, never in the value.
    Key,
    /// Column at this position of the schema.
    Column(usize),
    /// A dropped column of this type: skipped on read.
    Dropped(Type),
}

#[derive(Clone, Debug)]
struct ColInfo {
    name: String,
    ty: Type,
    nullable: bool,
    /// What rows written before the column existed read (NULL without a default).
    default: Value,
}

/// Encodes and decodes the rows of one schema version.
///
/// Built once per schema with [`RowCodec::new`]; cheap to use per row.
#[derive(Clone, Debug)]
pub struct RowCodec {
    cols: Vec<ColInfo>,
    /// Column positions of the primary key, in key order; empty if keyless.
    key_cols: Vec<usize>,
    /// Non-key column positions, in ascending slot order.
    value_cols: Vec<usize>,
    /// Slot of each entry of `value_cols`.
    value_slots: Vec<u32>,
    /// Slots covered by newly written values: 1 + the largest value-column slot.
    write_slots: u32,
    /// Indexed by slot, for every slot below the schema's `next_slot`.
    plan: Vec<SlotPlan>,
}

fn corrupt(what: &str, why: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("corrupt row {what}: {why}"))
}

/// Shortened text of a value for error messages.
fn shown(v: &Value) -> String {
    let mut s = v.render();
    if s.chars().count() > 40 {
        s = s.chars().take(40).collect::<String>() + "…";
    }
    s
}

impl RowCodec {
    /// The codec for rows of `schema`.
    pub fn new(schema: &Schema) -> RowCodec {
        let cols: Vec<ColInfo> = schema
            .columns()
            .iter()
            .map(|c| ColInfo {
                name: c.name.clone(),
                ty: c.ty,
                nullable: c.nullable,
                default: c.default.clone().unwrap_or(Value::Null),
            })
            .collect();
        let key_cols = schema.primary_key();
        let mut value_cols: Vec<usize> =
            (0..cols.len()).filter(|i| !key_cols.contains(i)).collect();
        value_cols.sort_by_key(|&i| schema.columns()[i].slot);
        let value_slots: Vec<u32> = value_cols
            .iter()
            .map(|&i| schema.columns()[i].slot)
            .collect();
        let mut plan = vec![SlotPlan::Unknown; schema.next_slot() as usize];
        for (i, c) in schema.columns().iter().enumerate() {
            plan[c.slot as usize] = if key_cols.contains(&i) {
                SlotPlan::Key
            } else {
                SlotPlan::Column(i)
            };
        }
        for d in schema.dropped() {
            plan[d.slot as usize] = SlotPlan::Dropped(d.ty);
        }
        RowCodec {
            write_slots: value_slots.last().map_or(0, |s| s + 1),
            cols,
            key_cols,
            value_cols,
            value_slots,
            plan,
        }
    }

    /// Number of columns in a full row.
    pub fn column_count(&self) -> usize {
        self.cols.len()
    }

    /// Whether rows are keyed by content hash.
    pub fn is_keyless(&self) -> bool {
        self.key_cols.is_empty()
    }

    fn check_arity(&self, row: &[Value]) -> Result<()> {
        if row.len() != self.cols.len() {
            let names: Vec<&str> = self.cols.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::Invalid(format!(
                "row has {} values but the table has {} columns ({})",
                row.len(),
                self.cols.len(),
                names.join(", ")
            )));
        }
        Ok(())
    }

    fn mismatch(&self, col: usize, v: &Value) -> Error {
        let c = &self.cols[col];
        let why = match v.check_type(&c.ty) {
            Err(e) => e,
            Ok(()) => format!("expected {}, got {} {}", c.ty, v.kind_name(), shown(v)),
        };
        Error::Invalid(format!("column '{}' ({}): {why}", c.name, c.ty))
    }

    /// Encodes the primary key values (in key order) as a memcomparable key.
    pub fn encode_key(&self, key: &[Value]) -> Result<Vec<u8>> {
        if key.len() != self.key_cols.len() {
            return Err(Error::Invalid(format!(
                "key has {} values but the primary key has {} columns",
                key.len(),
                self.key_cols.len()
            )));
        }
        let mut out = Vec::with_capacity(16);
        for (v, &col) in key.iter().zip(&self.key_cols) {
            self.encode_key_part(col, v, &mut out)?;
        }
        Ok(out)
    }

    fn encode_key_part(&self, col: usize, v: &Value, out: &mut Vec<u8>) -> Result<()> {
        let ty = &self.cols[col].ty;
        match (v, ty) {
            (Value::Null, _) => {
                return Err(Error::Invalid(format!(
                    "column '{}' is part of the primary key and cannot be NULL",
                    self.cols[col].name
                )));
            }
            (Value::Bool(b), Type::Bool) => out.push(u8::from(*b)),
            (Value::Int(i), Type::Int)
            | (Value::Timestamp(i), Type::Timestamp { with_tz: false })
            | (Value::TimestampTz(i), Type::Timestamp { with_tz: true }) => {
                out.extend_from_slice(&((*i as u64) ^ SIGN64).to_be_bytes())
            }
            (Value::Float(f), Type::Float) => {
                let b = f.to_bits();
                let k = if b & SIGN64 != 0 { !b } else { b ^ SIGN64 };
                out.extend_from_slice(&k.to_be_bytes());
            }
            (Value::Decimal(d), Type::Decimal { precision, scale }) => {
                if !d.fits(*precision, *scale) {
                    return Err(self.mismatch(col, v));
                }
                out.extend_from_slice(&((d.unscaled() as u128) ^ (1 << 127)).to_be_bytes());
            }
            (Value::Text(s), Type::Text) => escape(s.as_bytes(), out),
            (Value::Json(s), Type::Json) => {
                if json::check(s).is_err() {
                    return Err(self.mismatch(col, v));
                }
                escape(s.as_bytes(), out)
            }
            (Value::Bytes(b), Type::Bytes) => escape(b, out),
            (Value::Date(d), Type::Date) => {
                out.extend_from_slice(&((*d as u32) ^ (1 << 31)).to_be_bytes())
            }
            (Value::Blob(id), Type::Blob) => out.extend_from_slice(id.id().as_bytes()),
            _ => return Err(self.mismatch(col, v)),
        }
        Ok(())
    }

    /// Decodes a key written by [`RowCodec::encode_key`] into the key values, in key order.
    pub fn decode_key(&self, key: &[u8]) -> Result<Vec<Value>> {
        let mut r = Reader::new(key, "key");
        let mut out = Vec::with_capacity(self.key_cols.len());
        for &col in &self.key_cols {
            out.push(self.decode_key_part(col, &mut r)?);
        }
        r.finish()?;
        Ok(out)
    }

    fn decode_key_part(&self, col: usize, r: &mut Reader<'_>) -> Result<Value> {
        let c = &self.cols[col];
        Ok(match c.ty {
            Type::Bool => match r.byte()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(r.bad(format!("bool byte {b} in column '{}'", c.name))),
            },
            Type::Int => Value::Int((r.u64_be()? ^ SIGN64) as i64),
            Type::Timestamp { with_tz: false } => Value::Timestamp((r.u64_be()? ^ SIGN64) as i64),
            Type::Timestamp { with_tz: true } => Value::TimestampTz((r.u64_be()? ^ SIGN64) as i64),
            Type::Float => {
                let k = r.u64_be()?;
                Value::Float(f64::from_bits(if k & SIGN64 != 0 {
                    k ^ SIGN64
                } else {
                    !k
                }))
            }
            Type::Decimal { precision, scale } => {
                let raw = r.take(16)?;
                let mut b = [0u8; 16];
                b.copy_from_slice(raw);
                let unscaled = (u128::from_be_bytes(b) ^ (1 << 127)) as i128;
                Value::Decimal(checked_decimal(r, &c.name, unscaled, precision, scale)?)
            }
            Type::Text => {
                let b = unescape(r)?;
                Value::Text(r.utf8(b, &c.name)?)
            }
            Type::Json => {
                let b = unescape(r)?;
                Value::Json(r.utf8(b, &c.name)?)
            }
            Type::Bytes => Value::Bytes(unescape(r)?),
            Type::Date => Value::Date((r.u32_be()? ^ (1 << 31)) as i32),
            Type::Blob => Value::Blob(r.blob_id()?),
        })
    }

    /// Encodes the non-key columns of a full row (schema column order) as a row value.
    pub fn encode_value(&self, row: &[Value]) -> Result<Vec<u8>> {
        self.check_arity(row)?;
        let mut out = Vec::with_capacity(32);
        self.encode_value_into(row, &mut out)?;
        Ok(out)
    }

    /// Appends the value encoding of `row`'s non-key columns to `out`.
    fn encode_value_into(&self, row: &[Value], out: &mut Vec<u8>) -> Result<()> {
        put_varint(out, u64::from(self.write_slots));
        let bitmap_at = out.len();
        out.resize(bitmap_at + self.write_slots.div_ceil(8) as usize, 0);
        for (&col, &slot) in self.value_cols.iter().zip(&self.value_slots) {
            let v = &row[col];
            if v.is_null() {
                if !self.cols[col].nullable {
                    return Err(Error::Invalid(format!(
                        "column '{}' is NOT NULL",
                        self.cols[col].name
                    )));
                }
                continue;
            }
            out[bitmap_at + (slot / 8) as usize] |= 1 << (slot % 8);
            self.encode_value_part(col, v, out)?;
        }
        Ok(())
    }

    fn encode_value_part(&self, col: usize, v: &Value, out: &mut Vec<u8>) -> Result<()> {
        match (v, &self.cols[col].ty) {
            (Value::Bool(b), Type::Bool) => out.push(u8::from(*b)),
            (Value::Int(i), Type::Int)
            | (Value::Timestamp(i), Type::Timestamp { with_tz: false })
            | (Value::TimestampTz(i), Type::Timestamp { with_tz: true }) => {
                put_varint(out, zigzag64(*i))
            }
            (Value::Date(d), Type::Date) => put_varint(out, zigzag64(i64::from(*d))),
            (Value::Float(f), Type::Float) => put_float(out, *f),
            (Value::Decimal(d), Type::Decimal { precision, scale }) => {
                if !d.fits(*precision, *scale) {
                    return Err(self.mismatch(col, v));
                }
                let i = d.unscaled();
                put_varint128(out, ((i << 1) ^ (i >> 127)) as u128);
            }
            (Value::Text(s), Type::Text) => put_bytes(out, s.as_bytes()),
            (Value::Json(s), Type::Json) => {
                if json::check(s).is_err() {
                    return Err(self.mismatch(col, v));
                }
                put_bytes(out, s.as_bytes())
            }
            (Value::Bytes(b), Type::Bytes) => put_bytes(out, b),
            (Value::Blob(id), Type::Blob) => out.extend_from_slice(id.id().as_bytes()),
            _ => return Err(self.mismatch(col, v)),
        }
        Ok(())
    }

    /// Decodes a row value into the non-key positions of `row` (which has one entry per
    /// column); slots the value does not cover read as the column's default, or NULL.
    pub fn decode_value_into(&self, value: &[u8], row: &mut [Value]) -> Result<()> {
        if row.len() != self.cols.len() {
            return Err(Error::Invalid(format!(
                "row buffer has {} entries, the table has {} columns",
                row.len(),
                self.cols.len()
            )));
        }
        let mut r = Reader::new(value, "value");
        let n = r.varint()?;
        let bitmap = r.take(n.div_ceil(8) as usize)?;
        if n % 8 != 0 && bitmap.last().is_some_and(|b| b >> (n % 8) != 0) {
            return Err(r.bad("presence bits set beyond the slot count"));
        }
        for (byte_i, &byte) in bitmap.iter().enumerate() {
            let mut bits = byte;
            while bits != 0 {
                let slot = byte_i * 8 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                match self.plan.get(slot) {
                    Some(SlotPlan::Column(col)) => {
                        self.decode_value_part(*col, &mut r, &mut row[*col])?
                    }
                    Some(SlotPlan::Dropped(ty)) => skip_value(ty, &mut r)?,
                    Some(SlotPlan::Key) => {
                        return Err(r.bad(format!("value present in key column slot {slot}")));
                    }
                    Some(SlotPlan::Unknown) | None => {
                        return Err(r.bad(format!("value present in unknown slot {slot}")));
                    }
                }
            }
        }
        r.finish()?;
        for (&col, &slot) in self.value_cols.iter().zip(&self.value_slots) {
            let present =
                u64::from(slot) < n && bitmap[(slot / 8) as usize] & (1 << (slot % 8)) != 0;
            if present {
                continue;
            }
            let c = &self.cols[col];
            if u64::from(slot) >= n {
                row[col] = c.default.clone();
            } else if !c.nullable {
                return Err(corrupt(
                    "value",
                    format!("NULL in NOT NULL column '{}'", c.name),
                ));
            } else {
                row[col] = Value::Null;
            }
        }
        Ok(())
    }

    /// Decodes one value into `out`, reusing its string or byte buffer when it has one.
    fn decode_value_part(&self, col: usize, r: &mut Reader<'_>, out: &mut Value) -> Result<()> {
        let c = &self.cols[col];
        *out = match c.ty {
            Type::Bool => match r.byte()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(r.bad(format!("bool byte {b} in column '{}'", c.name))),
            },
            Type::Int => Value::Int(unzigzag64(r.varint()?)),
            Type::Timestamp { with_tz: false } => Value::Timestamp(unzigzag64(r.varint()?)),
            Type::Timestamp { with_tz: true } => Value::TimestampTz(unzigzag64(r.varint()?)),
            Type::Date => {
                let d = unzigzag64(r.varint()?);
                Value::Date(i32::try_from(d).map_err(|_| r.bad(format!("date {d} out of range")))?)
            }
            Type::Float => Value::Float(read_float(r)?),
            Type::Decimal { precision, scale } => {
                let z = r.varint128()?;
                let unscaled = ((z >> 1) as i128) ^ -((z & 1) as i128);
                Value::Decimal(checked_decimal(r, &c.name, unscaled, precision, scale)?)
            }
            Type::Text | Type::Json => {
                let b = r.bytes()?;
                let text = std::str::from_utf8(b)
                    .map_err(|_| r.bad(format!("invalid UTF-8 in column '{}'", c.name)))?;
                match (&mut *out, c.ty) {
                    (Value::Text(buf), Type::Text) | (Value::Json(buf), Type::Json) => {
                        buf.clear();
                        buf.push_str(text);
                        return Ok(());
                    }
                    (_, Type::Text) => Value::Text(text.to_owned()),
                    _ => Value::Json(text.to_owned()),
                }
            }
            Type::Bytes => {
                let b = r.bytes()?;
                if let Value::Bytes(buf) = &mut *out {
                    buf.clear();
                    buf.extend_from_slice(b);
                    return Ok(());
                }
                Value::Bytes(b.to_vec())
            }
            Type::Blob => Value::Blob(r.blob_id()?),
        };
        Ok(())
    }

    /// Encodes a full row (schema column order) as `(key, value)`.
    ///
    /// For a keyless table the key is [`RowCodec::keyless_key`] of the row value and the
    /// value is a duplicate count of 1 followed by the row value.
    pub fn encode_row(&self, row: &[Value]) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut key = Vec::with_capacity(16);
        let mut value = Vec::with_capacity(32);
        self.encode_row_into(row, &mut key, &mut value)?;
        Ok((key, value))
    }

    /// Like [`RowCodec::encode_row`], reusing the caller's buffers (cleared first).
    pub fn encode_row_into(
        &self,
        row: &[Value],
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<()> {
        self.check_arity(row)?;
        key.clear();
        value.clear();
        if self.key_cols.is_empty() {
            value.push(1); // varint duplicate count 1
            self.encode_value_into(row, value)?;
            key.extend_from_slice(&Self::keyless_key(&value[1..]));
        } else {
            for &col in &self.key_cols {
                self.encode_key_part(col, &row[col], key)?;
            }
            self.encode_value_into(row, value)?;
        }
        Ok(())
    }

    /// Decodes a `(key, value)` pair into a full row in schema column order.
    ///
    /// For a keyless table the duplicate count is checked and dropped; use
    /// [`RowCodec::keyless_split`] to read it.
    pub fn decode_row(&self, key: &[u8], value: &[u8]) -> Result<Vec<Value>> {
        let mut row = vec![Value::Null; self.cols.len()];
        self.decode_row_into(key, value, &mut row)?;
        Ok(row)
    }

    /// Like [`RowCodec::decode_row`], into a row buffer with one entry per column.
    pub fn decode_row_into(&self, key: &[u8], value: &[u8], row: &mut [Value]) -> Result<()> {
        if self.key_cols.is_empty() {
            if key.len() != KEYLESS_KEY_LEN {
                return Err(corrupt(
                    "key",
                    format!("keyless key of {} bytes", key.len()),
                ));
            }
            let (_, rest) = Self::keyless_split(value)?;
            return self.decode_value_into(rest, row);
        }
        if row.len() != self.cols.len() {
            return Err(Error::Invalid(format!(
                "row buffer has {} entries, the table has {} columns",
                row.len(),
                self.cols.len()
            )));
        }
        let mut r = Reader::new(key, "key");
        for &col in &self.key_cols {
            row[col] = self.decode_key_part(col, &mut r)?;
        }
        r.finish()?;
        self.decode_value_into(value, row)
    }

    /// The key of a keyless row: the first 16 bytes of BLAKE3 over its row value.
    pub fn keyless_key(row_value: &[u8]) -> [u8; KEYLESS_KEY_LEN] {
        let mut k = [0u8; KEYLESS_KEY_LEN];
        k.copy_from_slice(&blake3::hash(row_value).as_bytes()[..KEYLESS_KEY_LEN]);
        k
    }

    /// Splits a keyless table's stored value into its duplicate count (at least 1) and the
    /// row value.
    pub fn keyless_split(value: &[u8]) -> Result<(u64, &[u8])> {
        let mut r = Reader::new(value, "value");
        let count = r.varint()?;
        if count == 0 {
            return Err(r.bad("keyless row with a duplicate count of 0"));
        }
        Ok((count, &value[r.pos..]))
    }

    /// A keyless table's stored value: varint duplicate `count` followed by the row value.
    pub fn keyless_join(count: u64, row_value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(row_value.len() + 2);
        put_varint(&mut out, count);
        out.extend_from_slice(row_value);
        out
    }
}

fn checked_decimal(
    r: &Reader<'_>,
    col: &str,
    unscaled: i128,
    precision: u8,
    scale: u8,
) -> Result<Decimal> {
    Decimal::new(unscaled, scale)
        .filter(|d| d.fits(precision, scale))
        .ok_or_else(|| r.bad(format!("decimal out of range in column '{col}'")))
}

/// Appends `b` with every 0x00 written as 0x00 0xFF, then the terminator 0x00 0x00; the
/// result sorts exactly like `b` and no encoding is a prefix of another.
fn escape(b: &[u8], out: &mut Vec<u8>) {
    out.reserve(b.len() + 2);
    let mut rest = b;
    while let Some(p) = rest.iter().position(|&c| c == 0) {
        out.extend_from_slice(&rest[..=p]);
        out.push(0xFF);
        rest = &rest[p + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(&[0, 0]);
}

fn unescape(r: &mut Reader<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let rest = &r.buf[r.pos..];
        let p = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| r.bad("unterminated string in key"))?;
        out.extend_from_slice(&rest[..p]);
        r.pos += p + 1;
        match r.byte()? {
            0 => return Ok(out),
            0xFF => out.push(0),
            b => return Err(r.bad(format!("bad escape byte {b:#04x} in key"))),
        }
    }
}

fn skip_value(ty: &Type, r: &mut Reader<'_>) -> Result<()> {
    match ty {
        Type::Bool => {
            r.byte()?;
        }
        Type::Int | Type::Date | Type::Timestamp { .. } => {
            r.varint()?;
        }
        Type::Float => {
            read_float(r)?;
        }
        Type::Decimal { .. } => {
            r.varint128()?;
        }
        Type::Text | Type::Json | Type::Bytes => {
            r.bytes()?;
        }
        Type::Blob => {
            r.take(32)?;
        }
    }
    Ok(())
}

/// Largest decimal scale tried by the compact float form.
const FLOAT_MAX_SCALE: u64 = 6;
/// Marker in the low 3 bits of a float's head varint: 8 raw little-endian bytes follow.
const FLOAT_RAW: u64 = 7;
/// Powers of ten up to [`FLOAT_MAX_SCALE`], all exact in f64.
const POW10: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];
/// Integers up to 2^53 are exact in f64.
const F64_EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Writes a FLOAT value compactly and bit-exactly.
///
/// If `x == m / 10^k` exactly (IEEE division, correctly rounded) for an integer `|m| ≤ 2^53`
/// and the smallest such `k ≤ 6`, the value is one varint `zigzag(m) << 3 | k` (`123.45` takes
/// 3 bytes). Otherwise (-0.0, NaN, infinities, most non-decimal values) it is the varint `7`
/// followed by the 8-byte little-endian bit pattern.
#[inline]
fn put_float(out: &mut Vec<u8>, x: f64) {
    for (k, p) in POW10.iter().enumerate() {
        let m = (x * p).round();
        // Compare via the integer so -0.0 (whose m is 0, read back as +0.0) stays raw.
        if m.abs() <= F64_EXACT_INT && ((m as i64) as f64 / p).to_bits() == x.to_bits() {
            put_varint(out, (zigzag64(m as i64) << 3) | k as u64);
            return;
        }
    }
    put_varint(out, FLOAT_RAW);
    out.extend_from_slice(&x.to_bits().to_le_bytes());
}

/// Reads a FLOAT written by [`put_float`].
#[inline]
fn read_float(r: &mut Reader<'_>) -> Result<f64> {
    let head = r.varint()?;
    let k = head & 7;
    if k == FLOAT_RAW {
        if head != FLOAT_RAW {
            return Err(r.bad("raw float marker with a payload"));
        }
        return Ok(f64::from_bits(r.u64_le()?));
    }
    if k > FLOAT_MAX_SCALE {
        return Err(r.bad(format!("float scale {k} out of range")));
    }
    let m = unzigzag64(head >> 3);
    if m.unsigned_abs() > 1 << 53 {
        return Err(r.bad("float mantissa out of range"));
    }
    Ok(m as f64 / POW10[k as usize])
}

#[inline]
fn zigzag64(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

#[inline]
fn unzigzag64(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_varint128(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Bounds-checked reader; every failure is an error naming the offset.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn bad(&self, why: impl std::fmt::Display) -> Error {
        corrupt(self.what, format!("{why} (at byte {})", self.pos))
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(self.bad(format!("truncated, needed {n} more bytes")));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    #[inline]
    fn u64_be(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    #[inline]
    fn u64_le(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    #[inline]
    fn u32_be(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }

    fn blob_id(&mut self) -> Result<BlobId> {
        let raw = self.take(32)?;
        ObjectId::from_slice(raw)
            .map(BlobId::new)
            .ok_or_else(|| self.bad("bad blob id"))
    }

    /// A minimal LEB128 varint of at most 64 bits.
    #[inline]
    fn varint(&mut self) -> Result<u64> {
        // Fast path: a single byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift == 63 && b > 0x01 {
                return Err(self.bad("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 {
                    return Err(self.bad("over-long varint"));
                }
                return Ok(v);
            }
            shift += 7;
        }
    }

    /// A minimal LEB128 varint of at most 128 bits.
    fn varint128(&mut self) -> Result<u128> {
        let mut v: u128 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift == 126 && b > 0x03 {
                return Err(self.bad("varint overflows 128 bits"));
            }
            v |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 {
                    return Err(self.bad("over-long varint"));
                }
                return Ok(v);
            }
            shift += 7;
        }
    }

    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.bad("length overflows"))?;
        self.take(n)
    }

    fn utf8(&self, b: Vec<u8>, col: &str) -> Result<String> {
        String::from_utf8(b).map_err(|_| self.bad(format!("invalid UTF-8 in column '{col}'")))
    }

    fn finish(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(self.bad(format!("{} trailing bytes", self.buf.len() - self.pos)));
        }
        Ok(())
    }
}
