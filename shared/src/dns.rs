//! DNS pool reconciliation (README "DNS pools"): desired addresses vs the provider's records
//! → a plan per pool, with the safety rules: only owned records, a pool with no up
//! server is frozen, at most `MAX_DELETE_PCT` % of a pool's records deleted per round (at
//! least one), never a plan that empties a pool. Also the providers' wire formats, so the
//! Worker only sends and receives.

use crate::sort::SortedSet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::IpAddr;

/// Cloudflare record comment that marks the records this edge owns.
pub const OWNER_COMMENT: &str = "vpn-edge";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
}

impl RecordType {
    pub fn of(ip: &IpAddr) -> Self {
        if ip.is_ipv4() {
            Self::A
        } else {
            Self::Aaaa
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "A" => Some(Self::A),
            "AAAA" => Some(Self::Aaaa),
            _ => None,
        }
    }
}

/// A record as the provider holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    /// Cloudflare's record id; PowerDNS has none.
    pub id: Option<String>,
    pub name: String,
    pub rtype: RecordType,
    pub content: String,
    pub ttl: u32,
    pub owned: bool,
}

crate::map_struct::map_struct!(DnsRecord { id: default, name, rtype, content, ttl, owned });

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRecord {
    pub rtype: RecordType,
    pub content: String,
}

crate::map_struct::map_struct!(NewRecord { rtype, content });

/// The changes for one pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolPlan {
    pub pool: String,
    pub country: String,
    pub ttl: u32,
    pub frozen: bool,
    pub creates: Vec<NewRecord>,
    pub deletes: Vec<DnsRecord>,
    /// Owned records with the right address but the wrong TTL.
    pub ttl_fixes: Vec<DnsRecord>,
    /// Deletions held back by the cap for a later round.
    pub deferred_deletes: usize,
    /// The owned records as they are now (PowerDNS replaces whole rrsets from these).
    #[serde(skip)]
    pub current: Vec<DnsRecord>,
}

crate::map_struct::map_struct!(PoolPlan {
    pool,
    country,
    ttl,
    frozen,
    creates,
    deletes,
    ttl_fixes,
    deferred_deletes,
} skip { current });

impl PoolPlan {
    pub fn is_noop(&self) -> bool {
        self.creates.is_empty() && self.deletes.is_empty() && self.ttl_fixes.is_empty()
    }

    /// The owned records after the plan, by type and address.
    pub fn result(&self) -> SortedSet<(RecordType, String)> {
        let mut set: SortedSet<(RecordType, String)> =
            self.current.iter().map(|r| (r.rtype, normalise(&r.content))).collect();
        for d in &self.deletes {
            // Duplicates of a kept address delete one copy, not the address.
            let copies = self
                .current
                .iter()
                .filter(|r| r.rtype == d.rtype && normalise(&r.content) == normalise(&d.content))
                .count();
            let deleted = self
                .deletes
                .iter()
                .filter(|x| x.rtype == d.rtype && normalise(&x.content) == normalise(&d.content))
                .count();
            if deleted >= copies {
                set.remove(&(d.rtype, normalise(&d.content)));
            }
        }
        for c in &self.creates {
            set.insert((c.rtype, normalise(&c.content)));
        }
        set
    }
}

/// Addresses compared in canonical form (providers may spell IPv6 differently).
pub fn normalise(content: &str) -> String {
    content.parse::<IpAddr>().map(|ip| ip.to_string()).unwrap_or_else(|_| content.to_owned())
}

