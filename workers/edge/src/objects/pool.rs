//! `PoolRegistry`: one Durable Object per country pool. Keeps each server's registration,
//! telemetry and hysteresis state, the regions' votes of cycles not yet judged, and the
//! raw checks of recent cycles for the SLA; the core decides, this stores. A cycle that
//! changes a server's state reconciles this pool's DNS at once (README "Probers").

use crate::env_config;
use crate::objects::storage;
use crate::outbound::probe::{self as prober_probe, Target};
use crate::rpc::{self, protocol, reply};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use vpn_edge_core::api_error::{ApiError, CallerError, LookupError};
use vpn_edge_core::fleet::{judge_cycle, judge_pool, AdminServer, ServerRecord, ServerView, Status, Telemetry};
use vpn_edge_core::health::{Health, Thresholds};
use vpn_edge_core::probe::{
    cycle_ready, needs_ensure, reconcile_now, report_counts, slice_of, slices_for, CycleVotes, ProbeMode, Reconcile,
    Region, RegionResults,
};
use vpn_edge_core::registration::{Probe, Registration};
use vpn_edge_core::sla::FleetChecks;
use vpn_edge_core::sort::SortedMap;
use vpn_edge_core::types::ServerId;
use worker::*;

const PREFIX: &str = "s:";
/// Votes of a cycle not judged yet: `v:<cycle>`.
const VOTES: &str = "v:";
/// Raw checks of a judged cycle, kept a few minutes for the SLA: `c:<cycle>`.
const CHECKS: &str = "c:";
/// The latest cycle any region reported, and the last cycle this pool reconciled DNS in.
const LATEST: &str = "latest_cycle";
const DNS_LAST: &str = "dns_cycle";
/// The newest cycle judged: a report for it or an older one comes too late to vote.
const JUDGED: &str = "judged_cycle";
/// A transition whose cycle was already reconciled: the next cycle reconciles.
const DNS_DIRTY: &str = "dns_dirty";
/// How long judged cycles' checks wait for the cron to record them.
const CHECKS_KEEP_MS: i64 = 5 * 60_000;

protocol! {
    /// What the Worker (and the probers) ask of a country's `PoolRegistry`.
    pub enum PoolOp {
        /// Register or update a server.
        Put(PutReq) -> PutResp,
        /// Forget a server; answers whether it was here.
        Delete(DeleteReq) -> bool,
        /// A server's heartbeat.
        Heartbeat(HeartbeatReq) -> HeartbeatResp,
        /// Cron mode: probe and judge the pool for a minute.
        Round(RoundReq) -> RoundResp,
        /// A region's results for one cycle.
        Report(ReportReq) -> ReportResp,
        /// The cron watchdog: judge what is overdue, hand over recent checks.
        Flush(FlushReq) -> FlushResp,
        /// A LibreNMS alert or recovery.
        External(ExternalReq) -> ExternalResp,
        /// One server's stored registration.
        Registration(RegistrationReq) -> Registration,
        /// One server's admin view.
        AdminGet(AdminGetReq) -> AdminServer,
        /// Every server's admin view.
        AdminList(AdminListReq) -> Vec<AdminServer>,
    }
}

/// One region's results of one slice of this pool for one cycle (from its prober).
#[derive(Serialize, Deserialize)]
pub struct ReportReq {
    pub region: Region,
    pub slice: u32,
    pub cycle: i64,
    pub len_ms: i64,
    /// The voting regions (`PROBE_REGIONS`): the cycle is judged once all have reported.
    pub expected: Vec<Region>,
    pub results: RegionResults,
    pub now_ms: i64,
}

#[derive(Serialize, Deserialize)]
pub struct ReportResp {
    /// What this slice probes next cycle.
    pub targets: Vec<Target>,
    pub transitions: Vec<Transition>,
    /// The slice is surplus (the pool shrank): its prober ends its loop.
    pub retire: bool,
}

/// The cron watchdog: judge what is overdue, hand over recent cycles' checks.
#[derive(Serialize, Deserialize)]
pub struct FlushReq {
    /// This pool's name (its country code), for naming its probers.
    pub pool: String,
    pub now_ms: i64,
    pub expected: Vec<Region>,
}

