//! `PoolRegistry`: one Durable Object per country pool. Keeps each server's registration,
//! telemetry and hysteresis state; the core decides, this stores.

use crate::objects::storage;
use crate::outbound;
use crate::rpc::{answer, op, read};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use vpn_edge_core::api_error::{ApiError, CallerError, LookupError};
use vpn_edge_core::fleet::{judge_pool, AdminServer, ServerRecord, ServerView, Status, Telemetry};
use vpn_edge_core::health::{Health, Thresholds};
use vpn_edge_core::registration::{Probe, Registration};
use vpn_edge_core::sla::FleetChecks;
use worker::*;

const PREFIX: &str = "s:";

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
    pub id: String,
}

#[derive(Serialize, Deserialize)]
pub struct HeartbeatReq {
    pub id: String,
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
    pub down_after: u32,
    pub up_after: u32,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Transition {
    pub id: String,
    pub to: Health,
}

#[derive(Serialize, Deserialize)]
pub struct RoundResp {
    pub views: Vec<ServerView>,
    pub transitions: Vec<Transition>,
    pub checks: FleetChecks,
}

/// A LibreNMS alert (`down`) or recovery for one server.
#[derive(Serialize, Deserialize)]
pub struct ExternalReq {
    pub id: String,
    pub down: bool,
    pub minute: i64,
    pub now_ms: i64,
    pub stale_s: u32,
    pub down_after: u32,
    pub up_after: u32,
}

#[derive(Serialize, Deserialize)]
pub struct ExternalResp {
    pub view: ServerView,
    pub transition: Option<Health>,
}

/// One server's stored registration (`registration`) or admin view (`admin_get`).
#[derive(Serialize, Deserialize)]
pub struct GetReq {
    pub id: String,
    pub now_ms: i64,
    pub stale_s: u32,
}

#[derive(Serialize, Deserialize)]
pub struct ListReq {
    pub now_ms: i64,
    pub stale_s: u32,
}

/// Probes in flight at once per pool: an invocation may hold only six connections open.
const PROBE_CONCURRENCY: usize = 6;
const PROBE_TIMEOUT_MS: u32 = 5_000;

/// `http`: a 2xx within 5 s; `tcp`: a connection within 5 s (Workers sockets).
async fn probe(p: &Probe, hostname: &str) -> bool {
    match p {
        Probe::Heartbeat => false,
        Probe::Http { url } => matches!(
            outbound::send(Method::Get, url, &[("user-agent", "vpn-edge-probe")], None, PROBE_TIMEOUT_MS).await,
            Ok(r) if (200..300).contains(&r.status)
        ),
        Probe::Tcp { port } => {
            let Ok(mut socket) = Socket::builder().connect(hostname, *port) else { return false };
            let ok = matches!(outbound::within(PROBE_TIMEOUT_MS, socket.opened()).await, Some(Ok(_)));
            let _ = socket.close().await;
            ok
        }
    }
}

/// A sliding window: a slow probe holds one slot, not a whole batch.
async fn run_probes(targets: Vec<(String, Probe, String)>) -> HashMap<String, bool> {
    use futures_util::stream::{self, StreamExt};
    stream::iter(targets)
        .map(|(id, p, host)| async move { (id, probe(&p, &host).await) })
        .buffer_unordered(PROBE_CONCURRENCY)
        .collect()
        .await
}

#[durable_object]
pub struct PoolRegistry {
    state: State,
    servers: RefCell<Option<BTreeMap<String, ServerRecord>>>,
}

fn storage_err<E>(_: E) -> ApiError {
    ApiError::unavailable("storage")
}

impl PoolRegistry {
    async fn load(&self) -> std::result::Result<(), ApiError> {
        if self.servers.borrow().is_some() {
            return Ok(());
        }
        let listed: Vec<(String, ServerRecord)> =
            storage::list(&self.state.storage(), PREFIX).await.map_err(storage_err)?;
        let map = listed.into_iter().map(|(_, record)| (record.reg.id.to_string(), record)).collect();
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

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, ServerRecord>) -> T) -> T {
        let mut guard = self.servers.borrow_mut();
        f(guard.get_or_insert_with(BTreeMap::new))
    }

    async fn store(&self, record: &ServerRecord) -> std::result::Result<(), ApiError> {
        let r = storage::put(&self.state.storage(), &format!("{PREFIX}{}", record.reg.id), record).await;
        self.forget(r)
    }

