//! `POST /v1/auth` and the session endpoints around it. The core decides everything
//! (`vpn_edge_core::auth::next`): this module performs each read it asks for, reports the
//! result back (failures included), and carries out the outcome unchanged.

use crate::context::Cx;
use crate::http::{self, Result};
use crate::objects::auth_guard::{self, GuardReq, OriginGetReq, OriginSet, OriginState};
use crate::objects::session_ledger::{
    AckReq, EndReq, OfflineItem, OfflineReq, RecordReq, ReverifyReq, ServerReq, SessionsReq,
};
use crate::outbound::{alerts, origin};
use crate::rpc::{call, call_text, stub};
use crate::stores::credential_cache;
use crate::webcrypto;
use serde::Serialize;
use std::cell::Cell;
use std::rc::Rc;
use vpn_edge_core::alerts::Alert;
use vpn_edge_core::api_error::{ApiError, RequestError};
use vpn_edge_core::auth::{
    effect_tag, kicks_reverify, next, offline_session_id, parse_acks, parse_offline, session_id_for, Admission,
    AuthRequest, AuthSettings, CacheEntry, CacheView, Decision, Effect, Facts, GuardAction, GuardReply, Next,
    OriginAnswer, Outcome, Read, Reason, Source, Unreadable,
};
use vpn_edge_core::config::{Config, ConfigProblem};
use vpn_edge_core::signature::{hex, sha256_hex};
use vpn_edge_core::types::{ServerId, SessionId};
use worker::{Context, Env, Response, Stub};

thread_local! {
    /// This isolate recorded degraded admissions: the next origin answer here starts
    /// their re-verification at once instead of waiting for the cron round. Starts true: a
    /// fresh isolate (after a deploy or an eviction) cannot know what an earlier one recorded,
    /// so its first origin answer asks the ledger once.
    static RECORDED_DEGRADED: Cell<bool> = const { Cell::new(true) };
    /// This isolate saw the origin refuse the edge's token: the next judged answer clears it.
    static ORIGIN_FLAGGED: Cell<bool> = const { Cell::new(false) };
    /// `/healthz`'s view of the fleet-wide origin state, read at most every 5 s per isolate
    /// (it is the benchmark's floor and must stay cheap).
    static HEALTH_MEMO: Cell<Option<(i64, bool)>> = const { Cell::new(None) };
}

const HEALTH_MEMO_MS: i64 = 5_000;

pub fn ledger(env: &Env) -> std::result::Result<Stub, ApiError> {
    stub(env, "SESSIONS", "ledger", "session ledger")
}

fn guard(env: &Env) -> std::result::Result<Stub, ApiError> {
    stub(env, "AUTH_GUARD", "guard", "auth guard")
}

#[derive(Serialize)]
struct AuthAnswer {
    decision: Decision,
    source: Source,
    session_id: SessionId,
    reason: Reason,
}

/// One auth guard call, compiled once for the login and the offline report (README "Size").
async fn guard_call(env: &Env, r: GuardReq) -> std::result::Result<GuardReply, ApiError> {
    call(&guard(env)?, r).await
}

async fn origin_set(env: &Env, set: OriginSet) -> std::result::Result<auth_guard::Changed, ApiError> {
    call(&guard(env)?, set).await
}

/// Record the fleet-wide origin state; the alerts to send for what changed.
async fn set_origin(env: &Env, down: Option<bool>, misconfigured: Option<bool>) -> Vec<Alert> {
    match origin_set(env, OriginSet { down, misconfigured }).await {
        Ok(c) => {
            let mut out = Vec::new();
            if c.down {
                out.push(if down == Some(true) { Alert::origin_down() } else { Alert::origin_up() });
            }
            if c.misconfigured && misconfigured == Some(true) {
                out.push(Alert::origin_misconfigured());
            }
            out
        }
        Err(e) => {
            log_error!("origin state: {}", e.message);
            Vec::new()
        }
    }
}

async fn origin_state(env: &Env) -> std::result::Result<OriginState, ApiError> {
    call(&guard(env)?, OriginGetReq {}).await
}

/// What `/healthz` adds about the origin: a token it refuses.
pub async fn origin_problems(env: &Env, cfg: &Config, now: i64) -> Vec<ConfigProblem> {
    if !cfg.auth_configured() {
        return Vec::new();
    }
    let misconfigured = match HEALTH_MEMO.with(Cell::get) {
        Some((at, m)) if now - at < HEALTH_MEMO_MS && !ORIGIN_FLAGGED.with(Cell::get) => m,
        _ => {
            let m = origin_state(env).await.map(|s| s.misconfigured).unwrap_or(false);
            HEALTH_MEMO.with(|c| c.set(Some((now, m))));
            m
        }
    };
    if !misconfigured {
        return Vec::new();
    }
    vec![ConfigProblem {
        name: "ORIGIN_API_TOKEN",
        problem: "the origin refuses it (401/403): every login is denied (origin_misconfigured)".into(),
    }]
}

