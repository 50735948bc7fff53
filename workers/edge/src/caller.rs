//! Who is calling: operators and integrations by bearer token, servers by signature.

use crate::http;
use crate::objects::replay_guard::UseReq;
use crate::rpc::{call, stub};
use crate::stores::fleet_store;
use vpn_edge_core::api_error::{ApiError, CallerError};
use vpn_edge_core::config::Config;
use vpn_edge_core::signature::{check_headers, remember_until_ms, tokens_equal, SignatureHeaders, SignedBy};
use worker::{Env, Request};

/// `Authorization: Bearer <token>` against a configured secret, in constant time.
pub fn bearer(req: &Request, expected: Option<&str>, secret_name: &'static str) -> Result<(), ApiError> {
    let expected = expected.ok_or(CallerError::Disabled(secret_name))?;
    let header = req.headers().get("authorization").ok().flatten().unwrap_or_default();
    let given = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).unwrap_or("");
    if given.is_empty() || !tokens_equal(given.trim(), expected) {
        return Err(CallerError::BadToken.into());
    }
    Ok(())
}

/// Declared per route in the core's route table.
pub use vpn_edge_core::route::Replay;

/// A signed server request that passed every check, with its body.
pub struct Signed {
    pub by: SignedBy,
    /// The pool the server is registered in.
    pub country: String,
    pub body: Vec<u8>,
}

/// A signed server request, checked in the order that costs an attacker the most and the
/// edge the least: `FLEET_SECRET` configured (else `503 not_configured`); the headers
/// (server id, timestamp inside the window, a well-formed signature) before a byte of the
/// body is read; then the body, read as a bounded stream (`413` past 16 KiB); the HMAC
/// over it; the server's registration (`401`); the path's `{id}` (`path_server`) must be
/// the signer (`403`); and, for `Replay::Once`, the signature's first use.
pub async fn signed(
    req: &mut Request,
    env: &Env,
    cfg: &Config,
    path_server: Option<&str>,
    replay: Replay,
    now_ms: i64,
) -> Result<Signed, ApiError> {
    let secret = cfg.fleet_secret.as_deref().ok_or(CallerError::Disabled("FLEET_SECRET"))?;
    let h = |name: &str| req.headers().get(name).ok().flatten();
    let (server, timestamp, signature) = (h("x-edge-server"), h("x-edge-timestamp"), h("x-edge-signature"));
    let presented = check_headers(
        SignatureHeaders {
            server: server.as_deref(),
            timestamp: timestamp.as_deref(),
            signature: signature.as_deref(),
        },
        now_ms.div_euclid(1000),
    )?;
    // The snapshot (KV, memoised) knows every registered server but the newest few; an id
    // it does not know is looked up in the index only once the signature holds, so made-up
    // ids cannot make every request a Durable Object call.
    let known = fleet_store::snapshot(env, now_ms).await?.get(presented.server.as_str()).map(|s| s.country.to_string());
    let body = http::body_bytes(req).await?;
    let method = req.method().to_string();
    let by = presented.verify(secret, &method, &http::target(req), &body)?;
    let country = match known {
        Some(c) => c,
        None => fleet_store::country_of(env, &by.server, now_ms).await?.ok_or(CallerError::UnknownServer)?,
    };
    if path_server.is_some_and(|p| p != by.server.as_str()) {
        return Err(CallerError::WrongServer.into());
    }
    if replay == Replay::Once {
        first_use(env, &by, now_ms).await?;
    }
    Ok(Signed { by, country, body })
}

/// The replay check on its own: `Ok` the first time a signature is presented, `401
/// replayed` after (for `signature::remember_until_ms`). The signature is spent before the
/// request's effect, so two copies racing cannot both act; a request that then fails is
/// retried with a fresh signature (the hook and the agent sign every attempt).
pub async fn first_use(env: &Env, by: &SignedBy, now_ms: i64) -> Result<(), ApiError> {
    let guard = stub(env, "REPLAY", by.server.as_str(), "replay guard")?;
    let r =
        call(&guard, UseReq { key: by.replay_key.clone(), until_ms: remember_until_ms(by.timestamp), now_ms }).await?;
    if r.first {
        Ok(())
    } else {
        Err(CallerError::SignatureReused.into())
    }
}
