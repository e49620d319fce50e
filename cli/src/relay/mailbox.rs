//! Mailbox routes: open, deposit (anonymous), list, fetch, acknowledge.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use sealwire::relay::{check_sealed_message, hex_array, hex_lower, mailbox_address};
use serde_json::json;

use std::time::Duration;

use serde_json::Value;

use super::auth::authenticate;
use super::http::{body_error, ApiError, AppState};
use super::notify::token;
use super::storage::{Deposit, Quota};
use super::log;

const MAX_LIST: u32 = 1000;
const DEFAULT_LIST: u32 = 100;
/// Most body bytes in one `bodies=1` listing (at least one message is always included).
const MAX_LIST_BODY_BYTES: u64 = 4 * 1024 * 1024;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    seqs: Vec<u64>,
}
/// Longest long poll, seconds.
const MAX_WAIT: u64 = 30;

fn address_of(s: &str) -> Result<[u8; 32], ApiError> {
    hex_array(s, "address").map_err(|_| ApiError::malformed("the mailbox address must be 64 lower-case hex digits"))
}

/// A positive decimal integer without sign or leading zeros.
fn decimal(s: &str, what: &'static str) -> Result<u64, ApiError> {
    let ok = !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(ApiError::malformed(what));
    }
    s.parse().map_err(|_| ApiError::malformed(what))
}

fn seq_of(s: &str) -> Result<u64, ApiError> {
    match decimal(s, "the message sequence number must be a positive decimal integer")? {
        0 => Err(ApiError::malformed("the message sequence number must be a positive decimal integer")),
        n => Ok(n),
    }
}

fn owns(address: [u8; 32]) -> impl FnOnce(&[u8; 32]) -> bool {
    move |k| mailbox_address(k) == address
}

pub async fn open(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(a) = path.map_err(|_| ApiError::malformed("bad path"))?;
    let address = address_of(&a)?;
    let body = body.map_err(body_error)?;
    authenticate(&state, &method, &uri, &headers, &body, owns(address)).await?;
    if !body.is_empty() {
        return Err(ApiError::malformed("opening a mailbox has an empty body"));
    }
    let created = state.backend.open_mailbox(address).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({"created": created}))).into_response())
}

pub async fn deposit(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path((a, d)) = path.map_err(|_| ApiError::malformed("bad path"))?;
    let address = address_of(&a)?;
    let deposit_id: [u8; 32] =
        hex_array(&d, "deposit id").map_err(|_| ApiError::malformed("the deposit id must be 64 lower-case hex digits"))?;
    let body = body.map_err(body_error)?;
    check_sealed_message(&body).map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_message", "a deposit must be a sealed mailbox message (SWMM v1)")
    })?;
    let quota = Quota { max_messages: state.limits.mailbox_max_messages, max_bytes: state.limits.mailbox_max_bytes };
    match state.backend.deposit(address, deposit_id, body.to_vec(), quota).await? {
        Deposit::Stored => {
            // Wake long-polling readers (here and, with NATS, in the other relay processes).
            // Best effort: the message is stored either way.
            if let Err(e) = state.notifier.notify(address).await {
                log::event("error", "notify_error", &[("detail", Value::from(e.0))]);
            }
            Ok((StatusCode::CREATED, Json(json!({"stored": true}))).into_response())
        }
        Deposit::Duplicate => Ok(Json(json!({"stored": false})).into_response()),
        Deposit::UnknownMailbox => Err(ApiError::not_found("no such mailbox")),
        Deposit::Full => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "mailbox_full",
            "the mailbox is over its quota; try again later",
        )),
    }
}

