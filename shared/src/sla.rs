//! SLA arithmetic and the credit's life cycle (README "The SLA and its credits").
//!
//! All arithmetic is in integers (minutes × 100,000 for the allowance), so a credit never
//! flips by a floating-point hair: 31 days at 99.5 % is an allowance of exactly 223.2 min.

use crate::types::Month;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MinuteState {
    Up,
    Down,
    Maintenance,
    /// A round ran but the fleet had no registered server.
    Unknown,
}
crate::unit_enum::unit_enum!(MinuteState { Up = "up", Down = "down", Maintenance = "maintenance", Unknown = "unknown" });

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FleetChecks {
    pub total: u32,
    pub passed: u32,
    pub maintenance: u32,
}

crate::map_struct::map_struct!(FleetChecks { total, passed, maintenance });

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

/// Hundred-thousandths of a minute: the unit of every SLA figure (a 15 s cycle is 25,000,
/// a whole minute 100,000), so sums and the credit rule stay in integers.
pub const UNITS_PER_MINUTE: u64 = 100_000;

const MINUTE_MS: i64 = 60_000;

/// A duration in hundred-thousandths of a minute, written in minutes (README "The SLA and
/// its credits"): a whole number as a JSON integer (`220`, exactly as before check
/// resolution), otherwise a number with at most five decimals that is the exact decimal
/// (`0.25`, `223.33333`), never a float artefact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct MinuteUnits(pub u64);

impl MinuteUnits {
    pub fn whole(minutes: u32) -> Self {
        Self(u64::from(minutes) * UNITS_PER_MINUTE)
    }
}

/// `220`, `0.25`, `223.33333`: the digits the JSON carries.
impl std::fmt::Display for MinuteUnits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (whole, frac) = (self.0 / UNITS_PER_MINUTE, self.0 % UNITS_PER_MINUTE);
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:05}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl Serialize for MinuteUnits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(UNITS_PER_MINUTE) {
            s.serialize_u64(self.0 / UNITS_PER_MINUTE)
        } else {
            // Exact: the division is correctly rounded, so this is the double nearest the
            // five-decimal value, and its shortest form (what serde_json writes) is those
            // digits (a decimal of at most 15 significant digits survives a double).
            s.serialize_f64(self.0 as f64 / UNITS_PER_MINUTE as f64)
        }
    }
}

impl<'de> Deserialize<'de> for MinuteUnits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let minutes = f64::deserialize(d)?;
        if minutes.is_nan() || minutes < 0.0 {
            return Err(serde::de::Error::custom("minutes must not be negative"));
        }
        Ok(Self((minutes * UNITS_PER_MINUTE as f64).round() as u64))
    }
}

/// Milliseconds of one minute (0..=60,000) in units, to the nearest (a unit is 0.6 ms; the
/// remainder is a third or two, never a tie): 15 s → 25,000, 1 s → 1,667, 60 s → 100,000.
pub fn ms_to_units(ms: u32) -> u32 {
    ((u64::from(ms) * 5 + 1) / 3) as u32
}

/// What the SLA ledger stores for one minute (README "The SLA and its credits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MinuteRecord {
    pub minute: i64,
    /// The minute's worst cycle (down, then up, then maintenance, then unknown): what the
    /// minute counts as in `maintenance_minutes` and `unknown_minutes`.
    pub state: MinuteState,
    /// How much of the minute was down, in units (0..=100,000).
    pub down_units: u32,
    /// The checks of every cycle the record saw, summed: how complete it is.
    pub checks: FleetChecks,
}

crate::map_struct::map_struct!(MinuteRecord { minute, state, down_units, checks });

fn rank(s: MinuteState) -> u8 {
    match s {
        MinuteState::Down => 3,
        MinuteState::Up => 2,
        MinuteState::Maintenance => 1,
        MinuteState::Unknown => 0,
    }
}

/// At check resolution (README "The SLA and its credits"): `minute` from the cycles the
/// pools judged, `(cycle start ms, checks)`, one entry per pool and cycle; `len_ms` is the
/// cycle length (`PROBE_INTERVAL_S`).
///
/// - The pools' checks of one cycle add up; a cycle in which no server of the fleet passed
///   (and not every server is in maintenance) is down for its length.
/// - A cycle that straddles a minute boundary is split: each minute gets the part that fell
///   in it, so a minute never holds more than a minute and month and day boundaries are
///   exact. A cycle ends at the next cycle's start at the latest (after a change of the
///   interval, the old grid's cycles are not counted twice).
/// - The parts of a minute no judged cycle covers (probers started mid-minute, a missing
///   cycle), maintenance cycles and cycles with no observation count as available, as an
///   unknown minute does.
///
/// `None`: no cycle overlaps the minute.
pub fn minute_record(cycles: &[(i64, FleetChecks)], len_ms: i64, minute: i64) -> Option<MinuteRecord> {
    let mut by_cycle: crate::sort::SortedMap<i64, FleetChecks> = crate::sort::SortedMap::default();
    for (cycle, c) in cycles {
        let e = by_cycle.or_insert(*cycle, FleetChecks::default());
        *e = *e + *c;
    }
    let (from, to) = (minute * MINUTE_MS, (minute + 1) * MINUTE_MS);
    let starts: Vec<i64> = by_cycle.iter().map(|(k, _)| *k).collect();
    let mut record: Option<MinuteRecord> = None;
    let mut down_ms = 0i64;
    for (i, (start, checks)) in by_cycle.into_iter().enumerate() {
        let end = starts.get(i + 1).map_or(start + len_ms, |next| (start + len_ms).min(*next));
        let overlap = end.min(to) - start.max(from);
        if overlap <= 0 {
            continue;
        }
        let state = checks.classify();
        if state == MinuteState::Down {
            down_ms += overlap;
        }
        let r = record.get_or_insert(MinuteRecord { minute, state, down_units: 0, checks: FleetChecks::default() });
        r.checks = r.checks + checks;
        r.state = std::cmp::max_by_key(r.state, state, |s| rank(*s));
    }
    record.map(|r| MinuteRecord { down_units: ms_to_units(down_ms as u32), ..r })
}

/// Cron mode: the round's one judgment stands for its whole minute (a down minute is
/// 100,000 units, as before check resolution).
pub fn whole_minute(minute: i64, checks: FleetChecks) -> MinuteRecord {
    let state = checks.classify();
    let down_units = if state == MinuteState::Down { UNITS_PER_MINUTE as u32 } else { 0 };
    MinuteRecord { minute, state, down_units, checks }
}

/// How many complete minutes each watchdog round records (alarms mode): the previous one,
/// and again the two before it, which by then have every cycle judged (a cycle straddling
/// the minute's end, a cycle whose last region was late). Pools keep five minutes of checks.
pub const RECORD_MINUTES: i64 = 3;

