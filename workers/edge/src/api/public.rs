//! Public, unauthenticated, cacheable reads, served from the snapshot.

use crate::context::Cx;
use crate::http::{self, Result};
use crate::stores::fleet_store;
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use vpn_edge_core::api_error::{ApiError, LookupError};
use vpn_edge_core::fleet::{CountrySummary, ServerFilter, ServerView, Snapshot};
use vpn_edge_core::recommend::{parse_limit, recommend};
use worker::Response;

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
    servers: Vec<&'a ServerView>,
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    problems: &'a [vpn_edge_core::config::ConfigProblem],
    features: Vec<vpn_edge_core::config::FeatureState>,
}

pub async fn healthz(cx: &mut Cx<'_>) -> Result<Response> {
    let cfg = &cx.cfg;
    let body = Health {
        status: if cfg.problems.is_empty() { "ok" } else { "misconfigured" },
        problems: &cfg.problems,
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
    let q = http::query(cx.req);
    let filter = ServerFilter::parse(&q)?;
    let limit = parse_limit(&q)?;
    let snap = fleet_store::snapshot(cx.env, cx.now_ms).await?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|_| ApiError::internal("random"))?;
    let servers = recommend(&snap.servers, &filter, limit, u64::from_le_bytes(random));
    // Each answer is a fresh draw: shared caches must not pin every client to one pick.
    http::json(200, &Recommended { servers })
}

pub async fn status_page(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, cfg, now) = (cx.env, &cx.cfg, cx.now_ms);
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
    http::cacheable(cx.req, "text/html; charset=utf-8", html.into_bytes())
}
