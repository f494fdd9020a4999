//! Request plumbing: size-limited JSON bodies, client info, access-token authentication.

use super::cookies;
use super::error::ApiError;
use crate::app::App;
use crate::store::{GrantBasis, Session, User};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use edgetoken::UnixTime;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};
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
    /// Client IP: the peer, or behind `--trust-forwarded-for N` proxies the address the
    /// N-th of them appended to X-Forwarded-For; always a parsed IP, never header text.
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
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let ip = match (peer, app.config.trust_forwarded_for) {
            (None, _) => "unknown".to_string(),
            (Some(peer), 0) => canonical(peer).to_string(),
            (Some(peer), hops) => {
                let forwarded: Vec<&str> = parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .map(|v| v.to_str().map_err(|_| bad_forwarded("is not ASCII")))
                    .collect::<Result<_, _>>()?;
                client_ip(peer, &forwarded, hops)?.to_string()
            }
        };
        let user_agent =
            parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(256).collect();
        Ok(Client { ip, user_agent, headers: parts.headers.clone(), method: parts.method.clone() })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    // An IPv4 client on a dual-stack socket appears as ::ffff:a.b.c.d; one key per client.
    ip.to_canonical()
}

fn bad_forwarded(why: &str) -> ApiError {
    ApiError::bad_request("invalid_forwarded_for", format!("X-Forwarded-For {why}"))
}

/// The client address behind `hops` trusted proxies. `forwarded` are the X-Forwarded-For
/// header lines in order; each proxy appends the address it received the request from, so
/// walking from the right, past the peer (the nearest proxy) and the addresses the other
/// trusted proxies added, the next one is the client as the outermost trusted proxy saw it.
/// Everything further left was written by the client and is ignored. With fewer entries
/// than proxies, the leftmost is taken (as Express does). The chosen entry must parse as an
/// IP address; anything else is refused (400), never stored.
pub fn client_ip(peer: IpAddr, forwarded: &[&str], hops: u8) -> Result<IpAddr, ApiError> {
    let entries: Vec<&str> = forwarded.iter().flat_map(|line| line.split(',')).map(str::trim).collect();
    if hops == 0 || entries.is_empty() {
        return Ok(canonical(peer));
    }
    // The chain is entries..., peer; skip `hops - 1` entries from the right (the peer is hop 1).
    let from_right = usize::from(hops - 1);
    let chosen = entries.len().checked_sub(1 + from_right).map_or(entries[0], |i| entries[i]);
    chosen
        .parse::<IpAddr>()
        .map(canonical)
        .map_err(|_| bad_forwarded(&format!("entry {chosen:?} (added by a trusted proxy) is not an IP address")))
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
    /// The global session epoch, read before the session and user were.
    pub session_epoch: u64,
}

impl Auth {
    /// The basis of a grant made by this session (password change, step-up).
    pub fn basis(&self) -> GrantBasis {
        GrantBasis {
            user_id: self.user.id.clone(),
            credential_version: self.user.credential_version,
            session_epoch: self.session_epoch,
            session_id: Some(self.session.id.clone()),
        }
    }
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
    // Before the session and user: see `Auth::basis`.
    let session_epoch = app.store.session_epoch()?;
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
    Ok(Auth { user, session, via_cookie, session_epoch })
}
