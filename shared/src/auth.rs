//! Auth that survives its backend (README "Auth when the origin fails"): request
//! validation, the origin's answers by meaning, the decision table as a step function,
//! the circuit breaker, the lockout, the provisional cap, re-verification and offline
//! admissions. Pure: the Worker performs each read [`next`] asks for, reports the result
//! (failures included) back into [`Facts`], and executes the [`Outcome`] unchanged.

use crate::api_error::RequestError;
use crate::config::FailOpenPolicy;
use crate::request::Fields;
use crate::types::{ServerId, SessionId};
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

/// What the origin said, by meaning. Only [`OriginAnswer::Unavailable`] says nothing about
/// the user; every other answer is a verdict (README "Auth when the origin fails").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginAnswer {
    /// `2xx {"valid":true}`.
    Valid,
    /// `2xx {"valid":false}`.
    Invalid,
    /// Any other 4xx (422 on an over-long password, 429 rate limiting, …): a denial.
    Refused { status: u16 },
    /// 401/403: the edge's own token is wrong (or a 1xx/3xx: the URL is wrong). A denial,
    /// and the operator must hear about it.
    Misconfigured { status: u16 },
    /// Timeout, network error, 5xx, or a 2xx without a boolean `valid`.
    Unavailable,
}

impl OriginAnswer {
    /// Whether the origin answered at all: only unavailability counts toward the breaker.
    pub fn answered(self) -> bool {
        self != Self::Unavailable
    }

    /// Whether this answer judged the user (valid, invalid or refused), i.e. the origin
    /// is working. A wrong edge token judges nobody.
    pub fn judged(self) -> bool {
        matches!(self, Self::Valid | Self::Invalid | Self::Refused { .. })
    }
}

/// Classify an origin reply by its status class and body.
pub fn classify_origin(status: u16, body: &str) -> OriginAnswer {
    match status {
        200..=299 => match serde_json::from_slice::<serde_json::Value>(body.as_bytes())
            .ok()
            .and_then(|v| v.get("valid").and_then(|b| b.as_bool()))
        {
            Some(true) => OriginAnswer::Valid,
            Some(false) => OriginAnswer::Invalid,
            None => OriginAnswer::Unavailable,
        },
        401 | 403 => OriginAnswer::Misconfigured { status },
        400..=499 => OriginAnswer::Refused { status },
        500..=599 => OriginAnswer::Unavailable,
        _ => OriginAnswer::Misconfigured { status },
    }
}

/// A cached credential as stored in KV (`cred:` + hex SHA-256 of the username).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheEntry {
    /// PBKDF2-HMAC-SHA256 over HMAC(CRED_PEPPER, password), hex.
    pub hash: String,
    pub salt: String,
    pub iterations: u32,
    pub epoch: u64,
    /// When the origin last confirmed this password (ms).
    pub verified_at: i64,
}

crate::map_struct::map_struct!(CacheEntry { hash, salt, iterations, epoch, verified_at });

/// The cache entry as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheView {
    Missing,
    /// Present but from an old epoch (flushed) or past `CACHE_MAX_AGE_DAYS`: not trusted.
    Stale,
    /// Present and trusted.
    Fresh {
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
            Some(e) => Self::Fresh { verified_at: e.verified_at },
        }
    }
}

/// A read the Worker could not perform (KV, a Durable Object or WebCrypto failed). It is
/// an input like any other: each fallback is a row of the table in [`next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

pub type Read<T> = Result<T, Unreadable>;

/// What the degraded path asks the `AuthGuard` in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// A cached password matched: is this user locked out from this address?
    Check,
    /// A cached password did not match: count a failure (if not locked).
    Fail,
    /// No cached credential, policy `open`: take a provisional slot (if not locked).
    Provisional,
}
crate::unit_enum::unit_enum!(GuardAction { Check = "check", Fail = "fail", Provisional = "provisional" });

/// The guard's answer. `locked` is the state before this request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GuardReply {
    pub locked: bool,
    pub slot: bool,
}

