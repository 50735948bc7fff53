//! Which servers a VPN app should use (DESIGN.md §2 "Recommendation").
//!
//! The first pick is random, weighted by spare capacity, so apps asking at the same
//! moment spread over the least-loaded servers instead of all landing on one. The rest
//! follow by load. Servers whose load is unknown (heartbeats stopped) come last; full,
//! down and maintenance servers are never recommended.

use crate::api_error::RequestError;
use crate::fleet::{ServerFilter, ServerView, Status};

pub const DEFAULT_LIMIT: usize = 3;
pub const MAX_LIMIT: usize = 50;

pub fn parse_limit(pairs: &[(String, String)]) -> Result<usize, RequestError> {
    match pairs.iter().find(|(k, _)| k == "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some((_, v)) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(RequestError::field("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
        },
    }
}

/// `random` is a uniformly random 64-bit value supplied by the caller.
pub fn recommend<'a>(
    servers: &'a [ServerView],
    filter: &ServerFilter,
    limit: usize,
    random: u64,
) -> Vec<&'a ServerView> {
    let eligible = |s: &&ServerView| s.status == Status::Up && filter.matches(s);
    let mut known: Vec<&ServerView> =
        servers.iter().filter(eligible).filter(|s| s.load.is_some() && s.spare() > 0).collect();
    let mut unknown: Vec<&ServerView> = servers.iter().filter(eligible).filter(|s| s.load.is_none()).collect();
    crate::sort::sort_by(&mut known, |a, b| a.load.cmp(&b.load).then_with(|| a.id.cmp(&b.id)));
    crate::sort::sort_by(&mut unknown, |a, b| a.id.cmp(&b.id));

    let total: u64 = known.iter().map(|s| u64::from(s.spare())).sum();
    if total > 0 {
        // Map the random value onto [0, total) without modulo bias worth mentioning.
        let mut point = ((u128::from(random) * u128::from(total)) >> 64) as u64;
        let pick = known
            .iter()
            .position(|s| {
                let w = u64::from(s.spare());
                if point < w {
                    true
                } else {
                    point -= w;
                    false
                }
            })
            .unwrap_or(0);
        let first = known.remove(pick);
        known.insert(0, first);
    }
    known.into_iter().chain(unknown).take(limit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CountryCode, ServerId};
    use proptest::prelude::*;

    fn server(id: &str, status: Status, clients: u32, capacity: u32, load_known: bool) -> ServerView {
        ServerView {
            id: ServerId::parse(id).unwrap(),
            hostname: format!("{id}.example.com"),
            ipv4: "192.0.2.1".into(),
            ipv6: None,
            country: CountryCode::parse("se").unwrap(),
            city: "Stockholm".into(),
            status,
            load: load_known.then(|| (clients * 100 / capacity) as u8),
            clients,
            capacity,
            features: vec![],
            last_seen: None,
        }
    }

    #[test]
    fn order_is_pick_then_load_then_unknown() {
        let s = vec![
            server("a", Status::Up, 90, 100, true),
            server("b", Status::Up, 10, 100, true),
            server("c", Status::Up, 50, 100, false),
            server("d", Status::Down, 0, 100, true),
            server("e", Status::Up, 100, 100, true),
        ];
        // random = 0 picks the first by load order (b).
        let r: Vec<&str> = recommend(&s, &ServerFilter::default(), 10, 0).iter().map(|s| s.id.as_str()).collect();
        assert_eq!(r, ["b", "a", "c"]);
        // random near max picks the last known one (a) first.
        let r: Vec<&str> = recommend(&s, &ServerFilter::default(), 2, u64::MAX).iter().map(|s| s.id.as_str()).collect();
        assert_eq!(r, ["a", "b"]);
    }

    #[test]
    fn spreads_by_spare_capacity() {
        let s = vec![server("a", Status::Up, 90, 100, true), server("b", Status::Up, 70, 100, true)];
        let mut counts = [0u32; 2];
        for i in 0..1000u64 {
            let r = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let first = recommend(&s, &ServerFilter::default(), 1, r)[0].id.as_str().to_owned();
            counts[(first == "b") as usize] += 1;
        }
        // spare 10 vs 30: about 1:3.
        assert!(counts[0] > 150 && counts[0] < 350, "{counts:?}");
    }

    #[test]
    fn limit_parsing() {
        assert_eq!(parse_limit(&[]).unwrap(), 3);
        assert_eq!(parse_limit(&[("limit".into(), "7".into())]).unwrap(), 7);
        assert!(parse_limit(&[("limit".into(), "0".into())]).is_err());
        assert!(parse_limit(&[("limit".into(), "x".into())]).is_err());
    }

    proptest! {
        /// Over many draws every up server with spare capacity is picked first at least
        /// once, and a full or down one never is.
        #[test]
        fn every_spare_server_is_chosen_and_full_or_down_never(
            // Spare capacity is either 0 (full) or at least 5, so 4000 draws surely see every one.
            specs in proptest::collection::vec(((0u32..=96).prop_map(|c| if c == 96 { 100 } else { c }), any::<bool>()), 1..8),
            seed in any::<u64>(),
        ) {
            let servers: Vec<ServerView> = specs.iter().enumerate().map(|(i, (clients, up))| {
                server(&format!("s{i}"), if *up { Status::Up } else { Status::Down }, *clients, 100, true)
            }).collect();
            let mut seen = std::collections::HashSet::new();
            let mut x = seed | 1;
            for _ in 0..4000 {
                // xorshift64
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                let r = recommend(&servers, &ServerFilter::default(), 1, x);
                if let Some(first) = r.first() {
                    prop_assert!(first.status == Status::Up);
                    prop_assert!(first.spare() > 0);
                    seen.insert(first.id.clone());
                }
            }
            for s in &servers {
                if s.status == Status::Up && s.spare() > 0 {
                    prop_assert!(seen.contains(&s.id), "{} never chosen", s.id);
                }
            }
        }
    }
}
