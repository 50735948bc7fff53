//! Rules of `sla.rs` that mutation testing found unpinned (README "An SLA that pays itself").

use vpn_edge_core::sla::*;
use vpn_edge_core::types::Month;

fn m(s: &str) -> Month {
    Month::parse(s).unwrap()
}

const STATES: [(MinuteState, &str); 4] = [
    (MinuteState::Up, "up"),
    (MinuteState::Down, "down"),
    (MinuteState::Maintenance, "maintenance"),
    (MinuteState::Unknown, "unknown"),
];

#[test]
fn minute_state_spells_each_state_and_parses_it_back() {
    for (state, word) in STATES {
        assert_eq!(state.as_str(), word);
        assert_eq!(MinuteState::parse(word), Some(state));
    }
    assert_eq!(MinuteState::parse("Up"), None);
    assert_eq!(MinuteState::parse(""), None);
}

#[test]
fn fleet_checks_add_sums_each_count() {
    let a = FleetChecks { total: 3, passed: 2, maintenance: 1 };
    let b = FleetChecks { total: 5, passed: 1, maintenance: 4 };
    assert_eq!(a + b, FleetChecks { total: 8, passed: 3, maintenance: 5 });
}

#[test]
fn a_fleet_partly_in_maintenance_with_no_passing_check_is_down() {
    assert_eq!(FleetChecks { total: 4, passed: 0, maintenance: 3 }.classify(), MinuteState::Down);
    assert_eq!(FleetChecks { total: 4, passed: 0, maintenance: 4 }.classify(), MinuteState::Maintenance);
    assert_eq!(FleetChecks { total: 1, passed: 1, maintenance: 0 }.classify(), MinuteState::Up);
}

#[test]
fn minute_counts_add_one_to_the_state_and_recorded_sums_all() {
    let mut c = MinuteCounts::default();
    c.add(MinuteState::Up);
    c.add(MinuteState::Down);
    c.add(MinuteState::Down);
    c.add(MinuteState::Maintenance);
    c.add(MinuteState::Maintenance);
    c.add(MinuteState::Maintenance);
    c.add(MinuteState::Unknown);
    assert_eq!(c, MinuteCounts { up: 1, down: 2, maintenance: 3, unknown: 1, down_units: 2 * UNITS_PER_MINUTE });
    assert_eq!(c.recorded(), 7);
}

#[test]
fn sla_policy_is_kept_in_thousandths_of_a_percent_and_clamped() {
    assert_eq!(SlaPolicy::new(99.5, 2), SlaPolicy { target_milli_pct: 99_500, multiplier: 2 });
    assert_eq!(SlaPolicy::new(99.9995, 3).target_milli_pct, 100_000);
    assert_eq!(SlaPolicy::new(150.0, 1).target_milli_pct, 100_000);
    assert_eq!(SlaPolicy::new(-1.0, 1).target_milli_pct, 0);
    assert_eq!(SlaPolicy::default(), SlaPolicy::new(99.5, 2));
}

#[test]
fn report_availability_is_elapsed_minus_down_over_elapsed_to_three_decimals() {
    let month = m("2026-11");
    let counts = MinuteCounts { up: 2, down: 1, down_units: UNITS_PER_MINUTE, ..Default::default() };
    let r = report(month, counts, month.start_minute() + 3, SlaPolicy::default(), None);
    assert_eq!(r.availability_pct, Some(66.667));
    let r = report(
        month,
        MinuteCounts { down: 1, down_units: UNITS_PER_MINUTE, ..Default::default() },
        month.start_minute() + 7,
        SlaPolicy::default(),
        None,
    );
    // Unknown (unrecorded) minutes count as available: (7 − 1) ÷ 7.
    assert_eq!(r.availability_pct, Some(85.714));
    assert_eq!(r.target_pct, 99.5);
    assert_eq!(r.month, "2026-11");
    assert_eq!(r.maintenance_minutes, 0);
}

#[test]
fn a_measured_report_before_the_month_starts_is_fully_available() {
    let month = m("2026-11");
    // A round recorded ahead of the clock (skew): measured, nothing elapsed, 100 %.
    let counts = MinuteCounts { up: 1, ..Default::default() };
    let r = report(month, counts, month.start_minute() - 10, SlaPolicy::default(), None);
    assert_eq!((r.elapsed_minutes, r.availability_pct), (0, Some(100.0)));
    assert_eq!(r.measurement, Measurement::Measured);
    // Nothing recorded: no figure at all rather than a 100 % nobody measured.
    let r = report(month, MinuteCounts::default(), month.start_minute() - 10, SlaPolicy::default(), None);
    assert_eq!((r.elapsed_minutes, r.availability_pct), (0, None));
}

