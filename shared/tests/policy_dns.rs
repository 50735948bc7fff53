//! Rules of `dns.rs` that mutation testing found unpinned (README "Health checks that edit DNS").

use serde_json::json;
use std::net::IpAddr;
use vpn_edge_core::dns::*;
use vpn_edge_core::fleet::{ServerView, Status};
use vpn_edge_core::types::{CountryCode, ServerId};

const POOL: &str = "pool.prd.se.example.com";

fn rec(content: &str, owned: bool) -> DnsRecord {
    let ip: IpAddr = content.parse().unwrap();
    DnsRecord {
        id: Some(format!("id-{content}")),
        name: POOL.into(),
        rtype: RecordType::of(&ip),
        content: content.into(),
        ttl: 60,
        owned,
    }
}

fn ips(v: &[&str]) -> Vec<IpAddr> {
    v.iter().map(|s| s.parse().unwrap()).collect()
}

fn server(id: &str, country: &str, status: Status, ipv4: &str, ipv6: Option<&str>) -> ServerView {
    ServerView {
        id: ServerId::parse(id).unwrap(),
        hostname: format!("{id}.example.com"),
        ipv4: ipv4.into(),
        ipv6: ipv6.map(str::to_owned),
        country: CountryCode::parse(country).unwrap(),
        city: "City".into(),
        status,
        load: None,
        clients: 0,
        capacity: 100,
        features: vec![],
        last_seen: None,
        latitude: None,
        longitude: None,
        checks: None,
        checked_at: None,
    }
}

#[test]
fn record_type_parses_a_and_aaaa_only() {
    assert_eq!(RecordType::parse("A"), Some(RecordType::A));
    assert_eq!(RecordType::parse("AAAA"), Some(RecordType::Aaaa));
    assert_eq!(RecordType::parse("CNAME"), None);
    assert_eq!(RecordType::parse("aaaa"), None);
    assert_eq!(RecordType::Aaaa.as_str(), "AAAA");
    assert_eq!(RecordType::A.as_str(), "A");
}

#[test]
fn cloudflare_list_query_selects_this_edges_records_by_comment() {
    assert_eq!(cloudflare_list_query(2), "comment.exact=vpn-edge&per_page=500&page=2");
}

#[test]
fn cloudflare_name_query_selects_everything_at_the_pool_name() {
    assert_eq!(cloudflare_name_query(POOL), "name.exact=pool.prd.se.example.com&per_page=500");
}

#[test]
fn cloudflare_list_parses_aaaa_records_and_defaults() {
    let page = json!({ "success": true, "result": [
        { "id": "b1", "name": "Pool.PRD.se.example.com", "type": "AAAA", "content": "2001:db8::1", "comment": "vpn-edge" },
        { "id": "c1", "name": "pool.prd.se.example.com", "type": "CNAME", "content": "x.example.com", "ttl": 60 }
    ] });
    let (recs, pages) = cloudflare_parse_list(&page.to_string()).unwrap();
    assert_eq!(pages, 1, "one page when result_info is absent");
    assert_eq!(
        recs,
        vec![DnsRecord {
            id: Some("b1".into()),
            name: POOL.into(),
            rtype: RecordType::Aaaa,
            content: "2001:db8::1".into(),
            ttl: 1,
            owned: true,
        }]
    );
}

#[test]
fn powerdns_zone_parses_aaaa_rrsets() {
    let zone = json!({ "rrsets": [
        { "name": "pool.prd.se.example.com.", "type": "AAAA", "ttl": 300, "records": [{ "content": "2001:db8::1" }] }
    ] });
    let parsed = powerdns_parse_zone(&zone.to_string(), &[POOL.to_string()]).unwrap();
    assert_eq!(
        parsed,
        vec![DnsRecord {
            id: None,
            name: POOL.into(),
            rtype: RecordType::Aaaa,
            content: "2001:db8::1".into(),
            ttl: 300,
            owned: true,
        }]
    );
}

#[test]
fn powerdns_patch_replaces_the_aaaa_rrset_with_its_final_records() {
    let p = plan_pool(POOL, "se", &ips(&["2001:db8::2"]), &[rec("2001:db8::1", true)], 60, 100, false);
    assert_eq!(
        powerdns_patch(&p),
        json!({ "rrsets": [{ "name": "pool.prd.se.example.com.", "type": "AAAA", "ttl": 60, "changetype": "REPLACE",
            "records": [{ "content": "2001:db8::2", "disabled": false }] }] })
    );
}

