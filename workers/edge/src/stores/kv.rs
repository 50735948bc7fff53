//! Text writes to a KV namespace through its own `put` (README "Size"). `worker`'s
//! `KvStore::put` takes any `Serialize` through serde_wasm_bindgen (with a branch that turns
//! a number into text with Rust's float formatting) and builds its options from a struct
//! holding a `serde_json::Value`; every value written here is already text, with at most a
//! TTL. Errors are `worker`'s `KvError`, as before, so logs read the same.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::kv::KvError;
use worker::Env;

/// `env[binding].put(key, text, { expirationTtl: ttl_s })`.
pub async fn put_text(env: &Env, binding: &str, key: &str, text: &str, ttl_s: Option<u64>) -> Result<(), KvError> {
    let ns = Reflect::get(env, &JsValue::from_str(binding))?;
    if ns.is_undefined() {
        return Err(KvError::InvalidKvStore(binding.into()));
    }
    let put: Function = Reflect::get(&ns, &JsValue::from_str("put"))?.dyn_into()?;
    let options = Object::new();
    if let Some(ttl) = ttl_s {
        Reflect::set(&options, &JsValue::from_str("expirationTtl"), &JsValue::from_f64(ttl as f64))?;
    }
    let promise: Promise = put.call3(&ns, &JsValue::from_str(key), &JsValue::from_str(text), &options)?.into();
    JsFuture::from(promise).await?;
    Ok(())
}
