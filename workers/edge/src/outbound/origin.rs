//! The provider's website as an auth backend: one call with a timeout, behind a circuit
//! breaker kept per isolate, so a dead origin costs one timeout per cool-down. What an
//! answer means (and what feeds the breaker) is the core's `classify_origin`.

use crate::outbound;
use serde::Serialize;
use std::cell::Cell;
use vpn_edge_core::auth::{classify_origin, Breaker, OriginAnswer};
use vpn_edge_core::config::Config;
use worker::{Method, RequestRedirect};

thread_local! {
    static BREAKER: Cell<Breaker> = Cell::new(Breaker::default());
}

pub fn breaker_open() -> bool {
    BREAKER.with(|b| b.get().is_open())
}

/// The origin's request body. Its keys in the order `json!` wrote them (sorted: a
/// `serde_json::Map` is a B-tree), so the bytes sent are the same; a struct needs no
/// `Value` built and encoded per call (README "Size").
#[derive(Serialize)]
struct Login<'a> {
    password: &'a str,
    username: &'a str,
}

/// Ask the origin without the breaker (re-verification decides for itself when to stop).
pub async fn ask(cfg: &Config, username: &str, password: &str) -> OriginAnswer {
    let (Some(url), Some(token)) = (&cfg.origin_auth_url, &cfg.origin_api_token) else {
        return OriginAnswer::Unavailable;
    };
    let body = serde_json::to_string(&Login { password, username }).unwrap_or_default();
    let auth = format!("Bearer {}", token.expose());
    let headers =
        [("content-type", "application/json"), ("accept", "application/json"), ("authorization", auth.as_str())];
    match outbound::send_with(Method::Post, url, &headers, Some(body), cfg.origin_timeout_ms, RequestRedirect::Manual)
        .await
    {
        Ok(reply) => classify_origin(reply.status, &reply.body),
        Err(_) => OriginAnswer::Unavailable,
    }
}

/// Ask the origin through the breaker. The flag says this call opened the breaker (the
/// moment to tell the fleet-wide origin state, once per outage per isolate).
pub async fn verify(cfg: &Config, username: &str, password: &str, now_ms: i64) -> (OriginAnswer, bool) {
    let (state, call) = BREAKER.with(|b| b.get()).admit(now_ms, i64::from(cfg.origin_timeout_ms) * 2);
    BREAKER.with(|b| b.set(state));
    if !call {
        return (OriginAnswer::Unavailable, false);
    }
    let answer = ask(cfg, username, password).await;
    let after = crate::http::now_ms();
    let was_open = BREAKER.with(|b| b.get()).is_open();
    let next = BREAKER.with(|b| b.get()).record(answer, after);
    BREAKER.with(|b| b.set(next));
    (answer, next.is_open() && !was_open)
}

/// The username the cron round probes a down origin with: any answer means it is back.
pub const PROBE_USERNAME: &str = "vpn-edge-health-probe";
