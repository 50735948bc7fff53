//! Operator endpoints (bearer `ADMIN_TOKEN`).

use crate::caller::bearer;
use crate::http::{self, Result};
use crate::objects::fleet_index::{RemoveReq, SetReq};
use crate::objects::pool::{DeleteReq, PutReq, PutResp};
use crate::rpc::{call, legacy};
use crate::stores::fleet_store;
use vpn_edge_core::api_error::{ApiError, LookupError, RequestError};
use vpn_edge_core::config::Config;
use vpn_edge_core::registration::Registration;
use vpn_edge_core::types::ServerId;
use worker::{Env, Request, Response};

fn path_id(id: &str) -> Result<ServerId> {
    ServerId::parse(id).map_err(|e| RequestError::field("id", e.0).into())
}

pub async fn put_server(req: &mut Request, env: &Env, cfg: &Config, id: &str) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let id = path_id(id)?;
    let body = http::body_bytes(req).await?;
    let reg = Registration::parse(id.clone(), &http::parse_fields(&body)?)?;
    let now = http::now_ms();
    let country = reg.country.to_string();
    let prev = call(&fleet_store::index(env)?, SetReq { id: id.clone(), country: reg.country.clone() }).await?;
    let created = prev.country.is_none();
    if let Some(old) = prev.country.filter(|c| c.as_str() != country) {
        // Moved to another country: leave the old pool first.
        let _: bool =
            legacy::call(&fleet_store::pool(env, old.as_str())?, "delete", &DeleteReq { id: id.to_string() }).await?;
    }
    let put: PutResp = legacy::call(
        &fleet_store::pool(env, &country)?,
        "put",
        &PutReq { reg, now_ms: now, stale_s: cfg.heartbeat_stale_s },
    )
    .await?;
    let view = put.view.clone();
    fleet_store::edit_snapshot(env, now, |s| s.upsert(view)).await?;
    http::json(if created { 201 } else { 200 }, &put.view)
}

pub async fn delete_server(req: &mut Request, env: &Env, cfg: &Config, id: &str) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let id = path_id(id)?;
    let removed = call(&fleet_store::index(env)?, RemoveReq { id: id.clone() }).await?;
    let country = removed.country.ok_or(ApiError::from(LookupError::NotFound("server")))?;
    let _: bool =
        legacy::call(&fleet_store::pool(env, country.as_str())?, "delete", &DeleteReq { id: id.to_string() }).await?;
    fleet_store::edit_snapshot(env, http::now_ms(), |s| s.remove(&id)).await?;
    http::no_content()
}
