//! Operator endpoints for servers (bearer `ADMIN_TOKEN`): list, read, register (`PUT`),
//! edit (`PATCH`, a JSON merge patch validated as a `PUT`), delete.

use crate::caller::bearer;
use crate::http::{self, Result};
use crate::objects::fleet_index::{CountryResp, IdReq, SetReq};
use crate::objects::pool::{DeleteReq, GetReq, ListReq, PutReq, PutResp};
use crate::rpc::call;
use crate::stores::fleet_store;
use futures_util::future::join_all;
use vpn_edge_core::api_error::{ApiError, LookupError, RequestError};
use vpn_edge_core::config::Config;
use vpn_edge_core::registration::Registration;
use vpn_edge_core::types::ServerId;
use worker::{Env, Request, Response};

fn path_id(id: &str) -> Result<ServerId> {
    ServerId::parse(id).map_err(|e| RequestError::field("id", e.0).into())
}

fn not_found() -> ApiError {
    LookupError::NotFound("server").into()
}

async fn country_of(env: &Env, id: &ServerId) -> Result<String> {
    let r: CountryResp = call(&fleet_store::index(env)?, "get", &IdReq { id: id.to_string() }).await?;
    r.country.ok_or_else(not_found)
}

pub async fn list_servers(req: &Request, env: &Env, cfg: &Config) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let countries: Vec<String> = call(&fleet_store::index(env)?, "countries", &()).await?;
    let list = ListReq { now_ms: http::now_ms(), stale_s: cfg.heartbeat_stale_s };
    let pools =
        join_all(countries.iter().map(|c| async {
            call::<_, Vec<serde_json::Value>>(&fleet_store::pool(env, c)?, "admin_list", &list).await
        }))
        .await;
    let mut servers = Vec::new();
    for p in pools {
        // An operator's view must be complete or an error, never silently partial.
        servers.extend(p?);
    }
    vpn_edge_core::sort::sort_by(&mut servers, |a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    http::json(200, &serde_json::json!({ "servers": servers }))
}

pub async fn get_server(req: &Request, env: &Env, cfg: &Config, id: &str) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let id = path_id(id)?;
    let country = country_of(env, &id).await?;
    let get = GetReq { id: id.to_string(), now_ms: http::now_ms(), stale_s: cfg.heartbeat_stale_s };
    let view: serde_json::Value = call(&fleet_store::pool(env, &country)?, "admin_get", &get).await?;
    http::json(200, &view)
}

/// Store a validated registration (moving pools if the country changed) and publish it in
/// the snapshot at once. `true` when the server is new.
async fn save(env: &Env, cfg: &Config, reg: Registration) -> Result<(bool, PutResp)> {
    let id = reg.id.to_string();
    let now = http::now_ms();
    let country = reg.country.to_string();
    let prev: CountryResp =
        call(&fleet_store::index(env)?, "set", &SetReq { id: id.clone(), country: country.clone() }).await?;
    let created = prev.country.is_none();
    if let Some(old) = prev.country.filter(|c| c != &country) {
        // Moved to another country: leave the old pool first.
        let _: bool = call(&fleet_store::pool(env, &old)?, "delete", &DeleteReq { id: id.clone() }).await?;
    }
    let put: PutResp =
        call(&fleet_store::pool(env, &country)?, "put", &PutReq { reg, now_ms: now, stale_s: cfg.heartbeat_stale_s })
            .await?;
    let view = put.view.clone();
    fleet_store::edit_snapshot(env, now, |s| s.upsert(view)).await?;
    Ok((created, put))
}

pub async fn put_server(req: &mut Request, env: &Env, cfg: &Config, id: &str) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let id = path_id(id)?;
    let body = http::body_bytes(req).await?;
    let reg = Registration::parse(id, &http::parse_fields(&body)?, cfg.address_policy())?;
    let (created, put) = save(env, cfg, reg).await?;
    http::json(if created { 201 } else { 200 }, &put.view)
}

pub async fn patch_server(req: &mut Request, env: &Env, cfg: &Config, id: &str) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let id = path_id(id)?;
    let body = http::body_bytes_as(req, &["application/merge-patch+json", "application/json"]).await?;
    let patch: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::from(RequestError::MalformedJson(e.to_string())))?;
    let country = country_of(env, &id).await?;
    let get = GetReq { id: id.to_string(), now_ms: http::now_ms(), stale_s: cfg.heartbeat_stale_s };
    let current: Registration = call(&fleet_store::pool(env, &country)?, "registration", &get).await?;
    let reg = current.merge_patch(&patch, cfg.address_policy())?;
    let now_in = reg.country.to_string();
    save(env, cfg, reg).await?;
    let view: serde_json::Value = call(&fleet_store::pool(env, &now_in)?, "admin_get", &get).await?;
    http::json(200, &view)
}

pub async fn delete_server(req: &mut Request, env: &Env, cfg: &Config, id: &str) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let id = path_id(id)?;
    let removed: CountryResp = call(&fleet_store::index(env)?, "remove", &IdReq { id: id.to_string() }).await?;
    let country = removed.country.ok_or_else(not_found)?;
    let _: bool = call(&fleet_store::pool(env, &country)?, "delete", &DeleteReq { id: id.to_string() }).await?;
    fleet_store::edit_snapshot(env, http::now_ms(), |s| s.remove(&id)).await?;
    http::no_content()
}
