//! Reads vars and secrets from the Worker's environment into the core's `Config`.

use vpn_edge_core::config::Config;
use worker::Env;

pub fn load(env: &Env) -> Config {
    Config::from_lookup(&|name| env.var(name).ok().map(|v| v.to_string()))
}
