//! `Prober`: one Durable Object per region of `PROBE_REGIONS`, created with that
//! `locationHint` (README "Probers"). Its alarm fires on the cycle grid of
//! `PROBE_INTERVAL_S`; each wake sets the next alarm first (alarms are at-least-once and a
//! wake can throw or be evicted), then probes every http/tcp server of every pool and
//! reports the results to each pool, which judges the cycle once the regions are in.
//! Everything it needs across wakes is in storage: its region, the alarm it set, the last
//! cycle it reported and the targets the pools gave it.

use crate::env_config;
use crate::objects::fleet_index::CountriesReq;
use crate::objects::pool::{ReportReq, ReportResp};
use crate::objects::storage;
use crate::outbound::alerts;
use crate::outbound::probe::{self, Target};
use crate::rpc::{self, call, protocol, reply};
use crate::stores::fleet_store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vpn_edge_core::alerts::Alert;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::probe::{on_wake, Region, WakeAction};
use worker::*;

const REGION: &str = "region";
const DUE: &str = "due";
const LAST_CYCLE: &str = "last_cycle";
const TARGETS: &str = "targets";

protocol! {
    /// What the Worker (the cron watchdog, a registration) asks of a region's `Prober`.
    pub enum ProberOp {
        /// Make sure the region's alarm loop runs.
        Ensure(EnsureReq) -> EnsureResp,
    }
}

#[derive(Serialize, Deserialize)]
pub struct EnsureReq {
    pub region: Region,
    pub now_ms: i64,
}

#[derive(Serialize, Deserialize)]
pub struct EnsureResp {
    /// The alarm was missing or overdue and has been set again.
    pub rearmed: bool,
    pub alarm_ms: Option<i64>,
    pub last_cycle: Option<i64>,
}

/// The stub of a region's prober: named after the region, hinted to it.
pub fn stub(env: &Env, region: Region) -> std::result::Result<Stub, ApiError> {
    env.durable_object("PROBERS")
        .and_then(|ns| ns.get_by_name_with_location_hint(&region.object_name(), region.as_str()))
        .map_err(|e| {
            worker::console_error!("prober {}: {e}", region.as_str());
            ApiError::unavailable("prober")
        })
}

/// The watchdog (cron) and registrations: make sure every region's alarm loop runs.
pub async fn ensure_all(
    env: &Env,
    regions: &[Region],
    now_ms: i64,
) -> Vec<(Region, std::result::Result<EnsureResp, ApiError>)> {
    let calls = regions.iter().map(|&region| async move {
        let r = match stub(env, region) {
            Ok(s) => call(&s, EnsureReq { region, now_ms }).await,
            Err(e) => Err(e),
        };
        (region, r)
    });
    futures_util::future::join_all(calls).await
}

#[durable_object(alarm)]
pub struct Prober {
    state: State,
    env: Env,
}

fn storage_err<E: std::fmt::Display>(e: E) -> ApiError {
    worker::console_error!("prober storage: {e}");
    ApiError::unavailable("prober storage")
}

impl Prober {
    async fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> std::result::Result<Option<T>, ApiError> {
        storage::get(&self.state.storage(), key).await.map_err(storage_err)
    }

    async fn put<T: Serialize>(&self, key: &str, v: T) -> std::result::Result<(), ApiError> {
        storage::put(&self.state.storage(), key, &v).await.map_err(storage_err)
    }

    async fn ensure(&self, r: EnsureReq) -> std::result::Result<EnsureResp, ApiError> {
        let cfg = env_config::load(&self.env);
        let s = cfg.schedule();
        if self.get::<Region>(REGION).await? != Some(r.region) {
            self.put(REGION, r.region).await?;
        }
        let alarm = self.state.storage().get_alarm().await.map_err(storage_err)?;
        let rearmed = s.needs_rearm(alarm, r.now_ms);
        let alarm_ms = if rearmed {
            let at = s.next_wake(r.now_ms);
            self.put(DUE, at).await?;
            self.state.storage().set_alarm(at - r.now_ms).await.map_err(storage_err)?;
            Some(at)
        } else {
            alarm
        };
        Ok(EnsureResp { rearmed, alarm_ms, last_cycle: self.get(LAST_CYCLE).await? })
    }