/// Plan one pool. `up` are the addresses of the pool's up servers; `records` what the
/// provider has at the pool's name (owned or not: unowned ones are never touched).
pub fn plan_pool(
    pool: &str,
    country: &str,
    up: &[IpAddr],
    records: &[DnsRecord],
    ttl: u32,
    max_delete_pct: u32,
    force: bool,
) -> PoolPlan {
    let owned: Vec<DnsRecord> =
        records.iter().filter(|r| r.owned && r.name.eq_ignore_ascii_case(pool)).cloned().collect();
    let mut plan = PoolPlan {
        pool: pool.to_owned(),
        country: country.to_owned(),
        ttl,
        frozen: false,
        creates: vec![],
        deletes: vec![],
        ttl_fixes: vec![],
        deferred_deletes: 0,
        current: owned.clone(),
    };
    if up.is_empty() {
        // As Route 53 answers with every record when all are unhealthy: keep the pool as is.
        plan.frozen = true;
        return plan;
    }
    let desired: SortedSet<(RecordType, String)> = up.iter().map(|ip| (RecordType::of(ip), ip.to_string())).collect();
    let mut seen: SortedSet<(RecordType, String)> = SortedSet::default();
    let mut candidates = Vec::new();
    for r in &owned {
        let key = (r.rtype, normalise(&r.content));
        if desired.contains(&key) && seen.insert(key) {
            if r.ttl != ttl {
                plan.ttl_fixes.push(r.clone());
            }
        } else {
            // Not wanted, unparseable, or a duplicate of a kept address.
            candidates.push(r.clone());
        }
    }
    // An address someone else already publishes at the pool name is served: creating ours
    // would duplicate it (Cloudflare refuses identical records, failing the whole batch).
    let foreign: SortedSet<(RecordType, String)> = records
        .iter()
        .filter(|r| !r.owned && r.name.eq_ignore_ascii_case(pool))
        .map(|r| (r.rtype, normalise(&r.content)))
        .collect();
    plan.creates = desired
        .iter()
        .filter(|k| !seen.contains(*k) && !foreign.contains(*k))
        .map(|(t, c)| NewRecord { rtype: *t, content: c.clone() })
        .collect();
    crate::sort::sort_by_key(&mut candidates, |r| (r.rtype, normalise(&r.content)));
    let cap = if force { usize::MAX } else { delete_cap(owned.len(), max_delete_pct) };
    plan.deferred_deletes = candidates.len().saturating_sub(cap);
    candidates.truncate(cap);
    plan.deletes = candidates;
    plan
}

/// At most `pct` % of a pool's records per round, and at least one.
pub fn delete_cap(records: usize, pct: u32) -> usize {
    (records * pct as usize / 100).max(1)
}

/// Each country pool's name and the addresses of its up servers (A and AAAA).
pub fn desired_pools(
    servers: &[crate::fleet::ServerView],
    prefix: &str,
    zone: &str,
) -> Vec<(String, String, Vec<IpAddr>)> {
    let mut out: Vec<(String, String, Vec<IpAddr>)> = Vec::new();
    for s in servers {
        let pool = crate::fleet::pool_name(prefix, &s.country, zone);
        let i = match out.iter().position(|(p, _, _)| *p == pool) {
            Some(i) => i,
            None => {
                out.push((pool, s.country.to_string(), Vec::new()));
                out.len() - 1
            }
        };
        if s.status == crate::fleet::Status::Up {
            out[i].2.extend(s.ipv4.parse::<IpAddr>().ok());
            out[i].2.extend(s.ipv6.as_deref().and_then(|v| v.parse::<IpAddr>().ok()));
        }
    }
    crate::sort::sort(&mut out);
    out
}

// ---- Cloudflare API v4 ----

/// Query for one page of this edge's records (owned = comment `vpn-edge`), all pools at once.
pub fn cloudflare_list_query(page: u32) -> String {
    format!("comment.exact={OWNER_COMMENT}&per_page=500&page={page}")
}

/// Query for everything at one pool name (to see records this edge does not own before
/// creating: Cloudflare refuses an identical record and fails the whole batch).
pub fn cloudflare_name_query(pool: &str) -> String {
    format!("name.exact={pool}&per_page=500")
}

