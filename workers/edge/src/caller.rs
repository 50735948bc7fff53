//! Who is calling: operators and integrations by bearer token, servers by signature.

use crate::stores::fleet_store;
use vpn_edge_core::api_error::{ApiError, CallerError};
use vpn_edge_core::signature::{tokens_equal, verify, SignatureHeaders, SignedBy};
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

/// A signed server request: signature, clock window and registration. `path_server` is
/// the `{id}` of `/v1/servers/{id}/…`, which must be the signer.
pub async fn server(
    req: &Request,
    env: &Env,
    fleet_secret: Option<&str>,
    body: &[u8],
    path_server: Option<&str>,
    now_ms: i64,
) -> Result<(SignedBy, String), ApiError> {
    let secret = fleet_secret.ok_or(CallerError::Disabled("FLEET_SECRET"))?;
    let h = |name: &str| req.headers().get(name).ok().flatten();
    let (server, timestamp, signature) = (h("x-edge-server"), h("x-edge-timestamp"), h("x-edge-signature"));
    let headers = SignatureHeaders {
        server: server.as_deref(),
        timestamp: timestamp.as_deref(),
        signature: signature.as_deref(),
    };
    let method = req.method().to_string();
    let signed = verify(secret, headers, &method, &crate::http::target(req), body, now_ms.div_euclid(1000))?;
    let country =
        fleet_store::country_of(env, signed.server.as_str(), now_ms).await?.ok_or(CallerError::UnknownServer)?;
    if path_server.is_some_and(|p| p != signed.server.as_str()) {
        return Err(CallerError::WrongServer.into());
    }
    Ok((signed, country))
}
