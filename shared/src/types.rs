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

/// Every officially assigned ISO 3166-1 alpha-2 code (249), lower case, sorted. User-assigned
/// (`aa`, `qm`..`qz`, `xa`..`xz`, `zz`), reserved (`uk`, `eu`) and withdrawn codes are not
/// countries a pool can be named after (README "API").
pub const ISO_3166_ALPHA2: [&str; 249] = [
    "ad", "ae", "af", "ag", "ai", "al", "am", "ao", "aq", "ar", "as", "at", "au", "aw", "ax", "az", "ba", "bb", "bd",
    "be", "bf", "bg", "bh", "bi", "bj", "bl", "bm", "bn", "bo", "bq", "br", "bs", "bt", "bv", "bw", "by", "bz", "ca",
    "cc", "cd", "cf", "cg", "ch", "ci", "ck", "cl", "cm", "cn", "co", "cr", "cu", "cv", "cw", "cx", "cy", "cz", "de",
    "dj", "dk", "dm", "do", "dz", "ec", "ee", "eg", "eh", "er", "es", "et", "fi", "fj", "fk", "fm", "fo", "fr", "ga",
    "gb", "gd", "ge", "gf", "gg", "gh", "gi", "gl", "gm", "gn", "gp", "gq", "gr", "gs", "gt", "gu", "gw", "gy", "hk",
    "hm", "hn", "hr", "ht", "hu", "id", "ie", "il", "im", "in", "io", "iq", "ir", "is", "it", "je", "jm", "jo", "jp",
    "ke", "kg", "kh", "ki", "km", "kn", "kp", "kr", "kw", "ky", "kz", "la", "lb", "lc", "li", "lk", "lr", "ls", "lt",
    "lu", "lv", "ly", "ma", "mc", "md", "me", "mf", "mg", "mh", "mk", "ml", "mm", "mn", "mo", "mp", "mq", "mr", "ms",
    "mt", "mu", "mv", "mw", "mx", "my", "mz", "na", "nc", "ne", "nf", "ng", "ni", "nl", "no", "np", "nr", "nu", "nz",
    "om", "pa", "pe", "pf", "pg", "ph", "pk", "pl", "pm", "pn", "pr", "ps", "pt", "pw", "py", "qa", "re", "ro", "rs",
    "ru", "rw", "sa", "sb", "sc", "sd", "se", "sg", "sh", "si", "sj", "sk", "sl", "sm", "sn", "so", "sr", "ss", "st",
    "sv", "sx", "sy", "sz", "tc", "td", "tf", "tg", "th", "tj", "tk", "tl", "tm", "tn", "to", "tr", "tt", "tv", "tw",
    "tz", "ua", "ug", "um", "us", "uy", "uz", "va", "vc", "ve", "vg", "vi", "vn", "vu", "wf", "ws", "ye", "yt", "za",
    "zm", "zw",
];

impl CountryCode {
    /// An assigned ISO 3166-1 alpha-2 code, lower case (`se`, `de`).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if !(s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase())) {
            return Err(Invalid("must be a lower-case ISO 3166-1 alpha-2 code"));
        }
        if ISO_3166_ALPHA2.binary_search(&s).is_err() {
            return Err(if s == "uk" {
                Invalid("is not an assigned ISO 3166-1 code: the United Kingdom is gb")
            } else {
                Invalid("is not an assigned ISO 3166-1 alpha-2 code")
            });
        }
        Ok(Self(s.to_owned()))
    }
}

/// Whether private and documentation addresses may be registered (`ALLOW_PRIVATE_ADDRESSES`:
/// test rigs and local demos; never in production, where they would be published in DNS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    pub allow_private: bool,
}

/// Why an address is not a global unicast address.
fn ipv4_class(a: std::net::Ipv4Addr) -> Option<(&'static str, bool)> {
    let o = a.octets();
    // (what it is, allowed with ALLOW_PRIVATE_ADDRESSES)
    let c = if o[0] == 0 {
        ("unspecified (0.0.0.0/8)", false)
    } else if a.is_loopback() {
        ("loopback", false)
    } else if a.is_link_local() {
        ("link-local", false)
    } else if a.is_broadcast() {
        ("broadcast", false)
    } else if a.is_multicast() {
        ("multicast", false)
    } else if o[0] >= 240 {
        ("reserved (240.0.0.0/4)", false)
    } else if a.is_private() {
        ("private (RFC 1918)", true)
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        ("shared address space (100.64.0.0/10)", true)
    } else if o[0] == 198 && (18..20).contains(&o[1]) {
        ("benchmarking (198.18.0.0/15)", true)
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        ("IETF protocol assignments (192.0.0.0/24)", true)
    } else if a.is_documentation() {
        ("documentation (RFC 5737)", true)
    } else {
        return None;
    };
    Some(c)
}

