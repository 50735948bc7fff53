//! LibreNMS API-transport alerts: which server, and whether it is an alert or a recovery.

use crate::api_error::RequestError;
use crate::request::Fields;
use crate::types::Hostname;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibreNmsEvent {
    /// `state` 1 (alert) or 3 (worse): mark the server down at once.
    Down(Hostname),
    /// `state` 0 (recovered): one good observation.
    Recovered(Hostname),
    /// Acknowledged, better, changed: nothing to do.
    Ignored,
}

/// Body: `{"hostname": "{{ $hostname }}", "state": {{ $state }}, …}` (other fields ignored).
pub fn parse(f: &Fields) -> Result<LibreNmsEvent, RequestError> {
    let hostname = Hostname::parse(f.str("hostname")?).map_err(|e| RequestError::field("hostname", e.0))?;
    let state = match f.get("state") {
        // Templates render numbers; some send them quoted.
        Some(serde_json::Value::String(s)) => {
            s.trim().parse::<u64>().map_err(|_| RequestError::field("state", "must be 0..5"))?
        }
        _ => f.u64("state", 5)?,
    };
    Ok(match state {
        0 => LibreNmsEvent::Recovered(hostname),
        1 | 3 => LibreNmsEvent::Down(hostname),
        2 | 4 | 5 => LibreNmsEvent::Ignored,
        _ => return Err(RequestError::field("state", "must be 0..5")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<LibreNmsEvent, RequestError> {
        parse(&Fields::parse(s.as_bytes()).unwrap())
    }

    #[test]
    fn states() {
        assert!(matches!(p(r#"{"hostname":"a.example.com","state":1,"title":"x"}"#), Ok(LibreNmsEvent::Down(_))));
        assert!(matches!(p(r#"{"hostname":"a.example.com","state":"3"}"#), Ok(LibreNmsEvent::Down(_))));
        assert!(
            matches!(p(r#"{"hostname":"A.example.com","state":0}"#), Ok(LibreNmsEvent::Recovered(h)) if h.as_str() == "a.example.com")
        );
        assert_eq!(p(r#"{"hostname":"a.example.com","state":2}"#), Ok(LibreNmsEvent::Ignored));
        assert!(p(r#"{"hostname":"a.example.com","state":9}"#).is_err());
        assert!(p(r#"{"state":1}"#).is_err());
    }
}
