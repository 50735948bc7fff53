//! Servers as the pool Durable Objects keep them, and as public reads show them.

use crate::api_error::{CallerError, RequestError};
use crate::health::{heartbeat_fresh, heartbeat_fresh_for, CheckTime, Health, HealthState, Judged, Thresholds};
use crate::probe::{verdict, CycleVotes, RegionMap};
use crate::registration::{Probe, Registration};
use crate::request::Fields;
use crate::types::{CountryCode, Degrees, Feature, GeoPoint, ServerId};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Down,
    Maintenance,
}
crate::unit_enum::unit_enum!(Status { Up = "up", Down = "down", Maintenance = "maintenance" });

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            "maintenance" => Some(Self::Maintenance),
            _ => None,
        }
    }
}

/// What the agent read from OpenVPN's management interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpenVpnState {
    Ok,
    Down,
}
crate::unit_enum::unit_enum!(OpenVpnState { Ok = "ok", Down = "down" });

/// What a server last told us about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Telemetry {
    pub clients: u32,
    pub capacity: Option<u32>,
    pub cpu: Option<f64>,
    pub bandwidth_mbps: Option<f64>,
    pub version: Option<String>,
    /// `"openvpn":"down"` fails the server's check whatever the probes say.
    pub openvpn: Option<OpenVpnState>,
}

crate::map_struct::map_struct!(Telemetry {
    clients,
    capacity: default,
    cpu: default,
    bandwidth_mbps: default,
    version: default,
    openvpn: default,
});

/// A heartbeat body, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat(pub Telemetry);

impl Heartbeat {
    pub fn parse(f: &Fields) -> Result<Self, RequestError> {
        let clients = f.u64("clients", 10_000_000)? as u32;
        let capacity = match f.opt_u64("capacity", crate::registration::MAX_CAPACITY)? {
            Some(0) => return Err(RequestError::field("capacity", "must be at least 1")),
            c => c.map(|c| c as u32),
        };
        let cpu = f.opt_f64("cpu", 0.0, 100.0)?;
        let bandwidth_mbps = f.opt_f64("bandwidth_mbps", 0.0, 10_000_000.0)?;
        let version = match f.opt_str("version")? {
            Some(v) if v.len() > 64 || v.chars().any(char::is_control) => {
                return Err(RequestError::field("version", "must be at most 64 printable characters"))
            }
            v => v.map(str::to_owned),
        };
        let openvpn = match f.opt_str("openvpn")? {
            None => None,
            Some("ok") => Some(OpenVpnState::Ok),
            Some("down") => Some(OpenVpnState::Down),
            Some(_) => return Err(RequestError::field("openvpn", "must be ok or down")),
        };
        Ok(Self(Telemetry { clients, capacity, cpu, bandwidth_mbps, version, openvpn }))
    }
}

/// A server as its pool Durable Object stores it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerRecord {
    pub reg: Registration,
    pub health: HealthState,
    pub telemetry: Telemetry,
    /// Edge clock (ms) when the last heartbeat was accepted.
    pub last_seen_ms: Option<i64>,
    /// Signed timestamp (s) of the last accepted heartbeat; replays must exceed it.
    pub last_heartbeat_ts: Option<i64>,
    /// The raw result of the last round's check (for the SLA: what customers saw).
    pub last_check_passed: Option<bool>,
    /// Edge clock (ms) of the heartbeat before the last: a late check for an older cycle
    /// judges by the heartbeat it could have seen.
    pub prev_seen_ms: Option<i64>,
    /// The last cycle's verdict per region that probed this server, and that cycle's key.
    pub region_checks: RegionMap<bool>,
    pub checked_at_ms: Option<i64>,
}

crate::map_struct::map_struct!(ServerRecord {
    reg,
    health,
    telemetry,
    last_seen_ms: default,
    last_heartbeat_ts: default,
    last_check_passed: default,
    prev_seen_ms: default,
    region_checks: default,
    checked_at_ms: default,
});

impl ServerRecord {
    pub fn new(reg: Registration) -> Self {
        Self {
            reg,
            health: HealthState::default(),
            telemetry: Telemetry::default(),
            last_seen_ms: None,
            last_heartbeat_ts: None,
            last_check_passed: None,
            prev_seen_ms: None,
            region_checks: RegionMap::default(),
            checked_at_ms: None,
        }
    }

    /// An operator's update keeps the observed state.
    pub fn reregister(self, reg: Registration) -> Self {
        Self { reg, ..self }
    }

    pub fn status(&self) -> Status {
        if self.reg.maintenance {
            Status::Maintenance
        } else {
            match self.health.health() {
                Health::Up => Status::Up,
                Health::Down => Status::Down,
            }
        }
    }

    /// The effective capacity: a heartbeat may report less than the registered capacity
    /// (a server shedding load), never more, so telemetry cannot outbid registration in
    /// the weighted draw (README "Public").
    pub fn capacity(&self) -> u32 {
        self.telemetry.capacity.map_or(self.reg.capacity, |c| c.min(self.reg.capacity))
    }

