//! HTTP: routes, cookies, CSRF, size limits, JSON errors.

pub mod admin;
pub mod cookies;
pub mod error;
pub mod public;
pub mod request;
pub mod user;

use crate::app::App;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::http::{header, HeaderValue};
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The origin's routes (see docs/http-api.md).
pub fn router(app: Arc<App>) -> Router {
    let limit = app.config.max_body;
    let router = Router::new()
        .route("/api/login", post(user::login))
        .route("/api/refresh", post(user::refresh))
        .route("/api/logout", post(user::logout))
        .route("/api/logout-all", post(user::logout_all))
        .route("/api/password", post(user::change_password))
        .route("/api/step-up", post(user::step_up))
        .route("/api/sessions", get(user::list_sessions))
        .route("/api/sessions/{id}", delete(user::revoke_session))
        .route("/api/admin/sessions", get(admin::search_sessions))
        .route("/api/admin/sessions/{id}/revoke", post(admin::revoke_session))
        .route("/api/admin/users", post(admin::create_user))
        .route("/api/admin/users/{id}/revoke", post(admin::revoke_user))
        .route("/api/admin/keys", get(admin::list_keys))
        .route("/api/admin/keys/rotate", post(admin::rotate_key))
        .route("/api/admin/keys/emergency-rotate", post(admin::emergency_rotate))
        .route("/api/admin/revoke-all", post(admin::revoke_all))
        .route("/.well-known/jwks.json", get(public::jwks))
        .route("/revocations", get(public::revocations))
        .route("/healthz", get(public::healthz))
        .route("/.well-known/edgetoken.json", get(public::configuration));
    let router = with_static_files(router, &app.config);
    router
        .layer(axum::middleware::map_response(error::jsonify))
        // Our JSON extractor enforces the limit itself; this also bounds any other body reader.
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

/// The admin UI and demo page (`--www`) and the npm package they import (`--pkg`), when
/// configured. Pages get a strict CSP: same-origin scripts only, plus wasm compilation for
/// the package; no inline script, no framing.
fn with_static_files(router: Router<Arc<App>>, config: &crate::config::Config) -> Router<Arc<App>> {
    let api_404 = || async { error::ApiError::not_found("no such endpoint") };
    let mut router = router.route("/api/{*rest}", axum::routing::any(api_404));
    if let Some(pkg) = &config.pkg {
        router = router.nest_service("/pkg", ServeDir::new(pkg));
    }
    let router = match &config.www {
        Some(www) => router.fallback_service(ServeDir::new(www)),
        None => router.fallback(api_404),
    };
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
}

/// Serves the router on `listener` until the future is dropped or fails.
pub async fn serve(listener: TcpListener, app: Arc<App>) -> std::io::Result<()> {
    axum::serve(listener, router(app).into_make_service_with_connect_info::<SocketAddr>()).await
}
