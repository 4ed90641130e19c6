//! JavaScript's `Date` on the wire: a msgpack timestamp read as the ms a
//! `Date` holds, and ms written as `Date#toISOString` writes them (which is
//! what `JSON.stringify` makes of a `Date`). The msgpack parser, the Redis
//! adapters' msgpack and the admin UI's dates all go through here.
//!
//! Owns: the conversion. Written by hand: a calendar crate would bring a
//! whole date library for one day-count formula (Howard Hinnant's
//! `civil_from_days`) and JavaScript's own range and year format.

/// Largest absolute time a JavaScript `Date` holds, in milliseconds.
pub const JS_DATE_MAX_MS: i128 = 8_640_000_000_000_000;

/// A msgpack timestamp (extension type -1 of 4, 8 or 12 bytes) as the ms
/// since 1970 a JavaScript `Date` made of it holds; `None` for another length.
pub fn msgpack_timestamp_ms(raw: &[u8]) -> Option<i128> {
    let be = |bytes: &[u8]| bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let (secs, nanos): (i128, i128) = match raw.len() {
        4 => (be(raw).into(), 0),
        8 => {
            let all = be(raw);
            ((all & 0x3_ffff_ffff).into(), (all >> 34).into())
        }
        12 => (i128::from(be(&raw[4..]) as i64), be(&raw[..4]).into()),
        _ => return None,
    };
    // notepack gives JavaScript `s * 1e3 + ns / 1e6` ms, which a Date
    // truncates toward zero; integer division in ns does the same.
    Some((secs * 1_000_000_000 + nanos) / 1_000_000)
}

/// A time in ms since 1970 as `Date#toISOString` writes it
/// (`2026-12-05T03:22:01.123Z`; years outside 0..=9999 as `+010000` or
/// `-000001`), or `None` where a JavaScript `Date` is invalid (and its
/// `toJSON` null).
///
/// ```
/// use switchyard_core::js_date::iso_string;
///
/// assert_eq!(iso_string(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
/// assert_eq!(iso_string(-1).as_deref(), Some("1969-12-31T23:59:59.999Z"));
/// ```
pub fn iso_string(ms: i128) -> Option<String> {
    if ms.abs() > JS_DATE_MAX_MS {
        return None;
    }
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    Some(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    ))
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascripts_range_and_year_format() {
        assert_eq!(iso_string(JS_DATE_MAX_MS + 1), None);
        assert_eq!(
            iso_string(JS_DATE_MAX_MS).as_deref(),
            Some("+275760-09-13T00:00:00.000Z")
        );
        assert_eq!(
            iso_string(-62_198_755_200_000).as_deref(),
            Some("-000001-01-01T00:00:00.000Z")
        );
        assert_eq!(
            iso_string(1_700_000_000_123).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
    }

    #[test]
    fn msgpack_timestamps_of_each_size() {
        assert_eq!(msgpack_timestamp_ms(&[0, 0, 0, 1]), Some(1000));
        // 64 bits: 123 ms in nanoseconds above 1,700,000,000 s.
        let all = (123_000_000u64 << 34) | 1_700_000_000;
        assert_eq!(
            msgpack_timestamp_ms(&all.to_be_bytes()),
            Some(1_700_000_000_123)
        );
        // 96 bits: -1 s and 999 ms in nanoseconds: -1 ms, as a Date has it.
        let mut raw = 999_000_000u32.to_be_bytes().to_vec();
        raw.extend((-1i64).to_be_bytes());
        assert_eq!(msgpack_timestamp_ms(&raw), Some(-1));
        assert_eq!(msgpack_timestamp_ms(&[0; 5]), None);
    }
}
