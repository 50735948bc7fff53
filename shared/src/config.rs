//! Configuration: vars and secrets, validated once. A missing secret disables only the
//! feature that needs it; a malformed value is a configuration error. `/healthz` reports
//! both by *name*, never by value.

use base64::Engine;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailOpenPolicy {
    Open,
    CachedOnly,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsProvider {
    None,
    Cloudflare,
    Powerdns,
}

/// A secret's value. `Debug` prints `[redacted]`, and there is no `Display`, `Serialize`
/// or `PartialEq` (compare with `signature::tokens_equal`, in constant time), so a secret
/// reaches a log, an error or a response only by a deliberate `expose()`. It derefs to
/// `str` so `cfg.admin_token.as_deref()` hands it to the one place that uses it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `SESSION_KEY`: 32 bytes, redacted in `Debug` like `Secret`.
#[derive(Clone, Copy)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::ops::Deref for SessionKey {
    type Target = [u8; 32];
    fn deref(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One thing wrong with the configuration, by variable name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    pub name: &'static str,
    pub problem: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub fleet_secret: Option<Secret>,
    pub admin_token: Option<Secret>,
    pub librenms_token: Option<Secret>,
    pub cred_pepper: Option<Secret>,
    pub session_key: Option<SessionKey>,
    pub origin_auth_url: Option<String>,
    pub origin_api_token: Option<Secret>,
    pub origin_timeout_ms: u32,
    pub fail_open_policy: FailOpenPolicy,
    pub cache_refresh_s: u32,
    pub cache_max_age_days: u32,
    pub provisional_per_minute: u32,
    /// Failures across all addresses that lock a username everywhere (per 15 min).
    pub lockout_user_max: u32,
    /// Attempts before a session the origin cannot judge is disconnected (`unverifiable`).
    pub reverify_max_attempts: u32,
    /// How old an offline admission may be when reported.
    pub offline_max_age_h: u32,
    /// Test-only fault injection (`TEST_FAULTS`); never set in production, and reported
    /// as a problem by `/healthz` when it is.
    pub test_faults: Vec<String>,
    pub heartbeat_stale_s: u32,
    pub down_after: u32,
    pub up_after: u32,
    pub dns_provider: DnsProvider,
    pub dns_zone: String,
    pub pool_prefix: String,
    pub dns_ttl: u32,
    pub max_delete_pct: u32,
    pub cloudflare_zone_id: Option<String>,
    pub cloudflare_api_token: Option<Secret>,
    pub cloudflare_api_url: String,
    pub powerdns_api_url: Option<String>,
    pub powerdns_server_id: String,
    pub powerdns_api_key: Option<Secret>,
    pub alert_webhook_url: Option<String>,
    pub sla_target_pct: f64,
    pub sla_credit_multiplier: u32,
    pub credit_api_url: Option<String>,
    pub credit_api_token: Option<Secret>,
    /// First retry delay of a failed credit call; doubles per attempt, at most
    /// `credit_retry_max_s` (6 h).
    pub credit_retry_base_s: u32,
    /// `ALLOW_PRIVATE_ADDRESSES`: accept private and documentation server addresses (test
    /// rigs, local demos); loopback, multicast and the like are refused regardless.
    pub allow_private_addresses: bool,
    pub credit_retry_max_s: u32,
    /// Prober vantage points (`PROBE_REGIONS`, README "Probers").
    pub probe_regions: Vec<crate::probe::Region>,
    /// Seconds between check cycles (`PROBE_INTERVAL_S`, 1..60).
    pub probe_interval_s: u32,
    /// `alarms` (default): prober objects judge every cycle; `cron`: the minute round judges
    /// from wherever it runs, as before the probers (tests that drive checks by hand).
    pub probe_mode: crate::probe::ProbeMode,
    pub problems: Vec<ConfigProblem>,
}

/// The DNS provider's settings when DNS changes are on: the one answer `/healthz`, the round
/// and the DNS admin routes all use (README "DNS pools").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSettings<'a> {
    Cloudflare { api_url: &'a str, zone_id: &'a str, api_token: &'a str },
    Powerdns { api_url: &'a str, server_id: &'a str, api_key: &'a str },
}

/// What `/healthz` says about one feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureState {
    pub feature: &'static str,
    pub enabled: bool,
    /// The variables it is missing, by name.
    pub missing: Vec<&'static str>,
}

struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<ConfigProblem>,
}

