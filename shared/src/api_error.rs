//! Every operation's error enum, mapped to HTTP in this one place.
//!
//! The wire shape is the README's `{"error":{"code":"…","message":"…"}}`. Messages never
//! carry secrets or passwords: they name fields and rules, never echo values.

use serde::Serialize;
use std::fmt;

/// Every `error.code` the edge answers with (README, "Errors"). A closed set as a serde
/// enum, so an error raised inside a Durable Object crosses the Worker↔object hop with its
/// code intact (a code added here travels without any list to update), and a code that is
/// not here cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadBody,
    DnsDisabled,
    Forbidden,
    Internal,
    InvalidField,
    MalformedJson,
    MethodNotAllowed,
    MonthNotClosed,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    Replayed,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
}
crate::unit_enum::unit_enum!(ErrorCode { BadBody = "bad_body", DnsDisabled = "dns_disabled", Forbidden = "forbidden", Internal = "internal", InvalidField = "invalid_field", MalformedJson = "malformed_json", MethodNotAllowed = "method_not_allowed", MonthNotClosed = "month_not_closed", NotConfigured = "not_configured", NotFound = "not_found", PayloadTooLarge = "payload_too_large", Replayed = "replayed", Unauthorized = "unauthorized", Unavailable = "unavailable", UnsupportedMediaType = "unsupported_media_type" });

impl ErrorCode {
    /// The wire spelling (`not_configured`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadBody => "bad_body",
            Self::DnsDisabled => "dns_disabled",
            Self::Forbidden => "forbidden",
            Self::Internal => "internal",
            Self::InvalidField => "invalid_field",
            Self::MalformedJson => "malformed_json",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::MonthNotClosed => "month_not_closed",
            Self::NotConfigured => "not_configured",
            Self::NotFound => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Replayed => "replayed",
            Self::Unauthorized => "unauthorized",
            Self::Unavailable => "unavailable",
            Self::UnsupportedMediaType => "unsupported_media_type",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    /// `Allow` header for 405.
    pub allow: Option<&'static str>,
}

/// `{"error":{"code":"…","message":"…"}}`, both ways: the HTTP edge writes it, and the
/// Worker reads it back from a Durable Object's answer.
#[derive(Serialize)]
pub struct ErrorBody {
    pub error: ErrorInner,
}

crate::map_struct::map_struct!(ErrorBody { error });
#[derive(Serialize)]
pub struct ErrorInner {
    pub code: ErrorCode,
    pub message: String,
}

crate::map_struct::map_struct!(ErrorInner { code, message });

impl ApiError {
    pub fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), allow: None }
    }

    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody { error: ErrorInner { code: self.code, message: self.message.clone() } })
            .unwrap_or_else(|_| String::from(r#"{"error":{"code":"internal","message":"error"}}"#))
    }

    /// The error a body written by [`ApiError::body`] carries, with the status it came with.
    pub fn from_body(status: u16, body: &str) -> Option<Self> {
        let b: ErrorBody = serde_json::from_slice(body.as_bytes()).ok()?;
        Some(Self::new(status, b.error.code, b.error.message))
    }

    pub fn internal(what: &str) -> Self {
        Self::new(500, ErrorCode::Internal, format!("internal error: {what}"))
    }

    pub fn unavailable(what: &str) -> Self {
        Self::new(503, ErrorCode::Unavailable, format!("{what} is unavailable, retry later"))
    }

    /// A secret the operation needs is not configured (README, "Configuration").
    pub fn not_configured(message: impl Into<String>) -> Self {
        Self::new(503, ErrorCode::NotConfigured, message)
    }
}

/// Body-level problems common to every JSON endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    TooLarge { limit: usize },
    UnsupportedMediaType,
    MalformedJson(String),
    Field { field: String, why: String },
}

impl RequestError {
    pub fn field(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Field { field: field.into(), why: why.into() }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::TooLarge { limit } => {
                ApiError::new(413, ErrorCode::PayloadTooLarge, format!("body exceeds {limit} bytes"))
            }
            RequestError::UnsupportedMediaType => {
                ApiError::new(415, ErrorCode::UnsupportedMediaType, "Content-Type must be application/json")
            }
            RequestError::MalformedJson(why) => {
                ApiError::new(400, ErrorCode::MalformedJson, format!("body is not valid JSON: {why}"))
            }
            RequestError::Field { field, why } => {
                ApiError::new(400, ErrorCode::InvalidField, format!("field `{field}`: {why}"))
            }
        }
    }
}

