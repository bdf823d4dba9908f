//! Civil (proleptic Gregorian) calendar conversions, after Howard Hinnant's
//! `days_from_civil` / `civil_from_days` algorithms, plus date and timestamp text forms.

/// Microseconds in one day.
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of the civil date `y-m-d`; `m` in 1..=12, `d` in 1..=31.
///
/// Exact for every year representable in `i64` whose day count fits `i64` (callers bound
/// the year well below that).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u64; // [0, 399]
    let mp = u64::from(if m > 2 { m - 3 } else { m + 9 }); // March = 0
    let doy = (153 * mp + 2) / 5 + u64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe as i64 - 719_468
}

/// The civil date `(year, month, day)` of `z` days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y` is a Gregorian leap year.
pub fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Number of days in month `m` (1..=12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Appends `y-mm-dd`; years outside 0000..=9999 get an explicit sign (ISO 8601 expanded).
fn push_date(out: &mut String, days: i64) {
    use std::fmt::Write;
    let (y, m, d) = civil_from_days(days);
    // Writing to a String cannot fail.
    let _ = if (0..=9999).contains(&y) {
        write!(out, "{y:04}-{m:02}-{d:02}")
    } else if y > 9999 {
        write!(out, "+{y}-{m:02}-{d:02}")
    } else {
        write!(out, "-{:04}-{m:02}-{d:02}", y.unsigned_abs())
    };
}

/// Renders a DATE as `YYYY-MM-DD`.
pub(crate) fn render_date(days: i32) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, i64::from(days));
    s
}

/// Renders a timestamp as `YYYY-MM-DDTHH:MM:SS[.ffffff]` followed by `Z` if `with_tz`.
pub(crate) fn render_timestamp(micros: i64, with_tz: bool) -> String {
    use std::fmt::Write;
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    let mut s = String::with_capacity(28);
    push_date(&mut s, days);
    let secs = rem / 1_000_000;
    let frac = rem % 1_000_000;
    let _ = write!(
        s,
        "T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        let _ = write!(s, ".{frac:06}");
    }
    if with_tz {
        s.push('Z');
    }
    s
}

/// A tiny cursor over ASCII text for the date parsers.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// Reads between `min` and `max` decimal digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<(u64, usize)> {
        let start = self.i;
        let mut v: u64 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + u64::from(c - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        let n = self.i - start;
        (n >= min).then_some((v, n))
    }
}

/// Parses `[+-]YYYY-MM-DD` at the cursor into days since the epoch.
fn parse_date_at(c: &mut Cursor<'_>) -> Option<i64> {
    let neg = if c.eat(b'-') {
        true
    } else {
        c.eat(b'+');
        false
    };
    // At most 9 year digits keeps every intermediate comfortably inside i64.
    let (y, _) = c.digits(4, 9)?;
    let y = if neg { -(y as i64) } else { y as i64 };
    if !c.eat(b'-') {
        return None;
    }
    let (m, _) = c.digits(2, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    let (d, _) = c.digits(2, 2)?;
    let (m, d) = (m as u32, d as u32);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Parses a DATE written `YYYY-MM-DD` (years outside 0000..=9999 with a sign).
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let days = parse_date_at(&mut c)?;
    if c.i != c.b.len() {
        return None;
    }
    i32::try_from(days).ok()
}

/// Parses a timestamp `YYYY-MM-DD[(T| )HH:MM[:SS[.f{1,6}]]][Z|±HH:MM]`.
///
/// With `with_tz`, a missing zone means UTC and an offset is converted to UTC; without it, a
/// zone suffix is rejected (the value would silently lose its meaning).
pub(crate) fn parse_timestamp(s: &str, with_tz: bool) -> Option<i64> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let days = parse_date_at(&mut c)?;
    let mut micros: i64 = 0;
    if c.eat(b'T') || c.eat(b't') || c.eat(b' ') {
        let (h, _) = c.digits(2, 2)?;
        if !c.eat(b':') {
            return None;
        }
        let (mi, _) = c.digits(2, 2)?;
        let mut sec = 0;
        if c.eat(b':') {
            sec = c.digits(2, 2)?.0;
        }
        if h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        let mut frac = 0;
        if c.eat(b'.') {
            let (f, n) = c.digits(1, 6)?;
            frac = f * 10u64.pow(6 - n as u32);
        }
        micros = ((h * 3600 + mi * 60 + sec) * 1_000_000 + frac) as i64;
    }
    let mut offset_min: i64 = 0;
    match c.peek() {
        None => {}
        Some(b'Z' | b'z') if with_tz => c.i += 1,
        Some(sign @ (b'+' | b'-')) if with_tz => {
            c.i += 1;
            let (oh, _) = c.digits(2, 2)?;
            let om = if c.eat(b':') { c.digits(2, 2)?.0 } else { 0 };
            if oh > 23 || om > 59 {
                return None;
            }
            offset_min = (oh * 60 + om) as i64;
            if sign == b'-' {
                offset_min = -offset_min;
            }
        }
        Some(_) => return None,
    }
    if c.i != c.b.len() {
        return None;
    }
    // The day's start alone may lie below i64::MIN for the earliest representable instants.
    let total = i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(micros)
        - i128::from(offset_min) * 60_000_000;
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(render_date(i32::MIN), "-5877641-06-23");
        assert_eq!(parse_date("-5877641-06-23"), Some(i32::MIN));
        assert_eq!(render_date(i32::MAX), "+5881580-07-11");
        assert_eq!(parse_date("+5881580-07-11"), Some(i32::MAX));
        assert_eq!(render_date(-719_528), "0000-01-01");
        assert_eq!(render_date(-719_529), "-0001-12-31");
    }

    #[test]
    fn known_timestamps() {
        assert_eq!(render_timestamp(0, true), "1970-01-01T00:00:00Z");
        assert_eq!(render_timestamp(-1, false), "1969-12-31T23:59:59.999999");
        assert_eq!(
            parse_timestamp("1969-12-31T23:59:59.999999", false),
            Some(-1)
        );
        assert_eq!(parse_timestamp("1970-01-01 01:00+01:00", true), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z", false), None);
        assert_eq!(parse_timestamp("1970-01-01T24:00:00Z", true), None);
        assert_eq!(
            parse_timestamp("2024-01-01", true),
            Some(19_723 * MICROS_PER_DAY)
        );
        for m in [i64::MIN, i64::MAX, 0, 1_700_000_000_123_456] {
            assert_eq!(parse_timestamp(&render_timestamp(m, true), true), Some(m));
            assert_eq!(parse_timestamp(&render_timestamp(m, false), false), Some(m));
        }
    }
}
