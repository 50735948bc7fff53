//! `SessionLedger`: every admission made while the origin was unavailable, with the
//! password sealed by AES-GCM under `SESSION_KEY` (random nonce per record, the session id
//! as associated data). Re-verification asks the origin for each due session; the core
//! judges each answer (`reverify_verdict`): the sealed password is deleted as soon as a
//! verdict is in, the invalid and the unverifiable go on their server's disconnect list
//! until the server acks, the ones the origin could not judge wait for their backoff
//! (stored, so it survives eviction). README "Auth when the origin fails".

use crate::join::join_all;
use crate::objects::sql::{self, Row};
use crate::outbound::origin;
use crate::rpc::{self, create_schema, protocol, reply};
use crate::stores::credential_cache;
use crate::{env_config, webcrypto};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use vpn_edge_core::api_error::ApiError;
use vpn_edge_core::auth::{
    needs_probe, offline_fits, origin_judging, reverify_verdict, seal_data_key_name, seal_key, Admission, Attempts,
    DisconnectReason, Judged, SessionState, Verdict, ACKED_KEEP_MS,
};
use vpn_edge_core::config::Config;
use vpn_edge_core::fleet::rfc3339_ms;
use vpn_edge_core::signature::{hex, unhex};
use vpn_edge_core::types::{ServerId, SessionId};
use worker::*;

/// Re-verifications in flight at once (each is an origin call).
const REVERIFY_CONCURRENCY: usize = 4;
/// Sessions re-verified per run; the next run (a minute later, or the next login) continues.
const REVERIFY_BATCH: usize = 200;

protocol! {
    /// What the Worker asks of the `SessionLedger`.
    pub enum LedgerOp {
        /// Record one admission made while the origin was down.
        Record(RecordReq) -> Recorded,
        /// Record a server's offline admissions, each on its own.
        RecordOffline(OfflineReq) -> Vec<OfflineItem>,
        /// A session ended on its server.
        End(EndReq) -> Ended,
        /// Every session held, never a password.
        Sessions(SessionsReq) -> Vec<SessionView>,
        /// Re-verify the sessions that are due.
        Reverify(ReverifyReq) -> ReverifyReport,
        /// A server's pending disconnects.
        Disconnects(ServerReq) -> Vec<Disconnect>,
        /// A server acknowledges disconnects it carried out.
        Ack(AckReq) -> Acked,
    }
}

#[derive(Serialize, Deserialize)]
pub struct Recorded {
    pub recorded: bool,
}

#[derive(Serialize, Deserialize)]
pub struct Ended {
    pub ended: bool,
}

#[derive(Serialize, Deserialize)]
pub struct Acked {
    pub removed: u32,
}

#[derive(Serialize, Deserialize)]
pub struct SessionsReq {}

#[derive(Serialize, Deserialize)]
pub struct RecordReq {
    pub session_id: SessionId,
    pub server_id: ServerId,
    pub username: String,
    pub password: String,
    pub client_ip: String,
    pub client_port: u16,
    pub source: Admission,
    pub admitted_at: i64,
}

/// Offline admissions of one report: each is recorded or refused on its own.
#[derive(Serialize, Deserialize)]
pub struct OfflineReq {
    pub items: Vec<RecordReq>,
}

/// What happened to one offline item.
#[derive(Serialize, Deserialize)]
pub struct OfflineItem {
    pub recorded: bool,
    pub error: Option<String>,
    /// The refusal counts as a failure toward the user's lockout.
    pub failure: bool,
}

/// A session ended on `server_id`: only the server it was admitted on may end it, so one
/// server cannot pull another's sessions out of re-verification.
#[derive(Serialize, Deserialize)]
pub struct EndReq {
    pub session_id: SessionId,
    pub server_id: ServerId,
}

#[derive(Serialize, Deserialize)]
pub struct ServerReq {
    pub server_id: ServerId,
}

