//! `AuthGuard`: the degraded path's shared state, fleet-wide: failures per username and
//! client address and per username (lockout), the provisional admissions per minute (cap),
//! and the origin's fleet-wide state (down, misconfigured). The rules are the core's
//! (`guard_apply`); this object only stores. Each request's effects are remembered under
//! its signature's tag for `EFFECT_MEMO_MS`, so a replayed `/v1/auth` gets the same reply
//! and changes nothing (README "Auth when the origin fails").

use crate::env_config;
use crate::objects::{sql, storage};
use crate::rpc::{self, create_schema, protocol, reply};
use serde::{Deserialize, Serialize};
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::auth::{
    guard_apply, GuardAction, GuardLimits, GuardReply, GuardState, Lockout, ProvisionalBudget, EFFECT_MEMO_MS,
};
use worker::*;

protocol! {
    /// What the Worker asks of the `AuthGuard`.
    pub enum GuardOp {
        /// Apply one degraded-path action (remembered under the signature's tag).
        Guard(GuardReq) -> GuardReply,
        /// The fleet-wide view of the origin.
        OriginGet(OriginGetReq) -> OriginState,
        /// Set the origin's flags; answers which changed.
        OriginSet(OriginSet) -> Changed,
    }
}

#[derive(Serialize, Deserialize)]
pub struct OriginGetReq {}

#[derive(Serialize, Deserialize)]
pub struct GuardReq {
    /// Hex SHA-256 of the username.
    pub user: String,
    pub client_ip: String,
    /// `effect_tag` of the request's signature.
    pub tag: String,
    pub action: GuardAction,
    pub now_ms: i64,
    pub user_max: u32,
    pub cap: u32,
}

/// The fleet-wide view of the origin, for alerts and `/healthz`.
#[derive(Serialize, Deserialize, Default, Clone, Copy)]
pub struct OriginState {
    pub down: bool,
    #[serde(default)]
    pub misconfigured: bool,
}

/// Set one of the two flags; `None` leaves it as it is.
#[derive(Serialize, Deserialize)]
pub struct OriginSet {
    pub down: Option<bool>,
    pub misconfigured: Option<bool>,
}

#[derive(Serialize, Deserialize)]
pub struct Changed {
    pub down: bool,
    pub misconfigured: bool,
}

#[durable_object(fetch)]
pub struct AuthGuard {
    state: State,
    env: Env,
}

fn storage_err<E: std::fmt::Display>(e: E) -> ApiError {
    log_error!("auth guard storage: {e}");
    ApiError::unavailable("auth guard")
}

async fn get_text(storage: Storage, key: &str) -> std::result::Result<Option<String>, ApiError> {
    storage::get_text(&storage, key).await.map_err(storage_err)
}

impl AuthGuard {
    /// The one non-generic read, then decoding (README "Size").
    fn get<'a, T: serde::de::DeserializeOwned + Default>(
        &self,
        key: &'a str,
    ) -> impl std::future::Future<Output = std::result::Result<T, ApiError>> + 'a {
        use futures_util::FutureExt;
        get_text(self.state.storage(), key)
            .map(move |text| Ok(storage::decode_some::<T>(key, text?).map_err(storage_err)?.unwrap_or_default()))
    }

    /// A lockout entry: written when it holds something, deleted when it has nothing left.
    async fn put_lockout(&self, key: &str, l: &Lockout, now_ms: i64) -> std::result::Result<(), ApiError> {
        if l.is_empty(now_ms) {
            self.state.storage().delete(key).await.map_err(storage_err)?;
        } else {
            storage::put(&self.state.storage(), key, l).await.map_err(storage_err)?;
        }
        Ok(())
    }

    async fn guard(&self, r: GuardReq) -> std::result::Result<GuardReply, ApiError> {
        // Test-only fault switch (README "Tests"): configured out of production.
        if env_config::load(&self.env).fault("guard") {
            return Err(ApiError::unavailable("auth guard"));
        }
        let sql = self.state.storage().sql();
        sql.exec("DELETE FROM memo WHERE expires < ?", vec![r.now_ms.into()]).map_err(storage_err)?;
        let seen = sql::rows(&sql, "SELECT reply FROM memo WHERE tag = ?", vec![r.tag.clone().into()])
            .and_then(|rows| rows.first().map(|m| m.text("reply")).transpose())
            .map_err(storage_err)?;
        // A memo that cannot be read is reported, not taken for a first use (which would
        // count a replay's failure twice): the caller sees the guard unavailable.
        let memo = seen.map(|m| rpc::from_json::<GuardReply>(m.as_bytes())).transpose().map_err(storage_err)?;
        if let Some(reply) = memo {
            // A replay: the same answer, no new failure, no new slot.
            return Ok(reply);
        }
        let (ip_key, user_key) = (format!("l:{}:{}", r.user, r.client_ip), format!("u:{}", r.user));
        let before = GuardState {
            by_ip: self.get(&ip_key).await?,
            by_user: self.get(&user_key).await?,
            budget: self.get::<ProvisionalBudget>("p").await?,
        };
        let limits = GuardLimits { user_max: r.user_max, cap: r.cap };
        let (after, reply) = guard_apply(before.clone(), r.action, r.now_ms, limits);
        if after.by_ip != before.by_ip {
            self.put_lockout(&ip_key, &after.by_ip, r.now_ms).await?;
        }
        if after.by_user != before.by_user {
            self.put_lockout(&user_key, &after.by_user, r.now_ms).await?;
        }
        if after.budget != before.budget {
            storage::put(&self.state.storage(), "p", &after.budget).await.map_err(storage_err)?;
        }
        let text = serde_json::to_string(&reply).map_err(|_| ApiError::internal("serialize"))?;
        sql.exec(
            "INSERT OR REPLACE INTO memo (tag, expires, reply) VALUES (?, ?, ?)",
            vec![r.tag.into(), (r.now_ms + EFFECT_MEMO_MS).into(), text.into()],
        )
        .map_err(storage_err)?;
        Ok(reply)
    }

    async fn origin_get(&self, _: OriginGetReq) -> std::result::Result<OriginState, ApiError> {
        self.get::<OriginState>("origin").await
    }

    async fn origin_set(&self, r: OriginSet) -> std::result::Result<Changed, ApiError> {
        let was: OriginState = self.get("origin").await?;
        let now = OriginState {
            down: r.down.unwrap_or(was.down),
            misconfigured: r.misconfigured.unwrap_or(was.misconfigured),
        };
        let changed = Changed { down: now.down != was.down, misconfigured: now.misconfigured != was.misconfigured };
        if changed.down || changed.misconfigured {
            storage::put(&self.state.storage(), "origin", &now).await.map_err(storage_err)?;
        }
        Ok(changed)
    }
}

impl DurableObject for AuthGuard {
    fn new(state: State, env: Env) -> Self {
        create_schema(
            &state.storage().sql(),
            "auth guard",
            &[
                "CREATE TABLE IF NOT EXISTS memo (tag TEXT PRIMARY KEY, expires INTEGER NOT NULL, reply TEXT NOT NULL)",
                "CREATE INDEX IF NOT EXISTS memo_by_expiry ON memo (expires)",
            ],
        );
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match rpc::operation(&mut req).await {
            Ok(GuardOp::Guard(r)) => reply::<GuardReq>(self.guard(r).await),
            Ok(GuardOp::OriginGet(r)) => reply::<OriginGetReq>(self.origin_get(r).await),
            Ok(GuardOp::OriginSet(r)) => reply::<OriginSet>(self.origin_set(r).await),
            Err(e) => rpc::refuse(e),
        }
    }
}
