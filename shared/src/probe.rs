//! Probers (README "Probers"): vantage points, check cycles, what an alarm wake does, the
//! majority verdict of a cycle, when a pool judges a cycle and when it reconciles DNS.
//!
//! A cycle is keyed by its start time in ms (`floor(t / interval) × interval`), so every
//! region's wake for the same cycle lands on the same key, a duplicate or retried alarm
//! lands on a key that was already counted, and a change of `PROBE_INTERVAL_S` never makes
//! an older check look newer.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A Durable Object location hint used as a vantage point. `sam`, `afr` and `me` are left
/// out: objects hinted there are placed elsewhere (README "Probers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Wnam,
    Enam,
    Weur,
    Eeur,
    Apac,
    Oc,
}

impl Region {
    pub const ALL: [Region; 6] = [Self::Wnam, Self::Enam, Self::Weur, Self::Eeur, Self::Apac, Self::Oc];
    pub const DEFAULT: [Region; 3] = [Self::Weur, Self::Enam, Self::Apac];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wnam => "wnam",
            Self::Enam => "enam",
            Self::Weur => "weur",
            Self::Eeur => "eeur",
            Self::Apac => "apac",
            Self::Oc => "oc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The prober object's name: the hint binds on the first `get()` only and objects
    /// never move, so the name carries the region (a new region is a new object).
    pub fn object_name(self) -> String {
        format!("prober-{}", self.as_str())
    }
}

/// `PROBE_REGIONS`: 1 to 6 distinct regions, comma-separated.
pub fn parse_regions(s: &str) -> Result<Vec<Region>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let r = Region::parse(part).ok_or_else(|| "must be 1 to 6 of wnam,enam,weur,eeur,apac,oc".to_owned())?;
        if out.contains(&r) {
            return Err(format!("names {part} twice"));
        }
        out.push(r);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeMode {
    Alarms,
    Cron,
}

/// The cycle grid of `PROBE_INTERVAL_S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub interval_ms: i64,
}

impl Schedule {
    pub fn new(interval_s: u32) -> Self {
        Self { interval_ms: i64::from(interval_s.max(1)) * 1000 }
    }

    /// The key of the cycle containing `t`.
    pub fn cycle_of(&self, t_ms: i64) -> i64 {
        t_ms.div_euclid(self.interval_ms) * self.interval_ms
    }

    /// The next cycle boundary after `now`: every region wakes on the same grid.
    pub fn next_wake(&self, now_ms: i64) -> i64 {
        self.cycle_of(now_ms) + self.interval_ms
    }

    /// Each probe's timeout: shorter than the interval (three quarters of it, at most 5 s),
    /// so a cycle's probes finish before the next cycle starts.
    pub fn probe_timeout_ms(&self) -> u32 {
        (self.interval_ms * 3 / 4).min(5_000) as u32
    }

    /// The watchdog: an alarm that is missing, or overdue by more than one interval, is
    /// re-armed (stuck alarms happen; README "Probers").
    pub fn needs_rearm(&self, alarm_ms: Option<i64>, now_ms: i64) -> bool {
        alarm_ms.is_none_or(|a| now_ms - a > self.interval_ms)
    }
}

/// What one alarm wake of a prober does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeAction {
    /// Probe every target and report the results for `cycle`.
    Probe,
    /// The alarm was late by more than one interval: report that this region abstains.
    Abstain,
    /// This cycle was already reported (a duplicate or retried wake): nothing to count.
    Duplicate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    pub cycle: i64,
    /// Set before any work, so a wake that throws or is evicted still has a successor.
    pub next_alarm: i64,
    pub action: WakeAction,
}

/// `due_ms`: the time the current alarm was set for (stored); `last_cycle`: the last cycle
/// this prober reported (stored).
pub fn on_wake(s: Schedule, due_ms: Option<i64>, now_ms: i64, last_cycle: Option<i64>) -> Wake {
    let cycle = s.cycle_of(now_ms);
    let action = if last_cycle.is_some_and(|l| l >= cycle) {
        WakeAction::Duplicate
    } else if due_ms.is_some_and(|d| now_ms - d > s.interval_ms) {
        WakeAction::Abstain
    } else {
        WakeAction::Probe
    };
    Wake { cycle, next_alarm: s.next_wake(now_ms), action }
}

/// One region's results for one cycle: `None` when it abstained (could not probe, or woke
/// too late); otherwise pass/fail per server id it probed.
pub type RegionResults = Option<BTreeMap<String, bool>>;

/// What a pool has received for one cycle, stored until the cycle is judged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleVotes {
    pub cycle: i64,
    pub len_ms: i64,
    pub regions: BTreeMap<Region, RegionResults>,
}

impl CycleVotes {
    /// The regions that probed `id` in this cycle, with what each saw.
    pub fn votes_for(&self, id: &str) -> BTreeMap<Region, bool> {
        crate::sort::map(self.regions.iter().filter_map(|(r, res)| res.as_ref()?.get(id).map(|&p| (*r, p))))
    }
}