#[derive(Serialize, Deserialize)]
pub struct AckReq {
    pub server_id: ServerId,
    pub session_ids: Vec<SessionId>,
    pub now_ms: i64,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
pub struct ReverifyReq {
    pub now_ms: i64,
    pub max_attempts: u32,
}

/// A session as operators see it (never the password), in every state until it is gone.
#[derive(Serialize, Deserialize)]
pub struct SessionView {
    pub session_id: SessionId,
    pub server_id: ServerId,
    pub username: String,
    pub client_ip: String,
    pub client_port: u16,
    pub source: Admission,
    pub admitted_at: String,
    pub state: SessionState,
    /// Attempts the origin could not judge (pending sessions).
    pub attempts: u32,
    /// Why it is being disconnected (disconnect states).
    pub reason: Option<DisconnectReason>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Disconnect {
    pub session_id: SessionId,
    pub username: String,
    pub client_ip: String,
    pub client_port: u16,
    pub reason: DisconnectReason,
}

#[derive(Serialize, Deserialize, Default)]
pub struct ReverifyReport {
    pub valid: u32,
    pub invalid: u32,
    /// Sessions the origin could not judge, waiting for their backoff.
    pub retrying: u32,
    pub remaining: u32,
}

/// A session due for re-verification: its sealed password and its attempts so far.
struct SealedRow {
    id: String,
    username: String,
    /// Hex: the columns are TEXT.
    nonce: String,
    sealed: String,
    attempts: f64,
    first_attempt_at: Option<f64>,
}

impl SealedRow {
    fn read(r: &Row) -> Result<Self> {
        Ok(Self {
            id: r.text("id")?,
            username: r.text("username")?,
            nonce: r.text("nonce")?,
            sealed: r.text("sealed")?,
            attempts: r.num("attempts")?,
            first_attempt_at: r.opt_num("first_attempt_at")?,
        })
    }
}

/// A held session as the operators' list shows it: pending re-verification (no
/// `reason`) or on its way out.
fn session_view(r: &Row) -> Result<SessionView> {
    let reason: Option<DisconnectReason> = r.opt_parsed("reason")?;
    let acked_at = r.opt_num("acked_at")?;
    Ok(SessionView {
        state: SessionState::of(reason.is_some(), acked_at.is_some()),
        session_id: r.parsed("session_id")?,
        server_id: r.parsed("server_id")?,
        username: r.text("username")?,
        client_ip: r.text("client_ip")?,
        client_port: r.num("client_port")? as u16,
        source: r.parsed("source")?,
        admitted_at: rfc3339_ms(r.num("admitted_at")? as i64).unwrap_or_default(),
        attempts: r.num("attempts")? as u32,
        reason,
    })
}

fn disconnect_row(d: &Row) -> Result<Disconnect> {
    Ok(Disconnect {
        session_id: d.parsed("session_id")?,
        username: d.text("username")?,
        client_ip: d.text("client_ip")?,
        client_port: d.num("client_port")? as u16,
        reason: d.parsed("reason")?,
    })
}

/// What one re-verification run works with.
struct Run<'a> {
    cfg: &'a Config,
    /// The cache epoch, when readable (valid sessions refresh the cache only then).
    epoch: Option<u64>,
    now_ms: i64,
}

#[durable_object(fetch)]
pub struct SessionLedger {
    state: State,
    env: Env,
    reverifying: Cell<bool>,
    /// A re-verification asked for while a run was in flight: the run goes round once more
    /// with it, so a kick (the origin is back, the minute's round) is never lost to a run
    /// that started earlier and may have seen the origin down.
    again: Cell<Option<ReverifyReq>>,
}

fn storage_err<E: std::fmt::Display>(e: E) -> ApiError {
    log_error!("session ledger storage: {e}");
    ApiError::unavailable("session ledger")
}

fn session_key(cfg: &Config) -> std::result::Result<[u8; 32], ApiError> {
    cfg.session_key.map(|k| *k.expose()).ok_or_else(|| ApiError::not_configured("SESSION_KEY is missing or malformed"))
}

/// Columns added after the first release: added in place, so stored sessions survive.
fn add_columns(sql: &SqlStorage, table: &str, columns: &[(&str, &str)]) {
    let have = match sql.exec(&format!("SELECT * FROM {table} LIMIT 0"), None) {
        Ok(c) => c.column_names(),
        Err(e) => {
            log_error!("session ledger schema: {e}");
            return;
        }
    };
    for (name, ddl) in columns {
        if !have.iter().any(|c| c == name) {
            if let Err(e) = sql.exec(&format!("ALTER TABLE {table} ADD COLUMN {name} {ddl}"), None) {
                log_error!("session ledger schema: {e}");
            }
        }
    }
}

impl SessionLedger {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// The rows of one query, each read by `read`; a row that does not read is reported,
    /// never skipped.
    fn rows<T>(
        &self,
        query: &str,
        args: Vec<SqlStorageValue>,
        read: fn(&Row) -> Result<T>,
    ) -> std::result::Result<Vec<T>, ApiError> {
        sql::rows(&self.sql(), query, args).and_then(|rows| rows.iter().map(read).collect()).map_err(storage_err)
    }