/// Routing outcomes that are not a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    MethodNotAllowed { allow: &'static str },
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::NotFound => ApiError::new(404, ErrorCode::NotFound, "no such route"),
            RouteError::MethodNotAllowed { allow } => ApiError {
                allow: Some(allow),
                ..ApiError::new(405, ErrorCode::MethodNotAllowed, format!("allowed: {allow}"))
            },
        }
    }
}

/// Why a caller's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerError {
    /// Bearer token missing or wrong.
    BadToken,
    /// The endpoint's secret is not configured, so it is disabled.
    Disabled(&'static str),
    MissingHeader(&'static str),
    MalformedHeader(&'static str),
    UnknownServer,
    BadSignature,
    ClockSkew,
    /// Heartbeat timestamp not newer than the last accepted one.
    Replayed,
    /// A state-changing request whose signature was already accepted once.
    SignatureReused,
    /// A server acting on another server's path.
    WrongServer,
}

impl From<CallerError> for ApiError {
    fn from(e: CallerError) -> Self {
        match e {
            CallerError::BadToken => ApiError::new(401, ErrorCode::Unauthorized, "missing or invalid bearer token"),
            CallerError::Disabled(secret) => ApiError::new(
                503,
                ErrorCode::NotConfigured,
                format!("this endpoint is disabled: secret {secret} is not configured"),
            ),
            CallerError::MissingHeader(h) => ApiError::new(401, ErrorCode::Unauthorized, format!("missing header {h}")),
            CallerError::MalformedHeader(h) => {
                ApiError::new(401, ErrorCode::Unauthorized, format!("malformed header {h}"))
            }
            CallerError::UnknownServer => ApiError::new(401, ErrorCode::Unauthorized, "server is not registered"),
            CallerError::BadSignature => ApiError::new(401, ErrorCode::Unauthorized, "bad signature"),
            CallerError::ClockSkew => {
                ApiError::new(401, ErrorCode::Unauthorized, "X-Edge-Timestamp is more than 120 s from the edge's clock")
            }
            CallerError::Replayed => ApiError::new(
                401,
                ErrorCode::Replayed,
                "X-Edge-Timestamp is not newer than the last accepted heartbeat",
            ),
            CallerError::SignatureReused => ApiError::new(
                401,
                ErrorCode::Replayed,
                "this signature was already accepted: every request is signed afresh",
            ),
            CallerError::WrongServer => {
                ApiError::new(403, ErrorCode::Forbidden, "a server may only act on its own path")
            }
        }
    }
}

/// Lookups of one thing by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    NotFound(&'static str),
}

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::NotFound(what) => ApiError::new(404, ErrorCode::NotFound, format!("no such {what}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 15] = [
        ErrorCode::BadBody,
        ErrorCode::DnsDisabled,
        ErrorCode::Forbidden,
        ErrorCode::Internal,
        ErrorCode::InvalidField,
        ErrorCode::MalformedJson,
        ErrorCode::MethodNotAllowed,
        ErrorCode::MonthNotClosed,
        ErrorCode::NotConfigured,
        ErrorCode::NotFound,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Replayed,
        ErrorCode::Unauthorized,
        ErrorCode::Unavailable,
        ErrorCode::UnsupportedMediaType,
    ];

    #[test]
    fn error_code_wire_spelling_is_its_display() {
        for code in ALL {
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{code}\""));
        }
    }

    #[test]
    fn every_error_code_survives_the_body_round_trip() {
        for code in ALL {
            let e = ApiError::new(418, code, "why");
            assert_eq!(ApiError::from_body(418, &e.body()), Some(e));
        }
    }

    #[test]
    fn not_configured_keeps_its_code_across_the_body() {
        let e = ApiError::not_configured("SESSION_KEY is missing or malformed");
        let back = ApiError::from_body(503, &e.body()).unwrap();
        assert_eq!((back.status, back.code.as_str()), (503, "not_configured"));
    }

    #[test]
    fn a_body_with_an_unknown_code_is_not_an_error_body() {
        assert_eq!(ApiError::from_body(500, r#"{"error":{"code":"nope","message":"x"}}"#), None);
    }
}
