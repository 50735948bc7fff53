//! Health probes of VPN servers (README "Probers"): `http` is a 2xx before the timeout,
//! `tcp` a connection before the timeout (Workers sockets), at most six in flight at once
//! in a sliding window (an invocation may hold six connections; a slow probe holds one
//! slot, not a whole batch).

use crate::outbound;
use js_sys::{Object, Reflect};
use serde::Serialize;
use std::cell::RefCell;
use vpn_edge_core::registration::Probe;
use vpn_edge_core::sort::SortedMap;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{worker_sys, Method};

/// Connections an invocation may hold open at once (the Workers limit; the core sizes the
/// slices from it).
pub use vpn_edge_core::probe::CONCURRENCY;

/// `User-Agent` of every probe request.
pub const USER_AGENT: &str = concat!("vpn-edge-probe/", env!("CARGO_PKG_VERSION"));

/// One server to probe.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Target {
    pub id: String,
    pub probe: Probe,
    pub hostname: String,
}

// Read from a map only, as the core's structs are (README "Size"): the derive also
// compiles a reader for the struct written as an array, which serde_json never gets here.
vpn_edge_core::map_struct!(Target { id, probe, hostname });

/// Probe one server; `region` goes out as `X-Edge-Probe-Region` on http probes, and the
/// prober object's name as `X-Edge-Prober` (which slice saw what, in the server's logs).
pub async fn probe(p: &Probe, hostname: &str, region: &str, prober: &str, timeout_ms: u32) -> bool {
    match p {
        Probe::Heartbeat => false,
        Probe::Http { url } => matches!(
            outbound::send(
                Method::Get,
                url,
                &[("user-agent", USER_AGENT), ("x-edge-probe-region", region), ("x-edge-prober", prober)],
                None,
                timeout_ms
            )
            .await,
            Ok(r) if (200..300).contains(&r.status)
        ),
        Probe::Tcp { port } => {
            let Ok(socket) = connect(hostname, *port) else { return false };
            let ok = match socket.opened() {
                Ok(opened) => matches!(outbound::within(timeout_ms, JsFuture::from(opened)).await, Some(Ok(_))),
                Err(_) => false,
            };
            if let Ok(closed) = socket.close() {
                let _ = JsFuture::from(closed).await;
            }
            ok
        }
    }
}

/// `Socket::builder().connect(hostname, port)` (its default options: plain TCP, no half
/// open), straight to the runtime's `connect`: `worker`'s `Socket` also takes the streams'
/// reader and writer, and reads the addresses `opened` reports, none of which a probe
/// uses (README "Size").
fn connect(hostname: &str, port: u16) -> Result<worker_sys::Socket, JsValue> {
    let address = Object::new();
    Reflect::set(&address, &JsValue::from_str("hostname"), &JsValue::from_str(hostname))?;
    Reflect::set(&address, &JsValue::from_str("port"), &JsValue::from(port))?;
    let options = Object::new();
    Reflect::set(&options, &JsValue::from_str("allowHalfOpen"), &JsValue::FALSE)?;
    Reflect::set(&options, &JsValue::from_str("secureTransport"), &JsValue::from_str("off"))?;
    worker_sys::connect(address.into(), options.into())
}

/// Probe every target, `CONCURRENCY` at a time; results by server id. `CONCURRENCY`
/// workers take the next target as each probe ends, the sliding window of
/// `buffer_unordered` without its `FuturesUnordered` compiled for this one future type:
/// the workers are boxed unit futures, waited for by `join::join_units`, the wait every
/// boxed unit future shares (README "Size").
pub async fn run(targets: Vec<Target>, region: &str, prober: &str, timeout_ms: u32) -> SortedMap<String, bool> {
    use futures_util::future::LocalBoxFuture;
    let queue = RefCell::new(targets.into_iter());
    let results = RefCell::new(SortedMap::default());
    let (queue, results_ref) = (&queue, &results);
    let workers: Vec<LocalBoxFuture<'_, ()>> = (0..CONCURRENCY)
        .map(|_| -> LocalBoxFuture<'_, ()> {
            Box::pin(async move {
                loop {
                    let Some(t) = queue.borrow_mut().next() else { return };
                    let ok = probe(&t.probe, &t.hostname, region, prober, timeout_ms).await;
                    results_ref.borrow_mut().insert(t.id, ok);
                }
            })
        })
        .collect();
    crate::join::join_units(workers).await;
    results.into_inner()
}
