//! The HTTP layer: router, limits, timeouts, errors as `{"error": code, "message": text}`,
//! and one log line per request (method, route template, status, error code, duration).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::notify::Notifier;
use super::storage::{Backend, StoreError};
use super::{directory, log, mailbox};

/// Limits and policy of one relay process.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bundle_bytes: usize,
    pub max_message_bytes: usize,
    pub max_other_bytes: usize,
    pub mailbox_max_messages: u64,
    pub mailbox_max_bytes: u64,
    pub request_timeout: Duration,
    pub max_skew: u64,
    pub replenish_below: u64,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub backend: Arc<dyn Backend>,
    pub notifier: Arc<dyn Notifier>,
    pub limits: Limits,
}

/// An error answer with a stable code (docs/RELAY.md, "Error codes").
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

/// The error code of an answer, for the request log.
#[derive(Clone, Copy)]
struct ErrorCode(&'static str);

/// The route template that answered, for the request log.
#[derive(Clone)]
struct RouteTemplate(String);

impl ApiError {
    pub const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self { status, code, message }
    }
    pub const fn malformed(message: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }
    pub const fn not_found(message: &'static str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub const fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body exceeds this route's limit")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // The store's message is for the operator; it carries no request data.
        log::event("error", "store_error", &[("detail", Value::from(e.0))]);
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the relay's store failed; nothing was committed")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({"error": self.code, "message": self.message}))).into_response();
        r.extensions_mut().insert(ErrorCode(self.code));
        r
    }
}

/// Map a body-extraction failure: too large → 413, anything else → 400.
pub fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large()
    } else {
        ApiError::malformed("the request body could not be read")
    }
}

/// The router with every route, limit and layer.
pub fn router(state: AppState) -> Router {
    let l = state.limits;
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/bundles/{owner}", put(directory::publish).layer(DefaultBodyLimit::max(l.max_bundle_bytes)))
        .route("/v1/bundles/{owner}/status", get(directory::status))
        .route("/v1/bundles/{owner}/claim", post(directory::claim))
        .route("/v1/bundles/{owner}/mailbox", get(directory::mailbox_of))
        .route("/v1/mailboxes/{address}", put(mailbox::open))
        .route("/v1/mailboxes/{address}/messages", get(mailbox::list))
        .route("/v1/mailboxes/{address}/ack", post(mailbox::ack_many).layer(DefaultBodyLimit::max(32 * 1024)))
        .route(
            "/v1/mailboxes/{address}/messages/{item}",
            put(mailbox::deposit)
                .layer(DefaultBodyLimit::max(l.max_message_bytes))
                .get(mailbox::fetch)
                .delete(mailbox::ack),
        )
        .route_layer(middleware::from_fn(tag_route))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "wrong method for this route")
        })
        .layer(DefaultBodyLimit::max(l.max_other_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), log_and_time))
        .with_state(state)
}

async fn health(State(s): State<AppState>) -> Response {
    match s.backend.health().await {
        Ok(()) => {
            Json(json!({"status": "ok", "backend": s.backend.name(), "notifications": s.notifier.name()})).into_response()
        }
        Err(e) => {
            log::event("error", "store_error", &[("detail", Value::from(e.0))]);
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the relay's store does not answer").into_response()
        }
    }
}

/// Inside the router: remember the matched route template on the response.
async fn tag_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let mut r = next.run(req).await;
    if let Some(route) = route {
        r.extensions_mut().insert(RouteTemplate(route));
    }
    r
}

/// Outermost: the request timeout and the request log line.
async fn log_and_time(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let r = match tokio::time::timeout(s.limits.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", "the request did not complete in time").into_response(),
    };
    let route = r.extensions().get::<RouteTemplate>().map(|t| t.0.clone()).unwrap_or_else(|| "unmatched".into());
    let mut fields = vec![
        ("method", Value::from(method)),
        ("route", Value::from(route)),
        ("status", Value::from(r.status().as_u16())),
        ("ms", Value::from(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX))),
    ];
    if let Some(ErrorCode(code)) = r.extensions().get::<ErrorCode>() {
        fields.push(("error", Value::from(*code)));
    }
    log::event(if r.status().is_server_error() { "error" } else { "info" }, "request", &fields);
    r
}
