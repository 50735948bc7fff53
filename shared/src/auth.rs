//! Auth that survives its backend (DESIGN.md §1): request validation, the decision table,
//! the circuit breaker, the lockout and the provisional cap. Pure: the Worker asks the
//! origin, reads KV and Durable Objects, hashes, and then performs what `decide` returns.

use crate::api_error::RequestError;
use crate::config::FailOpenPolicy;
use crate::request::Fields;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// PBKDF2 iterations for cached credentials: the production Workers cap. Local workerd
/// accepts more, so a test pins this.
pub const PBKDF2_ITERATIONS: u32 = 100_000;
pub const SALT_LEN: usize = 16;

/// `POST /v1/auth`, validated. The password is kept out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub username: String,
    pub password: String,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub common_name: Option<String>,
}

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("client_ip", &self.client_ip)
            .field("client_port", &self.client_port)
            .finish()
    }
}

fn printable(field: &str, s: &str, max: usize) -> Result<(), RequestError> {
    if s.is_empty() || s.len() > max {
        return Err(RequestError::field(field, format!("must be 1 to {max} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(RequestError::field(field, "must not contain NUL or control characters"));
    }
    Ok(())
}

pub fn parse_client(f: &Fields, ip_field: &str, port_field: &str) -> Result<(IpAddr, u16), RequestError> {
    let ip: IpAddr = f.str(ip_field)?.parse().map_err(|_| RequestError::field(ip_field, "must be an IP address"))?;
    let port = f.u64(port_field, 65_535)?;
    if port == 0 {
        return Err(RequestError::field(port_field, "must be a port 1..65535"));
    }
    Ok((ip, port as u16))
}

pub fn parse_username(f: &Fields) -> Result<String, RequestError> {
    let u = f.str("username")?;
    printable("username", u, 256)?;
    Ok(u.to_owned())
}

pub fn parse_password(f: &Fields) -> Result<String, RequestError> {
    let p = f.str("password")?;
    printable("password", p, 1024)?;
    Ok(p.to_owned())
}

impl AuthRequest {
    pub fn parse(f: &Fields) -> Result<Self, RequestError> {
        let username = parse_username(f)?;
        let password = parse_password(f)?;
        let (client_ip, client_port) = parse_client(f, "client_ip", "client_port")?;
        let common_name = match f.opt_str("common_name")? {
            None => None,
            Some(cn) => {
                printable("common_name", cn, 256)?;
                Some(cn.to_owned())
            }
        };
        Ok(Self { username, password, client_ip, client_port, common_name })
    }
}

/// What the origin said. Only an explicit `{"valid":false}` is a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginAnswer {
    Valid,
    Invalid,
    Unavailable,
}

/// Classify an origin reply: 2xx with a boolean `valid`, or unavailable.
pub fn classify_origin(status: u16, body: &str) -> OriginAnswer {
    if !(200..300).contains(&status) {
        return OriginAnswer::Unavailable;
    }
    match serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| v.get("valid").and_then(|b| b.as_bool())) {
        Some(true) => OriginAnswer::Valid,
        Some(false) => OriginAnswer::Invalid,
        None => OriginAnswer::Unavailable,
    }
}

/// A cached credential as stored in KV (`cred:` + hex SHA-256 of the username).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// PBKDF2-HMAC-SHA256 over HMAC(CRED_PEPPER, password), hex.
    pub hash: String,
    pub salt: String,
    pub iterations: u32,
    pub epoch: u64,
    /// When the origin last confirmed this password (ms).
    pub verified_at: i64,
}

/// The cache entry as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheView {
    Missing,
    /// Present but from an old epoch or past its age: not trusted for admission.
    Stale,
    /// Present and trusted; `matches` is whether this password hashes to it (`None` when
    /// it was not computed).
    Fresh {
        matches: Option<bool>,
        verified_at: i64,
    },
}

