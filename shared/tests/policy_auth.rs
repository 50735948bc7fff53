//! Rules of `auth.rs` that mutation testing found unpinned (README "Auth that survives its
//! backend"). Only the parts whose interface the auth rewrite keeps are exercised here.

use vpn_edge_core::auth::*;
use vpn_edge_core::request::Fields;

const NOW: i64 = 1_800_000_000_000;

#[test]
fn ct_eq_is_false_for_permuted_bytes() {
    // With `|` replaced by `^`, the two differences (a^b, b^a) would cancel out.
    assert!(!ct_eq(b"ab", b"ba"));
    assert!(!ct_eq(&[1, 2, 3, 3], &[3, 2, 1, 3]));
}

#[test]
fn ct_eq_is_true_only_for_equal_slices() {
    assert!(ct_eq(b"", b""));
    assert!(ct_eq(b"same", b"same"));
    assert!(!ct_eq(b"same", b"sam"));
    assert!(!ct_eq(b"\x00", b"\x01"));
}

#[test]
fn peppered_is_hmac_sha256_of_the_password_under_the_pepper() {
    // printf 'hunter2' | openssl dgst -sha256 -hmac 'pepper'
    assert_eq!(
        vpn_edge_core::signature::hex(&peppered("pepper", "hunter2")),
        "e075c939d4acb1f39c7839b235d928a7bff10dbef921146af19ca9832808bbfc"
    );
    assert_ne!(peppered("pepper", "hunter2"), peppered("other", "hunter2"));
    assert_ne!(peppered("pepper", "hunter2"), peppered("pepper", "hunter3"));
}

#[test]
fn cache_key_is_cred_and_the_usernames_sha256() {
    // printf 'alice' | sha256sum
    assert_eq!(cache_key("alice"), "cred:2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90");
}

#[test]
fn breaker_is_open_unless_closed() {
    assert!(!Breaker::default().is_open());
    assert!(!Breaker::Closed { failures: 1 }.is_open());
    assert!(Breaker::Open { until_ms: NOW }.is_open());
    assert!(Breaker::HalfOpen { since_ms: NOW }.is_open());
}

#[test]
fn breaker_admits_a_probe_at_the_end_of_the_cool_down_and_replaces_a_lost_one_after_its_timeout() {
    let open = Breaker::Open { until_ms: NOW };
    assert_eq!(open.admit(NOW - 1, 5_000), (open, false));
    assert_eq!(open.admit(NOW, 5_000), (Breaker::HalfOpen { since_ms: NOW }, true));
    let half = Breaker::HalfOpen { since_ms: NOW };
    assert_eq!(half.admit(NOW + 5_000, 5_000), (half, false), "exactly the timeout: still waiting");
    assert_eq!(half.admit(NOW + 5_001, 5_000), (Breaker::HalfOpen { since_ms: NOW + 5_001 }, true));
    let closed = Breaker::Closed { failures: 1 };
    assert_eq!(closed.admit(NOW, 5_000), (closed, true));
}

#[test]
fn lockout_is_locked_until_its_end_exclusive() {
    let l = Lockout { failures: vec![], locked_until: Some(NOW) };
    assert!(l.is_locked(NOW - 1));
    assert!(!l.is_locked(NOW));
    assert!(!Lockout::default().is_locked(NOW));
}

#[test]
fn lockout_is_empty_once_locked_time_and_every_failure_have_expired() {
    assert!(Lockout::default().is_empty(NOW));
    let failed = Lockout { failures: vec![NOW], locked_until: None };
    assert!(!failed.is_empty(NOW + LOCKOUT_WINDOW_MS - 1), "a failure inside the window is remembered");
    assert!(failed.is_empty(NOW + LOCKOUT_WINDOW_MS), "the window is 15 minutes, end exclusive");
    let two = Lockout { failures: vec![NOW - LOCKOUT_WINDOW_MS, NOW], locked_until: None };
    assert!(!two.is_empty(NOW + 1), "one expired failure is not all of them");
    let locked = Lockout { failures: vec![], locked_until: Some(NOW + 1) };
    assert!(!locked.is_empty(NOW), "a running lock is remembered");
    assert!(locked.is_empty(NOW + 1));
}

#[test]
fn provisional_budget_counts_per_minute_up_to_the_cap() {
    let (b, ok) = ProvisionalBudget::default().take(NOW, 2);
    assert!(ok);
    assert_eq!(b, ProvisionalBudget { minute: NOW / 60_000, used: 1 });
    let (b, ok) = b.take(NOW + 1, 2);
    assert!(ok);
    assert_eq!(b.used, 2);
    let (b, ok) = b.take(NOW + 2, 2);
    assert!(!ok);
    assert_eq!(b.used, 2, "a refusal takes nothing");
    let (b, ok) = b.take(NOW + 60_000, 2);
    assert!(ok);
    assert_eq!(b, ProvisionalBudget { minute: NOW / 60_000 + 1, used: 1 });
}

#[test]
fn cache_view_is_stale_from_the_max_age_on_and_on_another_epoch() {
    let e =
        CacheEntry { hash: "h".into(), salt: "s".into(), iterations: PBKDF2_ITERATIONS, epoch: 4, verified_at: NOW };
    let day = 86_400_000;
    assert!(matches!(CacheView::of(Some(&e), 4, NOW + 30 * day - 1, 30), CacheView::Fresh { verified_at: NOW, .. }));
    assert_eq!(CacheView::of(Some(&e), 4, NOW + 30 * day, 30), CacheView::Stale);
    assert_eq!(CacheView::of(Some(&e), 5, NOW, 30), CacheView::Stale);
    assert_eq!(CacheView::of(None, 4, NOW, 30), CacheView::Missing);
}

fn fields(s: &str) -> Fields {
    Fields::parse(s.as_bytes()).unwrap()
}

#[test]
fn acks_are_limited_to_1000_per_request() {
    let ids = |n: usize| format!(r#"{{"session_ids":[{}]}}"#, vec![r#""ab""#; n].join(","));
    assert_eq!(parse_acks(&fields(&ids(1000))).unwrap().len(), 1000);
    assert!(parse_acks(&fields(&ids(1001))).is_err());
    assert_eq!(parse_acks(&fields(&ids(0))).unwrap().len(), 0);
}

#[test]
fn usernames_up_to_256_bytes_and_passwords_up_to_1024_are_accepted() {
    let body = |u: usize, p: usize| {
        format!(
            r#"{{"username":"{}","password":"{}","client_ip":"192.0.2.1","client_port":65535,"common_name":"{}"}}"#,
            "u".repeat(u),
            "p".repeat(p),
            "c".repeat(256)
        )
    };
    let r = AuthRequest::parse(&fields(&body(256, 1024))).unwrap();
    assert_eq!((r.username.len(), r.password.len(), r.client_port), (256, 1024, 65535));
    assert_eq!(r.common_name.as_deref().map(str::len), Some(256));
    assert_eq!(r.client_ip, "192.0.2.1".parse::<std::net::IpAddr>().unwrap());
    assert!(AuthRequest::parse(&fields(&body(1, 1))).is_ok());
}

#[test]
fn a_common_name_too_long_or_with_control_characters_is_refused() {
    let body = |cn: &str| {
        format!(r#"{{"username":"a","password":"p","client_ip":"192.0.2.1","client_port":1,"common_name":"{cn}"}}"#)
    };
    assert!(AuthRequest::parse(&fields(&body(&"c".repeat(257)))).is_err());
    assert!(AuthRequest::parse(&fields(&body(r"c\tn"))).is_err());
    assert!(AuthRequest::parse(&fields(&body(""))).is_err());
}