fn ipv6_class(a: std::net::Ipv6Addr) -> Option<(&'static str, bool)> {
    let s = a.segments();
    let c = if a.is_unspecified() {
        ("unspecified", false)
    } else if a.is_loopback() {
        ("loopback", false)
    } else if a.is_multicast() {
        ("multicast", false)
    } else if s[0] & 0xffc0 == 0xfe80 {
        ("link-local", false)
    } else if s[0] & 0xfe00 == 0xfc00 {
        ("unique local (fc00::/7)", true)
    } else if s[0] == 0x2001 && s[1] == 0x0db8 || s[0] & 0xfff0 == 0x3ff0 {
        ("documentation", true)
    } else if s[0] & 0xe000 != 0x2000 {
        ("outside global unicast (2000::/3)", false)
    } else {
        return None;
    };
    Some(c)
}

impl AddressPolicy {
    /// A server address must be global unicast: it is published in DNS pools.
    pub fn check_ipv4(self, a: std::net::Ipv4Addr) -> Result<(), String> {
        self.verdict(ipv4_class(a))
    }

    pub fn check_ipv6(self, a: std::net::Ipv6Addr) -> Result<(), String> {
        self.verdict(ipv6_class(a))
    }

    fn verdict(self, class: Option<(&'static str, bool)>) -> Result<(), String> {
        match class {
            None => Ok(()),
            Some((_, true)) if self.allow_private => Ok(()),
            Some((what, true)) => Err(format!(
                "must be a global unicast address; this one is {what} (allowed only with ALLOW_PRIVATE_ADDRESSES)"
            )),
            Some((what, false)) => Err(format!("must be a global unicast address; this one is {what}")),
        }
    }
}

/// Decimal degrees, kept as whole microdegrees (about 0.1 m) so positions compare exactly
/// and survive JSON round trips unchanged; on the wire a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Degrees(i32);

impl Degrees {
    /// A finite value within `-limit..=limit`.
    pub fn parse(v: f64, limit: f64) -> Option<Self> {
        (v.is_finite() && (-limit..=limit).contains(&v)).then(|| Self((v * 1e6).round() as i32))
    }

    pub fn value(self) -> f64 {
        f64::from(self.0) / 1e6
    }
}

impl Serialize for Degrees {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.value())
    }
}

impl<'de> Deserialize<'de> for Degrees {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Self::parse(v, 180.0).ok_or_else(|| serde::de::Error::custom("degrees out of range"))
    }
}

/// A point on the Earth: a server's registered location or a client's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GeoPoint {
    pub latitude: Degrees,
    pub longitude: Degrees,
}

crate::map_struct::map_struct!(GeoPoint { latitude, longitude });

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

impl GeoPoint {
    pub fn new(latitude: f64, longitude: f64) -> Option<Self> {
        Some(Self { latitude: Degrees::parse(latitude, 90.0)?, longitude: Degrees::parse(longitude, 180.0)? })
    }

    /// Great-circle distance (haversine), km.
    pub fn distance_km(self, other: GeoPoint) -> f64 {
        let (la1, la2) = (self.latitude.value().to_radians(), other.latitude.value().to_radians());
        let dla = la2 - la1;
        let dlo = (other.longitude.value() - self.longitude.value()).to_radians();
        let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
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
    /// The id the edge issues: the first 32 hex digits of a SHA-256 (README "Auth").
    pub fn issued(sha256_hex: &str) -> Self {
        Self(sha256_hex[..32.min(sha256_hex.len())].to_owned())
    }

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
        // Outside the calendar's range (years beyond ±262,000): 1970-01, as chrono's default.
        let date = crate::civil::Date::from_days(minute.div_euclid(1440));
        date.map_or(Self { year: 1970, month: 1 }, |d| Self { year: d.year, month: d.month })
    }

    /// Days since 1970-01-01 of the month's first day (1970-01-01 for a month that cannot
    /// be, as chrono's default).
    fn first_day(self) -> i64 {
        crate::civil::Date::new(self.year, self.month, 1).map_or(0, crate::civil::Date::days)
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
        crate::civil::days_in_month(self.year, self.month)
    }

    /// First unix minute of the month.
    pub fn start_minute(self) -> i64 {
        self.first_day() * 1440
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

/// On the wire as `YYYY-MM`, read back through `parse`, so a month that crosses a Durable
/// Object hop is a valid one.
impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Month::parse(&s).map_err(|e| serde::de::Error::custom(e.0))
    }
}

#[cfg(test)]
mod tests {

