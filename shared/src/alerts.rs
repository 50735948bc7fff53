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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let a = serde_json::to_value(Alert::server_down("se-1")).unwrap();
        assert_eq!(a["event"], "server_down");
        assert_eq!(a["server_id"], "se-1");
        assert!(a["text"].as_str().unwrap().contains("se-1"));
        assert_eq!(serde_json::to_value(Alert::pool_frozen("p")).unwrap()["server_id"], serde_json::Value::Null);
    }
}
