//! vpn-edge: the Worker. Thin adapters only: routing, KV, Durable Objects, outbound
//! fetch and cron dispatch. Every policy lives in `vpn-edge-core`.

#[macro_use]
mod log;
mod api;
mod caller;
mod context;
mod env_config;
mod http;
mod jobs;
mod join;
mod objects;
mod outbound;
mod rpc;
mod stores;
mod webcrypto;

use api::{admin, auth as auth_api, dns as dns_api, librenms, public, servers as server_api, sla as sla_api};
use jobs::round;
use outbound::alerts;

use context::{Caller, Cx};
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::route::{resolve, Access, Matched, Route};
use worker::*;

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    // `req.path()` is cut from the runtime's serialized URL; `req.url()` would link the
    // `url` crate and its IDNA tables into the wasm for nothing (README "Size").
    let path = req.path();
    let method = req.method().to_string();
    let result = match resolve(&method, &path) {
        Err(e) => Err(ApiError::from(e)),
        Ok(m) => dispatch(m, &mut req, &env, &ctx).await,
    };
    let mut resp = match result {
        Ok(resp) => resp,
        Err(e) => http::error_response(&e),
    };
    // Every answer is exactly the type it declares (README "API"): no MIME sniffing.
    let _ = resp.headers_mut().set("x-content-type-options", "nosniff");
    Ok(resp)
}

/// Reads the clock once, enforces the route's declared access (README "Signed by a
/// server": signature headers before the body), builds the context and calls the handler.
async fn dispatch(
    m: Matched<'_>,
    req: &mut Request,
    env: &Env,
    ctx: &Context,
) -> std::result::Result<Response, ApiError> {
    let cfg = env_config::load(env);
    let now_ms = http::now_ms();
    let caller = match m.access {
        Access::Public => Caller::Anyone,
        Access::Admin => {
            caller::bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
            Caller::Operator
        }
        Access::LibreNms => {
            caller::bearer(req, cfg.librenms_token.as_deref(), "LIBRENMS_TOKEN")?;
            Caller::LibreNms
        }
        Access::Server { path_id, replay } => {
            Caller::Server(caller::signed(req, env, &cfg, path_id, replay, now_ms).await?)
        }
    };
    let cx = &mut Cx { req, env, cfg, ctx, now_ms, param: m.param, caller };
    match m.route {
        Route::StatusPage => public::status_page(cx).await,
        Route::Healthz => public::healthz(cx).await,
        Route::ListServers => public::list_servers(cx).await,
        Route::GetServer(_) => public::get_server(cx).await,
        Route::Countries => public::countries(cx).await,
        Route::Recommendations => public::recommendations(cx).await,
        Route::Heartbeat(_) => server_api::heartbeat(cx).await,
        Route::AdminListServers => admin::list_servers(cx).await,
        Route::AdminGetServer(_) => admin::get_server(cx).await,
        Route::AdminPutServer(_) => admin::put_server(cx).await,
        Route::AdminPatchServer(_) => admin::patch_server(cx).await,
        Route::AdminDeleteServer(_) => admin::delete_server(cx).await,
        Route::Sla(_) => sla_api::report(cx).await,
        Route::AdminSla(_) => sla_api::admin_report(cx).await,
        Route::AdminSlaCredit(_) => sla_api::credit_by_hand(cx).await,
        Route::Auth => auth_api::auth(cx).await,
        Route::SessionsEnd => auth_api::end_session(cx).await,
        Route::SessionsOffline => auth_api::offline_sessions(cx).await,
        Route::DisconnectsAck(_) => auth_api::ack_disconnects(cx).await,
        Route::AdminSessions => auth_api::admin_sessions(cx).await,
        Route::AdminCacheFlush => auth_api::admin_cache_flush(cx).await,
        Route::AdminDnsPlan => dns_api::plan(cx).await,
        Route::AdminDnsApply => dns_api::apply(cx).await,
        Route::LibreNms => librenms::alert(cx).await,
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
        Err(e) => log_error!("round failed: {} {}", e.code, e.message),
    }
}