/// Records and `total_pages` from a list page; `None` when the body is not a successful envelope.
pub fn cloudflare_parse_list(body: &str) -> Option<(Vec<DnsRecord>, u32)> {
    let v: Value = serde_json::from_slice(body.as_bytes()).ok()?;
    if !v.get("success")?.as_bool()? {
        return None;
    }
    let total_pages = v.pointer("/result_info/total_pages").and_then(Value::as_u64).unwrap_or(1) as u32;
    let records = v
        .get("result")?
        .as_array()?
        .iter()
        .filter_map(|r| {
            Some(DnsRecord {
                id: Some(r.get("id")?.as_str()?.to_owned()),
                name: r.get("name")?.as_str()?.to_ascii_lowercase(),
                rtype: RecordType::parse(r.get("type")?.as_str()?)?,
                content: r.get("content")?.as_str()?.to_owned(),
                ttl: r.get("ttl").and_then(Value::as_u64).unwrap_or(1) as u32,
                owned: r.get("comment").and_then(Value::as_str) == Some(OWNER_COMMENT),
            })
        })
        .collect();
    Some((records, total_pages))
}

/// One batch request per changed pool (deletes → patches → posts, all or nothing).
pub fn cloudflare_batch(plan: &PoolPlan) -> Value {
    json!({
        "deletes": plan.deletes.iter().filter_map(|r| r.id.as_ref()).map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        "patches": plan.ttl_fixes.iter().filter_map(|r| r.id.as_ref()).map(|id| json!({ "id": id, "ttl": plan.ttl })).collect::<Vec<_>>(),
        "posts": plan.creates.iter().map(|c| json!({
            "type": c.rtype.as_str(), "name": plan.pool, "content": c.content, "ttl": plan.ttl,
            "proxied": false, "comment": OWNER_COMMENT,
        })).collect::<Vec<_>>(),
    })
}

// ---- PowerDNS ----

