//! Reconcile every pool with the provider: list once, plan in the core, apply one request
//! per changed pool. A failed pool keeps its records and is planned afresh next round.

use crate::outbound::dns_provider::{from_config, DnsError, Provider};
use serde::Serialize;
use vpn_edge_core::config::Config;
use vpn_edge_core::dns::{desired_pools, plan_pool, PoolPlan};
use vpn_edge_core::fleet::ServerView;

#[derive(Serialize, Default)]
pub struct PoolResult {
    pub pool: String,
    pub frozen: bool,
    pub creates: usize,
    pub deletes: usize,
    pub ttl_fixes: usize,
    pub deferred_deletes: usize,
    pub applied: bool,
    pub error: Option<String>,
}

#[derive(Serialize, Default)]
pub struct SyncReport {
    pub provider: &'static str,
    pub dry_run: bool,
    pub provider_calls: u32,
    pub error: Option<String>,
    pub pools: Vec<PoolResult>,
    #[serde(skip)]
    pub plans: Vec<PoolPlan>,
}

async fn run(p: &Provider, cfg: &Config, servers: &[ServerView], apply: bool, force: bool) -> SyncReport {
    let desired = desired_pools(servers, &cfg.pool_prefix, &cfg.dns_zone);
    let names: Vec<String> = desired.iter().map(|(p, _, _)| p.clone()).collect();
    let mut report = SyncReport { provider: p.name(), dry_run: !apply, ..Default::default() };
    report.provider_calls += 1;
    let records = match p.list(&names).await {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    for (pool, country, up) in desired {
        let mut plan = plan_pool(&pool, &country, &up, &records, cfg.dns_ttl, cfg.max_delete_pct, force);
        if apply && !plan.creates.is_empty() {
            // Before creating, look at what others publish there, and plan again with it.
            report.provider_calls += 1;
            match p.others_at(&pool).await {
                Ok(others) if !others.is_empty() => {
                    let all: Vec<_> = records.iter().cloned().chain(others).collect();
                    plan = plan_pool(&pool, &country, &up, &all, cfg.dns_ttl, cfg.max_delete_pct, force);
                }
                Ok(_) => {}
                Err(e) => log_warn!("dns: {pool}: could not list others' records: {e}"),
            }
        }
        let mut result = PoolResult {
            pool: pool.clone(),
            frozen: plan.frozen,
            creates: plan.creates.len(),
            deletes: plan.deletes.len(),
            ttl_fixes: plan.ttl_fixes.len(),
            deferred_deletes: plan.deferred_deletes,
            ..Default::default()
        };
        if apply && !plan.frozen && !plan.is_noop() {
            report.provider_calls += 1;
            match p.apply(&plan).await {
                Ok(()) => result.applied = true,
                Err(e) => {
                    if let DnsError::RateLimited { .. } = e {
                        log_warn!("dns: {pool}: {e}; retrying next round");
                    } else {
                        log_error!("dns: {pool}: {e}");
                    }
                    result.error = Some(e.to_string());
                }
            }
        }
        report.pools.push(result);
        report.plans.push(plan);
    }
    report
}

/// `None` when DNS is off (`DNS_PROVIDER=none` or incomplete settings).
pub async fn sync(cfg: &Config, servers: &[ServerView], apply: bool, force: bool) -> Option<SyncReport> {
    let p = from_config(cfg)?;
    Some(run(&p, cfg, servers, apply, force).await)
}
