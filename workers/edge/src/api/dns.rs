//! `GET /v1/admin/dns/plan` (dry run) and `POST /v1/admin/dns/apply?force=true`.

use crate::context::Cx;
use crate::http::{self, Result};
use crate::jobs::dns_sync::sync;
use crate::stores::fleet_store;
use vpn_edge_core::api_error::{ApiError, ErrorCode, RequestError};
use worker::Response;

fn off() -> ApiError {
    ApiError::new(
        409,
        ErrorCode::DnsDisabled,
        "DNS changes are off: DNS_PROVIDER is none or its settings are missing (see /healthz)",
    )
}

pub async fn plan(cx: &mut Cx<'_>) -> Result<Response> {
    let snap = fleet_store::snapshot(cx.env, cx.now_ms).await?;
    let report = sync(&cx.cfg, &snap.servers, false, false).await.ok_or_else(off)?;
    // `{"plans": .., "report": ..}` with every object's keys sorted, as the `json!` it was
    // built with wrote it (README "Size": no `Value` encoder per type).
    let (plans, report) = (http::sorted_json(&report.plans)?, http::sorted_json(&report)?);
    http::json_bytes(200, http::object(&[("plans", &plans), ("report", &report)]))
}

pub async fn apply(cx: &mut Cx<'_>) -> Result<Response> {
    let force = match http::query(cx.req).iter().find(|(k, _)| k == "force").map(|(_, v)| v.as_str()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(RequestError::field("force", "must be true or false").into()),
    };
    let snap = fleet_store::snapshot(cx.env, cx.now_ms).await?;
    let report = sync(&cx.cfg, &snap.servers, true, force).await.ok_or_else(off)?;
    let failed = report
        .error
        .clone()
        .or_else(|| report.pools.iter().find_map(|p| p.error.as_ref().map(|e| format!("{}: {e}", p.pool))));
    match failed {
        // The API's error shape, with the per-pool report beside it.
        // Keys sorted, as the `json!` it was built with wrote them.
        Some(message) => {
            let message = serde_json::to_vec(&format!("the DNS provider failed: {message}"))
                .map_err(|_| ApiError::internal("serialize"))?;
            let error = http::object(&[("code", br#""dns_provider_failed""#), ("message", &message)]);
            http::json_bytes(502, http::object(&[("error", &error), ("report", &http::sorted_json(&report)?)]))
        }
        None => http::json(200, &report),
    }
}
