//! User endpoints: login, refresh, logout, logout-all, password, step-up, own sessions.

use super::cookies;
use super::error::ApiError;
use super::request::{access_token, authenticate, bearer, blocking, Auth, Client, Json, NoFields};
use crate::app::{login_name, App};
use crate::passwords;
use crate::sessions::{self, GrantError, Issued, RefreshError};
use crate::store::{GrantBasis, GrantRefused, Session, User};
use crate::tokens;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// How the client wants its tokens.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Browser: HttpOnly cookies; the refresh token never reaches script.
    #[default]
    Cookie,
    /// Native/server client: everything in the JSON body.
    Token,
}

/// A JSON response with `Cache-Control: no-store` (tokens must not be cached).
pub fn json_response(status: StatusCode, body: serde_json::Value, set_cookies: &[String]) -> Response {
    let mut res = (status, body.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in set_cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    res
}

fn session_json(s: &Session, current: Option<&str>) -> serde_json::Value {
    json!({
        "id": s.id,
        "user_id": s.user_id,
        "created_at": s.created_at,
        "last_seen_at": s.last_seen_at,
        "expires_at": s.ends_at,
        "absolute_expires_at": s.absolute_expires_at,
        "sensitive": s.sensitive,
        "user_agent": s.user_agent,
        "ip": s.ip,
        "revoked_at": s.revoked_at,
        "revoked_reason": s.revoked_reason,
        "current": current == Some(s.id.as_str()),
    })
}

/// Session JSON for listings.
pub fn session_value(s: &Session) -> serde_json::Value {
    session_json(s, None)
}

fn issued_response(app: &App, issued: &Issued, mode: Mode) -> Response {
    let now = app.now();
    let s = &issued.session;
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.access_expires_at.saturating_sub(now),
        "session_id": s.id,
        "session_expires_at": s.ends_at,
        "sensitive": s.sensitive,
    });
    let session_ttl = s.absolute_expires_at.saturating_sub(now);
    let cookies = match mode {
        Mode::Token => {
            body["refresh_token"] = json!(issued.refresh_token);
            if let Some(device) = &issued.device_secret {
                body["device_secret"] = json!(device);
            }
            Vec::new()
        }
        Mode::Cookie => {
            let csrf = tokens::csrf_token(&app.refresh_secret, &s.id);
            body["csrf_token"] = json!(csrf);
            let mut set =
                cookies::session_cookies(&issued.access_token, app.config.access_ttl, &issued.refresh_token, &csrf, session_ttl);
            if let Some(device) = &issued.device_secret {
                set.push(cookies::device_cookie(device, session_ttl));
            }
            set
        }
    };
    json_response(StatusCode::OK, body, &cookies)
}

/// `POST /api/login` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
    #[serde(default)]
    mode: Mode,
}

fn too_many(retry: u64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many failed attempts; retry in {retry} s"),
    );
    e.retry_after = Some(retry);
    e
}

/// Checks a password for `email` under the throttle. `Ok(None)`: wrong credentials. With
/// the user comes the basis of a login, read before the password check.
async fn check_password(app: &Arc<App>, email: String, password: String, ip: &str) -> Result<Option<(User, GrantBasis)>, ApiError> {
    let account_key = format!("account:{email}");
    let ip_key = format!("ip:{ip}");
    let now = app.now();
    let limits = [(account_key.as_str(), app.config.login_max_failures_account), (ip_key.as_str(), app.config.login_max_failures_ip)];
    // Reserved until the outcome is known: parallel guesses cannot overtake the limit.
    let attempt = app.throttle.begin(&limits, now).map_err(too_many)?;
    let user = blocking(app, move |app| -> Result<_, ApiError> {
        // The epoch first: a kill switch between the two reads is then still detected.
        let epoch = app.store.session_epoch()?;
        let user = app.store.user_by_email(&email)?;
        // Unknown accounts cost one argon2 verification too: no timing oracle for e-mails.
        let hash = user.as_ref().map(|u| u.password_hash.as_str()).unwrap_or(passwords::dummy_hash());
        let ok = passwords::verify(&password, hash);
        Ok(user.filter(|_| ok).map(|u| {
            let basis = sessions::login_basis(&u, epoch);
            (u, basis)
        }))
    })
    .await??;
    match &user {
        Some(_) => attempt.succeeded(&account_key),
        None => attempt.failed(),
    }
    Ok(user)
}