/// The round's look at a down or misconfigured origin: one probe a minute.
pub async fn check_origin(env: &Env, cfg: &Config) -> Vec<Alert> {
    let state = origin_state(env).await.unwrap_or_default();
    if !state.down && !state.misconfigured {
        return Vec::new();
    }
    let Ok(pw) = webcrypto::random::<16>() else { return Vec::new() };
    let misconfigured = match origin::ask(cfg, origin::PROBE_USERNAME, &hex(&pw)).await {
        OriginAnswer::Unavailable => return Vec::new(),
        OriginAnswer::Misconfigured { .. } => true,
        _ => false,
    };
    set_origin(env, Some(false), Some(misconfigured)).await
}

/// Record the origin state off the answer's path and send the alerts it raises. One
/// background task for every caller, compiled once (README "Size").
fn origin_in_background(ctx: &Context, env: &Env, cfg: &Rc<Config>, down: Option<bool>, misconfigured: Option<bool>) {
    let (env, cfg) = (env.clone(), cfg.clone());
    crate::join::in_background(ctx, async move {
        alerts::send(&cfg, set_origin(&env, down, misconfigured).await).await;
    });
}

/// [`reverify`] off the answer's path; a failure is logged as "re-verification {why}
/// failed". One background task for every caller, compiled once (README "Size").
fn reverify_in_background(ctx: &Context, env: &Env, cfg: &Rc<Config>, now: i64, why: &'static str) {
    let (env, cfg) = (env.clone(), cfg.clone());
    crate::join::in_background(ctx, async move {
        if let Err(e) = reverify(&env, &cfg, now).await {
            log_error!("re-verification {why} failed: {}", e.message);
        }
    });
}

/// Re-verify what the ledger holds; used by the cron round and after an origin answer.
/// Every caller only logs a failure, so the report (`ReverifyReport`) is not decoded
/// (README "Size").
pub async fn reverify(env: &Env, cfg: &Config, now_ms: i64) -> Result<()> {
    call_text(&ledger(env)?, ReverifyReq { now_ms, max_attempts: cfg.reverify_max_attempts }).await.map(drop)
}

fn unreadable<T>(what: &str, r: std::result::Result<T, ApiError>) -> Read<T> {
    r.map_err(|e| {
        log_error!("auth: {what} unavailable: {}", e.message);
        Unreadable
    })
}

/// The cache epoch and this user's entry. An unreadable epoch makes the whole cache
/// unreadable (guessing one could trust entries a flush revoked).
async fn read_cache(env: &Env, username: &str, now: i64) -> Read<(u64, Option<CacheEntry>)> {
    let epoch = unreadable("cache epoch", credential_cache::epoch(env, now).await)?;
    let entry = unreadable("cache entry", credential_cache::get(env, username).await)?;
    Ok((epoch, entry))
}

