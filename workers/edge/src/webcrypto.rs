//! WebCrypto (native in Workers, fast): PBKDF2 for cached credentials and AES-GCM for
//! sealed passwords in the session ledger.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

#[derive(Debug)]
pub struct CryptoError(pub &'static str);

fn subtle() -> Result<JsValue, CryptoError> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(|_| CryptoError("no crypto"))?;
    Reflect::get(&crypto, &"subtle".into()).map_err(|_| CryptoError("no crypto.subtle"))
}

async fn call(method: &str, args: &[JsValue]) -> Result<JsValue, CryptoError> {
    let subtle = subtle()?;
    let f: Function = Reflect::get(&subtle, &method.into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or(CryptoError("missing subtle method"))?;
    let arr = Array::new();
    for a in args {
        arr.push(a);
    }
    let promise: Promise = f.apply(&subtle, &arr).map_err(|_| CryptoError("subtle call threw"))?.unchecked_into();
    JsFuture::from(promise).await.map_err(|_| CryptoError("subtle call rejected"))
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

fn bytes(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

fn usages(u: &[&str]) -> JsValue {
    u.iter().map(|s| JsValue::from_str(s)).collect::<Array>().into()
}

fn to_vec(buf: JsValue) -> Vec<u8> {
    Uint8Array::new(&buf).to_vec()
}

/// PBKDF2-HMAC-SHA256, 256 bits.
pub async fn pbkdf2(input: &[u8], salt: &[u8], iterations: u32) -> Result<Vec<u8>, CryptoError> {
    let key = call("importKey", &["raw".into(), bytes(input), "PBKDF2".into(), false.into(), usages(&["deriveBits"])])
        .await?;
    let params = obj(&[
        ("name", "PBKDF2".into()),
        ("hash", "SHA-256".into()),
        ("salt", bytes(salt)),
        ("iterations", JsValue::from_f64(f64::from(iterations))),
    ]);
    Ok(to_vec(call("deriveBits", &[params, key, JsValue::from_f64(256.0)]).await?))
}

async fn aes_key(key: &[u8; 32], usage: &str) -> Result<JsValue, CryptoError> {
    call("importKey", &["raw".into(), bytes(key), obj(&[("name", "AES-GCM".into())]), false.into(), usages(&[usage])])
        .await
}

/// AES-256-GCM; `aad` binds the ciphertext to its record.
pub async fn seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let k = aes_key(key, "encrypt").await?;
    let params = obj(&[("name", "AES-GCM".into()), ("iv", bytes(nonce)), ("additionalData", bytes(aad))]);
    Ok(to_vec(call("encrypt", &[params, k, bytes(plaintext)]).await?))
}

pub async fn open(key: &[u8; 32], nonce: &[u8], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let k = aes_key(key, "decrypt").await?;
    let params = obj(&[("name", "AES-GCM".into()), ("iv", bytes(nonce)), ("additionalData", bytes(aad))]);
    Ok(to_vec(call("decrypt", &[params, k, bytes(ciphertext)]).await?))
}

pub fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| CryptoError("no randomness"))?;
    Ok(b)
}
