//! UTC calendar dates and times from integers: the few conversions and formats the edge
//! needs, written out instead of linking chrono's general formatter and parser (README
//! "Size"). Every function gives exactly what the chrono call it replaced gave, over
//! chrono's whole date range (years -262143..=262142); the tests compare them value by value.

use std::fmt::Write;

/// English month abbreviations (`%b`).
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The first and last day chrono can represent (`NaiveDate::MIN`, `NaiveDate::MAX`), in days
/// since 1970-01-01: a timestamp outside them formats as nothing, as before.
const MIN_DAY: i64 = -96_465_292;
const MAX_DAY: i64 = 95_026_236;

/// A date of the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i32,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
}

impl Date {
    /// The date `days` days after 1970-01-01 (before it when negative); `None` outside
    /// chrono's range. (H. Hinnant's `civil_from_days`, in 400-year eras.)
    pub fn from_days(days: i64) -> Option<Self> {
        if !(MIN_DAY..=MAX_DAY).contains(&days) {
            return None;
        }
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097); // 0..=146_096
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from 1 March
        let mp = (5 * doy + 2) / 153; // 0..=11, March first
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Some(Self { year: year as i32, month, day })
    }

    /// Days since 1970-01-01 of a valid date.
    pub fn days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// A date that exists, within chrono's range (`NaiveDate::from_ymd_opt`).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let d = Self { year, month, day };
        (MIN_DAY..=MAX_DAY).contains(&d.days()).then_some(d)
    }
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `%Y`: four digits, with a sign outside 0..=9999 (`+10000`, `-0001`), as chrono writes it.
fn write_year(o: &mut String, year: i32) {
    let _ = if (0..=9999).contains(&year) { write!(o, "{year:04}") } else { write!(o, "{year:+05}") };
}

/// `%Y-%m-%d`.
pub fn iso_date(d: Date) -> String {
    let mut o = String::with_capacity(10);
    write_year(&mut o, d.year);
    let _ = write!(o, "-{:02}-{:02}", d.month, d.day);
    o
}

/// `%-d %b %Y`: `25 Nov 2026`.
pub fn human_date(d: Date) -> String {
    let mut o = String::with_capacity(11);
    let _ = write!(o, "{} {} ", d.day, MONTHS[d.month as usize - 1]);
    write_year(&mut o, d.year);
    o
}