impl CacheView {
    pub fn of(entry: Option<&CacheEntry>, epoch: u64, now_ms: i64, max_age_days: u32) -> Self {
        match entry {
            None => Self::Missing,
            Some(e) if e.epoch != epoch || now_ms - e.verified_at >= i64::from(max_age_days) * 86_400_000 => {
                Self::Stale
            }
            Some(e) => Self::Fresh { matches: None, verified_at: e.verified_at },
        }
    }

    pub fn with_match(self, m: bool) -> Self {
        match self {
            Self::Fresh { verified_at, .. } => Self::Fresh { matches: Some(m), verified_at },
            other => other,
        }
    }
}

/// Whether to read the cache at all (it cannot change a `closed` outage's answer).
pub fn consults_cache(origin: OriginAnswer, policy: FailOpenPolicy) -> bool {
    !(origin == OriginAnswer::Unavailable && policy == FailOpenPolicy::Closed)
}

/// An admission a server made by itself while the edge was unreachable.
#[derive(Clone, PartialEq, Eq)]
pub struct OfflineAdmission {
    pub username: String,
    pub password: String,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub admitted_at_ms: i64,
}

impl std::fmt::Debug for OfflineAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineAdmission").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

pub const MAX_OFFLINE_BATCH: usize = 100;

/// `{"sessions":[…]}`, all or nothing: a bad item rejects the batch (the agent keeps its
/// spool and retries), naming `sessions[i].field`.
pub fn parse_offline(f: &Fields, now_ms: i64) -> Result<Vec<OfflineAdmission>, RequestError> {
    let list = f.opt_array("sessions")?.ok_or_else(|| RequestError::field("sessions", "is required"))?;
    if list.len() > MAX_OFFLINE_BATCH {
        return Err(RequestError::field("sessions", format!("at most {MAX_OFFLINE_BATCH} per request")));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let named = |e: RequestError| match e {
                RequestError::Field { field, why } => RequestError::field(format!("sessions[{i}].{field}"), why),
                other => other,
            };
            let obj =
                v.as_object().ok_or_else(|| RequestError::field(format!("sessions[{i}]"), "must be an object"))?;
            let item = Fields::from_map(obj.clone());
            let username = parse_username(&item).map_err(named)?;
            let password = parse_password(&item).map_err(named)?;
            let (client_ip, client_port) = parse_client(&item, "client_ip", "client_port").map_err(named)?;
            let admitted_at_ms = item.u64("admitted_at", 4_102_444_800).map_err(named)? as i64 * 1000;
            // A server's clock may run a little ahead; a day ahead is a bug, not skew.
            if admitted_at_ms > now_ms + 120_000 {
                return Err(RequestError::field(format!("sessions[{i}].admitted_at"), "is in the future"));
            }
            Ok(OfflineAdmission { username, password, client_ip, client_port, admitted_at_ms })
        })
        .collect()
}

/// Session ids a server acks (`{"session_ids":[…]}`), at most 1,000.
pub fn parse_acks(f: &Fields) -> Result<Vec<crate::types::SessionId>, RequestError> {
    let list = f.opt_array("session_ids")?.ok_or_else(|| RequestError::field("session_ids", "is required"))?;
    if list.len() > 1000 {
        return Err(RequestError::field("session_ids", "at most 1000 per request"));
    }
    list.iter()
        .map(|v| {
            let s = v.as_str().ok_or_else(|| RequestError::field("session_ids", "must be strings"))?;
            crate::types::SessionId::parse(s).map_err(|e| RequestError::field("session_ids", e.0))
        })
        .collect()
}

/// Whether the degraded path applies: the lockout is checked only then.
pub fn checks_lockout(origin: OriginAnswer, policy: FailOpenPolicy) -> bool {
    origin == OriginAnswer::Unavailable && policy != FailOpenPolicy::Closed
}

