//! Probers (README "Probers"): vantage points, check cycles, what an alarm wake does, the
//! majority verdict of a cycle, when a pool judges a cycle and when it reconciles DNS.
//!
//! A cycle is keyed by its start time in ms (`floor(t / interval) × interval`), so every
//! region's wake for the same cycle lands on the same key, a duplicate or retried alarm
//! lands on a key that was already counted, and a change of `PROBE_INTERVAL_S` never makes
//! an older check look newer.
//!
//! Slices: one prober checks at most `Schedule::slice_capacity` servers, the most it can
//! finish within a cycle when every one of them hangs until the probe timeout. A pool with
//! more http/tcp servers is split into slices, each probed per region by its own object
//! (`prober-<region>-<pool>-<slice>`); the pool combines a region's slices into that
//! region's vote and judges the region once all of its slices are in.

use serde::{Deserialize, Serialize};

/// A Durable Object location hint used as a vantage point. `sam`, `afr` and `me` are left
/// out: objects hinted there are placed elsewhere (README "Probers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Wnam,
    Enam,
    Weur,
    Eeur,
    Apac,
    Oc,
}
crate::unit_enum::unit_enum!(Region { Wnam = "wnam", Enam = "enam", Weur = "weur", Eeur = "eeur", Apac = "apac", Oc = "oc" });

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

    /// The name of the prober of one slice of one pool: the hint binds on the first `get()`
    /// only and objects never move, so the name carries the region (a new region is a new
    /// object); the pool and slice say what it probes.
    pub fn object_name(self, pool: &str, slice: u32) -> String {
        format!("prober-{}-{pool}-{slice}", self.as_str())
    }
}

/// A map keyed by region: a slot per region, iterated in the regions' order (the order of
/// `Region`'s `Ord`, so the order a `BTreeMap<Region, V>` had) and written as a JSON object
/// the same way, read back as one (a repeated key keeps its last value). A B-tree's code
/// is compiled once per value type, about 3 KB of wasm each (README "Size").
#[derive(Clone, PartialEq, Eq)]
pub struct RegionMap<V>([Option<V>; 6]);

impl<V> Default for RegionMap<V> {
    fn default() -> Self {
        Self([None, None, None, None, None, None])
    }
}

impl<V> RegionMap<V> {
    pub fn get(&self, r: &Region) -> Option<&V> {
        self.0[*r as usize].as_ref()
    }

    pub fn get_mut(&mut self, r: &Region) -> Option<&mut V> {
        self.0[*r as usize].as_mut()
    }

    /// As `BTreeMap::insert`: the value it replaces.
    pub fn insert(&mut self, r: Region, v: V) -> Option<V> {
        self.0[r as usize].replace(v)
    }

    /// As `BTreeMap::entry(r).or_default()`.
    pub fn get_or_default(&mut self, r: Region) -> &mut V
    where
        V: Default,
    {
        self.0[r as usize].get_or_insert_with(V::default)
    }

