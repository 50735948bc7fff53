//! SLA reports (public, and the operator's view with the billing API's answers) and the
//! credit trigger (operator and daily cron).

use crate::caller::bearer;
use crate::http::{self, Result};
use crate::objects::sla_ledger::{MonthReq, RecordReq};
use crate::rpc::{call, stub};
use vpn_edge_core::api_error::{ApiError, RequestError};
use vpn_edge_core::config::Config;
use vpn_edge_core::sla::{credit_due, CreditDetail, DayFigures, FleetChecks, SlaReport};
use vpn_edge_core::types::Month;
use worker::{Env, Request, Response, Stub};

fn ledger(env: &Env, month: Month) -> Result<Stub> {
    stub(env, "SLA", &month.to_string(), "SLA ledger")
}

fn parse_month(s: &str, now_ms: i64) -> Result<Month> {
    Month::parse_report(s, now_ms.div_euclid(60_000)).map_err(|e| RequestError::field("month", e.0).into())
}

async fn operator_report(env: &Env, month: Month, now_ms: i64) -> Result<SlaReport<CreditDetail>> {
    call(&ledger(env, month)?, "report", &MonthReq { month: month.to_string(), now_ms, by_hand: false }).await
}

/// The public report: the credit's status and attempts, never the billing API's words.
pub async fn month_report(env: &Env, month: Month, now_ms: i64) -> Result<SlaReport> {
    Ok(operator_report(env, month, now_ms).await?.public())
}

async fn month_days(env: &Env, month: Month) -> Result<Vec<DayFigures>> {
    call(&ledger(env, month)?, "days", &MonthReq { month: month.to_string(), now_ms: 0, by_hand: false }).await
}

/// Per-day figures of the last `n` days (the months they span, in parallel).
pub async fn last_days(env: &Env, now_ms: i64, n: i64) -> Result<Vec<DayFigures>> {
    let today = now_ms.div_euclid(86_400_000);
    let first = today - n + 1;
    let mut months = vec![Month::of_minute(today * 1440)];
    while months.last().is_some_and(|m| m.start_minute() > first * 1440) {
        let prev = months.last().map(|m| m.prev()).unwrap_or(months[0]);
        months.push(prev);
    }
    let all = futures_util::future::join_all(months.into_iter().map(|m| month_days(env, m))).await;
    // A month that cannot be read shows as "no data" on the strip; the cause goes to the log.
    let mut days: Vec<DayFigures> = all
        .into_iter()
        .filter_map(|r| r.map_err(|e| worker::console_error!("status page: ledger days: {}", e.message)).ok())
        .flatten()
        .filter(|d| d.day >= first)
        .collect();
    vpn_edge_core::sort::sort_by_key(&mut days, |d| d.day);
    Ok(days)
}

pub async fn report(req: &Request, env: &Env, month: &str) -> Result<Response> {
    let now = http::now_ms();
    let month = parse_month(month, now)?;
    http::cacheable_json(req, &month_report(env, month, now).await?)
}

/// `GET /v1/admin/sla/{month}`: the report with the credit's `last_error`, next attempt
/// and the exact body sent.
pub async fn admin_report(req: &Request, env: &Env, cfg: &Config, month: &str) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let now = http::now_ms();
    let month = parse_month(month, now)?;
    http::json(200, &operator_report(env, month, now).await?)
}

pub async fn credit_by_hand(req: &Request, env: &Env, cfg: &Config, month: &str) -> Result<Response> {
    bearer(req, cfg.admin_token.as_deref(), "ADMIN_TOKEN")?;
    let now = http::now_ms();
    let month = parse_month(month, now)?;
    if !credit_due(month, now.div_euclid(60_000)) {
        return Err(ApiError::new(409, "month_not_closed", "a month's credit is due once the month has ended"));
    }
    let r: SlaReport<CreditDetail> =
        call(&ledger(env, month)?, "credit", &MonthReq { month: month.to_string(), now_ms: now, by_hand: true })
            .await?;
    http::json(200, &r)
}

/// The round's raw checks for its minute.
pub async fn record_minute(env: &Env, minute: i64, checks: FleetChecks) -> Result<()> {
    let month = Month::of_minute(minute);
    let _: serde_json::Value =
        call(&ledger(env, month)?, "record", &RecordReq { month: month.to_string(), minute, checks }).await?;
    Ok(())
}

/// Closed months the daily cron looks after: the last three, so a missed day or a long
/// outage of the billing API at a month boundary still gets its credit issued.
pub const CREDIT_LOOKBACK_MONTHS: u32 = 3;

pub async fn daily_credits(env: &Env, now_ms: i64) {
    let mut month = Month::of_minute(now_ms.div_euclid(60_000));
    for _ in 0..CREDIT_LOOKBACK_MONTHS {
        month = month.prev();
        let r: Result<SlaReport<CreditDetail>> = match ledger(env, month) {
            Ok(stub) => call(&stub, "credit", &MonthReq { month: month.to_string(), now_ms, by_hand: false }).await,
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            worker::console_error!("daily credit {month}: {}", e.message);
        }
    }
}