/// A unix time in ms as RFC 3339 in UTC to the second (`2026-11-25T18:05:09Z`; chrono's
/// `to_rfc3339_opts(SecondsFormat::Secs, true)`), `None` outside chrono's range.
pub fn rfc3339_ms(ms: i64) -> Option<String> {
    let secs = ms.div_euclid(1000);
    let date = Date::from_days(secs.div_euclid(86_400))?;
    let s = secs.rem_euclid(86_400);
    let mut o = iso_date(date);
    let _ = write!(o, "T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60);
    Some(o)
}

/// Reads an RFC 3339 time as chrono's `DateTime::parse_from_rfc3339` does (a space or
/// `t` for `T`, `z` for `Z`, any number of fraction digits, a leap second, offsets up to
/// ±23:59, U+2212 as a minus sign) and writes it in UTC as `%-d %b %Y, %H:%M UTC`.
pub fn rfc3339_to_human_utc(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |at: usize, n: usize| -> Option<u32> {
        b[at..at + n].iter().try_fold(0u32, |v, c| c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0')))
    };
    let date = Date::new(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    // 60 is a leap second, within minute 59.
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset_min: i64 = if let Some(r) = rest.strip_prefix(['Z', 'z']) {
        rest = r;
        0
    } else {
        let (negative, r) = if let Some(r) = rest.strip_prefix('+') {
            (false, r)
        } else if let Some(r) = rest.strip_prefix(['-', '\u{2212}']) {
            (true, r)
        } else {
            return None;
        };
        let o = r.as_bytes();
        if o.len() != 5 || o[2] != b':' || !o.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
            return None;
        }
        let (h, m) = (i64::from((o[0] - b'0') * 10 + o[1] - b'0'), i64::from((o[3] - b'0') * 10 + o[4] - b'0'));
        if h > 23 || m > 59 {
            return None;
        }
        rest = "";
        if negative {
            -(h * 60 + m)
        } else {
            h * 60 + m
        }
    };
    if !rest.is_empty() {
        return None;
    }
    let minutes = date.days() * 1440 + i64::from(hour * 60 + min) - offset_min;
    let utc = Date::from_days(minutes.div_euclid(1440))?;
    let m = minutes.rem_euclid(1440);
    let mut o = human_date(utc);
    let _ = write!(o, ", {:02}:{:02} UTC", m / 60, m % 60);
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
    use proptest::prelude::*;

    fn chrono_rfc3339_ms(ms: i64) -> Option<String> {
        DateTime::from_timestamp_millis(ms).map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    fn chrono_human(s: &str) -> Option<String> {
        DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc).format("%-d %b %Y, %H:%M UTC").to_string())
    }

    fn chrono_days(day: i64) -> (String, String) {
        let date = DateTime::from_timestamp(day * 86_400, 0);
        (
            date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default(),
            date.map(|d| d.format("%-d %b %Y").to_string()).unwrap_or_default(),
        )
    }

    fn ours_days(day: i64) -> (String, String) {
        Date::from_days(day).map(|d| (iso_date(d), human_date(d))).unwrap_or_default()
    }

    fn epoch_days(d: NaiveDate) -> i64 {
        (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days()
    }

    #[test]
    fn the_range_is_chronos() {
        assert_eq!((MIN_DAY, MAX_DAY), (epoch_days(NaiveDate::MIN), epoch_days(NaiveDate::MAX)));
        for day in [MIN_DAY - 1, MIN_DAY, MIN_DAY + 1, MAX_DAY - 1, MAX_DAY, MAX_DAY + 1] {
            assert_eq!(ours_days(day), chrono_days(day), "{day}");
        }
        let (first, last) = (MIN_DAY * 86_400_000, MAX_DAY * 86_400_000 + 86_399_999);
        for ms in [first - 1, first, last, last + 1, i64::MIN, i64::MAX, 0, -1] {
            assert_eq!(rfc3339_ms(ms), chrono_rfc3339_ms(ms), "{ms}");
        }
    }

    #[test]
    fn every_day_of_ten_thousand_years_matches_chrono() {
        // 0000-03-01 to 9999: every year formatting branch but the far ends.
        for day in -719_468..=2_932_896 {
            let ours = Date::from_days(day).unwrap();
            let theirs = NaiveDate::from_num_days_from_ce_opt((day + 719_163) as i32).unwrap();
            assert_eq!((ours.year, ours.month, ours.day), (theirs.year(), theirs.month(), theirs.day()), "{day}");
            assert_eq!(ours.days(), day);
            assert_eq!(Date::new(ours.year, ours.month, ours.day), Some(ours));
        }
        for day in [-719_469, -800_000, 2_932_897, 3_000_000, -1, 0, 20_417] {
            assert_eq!(ours_days(day), chrono_days(day), "{day}");
        }
    }

    #[test]
    fn dates_that_do_not_exist() {
        for (y, m, d) in [(2026, 2, 29), (2100, 2, 29), (2026, 4, 31), (2026, 13, 1), (2026, 0, 1), (2026, 1, 0)] {
            assert_eq!(Date::new(y, m, d), None);
            assert_eq!(NaiveDate::from_ymd_opt(y, m, d), None);
        }
        assert!(Date::new(2000, 2, 29).is_some() && Date::new(2024, 2, 29).is_some());
        assert_eq!(Date::new(262_143, 1, 1), None);
        assert_eq!(Date::new(262_142, 12, 31).map(Date::days), Some(MAX_DAY));
    }

    #[test]
    fn readable_times() {
        assert_eq!(rfc3339_ms(1_764_093_909_000).as_deref(), Some("2025-11-25T18:05:09Z"));
        assert_eq!(rfc3339_to_human_utc("2026-11-25T18:05:09Z").as_deref(), Some("25 Nov 2026, 18:05 UTC"));
        let same = [
            "2026-11-25T18:05:09Z",
            "2026-11-25t18:05:09z",
            "2026-11-25 18:05:09.123456789123+01:30",
            "2026-12-31T23:59:60-00:01",
            "2026-12-31T23:59:60+23:59",
            "0000-01-01T00:00:00+00:01",
            "0000-01-01T00:00:00\u{2212}00:01",
            "9999-12-31T23:59:59-00:01",
            "0999-02-28T23:59:59-23:59",
            "2024-02-29T12:00:00+00:00",
            "2026-11-25T18:05:09.Z",
            "2026-11-25T18:05:09+24:00",
            "2026-11-25T18:05:09+23:60",
            "2026-11-25T18:05:09+23:5",
            "2026-11-25T18:05:09+2359",
            "2026-11-25T18:05:09Z ",
            "2026-11-25T24:00:00Z",
            "2026-11-25T23:60:00Z",
            "2026-11-25T23:59:61Z",
            "2026-02-29T00:00:00Z",
            "2026-11-25T18:05:09",
            "2026-11-25X18:05:09Z",
            "+2026-11-25T18:05:09Z",
            "2026-11-25T18:05:0éZ",
            "",
            "never",
        ];
        for s in same {
            assert_eq!(rfc3339_to_human_utc(s), chrono_human(s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn timestamps_match_chrono(ms in any::<i64>(), near in -10_000_000_000_000i64..10_000_000_000_000) {
            prop_assert_eq!(rfc3339_ms(ms), chrono_rfc3339_ms(ms));
            prop_assert_eq!(rfc3339_ms(near), chrono_rfc3339_ms(near));
        }

        #[test]
        fn days_match_chrono(day in MIN_DAY - 10..MAX_DAY + 10) {
            prop_assert_eq!(ours_days(day), chrono_days(day));
        }

        #[test]
        fn parsing_matches_chrono(
            ms in -62_167_219_200_000i64..253_402_300_800_000,
            sep in prop::sample::select(vec!["T", "t", " ", "x"]),
            frac in prop::sample::select(vec!["", ".", ".5", ".123456789", ".1234567890123", ".a"]),
            zone in prop::sample::select(vec![
                "Z", "z", "+00:00", "-00:00", "+05:30", "-23:59", "+23:59", "\u{2212}01:00", "+24:00",
                "-07:60", "+7:00", "+07", "", "Z+", "UTC",
            ]),
            leap in any::<bool>(),
            cut in 0usize..40,
        ) {
            let base = rfc3339_ms(ms).unwrap();
            let mut s = format!("{}{sep}{}", &base[..10], &base[11..19]);
            if leap {
                s.replace_range(17..19, "60");
            }
            s.push_str(frac);
            s.push_str(zone);
            prop_assert_eq!(rfc3339_to_human_utc(&s), chrono_human(&s), "{:?}", s);
            // Cut anywhere (on a character boundary) it must still agree.
            let mut cut = cut.min(s.len());
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            prop_assert_eq!(rfc3339_to_human_utc(&s[..cut]), chrono_human(&s[..cut]), "{:?}", &s[..cut]);
        }

        #[test]
        fn any_text_parses_as_chrono_parses_it(s in "[0-9T:+\\-. Zz]{17,40}") {
            prop_assert_eq!(rfc3339_to_human_utc(&s), chrono_human(&s), "{:?}", s);
        }
    }
}