crate::map_struct::map_struct!(GuardReply { locked, slot });

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

/// How a session the ledger holds was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Admission {
    Cache,
    Provisional,
    Offline,
}
crate::unit_enum::unit_enum!(Admission { Cache = "cache", Provisional = "provisional", Offline = "offline" });

impl Admission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cache => "cache",
            Self::Provisional => "provisional",
            Self::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cache" => Some(Self::Cache),
            "provisional" => Some(Self::Provisional),
            "offline" => Some(Self::Offline),
            _ => None,
        }
    }
}

/// What the Worker does after answering (from `waitUntil`, never changing the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Hash with a new salt and write the entry (missing, stale or due for refresh).
    WriteCache,
    /// The origin revoked the cached password.
    DeleteCache,
    /// The origin refused the edge's token: alert `origin_misconfigured`, show it in `/healthz`.
    OriginMisconfigured,
    /// The origin judged a user: clear a recorded misconfiguration.
    OriginWorks,
}

/// Why the answer is what it is: a stable code, for logs and the hook's reason file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    AuthNotConfigured,
    OriginAccepted,
    OriginRejected,
    OriginRevokedCached,
    OriginRefused,
    OriginTokenRejected,
    PolicyClosed,
    CacheMatched,
    CacheMismatch,
    NoCachedCredential,
    Provisional,
    ProvisionalCap,
    CapUnavailable,
    LockedOut,
    NotRecorded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    pub source: Source,
    pub reason: Reason,
    pub effects: Vec<Effect>,
}

impl Outcome {
    fn new(decision: Decision, source: Source, reason: Reason, effects: Vec<Effect>) -> Self {
        Self { decision, source, reason, effects }
    }

    fn deny(source: Source, reason: Reason) -> Self {
        Self::new(Decision::Deny, source, reason, vec![])
    }
}

/// The settings the decision depends on (from `Config`).
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    /// A usable origin URL and token are configured.
    pub configured: bool,
    /// `CRED_PEPPER` is set: the cache is on.
    pub cache_enabled: bool,
    pub policy: FailOpenPolicy,
    pub refresh_s: u32,
    pub now_ms: i64,
    /// This isolate recorded an `origin_misconfigured` state that a judged answer clears.
    pub origin_flagged: bool,
}

/// What is known so far about one login, filled in by the Worker as [`next`] asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    pub origin: Option<OriginAnswer>,
    pub cache: Option<Read<CacheView>>,
    /// Whether this password hashes to the fresh cached entry.
    pub matches: Option<Read<bool>>,
    pub guard: Option<Read<GuardReply>>,
    /// The ledger recorded the admission (keyed by the request's signature).
    pub recorded: Option<Read<()>>,
}

/// The next thing to read or do, or the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    AskOrigin,
    /// The cache epoch and the user's entry (KV).
    ReadCache,
    /// PBKDF2 of this password against the cached entry.
    Hash,
    /// One `AuthGuard` call (lockout and cap), keyed by the request's signature.
    Guard(GuardAction),
    /// Record the admission in the session ledger, keyed by the request's signature.
    Record(Admission),
    Answer(Outcome),
}

/// Clearing a recorded misconfiguration costs a Durable Object call: only when flagged.
fn works(s: &AuthSettings) -> Vec<Effect> {
    if s.origin_flagged {
        vec![Effect::OriginWorks]
    } else {
        vec![]
    }
}

/// Where the degraded path stands once the cache has been consulted.
enum Degraded {
    Matched,
    Mismatched,
    NoCredential,
}

