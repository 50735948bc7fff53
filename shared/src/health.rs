//! Per-minute health judgement with hysteresis (DESIGN.md §3.1–3.2).
//!
//! Hysteresis counts *minutes*, not invocations: a round carries its minute, and a second
//! round for the same minute replaces that minute's observation instead of adding one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Failed minutes in a row that mark an up server down.
    pub down_after: u32,
    /// Good minutes in a row that mark a down server up.
    pub up_after: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { down_after: 3, up_after: 2 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub health: Health,
    pub good: u32,
    pub bad: u32,
}

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

/// A server's hysteresis state: the counters after the last judged minute, and the
/// counters before it, so that minute can be judged again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthState {
    pub minute: Option<i64>,
    pub before: Counters,
    pub now: Counters,
}

impl Default for HealthState {
    /// A new server starts down.
    fn default() -> Self {
        Self { minute: None, before: Counters::NEW, now: Counters::NEW }
    }
}

/// The outcome of judging one minute.
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

    /// Judge `minute` with one observation. A minute older than the last judged one
    /// (a late or replayed round) changes nothing.
    pub fn judge(self, minute: i64, passed: bool, t: Thresholds) -> Judged {
        let base = match self.minute {
            Some(m) if minute < m => return Judged { state: self, transition: None },
            Some(m) if minute == m => self.before,
            _ => self.now,
        };
        let now = base.step(passed, t);
        let transition = (now.health != self.now.health).then_some(now.health);
        Judged { state: HealthState { minute: Some(minute), before: base, now }, transition }
    }
}

impl HealthState {
    /// An external monitor says the server is down: down at once (no hysteresis), counted
    /// as `down_after` failed minutes so one good minute does not bring it back.
    pub fn force_down(self, minute: i64, t: Thresholds) -> Judged {
        let before = match self.minute {
            Some(m) if minute <= m => self.before,
            _ => self.now,
        };
        let now = Counters { health: Health::Down, good: 0, bad: t.down_after };
        let transition = (self.now.health != Health::Down).then_some(Health::Down);
        Judged {
            state: HealthState { minute: Some(minute.max(self.minute.unwrap_or(minute))), before, now },
            transition,
        }
    }
}

/// The heartbeat check: a heartbeat younger than `stale_s` at the round's `now`.
pub fn heartbeat_fresh(last_seen_ms: Option<i64>, now_ms: i64, stale_s: u32) -> bool {
    match last_seen_ms {
        Some(seen) => now_ms - seen < i64::from(stale_s) * 1000,
        None => false,
    }
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