fn canonical(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// The A/AAAA rrsets of the pools in a zone (GET zone); every record at a pool name is the
/// edge's (it owns the pools' rrsets).
pub fn powerdns_parse_zone(body: &str, pools: &[String]) -> Option<Vec<DnsRecord>> {
    let v: Value = serde_json::from_slice(body.as_bytes()).ok()?;
    let wanted: SortedSet<String> = pools.iter().map(|p| canonical(p)).collect();
    let mut out = Vec::new();
    for rr in v.get("rrsets")?.as_array()? {
        let name = rr.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(rtype) = rr.get("type").and_then(Value::as_str).and_then(RecordType::parse) else { continue };
        if !wanted.contains(name) {
            continue;
        }
        let ttl = rr.get("ttl").and_then(Value::as_u64).unwrap_or(0) as u32;
        for rec in rr.get("records").and_then(Value::as_array).into_iter().flatten() {
            if let Some(content) = rec.get("content").and_then(Value::as_str) {
                out.push(DnsRecord {
                    id: None,
                    name: name.trim_end_matches('.').to_owned(),
                    rtype,
                    content: content.to_owned(),
                    ttl,
                    owned: true,
                });
            }
        }
    }
    Some(out)
}

/// One PATCH per changed pool: each touched rrset REPLACEd with its final records.
pub fn powerdns_patch(plan: &PoolPlan) -> Value {
    let result = plan.result();
    let mut types: SortedSet<RecordType> = plan.creates.iter().map(|c| c.rtype).collect();
    types.extend(plan.deletes.iter().map(|d| d.rtype));
    types.extend(plan.ttl_fixes.iter().map(|d| d.rtype));
    let rrsets: Vec<Value> = types
        .into_iter()
        .map(|t| {
            let records: Vec<Value> =
                result.iter().filter(|(rt, _)| *rt == t).map(|(_, c)| json!({ "content": c, "disabled": false })).collect();
            json!({ "name": canonical(&plan.pool), "type": t.as_str(), "ttl": plan.ttl, "changetype": "REPLACE", "records": records })
        })
        .collect();
    json!({ "rrsets": rrsets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

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

    #[test]
    fn creates_and_deletes() {
        let current = [rec("192.0.2.1", true), rec("192.0.2.2", true), rec("192.0.2.9", false)];
        let p = plan_pool(POOL, "se", &ips(&["192.0.2.1", "192.0.2.3", "2001:db8::1"]), &current, 60, 100, false);
        assert_eq!(
            p.creates,
            vec![
                NewRecord { rtype: RecordType::A, content: "192.0.2.3".into() },
                NewRecord { rtype: RecordType::Aaaa, content: "2001:db8::1".into() },
            ]
        );
        assert_eq!(p.deletes, vec![rec("192.0.2.2", true)]);
        assert!(!p.frozen);
    }

    #[test]
    fn an_address_published_by_someone_else_is_not_duplicated() {
        let p = plan_pool(POOL, "se", &ips(&["192.0.2.1", "192.0.2.2"]), &[rec("192.0.2.1", false)], 60, 30, false);
        assert_eq!(p.creates, vec![NewRecord { rtype: RecordType::A, content: "192.0.2.2".into() }]);
        assert!(p.deletes.is_empty());
    }

    #[test]
    fn frozen_when_nothing_is_up() {
        let p = plan_pool(POOL, "se", &[], &[rec("192.0.2.1", true)], 60, 30, false);
        assert!(p.frozen && p.is_noop());
    }

    #[test]
    fn cap_and_force() {
        let current: Vec<DnsRecord> = (1..=10).map(|i| rec(&format!("192.0.2.{i}"), true)).collect();
        let p = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &current, 60, 30, false);
        assert_eq!((p.deletes.len(), p.deferred_deletes), (3, 6));
        let f = plan_pool(POOL, "se", &ips(&["192.0.2.1"]), &current, 60, 30, true);
        assert_eq!((f.deletes.len(), f.deferred_deletes), (9, 0));
        assert_eq!(delete_cap(2, 30), 1, "at least one");
    }

    #[test]
    fn ttl_and_ipv6_spelling() {
        let mut r = rec("2001:db8::1", true);
        r.content = "2001:0db8:0000:0000:0000:0000:0000:0001".into();
        r.ttl = 300;
        let p = plan_pool(POOL, "se", &ips(&["2001:db8::1"]), &[r.clone()], 60, 30, false);
        assert!(p.creates.is_empty() && p.deletes.is_empty());
        assert_eq!(p.ttl_fixes, vec![r]);
    }

    #[test]
    fn wire_formats() {
        let current = [rec("192.0.2.1", true), rec("192.0.2.2", true)];
        let p = plan_pool(POOL, "se", &ips(&["192.0.2.1", "192.0.2.3"]), &current, 60, 100, false);
        let cf = cloudflare_batch(&p);
        assert_eq!(cf["deletes"], json!([{ "id": "id-192.0.2.2" }]));
        assert_eq!(cf["posts"][0]["comment"], "vpn-edge");
        assert_eq!(cf["posts"][0]["proxied"], false);
        let pd = powerdns_patch(&p);
        assert_eq!(
            pd,
            json!({ "rrsets": [{ "name": "pool.prd.se.example.com.", "type": "A", "ttl": 60, "changetype": "REPLACE",
                "records": [{ "content": "192.0.2.1", "disabled": false }, { "content": "192.0.2.3", "disabled": false }] }] })
        );
        let zone = json!({ "rrsets": [
            { "name": "pool.prd.se.example.com.", "type": "A", "ttl": 60, "records": [{ "content": "192.0.2.1", "disabled": false }] },
            { "name": "other.example.com.", "type": "A", "ttl": 60, "records": [{ "content": "192.0.2.7" }] },
            { "name": "pool.prd.se.example.com.", "type": "TXT", "ttl": 60, "records": [{ "content": "\"x\"" }] }
        ] });
        let parsed = powerdns_parse_zone(&zone.to_string(), &[POOL.to_string()]).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].content, "192.0.2.1");
        let page = json!({ "success": true, "result": [
            { "id": "a1", "name": "pool.prd.se.example.com", "type": "A", "content": "192.0.2.1", "ttl": 60, "comment": "vpn-edge" },
            { "id": "a2", "name": "pool.prd.se.example.com", "type": "A", "content": "192.0.2.2", "ttl": 60, "comment": null }
        ], "result_info": { "page": 1, "total_pages": 3 } });
        let (recs, pages) = cloudflare_parse_list(&page.to_string()).unwrap();
        assert_eq!((recs.len(), pages, recs[0].owned, recs[1].owned), (2, 3, true, false));
        assert!(cloudflare_parse_list(r#"{"success":false,"errors":[{"code":10000}]}"#).is_none());
    }

    fn arb_records() -> impl Strategy<Value = Vec<DnsRecord>> {
        proptest::collection::vec((1u8..12, any::<bool>(), prop_oneof![Just(60u32), Just(300u32)]), 0..12).prop_map(
            |v| {
                v.into_iter()
                    .map(|(i, owned, ttl)| {
                        let mut r = rec(&format!("192.0.2.{i}"), owned);
                        r.ttl = ttl;
                        r
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn never_touches_unowned_never_empties_respects_cap(
            records in arb_records(),
            up in proptest::collection::vec(1u8..12, 0..6),
            pct in 1u32..=100,
        ) {
            let up: Vec<IpAddr> = up.iter().map(|i| format!("192.0.2.{i}").parse().unwrap()).collect();
            let p = plan_pool(POOL, "se", &up, &records, 60, pct, false);
            prop_assert!(p.deletes.iter().all(|d| d.owned), "deleted an unowned record");
            prop_assert!(p.ttl_fixes.iter().all(|d| d.owned));
            let owned = records.iter().filter(|r| r.owned).count();
            prop_assert!(p.deletes.len() <= delete_cap(owned, pct));
            // The pool as resolvers see it: our records after the plan, and everyone else's.
            let unowned = records.iter().filter(|r| !r.owned).count();
            if owned > 0 {
                prop_assert!(!p.result().is_empty() || unowned > 0, "emptied a pool");
            }
            if up.is_empty() {
                prop_assert!(p.is_noop() && p.frozen);
            }
        }

        /// Applying plan after plan reaches the desired set within ceil(1/cap) rounds (+1 for the creates).
        #[test]
        fn converges(records in arb_records(), up in proptest::collection::vec(1u8..12, 1..6), pct in 1u32..=100) {
            let up: Vec<IpAddr> = up.iter().map(|i| format!("192.0.2.{i}").parse().unwrap()).collect();
            let unowned: Vec<DnsRecord> = records.iter().filter(|r| !r.owned).cloned().collect();
            let desired: BTreeSet<(RecordType, String)> = up.iter().map(|ip| (RecordType::A, ip.to_string())).collect();
            let foreign: BTreeSet<(RecordType, String)> = unowned.iter().map(|u| (u.rtype, u.content.clone())).collect();
            let mut current = records.clone();
            let rounds = 100usize.div_ceil(pct as usize) + 12;
            for _ in 0..rounds {
                let p = plan_pool(POOL, "se", &up, &current, 60, pct, false);
                if p.is_noop() { break; }
                let mut next = unowned.clone();
                next.extend(p.result().into_iter().map(|(_, c)| { let mut r = rec(&c, true); r.ttl = 60; r }));
                current = next;
            }
            let owned: BTreeSet<(RecordType, String)> = current.iter().filter(|r| r.owned).map(|r| (r.rtype, r.content.clone())).collect();
            // Ours are exactly wanted addresses, and every wanted address is served by ours or
            // by someone else's record (which is never duplicated).
            prop_assert!(owned.is_subset(&desired), "an unwanted record survived");
            prop_assert!(desired.iter().all(|k| owned.contains(k) || foreign.contains(k)), "a wanted address is missing");
            prop_assert!(current.iter().filter(|r| !r.owned).count() == unowned.len(), "unowned records untouched");
        }
    }
}
