//! `GET /v1/admin/dns/plan` (dry run) and `POST /v1/admin/dns/apply?force=true`.

use crate::caller::bearer;
use crate::http::{self, Result};
use crate::jobs::dns_sync::sync;
use crate::stores::fleet_store;
use vpn_edge_core::api_error::{ApiError, RequestError};
use vpn_edge_core::config::Config;
use worker::{Env, Request, Response};

fn off() -> ApiError {
    ApiError::new(
        409,
        "dns_disabled",
        "DNS changes are off: DNS_PROVIDER is none or its settings are missing (see /healthz)",
    )
}

pub async fn plan(req: &Request, env: &Env, cfg: &Config) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let snap = fleet_store::snapshot(env, http::now_ms()).await?;
    let report = sync(cfg, &snap.servers, false, false).await.ok_or_else(off)?;
    http::json(200, &serde_json::json!({ "report": report, "plans": report.plans }))
}

pub async fn apply(req: &Request, env: &Env, cfg: &Config) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let force = match http::query(req).iter().find(|(k, _)| k == "force").map(|(_, v)| v.as_str()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(RequestError::field("force", "must be true or false").into()),
    };
    let snap = fleet_store::snapshot(env, http::now_ms()).await?;
    let report = sync(cfg, &snap.servers, true, force).await.ok_or_else(off)?;
    let failed = report
        .error
        .clone()
        .or_else(|| report.pools.iter().find_map(|p| p.error.as_ref().map(|e| format!("{}: {e}", p.pool))));
    match failed {
        // The API's error shape, with the per-pool report beside it.
        Some(message) => http::json(
            502,
            &serde_json::json!({
                "error": { "code": "dns_provider_failed", "message": format!("the DNS provider failed: {message}") },
                "report": report,
            }),
        ),
        None => http::json(200, &report),
    }
}