    fn count(&self, query: &str, args: Vec<SqlStorageValue>) -> std::result::Result<u32, ApiError> {
        let rows = self.rows(query, args, |r| r.num("n"))?;
        Ok(rows.first().map(|n| *n as u32).unwrap_or(0))
    }

    fn data_keys(&self) -> std::result::Result<worker::kv::KvStore, ApiError> {
        self.env.kv(credential_cache::NAMESPACE).map_err(|_| ApiError::unavailable("credential store"))
    }

    /// Seal and store; a session id already held (a replayed request) is left as it is.
    /// The seal's data key goes to KV first: a record without one is never written.
    async fn record(&self, cfg: &Config, r: RecordReq) -> std::result::Result<(), ApiError> {
        let held = self.count("SELECT COUNT(*) AS n FROM sessions WHERE id = ?", vec![r.session_id.as_str().into()])?;
        if held > 0 {
            return Ok(());
        }
        let data_key = webcrypto::random::<32>().map_err(|_| ApiError::internal("random"))?;
        self.data_keys()?; // the binding, as for every access
        let (name, ttl) = (seal_data_key_name(r.session_id.as_str()), u64::from(cfg.cache_max_age_days) * 86_400);
        crate::stores::kv::put_text(&self.env, credential_cache::NAMESPACE, &name, &hex(&data_key), Some(ttl))
            .await
            .map_err(storage_err)?;
        let key = seal_key(&session_key(cfg)?, &data_key);
        let nonce = webcrypto::random::<12>().map_err(|_| ApiError::internal("random"))?;
        let sealed = webcrypto::seal(&key, &nonce, r.session_id.as_str().as_bytes(), r.password.as_bytes())
            .await
            .map_err(|_| ApiError::internal("seal"))?;
        self.sql()
            .exec(
                "INSERT OR IGNORE INTO sessions (id, server_id, username, client_ip, client_port, source, admitted_at, nonce, sealed, attempts, next_attempt_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
                vec![
                    r.session_id.as_str().into(),
                    r.server_id.as_str().into(),
                    r.username.into(),
                    r.client_ip.into(),
                    i64::from(r.client_port).into(),
                    r.source.as_str().into(),
                    r.admitted_at.into(),
                    hex(&nonce).into(),
                    hex(&sealed).into(),
                ],
            )
            .map_err(storage_err)?;
        Ok(())
    }

    async fn record_offline(&self, cfg: &Config, req: OfflineReq) -> std::result::Result<Vec<OfflineItem>, ApiError> {
        let mut out = Vec::with_capacity(req.items.len());
        for r in req.items {
            let held =
                self.count("SELECT COUNT(*) AS n FROM sessions WHERE id = ?", vec![r.session_id.as_str().into()])?;
            if held > 0 {
                out.push(OfflineItem { recorded: true, error: None, failure: false });
                continue;
            }
            let for_user = self.count(
                "SELECT COUNT(*) AS n FROM sessions WHERE server_id = ? AND source = 'offline' AND username = ?",
                vec![r.server_id.as_str().into(), r.username.clone().into()],
            )?;
            let for_server = self.count(
                "SELECT COUNT(*) AS n FROM sessions WHERE server_id = ? AND source = 'offline'",
                vec![r.server_id.as_str().into()],
            )?;
            match offline_fits(for_user, for_server) {
                Ok(()) => {
                    self.record(cfg, r).await?;
                    out.push(OfflineItem { recorded: true, error: None, failure: false });
                }
                Err(refusal) => out.push(OfflineItem {
                    recorded: false,
                    error: Some(refusal.message()),
                    failure: refusal.counts_as_failure(),
                }),
            }
        }
        Ok(out)
    }

