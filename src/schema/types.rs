//! Column types and typed values: parsing from text, rendering to text, total order.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{civil, json};
use crate::error::{Error, Result};
use crate::id::{BlobId, ObjectId, hex_encode};

/// Largest DECIMAL precision (digits); an unscaled value always fits an `i128`.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// 10^38: every unscaled decimal has an absolute value below this.
const DECIMAL_LIMIT: i128 = 10i128.pow(38);

/// A column type.
///
/// Serialized (postcard) as a varint variant index in declaration order, followed by the
/// variant's fields; see `objects_format.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    /// `BOOL`: true or false.
    Bool,
    /// `INT`: signed 64-bit integer.
    Int,
    /// `FLOAT`: IEEE 754 double, totally ordered, bit-exact (NaN payloads and -0.0 kept).
    Float,
    /// `DECIMAL(p,s)`: exact decimal of `precision` digits, `scale` of them after the point.
    Decimal {
        /// Total digits, 1..=38.
        precision: u8,
        /// Digits after the decimal point, 0..=precision.
        scale: u8,
    },
    /// `TEXT`: UTF-8 text.
    Text,
    /// `BYTES`: arbitrary bytes.
    Bytes,
    /// `DATE`: days since 1970-01-01 (proleptic Gregorian).
    Date,
    /// `TIMESTAMP` / `TIMESTAMPTZ`: microseconds since 1970-01-01T00:00:00.
    Timestamp {
        /// Whether the instant is in UTC (`TIMESTAMPTZ`) rather than a zoneless local time.
        with_tz: bool,
    },
    /// `JSON`: syntactically valid JSON text, stored as written.
    Json,
    /// `BLOB`: a reference to a Blob object by id.
    Blob,
}

impl Type {
    /// A DECIMAL type, checking `1 <= precision <= 38` and `scale <= precision`.
    pub fn decimal(precision: u8, scale: u8) -> Result<Type> {
        if precision == 0 || precision > MAX_DECIMAL_PRECISION {
            return Err(Error::Invalid(format!(
                "DECIMAL precision must be between 1 and {MAX_DECIMAL_PRECISION}, got {precision}"
            )));
        }
        if scale > precision {
            return Err(Error::Invalid(format!(
                "DECIMAL scale {scale} exceeds its precision {precision}"
            )));
        }
        Ok(Type::Decimal { precision, scale })
    }

    /// Checks the type's own parameters (DECIMAL precision and scale).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Type::Decimal { precision, scale } => Type::decimal(precision, scale).map(|_| ()),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("BOOL"),
            Type::Int => f.write_str("INT"),
            Type::Float => f.write_str("FLOAT"),
            Type::Decimal { precision, scale } => write!(f, "DECIMAL({precision},{scale})"),
            Type::Text => f.write_str("TEXT"),
            Type::Bytes => f.write_str("BYTES"),
            Type::Date => f.write_str("DATE"),
            Type::Timestamp { with_tz: false } => f.write_str("TIMESTAMP"),
            Type::Timestamp { with_tz: true } => f.write_str("TIMESTAMPTZ"),
            Type::Json => f.write_str("JSON"),
            Type::Blob => f.write_str("BLOB"),
        }
    }
}

impl FromStr for Type {
    type Err = Error;