pub async fn list(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(a) = path.map_err(|_| ApiError::malformed("bad path"))?;
    let address = address_of(&a)?;
    let (mut after, mut limit, mut wait, mut bodies) = (None, None, None, None);
    for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("after", v)) if after.is_none() => after = Some(decimal(v, "after must be a decimal integer")?),
            Some(("limit", v)) if limit.is_none() => limit = Some(decimal(v, "limit must be a decimal integer")?),
            Some(("wait", v)) if wait.is_none() => wait = Some(decimal(v, "wait must be a decimal integer")?),
            Some(("bodies", v)) if bodies.is_none() => {
                bodies = Some(match v {
                    "0" => false,
                    "1" => true,
                    _ => return Err(ApiError::malformed("bodies must be 0 or 1")),
                })
            }
            _ => return Err(ApiError::malformed("the only query parameters are after, limit, wait and bodies, once each")),
        }
    }
    let wait = wait.unwrap_or(0);
    if wait > MAX_WAIT || wait >= state.limits.request_timeout.as_secs() {
        return Err(ApiError::malformed("wait must be 0..=30 seconds and below the request timeout"));
    }
    let limit = limit.unwrap_or(u64::from(DEFAULT_LIST));
    if limit == 0 || limit > u64::from(MAX_LIST) {
        return Err(ApiError::malformed("limit must be 1..=1000"));
    }
    let body = body.map_err(body_error)?;
    authenticate(&state, &method, &uri, &headers, &body, owns(address)).await?;
    // Long poll: register for notifications *before* listing, so a deposit committed in
    // between still wakes us.
    let notify = state.notifier.registry().subscribe(token(&address));
    let notified = notify.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    let bodies = bodies.unwrap_or(false).then_some(MAX_LIST_BODY_BYTES);
    let Some((mut rows, mut more)) = state.backend.list(address, after.unwrap_or(0), limit as u32, bodies).await? else {
        return Err(ApiError::not_found("no such mailbox"));
    };
    if rows.is_empty() && wait > 0 && tokio::time::timeout(Duration::from_secs(wait), notified).await.is_ok() {
        if let Some((r, m)) = state.backend.list(address, after.unwrap_or(0), limit as u32, bodies).await? {
            (rows, more) = (r, m);
        }
    }
    let messages: Vec<_> = rows
        .iter()
        .map(|m| match &m.body {
            Some(b) => json!({"seq": m.seq, "deposit_id": hex_lower(&m.deposit_id), "body": B64.encode(b)}),
            None => json!({"seq": m.seq, "deposit_id": hex_lower(&m.deposit_id)}),
        })
        .collect();
    Ok(Json(json!({"messages": messages, "more": more})).into_response())
}

pub async fn fetch(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path((a, s)) = path.map_err(|_| ApiError::malformed("bad path"))?;
    let address = address_of(&a)?;
    let seq = seq_of(&s)?;
    let body = body.map_err(body_error)?;
    authenticate(&state, &method, &uri, &headers, &body, owns(address)).await?;
    match state.backend.fetch(address, seq).await? {
        Some(b) => Ok(([(header::CONTENT_TYPE, "application/octet-stream")], b).into_response()),
        None => Err(ApiError::not_found("no such message")),
    }
}

pub async fn ack(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path((a, s)) = path.map_err(|_| ApiError::malformed("bad path"))?;
    let address = address_of(&a)?;
    let seq = seq_of(&s)?;
    let body = body.map_err(body_error)?;
    authenticate(&state, &method, &uri, &headers, &body, owns(address)).await?;
    let deleted = state.backend.ack(address, seq).await?;
    Ok(Json(json!({"deleted": deleted})).into_response())
}

/// `POST /v1/mailboxes/{address}/ack` with `{"seqs": [..]}` (1..=1000 positive numbers): delete
/// several messages in one transaction.
pub async fn ack_many(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(a) = path.map_err(|_| ApiError::malformed("bad path"))?;
    let address = address_of(&a)?;
    let body = body.map_err(body_error)?;
    authenticate(&state, &method, &uri, &headers, &body, owns(address)).await?;
    let req: AckBody = serde_json::from_slice(&body).map_err(|_| ApiError::malformed("the body must be {\"seqs\": [..]}"))?;
    if req.seqs.is_empty() || req.seqs.len() > MAX_LIST as usize || req.seqs.contains(&0) {
        return Err(ApiError::malformed("seqs must hold 1..=1000 positive sequence numbers"));
    }
    let deleted = state.backend.ack_many(address, req.seqs).await?;
    Ok(Json(json!({"deleted": deleted})).into_response())
}
