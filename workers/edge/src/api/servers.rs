//! Endpoints called by VPN servers (signed).

use crate::api::auth::disconnects_for;
use crate::caller;
use crate::http::{self, Result};
use crate::objects::pool::HeartbeatReq;
use crate::objects::session_ledger::Disconnect;
use crate::rpc::call;
use crate::stores::fleet_store;
use serde::Serialize;
use vpn_edge_core::config::Config;
use vpn_edge_core::fleet::{Heartbeat, Status};
use worker::{Env, Request, Response};

#[derive(Serialize)]
struct HeartbeatAnswer {
    status: Status,
    disconnect: Vec<Disconnect>,
}

pub async fn heartbeat(req: &mut Request, env: &Env, cfg: &Config, id: &str) -> Result<Response> {
    let now = http::now_ms();
    let caller::Signed { by: signed, country, body } =
        caller::signed(req, env, cfg, Some(id), caller::Replay::Handled, now).await?;
    let hb = Heartbeat::parse(&http::parse_fields(&body)?)?;
    let pool = fleet_store::pool(env, &country)?;
    let hb_req = HeartbeatReq { id: signed.server.clone(), telemetry: hb.0, signed_ts: signed.timestamp, now_ms: now };
    let (r, disconnect) = futures_util::join!(call(&pool, hb_req), disconnects_for(env, &signed.server));
    http::json(200, &HeartbeatAnswer { status: r?.status, disconnect })
}
