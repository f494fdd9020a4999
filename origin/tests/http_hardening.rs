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

    let device = find("__Host-device");
    for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(device.contains(attr), "{device} lacks {attr}");
    }
    assert!(login.body.get("device_secret").is_none(), "cookie mode keeps the device secret out of script's reach");
    let device = login.cookie("__Host-device").unwrap();
    let jar = format!(
        "__Host-refresh={}; __Host-access={}; __Host-csrf={csrf}; __Host-device={device}",
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
    assert!(r.cookie("__Host-device").is_none(), "the device secret is set once, at login");
    let jar2 = format!("__Host-refresh={}; __Host-csrf={csrf}; __Host-device={device}", r.cookie("__Host-refresh").unwrap());
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

// ---------------------------------------------------------------------------------------
// Table-driven hostile input over every endpoint: every field, path parameter, query
// parameter and content type. The rule: a 4xx JSON error (or a normal answer), never a 5xx.

/// Strings aimed at SQL, LIKE patterns, headers, paths and parsers.
const HOSTILE: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    "\" OR \"\"=\"",
    "1; DELETE FROM sessions",
    "%",
    "_",
    "%_\\",
    "a@b.c' OR 1=1 --",
    "\\' UNION SELECT private_key FROM signing_keys --",
    "\u{0}",
    "x\u{0}y",
    "🙂\u{202e}ǅİ",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "\r\nSet-Cookie: a=b",
    "",
    " ",
];

/// Every hostile value of a JSON field, as JSON text: the strings above, very long
/// strings, other JSON types, a lone surrogate and an out-of-range number.
fn hostile_values() -> Vec<String> {
    let mut v: Vec<String> = HOSTILE.iter().map(|s| json!(s).to_string()).collect();
    v.push(json!("A".repeat(15_000)).to_string());
    v.push(json!("é".repeat(7_000)).to_string());
    v.push(json!(format!("{}@example.com", "a".repeat(400))).to_string());
    for raw in ["1", "-1", "1.5", "true", "null", "[]", "{}", "[\"a\"]", "{\"$ne\":\"\"}", "\"\\ud800\"", "1e999", "18446744073709551616"] {
        v.push(raw.to_string());
    }
    v
}

/// At most `n` characters of `s`, for messages.
fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Percent-encodes everything but unreserved characters (for paths and queries).
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    User,
    Admin,
}

struct Endpoint {
    method: Method,
    /// `{id}` is replaced by a real id of the caller's kind, or a hostile one.
    path: &'static str,
    who: Who,
    /// A valid body (`{refresh}` / `{password}` strings are filled in), or None.
    body: Option<serde_json::Value>,
}

fn endpoints() -> Vec<Endpoint> {
    use Who::*;
    let e = |method: Method, path, who, body: Option<serde_json::Value>| Endpoint { method, path, who, body };
    vec![
        e(Method::POST, "/api/login", Nobody, Some(json!({"email": USER, "password": "{password}", "mode": "token"}))),
        e(Method::POST, "/api/refresh", Nobody, Some(json!({"refresh_token": "{refresh}"}))),
        e(Method::POST, "/api/logout", Nobody, Some(json!({"refresh_token": "{refresh}"}))),
        e(Method::POST, "/api/logout-all", User, Some(json!({}))),
        e(Method::POST, "/api/password", User, Some(json!({"current_password": "{password}", "new_password": "a-new-long-password"}))),
        e(Method::POST, "/api/step-up", User, Some(json!({"password": "{password}"}))),
        e(Method::GET, "/api/sessions", User, None),
        e(Method::DELETE, "/api/sessions/{id}", User, None),
        e(Method::GET, "/api/admin/sessions", Admin, None),
        e(Method::POST, "/api/admin/sessions/{id}/revoke", Admin, Some(json!({}))),
        e(Method::POST, "/api/admin/users", Admin, Some(json!({"email": "new@example.com", "password": "a-long-password", "role": "user"}))),
        e(Method::POST, "/api/admin/users/{id}/revoke", Admin, Some(json!({}))),
        e(Method::POST, "/api/admin/keys/rotate", Admin, Some(json!({}))),
        e(Method::GET, "/api/admin/keys", Admin, None),
        // An unknown kid: every well-formed variant is a 404 and changes nothing.
        e(Method::POST, "/api/admin/keys/emergency-rotate", Admin, Some(json!({"kid": "no-such-kid", "sessions": false}))),
        e(Method::POST, "/api/admin/revoke-all", Admin, Some(json!({"sessions": false}))),
        e(Method::GET, "/.well-known/jwks.json", Nobody, None),
        e(Method::GET, "/.well-known/edgetoken.json", Nobody, None),
        e(Method::GET, "/revocations", Nobody, None),
        e(Method::GET, "/healthz", Nobody, None),
    ]
}