/// The verdict of one check: it fails when a strict majority of the voting regions saw it
/// fail; with no vote there is no observation (`None`). `true` = passed.
pub fn verdict(votes: impl IntoIterator<Item = bool>) -> Option<bool> {
    let (mut n, mut failed) = (0u32, 0u32);
    for v in votes {
        n += 1;
        failed += u32::from(!v);
    }
    (n > 0).then_some(failed * 2 <= n)
}

/// Whether a pool judges `c` now: every expected region has reported (results or
/// abstention), or a region has already reported a later cycle (the missing ones are not
/// coming for `c`), or the cycle ended more than one interval ago (the watchdog's flush).
pub fn cycle_ready(c: &CycleVotes, expected: &[Region], latest_reported: i64, now_ms: i64) -> bool {
    expected.iter().all(|r| c.regions.contains_key(r)) || latest_reported > c.cycle || now_ms >= c.cycle + 2 * c.len_ms
}

/// A region's report counts only for a cycle the pool has not judged yet: a late report
/// must not replace the majority's verdict with its own.
pub fn report_counts(judged: Option<i64>, cycle: i64) -> bool {
    judged.is_none_or(|j| cycle > j)
}

/// What asks a pool to bring its DNS in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconcile {
    /// A judged cycle: its transitions, and whether an earlier one is still unapplied.
    Cycle { transitions: usize, dirty: bool },
    /// A LibreNMS alert or recovery that changed the server's state.
    Alert,
}

/// A transition reconciles the pool's DNS in the same cycle, at most once per cycle; a
/// transition that found its cycle already reconciled leaves the pool `dirty`, and the
/// next cycle reconciles it (the cron round reconciles every pool anyway). An alert
/// reconciles at once even in a cycle already reconciled (README "LibreNMS": alerts are
/// rare; the once-per-cycle budget is for probes).
pub fn reconcile_now(why: Reconcile, last_reconciled: Option<i64>, cycle: i64) -> bool {
    match why {
        Reconcile::Alert => true,
        Reconcile::Cycle { transitions, dirty } => {
            (transitions > 0 || dirty) && last_reconciled.is_none_or(|l| l < cycle)
        }
    }
}

