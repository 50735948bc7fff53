//! Operator endpoints for servers (bearer `ADMIN_TOKEN`): list, read, register (`PUT`),
//! edit (`PATCH`, a JSON merge patch validated as a `PUT`), delete.

use crate::context::Cx;
use crate::http::{self, Result};
use crate::join::join_all;
use crate::objects::fleet_index::{CountriesReq, GetReq as IndexGetReq, RemoveReq, SetReq};
use crate::objects::pool::{AdminGetReq, AdminListReq, DeleteReq, PutReq, PutResp, RegistrationReq};
use crate::rpc::{call, call_text};
use crate::stores::fleet_store;
use serde_json::Value;
use vpn_edge_core::api_error::{ApiError, LookupError, RequestError};
use vpn_edge_core::config::Config;
use vpn_edge_core::registration::Registration;
use vpn_edge_core::types::ServerId;
use worker::{Env, Response};

fn path_id(id: &str) -> Result<ServerId> {
    ServerId::parse(id).map_err(|e| RequestError::field("id", e.0).into())
}

fn not_found() -> ApiError {
    LookupError::NotFound("server").into()
}

async fn country_of(env: &Env, id: &ServerId) -> Result<String> {
    let r = call(&fleet_store::index(env)?, IndexGetReq { id: id.clone() }).await?;
    r.country.map(|c| c.to_string()).ok_or_else(not_found)
}

pub async fn list_servers(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, cfg) = (cx.env, &*cx.cfg);
    let countries = call(&fleet_store::index(env)?, CountriesReq {}).await?;
    let list = || AdminListReq { now_ms: cx.now_ms, stale_s: cfg.heartbeat_stale_s };
    let pools =
        join_all(countries.iter().map(|c| async { call_text(&fleet_store::pool(env, c.as_str())?, list()).await }))
            .await;
    let mut servers = Vec::new();
    for p in pools {
        // An operator's view must be complete or an error, never silently partial.
        // Read as JSON values, not as `AdminServer` (encoded only, README "Size"): the body
        // is the same `json!` tree of the same values either way.
        let views: Vec<Value> =
            serde_json::from_slice(p?.as_bytes()).map_err(|_| ApiError::internal("durable object answer"))?;
        servers.extend(views);
    }
    fn id(v: &Value) -> Option<&str> {
        v.get("id").and_then(Value::as_str)
    }
    vpn_edge_core::sort::sort_by(&mut servers, |a, b| id(a).cmp(&id(b)));
    let servers = serde_json::to_vec(&servers).map_err(|_| ApiError::internal("serialize"))?;
    http::json_bytes(200, http::object(&[("servers", &servers)]))
}

pub async fn get_server(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, cfg) = (cx.env, &*cx.cfg);
    let id = path_id(cx.param)?;
    let country = country_of(env, &id).await?;
    let get = AdminGetReq { id, now_ms: cx.now_ms, stale_s: cfg.heartbeat_stale_s };
    let view = call_text(&fleet_store::pool(env, &country)?, get).await?;
    http::json_bytes(200, view.into_bytes())
}

/// Store a validated registration (moving pools if the country changed) and publish it in
/// the snapshot at once. `true` when the server is new.
async fn save(env: &Env, cfg: &Config, reg: Registration, now: i64) -> Result<(bool, PutResp)> {
    let id = reg.id.clone();
    let country = reg.country.to_string();
    let prev = call(&fleet_store::index(env)?, SetReq { id: reg.id.clone(), country: reg.country.clone() }).await?;
    let created = prev.country.is_none();
    if let Some(old) = prev.country.filter(|c| c.as_str() != country) {
        // Moved to another country: leave the old pool first.
        call_text(&fleet_store::pool(env, old.as_str())?, DeleteReq { id }).await?;
    }
    let put =
        call(&fleet_store::pool(env, &country)?, PutReq { reg, now_ms: now, stale_s: cfg.heartbeat_stale_s }).await?;
    let view = put.view.clone();
    fleet_store::edit_snapshot(env, now, Box::new(|s| s.upsert(view))).await?;
    Ok((created, put))
}

pub async fn put_server(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, cfg) = (cx.env, cx.cfg.clone());
    let id = path_id(cx.param)?;
    let body = http::body_bytes(cx.req).await?;
    let reg = Registration::parse(id, &http::parse_fields(&body)?, cfg.address_policy())?;
    let (created, put) = save(env, &cfg, reg, cx.now_ms).await?;
    http::json(if created { 201 } else { 200 }, &put.view)
}

pub async fn patch_server(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, cfg, now) = (cx.env, cx.cfg.clone(), cx.now_ms);
    let cfg = &*cfg;
    let id = path_id(cx.param)?;
    let body = http::body_bytes_as(cx.req, &["application/merge-patch+json", "application/json"]).await?;
    let patch: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::from(RequestError::MalformedJson(e.to_string())))?;
    let country = country_of(env, &id).await?;
    let current = call(&fleet_store::pool(env, &country)?, RegistrationReq { id: id.clone() }).await?;
    let reg = current.merge_patch(&patch, cfg.address_policy())?;
    let now_in = reg.country.to_string();
    save(env, cfg, reg, now).await?;
    let get = AdminGetReq { id, now_ms: now, stale_s: cfg.heartbeat_stale_s };
    let view = call_text(&fleet_store::pool(env, &now_in)?, get).await?;
    http::json_bytes(200, view.into_bytes())
}

pub async fn delete_server(cx: &mut Cx<'_>) -> Result<Response> {
    let env = cx.env;
    let id = path_id(cx.param)?;
    let removed = call(&fleet_store::index(env)?, RemoveReq { id: id.clone() }).await?;
    let country = removed.country.ok_or_else(not_found)?;
    // The pool's `bool` is not read: removed from the index, the server is gone either way.
    call_text(&fleet_store::pool(env, country.as_str())?, DeleteReq { id: id.clone() }).await?;
    fleet_store::edit_snapshot(env, cx.now_ms, Box::new(|s| s.remove(&id))).await?;
    http::no_content()
}
