//! Exact text forms of values shared by the CSV and JSONL codecs: dates, timestamps, decimals,
//! hex bytes and floats.

use std::fmt::Write as _;

/// Microseconds per second.
const SEC_US: i64 = 1_000_000;
/// Seconds per day.
const DAY_S: i64 = 86_400;

use crate::schema::civil::days_in_month as month_days;
use crate::schema::civil::{civil_from_days, days_from_civil};

/// Parses exactly `n` ASCII digits.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// Parses the date prefix `[+-]YYYY-MM-DD` (4 or more year digits) and returns the day count and
/// the rest of the text.
fn parse_date_prefix(s: &[u8]) -> Option<(i64, &[u8])> {
    let (neg, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let dash = body.iter().position(|&c| c == b'-')?;
    if dash < 4 || body.len() < dash + 6 {
        return None;
    }
    let year = i64::from(digits(&body[..dash])?);
    let year = if neg { -year } else { year };
    if body[dash + 3] != b'-' {
        return None;
    }
    let month = digits(&body[dash + 1..dash + 3])?;
    let day = digits(&body[dash + 4..dash + 6])?;
    if !(1..=12).contains(&month) || day == 0 || day > month_days(year, month) {
        return None;
    }
    Some((days_from_civil(year, month, day), &body[dash + 6..]))
}

/// Parses a DATE `YYYY-MM-DD` (an optional sign and more year digits are accepted for years
/// outside 0000–9999) into days since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    let (days, rest) = parse_date_prefix(s.as_bytes())?;
    if !rest.is_empty() {
        return None;
    }
    i32::try_from(days).ok()
}

/// Parses a TIMESTAMP: `YYYY-MM-DD[T| ]HH:MM:SS[.fraction][zone]` where zone is `Z` or
/// `±HH:MM` / `±HHMM` / `±HH`. Returns microseconds since the epoch (UTC for zoned text) and
/// whether a zone was given. Fractions finer than a microsecond must be zeros.
pub(crate) fn parse_timestamp(s: &str) -> Option<(i64, bool)> {
    let (days, rest) = parse_date_prefix(s.as_bytes())?;
    if rest.len() < 9 || !matches!(rest[0], b'T' | b't' | b' ') {
        return None;
    }
    let hh = digits(&rest[1..3])?;
    let mm = digits(&rest[4..6])?;
    let ss = digits(&rest[7..9])?;
    if rest[3] != b':' || rest[6] != b':' || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let mut rest = &rest[9..];
    let mut micros: i64 = 0;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let frac = &rest[1..=n];
        for (i, d) in frac.iter().enumerate() {
            let d = i64::from(d - b'0');
            if i < 6 {
                micros = micros * 10 + d;
            } else if d != 0 {
                return None;
            }
        }
        for _ in frac.len()..6 {
            micros *= 10;
        }
        rest = &rest[1 + n..];
    }
    let (offset_s, zoned) = match rest {
        [] => (0i64, false),
        [b'Z' | b'z'] => (0, true),
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m) = match tail {
                [a, b] => (digits(&[*a, *b])?, 0),
                [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = i64::from(h * 3600 + m * 60);
            (if *sign == b'-' { -off } else { off }, true)
        }
        _ => return None,
    };
    let secs = days
        .checked_mul(DAY_S)?
        .checked_add(i64::from(hh * 3600 + mm * 60 + ss))?
        .checked_sub(offset_s)?;
    Some((secs.checked_mul(SEC_US)?.checked_add(micros)?, zoned))
}

/// Appends a DATE as `YYYY-MM-DD` (sign and extra digits only outside 0000–9999).
pub(crate) fn format_date(days: i32, out: &mut String) {
    let (y, m, d) = civil_from_days(i64::from(days));
    push_year(y, out);
    let _ = write!(out, "-{m:02}-{d:02}");
}

/// Appends a year with at least four digits.
fn push_year(y: i64, out: &mut String) {
    if y < 0 {
        let _ = write!(out, "-{:04}", -y);
    } else if y > 9999 {
        let _ = write!(out, "+{y}");
    } else {
        let _ = write!(out, "{y:04}");
    }
}

