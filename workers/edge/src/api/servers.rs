//! Endpoints called by VPN servers (signed).

use crate::api::auth::disconnects_for;
use crate::context::Cx;
use crate::http::{self, Result};
use crate::objects::pool::HeartbeatReq;
use crate::rpc::call;
use crate::stores::fleet_store;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::fleet::Heartbeat;
use worker::Response;

pub async fn heartbeat(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, now) = (cx.env, cx.now_ms);
    let s = cx.signed()?;
    let (signed, country) = (&s.by, &s.country);
    let hb = Heartbeat::parse(&http::parse_fields(&s.body)?)?;
    let pool = fleet_store::pool(env, country)?;
    let hb_req = HeartbeatReq { id: signed.server.clone(), telemetry: hb.0, signed_ts: signed.timestamp, now_ms: now };
    let (r, disconnect) = futures_util::join!(call(&pool, hb_req), disconnects_for(env, &signed.server));
    // `{"status": .., "disconnect": [..]}`, the disconnects as the ledger encoded them.
    let status = serde_json::to_vec(&r?.status).map_err(|_| ApiError::internal("serialize"))?;
    http::json_bytes(200, http::object(&[("status", &status), ("disconnect", disconnect.as_bytes())]))
}
