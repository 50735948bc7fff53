//! `SlaLedger`: one SQLite-backed Durable Object per month. One row per minute keyed by
//! the unix minute, with its down units (README "The SLA and its credits"), so a minute
//! recorded twice counts once; the month's credit state (with the exact body of its first
//! attempt); and the alarm that retries the credit call with backoff. Everything lives in
//! SQLite, so it survives eviction.

use crate::env_config;
use crate::objects::sql;
use crate::outbound::{self, OutboundError};
use crate::rpc::{self, create_schema, protocol, reply};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use vpn_edge_core::api_error::{ApiError, ErrorCode};
use vpn_edge_core::config::Config;
use vpn_edge_core::fleet::rfc3339_ms;
use vpn_edge_core::sla::{
    after_attempt, classify_status, freeze, issued_without_call, parse_credit_state, plan_credit, replaces, report,
    stored_down_units, CreditAction, CreditDetail, CreditRequest, CreditState, DayFigures, MinuteCounts, MinuteRecord,
    MinuteState, SendOutcome, SlaReport,
};
use vpn_edge_core::types::Month;
use worker::*;

protocol! {
    /// What the Worker asks of a month's `SlaLedger`.
    pub enum SlaOp {
        /// Record minutes of this month (a later record replaces one that saw no more).
        Record(RecordReq) -> (),
        /// The month's report, operator detail included.
        Report(ReportReq) -> SlaReport<CreditDetail>,
        /// Issue (or retry) the month's credit.
        Credit(CreditReq) -> SlaReport<CreditDetail>,
        /// Recorded and down minutes per day.
        Days(DaysReq) -> Vec<DayFigures>,
    }
}

#[derive(Serialize, Deserialize)]
pub struct RecordReq {
    pub month: Month,
    pub minutes: Vec<MinuteRecord>,
}

#[derive(Serialize, Deserialize)]
pub struct ReportReq {
    pub month: Month,
    pub now_ms: i64,
}

#[derive(Serialize, Deserialize)]
pub struct CreditReq {
    pub month: Month,
    pub now_ms: i64,
    /// An operator's trigger (`POST /v1/admin/sla/{month}/credit`), not the daily cron.
    pub by_hand: bool,
}

#[derive(Serialize, Deserialize)]
pub struct DaysReq {
    pub month: Month,
}

/// A group's down units: `units` counted with check resolution, `legacy_down` the `down`
/// rows stored before it (no units).
fn down_units(r: &sql::Row) -> Result<u64> {
    Ok(stored_down_units(r.num("units")? as u64, r.num("legacy_down")? as u64))
}

fn with_excerpt(status: String, body: &str) -> String {
    let excerpt: String = body.chars().filter(|c| !c.is_control()).take(200).collect();
    if excerpt.is_empty() {
        status
    } else {
        format!("{status}: {excerpt}")
    }
}

/// One call to the billing API, classified. The body is sent exactly as frozen.
async fn send_credit(cfg: &Config, req: &CreditRequest) -> SendOutcome {
    let (Some(url), Some(token)) = (&cfg.credit_api_url, &cfg.credit_api_token) else {
        // Not configured yet: keep it pending and retry, so setting the secret later is enough.
        return SendOutcome::retryable("CREDIT_API_URL or CREDIT_API_TOKEN is not configured");
    };
    let auth = format!("Bearer {}", token.expose());
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
        ("idempotency-key", req.idempotency_key.as_str()),
    ];
    match outbound::send(Method::Post, url, &headers, Some(req.body.clone()), 10_000).await {
        Ok(reply) => match classify_status(reply.status, reply.retry_after.as_deref()) {
            // Keep a little of the billing API's own words for the operator (never public).
            SendOutcome::Retryable { error, retry_after_s } => {
                SendOutcome::Retryable { error: with_excerpt(error, &reply.body), retry_after_s }
            }
            SendOutcome::Rejected(e) => SendOutcome::Rejected(with_excerpt(e, &reply.body)),
            ok => ok,
        },
        Err(OutboundError::Timeout) => SendOutcome::retryable("timeout"),
        Err(OutboundError::Network(_)) => SendOutcome::retryable("network error"),
    }
}

#[durable_object(alarm)]
pub struct SlaLedger {
    state: State,
    env: Env,
    /// A credit call in flight: the alarm and an operator's trigger must not overlap.
    sending: Cell<bool>,
}

fn storage_err<E: std::fmt::Display>(e: E) -> ApiError {
    log_error!("sla ledger storage: {e}");
    ApiError::unavailable("SLA ledger")
}

