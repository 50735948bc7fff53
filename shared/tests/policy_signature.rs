//! Rules of `signature.rs` that mutation testing found unpinned (README "Signed by a server").

use vpn_edge_core::api_error::CallerError;
use vpn_edge_core::signature::*;

const NOW: i64 = 1_700_000_000;

fn signed(ts: i64) -> String {
    sign(&server_key("fleet", "se-1"), &canonical_string(ts, "POST", "/v1/auth", b"{}"))
}

fn check(ts: &str, sig: &str, now: i64) -> Result<SignedBy, CallerError> {
    let h = SignatureHeaders { server: Some("se-1"), timestamp: Some(ts), signature: Some(sig) };
    verify("fleet", h, "POST", "/v1/auth", b"{}", now)
}

#[test]
fn clock_window_is_120_s_either_side_inclusive() {
    let sig = signed(NOW);
    assert!(check(&NOW.to_string(), &sig, NOW - 120).is_ok());
    assert_eq!(check(&NOW.to_string(), &sig, NOW - 121), Err(CallerError::ClockSkew));
    assert!(check(&NOW.to_string(), &sig, NOW + 120).is_ok());
    assert_eq!(check(&NOW.to_string(), &sig, NOW + 121), Err(CallerError::ClockSkew));
}

#[test]
fn verify_reports_who_signed_and_when() {
    let ok = check(&NOW.to_string(), &signed(NOW), NOW).unwrap();
    assert_eq!((ok.server.as_str(), ok.timestamp), ("se-1", NOW));
}

#[test]
fn each_missing_header_is_named() {
    let sig = signed(NOW);
    let ts = NOW.to_string();
    let h = |server, timestamp, signature| SignatureHeaders { server, timestamp, signature };
    let v = |h| verify("fleet", h, "POST", "/v1/auth", b"{}", NOW);
    assert_eq!(v(h(None, Some(&ts), Some(&sig))), Err(CallerError::MissingHeader("X-Edge-Server")));
    assert_eq!(v(h(Some("se-1"), None, Some(&sig))), Err(CallerError::MissingHeader("X-Edge-Timestamp")));
    assert_eq!(v(h(Some("se-1"), Some(&ts), None)), Err(CallerError::MissingHeader("X-Edge-Signature")));
    assert_eq!(
        v(h(Some("not a server id!"), Some(&ts), Some(&sig))),
        Err(CallerError::MalformedHeader("X-Edge-Server"))
    );
}

#[test]
fn hex_is_two_lowercase_digits_per_byte() {
    assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xab, 0xff]), "000ff0abff");
    assert_eq!(hex(&[]), "");
}

#[test]
fn unhex_rejects_odd_length_and_non_hex() {
    assert_eq!(unhex("0a"), Some(vec![0x0a]));
    assert_eq!(unhex("0aF1"), Some(vec![0x0a, 0xf1]));
    assert_eq!(unhex("0a1"), None);
    assert_eq!(unhex("0g"), None);
    assert_eq!(unhex(""), Some(vec![]));
}

#[test]
fn sha256_hex_of_empty_is_the_known_digest() {
    assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[test]
fn tokens_equal_only_for_identical_tokens() {
    assert!(tokens_equal("s3cret", "s3cret"));
    assert!(tokens_equal("", ""));
    assert!(!tokens_equal("s3cret", "s3creT"));
    assert!(!tokens_equal("s3cret", "s3cret "));
}
