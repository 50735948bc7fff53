//! HTTP endpoints, one file per endpoint group. Each parses its input into core types,
//! calls the core and the adapters, and shapes the answer.
pub mod admin;
pub mod auth;
pub mod dns;
pub mod librenms;
pub mod public;
pub mod servers;
pub mod sla;