impl SlaLedger {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn meta(&self, key: &str) -> std::result::Result<Option<String>, ApiError> {
        let rows = sql::rows(&self.sql(), "SELECT v FROM meta WHERE k = ?", vec![key.into()]).map_err(storage_err)?;
        rows.first().map(|r| r.text("v")).transpose().map_err(storage_err)
    }

    fn set_meta(&self, key: &str, value: &str) -> std::result::Result<(), ApiError> {
        self.sql()
            .exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", vec![key.into(), value.into()])
            .map(|_| ())
            .map_err(storage_err)
    }

    /// The stored credit state (`None` before the first attempt). Unreadable state is an
    /// error, logged with its cause and left untouched: resetting it would forget the
    /// frozen body every retry must repeat (README "The SLA and its credits").
    fn credit_state(&self, month: Month) -> std::result::Result<Option<CreditState>, ApiError> {
        parse_credit_state(self.meta("credit")?.as_deref()).map_err(|e| {
            log_error!("sla ledger {month}: stored credit state is unreadable: {}", e.0);
            ApiError::new(
                500,
                ErrorCode::Internal,
                format!("the stored credit state of {month} is unreadable; it was left as it is"),
            )
        })
    }

    fn save_credit(&self, s: &CreditState) -> std::result::Result<(), ApiError> {
        self.set_meta("credit", &serde_json::to_string(s).map_err(|_| ApiError::internal("serialize"))?)
    }

    fn counts(&self) -> std::result::Result<MinuteCounts, ApiError> {
        // One state's rows: how many, their down units, and how many of them are `down` rows
        // stored before check resolution (no units).
        let rows = sql::rows(
            &self.sql(),
            "SELECT state, COUNT(*) AS n, COALESCE(SUM(down_units), 0) AS units, \
                 SUM(down_units IS NULL AND state = 'down') AS legacy_down FROM minutes GROUP BY state",
            vec![],
        )
        .map_err(storage_err)?;
        let mut counts = MinuteCounts::default();
        for r in rows {
            let (state, n) = (r.text("state").map_err(storage_err)?, r.num("n").map_err(storage_err)?);
            let units = down_units(&r).map_err(storage_err)?;
            if let Some(state) = MinuteState::parse(&state) {
                counts.add_rows(state, n as u32, units);
            }
        }
        Ok(counts)
    }

    fn month(&self, given: Option<&str>) -> std::result::Result<Month, ApiError> {
        let stored = self.meta("month")?;
        let m =
            given.map(str::to_owned).or(stored.clone()).ok_or_else(|| ApiError::internal("ledger without a month"))?;
        if stored.is_none() {
            self.set_meta("month", &m)?;
        }
        Month::parse(&m).map_err(|_| ApiError::internal("ledger month"))
    }

    /// The operator's report (the public route strips it with `SlaReport::public`).
    fn report(&self, month: Month, now_ms: i64) -> std::result::Result<SlaReport<CreditDetail>, ApiError> {
        let cfg = env_config::load(&self.env);
        let credit = self.credit_state(month)?;
        Ok(report(month, self.counts()?, now_ms.div_euclid(60_000), cfg.sla_policy(), credit.as_ref()))
    }

    /// Decide (core) and, if due, send the credit (shell). Returns the report after.
    async fn run_credit(
        &self,
        month: Month,
        now_ms: i64,
        by_hand: bool,
    ) -> std::result::Result<SlaReport<CreditDetail>, ApiError> {
        let cfg = env_config::load(&self.env);
        let r = self.report(month, now_ms)?;
        let state = self.credit_state(month)?.unwrap_or_default();
        match plan_credit(&r, &state, now_ms.div_euclid(60_000), month, now_ms, by_hand) {
            CreditAction::Nothing => {}
            CreditAction::IssueWithoutCall => {
                self.save_credit(&issued_without_call(state, rfc3339_ms(now_ms).unwrap_or_default()))?;
            }
            CreditAction::Send(req) => {
                if self.sending.replace(true) {
                    return self.report(month, now_ms);
                }
                // Stored before the call: a retry after anything repeats these bytes.
                let state = match freeze(&state, &req) {
                    Some(frozen) => match self.save_credit(&frozen) {
                        Ok(()) => frozen,
                        Err(e) => {
                            self.sending.set(false);
                            return Err(e);
                        }
                    },
                    None => state,
                };
                // The flag is reset on every path: `send_credit` cannot return early.
                let outcome = send_credit(&cfg, &req).await;
                self.sending.set(false);
                let now_after = Date::now().as_millis() as i64;
                let next = after_attempt(
                    state,
                    &req,
                    outcome,
                    now_after,
                    rfc3339_ms(now_after).unwrap_or_default(),
                    cfg.credit_retry(),
                );
                self.save_credit(&next)?;
                if let Some(at) = next.next_attempt_ms {
                    // An i64 would be read as an offset from now; pass the delay explicitly.
                    let delay = std::time::Duration::from_millis((at - now_after).max(0) as u64);
                    self.state.storage().set_alarm(ScheduledTime::from(delay)).await.map_err(storage_err)?;
                }
            }
        }
        self.report(month, now_ms)
    }