    fn sessions(&self) -> std::result::Result<Vec<SessionView>, ApiError> {
        // Pending sessions by admission, then disconnects in the order they were decided.
        self.rows(
            "SELECT session_id, server_id, username, client_ip, client_port, source, admitted_at, attempts, reason, acked_at FROM ( \
               SELECT id AS session_id, server_id, username, client_ip, client_port, source, admitted_at, attempts, \
                      NULL AS reason, NULL AS acked_at, 0 AS part, admitted_at AS ord FROM sessions \
               UNION ALL \
               SELECT session_id, server_id, username, client_ip, client_port, source, admitted_at, 0, \
                      reason, acked_at, 1, created_at FROM disconnects \
             ) ORDER BY part, ord",
            vec![],
            session_view,
        )
    }

    /// Open one sealed password and ask the origin.
    async fn judge(&self, cfg: &Config, session_key: &[u8; 32], row: &SealedRow) -> (Judged, Option<String>) {
        let read = match self.data_keys() {
            Ok(_) if cfg.fault("sealkeys") => Err("TEST_FAULTS sealkeys".to_string()),
            Ok(kv) => kv.get(&seal_data_key_name(&row.id)).text().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.message),
        };
        let data_key = match read {
            Ok(hex) => hex.and_then(|h| unhex(&h)),
            Err(e) => {
                log_error!("session ledger: a seal's data key could not be read ({e}); retried later");
                return (Judged::KeyUnreadable, None);
            }
        };
        let opened = match (data_key, unhex(&row.nonce), unhex(&row.sealed)) {
            (Some(dk), Some(nonce), Some(sealed)) => {
                webcrypto::open(&seal_key(session_key, &dk), &nonce, row.id.as_bytes(), &sealed).await.ok()
            }
            _ => None,
        };
        let Some(plain) = opened.and_then(|p| String::from_utf8(p).ok()) else {
            log_error!("session ledger: a sealed password could not be opened; disconnecting the session");
            return (Judged::KeyUnreadable, None);
        };
        (Judged::Answer(origin::ask(cfg, &row.username, &plain).await), Some(plain))
    }

    /// Carry out one verdict. The sealed password goes with the session row as soon as
    /// a verdict is in.
    async fn apply(
        &self,
        run: &Run<'_>,
        row: &SealedRow,
        verdict: Verdict,
        password: Option<&str>,
        report: &mut ReverifyReport,
    ) -> std::result::Result<(), ApiError> {
        let (cfg, epoch, now_ms) = (run.cfg, run.epoch, run.now_ms);
        match verdict {
            Verdict::Retry { attempts, next_at } => {
                report.retrying += 1;
                self.sql()
                    .exec(
                        "UPDATE sessions SET attempts = ?, first_attempt_at = ?, next_attempt_at = ? WHERE id = ?",
                        vec![
                            i64::from(attempts.count).into(),
                            attempts.first_at.map(SqlStorageValue::from).unwrap_or(SqlStorageValue::Null),
                            next_at.into(),
                            row.id.clone().into(),
                        ],
                    )
                    .map_err(storage_err)?;
                return Ok(());
            }
            Verdict::Disconnect(reason) => {
                report.invalid += 1;
                self.disconnect(&row.id, reason, now_ms)?;
            }
            Verdict::Valid => {
                report.valid += 1;
                if let (Some(pepper), Some(epoch), Some(password)) = (&cfg.cred_pepper, epoch, password) {
                    if let Err(e) = credential_cache::write(
                        &self.env,
                        &row.username,
                        password,
                        pepper,
                        epoch,
                        now_ms,
                        cfg.cache_max_age_days,
                    )
                    .await
                    {
                        log_error!("session ledger: cache refresh failed: {}", e.message);
                    }
                }
            }
        }
        self.forget(&row.id).await?;
        Ok(())
    }

