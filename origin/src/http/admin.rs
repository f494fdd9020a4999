//! Admin endpoints: the caller's role is read from the database on every request.

use super::error::ApiError;
use super::request::{blocking, Auth, Json, NoFields};
use super::user::{json_response, session_value};
use crate::app::{App, CreateUserError};
use crate::passwords;
use crate::sessions;
use crate::store::Role;
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

/// `POST /api/admin/revoke-all`: the kill switch (global `not_before` = now).
pub async fn revoke_all(State(app): State<Arc<App>>, auth: Auth, Json(body): Json<RevokeAllBody>) -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let (not_before, n) = blocking(&app, move |app| sessions::revoke_all(app, body.is_some_and(|b| b.sessions)))
        .await??
        .ok_or_else(|| {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "retry_later",
                "kill switches in quick succession would move the cut-off too far ahead of the clock; nothing changed, retry in a second",
            );
            e.retry_after = Some(1);
            e
        })?;
    Ok(json_response(StatusCode::OK, json!({ "not_before": not_before, "sessions_revoked": n }), &[]))
}

/// `POST /api/admin/keys/rotate`: a new signing key; the old one stays published.
pub async fn rotate_key(State(app): State<Arc<App>>, auth: Auth, _b: Json<NoFields>) -> Result<Response, ApiError> {
    require_admin(&auth)?;
    let kid = blocking(&app, |app| {
        let grace = app.config.access_ttl + app.config.clock_tolerance + app.config.revocation_ttl;
        app.keys.rotate(app.store.as_ref(), app.now(), grace)
    })
    .await??;
    Ok(json_response(StatusCode::OK, json!({ "kid": kid }), &[]))
}
