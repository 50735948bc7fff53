//! `AuthGuard`: counts failures per username while the origin is unavailable (lockout)
//! and the fleet-wide provisional admissions per minute. The rules are the core's.

use crate::objects::storage;
use crate::rpc::{
    answer,
    legacy::{op, read},
};
use serde::{Deserialize, Serialize};
use vpn_edge_core::api_error::{ApiError, ErrorCode};
use vpn_edge_core::auth::{Lockout, ProvisionalBudget};
use worker::*;

#[derive(Serialize, Deserialize)]
pub struct UserReq {
    /// Hex SHA-256 of the username.
    pub user: String,
    pub now_ms: i64,
}

#[derive(Serialize, Deserialize)]
pub struct Locked {
    pub locked: bool,
}

#[derive(Serialize, Deserialize)]
pub struct ProvisionalReq {
    pub now_ms: i64,
    pub cap: u32,
}

#[derive(Serialize, Deserialize)]
pub struct Granted {
    pub granted: bool,
}

/// The fleet-wide view of the origin, for the origin down/up alerts.
#[derive(Serialize, Deserialize)]
pub struct OriginState {
    pub down: bool,
}

#[derive(Serialize, Deserialize)]
pub struct Changed {
    pub changed: bool,
}

#[durable_object]
pub struct AuthGuard {
    state: State,
}

fn storage_err<E: std::fmt::Display>(e: E) -> ApiError {
    worker::console_error!("auth guard storage: {e}");
    ApiError::unavailable("auth guard")
}

impl AuthGuard {
    async fn lockout(&self, user: &str) -> std::result::Result<Lockout, ApiError> {
        Ok(storage::get::<Lockout>(&self.state.storage(), &format!("l:{user}"))
            .await
            .map_err(storage_err)?
            .unwrap_or_default())
    }

    async fn handle(&self, op: &str, req: &mut Request) -> std::result::Result<serde_json::Value, ApiError> {
        let v = match op {
            "check" => {
                let r: UserReq = read(req).await?;
                let l = self.lockout(&r.user).await?;
                if l.is_empty(r.now_ms) && l != Lockout::default() {
                    // Nothing left to remember: forget the username.
                    self.state.storage().delete(&format!("l:{}", r.user)).await.map_err(storage_err)?;
                }
                serde_json::to_value(Locked { locked: l.is_locked(r.now_ms) })
            }
            "fail" => {
                let r: UserReq = read(req).await?;
                let l = self.lockout(&r.user).await?.fail(r.now_ms);
                storage::put(&self.state.storage(), &format!("l:{}", r.user), &l).await.map_err(storage_err)?;
                serde_json::to_value(Locked { locked: l.is_locked(r.now_ms) })
            }
            "provisional" => {
                let r: ProvisionalReq = read(req).await?;
                let budget: ProvisionalBudget =
                    storage::get(&self.state.storage(), "p").await.map_err(storage_err)?.unwrap_or_default();
                let (next, granted) = budget.take(r.now_ms, r.cap);
                storage::put(&self.state.storage(), "p", &next).await.map_err(storage_err)?;
                serde_json::to_value(Granted { granted })
            }
            "origin_get" => {
                let down = storage::get::<bool>(&self.state.storage(), "origin_down")
                    .await
                    .map_err(storage_err)?
                    .unwrap_or(false);
                serde_json::to_value(OriginState { down })
            }
            "origin_set" => {
                let r: OriginState = read(req).await?;
                let was = storage::get::<bool>(&self.state.storage(), "origin_down")
                    .await
                    .map_err(storage_err)?
                    .unwrap_or(false);
                if was != r.down {
                    storage::put(&self.state.storage(), "origin_down", &r.down).await.map_err(storage_err)?;
                }
                serde_json::to_value(Changed { changed: was != r.down })
            }
            _ => return Err(ApiError::new(404, ErrorCode::NotFound, "no such operation")),
        };
        v.map_err(|_| ApiError::internal("serialize"))
    }
}

impl DurableObject for AuthGuard {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        answer(self.handle(&op(&req), &mut req).await)
    }
}