/// The decision table, one step at a time (README "Auth when the origin fails"). The
/// normal login path (origin up, entry fresh and not due) reads KV once and never hashes.
pub fn next(s: &AuthSettings, f: &Facts) -> Next {
    use Decision::*;
    if !s.configured {
        return Next::Answer(Outcome::deny(Source::Policy, Reason::AuthNotConfigured));
    }
    let Some(origin) = f.origin else { return Next::AskOrigin };
    let cache_needed = s.cache_enabled && !(origin == OriginAnswer::Unavailable && s.policy == FailOpenPolicy::Closed);
    let cache = match (cache_needed, f.cache) {
        (false, _) => Err(Unreadable),
        (true, None) => return Next::ReadCache,
        (true, Some(c)) => c,
    };
    let fresh = matches!(cache, Ok(CacheView::Fresh { .. }));
    match origin {
        OriginAnswer::Valid => {
            let due = match cache {
                Ok(CacheView::Missing | CacheView::Stale) => true,
                Ok(CacheView::Fresh { verified_at }) => s.now_ms - verified_at >= i64::from(s.refresh_s) * 1000,
                // The epoch is unknown: writing could revive what a flush revoked.
                Err(Unreadable) => false,
            };
            let mut effects = works(s);
            if due {
                effects.push(Effect::WriteCache);
            }
            Next::Answer(Outcome::new(Allow, Source::Origin, Reason::OriginAccepted, effects))
        }
        OriginAnswer::Invalid => {
            // Only a matching entry is evicted: a stranger's wrong guess must not evict it.
            if fresh && f.matches.is_none() {
                return Next::Hash;
            }
            if fresh && f.matches == Some(Ok(true)) {
                return Next::Answer(Outcome::new(
                    Deny,
                    Source::Origin,
                    Reason::OriginRevokedCached,
                    [works(s), vec![Effect::DeleteCache]].concat(),
                ));
            }
            Next::Answer(Outcome::new(Deny, Source::Origin, Reason::OriginRejected, works(s)))
        }
        // A 4xx is a verdict, never unavailability; the cache entry stays (a 422 is not a
        // revocation).
        OriginAnswer::Refused { .. } => {
            Next::Answer(Outcome::new(Deny, Source::Origin, Reason::OriginRefused, works(s)))
        }
        OriginAnswer::Misconfigured { .. } => Next::Answer(Outcome::new(
            Deny,
            Source::Origin,
            Reason::OriginTokenRejected,
            vec![Effect::OriginMisconfigured],
        )),
        OriginAnswer::Unavailable => {
            if s.policy == FailOpenPolicy::Closed {
                return Next::Answer(Outcome::deny(Source::Policy, Reason::PolicyClosed));
            }
            if fresh && f.matches.is_none() {
                return Next::Hash;
            }
            let state = match (fresh, f.matches) {
                (true, Some(Ok(true))) => Degraded::Matched,
                (true, Some(Ok(false))) => Degraded::Mismatched,
                // An unreadable cache or a failed hash is no credential: the admission, if
                // any, is provisional and re-verified like any other.
                _ => Degraded::NoCredential,
            };
            let (action, admission) = match (&state, s.policy) {
                (Degraded::Matched, _) => (GuardAction::Check, Admission::Cache),
                (Degraded::Mismatched, _) => (GuardAction::Fail, Admission::Cache),
                (Degraded::NoCredential, FailOpenPolicy::Open) => (GuardAction::Provisional, Admission::Provisional),
                (Degraded::NoCredential, _) => {
                    return Next::Answer(Outcome::deny(Source::Policy, Reason::NoCachedCredential))
                }
            };
            let Some(guard) = f.guard else { return Next::Guard(action) };
            match (&state, guard) {
                (_, Ok(GuardReply { locked: true, .. })) => {
                    Next::Answer(Outcome::deny(Source::Lockout, Reason::LockedOut))
                }
                (Degraded::Mismatched, _) => Next::Answer(Outcome::deny(Source::Cache, Reason::CacheMismatch)),
                // Guard down, cap unknown: refuse rather than admit without a bound.
                (Degraded::NoCredential, Err(Unreadable)) => {
                    Next::Answer(Outcome::deny(Source::Policy, Reason::CapUnavailable))
                }
                (Degraded::NoCredential, Ok(GuardReply { slot: false, .. })) => {
                    Next::Answer(Outcome::deny(Source::Policy, Reason::ProvisionalCap))
                }
                // A matched password with the guard down is still proven against the hash;
                // it is recorded and re-verified like any other.
                (Degraded::Matched, _) | (Degraded::NoCredential, Ok(_)) => match f.recorded {
                    None => Next::Record(admission),
                    // An admission that cannot be re-verified later is not made.
                    Some(Err(Unreadable)) => Next::Answer(Outcome::deny(Source::Policy, Reason::NotRecorded)),
                    Some(Ok(())) => Next::Answer(match admission {
                        Admission::Cache => Outcome::new(Allow, Source::Cache, Reason::CacheMatched, vec![]),
                        _ => Outcome::new(Allow, Source::Provisional, Reason::Provisional, vec![]),
                    }),
                },
            }
        }
    }
}

