//! `Prober`: per region of `PROBE_REGIONS` and per slice of a pool, one Durable Object
//! `prober-<region>-<pool>-<slice>`, created with the region's `locationHint` (README
//! "Probers"). A pool has one slice per `slice_capacity` http/tcp servers (the core decides),
//! so a prober's cycle finishes within the interval even when every server of its slice
//! hangs. Its alarm fires on the cycle grid of `PROBE_INTERVAL_S`; each wake sets the next
//! alarm first (alarms are at-least-once and a wake can throw or be evicted), then probes
//! its slice and reports to its pool, which judges the cycle once every region's slices are
//! in. Everything it needs across wakes is in storage: its region, pool and slice, the alarm
//! it set, the last cycle it reported and the targets the pool gave it.

use crate::env_config;
use crate::objects::pool::{ReportReq, ReportResp};
use crate::objects::storage;
use crate::outbound::alerts;
use crate::outbound::probe::{self, Target};
use crate::rpc::{self, call, protocol, reply};
use crate::stores::fleet_store;
use serde::{Deserialize, Serialize};
use vpn_edge_core::alerts::Alert;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::probe::{on_wake, prober_fault, ProberFault, Region, WakeAction};
use worker::*;

const REGION: &str = "region";
const POOL: &str = "pool";
const SLICE: &str = "slice";
const DUE: &str = "due";
const LAST_CYCLE: &str = "last_cycle";
const TARGETS: &str = "slice_targets";

protocol! {
    /// What a pool (its watchdog flush, a registration) asks of one of its probers.
    pub enum ProberOp {
        /// Make sure this prober's alarm loop runs.
        Ensure(EnsureReq) -> EnsureResp,
    }
}

#[derive(Serialize, Deserialize)]
pub struct EnsureReq {
    pub region: Region,
    pub pool: String,
    pub slice: u32,
    pub now_ms: i64,
}

#[derive(Serialize, Deserialize)]
pub struct EnsureResp {
    /// The alarm was missing or overdue and has been set again.
    pub rearmed: bool,
    pub alarm_ms: Option<i64>,
    pub last_cycle: Option<i64>,
}

/// The stub of one slice's prober in one region: named after both, hinted to the region.
pub fn stub(env: &Env, region: Region, pool: &str, slice: u32) -> std::result::Result<Stub, ApiError> {
    env.durable_object("PROBERS")
        .and_then(|ns| ns.get_by_name_with_location_hint(&region.object_name(pool, slice), region.as_str()))
        .map_err(|e| {
            log_error!("prober {}-{pool}-{slice}: {e}", region.as_str());
            ApiError::unavailable("prober")
        })
}

/// A pool's watchdog flush and registrations: make sure these probers (region, slice) of
/// the pool run. Failures are logged; the next minute's flush tries again.
pub async fn ensure_pool(env: &Env, probers: Vec<(Region, u32)>, pool: &str, now_ms: i64) {
    let calls = probers.into_iter().map(|(region, slice)| async move {
        let req = EnsureReq { region, pool: pool.to_owned(), slice, now_ms };
        let r = match stub(env, region, pool, slice) {
            Ok(s) => call(&s, req).await,
            Err(e) => Err(e),
        };
        (region, slice, r)
    });
    for (region, slice, r) in crate::join::join_all(calls).await {
        let name = region.object_name(pool, slice);
        match r {
            Ok(r) if r.rearmed => log_warn!("watchdog: {name} armed"),
            Ok(_) => {}
            Err(e) => log_error!("watchdog: {name}: {}", e.message),
        }
    }
}

#[durable_object(alarm)]
pub struct Prober {
    state: State,
    env: Env,
}

async fn get_text(storage: Storage, key: &str) -> std::result::Result<Option<String>, ApiError> {
    storage::get_text(&storage, key).await.map_err(storage_err)
}

async fn put_encoded(
    storage: Storage,
    key: &str,
    value: Result<wasm_bindgen::JsValue>,
) -> std::result::Result<(), ApiError> {
    storage::put_value(&storage, key, value).await.map_err(storage_err)
}

fn storage_err<E: std::fmt::Display>(e: E) -> ApiError {
    log_error!("prober storage: {e}");
    ApiError::unavailable("prober storage")
}

