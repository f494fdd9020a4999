//! Public endpoints: JWKS, revocation filter, health.

use super::error::ApiError;
use super::request::blocking;
use crate::app::App;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// `GET /.well-known/jwks.json`. Short cache: edges pick up a rotated key within a minute.
pub async fn jwks(State(app): State<Arc<App>>) -> Response {
    let mut res = Response::new(Body::from(app.keys.current().jwks_json.clone()));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    res
}

/// `GET /revocations`: the current signed filter, with ETag and a short Cache-Control.
pub async fn revocations(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let artifact = blocking(&app, |app| app.revocations.current(app)).await?.map_err(|e| match e {
        crate::revocations::BuildError::Store(e) => ApiError::from(e),
        e => ApiError::internal(format!("{e:?}")),
    })?;
    let etag = HeaderValue::from_str(&artifact.etag).map_err(ApiError::internal)?;
    // Caches may keep it for at most the rebuild interval, so edges see a revocation within
    // a few seconds; they must never serve it past not_after, which max-age guarantees.
    let cache = HeaderValue::from_str(&format!("public, max-age={}", app.config.revocation_interval)).map_err(ApiError::internal)?;
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == artifact.etag || t.trim() == "*"));
    let mut res = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(artifact.bytes.clone()));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        r
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag);
    h.insert(header::CACHE_CONTROL, cache);
    Ok(res)
}

/// `GET /.well-known/edgetoken.json`: the discovery document edges configure themselves
/// from (the issue-11 contract; `IssuerSync` reads it). URIs are relative to this origin
/// (it does not know its public base URL).
pub async fn configuration(State(app): State<Arc<App>>) -> Response {
    let c = &app.config;
    let body = serde_json::json!({
        "issuer": c.issuer,
        "audience": c.audience,
        "jwks_uri": "/.well-known/jwks.json",
        "revocations_uri": "/revocations",
        "clock_tolerance": c.clock_tolerance,
        "max_token_lifetime": c.access_ttl,
        "revocation_window": c.revocation_window(),
        "revocation_ttl": c.revocation_ttl,
        // What edges accept by default; the key-lifecycle work makes these configurable.
        "revocation_max_ttl": edgetoken::trust::DEFAULT_MAX_FILTER_TTL,
        "sync_interval": 2,
        "key_prepublication": 0,
    });
    let mut res = Response::new(Body::from(body.to_string()));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    res
}

/// `GET /healthz`: the database answers and a key is loaded.
pub async fn healthz(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    blocking(&app, |app| app.store.user_by_id("")).await??;
    let mut res = Response::new(Body::from(r#"{"status":"ok"}"#));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(res)
}
