//! The public status page (`GET /`): server-rendered HTML that reads fine without
//! JavaScript; a small inline script (allowed by its hash in the page's
//! Content-Security-Policy) swaps in a fresh copy every minute without reloading the page.

use crate::fleet::{CountrySummary, Snapshot, Status};
use crate::sla::{DayFigures, Measurement, MinuteUnits, SlaReport, UNITS_PER_MINUTE};

/// Everything the page shows.
pub struct Page<'a> {
    pub snapshot: &'a Snapshot,
    pub countries: &'a [CountrySummary],
    pub sla: Option<&'a SlaReport>,
    /// Per-day ledger figures, any order; days without figures show as "no data".
    pub days: &'a [DayFigures],
    /// Days since the epoch, UTC.
    pub today: i64,
}

pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24}\
h1{font-size:1.4rem;margin:0}h2{font-size:1.15rem;margin-top:1.6rem}\
#headline{border-radius:6px;padding:.8rem 1rem;margin:.8rem 0;color:#fff;background:#57606a}#headline p{margin:.2rem 0 0}\
#headline.all_up{background:#1a7f37}#headline.degraded{background:#9a6700}#headline.major_outage{background:#cf222e}\
table{border-collapse:collapse;width:100%;margin:.8rem 0}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd}\
code{overflow-wrap:anywhere}.up{color:#116329}.down{color:#b42318}.maintenance{color:#8a6100}.muted{color:#57606a}\
#days{display:flex;gap:2px;height:2.2rem;margin:.5rem 0;padding:0;list-style:none}\
#days li{flex:1;min-width:0;border-radius:2px;background:#d0d7de;position:relative;outline-offset:1px}\
.ok{background:#2da44e!important}.degraded_day{background:#d4a72c!important}.bad{background:#cf222e!important}\
.tip{display:none;position:absolute;bottom:115%;left:0;z-index:1;width:12rem;padding:.35rem .5rem;border-radius:4px;\
background:#1b1f24;color:#fff;font-size:.8rem;white-space:normal}#days li.r .tip{left:auto;right:0}\
#days li:hover .tip,#days li:focus .tip{display:block}\
#legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;padding:0;list-style:none;font-size:.85rem}\
#legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px;background:#d0d7de}\
@media (max-width:40rem){body{margin-top:1rem}#days{gap:1px}table,tbody,tr,td{display:block}\
thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}tr{border-bottom:1px solid #ddd;padding:.3rem 0}\
td{border:0;padding:.1rem 0;display:flex;justify-content:space-between;gap:1rem;text-align:right}\
td::before{content:attr(data-label);color:#57606a;text-align:left}}";

/// Refreshes `<main>` in place every `data-refresh-s` seconds and when the tab is shown
/// again; `no-cache` revalidates with the ETag, so an unchanged page costs a 304.
const SCRIPT: &str = "(function(){var m=document.getElementById(\"main\");var s=+m.getAttribute(\"data-refresh-s\")||60;\
function tick(){fetch(location.pathname,{cache:\"no-cache\",headers:{accept:\"text/html\"}}).then(function(r){return r.ok?r.text():null})\
.then(function(t){if(!t)return;var n=new DOMParser().parseFromString(t,\"text/html\").getElementById(\"main\");\
if(n){m.replaceWith(n);m=n}}).catch(function(){})}\
setInterval(tick,s*1000);document.addEventListener(\"visibilitychange\",function(){if(!document.hidden)tick()})})();";

/// Seconds between two refreshes of the page.
pub const REFRESH_S: u32 = 60;

/// Days shown in the availability strip.
pub const DAYS_SHOWN: i64 = 90;

/// The page's Content-Security-Policy: nothing but its own inline style and script (by
/// hash) and fetches of itself. The hashes are written out (a test recomputes them from
/// `SCRIPT` and `STYLE` and names the new ones when either changes): hashing and base64
/// at run time linked the crate's encoder for two constants (README "Size").
pub const CSP: &str = "default-src 'none'; script-src 'sha256-qsv1w6BWkKexiTTX9ugcFuVXnVgY+9A6xAlU3QQWTAQ='; \
     style-src 'sha256-MRaUZGdKALrCBv+T37EHRYpYUe7Hkfls1EaBahMxb/k='; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

pub fn content_security_policy() -> String {
    CSP.to_owned()
}

/// The overall state of the service, from the pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Headline {
    NoServers,
    /// Every server not in maintenance is up; `maintenance` servers are out on purpose.
    AllUp {
        maintenance: u32,
    },
    /// Some servers are down (or a whole pool is in maintenance), every pool that should
    /// answer still has a server up.
    Degraded {
        down: u32,
        total: u32,
        maintenance_pools: Vec<String>,
    },
    /// At least one pool has servers but none of them up: its clients cannot connect.
    MajorOutage {
        pools: Vec<String>,
    },
}

pub fn headline(snap: &Snapshot) -> Headline {
    if snap.servers.is_empty() {
        return Headline::NoServers;
    }
    let mut countries: Vec<&str> = snap.servers.iter().map(|s| s.country.as_str()).collect();
    crate::sort::sort(&mut countries);
    countries.dedup();
    let (mut dead, mut maintenance_pools) = (Vec::new(), Vec::new());
    for c in countries {
        let pool: Vec<Status> = snap.servers.iter().filter(|s| s.country.as_str() == c).map(|s| s.status).collect();
        if pool.iter().all(|s| *s == Status::Maintenance) {
            maintenance_pools.push(c.to_owned());
        } else if !pool.contains(&Status::Up) {
            dead.push(c.to_owned());
        }
    }
    let count = |st: Status| snap.servers.iter().filter(|s| s.status == st).count() as u32;
    if !dead.is_empty() {
        return Headline::MajorOutage { pools: dead };
    }
    let (down, maintenance) = (count(Status::Down), count(Status::Maintenance));
    if down > 0 || !maintenance_pools.is_empty() {
        return Headline::Degraded { down, total: snap.servers.len() as u32, maintenance_pools };
    }
    Headline::AllUp { maintenance }
}

fn headline_html(h: &Headline) -> String {
    let (class, title, detail) = match h {
        Headline::NoServers => ("none", "No servers registered yet".to_owned(), String::new()),
        Headline::AllUp { maintenance: 0 } => {
            ("all_up", "All systems operational".to_owned(), "Every server is up.".into())
        }
        Headline::AllUp { maintenance } => (
            "all_up",
            "All systems operational".to_owned(),
            format!("Every server is up; {maintenance} in planned maintenance."),
        ),
        Headline::Degraded { down, total, maintenance_pools } => {
            let mut d = format!("{down} of {total} servers down; every country still has a server up.");
            if !maintenance_pools.is_empty() {
                d.push_str(&format!(" Planned maintenance in {}.", escape(&maintenance_pools.join(", "))));
            }
            ("degraded", "Degraded service".to_owned(), d)
        }
        Headline::MajorOutage { pools } => {
            ("major_outage", "Major outage".to_owned(), format!("No server is up in {}.", escape(&pools.join(", "))))
        }
    };
    format!("<header id=\"headline\" class=\"{class}\"><h1>VPN service status</h1><p><strong>{title}</strong> {detail}</p></header>")
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `<time datetime="2026-11-25T18:05:00Z">25 Nov 2026, 18:05 UTC</time>`.
pub fn time_html(iso: &str) -> String {
    match crate::civil::rfc3339_to_human_utc(iso) {
        Some(t) => format!("<time datetime=\"{}\">{t}</time>", escape(iso)),
        None => "never".into(),
    }
}

fn day_class(d: Option<&DayFigures>, target_pct: f64) -> (&'static str, String) {
    match d {
        Some(d) if d.recorded > 0 => {
            let recorded_u = u64::from(d.recorded) * UNITS_PER_MINUTE;
            let down = d.down_units.min(recorded_u);
            // Hundredths of a percent, rounded down: a day with any downtime never reads 100.00 %.
            let pct = (recorded_u - down) * 10_000 / recorded_u;
            let class = if down == 0 {
                "ok"
            } else if 100.0 * (recorded_u - down) as f64 / recorded_u as f64 >= target_pct {
                "degraded_day"
            } else {
                "bad"
            };
            (
                class,
                // Downtime with the digits of the API (`0.25 min`; README "The SLA and its credits").
                format!(
                    "{}.{:02} % available, {} min down, measured for {} of 1,440 min",
                    pct / 100,
                    pct % 100,
                    MinuteUnits(down),
                    thousands(d.recorded)
                ),
            )
        }
        _ => ("nodata", "no data: not measured".into()),
    }
}

fn sla_html(r: Option<&SlaReport>) -> String {
    let Some(r) = r else {
        return "<p id=\"sla\" class=\"muted\">Availability figures are unavailable right now.</p>".into();
    };
    let unmeasured = r.elapsed_minutes.saturating_sub(r.observed_minutes);
    let figure = match (r.measurement, r.availability_pct) {
        (Measurement::Measured, Some(a)) if unmeasured == 0 => format!(
            "This month so far: <strong>{a:.3} %</strong> available (target {} %), \
             <span id=\"coverage\">measured for all {} minutes so far</span>.",
            r.target_pct,
            thousands(r.elapsed_minutes)
        ),
        // Partly measured: the coverage leads, and the percentage says what it assumes,
        // so a mostly unmeasured month never reads as a measured 100 %.
        (Measurement::Measured, Some(a)) => format!(
            "This month so far: <span id=\"coverage\">measured for <strong>{} of {} minutes</strong> so far \
             ({} %)</span>. Availability {a:.3} % (target {} %) counts the {} minutes not measured as available.",
            thousands(r.observed_minutes),
            thousands(r.elapsed_minutes),
            r.coverage_pct,
            r.target_pct,
            thousands(unmeasured)
        ),
        _ => format!(
            "This month so far: <strong>not measured yet</strong> (target {} %): \
             <span id=\"coverage\">measured for 0 of {} minutes so far</span>.",
            r.target_pct,
            thousands(r.elapsed_minutes)
        ),
    };
    let mut h = format!("<p id=\"sla\">{figure}</p>");
    if r.measurement == Measurement::Measured {
        h.push_str(&format!(
            "<p class=\"muted\">Downtime {} min of an allowance of {} min; credit so far: {} min added to every subscription.</p>",
            r.downtime_minutes, r.allowance_minutes, r.credit_minutes
        ));
    }
    h
}

pub fn render(page: &Page<'_>) -> String {
    let snap = page.snapshot;
    let countries = page.countries;
    let up = snap.servers.iter().filter(|s| s.status == Status::Up).count();
    let total = snap.servers.len();
    let mut h = String::new();
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    h.push_str("<title>VPN service status</title><style>");
    h.push_str(STYLE);
    h.push_str(&format!(
        "</style><noscript><meta http-equiv=\"refresh\" content=\"{REFRESH_S}\"></noscript></head>\
         <body><main id=\"main\" data-refresh-s=\"{REFRESH_S}\">"
    ));
    h.push_str(&headline_html(&headline(snap)));
    h.push_str(&format!(
        "<p id=\"summary\"><strong>{up}</strong> of <strong>{total}</strong> servers up. <span class=\"muted\">Updated {}</span></p>",
        time_html(&snap.generated_at)
    ));
    h.push_str("<h2>Availability</h2>");
    h.push_str(&sla_html(page.sla));
    let target = page.sla.map(|r| r.target_pct).unwrap_or(99.5);
    h.push_str("<ol id=\"days\" aria-label=\"availability, last 90 days, one bar a day\">");
    let first = page.today - DAYS_SHOWN + 1;
    for day in first..=page.today {
        let (class, text) = day_class(page.days.iter().find(|d| d.day == day), target);
        let date = crate::civil::Date::from_days(day);
        let iso = date.map(crate::civil::iso_date).unwrap_or_default();
        let human = date.map(crate::civil::human_date).unwrap_or_default();
        // Tips of the right half open leftwards so they stay on screen.
        let side = if day - first >= DAYS_SHOWN / 2 { " r" } else { "" };
        h.push_str(&format!(
            "<li class=\"{class}{side}\" tabindex=\"0\" data-day=\"{iso}\" aria-label=\"{human}: {text}\">\
             <span class=\"tip\" role=\"tooltip\"><time datetime=\"{iso}\">{human}</time>: {text}</span></li>"
        ));
    }
    h.push_str(
        "</ol><ul id=\"legend\" aria-label=\"legend\"><li><i class=\"ok\"></i>no downtime</li>\
         <li><i class=\"degraded_day\"></i>downtime, within the target</li><li><i class=\"bad\"></i>below the target</li>\
         <li><i class=\"nodata\"></i>not measured</li></ul><p class=\"muted\">Last 90 days, one bar a day (UTC); \
         hover or tap a bar for its figures.</p>",
    );
    h.push_str("<h2>Pools by country</h2><table id=\"pools\"><thead><tr><th>Country</th><th>Pool</th><th>Up</th><th>Load</th></tr></thead><tbody>");
    for c in countries {
        h.push_str(&format!(
            "<tr data-country=\"{code}\"><td data-label=\"Country\">{code}</td><td data-label=\"Pool\"><code>{pool}</code></td>\
             <td data-label=\"Up\">{up} / {n}</td><td data-label=\"Load\">{load}</td></tr>",
            code = escape(c.code.as_str()),
            pool = escape(&c.pool),
            up = c.up,
            n = c.servers,
            load = c.load.map(|l| format!("{l} %")).unwrap_or_else(|| "–".into()),
        ));
    }
    h.push_str("</tbody></table><h2>Servers</h2><table id=\"servers\"><thead><tr><th>Server</th><th>Location</th><th>Status</th><th>Load</th><th>Checks</th></tr></thead><tbody>");
    for s in &snap.servers {
        let status = match s.status {
            Status::Up => "up",
            Status::Down => "down",
            Status::Maintenance => "maintenance",
        };
        h.push_str(&format!(
            "<tr data-server=\"{id}\"><td data-label=\"Server\"><code>{host}</code></td><td data-label=\"Location\">{city}, {cc}</td>\
             <td data-label=\"Status\" class=\"{status}\">{status}</td><td data-label=\"Load\">{load}</td><td data-label=\"Checks\" class=\"checks\">{checks}</td></tr>",
            id = escape(s.id.as_str()),
            host = escape(&s.hostname),
            city = escape(&s.city),
            cc = escape(s.country.as_str()),
            load = s.load.map(|l| format!("{l} %")).unwrap_or_else(|| "unknown".into()),
            // The last cycle's verdict per probing region (README "Probers").
            checks = s
                .checks
                .as_ref()
                .map(|c| {
                    let parts: Vec<String> = c
                        .iter()
                        .map(|(r, v)| {
                            let v = if *v == crate::fleet::CheckResult::Pass { "pass" } else { "fail" };
                            format!("<span class=\"{v}\">{} {v}</span>", r.as_str())
                        })
                        .collect();
                    parts.join(" · ")
                })
                .unwrap_or_else(|| "–".into()),
        ));
    }
    h.push_str("</tbody></table></main><script>");
    h.push_str(SCRIPT);
    h.push_str("</script></body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::{report, MinuteCounts, SlaPolicy};
    use crate::types::Month;

    fn view(id: &str, country: &str, status: Status) -> crate::fleet::ServerView {
        serde_json::from_value(serde_json::json!({
            "id": id, "hostname": format!("{id}.example.com"), "ipv4": "198.51.100.1", "ipv6": null,
            "country": country, "city": "X", "status": status, "load": null, "clients": 0, "capacity": 10,
            "features": [], "last_seen": null
        }))
        .unwrap()
    }

    fn snap(servers: &[(&str, &str, Status)]) -> Snapshot {
        Snapshot::new(0, servers.iter().map(|(i, c, s)| view(i, c, *s)).collect())
    }

    #[test]
    fn escapes_and_counts() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let snap = Snapshot::default();
        let days = [
            DayFigures { day: 100, recorded: 1440, down_units: 0 },
            DayFigures { day: 99, recorded: 720, down_units: 60 * UNITS_PER_MINUTE },
        ];
        let html = render(&Page { snapshot: &snap, countries: &[], sla: None, days: &days, today: 100 });
        assert!(html.contains("<strong>0</strong> of <strong>0</strong>"));
        assert!(html.contains("Updated never"));
        assert_eq!(html.matches("data-day=").count(), 90);
        assert!(html.contains(
            "class=\"ok r\" tabindex=\"0\" data-day=\"1970-04-11\" aria-label=\"11 Apr 1970: 100.00 % available, 0 min down, measured for 1,440 of 1,440 min\""
        ));
        assert!(html.contains("class=\"bad r\""));
        assert!(html.contains("91.66 % available, 60 min down, measured for 720 of 1,440 min"));
        assert!(html.contains("measured for 720 of 1,440 min"));
        assert_eq!(html.matches("class=\"nodata").count(), 88 + 1, "88 bars and the legend");
        assert!(html.contains("unavailable right now"));
        assert!(html.contains("No servers registered yet"));
    }

    #[test]
    fn a_days_downtime_is_shown_to_the_hundred_thousandth_of_a_minute() {
        let days = |down_units| {
            let d = [DayFigures { day: 100, recorded: 1440, down_units }];
            render(&Page { snapshot: &Snapshot::default(), countries: &[], sla: None, days: &d, today: 100 })
        };
        // One 15 s cycle down: 0.25 min, within the target (99.5 %).
        let html = days(25_000);
        assert!(html.contains("class=\"degraded_day r\""), "{html}");
        assert!(html.contains("99.98 % available, 0.25 min down, measured for 1,440 of 1,440 min"), "{html}");
        // One 1 s cycle: rounded down, a day with downtime never reads 100.00 %.
        assert!(days(1_667).contains("99.99 % available, 0.01667 min down"));
        // 7.2 min of 1,440 is exactly 99.5 %: within the target; a unit more is not.
        assert!(days(720_000).contains("class=\"degraded_day r\""));
        assert!(days(720_001).contains("class=\"bad r\""));
        assert!(days(0).contains("class=\"ok r\""));
        // More down than recorded (a corrupt row) is capped at the recorded minutes.
        assert!(days(200_000_000).contains("0.00 % available, 1440 min down"));
    }

    #[test]
    fn headline_from_the_pools() {
        use Status::*;
        assert_eq!(headline(&snap(&[])), Headline::NoServers);
        assert_eq!(headline(&snap(&[("a", "se", Up), ("b", "de", Up)])), Headline::AllUp { maintenance: 0 });
        assert_eq!(headline(&snap(&[("a", "se", Up), ("b", "se", Maintenance)])), Headline::AllUp { maintenance: 1 });
        assert_eq!(
            headline(&snap(&[("a", "se", Up), ("b", "se", Down), ("c", "de", Up)])),
            Headline::Degraded { down: 1, total: 3, maintenance_pools: vec![] }
        );
        assert_eq!(
            headline(&snap(&[("a", "se", Up), ("c", "de", Maintenance)])),
            Headline::Degraded { down: 0, total: 2, maintenance_pools: vec!["de".into()] }
        );
        assert_eq!(
            headline(&snap(&[("a", "se", Up), ("b", "de", Down), ("c", "de", Maintenance), ("d", "nl", Down)])),
            Headline::MajorOutage { pools: vec!["de".into(), "nl".into()] }
        );
        let html =
            render(&Page { snapshot: &snap(&[("a", "se", Down)]), countries: &[], sla: None, days: &[], today: 100 });
        assert!(html.contains("class=\"major_outage\"") && html.contains("No server is up in se."));
    }

    #[test]
    fn coverage_sits_next_to_availability_and_unmeasured_is_never_100() {
        let month = Month::parse("2026-11").unwrap();
        let now = month.start_minute() + 35_545;
        let r = report(month, MinuteCounts { up: 13, ..Default::default() }, now, SlaPolicy::default(), None).public();
        let html = sla_html(Some(&r));
        assert!(!html.contains("<strong>100"), "{html}");
        assert!(html.contains("measured for <strong>13 of 35,545 minutes</strong> so far (0.037 %)"), "{html}");
        assert!(
            html.contains("Availability 100.000 % (target 99.5 %) counts the 35,532 minutes not measured as available")
        );
        let full = report(
            month,
            MinuteCounts { up: 35_540, down: 5, down_units: 5 * UNITS_PER_MINUTE, ..Default::default() },
            now,
            SlaPolicy::default(),
            None,
        );
        let html = sla_html(Some(&full.public()));
        assert!(html.contains("<strong>99.986 %</strong> available (target 99.5 %)"), "{html}");
        assert!(html.contains("measured for all 35,545 minutes so far"), "{html}");
        assert!(html.contains("Downtime 5 min of an allowance of 216 min"), "{html}");
        let counts = MinuteCounts { up: 35_540, down: 5, down_units: 25_000, ..Default::default() };
        let part = report(month, counts, now, SlaPolicy::default(), None).public();
        assert!(sla_html(Some(&part)).contains("Downtime 0.25 min of an allowance of 216 min"));
        let none = report(month, MinuteCounts::default(), now, SlaPolicy::default(), None).public();
        let html = sla_html(Some(&none));
        assert!(html.contains("not measured yet") && !html.contains("100"), "{html}");
        assert!(html.contains("measured for 0 of 35,545 minutes so far"), "{html}");
    }

    #[test]
    fn times_are_readable_with_the_iso_value_kept() {
        assert_eq!(
            time_html("2026-11-25T18:05:09Z"),
            "<time datetime=\"2026-11-25T18:05:09Z\">25 Nov 2026, 18:05 UTC</time>"
        );
        assert_eq!(time_html(""), "never");
        assert_eq!(thousands(35_545), "35,545");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    fn sha256_b64(s: &str) -> String {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
    }

    /// The policy as it was computed at run time, from the page's script and style.
    #[test]
    fn the_policy_names_the_hashes_of_this_script_and_style() {
        let want = format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; img-src 'self'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            sha256_b64(SCRIPT),
            sha256_b64(STYLE)
        );
        assert_eq!(content_security_policy(), want, "the script or style changed: put the new hashes in CSP");
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_script() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"));
        assert!(csp.contains(&format!("'sha256-{}'", sha256_b64(SCRIPT))));
        assert!(!csp.contains("unsafe-inline"));
        let html = render(&Page { snapshot: &Snapshot::default(), countries: &[], sla: None, days: &[], today: 1 });
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
        assert!(!html.contains(" style=\""), "style attributes would be blocked");
    }

    #[test]
    fn per_region_checks() {
        let view: crate::fleet::ServerView = serde_json::from_str(
            r#"{"id":"se-1","hostname":"se-1.example.com","ipv4":"192.0.2.1","ipv6":null,"country":"se","city":"Stockholm",
            "status":"up","load":null,"clients":0,"capacity":10,"features":[],"last_seen":null,
            "checks":{"weur":"pass","enam":"fail","apac":"pass"},"checked_at":"2026-11-25T12:00:00Z"}"#,
        )
        .unwrap();
        let snap = Snapshot::new(0, vec![view]);
        let html = render(&Page { snapshot: &snap, countries: &[], sla: None, days: &[], today: 0 });
        assert!(html.contains(r#"<span class="fail">enam fail</span>"#));
        assert!(html.contains(r#"<span class="pass">weur pass</span>"#));
    }
}