    /// Accept a heartbeat signed at `signed_ts` (s) and received at `now_ms`.
    pub fn heartbeat(&mut self, hb: Heartbeat, signed_ts: i64, now_ms: i64) -> Result<(), CallerError> {
        if self.last_heartbeat_ts.is_some_and(|last| signed_ts <= last) {
            return Err(CallerError::Replayed);
        }
        self.telemetry = hb.0;
        self.prev_seen_ms = self.last_seen_ms;
        self.last_seen_ms = Some(now_ms);
        self.last_heartbeat_ts = Some(signed_ts);
        Ok(())
    }

    /// Heartbeats for the check `c`: the last one, or the one before it when the last
    /// arrived after the check (a late check for an older cycle).
    pub fn fresh_at(&self, c: CheckTime, stale_s: u32) -> bool {
        heartbeat_fresh_for(self.last_seen_ms, c, stale_s) || heartbeat_fresh_for(self.prev_seen_ms, c, stale_s)
    }

    /// The agent says OpenVPN is down, in a heartbeat that is fresh for `c`.
    fn openvpn_down_at(&self, c: CheckTime, stale_s: u32) -> bool {
        self.telemetry.openvpn == Some(OpenVpnState::Down) && heartbeat_fresh_for(self.last_seen_ms, c, stale_s)
    }

    /// This server's observation for the check `c`. `probe_passed` is the http/tcp
    /// verdict, `None` when no one could probe it; heartbeat-kind servers are judged by
    /// freshness. `None` = no observation.
    pub fn observe(&self, c: CheckTime, probe_passed: Option<bool>, stale_s: u32) -> Option<bool> {
        let passed = match self.reg.probe {
            Probe::Heartbeat => Some(self.fresh_at(c, stale_s)),
            _ => probe_passed,
        }?;
        Some(passed && !self.openvpn_down_at(c, stale_s))
    }

    /// Judge the check `key`, looking at heartbeats as of `c`. In cron mode (`probe_passed`
    /// `None` for an http/tcp server) freshness stands in for the probe, as before.
    pub fn judge(&mut self, key: i64, c: CheckTime, probe_passed: Option<bool>, stale_s: u32, t: Thresholds) -> Judged {
        let passed = self
            .observe(c, probe_passed, stale_s)
            .unwrap_or_else(|| self.fresh_at(c, stale_s) && !self.openvpn_down_at(c, stale_s));
        self.apply(key, passed, t)
    }

    fn apply(&mut self, key: i64, passed: bool, t: Thresholds) -> Judged {
        let judged = self.health.judge(key, passed, t);
        if judged.state != self.health || self.health.check != Some(key) {
            self.last_check_passed = Some(passed);
        }
        self.health = judged.state;
        judged
    }

    /// A LibreNMS alert (`down`) or recovery arriving during check `key`; the transition to
    /// announce. The rule is `HealthState::force_down` / `recover`.
    pub fn external(&mut self, down: bool, key: i64, t: Thresholds) -> Option<Health> {
        let judged = if down { self.health.force_down(key, t) } else { self.health.recover(key, t) };
        self.last_check_passed = Some(!down);
        self.health = judged.state;
        self.published(judged)
    }

    /// A maintenance server's health changes are kept but not announced: it is out of DNS
    /// and out of the SLA either way.
    pub fn published(&self, judged: Judged) -> Option<Health> {
        judged.transition.filter(|_| !self.reg.maintenance)
    }

    /// The public view, with load judged at `now_ms`: unknown when heartbeats stopped.
    pub fn view(&self, now_ms: i64, stale_s: u32) -> ServerView {
        let capacity = self.capacity();
        let fresh = heartbeat_fresh(self.last_seen_ms, now_ms, stale_s);
        let load = fresh.then(|| {
            let pct = (u64::from(self.telemetry.clients) * 100 + u64::from(capacity) / 2) / u64::from(capacity.max(1));
            pct.min(100) as u8
        });
        ServerView {
            id: self.reg.id.clone(),
            hostname: self.reg.hostname.as_str().to_owned(),
            ipv4: self.reg.ipv4.to_string(),
            ipv6: self.reg.ipv6.map(|a| a.to_string()),
            country: self.reg.country.clone(),
            city: self.reg.city.as_str().to_owned(),
            status: self.status(),
            load,
            clients: self.telemetry.clients,
            capacity,
            features: self.reg.features.clone(),
            last_seen: self.last_seen_ms.and_then(rfc3339_ms),
            checks: (!self.region_checks.is_empty()).then(|| {
                self.region_checks
                    .iter()
                    .map(|(r, p)| (*r, if *p { CheckResult::Pass } else { CheckResult::Fail }))
                    .collect()
            }),
            checked_at: self.checked_at_ms.and_then(rfc3339_ms),
            latitude: self.reg.latitude,
            longitude: self.reg.longitude,
        }
    }
}

