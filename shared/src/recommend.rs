//! Which servers a VPN app should use (README "Recommendations").
//!
//! Candidates are the `up` servers matching the filters. Those with a known load need spare
//! capacity (`capacity - clients > 0`); full, down and maintenance servers are never
//! recommended.
//!
//! - **Without a client position** the first pick is drawn at random weighted by spare
//!   capacity, and the rest follow by load.
//! - **With a position** each candidate gets a score, lower is better:
//!   one point per [`KM_PER_POINT`] km of great-circle distance plus one point per
//!   [`LOAD_PCT_PER_POINT`] % of load (a server without coordinates counts as
//!   [`UNLOCATED_KM`] away). The first pick is drawn among the candidates scoring less than
//!   [`BAND_POINTS`] above the best, weighted by spare capacity × how far inside the band
//!   they are; the rest follow by score. So a server scoring a full band worse than another
//!   candidate with room is never picked first, and equal candidates are picked equally
//!   often.
//! - **Servers of unknown load** (heartbeats stopped, or http/tcp probed without an agent)
//!   come after the known ones, in random order; with a position, by distance first (nearest
//!   band of [`BAND_POINTS`] × [`KM_PER_POINT`] km first, shuffled within it).
//!
//! The caller supplies one uniformly random `u64`; the first draw uses it directly (so a
//! test can sweep it), further shuffling derives more values from it with SplitMix64.

use crate::api_error::RequestError;
use crate::fleet::{ServerFilter, ServerView, Status};
use crate::types::GeoPoint;
use serde::Serialize;

pub const DEFAULT_LIMIT: usize = 3;
pub const MAX_LIMIT: usize = 50;

/// One score point per this many km of distance.
pub const KM_PER_POINT: f64 = 100.0;
/// One score point per this many percent of load (a full server costs 20 points, 2,000 km).
pub const LOAD_PCT_PER_POINT: u32 = 5;
/// The score band of the first draw: candidates within this many points of the best.
pub const BAND_POINTS: u64 = 5;
/// Distance assumed for a server without coordinates: half the Earth's circumference, so a
/// located server always scores better at equal load.
pub const UNLOCATED_KM: f64 = 20_015.0;

/// Scores are kept in thousandths of a point so they compare exactly.
const MILLI: u64 = 1000;
const BAND: u64 = BAND_POINTS * MILLI;

pub fn parse_limit(pairs: &[(String, String)]) -> Result<usize, RequestError> {
    match pairs.iter().find(|(k, _)| k == "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some((_, v)) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(RequestError::field("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
        },
    }
}

/// The client's position: `?lat=&lon=` when the app sends it (both or neither, validated),
/// else the edge's request metadata (`request.cf` latitude/longitude strings, ignored when
/// unusable), else none.
pub fn client_position(pairs: &[(String, String)], cf: Option<(&str, &str)>) -> Result<Option<GeoPoint>, RequestError> {
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let num = |name: &'static str, v: &str, limit: f64| {
        crate::float::parse_f64(v.trim())
            .filter(|x| x.is_finite() && (-limit..=limit).contains(x))
            .ok_or_else(|| RequestError::field(name, format!("must be decimal degrees from -{limit} to {limit}")))
    };
    match (get("lat"), get("lon")) {
        (Some(lat), Some(lon)) => Ok(GeoPoint::new(num("lat", lat, 90.0)?, num("lon", lon, 180.0)?)),
        (Some(_), None) => Err(RequestError::field("lon", "is required when lat is given")),
        (None, Some(_)) => Err(RequestError::field("lat", "is required when lon is given")),
        (None, None) => Ok(cf.and_then(|(lat, lon)| {
            GeoPoint::new(crate::float::parse_f64(lat.trim())?, crate::float::parse_f64(lon.trim())?)
        })),
    }
}

/// One recommended server as the API shows it: the `Server` plus, when the client's
/// position is known, `distance_km` (rounded; `null` for a server without coordinates).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommended<'a> {
    #[serde(flatten)]
    pub server: &'a ServerView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<Option<u32>>,
}

struct Candidate<'a> {
    server: &'a ServerView,
    km: Option<f64>,
    score: u64,
}

fn distance_milli(km: Option<f64>) -> u64 {
    // 1000 per KM_PER_POINT km.
    (km.unwrap_or(UNLOCATED_KM) * (MILLI as f64) / KM_PER_POINT).round() as u64
}