    async fn handle(&self, op: &str, req: &mut Request) -> std::result::Result<serde_json::Value, ApiError> {
        self.load().await?;
        let v = match op {
            "put" => {
                let r: PutReq = read(req).await?;
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
                serde_json::to_value(PutResp { view: record.view(r.now_ms, r.stale_s) })
            }
            "delete" => {
                let r: DeleteReq = read(req).await?;
                let existed = self.with(|m| m.remove(&r.id).is_some());
                let deleted = self.state.storage().delete(&format!("{PREFIX}{}", r.id)).await;
                self.forget(deleted)?;
                serde_json::to_value(existed)
            }
            "heartbeat" => {
                let r: HeartbeatReq = read(req).await?;
                let record = self.with(|m| match m.get_mut(&r.id) {
                    None => Err(ApiError::from(CallerError::UnknownServer)),
                    Some(rec) => {
                        rec.heartbeat(vpn_edge_core::fleet::Heartbeat(r.telemetry), r.signed_ts, r.now_ms)?;
                        Ok(rec.clone())
                    }
                })?;
                self.store(&record).await?;
                serde_json::to_value(HeartbeatResp { status: record.status() })
            }
            "round" => {
                let r: RoundReq = read(req).await?;
                let t = Thresholds { down_after: r.down_after, up_after: r.up_after };
                let targets: Vec<(String, Probe, String)> = self.with(|m| {
                    m.values()
                        .filter(|s| s.reg.probe != Probe::Heartbeat)
                        .map(|s| (s.reg.id.to_string(), s.reg.probe.clone(), s.reg.hostname.to_string()))
                        .collect()
                });
                let probes = run_probes(targets).await;
                // Other requests ran while the probes were out; a failed write there drops the cache.
                self.load().await?;
                let (changed, views, round) = self.with(|m| {
                    let round = judge_pool(m.values_mut(), r.minute, r.now_ms, &probes, r.stale_s, t);
                    let changed: Vec<ServerRecord> =
                        round.changed.iter().filter_map(|id| m.get(id.as_str()).cloned()).collect();
                    let views: Vec<ServerView> = m.values().map(|rec| rec.view(r.now_ms, r.stale_s)).collect();
                    (changed, views, round)
                });
                let transitions =
                    round.transitions.into_iter().map(|(id, to)| Transition { id: id.to_string(), to }).collect();
                let checks = round.checks;
                let stored = storage::put_all(
                    &self.state.storage(),
                    changed.iter().map(|rec| (format!("{PREFIX}{}", rec.reg.id), rec)),
                )
                .await;
                self.forget(stored)?;
                serde_json::to_value(RoundResp { views, transitions, checks })
            }
            "external" => {
                let r: ExternalReq = read(req).await?;
                let t = Thresholds { down_after: r.down_after, up_after: r.up_after };
                let (record, transition) = self.with(|m| match m.get_mut(&r.id) {
                    None => Err(ApiError::from(LookupError::NotFound("server"))),
                    Some(rec) => {
                        let to = rec.external(r.down, r.minute, t);
                        Ok((rec.clone(), to))
                    }
                })?;
                self.store(&record).await?;
                serde_json::to_value(ExternalResp { view: record.view(r.now_ms, r.stale_s), transition })
            }
            "registration" => {
                let r: GetReq = read(req).await?;
                let reg = self.with(|m| m.get(&r.id).map(|rec| rec.reg.clone()));
                serde_json::to_value(reg.ok_or(ApiError::from(LookupError::NotFound("server")))?)
            }
            "admin_get" => {
                let r: GetReq = read(req).await?;
                let view = self.with(|m| m.get(&r.id).map(|rec| rec.admin_view(r.now_ms, r.stale_s)));
                serde_json::to_value(view.ok_or(ApiError::from(LookupError::NotFound("server")))?)
            }
            "admin_list" => {
                let r: ListReq = read(req).await?;
                let views: Vec<AdminServer> =
                    self.with(|m| m.values().map(|s| s.admin_view(r.now_ms, r.stale_s)).collect());
                serde_json::to_value(views)
            }
            "list" => {
                let r: ListReq = read(req).await?;
                let views: Vec<ServerView> = self.with(|m| m.values().map(|s| s.view(r.now_ms, r.stale_s)).collect());
                serde_json::to_value(views)
            }
            _ => return Err(LookupError::NotFound("operation").into()),
        };
        v.map_err(|_| ApiError::internal("serialize"))
    }
}

impl DurableObject for PoolRegistry {
    fn new(state: State, _env: Env) -> Self {
        Self { state, servers: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        answer(self.handle(&op(&req), &mut req).await)
    }
}
