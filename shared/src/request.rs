//! Turning raw request bodies and query strings into checked values, naming the field
//! on every failure.

use crate::api_error::RequestError;
use serde_json::{Map, Value};

pub const MAX_BODY: usize = 16 * 1024;

/// Content type and size, checked before the body is parsed.
pub fn check_body_envelope(content_type: Option<&str>, len: usize) -> Result<(), RequestError> {
    check_body_envelope_as(content_type, len, &["application/json"])
}

/// As `check_body_envelope`, for an endpoint taking other JSON media types too
/// (`PATCH` takes `application/merge-patch+json`).
pub fn check_body_envelope_as(content_type: Option<&str>, len: usize, accepted: &[&str]) -> Result<(), RequestError> {
    if len > MAX_BODY {
        return Err(RequestError::TooLarge { limit: MAX_BODY });
    }
    let essence =
        content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).unwrap_or_default();
    if !accepted.contains(&essence.as_str()) {
        return Err(RequestError::UnsupportedMediaType);
    }
    Ok(())
}

/// A body read as it streams in: each chunk is added only while the total stays within
/// `MAX_BODY`, so a chunked upload of any size costs at most that much memory (the reader
/// abandons the stream at the first `TooLarge`).
#[derive(Debug, Default)]
pub struct BoundedBody {
    bytes: Vec<u8>,
}

impl BoundedBody {
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), RequestError> {
        if chunk.len() > MAX_BODY - self.bytes.len() {
            return Err(RequestError::TooLarge { limit: MAX_BODY });
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// A JSON object body.
pub struct Fields(Map<String, Value>);

impl Fields {
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            // serde_json's message names line/column, never the content.
            RequestError::MalformedJson(e.to_string())
        })?;
        match v {
            Value::Object(m) => Ok(Self(m)),
            _ => Err(RequestError::MalformedJson("expected a JSON object".into())),
        }
    }

    pub fn from_map(m: Map<String, Value>) -> Self {
        Self(m)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.0.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn str(&self, name: &str) -> Result<&str, RequestError> {
        self.opt_str(name)?.ok_or_else(|| RequestError::field(name, "is required"))
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, RequestError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(RequestError::field(name, "must be a string")),
        }
    }

    pub fn u64(&self, name: &str, max: u64) -> Result<u64, RequestError> {
        self.opt_u64(name, max)?.ok_or_else(|| RequestError::field(name, "is required"))
    }

    pub fn opt_u64(&self, name: &str, max: u64) -> Result<Option<u64>, RequestError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(RequestError::field(name, format!("must be a whole number from 0 to {max}"))),
            },
        }
    }

    pub fn opt_f64(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, RequestError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() && n >= min && n <= max => Ok(Some(n)),
                _ => Err(RequestError::field(name, format!("must be a number from {min} to {max}"))),
            },
        }
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, RequestError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(RequestError::field(name, "must be true or false")),
        }
    }

    pub fn opt_array(&self, name: &str) -> Result<Option<&Vec<Value>>, RequestError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(RequestError::field(name, "must be an array")),
        }
    }

    pub fn opt_object(&self, name: &str) -> Result<Option<Fields>, RequestError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Fields(m.clone()))),
            Some(_) => Err(RequestError::field(name, "must be an object")),
        }
    }
}

/// Decoded `key=value` pairs of a query string (percent-decoding and `+`).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope() {
        assert!(check_body_envelope(Some("application/json; charset=utf-8"), 10).is_ok());
        assert_eq!(check_body_envelope(Some("text/plain"), 10), Err(RequestError::UnsupportedMediaType));
        assert_eq!(check_body_envelope(None, 10), Err(RequestError::UnsupportedMediaType));
        assert!(matches!(
            check_body_envelope(Some("application/json"), MAX_BODY + 1),
            Err(RequestError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_streamed_body_stops_at_the_limit() {
        let mut b = BoundedBody::default();
        let chunk = [b'x'; 4096];
        for _ in 0..4 {
            b.push(&chunk).unwrap();
        }
        // Exactly MAX_BODY fits; one byte more does not, and nothing is kept of it.
        assert_eq!(b.push(b"y"), Err(RequestError::TooLarge { limit: MAX_BODY }));
        assert!(b.push(&[]).is_ok());
        assert_eq!(b.into_bytes().len(), MAX_BODY);
        let mut one = BoundedBody::default();
        assert!(one.push(&vec![0; MAX_BODY + 1]).is_err());
        assert!(one.into_bytes().is_empty());
    }

    #[test]
    fn fields_name_the_field() {
        let f = Fields::parse(br#"{"a":"x","n":5,"b":true}"#).unwrap();
        assert_eq!(f.str("a").unwrap(), "x");
        assert_eq!(f.str("zz"), Err(RequestError::field("zz", "is required")));
        assert!(f.u64("a", 10).is_err());
        assert_eq!(f.u64("n", 10).unwrap(), 5);
        assert!(f.u64("n", 4).is_err());
        assert!(Fields::parse(b"[1]").is_err());
        assert!(Fields::parse(b"{").is_err());
    }

    #[test]
    fn query() {
        let q = query_pairs("country=se&city=New+York&x=%41%zz&flag");
        assert_eq!(q[0], ("country".into(), "se".into()));
        assert_eq!(q[1], ("city".into(), "New York".into()));
        assert_eq!(q[2], ("x".into(), "A%zz".into()));
        assert_eq!(q[3], ("flag".into(), "".into()));
    }
}