/// Alarms mode: what the round of `now_minute` records. The previous minute is recorded
/// even without a cycle (`unknown`, as before); the older ones only from cycles, so a round
/// never invents a minute it has nothing about.
pub fn minutes_to_record(cycles: &[(i64, FleetChecks)], len_ms: i64, now_minute: i64) -> Vec<MinuteRecord> {
    let previous = now_minute - 1;
    (now_minute - RECORD_MINUTES..now_minute)
        .filter_map(|m| {
            minute_record(cycles, len_ms, m)
                .or_else(|| (m == previous).then(|| whole_minute(m, FleetChecks::default())))
        })
        .collect()
}

/// Whether a new record of a minute replaces the stored one: unless it saw fewer checks
/// (a pool that failed in the later round), a later record knows at least as much. A row
/// stored before check resolution holds one cycle's checks, so a record from all the
/// minute's cycles replaces it.
pub fn replaces(stored_total: Option<u32>, new: &MinuteRecord) -> bool {
    stored_total.is_none_or(|t| new.checks.total >= t)
}

/// Down units of stored rows: the sum of their units, plus a whole minute for each `down`
/// row stored before check resolution (no units), which is how it was counted then.
pub fn stored_down_units(units: u64, legacy_down_rows: u64) -> u64 {
    units + legacy_down_rows * UNITS_PER_MINUTE
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

/// Recorded minutes of a month by state, and the downtime in units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MinuteCounts {
    pub up: u32,
    pub down: u32,
    pub maintenance: u32,
    pub unknown: u32,
    /// The month's downtime: the down parts of its minutes, in units.
    pub down_units: u64,
}

crate::map_struct::map_struct!(MinuteCounts { up, down, maintenance, unknown, down_units });

impl MinuteCounts {
    pub fn recorded(&self) -> u32 {
        self.up + self.down + self.maintenance + self.unknown
    }

    /// `rows` stored minutes in state `s` with `down_units` of downtime between them.
    pub fn add_rows(&mut self, s: MinuteState, rows: u32, down_units: u64) {
        match s {
            MinuteState::Up => self.up += rows,
            MinuteState::Down => self.down += rows,
            MinuteState::Maintenance => self.maintenance += rows,
            MinuteState::Unknown => self.unknown += rows,
        }
        self.down_units += down_units;
    }

    /// One whole minute in state `s` (a down minute is 100,000 units).
    pub fn add(&mut self, s: MinuteState) {
        let units = if s == MinuteState::Down { UNITS_PER_MINUTE } else { 0 };
        self.add_rows(s, 1, units);
    }

    /// One recorded minute.
    pub fn add_record(&mut self, r: &MinuteRecord) {
        self.add_rows(r.state, 1, u64::from(r.down_units));
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
/// allowance)` when positive. `downtime_u` in units of 1/100,000 minute, as the allowance.
pub fn credit_for(month: Month, downtime_u: u64, p: SlaPolicy) -> CreditFigures {
    let minutes = month.days() * 1440;
    let allowance_u = u64::from(minutes) * u64::from(100_000 - p.target_milli_pct.min(100_000));
    let excess_u = downtime_u.saturating_sub(allowance_u);
    let excess_whole = excess_u.div_ceil(UNITS_PER_MINUTE);
    CreditFigures {
        minutes,
        allowance_minutes: allowance_u as f64 / 100_000.0,
        excess_minutes: excess_u as f64 / 100_000.0,
        credit_minutes: (excess_whole as u32).saturating_mul(p.multiplier),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditStatus {
    NotDue,
    Pending,
    Issued,
    Failed,
}
crate::unit_enum::unit_enum!(CreditStatus { NotDue = "not_due", Pending = "pending", Issued = "issued", Failed = "failed" });

/// The credit's stored state, one per month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditState {
    pub status: CreditStatus,
    pub attempts: u32,
    pub issued_at: Option<String>,
    pub last_error: Option<String>,
    /// When the next attempt is due (ms), while retrying.
    pub next_attempt_ms: Option<i64>,
    /// What was (or is being) sent, fixed at the first attempt so retries repeat it exactly.
    pub credit_minutes: Option<u32>,
    /// The exact request body of the first attempt: every retry (alarm or operator) sends
    /// these bytes under the same Idempotency-Key, whatever late rounds add to the month.
    pub body: Option<String>,
}

crate::map_struct::map_struct!(CreditState {
    status,
    attempts,
    issued_at: default,
    last_error: default,
    next_attempt_ms: default,
    credit_minutes: default,
    body: default,
});

impl Default for CreditState {
    fn default() -> Self {
        Self {
            status: CreditStatus::Pending,
            attempts: 0,
            issued_at: None,
            last_error: None,
            next_attempt_ms: None,
            credit_minutes: None,
            body: None,
        }
    }
}

/// Stored credit state that cannot be read back. It is reported and left as it is: a
/// fresh `Pending` would forget the figures every retry must repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptCredit(pub String);

/// Reads the stored credit state: `None` when nothing was stored yet.
pub fn parse_credit_state(stored: Option<&str>) -> Result<Option<CreditState>, CorruptCredit> {
    match stored {
        None => Ok(None),
        Some(s) => serde_json::from_slice(s.as_bytes()).map(Some).map_err(|e| CorruptCredit(e.to_string())),
    }
}

/// One UTC day of the ledger, for the status page's 90-day strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayFigures {
    /// Days since the unix epoch.
    pub day: i64,
    pub recorded: u32,
    /// The day's downtime, in units.
    pub down_units: u64,
}

crate::map_struct::map_struct!(DayFigures { day, recorded, down_units });

/// Whether the ledger has any recorded minute of the month. A month without one (before
/// the edge existed, or one no round reached) is `not_measured`: it has no availability
/// figure and no credit, rather than a 100 % nobody measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measurement {
    Measured,
    NotMeasured,
}
crate::unit_enum::unit_enum!(Measurement { Measured = "measured", NotMeasured = "not_measured" });

/// `SlaReport`, generic over how much of the credit it shows: `CreditView` on the public
/// route, `CreditDetail` (with the billing API's words) in the operator's view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaReport<C = CreditView> {
    pub month: String,
    pub measurement: Measurement,
    pub minutes: u32,
    /// Minutes of the month that have passed (the whole month once it is closed).
    pub elapsed_minutes: u32,
    pub observed_minutes: u32,
    /// `observed ÷ elapsed`, in percent with three decimals: how much of the figure below
    /// was measured rather than assumed.
    pub coverage_pct: f64,
    /// At check resolution: fractional, see `MinuteUnits` for how it is written.
    pub downtime_minutes: MinuteUnits,
    pub maintenance_minutes: u32,
    pub unknown_minutes: u32,
    /// Always a JSON number with a decimal point (`100.0`, `99.491`); `null` when the month
    /// is not measured.
    pub availability_pct: Option<f64>,
    pub target_pct: f64,
    pub allowance_minutes: f64,
    pub excess_minutes: f64,
    pub credit_minutes: u32,
    /// `null` when the month is not measured.
    pub credit: Option<C>,
}

crate::map_struct::map_struct!(SlaReport<C> {
    month,
    measurement,
    minutes,
    elapsed_minutes,
    observed_minutes,
    coverage_pct,
    downtime_minutes,
    maintenance_minutes,
    unknown_minutes,
    availability_pct: default,
    target_pct,
    allowance_minutes,
    excess_minutes,
    credit_minutes,
    credit: default,
});

