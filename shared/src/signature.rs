//! Server request signatures (README "Signed by a server").
//!
//! `K_S = HMAC-SHA256(FLEET_SECRET, S)`; a request is signed over
//! `"<ts>\n<METHOD>\n<path with query>\n<hex sha256(body)>"`.

use crate::api_error::CallerError;
use crate::types::ServerId;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Accepted distance between the caller's timestamp and the edge's clock.
pub const MAX_SKEW_S: i64 = 120;

pub fn server_key(fleet_secret: &str, server: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(fleet_secret.as_bytes()).expect("any key length");
    mac.update(server.as_bytes());
    mac.finalize().into_bytes().into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn canonical_string(ts: i64, method: &str, target: &str, body: &[u8]) -> String {
    format!("{ts}\n{}\n{target}\n{}", method.to_ascii_uppercase(), sha256_hex(body))
}

pub fn sign(key: &[u8; 32], canonical: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    mac.update(canonical.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The three signature headers as received (any may be absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureHeaders<'a> {
    pub server: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    pub server: ServerId,
    pub timestamp: i64,
    /// The signature in one spelling (lowercase hex of its 32 bytes), so an upper-case or
    /// padded copy of a used signature is the same key: what a replay is recognised by.
    pub replay_key: String,
}

/// The signature headers, checked before the body is read (README "Signed by a server"):
/// a well-formed server id, a timestamp inside the window, a signature of 32 bytes of hex.
/// Whether the server is registered is the caller's lookup; the MAC needs the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub server: ServerId,
    pub timestamp: i64,
    signature: [u8; 32],
}

pub fn check_headers(h: SignatureHeaders<'_>, now_s: i64) -> Result<Presented, CallerError> {
    let server = h.server.ok_or(CallerError::MissingHeader("X-Edge-Server"))?;
    let ts = h.timestamp.ok_or(CallerError::MissingHeader("X-Edge-Timestamp"))?;
    let sig = h.signature.ok_or(CallerError::MissingHeader("X-Edge-Signature"))?;
    let server = ServerId::parse(server).map_err(|_| CallerError::MalformedHeader("X-Edge-Server"))?;
    let timestamp: i64 = ts.trim().parse().map_err(|_| CallerError::MalformedHeader("X-Edge-Timestamp"))?;
    if (timestamp - now_s).abs() > MAX_SKEW_S {
        return Err(CallerError::ClockSkew);
    }
    let signature: [u8; 32] = unhex(sig.trim()).and_then(|b| b.try_into().ok()).ok_or(CallerError::BadSignature)?;
    Ok(Presented { server, timestamp, signature })
}

impl Presented {
    /// The HMAC over the request (constant-time).
    pub fn verify(self, fleet_secret: &str, method: &str, target: &str, body: &[u8]) -> Result<SignedBy, CallerError> {
        let key = server_key(fleet_secret, self.server.as_str());
        let mut mac = HmacSha256::new_from_slice(&key).expect("any key length");
        mac.update(canonical_string(self.timestamp, method, target, body).as_bytes());
        mac.verify_slice(&self.signature).map_err(|_| CallerError::BadSignature)?;
        Ok(SignedBy { server: self.server, timestamp: self.timestamp, replay_key: hex(&self.signature) })
    }
}

/// Checks headers, clock window and HMAC (constant-time). Whether the server is
/// registered is the caller's lookup.
pub fn verify(
    fleet_secret: &str,
    h: SignatureHeaders<'_>,
    method: &str,
    target: &str,
    body: &[u8],
    now_s: i64,
) -> Result<SignedBy, CallerError> {
    check_headers(h, now_s)?.verify(fleet_secret, method, target, body)
}

/// Extra time a used signature is remembered past the window, for clocks of different
/// edge machines that disagree by a few seconds.
pub const REPLAY_MARGIN_S: i64 = 10;

/// Until when (ms) a signature made at `timestamp_s` must be remembered: after that every
/// edge refuses it for its timestamp alone, so the memory can forget it.
pub fn remember_until_ms(timestamp_s: i64) -> i64 {
    timestamp_s.saturating_add(MAX_SKEW_S + REPLAY_MARGIN_S).saturating_mul(1000)
}

/// Whether a remembered signature still has to be refused at `now_ms`.
pub fn still_remembered(until_ms: i64, now_ms: i64) -> bool {
    now_ms < until_ms
}

/// Constant-time equality for bearer tokens: compares MACs of both sides, so neither the
/// length nor the first differing byte leaks through timing.
pub fn tokens_equal(given: &str, expected: &str) -> bool {
    let mut a = HmacSha256::new_from_slice(b"vpn-edge token compare").expect("key");
    a.update(given.as_bytes());
    let mut b = HmacSha256::new_from_slice(b"vpn-edge token compare").expect("key");
    b.update(expected.as_bytes());
    a.verify(&b.finalize().into_bytes()).is_ok()
}

pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers<'a>(s: &'a str, t: &'a str, sig: &'a str) -> SignatureHeaders<'a> {
        SignatureHeaders { server: Some(s), timestamp: Some(t), signature: Some(sig) }
    }

    #[test]
    fn canonical_string_shape() {
        assert_eq!(
            canonical_string(1700000000, "post", "/v1/x?a=1", b""),
            "1700000000\nPOST\n/v1/x?a=1\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn key_derivation_matches_openssl() {
        // printf 'se-1' | openssl dgst -sha256 -hmac 'fleet'
        assert_eq!(
            hex(&server_key("fleet", "se-1")),
            "9cd2c120a8d3b24a90e1ed19b802272a66f446817f4c38e5a551f89d00674ee4"
        );
        assert_ne!(server_key("fleet", "se-1"), server_key("fleet", "se-2"));
    }

    #[test]
    fn verify_accepts_and_rejects() {
        let key = server_key("fleet", "se-1");
        let now = 1_700_000_000;
        let sig = sign(&key, &canonical_string(now, "POST", "/v1/auth", b"{}"));
        assert!(verify("fleet", headers("se-1", &now.to_string(), &sig), "POST", "/v1/auth", b"{}", now).is_ok());
        // Different body, path, method, server, secret.
        assert_eq!(
            verify("fleet", headers("se-1", &now.to_string(), &sig), "POST", "/v1/auth", b"{ }", now),
            Err(CallerError::BadSignature)
        );
        assert_eq!(
            verify("fleet", headers("se-1", &now.to_string(), &sig), "POST", "/v1/auth?x", b"{}", now),
            Err(CallerError::BadSignature)
        );
        assert_eq!(
            verify("fleet", headers("se-1", &now.to_string(), &sig), "PUT", "/v1/auth", b"{}", now),
            Err(CallerError::BadSignature)
        );
        assert_eq!(
            verify("fleet", headers("se-2", &now.to_string(), &sig), "POST", "/v1/auth", b"{}", now),
            Err(CallerError::BadSignature)
        );
        assert_eq!(
            verify("other", headers("se-1", &now.to_string(), &sig), "POST", "/v1/auth", b"{}", now),
            Err(CallerError::BadSignature)
        );
        // Window is inclusive at 120 s.
        assert!(verify("fleet", headers("se-1", &now.to_string(), &sig), "POST", "/v1/auth", b"{}", now + 120).is_ok());
        assert_eq!(
            verify("fleet", headers("se-1", &now.to_string(), &sig), "POST", "/v1/auth", b"{}", now + 121),
            Err(CallerError::ClockSkew)
        );
        assert_eq!(
            verify("fleet", headers("se-1", "abc", &sig), "POST", "/v1/auth", b"{}", now),
            Err(CallerError::MalformedHeader("X-Edge-Timestamp"))
        );
        assert_eq!(
            verify("fleet", headers("se-1", &now.to_string(), "zz"), "POST", "/v1/auth", b"{}", now),
            Err(CallerError::BadSignature)
        );
        assert_eq!(
            verify("fleet", SignatureHeaders::default(), "POST", "/v1/auth", b"{}", now),
            Err(CallerError::MissingHeader("X-Edge-Server"))
        );
    }

    #[test]
    fn headers_are_judged_before_the_body() {
        let now = 1_700_000_000;
        let sig = "ab".repeat(32);
        let p = check_headers(headers("se-1", &now.to_string(), &sig), now).unwrap();
        assert_eq!((p.server.as_str(), p.timestamp), ("se-1", now));
        // A signature that cannot be an HMAC-SHA256 is refused without the body.
        for bad in ["zz", "ab", &"ab".repeat(31), &"ab".repeat(33), ""] {
            assert_eq!(
                check_headers(headers("se-1", &now.to_string(), bad), now),
                Err(CallerError::BadSignature),
                "{bad}"
            );
        }
        assert_eq!(check_headers(headers("se-1", &(now - 121).to_string(), &sig), now), Err(CallerError::ClockSkew));
        assert_eq!(
            check_headers(headers("Not An Id", &now.to_string(), &sig), now),
            Err(CallerError::MalformedHeader("X-Edge-Server"))
        );
    }

    #[test]
    fn one_signature_has_one_replay_key_however_it_is_spelled() {
        let key = server_key("fleet", "se-1");
        let now = 1_700_000_000;
        let sig = sign(&key, &canonical_string(now, "POST", "/v1/sessions/end", b"{}"));
        let ok = |s: &str| {
            verify("fleet", headers("se-1", &now.to_string(), s), "POST", "/v1/sessions/end", b"{}", now).unwrap()
        };
        let plain = ok(&sig);
        assert_eq!(plain.replay_key, sig);
        assert_eq!(ok(&sig.to_ascii_uppercase()).replay_key, sig);
        assert_eq!(ok(&format!("  {sig} ")).replay_key, sig);
        assert_eq!(ok(&sig).replay_key, plain.replay_key);
    }

    #[test]
    fn a_signature_is_remembered_as_long_as_any_edge_could_accept_it() {
        let ts = 1_700_000_000;
        let until = remember_until_ms(ts);
        // Every moment at which the window still admits `ts` lies inside the memory.
        for now_s in ts - MAX_SKEW_S..=ts + MAX_SKEW_S + REPLAY_MARGIN_S - 1 {
            assert!(still_remembered(until, now_s * 1000 + 999), "{now_s}");
        }
        assert!(!still_remembered(until, (ts + MAX_SKEW_S + REPLAY_MARGIN_S) * 1000));
        assert_eq!(remember_until_ms(i64::MAX), i64::MAX);
    }

    #[test]
    fn token_compare() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("ab", "abc"));
        assert!(!tokens_equal("", "abc"));
    }

    proptest! {
        #[test]
        fn any_single_bit_flip_in_the_body_is_rejected(body in proptest::collection::vec(any::<u8>(), 1..64), bit in 0usize..512) {
            let key = server_key("fleet", "s");
            let sig = sign(&key, &canonical_string(5, "POST", "/p", &body));
            let mut tampered = body.clone();
            let i = bit % (tampered.len() * 8);
            tampered[i / 8] ^= 1 << (i % 8);
            prop_assert!(verify("fleet", headers("s", "5", &sig), "POST", "/p", &body, 5).is_ok());
            prop_assert_eq!(verify("fleet", headers("s", "5", &sig), "POST", "/p", &tampered, 5), Err(CallerError::BadSignature));
        }

        #[test]
        fn hex_roundtrip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        }
    }
}
