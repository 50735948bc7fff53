//! Outbound HTTP to the outside world (origin, DNS provider, billing, webhooks) with a
//! timeout: Workers' fetch has none, so it races a `Delay` and aborts the loser.

pub mod alerts;
pub mod dns_provider;
pub mod origin;
pub mod probe;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, RequestInit, WorkerGlobalScope};
use worker::{AbortController, Delay, Headers, Method, RequestRedirect};

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

/// A failure before any answer, in `worker`'s words.
fn network(e: worker::Error) -> OutboundError {
    OutboundError::Network(e.to_string())
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

/// `send_with`, following redirects.
pub fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    timeout_ms: u32,
) -> impl std::future::Future<Output = Result<Reply, OutboundError>> {
    send_with(method, url, headers, body, timeout_ms, RequestRedirect::Follow)
}

/// As `send`, choosing what a redirect does (the origin's are answers, never followed:
/// following one would re-send a password to wherever it points). A plain function: the
/// request is built at once and one non-generic future sends it, so a caller's future holds
/// no borrowed headers or URL and `send` is no state machine of its own (README "Size").
pub fn send_with(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    timeout_ms: u32,
    redirect: RequestRedirect,
) -> impl std::future::Future<Output = Result<Reply, OutboundError>> {
    exchange(request(method, url, headers, body, redirect), timeout_ms)
}

fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    redirect: RequestRedirect,
) -> Result<worker::Request, OutboundError> {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v).map_err(network)?;
    }
    crate::http::outgoing(url, method, &h, body, redirect).map_err(network)
}

async fn exchange(req: Result<worker::Request, OutboundError>, timeout_ms: u32) -> Result<Reply, OutboundError> {
    let req = req?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = async {
        // `Fetch::Request(req).send_with_signal(&signal)` without `Fetch`'s URL variant,
        // which links a second fetch (README "Size"); the same call and the same errors.
        let init = RequestInit::new();
        init.set_signal(Some(&signal));
        let global: WorkerGlobalScope = js_sys::global().unchecked_into();
        let fetched = JsFuture::from(global.fetch_with_request_and_init(req.inner(), &init))
            .await
            .and_then(JsCast::dyn_into::<web_sys::Response>);
        let mut resp = worker::Response::from(fetched.map_err(|e| network(e.into()))?);
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let body = resp.text().await.map_err(network)?;
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