/// The credit as the public sees it: no third-party text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditView {
    pub status: CreditStatus,
    pub attempts: u32,
    pub issued_at: Option<String>,
}

crate::map_struct::map_struct!(CreditView { status, attempts, issued_at: default });

/// The credit as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditDetail {
    pub status: CreditStatus,
    pub attempts: u32,
    pub issued_at: Option<String>,
    /// Why the last attempt failed (status and the billing API's words).
    pub last_error: Option<String>,
    /// When the alarm tries again (RFC 3339), while retrying.
    pub next_attempt_at: Option<String>,
    /// The exact body sent (and re-sent) to the billing API, once frozen.
    pub request_body: Option<String>,
}

crate::map_struct::map_struct!(CreditDetail {
    status,
    attempts,
    issued_at: default,
    last_error: default,
    next_attempt_at: default,
    request_body: default,
});

impl SlaReport<CreditDetail> {
    /// The public report: the same figures, the credit without `last_error` and the body.
    pub fn public(self) -> SlaReport<CreditView> {
        let credit = self.credit.map(|c| CreditView { status: c.status, attempts: c.attempts, issued_at: c.issued_at });
        SlaReport {
            month: self.month,
            measurement: self.measurement,
            minutes: self.minutes,
            elapsed_minutes: self.elapsed_minutes,
            observed_minutes: self.observed_minutes,
            coverage_pct: self.coverage_pct,
            downtime_minutes: self.downtime_minutes,
            maintenance_minutes: self.maintenance_minutes,
            unknown_minutes: self.unknown_minutes,
            availability_pct: self.availability_pct,
            target_pct: self.target_pct,
            allowance_minutes: self.allowance_minutes,
            excess_minutes: self.excess_minutes,
            credit_minutes: self.credit_minutes,
            credit,
        }
    }
}

/// A percentage with three decimals, rounded half up in integers.
fn pct3(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    ((part * 200_000 + whole) / (2 * whole)) as f64 / 1000.0
}

/// The report of `month` as of the unix minute `now_minute` (month-to-date while the
/// month runs). Unknown minutes count as available; `coverage_pct` says how many there are.
pub fn report(
    month: Month,
    counts: MinuteCounts,
    now_minute: i64,
    p: SlaPolicy,
    credit: Option<&CreditState>,
) -> SlaReport<CreditDetail> {
    let start = month.start_minute();
    let end = month.end_minute();
    let elapsed = (now_minute.clamp(start, end) - start) as u32;
    let closed = credit_due(month, now_minute);
    let figures = credit_for(month, counts.down_units, p);
    let recorded = counts.recorded();
    let unknown = elapsed.saturating_sub(recorded.saturating_sub(counts.unknown)).max(counts.unknown);
    let measurement = if recorded == 0 { Measurement::NotMeasured } else { Measurement::Measured };
    let availability_pct = match measurement {
        Measurement::NotMeasured => None,
        Measurement::Measured if elapsed == 0 => Some(100.0),
        Measurement::Measured => {
            let elapsed_u = u64::from(elapsed) * UNITS_PER_MINUTE;
            Some(pct3(elapsed_u.saturating_sub(counts.down_units), elapsed_u))
        }
    };
    let credit = match (measurement, closed, credit) {
        (Measurement::NotMeasured, _, _) => None,
        (_, false, _) => Some(CreditDetail {
            status: CreditStatus::NotDue,
            attempts: 0,
            issued_at: None,
            last_error: None,
            next_attempt_at: None,
            request_body: None,
        }),
        (_, true, None) => Some(CreditDetail {
            status: CreditStatus::Pending,
            attempts: 0,
            issued_at: None,
            last_error: None,
            next_attempt_at: None,
            request_body: None,
        }),
        (_, true, Some(c)) => Some(CreditDetail {
            status: c.status,
            attempts: c.attempts,
            issued_at: c.issued_at.clone(),
            last_error: c.last_error.clone(),
            next_attempt_at: c.next_attempt_ms.and_then(crate::fleet::rfc3339_ms),
            request_body: c.body.clone(),
        }),
    };
    SlaReport {
        month: month.to_string(),
        measurement,
        minutes: figures.minutes,
        elapsed_minutes: elapsed,
        observed_minutes: recorded,
        coverage_pct: pct3(u64::from(recorded.min(elapsed)), u64::from(elapsed)),
        downtime_minutes: MinuteUnits(counts.down_units),
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
    /// Month still running or not measured, already issued, failed permanently, or a
    /// retry not yet due.
    Nothing,
    /// Zero credit: recorded as issued without a call.
    IssueWithoutCall,
    Send(CreditRequest),
}

/// One call to the billing API: the exact bytes to send.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditRequest {
    pub idempotency_key: String,
    pub credit_minutes: u32,
    /// The JSON body, byte for byte (frozen at the first attempt).
    pub body: String,
}

/// `{"month","credit_minutes","downtime_minutes","availability_pct"}`.
#[derive(Serialize)]
struct CreditBody<'a> {
    month: &'a str,
    credit_minutes: u32,
    downtime_minutes: MinuteUnits,
    availability_pct: f64,
}

/// `by_hand`: an operator's trigger, which also retries a permanently failed credit and
/// ignores the backoff.
pub fn plan_credit<C>(
    r: &SlaReport<C>,
    state: &CreditState,
    now_minute: i64,
    month: Month,
    now_ms: i64,
    by_hand: bool,
) -> CreditAction {
    if !credit_due(month, now_minute) || r.measurement == Measurement::NotMeasured {
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
    let idempotency_key = format!("sla-{month}");
    if let (Some(body), Some(credit_minutes)) = (&state.body, state.credit_minutes) {
        return CreditAction::Send(CreditRequest { idempotency_key, credit_minutes, body: body.clone() });
    }
    // A state stored before bodies were frozen keeps at least its credit minutes.
    let credit_minutes = state.credit_minutes.unwrap_or(r.credit_minutes);
    if credit_minutes == 0 {
        return CreditAction::IssueWithoutCall;
    }
    let body = CreditBody {
        month: &r.month,
        credit_minutes,
        downtime_minutes: r.downtime_minutes,
        availability_pct: r.availability_pct.unwrap_or(100.0),
    };
    let Ok(body) = serde_json::to_string(&body) else { return CreditAction::Nothing };
    CreditAction::Send(CreditRequest { idempotency_key, credit_minutes, body })
}

/// The state to store *before* the first call, so that a retry after anything (a failed
/// call, an eviction mid-call, a deploy) repeats the same bytes. `None`: already frozen.
pub fn freeze(state: &CreditState, req: &CreditRequest) -> Option<CreditState> {
    if state.body.is_some() {
        return None;
    }
    Some(CreditState { body: Some(req.body.clone()), credit_minutes: Some(req.credit_minutes), ..state.clone() })
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Acknowledged,
    /// 5xx, 408, 425, 429, timeout, network: worth retrying, not before `retry_after_s`
    /// when the billing API said so.
    Retryable {
        error: String,
        retry_after_s: Option<u32>,
    },
    /// Other 4xx: retrying the same request cannot succeed.
    Rejected(String),
}

impl SendOutcome {
    pub fn retryable(error: impl Into<String>) -> Self {
        Self::Retryable { error: error.into(), retry_after_s: None }
    }
}

/// An HTTP answer of the billing API, classified. `Retry-After` in seconds is honoured
/// (an HTTP date is ignored: the backoff applies).
pub fn classify_status(status: u16, retry_after: Option<&str>) -> SendOutcome {
    match status {
        200..=299 => SendOutcome::Acknowledged,
        408 | 425 | 429 | 500..=599 => SendOutcome::Retryable {
            error: format!("HTTP {status}"),
            retry_after_s: retry_after.and_then(|v| v.trim().parse::<u32>().ok()),
        },
        _ => SendOutcome::Rejected(format!("HTTP {status}")),
    }
}

/// The longest wait between two attempts (`CREDIT_RETRY_MAX_S` default).
pub const CREDIT_RETRY_MAX_S: u32 = 6 * 3600;

/// Backoff after the n-th failed attempt: base × 2^(n−1), at most `max_s`.
pub fn backoff_ms(attempts: u32, base_s: u32, max_s: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(20);
    (i64::from(base_s) * 1000 * (1i64 << exp)).min(i64::from(max_s) * 1000)
}

/// Retry timing: `CREDIT_RETRY_BASE_S` and `CREDIT_RETRY_MAX_S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_s: u32,
    pub max_s: u32,
}

