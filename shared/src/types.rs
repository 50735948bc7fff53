//! Validated domain newtypes. Parse at the edge, trust inside.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value was rejected; the caller attaches the field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

macro_rules! string_newtype {
    ($name:ident) => {
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(ServerId);
string_newtype!(CountryCode);
string_newtype!(City);
string_newtype!(Hostname);
string_newtype!(Feature);
string_newtype!(SessionId);

impl ServerId {
    /// `[a-z0-9-]{1,64}`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() || s.len() > 64 {
            return Err(Invalid("must be 1 to 64 characters"));
        }
        if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(Invalid("may contain only a-z, 0-9 and '-'"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl CountryCode {
    /// ISO 3166-1 alpha-2, lower case (`se`, `de`).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Invalid("must be a lower-case ISO 3166-1 alpha-2 code"))
        }
    }
}

impl City {
    /// Free text for people, 1..=64 characters, no control characters.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 64 {
            return Err(Invalid("must be 1 to 64 characters"));
        }
        if t.chars().any(char::is_control) {
            return Err(Invalid("must not contain control characters"));
        }
        Ok(Self(t.to_owned()))
    }

    /// Case-insensitive match used by the public filters.
    pub fn matches(&self, query: &str) -> bool {
        self.0.eq_ignore_ascii_case(query.trim())
    }
}

impl Hostname {
    /// A DNS name: labels of `[a-z0-9-]`, 1..=63 each, not starting or ending with '-',
    /// 253 characters at most. Stored lower case.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if s.is_empty() || s.len() > 253 {
            return Err(Invalid("must be a DNS name of at most 253 characters"));
        }
        for label in s.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(Invalid("must be a DNS name (labels of a-z, 0-9, '-')"));
            }
        }
        Ok(Self(s))
    }
}

impl SessionId {
    /// 1 to 64 of `[A-Za-z0-9_-]` (the edge issues 32 hex digits).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(Invalid("must be a session id (1 to 64 of a-z, 0-9, '-', '_')"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Feature {
    /// `[a-z0-9_-]{1,32}`, e.g. `p2p`, `streaming`, `wireguard`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty()
            || s.len() > 32
            || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(Invalid("each feature must be 1 to 32 characters of a-z, 0-9, '-', '_'"));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A month of the SLA ledger and reports, `YYYY-MM` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = Invalid("must be YYYY-MM");
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !s[..4].bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad);
        }
        if !s[5..].bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad);
        }
        let year: i32 = s[..4].parse().map_err(|_| Invalid("must be YYYY-MM"))?;
        let month: u32 = s[5..].parse().map_err(|_| Invalid("must be YYYY-MM"))?;
        if !(1..=12).contains(&month) || year < 2000 {
            return Err(Invalid("must be YYYY-MM with a month 01..12 from 2000 on"));
        }
        Ok(Self { year, month })
    }

    /// A month a report may be asked for: `YYYY-MM` or `current`, not in the future.
    pub fn parse_report(s: &str, now_minute: i64) -> Result<Self, Invalid> {
        let current = Self::of_minute(now_minute);
        if s == "current" {
            return Ok(current);
        }
        let m = Self::parse(s)?;
        if m > current {
            return Err(Invalid("is in the future"));
        }
        Ok(m)
    }

    /// The month containing the unix minute `minute`.
    pub fn of_minute(minute: i64) -> Self {
        let days = minute.div_euclid(1440);
        let date = chrono::DateTime::from_timestamp(days * 86_400, 0).map(|d| d.date_naive()).unwrap_or_default();
        use chrono::Datelike;
        Self { year: date.year(), month: date.month() }
    }

    fn first_day(self) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self { year: self.year + 1, month: 1 }
        } else {
            Self { year: self.year, month: self.month + 1 }
        }
    }

    pub fn prev(self) -> Self {
        if self.month == 1 {
            Self { year: self.year - 1, month: 12 }
        } else {
            Self { year: self.year, month: self.month - 1 }
        }
    }

    pub fn days(self) -> u32 {
        (self.next().first_day() - self.first_day()).num_days() as u32
    }

    /// First unix minute of the month.
    pub fn start_minute(self) -> i64 {
        self.first_day().and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp() / 60).unwrap_or(0)
    }

    /// One past the last unix minute of the month.
    pub fn end_minute(self) -> i64 {
        self.next().start_minute()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_id_rules() {
        assert!(ServerId::parse("se-sto-01").is_ok());
        assert!(ServerId::parse(&"a".repeat(64)).is_ok());
        assert!(ServerId::parse(&"a".repeat(65)).is_err());
        assert!(ServerId::parse("").is_err());
        assert!(ServerId::parse("SE").is_err());
        assert!(ServerId::parse("a/b").is_err());
    }

    #[test]
    fn country_rules() {
        assert!(CountryCode::parse("se").is_ok());
        assert!(CountryCode::parse("SE").is_err());
        assert!(CountryCode::parse("swe").is_err());
        assert!(CountryCode::parse("s1").is_err());
    }

    #[test]
    fn hostname_rules() {
        assert_eq!(Hostname::parse("VPN1.Example.com.").unwrap().as_str(), "vpn1.example.com");
        assert!(Hostname::parse("-a.example.com").is_err());
        assert!(Hostname::parse("a..b").is_err());
        assert!(Hostname::parse("a b").is_err());
    }

    #[test]
    fn month_arithmetic() {
        let m = Month::parse("2027-02").unwrap();
        assert_eq!(m.days(), 28);
        assert_eq!(Month::parse("2028-02").unwrap().days(), 29);
        assert_eq!(Month::parse("2026-12").unwrap().next().to_string(), "2027-01");
        assert_eq!(Month::of_minute(m.start_minute()), m);
        assert_eq!(Month::of_minute(m.start_minute() - 1).to_string(), "2027-01");
        assert_eq!(m.end_minute() - m.start_minute(), 28 * 1440);
        assert!(Month::parse("2026-13").is_err());
        assert!(Month::parse("2026-1").is_err());
        assert!(Month::parse("abcd-01").is_err());
        let now = Month::parse("2026-11").unwrap().start_minute() + 5;
        assert_eq!(Month::parse_report("current", now).unwrap().to_string(), "2026-11");
        assert!(Month::parse_report("2026-11", now).is_ok());
        assert_eq!(Month::parse_report("2026-12", now), Err(Invalid("is in the future")));
    }
}
