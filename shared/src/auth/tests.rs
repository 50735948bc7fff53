use super::*;
use FailOpenPolicy::*;

const NOW: i64 = 1_800_000_000_000;

fn settings(policy: FailOpenPolicy) -> AuthSettings {
    AuthSettings { configured: true, cache_enabled: true, policy, refresh_s: 3600, now_ms: NOW, origin_flagged: false }
}

fn fresh() -> CacheView {
    CacheView::Fresh { verified_at: NOW - 1000 }
}

/// Run the step function with scripted reads; returns the answer and the reads asked for.
fn run(
    s: &AuthSettings,
    origin: OriginAnswer,
    cache: Read<CacheView>,
    matches: Read<bool>,
    guard: Read<GuardReply>,
    recorded: Read<()>,
) -> (Outcome, Vec<Next>) {
    let mut f = Facts::default();
    let mut asked = Vec::new();
    for _ in 0..10 {
        let n = next(s, &f);
        match n {
            Next::Answer(o) => return (o, asked),
            Next::AskOrigin => f.origin = Some(origin),
            Next::ReadCache => f.cache = Some(cache),
            Next::Hash => f.matches = Some(matches),
            Next::Guard(_) => f.guard = Some(guard),
            Next::Record(_) => f.recorded = Some(recorded),
        }
        asked.push(n);
    }
    panic!("no answer after 10 steps");
}

fn ok_guard() -> Read<GuardReply> {
    Ok(GuardReply { locked: false, slot: true })
}

fn row(o: &Outcome) -> (Decision, Source, Reason) {
    (o.decision, o.source, o.reason)
}

use Decision::{Allow, Deny};

#[test]
fn not_configured_denies_without_asking_anyone() {
    let s = AuthSettings { configured: false, ..settings(Open) };
    let (o, asked) = run(&s, OriginAnswer::Valid, Ok(fresh()), Ok(true), ok_guard(), Ok(()));
    assert_eq!(row(&o), (Deny, Source::Policy, Reason::AuthNotConfigured));
    assert!(asked.is_empty());
}

