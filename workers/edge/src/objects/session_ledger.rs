//! `SessionLedger`: every admission made while the origin was unavailable, with the
//! password sealed by AES-GCM under `SESSION_KEY` (random nonce per record, the session id
//! as associated data). When the origin answers again each one is re-verified; the sealed
//! password is deleted as soon as its answer is in; the invalid go on their server's
//! disconnect list until the server acks.

use crate::outbound::origin;
use crate::rpc::{answer, create_schema, op, read};
use crate::stores::credential_cache;
use crate::{env_config, webcrypto};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::auth::OriginAnswer;
use vpn_edge_core::config::Config;
use vpn_edge_core::fleet::rfc3339_ms;
use vpn_edge_core::signature::{hex, unhex};
use worker::*;

/// Re-verifications in flight at once (each is an origin call).
const REVERIFY_CONCURRENCY: usize = 4;
/// Sessions re-verified per run; the next run (a minute later, or the next login) continues.
const REVERIFY_BATCH: usize = 200;

#[derive(Serialize, Deserialize)]
pub struct RecordReq {
    pub session_id: String,
    pub server_id: String,
    pub username: String,
    pub password: String,
    pub client_ip: String,
    pub client_port: u16,
    pub source: String,
    pub admitted_at: i64,
}

/// A session ended on `server_id`: only the server it was admitted on may end it, so one
/// server cannot pull another's sessions out of re-verification.
#[derive(Serialize, Deserialize)]
pub struct EndReq {
    pub session_id: String,
    pub server_id: String,
}

#[derive(Serialize, Deserialize)]
pub struct ServerReq {
    pub server_id: String,
}

#[derive(Serialize, Deserialize)]
pub struct AckReq {
    pub server_id: String,
    pub session_ids: Vec<String>,
}

