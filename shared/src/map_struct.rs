//! One field-name reader for every struct decoded from JSON objects.
//!
//! serde's derived `Deserialize` for a struct compiles, per struct, a field-name visitor
//! (the names compared once for `&str` and once more for bytes), a `visit_map` and a
//! `visit_seq` (the struct as a JSON array of its fields, which nothing here writes or
//! reads). [`map_struct!`] writes the same `visit_map` against one field reader, [`Field`],
//! that finds a key's index in the struct's table of names, compiled once per format for
//! all of them, and no `visit_seq` (README "Size"). Same input, same values, same errors:
//! unknown keys are skipped, a repeated key is `duplicate field`, a missing one is
//! `missing field` (an `Option` reads as `None`, a `default` field as its default), and
//! any other JSON value is `invalid type: .., expected struct X`; the one difference is
//! that a JSON array is refused with that error instead of read field by field.
//! `Serialize` stays derived; the tests compare each decoder with the derive's. The
//! decoding rules (`default`, an alias, `skip`) live in the macro's invocation only: a
//! `#[serde(default)]` or `#[serde(alias)]` on the struct would do nothing, so the structs
//! carry none.

use serde::de::{self, Deserializer, Error, Visitor};
use std::fmt;

/// A key's index in a struct's names (its fields, then its aliases; `names.len()` for a key
/// it does not have, which the struct skips), as the derive's `__Field`. A numeric key
/// (formats other than JSON) is a field's position, never an alias's.
#[derive(Clone, Copy)]
pub struct Field {
    pub names: &'static [&'static str],
    pub fields: usize,
}

impl<'de> de::DeserializeSeed<'de> for Field {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<usize, E> {
        Ok(usize::try_from(v).ok().filter(|&i| i < self.fields).unwrap_or(self.names.len()))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<usize, E> {
        self.visit_bytes(v.as_bytes())
    }

    fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<usize, E> {
        Ok(self.names.iter().position(|n| n.as_bytes() == v).unwrap_or(self.names.len()))
    }
}

/// The next key's index in `names` (see [`Field`]). Not inlined, like [`value`] and
/// [`skip`]: one copy per format serves every struct.
#[inline(never)]
pub fn key<'de, A: de::MapAccess<'de>>(map: &mut A, field: Field) -> Result<Option<usize>, A::Error> {
    map.next_key_seed(field)
}

/// Reads field `name`'s value into `slot`; `duplicate field` when it was read before.
#[inline(never)]
pub fn value<'de, A: de::MapAccess<'de>, T: de::Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(A::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Skips the value of a key the struct does not have.
#[inline(never)]
pub fn skip<'de, A: de::MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<de::IgnoredAny>().map(drop)
}

/// `impl Deserialize` for a struct read from a map, every field listed in declaration
/// order: `name` (required: `missing field` when absent) or `name: default` (its
/// `Default` when absent: an `Option` field, which the derive reads as `None` when absent,
/// or a `#[serde(default)]` one), and `as "alias"` for a second spelling of its key
/// (serde's `alias`); `Name<C>` for a struct generic in one type; `skip { name }` after
/// the fields for `#[serde(skip)]` ones (their `Default`, never read). Exported: the
/// Worker's own stored structs use it too.
#[macro_export]
macro_rules! map_struct {
    (
        $ty:ident $(<$g:ident>)? { $($field:ident $(: $default:ident)? $(as $alias:literal)?),* $(,)? }
        $(skip { $($skip:ident),* })?
    ) => {
        impl<'de $(, $g: ::serde::Deserialize<'de>)?> ::serde::Deserialize<'de> for $ty $(<$g>)? {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                struct V $(<$g>(::std::marker::PhantomData<$g>))?;
                impl<'de $(, $g: ::serde::Deserialize<'de>)?> ::serde::de::Visitor<'de> for V $(<$g>)? {
                    type Value = $ty $(<$g>)?;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter) -> ::std::fmt::Result {
                        f.write_str(concat!("struct ", stringify!($ty)))
                    }

                    #[allow(non_camel_case_types)]
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> ::core::result::Result<Self::Value, A::Error> {
                        use ::serde::de::Error;
                        enum F { $($field),* }
                        // The fields in order, then the aliases.
                        const NAMES: &[&str] = &[$(stringify!($field),)* $($($alias,)?)*];
                        const FIELD: $crate::map_struct::Field =
                            $crate::map_struct::Field { names: NAMES, fields: [$(stringify!($field)),*].len() };
                        $(let mut $field = None;)*
                        while let Some(i) = $crate::map_struct::key(&mut map, FIELD)? {
                            $(
                                if i == F::$field as usize $(|| NAMES.get(i) == Some(&$alias))? {
                                    $crate::map_struct::value(&mut map, &mut $field, stringify!($field))?;
                                    continue;
                                }
                            )*
                            $crate::map_struct::skip(&mut map)?;
                        }
                        ::core::result::Result::Ok($ty {
                            $($field: $crate::map_struct!(@missing $field $($default)?),)*
                            $($($skip: Default::default(),)*)?
                        })
                    }
                }
                d.deserialize_map(V $((::std::marker::PhantomData::<$g>))?)
            }
        }
    };
    (@missing $field:ident) => {
        match $field {
            Some(v) => v,
            None => return ::core::result::Result::Err(A::Error::missing_field(stringify!($field))),
        }
    };
    (@missing $field:ident default) => {
        $field.unwrap_or_default()
    };
}
pub use crate::map_struct;

