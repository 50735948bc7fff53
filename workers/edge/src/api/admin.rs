//! Operator endpoints (bearer `ADMIN_TOKEN`).

use crate::context::Cx;
use crate::http::{self, Result};
use crate::objects::fleet_index::{CountryResp, IdReq, SetReq};
use crate::objects::pool::{DeleteReq, PutReq, PutResp};
use crate::rpc::call;
use crate::stores::fleet_store;
use vpn_edge_core::api_error::{ApiError, LookupError, RequestError};
use vpn_edge_core::registration::Registration;
use vpn_edge_core::types::ServerId;
use worker::Response;

fn path_id(id: &str) -> Result<ServerId> {
    ServerId::parse(id).map_err(|e| RequestError::field("id", e.0).into())
}

pub async fn put_server(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, cfg, now) = (cx.env, cx.cfg.clone(), cx.now_ms);
    let id = path_id(cx.param)?;
    let body = http::body_bytes(cx.req).await?;
    let reg = Registration::parse(id.clone(), &http::parse_fields(&body)?)?;
    let country = reg.country.to_string();
    let prev: CountryResp =
        call(&fleet_store::index(env)?, "set", &SetReq { id: id.to_string(), country: country.clone() }).await?;
    let created = prev.country.is_none();
    if let Some(old) = prev.country.filter(|c| c != &country) {
        // Moved to another country: leave the old pool first.
        let _: bool = call(&fleet_store::pool(env, &old)?, "delete", &DeleteReq { id: id.to_string() }).await?;
    }
    let put: PutResp =
        call(&fleet_store::pool(env, &country)?, "put", &PutReq { reg, now_ms: now, stale_s: cfg.heartbeat_stale_s })
            .await?;
    let view = put.view.clone();
    fleet_store::edit_snapshot(env, now, |s| s.upsert(view)).await?;
    http::json(if created { 201 } else { 200 }, &put.view)
}

pub async fn delete_server(cx: &mut Cx<'_>) -> Result<Response> {
    let env = cx.env;
    let id = path_id(cx.param)?;
    let removed: CountryResp = call(&fleet_store::index(env)?, "remove", &IdReq { id: id.to_string() }).await?;
    let country = removed.country.ok_or(ApiError::from(LookupError::NotFound("server")))?;
    let _: bool = call(&fleet_store::pool(env, &country)?, "delete", &DeleteReq { id: id.to_string() }).await?;
    fleet_store::edit_snapshot(env, cx.now_ms, |s| s.remove(&id)).await?;
    http::no_content()
}
