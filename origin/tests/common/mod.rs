//! Test harness: the real router on 127.0.0.1 (port 0), a temporary SQLite file, a manual clock.
#![allow(dead_code)]

use edgetoken_origin::app::App;
use edgetoken_origin::clock::ManualClock;
use edgetoken_origin::config::Config;
use edgetoken_origin::store::Role;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Start of the manual clock (2023-11-14).
pub const T0: u64 = 1_700_000_000;

pub struct Harness {
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub base: String,
    pub http: reqwest::Client,
    pub db: PathBuf,
    pub dir: Option<tempfile::TempDir>,
    /// Device secret per session id, as a real client keeps it (filled by `login` and
    /// `start_session`; `refresh` presents it).
    pub devices: std::sync::Mutex<std::collections::HashMap<String, String>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response: status, headers, parsed JSON body (Null if not JSON).
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn s(&self, key: &str) -> String {
        self.body[key].as_str().unwrap_or_else(|| panic!("no string {key} in {}", self.body)).to_string()
    }
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
    /// `name=value` of each Set-Cookie, with the full header line.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
    }
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .iter()
            .find_map(|c| c.split(';').next()?.strip_prefix(&format!("{name}=")).map(str::to_string))
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("origin.db");
        let mut h = Self::open(db, Arc::new(ManualClock::new(T0)), tweak).await;
        h.dir = Some(dir);
        h
    }

    /// Opens (or reopens) the database at `db`.
    pub async fn open(db: PathBuf, clock: Arc<ManualClock>, tweak: impl FnOnce(&mut Config)) -> Harness {
        let mut config = Config::with_db(&db);
        tweak(&mut config);
        let app = App::open(config, clock.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let a = app.clone();
        let server = tokio::spawn(async move {
            edgetoken_origin::http::serve(listener, a).await.unwrap();
        });
        let http = reqwest::Client::builder().build().unwrap();
        Harness { app, clock, base, http, db, dir: None, devices: Default::default(), server }
    }

    pub fn user(&self, email: &str, role: Role) -> String {
        let password = format!("pw-{email}-0123456789");
        self.app.create_user(email, &password, role).unwrap();
        password
    }

    pub fn user_id(&self, email: &str) -> String {
        self.app.store.user_by_email(email).unwrap().unwrap().id
    }

    pub async fn req(&self, method: Method, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Resp {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.body(b.to_string());
        }
        let res = rb.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let raw = res.bytes().await.unwrap().to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp { status, headers, body, raw }
    }

    /// POST with a JSON body and optional bearer token.
    pub async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> Resp {
        let auth = bearer.map(|b| format!("Bearer {b}"));
        let mut h = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            h.push(("authorization", a));
        }
        self.req(Method::POST, path, Some(&body.to_string()), &h).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Resp {
        let auth = bearer.map(|b| format!("Bearer {b}"));
        let h: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("authorization", a)]).unwrap_or_default();
        self.req(Method::GET, path, None, &h).await
    }

    /// Token-mode login; panics unless 200. Remembers the session's device secret.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        let r = self.post("/api/login", json!({ "email": email, "password": password, "mode": "token" }), None).await;
        assert_eq!(r.status, StatusCode::OK, "login failed: {}", r.body);
        self.remember_device(&r);
        r
    }

    /// Remembers the device secret of a token-mode login or password change.
    pub fn remember_device(&self, r: &Resp) {
        if let (Some(sid), Some(device)) = (r.body["session_id"].as_str(), r.body["device_secret"].as_str()) {
            self.devices.lock().unwrap().insert(sid.to_string(), device.to_string());
        }
    }

    /// A session started in-process for `email` (no argon2): (session id, refresh token,
    /// device secret); the device is remembered.
    pub fn start_session(&self, email: &str) -> (String, String, String) {
        let issued = self.issue(email);
        (issued.session.id, issued.refresh_token, issued.device_secret.unwrap())
    }

    /// Like `start_session`, with everything the login would have answered.
    pub fn issue(&self, email: &str) -> edgetoken_origin::sessions::Issued {
        let user = self.app.store.user_by_email(email).unwrap().unwrap();
        let epoch = self.app.store.session_epoch().unwrap();
        let basis = edgetoken_origin::sessions::login_basis(&user, epoch);
        let issued = edgetoken_origin::sessions::start(&self.app, &user, &basis, "test", "127.0.0.1", false).unwrap();
        let device = issued.device_secret.clone().unwrap();
        self.devices.lock().unwrap().insert(issued.session.id.clone(), device);
        issued
    }

    /// The device secret of the session `refresh_token` belongs to, as its client keeps it.
    pub fn device_of(&self, refresh_token: &str) -> Option<String> {
        let hash = edgetoken_origin::tokens::refresh_hash(refresh_token);
        let (_, session) = self.app.store.refresh_lookup(&hash).unwrap()?;
        self.devices.lock().unwrap().get(&session.id).cloned()
    }

    /// A refresh by the session's own client: with its device secret, if it has one.
    pub async fn refresh(&self, refresh_token: &str) -> Resp {
        let device = self.device_of(refresh_token);
        self.refresh_with(refresh_token, device.as_deref()).await
    }

    /// A refresh presenting `device` (or no device secret at all: a thief's replay).
    pub async fn refresh_with(&self, refresh_token: &str, device: Option<&str>) -> Resp {
        let body = json!({ "refresh_token": refresh_token }).to_string();
        let mut h = vec![("content-type", "application/json")];
        if let Some(d) = device {
            h.push(("x-device-secret", d));
        }
        self.req(Method::POST, "/api/refresh", Some(&body), &h).await
    }

    pub fn count(&self, table: &str) -> u64 {
        self.app.store.table_counts().unwrap().into_iter().find(|(t, _)| t == table).unwrap().1
    }

    /// A core verifier built from the served JWKS.
    pub async fn verifier(&self) -> edgetoken::Verifier {
        let jwks = self.get("/.well-known/jwks.json", None).await;
        assert_eq!(jwks.status, StatusCode::OK);
        let keys = edgetoken::KeySet::from_jwks_json(std::str::from_utf8(&jwks.raw).unwrap()).unwrap();
        let policy = edgetoken::Policy::new("edgetoken-origin", ["edgetoken"]);
        edgetoken::Verifier::new(policy, keys).unwrap()
    }

    pub fn now(&self) -> edgetoken::UnixTime {
        edgetoken::UnixTime::from_secs(edgetoken_origin::clock::Clock::now(&*self.clock))
    }
}