pub fn after_attempt(
    mut s: CreditState,
    sent: &CreditRequest,
    outcome: SendOutcome,
    now_ms: i64,
    issued_at: String,
    retry: RetryPolicy,
) -> CreditState {
    s.attempts += 1;
    s.credit_minutes = Some(sent.credit_minutes);
    s.body = Some(sent.body.clone());
    match outcome {
        SendOutcome::Acknowledged => {
            s.status = CreditStatus::Issued;
            s.issued_at = Some(issued_at);
            s.last_error = None;
            s.next_attempt_ms = None;
        }
        SendOutcome::Retryable { error, retry_after_s } => {
            s.status = CreditStatus::Pending;
            s.last_error = Some(error);
            let backoff = backoff_ms(s.attempts, retry.base_s, retry.max_s);
            let asked = i64::from(retry_after_s.unwrap_or(0).min(retry.max_s)) * 1000;
            s.next_attempt_ms = Some(now_ms + backoff.max(asked));
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
        let f = credit_for(m("2026-11"), 300 * UNITS_PER_MINUTE, SlaPolicy::default());
        assert_eq!((f.minutes, f.allowance_minutes, f.credit_minutes), (43_200, 216.0, 168));
        // 31 days: 44,640 min, allowance 223.2, downtime 224 → credit 2.
        let f = credit_for(m("2026-12"), 224 * UNITS_PER_MINUTE, SlaPolicy::default());
        assert_eq!((f.minutes, f.allowance_minutes, f.credit_minutes), (44_640, 223.2, 2));
        assert!((f.excess_minutes - 0.8).abs() < 1e-9);
    }

    #[test]
    fn february() {
        // 2027-02: 28 days → 40,320 min, allowance 201.6.
        let f = credit_for(m("2027-02"), 202 * UNITS_PER_MINUTE, SlaPolicy::default());
        assert_eq!((f.minutes, f.allowance_minutes, f.credit_minutes), (40_320, 201.6, 2));
        // 2028-02: 29 days (leap) → 41,760 min, allowance 208.8.
        let f = credit_for(m("2028-02"), 208 * UNITS_PER_MINUTE, SlaPolicy::default());
        assert_eq!((f.minutes, f.allowance_minutes, f.credit_minutes), (41_760, 208.8, 0));
        assert_eq!(credit_for(m("2028-02"), 209 * UNITS_PER_MINUTE, SlaPolicy::default()).credit_minutes, 2);
    }

    #[test]
    fn zero_and_full_downtime() {
        assert_eq!(credit_for(m("2026-11"), 0, SlaPolicy::default()).credit_minutes, 0);
        assert_eq!(
            credit_for(m("2026-11"), 216 * UNITS_PER_MINUTE, SlaPolicy::default()).credit_minutes,
            0,
            "exactly the allowance"
        );
        let full = credit_for(m("2026-11"), 43_200 * UNITS_PER_MINUTE, SlaPolicy::default());
        assert_eq!(full.credit_minutes, 2 * (43_200 - 216));
        let month = m("2026-11");
        let r = report(
            month,
            MinuteCounts { down: 43_200, down_units: 43_200 * UNITS_PER_MINUTE, ..Default::default() },
            month.end_minute(),
            SlaPolicy::default(),
            None,
        );
        assert_eq!(r.availability_pct, Some(0.0));
        assert_eq!(r.coverage_pct, 100.0);
        assert_eq!(r.credit.unwrap().status, CreditStatus::Pending);
    }

    #[test]
    fn month_to_date_and_unknown_minutes() {
        let month = m("2026-11");
        let now = month.start_minute() + 100;
        let counts = MinuteCounts { up: 50, down: 10, maintenance: 5, unknown: 2, down_units: 10 * UNITS_PER_MINUTE };
        let r = report(month, counts, now, SlaPolicy::default(), None);
        assert_eq!(r.elapsed_minutes, 100);
        assert_eq!(r.observed_minutes, 67);
        assert_eq!(r.coverage_pct, 67.0);
        // 100 elapsed − 65 recorded with a known state = 35 unknown (incl. the 2 recorded).
        assert_eq!(r.unknown_minutes, 35);
        assert_eq!(r.availability_pct, Some(90.0));
        assert_eq!(r.measurement, Measurement::Measured);
        assert_eq!(r.credit.unwrap().status, CreditStatus::NotDue);
        assert_eq!(r.minutes, 43_200);
    }

    #[test]
    fn coverage_is_observed_over_elapsed() {
        // The reviewer's month: 13 recorded minutes of 35,545 elapsed.
        let month = m("2026-11");
        let r = report(
            month,
            MinuteCounts { up: 13, ..Default::default() },
            month.start_minute() + 35_545,
            SlaPolicy::default(),
            None,
        );
        assert_eq!((r.observed_minutes, r.elapsed_minutes), (13, 35_545));
        assert_eq!(r.coverage_pct, 0.037);
        assert_eq!(r.availability_pct, Some(100.0));
        // Rounds recorded for minutes still ahead (a skewed clock) never push it past 100.
        let r = report(
            month,
            MinuteCounts { up: 20, ..Default::default() },
            month.start_minute() + 10,
            SlaPolicy::default(),
            None,
        );
        assert_eq!(r.coverage_pct, 100.0);
    }

    #[test]
    fn a_month_without_a_recorded_minute_is_not_measured_and_has_no_credit() {
        let month = m("2026-10");
        let closed = month.end_minute() + 10;
        let stale = CreditState { status: CreditStatus::Issued, ..Default::default() };
        for stored in [None, Some(&stale)] {
            let r = report(month, MinuteCounts::default(), closed, SlaPolicy::default(), stored);
            assert_eq!(r.measurement, Measurement::NotMeasured);
            assert_eq!((r.availability_pct, r.coverage_pct, r.credit.is_none()), (None, 0.0, true));
            assert_eq!(
                plan_credit(&r, &CreditState::default(), closed, month, closed * 60_000, true),
                CreditAction::Nothing
            );
            let json = serde_json::to_string(&r.public()).unwrap();
            assert!(json.contains(r#""measurement":"not_measured""#), "{json}");
            assert!(json.contains(r#""availability_pct":null"#) && json.contains(r#""credit":null"#), "{json}");
        }
        // One recorded minute (even of an empty fleet) makes it measured.
        let r = report(month, MinuteCounts { unknown: 1, ..Default::default() }, closed, SlaPolicy::default(), None);
        assert_eq!(r.measurement, Measurement::Measured);
    }

    #[test]
    fn availability_is_always_written_with_a_decimal_point() {
        let month = m("2026-11");
        for (down, text) in [(0, "100.0"), (43_200, "0.0"), (220, "99.491")] {
            let r = report(
                month,
                MinuteCounts {
                    up: 43_200 - down,
                    down,
                    down_units: u64::from(down) * UNITS_PER_MINUTE,
                    ..Default::default()
                },
                month.end_minute(),
                SlaPolicy::default(),
                None,
            );
            let json = serde_json::to_string(&r.public()).unwrap();
            assert!(json.contains(&format!(r#""availability_pct":{text},"#)), "{json}");
        }
    }

    #[test]
    fn the_public_report_carries_no_billing_text() {
        let month = m("2026-10");
        let closed = month.end_minute() + 1;
        let failed = CreditState {
            status: CreditStatus::Failed,
            attempts: 1,
            last_error: Some("HTTP 401: invalid api key sk_live_abc".into()),
            body: Some("{}".into()),
            credit_minutes: Some(2),
            ..Default::default()
        };
        let r = report(
            month,
            MinuteCounts { down: 300, down_units: 300 * UNITS_PER_MINUTE, ..Default::default() },
            closed,
            SlaPolicy::default(),
            Some(&failed),
        );
        assert!(serde_json::to_string(&r).unwrap().contains("sk_live_abc"), "the operator's view has it");
        let public = serde_json::to_string(&r.public()).unwrap();
        assert!(!public.contains("sk_live") && !public.contains("last_error") && !public.contains("request_body"));
        assert!(public.contains(r#""credit":{"status":"failed","attempts":1,"issued_at":null}"#), "{public}");
    }

    /// The Worker reads the public report straight from the operator's JSON (README
    /// "Size"): it is `public()` of it, and the operator's JSON is what the operator's
    /// routes show, the same text the Worker wrote when it decoded it and encoded it again.
    #[test]
    fn the_public_report_is_the_operators_json_read_as_public() {
        let month = m("2026-10");
        let closed = month.end_minute() + 1;
        let failed = CreditState {
            status: CreditStatus::Failed,
            attempts: 2,
            last_error: Some("HTTP 500: \"down\"".into()),
            next_attempt_ms: Some(closed * 60_000 + 90_000),
            body: Some(r#"{"minutes":3}"#.into()),
            credit_minutes: Some(3),
            ..Default::default()
        };
        for (units, stored) in [(300 * UNITS_PER_MINUTE + 33_333, Some(&failed)), (0, None)] {
            let counts = MinuteCounts { up: 40_000, down: 301, down_units: units, unknown: 3, ..Default::default() };
            let r = report(month, counts, closed, SlaPolicy::default(), stored);
            let operator = serde_json::to_string(&r).unwrap();
            let public: SlaReport = serde_json::from_slice(operator.as_bytes()).unwrap();
            assert_eq!(public, r.clone().public());
            let again: SlaReport<CreditDetail> = serde_json::from_slice(operator.as_bytes()).unwrap();
            assert_eq!(serde_json::to_string(&again).unwrap(), operator);
        }
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

    const RETRY: RetryPolicy = RetryPolicy { base_s: 60, max_s: CREDIT_RETRY_MAX_S };

    fn send(a: CreditAction) -> CreditRequest {
        match a {
            CreditAction::Send(r) => r,
            other => panic!("expected a send, got {other:?}"),
        }
    }

    const UP: FleetChecks = FleetChecks { total: 2, passed: 1, maintenance: 0 };
    const NONE: FleetChecks = FleetChecks { total: 2, passed: 0, maintenance: 0 };
    const MAINT: FleetChecks = FleetChecks { total: 2, passed: 0, maintenance: 2 };
    const EMPTY: FleetChecks = FleetChecks { total: 0, passed: 0, maintenance: 0 };

    fn down_units(cycles: &[(i64, FleetChecks)], len_ms: i64, minute: i64) -> u32 {
        minute_record(cycles, len_ms, minute).unwrap().down_units
    }

    #[test]
    fn a_down_cycle_counts_its_length_not_the_whole_minute() {
        // Minute 1 = [60,000, 120,000): 15 s cycles, two pools each; in the 75 s cycle no
        // server of the fleet passed.
        let cycles = [(60_000, UP), (60_000, NONE), (75_000, NONE), (75_000, NONE), (90_000, UP), (105_000, UP)];
        let r = minute_record(&cycles, 15_000, 1).unwrap();
        assert_eq!(r.down_units, 25_000, "a quarter of a minute");
        assert_eq!(r.state, MinuteState::Down);
        assert_eq!(r.checks, FleetChecks { total: 12, passed: 3, maintenance: 0 }, "every cycle's checks, summed");
        // Pools add up: one pool's passing server makes the 60 s cycle up.
        assert_eq!(
            minute_record(&cycles[..2], 15_000, 1).unwrap(),
            MinuteRecord {
                minute: 1,
                state: MinuteState::Up,
                down_units: 0,
                checks: FleetChecks { total: 4, passed: 1, maintenance: 0 },
            }
        );
        assert_eq!(down_units(&[(60_000, NONE), (75_000, NONE), (90_000, NONE), (105_000, NONE)], 15_000, 1), 100_000);
        // At 1 s, one down cycle is a sixtieth of a minute.
        assert_eq!(down_units(&[(61_000, NONE), (62_000, UP)], 1_000, 1), 1_667);
        assert_eq!(minute_record(&cycles, 15_000, 5), None, "no cycle in it");
        assert_eq!(minute_record(&cycles, 15_000, 0), None, "the minute before");
    }

    #[test]
    fn a_cycle_straddling_a_minute_boundary_is_split_between_the_two() {
        // 7 s cycles: the one starting at 56 s runs to 63 s.
        let cycles = [(49_000, UP), (56_000, NONE), (63_000, UP)];
        assert_eq!(down_units(&cycles, 7_000, 0), 6_667, "4 s of minute 0");
        assert_eq!(down_units(&cycles, 7_000, 1), 5_000, "3 s of minute 1");
        assert_eq!(minute_record(&cycles, 7_000, 1).unwrap().state, MinuteState::Down);
        // A down cycle that ends exactly on the boundary stays in its minute.
        assert_eq!(down_units(&[(45_000, NONE), (60_000, UP)], 15_000, 1), 0);
        assert_eq!(minute_record(&[(45_000, NONE), (60_000, UP)], 15_000, 1).unwrap().state, MinuteState::Up);
    }

    #[test]
    fn a_cycle_ends_at_the_next_cycles_start_so_nothing_counts_twice() {
        // The interval went from 15 s to 5 s: the grid's cycles are 5 s apart, whatever
        // length the round assumes.
        let cycles = [(0, NONE), (5_000, NONE), (10_000, NONE), (15_000, UP)];
        assert_eq!(down_units(&cycles, 15_000, 0), 25_000);
        // The last one runs its length (none after it).
        assert_eq!(down_units(&[(0, NONE), (50_000, NONE)], 15_000, 0), 25_000 + 16_667);
    }

    #[test]
    fn maintenance_unknown_and_uncovered_parts_of_a_minute_are_not_down() {
        // Probers started at 30 s: the first half of the minute was not observed.
        let late = [(30_000, NONE), (45_000, UP)];
        assert_eq!(minute_record(&late, 15_000, 0).unwrap().down_units, 25_000);
        // A missing cycle (none at 15 s) is not down either.
        assert_eq!(down_units(&[(0, NONE), (30_000, UP), (45_000, NONE)], 15_000, 0), 50_000);
        // Every server in maintenance, or nobody to observe: not down; the minute's state
        // is its worst cycle.
        let r = minute_record(&[(0, MAINT), (15_000, EMPTY), (30_000, MAINT)], 15_000, 0).unwrap();
        assert_eq!((r.state, r.down_units), (MinuteState::Maintenance, 0));
        let r = minute_record(&[(0, EMPTY), (15_000, EMPTY)], 15_000, 0).unwrap();
        assert_eq!((r.state, r.down_units), (MinuteState::Unknown, 0));
        let r = minute_record(&[(0, MAINT), (15_000, UP), (30_000, EMPTY)], 15_000, 0).unwrap();
        assert_eq!(r.state, MinuteState::Up);
        let r = minute_record(&[(0, UP), (15_000, NONE), (30_000, MAINT)], 15_000, 0).unwrap();
        assert_eq!((r.state, r.down_units), (MinuteState::Down, 25_000));
        // Worst first whatever the order: down, then up, then maintenance, then unknown.
        let r = minute_record(&[(0, NONE), (15_000, UP), (30_000, MAINT), (45_000, EMPTY)], 15_000, 0).unwrap();
        assert_eq!(r.state, MinuteState::Down);
    }

    #[test]
    fn cron_mode_judges_once_a_minute_and_a_down_judgment_is_a_whole_minute() {
        assert_eq!(
            whole_minute(7, NONE),
            MinuteRecord { minute: 7, state: MinuteState::Down, down_units: 100_000, checks: NONE }
        );
        assert_eq!(whole_minute(7, UP).down_units, 0);
        assert_eq!(whole_minute(7, MAINT).state, MinuteState::Maintenance);
        assert_eq!(whole_minute(7, EMPTY).state, MinuteState::Unknown);
        // The same as one 60 s cycle.
        assert_eq!(minute_record(&[(420_000, NONE)], 60_000, 7), Some(whole_minute(7, NONE)));
    }

    #[test]
    fn milliseconds_become_units_to_the_nearest() {
        assert_eq!(ms_to_units(0), 0);
        assert_eq!(ms_to_units(1), 2, "1.67");
        assert_eq!(ms_to_units(1_000), 1_667, "1,666.67");
        assert_eq!(ms_to_units(2_000), 3_333, "3,333.33");
        assert_eq!(ms_to_units(15_000), 25_000);
        assert_eq!(ms_to_units(60_000), 100_000);
    }

    #[test]
    fn a_round_records_the_previous_minute_and_again_the_two_before() {
        let cycles = [(45_000, NONE), (60_000, UP), (120_000, NONE), (135_000, UP)];
        // The round of minute 4: minutes 1..=3. Minute 3 has no cycle: unknown, recorded
        // anyway; 1 and 2 from their cycles; 0 is out of the window.
        let r = minutes_to_record(&cycles, 15_000, 4);
        assert_eq!(
            r.iter().map(|m| (m.minute, m.state, m.down_units)).collect::<Vec<_>>(),
            vec![(1, MinuteState::Up, 0), (2, MinuteState::Down, 25_000), (3, MinuteState::Unknown, 0),]
        );
        assert_eq!(r[2].checks, FleetChecks::default());
        // The round of minute 6: 3..=5 have no cycle; only the previous one is written.
        let r = minutes_to_record(&cycles, 15_000, 6);
        assert_eq!(r.iter().map(|m| m.minute).collect::<Vec<_>>(), vec![5]);
        assert_eq!(RECORD_MINUTES, 3);
    }

    #[test]
    fn a_later_record_of_a_minute_replaces_the_stored_one_unless_it_saw_less() {
        let with = |total| MinuteRecord {
            minute: 1,
            state: MinuteState::Up,
            down_units: 0,
            checks: FleetChecks { total, passed: 1, maintenance: 0 },
        };
        assert!(replaces(None, &with(0)), "nothing stored");
        assert!(replaces(Some(4), &with(4)), "a second round of the same minute");
        assert!(replaces(Some(4), &with(8)), "more cycles judged since");
        assert!(!replaces(Some(4), &with(3)), "a pool failed in the later round");
    }

    #[test]
    fn rows_stored_before_check_resolution_count_a_down_minute_whole() {
        assert_eq!(stored_down_units(25_000, 0), 25_000);
        assert_eq!(stored_down_units(25_000, 3), 325_000);
        let mut c = MinuteCounts::default();
        c.add_rows(MinuteState::Down, 4, stored_down_units(25_000, 3));
        c.add_rows(MinuteState::Up, 2, 0);
        assert_eq!(c, MinuteCounts { up: 2, down: 4, down_units: 325_000, ..Default::default() });
        let r = report(m("2026-11"), c, m("2026-11").start_minute() + 6, SlaPolicy::default(), None);
        assert_eq!(serde_json::to_value(r.downtime_minutes).unwrap(), serde_json::json!(3.25));
    }

    #[test]
    fn downtime_is_written_in_minutes_exactly() {
        let json = |u| serde_json::to_string(&MinuteUnits(u)).unwrap();
        assert_eq!(json(30_000), "0.3", "never 0.30000000000000004");
        assert_eq!(json(25_000), "0.25");
        assert_eq!(json(1_667), "0.01667");
        assert_eq!(json(22_000_000), "220", "whole minutes as before");
        assert_eq!(json(0), "0");
        assert_eq!(json(22_333_333), "223.33333");
        assert_eq!(MinuteUnits(22_030_000).to_string(), "220.3");
        assert_eq!(MinuteUnits::whole(3), MinuteUnits(300_000));
        assert_eq!(serde_json::from_str::<MinuteUnits>("0.3").unwrap(), MinuteUnits(30_000));
        assert_eq!(serde_json::from_str::<MinuteUnits>("220").unwrap(), MinuteUnits(22_000_000));
        assert_eq!(serde_json::from_str::<MinuteUnits>("0").unwrap(), MinuteUnits(0));
        assert_eq!(serde_json::from_str::<MinuteUnits>("0.0").unwrap(), MinuteUnits(0));
        assert!(serde_json::from_str::<MinuteUnits>("-0.25").is_err());
        assert!(serde_json::from_str::<MinuteUnits>("\"1\"").is_err());
    }

    #[test]
    fn a_fraction_of_a_minute_past_the_allowance_is_a_whole_minute_of_credit() {
        // 31 days: allowance 223.2 min = 22,320,000 units.
        let f = credit_for(m("2026-12"), 22_320_000, SlaPolicy::default());
        assert_eq!((f.credit_minutes, f.excess_minutes), (0, 0.0), "exactly the allowance");
        let f = credit_for(m("2026-12"), 22_320_001, SlaPolicy::default());
        assert_eq!((f.credit_minutes, f.excess_minutes), (2, 0.00001));
        let f = credit_for(m("2026-12"), 22_425_000, SlaPolicy::default());
        assert_eq!((f.credit_minutes, f.excess_minutes), (4, 1.05));
        // The report and the credit body carry the fraction.
        let month = m("2026-12");
        let closed = month.end_minute() + 5;
        let counts = MinuteCounts { up: 100, down: 900, down_units: 22_425_000, ..Default::default() };
        let r = report(month, counts, closed, SlaPolicy::default(), None);
        assert_eq!(r.availability_pct, Some(99.498));
        let body = send(plan_credit(&r, &CreditState::default(), closed, month, closed * 60_000, false)).body;
        assert_eq!(
            body,
            r#"{"month":"2026-12","credit_minutes":4,"downtime_minutes":224.25,"availability_pct":99.498}"#
        );
    }

    #[test]
    fn credit_life_cycle() {
        let month = m("2026-10");
        let closed = month.end_minute() + 5;
        let now_ms = closed * 60_000;
        let r = report(
            month,
            MinuteCounts { down: 300, up: 100, down_units: 300 * UNITS_PER_MINUTE, ..Default::default() },
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
        let req = send(plan_credit(&r, &s, closed, month, now_ms, false));
        assert_eq!(req.idempotency_key, "sla-2026-10");
        assert_eq!(req.credit_minutes, 2 * (300 - 223));
        assert_eq!(
            req.body,
            r#"{"month":"2026-10","credit_minutes":154,"downtime_minutes":300,"availability_pct":99.328}"#
        );
        let s = after_attempt(s, &req, SendOutcome::retryable("HTTP 500"), now_ms, "t".into(), RETRY);
        assert_eq!((s.status, s.attempts, s.next_attempt_ms), (CreditStatus::Pending, 1, Some(now_ms + 60_000)));
        assert_eq!(plan_credit(&r, &s, closed, month, now_ms + 59_999, false), CreditAction::Nothing, "backoff");
        assert!(matches!(plan_credit(&r, &s, closed, month, now_ms + 60_000, false), CreditAction::Send(_)));
        let s = after_attempt(s, &req, SendOutcome::retryable("HTTP 500"), now_ms, "t".into(), RETRY);
        assert_eq!(s.next_attempt_ms, Some(now_ms + 120_000));
        let s = after_attempt(s, &req, SendOutcome::Acknowledged, now_ms, "then".into(), RETRY);
        assert_eq!((s.status, s.attempts, s.issued_at.as_deref()), (CreditStatus::Issued, 3, Some("then")));
        assert_eq!(plan_credit(&r, &s, closed, month, now_ms * 2, true), CreditAction::Nothing, "never twice");

        let zero = report(month, MinuteCounts { up: 10, ..Default::default() }, closed, SlaPolicy::default(), None);
        assert_eq!(
            plan_credit(&zero, &CreditState::default(), closed, month, now_ms, false),
            CreditAction::IssueWithoutCall
        );

        let failed = after_attempt(
            CreditState::default(),
            &CreditRequest { idempotency_key: "sla-2026-10".into(), credit_minutes: 5, body: "{\"x\":5}".into() },
            SendOutcome::Rejected("HTTP 401".into()),
            now_ms,
            "t".into(),
            RETRY,
        );
        assert_eq!(failed.status, CreditStatus::Failed);
        assert_eq!(plan_credit(&r, &failed, closed, month, now_ms, false), CreditAction::Nothing);
        let again = send(plan_credit(&r, &failed, closed, month, now_ms, true));
        assert_eq!(
            (again.credit_minutes, again.body.as_str()),
            (5, "{\"x\":5}"),
            "a retry repeats what was first sent"
        );
    }

    #[test]
    fn retries_repeat_the_first_body_byte_for_byte_whatever_late_rounds_add() {
        let month = m("2026-09");
        let closed = month.end_minute() + 5;
        let now_ms = closed * 60_000;
        let at = |down: u32| {
            report(
                month,
                MinuteCounts { up: 1000, down, down_units: u64::from(down) * UNITS_PER_MINUTE, ..Default::default() },
                closed,
                SlaPolicy::default(),
                None,
            )
        };
        let first = send(plan_credit(&at(220), &CreditState::default(), closed, month, now_ms, false));
        assert_eq!(
            first.body,
            r#"{"month":"2026-09","credit_minutes":8,"downtime_minutes":220,"availability_pct":99.491}"#
        );
        // Frozen before the call goes out.
        let frozen = freeze(&CreditState::default(), &first).expect("first attempt freezes");
        assert_eq!(freeze(&frozen, &first), None, "frozen once");
        // Late rounds for the closed month arrive: 230 down now. The retry, by alarm or by
        // hand, still sends the first bytes.
        let late = at(230);
        assert_eq!((late.downtime_minutes, late.availability_pct), (MinuteUnits::whole(230), Some(99.468)));
        assert_eq!(send(plan_credit(&late, &frozen, closed, month, now_ms, false)), first);
        let s = after_attempt(frozen, &first, SendOutcome::retryable("HTTP 503"), now_ms, "t".into(), RETRY);
        assert_eq!(send(plan_credit(&late, &s, closed, month, now_ms + 60_000, false)), first);
        let s = after_attempt(s, &first, SendOutcome::Rejected("HTTP 401".into()), now_ms, "t".into(), RETRY);
        assert_eq!(send(plan_credit(&late, &s, closed, month, now_ms, true)), first);
    }

    #[test]
    fn corrupt_credit_state_is_an_error_never_a_fresh_pending() {
        assert_eq!(parse_credit_state(None), Ok(None));
        let s = CreditState { credit_minutes: Some(8), body: Some("{}".into()), ..Default::default() };
        let stored = serde_json::to_string(&s).unwrap();
        assert_eq!(parse_credit_state(Some(&stored)), Ok(Some(s)));
        // A state stored before bodies were frozen still reads.
        let legacy = r#"{"status":"pending","attempts":1,"issued_at":null,"last_error":"HTTP 500","next_attempt_ms":5,"credit_minutes":8}"#;
        assert_eq!(parse_credit_state(Some(legacy)).unwrap().unwrap().credit_minutes, Some(8));
        for bad in ["", "{", "null", r#"{"status":"lost"}"#, "\u{0}garbage"] {
            assert!(parse_credit_state(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        assert_eq!(backoff_ms(1, 60, CREDIT_RETRY_MAX_S), 60_000);
        assert_eq!(backoff_ms(2, 60, CREDIT_RETRY_MAX_S), 120_000);
        assert_eq!(backoff_ms(3, 60, CREDIT_RETRY_MAX_S), 240_000);
        assert_eq!(backoff_ms(30, 60, CREDIT_RETRY_MAX_S), 6 * 3600 * 1000);
        assert_eq!(backoff_ms(3, 1, 2), 2_000);
        assert_eq!(classify_status(204, None), SendOutcome::Acknowledged);
        for status in [408, 425, 429, 500, 503] {
            assert!(matches!(classify_status(status, None), SendOutcome::Retryable { .. }), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert!(matches!(classify_status(status, None), SendOutcome::Rejected(_)), "{status}");
        }
        // Retry-After (seconds) is a floor on the wait, within the cap.
        let retry = RetryPolicy { base_s: 1, max_s: 10 };
        let req = CreditRequest { idempotency_key: "k".into(), credit_minutes: 2, body: "{}".into() };
        let s = after_attempt(CreditState::default(), &req, classify_status(429, Some("3")), 0, "t".into(), retry);
        assert_eq!(s.next_attempt_ms, Some(3_000));
        let s = after_attempt(CreditState::default(), &req, classify_status(429, Some("99999")), 0, "t".into(), retry);
        assert_eq!(s.next_attempt_ms, Some(10_000));
        let s = after_attempt(
            CreditState::default(),
            &req,
            classify_status(503, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            0,
            "t".into(),
            retry,
        );
        assert_eq!(s.next_attempt_ms, Some(1_000));
    }

    proptest! {
        /// Against a plain model: random minutes, down ones with any part of the minute
        /// down (whole minutes among them) → the same report figures.
        #[test]
        fn report_matches_a_plain_model(
            states in proptest::collection::vec((0u8..6, 1u32..=100_000), 0..3000),
            target in 90_000u32..=100_000,
            mult in 0u32..5,
        ) {
            let month = m("2027-02");
            let p = SlaPolicy { target_milli_pct: target, multiplier: mult };
            let mut counts = MinuteCounts::default();
            let (mut down_minutes, mut down_num) = (0u32, 0u64);
            for (s, units) in &states {
                let (state, units) = match s {
                    0 => (MinuteState::Up, 0),
                    1 => (MinuteState::Down, *units),
                    2 => (MinuteState::Down, 100_000),
                    3 => (MinuteState::Maintenance, 0),
                    4 => (MinuteState::Unknown, 0),
                    _ => continue, // not recorded
                };
                counts.add_record(&MinuteRecord { minute: 0, state, down_units: units, checks: FleetChecks::default() });
                if state == MinuteState::Down {
                    down_minutes += 1;
                    down_num += u64::from(units);
                }
            }
            let r = report(month, counts, month.end_minute(), p, None);
            // Plain model, in exact rationals: allowance = 40320 × (100000 − t) / 100000.
            let allowance_num = 40_320u64 * u64::from(100_000 - target);
            #[allow(clippy::manual_div_ceil)] // the model spells the rounding out on purpose
            let credit = if down_num > allowance_num { mult * (((down_num - allowance_num) + 99_999) / 100_000) as u32 } else { 0 };
            prop_assert_eq!(r.credit_minutes, credit);
            prop_assert_eq!(r.downtime_minutes, MinuteUnits(down_num));
            prop_assert_eq!(r.minutes, 40_320);
            prop_assert_eq!(r.unknown_minutes + down_minutes + counts.up + counts.maintenance, 40_320);
            let avail = (4_032_000_000 - down_num) as f64 / 4_032_000_000.0 * 100.0;
            let measured = states.iter().any(|(s, _)| *s < 5);
            prop_assert_eq!(r.availability_pct.is_some(), measured);
            prop_assert!(r.availability_pct.is_none_or(|a| (a - avail).abs() <= 0.000_500_001));
        }

        /// Every number of units is written as its exact decimal (no float artefact), and
        /// read back to the same units.
        #[test]
        fn minutes_are_written_exactly(units in 0u64..=5_000_000_000) {
            let json = serde_json::to_string(&MinuteUnits(units)).unwrap();
            prop_assert_eq!(&json, &MinuteUnits(units).to_string());
            let (whole, frac) = (units / 100_000, units % 100_000);
            let digits = format!("{whole}.{frac:05}");
            let expected = if frac == 0 { whole.to_string() } else { digits.trim_end_matches('0').to_owned() };
            prop_assert_eq!(&json, &expected);
            prop_assert_eq!(serde_json::from_str::<MinuteUnits>(&json).unwrap(), MinuteUnits(units));
        }

        /// A minute's down units are the down cycles' overlap with it, whatever the
        /// interval and pools: never more than a minute, and the minutes of a span add up
        /// to the span's down time.
        #[test]
        fn down_cycles_add_up_across_minutes(
            interval_s in 1i64..=60,
            first in 0i64..200,
            downs in proptest::collection::vec(any::<bool>(), 1..120),
            pools in 1usize..3,
        ) {
            let len = interval_s * 1000;
            let mut cycles = Vec::new();
            for (i, down) in downs.iter().enumerate() {
                let start = (first + i as i64) * len;
                for p in 0..pools {
                    // One pool's server passes unless the cycle is down; others always fail.
                    let passed = u32::from(!down && p == 0);
                    cycles.push((start, FleetChecks { total: 1, passed, maintenance: 0 }));
                }
            }
            let (from, to) = (first * len, (first + downs.len() as i64) * len);
            let down_ms: i64 = downs.iter().filter(|d| **d).count() as i64 * len;
            let mut sum_ms_units = 0u64;
            for minute in from.div_euclid(60_000)..=(to - 1).div_euclid(60_000) {
                let r = minute_record(&cycles, len, minute).unwrap();
                prop_assert!(r.down_units <= 100_000);
                prop_assert_eq!(r.state == MinuteState::Down, r.down_units > 0);
                sum_ms_units += u64::from(r.down_units);
            }
            // Each minute rounds to the nearest unit (a unit is 0.6 ms): at most a third of
            // a unit off per minute.
            let minutes = ((to - 1).div_euclid(60_000) - from.div_euclid(60_000) + 1) as u64;
            let exact3 = down_ms as u64 * 5; // units × 3
            prop_assert!((sum_ms_units * 3).abs_diff(exact3) <= minutes);
            prop_assert_eq!(minute_record(&cycles, len, from.div_euclid(60_000) - 1), None);
        }
    }
}
