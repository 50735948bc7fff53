//! `POST /v1/auth` and the session endpoints around it. The core decides (decision table,
//! lockout, cap); this module asks the origin, reads the cache and performs the effects.

use crate::context::Cx;
use crate::http::{self, Result};
use crate::objects::auth_guard;
use crate::objects::session_ledger::{AckReq, EndReq, PendingSession, RecordReq, ReverifyReport, ServerReq};
use crate::outbound::{alerts, origin};
use crate::rpc::{call, stub};
use crate::stores::credential_cache;
use crate::webcrypto;
use serde::Serialize;
use std::cell::Cell;
use vpn_edge_core::alerts::Alert;
use vpn_edge_core::api_error::{ApiError, RequestError};
use vpn_edge_core::auth::{
    checks_lockout, consults_cache, decide, needs_match, parse_acks, parse_offline, provisional_refused, AuthRequest,
    CacheView, Context as AuthContext, Decision, Effect, OriginAnswer, Outcome, Source,
};
use vpn_edge_core::config::Config;
use vpn_edge_core::signature::{hex, sha256_hex};
use vpn_edge_core::types::SessionId;
use worker::{Context, Env, Response, Stub};

thread_local! {
    /// This isolate recorded degraded admissions: the next origin answer here starts
    /// their re-verification at once instead of waiting for the cron round. Starts true: a
    /// fresh isolate (after a deploy or an eviction) cannot know what an earlier one recorded,
    /// so its first origin answer asks the ledger once.
    static RECORDED_DEGRADED: Cell<bool> = const { Cell::new(true) };
}

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
    session_id: String,
    reason: &'static str,
}

fn new_session_id() -> Result<String> {
    Ok(hex(&webcrypto::random::<16>().map_err(|_| ApiError::internal("random"))?))
}

/// Record the fleet-wide origin state; the alert to send when it changed.
pub async fn set_origin_state(env: &Env, down: bool) -> Option<Alert> {
    let r: std::result::Result<auth_guard::Changed, ApiError> = match guard(env) {
        Ok(stub) => call(&stub, "origin_set", &auth_guard::OriginState { down }).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(c) if c.changed => Some(if down { Alert::origin_down() } else { Alert::origin_up() }),
        Ok(_) => None,
        Err(e) => {
            worker::console_error!("origin state: {}", e.message);
            None
        }
    }
}

/// The round's look at a down origin: one probe a minute; any answer means it is back.
pub async fn check_origin(env: &Env, cfg: &Config) -> Option<Alert> {
    let r: std::result::Result<auth_guard::OriginState, ApiError> = match guard(env) {
        Ok(stub) => call(&stub, "origin_get", &()).await,
        Err(e) => Err(e),
    };
    if !r.map(|s| s.down).unwrap_or(false) {
        return None;
    }
    let probe_password = hex(&webcrypto::random::<16>().ok()?);
    if origin::ask(cfg, origin::PROBE_USERNAME, &probe_password).await == OriginAnswer::Unavailable {
        return None;
    }
    set_origin_state(env, false).await
}

/// Re-verify what the ledger holds; used by the cron round and after an origin answer.
pub async fn reverify(env: &Env) -> Result<ReverifyReport> {
    call(&ledger(env)?, "reverify", &()).await
}

