//! DNS providers: Cloudflare API v4 and PowerDNS. They list what is there and apply one
//! plan per changed pool; the plans come from the core.

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cloudflare,
    PowerDns,
}

/// The configured provider. One type with the provider as data, and every call through
/// the one `request` future, so the sync (`jobs::dns_sync`) is compiled once with one
/// request path instead of an async state machine per provider and per operation
/// (README "Size").
pub struct Provider {
    kind: Kind,
    /// Cloudflare: the zone's `dns_records` collection; PowerDNS: the zone.
    url: String,
    /// The credential header: Cloudflare's `authorization: Bearer ..`, PowerDNS's `x-api-key`.
    auth: (&'static str, String),
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Cloudflare => "cloudflare",
            Kind::PowerDns => "powerdns",
        }
    }

    /// One request with the provider's credential, its answer classified (`send`'s
    /// future mapped, no state machine of its own).
    fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
    ) -> impl std::future::Future<Output = Result<Reply, DnsError>> {
        use futures_util::FutureExt;
        let auth = (self.auth.0, self.auth.1.as_str());
        let with_body = [auth, ("content-type", "application/json"), ("accept", "application/json")];
        let without = [auth, ("accept", "application/json")];
        let headers: &[(&str, &str)] = if body.is_some() { &with_body } else { &without };
        outbound::send(method, url, headers, body, TIMEOUT_MS).map(classify)
    }

    /// The A/AAAA records at the given pool names (Cloudflare: only the ones it owns).
    pub fn list<'a>(
        &'a self,
        pools: &'a [String],
    ) -> impl std::future::Future<Output = Result<Vec<DnsRecord>, DnsError>> + 'a {
        self.records(None, pools)
    }

    /// Records at the pool name that this edge does not own and `list` did not return
    /// (Cloudflare lists only owned records; PowerDNS pools are wholly owned).
    pub fn others_at<'a>(
        &'a self,
        pool: &'a str,
    ) -> impl std::future::Future<Output = Result<Vec<DnsRecord>, DnsError>> + 'a {
        self.records(Some(pool), &[])
    }

    /// `list` (`others_at` None) or `others_at`: one future type for both.
    async fn records(&self, others_at: Option<&str>, pools: &[String]) -> Result<Vec<DnsRecord>, DnsError> {
        if others_at.is_some() && self.kind == Kind::PowerDns {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let url = match (self.kind, others_at) {
                (Kind::PowerDns, _) => self.url.clone(),
                (Kind::Cloudflare, None) => format!("{}?{}", self.url, cloudflare_list_query(page)),
                (Kind::Cloudflare, Some(pool)) => format!("{}?{}", self.url, cloudflare_name_query(pool)),
            };
            let reply = self.request(Method::Get, &url, None).await?;
            let (records, total_pages) = match self.kind {
                Kind::Cloudflare => cloudflare_parse_list(&reply.body)
                    .ok_or_else(|| DnsError::Unavailable("malformed list response".into()))?,
                Kind::PowerDns => (
                    powerdns_parse_zone(&reply.body, pools)
                        .ok_or_else(|| DnsError::Unavailable("malformed zone response".into()))?,
                    1,
                ),
            };
            out.extend(records.into_iter().filter(|r| match others_at {
                Some(_) => !r.owned,
                None => self.kind == Kind::PowerDns || pools.contains(&r.name),
            }));
            // `others_at` reads one page, as it always has.
            if others_at.is_some() || page >= total_pages || page >= MAX_PAGES {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// One request for the pool.
    pub async fn apply(&self, plan: &PoolPlan) -> Result<(), DnsError> {
        let (method, url, body) = match self.kind {
            Kind::Cloudflare => (Method::Post, format!("{}/batch", self.url), cloudflare_batch(plan)),
            Kind::PowerDns => (Method::Patch, self.url.clone(), powerdns_patch(plan)),
        };
        // `to_string`, not the `Value`'s `Display`: the same compact text through the
        // encoder every JSON body uses, not a second one writing through `fmt` (README "Size").
        let body = serde_json::to_string(&body).unwrap_or_default();
        let reply = self.request(method, &url, Some(body)).await?;
        if self.kind == Kind::PowerDns {
            return Ok(());
        }
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

/// The configured provider, `None` for `DNS_PROVIDER=none` or when its settings are
/// missing (`/healthz` names them).
pub fn from_config(cfg: &Config) -> Option<Provider> {
    // The same answer /healthz gives (Config::dns), so the two never disagree.
    match cfg.dns().ok()? {
        DnsSettings::Cloudflare { api_url, zone_id, api_token } => Some(Provider {
            kind: Kind::Cloudflare,
            url: format!("{api_url}/zones/{zone_id}/dns_records"),
            auth: ("authorization", format!("Bearer {api_token}")),
        }),
        DnsSettings::Powerdns { api_url, server_id, api_key } => {
            let base = api_url.trim_end_matches("/api/v1");
            Some(Provider {
                kind: Kind::PowerDns,
                url: format!("{base}/api/v1/servers/{server_id}/zones/{}.", cfg.dns_zone),
                auth: ("x-api-key", api_key.to_owned()),
            })
        }
    }
}