/// Whether a login that reached the origin should start re-verification at once: this
/// isolate recorded degraded admissions and the origin judged someone.
pub fn kicks_reverify(origin: OriginAnswer, recorded_here: bool) -> bool {
    recorded_here && origin.judged()
}

/// The session id of a signed request: derived from its signature, so a replayed request
/// names the same session and its ledger record is written once.
pub fn session_id_for(signature: &str) -> SessionId {
    SessionId::issued(&crate::signature::sha256_hex(format!("session\n{signature}").as_bytes()))
}

/// The key under which the guard remembers a request's effects (lockout failure, cap slot).
pub fn effect_tag(signature: &str) -> String {
    crate::signature::sha256_hex(format!("effect\n{signature}").as_bytes())[..32].to_owned()
}

/// How long effects are remembered per signature: a signature is accepted for 120 s either
/// side of the edge's clock, so a replay cannot come later than this.
pub const EFFECT_MEMO_MS: i64 = 5 * 60_000;

// ---------------------------------------------------------------------------------------
// Lockout and the provisional cap (the AuthGuard's rules).

/// Failures per username and client address while the origin is unavailable.
pub const LOCKOUT_FAILURES: usize = 5;
pub const LOCKOUT_WINDOW_MS: i64 = 15 * 60_000;
pub const LOCKOUT_FOR_MS: i64 = 15 * 60_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lockout {
    /// Failure times (ms) within the window.
    pub failures: Vec<i64>,
    pub locked_until: Option<i64>,
}

crate::map_struct::map_struct!(Lockout { failures, locked_until: default });

impl Lockout {
    pub fn is_locked(&self, now_ms: i64) -> bool {
        self.locked_until.is_some_and(|t| now_ms < t)
    }