/// What `GET /v1/admin/servers[/{id}]` shows: the registration as a `PUT` body states it
/// (probe, maintenance and coordinates included, so it can be edited and sent back) plus
/// the live state under `live`. Only encoded: the Worker passes it on as the pool's JSON
/// text (README "Size").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminServer {
    pub id: ServerId,
    #[serde(flatten)]
    pub registration: serde_json::Map<String, serde_json::Value>,
    pub live: LiveState,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveState {
    pub status: Status,
    /// The hysteresis verdict, which `status` shows unless the server is in maintenance.
    pub health: Health,
    pub load: Option<u8>,
    pub clients: u32,
    /// The capacity in use: the heartbeat's, capped by the registration.
    pub capacity: u32,
    pub last_seen: Option<String>,
    /// The raw result of the last round's check.
    pub last_check_passed: Option<bool>,
    pub cpu: Option<f64>,
    pub bandwidth_mbps: Option<f64>,
    pub version: Option<String>,
}

impl ServerRecord {
    pub fn admin_view(&self, now_ms: i64, stale_s: u32) -> AdminServer {
        let v = self.view(now_ms, stale_s);
        AdminServer {
            id: self.reg.id.clone(),
            registration: self.reg.to_body(),
            live: LiveState {
                status: v.status,
                health: self.health.health(),
                load: v.load,
                clients: v.clients,
                capacity: v.capacity,
                last_seen: v.last_seen,
                last_check_passed: self.last_check_passed,
                cpu: self.telemetry.cpu,
                bandwidth_mbps: self.telemetry.bandwidth_mbps,
                version: self.telemetry.version.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Pass,
    Fail,
}
crate::unit_enum::unit_enum!(CheckResult { Pass = "pass", Fail = "fail" });

pub use crate::civil::rfc3339_ms;

/// The public `Server` (README "API").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerView {
    pub id: ServerId,
    pub hostname: String,
    pub ipv4: String,
    pub ipv6: Option<String>,
    pub country: CountryCode,
    pub city: String,
    pub status: Status,
    pub load: Option<u8>,
    pub clients: u32,
    pub capacity: u32,
    pub features: Vec<Feature>,
    pub last_seen: Option<String>,
    /// The registered location (both or neither; `null` when not registered).
    pub latitude: Option<Degrees>,
    pub longitude: Option<Degrees>,
    /// The last cycle's verdict per region (`{"weur":"pass",…}`), shown once probers ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<RegionMap<CheckResult>>,
    /// The start of that cycle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
}

crate::map_struct::map_struct!(ServerView {
    id,
    hostname,
    ipv4,
    ipv6: default,
    country,
    city,
    status,
    load: default,
    clients,
    capacity,
    features,
    last_seen: default,
    latitude: default,
    longitude: default,
    checks: default,
    checked_at: default,
});

impl ServerView {
    pub fn spare(&self) -> u32 {
        self.capacity.saturating_sub(self.clients)
    }

    pub fn position(&self) -> Option<GeoPoint> {
        Some(GeoPoint { latitude: self.latitude?, longitude: self.longitude? })
    }
}

/// Public read filters (`?country=&city=&status=&feature=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFilter {
    pub country: Option<CountryCode>,
    pub city: Option<String>,
    pub status: Option<Status>,
    pub feature: Option<Feature>,
}

impl ServerFilter {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, RequestError> {
        let mut f = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "country" => {
                    f.country = Some(
                        CountryCode::parse(&v.to_ascii_lowercase()).map_err(|e| RequestError::field("country", e.0))?,
                    )
                }
                "city" => {
                    if v.trim().is_empty() || v.len() > 64 {
                        return Err(RequestError::field("city", "must be 1 to 64 characters"));
                    }
                    f.city = Some(v.clone())
                }
                "status" => {
                    f.status = Some(
                        Status::parse(v)
                            .ok_or_else(|| RequestError::field("status", "must be up, down or maintenance"))?,
                    )
                }
                "feature" => f.feature = Some(Feature::parse(v).map_err(|e| RequestError::field("feature", e.0))?),
                _ => {}
            }
        }
        Ok(f)
    }

    pub fn matches(&self, s: &ServerView) -> bool {
        self.country.as_ref().is_none_or(|c| &s.country == c)
            && self.city.as_ref().is_none_or(|c| s.city.eq_ignore_ascii_case(c.trim()))
            && self.status.is_none_or(|st| s.status == st)
            && self.feature.as_ref().is_none_or(|f| s.features.contains(f))
    }
}

/// One pool's round: what to announce, what the SLA counts, and which records changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PoolRound {
    pub transitions: Vec<(ServerId, Health)>,
    pub checks: crate::sla::FleetChecks,
    pub changed: Vec<ServerId>,
}

impl PoolRound {
    /// Counts one judged server: the fleet's raw checks (for the SLA), its announced
    /// transition, and whether its record changed (so only changed records are stored).
    fn tally(&mut self, rec: &ServerRecord, before: &ServerRecord, judged: Judged) {
        self.checks.total += 1;
        if rec.reg.maintenance {
            self.checks.maintenance += 1;
        } else if rec.last_check_passed == Some(true) {
            self.checks.passed += 1;
        }
        if let Some(to) = rec.published(judged) {
            self.transitions.push((rec.reg.id.clone(), to));
        }
        if rec != before {
            self.changed.push(rec.reg.id.clone());
        }
    }
}

