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
    assert_eq!(c, MinuteCounts { up: 1, down: 2, maintenance: 3, unknown: 1 });
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
fn report_availability_is_up_over_elapsed_to_three_decimals() {
    let month = m("2026-11");
    let counts = MinuteCounts { up: 2, down: 1, ..Default::default() };
    let r = report(month, counts, month.start_minute() + 3, SlaPolicy::default(), None);
    assert_eq!(r.availability_pct, 66.667);
    let r = report(
        month,
        MinuteCounts { down: 1, ..Default::default() },
        month.start_minute() + 7,
        SlaPolicy::default(),
        None,
    );
    assert_eq!(r.availability_pct, 85.714);
    assert_eq!(r.target_pct, 99.5);
    assert_eq!(r.month, "2026-11");
    assert_eq!(r.maintenance_minutes, 0);
}

#[test]
fn report_before_the_month_starts_is_fully_available() {
    let month = m("2026-11");
    let r = report(month, MinuteCounts::default(), month.start_minute() - 10, SlaPolicy::default(), None);
    assert_eq!((r.elapsed_minutes, r.availability_pct), (0, 100.0));
}

#[test]
fn report_counts_maintenance_and_recorded_unknown_minutes() {
    let month = m("2026-11");
    let counts = MinuteCounts { up: 10, down: 0, maintenance: 4, unknown: 6 };
    let r = report(month, counts, month.start_minute() + 20, SlaPolicy::default(), None);
    assert_eq!((r.maintenance_minutes, r.unknown_minutes, r.observed_minutes), (4, 6, 20));
    // A ledger with more unknown minutes recorded than elapsed still reports them all.
    let counts = MinuteCounts { unknown: 30, ..Default::default() };
    let r = report(month, counts, month.start_minute() + 20, SlaPolicy::default(), None);
    assert_eq!(r.unknown_minutes, 30);
}

#[test]
fn a_closed_months_report_shows_the_stored_credit() {
    let month = m("2026-10");
    let state = CreditState {
        status: CreditStatus::Failed,
        attempts: 4,
        issued_at: Some("then".into()),
        last_error: Some("HTTP 401".into()),
        next_attempt_ms: None,
        credit_minutes: Some(10),
    };
    let r = report(month, MinuteCounts::default(), month.end_minute(), SlaPolicy::default(), Some(&state));
    assert_eq!(
        r.credit,
        CreditView {
            status: CreditStatus::Failed,
            attempts: 4,
            issued_at: Some("then".into()),
            last_error: Some("HTTP 401".into())
        }
    );
    let running = report(month, MinuteCounts::default(), month.end_minute() - 1, SlaPolicy::default(), Some(&state));
    assert_eq!(running.credit.status, CreditStatus::NotDue);
}

#[test]
fn credit_is_due_from_the_first_minute_after_the_month() {
    let month = m("2026-10");
    assert!(!credit_due(month, month.end_minute() - 1));
    assert!(credit_due(month, month.end_minute()));
}

#[test]
fn credit_request_carries_the_reports_figures() {
    let month = m("2026-10");
    let closed = month.end_minute();
    let r = report(month, MinuteCounts { down: 300, ..Default::default() }, closed, SlaPolicy::default(), None);
    let CreditAction::Send(req) = plan_credit(&r, &CreditState::default(), closed, month, 0, false) else {
        panic!("a credit is due")
    };
    assert_eq!(req.month, "2026-10");
    assert_eq!(req.downtime_minutes, 300);
    assert_eq!(req.availability_pct, r.availability_pct);
}

#[test]
fn a_retry_due_exactly_now_is_sent_and_by_hand_ignores_the_backoff() {
    let month = m("2026-10");
    let closed = month.end_minute();
    let r = report(month, MinuteCounts { down: 300, ..Default::default() }, closed, SlaPolicy::default(), None);
    let waiting = CreditState { next_attempt_ms: Some(1_000), ..Default::default() };
    assert!(matches!(plan_credit(&r, &waiting, closed, month, 1_000, false), CreditAction::Send(_)));
    assert_eq!(plan_credit(&r, &waiting, closed, month, 999, false), CreditAction::Nothing);
    assert!(matches!(plan_credit(&r, &waiting, closed, month, 999, true), CreditAction::Send(_)));
}

#[test]
fn retryable_statuses_are_408_425_429_and_5xx() {
    for s in [408, 425, 429, 500, 503, 599] {
        assert_eq!(classify_status(s), SendOutcome::Retryable(format!("HTTP {s}")), "{s}");
    }
    for s in [200, 201, 299] {
        assert_eq!(classify_status(s), SendOutcome::Acknowledged, "{s}");
    }
    for s in [199, 300, 400, 401, 404, 409, 422, 600] {
        assert_eq!(classify_status(s), SendOutcome::Rejected(format!("HTTP {s}")), "{s}");
    }
}

#[test]
fn backoff_doubles_from_the_base_up_to_six_hours() {
    assert_eq!(backoff_ms(0, 60), 60_000);
    assert_eq!(backoff_ms(1, 60), 60_000);
    assert_eq!(backoff_ms(2, 60), 120_000);
    assert_eq!(backoff_ms(8, 60), 7_680_000);
    assert_eq!(backoff_ms(9, 60), 15_360_000);
    assert_eq!(backoff_ms(10, 60), 6 * 3600 * 1000);
    assert_eq!(backoff_ms(u32::MAX, 60), 6 * 3600 * 1000);
}

#[test]
fn an_acknowledged_send_clears_the_error_and_a_rejected_one_stops_retrying() {
    let pending = CreditState {
        last_error: Some("HTTP 500".into()),
        next_attempt_ms: Some(5),
        attempts: 2,
        ..Default::default()
    };
    let ok = after_attempt(pending.clone(), 7, SendOutcome::Acknowledged, 0, "t".into(), 60);
    assert_eq!((ok.last_error, ok.next_attempt_ms, ok.credit_minutes, ok.attempts), (None, None, Some(7), 3));
    let no = after_attempt(pending, 7, SendOutcome::Rejected("HTTP 400".into()), 0, "t".into(), 60);
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