    /// Count a failure; `max` within 15 minutes lock for 15 minutes.
    pub fn fail(mut self, now_ms: i64, max: usize) -> Self {
        self.failures.retain(|&t| now_ms - t < LOCKOUT_WINDOW_MS);
        self.failures.push(now_ms);
        if self.failures.len() >= max {
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProvisionalBudget {
    pub minute: i64,
    pub used: u32,
}

crate::map_struct::map_struct!(ProvisionalBudget { minute, used });

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

/// The guard's state for one request: the (username, address) lockout, the username's
/// lockout across addresses, and the fleet-wide budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardState {
    pub by_ip: Lockout,
    pub by_user: Lockout,
    pub budget: ProvisionalBudget,
}

#[derive(Debug, Clone, Copy)]
pub struct GuardLimits {
    /// `LOCKOUT_USER_MAX`: failures across all addresses that lock the username everywhere.
    pub user_max: u32,
    /// `PROVISIONAL_PER_MINUTE`.
    pub cap: u32,
}

/// Apply one guard request. 5 failures from one address lock that address out for that
/// user; a right password from another address is still served. A locked request changes
/// nothing (its failures are not counted twice).
pub fn guard_apply(s: GuardState, action: GuardAction, now_ms: i64, l: GuardLimits) -> (GuardState, GuardReply) {
    let locked = s.by_ip.is_locked(now_ms) || s.by_user.is_locked(now_ms);
    if locked {
        return (s, GuardReply { locked: true, slot: false });
    }
    match action {
        GuardAction::Check => (s, GuardReply::default()),
        GuardAction::Fail => {
            let next = GuardState {
                by_ip: s.by_ip.fail(now_ms, LOCKOUT_FAILURES),
                by_user: s.by_user.fail(now_ms, l.user_max.max(1) as usize),
                budget: s.budget,
            };
            (next, GuardReply::default())
        }
        GuardAction::Provisional => {
            let (budget, slot) = s.budget.take(now_ms, l.cap);
            (GuardState { budget, ..s }, GuardReply { locked: false, slot })
        }
    }
}

// ---------------------------------------------------------------------------------------
// The circuit breaker.

/// Consecutive origin failures that open the breaker.
pub const BREAKER_THRESHOLD: u32 = 2;
/// How long the breaker stays open before one request probes the origin again.
pub const BREAKER_COOLDOWN_MS: i64 = 10_000;

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

    /// Record a call's result: only unavailability counts; a 4xx is an answer.
    pub fn record(self, answer: OriginAnswer, now_ms: i64) -> Self {
        if answer.answered() {
            return Self::Closed { failures: 0 };
        }
        match self {
            Self::Closed { failures } if failures + 1 < BREAKER_THRESHOLD => Self::Closed { failures: failures + 1 },
            _ => Self::Open { until_ms: now_ms + BREAKER_COOLDOWN_MS },
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(self, Self::Closed { .. })
    }
}

// ---------------------------------------------------------------------------------------
// Re-verification.

/// First retry delay of a session the origin could not judge; doubles per attempt.
pub const REVERIFY_BACKOFF_MS: i64 = 30_000;
pub const REVERIFY_BACKOFF_MAX_MS: i64 = 10 * 60_000;
/// A session is given up as unverifiable only after its attempts span at least this long.
pub const REVERIFY_MIN_SPAN_MS: i64 = 5 * 60_000;

/// A pending session's re-verification so far (stored with it in the ledger).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Attempts {
    /// Attempts the origin could not judge while it judged others.
    pub count: u32,
    pub first_at: Option<i64>,
}

crate::map_struct::map_struct!(Attempts { count, first_at: default });

/// What re-verification found for one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    Answer(OriginAnswer),
    /// The sealed password could not be opened (`SESSION_KEY` rotated, corrupt row, its
    /// data key gone).
    Unsealable,
    /// The store holding the seal's data key failed: nothing is known about the password.
    /// An error on our side must neither disconnect a valid user at once nor keep an
    /// impostor admitted for ever, so it counts as an attempt whatever the origin does.
    KeyUnreadable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    /// The origin rejected the credentials.
    Rejected,
    /// The origin could not judge it after `REVERIFY_MAX_ATTEMPTS` attempts.
    Unverifiable,
    /// The sealed password could not be opened.
    Unsealable,
}
crate::unit_enum::unit_enum!(DisconnectReason { Rejected = "rejected", Unverifiable = "unverifiable", Unsealable = "unsealable" });

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Unverifiable => "unverifiable",
            Self::Unsealable => "unsealable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Confirmed: forget the sealed password, refresh the cache.
    Valid,
    /// Forget the sealed password, disconnect.
    Disconnect(DisconnectReason),
    /// Keep it; try again from `next_at`.
    Retry { attempts: Attempts, next_at: i64 },
}

