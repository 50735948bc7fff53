//! DNS providers behind one trait: Cloudflare API v4 and PowerDNS. They list what is
//! there and apply one plan per changed pool; the plans come from the core.

use crate::outbound::{self, OutboundError, Reply};
use vpn_edge_core::config::{Config, DnsSettings};
use vpn_edge_core::dns::{
    cloudflare_batch, cloudflare_list_query, cloudflare_name_query, cloudflare_parse_list, powerdns_parse_zone,
    powerdns_patch,
};
use vpn_edge_core::dns::{DnsRecord, PoolPlan};
use worker::Method;

const TIMEOUT_MS: u32 = 10_000;
/// Cloudflare list pages read per round at most (500 records a page).
const MAX_PAGES: u32 = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// 429: retried next round.
    RateLimited { retry_after: Option<String> },
    /// 5xx, timeout, network, garbage: retried next round.
    Unavailable(String),
    /// Another 4xx: a configuration problem, still retried but worth an operator's look.
    Rejected(String),
}

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateLimited { retry_after } => {
                write!(f, "rate limited (Retry-After {})", retry_after.as_deref().unwrap_or("-"))
            }
            Self::Unavailable(e) => write!(f, "unavailable: {e}"),
            Self::Rejected(e) => write!(f, "rejected: {e}"),
        }
    }
}

fn classify(r: Result<Reply, OutboundError>) -> Result<Reply, DnsError> {
    let reply = r.map_err(|e| DnsError::Unavailable(e.to_string()))?;
    match reply.status {
        200..=299 => Ok(reply),
        429 => Err(DnsError::RateLimited { retry_after: reply.retry_after }),
        500..=599 => Err(DnsError::Unavailable(format!("HTTP {}", reply.status))),
        s => {
            let detail: String = reply.body.chars().filter(|c| !c.is_control()).take(200).collect();
            Err(DnsError::Rejected(format!("HTTP {s}: {detail}")))
        }
    }
}

pub trait DnsProvider {
    fn name(&self) -> &'static str;
    /// The A/AAAA records at the given pool names (Cloudflare: only the ones it owns).
    async fn list(&self, pools: &[String]) -> Result<Vec<DnsRecord>, DnsError>;
    /// One request for the pool.
    async fn apply(&self, plan: &PoolPlan) -> Result<(), DnsError>;
    /// Records at the pool name that this edge does not own and `list` did not return
    /// (Cloudflare lists only owned records; PowerDNS pools are wholly owned).
    async fn others_at(&self, _pool: &str) -> Result<Vec<DnsRecord>, DnsError> {
        Ok(Vec::new())
    }
}

pub struct Cloudflare {
    api: String,
    zone_id: String,
    auth: String,
}

impl DnsProvider for Cloudflare {
    fn name(&self) -> &'static str {
        "cloudflare"
    }

    async fn list(&self, pools: &[String]) -> Result<Vec<DnsRecord>, DnsError> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let url = format!("{}/zones/{}/dns_records?{}", self.api, self.zone_id, cloudflare_list_query(page));
            let headers = [("authorization", self.auth.as_str()), ("accept", "application/json")];
            let reply = classify(outbound::send(Method::Get, &url, &headers, None, TIMEOUT_MS).await)?;
            let (records, total_pages) = cloudflare_parse_list(&reply.body)
                .ok_or_else(|| DnsError::Unavailable("malformed list response".into()))?;
            out.extend(records.into_iter().filter(|r| pools.contains(&r.name)));
            if page >= total_pages || page >= MAX_PAGES {
                return Ok(out);
            }
            page += 1;
        }
    }

    async fn others_at(&self, pool: &str) -> Result<Vec<DnsRecord>, DnsError> {
        let url = format!("{}/zones/{}/dns_records?{}", self.api, self.zone_id, cloudflare_name_query(pool));
        let headers = [("authorization", self.auth.as_str()), ("accept", "application/json")];
        let reply = classify(outbound::send(Method::Get, &url, &headers, None, TIMEOUT_MS).await)?;
        let (records, _) = cloudflare_parse_list(&reply.body)
            .ok_or_else(|| DnsError::Unavailable("malformed list response".into()))?;
        Ok(records.into_iter().filter(|r| !r.owned).collect())
    }

    async fn apply(&self, plan: &PoolPlan) -> Result<(), DnsError> {
        let url = format!("{}/zones/{}/dns_records/batch", self.api, self.zone_id);
        let headers = [
            ("authorization", self.auth.as_str()),
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
        let reply = classify(
            outbound::send(Method::Post, &url, &headers, Some(cloudflare_batch(plan).to_string()), TIMEOUT_MS).await,
        )?;
        // A 200 whose envelope says success:false applied nothing (batches are all or nothing).
        match serde_json::from_slice::<serde_json::Value>(reply.body.as_bytes())
            .ok()
            .and_then(|v| v.get("success").and_then(|s| s.as_bool()))
        {
            Some(true) => Ok(()),
            _ => Err(DnsError::Rejected("batch not successful".into())),
        }
    }
}

