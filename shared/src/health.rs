//! Health judgement with hysteresis (README "Health checks").
//!
//! Hysteresis counts *checks*, not invocations: every check carries its key (the start of
//! its cycle, in ms), and a second judgement for the same key replaces that check's
//! observation instead of adding one; an older key changes nothing.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Up,
    Down,
}
crate::unit_enum::unit_enum!(Health { Up = "up", Down = "down" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    /// Failed minutes in a row that mark an up server down.
    pub down_after: u32,
    /// Good minutes in a row that mark a down server up.
    pub up_after: u32,
}

crate::map_struct::map_struct!(Thresholds { down_after, up_after });

impl Default for Thresholds {
    fn default() -> Self {
        Self { down_after: 3, up_after: 2 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub health: Health,
    pub good: u32,
    pub bad: u32,
}

crate::map_struct::map_struct!(Counters { health, good, bad });

impl Counters {
    const NEW: Self = Self { health: Health::Down, good: 0, bad: 0 };

    fn step(self, passed: bool, t: Thresholds) -> Self {
        if passed {
            let good = self.good.saturating_add(1);
            let health = if self.health == Health::Down && good >= t.up_after { Health::Up } else { self.health };
            Self { health, good, bad: 0 }
        } else {
            let bad = self.bad.saturating_add(1);
            let health = if self.health == Health::Up && bad >= t.down_after { Health::Down } else { self.health };
            Self { health, good: 0, bad }
        }
    }
}

/// A server's hysteresis state: the counters after the last judged check, and the
/// counters before it, so that check can be judged again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HealthState {
    /// The key of the last judged check (cycle start, ms).
    pub check: Option<i64>,
    pub before: Counters,
    pub now: Counters,
    /// The check an external monitor (LibreNMS) decided: its own probes cannot override it.
    pub external: Option<i64>,
    /// Whether that event was an alert (else a recovery).
    pub external_down: bool,
}

crate::map_struct::map_struct!(HealthState {
    check: default as "minute",
    before,
    now,
    external: default,
    external_down: default,
});

impl Default for HealthState {
    /// A new server starts down.
    fn default() -> Self {
        Self { check: None, before: Counters::NEW, now: Counters::NEW, external: None, external_down: false }
    }
}

/// The outcome of judging one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    pub state: HealthState,
    /// `Some(new)` when the published health changed.
    pub transition: Option<Health>,
}

impl HealthState {
    pub fn health(&self) -> Health {
        self.now.health
    }

    /// Judge the check `key` with one observation. A check older than the last judged one
    /// (a late or replayed cycle) changes nothing; neither does one an external monitor
    /// already decided.
    pub fn judge(self, key: i64, passed: bool, t: Thresholds) -> Judged {
        let unchanged = Judged { state: self, transition: None };
        let base = match self.check {
            Some(m) if key < m => return unchanged,
            Some(m) if key == m && self.external == Some(key) => return unchanged,
            Some(m) if key == m => self.before,
            _ => self.now,
        };
        let now = base.step(passed, t);
        let transition = (now.health != self.now.health).then_some(now.health);
        Judged {
            state: HealthState { check: Some(key), before: base, now, external: None, external_down: false },
            transition,
        }
    }

    /// Where an external event lands: the check `key` (or the last judged one, when a test
    /// clock runs ahead), replacing its own result; `None` when an event of the same kind
    /// already decided that check (LibreNMS repeats itself). Returns the check, the
    /// counters before it, and the counters the event builds on: an alert followed by a
    /// recovery in one check is a failed check, then a good one.
    fn external_base(self, key: i64, down: bool) -> Option<(i64, Counters, Counters)> {
        match self.check {
            Some(m) if key <= m && self.external == Some(m) && self.external_down == down => None,
            Some(m) if key <= m && self.external == Some(m) && !down => Some((m, self.before, self.now)),
            Some(m) if key <= m => Some((m, self.before, self.before)),
            _ => Some((key, self.now, self.now)),
        }
    }

    fn decided(self, k: i64, before: Counters, now: Counters, down: bool) -> Judged {
        let transition = (now.health != self.now.health).then_some(now.health);
        Judged {
            state: HealthState { check: Some(k), before, now, external: Some(k), external_down: down },
            transition,
        }
    }

    /// A LibreNMS alert (state 1 or 3) arriving during check `key`: down at once (no
    /// hysteresis), counted as `down_after` failed checks, and that check fails whatever
    /// its own probes say; `up_after` good checks after it bring the server back.
    pub fn force_down(self, key: i64, t: Thresholds) -> Judged {
        let Some((k, before, base)) = self.external_base(key, true) else {
            return Judged { state: self, transition: None };
        };
        let now = Counters { health: Health::Down, good: 0, bad: t.down_after.max(base.bad) };
        self.decided(k, before, now, true)
    }

    /// A LibreNMS recovery (state 0) arriving during check `key`: that check is good
    /// whatever its own probes say, one good check like any other.
    pub fn recover(self, key: i64, t: Thresholds) -> Judged {
        let Some((k, before, base)) = self.external_base(key, false) else {
            return Judged { state: self, transition: None };
        };
        self.decided(k, before, base.step(true, t), false)
    }
}

/// How much newer than a check a heartbeat may be and still count for it: the edge's
/// machines' clocks differ a little, nothing more.
pub const CLOCK_SKEW_MS: i64 = 5_000;

/// When a check looks at heartbeats: they are aged at `at_ms`, and one that arrived after
/// the check's period ended (`ends_ms`, by more than the clock skew) says nothing about it,
/// so a late check for an older cycle or minute never counts a newer heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTime {
    pub at_ms: i64,
    pub ends_ms: i64,
}

