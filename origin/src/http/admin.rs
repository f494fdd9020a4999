//! Admin endpoints: the caller's role is read from the database on every request.

use super::error::ApiError;
use super::request::{blocking, Auth, Json, NoFields};
use super::user::{json_response, session_value};
use crate::app::{App, CreateUserError};
use crate::keys;
use crate::passwords;
use crate::sessions;
use crate::store::{Role, StoredKey, WithdrawTarget};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    if auth.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("forbidden", "this endpoint requires the admin role"))
    }
}

/// `GET /api/admin/sessions` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: Option<String>,
    state: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// `GET /api/admin/sessions?q=&state=active|ended|all&limit=&offset=`.
pub async fn search_sessions(State(app): State<Arc<App>>, auth: Auth, Query(q): Query<SearchQuery>) -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let query = q.q.unwrap_or_default();
    if query.len() > 320 {
        return Err(ApiError::bad_request("invalid_request", "q is too long"));
    }
    // SQLite's LIKE stops at a NUL, so "%\0%" would match every address: refuse control
    // characters (no e-mail or id contains them).
    if query.chars().any(char::is_control) {
        return Err(ApiError::bad_request("invalid_request", "q must not contain control characters"));
    }
    let state = q.state.unwrap_or_else(|| "active".into());
    if !matches!(state.as_str(), "active" | "ended" | "all") {
        return Err(ApiError::bad_request("invalid_request", "state must be active, ended or all"));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let offset = q.offset.unwrap_or(0);
    let rows = blocking(&app, move |app| app.store.search_sessions(&query, &state, app.now(), limit, offset)).await??;
    let items: Vec<_> = rows
        .iter()
        .map(|r| {
            let mut v = session_value(&r.session);
            v["email"] = json!(r.email);
            v
        })
        .collect();
    Ok(json_response(StatusCode::OK, json!({ "sessions": items }), &[]))
}

/// `POST /api/admin/sessions/{id}/revoke`.
pub async fn revoke_session(State(app): State<Arc<App>>, auth: Auth, Path(id): Path<String>, _b: Json<NoFields>)
    -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let revoked = blocking(&app, move |app| -> Result<bool, ApiError> {
        if app.store.session(&id)?.is_none() {
            return Err(ApiError::not_found("no such session"));
        }
        Ok(sessions::revoke(app, &id, "admin_revoked")?)
    })
    .await??;
    Ok(json_response(StatusCode::OK, json!({ "revoked": revoked }), &[]))
}

/// `POST /api/admin/users/{id}/revoke`: every session of the user, and the user's `not_before`.
pub async fn revoke_user(State(app): State<Arc<App>>, auth: Auth, Path(id): Path<String>, _b: Json<NoFields>)
    -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let n = blocking(&app, move |app| -> Result<u64, ApiError> {
        if app.store.user_by_id(&id)?.is_none() {
            return Err(ApiError::not_found("no such user"));
        }
        Ok(sessions::revoke_user(app, &id, "admin_revoked")?)
    })
    .await??;
    Ok(json_response(StatusCode::OK, json!({ "sessions_revoked": n }), &[]))
}

/// `POST /api/admin/users` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserBody {
    email: String,
    password: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

/// `POST /api/admin/users`: creates a user; without a password, one is generated and returned once.
pub async fn create_user(State(app): State<Arc<App>>, auth: Auth, body: Json<CreateUserBody>) -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let b = body.required()?;
    let role = Role::parse(b.role.as_deref().unwrap_or("user"))
        .ok_or_else(|| ApiError::bad_request("invalid_request", "role must be user or admin"))?;
    // Checked before the password is hashed: a refused address costs no argon2 run.
    let email = crate::identifiers::normalize_email(&b.email)
        .map_err(|m| ApiError::bad_request("invalid_email", format!("email is refused: {m}")))?;
    let generated = b.password.is_none();
    let password = b.password.unwrap_or_else(passwords::generate);
    passwords::acceptable(&password).map_err(|m| ApiError::bad_request("weak_password", m))?;
    let pw = password.clone();
    let user = blocking(&app, move |app| match app.create_user(&email, &pw, role) {
        Ok(u) => Ok(u),
        Err(CreateUserError::Taken) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "email_taken",
            "a user with this e-mail address, or one that looks like it, exists",
        )),
        Err(CreateUserError::InvalidEmail(m)) => Err(ApiError::bad_request("invalid_email", m)),
        Err(CreateUserError::Store(e)) => Err(ApiError::from(e)),
    })
    .await??;
    let mut body = json!({ "id": user.id, "email": user.email, "role": user.role.as_str() });
    if generated {
        body["password"] = json!(password);
    }
    Ok(json_response(StatusCode::CREATED, body, &[]))
}

/// `POST /api/admin/revoke-all` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeAllBody {
    /// Also revoke every active session (everyone signs in again).
    #[serde(default)]
    sessions: bool,
}