pub struct PowerDns {
    zone_url: String,
    key: String,
}

impl DnsProvider for PowerDns {
    fn name(&self) -> &'static str {
        "powerdns"
    }

    async fn list(&self, pools: &[String]) -> Result<Vec<DnsRecord>, DnsError> {
        let headers = [("x-api-key", self.key.as_str()), ("accept", "application/json")];
        let reply = classify(outbound::send(Method::Get, &self.zone_url, &headers, None, TIMEOUT_MS).await)?;
        powerdns_parse_zone(&reply.body, pools).ok_or_else(|| DnsError::Unavailable("malformed zone response".into()))
    }

    async fn apply(&self, plan: &PoolPlan) -> Result<(), DnsError> {
        let headers =
            [("x-api-key", self.key.as_str()), ("content-type", "application/json"), ("accept", "application/json")];
        classify(
            outbound::send(Method::Patch, &self.zone_url, &headers, Some(powerdns_patch(plan).to_string()), TIMEOUT_MS)
                .await,
        )
        .map(|_| ())
    }
}

pub enum Provider {
    Cloudflare(Cloudflare),
    PowerDns(PowerDns),
}

/// The configured provider, chosen per call: the sync (`jobs::dns_sync`) is compiled once
/// for both providers instead of once per provider type (README "Size").
impl DnsProvider for Provider {
    fn name(&self) -> &'static str {
        match self {
            Self::Cloudflare(p) => p.name(),
            Self::PowerDns(p) => p.name(),
        }
    }

    async fn list(&self, pools: &[String]) -> Result<Vec<DnsRecord>, DnsError> {
        match self {
            Self::Cloudflare(p) => p.list(pools).await,
            Self::PowerDns(p) => p.list(pools).await,
        }
    }

    async fn apply(&self, plan: &PoolPlan) -> Result<(), DnsError> {
        match self {
            Self::Cloudflare(p) => p.apply(plan).await,
            Self::PowerDns(p) => p.apply(plan).await,
        }
    }

    async fn others_at(&self, pool: &str) -> Result<Vec<DnsRecord>, DnsError> {
        match self {
            Self::Cloudflare(p) => p.others_at(pool).await,
            Self::PowerDns(p) => p.others_at(pool).await,
        }
    }
}

/// The configured provider, `None` for `DNS_PROVIDER=none` or when its settings are
/// missing (`/healthz` names them).
pub fn from_config(cfg: &Config) -> Option<Provider> {
    // The same answer /healthz gives (Config::dns), so the two never disagree.
    match cfg.dns().ok()? {
        DnsSettings::Cloudflare { api_url, zone_id, api_token } => Some(Provider::Cloudflare(Cloudflare {
            api: api_url.to_owned(),
            zone_id: zone_id.to_owned(),
            auth: format!("Bearer {api_token}"),
        })),
        DnsSettings::Powerdns { api_url, server_id, api_key } => {
            let base = api_url.trim_end_matches("/api/v1");
            Some(Provider::PowerDns(PowerDns {
                zone_url: format!("{base}/api/v1/servers/{server_id}/zones/{}.", cfg.dns_zone),
                key: api_key.to_owned(),
            }))
        }
    }
}