#[test]
fn desired_pools_lists_each_country_pool_with_its_up_servers_addresses() {
    let servers = [
        server("se-1", "se", Status::Up, "192.0.2.1", Some("2001:db8::1")),
        server("de-1", "de", Status::Up, "192.0.2.5", None),
        server("se-2", "se", Status::Up, "192.0.2.2", None),
        server("se-3", "se", Status::Down, "192.0.2.3", Some("2001:db8::3")),
        server("fr-1", "fr", Status::Maintenance, "192.0.2.9", None),
    ];
    let pools = desired_pools(&servers, "pool.prd", "example.com");
    assert_eq!(
        pools,
        vec![
            ("pool.prd.de.example.com".to_string(), "de".to_string(), ips(&["192.0.2.5"])),
            // A pool whose servers are all out is listed with no address: the plan freezes it.
            ("pool.prd.fr.example.com".to_string(), "fr".to_string(), vec![]),
            ("pool.prd.se.example.com".to_string(), "se".to_string(), ips(&["192.0.2.1", "2001:db8::1", "192.0.2.2"])),
        ]
    );
}

#[test]
fn an_unowned_record_at_another_name_does_not_block_a_create() {
    let mut elsewhere = rec("192.0.2.1", false);
    elsewhere.name = "www.example.com".into();
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &[elsewhere], 60, 30, false);
    assert_eq!(p.creates, vec![NewRecord { rtype: RecordType::A, content: "192.0.2.1".into() }]);
}

#[test]
fn an_owned_record_at_another_name_is_not_part_of_the_pool() {
    let mut elsewhere = rec("192.0.2.7", true);
    elsewhere.name = "pool.prd.de.example.com".into();
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &[elsewhere], 60, 100, false);
    assert!(p.deletes.is_empty());
    assert_eq!(p.creates.len(), 1);
}

#[test]
fn deleting_a_duplicate_keeps_the_address() {
    let current = [rec("192.0.2.1", true), rec("192.0.2.1", true)];
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &current, 60, 100, false);
    assert_eq!(p.deletes.len(), 1);
    assert_eq!(p.result().into_iter().collect::<Vec<_>>(), vec![(RecordType::A, "192.0.2.1".to_string())]);
}

#[test]
fn deleting_a_duplicate_and_another_address_keeps_the_duplicated_one() {
    // Two deletions of the same type: only the one matching an address counts against its copies.
    let current = [rec("192.0.2.1", true), rec("192.0.2.1", true), rec("192.0.2.2", true)];
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &current, 60, 100, false);
    assert_eq!(p.deletes.len(), 2);
    assert_eq!(p.result().into_iter().collect::<Vec<_>>(), vec![(RecordType::A, "192.0.2.1".to_string())]);
}

#[test]
fn deleting_every_copy_removes_the_address() {
    let current = [rec("192.0.2.1", true), rec("192.0.2.2", true), rec("192.0.2.2", true)];
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &current, 60, 100, false);
    assert_eq!(p.deletes.len(), 2);
    assert_eq!(p.result().into_iter().collect::<Vec<_>>(), vec![(RecordType::A, "192.0.2.1".to_string())]);
}

#[test]
fn a_plan_with_only_ttl_fixes_is_not_a_noop() {
    let mut r = rec("192.0.2.1", true);
    r.ttl = 300;
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &[r], 60, 100, false);
    assert!(!p.is_noop());
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1", "192.0.2.2"]), &[rec("192.0.2.1", true)], 60, 100, false);
    assert!(!p.is_noop(), "creates only");
    let p =
        plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &[rec("192.0.2.1", true), rec("192.0.2.2", true)], 60, 100, false);
    assert!(!p.is_noop(), "deletes only");
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &[rec("192.0.2.1", true)], 60, 100, false);
    assert!(p.is_noop());
}

#[test]
fn cloudflare_batch_patches_ttl_fixes_to_the_pool_ttl() {
    let mut r = rec("192.0.2.1", true);
    r.ttl = 300;
    let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &[r], 60, 100, false);
    assert_eq!(
        cloudflare_batch(&p),
        json!({ "deletes": [], "patches": [{ "id": "id-192.0.2.1", "ttl": 60 }], "posts": [] })
    );
}

#[test]
fn delete_cap_is_a_percentage_of_the_pool_and_at_least_one() {
    assert_eq!(delete_cap(10, 30), 3);
    assert_eq!(delete_cap(20, 50), 10);
    assert_eq!(delete_cap(3, 10), 1);
    assert_eq!(delete_cap(0, 30), 1);
}
