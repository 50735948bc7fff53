//! `POST /v1/integrations/librenms`: a LibreNMS alert for a server's hostname marks it
//! down at once; a recovery counts as one good observation.

use crate::context::Cx;
use crate::http::{self, Result};
use crate::objects::pool::{ExternalReq, ExternalResp};
use crate::outbound::alerts;
use crate::rpc::call;
use crate::stores::fleet_store;
use vpn_edge_core::alerts::Alert;
use vpn_edge_core::librenms::{parse, LibreNmsEvent};
use worker::Response;

pub async fn alert(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, ctx, cfg, now) = (cx.env, cx.ctx, cx.cfg.clone(), cx.now_ms);
    let body = http::body_bytes(cx.req).await?;
    let (down, hostname) = match parse(&http::parse_fields(&body)?)? {
        LibreNmsEvent::Down(h) => (true, h),
        LibreNmsEvent::Recovered(h) => (false, h),
        // Keys in sorted order, as the `json!` these bodies were built with wrote them.
        LibreNmsEvent::Ignored => return http::json_bytes(200, br#"{"ignored":true,"matched":false}"#.to_vec()),
    };
    let snap = fleet_store::snapshot(env, now).await?;
    // Devices that are not VPN servers are answered 200 so LibreNMS does not retry them.
    let Some(server) = snap.servers.iter().find(|s| s.hostname == hostname.as_str()).cloned() else {
        return http::json_bytes(200, br#"{"matched":false}"#.to_vec());
    };
    let r: ExternalResp = call(
        &fleet_store::pool(env, server.country.as_str())?,
        ExternalReq {
            id: server.id.clone(),
            down,
            key: cfg.check_key(now),
            now_ms: now,
            stale_s: cfg.heartbeat_stale_s,
            thresholds: cfg.thresholds(),
        },
    )
    .await?;
    let view = r.view.clone();
    fleet_store::edit_snapshot(env, now, Box::new(|s| s.upsert(view))).await?;
    if let Some(to) = r.transition {
        let alert = Alert::transition(server.id.as_str(), to);
        let cfg = cfg.clone();
        crate::join::in_background(ctx, async move { alerts::send(&cfg, vec![alert]).await });
    }
    let server = http::sorted_json(&r.view)?;
    http::json_bytes(200, http::object(&[("matched", b"true"), ("server", &server)]))
}