/// SplitMix64: more random values from the one the caller drew.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `random` mapped onto `0..n` (multiply-shift: no modulo bias worth mentioning).
fn below(random: u64, n: u64) -> u64 {
    ((u128::from(random) * u128::from(n)) >> 64) as u64
}

/// Index of a weighted draw; `None` when every weight is zero.
fn weighted(weights: &[u64], random: u64) -> Option<usize> {
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut point = below(random, total);
    weights.iter().position(|&w| {
        if point < w {
            true
        } else {
            point -= w;
            false
        }
    })
}

/// `random` is a uniformly random 64-bit value supplied by the caller; `client` the
/// client's position if known.
pub fn recommend<'a>(
    servers: &'a [ServerView],
    filter: &ServerFilter,
    limit: usize,
    client: Option<GeoPoint>,
    random: u64,
) -> Vec<Recommended<'a>> {
    let mut draws = std::iter::once(random).chain({
        let mut rng = SplitMix(random);
        std::iter::from_fn(move || Some(rng.next()))
    });
    let candidate = |s: &'a ServerView| {
        let km = client.and_then(|c| s.position().map(|p| c.distance_km(p)));
        let load = u64::from(s.load.unwrap_or(0));
        let score = match client {
            Some(_) => distance_milli(km) + load * MILLI / u64::from(LOAD_PCT_PER_POINT),
            None => load,
        };
        Candidate { server: s, km, score }
    };
    let eligible = |s: &&ServerView| s.status == Status::Up && filter.matches(s);
    let mut known: Vec<Candidate> =
        servers.iter().filter(eligible).filter(|s| s.load.is_some() && s.spare() > 0).map(candidate).collect();
    let mut unknown: Vec<Candidate> =
        servers.iter().filter(eligible).filter(|s| s.load.is_none()).map(candidate).collect();
    crate::sort::sort_by(&mut known, |a, b| a.score.cmp(&b.score).then_with(|| a.server.id.cmp(&b.server.id)));

    if let Some(best) = known.first().map(|c| c.score) {
        let weights: Vec<u64> = known
            .iter()
            .map(|c| {
                let spare = u64::from(c.server.spare());
                match client {
                    // Inside the band: spare capacity × the distance to the band's edge.
                    Some(_) => spare * BAND.saturating_sub(c.score - best),
                    None => spare,
                }
            })
            .collect();
        let r = draws.next().unwrap_or(random);
        if let Some(pick) = weighted(&weights, r) {
            let first = known.remove(pick);
            known.insert(0, first);
        }
    }

    // Unknown load: random order, nearest band first when the position is known.
    crate::sort::sort_by(&mut unknown, |a, b| {
        distance_milli(a.km).cmp(&distance_milli(b.km)).then_with(|| a.server.id.cmp(&b.server.id))
    });
    let mut start = 0;
    while start < unknown.len() {
        let edge = if client.is_some() { distance_milli(unknown[start].km) + BAND } else { u64::MAX };
        let end = start + unknown[start..].iter().take_while(|c| distance_milli(c.km) < edge).count();
        // Fisher-Yates over unknown[start..end].
        for i in start..end.saturating_sub(1) {
            let j = i + below(draws.next().unwrap_or(0), (end - i) as u64) as usize;
            unknown.swap(i, j);
        }
        start = end.max(start + 1);
    }

    known
        .into_iter()
        .chain(unknown)
        .take(limit)
        .map(|c| Recommended { server: c.server, distance_km: client.map(|_| c.km.map(|k| k.round() as u32)) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CountryCode, Degrees, ServerId};
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
            latitude: None,
            longitude: None,
            checks: None,
            checked_at: None,
        }
    }

    fn at(mut s: ServerView, lat: f64, lon: f64) -> ServerView {
        s.latitude = Degrees::parse(lat, 90.0);
        s.longitude = Degrees::parse(lon, 180.0);
        s
    }

    fn ids(r: &[Recommended]) -> Vec<String> {
        r.iter().map(|c| c.server.id.to_string()).collect()
    }

    /// `n` random values evenly spread over the whole u64 range: a sweep of the draw that
    /// measures its probabilities exactly instead of sampling them.
    fn sweep(n: u64) -> impl Iterator<Item = u64> {
        let step = u64::MAX / n;
        (0..n).map(move |i| i * step + step / 2)
    }

    const OSLO: (f64, f64) = (59.9139, 10.7522);
    const STOCKHOLM: (f64, f64) = (59.3293, 18.0686);
    const FRANKFURT: (f64, f64) = (50.1109, 8.6821);
    const TOKYO: (f64, f64) = (35.6762, 139.6503);
    const NEW_YORK: (f64, f64) = (40.7128, -74.0060);
    const SYDNEY: (f64, f64) = (-33.8688, 151.2093);

    fn oslo() -> Option<GeoPoint> {
        GeoPoint::new(OSLO.0, OSLO.1)
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
        let r = recommend(&s, &ServerFilter::default(), 10, None, 0);
        assert_eq!(ids(&r), ["b", "a", "c"]);
        assert!(r.iter().all(|c| c.distance_km.is_none()), "no position, no distance");
        // random near max picks the last known one (a) first.
        assert_eq!(ids(&recommend(&s, &ServerFilter::default(), 2, None, u64::MAX)), ["a", "b"]);
    }

    #[test]
    fn without_a_position_the_draw_is_proportional_to_spare_capacity() {
        // spare 10 : 30 : 60, and loads deliberately not in id order.
        let s = vec![
            server("a", Status::Up, 90, 100, true),
            server("b", Status::Up, 70, 100, true),
            server("c", Status::Up, 40, 100, true),
        ];
        let mut counts = [0u64; 3];
        for r in sweep(10_000) {
            let first = recommend(&s, &ServerFilter::default(), 1, None, r)[0].server.id.to_string();
            counts[(first.as_bytes()[0] - b'a') as usize] += 1;
        }
        assert_eq!(counts, [1_000, 3_000, 6_000]);
    }

    #[test]
    fn the_issue_example_near_at_40_beats_far_at_5() {
        let near = at(server("near", Status::Up, 40, 100, true), STOCKHOLM.0, STOCKHOLM.1);
        let far = at(server("far", Status::Up, 5, 100, true), TOKYO.0, TOKYO.1);
        let s = [far, near];
        for r in sweep(1_000) {
            let got = recommend(&s, &ServerFilter::default(), 2, oslo(), r);
            assert_eq!(ids(&got), ["near", "far"]);
            assert_eq!(got[0].distance_km, Some(Some(416)));
        }
    }

    #[test]
    fn a_nearby_full_server_is_never_picked() {
        let full = at(server("full", Status::Up, 100, 100, true), OSLO.0, OSLO.1);
        let free = at(server("free", Status::Up, 90, 100, true), FRANKFURT.0, FRANKFURT.1);
        let s = [full, free];
        for r in sweep(1_000) {
            assert_eq!(ids(&recommend(&s, &ServerFilter::default(), 3, oslo(), r)), ["free"]);
        }
    }

    #[test]
    fn worked_example_from_the_readme() {
        // Oslo client. Scores: distance / 100 km + load / 5 %.
        let s = vec![
            at(server("se-1", Status::Up, 20, 100, true), STOCKHOLM.0, STOCKHOLM.1), // 4.163 + 4 = 8.163
            at(server("se-2", Status::Up, 40, 100, true), STOCKHOLM.0, STOCKHOLM.1), // 4.163 + 8 = 12.163
            at(server("de-1", Status::Up, 10, 100, true), FRANKFURT.0, FRANKFURT.1), // 10.979 + 2 = 12.979
            at(server("us-1", Status::Up, 0, 100, true), NEW_YORK.0, NEW_YORK.1),    // 59.149 + 0
        ];
        let mut counts = std::collections::BTreeMap::new();
        for r in sweep(100_000) {
            *counts
                .entry(recommend(&s, &ServerFilter::default(), 1, oslo(), r)[0].server.id.to_string())
                .or_insert(0u64) += 1;
        }
        // Band: below 8.163 + 5 = 13.163. Weights (spare × thousandths inside the band):
        // se-1 80 × 5000, se-2 60 × 1000, de-1 90 × 184.
        let w = [80u64 * 5000, 60 * 1000, 90 * 184];
        let total: u64 = w.iter().sum();
        let expect = |wi: u64| wi * 100_000 / total;
        let got = |k: &str| *counts.get(k).unwrap_or(&0);
        assert!(got("se-1").abs_diff(expect(w[0])) <= 2, "{counts:?}");
        assert!(got("se-2").abs_diff(expect(w[1])) <= 2, "{counts:?}");
        assert!(got("de-1").abs_diff(expect(w[2])) <= 2, "{counts:?}");
        assert_eq!(got("us-1"), 0);
        let all = recommend(&s, &ServerFilter::default(), 4, oslo(), 0);
        assert_eq!(ids(&all), ["se-1", "se-2", "de-1", "us-1"], "the rest by score");
        assert_eq!(
            all.iter().map(|c| c.distance_km.flatten()).collect::<Vec<_>>(),
            [Some(416), Some(416), Some(1098), Some(5915)]
        );
    }

    #[test]
    fn unknown_load_is_drawn_at_random_never_by_id() {
        let s: Vec<ServerView> = (0..4).map(|i| server(&format!("u{i}"), Status::Up, 0, 100, false)).collect();
        let mut counts = [0u64; 4];
        for r in sweep(4_000) {
            let first = recommend(&s, &ServerFilter::default(), 1, None, r)[0].server.id.to_string();
            counts[(first.as_bytes()[1] - b'0') as usize] += 1;
        }
        assert_eq!(counts, [1_000; 4]);
    }

    #[test]
    fn unknown_load_with_a_position_nearest_band_first() {
        let s = vec![
            at(server("tokyo", Status::Up, 0, 100, false), TOKYO.0, TOKYO.1),
            at(server("sto-a", Status::Up, 0, 100, false), STOCKHOLM.0, STOCKHOLM.1),
            at(server("sto-b", Status::Up, 0, 100, false), STOCKHOLM.0 + 0.1, STOCKHOLM.1),
            at(server("sydney", Status::Up, 0, 100, false), SYDNEY.0, SYDNEY.1),
        ];
        let mut firsts = std::collections::BTreeMap::new();
        for r in sweep(1_000) {
            let got = recommend(&s, &ServerFilter::default(), 4, oslo(), r);
            assert_eq!(ids(&got)[2..], ["tokyo", "sydney"]);
            *firsts.entry(ids(&got)[0].clone()).or_insert(0) += 1;
        }
        assert_eq!(firsts.values().copied().collect::<Vec<u64>>(), [500, 500]);
    }

    #[test]
    fn further_draws_are_splitmix64_as_published() {
        // The reference outputs of Vigna's splitmix64.c for the seeds 1234567 and 0.
        let mut rng = SplitMix(1_234_567);
        let got: Vec<u64> = (0..5).map(|_| rng.next()).collect();
        assert_eq!(
            got,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423,
                4_593_380_528_125_082_431,
                16_408_922_859_458_223_821
            ]
        );
        let mut zero = SplitMix(0);
        assert_eq!([zero.next(), zero.next()], [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4]);
    }

    #[test]
    fn unknown_load_servers_come_in_every_order_equally_often() {
        // Three servers: the first place uses the caller's value, the second a SplitMix
        // draw; a draw stuck on one value would leave the last two always in one order.
        let s: Vec<ServerView> = (0..3).map(|i| server(&format!("u{i}"), Status::Up, 0, 100, false)).collect();
        let mut orders = std::collections::BTreeMap::new();
        for r in sweep(6_000) {
            *orders.entry(ids(&recommend(&s, &ServerFilter::default(), 3, None, r))).or_insert(0u64) += 1;
        }
        assert_eq!(orders.len(), 6, "{orders:?}");
        for n in orders.values() {
            assert!(n.abs_diff(1_000) <= 100, "{orders:?}");
        }
    }

    #[test]
    fn limit_parsing() {
        assert_eq!(parse_limit(&[]).unwrap(), 3);
        assert_eq!(parse_limit(&[("limit".into(), "7".into())]).unwrap(), 7);
        assert!(parse_limit(&[("limit".into(), "0".into())]).is_err());
        assert!(parse_limit(&[("limit".into(), "x".into())]).is_err());
    }

    #[test]
    fn client_position_query_then_cf_then_none() {
        let q = |s: &str| crate::request::query_pairs(s);
        let cf = Some(("30.27130", "-97.74260"));
        assert_eq!(client_position(&q("lat=59.91&lon=10.75"), cf).unwrap(), GeoPoint::new(59.91, 10.75));
        assert_eq!(client_position(&q("country=se"), cf).unwrap(), GeoPoint::new(30.2713, -97.7426));
        assert_eq!(client_position(&q(""), None).unwrap(), None);
        assert_eq!(client_position(&q(""), Some(("garbage", "1"))).unwrap(), None, "unusable metadata is ignored");
        for (query, field) in [
            ("lat=91&lon=0", "lat"),
            ("lat=x&lon=0", "lat"),
            ("lat=NaN&lon=0", "lat"),
            ("lat=0&lon=180.5", "lon"),
            ("lat=0&lon=inf", "lon"),
            ("lat=0", "lon"),
            ("lon=0", "lat"),
            ("lat=&lon=1", "lat"),
        ] {
            match client_position(&q(query), cf) {
                Err(RequestError::Field { field: f, .. }) => assert_eq!(f, field, "{query}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    fn city() -> impl Strategy<Value = (f64, f64)> {
        prop_oneof![Just(STOCKHOLM), Just(FRANKFURT), Just(TOKYO), Just(NEW_YORK), Just(SYDNEY), Just(OSLO)]
    }

    proptest! {
        /// Never a full, down or maintenance server; never a first pick scoring a band or
        /// more worse than a candidate with room; and with a position, never a server over
        /// (BAND_POINTS + 20) × 100 km = 2,500 km farther than a candidate with room (the
        /// load term is at most 20 points).
        #[test]
        fn never_full_down_or_out_of_band(
            specs in proptest::collection::vec((0u32..=100, 0u8..3, city(), any::<bool>()), 1..8),
            client in prop::option::of(city()),
            random in any::<u64>(),
        ) {
            let servers: Vec<ServerView> = specs.iter().enumerate().map(|(i, (clients, st, pos, located))| {
                let status = [Status::Up, Status::Down, Status::Maintenance][*st as usize];
                let s = server(&format!("s{i}"), status, *clients, 100, true);
                if *located { at(s, pos.0, pos.1) } else { s }
            }).collect();
            let client = client.and_then(|c| GeoPoint::new(c.0, c.1));
            let r = recommend(&servers, &ServerFilter::default(), 8, client, random);
            for c in &r {
                prop_assert!(c.server.status == Status::Up && c.server.spare() > 0);
            }
            let open: Vec<&ServerView> = servers.iter().filter(|s| s.status == Status::Up && s.spare() > 0).collect();
            prop_assert_eq!(r.len(), open.len());
            if let (Some(first), Some(client)) = (r.first(), client) {
                let score = |s: &ServerView| {
                    distance_milli(s.position().map(|p| client.distance_km(p))) + u64::from(s.load.unwrap()) * 200
                };
                let best = open.iter().map(|s| score(s)).min().unwrap();
                prop_assert!(score(first.server) < best + BAND, "first {} scores {} vs best {}", first.server.id, score(first.server), best);
                let km = |s: &ServerView| s.position().map(|p| client.distance_km(p)).unwrap_or(UNLOCATED_KM);
                let nearest = open.iter().map(|s| km(s)).fold(f64::MAX, f64::min);
                prop_assert!(km(first.server) <= nearest + 2_500.0);
            }
        }

        /// Equal candidates (same place, same load, same capacity) are picked first equally
        /// often: over a sweep of 12,000 evenly spread random values each gets its share
        /// within 1 % (the sweep measures the probabilities, so the tolerance only absorbs
        /// rounding), with or without a position, and with a worse candidate beside them.
        #[test]
        fn equal_candidates_spread_uniformly(
            n in 2usize..7,
            clients in 0u32..100,
            place in city(),
            with_client in any::<bool>(),
        ) {
            let mut servers: Vec<ServerView> = (0..n)
                .map(|i| at(server(&format!("e{i}"), Status::Up, clients, 100, true), place.0, place.1))
                .collect();
            // A clearly worse candidate: farther away by 3,000 km or fuller.
            servers.push(at(server("worse", Status::Up, 99, 100, true), -place.0, place.1 + 90.0));
            let client = with_client.then(|| GeoPoint::new(place.0, place.1)).flatten();
            let draws = 12_000u64;
            let mut counts = vec![0u64; n];
            let mut worse = 0u64;
            for r in sweep(draws) {
                let first = recommend(&servers, &ServerFilter::default(), 1, client, r);
                match first[0].server.id.as_str().strip_prefix('e') {
                    Some(i) => counts[i.parse::<usize>().unwrap()] += 1,
                    None => worse += 1,
                }
            }
            let equal_total = draws - worse;
            let share = equal_total as f64 / n as f64;
            for c in &counts {
                prop_assert!((*c as f64 - share).abs() <= share * 0.01 + 1.0, "{counts:?}");
            }
        }
    }
}
