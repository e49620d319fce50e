//! Directory routes: publish, status, claim, mailbox lookup.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use sealwire::ratchet::PrekeyBundle;
use sealwire::relay::{hex_array, BundleParts, MailboxDescriptor};
use serde::Deserialize;
use serde_json::json;

use super::auth::authenticate;
use super::http::{body_error, ApiError, AppState};
use super::storage::PrekeyCounts;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    bundle: String,
    mailbox: Option<String>,
    reset: bool,
}

pub fn owner_of(p: Result<Path<String>, PathRejection>) -> Result<[u8; 32], ApiError> {
    let Path(s) = p.map_err(|_| ApiError::malformed("bad path"))?;
    hex_array(&s, "owner").map_err(|_| ApiError::malformed("the owner must be 64 lower-case hex digits"))
}

fn status_json(state: &AppState, c: PrekeyCounts) -> Response {
    let t = state.limits.replenish_below;
    let replenish = c.one_time < t || (c.post_quantum && c.kem_one_time < t);
    Json(json!({
        "one_time": c.one_time,
        "kem_one_time": c.kem_one_time,
        "post_quantum": c.post_quantum,
        "replenish": replenish,
    }))
    .into_response()
}

fn bad_bundle(message: &'static str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_bundle", message)
}

pub async fn publish(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let owner = owner_of(path)?;
    let body = body.map_err(body_error)?;
    authenticate(&state, &method, &uri, &headers, &body, |k| *k == owner).await?;
    let req: PublishBody = serde_json::from_slice(&body).map_err(|_| ApiError::malformed("the body must be {\"bundle\", \"mailbox\", \"reset\"}"))?;
    let bundle_bytes = B64.decode(&req.bundle).map_err(|_| ApiError::malformed("bundle is not base64"))?;
    let bundle = PrekeyBundle::from_bytes(&bundle_bytes).map_err(|_| bad_bundle("the bundle does not decode or verify"))?;
    if bundle.identity().ed25519_bytes() != &owner {
        return Err(bad_bundle("the bundle belongs to another identity"));
    }
    let mailbox = match req.mailbox {
        None => None,
        Some(m) => {
            let bytes = B64.decode(&m).map_err(|_| ApiError::malformed("mailbox is not base64"))?;
            MailboxDescriptor::from_bytes(&bytes, bundle.identity()).map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_mailbox_descriptor", "the mailbox descriptor does not verify")
            })?;
            Some(bytes)
        }
    };
    let parts = BundleParts::split(&bundle);
    let counts = state.backend.publish(parts, bundle.identity().to_bytes(), mailbox, req.reset).await?;
    Ok(status_json(&state, counts))
}

pub async fn status(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let owner = owner_of(path)?;
    let body = body.map_err(body_error)?;
    authenticate(&state, &method, &uri, &headers, &body, |k| *k == owner).await?;
    match state.backend.status(owner).await? {
        Some(c) => Ok(status_json(&state, c)),
        None => Err(ApiError::not_found("no bundle for this owner")),
    }
}

pub async fn claim(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let owner = owner_of(path)?;
    if !body.map_err(body_error)?.is_empty() {
        return Err(ApiError::malformed("a claim has an empty body"));
    }
    let Some(c) = state.backend.claim(owner).await? else {
        return Err(ApiError::not_found("no bundle for this owner"));
    };
    let bundle = BundleParts::assemble(&c.head, c.one_time.as_deref(), c.kem.as_deref())
        .map_err(|_| ApiError::from(super::storage::StoreError("stored one-time prekey entry has the wrong length".into())))?;
    Ok(Json(json!({
        "bundle": B64.encode(bundle),
        "mailbox": c.mailbox.map(|m| B64.encode(m)),
        "one_time": c.one_time.is_some(),
        "kem_one_time": c.kem_one_time,
    }))
    .into_response())
}

pub async fn mailbox_of(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let owner = owner_of(path)?;
    match state.backend.mailbox_of(owner).await? {
        Some((identity, Some(mailbox))) => {
            Ok(Json(json!({"identity": B64.encode(identity), "mailbox": B64.encode(mailbox)})).into_response())
        }
        _ => Err(ApiError::not_found("no published mailbox for this owner")),
    }
}