#[test]
fn origin_status_classes() {
    assert_eq!(classify_origin(200, r#"{"valid":true}"#), OriginAnswer::Valid);
    assert_eq!(classify_origin(204, r#"{"valid":false,"x":1}"#), OriginAnswer::Invalid);
    // 2xx without a boolean `valid`: unavailable.
    for b in ["<html>", "{}", r#"{"valid":"false"}"#, ""] {
        assert_eq!(classify_origin(200, b), OriginAnswer::Unavailable, "{b}");
    }
    // 4xx: an answer (a denial), never unavailable, whatever the body says.
    for s in [400, 404, 409, 422, 429, 451, 499] {
        assert_eq!(classify_origin(s, r#"{"valid":true}"#), OriginAnswer::Refused { status: s }, "{s}");
    }
    for s in [401, 403] {
        assert_eq!(classify_origin(s, ""), OriginAnswer::Misconfigured { status: s });
    }
    // 5xx: unavailable, whatever the body says.
    for s in [500, 502, 503, 504, 599] {
        assert_eq!(classify_origin(s, r#"{"valid":false}"#), OriginAnswer::Unavailable, "{s}");
    }
    // 1xx/3xx reaching us: the URL is wrong; a denial, not an outage.
    for s in [101, 301, 302, 308] {
        assert_eq!(classify_origin(s, ""), OriginAnswer::Misconfigured { status: s });
    }
    assert!(OriginAnswer::Refused { status: 422 }.answered());
    assert!(OriginAnswer::Misconfigured { status: 401 }.answered());
    assert!(!OriginAnswer::Misconfigured { status: 401 }.judged());
    assert!(!OriginAnswer::Unavailable.answered());
}

#[test]
fn origin_valid_rows() {
    let s = settings(Open);
    let (o, asked) =
        run(&s, OriginAnswer::Valid, Ok(CacheView::Missing), Err(Unreadable), Err(Unreadable), Err(Unreadable));
    assert_eq!((row(&o), o.effects), ((Allow, Source::Origin, Reason::OriginAccepted), vec![Effect::WriteCache]));
    assert_eq!(asked, [Next::AskOrigin, Next::ReadCache], "the normal path never hashes");
    let (o, _) = run(&s, OriginAnswer::Valid, Ok(CacheView::Stale), Ok(true), ok_guard(), Ok(()));
    assert_eq!(o.effects, vec![Effect::WriteCache], "a flushed or expired entry is rewritten");
    let (o, _) = run(&s, OriginAnswer::Valid, Ok(fresh()), Ok(true), ok_guard(), Ok(()));
    assert_eq!(o.effects, vec![], "a fresh entry is not rewritten");
    let old = CacheView::Fresh { verified_at: NOW - 3_600_000 };
    let (o, _) = run(&settings(Closed), OriginAnswer::Valid, Ok(old), Ok(true), ok_guard(), Ok(()));
    assert_eq!(o.effects, vec![Effect::WriteCache], "refreshed after CACHE_REFRESH_S");
    // An unreadable cache (the epoch is unknown): no write that could revive a flushed entry.
    let (o, _) = run(&s, OriginAnswer::Valid, Err(Unreadable), Ok(true), ok_guard(), Ok(()));
    assert_eq!((o.decision, o.effects), (Allow, vec![]));
    // Without CRED_PEPPER the cache is not read at all.
    let nocache = AuthSettings { cache_enabled: false, ..s };
    let (o, asked) = run(&nocache, OriginAnswer::Valid, Ok(CacheView::Missing), Ok(true), ok_guard(), Ok(()));
    assert_eq!((o.decision, o.effects, asked), (Allow, vec![], vec![Next::AskOrigin]));
    // A recorded misconfiguration is cleared by the first judged answer in that isolate.
    let flagged = AuthSettings { origin_flagged: true, ..s };
    let (o, _) = run(&flagged, OriginAnswer::Valid, Ok(fresh()), Ok(true), ok_guard(), Ok(()));
    assert_eq!(o.effects, vec![Effect::OriginWorks]);
}

#[test]
fn origin_invalid_rows() {
    let s = settings(Open);
    let (o, asked) = run(&s, OriginAnswer::Invalid, Ok(fresh()), Ok(true), ok_guard(), Ok(()));
    assert_eq!((row(&o), o.effects), ((Deny, Source::Origin, Reason::OriginRevokedCached), vec![Effect::DeleteCache]));
    assert_eq!(asked, [Next::AskOrigin, Next::ReadCache, Next::Hash]);
    for (cache, m) in [
        (Ok(fresh()), Ok(false)),
        (Ok(fresh()), Err(Unreadable)),
        (Ok(CacheView::Missing), Ok(true)),
        (Ok(CacheView::Stale), Ok(true)),
        (Err(Unreadable), Ok(true)),
    ] {
        let (o, _) = run(&s, OriginAnswer::Invalid, cache, m, ok_guard(), Ok(()));
        assert_eq!((row(&o), o.effects), ((Deny, Source::Origin, Reason::OriginRejected), vec![]), "{cache:?} {m:?}");
    }
}

#[test]
fn origin_4xx_rows_deny_and_never_degrade() {
    for policy in [Open, CachedOnly, Closed] {
        let s = settings(policy);
        for status in [400, 422, 429] {
            let (o, asked) = run(&s, OriginAnswer::Refused { status }, Ok(fresh()), Ok(true), ok_guard(), Ok(()));
            assert_eq!((row(&o), o.effects), ((Deny, Source::Origin, Reason::OriginRefused), vec![]));
            assert!(!asked.iter().any(|n| matches!(n, Next::Guard(_) | Next::Record(_) | Next::Hash)));
        }
        for status in [401, 403] {
            let (o, _) =
                run(&s, OriginAnswer::Misconfigured { status }, Ok(CacheView::Missing), Ok(true), ok_guard(), Ok(()));
            assert_eq!(
                (row(&o), o.effects),
                ((Deny, Source::Origin, Reason::OriginTokenRejected), vec![Effect::OriginMisconfigured])
            );
        }
    }
}

#[test]
fn origin_unavailable_rows() {
    let u = OriginAnswer::Unavailable;
    for policy in [Open, CachedOnly] {
        let (o, asked) = run(&settings(policy), u, Ok(fresh()), Ok(true), ok_guard(), Ok(()));
        assert_eq!(row(&o), (Allow, Source::Cache, Reason::CacheMatched));
        assert_eq!(
            asked,
            [
                Next::AskOrigin,
                Next::ReadCache,
                Next::Hash,
                Next::Guard(GuardAction::Check),
                Next::Record(Admission::Cache)
            ]
        );
        let (o, asked) = run(&settings(policy), u, Ok(fresh()), Ok(false), ok_guard(), Ok(()));
        assert_eq!(row(&o), (Deny, Source::Cache, Reason::CacheMismatch));
        assert_eq!(asked[3], Next::Guard(GuardAction::Fail), "a mismatch counts a failure");
    }
    let (o, asked) = run(&settings(Open), u, Ok(CacheView::Missing), Ok(true), ok_guard(), Ok(()));
    assert_eq!(row(&o), (Allow, Source::Provisional, Reason::Provisional));
    assert_eq!(
        asked,
        [Next::AskOrigin, Next::ReadCache, Next::Guard(GuardAction::Provisional), Next::Record(Admission::Provisional)]
    );
    let (o, _) = run(&settings(Open), u, Ok(CacheView::Stale), Ok(true), ok_guard(), Ok(()));
    assert_eq!(row(&o), (Allow, Source::Provisional, Reason::Provisional));
    let (o, _) = run(&settings(CachedOnly), u, Ok(CacheView::Missing), Ok(true), ok_guard(), Ok(()));
    assert_eq!(row(&o), (Deny, Source::Policy, Reason::NoCachedCredential));
    for cache in [Ok(fresh()), Ok(CacheView::Missing)] {
        let (o, asked) = run(&settings(Closed), u, cache, Ok(true), ok_guard(), Ok(()));
        assert_eq!(row(&o), (Deny, Source::Policy, Reason::PolicyClosed));
        assert_eq!(asked, [Next::AskOrigin], "closed reads nothing");
    }
}

#[test]
fn lockout_row() {
    let locked = Ok(GuardReply { locked: true, slot: false });
    for (cache, m) in [(Ok(fresh()), Ok(true)), (Ok(fresh()), Ok(false)), (Ok(CacheView::Missing), Ok(true))] {
        let (o, asked) = run(&settings(Open), OriginAnswer::Unavailable, cache, m, locked, Ok(()));
        assert_eq!(row(&o), (Deny, Source::Lockout, Reason::LockedOut));
        assert!(!asked.iter().any(|n| matches!(n, Next::Record(_))));
    }
}

#[test]
fn cap_row() {
    let full = Ok(GuardReply { locked: false, slot: false });
    let (o, _) = run(&settings(Open), OriginAnswer::Unavailable, Ok(CacheView::Missing), Ok(true), full, Ok(()));
    assert_eq!(row(&o), (Deny, Source::Policy, Reason::ProvisionalCap));
}

#[test]
fn fallback_guard_down() {
    let u = OriginAnswer::Unavailable;
    // A matched password is still proven against the hash: admitted, recorded.
    let (o, _) = run(&settings(Open), u, Ok(fresh()), Ok(true), Err(Unreadable), Ok(()));
    assert_eq!(row(&o), (Allow, Source::Cache, Reason::CacheMatched));
    // A mismatch is denied (the failure could not be counted).
    let (o, _) = run(&settings(Open), u, Ok(fresh()), Ok(false), Err(Unreadable), Ok(()));
    assert_eq!(row(&o), (Deny, Source::Cache, Reason::CacheMismatch));
}

#[test]
fn fallback_cap_store_down_refuses() {
    let (o, asked) =
        run(&settings(Open), OriginAnswer::Unavailable, Ok(CacheView::Missing), Ok(true), Err(Unreadable), Ok(()));
    assert_eq!(row(&o), (Deny, Source::Policy, Reason::CapUnavailable));
    assert!(!asked.iter().any(|n| matches!(n, Next::Record(_))));
}

#[test]
fn fallback_ledger_cannot_record_denies() {
    for (cache, src) in [(Ok(fresh()), "cache"), (Ok(CacheView::Missing), "provisional")] {
        let (o, _) = run(&settings(Open), OriginAnswer::Unavailable, cache, Ok(true), ok_guard(), Err(Unreadable));
        assert_eq!(row(&o), (Deny, Source::Policy, Reason::NotRecorded), "{src}");
    }
}

#[test]
fn fallback_unreadable_cache_or_hash_is_no_credential() {
    let u = OriginAnswer::Unavailable;
    let (o, _) = run(&settings(Open), u, Err(Unreadable), Ok(true), ok_guard(), Ok(()));
    assert_eq!(row(&o), (Allow, Source::Provisional, Reason::Provisional));
    let (o, _) = run(&settings(Open), u, Ok(fresh()), Err(Unreadable), ok_guard(), Ok(()));
    assert_eq!(row(&o), (Allow, Source::Provisional, Reason::Provisional));
    let (o, _) = run(&settings(CachedOnly), u, Err(Unreadable), Ok(true), ok_guard(), Ok(()));
    assert_eq!(row(&o), (Deny, Source::Policy, Reason::NoCachedCredential));
}

#[test]
fn reverify_is_kicked_only_when_the_origin_judges() {
    assert!(kicks_reverify(OriginAnswer::Valid, true));
    assert!(kicks_reverify(OriginAnswer::Refused { status: 422 }, true));
    assert!(!kicks_reverify(OriginAnswer::Valid, false));
    assert!(!kicks_reverify(OriginAnswer::Unavailable, true));
    assert!(!kicks_reverify(OriginAnswer::Misconfigured { status: 401 }, true));
}

#[test]
fn signature_keys_are_stable_and_distinct() {
    assert_eq!(session_id_for("ab"), session_id_for("ab"));
    assert_ne!(session_id_for("ab"), session_id_for("ac"));
    assert_ne!(effect_tag("ab"), session_id_for("ab").as_str());
    assert_eq!(session_id_for("ab").as_str().len(), 32);
    let a = OfflineAdmission {
        username: "u".into(),
        password: "p".into(),
        client_ip: "192.0.2.1".parse().unwrap(),
        client_port: 5,
        admitted_at_ms: NOW,
    };
    let b = OfflineAdmission { password: "other".into(), ..a.clone() };
    let (se1, se2) = (ServerId::parse("se-1").unwrap(), ServerId::parse("se-2").unwrap());
    assert_eq!(offline_session_id(&se1, &a), offline_session_id(&se1, &b), "one admission, one session");
    assert_ne!(offline_session_id(&se1, &a), offline_session_id(&se2, &a));
    assert_ne!(
        offline_session_id(&se1, &a),
        offline_session_id(&se1, &OfflineAdmission { client_port: 6, ..a.clone() })
    );
    assert_eq!(offline_session_id(&se1, &a).as_str().len(), 32);
    assert!(SessionId::parse(session_id_for("x").as_str()).is_ok());
}

const LIMITS: GuardLimits = GuardLimits { user_max: 20, cap: 600 };

#[test]
fn lockout_is_per_address() {
    // Five failures from one address lock that address for that user only.
    let mut attacker = GuardState::default();
    let mut user_wide = Lockout::default();
    for i in 0..5 {
        let (s, r) = guard_apply(
            GuardState { by_user: user_wide.clone(), ..attacker },
            GuardAction::Fail,
            NOW + i * 1000,
            LIMITS,
        );
        assert!(!r.locked, "failure {i}");
        user_wide = s.by_user.clone();
        attacker = s;
    }
    let (_, r) = guard_apply(attacker.clone(), GuardAction::Check, NOW + 6000, LIMITS);
    assert!(r.locked, "the attacking address is locked out");
    let other = GuardState { by_ip: Lockout::default(), by_user: user_wide.clone(), budget: Default::default() };
    let (_, r) = guard_apply(other, GuardAction::Check, NOW + 6000, LIMITS);
    assert!(!r.locked, "the user's own address is still served");
    // A locked request counts nothing more.
    let (after, _) = guard_apply(attacker.clone(), GuardAction::Fail, NOW + 7000, LIMITS);
    assert_eq!(after, attacker);
    assert!(!attacker.by_ip.is_locked(NOW + 5000 + LOCKOUT_FOR_MS));
}

#[test]
fn lockout_user_max_across_addresses() {
    let mut by_user = Lockout::default();
    for i in 0..19 {
        let (s, r) =
            guard_apply(GuardState { by_user, ..Default::default() }, GuardAction::Fail, NOW + i * 1000, LIMITS);
        assert!(!r.locked);
        by_user = s.by_user;
    }
    assert!(!by_user.is_locked(NOW + 19_000));
    let (s, _) = guard_apply(GuardState { by_user, ..Default::default() }, GuardAction::Fail, NOW + 19_000, LIMITS);
    let fresh_ip = GuardState { by_user: s.by_user, ..Default::default() };
    let (_, r) = guard_apply(fresh_ip, GuardAction::Check, NOW + 20_000, LIMITS);
    assert!(r.locked, "the 20th failure locks the username everywhere");
}

#[test]
fn lockout_windows() {
    let mut l = Lockout::default();
    for i in 0..4 {
        l = l.fail(NOW + i * 60_000, 5);
    }
    assert!(!l.is_locked(NOW + 4 * 60_000));
    l = l.fail(NOW + 4 * 60_000, 5);
    assert!(l.is_locked(NOW + 4 * 60_000));
    assert!(l.is_locked(NOW + 4 * 60_000 + LOCKOUT_FOR_MS - 1));
    assert!(!l.is_locked(NOW + 4 * 60_000 + LOCKOUT_FOR_MS));
    let mut s = Lockout::default();
    for i in 0..20 {
        s = s.fail(NOW + i * 4 * 60_000, 5);
        assert!(!s.is_locked(NOW + i * 4 * 60_000), "failure {i}");
    }
    assert!(!s.is_empty(NOW + 76 * 60_000));
    assert!(s.is_empty(NOW + 100 * 60_000));
}

#[test]
fn provisional_cap_exact() {
    let mut st = GuardState::default();
    let mut granted = 0;
    for i in 0..5 {
        let (n, r) = guard_apply(st, GuardAction::Provisional, NOW + i, GuardLimits { user_max: 20, cap: 3 });
        st = n;
        granted += r.slot as u32;
    }
    assert_eq!(granted, 3);
    let (_, ok) = st.budget.take(NOW + 60_000, 3);
    assert!(ok, "a new minute has a new budget");
    assert!(!ProvisionalBudget::default().take(NOW, 0).1, "cap 0 admits nobody");
}

#[test]
fn breaker_over_time() {
    let probe = 5_000;
    let cool = BREAKER_COOLDOWN_MS;
    let mut b = Breaker::default();
    assert!(b.admit(NOW, probe).1);
    b = b.record(OriginAnswer::Unavailable, NOW);
    assert_eq!(b, Breaker::Closed { failures: 1 });
    b = b.record(OriginAnswer::Unavailable, NOW);
    assert_eq!(b, Breaker::Open { until_ms: NOW + cool });
    assert!(!b.admit(NOW + cool - 1, probe).1, "no calls during the cool-down");
    let (half, ok) = b.admit(NOW + cool, probe);
    assert!(ok, "one probe after the cool-down");
    assert!(!half.admit(NOW + cool + 1, probe).1, "only one probe at a time");
    assert!(half.admit(NOW + cool + probe + 1, probe).1, "a lost probe is replaced");
    assert_eq!(half.record(OriginAnswer::Unavailable, NOW + cool), Breaker::Open { until_ms: NOW + 2 * cool });
    assert_eq!(half.record(OriginAnswer::Valid, NOW + cool), Breaker::Closed { failures: 0 });
}

#[test]
fn breaker_ignores_4xx() {
    let mut b = Breaker::default();
    for s in [422, 429, 401, 403, 404] {
        b = b.record(OriginAnswer::Refused { status: s }, NOW);
        b = b.record(classify_origin(s, ""), NOW);
    }
    assert_eq!(b, Breaker::Closed { failures: 0 });
    b = b.record(OriginAnswer::Unavailable, NOW).record(OriginAnswer::Refused { status: 429 }, NOW);
    assert_eq!(b, Breaker::Closed { failures: 0 }, "an answer resets the count");
}

#[test]
fn reverify_rows() {
    let a0 = Attempts::default();
    assert_eq!(reverify_verdict(a0, Judged::Answer(OriginAnswer::Valid), true, NOW, 5), Verdict::Valid);
    assert_eq!(
        reverify_verdict(a0, Judged::Answer(OriginAnswer::Invalid), false, NOW, 5),
        Verdict::Disconnect(DisconnectReason::Rejected)
    );
    assert_eq!(
        reverify_verdict(a0, Judged::Answer(OriginAnswer::Refused { status: 422 }), false, NOW, 5),
        Verdict::Disconnect(DisconnectReason::Rejected)
    );
    // Sealed password unreadable → disconnect.
    assert_eq!(
        reverify_verdict(a0, Judged::Unsealable, false, NOW, 5),
        Verdict::Disconnect(DisconnectReason::Unsealable)
    );
    // Origin down for everyone: nobody's attempt counts, retried next run.
    assert_eq!(
        reverify_verdict(a0, Judged::Answer(OriginAnswer::Unavailable), false, NOW, 5),
        Verdict::Retry { attempts: a0, next_at: NOW }
    );
}

#[test]
fn an_unreadable_data_key_counts_an_attempt_even_while_the_origin_is_down() {
    // Not a disconnect at once (a KV hiccup must not cut a valid user off) ...
    let a0 = Attempts::default();
    let first = reverify_verdict(a0, Judged::KeyUnreadable, false, NOW, 5);
    assert_eq!(
        first,
        Verdict::Retry { attempts: Attempts { count: 1, first_at: Some(NOW) }, next_at: NOW + REVERIFY_BACKOFF_MS }
    );
    // ... and not a free pass: with the origin down for everyone, it still counts, so a
    // provisional impostor is disconnected as unverifiable once the attempts span enough.
    let mut a = a0;
    let mut now = NOW;
    let end = loop {
        match reverify_verdict(a, Judged::KeyUnreadable, false, now, 5) {
            Verdict::Retry { attempts, next_at } => {
                assert!(next_at > now, "never retried before its backoff");
                (a, now) = (attempts, next_at);
            }
            v => break v,
        }
    };
    assert_eq!(end, Verdict::Disconnect(DisconnectReason::Unverifiable));
    assert_eq!(a.count, 4, "the fifth attempt gives up");
    assert!(now - NOW >= REVERIFY_MIN_SPAN_MS);
}

#[test]
fn reverify_backoff_then_unverifiable() {
    let u = Judged::Answer(OriginAnswer::Unavailable);
    let mut a = Attempts::default();
    let mut now = NOW;
    let mut delays = Vec::new();
    for attempt in 0.. {
        // Bounded, so a rule that never gives up fails here instead of hanging.
        assert!(attempt < 20, "still retrying after 20 attempts: {delays:?}");
        match reverify_verdict(a, u, true, now, 5) {
            Verdict::Retry { attempts, next_at } => {
                delays.push(next_at - now);
                a = attempts;
                now = next_at;
            }
            Verdict::Disconnect(r) => {
                assert_eq!(r, DisconnectReason::Unverifiable);
                break;
            }
            Verdict::Valid => panic!(),
        }
    }
    assert_eq!(a.count, 4, "the fifth attempt gives up");
    assert_eq!(delays, [30_000, 60_000, 120_000, 240_000]);
    assert!(now - NOW >= REVERIFY_MIN_SPAN_MS);
    // Five quick attempts (a run every few seconds) do not give up before 5 minutes.
    let mut a = Attempts::default();
    for i in 0..10 {
        match reverify_verdict(a, u, true, NOW + i * 1000, 5) {
            Verdict::Retry { attempts, .. } => a = attempts,
            v => panic!("gave up after {i} s: {v:?}"),
        }
    }
    assert_eq!(
        reverify_verdict(a, u, true, NOW + REVERIFY_MIN_SPAN_MS, 5),
        Verdict::Disconnect(DisconnectReason::Unverifiable)
    );
}

#[test]
fn origin_judging_and_probe() {
    let un = Judged::Answer(OriginAnswer::Unavailable);
    assert!(origin_judging(&[un, Judged::Answer(OriginAnswer::Invalid)], None));
    assert!(!origin_judging(&[un, Judged::Answer(OriginAnswer::Misconfigured { status: 401 })], None));
    assert!(!origin_judging(&[un, Judged::Unsealable], None));
    assert!(origin_judging(&[un], Some(OriginAnswer::Invalid)));
    assert!(needs_probe(&[un, un]));
    assert!(!needs_probe(&[un, Judged::Answer(OriginAnswer::Valid)]));
    assert!(!needs_probe(&[]));
    assert!(!needs_probe(&[Judged::Unsealable]));
}

fn offline(body: &str) -> Result<Vec<Result<OfflineAdmission, RequestError>>, RequestError> {
    parse_offline(&Fields::parse(body.as_bytes()).unwrap(), NOW, 24)
}

fn item(user: &str, at_s: i64) -> String {
    format!(r#"{{"username":"{user}","password":"p","client_ip":"192.0.2.1","client_port":5,"admitted_at":{at_s}}}"#)
}

#[test]
fn offline_items_are_judged_one_by_one() {
    let now_s = NOW / 1000;
    let body = format!(
        r#"{{"sessions":[{},{},{},{},{}]}}"#,
        item("a", now_s - 60),
        item("u\u{0085}x", now_s - 60),
        item("b", 0),
        item("c", now_s + 3600),
        item("d", now_s + 30),
    );
    let got = offline(&body).unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(got[0].as_ref().unwrap().admitted_at_ms, (now_s - 60) * 1000);
    let field = |r: &Result<OfflineAdmission, RequestError>| match r {
        Err(RequestError::Field { field, .. }) => field.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(field(&got[1]), "sessions[1].username", "U+0085 is a control character");
    assert_eq!(field(&got[2]), "sessions[2].admitted_at", "older than OFFLINE_MAX_AGE_H");
    assert_eq!(field(&got[3]), "sessions[3].admitted_at", "in the future");
    assert!(got[4].is_ok(), "within the 60 s skew");
    let edge = format!(r#"{{"sessions":[{},{}]}}"#, item("e", now_s - 24 * 3600), item("f", now_s - 24 * 3600 - 1));
    let got = offline(&edge).unwrap();
    assert!(got[0].is_ok() && got[1].is_err(), "exactly 24 h is accepted, a second more is not");
    assert!(offline("{}").is_err());
    assert!(offline(&format!(r#"{{"sessions":[{}]}}"#, vec![item("a", now_s); 101].join(","))).is_err());
}

#[test]
fn offline_caps() {
    assert_eq!(offline_fits(0, 0), Ok(()));
    assert_eq!(offline_fits(2, 999), Ok(()));
    assert_eq!(offline_fits(3, 0), Err(OfflineRefusal::TooManyForUser));
    assert_eq!(offline_fits(0, 1000), Err(OfflineRefusal::ServerFull));
    assert!(OfflineRefusal::TooManyForUser.counts_as_failure());
    assert!(!OfflineRefusal::ServerFull.counts_as_failure());
}

#[test]
fn cache_view() {
    let e =
        CacheEntry { hash: "h".into(), salt: "s".into(), iterations: PBKDF2_ITERATIONS, epoch: 2, verified_at: NOW };
    assert_eq!(CacheView::of(Some(&e), 2, NOW, 30), CacheView::Fresh { verified_at: NOW });
    assert_eq!(CacheView::of(Some(&e), 3, NOW, 30), CacheView::Stale, "flushed by an epoch bump");
    assert_eq!(CacheView::of(Some(&e), 2, NOW + 30 * 86_400_000 - 1, 30), CacheView::Fresh { verified_at: NOW });
    assert_eq!(CacheView::of(Some(&e), 2, NOW + 30 * 86_400_000, 30), CacheView::Stale, "CACHE_MAX_AGE_DAYS");
    assert_eq!(CacheView::of(None, 2, NOW, 30), CacheView::Missing);
}

#[test]
fn request_validation() {
    let f = |s: &str| AuthRequest::parse(&Fields::parse(s.as_bytes()).unwrap());
    assert!(f(r#"{"username":"alice","password":"pw","client_ip":"203.0.113.9","client_port":51000}"#).is_ok());
    let field = |s: &str| match f(s) {
        Err(RequestError::Field { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(r#"{"username":"","password":"pw","client_ip":"1.2.3.4","client_port":1}"#), "username");
    assert_eq!(
        field(&format!(
            r#"{{"username":"{}","password":"pw","client_ip":"1.2.3.4","client_port":1}}"#,
            "u".repeat(257)
        )),
        "username"
    );
    assert_eq!(field(r#"{"username":"a\u0000b","password":"pw","client_ip":"1.2.3.4","client_port":1}"#), "username");
    assert_eq!(field(r#"{"username":"a\u0085b","password":"pw","client_ip":"1.2.3.4","client_port":1}"#), "username");
    assert_eq!(field(r#"{"username":"a","password":"p\nw","client_ip":"1.2.3.4","client_port":1}"#), "password");
    assert_eq!(
        field(&format!(
            r#"{{"username":"a","password":"{}","client_ip":"1.2.3.4","client_port":1}}"#,
            "p".repeat(1025)
        )),
        "password"
    );
    assert_eq!(field(r#"{"username":"a","password":"p","client_ip":"1.2.3","client_port":1}"#), "client_ip");
    assert_eq!(field(r#"{"username":"a","password":"p","client_ip":"::1","client_port":0}"#), "client_port");
    assert_eq!(field(r#"{"username":"a","password":"p","client_ip":"::1","client_port":65536}"#), "client_port");
    let r = f(r#"{"username":"a","password":"hunter2","client_ip":"::1","client_port":5}"#).unwrap();
    assert!(!format!("{r:?}").contains("hunter2"));
}

#[test]
fn acks() {
    let f = |s: &str| parse_acks(&Fields::parse(s.as_bytes()).unwrap());
    assert_eq!(f(r#"{"session_ids":["ab12","cd-3"]}"#).unwrap().len(), 2);
    assert!(f(r#"{"session_ids":["a b"]}"#).is_err());
    assert!(f(r#"{"session_ids":[1]}"#).is_err());
    assert!(f(r#"{}"#).is_err());
}

#[test]
fn constant_time_eq() {
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"ab"));
    assert!(!ct_eq(b"ab", b"ba"));
}

#[test]
fn seal_keys_depend_on_both_halves() {
    let k = [7u8; 32];
    assert_eq!(seal_key(&k, b"dk"), seal_key(&k, b"dk"));
    assert_ne!(seal_key(&k, b"dk"), seal_key(&k, b"dj"), "a shredded data key cannot be replaced");
    assert_ne!(seal_key(&k, b"dk"), seal_key(&[8u8; 32], b"dk"));
    assert_eq!(seal_data_key_name("ab"), "seal:ab");
}
