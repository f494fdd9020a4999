//! Browser cookies and CSRF, login throttling, body limits and JSON errors.

mod common;

use common::*;
use edgetoken_origin::store::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

const USER: &str = "alice@example.com";

#[tokio::test]
async fn cookie_login_sets_host_cookies_and_refresh_needs_the_csrf_header() {
    let h = Harness::start().await;
    let pw = h.user(USER, Role::User);
    let login = h.post("/api/login", json!({"email": USER, "password": pw}), None).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(login.body.get("refresh_token").is_none(), "cookie mode never exposes the refresh token to script");
    let cookies = login.set_cookies();
    let find = |name: &str| cookies.iter().find(|c| c.starts_with(&format!("{name}="))).unwrap().clone();
    let refresh = find("__Host-refresh");
    for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(refresh.contains(attr), "{refresh} lacks {attr}");
    }
    assert!(!refresh.contains("Domain"));
    let access = find("__Host-access");
    assert!(access.contains("HttpOnly") && access.contains("Secure") && access.contains("SameSite=Lax"));
    let csrf_cookie = find("__Host-csrf");
    assert!(!csrf_cookie.contains("HttpOnly"), "script must read the CSRF cookie");
    let csrf = login.s("csrf_token");
    assert_eq!(login.cookie("__Host-csrf").unwrap(), csrf);

    let jar = format!(
        "__Host-refresh={}; __Host-access={}; __Host-csrf={csrf}",
        login.cookie("__Host-refresh").unwrap(),
        login.cookie("__Host-access").unwrap()
    );
    // No header: refused, nothing rotated.
    let r = h.req(Method::POST, "/api/refresh", None, &[("cookie", &jar)]).await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "csrf"));
    // Wrong header: refused.
    let r = h.req(Method::POST, "/api/refresh", None, &[("cookie", &jar), ("x-csrf-token", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(h.count("refresh_tokens"), 1);
    // Cookie-authenticated state changes need it too.
    let r = h.req(Method::POST, "/api/logout-all", None, &[("cookie", &jar)]).await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "csrf"));
    let r = h.req(Method::POST, "/api/logout", None, &[("cookie", &jar)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Reads with the access cookie need no CSRF header.
    let r = h.req(Method::GET, "/api/sessions", None, &[("cookie", &jar)]).await;
    assert_eq!(r.status, StatusCode::OK);
    // With the header: rotated, new cookies, same CSRF token for the session.
    let r = h.req(Method::POST, "/api/refresh", None, &[("cookie", &jar), ("x-csrf-token", &csrf)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_ne!(r.cookie("__Host-refresh").unwrap(), login.cookie("__Host-refresh").unwrap());
    assert_eq!(r.s("csrf_token"), csrf);
    let jar2 = format!("__Host-refresh={}; __Host-csrf={csrf}", r.cookie("__Host-refresh").unwrap());
    let out = h.req(Method::POST, "/api/logout", None, &[("cookie", &jar2), ("x-csrf-token", &csrf)]).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(out.set_cookies().iter().all(|c| c.contains("Max-Age=0")), "logout clears the cookies");
}

#[tokio::test]
async fn login_is_throttled_per_account_with_429_and_retry_after() {
    let h = Harness::start().await;
    let pw = h.user(USER, Role::User);
    for _ in 0..5 {
        let r = h.post("/api/login", json!({"email": USER, "password": "wrong-password"}), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = h.post("/api/login", json!({"email": USER, "password": "wrong-password"}), None).await;
    assert_eq!((r.status, r.error()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert_eq!(r.headers["retry-after"], "900");
    assert_eq!(r.headers["content-type"], "application/json");
    // Even the right password waits: the lock is on the account.
    let r = h.post("/api/login", json!({"email": USER, "password": pw}), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    h.clock.advance(600);
    let r = h.post("/api/login", json!({"email": USER, "password": pw}), None).await;
    assert_eq!(r.headers["retry-after"], "300");
    h.clock.advance(301);
    h.login(USER, &pw).await;
}

#[tokio::test]
async fn login_is_throttled_per_ip() {
    let h = Harness::start_with(|c| c.login_max_failures_ip = 3).await;
    for i in 0..3 {
        let r = h.post("/api/login", json!({"email": format!("u{i}@example.com"), "password": "x"}), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = h.post("/api/login", json!({"email": "fresh@example.com", "password": "x"}), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_never_a_500() {
    let h = Harness::start().await;
    let json_ct = [("content-type", "application/json")];
    let check = |r: &Resp, status: StatusCode, code: &str| {
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.raw));
        assert_eq!(r.error(), code, "{}", r.body);
        assert!(r.body["message"].is_string());
        assert_eq!(r.headers["content-type"], "application/json");
    };
    // Oversized body: 413 JSON.
    let big = json!({"email": "a@example.com", "password": "x".repeat(20 * 1024)}).to_string();
    check(&h.req(Method::POST, "/api/login", Some(&big), &json_ct).await, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    // Malformed JSON, wrong types, unknown fields, empty body, not UTF-8.
    check(&h.req(Method::POST, "/api/login", Some("{\"email\":"), &json_ct).await, StatusCode::BAD_REQUEST, "invalid_json");
    check(&h.req(Method::POST, "/api/login", Some("{\"email\":1,\"password\":[]}"), &json_ct).await, StatusCode::BAD_REQUEST, "invalid_json");
    check(&h.req(Method::POST, "/api/login", Some("{\"email\":\"a\",\"password\":\"b\",\"admin\":true}"), &json_ct).await, StatusCode::BAD_REQUEST, "invalid_json");
    check(&h.req(Method::POST, "/api/login", None, &json_ct).await, StatusCode::BAD_REQUEST, "invalid_json");
    check(&h.req(Method::POST, "/api/login", Some("\u{0}\u{ff}"), &json_ct).await, StatusCode::BAD_REQUEST, "invalid_json");
    check(&h.req(Method::POST, "/api/login", Some("[]"), &json_ct).await, StatusCode::BAD_REQUEST, "invalid_json");
    // Wrong content type: 415.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    check(&h.req(Method::POST, "/api/login", Some("email=a&password=b"), &form).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    check(&h.req(Method::POST, "/api/login", Some("{}"), &[]).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    // Routing errors are JSON too.
    check(&h.req(Method::GET, "/nope", None, &[]).await, StatusCode::NOT_FOUND, "not_found");
    check(&h.req(Method::PUT, "/api/login", None, &[]).await, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    // Garbage tokens.
    check(&h.get("/api/sessions", Some("not-a-token")).await, StatusCode::UNAUTHORIZED, "invalid_token");
    check(&h.req(Method::GET, "/api/sessions", None, &[("authorization", "Basic Zm9vOmJhcg==")]).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    check(&h.refresh(&"x".repeat(5000)).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    check(&h.post("/api/refresh", json!({"refresh_token": 5}), None).await, StatusCode::BAD_REQUEST, "invalid_json");
    // Bad query string on an admin endpoint (after authentication).
    let admin_pw = h.user("root@example.com", Role::Admin);
    let at = h.login("root@example.com", &admin_pw).await.s("access_token");
    let r = h.get("/api/admin/sessions?limit=-4", Some(&at)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.error(), "bad_request");
    let r = h.get("/api/admin/sessions?q=%25%5F%ZZ", Some(&at)).await;
    assert!(r.status.is_client_error() || r.status == StatusCode::OK, "{}", r.status);
    assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_brute_force_gets_no_more_guesses_than_the_limit() {
    let h = std::sync::Arc::new(Harness::start().await);
    let pw = h.user(USER, Role::User);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (h, b) = (h.clone(), barrier.clone());
            tokio::spawn(async move {
                b.wait().await;
                h.post("/api/login", json!({"email": USER, "password": format!("guess-{i}")}), None).await
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        let r = t.await.unwrap();
        *statuses.entry(r.status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses.get(&401).copied().unwrap_or(0), 5, "password guesses checked: {statuses:?}");
    assert_eq!(statuses.get(&429).copied().unwrap_or(0), 35, "{statuses:?}");
    let r = h.post("/api/login", json!({"email": USER, "password": pw}), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}
