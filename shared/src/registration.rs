//! The operator's description of a server (`PUT /v1/admin/servers/{id}`), validated.

use crate::api_error::RequestError;
use crate::request::Fields;
use crate::types::{City, CountryCode, Feature, Hostname, ServerId};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// How the health round observes a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Probe {
    Http { url: String },
    Tcp { port: u16 },
    Heartbeat,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

pub const MAX_CAPACITY: u64 = 1_000_000;
const MAX_FEATURES: usize = 32;

impl Registration {
    pub fn parse(id: ServerId, f: &Fields) -> Result<Self, RequestError> {
        let hostname = Hostname::parse(f.str("hostname")?).map_err(|e| RequestError::field("hostname", e.0))?;
        let ipv4: Ipv4Addr =
            f.str("ipv4")?.parse().map_err(|_| RequestError::field("ipv4", "must be an IPv4 address"))?;
        if ipv4.is_unspecified() || ipv4.is_broadcast() || ipv4.is_multicast() {
            return Err(RequestError::field("ipv4", "must be a unicast host address"));
        }
        let ipv6 = match f.opt_str("ipv6")? {
            None | Some("") => None,
            Some(s) => {
                let a: Ipv6Addr = s.parse().map_err(|_| RequestError::field("ipv6", "must be an IPv6 address"))?;
                if a.is_unspecified() || a.is_multicast() {
                    return Err(RequestError::field("ipv6", "must be a unicast host address"));
                }
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
        Ok(Self { id, hostname, ipv4, ipv6, country, city, capacity: capacity as u32, features, probe, maintenance })
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

    fn parse(json: &str) -> Result<Registration, RequestError> {
        Registration::parse(ServerId::parse("se-1").unwrap(), &Fields::parse(json.as_bytes()).unwrap())
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
            let err = Registration::parse(ServerId::parse("x").unwrap(), &Fields::from_map(m)).unwrap_err();
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
}
