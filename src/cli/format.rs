//! Small formatting helpers: RFC 3339 dates and hex dumps.

use kodiak::schema::civil::civil_from_days;

/// Formats a time as RFC 3339 in its own offset, e.g. `2023-11-14T23:13:20+01:00`.
pub fn rfc3339(secs: i64, tz_offset_min: i16) -> String {
    let local = secs.saturating_add(i64::from(tz_offset_min) * 60);
    let days = local.div_euclid(86_400);
    let sod = local.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let sign = if tz_offset_min < 0 { '-' } else { '+' };
    let off = tz_offset_min.unsigned_abs();
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        off / 60,
        off % 60
    )
}

/// An `xxd`-like dump: offset, 16 hex bytes, printable ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:08x}  ", i * 16));
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out.push_str(" |");
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_700_000_000, 0), "2023-11-14T22:13:20+00:00");
        assert_eq!(rfc3339(1_700_000_000, 60), "2023-11-14T23:13:20+01:00");
        assert_eq!(rfc3339(1_700_000_000, -330), "2023-11-14T16:43:20-05:30");
        assert_eq!(rfc3339(-1, 0), "1969-12-31T23:59:59+00:00");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00+00:00");
        assert_eq!(rfc3339(4_102_444_800, 0), "2100-01-01T00:00:00+00:00");
    }

    #[test]
    fn civil_round_trip_against_day_counting() {
        // Walk day by day across several leap cycles and check the calendar advances by one.
        let (mut y, mut m, mut d) = civil_from_days(-800);
        for day in -799..2000 {
            let next = civil_from_days(day);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ][m as usize - 1];
            let expected = if d < len {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            assert_eq!(next, expected, "day {day}");
            (y, m, d) = next;
        }
    }

    #[test]
    fn dump() {
        let d = hex_dump(b"hello\x00world, this is long");
        assert_eq!(
            d,
            "00000000  68 65 6c 6c 6f 00 77 6f  72 6c 64 2c 20 74 68 69  |hello.world, thi|\n00000010  73 20 69 73 20 6c 6f 6e  67                       |s is long|\n"
        );
    }
}

/// Output format of commands that print either text or JSON (`log`, `status`, `branch`,
/// `tag`, `conflicts show`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextOrJson {
    /// Human-readable text.
    Text,
    /// JSON (documented per command).
    Json,
}
