//! Unix seconds as people read them: a UTC date and a relative time.
//!
//! Used by the token tools and the server's request log. No time zone data,
//! no dependency: UTC only.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
///
/// ```
/// assert_eq!(minijwt::time::utc(1_300_819_380), "2011-03-22T18:43:00Z");
/// ```
pub fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Reads a UTC date as [`utc`] writes it, `YYYY-MM-DDTHH:MM:SSZ`, or a
/// day alone, `YYYY-MM-DD` (its midnight), as Unix seconds.
///
/// ```
/// use minijwt::time::{parse_utc, utc};
/// assert_eq!(parse_utc("2011-03-22T18:43:00Z"), Some(1_300_819_380));
/// assert_eq!(parse_utc("2000-02-29"), Some(951_782_400));
/// assert_eq!(parse_utc(&utc(-1)), Some(-1));
/// assert_eq!(parse_utc("2001-02-29"), None);
/// ```
pub fn parse_utc(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z')?)),
        None => (text, None),
    };
    let number = |part: &str, digits: usize| -> Option<i64> {
        (part.len() == digits && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse().ok())?
    };
    let mut fields = date.split('-');
    let (year, month, day) = (
        number(fields.next()?, 4)?,
        number(fields.next()?, 2)?,
        number(fields.next()?, 2)?,
    );
    if fields.next().is_some() || !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // Day 31 of a 30-day month rolls into the next: refused by the round trip.
    if civil_from_days(days) != (year, month as u32, day as u32) {
        return None;
    }
    let of_day = match time {
        None => 0,
        Some(time) => {
            let mut parts = time.split(':');
            let (h, m, s) = (
                number(parts.next()?, 2)?,
                number(parts.next()?, 2)?,
                number(parts.next()?, 2)?,
            );
            if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
                return None;
            }
            h * 3600 + m * 60 + s
        }
    };
    Some(days * 86_400 + of_day)
}

/// Days since 1970-01-01 of a (year, month, day): the inverse of
/// [`civil_from_days`], counting years from March the same way.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Converts days since 1970-01-01 to (year, month, day).
///
/// The calendar repeats every 400 years (146,097 days); counting years from
/// March puts the leap day at the end of the year, which makes month lengths a
/// simple formula. This is the well-known "days from civil" inversion.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A duration in the largest sensible unit: `42 s`, `59 min`, `3 h 5 min`, `14 days`.
///
/// ```
/// assert_eq!(minijwt::time::duration(3540), "59 min");
/// ```
pub fn duration(seconds: u64) -> String {
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min", seconds / 60),
        3600..=86_399 => match seconds % 3600 / 60 {
            0 => format!("{} h", seconds / 3600),
            minutes => format!("{} h {minutes} min", seconds / 3600),
        },
        _ => format!("{} days", seconds / 86_400),
    }
}

/// `at` relative to `now`: `in 59 min`, `2 days ago`, or `now`.
///
/// ```
/// assert_eq!(minijwt::time::relative(0, 172_800), "2 days ago");
/// assert_eq!(minijwt::time::relative(5, 5), "now");
/// ```
pub fn relative(at: i64, now: i64) -> String {
    let delta = i128::from(at) - i128::from(now);
    let magnitude = u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX);
    if delta == 0 {
        // "issued in 0 s" reads as the future.
        "now".to_owned()
    } else if delta > 0 {
        format!("in {}", duration(magnitude))
    } else {
        format!("{} ago", duration(magnitude))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_300_819_380), "2011-03-22T18:43:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(utc(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(3540, 0), "in 59 min");
        assert_eq!(relative(0, 3540), "59 min ago");
        assert_eq!(relative(10, 10), "now");
        assert_eq!(relative(11, 10), "in 1 s");
        assert_eq!(relative(3 * 3600 + 300, 0), "in 3 h 5 min");
        assert_eq!(relative(0, 14 * 86_400), "14 days ago");
    }
}