#[test]
fn report_counts_maintenance_and_recorded_unknown_minutes() {
    let month = m("2026-11");
    let counts = MinuteCounts { up: 10, down: 0, maintenance: 4, unknown: 6, down_units: 0 };
    let r = report(month, counts, month.start_minute() + 20, SlaPolicy::default(), None);
    assert_eq!((r.maintenance_minutes, r.unknown_minutes, r.observed_minutes), (4, 6, 20));
    // A ledger with more unknown minutes recorded than elapsed still reports them all.
    let counts = MinuteCounts { unknown: 30, ..Default::default() };
    let r = report(month, counts, month.start_minute() + 20, SlaPolicy::default(), None);
    assert_eq!(r.unknown_minutes, 30);
}

#[test]
fn a_closed_months_report_shows_the_stored_credit_in_full_to_the_operator_only() {
    let month = m("2026-10");
    let counts = MinuteCounts { up: 1, ..Default::default() };
    let state = CreditState {
        status: CreditStatus::Pending,
        attempts: 4,
        issued_at: Some("then".into()),
        last_error: Some("HTTP 503".into()),
        next_attempt_ms: Some(1_000),
        credit_minutes: Some(10),
        body: Some(r#"{"credit_minutes":10}"#.into()),
    };
    let r = report(month, counts, month.end_minute(), SlaPolicy::default(), Some(&state));
    assert_eq!(
        r.credit,
        Some(CreditDetail {
            status: CreditStatus::Pending,
            attempts: 4,
            issued_at: Some("then".into()),
            last_error: Some("HTTP 503".into()),
            next_attempt_at: Some("1970-01-01T00:00:01Z".into()),
            request_body: Some(r#"{"credit_minutes":10}"#.into()),
        })
    );
    assert_eq!(
        r.public().credit,
        Some(CreditView { status: CreditStatus::Pending, attempts: 4, issued_at: Some("then".into()) })
    );
    let running = report(month, counts, month.end_minute() - 1, SlaPolicy::default(), Some(&state));
    assert_eq!(running.credit.map(|c| c.status), Some(CreditStatus::NotDue));
}

#[test]
fn credit_is_due_from_the_first_minute_after_the_month() {
    let month = m("2026-10");
    assert!(!credit_due(month, month.end_minute() - 1));
    assert!(credit_due(month, month.end_minute()));
}

/// The report of `month` once it has closed, with 300 whole minutes down.
fn closed_with_300_down_minutes(month: Month) -> SlaReport<CreditDetail> {
    let counts = MinuteCounts { down: 300, down_units: 300 * UNITS_PER_MINUTE, ..Default::default() };
    report(month, counts, month.end_minute(), SlaPolicy::default(), None)
}

#[test]
fn credit_request_carries_the_reports_figures() {
    let month = m("2026-10");
    let closed = month.end_minute();
    let r = closed_with_300_down_minutes(month);
    let CreditAction::Send(req) = plan_credit(&r, &CreditState::default(), closed, month, 0, false) else {
        panic!("a credit is due")
    };
    assert_eq!(req.idempotency_key, "sla-2026-10");
    assert_eq!(req.credit_minutes, r.credit_minutes);
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["month"], "2026-10");
    assert_eq!(body["credit_minutes"], r.credit_minutes);
    assert_eq!(body["downtime_minutes"], 300);
    assert_eq!(body["availability_pct"].as_f64(), r.availability_pct);
}

#[test]
fn a_retry_due_exactly_now_is_sent_and_by_hand_ignores_the_backoff() {
    let month = m("2026-10");
    let closed = month.end_minute();
    let r = closed_with_300_down_minutes(month);
    let waiting = CreditState { next_attempt_ms: Some(1_000), ..Default::default() };
    assert!(matches!(plan_credit(&r, &waiting, closed, month, 1_000, false), CreditAction::Send(_)));
    assert_eq!(plan_credit(&r, &waiting, closed, month, 999, false), CreditAction::Nothing);
    assert!(matches!(plan_credit(&r, &waiting, closed, month, 999, true), CreditAction::Send(_)));
}

#[test]
fn retryable_statuses_are_408_425_429_and_5xx() {
    for s in [408, 425, 429, 500, 503, 599] {
        assert_eq!(classify_status(s, None), SendOutcome::retryable(format!("HTTP {s}")), "{s}");
    }
    for s in [200, 201, 299] {
        assert_eq!(classify_status(s, Some("5")), SendOutcome::Acknowledged, "{s}");
    }
    for s in [199, 300, 400, 401, 404, 409, 422, 600] {
        assert_eq!(classify_status(s, Some("5")), SendOutcome::Rejected(format!("HTTP {s}")), "{s}");
    }
}

#[test]
fn retry_after_in_seconds_is_read_and_anything_else_is_ignored() {
    let after = |v| match classify_status(503, Some(v)) {
        SendOutcome::Retryable { retry_after_s, .. } => retry_after_s,
        other => panic!("{other:?}"),
    };
    assert_eq!(after("3"), Some(3));
    assert_eq!(after(" 120 "), Some(120));
    assert_eq!(after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    assert_eq!(after("-1"), None);
}

#[test]
fn backoff_doubles_from_the_base_up_to_the_cap() {
    let max = CREDIT_RETRY_MAX_S;
    assert_eq!(max, 6 * 3600, "six hours by default");
    assert_eq!(backoff_ms(0, 60, max), 60_000);
    assert_eq!(backoff_ms(1, 60, max), 60_000);
    assert_eq!(backoff_ms(2, 60, max), 120_000);
    assert_eq!(backoff_ms(8, 60, max), 7_680_000);
    assert_eq!(backoff_ms(9, 60, max), 15_360_000);
    assert_eq!(backoff_ms(10, 60, max), 6 * 3600 * 1000);
    assert_eq!(backoff_ms(u32::MAX, 60, max), 6 * 3600 * 1000);
    assert_eq!(backoff_ms(4, 1, 5), 5_000, "a smaller cap");
}

#[test]
fn a_retryable_send_waits_the_longer_of_backoff_and_retry_after_within_the_cap() {
    let retry = RetryPolicy { base_s: 10, max_s: 100 };
    let req = CreditRequest { idempotency_key: "k".into(), credit_minutes: 2, body: "{}".into() };
    let wait = |retry_after_s| {
        let outcome = SendOutcome::Retryable { error: "HTTP 429".into(), retry_after_s };
        let s = after_attempt(CreditState::default(), &req, outcome, 1_000, "t".into(), retry);
        assert_eq!((s.status, s.last_error.as_deref()), (CreditStatus::Pending, Some("HTTP 429")));
        s.next_attempt_ms.unwrap() - 1_000
    };
    assert_eq!(wait(None), 10_000);
    assert_eq!(wait(Some(5)), 10_000);
    assert_eq!(wait(Some(30)), 30_000);
    assert_eq!(wait(Some(1_000)), 100_000);
}

#[test]
fn an_acknowledged_send_clears_the_error_and_a_rejected_one_stops_retrying() {
    let pending = CreditState {
        last_error: Some("HTTP 500".into()),
        next_attempt_ms: Some(5),
        attempts: 2,
        ..Default::default()
    };
    let retry = RetryPolicy { base_s: 60, max_s: CREDIT_RETRY_MAX_S };
    let req = CreditRequest { idempotency_key: "sla-2026-10".into(), credit_minutes: 7, body: "{\"x\":7}".into() };
    let ok = after_attempt(pending.clone(), &req, SendOutcome::Acknowledged, 0, "t".into(), retry);
    assert_eq!((ok.last_error, ok.next_attempt_ms, ok.credit_minutes, ok.attempts), (None, None, Some(7), 3));
    assert_eq!(
        (ok.status, ok.issued_at.as_deref(), ok.body.as_deref()),
        (CreditStatus::Issued, Some("t"), Some("{\"x\":7}"))
    );
    let no = after_attempt(pending, &req, SendOutcome::Rejected("HTTP 400".into()), 0, "t".into(), retry);
    assert_eq!(
        (no.status, no.last_error.as_deref(), no.next_attempt_ms),
        (CreditStatus::Failed, Some("HTTP 400"), None)
    );
}

#[test]
fn a_zero_credit_is_recorded_as_issued_without_a_call() {
    let s = issued_without_call(CreditState { next_attempt_ms: Some(9), ..Default::default() }, "now".into());
    assert_eq!(
        (s.status, s.credit_minutes, s.issued_at.as_deref(), s.next_attempt_ms),
        (CreditStatus::Issued, Some(0), Some("now"), None)
    );
}