    pub fn contains_key(&self, r: &Region) -> bool {
        self.get(r).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    pub fn len(&self) -> usize {
        self.0.iter().filter(|v| v.is_some()).count()
    }

    /// The entries in the regions' order.
    pub fn iter(&self) -> impl Iterator<Item = (&Region, &V)> {
        Region::ALL.iter().zip(&self.0).filter_map(|(r, v)| Some((r, v.as_ref()?)))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().flatten()
    }
}

/// As `collect::<BTreeMap<_, _>>()`: a repeated region keeps its last value.
impl<V> FromIterator<(Region, V)> for RegionMap<V> {
    fn from_iter<I: IntoIterator<Item = (Region, V)>>(iter: I) -> Self {
        let mut m = Self::default();
        for (r, v) in iter {
            m.insert(r, v);
        }
        m
    }
}

impl<V, const N: usize> From<[(Region, V); N]> for RegionMap<V> {
    fn from(entries: [(Region, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

/// As a `BTreeMap`'s: `{Weur: true}`.
impl<V: std::fmt::Debug> std::fmt::Debug for RegionMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Serialize> Serialize for RegionMap<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for RegionMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RegionMapVisitor(std::marker::PhantomData))
    }
}

struct RegionMapVisitor<V>(std::marker::PhantomData<V>);

impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for RegionMapVisitor<V> {
    type Value = RegionMap<V>;

    /// What a `BTreeMap`'s visitor expects.
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RegionMap<V>, A::Error> {
        let mut m = RegionMap::default();
        while let Some((r, v)) = map.next_entry::<Region, V>()? {
            m.insert(r, v);
        }
        Ok(m)
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

    /// How many servers one prober can check per cycle in the worst case, every one of them
    /// hanging until the timeout: `CONCURRENCY` at a time, in as many timeouts as fit in
    /// three quarters of the interval (the last quarter is for reporting), at least one.
    /// 6 at intervals up to 6 s, 12 at 15 s, 54 at 60 s.
    pub fn slice_capacity(&self) -> usize {
        let waves = (self.interval_ms * 3 / 4) / i64::from(self.probe_timeout_ms());
        CONCURRENCY * waves.max(1) as usize
    }

    /// The watchdog: an alarm that is missing, or overdue by more than one interval, is
    /// re-armed (stuck alarms happen; README "Probers").
    pub fn needs_rearm(&self, alarm_ms: Option<i64>, now_ms: i64) -> bool {
        alarm_ms.is_none_or(|a| now_ms - a > self.interval_ms)
    }
}

/// Connections one invocation may hold open at once (the Workers limit): the probe window.
pub const CONCURRENCY: usize = 6;

/// How many slices (prober objects per region) a pool needs: one per `slice_capacity`
/// http/tcp servers, at least one while the pool has any server (heartbeat servers are
/// judged at each cycle a prober reports), none for an empty pool (its probers retire).
pub fn slices_for(servers: usize, targets: usize, s: Schedule) -> u32 {
    if servers == 0 {
        return 0;
    }
    targets.div_ceil(s.slice_capacity()).max(1) as u32
}

/// The slice of the target ranked `rank` (0-based, in id order) among `targets`: contiguous
/// runs of ids, sizes differing by at most one, so no slice exceeds the capacity. Stable: a
/// slice's servers change only when the pool's http/tcp servers do, and then at most one
/// server crosses each boundary, unless the number of slices changes.
pub fn slice_of(rank: usize, targets: usize, slices: u32) -> u32 {
    if targets == 0 || slices == 0 {
        return 0;
    }
    (rank as u64 * u64::from(slices) / targets as u64) as u32
}

/// Whether the watchdog calls a prober: not when its pool had a report from it for one of
/// the last two cycles (its loop runs; the call would only cost a request). The pool keeps
/// that in memory only: after an eviction it knows nothing and calls every prober, the
/// safe way round.
pub fn needs_ensure(s: Schedule, last_reported_cycle: Option<i64>, now_ms: i64) -> bool {
    last_reported_cycle.is_none_or(|c| now_ms - c > 2 * s.interval_ms)
}

/// A test-only fault of `PROBER_FAULT` (README "Probers"; never set in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProberFault {
    /// Report every cycle as one this prober could not probe.
    Abstain,
    /// Throw from the wake after the next alarm is set (the runtime retries it).
    Throw,
}

/// `PROBER_FAULT`: comma-separated `<who>:<fault>`, `who` a region (all its slices) or one
/// slice (`<region>-<pool>-<slice>`), `fault` `abstain` or `throw`.
pub fn prober_fault(spec: &str, region: Region, pool: &str, slice: u32) -> Option<ProberFault> {
    let one = format!("{}-{pool}-{slice}", region.as_str());
    spec.split(',').map(str::trim).find_map(|item| {
        let (who, fault) = item.split_once(':')?;
        if who != region.as_str() && who != one {
            return None;
        }
        match fault {
            "abstain" => Some(ProberFault::Abstain),
            "throw" => Some(ProberFault::Throw),
            _ => None,
        }
    })
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
pub type RegionResults = Option<crate::sort::SortedMap<String, bool>>;

/// What a pool has received for one cycle, stored until the cycle is judged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CycleVotes {
    pub cycle: i64,
    pub len_ms: i64,
    /// Each region's results, combined over the slices that reported: `None` while every
    /// slice of it that reported abstained.
    pub regions: RegionMap<RegionResults>,
    /// The slices of each region whose reports are in (absent in votes stored before
    /// slices: there the region's one report was the whole region).
    pub slices_in: RegionMap<crate::sort::SortedSet<u32>>,
}

crate::map_struct::map_struct!(CycleVotes { cycle, len_ms, regions, slices_in: default });

impl CycleVotes {
    /// Record `slice`'s report for `region`: its results join the region's (a server two
    /// slices reported, while the pool's servers changed, keeps the first result: one vote
    /// per region and server). A slice's second report for the cycle (a duplicate or
    /// retried wake) changes nothing and answers `false`.
    pub fn record(&mut self, region: Region, slice: u32, results: RegionResults) -> bool {
        if !self.slices_in.get_or_default(region).insert(slice) {
            return false;
        }
        match (self.regions.get_mut(&region), results) {
            (Some(Some(all)), Some(new)) => {
                for (id, passed) in new {
                    all.or_insert(id, passed);
                }
            }
            (Some(slot @ None), Some(new)) => *slot = Some(new),
            (Some(_), None) => {}
            (None, results) => {
                self.regions.insert(region, results);
            }
        }
        true
    }