/// Fresh in-process session for `email` (no argon2): (access, refresh, session id).
fn fresh(h: &Harness, email: &str) -> (String, String, String) {
    let user = h.app.store.user_by_email(email).unwrap().unwrap();
    let basis = edgetoken_origin::sessions::login_basis(&user, h.app.store.session_epoch().unwrap());
    let i = edgetoken_origin::sessions::start(&h.app, &user, &basis, "hardening", "127.0.0.1", false).unwrap();
    (i.access_token, i.refresh_token, i.session.id)
}

struct Tally {
    tried: usize,
    statuses: std::collections::BTreeMap<u16, usize>,
}

impl Tally {
    fn check(&mut self, r: &Resp, what: &str) {
        self.tried += 1;
        *self.statuses.entry(r.status.as_u16()).or_insert(0) += 1;
        assert!(!r.status.is_server_error(), "{what}: {} {}", r.status, String::from_utf8_lossy(&r.raw));
        if r.status.is_client_error() {
            assert_eq!(r.headers.get("content-type").map(|v| v.to_str().unwrap()), Some("application/json"), "{what}");
            assert!(!r.error().is_empty() && r.body["message"].is_string(), "{what}: {}", r.body);
        }
    }
}

const ADMIN: &str = "root@example.com";

/// Sends `body` to `ep` as the endpoint's kind of caller (fresh session each time).
async fn call(h: &Harness, ep: &Endpoint, path: &str, body: Option<String>, content_type: Option<&str>, extra: &[(&str, &str)]) -> Resp {
    let auth = match ep.who {
        Who::Nobody => None,
        Who::User => Some(fresh(h, USER).0),
        Who::Admin => Some(fresh(h, ADMIN).0),
    };
    let auth = auth.map(|a| format!("Bearer {a}"));
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    if let Some(ct) = content_type {
        headers.push(("content-type", ct));
    }
    h.req(ep.method.clone(), path, body.as_deref(), &headers).await
}

