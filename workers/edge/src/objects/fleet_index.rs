//! `FleetIndex`: the one authoritative map of server id → country pool, so heartbeats
//! find their pool and the cron round knows every pool.

use crate::objects::storage;
use crate::rpc::{self, protocol, reply};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::sort::SortedMap;
use vpn_edge_core::types::{CountryCode, ServerId};
use worker::*;

/// One key per server: `i:<id>` → its country.
const PREFIX: &str = "i:";
/// The whole map under one key, as written before one key per server; read once and migrated.
const LEGACY_KEY: &str = "index";

protocol! {
    /// What the Worker asks of the `FleetIndex`.
    pub enum FleetOp {
        /// Put a server in a country; answers the country it was in before.
        Set(SetReq) -> CountryReply,
        /// Forget a server; answers the country it was in.
        Remove(RemoveReq) -> CountryReply,
        /// The country a server is in.
        Get(GetReq) -> CountryReply,
        /// Every country with at least one server, sorted, each once.
        Countries(CountriesReq) -> Vec<CountryCode>,
    }
}

#[derive(Serialize, Deserialize)]
pub struct SetReq {
    pub id: ServerId,
    pub country: CountryCode,
}

#[derive(Serialize, Deserialize)]
pub struct RemoveReq {
    pub id: ServerId,
}

#[derive(Serialize, Deserialize)]
pub struct GetReq {
    pub id: ServerId,
}

#[derive(Serialize, Deserialize)]
pub struct CountriesReq {}

/// The country a server was (or is) in, if any.
#[derive(Serialize, Deserialize)]
pub struct CountryReply {
    pub country: Option<CountryCode>,
}

#[durable_object(fetch)]
pub struct FleetIndex {
    state: State,
    map: RefCell<Option<SortedMap<String, String>>>,
}

/// A storage failure, logged with its cause (the caller sees `503 unavailable`).
fn storage_err(e: worker::Error) -> ApiError {
    log_error!("fleet index storage: {e}");
    ApiError::unavailable("storage")
}

impl FleetIndex {
    /// Memory is a cache of storage: built from it when absent, dropped when a write fails.
    async fn load(&self) -> Result<()> {
        if self.map.borrow().is_some() {
            return Ok(());
        }
        let store = self.state.storage();
        // Storage lists keys in order, so each insert lands at the end (no shifting).
        let mut map: SortedMap<String, String> = SortedMap::default();
        map.extend(storage::list(&store, PREFIX).await?);
        if let Some(legacy) = storage::get::<SortedMap<String, String>>(&store, LEGACY_KEY).await? {
            let missing: Vec<(String, &String)> = legacy
                .iter()
                .filter(|(id, _)| !map.contains_key(*id))
                .map(|(id, c)| (format!("{PREFIX}{id}"), c))
                .collect();
            storage::put_all(&store, missing).await?;
            store.delete(LEGACY_KEY).await?;
            for (id, country) in legacy {
                map.or_insert(id, country);
            }
        }
        self.map.borrow_mut().get_or_insert(map);
        Ok(())
    }

    /// Store first, then remember: a failed write leaves memory as storage is.
    async fn save(&self, id: &str, country: Option<&str>) -> Result<()> {
        let store = self.state.storage();
        let key = format!("{PREFIX}{id}");
        let written = match country {
            Some(c) => storage::put(&store, &key, c).await,
            None => store.delete(&key).await.map(|_| ()),
        };
        if written.is_err() {
            *self.map.borrow_mut() = None;
        }
        written
    }

    fn with_map<T>(&self, f: impl FnOnce(&mut SortedMap<String, String>) -> T) -> T {
        let mut guard = self.map.borrow_mut();
        f(guard.get_or_insert_with(SortedMap::default))
    }

    async fn loaded(&self) -> std::result::Result<(), ApiError> {
        self.load().await.map_err(storage_err)
    }

    /// Stored countries are written by `set` from a `CountryCode`; one that no longer
    /// parses is reported, not silently mapped.
    fn country(stored: String) -> std::result::Result<CountryCode, ApiError> {
        CountryCode::parse(&stored).map_err(|_| {
            log_error!("fleet index: stored country {stored:?} is not a country code");
            ApiError::internal("fleet index entry")
        })
    }

    async fn set(&self, r: SetReq) -> std::result::Result<CountryReply, ApiError> {
        self.loaded().await?;
        self.save(r.id.as_str(), Some(r.country.as_str())).await.map_err(storage_err)?;
        let previous = self.with_map(|m| m.insert(r.id.to_string(), r.country.to_string()));
        Ok(CountryReply { country: previous.map(Self::country).transpose()? })
    }

    async fn remove(&self, r: RemoveReq) -> std::result::Result<CountryReply, ApiError> {
        self.loaded().await?;
        if self.with_map(|m| m.contains_key(r.id.as_str())) {
            self.save(r.id.as_str(), None).await.map_err(storage_err)?;
        }
        let previous = self.with_map(|m| m.remove(r.id.as_str()));
        Ok(CountryReply { country: previous.map(Self::country).transpose()? })
    }

    async fn get(&self, r: GetReq) -> std::result::Result<CountryReply, ApiError> {
        self.loaded().await?;
        Ok(CountryReply { country: self.with_map(|m| m.get(r.id.as_str()).cloned()).map(Self::country).transpose()? })
    }

    async fn countries(&self, _: CountriesReq) -> std::result::Result<Vec<CountryCode>, ApiError> {
        self.loaded().await?;
        let mut c: Vec<String> = self.with_map(|m| m.values().cloned().collect());
        vpn_edge_core::sort::sort(&mut c);
        c.dedup();
        c.into_iter().map(Self::country).collect()
    }
}

impl DurableObject for FleetIndex {
    fn new(state: State, _env: Env) -> Self {
        Self { state, map: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match rpc::operation(&mut req).await {
            Ok(FleetOp::Set(r)) => reply::<SetReq>(self.set(r).await),
            Ok(FleetOp::Remove(r)) => reply::<RemoveReq>(self.remove(r).await),
            Ok(FleetOp::Get(r)) => reply::<GetReq>(self.get(r).await),
            Ok(FleetOp::Countries(r)) => reply::<CountriesReq>(self.countries(r).await),
            Err(e) => rpc::refuse(e),
        }
    }
}
