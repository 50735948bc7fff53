//! SLA arithmetic and the credit's life cycle (DESIGN.md §4).
//!
//! All arithmetic is in integers (minutes × 100,000 for the allowance), so a credit never
//! flips by a floating-point hair: 31 days at 99.5 % is an allowance of exactly 223.2 min.

use crate::types::Month;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MinuteState {
    Up,
    Down,
    Maintenance,
    /// A round ran but the fleet had no registered server.
    Unknown,
}

impl MinuteState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Maintenance => "maintenance",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            "maintenance" => Some(Self::Maintenance),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }
}

/// A round's raw checks over the whole fleet (not the hysteresis state: the SLA judges
/// what customers saw).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetChecks {
    pub total: u32,
    pub passed: u32,
    pub maintenance: u32,
}

impl std::ops::Add for FleetChecks {
    type Output = Self;

    fn add(self, o: Self) -> Self {
        Self {
            total: self.total + o.total,
            passed: self.passed + o.passed,
            maintenance: self.maintenance + o.maintenance,
        }
    }
}

impl FleetChecks {
    pub fn classify(self) -> MinuteState {
        if self.total == 0 {
            MinuteState::Unknown
        } else if self.maintenance >= self.total {
            MinuteState::Maintenance
        } else if self.passed == 0 {
            MinuteState::Down
        } else {
            MinuteState::Up
        }
    }
}

/// At check resolution (README "Probers"): the fleet's checks for `minute` from the
/// cycles the pools judged, `(cycle start ms, checks)` with one entry per pool and cycle.
/// Pools' checks of one cycle add up; the minute takes its worst cycle, so a cycle in
/// which no server of the fleet passed makes the minute down. `None`: no cycle judged.
pub fn minute_checks(cycles: &[(i64, FleetChecks)], minute: i64) -> Option<FleetChecks> {
    let mut by_cycle: std::collections::BTreeMap<i64, FleetChecks> = std::collections::BTreeMap::new();
    for (cycle, c) in cycles.iter().filter(|(cycle, _)| cycle.div_euclid(60_000) == minute) {
        let e = by_cycle.entry(*cycle).or_default();
        *e = *e + *c;
    }
    let rank = |c: &FleetChecks| match c.classify() {
        MinuteState::Down => 3,
        MinuteState::Up => 2,
        MinuteState::Maintenance => 1,
        MinuteState::Unknown => 0,
    };
    by_cycle.into_values().max_by_key(rank)
}

/// `SLA_TARGET_PCT` in thousandths of a percent (99.5 → 99,500) and the multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicy {
    pub target_milli_pct: u32,
    pub multiplier: u32,
}

impl SlaPolicy {
    pub fn new(target_pct: f64, multiplier: u32) -> Self {
        let t = (target_pct * 1000.0).round().clamp(0.0, 100_000.0) as u32;
        Self { target_milli_pct: t, multiplier }
    }
}

impl Default for SlaPolicy {
    fn default() -> Self {
        Self::new(99.5, 2)
    }
}

/// Recorded minutes of a month by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCounts {
    pub up: u32,
    pub down: u32,
    pub maintenance: u32,
    pub unknown: u32,
}

impl MinuteCounts {
    pub fn recorded(&self) -> u32 {
        self.up + self.down + self.maintenance + self.unknown
    }

    pub fn add(&mut self, s: MinuteState) {
        match s {
            MinuteState::Up => self.up += 1,
            MinuteState::Down => self.down += 1,
            MinuteState::Maintenance => self.maintenance += 1,
            MinuteState::Unknown => self.unknown += 1,
        }
    }
}

/// The figures of the credit rule for a month's downtime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CreditFigures {
    pub minutes: u32,
    pub allowance_minutes: f64,
    pub excess_minutes: f64,
    pub credit_minutes: u32,
}