    /// `Month`'s calendar is `civil`'s; these are the chrono calls it replaced.
    #[test]
    fn months_match_chrono() {
        use chrono::{Datelike, NaiveDate};
        let chrono_of_minute = |minute: i64| {
            let date = chrono::DateTime::from_timestamp(minute.div_euclid(1440) * 86_400, 0)
                .map(|d| d.date_naive())
                .unwrap_or_default();
            (date.year(), date.month())
        };
        let first = |m: Month| NaiveDate::from_ymd_opt(m.year, m.month, 1).unwrap_or_default();
        let edges = [-1, 0, 1439, 1440, 28_000_000, 29_000_000, -3_000_000, 5_256_000_000, i32::MAX as i64 * 60];
        let steps = (-200_000_000..14_000_000_000i64).step_by(1_000_003);
        for minute in edges.into_iter().chain(steps) {
            let m = Month::of_minute(minute);
            assert_eq!((m.year, m.month), chrono_of_minute(minute), "{minute}");
            assert_eq!(m.days() as i64, (first(m.next()) - first(m)).num_days(), "{m}");
            let start = first(m).and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp() / 60).unwrap_or(0);
            assert_eq!(m.start_minute(), start, "{m}");
            assert!(m.start_minute() <= minute && minute < m.end_minute(), "{minute}");
        }
        for (y, days) in [(2000, 29), (2100, 28), (2024, 29), (2026, 28), (9999, 28)] {
            assert_eq!(Month { year: y, month: 2 }.days(), days);
        }
        // Beyond the calendar (chrono's range), as chrono: 1970-01.
        let far = 264_000 * 366 * 1440;
        assert_eq!(Month::of_minute(far), Month { year: 1970, month: 1 });
        assert_eq!(Month::of_minute(-far), Month { year: 1970, month: 1 });
    }

    #[test]
    fn month_crosses_the_wire_as_yyyy_mm_and_only_valid() {
        let m = Month::parse("2025-02").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"2025-02\"");
        assert_eq!(serde_json::from_str::<Month>("\"2025-02\"").unwrap(), m);
        assert!(serde_json::from_str::<Month>("\"2025-13\"").is_err());
    }

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
    fn country_table_is_sorted_unique_and_assigned_only() {
        assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        for code in ["se", "de", "gb", "us", "jp", "au", "no", "ax", "ss", "zw"] {
            assert!(CountryCode::parse(code).is_ok(), "{code}");
        }
        for code in ["zz", "aa", "uk", "eu", "xk", "qz", "yu", "an"] {
            assert!(CountryCode::parse(code).is_err(), "{code}");
        }
        assert!(CountryCode::parse("uk").unwrap_err().0.contains("gb"));
    }

    #[test]
    fn addresses_must_be_global_unicast() {
        let strict = AddressPolicy::default();
        let lab = AddressPolicy { allow_private: true };
        let v4 = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap();
        let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap();
        for a in ["8.8.8.8", "185.65.134.1", "198.51.0.9", "100.128.0.1", "172.32.0.1"] {
            assert!(strict.check_ipv4(v4(a)).is_ok(), "{a}");
        }
        for a in ["127.0.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1", "169.254.1.1", "255.255.255.255", "240.0.0.1"] {
            assert!(strict.check_ipv4(v4(a)).is_err(), "{a}");
            assert!(lab.check_ipv4(v4(a)).is_err(), "{a} is refused even in a lab");
        }
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.5",
            "198.18.0.1",
        ] {
            assert!(strict.check_ipv4(v4(a)).is_err(), "{a}");
            assert!(lab.check_ipv4(v4(a)).is_ok(), "{a}");
        }
        assert!(strict.check_ipv4(v4("10.0.0.1")).unwrap_err().contains("ALLOW_PRIVATE_ADDRESSES"));
        assert!(strict.check_ipv6(v6("2a03:2880::1")).is_ok());
        for a in ["::", "::1", "ff02::1", "fe80::1", "::ffff:8.8.8.8", "64:ff9b::1"] {
            assert!(lab.check_ipv6(v6(a)).is_err(), "{a}");
        }
        for a in ["fd00::11", "2001:db8::1", "3fff::1"] {
            assert!(strict.check_ipv6(v6(a)).is_err(), "{a}");
            assert!(lab.check_ipv6(v6(a)).is_ok(), "{a}");
        }
    }

    #[test]
    fn great_circle_distances() {
        let oslo = GeoPoint::new(59.9139, 10.7522).unwrap();
        let stockholm = GeoPoint::new(59.3293, 18.0686).unwrap();
        let tokyo = GeoPoint::new(35.6762, 139.6503).unwrap();
        let d = oslo.distance_km(stockholm);
        assert!((410.0..425.0).contains(&d), "{d}");
        let d = oslo.distance_km(tokyo);
        assert!((8_300.0..8_500.0).contains(&d), "{d}");
        assert_eq!(oslo.distance_km(oslo), 0.0);
        let antipode = GeoPoint::new(-59.9139, -169.2478).unwrap();
        assert!((oslo.distance_km(antipode) - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1.0);
        assert!(GeoPoint::new(90.5, 0.0).is_none());
        assert!(GeoPoint::new(0.0, -180.01).is_none());
        assert!(GeoPoint::new(f64::NAN, 0.0).is_none());
        let json = serde_json::to_string(&stockholm).unwrap();
        assert_eq!(json, r#"{"latitude":59.3293,"longitude":18.0686}"#);
        assert_eq!(serde_json::from_str::<GeoPoint>(&json).unwrap(), stockholm);
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
