//! Request plumbing: size-limited JSON bodies, client info, access-token authentication.

use super::cookies;
use super::error::ApiError;
use crate::app::App;
use crate::store::{Session, User};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use edgetoken::UnixTime;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;

/// Runs blocking work (SQLite, argon2) on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app)).await.map_err(ApiError::internal)
}

/// A JSON body, or `None` for an empty body. Enforces the size limit and the
/// `application/json` content type (a cross-site form cannot send it without a preflight).
pub struct Json<T>(pub Option<T>);

impl<T: DeserializeOwned> Json<T> {
    /// The body, or 400 if it was empty.
    pub fn required(self) -> Result<T, ApiError> {
        self.0.ok_or_else(|| ApiError::bad_request("invalid_json", "a JSON body is required"))
    }
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<App>> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, ApiError> {
        let limit = app.config.max_body;
        let too_large =
            || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("the body exceeds {limit} bytes"));
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| too_large())?;
        if bytes.is_empty() {
            return Ok(Json(None));
        }
        if is_json != Some(true) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON with Content-Type: application/json",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(|v| Json(Some(v)))
            .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not valid for this endpoint: {e}")))
    }
}

/// The body of endpoints that take no parameters: empty, or `{}` (unknown fields are
/// refused like everywhere else).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// Who is calling: IP and User-Agent (for the session list), and the raw headers.
pub struct Client {
    /// Client IP (the peer, or the first X-Forwarded-For hop when trusted).
    pub ip: String,
    /// User-Agent header.
    pub user_agent: String,
    /// All request headers (cookies, CSRF).
    pub headers: HeaderMap,
    /// Request method.
    pub method: Method,
}

impl FromRequestParts<Arc<App>> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let forwarded = app
            .config
            .trust_forwarded_for
            .then(|| parts.headers.get("x-forwarded-for")?.to_str().ok()?.split(',').next().map(|s| s.trim().to_string()))
            .flatten()
            .filter(|s| !s.is_empty());
        let ip = forwarded.or(peer).unwrap_or_else(|| "unknown".into());
        let user_agent =
            parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(256).collect();
        Ok(Client { ip, user_agent, headers: parts.headers.clone(), method: parts.method.clone() })
    }
}

/// The bearer token of `Authorization: Bearer ...`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

/// The access token: `Authorization: Bearer`, else the `__Host-access` cookie (`true`).
pub fn access_token(headers: &HeaderMap) -> Option<(String, bool)> {
    match bearer(headers) {
        Some(t) => Some((t, false)),
        None => cookies::get(headers, cookies::ACCESS).filter(|c| !c.is_empty()).map(|t| (t, true)),
    }
}

/// A request authenticated by an access token (Bearer, or the `__Host-access` cookie).
///
/// The token is checked by the core `edgetoken::Verifier` over the origin's published
/// keys, then against the database: the session must be active and the user's
/// `not_before` respected, so a revocation takes effect here at once.
pub struct Auth {
    /// The user.
    pub user: User,
    /// The session the token belongs to.
    pub session: Session,
    /// Authenticated by cookie (responses then also use cookies).
    pub via_cookie: bool,
}

impl FromRequestParts<Arc<App>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let Some((token, via_cookie)) = access_token(&parts.headers) else {
            return Err(ApiError::unauthorized("unauthenticated", "an access token is required"));
        };
        if via_cookie && !matches!(parts.method, Method::GET | Method::HEAD) {
            cookies::check_csrf(&parts.headers)?;
        }
        blocking(app, move |app| authenticate(app, &token, via_cookie)).await?
    }
}

/// Verifies an access token and loads its session and user.
pub fn authenticate(app: &App, token: &str, via_cookie: bool) -> Result<Auth, ApiError> {
    let now = app.now();
    let ring = app.keys.current();
    let claims = ring
        .verifier
        .verify(token, UnixTime::from_secs(now))
        .map_err(|e| ApiError::unauthorized("invalid_token", format!("access token refused: {}", e.code().as_str())))?;
    let ended = || ApiError::unauthorized("session_ended", "the session has ended");
    let sid = claims.session_id().ok_or_else(|| ApiError::unauthorized("invalid_token", "the token has no sid"))?;
    let session = app.store.session(sid)?.filter(|s| s.is_active(now)).ok_or_else(ended)?;
    if Some(session.user_id.as_str()) != claims.subject() {
        return Err(ApiError::unauthorized("invalid_token", "the token's sub does not own its sid"));
    }
    let user = app.store.user_by_id(&session.user_id)?.ok_or_else(ended)?;
    if user.not_before.is_some_and(|nb| claims.issued_at() < nb) {
        return Err(ApiError::unauthorized("session_ended", "the user's tokens issued before this time were revoked"));
    }
    if app.store.global_not_before(now)?.is_some_and(|nb| claims.issued_at() < nb) {
        return Err(ApiError::unauthorized("session_ended", "every token issued before the global cut-off was revoked"));
    }
    Ok(Auth { user, session, via_cookie })
}
