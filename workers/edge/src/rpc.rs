//! Calls between the Worker and its Durable Objects, typed end to end (ARCHITECTURE.md,
//! "Code map": `objects/`).
//!
//! Each object declares its protocol with [`protocol!`]: one enum of operations, tagged
//! `"op"` on the wire, each arm a request type tied by [`Call`] to the reply it gets. The
//! Worker sends `rpc::call(&stub, SetReq { .. })` and gets `Result<SetReq::Reply, ApiError>`;
//! the object matches the enum and runs one method per arm. Errors travel as the `ApiError`
//! body with its status, and `ApiError.code` is a serde enum, so any error raised inside an
//! object reaches the HTTP edge with its status and code intact.

use futures_util::FutureExt;
use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::Serialize;
use std::future::Future;
use vpn_edge_core::api_error::ApiError;
use worker::{Env, Headers, Method, Request, RequestRedirect, Response, SqlStorage, Stub};

/// One request to a Durable Object, tied to its object's operation enum and its reply.
pub trait Call: Serialize + Sized {
    /// The object's operations; this request is one arm of it.
    type Op: Operation;
    /// What the object answers. The Worker decodes it ([`call`]) or passes its JSON text
    /// on unread ([`call_text`]), so a reply type only shown to clients needs no decoder.
    type Reply: Serialize;
    /// The arm's `op` tag: its name in snake_case.
    const OP: &'static str;
}

/// Declares an object's protocol: the operation enum (`{"op":"<arm in snake_case>", ..}`),
/// and for each arm `Call` on its request type. A request type belongs to exactly one arm.
///
/// ```ignore
/// protocol! {
///     pub enum FleetOp {
///         Set(SetReq) -> CountryReply,
///     }
/// }
/// ```
///
/// The wire form is serde's `#[serde(tag = "op", rename_all = "snake_case")]`, written and
/// read without serde's tagged enums (`vpn_edge_core::tagged`): a request encodes itself
/// and gets its tag in front; an object reads the tag (one decoder for every protocol),
/// then the arm's request from the same text (it ignores the `op` key). serde's own
/// internally tagged decoding buffers every request into its `Content` tree first, and its
/// encoding compiles every arm once more per enum (README "Size").
macro_rules! protocol {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$arm_meta:meta])* $arm:ident($req:ty) -> $reply:ty),* $(,)?
    }) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$arm_meta])* $arm($req)),*
        }
        impl $crate::rpc::Operation for $name {
            fn decode(text: &[u8]) -> serde_json::Result<Self> {
                enum Tag {
                    $($arm),*
                }
                const OPS: &[&str] = &[$(<$req as $crate::rpc::Call>::OP),*];
                let i = vpn_edge_core::tagged::op_index(text, OPS)?;
                $(
                    if i == Tag::$arm as usize {
                        return $crate::rpc::from_json::<$req>(text).map(Self::$arm);
                    }
                )*
                Err(serde::de::Error::custom("op index"))
            }
        }
        $(
            impl $crate::rpc::Call for $req {
                type Op = $name;
                type Reply = $reply;
                const OP: &'static str = {
                    const SNAKE: [u8; vpn_edge_core::tagged::snake_len(stringify!($arm))] =
                        vpn_edge_core::tagged::snake(stringify!($arm));
                    match std::str::from_utf8(&SNAKE) {
                        Ok(s) => s,
                        Err(_) => panic!("an arm's name is ASCII"),
                    }
                };
            }
        )*
    };
}
pub(crate) use protocol;

/// The stub of the object `name` in the namespace `binding`; `what` names it in errors.
pub fn stub(env: &Env, binding: &str, name: &str, what: &'static str) -> Result<Stub, ApiError> {
    env.durable_object(binding).and_then(|ns| ns.get_by_name(name)).map_err(|e| {
        log_error!("{what}: {e}");
        ApiError::unavailable(what)
    })
}

/// The Worker side: send `req` to the object behind `stub`, get its typed reply. A plain
/// function: it encodes `req` at once and maps the one exchange future, so only encoding
/// and decoding are compiled per request type (README "Size").
pub fn call<'a, C: Call>(stub: &'a Stub, req: C) -> impl Future<Output = Result<C::Reply, ApiError>> + 'a
where
    C::Reply: DeserializeOwned,
{
    call_text(stub, req)
        .map(|text| from_json(text?.as_bytes()).map_err(|_| ApiError::internal("durable object answer")))
}

/// As [`call`], for a reply the Worker shows as it is: the JSON text the object encoded
/// (`serde_json::to_string`, the encoding `http::json` uses), never decoded and encoded
/// again (README "Size").
pub fn call_text<'a, C: Call>(stub: &'a Stub, req: C) -> impl Future<Output = Result<String, ApiError>> + 'a {
    let payload = serde_json::to_string(&req)
        .map(|body| vpn_edge_core::tagged::with_tag(C::OP, &body))
        .map_err(|_| ApiError::internal("serialize"));
    send(stub, payload)
}

