//! The HTTP API's routes, matched by path first and method second (so a known path
//! with the wrong method is a 405 with `Allow`, not a 404).

use crate::api_error::RouteError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    StatusPage,
    Healthz,
    ListServers,
    GetServer(&'a str),
    Countries,
    Recommendations,
    Sla(&'a str),
    Auth,
    Heartbeat(&'a str),
    DisconnectsAck(&'a str),
    SessionsEnd,
    SessionsOffline,
    AdminListServers,
    AdminGetServer(&'a str),
    AdminPutServer(&'a str),
    AdminPatchServer(&'a str),
    AdminDeleteServer(&'a str),
    AdminDnsPlan,
    AdminDnsApply,
    AdminSessions,
    AdminCacheFlush,
    AdminSlaCredit(&'a str),
    AdminSla(&'a str),
    LibreNms,
}

pub fn route<'a>(method: &str, path: &'a str) -> Result<Route<'a>, RouteError> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = method.to_ascii_uppercase();
    let get = m == "GET" || m == "HEAD";
    let post = m == "POST";
    let pick = |ok: bool, r: Route<'a>, allow: &'static str| {
        if ok {
            Ok(r)
        } else {
            Err(RouteError::MethodNotAllowed { allow })
        }
    };
    match segs.as_slice() {
        [""] => pick(get, Route::StatusPage, "GET, HEAD"),
        ["healthz"] => pick(get, Route::Healthz, "GET, HEAD"),
        ["v1", "servers"] => pick(get, Route::ListServers, "GET, HEAD"),
        ["v1", "servers", id] if !id.is_empty() => pick(get, Route::GetServer(id), "GET, HEAD"),
        ["v1", "countries"] => pick(get, Route::Countries, "GET, HEAD"),
        ["v1", "recommendations"] => pick(get, Route::Recommendations, "GET, HEAD"),
        ["v1", "sla", month] if !month.is_empty() => pick(get, Route::Sla(month), "GET, HEAD"),
        ["v1", "auth"] => pick(post, Route::Auth, "POST"),
        ["v1", "servers", id, "heartbeat"] => pick(post, Route::Heartbeat(id), "POST"),
        ["v1", "servers", id, "disconnects", "ack"] => pick(post, Route::DisconnectsAck(id), "POST"),
        ["v1", "sessions", "end"] => pick(post, Route::SessionsEnd, "POST"),
        ["v1", "sessions", "offline"] => pick(post, Route::SessionsOffline, "POST"),
        ["v1", "admin", "servers"] => pick(get, Route::AdminListServers, "GET, HEAD"),
        ["v1", "admin", "servers", id] if !id.is_empty() => match m.as_str() {
            "GET" | "HEAD" => Ok(Route::AdminGetServer(id)),
            "PUT" => Ok(Route::AdminPutServer(id)),
            "PATCH" => Ok(Route::AdminPatchServer(id)),
            "DELETE" => Ok(Route::AdminDeleteServer(id)),
            _ => Err(RouteError::MethodNotAllowed { allow: "GET, HEAD, PUT, PATCH, DELETE" }),
        },
        ["v1", "admin", "dns", "plan"] => pick(get, Route::AdminDnsPlan, "GET, HEAD"),
        ["v1", "admin", "dns", "apply"] => pick(post, Route::AdminDnsApply, "POST"),
        ["v1", "admin", "sessions"] => pick(get, Route::AdminSessions, "GET, HEAD"),
        ["v1", "admin", "cache", "flush"] => pick(post, Route::AdminCacheFlush, "POST"),
        ["v1", "admin", "sla", month] if !month.is_empty() => pick(get, Route::AdminSla(month), "GET, HEAD"),
        ["v1", "admin", "sla", month, "credit"] => pick(post, Route::AdminSlaCredit(month), "POST"),
        ["v1", "integrations", "librenms"] => pick(post, Route::LibreNms, "POST"),
        _ => Err(RouteError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/"), Ok(Route::StatusPage));
        assert_eq!(route("GET", "/v1/servers/se-1"), Ok(Route::GetServer("se-1")));
        assert_eq!(route("POST", "/v1/servers/se-1/heartbeat"), Ok(Route::Heartbeat("se-1")));
        assert_eq!(route("DELETE", "/v1/admin/servers/x"), Ok(Route::AdminDeleteServer("x")));
        assert_eq!(route("PATCH", "/v1/admin/servers/x"), Ok(Route::AdminPatchServer("x")));
        assert_eq!(route("GET", "/v1/admin/servers/x"), Ok(Route::AdminGetServer("x")));
        assert_eq!(route("GET", "/v1/admin/servers"), Ok(Route::AdminListServers));
        assert_eq!(
            route("POST", "/v1/admin/servers/x"),
            Err(RouteError::MethodNotAllowed { allow: "GET, HEAD, PUT, PATCH, DELETE" })
        );
        assert_eq!(route("POST", "/v1/servers"), Err(RouteError::MethodNotAllowed { allow: "GET, HEAD" }));
        assert_eq!(route("GET", "/v1/auth"), Err(RouteError::MethodNotAllowed { allow: "POST" }));
        assert_eq!(route("GET", "/nope"), Err(RouteError::NotFound));
        assert_eq!(route("GET", "/v1/admin/sla/2026-10"), Ok(Route::AdminSla("2026-10")));
        assert_eq!(route("POST", "/v1/admin/sla/2026-10/credit"), Ok(Route::AdminSlaCredit("2026-10")));
        assert_eq!(route("GET", "/v1/servers/"), Err(RouteError::NotFound));
    }
}
