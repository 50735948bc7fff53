//! Alerts to `ALERT_WEBHOOK_URL`: Slack-compatible `{"text"}` plus `event` and `server_id`.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub text: String,
    pub event: &'static str,
    pub server_id: Option<String>,
}

impl Alert {
    pub fn server_down(id: &str) -> Self {
        Self {
            text: format!(":red_circle: VPN server {id} is DOWN and left its DNS pool"),
            event: "server_down",
            server_id: Some(id.into()),
        }
    }

    pub fn server_up(id: &str) -> Self {
        Self {
            text: format!(":large_green_circle: VPN server {id} is UP and back in its DNS pool"),
            event: "server_up",
            server_id: Some(id.into()),
        }
    }

    pub fn transition(id: &str, to: crate::health::Health) -> Self {
        match to {
            crate::health::Health::Up => Self::server_up(id),
            crate::health::Health::Down => Self::server_down(id),
        }
    }

    pub fn pool_frozen(pool: &str) -> Self {
        Self {
            text: format!(":warning: no server of {pool} is up: the pool is frozen as it was (DNS left unchanged)"),
            event: "pool_frozen",
            server_id: None,
        }
    }

    pub fn pool_unfrozen(pool: &str) -> Self {
        Self {
            text: format!(":white_check_mark: {pool} has up servers again and is reconciled"),
            event: "pool_unfrozen",
            server_id: None,
        }
    }

    pub fn origin_down() -> Self {
        Self {
            text: ":rotating_light: the origin (auth backend) is unavailable: logins fall back to the credential cache"
                .into(),
            event: "origin_down",
            server_id: None,
        }
    }

    pub fn origin_up() -> Self {
        Self {
            text:
                ":white_check_mark: the origin (auth backend) answers again: degraded admissions are being re-verified"
                    .into(),
            event: "origin_up",
            server_id: None,
        }
    }

    pub fn origin_misconfigured() -> Self {
        Self {
            text: ":no_entry: the origin refuses the edge's ORIGIN_API_TOKEN (401/403): every login is denied until it is fixed"
                .into(),
            event: "origin_misconfigured",
            server_id: None,
        }
    }
}

/// Alerts for pools that froze or thawed between two rounds.
pub fn frozen_changes(before: &[String], now: &[String]) -> Vec<Alert> {
    let mut out: Vec<Alert> = now.iter().filter(|p| !before.contains(p)).map(|p| Alert::pool_frozen(p)).collect();
    out.extend(before.iter().filter(|p| !now.contains(p)).map(|p| Alert::pool_unfrozen(p)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freezes_are_announced_once() {
        let (a, b) = (["pool.a".to_string()], ["pool.b".to_string()]);
        assert!(frozen_changes(&a, &a).is_empty(), "still frozen: no new alert");
        let events: Vec<&str> = frozen_changes(&a, &b).iter().map(|x| x.event).collect();
        assert_eq!(events, ["pool_frozen", "pool_unfrozen"]);
    }

    #[test]
    fn shapes() {
        let a = serde_json::to_value(Alert::server_down("se-1")).unwrap();
        assert_eq!(a["event"], "server_down");
        assert_eq!(a["server_id"], "se-1");
        assert!(a["text"].as_str().unwrap().contains("se-1"));
        assert_eq!(serde_json::to_value(Alert::pool_frozen("p")).unwrap()["server_id"], serde_json::Value::Null);
    }
}