#[derive(Serialize, Deserialize)]
pub struct FlushResp {
    pub views: Vec<ServerView>,
    pub transitions: Vec<Transition>,
    /// `(cycle, checks)` of the cycles judged in the last few minutes.
    pub cycles: Vec<(i64, FleetChecks)>,
}

#[derive(Serialize, Deserialize)]
pub struct PutReq {
    pub reg: Registration,
    pub now_ms: i64,
    pub stale_s: u32,
}

#[derive(Serialize, Deserialize)]
pub struct PutResp {
    pub view: ServerView,
}

#[derive(Serialize, Deserialize)]
pub struct DeleteReq {
    pub id: ServerId,
}

#[derive(Serialize, Deserialize)]
pub struct HeartbeatReq {
    pub id: ServerId,
    pub telemetry: Telemetry,
    pub signed_ts: i64,
    pub now_ms: i64,
}

#[derive(Serialize, Deserialize)]
pub struct HeartbeatResp {
    pub status: Status,
}

#[derive(Serialize, Deserialize)]
pub struct RoundReq {
    pub minute: i64,
    pub now_ms: i64,
    pub stale_s: u32,
    pub thresholds: Thresholds,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Transition {
    pub id: ServerId,
    pub to: Health,
}

#[derive(Serialize, Deserialize)]
pub struct RoundResp {
    pub views: Vec<ServerView>,
    pub transitions: Vec<Transition>,
    pub checks: FleetChecks,
    #[serde(default)]
    pub cycles: Vec<(i64, FleetChecks)>,
}

/// A LibreNMS alert (`down`) or recovery for one server.
#[derive(Serialize, Deserialize)]
pub struct ExternalReq {
    pub id: ServerId,
    pub down: bool,
    /// The check the event arrives in (README "LibreNMS").
    pub key: i64,
    pub now_ms: i64,
    pub stale_s: u32,
    pub thresholds: Thresholds,
}

#[derive(Serialize, Deserialize)]
pub struct ExternalResp {
    pub view: ServerView,
    pub transition: Option<Health>,
}

/// One server's stored registration.
#[derive(Serialize, Deserialize)]
pub struct RegistrationReq {
    pub id: ServerId,
}

/// One server's admin view.
#[derive(Serialize, Deserialize)]
pub struct AdminGetReq {
    pub id: ServerId,
    pub now_ms: i64,
    pub stale_s: u32,
}

#[derive(Serialize, Deserialize)]
pub struct AdminListReq {
    pub now_ms: i64,
    pub stale_s: u32,
}

/// Cron mode: the round probes from wherever it runs (the probe timeout of a 5 s cycle).
const CRON_PROBE_TIMEOUT_MS: u32 = 5_000;

#[durable_object(fetch)]
pub struct PoolRegistry {
    state: State,
    env: Env,
    servers: RefCell<Option<SortedMap<String, ServerRecord>>>,
    /// The last cycle each prober (region, slice) reported: lets the watchdog skip probers
    /// that are plainly running. Memory only; empty after eviction (then all are called).
    heard: RefCell<SortedMap<(Region, u32), i64>>,
}

/// A storage failure, logged with its cause (the caller sees `503 unavailable`).
fn storage_err<E: std::fmt::Debug>(e: E) -> ApiError {
    log_error!("pool storage: {e:?}");
    ApiError::unavailable("storage")
}

impl PoolRegistry {
    async fn load(&self) -> std::result::Result<(), ApiError> {
        if self.servers.borrow().is_some() {
            return Ok(());
        }
        let listed: Vec<(String, ServerRecord)> =
            storage::list(&self.state.storage(), PREFIX).await.map_err(storage_err)?;
        // Listed in key order, so each insert lands at the end (no shifting).
        let mut map = SortedMap::default();
        map.extend(listed.into_iter().map(|(_, record)| (record.reg.id.to_string(), record)));
        self.servers.borrow_mut().get_or_insert(map);
        Ok(())
    }