/// `allowance = minutes × (100 − target) / 100`; `credit = multiplier × ceil(downtime −
/// allowance)` when positive.
pub fn credit_for(month: Month, downtime: u32, p: SlaPolicy) -> CreditFigures {
    let minutes = month.days() * 1440;
    // Units of 1/100,000 minute.
    let allowance_u = u64::from(minutes) * u64::from(100_000 - p.target_milli_pct.min(100_000));
    let downtime_u = u64::from(downtime) * 100_000;
    let excess_u = downtime_u.saturating_sub(allowance_u);
    let excess_whole = excess_u.div_ceil(100_000);
    CreditFigures {
        minutes,
        allowance_minutes: allowance_u as f64 / 100_000.0,
        excess_minutes: excess_u as f64 / 100_000.0,
        credit_minutes: (excess_whole as u32).saturating_mul(p.multiplier),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditStatus {
    NotDue,
    Pending,
    Issued,
    Failed,
}

/// The credit's stored state, one per month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditState {
    pub status: CreditStatus,
    pub attempts: u32,
    pub issued_at: Option<String>,
    pub last_error: Option<String>,
    /// When the next attempt is due (ms), while retrying.
    pub next_attempt_ms: Option<i64>,
    /// What was (or is being) sent, fixed at the first attempt so retries repeat it exactly.
    pub credit_minutes: Option<u32>,
}

impl Default for CreditState {
    fn default() -> Self {
        Self {
            status: CreditStatus::Pending,
            attempts: 0,
            issued_at: None,
            last_error: None,
            next_attempt_ms: None,
            credit_minutes: None,
        }
    }
}

/// One UTC day of the ledger, for the status page's 90-day strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// Days since the unix epoch.
    pub day: i64,
    pub recorded: u32,
    pub down: u32,
}

/// `SlaReport` exactly as DESIGN.md defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaReport {
    pub month: String,
    pub minutes: u32,
    /// Minutes of the month that have passed (the whole month once it is closed).
    pub elapsed_minutes: u32,
    pub observed_minutes: u32,
    pub downtime_minutes: u32,
    pub maintenance_minutes: u32,
    pub unknown_minutes: u32,
    pub availability_pct: f64,
    pub target_pct: f64,
    pub allowance_minutes: f64,
    pub excess_minutes: f64,
    pub credit_minutes: u32,
    pub credit: CreditView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditView {
    pub status: CreditStatus,
    pub attempts: u32,
    pub issued_at: Option<String>,
    /// Why the last attempt failed (status and the billing API's words), for operators.
    pub last_error: Option<String>,
}

/// The report of `month` as of the unix minute `now_minute` (month-to-date while the
/// month runs). Unknown minutes count as available.
pub fn report(
    month: Month,
    counts: MinuteCounts,
    now_minute: i64,
    p: SlaPolicy,
    credit: Option<&CreditState>,
) -> SlaReport {
    let start = month.start_minute();
    let end = month.end_minute();
    let elapsed = (now_minute.clamp(start, end) - start) as u32;
    let closed = credit_due(month, now_minute);
    let figures = credit_for(month, counts.down, p);
    let recorded = counts.recorded();
    let unknown = elapsed.saturating_sub(recorded.saturating_sub(counts.unknown)).max(counts.unknown);
    let availability_pct = if elapsed == 0 {
        100.0
    } else {
        let up = f64::from(elapsed.saturating_sub(counts.down));
        (up / f64::from(elapsed) * 100.0 * 1000.0).round() / 1000.0
    };
    let credit = match (closed, credit) {
        (false, _) => CreditView { status: CreditStatus::NotDue, attempts: 0, issued_at: None, last_error: None },
        (true, None) => CreditView { status: CreditStatus::Pending, attempts: 0, issued_at: None, last_error: None },
        (true, Some(c)) => CreditView {
            status: c.status,
            attempts: c.attempts,
            issued_at: c.issued_at.clone(),
            last_error: c.last_error.clone(),
        },
    };
    SlaReport {
        month: month.to_string(),
        minutes: figures.minutes,
        elapsed_minutes: elapsed,
        observed_minutes: recorded,
        downtime_minutes: counts.down,
        maintenance_minutes: counts.maintenance,
        unknown_minutes: unknown,
        availability_pct,
        target_pct: f64::from(p.target_milli_pct) / 1000.0,
        allowance_minutes: figures.allowance_minutes,
        excess_minutes: figures.excess_minutes,
        credit_minutes: figures.credit_minutes,
        credit,
    }
}

/// A month's credit is due once the month has ended (UTC).
pub fn credit_due(month: Month, now_minute: i64) -> bool {
    now_minute >= month.end_minute()
}

