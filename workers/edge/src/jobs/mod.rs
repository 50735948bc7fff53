//! Scheduled work: the every-minute round and the DNS sync it drives.
pub mod dns_sync;
pub mod round;
