//! Every operation's error enum, mapped to HTTP in this one place.
//!
//! The wire shape is DESIGN.md's `{"error":{"code":"…","message":"…"}}`. Messages never
//! carry secrets or passwords: they name fields and rules, never echo values.

use serde::Serialize;

/// An error as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// `Allow` header for 405.
    pub allow: Option<&'static str>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}
#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), allow: None }
    }

    pub fn body(&self) -> String {
        serde_json::to_string(&Body { error: Inner { code: self.code, message: &self.message } })
            .unwrap_or_else(|_| String::from(r#"{"error":{"code":"internal","message":"error"}}"#))
    }

    pub fn internal(what: &str) -> Self {
        Self::new(500, "internal", format!("internal error: {what}"))
    }

    pub fn unavailable(what: &str) -> Self {
        Self::new(503, "unavailable", format!("{what} is unavailable, retry later"))
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
                ApiError::new(413, "payload_too_large", format!("body exceeds {limit} bytes"))
            }
            RequestError::UnsupportedMediaType => {
                ApiError::new(415, "unsupported_media_type", "Content-Type must be application/json")
            }
            RequestError::MalformedJson(why) => {
                ApiError::new(400, "malformed_json", format!("body is not valid JSON: {why}"))
            }
            RequestError::Field { field, why } => {
                ApiError::new(400, "invalid_field", format!("field `{field}`: {why}"))
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
            RouteError::NotFound => ApiError::new(404, "not_found", "no such route"),
            RouteError::MethodNotAllowed { allow } => {
                ApiError { allow: Some(allow), ..ApiError::new(405, "method_not_allowed", format!("allowed: {allow}")) }
            }
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
            CallerError::BadToken => ApiError::new(401, "unauthorized", "missing or invalid bearer token"),
            CallerError::Disabled(secret) => ApiError::new(
                503,
                "not_configured",
                format!("this endpoint is disabled: secret {secret} is not configured"),
            ),
            CallerError::MissingHeader(h) => ApiError::new(401, "unauthorized", format!("missing header {h}")),
            CallerError::MalformedHeader(h) => ApiError::new(401, "unauthorized", format!("malformed header {h}")),
            CallerError::UnknownServer => ApiError::new(401, "unauthorized", "server is not registered"),
            CallerError::BadSignature => ApiError::new(401, "unauthorized", "bad signature"),
            CallerError::ClockSkew => {
                ApiError::new(401, "unauthorized", "X-Edge-Timestamp is more than 120 s from the edge's clock")
            }
            CallerError::Replayed => {
                ApiError::new(401, "replayed", "X-Edge-Timestamp is not newer than the last accepted heartbeat")
            }
            CallerError::SignatureReused => {
                ApiError::new(401, "replayed", "this signature was already accepted: every request is signed afresh")
            }
            CallerError::WrongServer => ApiError::new(403, "forbidden", "a server may only act on its own path"),
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
            LookupError::NotFound(what) => ApiError::new(404, "not_found", format!("no such {what}")),
        }
    }
}