/// Whether deciding needs the PBKDF2 hash of this password against the cached entry.
/// The normal login path (origin up, entry fresh) hashes only when the entry is due for a
/// refresh, and then with a new salt for the write.
pub fn needs_match(origin: OriginAnswer, entry_present: bool, policy: FailOpenPolicy) -> bool {
    match origin {
        OriginAnswer::Valid => false,
        // Only a matching entry is evicted; a stranger's guess must not evict it.
        OriginAnswer::Invalid => entry_present,
        OriginAnswer::Unavailable => entry_present && policy != FailOpenPolicy::Closed,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Origin,
    Cache,
    Provisional,
    Lockout,
    Policy,
}

/// What the Worker must do after answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Hash with a new salt and write the entry (missing, stale or due for refresh).
    WriteCache,
    /// The origin revoked the cached password.
    DeleteCache,
    /// Record the admission in the session ledger for re-verification.
    RecordSession,
    /// Count a failure toward the username's lockout.
    CountFailure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    pub source: Source,
    pub reason: &'static str,
    pub effects: Vec<Effect>,
}

impl Outcome {
    fn new(decision: Decision, source: Source, reason: &'static str, effects: Vec<Effect>) -> Self {
        Self { decision, source, reason, effects }
    }
}

/// Inputs to the decision besides the origin's answer.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub cache: CacheView,
    pub policy: FailOpenPolicy,
    /// The username is locked out (failures while degraded).
    pub locked_out: bool,
    pub now_ms: i64,
    pub refresh_s: u32,
}

/// The decision table of DESIGN.md §1, every row. A `provisional` allow must still get a
/// slot under the fleet-wide cap; if it does not, use [`provisional_refused`].
pub fn decide(origin: OriginAnswer, c: Context) -> Outcome {
    use Decision::*;
    match origin {
        OriginAnswer::Valid => {
            let due = match c.cache {
                CacheView::Missing | CacheView::Stale => true,
                CacheView::Fresh { verified_at, .. } => c.now_ms - verified_at >= i64::from(c.refresh_s) * 1000,
            };
            Outcome::new(Allow, Source::Origin, "origin accepted", if due { vec![Effect::WriteCache] } else { vec![] })
        }
        OriginAnswer::Invalid => match c.cache {
            CacheView::Fresh { matches: Some(true), .. } => Outcome::new(
                Deny,
                Source::Origin,
                "origin rejected; cached password revoked",
                vec![Effect::DeleteCache],
            ),
            _ => Outcome::new(Deny, Source::Origin, "origin rejected", vec![]),
        },
        OriginAnswer::Unavailable => {
            if c.policy == FailOpenPolicy::Closed {
                return Outcome::new(Deny, Source::Policy, "origin unavailable and policy is closed", vec![]);
            }
            if c.locked_out {
                return Outcome::new(
                    Deny,
                    Source::Lockout,
                    "too many failures while the origin is unavailable",
                    vec![],
                );
            }
            match c.cache {
                CacheView::Fresh { matches: Some(true), .. } => Outcome::new(
                    Allow,
                    Source::Cache,
                    "origin unavailable; cached credential matched",
                    vec![Effect::RecordSession],
                ),
                CacheView::Fresh { .. } => Outcome::new(
                    Deny,
                    Source::Cache,
                    "origin unavailable; password does not match the cached credential",
                    vec![Effect::CountFailure],
                ),
                CacheView::Missing | CacheView::Stale => match c.policy {
                    FailOpenPolicy::Open => Outcome::new(
                        Allow,
                        Source::Provisional,
                        "origin unavailable; admitted provisionally pending re-verification",
                        vec![Effect::RecordSession],
                    ),
                    _ => Outcome::new(Deny, Source::Policy, "origin unavailable and no cached credential", vec![]),
                },
            }
        }
    }
}

/// A provisional admission over the fleet-wide cap.
pub fn provisional_refused() -> Outcome {
    Outcome::new(Decision::Deny, Source::Policy, "origin unavailable; provisional admissions are at their cap", vec![])
}