pub async fn auth(cx: &mut Cx<'_>) -> Result<Response> {
    // The `Rc`: a task handed to `wait_until` clones the pointer, never the `Config` (README "Size").
    let (env, ctx, cfg, now) = (cx.env, cx.ctx, &cx.cfg, cx.now_ms);
    // Replays of /v1/auth are made harmless here (effects keyed by the signature), not
    // refused: no Durable Object call on the hot path.
    let s = cx.signed()?;
    let (signed, body) = (&s.by, &s.body);
    let signature = signed.replay_key.clone();
    let a = AuthRequest::parse(&http::parse_fields(body)?)?;
    // Derived from the signature: a replayed request names the same session, and its
    // degraded-path effects are written once (README "Auth when the origin fails").
    let session_id = session_id_for(&signature);
    let settings = AuthSettings {
        configured: cfg.auth_configured(),
        cache_enabled: cfg.cred_pepper.is_some(),
        policy: cfg.fail_open_policy,
        refresh_s: cfg.cache_refresh_s,
        now_ms: now,
        origin_flagged: ORIGIN_FLAGGED.with(Cell::get),
    };
    let mut facts = Facts::default();
    let mut epoch = None;
    let mut entry = None;
    let outcome: Outcome = loop {
        match next(&settings, &facts) {
            Next::Answer(o) => break o,
            Next::AskOrigin => {
                let (answer, breaker_opened) = origin::verify(cfg, &a.username, &a.password, now).await;
                if breaker_opened {
                    origin_in_background(ctx, env, cfg, Some(true), None);
                }
                facts.origin = Some(answer);
            }
            Next::ReadCache => {
                facts.cache = Some(read_cache(env, &a.username, now).await.map(|(e, ent)| {
                    let view = CacheView::of(ent.as_ref(), e, now, cfg.cache_max_age_days);
                    (epoch, entry) = (Some(e), ent);
                    view
                }));
            }
            Next::Hash => {
                facts.matches = Some(match (&entry, &cfg.cred_pepper) {
                    (Some(e), Some(pepper)) => {
                        unreadable("hash", credential_cache::matches(e, pepper, &a.password).await)
                    }
                    _ => Err(Unreadable),
                });
            }
            Next::Guard(action) => {
                let r = GuardReq {
                    user: sha256_hex(a.username.as_bytes()),
                    client_ip: a.client_ip.to_string(),
                    tag: effect_tag(&signature),
                    action,
                    now_ms: now,
                    user_max: cfg.lockout_user_max,
                    cap: cfg.provisional_per_minute,
                };
                facts.guard = Some(unreadable("auth guard", guard_call(env, r).await));
            }
            Next::Record(source) => {
                let rec = RecordReq {
                    session_id: session_id.clone(),
                    server_id: signed.server.clone(),
                    username: a.username.clone(),
                    password: a.password.clone(),
                    client_ip: a.client_ip.to_string(),
                    client_port: a.client_port,
                    source,
                    admitted_at: now,
                };
                // Only success matters: the reply (`Recorded`) is not decoded (README "Size").
                let r = match ledger(env) {
                    Ok(stub) => call_text(&stub, rec).await,
                    Err(e) => Err(e),
                };
                let r = unreadable("session ledger", r).map(drop);
                if r.is_ok() {
                    RECORDED_DEGRADED.with(|f| f.set(true));
                }
                facts.recorded = Some(r);
            }
        }
    };
    perform(env, ctx, cfg, &a, &outcome, epoch, now).await;
    if let Some(origin_answer) = facts.origin {
        if kicks_reverify(origin_answer, RECORDED_DEGRADED.with(Cell::get)) {
            RECORDED_DEGRADED.with(|f| f.set(false));
            reverify_in_background(ctx, env, cfg, now, "after the origin came back");
        }
    }
    http::json(
        200,
        &AuthAnswer { decision: outcome.decision, source: outcome.source, session_id, reason: outcome.reason },
    )
}

/// The outcome's effects, as decided: none of them changes the answer.
async fn perform(
    env: &Env,
    ctx: &Context,
    cfg: &Rc<Config>,
    a: &AuthRequest,
    outcome: &Outcome,
    epoch: Option<u64>,
    now: i64,
) {
    for effect in &outcome.effects {
        match effect {
            Effect::DeleteCache => {
                if let Err(e) = credential_cache::delete(env, &a.username).await {
                    log_error!("could not delete a revoked cache entry: {}", e.message);
                }
            }
            Effect::WriteCache => {
                if let (Some(pepper), Some(epoch)) = (cfg.cred_pepper.clone(), epoch) {
                    // Off the answer's path: the hash costs a PBKDF2 run.
                    let (env, username, password, max_age) =
                        (env.clone(), a.username.clone(), a.password.clone(), cfg.cache_max_age_days);
                    crate::join::in_background(ctx, async move {
                        if let Err(e) =
                            credential_cache::write(&env, &username, &password, &pepper, epoch, now, max_age).await
                        {
                            log_error!("credential cache write failed: {}", e.message);
                        }
                    });
                }
            }
            Effect::OriginMisconfigured => {
                ORIGIN_FLAGGED.with(|f| f.set(true));
                log_error!("origin refused the edge's token (401/403): logins are denied");
                origin_in_background(ctx, env, cfg, Some(false), Some(true));
            }
            Effect::OriginWorks => {
                ORIGIN_FLAGGED.with(|f| f.set(false));
                // Clearing the flag raises no alert (nothing is sent); a failure is logged inside.
                origin_in_background(ctx, env, cfg, None, Some(false));
            }
        }
    }
}

pub async fn end_session(cx: &mut Cx<'_>) -> Result<Response> {
    let env = cx.env;
    let s = cx.signed()?;
    let (signed, body) = (&s.by, &s.body);
    let f = http::parse_fields(body)?;
    let session_id = SessionId::parse(f.str("session_id")?).map_err(|e| RequestError::field("session_id", e.0))?;
    // The ledger's `Ended` as it encoded it, never decoded (README "Size").
    let r = call_text(&ledger(env)?, EndReq { session_id, server_id: signed.server.clone() }).await?;
    http::json_bytes(200, r.into_bytes())
}

#[derive(Serialize)]
struct Recorded {
    index: usize,
    session_id: SessionId,
}