#[cfg(test)]
mod tests {
    //! Each `map_struct!` decoder against serde's derive of the same struct (a `remote`
    //! derive, the struct's definition before this module replaced its `Deserialize`), on
    //! a valid map and every variation of it that one edit makes.
    use crate::api_error::*;
    use crate::auth::*;
    use crate::dns::*;
    use crate::fleet::*;
    use crate::health::*;
    use crate::probe::*;
    use crate::registration::*;
    use crate::sla::*;
    use crate::types::*;
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value};
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[derive(Deserialize)]
    #[serde(remote = "ErrorBody")]
    struct ErrorBodyDerived {
        pub error: ErrorInner,
    }

    #[derive(Deserialize)]
    #[serde(remote = "ErrorInner")]
    struct ErrorInnerDerived {
        pub code: ErrorCode,
        pub message: String,
    }

    #[derive(Deserialize)]
    #[serde(remote = "CacheEntry")]
    struct CacheEntryDerived {
        pub hash: String,
        pub salt: String,
        pub iterations: u32,
        pub epoch: u64,
        pub verified_at: i64,
    }

    #[derive(Deserialize)]
    #[serde(remote = "GuardReply")]
    struct GuardReplyDerived {
        pub locked: bool,
        pub slot: bool,
    }

    #[derive(Deserialize)]
    #[serde(remote = "Lockout")]
    struct LockoutDerived {
        pub failures: Vec<i64>,
        pub locked_until: Option<i64>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "ProvisionalBudget")]
    struct ProvisionalBudgetDerived {
        pub minute: i64,
        pub used: u32,
    }

    #[derive(Deserialize)]
    #[serde(remote = "Attempts")]
    struct AttemptsDerived {
        pub count: u32,
        pub first_at: Option<i64>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "DnsRecord")]
    struct DnsRecordDerived {
        pub id: Option<String>,
        pub name: String,
        pub rtype: RecordType,
        pub content: String,
        pub ttl: u32,
        pub owned: bool,
    }

    #[derive(Deserialize)]
    #[serde(remote = "NewRecord")]
    struct NewRecordDerived {
        pub rtype: RecordType,
        pub content: String,
    }

    #[derive(Deserialize)]
    #[serde(remote = "PoolPlan")]
    struct PoolPlanDerived {
        pub pool: String,
        pub country: String,
        pub ttl: u32,
        pub frozen: bool,
        pub creates: Vec<NewRecord>,
        pub deletes: Vec<DnsRecord>,
        pub ttl_fixes: Vec<DnsRecord>,
        pub deferred_deletes: usize,
        #[serde(skip)]
        pub current: Vec<DnsRecord>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "Telemetry")]
    struct TelemetryDerived {
        pub clients: u32,
        pub capacity: Option<u32>,
        pub cpu: Option<f64>,
        pub bandwidth_mbps: Option<f64>,
        pub version: Option<String>,
        #[serde(default)]
        pub openvpn: Option<OpenVpnState>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "ServerRecord")]
    struct ServerRecordDerived {
        pub reg: Registration,
        pub health: HealthState,
        pub telemetry: Telemetry,
        pub last_seen_ms: Option<i64>,
        pub last_heartbeat_ts: Option<i64>,
        pub last_check_passed: Option<bool>,
        #[serde(default)]
        pub prev_seen_ms: Option<i64>,
        #[serde(default)]
        pub region_checks: RegionMap<bool>,
        #[serde(default)]
        pub checked_at_ms: Option<i64>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "ServerView")]
    struct ServerViewDerived {
        pub id: ServerId,
        pub hostname: String,
        pub ipv4: String,
        pub ipv6: Option<String>,
        pub country: CountryCode,
        pub city: String,
        pub status: Status,
        pub load: Option<u8>,
        pub clients: u32,
        pub capacity: u32,
        pub features: Vec<Feature>,
        pub last_seen: Option<String>,
        #[serde(default)]
        pub latitude: Option<Degrees>,
        #[serde(default)]
        pub longitude: Option<Degrees>,
        #[serde(default)]
        pub checks: Option<RegionMap<CheckResult>>,
        #[serde(default)]
        pub checked_at: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "Snapshot")]
    struct SnapshotDerived {
        pub generated_at: String,
        pub servers: Vec<ServerView>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "CountrySummary")]
    struct CountrySummaryDerived {
        pub code: CountryCode,
        pub pool: String,
        pub servers: u32,
        pub up: u32,
        pub load: Option<u8>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "Thresholds")]
    struct ThresholdsDerived {
        pub down_after: u32,
        pub up_after: u32,
    }

    #[derive(Deserialize)]
    #[serde(remote = "Counters")]
    struct CountersDerived {
        pub health: Health,
        pub good: u32,
        pub bad: u32,
    }

    #[derive(Deserialize)]
    #[serde(remote = "HealthState")]
    struct HealthStateDerived {
        #[serde(alias = "minute")]
        pub check: Option<i64>,
        pub before: Counters,
        pub now: Counters,
        #[serde(default)]
        pub external: Option<i64>,
        #[serde(default)]
        pub external_down: bool,
    }

    #[derive(Deserialize)]
    #[serde(remote = "CycleVotes")]
    struct CycleVotesDerived {
        pub cycle: i64,
        pub len_ms: i64,
        pub regions: RegionMap<RegionResults>,
        #[serde(default)]
        pub slices_in: RegionMap<crate::sort::SortedSet<u32>>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "Registration")]
    struct RegistrationDerived {
        pub id: ServerId,
        pub hostname: Hostname,
        pub ipv4: Ipv4Addr,
        pub ipv6: Option<Ipv6Addr>,
        pub country: CountryCode,
        pub city: City,
        pub capacity: u32,
        pub features: Vec<Feature>,
        pub probe: Probe,
        pub maintenance: bool,
        #[serde(default)]
        pub latitude: Option<Degrees>,
        #[serde(default)]
        pub longitude: Option<Degrees>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "FleetChecks")]
    struct FleetChecksDerived {
        pub total: u32,
        pub passed: u32,
        pub maintenance: u32,
    }

    #[derive(Deserialize)]
    #[serde(remote = "MinuteRecord")]
    struct MinuteRecordDerived {
        pub minute: i64,
        pub state: MinuteState,
        pub down_units: u32,
        pub checks: FleetChecks,
    }

    #[derive(Deserialize)]
    #[serde(remote = "MinuteCounts")]
    struct MinuteCountsDerived {
        pub up: u32,
        pub down: u32,
        pub maintenance: u32,
        pub unknown: u32,
        pub down_units: u64,
    }

    #[derive(Deserialize)]
    #[serde(remote = "CreditState")]
    struct CreditStateDerived {
        pub status: CreditStatus,
        pub attempts: u32,
        pub issued_at: Option<String>,
        pub last_error: Option<String>,
        pub next_attempt_ms: Option<i64>,
        pub credit_minutes: Option<u32>,
        #[serde(default)]
        pub body: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "DayFigures")]
    struct DayFiguresDerived {
        pub day: i64,
        pub recorded: u32,
        pub down_units: u64,
    }

    #[derive(Deserialize)]
    #[serde(remote = "SlaReport")]
    struct SlaReportDerived<C> {
        pub month: String,
        pub measurement: Measurement,
        pub minutes: u32,
        pub elapsed_minutes: u32,
        pub observed_minutes: u32,
        pub coverage_pct: f64,
        pub downtime_minutes: MinuteUnits,
        pub maintenance_minutes: u32,
        pub unknown_minutes: u32,
        pub availability_pct: Option<f64>,
        pub target_pct: f64,
        pub allowance_minutes: f64,
        pub excess_minutes: f64,
        pub credit_minutes: u32,
        pub credit: Option<C>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "CreditView")]
    struct CreditViewDerived {
        pub status: CreditStatus,
        pub attempts: u32,
        pub issued_at: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "CreditDetail")]
    struct CreditDetailDerived {
        pub status: CreditStatus,
        pub attempts: u32,
        pub issued_at: Option<String>,
        pub last_error: Option<String>,
        pub next_attempt_at: Option<String>,
        pub request_body: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(remote = "GeoPoint")]
    struct GeoPointDerived {
        pub latitude: Degrees,
        pub longitude: Degrees,
    }

    /// Decodes with a remote derive, as `serde_json::from_slice` would.
    macro_rules! derived {
        ($mirror:ty) => {
            |b: &[u8]| {
                let mut d = serde_json::Deserializer::from_slice(b);
                let v = <$mirror>::deserialize(&mut d)?;
                d.end()?;
                Ok(v)
            }
        };
    }

    /// What decoding `text` gives: the value as JSON text, or the error's message.
    fn outcome<T: Serialize>(decode: impl FnOnce(&[u8]) -> serde_json::Result<T>, text: &str) -> String {
        match decode(text.as_bytes()) {
            Ok(v) => format!("ok {}", serde_json::to_string(&v).unwrap()),
            Err(e) => format!("error {e}"),
        }
    }

    fn object(entries: &[(String, String)]) -> String {
        let inner: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("{{{}}}", inner.join(","))
    }

    /// `valid` and its one-edit variations decode alike through both.
    fn same<T: Serialize + DeserializeOwned>(
        name: &str,
        reference: impl Fn(&[u8]) -> serde_json::Result<T>,
        valid: &str,
    ) {
        assert!(reference(valid.as_bytes()).is_ok(), "{name}: the sample must be valid: {valid}");
        let map: Map<String, Value> = serde_json::from_str(valid).unwrap();
        let entries: Vec<(String, String)> =
            map.iter().map(|(k, v)| (serde_json::to_string(k).unwrap(), v.to_string())).collect();
        let mut texts = vec![valid.to_owned(), "{}".into(), "null".into(), "\"x\"".into(), "1".into()];
        texts.push(object(&[entries.clone(), vec![("\"zz\"".into(), "[1,{\"a\":2}]".into())]].concat()));
        texts.push(object(&entries.iter().rev().cloned().collect::<Vec<_>>()));
        texts.push(format!("{} ", valid));
        texts.push(format!("{}x", valid));
        for (i, (k, v)) in entries.iter().enumerate() {
            let mut without = entries.clone();
            without.remove(i);
            texts.push(object(&without));
            texts.push(object(&[entries.clone(), vec![(k.clone(), v.clone())]].concat()));
            // The key spelled with an escape (not borrowed from the input), and as an alias.
            let mut escaped = entries.clone();
            escaped[i].0 = format!("\"\\u{:04x}{}", k.as_bytes()[1], &k[2..]);
            texts.push(object(&escaped));
            let mut alias = without.clone();
            alias.push(("\"minute\"".into(), v.clone()));
            texts.push(object(&alias));
            for other in ["null", "\"x\"", "1", "-1", "1.5", "true", "[]", "{}", "[\"p2p\"]", "{\"weur\":true}"] {
                let mut changed = entries.clone();
                changed[i].1 = other.into();
                texts.push(object(&changed));
            }
        }
        for text in &texts {
            let ours = outcome(|b| serde_json::from_slice::<T>(b), text);
            assert_eq!(ours, outcome(&reference, text), "{name}: {text}");
        }
        // The one difference: a JSON array (the derive reads the fields from it in order).
        let values: Vec<&str> = entries.iter().map(|(_, v)| v.as_str()).collect();
        for array in [format!("[{}]", values.join(",")), "[]".into()] {
            let ours = outcome(|b| serde_json::from_slice::<T>(b), &array);
            assert!(ours.starts_with(&format!("error invalid type: sequence, expected struct {name}")), "{ours}");
        }
    }

    const REG: &str = r#"{"id":"se-1","hostname":"se1.vpn.example.com","ipv4":"198.51.100.7","ipv6":"2001:db8::7","country":"se","city":"Stockholm","capacity":250,"features":["p2p","streaming"],"probe":{"kind":"tcp","port":1194},"maintenance":false,"latitude":59.5,"longitude":18.25}"#;
    const COUNTERS: &str = r#"{"health":"up","good":1,"bad":0}"#;
    const VIEW: &str = r#"{"id":"se-1","hostname":"h","ipv4":"192.0.2.1","ipv6":null,"country":"se","city":"S","status":"up","load":5,"clients":1,"capacity":2,"features":["p2p"],"last_seen":"x","latitude":1.5,"longitude":2.5,"checks":{"weur":"pass"},"checked_at":"t"}"#;

    /// `Serialize` skips a skipped field too, so `same` cannot see one being read: asked here.
    #[test]
    fn a_skipped_field_is_never_read() {
        let record = r#"{"id":"r1","name":"p","rtype":"A","content":"192.0.2.1","ttl":60,"owned":true}"#;
        let text = format!(
            r#"{{"pool":"p","country":"se","ttl":60,"frozen":false,"creates":[],"deletes":[],"ttl_fixes":[],"deferred_deletes":0,"current":[{record}]}}"#
        );
        let plan: PoolPlan = serde_json::from_str(&text).unwrap();
        assert!(plan.current.is_empty());
    }

    /// A numeric key (a format other than JSON) is a field's position, never an alias's,
    /// as in the derive: with two fields and one alias, key 2 is skipped like an unknown key.
    #[test]
    fn a_numeric_key_is_a_field_never_an_alias() {
        use serde::de::value::{Error, U64Deserializer};
        use serde::de::DeserializeSeed;
        let field = super::Field { names: &["a", "b", "alias"], fields: 2 };
        let index = |key: u64| field.deserialize(U64Deserializer::<Error>::new(key)).unwrap();
        assert_eq!((index(0), index(1)), (0, 1));
        assert_eq!(index(2), 3, "the alias's index");
        assert_eq!(index(u64::MAX), 3);
    }

    #[test]
    fn each_decoder_reads_as_the_derive() {
        let health = format!(r#"{{"check":5,"before":{COUNTERS},"now":{COUNTERS},"external":6,"external_down":true}}"#);
        let telemetry = r#"{"clients":3,"capacity":10,"cpu":1.5,"bandwidth_mbps":2.0,"version":"v","openvpn":"down"}"#;
        let checks = r#"{"total":3,"passed":2,"maintenance":1}"#;
        let credit = r#"{"status":"issued","attempts":1,"issued_at":"t"}"#;
        same::<ErrorBody>("ErrorBody", derived!(ErrorBodyDerived), r#"{"error":{"code":"not_found","message":"m"}}"#);
        same::<ErrorInner>("ErrorInner", derived!(ErrorInnerDerived), r#"{"code":"not_found","message":"m"}"#);
        same::<CacheEntry>(
            "CacheEntry",
            derived!(CacheEntryDerived),
            r#"{"hash":"h","salt":"s","iterations":1000,"epoch":3,"verified_at":-5}"#,
        );
        same::<GuardReply>("GuardReply", derived!(GuardReplyDerived), r#"{"locked":true,"slot":false}"#);
        same::<Lockout>("Lockout", derived!(LockoutDerived), r#"{"failures":[1,2],"locked_until":7}"#);
        same::<ProvisionalBudget>(
            "ProvisionalBudget",
            derived!(ProvisionalBudgetDerived),
            r#"{"minute":60000,"used":3}"#,
        );
        same::<Attempts>("Attempts", derived!(AttemptsDerived), r#"{"count":2,"first_at":9}"#);
        let record =
            r#"{"id":"r1","name":"pool.se.example.com","rtype":"AAAA","content":"2001:db8::1","ttl":60,"owned":true}"#;
        same::<DnsRecord>("DnsRecord", derived!(DnsRecordDerived), record);
        same::<NewRecord>("NewRecord", derived!(NewRecordDerived), r#"{"rtype":"A","content":"192.0.2.1"}"#);
        same::<PoolPlan>(
            "PoolPlan",
            derived!(PoolPlanDerived),
            &format!(
                r#"{{"pool":"p","country":"se","ttl":60,"frozen":false,"creates":[{{"rtype":"A","content":"192.0.2.1"}}],"deletes":[{record}],"ttl_fixes":[],"deferred_deletes":1,"current":[{record}]}}"#
            ),
        );
        same::<Telemetry>("Telemetry", derived!(TelemetryDerived), telemetry);
        same::<Registration>("Registration", derived!(RegistrationDerived), REG);
        same::<Counters>("Counters", derived!(CountersDerived), COUNTERS);
        same::<HealthState>("HealthState", derived!(HealthStateDerived), &health);
        same::<ServerRecord>(
            "ServerRecord",
            derived!(ServerRecordDerived),
            &format!(
                r#"{{"reg":{REG},"health":{health},"telemetry":{telemetry},"last_seen_ms":1,"last_heartbeat_ts":2,"last_check_passed":true,"prev_seen_ms":3,"region_checks":{{"weur":true}},"checked_at_ms":4}}"#
            ),
        );
        same::<ServerView>("ServerView", derived!(ServerViewDerived), VIEW);
        same::<Snapshot>(
            "Snapshot",
            derived!(SnapshotDerived),
            &format!(r#"{{"generated_at":"t","servers":[{VIEW}]}}"#),
        );
        same::<CountrySummary>(
            "CountrySummary",
            derived!(CountrySummaryDerived),
            r#"{"code":"se","pool":"p","servers":2,"up":1,"load":null}"#,
        );
        same::<Thresholds>("Thresholds", derived!(ThresholdsDerived), r#"{"down_after":3,"up_after":2}"#);
        same::<CycleVotes>(
            "CycleVotes",
            derived!(CycleVotesDerived),
            r#"{"cycle":1,"len_ms":15000,"regions":{"weur":{"se-1":true},"apac":null},"slices_in":{"weur":[0,1]}}"#,
        );
        same::<FleetChecks>("FleetChecks", derived!(FleetChecksDerived), checks);
        same::<MinuteRecord>(
            "MinuteRecord",
            derived!(MinuteRecordDerived),
            &format!(r#"{{"minute":60000,"state":"down","down_units":5,"checks":{checks}}}"#),
        );
        same::<MinuteCounts>(
            "MinuteCounts",
            derived!(MinuteCountsDerived),
            r#"{"up":1,"down":2,"maintenance":3,"unknown":4,"down_units":5}"#,
        );
        same::<CreditState>(
            "CreditState",
            derived!(CreditStateDerived),
            r#"{"status":"pending","attempts":1,"issued_at":null,"last_error":"e","next_attempt_ms":5,"credit_minutes":7,"body":"b"}"#,
        );
        same::<DayFigures>("DayFigures", derived!(DayFiguresDerived), r#"{"day":1,"recorded":2,"down_units":3}"#);
        same::<SlaReport<CreditView>>(
            "SlaReport",
            derived!(SlaReportDerived<CreditView>),
            &format!(
                r#"{{"month":"2026-11","measurement":"measured","minutes":1,"elapsed_minutes":1,"observed_minutes":1,"coverage_pct":99.5,"downtime_minutes":1.5,"maintenance_minutes":0,"unknown_minutes":0,"availability_pct":99.0,"target_pct":99.5,"allowance_minutes":1.5,"excess_minutes":0.0,"credit_minutes":0,"credit":{credit}}}"#
            ),
        );
        same::<CreditView>("CreditView", derived!(CreditViewDerived), credit);
        same::<CreditDetail>(
            "CreditDetail",
            derived!(CreditDetailDerived),
            r#"{"status":"failed","attempts":2,"issued_at":null,"last_error":"e","next_attempt_at":"t","request_body":"b"}"#,
        );
        same::<GeoPoint>("GeoPoint", derived!(GeoPointDerived), r#"{"latitude":1.5,"longitude":-2.5}"#);
    }
}