impl Prober {
    /// The one non-generic read, then decoding (README "Size").
    fn get<'a, T: serde::de::DeserializeOwned>(
        &self,
        key: &'a str,
    ) -> impl std::future::Future<Output = std::result::Result<Option<T>, ApiError>> + 'a {
        use futures_util::FutureExt;
        get_text(self.state.storage(), key).map(move |text| storage::decode_some(key, text?).map_err(storage_err))
    }

    /// Encodes now, then the one non-generic write (README "Size").
    fn put<'a, T: Serialize>(
        &self,
        key: &'a str,
        v: T,
    ) -> impl std::future::Future<Output = std::result::Result<(), ApiError>> + 'a {
        put_encoded(self.state.storage(), key, storage::encode(key, &v))
    }

    async fn ensure(&self, r: EnsureReq) -> std::result::Result<EnsureResp, ApiError> {
        let cfg = env_config::load(&self.env);
        let s = cfg.schedule();
        // Who this object is, stored once: a wake after eviction reads it back.
        if self.get::<Region>(REGION).await? != Some(r.region) {
            self.put(REGION, r.region).await?;
        }
        if self.get::<String>(POOL).await?.as_deref() != Some(r.pool.as_str()) {
            self.put(POOL, &r.pool).await?;
        }
        if self.get::<u32>(SLICE).await? != Some(r.slice) {
            self.put(SLICE, r.slice).await?;
        }
        let alarm = self.state.storage().get_alarm().await.map_err(storage_err)?;
        let rearmed = s.needs_rearm(alarm, r.now_ms);
        let alarm_ms = if rearmed {
            let at = s.next_wake(r.now_ms);
            self.put(DUE, at).await?;
            // Every `set_alarm` here takes a `ScheduledTime`: worker's generic async
            // `set_alarm` is compiled once (README "Size").
            self.state.storage().set_alarm(ScheduledTime::from(at - r.now_ms)).await.map_err(storage_err)?;
            Some(at)
        } else {
            alarm
        };
        Ok(EnsureResp { rearmed, alarm_ms, last_cycle: self.get(LAST_CYCLE).await? })
    }

    /// One wake. An error is thrown to the runtime, which retries the alarm (the next one
    /// is already set, so a cycle that keeps failing still leaves the loop running).
    async fn wake(&self) -> std::result::Result<(), ApiError> {
        let storage = self.state.storage();
        let (Some(region), Some(pool), Some(slice)) =
            (self.get::<Region>(REGION).await?, self.get::<String>(POOL).await?, self.get::<u32>(SLICE).await?)
        else {
            // A prober of the one-per-region design (`prober-<region>`, no pool) or never
            // ensured: nothing to probe, let the loop end.
            return Ok(());
        };
        let name = region.object_name(&pool, slice);
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
        storage.set_alarm(ScheduledTime::from(w.next_alarm - now)).await.map_err(storage_err)?;
        let fault = self.fault(region, &pool, slice);
        if w.action == WakeAction::Duplicate {
            return Ok(());
        }
        let targets: Vec<Target> = self.get(TARGETS).await?.unwrap_or_default();
        let results = match w.action {
            WakeAction::Probe if fault != Some(ProberFault::Abstain) => {
                Some(probe::run(targets, region.as_str(), &name, s.probe_timeout_ms()).await)
            }
            WakeAction::Probe => None,
            _ => {
                log_warn!("{name}: alarm late by more than one interval; abstaining");
                None
            }
        };
        if fault == Some(ProberFault::Throw) {
            // A wake that fails part-way: its probes ran, its report never leaves.
            return Err(ApiError::unavailable("prober (PROBER_FAULT throw)"));
        }
        let req = ReportReq {
            region,
            slice,
            cycle: w.cycle,
            len_ms: s.interval_ms,
            expected: cfg.probe_regions.clone(),
            results,
            // The probes' completion (ARCHITECTURE.md, invariant 7: an outbound call's
            // completion is an event the shell timestamps).
            now_ms: Date::now().as_millis() as i64,
        };
        // A failed report is thrown: the runtime retries the wake, which probes the cycle
        // again (it was not recorded as reported); the cron flush judges what stays missing.
        let r: ReportResp = call(&fleet_store::pool(&self.env, &pool)?, req).await?;
        self.put(TARGETS, &r.targets).await?;
        self.put(LAST_CYCLE, w.cycle).await?;
        if r.retire {
            // The pool shrank (or is gone): this slice is surplus, its loop ends here. A
            // pool that grows again ensures it afresh.
            storage.delete_alarm().await.map_err(storage_err)?;
            worker::console_log!("{name}: surplus slice, loop ended");
        }
        if !r.transitions.is_empty() {
            alerts::send(&cfg, r.transitions.iter().map(|t| Alert::transition(t.id.as_str(), t.to)).collect()).await;
        }
        Ok(())
    }
}

impl Prober {
    /// Test-only fault switch (README "Probers"; unset in production): `PROBER_FAULT`
    /// names a region or one slice with `abstain` or `throw`.
    fn fault(&self, region: Region, pool: &str, slice: u32) -> Option<ProberFault> {
        let spec = self.env.var("PROBER_FAULT").map(|v| v.to_string()).unwrap_or_default();
        prober_fault(&spec, region, pool, slice)
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
