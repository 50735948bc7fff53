//! Rules of `auth.rs` that mutation testing found unpinned (README "Auth that survives its
//! backend").

use vpn_edge_core::api_error::RequestError;
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

#[test]
fn the_max_th_failure_within_the_window_locks_for_fifteen_minutes_and_starts_a_new_count() {
    let mut l = Lockout::default();
    for i in 0..4 {
        l = l.fail(NOW + i, 5);
        assert!(!l.is_locked(NOW + i), "failure {} of 5", i + 1);
    }
    let l = l.fail(NOW + 4, 5);
    assert_eq!(l, Lockout { failures: vec![], locked_until: Some(NOW + 4 + LOCKOUT_FOR_MS) });
    assert_eq!(LOCKOUT_FOR_MS, 15 * 60_000);
    // The limit is the caller's (`LOCKOUT_USER_MAX` for the per-username lockout).
    let two = Lockout::default().fail(NOW, 2);
    assert!(!two.is_locked(NOW));
    assert!(two.fail(NOW, 2).is_locked(NOW));
    assert!(Lockout::default().fail(NOW, 1).is_locked(NOW));
}

#[test]
fn a_failure_a_whole_window_old_no_longer_counts_toward_the_lock() {
    let once = Lockout::default().fail(NOW, 2);
    assert!(
        once.clone().fail(NOW + LOCKOUT_WINDOW_MS - 1, 2).is_locked(NOW + LOCKOUT_WINDOW_MS - 1),
        "inside the window"
    );
    let later = once.fail(NOW + LOCKOUT_WINDOW_MS, 2);
    assert_eq!(later, Lockout { failures: vec![NOW + LOCKOUT_WINDOW_MS], locked_until: None }, "end exclusive");
    assert_eq!(LOCKOUT_WINDOW_MS, 15 * 60_000);
}

#[test]
fn the_breaker_opens_on_the_second_consecutive_unavailable_and_any_answer_closes_it() {
    assert_eq!(BREAKER_THRESHOLD, 2);
    let one = Breaker::default().record(OriginAnswer::Unavailable, NOW);
    assert_eq!(one, Breaker::Closed { failures: 1 });
    assert!(!one.is_open());
    let two = one.record(OriginAnswer::Unavailable, NOW + 1);
    assert_eq!(two, Breaker::Open { until_ms: NOW + 1 + BREAKER_COOLDOWN_MS });
    assert!(two.is_open());
    // A failed probe opens it again for a whole cool-down.
    let probe = Breaker::HalfOpen { since_ms: NOW };
    assert_eq!(
        probe.record(OriginAnswer::Unavailable, NOW + 7),
        Breaker::Open { until_ms: NOW + 7 + BREAKER_COOLDOWN_MS }
    );
    // A denial is an answer: it resets the count, it never opens the breaker.
    for answer in [
        OriginAnswer::Valid,
        OriginAnswer::Invalid,
        OriginAnswer::Refused { status: 429 },
        OriginAnswer::Misconfigured { status: 401 },
    ] {
        assert_eq!(one.record(answer, NOW), Breaker::default(), "{answer:?}");
        assert_eq!(probe.record(answer, NOW), Breaker::default(), "{answer:?}");
    }
}

fn offline_item(admitted_at_s: i64) -> String {
    format!(
        r#"{{"username":"alice","password":"pw","client_ip":"192.0.2.7","client_port":1194,"admitted_at":{admitted_at_s}}}"#
    )
}