    /// A write failed: memory may now hold what storage does not, so drop it and let the
    /// next request rebuild it from storage (memory is only a cache of storage).
    fn forget<T>(&self, r: Result<T>) -> std::result::Result<T, ApiError> {
        r.map_err(|e| {
            *self.servers.borrow_mut() = None;
            storage_err(e)
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut SortedMap<String, ServerRecord>) -> T) -> T {
        let mut guard = self.servers.borrow_mut();
        f(guard.get_or_insert_with(SortedMap::default))
    }

    async fn store(&self, record: &ServerRecord) -> std::result::Result<(), ApiError> {
        let r = storage::put(&self.state.storage(), &format!("{PREFIX}{}", record.reg.id), record).await;
        self.forget(r)
    }

    /// As plain objects of at most 128 records per call, all made before any is awaited
    /// (`storage::put_all`; `put_multiple` with a map would store nothing, README "What each
    /// Durable Object stores"), not one future per record (README "Size").
    async fn store_all(&self, records: &[ServerRecord]) -> std::result::Result<(), ApiError> {
        let keyed = records.iter().map(|r| (format!("{PREFIX}{}", r.reg.id), r));
        let r = storage::put_all(&self.state.storage(), keyed).await;
        self.forget(r)
    }

    /// How many slices this pool has now (the core decides from its size and the
    /// schedule), and which of its http/tcp servers slice `slice` probes.
    fn slices(&self) -> u32 {
        let s = env_config::load(&self.env).schedule();
        self.with(|m| {
            let targets = m.values().filter(|r| r.reg.probe != Probe::Heartbeat).count();
            slices_for(m.len(), targets, s)
        })
    }

    fn slice_targets(&self, slice: u32) -> Vec<Target> {
        let all = self.targets();
        let slices = self.slices();
        let n = all.len();
        all.into_iter().enumerate().filter(|(rank, _)| slice_of(*rank, n, slices) == slice).map(|(_, t)| t).collect()
    }

    /// Make sure every region's prober of each slice runs (the watchdog, registrations).
    /// `pool` comes from the caller: an object's own name is not reliably visible inside it.
    async fn ensure_probers(&self, pool: &str, now_ms: i64) {
        let cfg = env_config::load(&self.env);
        if cfg.probe_mode != ProbeMode::Alarms {
            return;
        }
        let (s, slices) = (cfg.schedule(), self.slices());
        let heard = self.heard.borrow().clone();
        let probers: Vec<(Region, u32)> = cfg
            .probe_regions
            .iter()
            .flat_map(|&r| (0..slices).map(move |k| (r, k)))
            .filter(|p| needs_ensure(s, heard.get(p).copied(), now_ms))
            .collect();
        crate::objects::prober::ensure_pool(&self.env, probers, pool, now_ms).await;
    }

    /// Every http/tcp server, in id order (the order slices are cut in).
    fn targets(&self) -> Vec<Target> {
        self.with(|m| {
            m.values()
                .filter(|s| s.reg.probe != Probe::Heartbeat)
                .map(|s| Target {
                    id: s.reg.id.to_string(),
                    probe: s.reg.probe.clone(),
                    hostname: s.reg.hostname.to_string(),
                })
                .collect()
        })
    }

    async fn pending(&self) -> std::result::Result<SortedMap<i64, CycleVotes>, ApiError> {
        let listed: Vec<(String, CycleVotes)> =
            storage::list(&self.state.storage(), VOTES).await.map_err(storage_err)?;
        let mut pending = SortedMap::default();
        pending.extend(listed.into_iter().map(|(_, v)| (v.cycle, v)));
        Ok(pending)
    }

    /// Judge every pending cycle that is ready, oldest first; reconcile DNS at most once
    /// for this call's newest cycle when a server changed state.
    async fn judge_ready(
        &self,
        mut pending: SortedMap<i64, CycleVotes>,
        expected: &[Region],
        latest: i64,
        now_ms: i64,
    ) -> std::result::Result<Vec<Transition>, ApiError> {
        let cfg = env_config::load(&self.env);
        let t = cfg.thresholds();
        let slices = self.slices();
        let mut transitions = Vec::new();
        let mut changed: Vec<String> = Vec::new();
        let mut newest = None;
        let storage = self.state.storage();
        for (cycle, votes) in std::mem::take(&mut pending) {
            if !cycle_ready(&votes, expected, slices, latest, now_ms) {
                continue;
            }
            let round = self.with(|m| judge_cycle(m.values_mut(), &votes, cfg.heartbeat_stale_s, t));
            transitions.extend(round.transitions.into_iter().map(|(id, to)| Transition { id, to }));
            changed.extend(round.changed.into_iter().map(|id| id.to_string()));
            storage::put(&storage, &format!("{CHECKS}{cycle}"), &round.checks).await.map_err(storage_err)?;
            storage.delete(&format!("{VOTES}{cycle}")).await.map_err(storage_err)?;
            newest = Some(cycle);
        }
        vpn_edge_core::sort::sort(&mut changed);
        changed.dedup();
        let records: Vec<ServerRecord> = self.with(|m| changed.iter().filter_map(|id| m.get(id).cloned()).collect());
        self.store_all(&records).await?;
        if let Some(cycle) = newest {
            storage::put(&storage, JUDGED, &cycle).await.map_err(storage_err)?;
            self.maybe_follow(transitions.len(), cycle, now_ms).await?;
        }
        Ok(transitions)
    }

    /// Reconcile now if a server changed state in `cycle` (at most once per cycle).
    async fn maybe_follow(&self, transitions: usize, cycle: i64, now_ms: i64) -> std::result::Result<(), ApiError> {
        let storage = self.state.storage();
        let last: Option<i64> = storage::get(&storage, DNS_LAST).await.map_err(storage_err)?;
        let dirty: bool = storage::get(&storage, DNS_DIRTY).await.map_err(storage_err)?.unwrap_or(false);
        if reconcile_now(Reconcile::Cycle { transitions, dirty }, last, cycle) {
            storage::put(&storage, DNS_LAST, &cycle).await.map_err(storage_err)?;
            if dirty {
                storage::put(&storage, DNS_DIRTY, &false).await.map_err(storage_err)?;
            }
            self.follow(now_ms).await;
        } else if transitions > 0 {
            storage::put(&storage, DNS_DIRTY, &true).await.map_err(storage_err)?;
        }
        Ok(())
    }

    /// DNS follows at once: reconcile this pool, and show the change in public reads.
    /// A failure here is retried by the cron round, which reconciles every pool.
    async fn follow(&self, now_ms: i64) {
        let cfg = env_config::load(&self.env);
        let views: Vec<ServerView> = self.with(|m| m.values().map(|s| s.view(now_ms, cfg.heartbeat_stale_s)).collect());
        if let Some(report) = crate::jobs::dns_sync::sync(&cfg, &views, true, false).await {
            if let Some(e) = report.error.or_else(|| report.pools.iter().find_map(|p| p.error.clone())) {
                log_error!("pool: dns: {e}; the cron round retries");
            }
        }
        let edit = crate::stores::fleet_store::edit_snapshot(
            &self.env,
            now_ms,
            Box::new(|snap| {
                for v in views {
                    snap.upsert(v);
                }
            }),
        );
        if let Err(e) = edit.await {
            log_error!("pool: snapshot: {}", e.message);
        }
    }

    async fn put(&self, r: PutReq) -> std::result::Result<PutResp, ApiError> {
        let id = r.reg.id.to_string();
        let record = self.with(|m| {
            let rec = match m.remove(&id) {
                Some(old) => old.reregister(r.reg),
                None => ServerRecord::new(r.reg),
            };
            m.insert(id.clone(), rec.clone());
            rec
        });
        self.store(&record).await?;
        if record.reg.probe != Probe::Heartbeat {
            // A new target (maybe a new slice): make sure the probers' alarm loops run (no
            // need to wait for the cron watchdog).
            self.ensure_probers(record.reg.country.as_str(), r.now_ms).await;
        }
        Ok(PutResp { view: record.view(r.now_ms, r.stale_s) })
    }

    async fn delete(&self, r: DeleteReq) -> std::result::Result<bool, ApiError> {
        let existed = self.with(|m| m.remove(r.id.as_str()).is_some());
        let deleted = self.state.storage().delete(&format!("{PREFIX}{}", r.id)).await;
        self.forget(deleted)?;
        Ok(existed)
    }

    async fn heartbeat(&self, r: HeartbeatReq) -> std::result::Result<HeartbeatResp, ApiError> {
        let record = self.with(|m| match m.get_mut(r.id.as_str()) {
            None => Err(ApiError::from(CallerError::UnknownServer)),
            Some(rec) => {
                rec.heartbeat(vpn_edge_core::fleet::Heartbeat(r.telemetry), r.signed_ts, r.now_ms)?;
                Ok(rec.clone())
            }
        })?;
        self.store(&record).await?;
        Ok(HeartbeatResp { status: record.status() })
    }

    async fn round(&self, r: RoundReq) -> std::result::Result<RoundResp, ApiError> {
        // Test-only (README "Tests"): `TEST_FAULTS=pool:<country>` fails this pool's round.
        if env_config::load(&self.env).fault(&format!("pool:{}", self.state.id().name().unwrap_or_default())) {
            return Err(ApiError::unavailable("pool registry"));
        }
        let t = r.thresholds;
        let probes: HashMap<String, bool> =
            prober_probe::run(self.targets(), "cron", "cron", CRON_PROBE_TIMEOUT_MS).await.into_iter().collect();
        // Other requests ran while the probes were out; a failed write there drops the cache.
        self.load().await?;
        let (changed, views, round) = self.with(|m| {
            let round = judge_pool(m.values_mut(), r.minute * 60_000, r.now_ms, &probes, r.stale_s, t);
            let changed: Vec<ServerRecord> =
                round.changed.iter().filter_map(|id| m.get(id.as_str()).cloned()).collect();
            let views: Vec<ServerView> = m.values().map(|rec| rec.view(r.now_ms, r.stale_s)).collect();
            (changed, views, round)
        });
        let transitions = round.transitions.into_iter().map(|(id, to)| Transition { id, to }).collect();
        let checks = round.checks;
        self.store_all(&changed).await?;
        Ok(RoundResp { views, transitions, checks, cycles: Vec::new() })
    }

    async fn report(&self, r: ReportReq) -> std::result::Result<ReportResp, ApiError> {
        let storage = self.state.storage();
        if r.slice >= self.slices() {
            // A slice the pool no longer has: its results are not counted, its loop ends.
            return Ok(ReportResp { targets: Vec::new(), transitions: Vec::new(), retire: true });
        }
        {
            // This prober runs: the watchdog need not call it (memory only).
            let mut heard = self.heard.borrow_mut();
            let last = heard.or_insert((r.region, r.slice), r.cycle);
            *last = (*last).max(r.cycle);
        }
        let mut pending = self.pending().await?;
        let votes =
            pending.or_insert(r.cycle, CycleVotes { cycle: r.cycle, len_ms: r.len_ms, ..CycleVotes::default() });
        // A region's first report for a cycle counts; a repeated one does not, nor one
        // for a cycle already judged (it must not replace the majority's verdict).
        let judged: Option<i64> = storage::get(&storage, JUDGED).await.map_err(storage_err)?;
        if !report_counts(judged, r.cycle) {
            let targets = self.slice_targets(r.slice);
            return Ok(ReportResp { targets, transitions: Vec::new(), retire: false });
        }
        // A slice's first report for a cycle counts; its repeats do not.
        if votes.record(r.region, r.slice, r.results) {
            storage::put(&storage, &format!("{VOTES}{}", r.cycle), &*votes).await.map_err(storage_err)?;
        }
        let latest: Option<i64> = storage::get(&storage, LATEST).await.map_err(storage_err)?;
        let latest = latest.unwrap_or(r.cycle).max(r.cycle);
        storage::put(&storage, LATEST, &latest).await.map_err(storage_err)?;
        let transitions = self.judge_ready(pending, &r.expected, latest, r.now_ms).await?;
        Ok(ReportResp { targets: self.slice_targets(r.slice), transitions, retire: false })
    }

    async fn flush(&self, r: FlushReq) -> std::result::Result<FlushResp, ApiError> {
        // The watchdog: this pool's probers (one per region and slice) must be running.
        self.ensure_probers(&r.pool, r.now_ms).await;
        let storage = self.state.storage();
        let latest: Option<i64> = storage::get(&storage, LATEST).await.map_err(storage_err)?;
        let pending = self.pending().await?;
        let transitions = self.judge_ready(pending, &r.expected, latest.unwrap_or(i64::MIN), r.now_ms).await?;
        let listed: Vec<(String, FleetChecks)> = storage::list(&storage, CHECKS).await.map_err(storage_err)?;
        let mut cycles = Vec::new();
        for (suffix, checks) in listed {
            let Ok(cycle) = suffix.parse::<i64>() else { continue };
            if cycle < r.now_ms - CHECKS_KEEP_MS {
                storage.delete(&format!("{CHECKS}{suffix}")).await.map_err(storage_err)?;
                continue;
            }
            cycles.push((cycle, checks));
        }
        let stale_s = env_config::load(&self.env).heartbeat_stale_s;
        let views: Vec<ServerView> = self.with(|m| m.values().map(|s| s.view(r.now_ms, stale_s)).collect());
        Ok(FlushResp { views, transitions, cycles })
    }

    async fn external(&self, r: ExternalReq) -> std::result::Result<ExternalResp, ApiError> {
        let t = r.thresholds;
        let (record, transition) = self.with(|m| match m.get_mut(r.id.as_str()) {
            None => Err(ApiError::from(LookupError::NotFound("server"))),
            Some(rec) => {
                let to = rec.external(r.down, r.key, t);
                Ok((rec.clone(), to))
            }
        })?;
        self.store(&record).await?;
        if transition.is_some() && reconcile_now(Reconcile::Alert, None, r.key) {
            storage::put(&self.state.storage(), DNS_LAST, &r.key).await.map_err(storage_err)?;
            self.follow(r.now_ms).await;
        }
        Ok(ExternalResp { view: record.view(r.now_ms, r.stale_s), transition })
    }

    async fn registration(&self, r: RegistrationReq) -> std::result::Result<Registration, ApiError> {
        let reg = self.with(|m| m.get(r.id.as_str()).map(|rec| rec.reg.clone()));
        reg.ok_or(ApiError::from(LookupError::NotFound("server")))
    }

    async fn admin_get(&self, r: AdminGetReq) -> std::result::Result<AdminServer, ApiError> {
        let view = self.with(|m| m.get(r.id.as_str()).map(|rec| rec.admin_view(r.now_ms, r.stale_s)));
        view.ok_or(ApiError::from(LookupError::NotFound("server")))
    }

    async fn admin_list(&self, r: AdminListReq) -> std::result::Result<Vec<AdminServer>, ApiError> {
        let views: Vec<AdminServer> = self.with(|m| m.values().map(|s| s.admin_view(r.now_ms, r.stale_s)).collect());
        Ok(views)
    }
}

impl DurableObject for PoolRegistry {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, servers: RefCell::new(None), heard: RefCell::new(SortedMap::default()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op = match rpc::operation(&mut req).await {
            Ok(op) => op,
            Err(e) => return rpc::refuse(e),
        };
        if let Err(e) = self.load().await {
            return rpc::refuse(e);
        }
        match op {
            PoolOp::Put(r) => reply::<PutReq>(self.put(r).await),
            PoolOp::Delete(r) => reply::<DeleteReq>(self.delete(r).await),
            PoolOp::Heartbeat(r) => reply::<HeartbeatReq>(self.heartbeat(r).await),
            PoolOp::Round(r) => reply::<RoundReq>(self.round(r).await),
            PoolOp::Report(r) => reply::<ReportReq>(self.report(r).await),
            PoolOp::Flush(r) => reply::<FlushReq>(self.flush(r).await),
            PoolOp::External(r) => reply::<ExternalReq>(self.external(r).await),
            PoolOp::Registration(r) => reply::<RegistrationReq>(self.registration(r).await),
            PoolOp::AdminGet(r) => reply::<AdminGetReq>(self.admin_get(r).await),
            PoolOp::AdminList(r) => reply::<AdminListReq>(self.admin_list(r).await),
        }
    }
}
