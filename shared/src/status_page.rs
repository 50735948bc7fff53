//! The public status page (`GET /`): plain HTML, no script, readable without JavaScript.

use crate::fleet::{CountrySummary, Snapshot, Status};
use crate::sla::{DayFigures, SlaReport};

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

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24}\
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd}\
.up{color:#116329}.down{color:#b42318}.maintenance{color:#8a6100}.muted{color:#666}\
#days{display:flex;gap:2px;height:2.2rem;margin:.5rem 0}#days span{flex:1;border-radius:2px;background:#d0d7de}\
#days .ok{background:#2da44e}#days .degraded{background:#d4a72c}#days .bad{background:#cf222e}";

/// Days shown in the availability strip.
pub const DAYS_SHOWN: i64 = 90;

fn day_class(d: Option<&DayFigures>, target_pct: f64) -> (&'static str, String) {
    match d {
        None => ("nodata", "no data".into()),
        Some(d) if d.recorded == 0 => ("nodata", "no data".into()),
        Some(d) => {
            let pct = 100.0 * f64::from(d.recorded - d.down.min(d.recorded)) / f64::from(d.recorded);
            let class = if d.down == 0 {
                "ok"
            } else if pct >= target_pct {
                "degraded"
            } else {
                "bad"
            };
            (class, format!("{pct:.2} % ({} min down)", d.down))
        }
    }
}

pub fn render(page: &Page<'_>) -> String {
    let snap = page.snapshot;
    let countries = page.countries;
    let up = snap.servers.iter().filter(|s| s.status == Status::Up).count();
    let total = snap.servers.len();
    let mut h = String::new();
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">");
    h.push_str("<title>VPN service status</title><style>");
    h.push_str(STYLE);
    h.push_str("</style></head><body><h1>VPN service status</h1>");
    h.push_str(&format!(
        "<p id=\"summary\"><strong>{up}</strong> of <strong>{total}</strong> servers up. <span class=\"muted\">Updated {}</span></p>",
        escape(if snap.generated_at.is_empty() { "never" } else { &snap.generated_at })
    ));
    match page.sla {
        Some(r) => h.push_str(&format!(
            "<h2>Availability</h2><p id=\"sla\">This month so far: <strong>{:.3} %</strong> (target {} %). \
             Downtime {} min of an allowance of {} min; credit so far: {} min added to every subscription.</p>",
            r.availability_pct, r.target_pct, r.downtime_minutes, r.allowance_minutes, r.credit_minutes
        )),
        None => h.push_str(
            "<h2>Availability</h2><p id=\"sla\" class=\"muted\">Availability figures are unavailable right now.</p>",
        ),
    }
    let target = page.sla.map(|r| r.target_pct).unwrap_or(99.5);
    h.push_str("<div id=\"days\" aria-label=\"availability, last 90 days\">");
    for day in (page.today - DAYS_SHOWN + 1)..=page.today {
        let (class, title) = day_class(page.days.iter().find(|d| d.day == day), target);
        let date = chrono::DateTime::from_timestamp(day * 86_400, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        h.push_str(&format!("<span class=\"{class}\" title=\"{date}: {title}\" data-day=\"{date}\"></span>"));
    }
    h.push_str("</div><p class=\"muted\">Last 90 days, one bar a day.</p>");
    h.push_str("<h2>Pools by country</h2><table id=\"pools\"><thead><tr><th>Country</th><th>Pool</th><th>Up</th><th>Load</th></tr></thead><tbody>");
    for c in countries {
        h.push_str(&format!(
            "<tr data-country=\"{code}\"><td>{code}</td><td><code>{pool}</code></td><td>{up} / {n}</td><td>{load}</td></tr>",
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
            "<tr data-server=\"{id}\"><td>{host}</td><td>{city}, {cc}</td><td class=\"{status}\">{status}</td><td>{load}</td><td class=\"checks\">{checks}</td></tr>",
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
    h.push_str("</tbody></table></body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_counts() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let snap = Snapshot::default();
        let days = [DayFigures { day: 100, recorded: 1440, down: 0 }, DayFigures { day: 99, recorded: 1440, down: 60 }];
        let html = render(&Page { snapshot: &snap, countries: &[], sla: None, days: &days, today: 100 });
        assert!(html.contains("<strong>0</strong> of <strong>0</strong>"));
        assert!(html.contains("Updated never"));
        assert_eq!(html.matches("data-day=").count(), 90);
        assert!(html.contains("class=\"ok\" title=\"1970-04-11: 100.00 % (0 min down)\""));
        assert!(html.contains("class=\"bad\""));
        assert!(html.contains("unavailable right now"));
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