/// Durable Object requests per 30-day month at these settings: per region and cycle one
/// alarm, one index read and one report per pool; plus the cron watchdog (one invocation,
/// one index read, one call per prober and per pool each minute). Probes are subrequests
/// of the alarm, not requests.
pub fn requests_per_month(regions: u64, interval_s: u64, pools: u64) -> u64 {
    let cycles = 30 * 86_400 / interval_s.max(1);
    let minutes = 30 * 1_440;
    regions * cycles * (2 + pools) + minutes * (2 + regions + pools)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: Schedule = Schedule { interval_ms: 15_000 };

    #[test]
    fn regions() {
        assert_eq!(parse_regions("weur,enam,apac").unwrap(), Region::DEFAULT);
        assert_eq!(parse_regions(" oc , wnam").unwrap(), [Region::Oc, Region::Wnam]);
        assert_eq!(parse_regions("wnam,enam,weur,eeur,apac,oc").unwrap().len(), 6);
        for bad in ["", "sam", "weur,weur", "weur,,enam", "WEUR"] {
            assert!(parse_regions(bad).is_err(), "{bad}");
        }
        assert_eq!(Region::Apac.object_name(), "prober-apac");
        assert_eq!(serde_json::to_string(&Region::Eeur).unwrap(), "\"eeur\"");
    }

    #[test]
    fn cycles_and_timeouts() {
        assert_eq!(S.cycle_of(44_999), 30_000);
        assert_eq!(S.cycle_of(45_000), 45_000);
        assert_eq!(S.cycle_of(-1), -15_000);
        assert_eq!(S.next_wake(45_000), 60_000);
        assert_eq!(S.next_wake(59_999), 60_000);
        assert_eq!(S.probe_timeout_ms(), 5_000);
        assert_eq!(Schedule::new(1).probe_timeout_ms(), 750);
        assert_eq!(Schedule::new(5).probe_timeout_ms(), 3_750);
        for i in 1..=60 {
            assert!(i64::from(Schedule::new(i).probe_timeout_ms()) < Schedule::new(i).interval_ms);
        }
    }

    #[test]
    fn wakes() {
        // On time.
        let w = on_wake(S, Some(30_000), 30_050, Some(15_000));
        assert_eq!(w, Wake { cycle: 30_000, next_alarm: 45_000, action: WakeAction::Probe });
        // A retry after a throw (the next alarm was already stored) probes the same cycle.
        assert_eq!(on_wake(S, Some(45_000), 32_000, Some(15_000)).action, WakeAction::Probe);
        // A duplicate wake for a cycle already reported counts nothing.
        assert_eq!(on_wake(S, Some(30_000), 31_000, Some(30_000)).action, WakeAction::Duplicate);
        // Late by more than one interval: abstain, and come back on the grid.
        let late = on_wake(S, Some(30_000), 45_001, Some(15_000));
        assert_eq!((late.cycle, late.action, late.next_alarm), (45_000, WakeAction::Abstain, 60_000));
        // Late by exactly one interval still probes.
        assert_eq!(on_wake(S, Some(30_000), 45_000, None).action, WakeAction::Probe);
        // The first wake ever.
        assert_eq!(on_wake(S, None, 7, None).action, WakeAction::Probe);
    }

    #[test]
    fn watchdog() {
        assert!(S.needs_rearm(None, 0));
        assert!(!S.needs_rearm(Some(60_000), 50_000));
        assert!(!S.needs_rearm(Some(60_000), 75_000));
        assert!(S.needs_rearm(Some(60_000), 75_001));
    }

    #[test]
    fn majority() {
        assert_eq!(verdict([]), None);
        assert_eq!(verdict([true, true, false]), Some(true), "one of three failing keeps it up");
        assert_eq!(verdict([true, false, false]), Some(false), "two of three fail it");
        assert_eq!(verdict([true, false]), Some(true), "a tie is not a strict majority");
        assert_eq!(verdict([false]), Some(false));
        assert_eq!(verdict([false, false, true, true, true, false]), Some(true));
    }

    type Spec<'a> = &'a [(Region, Option<&'a [(&'a str, bool)]>)];

    fn votes(cycle: i64, regions: Spec<'_>) -> CycleVotes {
        CycleVotes {
            cycle,
            len_ms: 15_000,
            regions: regions
                .iter()
                .map(|(r, res)| (*r, res.map(|v| v.iter().map(|(id, p)| (id.to_string(), *p)).collect())))
                .collect(),
        }
    }

    #[test]
    fn abstention_and_readiness() {
        use Region::*;
        let c =
            votes(30_000, &[(Weur, Some(&[("a", false)])), (Enam, None), (Apac, Some(&[("a", true), ("b", true)]))]);
        let a = c.votes_for("a");
        assert_eq!(a.len(), 2, "the abstaining region does not vote");
        assert_eq!(verdict(a.values().copied()), Some(true), "1 pass vs 1 fail among voters");
        assert_eq!(c.votes_for("b").len(), 1, "a server one region did not know yet");
        assert_eq!(verdict(c.votes_for("zzz").values().copied()), None);
        assert!(cycle_ready(&c, &Region::DEFAULT, 30_000, 30_100), "all three reported");
        let partial = votes(30_000, &[(Weur, Some(&[]))]);
        assert!(!cycle_ready(&partial, &Region::DEFAULT, 30_000, 40_000));
        assert!(cycle_ready(&partial, &Region::DEFAULT, 45_000, 40_000), "a later cycle arrived");
        assert!(cycle_ready(&partial, &Region::DEFAULT, 30_000, 60_000), "flushed after one interval more");
    }

    #[test]
    fn late_reports_do_not_vote() {
        assert!(report_counts(None, 0));
        assert!(report_counts(Some(15_000), 30_000));
        assert!(!report_counts(Some(15_000), 15_000));
        assert!(!report_counts(Some(15_000), 0));
    }

    #[test]
    fn reconcile_once_per_cycle() {
        let c = |transitions, dirty| Reconcile::Cycle { transitions, dirty };
        assert!(!reconcile_now(c(0, false), None, 10));
        assert!(reconcile_now(c(1, false), None, 10));
        assert!(reconcile_now(c(2, false), Some(9), 10));
        assert!(!reconcile_now(c(1, false), Some(10), 10), "already reconciled in this cycle");
        assert!(reconcile_now(c(0, true), Some(10), 11), "a transition left over from cycle 10");
    }

    #[test]
    fn an_alert_reconciles_even_in_a_cycle_already_reconciled() {
        assert!(reconcile_now(Reconcile::Alert, Some(10), 10));
        assert!(reconcile_now(Reconcile::Alert, None, 10));
    }

    #[test]
    fn cost_at_defaults() {
        // 3 regions, 15 s, 50 pools: 172,800 cycles per region and month.
        assert_eq!(requests_per_month(3, 15, 50), 3 * 172_800 * 52 + 43_200 * 55);
    }

    proptest! {
        /// Every region's wakes for one cycle land on one key, whatever their jitter.
        #[test]
        fn one_key_per_cycle(c in 0i64..1_000_000, j1 in 0i64..15_000, j2 in 0i64..15_000) {
            let start = c * 15_000;
            prop_assert_eq!(on_wake(S, Some(start), start + j1, None).cycle, on_wake(S, Some(start), start + j2, None).cycle);
        }

        /// A majority verdict never fails a server that most voters saw pass, and is symmetric
        /// in the order of votes.
        #[test]
        fn verdict_is_a_strict_majority(v in proptest::collection::vec(any::<bool>(), 0..7)) {
            let fails = v.iter().filter(|p| !**p).count();
            let expected = (!v.is_empty()).then_some(fails * 2 <= v.len());
            prop_assert_eq!(verdict(v.iter().copied()), expected);
            prop_assert_eq!(verdict(v.iter().rev().copied()), expected);
        }
    }
}
