//! The credential cache in KV `CREDENTIALS`: salted, peppered PBKDF2 hashes keyed by the
//! SHA-256 of the username. No plaintext and no unpeppered hash is ever written.

use crate::webcrypto::{self, CryptoError};
use std::cell::RefCell;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::auth::{cache_key, ct_eq, peppered, CacheEntry, PBKDF2_ITERATIONS, SALT_LEN};
use vpn_edge_core::signature::{hex, unhex};
use worker::{kv::KvStore, Env};

/// The KV binding of the credential cache, which also holds the seals' data keys.
pub const NAMESPACE: &str = "CREDENTIALS";
const EPOCH_KEY: &str = "epoch";
/// How long an isolate trusts the epoch it read; a flush in this isolate resets it.
const EPOCH_MEMO_MS: i64 = 5_000;

thread_local! {
    static EPOCH: RefCell<Option<(i64, u64)>> = const { RefCell::new(None) };
}

fn kv(env: &Env) -> Result<KvStore, ApiError> {
    // Test-only fault switch (README "Tests"): configured out of production.
    if crate::env_config::load(env).fault("kv") {
        return Err(ApiError::unavailable("credential cache"));
    }
    env.kv(NAMESPACE).map_err(|_| ApiError::unavailable("credential cache"))
}

fn kv_err<E: std::fmt::Display>(e: E) -> ApiError {
    log_error!("credential cache: {e}");
    ApiError::unavailable("credential cache")
}

fn crypto_err(e: CryptoError) -> ApiError {
    log_error!("credential cache crypto: {}", e.0);
    ApiError::internal("crypto")
}

pub async fn epoch(env: &Env, now_ms: i64) -> Result<u64, ApiError> {
    if let Some(e) = EPOCH.with(|m| m.borrow().filter(|(at, _)| now_ms - at < EPOCH_MEMO_MS).map(|(_, e)| e)) {
        return Ok(e);
    }
    // Missing: no flush yet. Corrupt: unreadable, never 0 (that would undo every flush).
    let e = match kv(env)?.get(EPOCH_KEY).text().await.map_err(kv_err)? {
        None => 0,
        Some(s) => s.trim().parse().map_err(|_| kv_err("the cache epoch is not a number"))?,
    };
    EPOCH.with(|m| *m.borrow_mut() = Some((now_ms, e)));
    Ok(e)
}

/// Forget every cached credential at once: entries of older epochs are never trusted.
pub async fn flush(env: &Env, now_ms: i64) -> Result<u64, ApiError> {
    EPOCH.with(|m| *m.borrow_mut() = None);
    let next = epoch(env, now_ms).await? + 1;
    kv(env)?; // the fault switch and the binding, as for every access
    super::kv::put_text(env, NAMESPACE, EPOCH_KEY, &next.to_string(), None).await.map_err(kv_err)?;
    EPOCH.with(|m| *m.borrow_mut() = Some((now_ms, next)));
    Ok(next)
}

pub async fn get(env: &Env, username: &str) -> Result<Option<CacheEntry>, ApiError> {
    // A corrupt entry is treated as missing, not as an error that blocks logins; the cause
    // is logged (the next verified login overwrites it).
    Ok(kv(env)?.get(&cache_key(username)).text().await.map_err(kv_err)?.and_then(|s| {
        serde_json::from_slice(s.as_bytes())
            .map_err(|e| log_error!("credential cache: corrupt entry ignored: {e}"))
            .ok()
    }))
}

pub async fn matches(entry: &CacheEntry, pepper: &str, password: &str) -> Result<bool, ApiError> {
    let (Some(salt), Some(want)) = (unhex(&entry.salt), unhex(&entry.hash)) else { return Ok(false) };
    let got = webcrypto::pbkdf2(&peppered(pepper, password), &salt, entry.iterations).await.map_err(crypto_err)?;
    Ok(ct_eq(&got, &want))
}

pub async fn write(
    env: &Env,
    username: &str,
    password: &str,
    pepper: &str,
    epoch: u64,
    now_ms: i64,
    max_age_days: u32,
) -> Result<(), ApiError> {
    let salt = webcrypto::random::<SALT_LEN>().map_err(crypto_err)?;
    let hash = webcrypto::pbkdf2(&peppered(pepper, password), &salt, PBKDF2_ITERATIONS).await.map_err(crypto_err)?;
    let entry =
        CacheEntry { hash: hex(&hash), salt: hex(&salt), iterations: PBKDF2_ITERATIONS, epoch, verified_at: now_ms };
    let text = serde_json::to_string(&entry).map_err(|_| ApiError::internal("serialize"))?;
    kv(env)?; // the fault switch and the binding
    let ttl = Some(u64::from(max_age_days) * 86_400);
    super::kv::put_text(env, NAMESPACE, &cache_key(username), &text, ttl).await.map_err(kv_err)
}

pub async fn delete(env: &Env, username: &str) -> Result<(), ApiError> {
    kv(env)?.delete(&cache_key(username)).await.map_err(kv_err)
}
