//! Sends alerts to `ALERT_WEBHOOK_URL`, each with a 5 s timeout, from `waitUntil`, so a
//! slow or failing webhook never delays or fails what raised them.

use crate::outbound;
use futures_util::future::LocalBoxFuture;
use vpn_edge_core::alerts::Alert;
use vpn_edge_core::config::Config;
use worker::Method;

pub async fn send(cfg: &Config, alerts: Vec<Alert>) {
    let Some(url) = cfg.alert_webhook_url.clone() else { return };
    // Boxed unit futures into `join::join_units`, the wait every boxed unit future shares:
    // nothing comes back, so `join::join_all`'s output slots would be compiled for nothing
    // (README "Size").
    let calls: Vec<LocalBoxFuture<'static, ()>> = alerts
        .into_iter()
        .map(|a| -> LocalBoxFuture<'static, ()> {
            let url = url.clone();
            Box::pin(async move {
                let body = serde_json::to_string(&a).unwrap_or_default();
                match outbound::send(Method::Post, &url, &[("content-type", "application/json")], Some(body), 5_000)
                    .await
                {
                    Ok(r) if (200..300).contains(&r.status) => {}
                    Ok(r) => log_warn!("alert {} not accepted: HTTP {}", a.event, r.status),
                    Err(e) => log_warn!("alert {} not delivered: {e}", a.event),
                }
            })
        })
        .collect();
    crate::join::join_units(calls).await;
}