/// A pending session as operators see it (never the password).
#[derive(Serialize, Deserialize)]
pub struct PendingSession {
    pub session_id: String,
    pub server_id: String,
    pub username: String,
    pub client_ip: String,
    pub client_port: u16,
    pub source: String,
    pub admitted_at: String,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Disconnect {
    pub session_id: String,
    pub username: String,
    pub client_ip: String,
    pub client_port: u16,
    pub reason: String,
}

#[derive(Serialize, Deserialize, Default)]
pub struct ReverifyReport {
    pub valid: u32,
    pub invalid: u32,
    pub remaining: u32,
    /// The origin was still unavailable: the run stopped early.
    pub origin_unavailable: bool,
}

#[derive(Deserialize)]
struct SessionRow {
    id: String,
    server_id: String,
    username: String,
    client_ip: String,
    client_port: f64,
    source: String,
    admitted_at: f64,
}

#[derive(Deserialize)]
struct SealedRow {
    id: String,
    username: String,
    /// Hex: SQLite BLOBs do not survive the trip through serde as bytes.
    nonce: String,
    sealed: String,
}

#[derive(Deserialize)]
struct DisconnectRow {
    session_id: String,
    username: String,
    client_ip: String,
    client_port: f64,
    reason: String,
}

#[derive(Deserialize)]
struct Count {
    n: f64,
}

#[durable_object]
pub struct SessionLedger {
    state: State,
    env: Env,
    reverifying: Cell<bool>,
}

fn storage_err<E: std::fmt::Display>(e: E) -> ApiError {
    worker::console_error!("session ledger storage: {e}");
    ApiError::unavailable("session ledger")
}

fn session_key(cfg: &Config) -> std::result::Result<[u8; 32], ApiError> {
    cfg.session_key
        .map(|k| *k.expose())
        .ok_or_else(|| ApiError::new(503, "not_configured", "SESSION_KEY is missing or malformed"))
}

impl SessionLedger {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    async fn record(&self, r: RecordReq) -> std::result::Result<(), ApiError> {
        let cfg = env_config::load(&self.env);
        let key = session_key(&cfg)?;
        let nonce = webcrypto::random::<12>().map_err(|_| ApiError::internal("random"))?;
        let sealed = webcrypto::seal(&key, &nonce, r.session_id.as_bytes(), r.password.as_bytes())
            .await
            .map_err(|_| ApiError::internal("seal"))?;
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO sessions (id, server_id, username, client_ip, client_port, source, admitted_at, nonce, sealed) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    r.session_id.into(),
                    r.server_id.into(),
                    r.username.into(),
                    r.client_ip.into(),
                    i64::from(r.client_port).into(),
                    r.source.into(),
                    r.admitted_at.into(),
                    hex(&nonce).into(),
                    hex(&sealed).into(),
                ],
            )
            .map_err(storage_err)?;
        Ok(())
    }

    fn pending(&self) -> std::result::Result<Vec<PendingSession>, ApiError> {
        let rows: Vec<SessionRow> = self
            .sql()
            .exec("SELECT id, server_id, username, client_ip, client_port, source, admitted_at FROM sessions ORDER BY admitted_at", None)
            .and_then(|c| c.to_array())
            .map_err(storage_err)?;
        Ok(rows
            .into_iter()
            .map(|r| PendingSession {
                session_id: r.id,
                server_id: r.server_id,
                username: r.username,
                client_ip: r.client_ip,
                client_port: r.client_port as u16,
                source: r.source,
                admitted_at: rfc3339_ms(r.admitted_at as i64).unwrap_or_default(),
            })
            .collect())
    }

    fn count(&self) -> std::result::Result<u32, ApiError> {
        let rows: Vec<Count> = self
            .sql()
            .exec("SELECT COUNT(*) AS n FROM sessions", None)
            .and_then(|c| c.to_array())
            .map_err(storage_err)?;
        Ok(rows.first().map(|c| c.n as u32).unwrap_or(0))
    }

    /// Re-verify one session. `None` when the origin was unavailable (left pending).
    async fn reverify_one(&self, cfg: &Config, key: &[u8; 32], row: &SealedRow, epoch: Option<u64>) -> Option<bool> {
        let opened = match (unhex(&row.nonce), unhex(&row.sealed)) {
            (Some(nonce), Some(sealed)) => webcrypto::open(key, &nonce, row.id.as_bytes(), &sealed).await.ok(),
            _ => None,
        };
        let Some(plain) = opened else {
            // Sealed under another key (SESSION_KEY rotated): it can never be checked, so it
            // is treated as failed rather than trusted forever.
            worker::console_error!("session ledger: a sealed password could not be opened; disconnecting the session");
            return Some(false);
        };
        let password = String::from_utf8_lossy(&plain).into_owned();
        match origin::ask(cfg, &row.username, &password).await {
            OriginAnswer::Unavailable => None,
            OriginAnswer::Invalid => Some(false),
            OriginAnswer::Valid => {
                if let (Some(pepper), Some(epoch)) = (&cfg.cred_pepper, epoch) {
                    let now = Date::now().as_millis() as i64;
                    if let Err(e) = credential_cache::write(
                        &self.env,
                        &row.username,
                        &password,
                        pepper,
                        epoch,
                        now,
                        cfg.cache_max_age_days,
                    )
                    .await
                    {
                        worker::console_error!("session ledger: cache refresh failed: {}", e.message);
                    }
                }
                Some(true)
            }
        }
    }

    async fn reverify(&self) -> std::result::Result<ReverifyReport, ApiError> {
        let mut report = ReverifyReport::default();
        if self.reverifying.replace(true) {
            report.remaining = self.count()?;
            return Ok(report);
        }
        let result = self.reverify_batch(&mut report).await;
        self.reverifying.set(false);
        result?;
        report.remaining = self.count()?;
        Ok(report)
    }

    async fn reverify_batch(&self, report: &mut ReverifyReport) -> std::result::Result<(), ApiError> {
        let cfg = env_config::load(&self.env);
        let rows: Vec<SealedRow> = self
            .sql()
            .exec(
                "SELECT id, username, nonce, sealed FROM sessions ORDER BY admitted_at LIMIT ?",
                vec![(REVERIFY_BATCH as i64).into()],
            )
            .and_then(|c| c.to_array())
            .map_err(storage_err)?;
        if rows.is_empty() {
            return Ok(());
        }
        let key = session_key(&cfg)?;
        // Without the epoch, valid sessions are still confirmed, only the cache is not refreshed.
        let epoch = credential_cache::epoch(&self.env, Date::now().as_millis() as i64).await.ok();
        for chunk in rows.chunks(REVERIFY_CONCURRENCY) {
            let answers = join_all(chunk.iter().map(|row| self.reverify_one(&cfg, &key, row, epoch))).await;
            for (row, answer) in chunk.iter().zip(answers) {
                match answer {
                    None => report.origin_unavailable = true,
                    Some(valid) => {
                        if !valid {
                            report.invalid += 1;
                            self.sql()
                                .exec(
                                    "INSERT OR REPLACE INTO disconnects (session_id, server_id, username, client_ip, client_port, reason, created_at) \
                                     SELECT id, server_id, username, client_ip, client_port, ?, ? FROM sessions WHERE id = ?",
                                    vec![
                                        "re-verification failed: the origin rejected the credentials".into(),
                                        (Date::now().as_millis() as i64).into(),
                                        row.id.clone().into(),
                                    ],
                                )
                                .map_err(storage_err)?;
                        } else {
                            report.valid += 1;
                        }
                        // The answer is in: the sealed password goes now, with the session.
                        self.sql()
                            .exec("DELETE FROM sessions WHERE id = ?", vec![row.id.clone().into()])
                            .map_err(storage_err)?;
                    }
                }
            }
            if report.origin_unavailable {
                break;
            }
        }
        Ok(())
    }

    async fn handle(&self, op: &str, req: &mut Request) -> std::result::Result<serde_json::Value, ApiError> {
        let ser = |v: std::result::Result<serde_json::Value, serde_json::Error>| {
            v.map_err(|_| ApiError::internal("serialize"))
        };
        match op {
            "record" => {
                let r: RecordReq = read(req).await?;
                self.record(r).await?;
                Ok(serde_json::Value::Null)
            }
            "end" => {
                let r: EndReq = read(req).await?;
                let a = self
                    .sql()
                    .exec(
                        "DELETE FROM sessions WHERE id = ? AND server_id = ?",
                        vec![r.session_id.clone().into(), r.server_id.clone().into()],
                    )
                    .map_err(storage_err)?;
                let b = self
                    .sql()
                    .exec(
                        "DELETE FROM disconnects WHERE session_id = ? AND server_id = ?",
                        vec![r.session_id.into(), r.server_id.into()],
                    )
                    .map_err(storage_err)?;
                Ok(serde_json::json!({ "ended": a.rows_written() + b.rows_written() > 0 }))
            }
            "pending" => ser(serde_json::to_value(self.pending()?)),
            "reverify" => ser(serde_json::to_value(self.reverify().await?)),
            "disconnects" => {
                let r: ServerReq = read(req).await?;
                let rows: Vec<DisconnectRow> = self
                    .sql()
                    .exec(
                        "SELECT session_id, username, client_ip, client_port, reason FROM disconnects WHERE server_id = ? ORDER BY created_at",
                        vec![r.server_id.into()],
                    )
                    .and_then(|c| c.to_array())
                    .map_err(storage_err)?;
                let list: Vec<Disconnect> = rows
                    .into_iter()
                    .map(|d| Disconnect {
                        session_id: d.session_id,
                        username: d.username,
                        client_ip: d.client_ip,
                        client_port: d.client_port as u16,
                        reason: d.reason,
                    })
                    .collect();
                ser(serde_json::to_value(list))
            }
            "ack" => {
                let r: AckReq = read(req).await?;
                let mut removed = 0;
                for id in r.session_ids {
                    removed += self
                        .sql()
                        .exec(
                            "DELETE FROM disconnects WHERE server_id = ? AND session_id = ?",
                            vec![r.server_id.clone().into(), id.into()],
                        )
                        .map_err(storage_err)?
                        .rows_written();
                }
                Ok(serde_json::json!({ "removed": removed }))
            }
            _ => Err(ApiError::new(404, "not_found", "no such operation")),
        }
    }
}

impl DurableObject for SessionLedger {
    fn new(state: State, env: Env) -> Self {
        create_schema(
            &state.storage().sql(),
            "session ledger",
            &[
            "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, server_id TEXT NOT NULL, username TEXT NOT NULL, \
             client_ip TEXT NOT NULL, client_port INTEGER NOT NULL, source TEXT NOT NULL, admitted_at INTEGER NOT NULL, \
             nonce TEXT NOT NULL, sealed TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS disconnects (session_id TEXT PRIMARY KEY, server_id TEXT NOT NULL, username TEXT NOT NULL, \
             client_ip TEXT NOT NULL, client_port INTEGER NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL)",
            "CREATE INDEX IF NOT EXISTS disconnects_by_server ON disconnects (server_id)",
            ],
        );
        Self { state, env, reverifying: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        answer(self.handle(&op(&req), &mut req).await)
    }
}
