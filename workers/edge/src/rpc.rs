//! JSON calls between the Worker and its Durable Objects: `POST https://do/<op>`.
//! Errors travel as `ApiError` bodies so a DO's 404 stays a 404.

use serde::de::DeserializeOwned;
use serde::Serialize;
use vpn_edge_core::api_error::ApiError;
use worker::{Env, Headers, Method, Request, RequestInit, Response, SqlStorage, Stub};

/// The stub of the object `name` in the namespace `binding`; `what` names it in errors.
pub fn stub(env: &Env, binding: &str, name: &str, what: &'static str) -> Result<Stub, ApiError> {
    env.durable_object(binding).and_then(|ns| ns.get_by_name(name)).map_err(|e| {
        worker::console_error!("{what}: {e}");
        ApiError::unavailable(what)
    })
}

/// The DO side: the operation a request names (`https://do/<op>`).
pub fn op(req: &Request) -> String {
    req.path().trim_start_matches('/').to_owned()
}

/// The DO side: create tables at construction (idempotent); a failure is logged and shows
/// up as a storage error on first use.
pub fn create_schema(sql: &SqlStorage, who: &str, ddl: &[&str]) {
    for statement in ddl {
        if let Err(e) = sql.exec(statement, None) {
            worker::console_error!("{who} schema: {e}");
        }
    }
}

pub async fn call<B: Serialize, R: DeserializeOwned>(stub: &Stub, op: &str, body: &B) -> Result<R, ApiError> {
    let payload = serde_json::to_string(body).map_err(|_| ApiError::internal("serialize"))?;
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(payload.into()));
    let req = Request::new_with_init(&format!("https://do/{op}"), &init).map_err(|_| ApiError::internal("request"))?;
    let mut resp = stub.fetch_with_request(req).await.map_err(|e| {
        worker::console_error!("durable object call {op} failed: {e}");
        ApiError::unavailable("storage")
    })?;
    if resp.status_code() >= 400 {
        return Err(decode_error(&mut resp).await);
    }
    resp.json::<R>().await.map_err(|_| ApiError::internal("durable object answer"))
}

async fn decode_error(resp: &mut Response) -> ApiError {
    #[derive(serde::Deserialize)]
    struct Wire {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        code: String,
        message: String,
    }
    let status = resp.status_code();
    match resp.json::<Wire>().await {
        // Codes are a closed set we produce ourselves; keep the message, pick a static code.
        Ok(w) => ApiError::new(status, static_code(&w.error.code), w.error.message),
        Err(_) => ApiError::internal("durable object error"),
    }
}

fn static_code(code: &str) -> &'static str {
    match code {
        "not_found" => "not_found",
        "replayed" => "replayed",
        "unauthorized" => "unauthorized",
        "invalid_field" => "invalid_field",
        "conflict" => "conflict",
        _ => "internal",
    }
}

/// The DO side: read a JSON request body.
pub async fn read<T: DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    req.json::<T>().await.map_err(|_| ApiError::internal("durable object request"))
}

/// The DO side: answer with JSON or the error shape.
pub fn answer<T: Serialize>(r: Result<T, ApiError>) -> worker::Result<Response> {
    match r {
        Ok(v) => Response::from_json(&v),
        Err(e) => Ok(crate::http::error_response(&e)),
    }
}
