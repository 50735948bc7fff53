//! Rules of `health.rs` that mutation testing found unpinned (README "Health judged every minute").

use vpn_edge_core::health::*;

const T: Thresholds = Thresholds { down_after: 3, up_after: 2 };

#[test]
fn default_thresholds_are_three_bad_and_two_good_minutes() {
    assert_eq!(Thresholds::default(), T);
}

#[test]
fn a_new_server_is_down_with_no_minute_judged() {
    let s = HealthState::default();
    assert_eq!((s.health(), s.check), (Health::Down, None));
}

const DOWN: Counters = Counters { health: Health::Down, good: 0, bad: 3 };

#[test]
fn an_alert_in_a_judged_check_replaces_its_result_from_that_checks_starting_point() {
    // Check 0 judged good (one good check of two), then an alert arrives for check 0.
    let s = HealthState::default().judge(0, true, T).state;
    let forced = s.force_down(0, T).state;
    assert_eq!((forced.check, forced.before, forced.now), (Some(0), s.before, DOWN));
    // The alert decided check 0: its own probes judged again cannot override it.
    let again = forced.judge(0, true, T);
    assert_eq!((again.state, again.transition), (forced, None));
}

#[test]
fn an_alert_for_an_older_check_lands_on_the_last_judged_one() {
    let s = HealthState::default().judge(5, true, T).state;
    let forced = s.force_down(4, T).state;
    assert_eq!(forced.check, Some(5), "the last judged check stays the latest");
    assert_eq!((forced.before, forced.now), (s.before, DOWN));
    assert_eq!(forced.judge(5, true, T).state, forced);
}

#[test]
fn an_alert_in_a_new_check_starts_from_the_last_counters_and_up_after_good_checks_bring_it_back() {
    let up = HealthState::default().judge(0, true, T).state.judge(1, true, T).state;
    assert_eq!(up.health(), Health::Up);
    let j = up.force_down(2, T);
    assert_eq!(j.transition, Some(Health::Down), "down at once, no hysteresis");
    let forced = j.state;
    assert_eq!((forced.check, forced.before, forced.now), (Some(2), up.now, DOWN));
    // Check 2's own good probes do not undo the alert.
    assert_eq!(forced.judge(2, true, T).transition, None);
    let one = forced.judge(3, true, T);
    assert_eq!(one.transition, None);
    assert_eq!(one.state.judge(4, true, T).transition, Some(Health::Up));
}

#[test]
fn up_after_exactly_the_threshold_of_good_minutes() {
    let t = Thresholds { down_after: 1, up_after: 3 };
    let mut s = HealthState::default();
    for (minute, expected) in [(0, None), (1, None), (2, Some(Health::Up))] {
        let j = s.judge(minute, true, t);
        assert_eq!(j.transition, expected, "minute {minute}");
        s = j.state;
    }
    // down_after 1: one bad minute is enough.
    assert_eq!(s.judge(3, false, t).transition, Some(Health::Down));
}

#[test]
fn a_passing_minute_resets_the_bad_count_and_a_failing_one_the_good_count() {
    let s = HealthState::default().judge(0, false, T).state.judge(1, false, T).state;
    assert_eq!((s.now.good, s.now.bad), (0, 2));
    let s = s.judge(2, true, T).state;
    assert_eq!((s.now.good, s.now.bad), (1, 0));
    let s = s.judge(3, false, T).state;
    assert_eq!((s.now.good, s.now.bad), (0, 1));
}

#[test]
fn a_judged_minute_is_recorded_with_its_starting_counters() {
    let s = HealthState::default().judge(7, true, T).state;
    assert_eq!(s.check, Some(7));
    assert_eq!(s.before, HealthState::default().now);
    let next = s.judge(8, true, T).state;
    assert_eq!(next.before, s.now);
}

#[test]
fn a_heartbeat_is_fresh_for_stale_s_seconds() {
    assert!(heartbeat_fresh(Some(10_000), 10_000, 90));
    assert!(heartbeat_fresh(Some(10_000), 99_999, 90));
    assert!(!heartbeat_fresh(Some(10_000), 100_000, 90));
    assert!(heartbeat_fresh(Some(10_000), 5_000, 90), "a heartbeat stamped after the round's now is fresh");
    assert!(!heartbeat_fresh(Some(0), 1_000, 0), "stale_s 0: never fresh");
}
