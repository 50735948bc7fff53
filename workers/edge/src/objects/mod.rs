//! Durable Objects, one file per object with its protocol. Memory is a cache; storage is
//! the truth (see ARCHITECTURE.md, "Invariants").
pub mod auth_guard;
pub mod fleet_index;
pub mod pool;
pub mod prober;
pub mod replay_guard;
pub mod session_ledger;
pub mod sla_ledger;
pub mod sql;
pub mod storage;
