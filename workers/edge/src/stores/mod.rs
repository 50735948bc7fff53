//! KV adapters: the credential cache and the fleet snapshot, and the text write they share.
pub mod credential_cache;
pub mod fleet_store;
pub mod kv;