/// Failures per username while the origin is unavailable.
pub const LOCKOUT_FAILURES: usize = 5;
pub const LOCKOUT_WINDOW_MS: i64 = 15 * 60_000;
pub const LOCKOUT_FOR_MS: i64 = 15 * 60_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    /// Failure times (ms) within the window.
    pub failures: Vec<i64>,
    pub locked_until: Option<i64>,
}

impl Lockout {
    pub fn is_locked(&self, now_ms: i64) -> bool {
        self.locked_until.is_some_and(|t| now_ms < t)
    }

    /// Count a failure; 5 within 15 minutes lock the username for 15 minutes.
    pub fn fail(mut self, now_ms: i64) -> Self {
        self.failures.retain(|&t| now_ms - t < LOCKOUT_WINDOW_MS);
        self.failures.push(now_ms);
        if self.failures.len() >= LOCKOUT_FAILURES {
            self.locked_until = Some(now_ms + LOCKOUT_FOR_MS);
            self.failures.clear();
        }
        self
    }

    /// Nothing left to remember: the entry can be deleted.
    pub fn is_empty(&self, now_ms: i64) -> bool {
        !self.is_locked(now_ms) && self.failures.iter().all(|&t| now_ms - t >= LOCKOUT_WINDOW_MS)
    }
}

/// The fleet-wide provisional cap, per UTC minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionalBudget {
    pub minute: i64,
    pub used: u32,
}

impl ProvisionalBudget {
    /// Take one slot if the minute's cap allows it.
    pub fn take(self, now_ms: i64, cap: u32) -> (Self, bool) {
        let minute = now_ms.div_euclid(60_000);
        let used = if minute == self.minute { self.used } else { 0 };
        if used >= cap {
            (Self { minute, used }, false)
        } else {
            (Self { minute, used: used + 1 }, true)
        }
    }
}

/// Consecutive origin failures that open the breaker.
pub const BREAKER_THRESHOLD: u32 = 2;

/// A circuit breaker for the origin: after consecutive failures it stops calling for a
/// cool-down, then lets exactly one request probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breaker {
    Closed {
        failures: u32,
    },
    Open {
        until_ms: i64,
    },
    /// One probe is in flight since `since_ms`.
    HalfOpen {
        since_ms: i64,
    },
}

impl Default for Breaker {
    fn default() -> Self {
        Self::Closed { failures: 0 }
    }
}

impl Breaker {
    /// Whether to call the origin now, and the state after deciding.
    pub fn admit(self, now_ms: i64, probe_timeout_ms: i64) -> (Self, bool) {
        match self {
            Self::Closed { .. } => (self, true),
            Self::Open { until_ms } if now_ms < until_ms => (self, false),
            Self::Open { .. } => (Self::HalfOpen { since_ms: now_ms }, true),
            // A probe that never reported back (the isolate was busy or the call was
            // dropped) does not keep the breaker stuck.
            Self::HalfOpen { since_ms } if now_ms - since_ms > probe_timeout_ms => {
                (Self::HalfOpen { since_ms: now_ms }, true)
            }
            Self::HalfOpen { .. } => (self, false),
        }
    }

    pub fn record(self, answered: bool, now_ms: i64, cooldown_ms: i64) -> Self {
        if answered {
            return Self::Closed { failures: 0 };
        }
        match self {
            Self::Closed { failures } if failures + 1 < BREAKER_THRESHOLD => Self::Closed { failures: failures + 1 },
            _ => Self::Open { until_ms: now_ms + cooldown_ms },
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(self, Self::Closed { .. })
    }
}

/// The PBKDF2 input: HMAC-SHA256(CRED_PEPPER, password). Without the pepper (a Worker
/// secret), a copy of KV alone is not enough to guess passwords offline.
pub fn peppered(pepper: &str, password: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(pepper.as_bytes()).expect("any key length");
    mac.update(password.as_bytes());
    mac.finalize().into_bytes().into()
}

/// KV key of a username's cached credential.
pub fn cache_key(username: &str) -> String {
    format!("cred:{}", crate::signature::sha256_hex(username.as_bytes()))
}

/// Constant-time byte equality (for password hashes).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailOpenPolicy::*;