/// The exchange for an encoded request (or the encoding's error), compiled once.
async fn send(stub: &Stub, payload: Result<String, ApiError>) -> Result<String, ApiError> {
    exchange(stub, payload?).await
}

/// One request to an object and its answer's text (a reply), or the error it raised.
async fn exchange(stub: &Stub, payload: String) -> Result<String, ApiError> {
    let mut resp = post(stub, "https://do/", payload).await?;
    finish(&mut resp).await
}

async fn post(stub: &Stub, url: &str, payload: String) -> Result<Response, ApiError> {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let req = crate::http::outgoing(url, Method::Post, &headers, Some(payload), RequestRedirect::Follow)
        .map_err(|_| ApiError::internal("request"))?;
    stub.fetch_with_request(req).await.map_err(|e| {
        log_error!("durable object call {url} failed: {e}");
        ApiError::unavailable("storage")
    })
}

/// A reply's text, or the error the object raised with its own status and code.
async fn finish(resp: &mut Response) -> Result<String, ApiError> {
    let status = resp.status_code();
    if status >= 400 {
        let body = resp.text().await.unwrap_or_default();
        return Err(ApiError::from_body(status, &body).unwrap_or_else(|| {
            log_error!("durable object answered {status} without an error body");
            ApiError::internal("durable object error")
        }));
    }
    resp.text().await.map_err(|_| ApiError::internal("durable object answer"))
}

/// An object's operation enum, read from the request's JSON text (see [`protocol!`]).
pub trait Operation: Sized {
    fn decode(text: &[u8]) -> serde_json::Result<Self>;
}

/// The object side: the operation a request carries. An operation the object does not
/// know (a Worker and object of different versions mid-deploy) is a 500 naming it.
pub async fn operation<O: Operation>(req: &mut Request) -> Result<O, ApiError> {
    let text = request_text(req).await?;
    O::decode(text.as_bytes()).map_err(|e| {
        log_error!("durable object request: {e}");
        ApiError::internal("durable object request")
    })
}

async fn request_text(req: &mut Request) -> Result<String, ApiError> {
    req.text().await.map_err(|_| ApiError::internal("durable object request"))
}

/// The object side: the answer to a request of type `C`, so an arm cannot answer with
/// another arm's reply type.
pub fn reply<C: Call>(r: Result<C::Reply, ApiError>) -> worker::Result<Response> {
    answer(r)
}

/// The DO side: create tables at construction (idempotent); a failure is logged and shows
/// up as a storage error on first use.
pub fn create_schema(sql: &SqlStorage, who: &str, ddl: &[&str]) {
    for statement in ddl {
        if let Err(e) = sql.exec(statement, None) {
            log_error!("{who} schema: {e}");
        }
    }
}

fn answer<T: Serialize>(r: Result<T, ApiError>) -> worker::Result<Response> {
    match r.map(|v| serde_json::to_string(&v)) {
        Ok(Ok(text)) => json_text(text),
        // What `Response::from_json` answers when it cannot encode.
        Ok(Err(_)) => Err(worker::Error::Json(("Failed to encode data to json".into(), 500))),
        Err(e) => Ok(crate::http::error_response(&e)),
    }
}

/// As `Response::from_json` after encoding, compiled once (README "Size").
fn json_text(text: String) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::from_bytes(text.into_bytes())?.with_headers(headers))
}

/// The object side: an error before any arm ran (an unreadable request, storage that
/// cannot load), with its status and code.
pub fn refuse(e: ApiError) -> worker::Result<Response> {
    Ok(crate::http::error_response(&e))
}

/// Decodes JSON text as `serde_json::from_slice` does, except that a struct at the top
/// level is read only from a JSON object, never from an array: serde_json's
/// `deserialize_struct` accepts both, so every derived decoder read through it is compiled
/// with a second, sequence form (`visit_seq`) that nothing here ever sends or stores
/// (README "Size"). Structs nested inside are read by serde_json itself, as before.
pub fn from_json<T: DeserializeOwned>(text: &[u8]) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = T::deserialize(TopLevel(&mut de))?;
    de.end()?;
    Ok(value)
}

/// serde_json's deserializer, with `deserialize_struct` read as a map (see [`from_json`]).
struct TopLevel<'a, 'de>(&'a mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>);

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> serde_json::Result<V::Value> {
                self.0.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for TopLevel<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> serde_json::Result<V::Value> {
        self.0.deserialize_map(visitor)
    }

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}
