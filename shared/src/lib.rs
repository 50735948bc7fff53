//! vpn-edge-core: the pure domain of the vpn-edge control plane.
//!
//! Nothing here performs I/O, reads a clock or draws random numbers: time and random
//! bytes come in as arguments, decisions and plans go out. The Worker crate executes them.

pub mod alerts;
pub mod api_error;
pub mod auth;
pub mod civil;
pub mod config;
pub mod dns;
pub mod fleet;
pub mod float;
pub mod health;
pub mod librenms;
pub mod map_struct;
pub mod probe;
pub mod recommend;
pub mod registration;
pub mod request;
pub mod route;
pub mod signature;
pub mod sla;
pub mod sort;
pub mod status_page;
pub mod tagged;
pub mod types;
pub mod unit_enum;