    /// Parses a SQL-ish type name, case-insensitively: the canonical names printed by
    /// `Display` plus common synonyms (`INTEGER`, `BIGINT`, `BOOLEAN`, `DOUBLE`, `NUMERIC`,
    /// `VARCHAR`, `BYTEA`, `TIMESTAMP WITH TIME ZONE`, …). `DECIMAL` alone is `DECIMAL(38,0)`
    /// and `DECIMAL(p)` is `DECIMAL(p,0)`.
    fn from_str(s: &str) -> Result<Type> {
        let norm: String = s
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_uppercase();
        let unknown = || Error::Invalid(format!("unknown type '{}'", s.trim()));
        let simple = match norm.as_str() {
            "BOOL" | "BOOLEAN" => Some(Type::Bool),
            "INT" | "INTEGER" | "BIGINT" | "INT8" | "INT64" => Some(Type::Int),
            "FLOAT" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT8" | "FLOAT64" | "REAL" => {
                Some(Type::Float)
            }
            "TEXT" | "VARCHAR" | "STRING" => Some(Type::Text),
            "BYTES" | "BYTEA" | "BINARY" | "VARBINARY" => Some(Type::Bytes),
            "DATE" => Some(Type::Date),
            "TIMESTAMP" | "TIMESTAMP WITHOUT TIME ZONE" => Some(Type::Timestamp { with_tz: false }),
            "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => Some(Type::Timestamp { with_tz: true }),
            "JSON" => Some(Type::Json),
            "BLOB" => Some(Type::Blob),
            "DECIMAL" | "NUMERIC" => Some(Type::Decimal {
                precision: MAX_DECIMAL_PRECISION,
                scale: 0,
            }),
            _ => None,
        };
        if let Some(t) = simple {
            return Ok(t);
        }
        let args = norm
            .strip_prefix("DECIMAL")
            .or_else(|| norm.strip_prefix("NUMERIC"))
            .map(str::trim)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(unknown)?;
        let mut parts = args.split(',').map(str::trim);
        let num = |p: Option<&str>| -> Result<u8> {
            p.and_then(|x| x.parse::<u8>().ok()).ok_or_else(unknown)
        };
        let precision = num(parts.next())?;
        let scale = match parts.next() {
            Some(p) => num(Some(p))?,
            None => 0,
        };
        if parts.next().is_some() {
            return Err(unknown());
        }
        Type::decimal(precision, scale)
    }
}

/// An exact decimal number: `unscaled × 10^-scale`, with `|unscaled| < 10^38`, `scale <= 38`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "(i128, u8)", into = "(i128, u8)")]
pub struct Decimal {
    unscaled: i128,
    scale: u8,
}

impl Decimal {
    /// Builds a decimal; `None` if `scale > 38` or `|unscaled| >= 10^38`.
    pub fn new(unscaled: i128, scale: u8) -> Option<Decimal> {
        (scale <= MAX_DECIMAL_PRECISION && unscaled > -DECIMAL_LIMIT && unscaled < DECIMAL_LIMIT)
            .then_some(Decimal { unscaled, scale })
    }

    /// The integer `d` such that the value is `d × 10^-scale`.
    pub fn unscaled(&self) -> i128 {
        self.unscaled
    }

    /// Digits after the decimal point.
    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// Number of significant digits of the unscaled value (at least 1).
    pub fn digits(&self) -> u8 {
        let mut n = 1;
        let mut v = self.unscaled.unsigned_abs() / 10;
        while v > 0 {
            n += 1;
            v /= 10;
        }
        n
    }

    /// The same number at another scale, if that is exact and in range.
    pub fn rescale(&self, scale: u8) -> Option<Decimal> {
        if scale >= self.scale {
            let f = 10i128.checked_pow(u32::from(scale - self.scale))?;
            Decimal::new(self.unscaled.checked_mul(f)?, scale)
        } else {
            let f = 10i128.pow(u32::from(self.scale - scale));
            (self.unscaled % f == 0).then(|| Decimal {
                unscaled: self.unscaled / f,
                scale,
            })
        }
    }

    /// Whether the value fits `DECIMAL(precision, scale)` exactly as stored.
    pub fn fits(&self, precision: u8, scale: u8) -> bool {
        self.scale == scale && self.digits() <= precision
    }