    const NOW: i64 = 1_800_000_000_000;

    fn ctx(cache: CacheView, policy: FailOpenPolicy) -> Context {
        Context { cache, policy, locked_out: false, now_ms: NOW, refresh_s: 3600 }
    }

    fn fresh(matches: Option<bool>) -> CacheView {
        CacheView::Fresh { matches, verified_at: NOW - 1000 }
    }

    fn row(o: &Outcome) -> (Decision, Source, Vec<Effect>) {
        (o.decision, o.source, o.effects.clone())
    }

    #[test]
    fn origin_valid_rows() {
        use Effect::*;
        assert_eq!(
            row(&decide(OriginAnswer::Valid, ctx(CacheView::Missing, Open))),
            (Decision::Allow, Source::Origin, vec![WriteCache])
        );
        assert_eq!(
            row(&decide(OriginAnswer::Valid, ctx(CacheView::Stale, Open))),
            (Decision::Allow, Source::Origin, vec![WriteCache])
        );
        assert_eq!(
            row(&decide(OriginAnswer::Valid, ctx(fresh(None), Open))),
            (Decision::Allow, Source::Origin, vec![])
        );
        let old = CacheView::Fresh { matches: None, verified_at: NOW - 3_600_000 };
        assert_eq!(
            row(&decide(OriginAnswer::Valid, ctx(old, Closed))),
            (Decision::Allow, Source::Origin, vec![WriteCache])
        );
    }

    #[test]
    fn origin_invalid_rows() {
        assert_eq!(
            row(&decide(OriginAnswer::Invalid, ctx(fresh(Some(true)), Open))),
            (Decision::Deny, Source::Origin, vec![Effect::DeleteCache])
        );
        for cache in [fresh(Some(false)), CacheView::Missing, CacheView::Stale] {
            assert_eq!(row(&decide(OriginAnswer::Invalid, ctx(cache, Open))), (Decision::Deny, Source::Origin, vec![]));
        }
    }

    #[test]
    fn origin_unavailable_rows() {
        let u = OriginAnswer::Unavailable;
        assert_eq!(
            row(&decide(u, ctx(fresh(Some(true)), Open))),
            (Decision::Allow, Source::Cache, vec![Effect::RecordSession])
        );
        assert_eq!(
            row(&decide(u, ctx(fresh(Some(true)), CachedOnly))),
            (Decision::Allow, Source::Cache, vec![Effect::RecordSession])
        );
        assert_eq!(
            row(&decide(u, ctx(fresh(Some(false)), Open))),
            (Decision::Deny, Source::Cache, vec![Effect::CountFailure])
        );
        assert_eq!(
            row(&decide(u, ctx(CacheView::Missing, Open))),
            (Decision::Allow, Source::Provisional, vec![Effect::RecordSession])
        );
        assert_eq!(
            row(&decide(u, ctx(CacheView::Stale, Open))),
            (Decision::Allow, Source::Provisional, vec![Effect::RecordSession])
        );
        assert_eq!(row(&decide(u, ctx(CacheView::Missing, CachedOnly))), (Decision::Deny, Source::Policy, vec![]));
        for cache in [fresh(Some(true)), CacheView::Missing] {
            assert_eq!(row(&decide(u, ctx(cache, Closed))), (Decision::Deny, Source::Policy, vec![]));
        }
        let mut locked = ctx(fresh(Some(true)), Open);
        locked.locked_out = true;
        assert_eq!(row(&decide(u, locked)), (Decision::Deny, Source::Lockout, vec![]));
        assert_eq!(provisional_refused().source, Source::Policy);
    }

    #[test]
    fn hashing_is_needed_only_where_it_decides() {
        assert!(!needs_match(OriginAnswer::Valid, true, Open));
        assert!(needs_match(OriginAnswer::Invalid, true, Open));
        assert!(!needs_match(OriginAnswer::Invalid, false, Open));
        assert!(needs_match(OriginAnswer::Unavailable, true, CachedOnly));
        assert!(!needs_match(OriginAnswer::Unavailable, true, Closed));
    }

