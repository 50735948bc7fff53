//! The cron round. With probers (`PROBE_MODE=alarms`, the default) it is the watchdog
//! (README "Probers"): every pool's flush re-arms any of its probers (one per region and
//! slice) whose alarm is missing or overdue and judges cycles whose reports are overdue;
//! the round reconciles every pool (what a cycle could not apply), publishes the snapshot
//! and records the last complete minutes in the SLA ledger from their cycles' checks. In
//! cron mode it judges every server itself for the round's minute, as before
//! the probers. Pools are called in parallel.

use crate::api::sla as sla_api;
use crate::jobs::dns_sync;
use crate::join::join_all;
use crate::objects::fleet_index::CountriesReq;
use crate::objects::pool::{FlushReq, RoundReq, Transition};
use crate::rpc::{self, call_text};
use crate::stores::fleet_store;
use serde::Deserialize;
use vpn_edge_core::alerts::Alert;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::config::Config;
use vpn_edge_core::fleet::{ServerView, Snapshot};
use vpn_edge_core::probe::ProbeMode;
use vpn_edge_core::sla::{minutes_to_record, whole_minute, FleetChecks};
use worker::Env;

/// A pool's answer in either mode: `RoundResp`, or `FlushResp` (which has no `checks`),
/// read with one decoder instead of one per reply type (README "Size"). `checks` is
/// optional only for the flush: a round's answer without it is refused below, as decoding
/// `RoundResp` refused it, so a pool's failed checks never drop out of the SLA minute.
#[derive(Deserialize)]
struct PoolReply {
    views: Vec<ServerView>,
    transitions: Vec<Transition>,
    #[serde(default)]
    checks: Option<FleetChecks>,
    #[serde(default)]
    cycles: Vec<(i64, FleetChecks)>,
}

/// One pool's part of the round, in either mode.
async fn pool_round(env: &Env, cfg: &Config, country: &str, scheduled_ms: i64) -> Result<PoolReply, ApiError> {
    let stub = fleet_store::pool(env, country)?;
    let text = match cfg.probe_mode {
        ProbeMode::Cron => {
            let req = RoundReq {
                minute: scheduled_ms.div_euclid(60_000),
                now_ms: scheduled_ms,
                stale_s: cfg.heartbeat_stale_s,
                thresholds: cfg.thresholds(),
            };
            call_text(&stub, req).await?
        }
        ProbeMode::Alarms => {
            let req = FlushReq { pool: country.to_owned(), now_ms: scheduled_ms, expected: cfg.probe_regions.clone() };
            call_text(&stub, req).await?
        }
    };
    // The error `rpc::call` gives for an answer it cannot read.
    let unreadable = || ApiError::internal("durable object answer");
    let reply: PoolReply = crate::rpc::from_json(text.as_bytes()).map_err(|_| unreadable())?;
    if cfg.probe_mode == ProbeMode::Cron && reply.checks.is_none() {
        return Err(unreadable());
    }
    Ok(reply)
}

/// Runs the round; returns the alerts it raised (sent by the caller from `waitUntil`).
pub async fn run(env: &Env, cfg: &Config, scheduled_ms: i64) -> Result<Vec<Alert>, ApiError> {
    let minute = scheduled_ms.div_euclid(60_000);
    let countries: Vec<String> =
        rpc::call(&fleet_store::index(env)?, CountriesReq {}).await?.iter().map(ToString::to_string).collect();
    let calls = countries.iter().map(|c| async move { (c, pool_round(env, cfg, c, scheduled_ms).await) });
    let mut views = Vec::new();
    let mut checks = FleetChecks::default();
    let mut cycles = Vec::new();
    let mut alerts = Vec::new();
    // Set when a failing pool's last published views cannot be read either.
    let mut incomplete = false;
    for (country, r) in join_all(calls).await {
        match r {
            Ok(r) => {
                views.extend(r.views);
                checks = checks + r.checks.unwrap_or_default();
                cycles.extend(r.cycles);
                alerts.extend(r.transitions.iter().map(|t| Alert::transition(t.id.as_str(), t.to)));
            }
            // One failing pool must not blank the others: keep its last published views.
            Err(e) => {
                log_error!("round: pool {country} failed: {}", e.message);
                match fleet_store::snapshot(env, scheduled_ms).await {
                    Ok(old) => views.extend(old.servers.iter().filter(|s| s.country.as_str() == country).cloned()),
                    // Without them this pool would vanish from the snapshot and DNS: this
                    // round publishes nothing and leaves DNS as it is, and still records
                    // the SLA minute and re-verifies (the next round publishes again).
                    Err(e) => {
                        log_error!("round: pool {country} kept out, last snapshot unreadable: {}", e.message);
                        incomplete = true;
                    }
                }
            }
        }
    }
    // README "The SLA and its credits": cron mode's one judgment stands for its minute; with
    // probers, the previous (complete) minute and the two before it from their cycles.
    let sla_minutes = match cfg.probe_mode {
        ProbeMode::Cron => vec![whole_minute(minute, checks)],
        ProbeMode::Alarms => minutes_to_record(&cycles, cfg.schedule().interval_ms, minute),
    };
    let snapshot = Snapshot::new(scheduled_ms, views);
    let dns = async {
        if incomplete {
            return None;
        }
        let Some(report) = dns_sync::sync(cfg, &snapshot.servers, true, false).await else { return Some(Vec::new()) };
        if let Some(e) = &report.error {
            log_error!("round: dns provider: {e}");
        }
        Some(report.pools.iter().filter(|p| p.frozen).map(|p| p.pool.clone()).collect::<Vec<String>>())
    };
    let publish = async {
        if incomplete {
            return Ok(());
        }
        fleet_store::write_snapshot(env, snapshot.clone(), scheduled_ms).await
    };
    let sla = sla_api::record_minutes(env, sla_minutes);
    // Sessions admitted while the origin was down: re-verified as soon as it answers.
    let reverify = async {
        if let Err(e) = crate::api::auth::reverify(env, cfg, scheduled_ms).await {
            log_error!("round: re-verification failed: {}", e.message);
        }
        crate::api::auth::check_origin(env, cfg).await
    };
    let (a, b, origin_back, frozen) = futures_util::join!(publish, sla, reverify, dns);
    alerts.extend(origin_back);
    if let Some(frozen) = frozen {
        alerts.extend(fleet_store::frozen_transitions(env, frozen).await);
    }
    a.and(b).map(|()| alerts)
}