    /// Parses decimal text (`-123.45`, `+1`, `.5`) at exactly `scale` fractional digits.
    ///
    /// Extra fractional digits are accepted only if they are zeros.
    fn parse(s: &str, precision: u8, scale: u8) -> std::result::Result<Decimal, String> {
        let b = s.as_bytes();
        let (neg, body) = match b.first() {
            Some(b'-') => (true, &b[1..]),
            Some(b'+') => (false, &b[1..]),
            _ => (false, b),
        };
        let (int_part, frac_part) = match body.iter().position(|&c| c == b'.') {
            Some(p) => (&body[..p], &body[p + 1..]),
            None => (body, &body[..0]),
        };
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.iter().chain(frac_part).all(u8::is_ascii_digit)
        {
            return Err("not a number".into());
        }
        let frac_used = frac_part.len().min(usize::from(scale));
        if frac_part[frac_used..].iter().any(|&c| c != b'0') {
            return Err(format!("more than {scale} digits after the decimal point"));
        }
        let int_part = {
            let z = int_part.iter().take_while(|&&c| c == b'0').count();
            &int_part[z..]
        };
        if int_part.len() > usize::from(precision - scale) {
            return Err(format!("out of range for DECIMAL({precision},{scale})"));
        }
        let mut v: i128 = 0;
        for &c in int_part.iter().chain(&frac_part[..frac_used]) {
            v = v * 10 + i128::from(c - b'0');
        }
        v *= 10i128.pow((usize::from(scale) - frac_used) as u32);
        Ok(Decimal {
            unscaled: if neg { -v } else { v },
            scale,
        })
    }
}

impl TryFrom<(i128, u8)> for Decimal {
    type Error = String;
    fn try_from((unscaled, scale): (i128, u8)) -> std::result::Result<Self, String> {
        Decimal::new(unscaled, scale)
            .ok_or_else(|| format!("decimal {unscaled}e-{scale} is out of range"))
    }
}

impl From<Decimal> for (i128, u8) {
    fn from(d: Decimal) -> (i128, u8) {
        (d.unscaled, d.scale)
    }
}

