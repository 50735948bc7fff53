//! Rules of `recommend.rs` that mutation testing found unpinned (README "Recommendation").

use vpn_edge_core::fleet::{ServerFilter, ServerView, Status};
use vpn_edge_core::recommend::*;
use vpn_edge_core::types::{CountryCode, Degrees, GeoPoint, ServerId};

fn server(id: &str, status: Status, clients: u32, capacity: u32, load: Option<u8>) -> ServerView {
    ServerView {
        id: ServerId::parse(id).unwrap(),
        hostname: format!("{id}.example.com"),
        ipv4: "192.0.2.1".into(),
        ipv6: None,
        country: CountryCode::parse(if id.starts_with("de") { "de" } else { "se" }).unwrap(),
        city: "City".into(),
        status,
        load,
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

fn ids<'a>(v: Vec<Recommended<'a>>) -> Vec<&'a str> {
    v.into_iter().map(|r| r.server.id.as_str()).collect()
}

fn limit(v: &str) -> Result<usize, vpn_edge_core::api_error::RequestError> {
    parse_limit(&[("other".into(), "9".into()), ("limit".into(), v.into())])
}

#[test]
fn limit_is_one_to_fifty() {
    assert_eq!(limit("1").unwrap(), 1);
    assert_eq!(limit("50").unwrap(), 50);
    assert!(limit("51").is_err());
    assert!(limit("-1").is_err());
    assert_eq!(parse_limit(&[("other".into(), "9".into())]).unwrap(), DEFAULT_LIMIT);
}

#[test]
fn the_first_pick_maps_the_random_value_onto_spare_capacity() {
    // By load: b (spare 30) then a (spare 10): b covers slots [0, 30), a [30, 40).
    let s = [server("a", Status::Up, 90, 100, Some(90)), server("b", Status::Up, 70, 100, Some(70))];
    let first = |r: u64| recommend(&s, &ServerFilter::default(), 1, None, r)[0].server.id.as_str().to_owned();
    // slot = random × 40 / 2^64: 3 × 2^62 is exactly slot 30, the first of a.
    assert_eq!(first(0), "b");
    assert_eq!(first((3u64 << 62) - 1), "b");
    assert_eq!(first(3u64 << 62), "a");
    assert_eq!(first(u64::MAX), "a");
}

#[test]
fn the_first_pick_walks_past_several_servers() {
    // By load: c (spare 20), a (10), b (10): slots c [0, 20), a [20, 30), b [30, 40).
    let s = [
        server("a", Status::Up, 90, 100, Some(90)),
        server("b", Status::Up, 90, 100, Some(90)),
        server("c", Status::Up, 80, 100, Some(80)),
    ];
    let order = |r: u64| ids(recommend(&s, &ServerFilter::default(), 3, None, r));
    assert_eq!(order(0), ["c", "a", "b"]);
    assert_eq!(order((1u64 << 63) - 1), ["c", "a", "b"], "slot 19");
    assert_eq!(order(1u64 << 63), ["a", "c", "b"], "slot 20");
    assert_eq!(order(3u64 << 62), ["b", "c", "a"], "slot 30");
}

#[test]
fn servers_of_unknown_load_are_recommended_when_no_other_is() {
    let s = [server("a", Status::Up, 10, 100, None), server("b", Status::Up, 10, 100, None)];
    // Without a client position they form one band, shuffled by the random value.
    let mut got = ids(recommend(&s, &ServerFilter::default(), 5, None, 123));
    got.sort_unstable();
    assert_eq!(got, ["a", "b"]);
}

#[test]
fn full_and_maintenance_servers_are_never_recommended() {
    let s = [
        server("a", Status::Up, 100, 100, Some(100)),
        server("b", Status::Maintenance, 0, 100, Some(0)),
        server("c", Status::Up, 20, 100, Some(20)),
    ];
    for r in [0, 1 << 62, u64::MAX] {
        assert_eq!(ids(recommend(&s, &ServerFilter::default(), 5, None, r)), ["c"]);
    }
}

#[test]
fn equal_loads_are_ordered_by_id() {
    let s = [
        server("c", Status::Up, 50, 100, Some(50)),
        server("b", Status::Up, 50, 100, Some(50)),
        server("a", Status::Up, 50, 100, Some(50)),
    ];
    assert_eq!(ids(recommend(&s, &ServerFilter::default(), 3, None, 0)), ["a", "b", "c"]);
}

#[test]
fn filters_and_limit_apply() {
    let s = [
        server("de-1", Status::Up, 10, 100, Some(10)),
        server("se-1", Status::Up, 20, 100, Some(20)),
        server("se-2", Status::Up, 30, 100, Some(30)),
    ];
    let se = ServerFilter { country: Some(CountryCode::parse("se").unwrap()), ..Default::default() };
    assert_eq!(ids(recommend(&s, &se, 5, None, 0)), ["se-1", "se-2"]);
    assert_eq!(ids(recommend(&s, &ServerFilter::default(), 1, None, 0)), ["de-1"]);
}

fn located(mut s: ServerView, lat: f64, lon: f64) -> ServerView {
    s.latitude = Degrees::parse(lat, 90.0);
    s.longitude = Degrees::parse(lon, 180.0);
    s
}

#[test]
fn unknown_load_bands_are_500_km_wide_end_exclusive() {
    // Client at 0°N 0°E; along the meridian 4.4966° is 499.9998 km (5,000 thousandths of
    // a point once rounded: exactly the band's edge), 4.49° is 499.3 km (inside it).
    let client = GeoPoint::new(0.0, 0.0);
    let s = [
        located(server("edge", Status::Up, 0, 100, None), 4.4966, 0.0),
        located(server("inside", Status::Up, 0, 100, None), 4.49, 0.0),
        located(server("near", Status::Up, 0, 100, None), 0.0, 0.0),
    ];
    let mut firsts = std::collections::BTreeMap::new();
    for i in 0..1_000u64 {
        let r = i * (u64::MAX / 1_000);
        let got = ids(recommend(&s, &ServerFilter::default(), 3, client, r));
        assert_eq!(got[2], "edge", "a server a whole band farther is in the next band");
        *firsts.entry(got[0]).or_insert(0u64) += 1;
    }
    assert_eq!(firsts.keys().copied().collect::<Vec<_>>(), ["inside", "near"], "shuffled within the first band");
}