pub async fn auth(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, ctx, cfg, now) = (cx.env, cx.ctx, &*cx.cfg, cx.now_ms);
    let signed = &cx.signed()?.by;
    let a = AuthRequest::parse(&http::parse_fields(&cx.signed()?.body)?)?;
    let (origin_answer, breaker_opened) = origin::verify(cfg, &a.username, &a.password, now).await;
    if breaker_opened {
        let (env, cfg) = (env.clone(), cfg.clone());
        ctx.wait_until(async move {
            if let Some(alert) = set_origin_state(&env, true).await {
                alerts::send(&cfg, vec![alert]).await;
            }
        });
    }
    let user_key = sha256_hex(a.username.as_bytes());

    // The cache, only as far as this answer needs it. Without CRED_PEPPER it is off.
    let consult = cfg.cred_pepper.is_some() && consults_cache(origin_answer, cfg.fail_open_policy);
    // An unreadable epoch turns the cache off for this login: guessing one could trust
    // entries a flush revoked. An unreadable entry counts as missing.
    let epoch = if consult { credential_cache::epoch(env, now).await.ok() } else { None };
    let (mut view, entry) = match epoch {
        Some(epoch) => {
            let entry = credential_cache::get(env, &a.username).await.unwrap_or(None);
            (CacheView::of(entry.as_ref(), epoch, now, cfg.cache_max_age_days), entry)
        }
        None => (CacheView::Missing, None),
    };
    if let (Some(e), Some(pepper), CacheView::Fresh { .. }) = (&entry, &cfg.cred_pepper, view) {
        if needs_match(origin_answer, true, cfg.fail_open_policy) {
            view = view.with_match(credential_cache::matches(e, pepper, &a.password).await?);
        }
    }

    let locked_out = if checks_lockout(origin_answer, cfg.fail_open_policy) {
        let r: std::result::Result<auth_guard::Locked, ApiError> =
            call(&guard(env)?, "check", &auth_guard::UserReq { user: user_key.clone(), now_ms: now }).await;
        r.map(|l| l.locked).unwrap_or_else(|e| {
            worker::console_error!("auth guard unavailable: {}", e.message);
            false
        })
    } else {
        false
    };
    let mut outcome = decide(
        origin_answer,
        AuthContext {
            cache: view,
            policy: cfg.fail_open_policy,
            locked_out,
            now_ms: now,
            refresh_s: cfg.cache_refresh_s,
        },
    );
    if outcome.source == Source::Provisional {
        let r: std::result::Result<auth_guard::Granted, ApiError> = call(
            &guard(env)?,
            "provisional",
            &auth_guard::ProvisionalReq { now_ms: now, cap: cfg.provisional_per_minute },
        )
        .await;
        if !r.map(|g| g.granted).unwrap_or(false) {
            outcome = provisional_refused();
        }
    }

    let session_id = new_session_id()?;
    outcome = perform(env, ctx, cfg, &a, &outcome, &session_id, signed.server.as_str(), &user_key, epoch, now).await;

    if origin_answer != OriginAnswer::Unavailable && RECORDED_DEGRADED.with(|f| f.replace(false)) {
        let env = env.clone();
        ctx.wait_until(async move {
            if let Err(e) = reverify(&env).await {
                worker::console_error!("re-verification after the origin came back failed: {}", e.message);
            }
        });
    }
    http::json(
        200,
        &AuthAnswer { decision: outcome.decision, source: outcome.source, session_id, reason: outcome.reason },
    )
}