    /// Whether every slice `0..slices` of `region` has reported.
    pub fn region_in(&self, region: Region, slices: u32) -> bool {
        match self.slices_in.get(&region) {
            Some(got) => (0..slices).all(|k| got.contains(&k)),
            None => self.regions.contains_key(&region),
        }
    }

    /// The regions that probed `id` in this cycle, with what each saw.
    pub fn votes_for(&self, id: &str) -> RegionMap<bool> {
        self.regions.iter().filter_map(|(r, res)| res.as_ref()?.get(id).map(|&p| (*r, p))).collect()
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

/// Whether a pool judges `c` now: every slice of every expected region has reported
/// (results or abstention), or a slice has already reported a later cycle (the missing ones
/// are not coming for `c`), or the cycle ended more than one interval ago (the watchdog's
/// flush).
pub fn cycle_ready(c: &CycleVotes, expected: &[Region], slices: u32, latest_reported: i64, now_ms: i64) -> bool {
    expected.iter().all(|&r| c.region_in(r, slices)) || latest_reported > c.cycle || now_ms >= c.cycle + 2 * c.len_ms
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

/// Durable Object requests per 30-day month at these settings, `slices` being the sum of
/// the pools' slices (one per pool of at most `slice_capacity` http/tcp servers): per
/// region, slice and cycle one alarm and one report to its pool; plus the cron watchdog
/// each minute (one invocation, one index read, one flush per pool; a pool calls only the
/// probers it has not heard from lately, none in steady state). Probes are subrequests of
/// the alarm, not requests.
pub fn requests_per_month(regions: u64, interval_s: u64, slices: u64, pools: u64) -> u64 {
    let cycles = 30 * 86_400 / interval_s.max(1);
    let minutes = 30 * 1_440;
    regions * slices * cycles * 2 + minutes * (2 + pools)
}

/// One cycle's votes written compactly, for the core's tests: per region its results
/// (`None`: it abstained).
#[cfg(test)]
pub(crate) type Spec<'a> = &'a [(Region, Option<&'a [(&'a str, bool)]>)];

#[cfg(test)]
pub(crate) fn votes_of(cycle: i64, len_ms: i64, regions: Spec<'_>) -> CycleVotes {
    CycleVotes {
        cycle,
        len_ms,
        regions: regions
            .iter()
            .map(|(r, res)| (*r, res.map(|v| v.iter().map(|(id, p)| (id.to_string(), *p)).collect())))
            .collect(),
        ..CycleVotes::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const S: Schedule = Schedule { interval_ms: 15_000 };

    #[test]
    fn regions() {
        assert_eq!(parse_regions("weur,enam,apac").unwrap(), Region::DEFAULT);
        assert_eq!(parse_regions(" oc , wnam").unwrap(), [Region::Oc, Region::Wnam]);
        assert_eq!(parse_regions("wnam,enam,weur,eeur,apac,oc").unwrap().len(), 6);
        for bad in ["", "sam", "weur,weur", "weur,,enam", "WEUR"] {
            assert!(parse_regions(bad).is_err(), "{bad}");
        }
        assert_eq!(Region::Apac.object_name("se", 1), "prober-apac-se-1");
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

    fn votes(cycle: i64, regions: Spec<'_>) -> CycleVotes {
        votes_of(cycle, 15_000, regions)
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
        assert!(cycle_ready(&c, &Region::DEFAULT, 1, 30_000, 30_100), "all three reported (stored before slices)");
        let partial = votes(30_000, &[(Weur, Some(&[]))]);
        assert!(!cycle_ready(&partial, &Region::DEFAULT, 1, 30_000, 40_000));
        assert!(cycle_ready(&partial, &Region::DEFAULT, 1, 45_000, 40_000), "a later cycle arrived");
        assert!(cycle_ready(&partial, &Region::DEFAULT, 1, 30_000, 60_000), "flushed after one interval more");
    }

    fn res(v: &[(&str, bool)]) -> RegionResults {
        Some(v.iter().map(|(id, p)| (id.to_string(), *p)).collect())
    }

    #[test]
    fn a_region_votes_once_all_its_slices_are_in_and_its_slices_combine() {
        use Region::*;
        let mut c = CycleVotes { cycle: 0, len_ms: 15_000, ..CycleVotes::default() };
        for r in [Weur, Enam] {
            assert!(c.record(r, 0, res(&[("a", true)])));
            assert!(c.record(r, 1, res(&[("b", false)])));
        }
        assert!(c.record(Apac, 1, res(&[("b", true)])));
        assert!(!c.region_in(Apac, 2), "apac's slice 0 is not in");
        assert!(!cycle_ready(&c, &Region::DEFAULT, 2, 0, 1_000), "a region is judged only with all its slices");
        assert!(c.record(Apac, 0, res(&[("a", false)])));
        assert!(cycle_ready(&c, &Region::DEFAULT, 2, 0, 1_000));
        assert_eq!(c.votes_for("a"), RegionMap::from([(Weur, true), (Enam, true), (Apac, false)]));
        assert_eq!(c.votes_for("b"), RegionMap::from([(Weur, false), (Enam, false), (Apac, true)]));
        // A slice that grows the pool past what was expected does not make it ready early.
        let mut d = CycleVotes::default();
        d.record(Weur, 0, None);
        d.record(Weur, 5, None);
        assert!(!d.region_in(Weur, 2));
    }

    #[test]
    fn a_slice_reports_once_per_cycle() {
        let mut c = CycleVotes::default();
        assert!(c.record(Region::Weur, 0, res(&[("a", false)])));
        assert!(!c.record(Region::Weur, 0, res(&[("a", true)])), "a duplicate wake's report");
        assert_eq!(c.votes_for("a"), RegionMap::from([(Region::Weur, false)]));
    }

    #[test]
    fn a_slice_that_cannot_probe_leaves_its_servers_without_that_regions_vote() {
        use Region::*;
        let mut c = CycleVotes::default();
        c.record(Weur, 0, res(&[("a", true)]));
        c.record(Weur, 1, None);
        assert!(c.region_in(Weur, 2), "the abstaining slice is in");
        assert_eq!(c.votes_for("a").len(), 1);
        assert!(c.votes_for("b").is_empty(), "slice 1's servers get no vote from weur, not a failure");
        // Abstained first, then a slice with results: the region votes for those.
        let mut d = CycleVotes::default();
        d.record(Enam, 1, None);
        d.record(Enam, 0, res(&[("a", false)]));
        assert_eq!(d.votes_for("a"), RegionMap::from([(Enam, false)]));
        // Every slice abstained: the region abstains.
        let mut e = CycleVotes::default();
        e.record(Apac, 0, None);
        e.record(Apac, 1, None);
        assert_eq!(e.regions.get(&Apac), Some(&None));
    }

    #[test]
    fn a_slice_holds_what_one_prober_finishes_in_a_cycle_when_every_server_hangs() {
        for i in 1..=60 {
            let s = Schedule::new(i);
            let cap = s.slice_capacity();
            assert_eq!(cap % CONCURRENCY, 0);
            let waves = (cap / CONCURRENCY) as i64;
            let worst = waves * i64::from(s.probe_timeout_ms());
            assert!(worst <= s.interval_ms * 3 / 4, "{i} s: {waves} waves of timeouts fit in 3/4 of the interval");
        }
        assert_eq!(Schedule::new(1).slice_capacity(), 6);
        assert_eq!(Schedule::new(5).slice_capacity(), 6);
        assert_eq!(Schedule::new(15).slice_capacity(), 12);
        assert_eq!(Schedule::new(60).slice_capacity(), 54);
    }

    #[test]
    fn slices_follow_the_pools_size() {
        assert_eq!(slices_for(0, 0, S), 0, "an empty pool has no probers");
        assert_eq!(slices_for(5, 0, S), 1, "heartbeat servers need a cycle driver");
        assert_eq!(slices_for(12, 12, S), 1);
        assert_eq!(slices_for(13, 13, S), 2);
        assert_eq!(slices_for(1_000, 1_000, S), 84);
        assert_eq!(slices_for(20, 20, Schedule::new(1)), 4);
    }

    #[test]
    fn slices_never_exceed_capacity_and_differ_by_at_most_one() {
        for t in 1..200usize {
            let n = slices_for(t, t, S);
            let mut sizes = vec![0usize; n as usize];
            for rank in 0..t {
                sizes[slice_of(rank, t, n) as usize] += 1;
            }
            let (lo, hi) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
            assert!(hi <= S.slice_capacity() && hi - lo <= 1 && lo > 0, "{t}: {sizes:?}");
        }
    }

    #[test]
    fn a_new_server_moves_at_most_one_server_per_slice_boundary() {
        // Targets in 2..=4 slices; a new one ranked anywhere shifts the ranks after it by one.
        for t in 13..48usize {
            let n = slices_for(t, t, S);
            if slices_for(t + 1, t + 1, S) != n {
                continue; // the number of slices changes: a rebalance, not this rule
            }
            let before: Vec<u32> = (0..t).map(|r| slice_of(r, t, n)).collect();
            for at in 0..=t {
                let after: Vec<u32> = (0..t).map(|r| slice_of(r + usize::from(r >= at), t + 1, n)).collect();
                let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
                assert!(moved < n as usize, "{t} targets, new at {at}: {moved} moved");
            }
        }
    }

    #[test]
    fn the_watchdog_skips_probers_heard_from_in_the_last_two_cycles() {
        assert!(needs_ensure(S, None, 60_000), "nothing known (evicted): call it");
        assert!(!needs_ensure(S, Some(45_000), 60_000));
        assert!(!needs_ensure(S, Some(30_000), 60_000));
        assert!(needs_ensure(S, Some(29_999), 60_000), "silent for more than two cycles");
    }

    #[test]
    fn prober_faults_name_a_region_or_one_slice() {
        use ProberFault::*;
        assert_eq!(prober_fault("weur:abstain", Region::Weur, "se", 3), Some(Abstain));
        assert_eq!(prober_fault("weur:throw", Region::Weur, "se", 0), Some(Throw));
        assert_eq!(prober_fault("weur-se-1:abstain", Region::Weur, "se", 1), Some(Abstain));
        assert_eq!(prober_fault("weur-se-1:abstain", Region::Weur, "se", 0), None);
        assert_eq!(prober_fault("enam:throw, weur-se-0:abstain", Region::Weur, "se", 0), Some(Abstain));
        assert_eq!(prober_fault("weur:abstain", Region::Enam, "se", 0), None);
        assert_eq!(prober_fault("", Region::Weur, "se", 0), None);
        assert_eq!(prober_fault("weur:explode", Region::Weur, "se", 0), None);
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
        // 3 regions, 15 s, 50 pools of at most 12 http/tcp servers (one slice each):
        // 172,800 cycles per prober and month, an alarm and a report each.
        assert_eq!(requests_per_month(3, 15, 50, 50), 3 * 50 * 172_800 * 2 + 43_200 * (2 + 50));
        assert_eq!(requests_per_month(3, 15, 50, 50), 54_086_400);
        // 1,000 http/tcp servers in 50 pools of 20: two slices each at 15 s.
        assert_eq!(requests_per_month(3, 15, 100, 50), 105_926_400);
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

        /// A `RegionMap` is what the `BTreeMap<Region, V>` it replaced was: the same
        /// entries in the same order, the same JSON both ways (repeated keys too), the
        /// same `Debug`.
        #[test]
        fn region_map_is_the_btree_map(v in proptest::collection::vec((0usize..6, any::<u8>()), 0..12)) {
            let pairs: Vec<(Region, u8)> = v.iter().map(|&(i, x)| (Region::ALL[i], x)).collect();
            let tree: BTreeMap<Region, u8> = pairs.iter().copied().collect();
            let map: RegionMap<u8> = pairs.iter().copied().collect();
            prop_assert_eq!(map.iter().map(|(r, x)| (*r, *x)).collect::<Vec<_>>(), tree.iter().map(|(r, x)| (*r, *x)).collect::<Vec<_>>());
            prop_assert_eq!((map.len(), map.is_empty()), (tree.len(), tree.is_empty()));
            prop_assert_eq!(format!("{map:?}"), format!("{tree:?}"));
            let json = serde_json::to_string(&tree).unwrap();
            prop_assert_eq!(serde_json::to_string(&map).unwrap(), json.clone());
            prop_assert_eq!(serde_json::from_str::<RegionMap<u8>>(&json).unwrap(), map.clone());
            // Written in the order given, repeats included: the last one wins in both.
            let raw = format!("{{{}}}", pairs.iter().map(|(r, x)| format!("\"{}\":{x}", r.as_str())).collect::<Vec<_>>().join(","));
            let from_tree: BTreeMap<Region, u8> = serde_json::from_str(&raw).unwrap();
            prop_assert_eq!(serde_json::from_str::<RegionMap<u8>>(&raw).unwrap(), from_tree.into_iter().collect::<RegionMap<u8>>());
            // Inserting and filling answer as the B-tree's insert and entry().or_default().
            let (mut m, mut t) = (RegionMap::<u8>::default(), BTreeMap::<Region, u8>::new());
            for &(r, x) in &pairs {
                prop_assert_eq!(m.insert(r, x), t.insert(r, x));
                let (a, b) = (m.get_or_default(r), t.entry(r).or_default());
                (*a, *b) = (a.wrapping_add(1), b.wrapping_add(1));
            }
            prop_assert_eq!(m, t.into_iter().collect::<RegionMap<u8>>());
        }
    }

    #[test]
    fn region_map_refuses_what_the_btree_map_refused() {
        for bad in [r#"{"mars":1}"#, r#"[]"#, r#"{"weur":"x"}"#, r#"null"#, r#"{"weur":1"#] {
            let want = serde_json::from_str::<BTreeMap<Region, u8>>(bad).unwrap_err().to_string();
            assert_eq!(serde_json::from_str::<RegionMap<u8>>(bad).unwrap_err().to_string(), want, "{bad}");
        }
        for (i, r) in Region::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "a region's slot is its place in Region::ALL");
        }
    }
}
