//! One request's context, built once in `lib.rs`'s `dispatch` before any handler runs:
//! the environment, the configuration, the runtime context, the clock read once
//! (ARCHITECTURE.md, "Invariants" 7), the path's parameter and the caller the route's
//! declared access admitted (ARCHITECTURE.md, "Code map": handlers never check access).

use crate::caller::Signed;
use std::rc::Rc;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::config::Config;
use worker::{Context, Env, Request};

/// Who the route's access check admitted.
pub enum Caller {
    Anyone,
    Operator,
    LibreNms,
    /// A signed server request that passed every check, with its body.
    Server(Signed),
}

pub struct Cx<'a> {
    pub req: &'a mut Request,
    pub env: &'a Env,
    pub cfg: Rc<Config>,
    pub ctx: &'a Context,
    /// Milliseconds since the epoch, read once for the whole request.
    pub now_ms: i64,
    /// The path's `{id}` or `{month}`; `""` for routes without one.
    pub param: &'a str,
    pub caller: Caller,
}

impl Cx<'_> {
    /// The signed request of a `Server` route. Only reachable if a handler of a route the
    /// table does not declare as signed asks for it: a programming error, answered 500.
    pub fn signed(&self) -> Result<&Signed, ApiError> {
        match &self.caller {
            Caller::Server(s) => Ok(s),
            _ => Err(ApiError::internal("route is not signed")),
        }
    }
}
