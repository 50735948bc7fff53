//! `ReplayGuard`: one Durable Object per server, remembering the signatures of its
//! state-changing requests that were accepted, so each is accepted once (README "Signed by
//! a server"). The memory is SQLite storage, not the object's memory, so an eviction or a
//! deploy forgets nothing; each entry is kept only as long as the clock window could still
//! admit its timestamp (`signature::remember_until_ms`), then deleted, so it stays bounded.

use crate::objects::sql;
use crate::rpc::{self, create_schema, protocol, reply};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::signature::still_remembered;
use worker::*;

protocol! {
    /// What the Worker asks of a server's `ReplayGuard`.
    pub enum ReplayOp {
        /// Spend a signature: answers whether this was its first use.
        Use(UseReq) -> UseReply,
        /// How many signatures are remembered (tests and operators: the guard stays bounded).
        Size(SizeReq) -> SizeReply,
    }
}

#[derive(Serialize, Deserialize)]
pub struct UseReq {
    /// `SignedBy::replay_key`.
    pub key: String,
    /// `signature::remember_until_ms` of the request's timestamp.
    pub until_ms: i64,
    pub now_ms: i64,
}

#[derive(Serialize, Deserialize)]
pub struct UseReply {
    /// First use of this signature: the request may proceed.
    pub first: bool,
}

#[derive(Serialize, Deserialize)]
pub struct SizeReq {}

#[derive(Serialize, Deserialize)]
pub struct SizeReply {
    pub remembered: u32,
}

#[durable_object(alarm)]
pub struct ReplayGuard {
    state: State,
    /// Whether an alarm is known to be set (a cache: unknown after an eviction).
    alarm_set: Cell<bool>,
}

fn storage_err<E: std::fmt::Display>(e: E) -> ApiError {
    log_error!("replay guard storage: {e}");
    ApiError::unavailable("replay guard")
}

impl ReplayGuard {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// The `until_ms` of each row.
    fn until(&self, rows: Result<Vec<sql::Row>>) -> std::result::Result<Vec<f64>, ApiError> {
        rows.and_then(|rows| rows.iter().map(|r| r.num("until_ms")).collect()).map_err(storage_err)
    }

    fn forget_expired(&self, now_ms: i64) -> std::result::Result<(), ApiError> {
        self.sql().exec("DELETE FROM seen WHERE until_ms <= ?", vec![now_ms.into()]).map_err(storage_err)?;
        Ok(())
    }

    /// Remember `key` unless it is remembered already. No `.await` between the look and
    /// the write, so two copies of one request arriving together cannot both pass.
    fn remember(&self, r: &UseReq) -> std::result::Result<bool, ApiError> {
        self.forget_expired(r.now_ms)?;
        let seen =
            self.until(sql::rows(&self.sql(), "SELECT until_ms FROM seen WHERE sig = ?", vec![r.key.clone().into()]))?;
        if seen.iter().any(|until_ms| still_remembered(*until_ms as i64, r.now_ms)) {
            return Ok(false);
        }
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO seen (sig, until_ms) VALUES (?, ?)",
                vec![r.key.clone().into(), r.until_ms.into()],
            )
            .map_err(storage_err)?;
        Ok(true)
    }

    /// An alarm at the earliest expiry, so an idle server's entries are deleted too.
    async fn arm(&self, at_ms: i64) -> std::result::Result<(), ApiError> {
        if self.alarm_set.get() {
            return Ok(());
        }
        let storage = self.state.storage();
        if storage.get_alarm().await.map_err(storage_err)?.is_none() {
            let at = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
            storage.set_alarm(ScheduledTime::new(at)).await.map_err(storage_err)?;
        }
        self.alarm_set.set(true);
        Ok(())
    }

    fn size(&self, _: SizeReq) -> std::result::Result<SizeReply, ApiError> {
        let n = sql::rows(&self.sql(), "SELECT COUNT(*) AS n FROM seen", vec![])
            .and_then(|rows| rows.first().map(|c| c.num("n")).transpose())
            .map_err(storage_err)?;
        Ok(SizeReply { remembered: n.map_or(0, |n| n as u32) })
    }

    async fn spend(&self, r: UseReq) -> std::result::Result<UseReply, ApiError> {
        let first = self.remember(&r)?;
        if first {
            self.arm(r.until_ms).await?;
        }
        Ok(UseReply { first })
    }

    async fn sweep(&self) -> std::result::Result<(), ApiError> {
        self.alarm_set.set(false);
        self.forget_expired(Date::now().as_millis() as i64)?;
        let next = self.until(sql::rows(&self.sql(), "SELECT until_ms FROM seen ORDER BY until_ms LIMIT 1", vec![]))?;
        if let Some(at) = next.first() {
            self.arm(*at as i64).await?;
        }
        Ok(())
    }
}

impl DurableObject for ReplayGuard {
    fn new(state: State, _env: Env) -> Self {
        create_schema(
            &state.storage().sql(),
            "replay guard",
            &[
                "CREATE TABLE IF NOT EXISTS seen (sig TEXT PRIMARY KEY, until_ms INTEGER NOT NULL)",
                "CREATE INDEX IF NOT EXISTS seen_until ON seen (until_ms)",
            ],
        );
        Self { state, alarm_set: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match rpc::operation(&mut req).await {
            Ok(ReplayOp::Use(r)) => reply::<UseReq>(self.spend(r).await),
            Ok(ReplayOp::Size(r)) => reply::<SizeReq>(self.size(r)),
            Err(e) => rpc::refuse(e),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if let Err(e) = self.sweep().await {
            log_error!("replay guard sweep: {}", e.message);
        }
        Response::empty()
    }
}