/// Cron mode: judge every server of a pool for the check `key` (the round's minute start,
/// ms). `probes` holds the http/tcp results by id; heartbeat-probed servers are judged by
/// freshness.
pub fn judge_pool<'a>(
    records: impl Iterator<Item = &'a mut ServerRecord>,
    key: i64,
    now_ms: i64,
    probes: &std::collections::HashMap<String, bool>,
    stale_s: u32,
    t: Thresholds,
) -> PoolRound {
    let mut round = PoolRound::default();
    for rec in records {
        let before = rec.clone();
        // The round's minute: heartbeats aged at its start, none from after it.
        let c = CheckTime { at_ms: now_ms, ends_ms: key + 60_000 };
        let judged = rec.judge(key, c, probes.get(rec.reg.id.as_str()).copied(), stale_s, t);
        round.tally(rec, &before, judged);
    }
    round
}

/// Alarms mode: judge every server of a pool for one cycle from the regions' votes
/// (majority, abstentions left out) and heartbeats at the cycle's end. A server no region
/// could probe is not observed in this cycle (neither counted nor judged).
pub fn judge_cycle<'a>(
    records: impl Iterator<Item = &'a mut ServerRecord>,
    votes: &CycleVotes,
    stale_s: u32,
    t: Thresholds,
) -> PoolRound {
    let check = CheckTime::instant(votes.cycle + votes.len_ms);
    let mut round = PoolRound::default();
    for rec in records {
        let before = rec.clone();
        let by_region = votes.votes_for(rec.reg.id.as_str());
        let Some(passed) = rec.observe(check, verdict(by_region.values().copied()), stale_s) else { continue };
        if rec.reg.probe != Probe::Heartbeat {
            rec.region_checks = by_region;
            rec.checked_at_ms = Some(votes.cycle);
        }
        let judged = rec.apply(votes.cycle, passed, t);
        round.tally(rec, &before, judged);
    }
    round
}

/// The fleet as public reads see it; written by the cron round and by operator changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub generated_at: String,
    pub servers: Vec<ServerView>,
}

crate::map_struct::map_struct!(Snapshot { generated_at, servers });

impl Snapshot {
    pub fn new(generated_at_ms: i64, mut servers: Vec<ServerView>) -> Self {
        crate::sort::sort_by(&mut servers, |a, b| a.id.cmp(&b.id));
        Self { generated_at: rfc3339_ms(generated_at_ms).unwrap_or_default(), servers }
    }

    pub fn get(&self, id: &str) -> Option<&ServerView> {
        self.servers.iter().find(|s| s.id.as_str() == id)
    }

    /// Apply an operator's change at once, without waiting for the next round.
    pub fn upsert(&mut self, view: ServerView) {
        match self.servers.binary_search_by(|s| s.id.cmp(&view.id)) {
            Ok(i) => self.servers[i] = view,
            Err(i) => self.servers.insert(i, view),
        }
    }

    pub fn remove(&mut self, id: &ServerId) {
        self.servers.retain(|s| &s.id != id);
    }

    pub fn countries(&self, pool_prefix: &str, zone: &str) -> Vec<CountrySummary> {
        let mut out: Vec<CountrySummary> = Vec::new();
        for s in &self.servers {
            let i = match out.iter().position(|c| c.code == s.country) {
                Some(i) => i,
                None => {
                    out.push(CountrySummary {
                        pool: pool_name(pool_prefix, &s.country, zone),
                        code: s.country.clone(),
                        servers: 0,
                        up: 0,
                        load: None,
                    });
                    out.len() - 1
                }
            };
            out[i].servers += 1;
            if s.status == Status::Up {
                out[i].up += 1;
            }
        }
        for c in &mut out {
            let loads: Vec<u32> = self
                .servers
                .iter()
                .filter(|s| s.country == c.code && s.status == Status::Up)
                .filter_map(|s| s.load.map(u32::from))
                .collect();
            if !loads.is_empty() {
                c.load = Some(((loads.iter().sum::<u32>() as f64) / loads.len() as f64).round() as u8);
            }
        }
        crate::sort::sort_by(&mut out, |a, b| a.code.cmp(&b.code));
        out
    }
}