/// Judge one session. `origin_judging`: in this run the origin judged at least one other
/// login (or the probe), so this session's failure is about it, not about the origin.
/// A run never stops at a failure; a session is never retried before its backoff.
pub fn reverify_verdict(
    prev: Attempts,
    judged: Judged,
    origin_judging: bool,
    now_ms: i64,
    max_attempts: u32,
) -> Verdict {
    match judged {
        Judged::Unsealable => Verdict::Disconnect(DisconnectReason::Unsealable),
        Judged::Answer(OriginAnswer::Valid) => Verdict::Valid,
        Judged::Answer(OriginAnswer::Invalid | OriginAnswer::Refused { .. }) => {
            Verdict::Disconnect(DisconnectReason::Rejected)
        }
        Judged::Answer(OriginAnswer::Unavailable | OriginAnswer::Misconfigured { .. }) if !origin_judging => {
            // The origin is down (or refuses our token): nobody's attempt counts.
            Verdict::Retry { attempts: prev, next_at: now_ms }
        }
        Judged::Answer(OriginAnswer::Unavailable | OriginAnswer::Misconfigured { .. }) | Judged::KeyUnreadable => {
            let attempts = Attempts { count: prev.count + 1, first_at: Some(prev.first_at.unwrap_or(now_ms)) };
            let span = now_ms - attempts.first_at.unwrap_or(now_ms);
            if attempts.count >= max_attempts.max(1) && span >= REVERIFY_MIN_SPAN_MS {
                return Verdict::Disconnect(DisconnectReason::Unverifiable);
            }
            let shift = attempts.count.saturating_sub(1).min(16);
            let delay = (REVERIFY_BACKOFF_MS << shift).min(REVERIFY_BACKOFF_MAX_MS);
            Verdict::Retry { attempts, next_at: now_ms + delay }
        }
    }
}

/// Whether the origin is judging in this run: some session got a verdict, or (when none
/// did) the probe did.
pub fn origin_judging(answers: &[Judged], probe: Option<OriginAnswer>) -> bool {
    answers.iter().any(|j| matches!(j, Judged::Answer(a) if a.judged())) || probe.is_some_and(|p| p.judged())
}

/// Whether a run should spend one probe call to learn if the origin judges anyone.
pub fn needs_probe(answers: &[Judged]) -> bool {
    !answers.is_empty()
        && !origin_judging(answers, None)
        && answers.iter().any(|j| matches!(j, Judged::Answer(OriginAnswer::Unavailable)))
}

/// A session's state as the ledger reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    PendingReverification,
    DisconnectPending,
    Acked,
}
crate::unit_enum::unit_enum!(SessionState { PendingReverification = "pending_reverification", DisconnectPending = "disconnect_pending", Acked = "acked" });

impl SessionState {
    /// A held session's state: pending re-verification until a reason to disconnect it is
    /// decided (`disconnecting`), then pending until its server acknowledges the disconnect.
    pub fn of(disconnecting: bool, acked: bool) -> Self {
        match (disconnecting, acked) {
            (false, _) => SessionState::PendingReverification,
            (true, true) => SessionState::Acked,
            (true, false) => SessionState::DisconnectPending,
        }
    }
}

/// Acked disconnects stay visible to operators this long, then are forgotten.
pub const ACKED_KEEP_MS: i64 = 24 * 3_600_000;

// ---------------------------------------------------------------------------------------
// Offline admissions.

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
/// A server's clock may run a little ahead; more is a bug or a forgery.
pub const OFFLINE_SKEW_MS: i64 = 60_000;
/// Pending offline sessions per username per server: more is guessing, not reconnecting.
pub const OFFLINE_PER_USER: u32 = 3;
/// Pending offline sessions per server.
pub const OFFLINE_PER_SERVER: u32 = 1_000;

/// `{"sessions":[…]}`: the envelope is all or nothing (missing, not a list, too long);
/// each item is judged alone, so one bad item never blocks the others.
pub fn parse_offline(
    f: &Fields,
    now_ms: i64,
    max_age_h: u32,
) -> Result<Vec<Result<OfflineAdmission, RequestError>>, RequestError> {
    let list = f.opt_array("sessions")?.ok_or_else(|| RequestError::field("sessions", "is required"))?;
    if list.len() > MAX_OFFLINE_BATCH {
        return Err(RequestError::field("sessions", format!("at most {MAX_OFFLINE_BATCH} per request")));
    }
    Ok(list
        .iter()
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
            if admitted_at_ms > now_ms + OFFLINE_SKEW_MS {
                return Err(RequestError::field(format!("sessions[{i}].admitted_at"), "is in the future"));
            }
            if admitted_at_ms < now_ms - i64::from(max_age_h) * 3_600_000 {
                return Err(RequestError::field(
                    format!("sessions[{i}].admitted_at"),
                    format!("is older than OFFLINE_MAX_AGE_H ({max_age_h} h)"),
                ));
            }
            Ok(OfflineAdmission { username, password, client_ip, client_port, admitted_at_ms })
        })
        .collect())
}