impl Ord for Decimal {
    /// Numeric order; equal numbers at different scales order by scale.
    fn cmp(&self, o: &Self) -> Ordering {
        if self.scale == o.scale {
            return self.unscaled.cmp(&o.unscaled);
        }
        // Truncating division keeps integer and fractional parts of the same sign, so
        // comparing integer parts, then fractions lifted to 38 digits, is numeric order.
        let split = |d: &Decimal| {
            let p = 10i128.pow(u32::from(d.scale));
            let frac = d.unscaled % p;
            (
                d.unscaled / p,
                frac * 10i128.pow(u32::from(MAX_DECIMAL_PRECISION - d.scale)),
            )
        };
        split(self).cmp(&split(o)).then(self.scale.cmp(&o.scale))
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.unscaled.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        if self.unscaled < 0 {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (i, fr) = digits.split_at(digits.len() - scale);
            write!(f, "{i}.{fr}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

/// Serde helper storing an `f64` as its IEEE 754 bit pattern (a `u64`), so encodings are
/// deterministic and NaN payloads survive.
mod float_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(f.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        u64::deserialize(d).map(f64::from_bits)
    }
}

/// A typed value, or NULL.
///
/// Values have a total order: `Null` first, then by variant (declaration order), then within
/// a variant by value — floats by [`f64::total_cmp`], text and bytes bytewise, decimals
/// numerically. Within one column this is exactly the byte order of the key encoding.
/// Equality is the order's equality, so floats compare by bits (`NaN == NaN` when the bits
/// match, `-0.0 != 0.0`).
///
/// The serde form is the storage form used inside Schema objects (floats as their bit
/// pattern); user-facing output should use [`Value::render`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A BOOL.
    Bool(bool),
    /// An INT.
    Int(i64),
    /// A FLOAT.
    Float(#[serde(with = "float_bits")] f64),
    /// A DECIMAL; its scale must match the column's.
    Decimal(Decimal),
    /// A TEXT.
    Text(String),
    /// BYTES.
    Bytes(Vec<u8>),
    /// A DATE: days since 1970-01-01.
    Date(i32),
    /// A TIMESTAMP without time zone: microseconds since 1970-01-01T00:00:00.
    Timestamp(i64),
    /// A TIMESTAMPTZ: microseconds since 1970-01-01T00:00:00Z.
    TimestampTz(i64),
    /// JSON text (validated when parsed or encoded).
    Json(String),
    /// A reference to a Blob object.
    Blob(BlobId),
}

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Decimal(_) => 4,
            Value::Text(_) => 5,
            Value::Bytes(_) => 6,
            Value::Date(_) => 7,
            Value::Timestamp(_) => 8,
            Value::TimestampTz(_) => 9,
            Value::Json(_) => 10,
            Value::Blob(_) => 11,
        }
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the value's kind, for error messages (`INT`, `TEXT`, `NULL`, …).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "BOOL",
            Value::Int(_) => "INT",
            Value::Float(_) => "FLOAT",
            Value::Decimal(_) => "DECIMAL",
            Value::Text(_) => "TEXT",
            Value::Bytes(_) => "BYTES",
            Value::Date(_) => "DATE",
            Value::Timestamp(_) => "TIMESTAMP",
            Value::TimestampTz(_) => "TIMESTAMPTZ",
            Value::Json(_) => "JSON",
            Value::Blob(_) => "BLOB",
        }
    }

    /// Checks that a non-NULL value can be stored in a column of type `ty`.
    ///
    /// The error says why (wrong kind, decimal out of range, invalid JSON); NULL is accepted
    /// here and left to the caller's nullability check.
    pub fn check_type(&self, ty: &Type) -> std::result::Result<(), String> {
        let ok = match (self, ty) {
            (Value::Null, _)
            | (Value::Bool(_), Type::Bool)
            | (Value::Int(_), Type::Int)
            | (Value::Float(_), Type::Float)
            | (Value::Text(_), Type::Text)
            | (Value::Bytes(_), Type::Bytes)
            | (Value::Date(_), Type::Date)
            | (Value::Timestamp(_), Type::Timestamp { with_tz: false })
            | (Value::TimestampTz(_), Type::Timestamp { with_tz: true })
            | (Value::Blob(_), Type::Blob) => true,
            (Value::Decimal(d), Type::Decimal { precision, scale }) => {
                if d.scale() != *scale {
                    return Err(format!(
                        "decimal {d} has scale {}, the column needs scale {scale}",
                        d.scale()
                    ));
                }
                if d.digits() > *precision {
                    return Err(format!("decimal {d} does not fit {ty}"));
                }
                true
            }
            (Value::Json(s), Type::Json) => {
                return json::check(s).map_err(|e| format!("invalid JSON: {e}"));
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("expected {ty}, got {} {}", self.kind_name(), self))
        }
    }

    /// Parses the text form of a non-NULL value of type `ty`.
    ///
    /// Accepts what [`Value::render`] produces, plus common spellings: booleans
    /// `true/false/t/f/yes/no/1/0` (any case), floats `NaN`, `inf`, `-inf`, `Infinity`, bytes
    /// as hex with an optional `\x` or `0x` prefix, timestamps with `T` or a space, an optional
    /// fraction of up to six digits and (TIMESTAMPTZ only) `Z` or `±HH:MM`. Surrounding
    /// whitespace is ignored except for TEXT, BYTES and JSON. The text `NULL` is not special:
    /// for TEXT it is the four-letter string.
    pub fn parse(ty: &Type, text: &str) -> Result<Value> {
        ty.validate()?;
        let t = text.trim();
        let bad = |why: Option<String>| {
            Error::Invalid(match why {
                Some(w) => format!("'{text}' is not a valid {ty}: {w}"),
                None => format!("'{text}' is not a valid {ty}"),
            })
        };
        Ok(match ty {
            Type::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "1" => Value::Bool(true),
                "false" | "f" | "no" | "n" | "0" => Value::Bool(false),
                _ => return Err(bad(None)),
            },
            Type::Int => Value::Int(t.parse().map_err(|_| bad(None))?),
            Type::Float => Value::Float(parse_float(t).ok_or_else(|| bad(None))?),
            Type::Decimal { precision, scale } => {
                Value::Decimal(Decimal::parse(t, *precision, *scale).map_err(|w| bad(Some(w)))?)
            }
            Type::Text => Value::Text(text.to_string()),
            Type::Bytes => {
                let h = text
                    .strip_prefix("\\x")
                    .or_else(|| text.strip_prefix("0x"))
                    .unwrap_or(text);
                Value::Bytes(
                    crate::id::hex_decode(h)
                        .ok_or_else(|| bad(Some("expected hex digits".into())))?,
                )
            }
            Type::Date => Value::Date(
                civil::parse_date(t).ok_or_else(|| bad(Some("expected YYYY-MM-DD".into())))?,
            ),
            Type::Timestamp { with_tz } => {
                let m = civil::parse_timestamp(t, *with_tz).ok_or_else(|| {
                    bad(Some(if *with_tz {
                        "expected YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM]".into()
                    } else {
                        "expected YYYY-MM-DDTHH:MM:SS[.ffffff] with no time zone".into()
                    }))
                })?;
                if *with_tz {
                    Value::TimestampTz(m)
                } else {
                    Value::Timestamp(m)
                }
            }
            Type::Json => {
                json::check(text).map_err(|w| bad(Some(w)))?;
                Value::Json(text.to_string())
            }
            Type::Blob => {
                let id = ObjectId::from_hex(t)
                    .map_err(|_| bad(Some("expected a 64-digit blob id".into())))?;
                Value::Blob(BlobId::new(id))
            }
        })
    }

    /// The text form, which [`Value::parse`] reads back to an identical value.
    ///
    /// NULL renders as `NULL`; text formats that must tell it from the string `NULL` need
    /// their own marker.
    pub fn render(&self) -> String {
        match self {
            Value::Null => "NULL".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => render_float(*f),
            Value::Decimal(d) => d.to_string(),
            Value::Text(s) | Value::Json(s) => s.clone(),
            Value::Bytes(b) => hex_encode(b),
            Value::Date(d) => civil::render_date(*d),
            Value::Timestamp(m) => civil::render_timestamp(*m, false),
            Value::TimestampTz(m) => civil::render_timestamp(*m, true),
            Value::Blob(id) => id.to_hex(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl Ord for Value {
    fn cmp(&self, o: &Self) -> Ordering {
        match (self, o) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) | (Value::Json(a), Value::Json(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b))
            | (Value::TimestampTz(a), Value::TimestampTz(b)) => a.cmp(b),
            (Value::Blob(a), Value::Blob(b)) => a.cmp(b),
            _ => self.rank().cmp(&o.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl PartialEq for Value {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Value {}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.rank().hash(h);
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(h),
            Value::Int(i) | Value::Timestamp(i) | Value::TimestampTz(i) => i.hash(h),
            Value::Float(f) => f.to_bits().hash(h),
            Value::Decimal(d) => d.hash(h),
            Value::Text(s) | Value::Json(s) => s.hash(h),
            Value::Bytes(b) => b.hash(h),
            Value::Date(d) => d.hash(h),
            Value::Blob(b) => b.hash(h),
        }
    }
}

/// Bits of the NaN Rust produces for `f64::NAN`, rendered as plain `NaN`.
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// Renders a float so that [`parse_float`] restores the exact bits: the shortest
/// round-tripping decimal, `inf`/`-inf`, `NaN`/`-NaN` for the canonical quiet NaN, and
/// `NaN:0x<16 hex digits>` (the full bit pattern) for any other NaN.
fn render_float(f: f64) -> String {
    let bits = f.to_bits();
    if f.is_nan() {
        if bits == CANONICAL_NAN {
            "NaN".into()
        } else if bits == CANONICAL_NAN | 1 << 63 {
            "-NaN".into()
        } else {
            format!("NaN:0x{bits:016x}")
        }
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{f:?}")
    }
}

fn parse_float(t: &str) -> Option<f64> {
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "nan" | "+nan" => return Some(f64::from_bits(CANONICAL_NAN)),
        "-nan" => return Some(f64::from_bits(CANONICAL_NAN | 1 << 63)),
        "inf" | "+inf" | "infinity" | "+infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if let Some(h) = lower.strip_prefix("nan:0x") {
        if h.len() != 16 {
            return None;
        }
        let f = f64::from_bits(u64::from_str_radix(h, 16).ok()?);
        return f.is_nan().then_some(f);
    }
    // Rust's parser also takes "nan"/"inf" spellings; those were handled above, and any
    // other alphabetic input is rejected here.
    if lower.contains(|c: char| c.is_ascii_alphabetic() && c != 'e') {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        for t in [
            "BOOL",
            "INT",
            "FLOAT",
            "DECIMAL(10,2)",
            "TEXT",
            "BYTES",
            "DATE",
            "TIMESTAMP",
            "TIMESTAMPTZ",
            "JSON",
            "BLOB",
        ] {
            assert_eq!(t.parse::<Type>().unwrap().to_string(), t);
        }
        assert_eq!(
            "numeric ( 5 )".parse::<Type>().unwrap(),
            Type::decimal(5, 0).unwrap()
        );
        assert_eq!(
            "timestamp  with time zone".parse::<Type>().unwrap(),
            Type::Timestamp { with_tz: true }
        );
        assert_eq!(
            "VARCHAR2".parse::<Type>().unwrap_err().to_string(),
            "unknown type 'VARCHAR2'"
        );
        assert!(
            "DECIMAL(39,0)"
                .parse::<Type>()
                .unwrap_err()
                .to_string()
                .contains("precision")
        );
        assert!(
            "DECIMAL(3,4)"
                .parse::<Type>()
                .unwrap_err()
                .to_string()
                .contains("scale")
        );
        assert!("DECIMAL(3,".parse::<Type>().is_err());
    }

    #[test]
    fn parse_errors_are_clear() {
        assert_eq!(
            Value::parse(&Type::Int, "abc").unwrap_err().to_string(),
            "'abc' is not a valid INT"
        );
        assert_eq!(
            Value::parse(&Type::decimal(5, 2).unwrap(), "1.234")
                .unwrap_err()
                .to_string(),
            "'1.234' is not a valid DECIMAL(5,2): more than 2 digits after the decimal point"
        );
        assert!(Value::parse(&Type::decimal(5, 2).unwrap(), "1234").is_err());
        assert!(Value::parse(&Type::Float, "1.0x").is_err());
        assert!(Value::parse(&Type::Float, "NaN:0x0000000000000001").is_err());
        assert!(Value::parse(&Type::Json, "{").is_err());
        assert!(Value::parse(&Type::Bytes, "abc").is_err());
        assert!(Value::parse(&Type::Date, "2024-1-1").is_err());
    }

    #[test]
    fn decimal_text() {
        let t = Type::decimal(10, 2).unwrap();
        let v = Value::parse(&t, "-0.05").unwrap();
        assert_eq!(v, Value::Decimal(Decimal::new(-5, 2).unwrap()));
        assert_eq!(v.render(), "-0.05");
        assert_eq!(Value::parse(&t, "123.4").unwrap().render(), "123.40");
        assert_eq!(
            Value::parse(&t, "12345678.90").unwrap().render(),
            "12345678.90"
        );
        assert!(Value::parse(&t, "123456789").is_err());
        assert_eq!(Value::parse(&t, "+.5").unwrap().render(), "0.50");
        assert!(Value::parse(&t, ".").is_err());
        let one = Decimal::new(10, 1).unwrap();
        let two = Decimal::new(2, 0).unwrap();
        assert!(one < two);
        assert!(Decimal::new(100, 2).unwrap() > Decimal::new(1, 0).unwrap());
        assert_eq!(one.rescale(3), Decimal::new(1000, 3));
        assert_eq!(Decimal::new(15, 1).unwrap().rescale(0), None);
    }

    #[test]
    fn floats_keep_bits() {
        for bits in [
            0u64,
            1 << 63,
            CANONICAL_NAN,
            CANONICAL_NAN | 1 << 63,
            0x7ff0_0000_0000_0001,
            0xfff0_dead_beef_0001,
            f64::INFINITY.to_bits(),
            f64::MIN_POSITIVE.to_bits(),
            1,
        ] {
            let v = Value::Float(f64::from_bits(bits));
            let back = Value::parse(&Type::Float, &v.render()).unwrap();
            match back {
                Value::Float(f) => assert_eq!(f.to_bits(), bits, "{}", v.render()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(Value::Float(-0.0).render(), "-0.0");
        assert_ne!(Value::Float(-0.0), Value::Float(0.0));
    }
}
