//! Outbound HTTP to the outside world (origin, DNS provider, billing, webhooks) with a
//! timeout: Workers' fetch has none, so it races a `Delay` and aborts the loser.

pub mod alerts;
pub mod dns_provider;
pub mod origin;
pub mod probe;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use std::time::Duration;
use worker::{AbortController, Delay, Fetch, Headers, Method, RequestRedirect};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    Timeout,
    /// Connection refused, DNS failure, TLS failure: the message is the runtime's.
    Network(String),
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("timeout"),
            Self::Network(e) => write!(f, "network error: {e}"),
        }
    }
}

pub struct Reply {
    pub status: u16,
    /// `Retry-After` (seconds), when the service sent one.
    pub retry_after: Option<String>,
    pub body: String,
}

/// Race `work` against a timer of `timeout_ms`; `None` when the timer won.
pub async fn within<T>(timeout_ms: u32, work: impl std::future::Future<Output = T>) -> Option<T> {
    let timer = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    pin_mut!(work);
    match select(work, timer).await {
        Either::Left((r, _)) => Some(r),
        Either::Right(((), _)) => None,
    }
}

pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    timeout_ms: u32,
) -> Result<Reply, OutboundError> {
    send_with(method, url, headers, body, timeout_ms, RequestRedirect::Follow).await
}

/// As `send`, choosing what a redirect does (the origin's are answers, never followed:
/// following one would re-send a password to wherever it points).
pub async fn send_with(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    timeout_ms: u32,
    redirect: RequestRedirect,
) -> Result<Reply, OutboundError> {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v).map_err(|e| OutboundError::Network(e.to_string()))?;
    }
    let req =
        crate::http::outgoing(url, method, &h, body, redirect).map_err(|e| OutboundError::Network(e.to_string()))?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = async {
        let mut resp =
            Fetch::Request(req).send_with_signal(&signal).await.map_err(|e| OutboundError::Network(e.to_string()))?;
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let body = resp.text().await.map_err(|e| OutboundError::Network(e.to_string()))?;
        Ok(Reply { status: resp.status_code(), retry_after, body })
    };
    match within(timeout_ms, work).await {
        Some(r) => r,
        None => {
            controller.abort();
            Err(OutboundError::Timeout)
        }
    }
}