/// Why the ledger refused an offline admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineRefusal {
    /// `OFFLINE_PER_USER` already pending for this username on this server (counts as a
    /// failure toward the user's lockout).
    TooManyForUser,
    /// `OFFLINE_PER_SERVER` already pending on this server.
    ServerFull,
}

impl OfflineRefusal {
    pub fn message(self) -> String {
        match self {
            Self::TooManyForUser => {
                format!("at most {OFFLINE_PER_USER} offline sessions per username per server may be pending")
            }
            Self::ServerFull => format!("at most {OFFLINE_PER_SERVER} offline sessions per server may be pending"),
        }
    }

    pub fn counts_as_failure(self) -> bool {
        self == Self::TooManyForUser
    }
}

/// Whether one more offline admission fits, given what is pending.
pub fn offline_fits(pending_for_user: u32, pending_for_server: u32) -> Result<(), OfflineRefusal> {
    if pending_for_server >= OFFLINE_PER_SERVER {
        return Err(OfflineRefusal::ServerFull);
    }
    if pending_for_user >= OFFLINE_PER_USER {
        return Err(OfflineRefusal::TooManyForUser);
    }
    Ok(())
}

/// The session id of an offline admission: derived from what identifies it (server,
/// username, client address and port, admission time), so the same admission reported
/// twice (an agent's retry, a replay) is one session.
pub fn offline_session_id(server: &ServerId, a: &OfflineAdmission) -> SessionId {
    let id = format!("offline\n{server}\n{}\n{}\n{}\n{}", a.username, a.client_ip, a.client_port, a.admitted_at_ms);
    SessionId::issued(&crate::signature::sha256_hex(id.as_bytes()))
}

/// Session ids a server acks (`{"session_ids":[…]}`), at most 1,000.
pub fn parse_acks(f: &Fields) -> Result<Vec<SessionId>, RequestError> {
    let list = f.opt_array("session_ids")?.ok_or_else(|| RequestError::field("session_ids", "is required"))?;
    if list.len() > 1000 {
        return Err(RequestError::field("session_ids", "at most 1000 per request"));
    }
    list.iter()
        .map(|v| {
            let s = v.as_str().ok_or_else(|| RequestError::field("session_ids", "must be strings"))?;
            SessionId::parse(s).map_err(|e| RequestError::field("session_ids", e.0))
        })
        .collect()
}

/// The PBKDF2 input: HMAC-SHA256(CRED_PEPPER, password). Without the pepper (a Worker
/// secret), a copy of KV alone is not enough to guess passwords offline.
pub fn peppered(pepper: &str, password: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(pepper.as_bytes()).expect("any key length");
    mac.update(password.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The AES-256-GCM key of one sealed password: HMAC-SHA256(SESSION_KEY, data key), where
/// the random per-session data key lives in KV and is deleted once the session is judged.
/// Storage engines keep deleted bytes (SQLite's WAL, point-in-time recovery); without its
/// data key a sealed password left behind there can no longer be opened, even with
/// `SESSION_KEY` (crypto-shredding).
pub fn seal_key(session_key: &[u8; 32], data_key: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(session_key).expect("any key length");
    mac.update(data_key);
    mac.finalize().into_bytes().into()
}

/// KV key (in `CREDENTIALS`) of a session's data key.
pub fn seal_data_key_name(session_id: &str) -> String {
    format!("seal:{session_id}")
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
mod tests;
