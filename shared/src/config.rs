//! Configuration: vars and secrets, validated once. A missing secret disables only the
//! feature that needs it; a malformed value is a configuration error. `/healthz` reports
//! both by *name*, never by value.

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

/// How a variable of [`READS`] is read.
#[derive(Clone, Copy)]
enum Read {
    /// A whole number: default, least, greatest.
    Num(u32, u32, u32),
    /// An http(s) URL without its trailing `/`.
    Url,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`), `false` when missing.
    Flag,
}

/// The numbers, URLs and flags, in the order their problems are reported. One loop reads
/// them all: per-field code for each was 4 KB of wasm (README "Size").
const READS: [(&str, Read); 22] = [
    ("ORIGIN_AUTH_URL", Read::Url),
    ("ORIGIN_TIMEOUT_MS", Read::Num(1500, 100, 30_000)),
    ("CACHE_REFRESH_S", Read::Num(3600, 60, 30 * 86_400)),
    ("CACHE_MAX_AGE_DAYS", Read::Num(30, 1, 365)),
    ("PROVISIONAL_PER_MINUTE", Read::Num(600, 0, 1_000_000)),
    ("LOCKOUT_USER_MAX", Read::Num(20, 5, 10_000)),
    ("REVERIFY_MAX_ATTEMPTS", Read::Num(5, 1, 100)),
    ("OFFLINE_MAX_AGE_H", Read::Num(24, 1, 168)),
    ("HEARTBEAT_STALE_S", Read::Num(90, 30, 3600)),
    ("DOWN_AFTER", Read::Num(3, 1, 60)),
    ("UP_AFTER", Read::Num(2, 1, 60)),
    ("DNS_TTL", Read::Num(60, 30, 86_400)),
    ("MAX_DELETE_PCT", Read::Num(30, 1, 100)),
    ("CLOUDFLARE_API_URL", Read::Url),
    ("POWERDNS_API_URL", Read::Url),
    ("ALERT_WEBHOOK_URL", Read::Url),
    ("SLA_CREDIT_MULTIPLIER", Read::Num(2, 0, 100)),
    ("CREDIT_API_URL", Read::Url),
    ("CREDIT_RETRY_BASE_S", Read::Num(60, 1, 3600)),
    ("ALLOW_PRIVATE_ADDRESSES", Read::Flag),
    ("CREDIT_RETRY_MAX_S", Read::Num(crate::sla::CREDIT_RETRY_MAX_S, 1, 7 * 86_400)),
    ("PROBE_INTERVAL_S", Read::Num(15, 1, 60)),
];

/// `name`'s position in [`READS`], so each field is read by its variable's name, never by
/// a number that could name another; called in constant context (`const { at(..) }`), so
/// a name missing from the table fails to compile and nothing is searched at run time.
const fn at(name: &str) -> usize {
    let mut i = 0;
    while i < READS.len() {
        let (k, n) = (READS[i].0.as_bytes(), name.as_bytes());
        if k.len() == n.len() {
            let mut j = 0;
            while j < k.len() && k[j] == n[j] {
                j += 1;
            }
            if j == k.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a variable of READS")
}

impl Reader<'_> {
    fn opt(&self, name: &str) -> Option<String> {
        (self.get)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn secret(&self, name: &str) -> Option<Secret> {
        // Secrets are used byte for byte; only an empty one counts as missing.
        (self.get)(name).filter(|v| !v.is_empty()).map(Secret)
    }

    fn problem(&mut self, name: &'static str, problem: String) {
        self.problems.push(ConfigProblem { name, problem });
    }

    /// The index in `options` of the value (0, the first, when missing), or `bad` with
    /// `problem` reported.
    fn choice(&mut self, name: &'static str, options: &[&str], bad: usize, problem: &str) -> usize {
        match self.opt(name) {
            None => 0,
            Some(v) => options.iter().position(|o| *o == v).unwrap_or_else(|| {
                self.problem(name, problem.into());
                bad
            }),
        }
    }

    /// Reads [`READS`]: each number or flag (as 0 or 1) in `nums`, each URL in `urls`, at
    /// its index.
    fn read_all(&mut self) -> ([u32; READS.len()], [Option<String>; READS.len()]) {
        let mut nums = [0; READS.len()];
        let mut urls = [const { None }; READS.len()];
        for (i, &(name, read)) in READS.iter().enumerate() {
            let v = self.opt(name);
            match read {
                Read::Num(default, min, max) => {
                    nums[i] = match v.map(|v| v.parse::<u32>()) {
                        None => default,
                        Some(Ok(n)) if (min..=max).contains(&n) => n,
                        Some(_) => {
                            self.problem(name, format!("must be a whole number from {min} to {max}; using {default}"));
                            default
                        }
                    }
                }
                Read::Flag => match v.map(|v| v.to_ascii_lowercase()).as_deref() {
                    None | Some("false") | Some("0") | Some("no") => {}
                    Some("true") | Some("1") | Some("yes") => nums[i] = 1,
                    Some(_) => self.problem(name, "must be true or false; using false".into()),
                },
                Read::Url => match v {
                    None => {}
                    Some(v) if v.starts_with("https://") || v.starts_with("http://") => {
                        urls[i] = Some(v.trim_end_matches('/').to_owned())
                    }
                    Some(_) => self.problem(name, "must be an http(s) URL".into()),
                },
            }
        }
        (nums, urls)
    }
}

/// `SESSION_KEY`'s 32 bytes from standard base64, or `None` for any text the `base64`
/// crate's `STANDARD` engine would not decode to exactly 32 bytes: 43 characters of the
/// alphabet and one `=`, the last character's two spare bits zero. Written out because
/// the crate's general decoder was 2 KB of wasm for this one fixed-size read (README
/// "Size"); the tests compare the two.
fn decode_key(text: &str) -> Option<[u8; 32]> {
    let b = text.as_bytes();
    if b.len() != 44 || b[43] != b'=' {
        return None;
    }
    let (mut key, mut acc, mut bits, mut n) = ([0u8; 32], 0u32, 0, 0);
    for &c in &b[..43] {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6 | u32::from(v)) & 0x3fff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            key[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    // 43 × 6 = 258 bits: the key's 256 and two that must be zero.
    (acc & 0b11 == 0).then_some(key)
}

impl Config {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut r = Reader { get, problems: Vec::new() };
        let session_key = r.secret("SESSION_KEY").and_then(|v| match decode_key(v.trim()) {
            Some(k) => Some(SessionKey(k)),
            None => {
                r.problem("SESSION_KEY", "must be 32 random bytes, base64-encoded".into());
                None
            }
        });
        // A typo must not silently open the door: an unknown policy is `closed`.
        let fail_open_policy = [FailOpenPolicy::Open, FailOpenPolicy::CachedOnly, FailOpenPolicy::Closed][r.choice(
            "FAIL_OPEN_POLICY",
            &["open", "cached-only", "closed"],
            2,
            "must be open, cached-only or closed; using closed",
        )];
        let dns_provider = [DnsProvider::None, DnsProvider::Cloudflare, DnsProvider::Powerdns][r.choice(
            "DNS_PROVIDER",
            &["none", "cloudflare", "powerdns"],
            0,
            "must be cloudflare, powerdns or none; DNS changes are off",
        )];
        let sla_target_pct = match r.opt("SLA_TARGET_PCT") {
            None => 99.5,
            Some(v) => match crate::float::parse_f64(&v) {
                Some(p) if p.is_finite() && p > 0.0 && p <= 100.0 => p,
                _ => {
                    r.problem("SLA_TARGET_PCT", "must be a percentage in (0, 100]; using 99.5".into());
                    99.5
                }
            },
        };
        let probe_regions = match r.opt("PROBE_REGIONS") {
            None => crate::probe::Region::DEFAULT.to_vec(),
            Some(v) => match crate::probe::parse_regions(&v) {
                Ok(list) => list,
                Err(e) => {
                    r.problem("PROBE_REGIONS", format!("{e}; using weur,enam,apac"));
                    crate::probe::Region::DEFAULT.to_vec()
                }
            },
        };
        let probe_mode = [crate::probe::ProbeMode::Alarms, crate::probe::ProbeMode::Cron]
            [r.choice("PROBE_MODE", &["alarms", "cron"], 0, "must be alarms or cron; using alarms")];
        let dns_zone = r.opt("DNS_ZONE").unwrap_or_else(|| "example.com".into());
        let dns_zone = dns_zone.trim_end_matches('.').to_ascii_lowercase();
        let pool_prefix = r.opt("POOL_PREFIX").unwrap_or_else(|| "pool.prd".into());
        let (n, mut urls) = r.read_all();
        let mut url = |i: usize| urls[i].take();
        let cfg = Config {
            fleet_secret: r.secret("FLEET_SECRET"),
            admin_token: r.secret("ADMIN_TOKEN"),
            librenms_token: r.secret("LIBRENMS_TOKEN"),
            cred_pepper: r.secret("CRED_PEPPER"),
            session_key,
            origin_auth_url: url(const { at("ORIGIN_AUTH_URL") }),
            origin_api_token: r.secret("ORIGIN_API_TOKEN"),
            origin_timeout_ms: n[const { at("ORIGIN_TIMEOUT_MS") }],
            fail_open_policy,
            cache_refresh_s: n[const { at("CACHE_REFRESH_S") }],
            cache_max_age_days: n[const { at("CACHE_MAX_AGE_DAYS") }],
            provisional_per_minute: n[const { at("PROVISIONAL_PER_MINUTE") }],
            lockout_user_max: n[const { at("LOCKOUT_USER_MAX") }],
            reverify_max_attempts: n[const { at("REVERIFY_MAX_ATTEMPTS") }],
            offline_max_age_h: n[const { at("OFFLINE_MAX_AGE_H") }],
            test_faults: r
                .opt("TEST_FAULTS")
                .map(|v| v.split(',').map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect())
                .unwrap_or_default(),
            heartbeat_stale_s: n[const { at("HEARTBEAT_STALE_S") }],
            down_after: n[const { at("DOWN_AFTER") }],
            up_after: n[const { at("UP_AFTER") }],
            dns_provider,
            dns_zone,
            pool_prefix,
            dns_ttl: n[const { at("DNS_TTL") }],
            max_delete_pct: n[const { at("MAX_DELETE_PCT") }],
            cloudflare_zone_id: r.opt("CLOUDFLARE_ZONE_ID"),
            cloudflare_api_token: r.secret("CLOUDFLARE_API_TOKEN"),
            cloudflare_api_url: url(const { at("CLOUDFLARE_API_URL") })
                .unwrap_or_else(|| "https://api.cloudflare.com/client/v4".into()),
            powerdns_api_url: url(const { at("POWERDNS_API_URL") }),
            powerdns_server_id: r.opt("POWERDNS_SERVER_ID").unwrap_or_else(|| "localhost".into()),
            powerdns_api_key: r.secret("POWERDNS_API_KEY"),
            alert_webhook_url: url(const { at("ALERT_WEBHOOK_URL") }),
            sla_target_pct,
            sla_credit_multiplier: n[const { at("SLA_CREDIT_MULTIPLIER") }],
            credit_api_url: url(const { at("CREDIT_API_URL") }),
            credit_api_token: r.secret("CREDIT_API_TOKEN"),
            credit_retry_base_s: n[const { at("CREDIT_RETRY_BASE_S") }],
            allow_private_addresses: n[const { at("ALLOW_PRIVATE_ADDRESSES") }] != 0,
            credit_retry_max_s: n[const { at("CREDIT_RETRY_MAX_S") }],
            probe_regions,
            probe_interval_s: n[const { at("PROBE_INTERVAL_S") }],
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

    /// Every variable set to a usable value other than its default.
    const GOOD_VALUES: [(&str, &str); 41] = [
        ("FLEET_SECRET", "f"),
        ("ADMIN_TOKEN", "a"),
        ("LIBRENMS_TOKEN", "l"),
        ("CRED_PEPPER", "p"),
        ("SESSION_KEY", " AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= "),
        ("ORIGIN_AUTH_URL", " https://o.example/auth/ "),
        ("ORIGIN_API_TOKEN", "o"),
        ("ORIGIN_TIMEOUT_MS", "100"),
        ("FAIL_OPEN_POLICY", "cached-only"),
        ("CACHE_REFRESH_S", "2592000"),
        ("CACHE_MAX_AGE_DAYS", "365"),
        ("PROVISIONAL_PER_MINUTE", "0"),
        ("LOCKOUT_USER_MAX", "5"),
        ("REVERIFY_MAX_ATTEMPTS", "100"),
        ("OFFLINE_MAX_AGE_H", "1"),
        ("TEST_FAULTS", "guard,,kv"),
        ("HEARTBEAT_STALE_S", "30"),
        ("DOWN_AFTER", "60"),
        ("UP_AFTER", "1"),
        ("DNS_PROVIDER", "cloudflare"),
        ("DNS_ZONE", "Example.ORG."),
        ("POOL_PREFIX", "pool"),
        ("DNS_TTL", "86400"),
        ("MAX_DELETE_PCT", "100"),
        ("CLOUDFLARE_ZONE_ID", "z"),
        ("CLOUDFLARE_API_TOKEN", "c"),
        ("CLOUDFLARE_API_URL", "http://cf.test//"),
        ("POWERDNS_API_URL", "https://pdns.test"),
        ("POWERDNS_SERVER_ID", "srv"),
        ("POWERDNS_API_KEY", "k"),
        ("ALERT_WEBHOOK_URL", "https://hook.test/x"),
        ("SLA_TARGET_PCT", "99.9"),
        ("SLA_CREDIT_MULTIPLIER", "0"),
        ("CREDIT_API_URL", "https://credit.test"),
        ("CREDIT_API_TOKEN", "t"),
        ("CREDIT_RETRY_BASE_S", "3600"),
        ("ALLOW_PRIVATE_ADDRESSES", "YES"),
        ("CREDIT_RETRY_MAX_S", "604800"),
        ("PROBE_REGIONS", "oc,wnam"),
        ("PROBE_INTERVAL_S", "60"),
        ("PROBE_MODE", "cron"),
    ];

    /// Each number lands in the field named after its variable: every one set to a value no
    /// other has (the shared values of `GOOD_VALUES` would hide two fields swapped).
    #[test]
    fn each_number_lands_in_its_own_field() {
        type Field = fn(&Config) -> u32;
        let set: [(&str, u32, Field); 16] = [
            ("ORIGIN_TIMEOUT_MS", 1501, |c| c.origin_timeout_ms),
            ("CACHE_REFRESH_S", 3602, |c| c.cache_refresh_s),
            ("CACHE_MAX_AGE_DAYS", 33, |c| c.cache_max_age_days),
            ("PROVISIONAL_PER_MINUTE", 604, |c| c.provisional_per_minute),
            ("LOCKOUT_USER_MAX", 25, |c| c.lockout_user_max),
            ("REVERIFY_MAX_ATTEMPTS", 6, |c| c.reverify_max_attempts),
            ("OFFLINE_MAX_AGE_H", 27, |c| c.offline_max_age_h),
            ("HEARTBEAT_STALE_S", 98, |c| c.heartbeat_stale_s),
            ("DOWN_AFTER", 9, |c| c.down_after),
            ("UP_AFTER", 10, |c| c.up_after),
            ("DNS_TTL", 71, |c| c.dns_ttl),
            ("MAX_DELETE_PCT", 32, |c| c.max_delete_pct),
            ("SLA_CREDIT_MULTIPLIER", 13, |c| c.sla_credit_multiplier),
            ("CREDIT_RETRY_BASE_S", 74, |c| c.credit_retry_base_s),
            ("CREDIT_RETRY_MAX_S", 7500, |c| c.credit_retry_max_s),
            ("PROBE_INTERVAL_S", 16, |c| c.probe_interval_s),
        ];
        let text: Vec<(String, String)> = set.iter().map(|(k, v, _)| (k.to_string(), v.to_string())).collect();
        let pairs: Vec<(&str, &str)> = text.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let c = cfg(&pairs);
        for (name, value, field) in set {
            assert!(c.problems.iter().all(|p| p.name != name), "{name}: {:?}", c.problems);
            assert_eq!(field(&c), value, "{name}");
        }
        let nums = READS.iter().filter(|(_, r)| matches!(r, Read::Num(..))).count();
        assert_eq!(nums, set.len(), "every number of READS is in this test");
    }

    /// Every value read, as the per-field reader before `READS` read it (its `Debug`, secrets
    /// redacted, taken from that version).
    #[test]
    fn every_variable_is_read_into_its_field() {
        let c = cfg(&GOOD_VALUES);
        assert_eq!(format!("{c:?}"), EXPECTED_DEBUG);
        assert_eq!(c.session_key.unwrap()[31], 31);
        assert_eq!(c.admin_token.as_deref(), Some("a"));
    }

    const EXPECTED_DEBUG: &str = "Config { fleet_secret: Some([redacted]), admin_token: Some([redacted]), librenms_token: Some([redacted]), cred_pepper: Some([redacted]), session_key: Some([redacted]), origin_auth_url: Some(\"https://o.example/auth\"), origin_api_token: Some([redacted]), origin_timeout_ms: 100, fail_open_policy: CachedOnly, cache_refresh_s: 2592000, cache_max_age_days: 365, provisional_per_minute: 0, lockout_user_max: 5, reverify_max_attempts: 100, offline_max_age_h: 1, test_faults: [\"guard\", \"kv\"], heartbeat_stale_s: 30, down_after: 60, up_after: 1, dns_provider: Cloudflare, dns_zone: \"example.org\", pool_prefix: \"pool\", dns_ttl: 86400, max_delete_pct: 100, cloudflare_zone_id: Some(\"z\"), cloudflare_api_token: Some([redacted]), cloudflare_api_url: \"http://cf.test\", powerdns_api_url: Some(\"https://pdns.test\"), powerdns_server_id: \"srv\", powerdns_api_key: Some([redacted]), alert_webhook_url: Some(\"https://hook.test/x\"), sla_target_pct: 99.9, sla_credit_multiplier: 0, credit_api_url: Some(\"https://credit.test\"), credit_api_token: Some([redacted]), credit_retry_base_s: 3600, allow_private_addresses: true, credit_retry_max_s: 604800, probe_regions: [Oc, Wnam], probe_interval_s: 60, probe_mode: Cron, problems: [ConfigProblem { name: \"TEST_FAULTS\", problem: \"set: test-only fault injection is on\" }] }";

    /// Every malformed value is reported by name, in the order the per-field reader
    /// reported them (texts taken from that version), and its fallback used.
    #[test]
    fn every_bad_value_is_reported_in_order() {
        let pairs: Vec<(&str, &str)> = GOOD_VALUES.iter().map(|(n, _)| (*n, " bogus ")).collect();
        let c = cfg(&pairs);
        let got: Vec<String> = c.problems.iter().map(|p| format!("{}: {}", p.name, p.problem)).collect();
        assert_eq!(got, EXPECTED_PROBLEMS);
        assert_eq!((c.fail_open_policy, c.dns_provider), (FailOpenPolicy::Closed, DnsProvider::None));
        assert_eq!((c.origin_timeout_ms, c.credit_retry_max_s, c.probe_interval_s), (1500, 21_600, 15));
        assert!(c.origin_auth_url.is_none() && !c.allow_private_addresses && c.session_key.is_none());
        assert_eq!(c.cloudflare_api_url, "https://api.cloudflare.com/client/v4");
    }

    const EXPECTED_PROBLEMS: [&str; 29] = [
        "SESSION_KEY: must be 32 random bytes, base64-encoded",
        "FAIL_OPEN_POLICY: must be open, cached-only or closed; using closed",
        "DNS_PROVIDER: must be cloudflare, powerdns or none; DNS changes are off",
        "SLA_TARGET_PCT: must be a percentage in (0, 100]; using 99.5",
        "PROBE_REGIONS: must be 1 to 6 of wnam,enam,weur,eeur,apac,oc; using weur,enam,apac",
        "PROBE_MODE: must be alarms or cron; using alarms",
        "ORIGIN_AUTH_URL: must be an http(s) URL",
        "ORIGIN_TIMEOUT_MS: must be a whole number from 100 to 30000; using 1500",
        "CACHE_REFRESH_S: must be a whole number from 60 to 2592000; using 3600",
        "CACHE_MAX_AGE_DAYS: must be a whole number from 1 to 365; using 30",
        "PROVISIONAL_PER_MINUTE: must be a whole number from 0 to 1000000; using 600",
        "LOCKOUT_USER_MAX: must be a whole number from 5 to 10000; using 20",
        "REVERIFY_MAX_ATTEMPTS: must be a whole number from 1 to 100; using 5",
        "OFFLINE_MAX_AGE_H: must be a whole number from 1 to 168; using 24",
        "HEARTBEAT_STALE_S: must be a whole number from 30 to 3600; using 90",
        "DOWN_AFTER: must be a whole number from 1 to 60; using 3",
        "UP_AFTER: must be a whole number from 1 to 60; using 2",
        "DNS_TTL: must be a whole number from 30 to 86400; using 60",
        "MAX_DELETE_PCT: must be a whole number from 1 to 100; using 30",
        "CLOUDFLARE_API_URL: must be an http(s) URL",
        "POWERDNS_API_URL: must be an http(s) URL",
        "ALERT_WEBHOOK_URL: must be an http(s) URL",
        "SLA_CREDIT_MULTIPLIER: must be a whole number from 0 to 100; using 2",
        "CREDIT_API_URL: must be an http(s) URL",
        "CREDIT_RETRY_BASE_S: must be a whole number from 1 to 3600; using 60",
        "ALLOW_PRIVATE_ADDRESSES: must be true or false; using false",
        "CREDIT_RETRY_MAX_S: must be a whole number from 1 to 604800; using 21600",
        "PROBE_INTERVAL_S: must be a whole number from 1 to 60; using 15",
        "TEST_FAULTS: set: test-only fault injection is on",
    ];

    /// `decode_key` answers as the `base64` crate's `STANDARD` decoder followed by the
    /// 32-byte check did: on every key encoded, and on near misses.
    #[test]
    fn session_keys_decode_as_the_base64_crate_does() {
        use base64::Engine;
        let reference = |s: &str| {
            base64::engine::general_purpose::STANDARD.decode(s).ok().filter(|b| b.len() == 32).map(|b| {
                let mut k = [0u8; 32];
                k.copy_from_slice(&b);
                k
            })
        };
        let mut texts: Vec<String> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let mut key = [0u8; 32];
            for b in &mut key {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            let good = base64::engine::general_purpose::STANDARD.encode(key);
            assert_eq!(decode_key(&good), Some(key));
            let mut bytes = good.clone().into_bytes();
            let at = (seed >> 8) as usize % bytes.len();
            // One character changed to another of the alphabet, `=`, or something else.
            const SWAPS: &[u8] = b"AZaz09+/=-_ .\n\xc3";
            bytes[at] = SWAPS[(seed >> 20) as usize % SWAPS.len()];
            texts.push(String::from_utf8_lossy(&bytes).into_owned());
            texts.push(good[..43].to_owned());
            texts.push(format!("{}==", &good[..42]));
            texts.push(format!("{good}="));
            texts.push(format!("{}A", &good[..43]));
            if round < 64 {
                // Every last character, spare bits set or not.
                for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" {
                    texts.push(format!("{}{}=", &good[..42], *c as char));
                }
            }
        }
        texts.extend(["".into(), "=".into(), "A".repeat(44), format!("{}=", "/".repeat(43))]);
        for t in &texts {
            assert_eq!(decode_key(t), reference(t), "{t:?}");
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
