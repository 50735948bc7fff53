//! `FleetIndex`: the one authoritative map of server id → country pool, so heartbeats
//! find their pool and the cron round knows every pool.

use crate::rpc::{answer, op, read};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use vpn_edge_core::api_error::ApiError;
use worker::*;

const KEY: &str = "index";

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
    async fn load(&self) -> Result<()> {
        if self.map.borrow().is_none() {
            let stored: Option<BTreeMap<String, String>> = self.state.storage().get(KEY).await?;
            self.map.borrow_mut().get_or_insert(stored.unwrap_or_default());
        }
        Ok(())
    }

    async fn save(&self) -> Result<()> {
        let snapshot = self.map.borrow().clone().unwrap_or_default();
        self.state.storage().put(KEY, snapshot).await
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
                let previous = self.with_map(|m| m.insert(r.id, r.country));
                self.save().await.map_err(|_| ApiError::unavailable("storage"))?;
                serde_json::to_value(CountryResp { country: previous })
            }
            "remove" => {
                let r: IdReq = read(req).await?;
                let previous = self.with_map(|m| m.remove(&r.id));
                if previous.is_some() {
                    self.save().await.map_err(|_| ApiError::unavailable("storage"))?;
                }
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
