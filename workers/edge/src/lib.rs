//! vpn-edge: the Worker. Thin adapters only: routing, KV, Durable Objects, outbound
//! fetch and cron dispatch. Every policy lives in `vpn-edge-core`.

mod api;
mod caller;
mod env_config;
mod http;
mod jobs;
mod objects;
mod outbound;
mod rpc;
mod stores;
mod webcrypto;

use api::{admin, auth as auth_api, dns as dns_api, librenms, public, servers as server_api, sla as sla_api};
use jobs::round;
use outbound::alerts;

use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::route::{route, Route};
use worker::*;

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    // `req.path()` is cut from the runtime's serialized URL; `req.url()` would link the
    // `url` crate and its IDNA tables into the wasm for nothing (README "Size").
    let path = req.path();
    let method = req.method().to_string();
    let result = match route(&method, &path) {
        Err(e) => Err(ApiError::from(e)),
        Ok(r) => dispatch(r, &mut req, &env, &ctx).await,
    };
    let mut resp = match result {
        Ok(resp) => resp,
        Err(e) => http::error_response(&e),
    };
    // Every answer is exactly the type it declares (README "API"): no MIME sniffing.
    let _ = resp.headers_mut().set("x-content-type-options", "nosniff");
    Ok(resp)
}

async fn dispatch(
    r: Route<'_>,
    req: &mut Request,
    env: &Env,
    ctx: &Context,
) -> std::result::Result<Response, ApiError> {
    let cfg = env_config::load(env);
    match r {
        Route::StatusPage => public::status_page(req, env, &cfg).await,
        Route::Healthz => public::healthz(&cfg, auth_api::origin_problems(env, &cfg).await),
        Route::ListServers => public::list_servers(req, env).await,
        Route::GetServer(id) => public::get_server(req, env, id).await,
        Route::Countries => public::countries(req, env, &cfg).await,
        Route::Recommendations => public::recommendations(req, env).await,
        Route::Heartbeat(id) => server_api::heartbeat(req, env, &cfg, id).await,
        Route::AdminListServers => admin::list_servers(req, env, &cfg).await,
        Route::AdminGetServer(id) => admin::get_server(req, env, &cfg, id).await,
        Route::AdminPutServer(id) => admin::put_server(req, env, &cfg, id).await,
        Route::AdminPatchServer(id) => admin::patch_server(req, env, &cfg, id).await,
        Route::AdminDeleteServer(id) => admin::delete_server(req, env, &cfg, id).await,
        Route::Sla(month) => sla_api::report(req, env, month).await,
        Route::AdminSla(month) => sla_api::admin_report(req, env, &cfg, month).await,
        Route::AdminSlaCredit(month) => sla_api::credit_by_hand(req, env, &cfg, month).await,
        Route::Auth => auth_api::auth(req, env, ctx, &cfg).await,
        Route::SessionsEnd => auth_api::end_session(req, env, &cfg).await,
        Route::SessionsOffline => auth_api::offline_sessions(req, env, ctx, &cfg).await,
        Route::DisconnectsAck(id) => auth_api::ack_disconnects(req, env, &cfg, id).await,
        Route::AdminSessions => auth_api::admin_sessions(req, env, &cfg).await,
        Route::AdminCacheFlush => auth_api::admin_cache_flush(req, env, &cfg).await,
        Route::AdminDnsPlan => dns_api::plan(req, env, &cfg).await,
        Route::AdminDnsApply => dns_api::apply(req, env, &cfg).await,
        Route::LibreNms => librenms::alert(req, env, ctx, &cfg).await,
    }
}

/// The cron of the daily credit run (must match wrangler.toml character for character).
const DAILY_CREDITS_CRON: &str = "5 0 * * *";

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, ctx: ScheduleContext) {
    let cfg = env_config::load(&env);
    let at = event.schedule() as i64;
    if event.cron() == DAILY_CREDITS_CRON {
        sla_api::daily_credits(&env, at).await;
        return;
    }
    match round::run(&env, &cfg, at).await {
        Ok(raised) if !raised.is_empty() => ctx.wait_until(async move { alerts::send(&cfg, raised).await }),
        Ok(_) => {}
        Err(e) => console_error!("round failed: {} {}", e.code, e.message),
    }
}
