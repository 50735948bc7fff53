//! SLA reports (public, and the operator's view with the billing API's answers) and the
//! credit trigger (operator and daily cron).

use crate::context::Cx;
use crate::http::{self, Result};
use crate::objects::sla_ledger::{CreditReq, DaysReq, RecordReq, ReportReq};
use crate::rpc::{call, call_text, stub};
use vpn_edge_core::api_error::{ApiError, ErrorCode, RequestError};
use vpn_edge_core::sla::{credit_due, DayFigures, MinuteRecord, SlaReport};
use vpn_edge_core::types::Month;
use worker::{Env, Response, Stub};

fn ledger(env: &Env, month: Month) -> Result<Stub> {
    stub(env, "SLA", &month.to_string(), "SLA ledger")
}

fn parse_month(s: &str, now_ms: i64) -> Result<Month> {
    Month::parse_report(s, now_ms.div_euclid(60_000)).map_err(|e| RequestError::field("month", e.0).into())
}

/// The operator's report as the ledger encoded it (`SlaReport<CreditDetail>`). The Worker
/// never decodes that type (README "Size"): the operator's routes show this text as it is,
/// the public one reads it as the public report.
async fn operator_report(env: &Env, month: Month, now_ms: i64) -> Result<String> {
    call_text(&ledger(env, month)?, ReportReq { month, now_ms }).await
}

/// The public report: the credit's status and attempts, never the billing API's words.
/// Read from the operator's text as `SlaReport<CreditView>`, which skips the fields
/// `CreditView` lacks: `SlaReport::public` of the operator's report.
pub async fn month_report(env: &Env, month: Month, now_ms: i64) -> Result<SlaReport> {
    let text = operator_report(env, month, now_ms).await?;
    serde_json::from_slice(text.as_bytes()).map_err(|_| ApiError::internal("durable object answer"))
}

async fn month_days(env: &Env, month: Month) -> Result<Vec<DayFigures>> {
    call(&ledger(env, month)?, DaysReq { month }).await
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
    let all = crate::join::join_all(months.into_iter().map(|m| month_days(env, m))).await;
    // A month that cannot be read shows as "no data" on the strip; the cause goes to the log.
    let mut days: Vec<DayFigures> = all
        .into_iter()
        .filter_map(|r| r.map_err(|e| log_error!("status page: ledger days: {}", e.message)).ok())
        .flatten()
        .filter(|d| d.day >= first)
        .collect();
    vpn_edge_core::sort::sort_by_key(&mut days, |d| d.day);
    Ok(days)
}

pub async fn report(cx: &mut Cx<'_>) -> Result<Response> {
    let now = cx.now_ms;
    let month = parse_month(cx.param, now)?;
    http::cacheable_json(cx.req, &month_report(cx.env, month, now).await?)
}

/// `GET /v1/admin/sla/{month}`: the report with the credit's `last_error`, next attempt
/// and the exact body sent.
pub async fn admin_report(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, now) = (cx.env, cx.now_ms);
    let month = parse_month(cx.param, now)?;
    http::json_bytes(200, operator_report(env, month, now).await?.into_bytes())
}

pub async fn credit_by_hand(cx: &mut Cx<'_>) -> Result<Response> {
    let (env, now) = (cx.env, cx.now_ms);
    let month = parse_month(cx.param, now)?;
    if !credit_due(month, now.div_euclid(60_000)) {
        return Err(ApiError::new(409, ErrorCode::MonthNotClosed, "a month's credit is due once the month has ended"));
    }
    let r = call_text(&ledger(env, month)?, CreditReq { month, now_ms: now, by_hand: true }).await?;
    http::json_bytes(200, r.into_bytes())
}

/// The round's minutes, one call per month they fall in (a round's few minutes can
/// straddle a month's end).
pub async fn record_minutes(env: &Env, minutes: Vec<MinuteRecord>) -> Result<()> {
    let mut by_month: Vec<(Month, Vec<MinuteRecord>)> = Vec::new();
    for m in minutes {
        let month = Month::of_minute(m.minute);
        match by_month.iter_mut().find(|(k, _)| *k == month) {
            Some((_, v)) => v.push(m),
            None => by_month.push((month, vec![m])),
        }
    }
    for (month, minutes) in by_month {
        // The reply is `()`: only success is read (README "Size").
        call_text(&ledger(env, month)?, RecordReq { month, minutes }).await?;
    }
    Ok(())
}

/// Closed months the daily cron looks after: the last three, so a missed day or a long
/// outage of the billing API at a month boundary still gets its credit issued.
pub const CREDIT_LOOKBACK_MONTHS: u32 = 3;

pub async fn daily_credits(env: &Env, now_ms: i64) {
    let mut month = Month::of_minute(now_ms.div_euclid(60_000));
    for _ in 0..CREDIT_LOOKBACK_MONTHS {
        month = month.prev();
        let r = match ledger(env, month) {
            Ok(stub) => call_text(&stub, CreditReq { month, now_ms, by_hand: false }).await,
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            log_error!("daily credit {month}: {}", e.message);
        }
    }
}