pub fn pool_name(prefix: &str, country: &CountryCode, zone: &str) -> String {
    format!("{prefix}.{country}.{zone}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountrySummary {
    pub code: CountryCode,
    pub pool: String,
    pub servers: u32,
    pub up: u32,
    pub load: Option<u8>,
}

crate::map_struct::map_struct!(CountrySummary { code, pool, servers, up, load: default });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Region;

    pub(crate) fn reg(id: &str, country: &str) -> Registration {
        let f = Fields::parse(
            format!(r#"{{"hostname":"{id}.vpn.example.com","ipv4":"198.51.100.7","country":"{country}","city":"Stockholm","capacity":100,"features":["p2p"]}}"#)
                .as_bytes(),
        )
        .unwrap();
        Registration::parse(ServerId::parse(id).unwrap(), &f, crate::types::AddressPolicy { allow_private: true })
            .unwrap()
    }

    #[test]
    fn heartbeat_replay_is_refused() {
        let mut r = ServerRecord::new(reg("a", "se"));
        let hb = || Heartbeat(Telemetry { clients: 10, ..Default::default() });
        r.heartbeat(hb(), 100, 100_000).unwrap();
        assert_eq!(r.heartbeat(hb(), 100, 101_000), Err(CallerError::Replayed));
        assert_eq!(r.heartbeat(hb(), 99, 101_000), Err(CallerError::Replayed));
        r.heartbeat(hb(), 101, 101_000).unwrap();
    }

    #[test]
    fn a_heartbeat_capacity_is_capped_at_the_registered_one() {
        let mut r = ServerRecord::new(reg("a", "se"));
        let hb = |capacity| Heartbeat(Telemetry { clients: 50, capacity, ..Default::default() });
        r.heartbeat(hb(Some(1_000_000)), 1, 0).unwrap();
        let v = r.view(1_000, 90);
        assert_eq!((v.capacity, v.load, v.spare()), (100, Some(50), 50));
        r.heartbeat(hb(Some(80)), 2, 0).unwrap();
        assert_eq!(r.view(1_000, 90).capacity, 80);
        r.heartbeat(hb(None), 3, 0).unwrap();
        assert_eq!(r.view(1_000, 90).capacity, 100);
    }

    #[test]
    fn load_is_unknown_when_heartbeats_stop() {
        let mut r = ServerRecord::new(reg("a", "se"));
        r.heartbeat(Heartbeat(Telemetry { clients: 41, ..Default::default() }), 1, 0).unwrap();
        assert_eq!(r.view(1_000, 90).load, Some(41));
        assert_eq!(r.view(90_000, 90).load, None);
    }

    #[test]
    fn a_pool_round_counts_raw_checks_and_keeps_maintenance_quiet() {
        let mut a = ServerRecord::new(reg("a", "se"));
        let mut b = ServerRecord::new(reg("b", "se"));
        b.reg.maintenance = true;
        let c = ServerRecord::new(reg("c", "se"));
        for r in [&mut a, &mut b] {
            r.heartbeat(Heartbeat(Telemetry::default()), 1, 0).unwrap();
        }
        let t = Thresholds { down_after: 1, up_after: 1 };
        let mut recs = [a, b, c];
        let round = judge_pool(recs.iter_mut(), 0, 0, &Default::default(), 90, t);
        assert_eq!(round.checks, crate::sla::FleetChecks { total: 3, passed: 1, maintenance: 1 });
        let ids: Vec<&str> = round.transitions.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["a"], "b is in maintenance, c stays down");
        assert_eq!(round.changed.len(), 3, "every record got its minute");
        let mut c = recs[2].clone();
        let again = judge_pool(std::iter::once(&mut c), 0, 0, &Default::default(), 90, t);
        assert!(again.changed.is_empty(), "the same minute with the same result changes nothing");
    }

    fn probed(id: &str) -> ServerRecord {
        let mut r = reg(id, "se");
        r.probe = Probe::Tcp { port: 1194 };
        ServerRecord::new(r)
    }

    use crate::probe::{votes_of, Spec};

    fn cycle(c: i64, regions: Spec<'_>) -> CycleVotes {
        votes_of(c, 1_000, regions)
    }

    #[test]
    fn a_cycle_is_judged_by_majority_and_keyed_by_cycle() {
        use Region::*;
        let t = Thresholds { down_after: 2, up_after: 2 };
        let mut recs = [probed("a"), probed("b")];
        // a fails only from weur, b from weur and apac.
        let votes = |c| {
            cycle(
                c,
                &[
                    (Weur, Some(&[("a", false), ("b", false)][..])),
                    (Enam, Some(&[("a", true), ("b", true)][..])),
                    (Apac, Some(&[("a", true), ("b", false)][..])),
                ],
            )
        };
        let r0 = judge_cycle(recs.iter_mut(), &votes(0), 90, t);
        assert_eq!(r0.checks, crate::sla::FleetChecks { total: 2, passed: 1, maintenance: 0 });
        // The same cycle again (a duplicate report) changes nothing.
        let again = judge_cycle(recs.iter_mut(), &votes(0), 90, t);
        assert!(again.changed.is_empty() && again.transitions.is_empty());
        let r1 = judge_cycle(recs.iter_mut(), &votes(1_000), 90, t);
        assert_eq!(r1.transitions, vec![(ServerId::parse("a").unwrap(), Health::Up)]);
        assert_eq!(recs[1].status(), Status::Down);
        let view = recs[0].view(1_000, 90);
        let checks = view.checks.unwrap();
        assert_eq!(checks.get(&Weur), Some(&CheckResult::Fail));
        assert_eq!(checks.get(&Enam), Some(&CheckResult::Pass));
        assert_eq!(view.checked_at.as_deref(), Some("1970-01-01T00:00:01Z"));
        // Nobody could probe in this cycle: no observation, state kept, not counted.
        let none = judge_cycle(recs.iter_mut(), &cycle(2_000, &[(Weur, None), (Enam, None)]), 90, t);
        assert_eq!(none.checks.total, 0);
        assert_eq!(recs[0].health.check, Some(1_000));
    }

    #[test]
    fn openvpn_down_fails_the_check_whatever_the_probes_say() {
        let t = Thresholds { down_after: 1, up_after: 1 };
        let mut a = probed("a");
        let down = Heartbeat::parse(&Fields::parse(br#"{"clients":0,"openvpn":"down"}"#).unwrap()).unwrap();
        a.heartbeat(down, 1, 500).unwrap();
        let mut recs = [a];
        let all_pass = cycle(0, &[(Region::Weur, Some(&[("a", true)][..]))]);
        let r = judge_cycle(recs.iter_mut(), &all_pass, 90, t);
        assert_eq!(r.checks.passed, 0);
        assert_eq!(recs[0].status(), Status::Down);
        // Once that heartbeat is stale it no longer speaks for OpenVPN.
        let later = cycle(200_000, &[(Region::Weur, Some(&[("a", true)][..]))]);
        judge_cycle(recs.iter_mut(), &later, 90, t);
        assert_eq!(recs[0].status(), Status::Up);
        assert!(Heartbeat::parse(&Fields::parse(br#"{"clients":0,"openvpn":"maybe"}"#).unwrap()).is_err());
        let ok = Heartbeat::parse(&Fields::parse(br#"{"clients":0,"openvpn":"ok"}"#).unwrap()).unwrap();
        assert_eq!(ok.0.openvpn, Some(OpenVpnState::Ok));
    }

    #[test]
    fn a_late_check_uses_the_heartbeat_it_could_have_seen() {
        let mut r = ServerRecord::new(reg("a", "se"));
        let hb = || Heartbeat(Telemetry::default());
        r.heartbeat(hb(), 1, 100_000).unwrap();
        r.heartbeat(hb(), 2, 130_000).unwrap();
        let at = CheckTime::instant;
        assert!(r.fresh_at(at(110_000), 90), "the heartbeat before the last one");
        assert!(!r.fresh_at(at(50_000), 90), "both arrived after this check");
        assert!(r.fresh_at(at(200_000), 90));
        assert!(!r.fresh_at(at(220_000), 90));
    }

    #[test]
    fn the_admin_view_shows_the_registration_and_live_state() {
        let mut r = ServerRecord::new(reg("a", "se"));
        r.reg.probe = Probe::Tcp { port: 1194 };
        r.heartbeat(Heartbeat(Telemetry { clients: 30, version: Some("2.6".into()), ..Default::default() }), 1, 0)
            .unwrap();
        let v = serde_json::to_value(r.admin_view(0, 90)).unwrap();
        assert_eq!(v["id"], "a");
        assert_eq!(v["probe"], serde_json::json!({"kind":"tcp","port":1194}));
        assert_eq!(v["maintenance"], false);
        assert_eq!(v["latitude"], serde_json::Value::Null);
        assert_eq!(v["live"]["status"], "down");
        assert_eq!(v["live"]["load"], 30);
        assert_eq!(v["live"]["version"], "2.6");
    }

    #[test]
    fn maintenance_overrides_health() {
        let mut r = reg("a", "se");
        r.maintenance = true;
        assert_eq!(ServerRecord::new(r).status(), Status::Maintenance);
    }

    #[test]
    fn filters() {
        let mut r = ServerRecord::new(reg("a", "se"));
        r.heartbeat(Heartbeat(Telemetry::default()), 1, 0).unwrap();
        let v = r.view(0, 90);
        let q = |s: &str| ServerFilter::parse(&crate::request::query_pairs(s));
        assert!(q("country=se&city=stockholm&feature=p2p&status=down").unwrap().matches(&v));
        assert!(!q("country=de").unwrap().matches(&v));
        assert!(!q("feature=tor").unwrap().matches(&v));
        assert!(q("status=sideways").is_err());
        assert!(q("country=sweden").is_err());
    }

    #[test]
    fn country_summary() {
        let mut snap = Snapshot::new(0, vec![]);
        for (id, c, up) in [("a", "se", true), ("b", "se", false), ("c", "de", true)] {
            let mut r = ServerRecord::new(reg(id, c));
            r.heartbeat(Heartbeat(Telemetry { clients: 40, ..Default::default() }), 1, 0).unwrap();
            if up {
                r.judge(0, CheckTime::instant(0), None, 90, Thresholds { down_after: 1, up_after: 1 });
            }
            snap.upsert(r.view(0, 90));
        }
        let cs = snap.countries("pool.prd", "example.com");
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[1].code.as_str(), "se");
        assert_eq!(cs[1].pool, "pool.prd.se.example.com");
        assert_eq!((cs[1].servers, cs[1].up, cs[1].load), (2, 1, Some(40)));
    }

    // Rules mutation testing found unpinned (scripts/mutants fleet).

    fn hb_parse(body: &str) -> Result<Heartbeat, RequestError> {
        Heartbeat::parse(&Fields::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn a_status_parses_from_its_three_lowercase_names_only() {
        assert_eq!(Status::parse("up"), Some(Status::Up));
        assert_eq!(Status::parse("down"), Some(Status::Down));
        assert_eq!(Status::parse("maintenance"), Some(Status::Maintenance));
        assert_eq!(Status::parse("Up"), None);
        assert_eq!(Status::parse(""), None);
    }

    #[test]
    fn a_heartbeat_version_of_64_bytes_is_kept() {
        let v = "v".repeat(64);
        let hb = hb_parse(&format!(r#"{{"clients":0,"version":"{v}"}}"#)).unwrap();
        assert_eq!(hb.0.version, Some(v));
        assert_eq!(hb_parse(r#"{"clients":0,"version":"2.6.9"}"#).unwrap().0.version.as_deref(), Some("2.6.9"));
    }

    #[test]
    fn a_heartbeat_version_of_65_bytes_is_refused() {
        let e = hb_parse(&format!(r#"{{"clients":0,"version":"{}"}}"#, "v".repeat(65))).unwrap_err();
        assert_eq!(e, RequestError::field("version", "must be at most 64 printable characters"));
    }

    #[test]
    fn a_short_heartbeat_version_with_a_control_character_is_refused() {
        let e = hb_parse(r#"{"clients":0,"version":"2.6\u0007"}"#).unwrap_err();
        assert_eq!(e, RequestError::field("version", "must be at most 64 printable characters"));
    }

    #[test]
    fn reregistering_replaces_the_registration_and_keeps_the_observed_state() {
        let mut r = ServerRecord::new(reg("a", "se"));
        r.heartbeat(Heartbeat(Telemetry { clients: 7, ..Default::default() }), 1, 0).unwrap();
        let r = r.reregister(reg("a", "de"));
        assert_eq!(r.reg, reg("a", "de"));
        assert_eq!((r.telemetry.clients, r.last_heartbeat_ts), (7, Some(1)));
    }

    #[test]
    fn a_heartbeat_kind_server_is_observed_by_freshness_whatever_the_probes_say() {
        let mut r = ServerRecord::new(reg("a", "se"));
        r.heartbeat(Heartbeat(Telemetry::default()), 1, 0).unwrap();
        let c = CheckTime::instant(1_000);
        assert_eq!(r.observe(c, None, 90), Some(true));
        assert_eq!(r.observe(c, Some(false), 90), Some(true));
        assert_eq!(r.observe(CheckTime::instant(100_000), Some(true), 90), Some(false));
    }

    #[test]
    fn in_cron_mode_an_unprobed_server_passes_on_a_fresh_heartbeat_unless_openvpn_is_down() {
        let t = Thresholds { down_after: 1, up_after: 1 };
        let c = CheckTime::instant(1_000);
        let mut ok = probed("a");
        ok.heartbeat(hb_parse(r#"{"clients":0,"openvpn":"ok"}"#).unwrap(), 1, 0).unwrap();
        ok.judge(0, c, None, 90, t);
        assert_eq!(ok.last_check_passed, Some(true));
        let mut down = probed("b");
        down.heartbeat(hb_parse(r#"{"clients":0,"openvpn":"down"}"#).unwrap(), 1, 0).unwrap();
        down.judge(0, c, None, 90, t);
        assert_eq!(down.last_check_passed, Some(false));
        let mut stale = probed("c");
        stale.heartbeat(Heartbeat(Telemetry::default()), 1, 0).unwrap();
        stale.judge(0, CheckTime::instant(100_000), None, 90, t);
        assert_eq!(stale.last_check_passed, Some(false));
    }

    #[test]
    fn a_check_judged_again_with_another_result_records_the_new_raw_result() {
        let t = Thresholds { down_after: 3, up_after: 2 };
        let c = CheckTime::instant(0);
        let mut r = probed("a");
        r.judge(0, c, Some(true), 90, t);
        assert_eq!(r.last_check_passed, Some(true));
        r.judge(0, c, Some(false), 90, t);
        assert_eq!(r.last_check_passed, Some(false));
    }

    #[test]
    fn a_check_that_changes_nothing_keeps_the_recorded_raw_result() {
        let t = Thresholds { down_after: 3, up_after: 2 };
        let c = CheckTime::instant(0);
        // An alert decided check 0: its own probes judged again change nothing.
        let mut r = probed("a");
        r.judge(0, c, Some(true), 90, t);
        r.external(true, 0, t);
        assert_eq!(r.last_check_passed, Some(false));
        r.judge(0, c, Some(true), 90, t);
        assert_eq!(r.last_check_passed, Some(false));
    }

    #[test]
    fn a_late_check_for_an_older_cycle_changes_no_state_but_is_counted_by_its_own_result() {
        let t = Thresholds { down_after: 3, up_after: 2 };
        let c = CheckTime::instant(0);
        let mut r = probed("b");
        r.judge(5, c, Some(true), 90, t);
        let state = r.health;
        r.judge(4, c, Some(false), 90, t);
        assert_eq!(r.health, state);
        assert_eq!(r.last_check_passed, Some(false), "the round's tally counts check 4 as failed");
    }

    #[test]
    fn an_external_alert_or_recovery_announces_its_transition_and_records_the_raw_result() {
        let t = Thresholds { down_after: 1, up_after: 1 };
        let mut r = probed("a");
        assert_eq!(r.external(false, 0, t), Some(Health::Up));
        assert_eq!((r.status(), r.last_check_passed), (Status::Up, Some(true)));
        assert_eq!(r.external(true, 1, t), Some(Health::Down));
        assert_eq!((r.status(), r.last_check_passed), (Status::Down, Some(false)));
        r.reg.maintenance = true;
        assert_eq!(r.external(false, 2, t), None, "maintenance is not announced");
        assert_eq!(r.health.health(), Health::Up);
    }

    #[test]
    fn load_is_rounded_half_up() {
        let mut r = ServerRecord::new(reg("a", "se"));
        // 1 of 8 is 12.5 %.
        r.heartbeat(Heartbeat(Telemetry { clients: 1, capacity: Some(8), ..Default::default() }), 1, 0).unwrap();
        assert_eq!(r.view(0, 90).load, Some(13));
        // 1 of 3 is 33.3 %.
        r.heartbeat(Heartbeat(Telemetry { clients: 1, capacity: Some(3), ..Default::default() }), 2, 0).unwrap();
        assert_eq!(r.view(0, 90).load, Some(33));
    }

    #[test]
    fn a_city_filter_is_1_to_64_characters_and_matches_the_city() {
        let mut r = ServerRecord::new(reg("a", "se"));
        r.heartbeat(Heartbeat(Telemetry::default()), 1, 0).unwrap();
        let v = r.view(0, 90);
        let q = |s: &str| ServerFilter::parse(&crate::request::query_pairs(s));
        assert!(!q("city=gothenburg").unwrap().matches(&v));
        assert!(q("city=STOCKHOLM").unwrap().matches(&v));
        let city_error = Err(RequestError::field("city", "must be 1 to 64 characters"));
        assert_eq!(q("city="), city_error);
        assert_eq!(q("city=%20%20"), city_error);
        assert_eq!(q(&format!("city={}", "c".repeat(64))).unwrap().city, Some("c".repeat(64)));
        assert_eq!(q(&format!("city={}", "c".repeat(65))), city_error);
    }

    #[test]
    fn a_cron_round_judges_heartbeats_up_to_the_end_of_its_minute() {
        let t = Thresholds { down_after: 1, up_after: 1 };
        let mut r = ServerRecord::new(reg("a", "se"));
        // A heartbeat in the middle of minute 0, judged at its end.
        r.heartbeat(Heartbeat(Telemetry::default()), 1, 30_000).unwrap();
        let mut recs = [r];
        let round = judge_pool(recs.iter_mut(), 0, 60_000, &Default::default(), 90, t);
        assert_eq!(round.checks.passed, 1);
        assert_eq!(recs[0].status(), Status::Up);
    }

    #[test]
    fn a_cycle_judges_heartbeats_as_of_its_end() {
        let t = Thresholds { down_after: 1, up_after: 1 };
        let mut r = ServerRecord::new(reg("a", "se"));
        // Cycle 100 s to 101 s; a heartbeat at 105 s is within the clock skew of its end.
        r.heartbeat(Heartbeat(Telemetry::default()), 1, 105_000).unwrap();
        let mut recs = [r];
        let round = judge_cycle(recs.iter_mut(), &cycle(100_000, &[]), 90, t);
        assert_eq!(round.checks, crate::sla::FleetChecks { total: 1, passed: 1, maintenance: 0 });
        assert_eq!(recs[0].status(), Status::Up);
    }

    fn snapshot(views: &[(&str, &str, Status, Option<u8>)]) -> Snapshot {
        let servers = views
            .iter()
            .map(|(id, c, status, load)| {
                let mut v = ServerRecord::new(reg(id, c)).view(0, 90);
                (v.status, v.load) = (*status, *load);
                v
            })
            .collect();
        Snapshot::new(0, servers)
    }

    #[test]
    fn a_snapshot_finds_and_removes_servers_by_id() {
        let mut snap =
            snapshot(&[("c", "se", Status::Up, None), ("a", "se", Status::Up, None), ("b", "de", Status::Up, None)]);
        assert_eq!(snap.get("b").map(|s| s.id.as_str()), Some("b"));
        assert_eq!(snap.get("a").map(|s| s.id.as_str()), Some("a"));
        assert!(snap.get("z").is_none());
        snap.remove(&ServerId::parse("b").unwrap());
        let ids: Vec<&str> = snap.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
    }

    #[test]
    fn a_country_counts_its_up_servers_and_averages_their_load() {
        use Status::*;
        let snap = snapshot(&[
            ("a", "se", Up, Some(30)),
            ("b", "se", Up, Some(51)),
            ("c", "se", Down, Some(90)),
            ("d", "se", Up, None),
            ("e", "de", Up, Some(10)),
            ("f", "no", Maintenance, Some(20)),
        ]);
        let summary = |code: &str, servers, up, load| CountrySummary {
            code: CountryCode::parse(code).unwrap(),
            pool: format!("pool.prd.{code}.example.com"),
            servers,
            up,
            load,
        };
        assert_eq!(
            snap.countries("pool.prd", "example.com"),
            [summary("de", 1, 1, Some(10)), summary("no", 1, 0, None), summary("se", 4, 3, Some(41))]
        );
    }
}