impl CheckTime {
    pub fn instant(t_ms: i64) -> Self {
        Self { at_ms: t_ms, ends_ms: t_ms }
    }
}

/// The heartbeat check: a heartbeat younger than `stale_s` at the check, and not from
/// after it.
pub fn heartbeat_fresh_for(last_seen_ms: Option<i64>, c: CheckTime, stale_s: u32) -> bool {
    last_seen_ms.is_some_and(|seen| seen <= c.ends_ms + CLOCK_SKEW_MS && c.at_ms - seen < i64::from(stale_s) * 1000)
}

/// `heartbeat_fresh_for` at one instant `check_ms`.
pub fn heartbeat_fresh(last_seen_ms: Option<i64>, check_ms: i64, stale_s: u32) -> bool {
    heartbeat_fresh_for(last_seen_ms, CheckTime::instant(check_ms), stale_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: Thresholds = Thresholds { down_after: 3, up_after: 2 };

    fn run(obs: &[bool]) -> (HealthState, Vec<Option<Health>>) {
        let mut s = HealthState::default();
        let mut tr = vec![];
        for (i, &o) in obs.iter().enumerate() {
            let j = s.judge(i as i64, o, T);
            s = j.state;
            tr.push(j.transition);
        }
        (s, tr)
    }

    #[test]
    fn new_server_is_down_until_up_after_good_minutes() {
        let (s, tr) = run(&[true, true]);
        assert_eq!(tr, vec![None, Some(Health::Up)]);
        assert_eq!(s.health(), Health::Up);
    }

    #[test]
    fn down_after_three_bad_minutes() {
        let (s, tr) = run(&[true, true, false, false, false]);
        assert_eq!(tr[4], Some(Health::Down));
        assert_eq!(tr[2..4], [None, None]);
        assert_eq!(s.health(), Health::Down);
    }

    #[test]
    fn repeating_a_minute_replaces_its_observation() {
        let mut s = HealthState::default();
        s = s.judge(10, true, T).state;
        // Minute 11 judged bad, then re-run good: counts as one good minute in a row.
        s = s.judge(11, false, T).state;
        let j = s.judge(11, true, T);
        assert_eq!(j.transition, Some(Health::Up));
        // Running minute 11 ten more times changes nothing.
        let mut t = j.state;
        for _ in 0..10 {
            let k = t.judge(11, true, T);
            assert_eq!(k.transition, None);
            t = k.state;
        }
        assert_eq!(t, j.state);
        // Three rounds in the same minute, all failing, are one bad minute.
        let mut u = t;
        for _ in 0..3 {
            u = u.judge(12, false, T).state;
        }
        assert_eq!(u.health(), Health::Up);
        assert_eq!(u.now.bad, 1);
    }

    #[test]
    fn an_older_minute_is_ignored() {
        let s = HealthState::default().judge(5, true, T).state;
        let j = s.judge(4, true, T);
        assert_eq!(j.state, s);
        assert_eq!(j.transition, None);
    }

    #[test]
    fn forced_down_then_recovery_needs_up_after() {
        let up = HealthState::default().judge(0, true, T).state.judge(1, true, T).state;
        let j = up.force_down(2, T);
        assert_eq!(j.transition, Some(Health::Down));
        let one = j.state.judge(3, true, T);
        assert_eq!(one.transition, None, "a recovery is one good observation");
        assert_eq!(one.state.judge(4, true, T).transition, Some(Health::Up));
        assert_eq!(HealthState::default().force_down(0, T).transition, None, "already down");
    }

    #[test]
    fn freshness() {
        assert!(heartbeat_fresh(Some(1_000), 90_999, 90));
        assert!(!heartbeat_fresh(Some(1_000), 91_000, 90));
        assert!(!heartbeat_fresh(None, 0, 90));
        // A heartbeat newer than the check: within the clock skew it counts, beyond it not.
        assert!(heartbeat_fresh(Some(105_000), 100_000, 90));
        assert!(!heartbeat_fresh(Some(105_001), 100_000, 90));
        assert!(!heartbeat_fresh(Some(400_000), 100_000, 90), "a late check for an older cycle");
        // A minute's round (cron mode) counts heartbeats from within its minute.
        let minute = CheckTime { at_ms: 60_000, ends_ms: 120_000 };
        assert!(heartbeat_fresh_for(Some(119_000), minute, 90));
        assert!(heartbeat_fresh_for(Some(125_000), minute, 90), "clock skew");
        assert!(!heartbeat_fresh_for(Some(125_001), minute, 90), "from the next minute");
        assert!(!heartbeat_fresh_for(Some(-30_000), minute, 90), "stale at the minute's start");
    }

    #[test]
    fn an_alert_decides_its_check() {
        let up = HealthState::default().judge(0, true, T).state.judge(1, true, T).state;
        let j = up.force_down(2, T);
        assert_eq!(j.transition, Some(Health::Down));
        // The same check's probes, judged after the alert, cannot undo it.
        let same = j.state.judge(2, true, T);
        assert_eq!(same.state, j.state);
        assert_eq!(same.transition, None);
        // An alert during an already judged (passing) check replaces that check.
        let judged = up.judge(2, true, T).state;
        let k = judged.force_down(2, T);
        assert_eq!((k.transition, k.state.now.bad), (Some(Health::Down), 3));
        assert_eq!(k.state.before, up.now, "built on the counters before check 2");
    }

    #[test]
    fn a_recovery_is_one_good_check() {
        let down = HealthState::default().judge(0, true, T).state.judge(1, true, T).state.force_down(2, T).state;
        let r = down.recover(3, T);
        assert_eq!((r.transition, r.state.now.good), (None, 1), "UP_AFTER = 2: one good check is not enough");
        // Check 3's own probes fail after the recovery: the recovery decided check 3.
        assert_eq!(r.state.judge(3, false, T).state, r.state);
        let back = r.state.judge(4, true, T);
        assert_eq!(back.transition, Some(Health::Up), "the next good check brings it back");
        // With UP_AFTER = 1 a recovery alone brings it back.
        let one = Thresholds { down_after: 3, up_after: 1 };
        assert_eq!(down.recover(3, one).transition, Some(Health::Up));
        // Two recoveries during one check count once.
        assert_eq!(r.state.recover(3, T).state.now.good, 1);
        // An alert and its recovery in one check: a failed check, then one good one.
        let same = down.recover(2, T);
        assert_eq!((same.transition, same.state.now.health, same.state.now.good), (None, Health::Down, 1));
        assert_eq!(same.state.recover(2, T).state, same.state);
        assert_eq!(same.state.judge(3, true, T).transition, Some(Health::Up));
    }

    proptest! {
        /// A server flapping every minute never changes state (with both thresholds >= 2).
        #[test]
        fn flapping_never_changes_state(start_good in any::<bool>(), up_first in any::<bool>(), n in 1usize..200) {
            let mut s = HealthState::default();
            if up_first {
                s = s.judge(0, true, T).state;
                s = s.judge(1, true, T).state;
            }
            let initial = s.health();
            for i in 0..n {
                let passed = (i % 2 == 0) == start_good;
                let j = s.judge(10 + i as i64, passed, T);
                prop_assert_eq!(j.transition, None);
                s = j.state;
            }
            prop_assert_eq!(s.health(), initial);
        }

        /// Against a plain model: health flips exactly when the trailing run of equal
        /// observations reaches the threshold for the opposite state.
        #[test]
        fn matches_a_plain_model(obs in proptest::collection::vec(any::<bool>(), 0..100)) {
            let (s, _) = run(&obs);
            let mut model = Health::Down;
            let (mut good, mut bad) = (0u32, 0u32);
            for &o in &obs {
                if o { good += 1; bad = 0; if good >= T.up_after { model = Health::Up; } }
                else { bad += 1; good = 0; if bad >= T.down_after { model = Health::Down; } }
            }
            prop_assert_eq!(s.health(), model);
        }
    }
}
