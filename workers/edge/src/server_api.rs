//! Endpoints called by VPN servers (signed).

use crate::caller;
use crate::do_rpc::call;
use crate::fleet_store;
use crate::http::{self, Result};
use crate::pool::{HeartbeatReq, HeartbeatResp};
use serde::Serialize;
use vpn_edge_core::config::Config;
use vpn_edge_core::fleet::{Heartbeat, Status};
use worker::{Env, Request, Response};

#[derive(Serialize)]
struct HeartbeatAnswer {
    status: Status,
    disconnect: Vec<serde_json::Value>,
}

pub async fn heartbeat(req: &mut Request, env: &Env, cfg: &Config, id: &str) -> Result<Response> {
    let body = http::body_bytes(req).await?;
    let now = http::now_ms();
    let (signed, country) = caller::server(req, env, cfg.fleet_secret.as_deref(), &body, Some(id), now).await?;
    let hb = Heartbeat::parse(&http::parse_fields(&body)?)?;
    let r: HeartbeatResp = call(
        &fleet_store::pool(env, &country)?,
        "heartbeat",
        &HeartbeatReq { id: signed.server.to_string(), telemetry: hb.0, signed_ts: signed.timestamp, now_ms: now },
    )
    .await?;
    http::json(200, &HeartbeatAnswer { status: r.status, disconnect: Vec::new() })
}