    /// Delete a session and its sealed password. SQLite leaves a deleted row's bytes in
    /// free space, so the sealed value and nonce are first overwritten in place with zeros
    /// of the same length (a same-size update rewrites the cell where it is).
    async fn forget(&self, id: &str) -> std::result::Result<(), ApiError> {
        // The data key first: without it the sealed bytes left in storage history are noise.
        self.data_keys()?.delete(&seal_data_key_name(id)).await.map_err(storage_err)?;
        self.sql()
            .exec(
                "UPDATE sessions SET sealed = substr(hex(zeroblob(length(sealed))), 1, length(sealed)),                  nonce = substr(hex(zeroblob(length(nonce))), 1, length(nonce)) WHERE id = ?",
                vec![id.into()],
            )
            .map_err(storage_err)?;
        self.sql().exec("DELETE FROM sessions WHERE id = ?", vec![id.into()]).map_err(storage_err)?;
        Ok(())
    }

    fn disconnect(&self, id: &str, reason: DisconnectReason, now_ms: i64) -> std::result::Result<(), ApiError> {
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO disconnects (session_id, server_id, username, client_ip, client_port, source, admitted_at, reason, created_at, acked_at) \
                 SELECT id, server_id, username, client_ip, client_port, source, admitted_at, ?, ?, NULL FROM sessions WHERE id = ?",
                vec![reason.as_str().into(), now_ms.into(), id.into()],
            )
            .map_err(storage_err)?;
        Ok(())
    }

    async fn reverify(&self, r: ReverifyReq) -> std::result::Result<ReverifyReport, ApiError> {
        let mut report = ReverifyReport::default();
        if self.reverifying.replace(true) {
            self.again.set(Some(r));
        } else {
            let mut next = Some(r);
            let mut result = Ok(());
            while let Some(r) = next.take() {
                result = self.reverify_run(&r, &mut report).await;
                next = if result.is_ok() { self.again.take() } else { None };
            }
            self.reverifying.set(false);
            result?;
        }
        report.remaining = self.count("SELECT COUNT(*) AS n FROM sessions", vec![])?;
        Ok(report)
    }

    /// One run over every due session. It never stops at a failure: a session the origin
    /// cannot judge waits for its own backoff while the others are judged.
    async fn reverify_run(&self, r: &ReverifyReq, report: &mut ReverifyReport) -> std::result::Result<(), ApiError> {
        let now = r.now_ms;
        self.sql()
            .exec(
                "DELETE FROM disconnects WHERE acked_at IS NOT NULL AND acked_at < ?",
                vec![(now - ACKED_KEEP_MS).into()],
            )
            .map_err(storage_err)?;
        let rows = self.rows(
            "SELECT id, username, nonce, sealed, attempts, first_attempt_at FROM sessions WHERE next_attempt_at <= ? \
                 ORDER BY next_attempt_at, admitted_at LIMIT ?",
            vec![now.into(), (REVERIFY_BATCH as i64).into()],
            SealedRow::read,
        )?;
        if rows.is_empty() {
            return Ok(());
        }
        let cfg = env_config::load(&self.env);
        let key = session_key(&cfg)?;
        // Without the epoch, valid sessions are still confirmed, only the cache is not refreshed.
        let epoch = credential_cache::epoch(&self.env, now).await.ok();
        let run = Run { cfg: &cfg, epoch, now_ms: now };
        let attempts =
            |row: &SealedRow| Attempts { count: row.attempts as u32, first_at: row.first_attempt_at.map(|t| t as i64) };
        let mut judged_all = Vec::with_capacity(rows.len());
        let mut undecided = Vec::new();
        for chunk in rows.chunks(REVERIFY_CONCURRENCY) {
            let answers = join_all(chunk.iter().map(|row| self.judge(&cfg, &key, row))).await;
            for (row, (judged, password)) in chunk.iter().zip(answers) {
                judged_all.push(judged);
                match reverify_verdict(attempts(row), judged, true, now, r.max_attempts) {
                    // Could not judge: decided once the whole run shows whether the origin
                    // judged anyone else.
                    Verdict::Retry { .. } => undecided.push((row, judged)),
                    verdict => self.apply(&run, row, verdict, password.as_deref(), report).await?,
                }
            }
        }
        if undecided.is_empty() {
            return Ok(());
        }
        let probe = if needs_probe(&judged_all) {
            let pw = hex(&webcrypto::random::<16>().map_err(|_| ApiError::internal("random"))?);
            Some(origin::ask(&cfg, origin::PROBE_USERNAME, &pw).await)
        } else {
            None
        };
        let judging = origin_judging(&judged_all, probe);
        for (row, judged) in undecided {
            let verdict = reverify_verdict(attempts(row), judged, judging, now, r.max_attempts);
            self.apply(&run, row, verdict, None, report).await?;
        }
        Ok(())
    }

    async fn record_one(&self, r: RecordReq) -> std::result::Result<Recorded, ApiError> {
        let cfg = env_config::load(&self.env);
        // Test-only fault switch (README "Tests"): configured out of production.
        if cfg.fault("ledger") {
            return Err(ApiError::unavailable("session ledger"));
        }
        self.record(&cfg, r).await?;
        Ok(Recorded { recorded: true })
    }

    async fn record_many(&self, r: OfflineReq) -> std::result::Result<Vec<OfflineItem>, ApiError> {
        let cfg = env_config::load(&self.env);
        if cfg.fault("ledger") {
            return Err(ApiError::unavailable("session ledger"));
        }
        self.record_offline(&cfg, r).await
    }

    async fn end(&self, r: EndReq) -> std::result::Result<Ended, ApiError> {
        let mine = self.count(
            "SELECT COUNT(*) AS n FROM sessions WHERE id = ? AND server_id = ?",
            vec![r.session_id.to_string().into(), r.server_id.to_string().into()],
        )?;
        if mine > 0 {
            self.forget(r.session_id.as_str()).await?;
        }
        let b = self
            .sql()
            .exec(
                "DELETE FROM disconnects WHERE session_id = ? AND server_id = ?",
                vec![r.session_id.to_string().into(), r.server_id.to_string().into()],
            )
            .map_err(storage_err)?;
        Ok(Ended { ended: mine > 0 || b.rows_written() > 0 })
    }

    async fn disconnects(&self, r: ServerReq) -> std::result::Result<Vec<Disconnect>, ApiError> {
        self.rows(
            "SELECT session_id, username, client_ip, client_port, reason FROM disconnects \
                 WHERE server_id = ? AND acked_at IS NULL ORDER BY created_at",
            vec![r.server_id.to_string().into()],
            disconnect_row,
        )
    }

    async fn ack(&self, r: AckReq) -> std::result::Result<Acked, ApiError> {
        let mut removed = 0;
        for id in r.session_ids {
            removed += self
                .sql()
                .exec(
                    "UPDATE disconnects SET acked_at = ? WHERE server_id = ? AND session_id = ? AND acked_at IS NULL",
                    vec![r.now_ms.into(), r.server_id.to_string().into(), id.to_string().into()],
                )
                .map_err(storage_err)?
                .rows_written();
        }
        Ok(Acked { removed: removed as u32 })
    }
}