#[derive(Serialize)]
struct Rejected {
    index: usize,
    error: String,
}

#[derive(Serialize)]
struct OfflineAnswer {
    recorded: Vec<Recorded>,
    rejected: Vec<Rejected>,
}

/// Admissions a server made by itself while the edge was unreachable, judged item by
/// item: valid ones are recorded, each bad one is reported back by index.
pub async fn offline_sessions(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, ctx, cfg, now) = (cx.env, cx.ctx, &cx.cfg, cx.now_ms);
    let s = cx.signed()?;
    let (signed, body) = (&s.by, &s.body);
    let signature = signed.replay_key.clone();
    let items = parse_offline(&http::parse_fields(body)?, now, cfg.offline_max_age_h)?;
    let server = &signed.server;
    let mut rejected = Vec::new();
    let mut valid = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Ok(a) => valid.push((index, a)),
            Err(e) => rejected.push(Rejected { index, error: ApiError::from(e).message }),
        }
    }
    let records: Vec<RecordReq> = valid
        .iter()
        .map(|(_, a)| RecordReq {
            session_id: offline_session_id(server, a),
            server_id: server.clone(),
            username: a.username.clone(),
            password: a.password.clone(),
            client_ip: a.client_ip.to_string(),
            client_port: a.client_port,
            source: Admission::Offline,
            admitted_at: a.admitted_at_ms,
        })
        .collect();
    let ids: Vec<SessionId> = records.iter().map(|r| r.session_id.clone()).collect();
    let results: Vec<OfflineItem> =
        if records.is_empty() { Vec::new() } else { call(&ledger(env)?, OfflineReq { items: records }).await? };
    let mut recorded = Vec::new();
    for (((index, a), id), result) in valid.iter().zip(ids).zip(results) {
        if result.recorded {
            recorded.push(Recorded { index: *index, session_id: id });
            continue;
        }
        if result.failure {
            // More pending offline sessions for one username than reconnects explain: a
            // failure toward that user's lockout, keyed by this item.
            let r = GuardReq {
                user: sha256_hex(a.username.as_bytes()),
                client_ip: a.client_ip.to_string(),
                tag: effect_tag(&format!("{signature}#{index}")),
                action: GuardAction::Fail,
                now_ms: now,
                user_max: cfg.lockout_user_max,
                cap: cfg.provisional_per_minute,
            };
            if let Err(e) = guard_call(env, r).await {
                log_error!("offline: could not count a failure: {}", e.message);
            }
        }
        rejected.push(Rejected { index: *index, error: result.error.unwrap_or_default() });
    }
    vpn_edge_core::sort::sort_by_key(&mut rejected, |r| r.index);
    if !recorded.is_empty() && !origin::breaker_open() {
        reverify_in_background(ctx, env, cfg, now, "of offline admissions");
    }
    http::json(200, &OfflineAnswer { recorded, rejected })
}

pub async fn ack_disconnects(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, now) = (cx.env, cx.now_ms);
    let s = cx.signed()?;
    let (signed, body) = (&s.by, &s.body);
    let session_ids = parse_acks(&http::parse_fields(body)?)?;
    // The ledger's `Acked` as it encoded it, never decoded (README "Size").
    let r = call_text(&ledger(env)?, AckReq { server_id: signed.server.clone(), session_ids, now_ms: now }).await?;
    http::json_bytes(200, r.into_bytes())
}

/// The server's pending disconnects for the heartbeat answer: the ledger's JSON text of
/// its `Vec<Disconnect>`, shown as it is and never decoded (README "Size"). A ledger
/// outage must not fail the heartbeat: the list is delivered on a later one.
pub async fn disconnects_for(env: &Env, server_id: &ServerId) -> String {
    let r = match ledger(env) {
        Ok(stub) => call_text(&stub, ServerReq { server_id: server_id.clone() }).await,
        Err(e) => Err(e),
    };
    r.unwrap_or_else(|e: ApiError| {
        log_error!("disconnect list unavailable: {}", e.message);
        "[]".to_owned()
    })
}

/// Every session the ledger holds, in its state, never a password: `{"sessions": [..]}`
/// around the ledger's text of its `Vec<SessionView>`, never decoded (README "Size").
pub async fn admin_sessions(cx: &mut Cx<'_>) -> Result<Response> {
    let sessions = call_text(&ledger(cx.env)?, SessionsReq {}).await?;
    http::json_bytes(200, http::object(&[("sessions", sessions.as_bytes())]))
}

pub async fn admin_cache_flush(cx: &mut Cx<'_>) -> Result<Response> {
    let epoch = credential_cache::flush(cx.env, cx.now_ms).await?;
    http::json_bytes(200, http::object(&[("epoch", epoch.to_string().as_bytes())]))
}
