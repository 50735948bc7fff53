//! HTTP plumbing: bodies in, JSON and errors out, cacheable public reads.

use serde::Serialize;
use vpn_edge_core::api_error::{ApiError, ErrorCode};
use vpn_edge_core::request::{check_body_envelope_as, BoundedBody, Fields};
use vpn_edge_core::signature::sha256_hex;
use worker::{Headers, Method, Request, RequestRedirect, Response};

pub type Result<T> = std::result::Result<T, ApiError>;

pub fn error_response(e: &ApiError) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    if let Some(allow) = e.allow {
        let _ = headers.set("allow", allow);
    }
    Response::from_bytes(e.body().into_bytes())
        .map(|r| r.with_status(e.status).with_headers(headers))
        .unwrap_or_else(|_| Response::empty().expect("empty response").with_status(500))
}

pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response> {
    json_bytes(status, serde_json::to_vec(value).map_err(|_| ApiError::internal("serialize"))?)
}

/// As [`json`], for a body already encoded as JSON.
pub fn json_bytes(status: u16, body: Vec<u8>) -> Result<Response> {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    Ok(Response::from_bytes(body)
        .map_err(|_| ApiError::internal("response"))?
        .with_status(status)
        .with_headers(headers))
}

/// A JSON object of members already encoded as JSON, in this order: `{"a":1,"b":[..]}`,
/// as a derived `Serialize` writes it. Keys are plain ASCII names (no escaping needed).
/// Lets a handler show an object's reply text without decoding it (README "Size").
pub fn object(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = vec![b'{'];
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

/// `value`'s JSON as `serde_json::json!` wrote it: every object's keys in sorted order
/// (`json!` builds a `serde_json::Map`, a B-tree). Through the encoding every type already
/// has and the one `Value` decoder, instead of a `Value` encoder (`to_value`) compiled per
/// type (README "Size"). Same bytes for strings, integers and floats of few digits (the
/// coordinates, whole millionths of a degree): serde_json's float reader is not correctly
/// rounded, so a 17-digit float could come back one unit off in its last digit; no type
/// passed here has one.
pub fn sorted_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    sort_keys(serde_json::to_vec(value).map_err(|_| ApiError::internal("serialize"))?)
}

fn sort_keys(text: Vec<u8>) -> Result<Vec<u8>> {
    let tree: serde_json::Value = serde_json::from_slice(&text).map_err(|_| ApiError::internal("serialize"))?;
    serde_json::to_vec(&tree).map_err(|_| ApiError::internal("serialize"))
}

pub fn no_content() -> Result<Response> {
    Ok(Response::empty().map_err(|_| ApiError::internal("response"))?.with_status(204))
}

/// A public, cacheable read: `Cache-Control: public, max-age=15`, a strong ETag over the
/// body, and `304` when the client already has it.
pub fn cacheable(req: &Request, content_type: &str, body: Vec<u8>) -> Result<Response> {
    let etag = etag_of(&body);
    cacheable_tagged(req, content_type, body, &etag)
}

pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &sha256_hex(body)[..32])
}

/// As `cacheable`, with the ETag already known (a memoised body).
pub fn cacheable_tagged(req: &Request, content_type: &str, body: Vec<u8>, etag: &str) -> Result<Response> {
    let headers = Headers::new();
    let _ = headers.set("content-type", content_type);
    let _ = headers.set("cache-control", "public, max-age=15");
    let _ = headers.set("etag", etag);
    let inm = req.headers().get("if-none-match").ok().flatten();
    if inm.is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")) {
        return Ok(Response::empty()
            .map_err(|_| ApiError::internal("response"))?
            .with_status(304)
            .with_headers(headers));
    }
    let body = if req.method() == worker::Method::Head { Vec::new() } else { body };
    Ok(Response::from_bytes(body).map_err(|_| ApiError::internal("response"))?.with_headers(headers))
}

pub fn cacheable_json<T: Serialize>(req: &Request, value: &T) -> Result<Response> {
    let body = serde_json::to_vec(value).map_err(|_| ApiError::internal("serialize"))?;
    cacheable(req, "application/json", body)
}

/// Raw body bytes, refusing non-JSON content types and a declared length past the limit
/// before reading, then reading the stream chunk by chunk and abandoning it (the stream is
/// cancelled) as soon as it passes 16 KiB: a chunked upload of any size costs at most the
/// limit in memory (README "API").
pub async fn body_bytes(req: &mut Request) -> Result<Vec<u8>> {
    body_bytes_as(req, &["application/json"]).await
}

/// As `body_bytes`, accepting the given JSON media types (`PATCH` takes
/// `application/merge-patch+json` too).
pub async fn body_bytes_as(req: &mut Request, accepted: &[&str]) -> Result<Vec<u8>> {
    use futures_util::StreamExt;
    let declared =
        req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
    let content_type = req.headers().get("content-type").ok().flatten();
    check_body_envelope_as(content_type.as_deref(), declared, accepted)?;
    let mut body = BoundedBody::default();
    if req.inner().body().is_none() {
        return Ok(body.into_bytes());
    }
    let mut stream = req.stream().map_err(|_| unreadable())?;
    while let Some(chunk) = stream.next().await {
        body.push(&chunk.map_err(|_| unreadable())?)?;
    }
    Ok(body.into_bytes())
}

fn unreadable() -> ApiError {
    ApiError::new(400, ErrorCode::BadBody, "could not read the body")
}

pub fn parse_fields(bytes: &[u8]) -> Result<Fields> {
    Ok(Fields::parse(bytes)?)
}

pub fn query(req: &Request) -> Vec<(String, String)> {
    raw_query(req).map(|q| vpn_edge_core::request::query_pairs(&q)).unwrap_or_default()
}

/// The query of the runtime's already serialized (WHATWG) URL, as `url::Url::query` would
/// give it: cut by hand so the `url` crate stays out of the wasm (README "Size").
fn raw_query(req: &Request) -> Option<String> {
    let url = req.inner().url();
    let rest = &url[url.find('?')? + 1..];
    Some(rest[..rest.find('#').unwrap_or(rest.len())].to_owned())
}

/// The request target as sent (path and query), the string servers sign.
pub fn target(req: &Request) -> String {
    match raw_query(req) {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path(),
    }
}

pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// An outgoing request, as `Request::new_with_init` builds it from a `RequestInit` with
/// these four set and every other option at its default, without linking `worker`'s
/// conversion of the `cf` options, which is never used here (README "Size").
pub fn outgoing(
    url: &str,
    method: Method,
    headers: &Headers,
    body: Option<String>,
    redirect: RequestRedirect,
) -> worker::Result<Request> {
    let init = worker::web_sys::RequestInit::new();
    init.set_headers(headers.as_ref());
    init.set_method(method.as_ref());
    init.set_redirect(redirect.into());
    if let Some(body) = body {
        init.set_body(&body.into());
    }
    worker::web_sys::Request::new_with_str_and_init(url, &init).map(Request::from).map_err(|e| {
        worker::Error::JsError(e.as_string().unwrap_or_else(|| "invalid URL or options for Request".to_string()))
    })
}
