//! Request authentication (docs/RELAY.md, "Request signatures"): headers, clock skew,
//! strict Ed25519, ownership, then the persisted nonce cache.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use sealwire::relay::{RequestAuth, HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};

use super::http::{ApiError, AppState};

pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn unauthorized(code: &'static str, message: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// Check the request's signature and that its key satisfies `owns`; record the nonce.
/// Returns the signing key.
pub async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    owns: impl FnOnce(&[u8; 32]) -> bool,
) -> Result<[u8; 32], ApiError> {
    let get = |name: &str| -> Result<Option<&str>, ApiError> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some).map_err(|_| ApiError::malformed("signature header is not ASCII")),
        }
    };
    let (Some(k), Some(t), Some(n), Some(s)) = (get(HEADER_KEY)?, get(HEADER_TIMESTAMP)?, get(HEADER_NONCE)?, get(HEADER_SIGNATURE)?)
    else {
        return Err(unauthorized("auth_missing", "this request needs the Sealwire-Key/-Timestamp/-Nonce/-Signature headers"));
    };
    let auth = RequestAuth::from_headers(k, t, n, s).map_err(|_| ApiError::malformed("malformed signature header"))?;
    let now = now_unix();
    if auth.timestamp.abs_diff(now) > state.limits.max_skew {
        return Err(unauthorized("stale_timestamp", "the request timestamp is outside the allowed clock skew"));
    }
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    auth.verify(method.as_str(), target, body)
        .map_err(|_| unauthorized("bad_signature", "the request signature does not verify"))?;
    if !owns(&auth.key) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this key does not own the bundle or mailbox"));
    }
    let fresh = state.backend.record_nonce(auth.key, auth.nonce, auth.timestamp.saturating_add(state.limits.max_skew)).await?;
    if !fresh {
        return Err(unauthorized("replayed_nonce", "this nonce was already used with this key"));
    }
    Ok(auth.key)
}