fn fill(h: &Harness, ep: &Endpoint, pw: &str, admin_pw: &str) -> (String, Option<serde_json::Value>) {
    let id = match (ep.path, ep.who) {
        (p, _) if p.contains("/users/") => h.user_id(USER),
        (_, Who::Nobody) => String::new(),
        _ => fresh(h, USER).2,
    };
    let path = ep.path.replace("{id}", &id);
    let pw = if ep.who == Who::Admin { admin_pw } else { pw };
    let body = ep.body.as_ref().map(|b| {
        let mut b = b.clone();
        for (_, v) in b.as_object_mut().unwrap().iter_mut() {
            if v == "{refresh}" {
                *v = json!(fresh(h, USER).1);
            } else if v == "{password}" {
                *v = json!(pw);
            }
        }
        b
    });
    (path, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_in_every_field_of_every_endpoint_gets_a_json_4xx_never_a_5xx() {
    // Throttling is tested above; here every wrong password must reach the handler.
    let h = Harness::start_with(|c| {
        c.login_max_failures_account = 1_000_000;
        c.login_max_failures_ip = 1_000_000;
    })
    .await;
    let pw = h.user(USER, Role::User);
    let admin_pw = h.user(ADMIN, Role::Admin);
    let mut t = Tally { tried: 0, statuses: Default::default() };
    let json_ct = Some("application/json");
    for ep in endpoints() {
        let name = format!("{} {}", ep.method, ep.path);
        // 1. Every field of the body, one at a time, with every hostile value.
        if let Some(base) = &ep.body {
            for field in base.as_object().unwrap().keys() {
                for value in hostile_values() {
                    let (path, body) = fill(&h, &ep, &pw, &admin_pw);
                    let mut text = body.unwrap().to_string();
                    // Replace the field's value textually so raw JSON (1e999, lone surrogates) goes through.
                    let mut obj = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).unwrap();
                    obj.insert(field.clone(), json!("\u{1}MARK\u{1}"));
                    text = serde_json::to_string(&obj).unwrap().replace("\"\\u0001MARK\\u0001\"", &value);
                    let r = call(&h, &ep, &path, Some(text), json_ct, &[]).await;
                    t.check(&r, &format!("{name} field {field} = {}", short(&value, 40)));
                }
            }
            // An unknown extra field with a hostile name.
            let (path, body) = fill(&h, &ep, &pw, &admin_pw);
            let mut obj = body.unwrap();
            obj["'; DROP TABLE users; --"] = json!(1);
            let r = call(&h, &ep, &path, Some(obj.to_string()), json_ct, &[]).await;
            t.check(&r, &format!("{name} unknown field"));
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: unknown fields are refused");
        }
        // 2. Malformed bodies and wrong content types (on every endpoint, even GETs).
        let (path, _) = fill(&h, &ep, &pw, &admin_pw);
        let deep = "[".repeat(10_000);
        let malformed = ["{", "nul", "[]", "\"s\"", "{\"a\":1,\"a\":2}", &deep, "\u{feff}{}", "{\"email\":\"\\ud800\"}"];
        for body in malformed {
            let r = call(&h, &ep, &path, Some(body.to_string()), json_ct, &[]).await;
            t.check(&r, &format!("{name} malformed {}", short(body, 20)));
        }
        let valid = ep.body.clone().unwrap_or(json!({})).to_string();
        for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "application/json-patch+json", "json", ""] {
            let r = call(&h, &ep, &path, Some(valid.clone()), Some(ct), &[]).await;
            t.check(&r, &format!("{name} content-type {ct:?}"));
            if ep.body.is_some() {
                assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name} content-type {ct:?}: {}", r.body);
            }
        }
        let r = call(&h, &ep, &path, Some(valid.clone()), None, &[]).await;
        t.check(&r, &format!("{name} no content-type"));
        // 3. Oversized body (declared and actual).
        let big = json!({"x": "y".repeat(20_000)}).to_string();
        let r = call(&h, &ep, &path, Some(big), json_ct, &[]).await;
        t.check(&r, &format!("{name} oversized"));
        if ep.body.is_some() {
            assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{name}");
        }
        // 4. Hostile path parameters.
        if ep.path.contains("{id}") {
            let mut ids: Vec<String> = HOSTILE.iter().map(|s| pct(s)).collect();
            ids.extend(["%FF%FE".to_string(), "x".repeat(10_000), "%00".into(), "..%2F..%2Fhealthz".into()]);
            for id in ids {
                let p = ep.path.replace("{id}", &id);
                let body = ep.body.as_ref().map(|b| b.to_string());
                let r = call(&h, &ep, &p, body, json_ct, &[]).await;
                t.check(&r, &format!("{name} id {}", short(&id, 40)));
                assert!(r.status.is_client_error(), "{name} id {id}: {}", r.status);
            }
        }
        // 5. Hostile headers: huge User-Agent, garbage Authorization, cookies, CSRF header, X-Forwarded-For.
        let ua = "U".repeat(8_000);
        let garbage = [
            ("user-agent", ua.as_str()),
            ("x-forwarded-for", "' OR 1=1 --, 999.1.1.1"),
            ("cookie", "__Host-access='; DROP TABLE sessions; --; __Host-refresh=%; __Host-csrf=_"),
            ("x-csrf-token", "' OR '1'='1"),
        ];
        for (k, v) in garbage {
            let (path, body) = fill(&h, &ep, &pw, &admin_pw);
            let r = call(&h, &ep, &path, body.map(|b| b.to_string()), json_ct, &[(k, v)]).await;
            t.check(&r, &format!("{name} header {k}"));
        }
        for auth in ["Bearer ' OR 1=1 --", "Bearer ", "bearer x.y.z", &format!("Bearer {}", "A".repeat(20_000)), "Basic Jyc6Jyc="] {
            let r = h.req(ep.method.clone(), &path, ep.body.as_ref().map(|b| b.to_string()).as_deref(), &[("authorization", auth), ("content-type", "application/json")]).await;
            t.check(&r, &format!("{name} authorization {}", short(auth, 20)));
            if ep.who != Who::Nobody {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name} {auth}");
            }
        }
    }
    // Query parameters of the admin search.
    let ep = Endpoint { method: Method::GET, path: "/api/admin/sessions", who: Who::Admin, body: None };
    for param in ["q", "state", "limit", "offset", "'; DROP TABLE sessions; --"] {
        let mut values: Vec<String> = HOSTILE.iter().map(|s| pct(s)).collect();
        values.extend(["x".repeat(5_000), "-1".into(), "99999999999999999999".into(), "1e3".into(), "%ZZ".into()]);
        for v in values {
            let r = call(&h, &ep, &format!("/api/admin/sessions?{}={v}", pct(param)), None, None, &[]).await;
            t.check(&r, &format!("search {param}={}", short(&v, 40)));
            if param == "q" && !v.is_empty() && r.status == StatusCode::OK {
                // Matched literally: no injected condition lists other users' sessions.
                let n = r.body["sessions"].as_array().unwrap().len();
                assert_eq!(n, 0, "q={v} matched {n} sessions");
            }
        }
    }
    // Nothing was dropped or corrupted, and the accounts still work.
    let counts = h.app.store.table_counts().unwrap();
    assert!(counts.iter().all(|(_, n)| *n > 0), "{counts:?}");
    // (Hostile strings of 10+ characters are acceptable new passwords, so the password may
    // have changed; the account itself must be intact.)
    assert_eq!(h.app.store.user_by_email(USER).unwrap().unwrap().id, h.user_id(USER));
    let (_, refresh, _) = fresh(&h, USER);
    assert_eq!(h.refresh(&refresh).await.status, StatusCode::OK);
    eprintln!("hostile inputs tried: {} (statuses {:?})", t.tried, t.statuses);
}

