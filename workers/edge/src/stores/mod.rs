//! KV adapters: the credential cache and the fleet snapshot.
pub mod credential_cache;
pub mod fleet_store;
pub mod kv;
