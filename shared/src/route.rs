//! The HTTP API's routes: one table row per (method, path pattern), each declaring who may
//! call it (ARCHITECTURE.md, "Code map": `lib.rs` enforces the declared access, handlers
//! never check it themselves). Matched by path first and method second, so a known path
//! with the wrong method is a 405 with `Allow`, not a 404.

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

/// What a signed route does about a second use of one signature (README "Signed by a
/// server").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// State-changing (`/v1/sessions/*`, disconnect acks): accepted once per signature,
    /// `401 replayed` after, remembered in the server's `ReplayGuard`.
    Once,
    /// The handler makes a second use harmless itself: heartbeats need increasing
    /// timestamps; `/v1/auth` keys its effects by the signature's replay key.
    Handled,
}

/// Who may call a route, as the table declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// Anyone: the cacheable reads and `/healthz`.
    Public,
    /// `Authorization: Bearer $ADMIN_TOKEN`.
    Admin,
    /// `Authorization: Bearer $LIBRENMS_TOKEN`.
    LibreNms,
    /// A registered server's signature; `path_id` is the `{id}` of the path, which must
    /// name the signer (`403` otherwise).
    Server { path_id: Option<&'a str>, replay: Replay },
}

/// A route's access as written in the table (the path's `{id}` is bound when matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    Public,
    Admin,
    LibreNms,
    /// Signed, acting on no server's path.
    Server(Replay),
    /// Signed, acting on the path's `{id}`: it must be the signer.
    OwnServer(Replay),
}

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Spec {
    /// Upper case; `GET` also answers `HEAD`.
    pub method: &'static str,
    /// `/`-separated segments; `{name}` captures one non-empty segment (at most one per row).
    pub pattern: &'static str,
    pub access: Declared,
    build: for<'a> fn(&'a str) -> Route<'a>,
}

const fn spec(
    method: &'static str,
    pattern: &'static str,
    access: Declared,
    build: for<'a> fn(&'a str) -> Route<'a>,
) -> Spec {
    Spec { method, pattern, access, build }
}

use Declared::{Admin, LibreNms as Nms, OwnServer, Public, Server};
use Replay::{Handled, Once};

/// Every route, in the order `Allow` lists methods. A new route is a new row: it cannot
/// be reached without declaring its access.
pub const ROUTES: &[Spec] = &[
    spec("GET", "/", Public, |_| Route::StatusPage),
    spec("GET", "/healthz", Public, |_| Route::Healthz),
    spec("GET", "/v1/servers", Public, |_| Route::ListServers),
    spec("GET", "/v1/servers/{id}", Public, |p| Route::GetServer(p)),
    spec("GET", "/v1/countries", Public, |_| Route::Countries),
    spec("GET", "/v1/recommendations", Public, |_| Route::Recommendations),
    spec("GET", "/v1/sla/{month}", Public, |p| Route::Sla(p)),
    spec("POST", "/v1/auth", Server(Handled), |_| Route::Auth),
    spec("POST", "/v1/servers/{id}/heartbeat", OwnServer(Handled), |p| Route::Heartbeat(p)),
    spec("POST", "/v1/servers/{id}/disconnects/ack", OwnServer(Once), |p| Route::DisconnectsAck(p)),
    spec("POST", "/v1/sessions/end", Server(Once), |_| Route::SessionsEnd),
    spec("POST", "/v1/sessions/offline", Server(Once), |_| Route::SessionsOffline),
    spec("GET", "/v1/admin/servers", Admin, |_| Route::AdminListServers),
    spec("GET", "/v1/admin/servers/{id}", Admin, |p| Route::AdminGetServer(p)),
    spec("PUT", "/v1/admin/servers/{id}", Admin, |p| Route::AdminPutServer(p)),
    spec("PATCH", "/v1/admin/servers/{id}", Admin, |p| Route::AdminPatchServer(p)),
    spec("DELETE", "/v1/admin/servers/{id}", Admin, |p| Route::AdminDeleteServer(p)),
    spec("GET", "/v1/admin/dns/plan", Admin, |_| Route::AdminDnsPlan),
    spec("POST", "/v1/admin/dns/apply", Admin, |_| Route::AdminDnsApply),
    spec("GET", "/v1/admin/sessions", Admin, |_| Route::AdminSessions),
    spec("POST", "/v1/admin/cache/flush", Admin, |_| Route::AdminCacheFlush),
    spec("GET", "/v1/admin/sla/{month}", Admin, |p| Route::AdminSla(p)),
    spec("POST", "/v1/admin/sla/{month}/credit", Admin, |p| Route::AdminSlaCredit(p)),
    spec("POST", "/v1/integrations/librenms", Nms, |_| Route::LibreNms),
];

/// A matched request: the route, the path's captured parameter (`""` when the route has
/// none) and who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: Route<'a>,
    pub param: &'a str,
    pub access: Access<'a>,
}

/// The path's capture when `pattern` matches it (`Some("")` for a pattern without one).
fn capture<'a>(pattern: &str, path: &'a str) -> Option<&'a str> {
    let mut got = "";
    let mut want = pattern.trim_start_matches('/').split('/');
    let mut have = path.trim_start_matches('/').split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(got),
            (Some(w), Some(h)) if w.starts_with('{') => {
                if h.is_empty() {
                    return None;
                }
                got = h;
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return None,
        }
    }
}

fn allows(spec_method: &str, method: &str) -> bool {
    spec_method == method || (spec_method == "GET" && method == "HEAD")
}

