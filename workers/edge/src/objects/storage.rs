//! Durable Object key-value storage, one record per key, each stored as its JSON text.
//!
//! Why not `Storage::put` / `put_multiple` directly: `worker` converts with
//! `serde_wasm_bindgen`, which turns every map into a JavaScript `Map`, and
//! `storage.put(aMap)` stores nothing while reporting success (README, "What each Durable
//! Object stores"). JSON text is the same encoding the objects already speak over RPC, so a
//! record reads back exactly as it was written whatever maps, `Option`s or enums it holds.

use js_sys::{Map, Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;
use worker::{Error, ListOptions, Result, Storage};

/// The storage API accepts at most 128 keys per `put`/`get`/`delete` call.
pub const MAX_KEYS_PER_CALL: usize = 128;

fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<JsValue> {
    serde_json::to_string(value)
        .map(|s| JsValue::from_str(&s))
        .map_err(|e| Error::RustError(format!("storage: cannot encode {key}: {e}")))
}

/// JSON text as written by this module; anything else is a value written by the plain
/// `worker` API before it (kept readable so an upgrade loses nothing).
fn decode<T: DeserializeOwned>(key: &str, value: JsValue) -> Result<T> {
    let decoded = match value.as_string() {
        Some(text) => serde_json::from_str(&text).map_err(|e| e.to_string()),
        None => serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string()),
    };
    decoded.map_err(|e| Error::RustError(format!("storage: cannot decode {key}: {e}")))
}

pub async fn get<T: DeserializeOwned>(storage: &Storage, key: &str) -> Result<Option<T>> {
    // `get_multiple` hands back the raw values (a missing key is simply absent).
    let found = storage.get_multiple(vec![key]).await?;
    let value = found.get(&JsValue::from_str(key));
    if value.is_undefined() {
        return Ok(None);
    }
    decode(key, value).map(Some)
}

pub async fn put<T: Serialize + ?Sized>(storage: &Storage, key: &str, value: &T) -> Result<()> {
    storage.put_raw(key, encode(key, value)?).await
}

/// Many records, as plain objects of at most 128 keys per call. Each call is atomic; a
/// failure part-way leaves the earlier calls stored (the caller must not trust its memory).
pub async fn put_all<'a, T: Serialize + 'a>(
    storage: &Storage,
    records: impl IntoIterator<Item = (String, &'a T)>,
) -> Result<()> {
    let records: Vec<(String, &T)> = records.into_iter().collect();
    for chunk in records.chunks(MAX_KEYS_PER_CALL) {
        let batch = Object::new();
        for (key, value) in chunk {
            Reflect::set(&batch, &JsValue::from_str(key), &encode(key, *value)?)?;
        }
        storage.put_multiple_raw(batch).await?;
    }
    Ok(())
}

/// Every record whose key starts with `prefix`, in key order, keys without the prefix.
pub async fn list<T: DeserializeOwned>(storage: &Storage, prefix: &str) -> Result<Vec<(String, T)>> {
    let listed: Map = storage.list_with_options(ListOptions::new().prefix(prefix)).await?;
    let mut out = Vec::with_capacity(listed.size() as usize);
    for entry in listed.entries() {
        let pair: js_sys::Array = entry?.into();
        let key = pair.get(0).as_string().unwrap_or_default();
        let value = decode(&key, pair.get(1))?;
        out.push((key.strip_prefix(prefix).unwrap_or(&key).to_owned(), value));
    }
    Ok(out)
}