    /// The statements of one request run without an await in between, so no other
    /// request sees a minute half decided.
    fn record(&self, r: RecordReq) -> std::result::Result<(), ApiError> {
        self.month(Some(&r.month.to_string()))?;
        let sql = self.sql();
        for m in r.minutes {
            let stored = sql::rows(&sql, "SELECT total FROM minutes WHERE minute = ?", vec![m.minute.into()])
                .and_then(|rows| rows.first().map(|t| t.num("total")).transpose())
                .map_err(storage_err)?;
            if !replaces(stored.map(|t| t as u32), &m) {
                continue;
            }
            let c = m.checks;
            sql.exec(
                "INSERT OR REPLACE INTO minutes (minute, state, total, passed, maintenance, down_units) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    m.minute.into(),
                    m.state.as_str().into(),
                    i64::from(c.total).into(),
                    i64::from(c.passed).into(),
                    i64::from(c.maintenance).into(),
                    i64::from(m.down_units).into(),
                ],
            )
            .map_err(storage_err)?;
        }
        Ok(())
    }

    fn operator_report(&self, r: ReportReq) -> std::result::Result<SlaReport<CreditDetail>, ApiError> {
        let month = self.month(Some(&r.month.to_string()))?;
        self.report(month, r.now_ms)
    }

    async fn credit(&self, r: CreditReq) -> std::result::Result<SlaReport<CreditDetail>, ApiError> {
        let month = self.month(Some(&r.month.to_string()))?;
        self.run_credit(month, r.now_ms, r.by_hand).await
    }

    fn days(&self, _: DaysReq) -> std::result::Result<Vec<DayFigures>, ApiError> {
        let rows = sql::rows(
            &self.sql(),
            "SELECT minute / 1440 AS day, COUNT(*) AS recorded, COALESCE(SUM(down_units), 0) AS units, \
                 SUM(down_units IS NULL AND state = 'down') AS legacy_down FROM minutes GROUP BY day ORDER BY day",
            vec![],
        )
        .map_err(storage_err)?;
        let day = |r: &sql::Row| -> Result<DayFigures> {
            Ok(DayFigures {
                day: r.num("day")? as i64,
                recorded: r.num("recorded")? as u32,
                down_units: down_units(r)?,
            })
        };
        rows.iter().map(day).collect::<Result<_>>().map_err(storage_err)
    }
}

impl DurableObject for SlaLedger {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        create_schema(
            &sql,
            "sla ledger",
            &[
            "CREATE TABLE IF NOT EXISTS minutes (minute INTEGER PRIMARY KEY, state TEXT NOT NULL, total INTEGER NOT NULL, passed INTEGER NOT NULL, maintenance INTEGER NOT NULL, down_units INTEGER)",
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
            ],
        );
        // A ledger from before check resolution: add the column; its rows keep NULL units
        // and are read as they were counted (a `down` row is a whole minute).
        if sql.exec("SELECT down_units FROM minutes LIMIT 0", None).is_err() {
            create_schema(&sql, "sla ledger", &["ALTER TABLE minutes ADD COLUMN down_units INTEGER"]);
        }
        Self { state, env, sending: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match rpc::operation(&mut req).await {
            Ok(SlaOp::Record(r)) => reply::<RecordReq>(self.record(r)),
            Ok(SlaOp::Report(r)) => reply::<ReportReq>(self.operator_report(r)),
            Ok(SlaOp::Credit(r)) => reply::<CreditReq>(self.credit(r).await),
            Ok(SlaOp::Days(r)) => reply::<DaysReq>(self.days(r)),
            Err(e) => rpc::refuse(e),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let now = Date::now().as_millis() as i64;
        match self.month(None) {
            Ok(month) => {
                if let Err(e) = self.run_credit(month, now, false).await {
                    // Throwing makes the runtime retry the alarm too; our own backoff is enough.
                    log_error!("sla credit alarm: {}", e.message);
                }
            }
            Err(e) => log_error!("sla credit alarm: {}", e.message),
        }
        Response::empty()
    }
}
