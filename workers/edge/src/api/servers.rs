//! Endpoints called by VPN servers (signed).

use crate::api::auth::disconnects_for;
use crate::context::Cx;
use crate::http::{self, Result};
use crate::objects::pool::HeartbeatReq;
use crate::objects::session_ledger::Disconnect;
use crate::rpc::call;
use crate::stores::fleet_store;
use serde::Serialize;
use vpn_edge_core::fleet::{Heartbeat, Status};
use worker::Response;

#[derive(Serialize)]
struct HeartbeatAnswer {
    status: Status,
    disconnect: Vec<Disconnect>,
}

pub async fn heartbeat(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, now) = (cx.env, cx.now_ms);
    let s = cx.signed()?;
    let (signed, country) = (&s.by, &s.country);
    let hb = Heartbeat::parse(&http::parse_fields(&s.body)?)?;
    let pool = fleet_store::pool(env, country)?;
    let hb_req = HeartbeatReq { id: signed.server.clone(), telemetry: hb.0, signed_ts: signed.timestamp, now_ms: now };
    let (r, disconnect) = futures_util::join!(call(&pool, hb_req), disconnects_for(env, &signed.server));
    http::json(200, &HeartbeatAnswer { status: r?.status, disconnect })
}