/// 429 `retry_later`: kill switches in quick succession would move the cut-off (and new
/// tokens' `iat`) too far ahead of the clock; nothing changed.
fn retry_later() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "retry_later",
        "kill switches in quick succession would move the cut-off too far ahead of the clock; nothing changed, retry in a second",
    );
    e.retry_after = Some(1);
    e
}

/// `POST /api/admin/revoke-all`: the kill switch (global `not_before` past every token minted).
pub async fn revoke_all(State(app): State<Arc<App>>, auth: Auth, Json(body): Json<RevokeAllBody>) -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let (not_before, n) = blocking(&app, move |app| sessions::revoke_all(app, body.is_some_and(|b| b.sessions)))
        .await??
        .ok_or_else(retry_later)?;
    Ok(json_response(StatusCode::OK, json!({ "not_before": not_before, "sessions_revoked": n }), &[]))
}

/// One key of `GET /api/admin/keys`.
fn key_value(k: &StoredKey, now: u64) -> serde_json::Value {
    json!({
        "kid": k.kid,
        "state": k.state.as_str(),
        "published": keys::published(k, now),
        "created_at": k.created_at,
        "activates_at": k.activates_at,
        "retired_at": k.retired_at,
        "publish_until": k.publish_until,
        "withdrawn_at": k.withdrawn_at,
    })
}

/// `GET /api/admin/keys`: every stored key with its state, newest first, and when the
/// schedule publishes the next key (`null` when off or a next key is pending).
pub async fn list_keys(State(app): State<Arc<App>>, auth: Auth) -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let (stored, now) = blocking(&app, |app| app.store.signing_keys().map(|k| (k, app.now()))).await??;
    let next_rotation_at = keys::scheduled_publication(&stored, &app.keys.policy());
    let items: Vec<_> = stored.iter().map(|k| key_value(k, now)).collect();
    Ok(json_response(StatusCode::OK, json!({ "keys": items, "next_rotation_at": next_rotation_at }), &[]))
}

/// `POST /api/admin/keys/rotate`: publishes a next key, which signs after the
/// pre-publication. With a next key already pending, returns it (`created: false`).
pub async fn rotate_key(State(app): State<Arc<App>>, auth: Auth, _b: Json<NoFields>) -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let r = blocking(&app, |app| app.keys.rotate(app.store.as_ref(), app.now())).await??;
    let body = json!({
        "kid": r.next.kid,
        "state": r.next.state.as_str(),
        "activates_at": r.next.activates_at,
        "created": r.created,
    });
    Ok(json_response(StatusCode::OK, body, &[]))
}

/// `POST /api/admin/keys/emergency-rotate` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyBody {
    /// The compromised key (default: the active key).
    kid: Option<String>,
    /// Withdraw every key (the database leaked).
    #[serde(default)]
    all: bool,
    /// Also revoke every session.
    #[serde(default)]
    sessions: bool,
}

/// `POST /api/admin/keys/emergency-rotate`: withdraws the compromised key, activates a
/// fresh one and sets the global `not_before`, then re-signs the filter at once.
pub async fn emergency_rotate(State(app): State<Arc<App>>, auth: Auth, Json(body): Json<EmergencyBody>)
    -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let body = body.unwrap_or(EmergencyBody { kid: None, all: false, sessions: false });
    let target = match (body.kid, body.all) {
        (Some(_), true) => return Err(ApiError::bad_request("invalid_request", "give kid or all, not both")),
        (Some(kid), false) if kid.is_empty() || kid.len() > 256 || kid.chars().any(char::is_control) => {
            return Err(ApiError::bad_request("invalid_request", "kid must be a key id"));
        }
        (Some(kid), false) => WithdrawTarget::Kid(kid),
        (None, true) => WithdrawTarget::All,
        (None, false) => WithdrawTarget::Active,
    };
    let sessions = body.sessions;
    let (e, sequence) = blocking(&app, move |app| -> Result<_, ApiError> {
        let e = app.keys.emergency(app.store.as_ref(), app.now(), target, sessions).map_err(|e| match e {
            keys::EmergencyError::UnknownKid => ApiError::not_found("no published or pending key has this kid"),
            keys::EmergencyError::RetryLater => retry_later(),
            keys::EmergencyError::Store(e) => ApiError::from(e),
        })?;
        // The global not_before is committed and the signer changed: re-sign now, so the
        // very next GET /revocations (and this response) name the new filter.
        app.revocations.mark_dirty();
        let sequence = app.revocations.current(app).ok().map(|a| a.sequence);
        Ok((e, sequence))
    })
    .await??;
    let body = json!({
        "kid": e.kid,
        "withdrawn": e.withdrawn,
        "not_before": e.not_before,
        "sessions_revoked": e.sessions_revoked,
        "filter_sequence": sequence,
    });
    Ok(json_response(StatusCode::OK, body, &[]))
}
