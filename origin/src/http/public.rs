//! Public endpoints: JWKS, revocation filter, health.

use super::error::ApiError;
use super::request::blocking;
use crate::app::App;
use crate::config::Config;
use crate::tokens::strong_etag;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// A cacheable public document: `200` with the body, or `304` when `If-None-Match` names
/// `etag` (or is `*`); both carry the ETag and `Cache-Control: public, max-age=<max_age>`.
fn conditional(headers: &HeaderMap, body: Vec<u8>, etag: &str, content_type: &'static str, max_age: u64)
    -> Result<Response, ApiError> {
    let etag_value = HeaderValue::from_str(etag).map_err(ApiError::internal)?;
    let cache = HeaderValue::from_str(&format!("public, max-age={max_age}")).map_err(ApiError::internal)?;
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    let mut res = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag_value);
    h.insert(header::CACHE_CONTROL, cache);
    Ok(res)
}

/// `GET /.well-known/jwks.json`: every next, active and still-published retired key.
/// `max-age` is the sync interval, so a withdrawn key leaves every cache within one sync
/// interval and a cached copy never outlives a key's pre-publication.
pub async fn jwks(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let ring = app.keys.current();
    conditional(&headers, ring.jwks_json.clone().into_bytes(), &ring.jwks_etag, "application/json", app.config.sync_interval)
}

/// `GET /revocations`: the current signed filter, with ETag and a short Cache-Control.
pub async fn revocations(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let artifact = blocking(&app, |app| app.revocations.current(app)).await?.map_err(|e| match e {
        crate::revocations::BuildError::Store(e) => ApiError::from(e),
        e => ApiError::internal(format!("{e:?}")),
    })?;
    // Caches may keep it for at most the rebuild interval (and the sync interval), so edges
    // see a revocation, or a filter re-signed after an emergency rotation, within seconds;
    // they never serve it past not_after, which max-age guarantees.
    let max_age = app.config.revocation_interval.min(app.config.sync_interval);
    conditional(&headers, artifact.bytes.clone(), &artifact.etag, "application/octet-stream", max_age)
}

/// `GET /.well-known/edgetoken.json`: the discovery document, the contract between the
/// origin and its edges (docs/http-api.md). URIs are relative to this document's URL (the
/// origin does not know its public base URL); every number is whole seconds.
pub async fn configuration(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let body = discovery(&app.config).to_string().into_bytes();
    let etag = strong_etag("cfg", &body);
    conditional(&headers, body, &etag, "application/json", DISCOVERY_MAX_AGE)
}

/// `Cache-Control: max-age` of the discovery document.
pub const DISCOVERY_MAX_AGE: u64 = 60;

/// The discovery document of `c`.
pub fn discovery(c: &Config) -> serde_json::Value {
    serde_json::json!({
        "issuer": c.issuer,
        "audience": c.audience,
        "jwks_uri": "/.well-known/jwks.json",
        "revocations_uri": "/revocations",
        "clock_tolerance": c.clock_tolerance,
        "max_token_lifetime": c.access_ttl,
        "revocation_window": c.revocation_window(),
        "revocation_ttl": c.revocation_ttl,
        "revocation_max_ttl": c.revocation_max_ttl,
        "sync_interval": c.sync_interval,
        "key_prepublication": c.key_prepublication,
    })
}

/// `GET /healthz`: the database answers and a key is loaded.
pub async fn healthz(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    blocking(&app, |app| app.store.user_by_id("")).await??;
    let mut res = Response::new(Body::from(r#"{"status":"ok"}"#));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(res)
}
