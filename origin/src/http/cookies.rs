//! Browser cookies: `__Host-` prefix (so `Secure`, `Path=/`, no `Domain`), and the
//! double-submit CSRF check.

use super::error::ApiError;
use axum::http::{header, HeaderMap};

/// The refresh token: HttpOnly, SameSite=Strict (never sent on cross-site requests).
pub const REFRESH: &str = "__Host-refresh";
/// The access token: HttpOnly, SameSite=Lax (top-level navigations may carry it to the edge).
pub const ACCESS: &str = "__Host-access";
/// The CSRF token: readable by the page's script, which echoes it in `X-CSRF-Token`.
pub const CSRF: &str = "__Host-csrf";
/// The header that must echo the CSRF cookie on cookie-authenticated state changes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The device secret of a browser session: HttpOnly, SameSite=Strict, set at login. Every
/// refresh of the session must carry it (see `crate::sessions`); tabs share it.
pub const DEVICE: &str = "__Host-device";
/// The header in which token-mode clients present their device secret on refresh.
pub const DEVICE_HEADER: &str = "x-device-secret";

/// Value of cookie `name` in the request, if present (the first occurrence).
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

fn set(name: &str, value: &str, max_age: u64, http_only: bool, same_site: &str) -> String {
    let http_only = if http_only { "; HttpOnly" } else { "" };
    format!("{name}={value}; Path=/; Secure{http_only}; SameSite={same_site}; Max-Age={max_age}")
}

/// `Set-Cookie` values for a browser session.
pub fn session_cookies(access: &str, access_ttl: u64, refresh: &str, csrf: &str, session_ttl: u64) -> Vec<String> {
    vec![
        set(ACCESS, access, access_ttl, true, "Lax"),
        set(REFRESH, refresh, session_ttl, true, "Strict"),
        set(CSRF, csrf, session_ttl, false, "Strict"),
    ]
}

/// The `Set-Cookie` value of a new session's device secret.
pub fn device_cookie(secret: &str, session_ttl: u64) -> String {
    set(DEVICE, secret, session_ttl, true, "Strict")
}

/// `Set-Cookie` values that delete the session cookies.
pub fn clear_all() -> Vec<String> {
    vec![
        set(ACCESS, "", 0, true, "Lax"),
        set(REFRESH, "", 0, true, "Strict"),
        set(CSRF, "", 0, false, "Strict"),
        set(DEVICE, "", 0, true, "Strict"),
    ]
}

/// Double submit: the `X-CSRF-Token` header must equal the `__Host-csrf` cookie. A
/// cross-site page can make the browser send the cookies but can neither read the CSRF
/// cookie nor set a custom header without a CORS preflight, which this origin never grants.
pub fn check_csrf(headers: &HeaderMap) -> Result<(), ApiError> {
    let cookie = get(headers, CSRF).filter(|c| !c.is_empty());
    let header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (cookie, header) {
        (Some(c), Some(h)) if crate::tokens::ct_eq(c.as_bytes(), h.as_bytes()) => Ok(()),
        _ => Err(ApiError::forbidden(
            "csrf",
            "cookie-authenticated requests that change state need an X-CSRF-Token header equal to the __Host-csrf cookie",
        )),
    }
}