impl DurableObject for SessionLedger {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        create_schema(
            &sql,
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
        add_columns(
            &sql,
            "sessions",
            &[
                ("attempts", "INTEGER NOT NULL DEFAULT 0"),
                ("first_attempt_at", "INTEGER"),
                ("next_attempt_at", "INTEGER NOT NULL DEFAULT 0"),
            ],
        );
        add_columns(
            &sql,
            "disconnects",
            &[
                ("source", "TEXT NOT NULL DEFAULT ''"),
                ("admitted_at", "INTEGER NOT NULL DEFAULT 0"),
                ("acked_at", "INTEGER"),
            ],
        );
        Self { state, env, reverifying: Cell::new(false), again: Cell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match rpc::operation(&mut req).await {
            Ok(LedgerOp::Record(r)) => reply::<RecordReq>(self.record_one(r).await),
            Ok(LedgerOp::RecordOffline(r)) => reply::<OfflineReq>(self.record_many(r).await),
            Ok(LedgerOp::End(r)) => reply::<EndReq>(self.end(r).await),
            Ok(LedgerOp::Sessions(_)) => reply::<SessionsReq>(self.sessions()),
            Ok(LedgerOp::Reverify(r)) => reply::<ReverifyReq>(self.reverify(r).await),
            Ok(LedgerOp::Disconnects(r)) => reply::<ServerReq>(self.disconnects(r).await),
            Ok(LedgerOp::Ack(r)) => reply::<AckReq>(self.ack(r).await),
            Err(e) => rpc::refuse(e),
        }
    }
}