    #[test]
    fn cache_view() {
        let e = CacheEntry {
            hash: "h".into(),
            salt: "s".into(),
            iterations: PBKDF2_ITERATIONS,
            epoch: 2,
            verified_at: NOW,
        };
        assert_eq!(CacheView::of(Some(&e), 2, NOW, 30), CacheView::Fresh { matches: None, verified_at: NOW });
        assert_eq!(CacheView::of(Some(&e), 3, NOW, 30), CacheView::Stale, "flushed by an epoch bump");
        assert_eq!(CacheView::of(Some(&e), 2, NOW + 30 * 86_400_000, 30), CacheView::Stale);
        assert_eq!(CacheView::of(None, 2, NOW, 30), CacheView::Missing);
    }

    #[test]
    fn origin_classification() {
        assert_eq!(classify_origin(200, r#"{"valid":true}"#), OriginAnswer::Valid);
        assert_eq!(classify_origin(200, r#"{"valid":false,"x":1}"#), OriginAnswer::Invalid);
        for (s, b) in [
            (500, r#"{"valid":false}"#),
            (200, "<html>"),
            (200, "{}"),
            (200, r#"{"valid":"false"}"#),
            (401, ""),
            (302, ""),
        ] {
            assert_eq!(classify_origin(s, b), OriginAnswer::Unavailable, "{s} {b}");
        }
    }

    #[test]
    fn lockout_windows() {
        let mut l = Lockout::default();
        for i in 0..4 {
            l = l.fail(NOW + i * 60_000);
        }
        assert!(!l.is_locked(NOW + 4 * 60_000));
        l = l.fail(NOW + 4 * 60_000);
        assert!(l.is_locked(NOW + 4 * 60_000));
        assert!(l.is_locked(NOW + 4 * 60_000 + LOCKOUT_FOR_MS - 1));
        assert!(!l.is_locked(NOW + 4 * 60_000 + LOCKOUT_FOR_MS));
        // Failures spread over more than 15 minutes never lock.
        let mut s = Lockout::default();
        for i in 0..20 {
            s = s.fail(NOW + i * 4 * 60_000);
            assert!(!s.is_locked(NOW + i * 4 * 60_000), "failure {i}");
        }
        assert!(s.is_empty(NOW + 100 * 60_000));
    }

    #[test]
    fn provisional_cap_per_minute() {
        let mut b = ProvisionalBudget::default();
        let mut admitted = 0;
        for _ in 0..5 {
            let (nb, ok) = b.take(NOW, 3);
            b = nb;
            admitted += ok as u32;
        }
        assert_eq!(admitted, 3);
        let (_, ok) = b.take(NOW + 60_000, 3);
        assert!(ok, "a new minute has a new budget");
        assert!(!ProvisionalBudget::default().take(NOW, 0).1, "cap 0 admits nobody");
    }

    #[test]
    fn breaker_over_time() {
        let (cool, probe) = (10_000, 5_000);
        let mut b = Breaker::default();
        assert!(b.admit(NOW, probe).1);
        b = b.record(false, NOW, cool);
        assert_eq!(b, Breaker::Closed { failures: 1 });
        b = b.record(false, NOW, cool);
        assert_eq!(b, Breaker::Open { until_ms: NOW + cool });
        assert!(!b.admit(NOW + 9_999, probe).1, "no calls during the cool-down");
        let (half, ok) = b.admit(NOW + cool, probe);
        assert!(ok, "one probe after the cool-down");
        assert!(!half.admit(NOW + cool + 1, probe).1, "only one probe at a time");
        assert!(half.admit(NOW + cool + probe + 1, probe).1, "a lost probe is replaced");
        assert_eq!(half.record(false, NOW + cool, cool), Breaker::Open { until_ms: NOW + 2 * cool });
        assert_eq!(half.record(true, NOW + cool, cool), Breaker::Closed { failures: 0 });
        assert_eq!(Breaker::Closed { failures: 1 }.record(true, NOW, cool), Breaker::Closed { failures: 0 });
    }

    #[test]
    fn request_validation() {
        let f = |s: &str| AuthRequest::parse(&Fields::parse(s.as_bytes()).unwrap());
        assert!(f(r#"{"username":"alice","password":"pw","client_ip":"203.0.113.9","client_port":51000}"#).is_ok());
        let field = |s: &str| match f(s) {
            Err(RequestError::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(r#"{"username":"","password":"pw","client_ip":"1.2.3.4","client_port":1}"#), "username");
        assert_eq!(
            field(&format!(
                r#"{{"username":"{}","password":"pw","client_ip":"1.2.3.4","client_port":1}}"#,
                "u".repeat(257)
            )),
            "username"
        );
        assert_eq!(
            field(r#"{"username":"a\u0000b","password":"pw","client_ip":"1.2.3.4","client_port":1}"#),
            "username"
        );
        assert_eq!(field(r#"{"username":"a","password":"p\nw","client_ip":"1.2.3.4","client_port":1}"#), "password");
        assert_eq!(
            field(&format!(
                r#"{{"username":"a","password":"{}","client_ip":"1.2.3.4","client_port":1}}"#,
                "p".repeat(1025)
            )),
            "password"
        );
        assert_eq!(field(r#"{"username":"a","password":"p","client_ip":"1.2.3","client_port":1}"#), "client_ip");
        assert_eq!(field(r#"{"username":"a","password":"p","client_ip":"::1","client_port":0}"#), "client_port");
        assert_eq!(field(r#"{"username":"a","password":"p","client_ip":"::1","client_port":65536}"#), "client_port");
        // Never prints the password.
        let r = f(r#"{"username":"a","password":"hunter2","client_ip":"::1","client_port":5}"#).unwrap();
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn offline_batches() {
        let f = |s: &str| parse_offline(&Fields::parse(s.as_bytes()).unwrap(), NOW);
        let ok = f(r#"{"sessions":[{"username":"a","password":"p","client_ip":"192.0.2.1","client_port":5,"admitted_at":1700000000}]}"#).unwrap();
        assert_eq!(ok[0].admitted_at_ms, 1_700_000_000_000);
        let err = f(
            r#"{"sessions":[{"username":"a","password":"p","client_ip":"192.0.2.1","client_port":5,"admitted_at":1}, {"username":"","password":"p","client_ip":"192.0.2.1","client_port":5,"admitted_at":1}]}"#,
        );
        assert_eq!(err.unwrap_err(), RequestError::field("sessions[1].username", "must be 1 to 256 bytes"));
        let future = format!(
            r#"{{"sessions":[{{"username":"a","password":"p","client_ip":"192.0.2.1","client_port":5,"admitted_at":{}}}]}}"#,
            NOW / 1000 + 3600
        );
        assert!(f(&future).is_err());
        assert!(f(r#"{}"#).is_err());
        assert!(!consults_cache(OriginAnswer::Unavailable, Closed));
        assert!(consults_cache(OriginAnswer::Valid, Closed));
    }

    #[test]
    fn acks() {
        let f = |s: &str| parse_acks(&Fields::parse(s.as_bytes()).unwrap());
        assert_eq!(f(r#"{"session_ids":["ab12","cd-3"]}"#).unwrap().len(), 2);
        assert!(f(r#"{"session_ids":["a b"]}"#).is_err());
        assert!(f(r#"{"session_ids":[1]}"#).is_err());
        assert!(f(r#"{}"#).is_err());
        assert!(checks_lockout(OriginAnswer::Unavailable, CachedOnly));
        assert!(!checks_lockout(OriginAnswer::Unavailable, Closed));
        assert!(!checks_lockout(OriginAnswer::Invalid, Open));
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