#[allow(clippy::too_many_arguments)]
async fn perform(
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    a: &AuthRequest,
    outcome: &Outcome,
    session_id: &str,
    server_id: &str,
    user_key: &str,
    epoch: Option<u64>,
    now: i64,
) -> Outcome {
    let mut outcome = outcome.clone();
    for effect in outcome.effects.clone() {
        match effect {
            Effect::RecordSession => {
                let rec = RecordReq {
                    session_id: session_id.to_owned(),
                    server_id: server_id.to_owned(),
                    username: a.username.clone(),
                    password: a.password.clone(),
                    client_ip: a.client_ip.to_string(),
                    client_port: a.client_port,
                    source: if outcome.source == Source::Cache { "cache".into() } else { "provisional".into() },
                    admitted_at: now,
                };
                let r: std::result::Result<serde_json::Value, ApiError> = match ledger(env) {
                    Ok(stub) => call(&stub, "record", &rec).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(_) => RECORDED_DEGRADED.with(|f| f.set(true)),
                    Err(e) => {
                        // An admission that cannot be re-verified later is not made.
                        worker::console_error!("session ledger refused a record: {}", e.message);
                        outcome = Outcome {
                            decision: Decision::Deny,
                            source: Source::Policy,
                            reason: "origin unavailable and the admission could not be recorded",
                            effects: vec![],
                        };
                    }
                }
            }
            Effect::CountFailure => {
                let r: std::result::Result<auth_guard::Locked, ApiError> = match guard(env) {
                    Ok(stub) => {
                        call(&stub, "fail", &auth_guard::UserReq { user: user_key.to_owned(), now_ms: now }).await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = r {
                    worker::console_error!("auth guard could not count a failure: {}", e.message);
                }
            }
            Effect::DeleteCache => {
                if let Err(e) = credential_cache::delete(env, &a.username).await {
                    worker::console_error!("could not delete a revoked cache entry: {}", e.message);
                }
            }
            Effect::WriteCache => {
                if let (Some(pepper), Some(epoch)) = (cfg.cred_pepper.clone(), epoch) {
                    // Off the answer's path: the hash costs a PBKDF2 run.
                    let (env, username, password, max_age) =
                        (env.clone(), a.username.clone(), a.password.clone(), cfg.cache_max_age_days);
                    ctx.wait_until(async move {
                        if let Err(e) =
                            credential_cache::write(&env, &username, &password, &pepper, epoch, now, max_age).await
                        {
                            worker::console_error!("credential cache write failed: {}", e.message);
                        }
                    });
                }
            }
        }
    }
    outcome
}

pub async fn end_session(cx: &mut Cx<'_>) -> Result<Response> {
    let env = cx.env;
    let (signed, body) = (&cx.signed()?.by, &cx.signed()?.body);
    let f = http::parse_fields(body)?;
    let session_id = SessionId::parse(f.str("session_id")?).map_err(|e| RequestError::field("session_id", e.0))?;
    let r: serde_json::Value = call(
        &ledger(env)?,
        "end",
        &EndReq { session_id: session_id.to_string(), server_id: signed.server.to_string() },
    )
    .await?;
    http::json(200, &r)
}

#[derive(Serialize)]
struct OfflineAnswer {
    recorded: usize,
    session_ids: Vec<String>,
}

/// Admissions a server made by itself while the edge was unreachable.
pub async fn offline_sessions(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, ctx, now) = (cx.env, cx.ctx, cx.now_ms);
    let (signed, body) = (&cx.signed()?.by, &cx.signed()?.body);
    let admissions = parse_offline(&http::parse_fields(body)?, now)?;
    let mut records = Vec::with_capacity(admissions.len());
    for a in admissions {
        records.push(RecordReq {
            session_id: new_session_id()?,
            server_id: signed.server.to_string(),
            username: a.username,
            password: a.password,
            client_ip: a.client_ip.to_string(),
            client_port: a.client_port,
            source: "offline".into(),
            admitted_at: a.admitted_at_ms,
        });
    }
    let stub = ledger(env)?;
    let mut ids = Vec::with_capacity(records.len());
    for rec in records {
        ids.push(rec.session_id.clone());
        let _: serde_json::Value = call(&stub, "record", &rec).await?;
    }
    if !ids.is_empty() && !origin::breaker_open() {
        let env = env.clone();
        ctx.wait_until(async move {
            if let Err(e) = reverify(&env).await {
                worker::console_error!("re-verification after offline admissions failed: {} {}", e.code, e.message);
            }
        });
    }
    http::json(200, &OfflineAnswer { recorded: ids.len(), session_ids: ids })
}

pub async fn ack_disconnects(cx: &mut Cx<'_>) -> Result<Response> {
    let env = cx.env;
    let (signed, body) = (&cx.signed()?.by, &cx.signed()?.body);
    let session_ids = parse_acks(&http::parse_fields(body)?)?.into_iter().map(|id| id.to_string()).collect();
    let r: serde_json::Value =
        call(&ledger(env)?, "ack", &AckReq { server_id: signed.server.to_string(), session_ids }).await?;
    http::json(200, &r)
}

/// The server's pending disconnects, for the heartbeat answer. A ledger outage must not
/// fail the heartbeat: the list is delivered on a later one.
pub async fn disconnects_for(env: &Env, server_id: &str) -> Vec<crate::objects::session_ledger::Disconnect> {
    let r = match ledger(env) {
        Ok(stub) => call(&stub, "disconnects", &ServerReq { server_id: server_id.to_owned() }).await,
        Err(e) => Err(e),
    };
    r.unwrap_or_else(|e: ApiError| {
        worker::console_error!("disconnect list unavailable: {}", e.message);
        Vec::new()
    })
}

#[derive(Serialize)]
struct Pending {
    sessions: Vec<PendingSession>,
}

pub async fn admin_sessions(cx: &mut Cx<'_>) -> Result<Response> {
    let sessions: Vec<PendingSession> = call(&ledger(cx.env)?, "pending", &()).await?;
    http::json(200, &Pending { sessions })
}

pub async fn admin_cache_flush(cx: &mut Cx<'_>) -> Result<Response> {
    let epoch = credential_cache::flush(cx.env, cx.now_ms).await?;
    http::json(200, &serde_json::json!({ "epoch": epoch }))
}
