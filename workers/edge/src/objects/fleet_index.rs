//! `FleetIndex`: the one authoritative map of server id → country pool, so heartbeats
//! find their pool and the cron round knows every pool.

use crate::objects::storage;
use crate::rpc::{answer, op, read};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use vpn_edge_core::api_error::ApiError;
use worker::*;

/// One key per server: `i:<id>` → its country.
const PREFIX: &str = "i:";
/// The whole map under one key, as written before one key per server; read once and migrated.
const LEGACY_KEY: &str = "index";

#[derive(Serialize, Deserialize)]
pub struct SetReq {
    pub id: String,
    pub country: String,
}

#[derive(Serialize, Deserialize)]
pub struct IdReq {
    pub id: String,
}

/// The country a server was (or is) in, if any.
#[derive(Serialize, Deserialize)]
pub struct CountryResp {
    pub country: Option<String>,
}

#[durable_object]
pub struct FleetIndex {
    state: State,
    map: RefCell<Option<BTreeMap<String, String>>>,
}

impl FleetIndex {
    /// Memory is a cache of storage: built from it when absent, dropped when a write fails.
    async fn load(&self) -> Result<()> {
        if self.map.borrow().is_some() {
            return Ok(());
        }
        let store = self.state.storage();
        let mut map: BTreeMap<String, String> = storage::list(&store, PREFIX).await?.into_iter().collect();
        if let Some(legacy) = storage::get::<BTreeMap<String, String>>(&store, LEGACY_KEY).await? {
            let missing: Vec<(String, &String)> = legacy
                .iter()
                .filter(|(id, _)| !map.contains_key(*id))
                .map(|(id, c)| (format!("{PREFIX}{id}"), c))
                .collect();
            storage::put_all(&store, missing).await?;
            store.delete(LEGACY_KEY).await?;
            for (id, country) in legacy {
                map.entry(id).or_insert(country);
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

    fn with_map<T>(&self, f: impl FnOnce(&mut BTreeMap<String, String>) -> T) -> T {
        let mut guard = self.map.borrow_mut();
        f(guard.get_or_insert_with(BTreeMap::new))
    }

    async fn handle(&self, op: &str, req: &mut Request) -> std::result::Result<serde_json::Value, ApiError> {
        self.load().await.map_err(|_| ApiError::unavailable("storage"))?;
        let value = match op {
            "set" => {
                let r: SetReq = read(req).await?;
                self.save(&r.id, Some(&r.country)).await.map_err(|_| ApiError::unavailable("storage"))?;
                let previous = self.with_map(|m| m.insert(r.id, r.country));
                serde_json::to_value(CountryResp { country: previous })
            }
            "remove" => {
                let r: IdReq = read(req).await?;
                if self.with_map(|m| m.contains_key(&r.id)) {
                    self.save(&r.id, None).await.map_err(|_| ApiError::unavailable("storage"))?;
                }
                let previous = self.with_map(|m| m.remove(&r.id));
                serde_json::to_value(CountryResp { country: previous })
            }
            "get" => {
                let r: IdReq = read(req).await?;
                serde_json::to_value(CountryResp { country: self.with_map(|m| m.get(&r.id).cloned()) })
            }
            "countries" => {
                let mut c: Vec<String> = self.with_map(|m| m.values().cloned().collect());
                vpn_edge_core::sort::sort(&mut c);
                c.dedup();
                serde_json::to_value(c)
            }
            _ => return Err(ApiError::new(404, "not_found", "no such operation")),
        };
        value.map_err(|_| ApiError::internal("serialize"))
    }
}

impl DurableObject for FleetIndex {
    fn new(state: State, _env: Env) -> Self {
        Self { state, map: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        answer(self.handle(&op(&req), &mut req).await)
    }
}
