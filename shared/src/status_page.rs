//! The public status page (`GET /`): plain HTML, no script, readable without JavaScript.

use crate::fleet::{CountrySummary, Snapshot, Status};

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
.up{color:#116329}.down{color:#b42318}.maintenance{color:#8a6100}.muted{color:#666}";

pub fn render(snap: &Snapshot, countries: &[CountrySummary]) -> String {
    let up = snap
        .servers
        .iter()
        .filter(|s| s.status == Status::Up)
        .count();
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
    h.push_str("</tbody></table><h2>Servers</h2><table id=\"servers\"><thead><tr><th>Server</th><th>Location</th><th>Status</th><th>Load</th></tr></thead><tbody>");
    for s in &snap.servers {
        let status = match s.status {
            Status::Up => "up",
            Status::Down => "down",
            Status::Maintenance => "maintenance",
        };
        h.push_str(&format!(
            "<tr data-server=\"{id}\"><td>{host}</td><td>{city}, {cc}</td><td class=\"{status}\">{status}</td><td>{load}</td></tr>",
            id = escape(s.id.as_str()),
            host = escape(&s.hostname),
            city = escape(&s.city),
            cc = escape(s.country.as_str()),
            load = s.load.map(|l| format!("{l} %")).unwrap_or_else(|| "unknown".into()),
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
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let html = render(&Snapshot::default(), &[]);
        assert!(html.contains("<strong>0</strong> of <strong>0</strong>"));
        assert!(html.contains("Updated never"));
    }
}