    /// One wake. An error is thrown to the runtime, which retries the alarm (the next one
    /// is already set, so a cycle that keeps failing still leaves the loop running).
    async fn wake(&self) -> std::result::Result<(), ApiError> {
        let Some(region) = self.get::<Region>(REGION).await? else { return Ok(()) };
        let cfg = env_config::load(&self.env);
        let s = cfg.schedule();
        let now = Date::now().as_millis() as i64;
        if !cfg.probe_regions.contains(&region) || cfg.probe_mode != vpn_edge_core::probe::ProbeMode::Alarms {
            // Region dropped from PROBE_REGIONS, or probers switched off: let the loop end.
            return Ok(());
        }
        let due: Option<i64> = self.get(DUE).await?;
        let last: Option<i64> = self.get(LAST_CYCLE).await?;
        let w = on_wake(s, due, now, last);
        self.put(DUE, w.next_alarm).await?;
        self.state.storage().set_alarm(w.next_alarm - now).await.map_err(storage_err)?;
        if w.action == WakeAction::Duplicate {
            return Ok(());
        }
        let pools: Vec<String> =
            call(&fleet_store::index(&self.env)?, CountriesReq {}).await?.iter().map(ToString::to_string).collect();
        let mut targets: BTreeMap<String, Vec<Target>> = self.get(TARGETS).await?.unwrap_or_default();
        targets.retain(|p, _| pools.contains(p));
        let results = match w.action {
            WakeAction::Probe if !self.fault_abstain(region) => {
                let all: Vec<Target> = targets.values().flatten().cloned().collect();
                Some(probe::run(all, region.as_str(), s.probe_timeout_ms()).await)
            }
            WakeAction::Probe => None,
            _ => {
                worker::console_warn!("prober {}: alarm late by more than one interval; abstaining", region.as_str());
                None
            }
        };
        let reports = pools.iter().map(|pool| {
            let results = results.as_ref().map(|all| {
                let ids =
                    targets.get(pool).map(|t| t.iter().map(|t| t.id.as_str()).collect::<Vec<_>>()).unwrap_or_default();
                vpn_edge_core::sort::map(
                    all.iter().filter(|(id, _)| ids.contains(&id.as_str())).map(|(k, v)| (k.clone(), *v)),
                )
            });
            let req = ReportReq {
                region,
                cycle: w.cycle,
                len_ms: s.interval_ms,
                expected: cfg.probe_regions.clone(),
                results,
                now_ms: Date::now().as_millis() as i64,
            };
            async move {
                let r: std::result::Result<ReportResp, ApiError> = match fleet_store::pool(&self.env, pool) {
                    Ok(stub) => call(&stub, req).await,
                    Err(e) => Err(e),
                };
                (pool.clone(), r)
            }
        });
        let mut raised = Vec::new();
        let mut failed = 0;
        for (pool, r) in futures_util::future::join_all(reports).await {
            match r {
                Ok(r) => {
                    raised.extend(r.transitions.iter().map(|t| Alert::transition(t.id.as_str(), t.to)));
                    targets.insert(pool, r.targets);
                }
                Err(e) => {
                    failed += 1;
                    worker::console_error!("prober {}: pool {pool}: {}", region.as_str(), e.message);
                }
            }
        }
        self.put(TARGETS, &targets).await?;
        self.put(LAST_CYCLE, w.cycle).await?;
        if !raised.is_empty() {
            alerts::send(&cfg, raised).await;
        }
        if failed > 0 {
            // Pools that did not get this cycle's report: the cron watchdog flushes them.
            worker::console_warn!("prober {}: {failed} pool(s) missed cycle {}", region.as_str(), w.cycle);
        }
        Ok(())
    }
}

impl Prober {
    /// Test-only fault switch (README "Probers"; unset in production): `PROBER_FAULT =
    /// <region>:abstain` makes that region report every cycle as one it could not probe.
    fn fault_abstain(&self, region: Region) -> bool {
        self.env.var("PROBER_FAULT").map(|v| v.to_string() == format!("{}:abstain", region.as_str())).unwrap_or(false)
    }
}

impl DurableObject for Prober {
    fn new(state: State, env: Env) -> Self {
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match rpc::operation(&mut req).await {
            Ok(ProberOp::Ensure(r)) => reply::<EnsureReq>(self.ensure(r).await),
            Err(e) => rpc::refuse(e),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        match self.wake().await {
            Ok(()) => Response::ok("ok"),
            Err(e) => Err(Error::RustError(format!("prober wake failed: {} {}", e.code, e.message))),
        }
    }
}
