//! Durable Object key-value storage, one record per key, each stored as its JSON text.
//!
//! Why not `Storage::put` / `put_multiple` directly: `worker` converts with
//! `serde_wasm_bindgen`, which turns every map into a JavaScript `Map`, and
//! `storage.put(aMap)` stores nothing while reporting success (README, "What each Durable
//! Object stores"). JSON text is the same encoding the objects already speak over RPC, so a
//! record reads back exactly as it was written whatever maps, `Option`s or enums it holds.

use futures_util::FutureExt;
use js_sys::{Map, Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use wasm_bindgen::{JsCast, JsValue};
use worker::{Error, ListOptions, Result, Storage};

/// The storage API accepts at most 128 keys per `put`/`get`/`delete` call.
pub const MAX_KEYS_PER_CALL: usize = 128;

/// Generic only in encoding; the value and its error are made once ([`encoded`]).
pub fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<JsValue> {
    encoded(key, serde_json::to_string(value))
}

fn encoded(key: &str, text: serde_json::Result<String>) -> Result<JsValue> {
    text.map(|s| JsValue::from_str(&s)).map_err(|e| Error::RustError(format!("storage: cannot encode {key}: {e}")))
}

/// Decodes the JSON text of a stored value (see [`text_of`]). Generic only in this last
/// step: the reads themselves (`get_text`, `list_texts`) are compiled once (README "Size").
fn decode<T: DeserializeOwned>(key: &str, text: &str) -> Result<T> {
    crate::rpc::from_json(text.as_bytes()).map_err(|e| undecodable(key, &e.to_string()))
}

fn undecodable(key: &str, e: &str) -> Error {
    Error::RustError(format!("storage: cannot decode {key}: {e}"))
}

/// The JSON text of a stored value: the text itself when it is a string (this module's
/// encoding), else the value written by `serde_wasm_bindgen` (objects, `Map`s for maps,
/// arrays, numbers, strings, booleans, `null`/`undefined` for `None`) spelled as the JSON
/// it stands for, so one serde_json decoder per type reads both (README "Size").
fn text_of(value: &JsValue) -> String {
    if let Some(text) = value.as_string() {
        return text;
    }
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(v: &JsValue, out: &mut String) {
    if v.is_undefined() || v.is_null() {
        out.push_str("null");
    } else if js_sys::Array::is_array(v) {
        let items: Vec<JsValue> = js_sys::Array::from(v).iter().collect();
        write_seq(items.iter().map(|item| (None, item)), '[', ']', out);
    } else if let Some(map) = v.dyn_ref::<Map>() {
        let mut pairs = Vec::new();
        map.for_each(&mut |value, key| pairs.push((key, value)));
        write_seq(pairs.iter().map(|(k, v)| (Some(k), v)), '{', '}', out);
    } else if v.is_object() {
        let pairs: Vec<(JsValue, JsValue)> = Object::entries(v.unchecked_ref())
            .iter()
            .map(|e| {
                let pair: js_sys::Array = e.into();
                (pair.get(0), pair.get(1))
            })
            .collect();
        write_seq(pairs.iter().map(|(k, v)| (Some(k), v)), '{', '}', out);
    } else {
        // Strings, numbers, booleans: JavaScript's own JSON spelling.
        let text = js_sys::JSON::stringify(v).ok().and_then(|t| t.as_string());
        out.push_str(text.as_deref().unwrap_or("null"));
    }
}

/// Items or entries (a map key of any type is written as its string, as JSON keys are).
fn write_seq<'a>(
    items: impl Iterator<Item = (Option<&'a JsValue>, &'a JsValue)>,
    open: char,
    close: char,
    out: &mut String,
) {
    out.push(open);
    for (i, (key, value)) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(key) = key {
            let key = key
                .as_string()
                .unwrap_or_else(|| js_sys::JSON::stringify(key).ok().and_then(|t| t.as_string()).unwrap_or_default());
            out.push_str(&serde_json::to_string(&key).unwrap_or_default());
            out.push(':');
        }
        write_json(value, out);
    }
    out.push(close);
}

/// Generic only in decoding, after the one non-generic read (a `map`, not an async state
/// machine per type: README "Size").
pub fn get<'a, T: DeserializeOwned>(
    storage: &'a Storage,
    key: &'a str,
) -> impl Future<Output = Result<Option<T>>> + 'a {
    get_text(storage, key).map(move |text| decode_some(key, text?))
}

/// A value read by [`get_text`], decoded.
pub fn decode_some<T: DeserializeOwned>(key: &str, text: Option<String>) -> Result<Option<T>> {
    match text {
        Some(text) => decode(key, &text).map(Some),
        None => Ok(None),
    }
}

/// The JSON text of the value at `key`, `None` when there is none.
pub async fn get_text(storage: &Storage, key: &str) -> Result<Option<String>> {
    // `get_multiple` hands back the raw values (a missing key is simply absent).
    let found = storage.get_multiple(vec![key]).await?;
    let value = found.get(&JsValue::from_str(key));
    if value.is_undefined() {
        return Ok(None);
    }
    Ok(Some(text_of(&value)))
}

/// Generic only in encoding, done before the write: the write itself is one function, not
/// one async state machine per type (README "Size").
pub fn put<'a, T: Serialize + ?Sized>(
    storage: &'a Storage,
    key: &'a str,
    value: &T,
) -> impl std::future::Future<Output = Result<()>> + 'a {
    put_value(storage, key, encode(key, value))
}

pub async fn put_value(storage: &Storage, key: &str, value: Result<JsValue>) -> Result<()> {
    storage.put_raw(key, value?).await
}

/// Many records, as plain objects of at most 128 keys per call. Every call is made before
/// any is awaited, as the one-future-per-record writes it replaced were: the runtime
/// coalesces writes with no `await` between them into one atomic write. A failure still
/// means the caller must not trust its memory.
pub async fn put_all<'a, T: Serialize + 'a>(
    storage: &Storage,
    records: impl IntoIterator<Item = (String, &'a T)>,
) -> Result<()> {
    let records: Vec<(String, &T)> = records.into_iter().collect();
    let mut batches = Vec::new();
    for chunk in records.chunks(MAX_KEYS_PER_CALL) {
        let batch = Object::new();
        for (key, value) in chunk {
            Reflect::set(&batch, &JsValue::from_str(key), &encode(key, *value)?)?;
        }
        batches.push(storage.put_multiple_raw(batch));
    }
    crate::join::join_all(batches).await.into_iter().collect()
}

/// Every record whose key starts with `prefix`, in key order, keys without the prefix.
pub fn list<'a, T: DeserializeOwned>(
    storage: &'a Storage,
    prefix: &'a str,
) -> impl Future<Output = Result<Vec<(String, T)>>> + 'a {
    list_texts(storage, prefix).map(move |listed| {
        let mut out = Vec::new();
        for (key, text) in listed? {
            let value = decode(&key, &text)?;
            out.push((key.strip_prefix(prefix).unwrap_or(&key).to_owned(), value));
        }
        Ok(out)
    })
}

/// Every key starting with `prefix` and its value's JSON text, in key order.
async fn list_texts(storage: &Storage, prefix: &str) -> Result<Vec<(String, String)>> {
    let listed: Map = storage.list_with_options(ListOptions::new().prefix(prefix)).await?;
    let mut out = Vec::with_capacity(listed.size() as usize);
    for entry in listed.entries() {
        let pair: js_sys::Array = entry?.into();
        out.push((pair.get(0).as_string().unwrap_or_default(), text_of(&pair.get(1))));
    }
    Ok(out)
}
