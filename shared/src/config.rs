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
    /// First retry delay of a failed credit call; doubles per attempt, at most 6 h.
    pub credit_retry_base_s: u32,
    pub problems: Vec<ConfigProblem>,
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
            // serde_json's number parser, already in the wasm: `str::parse::<f64>` would add
            // core's 10 KB table of powers of five (README "Size").
            Some(v) => match serde_json::from_str::<f64>(&v) {
                Ok(p) if p.is_finite() && p > 0.0 && p <= 100.0 => p,
                _ => {
                    r.problems.push(ConfigProblem {
                        name: "SLA_TARGET_PCT",
                        problem: "must be a percentage in (0, 100]; using 99.5".into(),
                    });
                    99.5
                }
            },
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
            problems: Vec::new(),
        };
        Config { problems: r.problems, ..cfg }
    }

    pub fn features(&self) -> Vec<FeatureState> {
        fn state(feature: &'static str, needs: &[(&'static str, bool)]) -> FeatureState {
            let missing: Vec<&'static str> = needs.iter().filter(|(_, present)| !present).map(|(n, _)| *n).collect();
            FeatureState { feature, enabled: missing.is_empty(), missing }
        }
        let mut dns_needs = vec![];
        match self.dns_provider {
            DnsProvider::None => {}
            DnsProvider::Cloudflare => {
                dns_needs.push(("CLOUDFLARE_ZONE_ID", self.cloudflare_zone_id.is_some()));
                dns_needs.push(("CLOUDFLARE_API_TOKEN", self.cloudflare_api_token.is_some()));
            }
            DnsProvider::Powerdns => {
                dns_needs.push(("POWERDNS_API_URL", self.powerdns_api_url.is_some()));
                dns_needs.push(("POWERDNS_API_KEY", self.powerdns_api_key.is_some()));
            }
        }
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
            state("dns", &dns_needs),
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

    pub fn sla_policy(&self) -> crate::sla::SlaPolicy {
        crate::sla::SlaPolicy::new(self.sla_target_pct, self.sla_credit_multiplier)
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
        assert!(c.problems.is_empty());
        assert!(c.features().iter().all(|f| f.feature == "dns" || !f.enabled));
    }

    #[test]
    fn malformed_values_are_named_never_echoed() {
        let c = cfg(&[("SESSION_KEY", "c2hvcnQ="), ("DOWN_AFTER", "zero"), ("FAIL_OPEN_POLICY", "yes")]);
        let names: Vec<&str> = c.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, ["SESSION_KEY", "FAIL_OPEN_POLICY", "DOWN_AFTER"]);
        assert!(c.problems.iter().all(|p| !p.problem.contains("c2hvcnQ")));
        assert_eq!(c.fail_open_policy, FailOpenPolicy::Closed);
        assert!(c.session_key.is_none());
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
            assert_eq!((c.sla_target_pct, c.problems.len()), (want, 0), "{v}");
        }
        for v in ["0", "100.01", "-5", "abc", "NaN", "inf"] {
            let c = cfg(&[("SLA_TARGET_PCT", v)]);
            assert_eq!(c.sla_target_pct, 99.5, "{v}");
            assert_eq!(c.problems.iter().map(|p| p.name).collect::<Vec<_>>(), ["SLA_TARGET_PCT"], "{v}");
        }
    }

    #[test]
    fn a_good_session_key() {
        let c = cfg(&[("SESSION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")]);
        assert_eq!(c.session_key.unwrap()[31], 31);
    }
}