/// Appends a TIMESTAMP: `YYYY-MM-DD HH:MM:SS[.ffffff]` for naive values, and
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` for UTC instants.
pub(crate) fn format_timestamp(micros: i64, zoned: bool, out: &mut String) {
    let secs = micros.div_euclid(SEC_US);
    let frac = micros.rem_euclid(SEC_US);
    let days = secs.div_euclid(DAY_S);
    let sod = secs.rem_euclid(DAY_S);
    let (y, m, d) = civil_from_days(days);
    push_year(y, out);
    let sep = if zoned { 'T' } else { ' ' };
    let _ = write!(
        out,
        "-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if frac != 0 {
        let _ = write!(out, ".{frac:06}");
    }
    if zoned {
        out.push('Z');
    }
}

/// Appends a float as its shortest round-trip text (`NaN`, `inf`, `-inf` for non-finite
/// values; `-0.0` keeps its sign; an exponent is used for very large or small magnitudes).
pub(crate) fn format_float(v: f64, out: &mut String) {
    // ryu prints the shortest digits that parse back to the same bits, `NaN`, `inf`, `-inf`,
    // and `-0.0`, like Rust's `{:?}` but faster.
    out.push_str(ryu::Buffer::new().format(v));
}

/// Parses a float exactly (correctly rounded; accepts `NaN`, `inf`, `-inf`, `infinity`).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// Appends a DECIMAL with `scale` fractional digits.
pub(crate) fn format_decimal(v: i128, scale: i8, out: &mut String) {
    if scale <= 0 {
        let _ = write!(out, "{v}");
        for _ in 0..(-i32::from(scale)) {
            if v != 0 {
                out.push('0');
            }
        }
        return;
    }
    let scale = scale as usize;
    let digits = v.unsigned_abs().to_string();
    if v < 0 {
        out.push('-');
    }
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        for _ in digits.len()..scale {
            out.push('0');
        }
        out.push_str(&digits);
    }
}

/// Parses a DECIMAL(precision, scale) from plain decimal text (no exponent). Extra fractional
/// digits are accepted only if they are zeros; the value must fit the precision.
pub(crate) fn parse_decimal(s: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let bad = || format!("'{s}' is not a DECIMAL({precision},{scale})");
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let mut v: i128 = 0;
    let push = |v: i128, d: u8| v.checked_mul(10)?.checked_add(i128::from(d - b'0'));
    for d in int.bytes() {
        v = push(v, d).ok_or_else(bad)?;
    }
    let scale_i = i32::from(scale);
    if scale_i < 0 {
        // Negative scale: the text must be a multiple of 10^-scale.
        if frac.bytes().any(|d| d != b'0') {
            return Err(bad());
        }
        let div = 10i128.checked_pow((-scale_i) as u32).ok_or_else(bad)?;
        if v % div != 0 {
            return Err(format!(
                "'{s}' has more precision than DECIMAL({precision},{scale})"
            ));
        }
        v /= div;
    } else {
        for (i, d) in frac.bytes().enumerate() {
            if (i as i32) < scale_i {
                v = push(v, d).ok_or_else(bad)?;
            } else if d != b'0' {
                return Err(format!(
                    "'{s}' has more than {scale} fractional digits for DECIMAL({precision},{scale})"
                ));
            }
        }
        for _ in (frac.len() as i32)..scale_i {
            v = v.checked_mul(10).ok_or_else(bad)?;
        }
    }
    let limit = 10i128
        .checked_pow(u32::from(precision))
        .unwrap_or(i128::MAX);
    if v >= limit {
        return Err(format!(
            "'{s}' exceeds the precision of DECIMAL({precision},{scale})"
        ));
    }
    Ok(if neg { -v } else { v })
}

/// Appends `bytes` as lower-case hex.
pub(crate) fn push_hex(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

pub(crate) use crate::id::hex_decode as parse_hex;
