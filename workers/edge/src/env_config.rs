//! Reads vars and secrets from the Worker's environment into the core's `Config`, once per
//! isolate: they are fixed for a deployment, and the auth path should not re-parse them.

use std::cell::OnceCell;
use std::rc::Rc;
use vpn_edge_core::config::Config;
use worker::Env;

thread_local! {
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
}

pub fn load(env: &Env) -> Rc<Config> {
    CONFIG.with(|c| {
        c.get_or_init(|| Rc::new(Config::from_lookup(&|name| env.var(name).ok().map(|v| v.to_string())))).clone()
    })
}