fn offline(items: &[String], max_age_h: u32) -> Result<Vec<Result<OfflineAdmission, RequestError>>, RequestError> {
    parse_offline(&fields(&format!(r#"{{"sessions":[{}]}}"#, items.join(","))), NOW, max_age_h)
}

fn field_of(e: &RequestError) -> &str {
    match e {
        RequestError::Field { field, .. } => field,
        other => panic!("{other:?}"),
    }
}

#[test]
fn offline_batches_hold_at_most_100_admissions() {
    assert_eq!(MAX_OFFLINE_BATCH, 100);
    let item = offline_item(NOW / 1000);
    assert_eq!(offline(&vec![item.clone(); 100], 24).unwrap().len(), 100);
    assert_eq!(field_of(&offline(&vec![item; 101], 24).unwrap_err()), "sessions");
    assert_eq!(offline(&[], 24).unwrap().len(), 0);
    assert_eq!(field_of(&parse_offline(&fields("{}"), NOW, 24).unwrap_err()), "sessions");
}

#[test]
fn an_offline_admission_may_be_a_minute_ahead_and_max_age_hours_old_but_no_more() {
    let now_s = NOW / 1000;
    let skew_s = OFFLINE_SKEW_MS / 1000;
    let items = [
        offline_item(now_s + skew_s),
        offline_item(now_s + skew_s + 1),
        offline_item(now_s - 24 * 3600),
        offline_item(now_s - 24 * 3600 - 1),
    ];
    let got = offline(&items, 24).unwrap();
    let ok = got[0].as_ref().unwrap();
    assert_eq!((ok.username.as_str(), ok.client_port, ok.admitted_at_ms), ("alice", 1194, NOW + OFFLINE_SKEW_MS));
    assert_eq!(field_of(got[1].as_ref().unwrap_err()), "sessions[1].admitted_at");
    assert_eq!(got[2].as_ref().unwrap().admitted_at_ms, NOW - 24 * 3_600_000);
    assert_eq!(field_of(got[3].as_ref().unwrap_err()), "sessions[3].admitted_at");
    // The age limit is the caller's (`OFFLINE_MAX_AGE_H`).
    assert!(offline(&[offline_item(now_s - 3600)], 1).unwrap()[0].is_ok());
    assert!(offline(&[offline_item(now_s - 3601)], 1).unwrap()[0].is_err());
}

#[test]
fn one_bad_offline_item_is_refused_alone_and_named_by_its_index() {
    let good = offline_item(NOW / 1000);
    let items = [good.clone(), "7".to_owned(), good.replace("1194", "0"), good.replace("alice", ""), good];
    let got = offline(&items, 24).unwrap();
    assert!(got[0].is_ok() && got[4].is_ok());
    assert_eq!(field_of(got[1].as_ref().unwrap_err()), "sessions[1]");
    assert_eq!(field_of(got[2].as_ref().unwrap_err()), "sessions[2].client_port");
    assert_eq!(field_of(got[3].as_ref().unwrap_err()), "sessions[3].username");
}

#[test]
fn acks_must_be_a_list_of_session_id_strings() {
    assert_eq!(field_of(&parse_acks(&fields("{}")).unwrap_err()), "session_ids");
    assert_eq!(field_of(&parse_acks(&fields(r#"{"session_ids":"ab"}"#)).unwrap_err()), "session_ids");
    assert!(parse_acks(&fields(r#"{"session_ids":["ab",7]}"#)).is_err());
    assert!(parse_acks(&fields(r#"{"session_ids":["ab","a b"]}"#)).is_err());
    let ok = parse_acks(&fields(r#"{"session_ids":["ab","c-d_9"]}"#)).unwrap();
    assert_eq!(ok.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["ab", "c-d_9"]);
}

#[test]
fn an_auth_request_shows_its_user_in_debug_output_and_never_the_password() {
    let r = AuthRequest {
        username: "alice".into(),
        password: "hunter2".into(),
        client_ip: "192.0.2.7".parse().unwrap(),
        client_port: 1194,
        common_name: None,
    };
    let shown = format!("{r:?}");
    assert!(shown.contains("alice") && shown.contains("<redacted>") && shown.contains("1194"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn an_offline_admission_shows_its_user_in_debug_output_and_never_the_password() {
    let a = offline(&[offline_item(NOW / 1000).replace(r#""pw""#, r#""hunter2""#)], 24).unwrap().remove(0).unwrap();
    let shown = format!("{a:?}");
    assert!(shown.contains("alice") && shown.contains("<redacted>"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn admissions_are_spelled_cache_provisional_offline_as_the_ledger_stores_and_counts_them() {
    // The ledger stores `as_str` and counts a server's pending offline sessions by
    // `source = 'offline'`; the spelling is also the JSON one.
    for (a, s) in
        [(Admission::Cache, "cache"), (Admission::Provisional, "provisional"), (Admission::Offline, "offline")]
    {
        assert_eq!(a.as_str(), s);
        assert_eq!(Admission::parse(s), Some(a));
        assert_eq!(serde_json::to_value(a).unwrap(), s);
    }
    assert_eq!(Admission::parse("Offline"), None);
    assert_eq!(Admission::parse(""), None);
}

fn valid_login_with_entry_verified(ago_ms: i64) -> Outcome {
    let s = AuthSettings {
        configured: true,
        cache_enabled: true,
        policy: vpn_edge_core::config::FailOpenPolicy::Open,
        refresh_s: 3600,
        now_ms: NOW,
        origin_flagged: false,
    };
    let f = Facts {
        origin: Some(OriginAnswer::Valid),
        cache: Some(Ok(CacheView::Fresh { verified_at: NOW - ago_ms })),
        ..Facts::default()
    };
    match next(&s, &f) {
        Next::Answer(o) => o,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fresh_cached_entry_is_rewritten_once_refresh_s_seconds_old_not_a_millisecond_before() {
    assert_eq!(valid_login_with_entry_verified(3_600_000 - 1).effects, vec![]);
    assert_eq!(valid_login_with_entry_verified(3_600_000).effects, vec![Effect::WriteCache]);
}

#[test]
fn a_requests_effect_tag_is_the_sha256_of_effect_and_its_signature_cut_to_32_hex() {
    // printf 'effect\nab' | sha256sum | cut -c1-32
    assert_eq!(effect_tag("ab"), "ba087fd041b12e150e7f2b76cd5c95da");
    assert_ne!(effect_tag("ab"), effect_tag("ac"), "one tag per signature");
    assert_ne!(effect_tag("ab"), session_id_for("ab").as_str(), "the tag is not the session id");
}

#[test]
fn effects_are_remembered_for_five_minutes_longer_than_a_signature_is_accepted() {
    use vpn_edge_core::signature::MAX_SKEW_S;
    assert_eq!(EFFECT_MEMO_MS, 300_000);
    // A signature is accepted MAX_SKEW_S either side of the edge's clock.
    const { assert!(EFFECT_MEMO_MS >= 2 * MAX_SKEW_S * 1000) };
}

#[test]
fn reverify_backoff_doubles_from_thirty_seconds_and_stops_at_ten_minutes() {
    let u = Judged::Answer(OriginAnswer::Unavailable);
    let (mut a, mut now, mut delays) = (Attempts::default(), NOW, vec![]);
    for _ in 0..7 {
        match reverify_verdict(a, u, true, now, 100) {
            Verdict::Retry { attempts, next_at } => {
                delays.push(next_at - now);
                (a, now) = (attempts, next_at);
            }
            v => panic!("{v:?} after {delays:?}"),
        }
    }
    assert_eq!(delays, [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
    assert_eq!(a, Attempts { count: 7, first_at: Some(NOW) });
}

#[test]
fn disconnect_reasons_are_spelled_as_the_ledger_stores_and_the_api_shows_them() {
    for (r, s) in [
        (DisconnectReason::Rejected, "rejected"),
        (DisconnectReason::Unverifiable, "unverifiable"),
        (DisconnectReason::Unsealable, "unsealable"),
    ] {
        assert_eq!(r.as_str(), s);
        assert_eq!(serde_json::to_value(r).unwrap(), s);
    }
}

#[test]
fn an_unjudgeable_session_is_given_up_only_once_its_attempts_span_five_minutes() {
    let u = Judged::Answer(OriginAnswer::Unavailable);
    // Four attempts already, the first at NOW: the fifth gives up only 5 minutes after it.
    let four = Attempts { count: 4, first_at: Some(NOW) };
    assert!(matches!(reverify_verdict(four, u, true, NOW + 5 * 60_000 - 1, 5), Verdict::Retry { .. }));
    assert_eq!(
        reverify_verdict(four, u, true, NOW + 5 * 60_000, 5),
        Verdict::Disconnect(DisconnectReason::Unverifiable)
    );
}

#[test]
fn acked_disconnects_stay_visible_for_a_day() {
    assert_eq!(ACKED_KEEP_MS, 86_400_000);
}

#[test]
fn an_offline_refusal_names_the_limit_it_hit() {
    assert_eq!(
        OfflineRefusal::TooManyForUser.message(),
        "at most 3 offline sessions per username per server may be pending"
    );
    assert_eq!(OfflineRefusal::ServerFull.message(), "at most 1000 offline sessions per server may be pending");
}

#[test]
fn a_held_session_is_pending_until_a_reason_then_until_its_server_acks() {
    assert_eq!(SessionState::of(false, false), SessionState::PendingReverification);
    assert_eq!(SessionState::of(false, true), SessionState::PendingReverification);
    assert_eq!(SessionState::of(true, false), SessionState::DisconnectPending);
    assert_eq!(SessionState::of(true, true), SessionState::Acked);
}
