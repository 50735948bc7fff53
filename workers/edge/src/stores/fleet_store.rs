//! Where the fleet lives: pool Durable Objects (truth), the `FleetIndex` (id → pool), and
//! the snapshot in KV that public reads are served from (memoised per isolate briefly).

use crate::objects::fleet_index::GetReq;
use crate::rpc::{call, stub};
use std::cell::RefCell;
use std::rc::Rc;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::fleet::Snapshot;
use vpn_edge_core::types::ServerId;
use worker::{Env, KvStore, Stub};

const SNAPSHOT_KEY: &str = "snapshot";
/// How long an isolate reuses the snapshot it read; public responses are cached for 15 s
/// anyway, and operator writes in this isolate replace it at once.
const MEMO_MS: i64 = 5_000;

thread_local! {
    static MEMO: RefCell<Option<(i64, Rc<Snapshot>)>> = const { RefCell::new(None) };
}

fn unavailable<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> ApiError {
    move |e| {
        log_error!("{what}: {e}");
        ApiError::unavailable(what)
    }
}

/// A KV value written as serde_json text, read with serde_json: `get(..).json()` parses in
/// JavaScript and decodes with `serde_wasm_bindgen`, a second decoder for every type
/// (README "Size"). Generic only in decoding, after the one non-generic read.
fn get_json<'a, T: serde::de::DeserializeOwned>(
    kv: &'a KvStore,
    key: &'a str,
) -> impl std::future::Future<Output = Result<Option<T>, String>> + 'a {
    use futures_util::FutureExt;
    get_text(kv, key).map(|text| match text? {
        Some(text) => serde_json::from_slice(text.as_bytes()).map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    })
}

async fn get_text(kv: &KvStore, key: &str) -> Result<Option<String>, String> {
    kv.get(key).text().await.map_err(|e| e.to_string())
}

pub fn pool(env: &Env, country: &str) -> Result<Stub, ApiError> {
    stub(env, "POOLS", country, "pool registry")
}

pub fn index(env: &Env) -> Result<Stub, ApiError> {
    stub(env, "FLEET_INDEX", "fleet", "fleet index")
}

pub async fn snapshot(env: &Env, now_ms: i64) -> Result<Rc<Snapshot>, ApiError> {
    if let Some(s) = MEMO.with(|m| m.borrow().as_ref().filter(|(at, _)| now_ms - at < MEMO_MS).map(|(_, s)| s.clone()))
    {
        return Ok(s);
    }
    let kv = env.kv("FLEET").map_err(unavailable("fleet KV"))?;
    let snap: Snapshot = get_json(&kv, SNAPSHOT_KEY).await.map_err(unavailable("fleet KV"))?.unwrap_or_default();
    let snap = Rc::new(snap);
    MEMO.with(|m| *m.borrow_mut() = Some((now_ms, snap.clone())));
    Ok(snap)
}

pub async fn write_snapshot(env: &Env, snap: Snapshot, now_ms: i64) -> Result<(), ApiError> {
    // The binding, as for every access.
    env.kv("FLEET").map_err(unavailable("fleet KV"))?;
    // JSON text from serde_json: `kv.put(&T)` goes through serde_wasm_bindgen, where a map
    // becomes a JavaScript `Map` and is written as `{}` (README, "What each Durable Object stores").
    let text = serde_json::to_string(&snap).map_err(|_| ApiError::internal("serialize"))?;
    super::kv::put_text(env, "FLEET", SNAPSHOT_KEY, &text, None).await.map_err(unavailable("fleet KV"))?;
    MEMO.with(|m| *m.borrow_mut() = Some((now_ms, Rc::new(snap))));
    Ok(())
}

/// An operator's change, applied to the latest stored snapshot (not the memo). The edit is
/// boxed so this is compiled once for every caller (README "Size").
pub async fn edit_snapshot(env: &Env, now_ms: i64, edit: Box<dyn FnOnce(&mut Snapshot) + '_>) -> Result<(), ApiError> {
    MEMO.with(|m| *m.borrow_mut() = None);
    let mut snap = (*snapshot(env, now_ms).await?).clone();
    edit(&mut snap);
    write_snapshot(env, snap, now_ms).await
}

/// The pool a registered server belongs to: the snapshot answers most lookups, the index
/// the ones it has not seen yet.
pub async fn country_of(env: &Env, id: &ServerId, now_ms: i64) -> Result<Option<String>, ApiError> {
    if let Some(s) = snapshot(env, now_ms).await?.get(id.as_str()) {
        return Ok(Some(s.country.to_string()));
    }
    let r = call(&index(env)?, GetReq { id: id.clone() }).await?;
    Ok(r.country.map(|c| c.to_string()))
}

const FROZEN_KEY: &str = "dns-frozen";

/// Alerts for pools that froze or thawed since the last round (the set is kept in KV).
pub async fn frozen_transitions(env: &Env, now_frozen: Vec<String>) -> Vec<vpn_edge_core::alerts::Alert> {
    use vpn_edge_core::alerts::frozen_changes;
    let Ok(kv) = env.kv("FLEET") else { return Vec::new() };
    // An unreadable or corrupt list is reported, and no alert is guessed from it: the
    // current set replaces it, so the next round compares against the truth again.
    let (alerts, rewrite) = match get_json::<Vec<String>>(&kv, FROZEN_KEY).await {
        Ok(before) => {
            let alerts = frozen_changes(&before.unwrap_or_default(), &now_frozen);
            let rewrite = !alerts.is_empty();
            (alerts, rewrite)
        }
        Err(e) => {
            log_error!("frozen pools: the stored list is unreadable, no freeze alerts this round: {e}");
            (Vec::new(), true)
        }
    };
    // One write either way (one await compiled, not two: README "Size").
    if rewrite {
        save_frozen(env, &now_frozen).await;
    }
    alerts
}

async fn save_frozen(env: &Env, frozen: &[String]) {
    // A failed write is logged; the next round compares against the stale list and
    // raises the transition again rather than losing it.
    let text = serde_json::to_string(frozen).unwrap_or_else(|_| "[]".into());
    if let Err(e) = super::kv::put_text(env, "FLEET", FROZEN_KEY, &text, None).await {
        log_error!("frozen pools: {e}");
    }
}
