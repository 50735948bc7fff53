//! The wire form of the Durable Object protocols (`{"op":"<arm>",<the request's fields>}`,
//! what serde's `#[serde(tag = "op", rename_all = "snake_case")]` writes), without serde's
//! internally tagged enums: each request encodes itself and gets its tag spliced in front,
//! and an object reads the tag with one decoder for all protocols (README "Size"). The
//! Worker's `rpc::protocol!` uses these.

use crate::unit_enum::Variant;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// How many bytes `name` (an arm's CamelCase name) has in snake_case.
pub const fn snake_len(name: &str) -> usize {
    let b = name.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if i > 0 && b[i].is_ascii_uppercase() {
            n += 1;
        }
        n += 1;
        i += 1;
    }
    n
}

/// `name` in snake_case, as serde's `rename_all = "snake_case"` spells a variant
/// (`AdminGet` → `admin_get`); `N` is [`snake_len`]`(name)`.
pub const fn snake<const N: usize>(name: &str) -> [u8; N] {
    let b = name.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut j) = (0, 0);
    while i < b.len() {
        if i > 0 && b[i].is_ascii_uppercase() {
            out[j] = b'_';
            j += 1;
        }
        out[j] = b[i].to_ascii_lowercase();
        j += 1;
        i += 1;
    }
    out
}

/// `{"op":"<op>",..}` from a request encoded as a JSON object (`body`), byte for byte what
/// serde's `tag = "op"` writes for it (the tag first, then the fields).
pub fn with_tag(op: &str, body: &str) -> String {
    let fields = body.strip_prefix('{').unwrap_or(body);
    let mut out = String::with_capacity(body.len() + op.len() + 8);
    out.push_str("{\"op\":\"");
    out.push_str(op);
    out.push('"');
    if fields != "}" {
        out.push(',');
    }
    out.push_str(fields);
    out
}

/// The index in `ops` of a request's `op` tag, read from its JSON text as serde read the
/// derived `struct Head { op: Tag }` (other keys ignored; the same errors).
pub fn op_index(text: &[u8], ops: &'static [&'static str]) -> serde_json::Result<usize> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let i = (&mut de).deserialize_struct("Head", &["op"], Head(ops))?;
    de.end()?;
    Ok(i)
}

struct Head(&'static [&'static str]);

impl<'de> Visitor<'de> for Head {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct Head")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut op = None;
        while let Some(is_op) = map.next_key_seed(IsOp)? {
            if !is_op {
                map.next_value::<IgnoredAny>()?;
            } else if op.is_some() {
                return Err(de::Error::duplicate_field("op"));
            } else {
                op = Some(map.next_value_seed(Variant { name: "Tag", names: self.0 })?);
            }
        }
        op.ok_or_else(|| de::Error::missing_field("op"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        seq.next_element_seed(Variant { name: "Tag", names: self.0 })?
            .ok_or_else(|| de::Error::invalid_length(0, &"struct Head with 1 element"))
    }
}

/// Whether a key is `op`, as the derive's field identifier reads it.
struct IsOp;

impl<'de> de::DeserializeSeed<'de> for IsOp {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for IsOp {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == "op")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct PutReq {
        id: String,
        n: u32,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct AdminListReq {}

    /// What the protocols wrote and read before: serde's internally tagged enum.
    #[derive(Serialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    enum Op {
        Put(PutReq),
        AdminList(AdminListReq),
    }
    #[derive(Serialize, Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum Tag {
        Put,
        AdminList,
    }
    #[derive(Deserialize, Debug)]
    struct Head {
        op: Tag,
    }

    fn name<const N: usize>(arm: &str) -> String {
        String::from_utf8(snake::<N>(arm).to_vec()).unwrap()
    }

    #[test]
    fn snake_case_is_serdes() {
        assert_eq!(snake_len("AdminGet"), 9);
        assert_eq!(name::<9>("AdminGet"), "admin_get");
        assert_eq!(name::<3>("Put"), "put");
        assert_eq!(snake_len("OriginSetRequest"), 18);
        assert_eq!(name::<18>("OriginSetRequest"), "origin_set_request");
        // serde's own spelling of the same names.
        assert_eq!(serde_json::to_string(&Tag::AdminList).unwrap(), format!("\"{}\"", name::<10>("AdminList")));
        assert_eq!(serde_json::to_string(&Tag::Put).unwrap(), format!("\"{}\"", name::<3>("Put")));
    }

    /// The request's text with its tag is what the tagged enum wrote, empty requests too.
    #[test]
    fn with_tag_writes_what_the_tagged_enum_wrote() {
        let put = PutReq { id: "a\"b".into(), n: 7 };
        let want = serde_json::to_string(&Op::Put(PutReq { id: "a\"b".into(), n: 7 })).unwrap();
        assert_eq!(with_tag("put", &serde_json::to_string(&put).unwrap()), want);
        let want = serde_json::to_string(&Op::AdminList(AdminListReq {})).unwrap();
        assert_eq!(with_tag("admin_list", &serde_json::to_string(&AdminListReq {}).unwrap()), want);
        assert_eq!(want, r#"{"op":"admin_list"}"#);
    }

    /// `op_index` reads what `Head { op: Tag }` read, and fails where it failed, word for word.
    #[test]
    fn op_index_reads_as_the_derived_head() {
        const OPS: &[&str] = &["put", "admin_list"];
        let ok = [
            (r#"{"op":"put","id":"x","n":1}"#, 0),
            (r#"{"n":{"op":1},"op":"admin_list"}"#, 1),
            (r#" {"op":{"put":null}} "#, 0),
        ];
        for (text, i) in ok {
            assert_eq!(op_index(text.as_bytes(), OPS).unwrap(), i, "{text}");
            assert!(serde_json::from_slice::<Head>(text.as_bytes()).is_ok());
        }
        for text in [
            r#"{"op":"get"}"#,
            r#"{}"#,
            r#"{"op":"put","op":"put"}"#,
            r#"{"op":1}"#,
            r#"[]"#,
            r#"["put"]"#,
            r#"["put",1]"#,
            r#"["nope"]"#,
            r#""put""#,
            r#"{"op":"put"} x"#,
            "{",
        ] {
            let want =
                serde_json::from_slice::<Head>(text.as_bytes()).map(|h| h.op as usize).map_err(|e| e.to_string());
            assert_eq!(op_index(text.as_bytes(), OPS).map_err(|e| e.to_string()), want, "{text}");
        }
    }
}
