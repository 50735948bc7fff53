//! Public, unauthenticated, cacheable reads, served from the snapshot.

use crate::context::Cx;
use crate::http::{self, Result};
use crate::stores::fleet_store;
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use vpn_edge_core::api_error::{ApiError, LookupError};
use vpn_edge_core::fleet::{CountrySummary, ServerFilter, ServerView, Snapshot};
use vpn_edge_core::recommend::{client_position, parse_limit, recommend};
use worker::{Request, Response};

#[derive(Serialize)]
struct ServerList<'a> {
    servers: Vec<&'a ServerView>,
    generated_at: &'a str,
}

#[derive(Serialize)]
struct Countries {
    countries: Vec<CountrySummary>,
}

#[derive(Serialize)]
struct Recommended<'a> {
    servers: Vec<vpn_edge_core::recommend::Recommended<'a>>,
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    problems: &'a [vpn_edge_core::config::ConfigProblem],
    features: Vec<vpn_edge_core::config::FeatureState>,
}

/// `runtime`: problems found while running (an origin that refuses the edge's token).
pub async fn healthz(cx: &mut Cx<'_>) -> Result<Response> {
    let cfg = &*cx.cfg;
    let runtime = crate::api::auth::origin_problems(cx.env, cfg, cx.now_ms).await;
    let problems: Vec<_> = cfg.problems.iter().cloned().chain(runtime).collect();
    let body = Health {
        status: if problems.is_empty() { "ok" } else { "misconfigured" },
        problems: &problems,
        features: cfg.features(),
    };
    http::json(200, &body)
}

/// A serialized answer and its ETag.
struct TaggedBody {
    bytes: Vec<u8>,
    etag: String,
}

/// The unfiltered list, serialized and tagged once per snapshot: it is the biggest public
/// answer (hundreds of KB for a large fleet) and the one most asked for.
type FullList = Option<(Rc<Snapshot>, Rc<TaggedBody>)>;

thread_local! {
    static FULL_LIST: RefCell<FullList> = const { RefCell::new(None) };
}

pub async fn list_servers(cx: &mut Cx<'_>) -> Result<Response> {
    let req = &*cx.req;
    let filter = ServerFilter::parse(&http::query(req))?;
    let snap = fleet_store::snapshot(cx.env, cx.now_ms).await?;
    if filter == ServerFilter::default() {
        let cached =
            FULL_LIST.with(|c| c.borrow().as_ref().filter(|(s, _)| Rc::ptr_eq(s, &snap)).map(|(_, b)| b.clone()));
        let body = match cached {
            Some(b) => b,
            None => {
                let list = ServerList { servers: snap.servers.iter().collect(), generated_at: &snap.generated_at };
                let bytes = serde_json::to_vec(&list).map_err(|_| ApiError::internal("serialize"))?;
                let etag = http::etag_of(&bytes);
                let b = Rc::new(TaggedBody { bytes, etag });
                FULL_LIST.with(|c| *c.borrow_mut() = Some((snap.clone(), b.clone())));
                b
            }
        };
        return http::cacheable_tagged(req, "application/json", body.bytes.clone(), &body.etag);
    }
    let servers = snap.servers.iter().filter(|s| filter.matches(s)).collect();
    http::cacheable_json(req, &ServerList { servers, generated_at: &snap.generated_at })
}

pub async fn get_server(cx: &mut Cx<'_>) -> Result<Response> {
    let snap = fleet_store::snapshot(cx.env, cx.now_ms).await?;
    let server = snap.get(cx.param).ok_or(ApiError::from(LookupError::NotFound("server")))?;
    http::cacheable_json(cx.req, server)
}

pub async fn countries(cx: &mut Cx<'_>) -> Result<Response> {
    let snap = fleet_store::snapshot(cx.env, cx.now_ms).await?;
    http::cacheable_json(cx.req, &Countries { countries: snap.countries(&cx.cfg.pool_prefix, &cx.cfg.dns_zone) })
}

pub async fn recommendations(cx: &mut Cx<'_>) -> Result<Response> {
    let req = &*cx.req;
    let q = http::query(req);
    let filter = ServerFilter::parse(&q)?;
    let limit = parse_limit(&q)?;
    let cf = cf_coordinates(req);
    let client = client_position(&q, cf.as_ref().map(|(a, b)| (a.as_str(), b.as_str())))?;
    let snap = fleet_store::snapshot(cx.env, cx.now_ms).await?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|_| ApiError::internal("random"))?;
    let servers = recommend(&snap.servers, &filter, limit, client, u64::from_le_bytes(random));
    // Each answer is a fresh draw: shared caches must not pin every client to one pick.
    http::json(200, &Recommended { servers })
}

/// `request.cf.latitude` / `longitude` as Cloudflare sends them (strings), read without the
/// `worker` crate's accessor, which panics on a value it cannot parse.
fn cf_coordinates(req: &Request) -> Option<(String, String)> {
    use wasm_bindgen::JsValue;
    let cf = js_sys::Reflect::get(req.inner(), &JsValue::from_str("cf")).ok().filter(|v| v.is_object())?;
    let field = |name: &str| {
        let v = js_sys::Reflect::get(&cf, &JsValue::from_str(name)).ok()?;
        v.as_string().or_else(|| v.as_f64().map(|n| n.to_string()))
    };
    Some((field("latitude")?, field("longitude")?))
}

pub async fn status_page(cx: &mut Cx<'_>) -> Result<Response> {
    let (req, env, cfg, now) = (&*cx.req, cx.env, &*cx.cfg, cx.now_ms);
    let snap = fleet_store::snapshot(env, now).await?;
    let month = vpn_edge_core::types::Month::of_minute(now.div_euclid(60_000));
    // The page still renders when the SLA ledger cannot be read.
    let (sla, days) = futures_util::join!(
        crate::api::sla::month_report(env, month, now),
        crate::api::sla::last_days(env, now, vpn_edge_core::status_page::DAYS_SHOWN)
    );
    let (sla, days) = (sla.ok(), days.unwrap_or_default());
    let countries = snap.countries(&cfg.pool_prefix, &cfg.dns_zone);
    let page = vpn_edge_core::status_page::Page {
        snapshot: &snap,
        countries: &countries,
        sla: sla.as_ref(),
        days: &days,
        today: now.div_euclid(86_400_000),
    };
    let html = vpn_edge_core::status_page::render(&page);
    let mut resp = http::cacheable(req, "text/html; charset=utf-8", html.into_bytes())?;
    // Only the page's own inline style and script (by hash) and fetches of itself.
    let _ = resp.headers_mut().set("content-security-policy", &vpn_edge_core::status_page::content_security_policy());
    Ok(resp)
}