pub fn resolve<'a>(method: &str, path: &'a str) -> Result<Matched<'a>, RouteError> {
    let m = method.to_ascii_uppercase();
    let mut path_known = false;
    for s in ROUTES {
        let Some(param) = capture(s.pattern, path) else { continue };
        path_known = true;
        if allows(s.method, &m) {
            let access = match s.access {
                Public => Access::Public,
                Admin => Access::Admin,
                Nms => Access::LibreNms,
                Server(replay) => Access::Server { path_id: None, replay },
                OwnServer(replay) => Access::Server { path_id: Some(param), replay },
            };
            return Ok(Matched { route: (s.build)(param), param, access });
        }
    }
    if path_known {
        Err(RouteError::MethodNotAllowed { allow: allow_of(path) })
    } else {
        Err(RouteError::NotFound)
    }
}

pub fn route<'a>(method: &str, path: &'a str) -> Result<Route<'a>, RouteError> {
    resolve(method, path).map(|m| m.route)
}

/// The `Allow` header of a known path: the methods of every row it matches, in table order.
fn allow_of(path: &str) -> &'static str {
    const ALLOWS: &[&str] = &["GET, HEAD", "POST", "GET, HEAD, PUT, PATCH, DELETE"];
    let mut methods: Vec<&str> = Vec::new();
    for s in ROUTES.iter().filter(|s| capture(s.pattern, path).is_some()) {
        methods.push(s.method);
        if s.method == "GET" {
            methods.push("HEAD");
        }
    }
    let joined = methods.join(", ");
    // `RouteError` carries a `&'static str`: pick the interned spelling (a table test
    // checks every path's list is one of them).
    ALLOWS.iter().copied().find(|a| *a == joined).unwrap_or("GET, HEAD")
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
        assert_eq!(route("HEAD", "/healthz"), Ok(Route::Healthz));
        assert_eq!(route("post", "/v1/auth"), Ok(Route::Auth));
    }

    /// A path for a row, with its capture filled in.
    fn sample(s: &Spec) -> String {
        s.pattern.replace("{id}", "se-1").replace("{month}", "2026-01")
    }

    /// Every non-public route declares a caller, and the public ones are exactly the reads
    /// README lists as public: a new admin or server route cannot be left open by mistake.
    #[test]
    fn every_non_public_route_declares_its_access() {
        const PUBLIC: &[&str] = &[
            "/",
            "/healthz",
            "/v1/servers",
            "/v1/servers/{id}",
            "/v1/countries",
            "/v1/recommendations",
            "/v1/sla/{month}",
        ];
        for s in ROUTES {
            let path = sample(s);
            let m = resolve(s.method, &path).expect("every row routes");
            assert_eq!(m.access, access_of(s, m.param), "{} {}", s.method, s.pattern);
            let public = PUBLIC.contains(&s.pattern);
            assert_eq!(m.access == Access::Public, public, "{} {} access {:?}", s.method, s.pattern, m.access);
            if s.pattern.starts_with("/v1/admin/") {
                assert_eq!(m.access, Access::Admin, "{}", s.pattern);
            }
            if s.pattern.starts_with("/v1/integrations/") {
                assert_eq!(m.access, Access::LibreNms, "{}", s.pattern);
            }
            // A server acting on `/v1/servers/{id}/…` must be that server.
            if s.pattern.starts_with("/v1/servers/{id}/") {
                assert!(matches!(m.access, Access::Server { path_id: Some("se-1"), .. }), "{}", s.pattern);
            }
        }
    }

    fn access_of<'a>(s: &Spec, param: &'a str) -> Access<'a> {
        match s.access {
            Public => Access::Public,
            Admin => Access::Admin,
            Nms => Access::LibreNms,
            Server(replay) => Access::Server { path_id: None, replay },
            OwnServer(replay) => Access::Server { path_id: Some(param), replay },
        }
    }

    /// The state-changing signed routes refuse a second use of a signature (README).
    #[test]
    fn state_changing_signed_routes_accept_a_signature_once() {
        for (method, path, replay) in [
            ("POST", "/v1/sessions/end", Once),
            ("POST", "/v1/sessions/offline", Once),
            ("POST", "/v1/servers/a/disconnects/ack", Once),
            ("POST", "/v1/servers/a/heartbeat", Handled),
            ("POST", "/v1/auth", Handled),
        ] {
            let m = resolve(method, path).unwrap();
            assert!(matches!(m.access, Access::Server { replay: r, .. } if r == replay), "{path}");
        }
    }

    /// Each row's capture reaches its route, and no two rows share a method and pattern.
    #[test]
    fn table_is_consistent() {
        for (i, s) in ROUTES.iter().enumerate() {
            assert_eq!(s.pattern.matches('{').count(), u8::from(s.pattern.contains('{')) as usize);
            let path = sample(s);
            let m = resolve(s.method, &path).unwrap();
            assert_eq!(
                m.param,
                if s.pattern.contains('{') {
                    path.split('/').find(|p| *p == "se-1" || *p == "2026-01").unwrap()
                } else {
                    ""
                }
            );
            assert!(!ROUTES[..i].iter().any(|o| o.method == s.method && o.pattern == s.pattern), "{}", s.pattern);
            // Every known path's Allow list is one of the interned spellings.
            let listed: Vec<&str> = ROUTES
                .iter()
                .filter(|o| capture(o.pattern, &path).is_some())
                .flat_map(|o| if o.method == "GET" { vec!["GET", "HEAD"] } else { vec![o.method] })
                .collect();
            assert_eq!(allow_of(&path), listed.join(", "), "{}", s.pattern);
        }
    }
}
