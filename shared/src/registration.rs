//! The operator's description of a server (`PUT /v1/admin/servers/{id}`, and
//! `PATCH` as a JSON merge patch over the stored one), validated.

use crate::api_error::RequestError;
use crate::request::Fields;
use crate::types::{AddressPolicy, City, CountryCode, Degrees, Feature, GeoPoint, Hostname, ServerId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::{Ipv4Addr, Ipv6Addr};

/// How the health round observes a server. Stored as `{"kind":"tcp","port":1194}`;
/// read back by [`Probe`]'s own `Deserialize` below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Probe {
    Http { url: String },
    Tcp { port: u16 },
    Heartbeat,
}

/// The `kind` tag of a stored [`Probe`].
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(variant_identifier, rename_all = "lowercase")]
enum ProbeKind {
    Http,
    Tcp,
    Heartbeat,
}

/// Reads what serde's `tag = "kind"` derive writes and reads, in one pass over the map:
/// the derived decoder buffers every probe into serde's `Content` tree first, a second
/// decoder of its own (README "Size"). The same errors for the same bad maps (a field of
/// another kind is ignored; our encoder writes `kind` first).
impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl<'de> serde::de::Visitor<'de> for ProbeVisitor {
    type Value = Probe;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("internally tagged enum Probe")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
        use serde::de::{Error, IgnoredAny};
        let (mut kind, mut url, mut port): (Option<ProbeKind>, Option<String>, Option<u16>) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "kind" if kind.is_some() => return Err(Error::duplicate_field("kind")),
                "kind" => kind = Some(map.next_value()?),
                "url" if kind.is_none_or(|k| k == ProbeKind::Http) => {
                    if url.is_some() {
                        return Err(Error::duplicate_field("url"));
                    }
                    url = Some(map.next_value()?);
                }
                "port" if kind.is_none_or(|k| k == ProbeKind::Tcp) => {
                    if port.is_some() {
                        return Err(Error::duplicate_field("port"));
                    }
                    port = Some(map.next_value()?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match kind.ok_or_else(|| Error::missing_field("kind"))? {
            ProbeKind::Http => Ok(Probe::Http { url: url.ok_or_else(|| Error::missing_field("url"))? }),
            ProbeKind::Tcp => Ok(Probe::Tcp { port: port.ok_or_else(|| Error::missing_field("port"))? }),
            ProbeKind::Heartbeat => Ok(Probe::Heartbeat),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
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
    /// Where the server is (both or neither); recommendations score distance with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<Degrees>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<Degrees>,
}

crate::map_struct::map_struct!(Registration {
    id,
    hostname,
    ipv4,
    ipv6: default,
    country,
    city,
    capacity,
    features,
    probe,
    maintenance,
    latitude: default,
    longitude: default,
});

pub const MAX_CAPACITY: u64 = 1_000_000;
const MAX_FEATURES: usize = 32;

impl Registration {
    pub fn parse(id: ServerId, f: &Fields, policy: AddressPolicy) -> Result<Self, RequestError> {
        let hostname = Hostname::parse(f.str("hostname")?).map_err(|e| RequestError::field("hostname", e.0))?;
        let ipv4: Ipv4Addr =
            f.str("ipv4")?.parse().map_err(|_| RequestError::field("ipv4", "must be an IPv4 address"))?;
        policy.check_ipv4(ipv4).map_err(|why| RequestError::field("ipv4", why))?;
        let ipv6 = match f.opt_str("ipv6")? {
            None | Some("") => None,
            Some(s) => {
                let a: Ipv6Addr = s.parse().map_err(|_| RequestError::field("ipv6", "must be an IPv6 address"))?;
                policy.check_ipv6(a).map_err(|why| RequestError::field("ipv6", why))?;
                Some(a)
            }
        };
        let country = CountryCode::parse(f.str("country")?).map_err(|e| RequestError::field("country", e.0))?;
        let city = City::parse(f.str("city")?).map_err(|e| RequestError::field("city", e.0))?;
        let capacity = f.u64("capacity", MAX_CAPACITY)?;
        if capacity == 0 {
            return Err(RequestError::field("capacity", "must be at least 1"));
        }
        let mut features = Vec::new();
        if let Some(list) = f.opt_array("features")? {
            if list.len() > MAX_FEATURES {
                return Err(RequestError::field("features", "at most 32 features"));
            }
            for v in list {
                let s = v.as_str().ok_or_else(|| RequestError::field("features", "must be an array of strings"))?;
                let feat = Feature::parse(s).map_err(|e| RequestError::field("features", e.0))?;
                if !features.contains(&feat) {
                    features.push(feat);
                }
            }
        }
        crate::sort::sort(&mut features);
        let probe = match f.opt_object("probe")? {
            None => Probe::Heartbeat,
            Some(p) => parse_probe(&p)?,
        };
        let maintenance = f.opt_bool("maintenance")?.unwrap_or(false);
        let latitude = f.opt_f64("latitude", -90.0, 90.0)?;
        let longitude = f.opt_f64("longitude", -180.0, 180.0)?;
        let position = match (latitude, longitude) {
            (None, None) => None,
            (Some(_), None) => return Err(RequestError::field("longitude", "is required when latitude is given")),
            (None, Some(_)) => return Err(RequestError::field("latitude", "is required when longitude is given")),
            (Some(lat), Some(lon)) => GeoPoint::new(lat, lon),
        };
        Ok(Self {
            id,
            hostname,
            ipv4,
            ipv6,
            country,
            city,
            capacity: capacity as u32,
            features,
            probe,
            maintenance,
            latitude: position.map(|p| p.latitude),
            longitude: position.map(|p| p.longitude),
        })
    }

    pub fn position(&self) -> Option<GeoPoint> {
        Some(GeoPoint { latitude: self.latitude?, longitude: self.longitude? })
    }

    /// The registration as a `PUT` body would state it (what `GET /v1/admin/servers/{id}`
    /// shows and a `PATCH` is merged into).
    pub fn to_body(&self) -> Map<String, Value> {
        // Through its JSON text rather than `serde_json::to_value`: the same values, with
        // the encoder and decoder the Worker has anyway instead of a `Value` encoder for
        // every field type (README "Size").
        let text = serde_json::to_vec(self).unwrap_or_default();
        let mut m = match serde_json::from_slice(&text) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        m.remove("id");
        for k in ["ipv6", "latitude", "longitude"] {
            m.entry(k).or_insert(Value::Null);
        }
        m
    }

    /// `PATCH`: an RFC 7386 JSON merge patch over this registration, validated exactly as a
    /// `PUT` (a `null` removes an optional field; removing a required one names it).
    pub fn merge_patch(&self, patch: &Value, policy: AddressPolicy) -> Result<Self, RequestError> {
        if !patch.is_object() {
            return Err(RequestError::MalformedJson("a merge patch must be a JSON object".into()));
        }
        let mut doc = Value::Object(self.to_body());
        merge(&mut doc, patch);
        match doc {
            Value::Object(m) => Self::parse(self.id.clone(), &Fields::from_map(m), policy),
            _ => Err(RequestError::MalformedJson("a merge patch must be a JSON object".into())),
        }
    }
}

/// RFC 7386 section 2, MergePatch(Target, Patch).
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn parse_probe(p: &Fields) -> Result<Probe, RequestError> {
    match p.opt_str("kind").map_err(|_| RequestError::field("probe.kind", "must be a string"))? {
        Some("heartbeat") => Ok(Probe::Heartbeat),
        Some("tcp") => {
            let port =
                p.u64("port", 65_535).map_err(|_| RequestError::field("probe.port", "must be a port 1..65535"))?;
            if port == 0 {
                return Err(RequestError::field("probe.port", "must be a port 1..65535"));
            }
            Ok(Probe::Tcp { port: port as u16 })
        }
        Some("http") => {
            let url = p.str("url").map_err(|_| RequestError::field("probe.url", "is required for kind http"))?;
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && url.len() <= 2048
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
                && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
            if !ok {
                return Err(RequestError::field("probe.url", "must be an http(s) URL"));
            }
            Ok(Probe::Http { url: url.to_owned() })
        }
        _ => Err(RequestError::field("probe.kind", "must be one of http, tcp, heartbeat")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: AddressPolicy = AddressPolicy { allow_private: true };

    fn parse(json: &str) -> Result<Registration, RequestError> {
        Registration::parse(ServerId::parse("se-1").unwrap(), &Fields::parse(json.as_bytes()).unwrap(), LAB)
    }

    const GOOD: &str = r#"{"hostname":"se1.vpn.example.com","ipv4":"198.51.100.7","ipv6":"2001:db8::7",
        "country":"se","city":"Stockholm","capacity":250,"features":["p2p","streaming","p2p"],
        "probe":{"kind":"tcp","port":1194},"maintenance":false}"#;

    #[test]
    fn accepts_a_full_registration() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.features.len(), 2);
        assert_eq!(r.probe, Probe::Tcp { port: 1194 });
        assert_eq!(r.ipv6.unwrap().to_string(), "2001:db8::7");
    }

    #[test]
    fn names_the_bad_field() {
        let cases = [
            ("hostname", r#""hostname":"bad host""#),
            ("ipv4", r#""ipv4":"300.1.1.1""#),
            ("ipv6", r#""ipv6":"zz""#),
            ("country", r#""country":"SE""#),
            ("country", r#""country":"zz""#),
            ("ipv4", r#""ipv4":"127.0.0.1""#),
            ("ipv4", r#""ipv4":"169.254.0.1""#),
            ("ipv6", r#""ipv6":"fe80::1""#),
            ("latitude", r#""latitude":90.5,"longitude":0"#),
            ("longitude", r#""latitude":0,"longitude":-181"#),
            ("longitude", r#""latitude":59.3"#),
            ("latitude", r#""longitude":18.1"#),
            ("latitude", r#""latitude":"59.3","longitude":18.1"#),
            ("capacity", r#""capacity":0"#),
            ("capacity", r#""capacity":"9""#),
            ("features", r#""features":[1]"#),
            ("probe.kind", r#""probe":{"kind":"icmp"}"#),
            ("probe.port", r#""probe":{"kind":"tcp","port":70000}"#),
            ("probe.url", r#""probe":{"kind":"http","url":"ftp://x"}"#),
        ];
        for (field, replacement) in cases {
            let mut m: serde_json::Map<String, serde_json::Value> = serde_json::from_str(GOOD).unwrap();
            let patch: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&format!("{{{replacement}}}")).unwrap();
            m.extend(patch);
            let err = Registration::parse(ServerId::parse("x").unwrap(), &Fields::from_map(m), LAB).unwrap_err();
            match err {
                RequestError::Field { field: f, .. } => assert_eq!(f, field, "{replacement}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn missing_fields_are_named() {
        match parse(r#"{"hostname":"a.b"}"#).unwrap_err() {
            RequestError::Field { field, .. } => assert_eq!(field, "ipv4"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn private_addresses_need_the_lab_switch() {
        let f = Fields::parse(GOOD.as_bytes()).unwrap();
        let err = Registration::parse(ServerId::parse("se-1").unwrap(), &f, AddressPolicy::default()).unwrap_err();
        assert!(matches!(err, RequestError::Field { ref field, .. } if field == "ipv4"), "{err:?}");
    }

    #[test]
    fn coordinates_both_or_neither() {
        let r = parse(
            &GOOD.replace(r#""maintenance":false"#, r#""maintenance":false,"latitude":59.3293,"longitude":18.0686"#),
        )
        .unwrap();
        assert_eq!(r.position(), GeoPoint::new(59.3293, 18.0686));
        assert_eq!(parse(GOOD).unwrap().position(), None);
    }

    #[test]
    fn merge_patch_changes_only_what_it_names_and_validates_like_put() {
        let r = parse(GOOD).unwrap();
        let p = |j: &str| r.merge_patch(&serde_json::from_str(j).unwrap(), LAB);
        let m = p(r#"{"maintenance":true}"#).unwrap();
        assert!(m.maintenance);
        assert_eq!(Registration { maintenance: false, ..m }, r, "nothing else changed");
        let m = p(r#"{"probe":{"port":1195},"ipv6":null,"latitude":59.33,"longitude":18.07}"#).unwrap();
        assert_eq!(m.probe, Probe::Tcp { port: 1195 });
        assert_eq!(m.ipv6, None);
        assert_eq!(m.position(), GeoPoint::new(59.33, 18.07));
        let back = m.merge_patch(&serde_json::from_str(r#"{"latitude":null,"longitude":null}"#).unwrap(), LAB);
        assert_eq!(back.unwrap().position(), None);
        for (patch, field) in [
            (r#"{"hostname":null}"#, "hostname"),
            (r#"{"country":"zz"}"#, "country"),
            (r#"{"capacity":0}"#, "capacity"),
            (r#"{"latitude":10}"#, "longitude"),
            (r#"{"probe":{"kind":"http"}}"#, "probe.url"),
        ] {
            match p(patch).unwrap_err() {
                RequestError::Field { field: f, .. } => assert_eq!(f, field, "{patch}"),
                e => panic!("{patch}: {e:?}"),
            }
        }
        assert!(matches!(p("[1]"), Err(RequestError::MalformedJson(_))));
        // The body shown to operators round-trips through PUT unchanged.
        let shown = Fields::from_map(m.to_body());
        assert_eq!(Registration::parse(m.id.clone(), &shown, LAB).unwrap(), m);
    }

    /// `to_body` is what `serde_json::to_value` of the registration gave, without `id`.
    #[test]
    fn the_body_is_the_registrations_value() {
        let with_coordinates = GOOD.replace(
            r#""maintenance":false"#,
            r#""maintenance":true,"latitude":59.0,"longitude":-18.0686,"probe":{"kind":"http","url":"https://x/\"h"}"#,
        );
        for json in [
            GOOD,
            with_coordinates.as_str(),
            r#"{"hostname":"a.b","ipv4":"192.0.2.1","country":"de","city":"Berlin","capacity":1}"#,
        ] {
            let r = parse(json).unwrap();
            let mut want = match serde_json::to_value(&r).unwrap() {
                Value::Object(m) => m,
                other => panic!("{other}"),
            };
            want.remove("id");
            for k in ["ipv6", "latitude", "longitude"] {
                want.entry(k).or_insert(Value::Null);
            }
            assert_eq!(r.to_body(), want, "{json}");
            assert_eq!(serde_json::to_string(&r.to_body()).unwrap(), serde_json::to_string(&want).unwrap());
        }
    }

    #[test]
    fn records_stored_before_coordinates_still_load() {
        let mut v = serde_json::to_value(parse(GOOD).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("latitude");
        let r: Registration = serde_json::from_value(v).unwrap();
        assert_eq!(r.position(), None);
    }
    /// A stored probe reads back as serde's `tag = "kind"` derive read it: the same values
    /// and the same errors (serde_json now adds the position to a few of them).
    #[test]
    fn probe_decodes_as_the_derived_tagged_decoder_did() {
        let ok = [
            (r#"{"kind":"tcp","port":1194}"#, Probe::Tcp { port: 1194 }),
            (r#"{"port":1194,"kind":"tcp"}"#, Probe::Tcp { port: 1194 }),
            (r#"{"kind":"http","url":"http://x","port":5}"#, Probe::Http { url: "http://x".into() }),
            (r#"{"kind":"heartbeat"}"#, Probe::Heartbeat),
            (r#"{"kind":"heartbeat","url":3}"#, Probe::Heartbeat),
            (r#"{"kind":"tcp","url":3,"port":1}"#, Probe::Tcp { port: 1 }),
        ];
        for (json, probe) in ok {
            assert_eq!(serde_json::from_slice::<Probe>(json.as_bytes()).unwrap(), probe, "{json}");
            assert_eq!(serde_json::from_slice::<Probe>(&serde_json::to_vec(&probe).unwrap()).unwrap(), probe);
        }
        let bad = [
            (r#"{"kind":"tcp"}"#, "missing field `port`"),
            (r#"{"kind":"http"}"#, "missing field `url`"),
            (r#"{"kind":"icmp"}"#, "unknown variant `icmp`, expected one of `http`, `tcp`, `heartbeat`"),
            (r#"{}"#, "missing field `kind`"),
            (r#"{"port":1}"#, "missing field `kind`"),
            (r#"{"kind":"tcp","port":70000}"#, "invalid value: integer `70000`, expected u16"),
            (r#"{"kind":"tcp","port":"1"}"#, "invalid type: string \"1\", expected u16"),
            (r#"{"kind":"http","url":null}"#, "invalid type: null, expected a string"),
            (r#"{"kind":"tcp","kind":"tcp","port":1}"#, "duplicate field `kind`"),
            (r#"{"kind":"tcp","port":1,"port":2}"#, "duplicate field `port`"),
            (r#"{"kind":1}"#, "invalid type: integer `1`, expected variant identifier"),
            (r#""tcp""#, "invalid type: string \"tcp\", expected internally tagged enum Probe"),
            (r#"null"#, "invalid type: null, expected internally tagged enum Probe"),
        ];
        for (json, message) in bad {
            let e = serde_json::from_slice::<Probe>(json.as_bytes()).unwrap_err().to_string();
            assert!(e.starts_with(message), "{json}: {e}");
        }
    }
}