#[tokio::test]
async fn csrf_attempts_on_every_cookie_authenticated_change_are_refused_and_change_nothing() {
    let h = Harness::start().await;
    let pw = h.user(USER, Role::User);
    let admin_pw = h.user(ADMIN, Role::Admin);
    let uid = h.user_id(USER);
    let mut tried = 0;
    // (method, path, caller, body)
    let cases: Vec<(Method, String, &str, Option<serde_json::Value>)> = vec![
        (Method::POST, "/api/refresh".into(), USER, None),
        (Method::POST, "/api/logout".into(), USER, None),
        (Method::POST, "/api/logout-all".into(), USER, None),
        (Method::POST, "/api/password".into(), USER, Some(json!({"current_password": pw, "new_password": pw}))),
        (Method::POST, "/api/step-up".into(), USER, Some(json!({"password": pw}))),
        (Method::DELETE, "/api/sessions/{sid}".into(), USER, None),
        (Method::POST, "/api/admin/sessions/{sid}/revoke".into(), ADMIN, None),
        (Method::POST, format!("/api/admin/users/{uid}/revoke"), ADMIN, None),
        (Method::POST, "/api/admin/users".into(), ADMIN, Some(json!({"email": "evil@example.com", "password": "attacker-chosen-pw", "role": "admin"}))),
        (Method::POST, "/api/admin/keys/rotate".into(), ADMIN, None),
        (Method::POST, "/api/admin/keys/emergency-rotate".into(), ADMIN, None),
        (Method::POST, "/api/admin/revoke-all".into(), ADMIN, Some(json!({"sessions": true}))),
    ];
    let _ = admin_pw;
    for (method, path, who, body) in &cases {
        let (access, refresh, sid) = fresh(&h, who);
        let csrf = edgetoken_origin::tokens::csrf_token(&h.app.refresh_secret, &sid);
        // The victim's own session is the target of the per-session endpoints.
        let path = path.replace("{sid}", &sid);
        let jar = format!("__Host-access={access}; __Host-refresh={refresh}; __Host-csrf={csrf}");
        let jar_no_csrf = format!("__Host-access={access}; __Host-refresh={refresh}");
        let other_csrf = edgetoken_origin::tokens::csrf_token(&h.app.refresh_secret, "another-session");
        let body_text = body.as_ref().map(|b| b.to_string());
        let form = "email=evil%40example.com&password=x&sessions=true";
        type Attempt<'a> = (Vec<(&'a str, &'a str)>, Option<&'a str>);
        let attempts: Vec<Attempt> = vec![
            (vec![("cookie", &jar), ("content-type", "application/json")], body_text.as_deref()),
            (vec![("cookie", &jar), ("content-type", "application/json"), ("x-csrf-token", "forged")], body_text.as_deref()),
            (vec![("cookie", &jar), ("content-type", "application/json"), ("x-csrf-token", "")], body_text.as_deref()),
            (vec![("cookie", &jar_no_csrf), ("content-type", "application/json"), ("x-csrf-token", &csrf)], body_text.as_deref()),
            (vec![("cookie", &jar), ("content-type", "application/json"), ("x-csrf-token", &other_csrf)], body_text.as_deref()),
            // A cross-site HTML form: cookies ride along, no custom header, form encoding.
            (vec![("cookie", &jar), ("content-type", "application/x-www-form-urlencoded"), ("origin", "https://evil.example")], Some(form)),
            (vec![("cookie", &jar), ("content-type", "text/plain")], Some("{}")),
        ];
        let keys_before = h.count("signing_keys");
        let tokens_before = h.count("refresh_tokens");
        let users_before = h.count("users");
        let cut_off_before = h.app.store.global_not_before(h.app.now()).unwrap();
        for (headers, b) in attempts {
            let r = h.req(method.clone(), &path, b, &headers).await;
            tried += 1;
            assert!(
                r.status == StatusCode::FORBIDDEN && r.error() == "csrf" || r.status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} {headers:?}: {} {}",
                r.status,
                r.body
            );
        }
        // Nothing changed: the session lives, no rotation, no key, no user, no cut-off.
        let s = h.app.store.session(&sid).unwrap().unwrap();
        assert!(s.revoked_at.is_none() && !s.sensitive || *who == ADMIN && s.revoked_at.is_none(), "{method} {path}: session changed");
        assert_eq!(h.count("refresh_tokens"), tokens_before, "{method} {path}");
        assert_eq!(h.count("signing_keys"), keys_before, "{method} {path}");
        assert_eq!(h.count("users"), users_before, "{method} {path}");
        assert_eq!(h.app.store.global_not_before(h.app.now()).unwrap(), cut_off_before, "{method} {path}: no cut-off");
        // The same request with the right header goes through (the check is not just "always 403").
        let mut ok_headers = vec![("cookie", jar.as_str()), ("x-csrf-token", csrf.as_str())];
        if body_text.is_some() {
            ok_headers.push(("content-type", "application/json"));
        }
        let r = h.req(method.clone(), &path, body_text.as_deref(), &ok_headers).await;
        assert!(r.status.is_success(), "{method} {path} with the CSRF header: {} {}", r.status, r.body);
        h.clock.advance(1);
    }
    eprintln!("CSRF attempts tried: {tried}");
}

#[tokio::test]
async fn oversized_urls_and_headers_are_refused_without_a_5xx() {
    let h = Harness::start().await;
    let mut tried = 0;
    for (path, header) in [
        (format!("/api/sessions/{}", "x".repeat(60_000)), String::new()),
        (format!("/api/admin/sessions?q={}", "x".repeat(60_000)), String::new()),
        ("/api/sessions".to_string(), "y".repeat(600_000)),
        ("/api/login".to_string(), "z".repeat(90_000)),
    ] {
        let mut rb = h.http.get(format!("{}{path}", h.base));
        if !header.is_empty() {
            rb = rb.header("cookie", format!("__Host-access={header}"));
        }
        tried += 1;
        match rb.send().await {
            // hyper refuses what it cannot parse before routing (431/414/400, no JSON body).
            Ok(r) => assert!(r.status().is_client_error(), "{path}: {}", r.status()),
            // Or closes the connection: also no 5xx.
            Err(e) => eprintln!("connection closed on oversized input: {e}"),
        }
    }
    // Still serving.
    assert_eq!(h.get("/healthz", None).await.status, StatusCode::OK);
    eprintln!("oversized URL/header cases: {tried}");
}