impl Reader<'_> {
    fn opt(&self, name: &str) -> Option<String> {
        (self.get)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn secret(&self, name: &str) -> Option<Secret> {
        // Secrets are used byte for byte; only an empty one counts as missing.
        (self.get)(name).filter(|v| !v.is_empty()).map(Secret)
    }

    fn num(&mut self, name: &'static str, default: u32, min: u32, max: u32) -> u32 {
        match self.opt(name) {
            None => default,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    self.problems.push(ConfigProblem {
                        name,
                        problem: format!("must be a whole number from {min} to {max}; using {default}"),
                    });
                    default
                }
            },
        }
    }

    fn flag(&mut self, name: &'static str) -> bool {
        match self.opt(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") => true,
            Some(_) => {
                self.problems.push(ConfigProblem { name, problem: "must be true or false; using false".into() });
                false
            }
        }
    }

    fn url(&mut self, name: &'static str) -> Option<String> {
        let v = self.opt(name)?;
        if v.starts_with("https://") || v.starts_with("http://") {
            Some(v.trim_end_matches('/').to_owned())
        } else {
            self.problems.push(ConfigProblem { name, problem: "must be an http(s) URL".into() });
            None
        }
    }
}

impl Config {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut r = Reader { get, problems: Vec::new() };
        let session_key =
            r.secret("SESSION_KEY").and_then(|v| match base64::engine::general_purpose::STANDARD.decode(v.trim()) {
                Ok(bytes) if bytes.len() == 32 => {
                    let mut k = [0u8; 32];
                    k.copy_from_slice(&bytes);
                    Some(SessionKey(k))
                }
                _ => {
                    r.problems.push(ConfigProblem {
                        name: "SESSION_KEY",
                        problem: "must be 32 random bytes, base64-encoded".into(),
                    });
                    None
                }
            });
        let fail_open_policy = match r.opt("FAIL_OPEN_POLICY").as_deref() {
            None | Some("open") => FailOpenPolicy::Open,
            Some("cached-only") => FailOpenPolicy::CachedOnly,
            Some("closed") => FailOpenPolicy::Closed,
            Some(_) => {
                r.problems.push(ConfigProblem {
                    name: "FAIL_OPEN_POLICY",
                    problem: "must be open, cached-only or closed; using closed".into(),
                });
                // A typo must not silently open the door.
                FailOpenPolicy::Closed
            }
        };
        let dns_provider = match r.opt("DNS_PROVIDER").as_deref() {
            None | Some("none") => DnsProvider::None,
            Some("cloudflare") => DnsProvider::Cloudflare,
            Some("powerdns") => DnsProvider::Powerdns,
            Some(_) => {
                r.problems.push(ConfigProblem {
                    name: "DNS_PROVIDER",
                    problem: "must be cloudflare, powerdns or none; DNS changes are off".into(),
                });
                DnsProvider::None
            }
        };
        let sla_target_pct = match r.opt("SLA_TARGET_PCT") {
            None => 99.5,
            Some(v) => match crate::float::parse_f64(&v) {
                Some(p) if p.is_finite() && p > 0.0 && p <= 100.0 => p,
                _ => {
                    r.problems.push(ConfigProblem {
                        name: "SLA_TARGET_PCT",
                        problem: "must be a percentage in (0, 100]; using 99.5".into(),
                    });
                    99.5
                }
            },
        };
        let probe_regions = match r.opt("PROBE_REGIONS") {
            None => crate::probe::Region::DEFAULT.to_vec(),
            Some(v) => match crate::probe::parse_regions(&v) {
                Ok(list) => list,
                Err(e) => {
                    r.problems
                        .push(ConfigProblem { name: "PROBE_REGIONS", problem: format!("{e}; using weur,enam,apac") });
                    crate::probe::Region::DEFAULT.to_vec()
                }
            },
        };
        let probe_mode = match r.opt("PROBE_MODE").as_deref() {
            None | Some("alarms") => crate::probe::ProbeMode::Alarms,
            Some("cron") => crate::probe::ProbeMode::Cron,
            Some(_) => {
                r.problems
                    .push(ConfigProblem { name: "PROBE_MODE", problem: "must be alarms or cron; using alarms".into() });
                crate::probe::ProbeMode::Alarms
            }
        };
        let dns_zone = r.opt("DNS_ZONE").unwrap_or_else(|| "example.com".into());
        let dns_zone = dns_zone.trim_end_matches('.').to_ascii_lowercase();
        let pool_prefix = r.opt("POOL_PREFIX").unwrap_or_else(|| "pool.prd".into());
        let cfg = Config {
            fleet_secret: r.secret("FLEET_SECRET"),
            admin_token: r.secret("ADMIN_TOKEN"),
            librenms_token: r.secret("LIBRENMS_TOKEN"),
            cred_pepper: r.secret("CRED_PEPPER"),
            session_key,
            origin_auth_url: r.url("ORIGIN_AUTH_URL"),
            origin_api_token: r.secret("ORIGIN_API_TOKEN"),
            origin_timeout_ms: r.num("ORIGIN_TIMEOUT_MS", 1500, 100, 30_000),
            fail_open_policy,
            cache_refresh_s: r.num("CACHE_REFRESH_S", 3600, 60, 30 * 86_400),
            cache_max_age_days: r.num("CACHE_MAX_AGE_DAYS", 30, 1, 365),
            provisional_per_minute: r.num("PROVISIONAL_PER_MINUTE", 600, 0, 1_000_000),
            lockout_user_max: r.num("LOCKOUT_USER_MAX", 20, 5, 10_000),
            reverify_max_attempts: r.num("REVERIFY_MAX_ATTEMPTS", 5, 1, 100),
            offline_max_age_h: r.num("OFFLINE_MAX_AGE_H", 24, 1, 168),
            test_faults: r
                .opt("TEST_FAULTS")
                .map(|v| v.split(',').map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect())
                .unwrap_or_default(),
            heartbeat_stale_s: r.num("HEARTBEAT_STALE_S", 90, 30, 3600),
            down_after: r.num("DOWN_AFTER", 3, 1, 60),
            up_after: r.num("UP_AFTER", 2, 1, 60),
            dns_provider,
            dns_zone,
            pool_prefix,
            dns_ttl: r.num("DNS_TTL", 60, 30, 86_400),
            max_delete_pct: r.num("MAX_DELETE_PCT", 30, 1, 100),
            cloudflare_zone_id: r.opt("CLOUDFLARE_ZONE_ID"),
            cloudflare_api_token: r.secret("CLOUDFLARE_API_TOKEN"),
            cloudflare_api_url: r
                .url("CLOUDFLARE_API_URL")
                .unwrap_or_else(|| "https://api.cloudflare.com/client/v4".into()),
            powerdns_api_url: r.url("POWERDNS_API_URL"),
            powerdns_server_id: r.opt("POWERDNS_SERVER_ID").unwrap_or_else(|| "localhost".into()),
            powerdns_api_key: r.secret("POWERDNS_API_KEY"),
            alert_webhook_url: r.url("ALERT_WEBHOOK_URL"),
            sla_target_pct,
            sla_credit_multiplier: r.num("SLA_CREDIT_MULTIPLIER", 2, 0, 100),
            credit_api_url: r.url("CREDIT_API_URL"),
            credit_api_token: r.secret("CREDIT_API_TOKEN"),
            credit_retry_base_s: r.num("CREDIT_RETRY_BASE_S", 60, 1, 3600),
            allow_private_addresses: r.flag("ALLOW_PRIVATE_ADDRESSES"),
            credit_retry_max_s: r.num("CREDIT_RETRY_MAX_S", crate::sla::CREDIT_RETRY_MAX_S, 1, 7 * 86_400),
            probe_regions,
            probe_interval_s: r.num("PROBE_INTERVAL_S", 15, 1, 60),
            probe_mode,
            problems: Vec::new(),
        };
        let mut problems = r.problems;
        // Without a usable origin, auth is closed (README "Auth when the origin fails").
        for (name, present) in
            [("ORIGIN_AUTH_URL", cfg.origin_auth_url.is_some()), ("ORIGIN_API_TOKEN", cfg.origin_api_token.is_some())]
        {
            if !present && !problems.iter().any(|p| p.name == name) {
                problems.push(ConfigProblem {
                    name,
                    problem: "missing: every login is denied (auth_not_configured)".into(),
                });
            }
        }
        if !cfg.test_faults.is_empty() {
            problems
                .push(ConfigProblem { name: "TEST_FAULTS", problem: "set: test-only fault injection is on".into() });
        }
        Config { problems, ..cfg }
    }

    /// Whether a usable origin URL and token are configured.
    pub fn auth_configured(&self) -> bool {
        self.origin_auth_url.is_some() && self.origin_api_token.is_some()
    }

    /// A test-only fault switch (see `TEST_FAULTS` in the README); always off in production.
    pub fn fault(&self, name: &str) -> bool {
        self.test_faults.iter().any(|f| f == name)
    }

    pub fn features(&self) -> Vec<FeatureState> {
        fn state(feature: &'static str, needs: &[(&'static str, bool)]) -> FeatureState {
            let missing: Vec<&'static str> = needs.iter().filter(|(_, present)| !present).map(|(n, _)| *n).collect();
            FeatureState { feature, enabled: missing.is_empty(), missing }
        }
        let dns = match self.dns() {
            Ok(_) => FeatureState { feature: "dns", enabled: true, missing: vec![] },
            Err(missing) => FeatureState { feature: "dns", enabled: false, missing },
        };
        vec![
            state("admin_api", &[("ADMIN_TOKEN", self.admin_token.is_some())]),
            state("server_api", &[("FLEET_SECRET", self.fleet_secret.is_some())]),
            state(
                "auth",
                &[
                    ("FLEET_SECRET", self.fleet_secret.is_some()),
                    ("ORIGIN_AUTH_URL", self.origin_auth_url.is_some()),
                    ("ORIGIN_API_TOKEN", self.origin_api_token.is_some()),
                ],
            ),
            state(
                "credential_cache",
                &[("CRED_PEPPER", self.cred_pepper.is_some()), ("SESSION_KEY", self.session_key.is_some())],
            ),
            dns,
            state("alerts", &[("ALERT_WEBHOOK_URL", self.alert_webhook_url.is_some())]),
            state(
                "sla_credits",
                &[
                    ("CREDIT_API_URL", self.credit_api_url.is_some()),
                    ("CREDIT_API_TOKEN", self.credit_api_token.is_some()),
                ],
            ),
            state("librenms", &[("LIBRENMS_TOKEN", self.librenms_token.is_some())]),
        ]
    }

    /// DNS changes are on exactly when this is `Ok`; otherwise the variables that would turn
    /// them on (`DNS_PROVIDER` itself when it is `none`).
    pub fn dns(&self) -> Result<DnsSettings<'_>, Vec<&'static str>> {
        match self.dns_provider {
            DnsProvider::None => Err(vec!["DNS_PROVIDER"]),
            DnsProvider::Cloudflare => match (&self.cloudflare_zone_id, &self.cloudflare_api_token) {
                (Some(zone_id), Some(api_token)) => Ok(DnsSettings::Cloudflare {
                    api_url: &self.cloudflare_api_url,
                    zone_id,
                    api_token: api_token.expose(),
                }),
                (z, t) => Err([("CLOUDFLARE_ZONE_ID", z.is_none()), ("CLOUDFLARE_API_TOKEN", t.is_none())]
                    .into_iter()
                    .filter_map(|(n, missing)| missing.then_some(n))
                    .collect()),
            },
            DnsProvider::Powerdns => match (&self.powerdns_api_url, &self.powerdns_api_key) {
                (Some(api_url), Some(api_key)) => Ok(DnsSettings::Powerdns {
                    api_url,
                    server_id: &self.powerdns_server_id,
                    api_key: api_key.expose(),
                }),
                (u, k) => Err([("POWERDNS_API_URL", u.is_none()), ("POWERDNS_API_KEY", k.is_none())]
                    .into_iter()
                    .filter_map(|(n, missing)| missing.then_some(n))
                    .collect()),
            },
        }
    }

    pub fn address_policy(&self) -> crate::types::AddressPolicy {
        crate::types::AddressPolicy { allow_private: self.allow_private_addresses }
    }

    pub fn sla_policy(&self) -> crate::sla::SlaPolicy {
        crate::sla::SlaPolicy::new(self.sla_target_pct, self.sla_credit_multiplier)
    }

    pub fn credit_retry(&self) -> crate::sla::RetryPolicy {
        crate::sla::RetryPolicy { base_s: self.credit_retry_base_s, max_s: self.credit_retry_max_s }
    }

    pub fn schedule(&self) -> crate::probe::Schedule {
        crate::probe::Schedule::new(self.probe_interval_s)
    }

    /// The check an event at `now_ms` belongs to: its cycle (alarms mode) or its minute
    /// (cron mode), in ms.
    pub fn check_key(&self, now_ms: i64) -> i64 {
        match self.probe_mode {
            crate::probe::ProbeMode::Alarms => self.schedule().cycle_of(now_ms),
            crate::probe::ProbeMode::Cron => now_ms.div_euclid(60_000) * 60_000,
        }
    }

    pub fn thresholds(&self) -> crate::health::Thresholds {
        crate::health::Thresholds { down_after: self.down_after, up_after: self.up_after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(&move |k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]);
        assert_eq!(c.origin_timeout_ms, 1500);
        assert_eq!(c.fail_open_policy, FailOpenPolicy::Open);
        assert_eq!((c.down_after, c.up_after, c.dns_ttl, c.max_delete_pct), (3, 2, 60, 30));
        assert_eq!(c.sla_target_pct, 99.5);
        let names: Vec<&str> = c.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, ["ORIGIN_AUTH_URL", "ORIGIN_API_TOKEN"], "no origin: auth is closed, and said so");
        assert!(!c.auth_configured());
        assert_eq!((c.lockout_user_max, c.reverify_max_attempts, c.offline_max_age_h), (20, 5, 24));
        assert!(!c.fault("guard"));
        assert!(c.features().iter().all(|f| !f.enabled), "nothing is on without its settings, DNS included");
        assert!(!c.allow_private_addresses);
        assert_eq!(c.probe_interval_s, 15);
        let names: Vec<&str> = c.probe_regions.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["weur", "enam", "apac"]);
        assert_eq!(c.probe_mode, crate::probe::ProbeMode::Alarms);
    }

    #[test]
    fn malformed_values_are_named_never_echoed() {
        let c = cfg(&[("SESSION_KEY", "c2hvcnQ="), ("DOWN_AFTER", "zero"), ("FAIL_OPEN_POLICY", "yes")]);
        let names: Vec<&str> = c.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, ["SESSION_KEY", "FAIL_OPEN_POLICY", "DOWN_AFTER", "ORIGIN_AUTH_URL", "ORIGIN_API_TOKEN"]);
        assert!(c.problems.iter().all(|p| !p.problem.contains("c2hvcnQ")));
        assert_eq!(c.fail_open_policy, FailOpenPolicy::Closed);
        assert!(c.session_key.is_none());
    }

    #[test]
    fn origin_configured_and_faults() {
        let c = cfg(&[("ORIGIN_AUTH_URL", "https://o.example/auth"), ("ORIGIN_API_TOKEN", "t")]);
        assert!(c.auth_configured());
        assert!(c.problems.is_empty());
        let bad = cfg(&[("ORIGIN_AUTH_URL", "ftp://x"), ("ORIGIN_API_TOKEN", "t"), ("TEST_FAULTS", "guard, kv")]);
        assert!(!bad.auth_configured());
        let names: Vec<&str> = bad.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, ["ORIGIN_AUTH_URL", "TEST_FAULTS"]);
        assert!(bad.fault("guard") && bad.fault("kv") && !bad.fault("ledger"));
    }

    #[test]
    fn probe_settings() {
        let c = cfg(&[("PROBE_REGIONS", "wnam, oc"), ("PROBE_INTERVAL_S", "5"), ("PROBE_MODE", "cron")]);
        assert_eq!(c.probe_regions.len(), 2);
        assert_eq!((c.probe_interval_s, c.probe_mode), (5, crate::probe::ProbeMode::Cron));
        for bad in
            [("PROBE_REGIONS", "sam"), ("PROBE_INTERVAL_S", "61"), ("PROBE_INTERVAL_S", "0"), ("PROBE_MODE", "x")]
        {
            let c = cfg(&[bad]);
            let names: Vec<&str> = c.problems.iter().map(|p| p.name).filter(|n| !n.starts_with("ORIGIN_")).collect();
            assert_eq!(names, [bad.0]);
        }
    }

    #[test]
    fn debug_output_carries_no_secret() {
        let secrets = [
            ("FLEET_SECRET", "fleet-value-1"),
            ("ADMIN_TOKEN", "admin-value-2"),
            ("LIBRENMS_TOKEN", "librenms-value-3"),
            ("CRED_PEPPER", "pepper-value-4"),
            ("ORIGIN_API_TOKEN", "origin-value-5"),
            ("CLOUDFLARE_API_TOKEN", "cloudflare-value-6"),
            ("POWERDNS_API_KEY", "powerdns-value-7"),
            ("CREDIT_API_TOKEN", "credit-value-8"),
            ("SESSION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ];
        let c = cfg(&secrets);
        assert!(c.features().iter().any(|f| f.feature == "admin_api" && f.enabled));
        let printed = format!("{c:?} {c:#?}");
        for (name, value) in secrets {
            assert!(!printed.contains(value), "{name} leaks through Debug");
        }
        // The session key's bytes, as Debug would print an array.
        let key_bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert!(!printed.contains(&format!("{key_bytes:?}")), "SESSION_KEY leaks");
        assert_eq!(printed.matches("[redacted]").count(), 2 * secrets.len());
        // The values themselves are intact for the one place that uses each.
        assert_eq!(c.admin_token.as_deref(), Some("admin-value-2"));
        assert_eq!(c.session_key.unwrap().expose()[31], 31);
    }

    #[test]
    fn sla_target_is_a_percentage_in_0_exclusive_to_100() {
        for (v, want) in [("99.9", 99.9), ("100", 100.0), ("99.95", 99.95), ("1e2", 100.0)] {
            let c = cfg(&[("SLA_TARGET_PCT", v)]);
            assert_eq!(c.sla_target_pct, want, "{v}");
            assert!(c.problems.iter().all(|p| p.name != "SLA_TARGET_PCT"), "{v}");
        }
        for v in ["0", "100.01", "-5", "abc", "NaN", "inf"] {
            let c = cfg(&[("SLA_TARGET_PCT", v)]);
            assert_eq!(c.sla_target_pct, 99.5, "{v}");
            assert_eq!(c.problems.iter().filter(|p| p.name == "SLA_TARGET_PCT").count(), 1, "{v}");
        }
    }

    #[test]
    fn a_good_session_key() {
        let c = cfg(&[("SESSION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")]);
        assert_eq!(c.session_key.unwrap()[31], 31);
    }

    #[test]
    fn healthz_and_dns_routes_share_one_answer() {
        let dns = |c: &Config| c.features().into_iter().find(|f| f.feature == "dns").unwrap();
        let none = cfg(&[("DNS_PROVIDER", "none")]);
        assert_eq!(none.dns(), Err(vec!["DNS_PROVIDER"]));
        assert_eq!((dns(&none).enabled, dns(&none).missing), (false, vec!["DNS_PROVIDER"]));
        let half = cfg(&[("DNS_PROVIDER", "cloudflare"), ("CLOUDFLARE_ZONE_ID", "z")]);
        assert_eq!(half.dns(), Err(vec!["CLOUDFLARE_API_TOKEN"]));
        assert!(!dns(&half).enabled);
        let on = cfg(&[("DNS_PROVIDER", "powerdns"), ("POWERDNS_API_URL", "http://p"), ("POWERDNS_API_KEY", "k")]);
        assert_eq!(on.dns(), Ok(DnsSettings::Powerdns { api_url: "http://p", server_id: "localhost", api_key: "k" }));
        assert!(dns(&on).enabled);
    }

    #[test]
    fn allow_private_addresses_flag() {
        assert!(cfg(&[("ALLOW_PRIVATE_ADDRESSES", "true")]).allow_private_addresses);
        assert!(!cfg(&[("ALLOW_PRIVATE_ADDRESSES", "false")]).allow_private_addresses);
        let c = cfg(&[("ALLOW_PRIVATE_ADDRESSES", "maybe")]);
        assert!(!c.allow_private_addresses);
        assert_eq!(c.problems[0].name, "ALLOW_PRIVATE_ADDRESSES");
    }
}