/// `POST /api/login`.
pub async fn login(State(app): State<Arc<App>>, client: Client, body: Json<LoginBody>) -> Result<Response, ApiError> {
    let b = body.required()?;
    if b.email.len() > 320 || b.password.len() > passwords::MAX_PASSWORD_LEN {
        return Err(ApiError::bad_request("invalid_request", "e-mail or password too long"));
    }
    let user = check_password(&app, login_name(&b.email), b.password, &client.ip).await?;
    let Some((user, basis)) = user else {
        return Err(ApiError::unauthorized("invalid_credentials", "wrong e-mail or password"));
    };
    let (ua, ip, browser) = (client.user_agent.clone(), client.ip.clone(), b.mode == Mode::Cookie);
    let issued = blocking(&app, move |app| sessions::start(app, &user, &basis, &ua, &ip, browser)).await?.map_err(grant_error)?;
    Ok(issued_response(&app, &issued, b.mode))
}

/// The answer to a grant refused inside its transaction.
fn grant_error(e: GrantError) -> ApiError {
    match e {
        GrantError::Store(e) => e.into(),
        GrantError::Refused(GrantRefused::CredentialsChanged) => ApiError::unauthorized(
            "credentials_changed",
            "the account's password or sessions changed while this request was checked; sign in again",
        ),
        GrantError::Refused(GrantRefused::SessionEnded) => {
            ApiError::unauthorized("session_ended", "the session ended while this request was checked")
        }
    }
}

/// The SHA-256 of the device secret a refresh presents: `X-Device-Secret`, else the
/// `__Host-device` cookie.
fn presented_device(client: &Client) -> Option<[u8; 32]> {
    let header = client.headers.get(cookies::DEVICE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    header
        .or_else(|| cookies::get(&client.headers, cookies::DEVICE))
        .filter(|d| !d.is_empty() && d.len() <= 512)
        .map(|d| sessions::device_hash(&d))
}

/// `POST /api/refresh` and `POST /api/logout` body.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: Option<String>,
}

/// The refresh token: JSON body, else `Authorization: Bearer`, else the cookie (which
/// requires the CSRF header).
fn refresh_token(client: &Client, body: Option<RefreshBody>) -> Result<(String, Mode), ApiError> {
    if let Some(t) = body.and_then(|b| b.refresh_token) {
        return Ok((t, Mode::Token));
    }
    if let Some(t) = bearer(&client.headers) {
        return Ok((t, Mode::Token));
    }
    if let Some(t) = cookies::get(&client.headers, cookies::REFRESH).filter(|c| !c.is_empty()) {
        cookies::check_csrf(&client.headers)?;
        return Ok((t, Mode::Cookie));
    }
    Err(ApiError::unauthorized("unauthenticated", "a refresh token is required"))
}

/// `POST /api/refresh`.
pub async fn refresh(State(app): State<Arc<App>>, client: Client, body: Json<RefreshBody>) -> Result<Response, ApiError> {
    let (token, mode) = refresh_token(&client, body.0)?;
    if token.len() > 512 {
        return Err(ApiError::unauthorized("invalid_refresh_token", "unknown refresh token"));
    }
    let device = presented_device(&client);
    let result = blocking(&app, move |app| sessions::refresh(app, &token, device.as_ref())).await?;
    let err = match result {
        Ok(issued) => return Ok(issued_response(&app, &issued, mode)),
        Err(RefreshError::Store(e)) => return Err(e.into()),
        Err(RefreshError::Unknown) => ApiError::unauthorized("invalid_refresh_token", "unknown refresh token"),
        Err(RefreshError::Ended) => ApiError::unauthorized("session_ended", "the session has ended; log in again"),
        Err(RefreshError::Reuse) => ApiError::unauthorized(
            "refresh_token_reused",
            "this refresh token was already used; the session has been revoked",
        ),
        Err(RefreshError::DeviceMismatch) => ApiError::unauthorized(
            "device_mismatch",
            "this refresh did not come from the device the session belongs to; the session has been revoked",
        ),
    };
    Err(if mode == Mode::Cookie { err.clearing_cookies() } else { err })
}