/// What to do about a month's credit now.
#[derive(Debug, Clone, PartialEq)]
pub enum CreditAction {
    /// Month still running, already issued, failed permanently, or a retry not yet due.
    Nothing,
    /// Zero credit: recorded as issued without a call.
    IssueWithoutCall,
    Send(CreditRequest),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditRequest {
    #[serde(skip)]
    pub idempotency_key: String,
    pub month: String,
    pub credit_minutes: u32,
    pub downtime_minutes: u32,
    pub availability_pct: f64,
}

/// `by_hand`: an operator's trigger, which also retries a permanently failed credit and
/// ignores the backoff.
pub fn plan_credit(
    r: &SlaReport,
    state: &CreditState,
    now_minute: i64,
    month: Month,
    now_ms: i64,
    by_hand: bool,
) -> CreditAction {
    if !credit_due(month, now_minute) {
        return CreditAction::Nothing;
    }
    match state.status {
        CreditStatus::Issued => return CreditAction::Nothing,
        CreditStatus::Failed if !by_hand => return CreditAction::Nothing,
        _ => {}
    }
    if !by_hand && state.next_attempt_ms.is_some_and(|t| now_ms < t) {
        return CreditAction::Nothing;
    }
    let credit_minutes = state.credit_minutes.unwrap_or(r.credit_minutes);
    if credit_minutes == 0 {
        return CreditAction::IssueWithoutCall;
    }
    CreditAction::Send(CreditRequest {
        idempotency_key: format!("sla-{month}"),
        month: month.to_string(),
        credit_minutes,
        downtime_minutes: r.downtime_minutes,
        availability_pct: r.availability_pct,
    })
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Acknowledged,
    /// 5xx, 408, 429, timeout, network: worth retrying.
    Retryable(String),
    /// Other 4xx: retrying the same request cannot succeed.
    Rejected(String),
}

pub fn classify_status(status: u16) -> SendOutcome {
    match status {
        200..=299 => SendOutcome::Acknowledged,
        408 | 425 | 429 | 500..=599 => SendOutcome::Retryable(format!("HTTP {status}")),
        _ => SendOutcome::Rejected(format!("HTTP {status}")),
    }
}

/// Backoff after the n-th failed attempt: base × 2^(n−1), at most 6 h.
pub fn backoff_ms(attempts: u32, base_s: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(20);
    (i64::from(base_s) * 1000 * (1i64 << exp)).min(6 * 3600 * 1000)
}

pub fn after_attempt(
    mut s: CreditState,
    sent: u32,
    outcome: SendOutcome,
    now_ms: i64,
    issued_at: String,
    base_s: u32,
) -> CreditState {
    s.attempts += 1;
    s.credit_minutes = Some(sent);
    match outcome {
        SendOutcome::Acknowledged => {
            s.status = CreditStatus::Issued;
            s.issued_at = Some(issued_at);
            s.last_error = None;
            s.next_attempt_ms = None;
        }
        SendOutcome::Retryable(e) => {
            s.status = CreditStatus::Pending;
            s.last_error = Some(e);
            s.next_attempt_ms = Some(now_ms + backoff_ms(s.attempts, base_s));
        }
        SendOutcome::Rejected(e) => {
            s.status = CreditStatus::Failed;
            s.last_error = Some(e);
            s.next_attempt_ms = None;
        }
    }
    s
}

pub fn issued_without_call(mut s: CreditState, issued_at: String) -> CreditState {
    s.status = CreditStatus::Issued;
    s.credit_minutes = Some(0);
    s.issued_at = Some(issued_at);
    s.next_attempt_ms = None;
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    #[test]
    fn design_examples() {
        // 30 days: 43,200 min, allowance 216, downtime 300 → credit 168.
        let f = credit_for(m("2026-11"), 300, SlaPolicy::default());
        assert_eq!((f.minutes, f.allowance_minutes, f.credit_minutes), (43_200, 216.0, 168));
        // 31 days: 44,640 min, allowance 223.2, downtime 224 → credit 2.
        let f = credit_for(m("2026-12"), 224, SlaPolicy::default());
        assert_eq!((f.minutes, f.allowance_minutes, f.credit_minutes), (44_640, 223.2, 2));
        assert!((f.excess_minutes - 0.8).abs() < 1e-9);
    }

    #[test]
    fn february() {
        // 2027-02: 28 days → 40,320 min, allowance 201.6.
        let f = credit_for(m("2027-02"), 202, SlaPolicy::default());
        assert_eq!((f.minutes, f.allowance_minutes, f.credit_minutes), (40_320, 201.6, 2));
        // 2028-02: 29 days (leap) → 41,760 min, allowance 208.8.
        let f = credit_for(m("2028-02"), 208, SlaPolicy::default());
        assert_eq!((f.minutes, f.allowance_minutes, f.credit_minutes), (41_760, 208.8, 0));
        assert_eq!(credit_for(m("2028-02"), 209, SlaPolicy::default()).credit_minutes, 2);
    }

    #[test]
    fn zero_and_full_downtime() {
        assert_eq!(credit_for(m("2026-11"), 0, SlaPolicy::default()).credit_minutes, 0);
        assert_eq!(credit_for(m("2026-11"), 216, SlaPolicy::default()).credit_minutes, 0, "exactly the allowance");
        let full = credit_for(m("2026-11"), 43_200, SlaPolicy::default());
        assert_eq!(full.credit_minutes, 2 * (43_200 - 216));
        let month = m("2026-11");
        let r = report(
            month,
            MinuteCounts { down: 43_200, ..Default::default() },
            month.end_minute(),
            SlaPolicy::default(),
            None,
        );
        assert_eq!(r.availability_pct, 0.0);
        assert_eq!(r.credit.status, CreditStatus::Pending);
    }

    #[test]
    fn month_to_date_and_unknown_minutes() {
        let month = m("2026-11");
        let now = month.start_minute() + 100;
        let counts = MinuteCounts { up: 50, down: 10, maintenance: 5, unknown: 2 };
        let r = report(month, counts, now, SlaPolicy::default(), None);
        assert_eq!(r.elapsed_minutes, 100);
        assert_eq!(r.observed_minutes, 67);
        // 100 elapsed − 65 recorded with a known state = 35 unknown (incl. the 2 recorded).
        assert_eq!(r.unknown_minutes, 35);
        assert_eq!(r.availability_pct, 90.0);
        assert_eq!(r.credit.status, CreditStatus::NotDue);
        assert_eq!(r.minutes, 43_200);
    }

    #[test]
    fn classify_rounds() {
        let c = |total, passed, maintenance| FleetChecks { total, passed, maintenance }.classify();
        assert_eq!(c(0, 0, 0), MinuteState::Unknown);
        assert_eq!(c(3, 0, 3), MinuteState::Maintenance);
        assert_eq!(c(3, 0, 2), MinuteState::Down);
        assert_eq!(c(3, 1, 2), MinuteState::Up);
        assert_eq!(c(3, 0, 0), MinuteState::Down);
    }

    #[test]
    fn a_minute_from_its_cycles() {
        let up = FleetChecks { total: 2, passed: 1, maintenance: 0 };
        let none = FleetChecks { total: 2, passed: 0, maintenance: 0 };
        // Minute 1 = [60,000, 120,000): cycles at 60 s and 75 s, two pools each.
        let cycles = [(60_000, up), (60_000, none), (75_000, none), (75_000, none), (120_000, none)];
        let m = minute_checks(&cycles, 1).unwrap();
        assert_eq!(m.classify(), MinuteState::Down, "the 75 s cycle had no passing server");
        assert_eq!(minute_checks(&cycles[..2], 1).unwrap().classify(), MinuteState::Up, "pools add up");
        assert_eq!(minute_checks(&cycles, 5), None);
    }

    #[test]
    fn credit_life_cycle() {
        let month = m("2026-10");
        let closed = month.end_minute() + 5;
        let now_ms = closed * 60_000;
        let r = report(
            month,
            MinuteCounts { down: 300, up: 100, ..Default::default() },
            closed,
            SlaPolicy::default(),
            None,
        );
        let s = CreditState::default();
        assert_eq!(
            plan_credit(&r, &s, month.end_minute() - 1, month, now_ms, false),
            CreditAction::Nothing,
            "month running"
        );
        let CreditAction::Send(req) = plan_credit(&r, &s, closed, month, now_ms, false) else { panic!() };
        assert_eq!(req.idempotency_key, "sla-2026-10");
        assert_eq!(req.credit_minutes, 2 * (300 - 223));
        let s = after_attempt(s, req.credit_minutes, SendOutcome::Retryable("HTTP 500".into()), now_ms, "t".into(), 60);
        assert_eq!((s.status, s.attempts, s.next_attempt_ms), (CreditStatus::Pending, 1, Some(now_ms + 60_000)));
        assert_eq!(plan_credit(&r, &s, closed, month, now_ms + 59_999, false), CreditAction::Nothing, "backoff");
        assert!(matches!(plan_credit(&r, &s, closed, month, now_ms + 60_000, false), CreditAction::Send(_)));
        let s = after_attempt(s, req.credit_minutes, SendOutcome::Retryable("HTTP 500".into()), now_ms, "t".into(), 60);
        assert_eq!(s.next_attempt_ms, Some(now_ms + 120_000));
        let s = after_attempt(s, req.credit_minutes, SendOutcome::Acknowledged, now_ms, "then".into(), 60);
        assert_eq!((s.status, s.attempts, s.issued_at.as_deref()), (CreditStatus::Issued, 3, Some("then")));
        assert_eq!(plan_credit(&r, &s, closed, month, now_ms * 2, true), CreditAction::Nothing, "never twice");

        let zero = report(month, MinuteCounts::default(), closed, SlaPolicy::default(), None);
        assert_eq!(
            plan_credit(&zero, &CreditState::default(), closed, month, now_ms, false),
            CreditAction::IssueWithoutCall
        );

        let failed =
            after_attempt(CreditState::default(), 5, SendOutcome::Rejected("HTTP 401".into()), now_ms, "t".into(), 60);
        assert_eq!(failed.status, CreditStatus::Failed);
        assert_eq!(plan_credit(&r, &failed, closed, month, now_ms, false), CreditAction::Nothing);
        let CreditAction::Send(again) = plan_credit(&r, &failed, closed, month, now_ms, true) else { panic!() };
        assert_eq!(again.credit_minutes, 5, "a retry repeats what was first sent");
    }

    #[test]
    fn backoff_caps() {
        assert_eq!(backoff_ms(1, 60), 60_000);
        assert_eq!(backoff_ms(3, 60), 240_000);
        assert_eq!(backoff_ms(30, 60), 6 * 3600 * 1000);
        assert_eq!(classify_status(204), SendOutcome::Acknowledged);
        assert!(matches!(classify_status(429), SendOutcome::Retryable(_)));
        assert!(matches!(classify_status(403), SendOutcome::Rejected(_)));
    }

    proptest! {
        /// Against a plain model: random minute states → the same report figures.
        #[test]
        fn report_matches_a_plain_model(
            states in proptest::collection::vec(0u8..5, 0..3000),
            target in 90_000u32..=100_000,
            mult in 0u32..5,
        ) {
            let month = m("2027-02");
            let p = SlaPolicy { target_milli_pct: target, multiplier: mult };
            let mut counts = MinuteCounts::default();
            let mut down = 0u32;
            for s in &states {
                match s {
                    0 => counts.add(MinuteState::Up),
                    1 => { counts.add(MinuteState::Down); down += 1; }
                    2 => counts.add(MinuteState::Maintenance),
                    3 => counts.add(MinuteState::Unknown),
                    _ => {} // not recorded
                }
            }
            let r = report(month, counts, month.end_minute(), p, None);
            // Plain model, in exact rationals: allowance = 40320 × (100000 − t) / 100000.
            let allowance_num = 40_320u64 * u64::from(100_000 - target);
            let down_num = u64::from(down) * 100_000;
            #[allow(clippy::manual_div_ceil)] // the model spells the rounding out on purpose
            let credit = if down_num > allowance_num { mult * (((down_num - allowance_num) + 99_999) / 100_000) as u32 } else { 0 };
            prop_assert_eq!(r.credit_minutes, credit);
            prop_assert_eq!(r.downtime_minutes, down);
            prop_assert_eq!(r.minutes, 40_320);
            prop_assert_eq!(r.unknown_minutes + r.downtime_minutes + counts.up + counts.maintenance, 40_320);
            let avail = (40_320 - down) as f64 / 40_320.0 * 100.0;
            prop_assert!((r.availability_pct - avail).abs() < 0.001);
        }
    }
}