/// `POST /api/logout`: by access token, or by refresh token (body or cookie).
pub async fn logout(State(app): State<Arc<App>>, client: Client, body: Json<RefreshBody>) -> Result<Response, ApiError> {
    let via_access = access_token(&client.headers);
    let sid = blocking(&app, {
        let body = body.0;
        let headers_client = client;
        move |app| -> Result<Option<String>, ApiError> {
            if let Some((token, via_cookie)) = via_access {
                if via_cookie {
                    cookies::check_csrf(&headers_client.headers)?;
                }
                if let Ok(auth) = authenticate(app, &token, via_cookie) {
                    return Ok(Some(auth.session.id));
                }
            }
            let (token, _) = refresh_token(&headers_client, body)?;
            Ok(app.store.refresh_lookup(&tokens::refresh_hash(&token))?.map(|(_, s)| s.id))
        }
    })
    .await??;
    let Some(sid) = sid else {
        return Err(ApiError::unauthorized("unauthenticated", "no valid access or refresh token").clearing_cookies());
    };
    let revoked = blocking(&app, move |app| sessions::revoke(app, &sid, "logout")).await??;
    Ok(json_response(StatusCode::OK, json!({ "revoked": revoked }), &cookies::clear_all()))
}

/// `POST /api/logout-all`.
pub async fn logout_all(State(app): State<Arc<App>>, auth: Auth, _body: Json<NoFields>) -> Result<Response, ApiError> {
    let user_id = auth.user.id.clone();
    let n = blocking(&app, move |app| sessions::revoke_user(app, &user_id, "logout_all")).await??;
    Ok(json_response(StatusCode::OK, json!({ "sessions_revoked": n }), &cookies::clear_all()))
}

/// `POST /api/password` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `POST /api/password`: revokes every session of the user, then starts a new one.
pub async fn change_password(State(app): State<Arc<App>>, client: Client, auth: Auth, body: Json<PasswordBody>)
    -> Result<Response, ApiError> {
    let b = body.required()?;
    passwords::acceptable(&b.new_password).map_err(|m| ApiError::bad_request("weak_password", m))?;
    if b.current_password.len() > passwords::MAX_PASSWORD_LEN {
        return Err(ApiError::forbidden("wrong_password", "the current password is wrong"));
    }
    if check_password(&app, auth.user.email.clone(), b.current_password, &client.ip).await?.is_none() {
        return Err(ApiError::forbidden("wrong_password", "the current password is wrong"));
    }
    let basis = auth.basis();
    let (user, ua, ip, new, browser) = (auth.user, client.user_agent, client.ip, b.new_password, auth.via_cookie);
    let issued = blocking(&app, move |app| -> Result<Issued, ApiError> {
        let hash = passwords::hash(&new).map_err(ApiError::internal)?;
        sessions::change_password(app, &user, &basis, &hash, &ua, &ip, browser).map_err(grant_error)
    })
    .await??;
    let mode = if auth.via_cookie { Mode::Cookie } else { Mode::Token };
    Ok(issued_response(&app, &issued, mode))
}

/// `POST /api/step-up` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepUpBody {
    password: String,
}

/// `POST /api/step-up`: re-checks the password; the session becomes sensitive (short idle timeout).
pub async fn step_up(State(app): State<Arc<App>>, client: Client, auth: Auth, body: Json<StepUpBody>) -> Result<Response, ApiError> {
    let b = body.required()?;
    if b.password.len() > passwords::MAX_PASSWORD_LEN
        || check_password(&app, auth.user.email.clone(), b.password, &client.ip).await?.is_none()
    {
        return Err(ApiError::forbidden("wrong_password", "the password is wrong"));
    }
    let basis = auth.basis();
    let session = auth.session;
    let ends = blocking(&app, move |app| sessions::step_up(app, &session, &basis)).await?.map_err(grant_error)?;
    Ok(json_response(StatusCode::OK, json!({ "sensitive": true, "session_expires_at": ends }), &[]))
}

/// `GET /api/sessions`: the caller's active sessions.
pub async fn list_sessions(State(app): State<Arc<App>>, auth: Auth) -> Result<Response, ApiError> {
    let user_id = auth.user.id.clone();
    let list = blocking(&app, move |app| app.store.user_sessions(&user_id, app.now())).await??;
    let items: Vec<_> = list.iter().map(|s| session_json(s, Some(&auth.session.id))).collect();
    Ok(json_response(StatusCode::OK, json!({ "sessions": items }), &[]))
}

/// `DELETE /api/sessions/{id}`: revokes one of the caller's sessions.
pub async fn revoke_session(State(app): State<Arc<App>>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let user_id = auth.user.id.clone();
    let revoked = blocking(&app, move |app| -> Result<bool, ApiError> {
        match app.store.session(&id)? {
            Some(s) if s.user_id == user_id && s.is_active(app.now()) => Ok(sessions::revoke(app, &id, "user_revoked")?),
            _ => Err(ApiError::not_found("no such active session of yours")),
        }
    })
    .await??;
    Ok(json_response(StatusCode::OK, json!({ "revoked": revoked }), &[]))
}
