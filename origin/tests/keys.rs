//! Key lifecycle over real HTTP with a manual clock: pre-publication, promotion,
//! retirement, scheduled rotation across restarts, emergency rotation (API and CLI),
//! JWKS and discovery caching, the new flags, and the schema-3 migration.

mod common;

use common::*;
use edgetoken::revocation::RevocationList;
use edgetoken::{ErrorCode, KeySet};
use edgetoken_origin::clock::{Clock, ManualClock, SystemClock};
use edgetoken_origin::config::{Cli, Config};
use edgetoken_origin::store::{KeyState, Role};
use edgetoken_origin::tokens::{sign_access_token, AccessClaims};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ADMIN: &str = "root@example.com";
const USER: &str = "alice@example.com";
// Retired keys stay published for: revocation window (900 + 2 × 30) + the cut-offs' lead (2)
// + filter ttl (60) + rebuild interval (5).
const GRACE: u64 = 900 + 2 * 30 + 2 + 60 + 5;

/// A fresh session of `email` without argon2: (access token, refresh token).
fn session(h: &Harness, email: &str) -> (String, String) {
    let i = h.issue(email);
    (i.access_token, i.refresh_token)
}

fn admin(h: &Harness) -> String {
    session(h, ADMIN).0
}

fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

async fn jwks(h: &Harness) -> Resp {
    let r = h.get("/.well-known/jwks.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    r
}

async fn jwks_kids(h: &Harness) -> Vec<String> {
    jwks(h).await.body["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

async fn served_keys(h: &Harness) -> KeySet {
    KeySet::from_jwks_json(std::str::from_utf8(&jwks(h).await.raw).unwrap()).unwrap()
}

/// The served filter's bytes.
async fn filter(h: &Harness) -> Vec<u8> {
    let r = h.get("/revocations", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.raw));
    r.raw
}

/// The kid of the one served JWKS key whose signature verifies the filter.
async fn filter_signer(h: &Harness, bytes: &[u8]) -> String {
    let set = jwks(h).await;
    let mut signers = Vec::new();
    for k in set.body["keys"].as_array().unwrap() {
        let one = KeySet::from_jwks_json(&json!({ "keys": [k] }).to_string()).unwrap();
        if RevocationList::verify(bytes, &one, "edgetoken-origin").is_ok() {
            signers.push(k["kid"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(signers.len(), 1, "exactly one published key verifies the filter");
    signers.pop().unwrap()
}

/// Applies due transitions now (what the background task does every interval).
fn tick(h: &Harness) -> bool {
    h.app.keys.reload(h.app.store.as_ref(), h.clock.now()).unwrap()
}

fn stored(h: &Harness, kid: &str) -> edgetoken_origin::store::StoredKey {
    h.app.store.signing_keys().unwrap().into_iter().find(|k| k.kid == kid).unwrap()
}

async fn keys_api(h: &Harness) -> Value {
    let r = h.get("/api/admin/keys", Some(&admin(h))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn state_in(list: &Value, kid: &str) -> String {
    list["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()["state"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn routine_rotation_prepublishes_promotes_and_retires() {
    let h = Harness::start().await;
    h.user(ADMIN, Role::Admin);
    h.user(USER, Role::User);
    let k1 = h.app.keys.current().active_kid.clone();
    let (before, refresh) = session(&h, USER);
    assert_eq!(kid_of(&before), k1);
    let etag1 = jwks(&h).await.headers["etag"].to_str().unwrap().to_string();

    // rotate: a next key, published but not signing.
    let r = h.post("/api/admin/keys/rotate", json!({}), Some(&admin(&h))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let k2 = r.s("kid");
    assert_eq!((r.body["state"].as_str(), r.body["activates_at"].as_u64(), r.body["created"].as_bool()), (Some("next"), Some(T0 + 3600), Some(true)));
    assert_eq!(jwks_kids(&h).await, vec![k2.clone(), k1.clone()]);
    assert_ne!(jwks(&h).await.headers["etag"].to_str().unwrap(), etag1, "the ETag follows the content");
    let list = keys_api(&h).await;
    assert_eq!((state_in(&list, &k1), state_in(&list, &k2)), ("active".into(), "next".into()));
    assert_eq!(list["next_rotation_at"], Value::Null, "nothing scheduled while a next key is pending");
    let t = h.refresh(&refresh).await;
    assert_eq!(kid_of(&t.s("access_token")), k1, "a next key signs no token");
    assert_eq!(filter_signer(&h, &filter(&h).await).await, k1, "a next key signs no filter");

    // rotate again while K2 is pending: K2 is returned unchanged, no third key.
    h.clock.advance(100);
    let again = h.post("/api/admin/keys/rotate", json!({}), Some(&admin(&h))).await;
    assert_eq!((again.s("kid"), again.body["activates_at"].as_u64(), again.body["created"].as_bool()), (k2.clone(), Some(T0 + 3600), Some(false)));
    assert_eq!(h.app.store.signing_keys().unwrap().len(), 2);

    // One second before the end of the pre-publication nothing changes; at its end K2 signs.
    h.clock.set(T0 + 3599);
    assert!(!tick(&h));
    assert_eq!(h.app.keys.current().active_kid, k1);
    let last_k1 = session(&h, USER).0;
    h.clock.set(T0 + 3600);
    assert!(tick(&h), "the active key changed");
    assert_eq!(h.app.keys.current().active_kid, k2);
    assert_eq!(kid_of(&session(&h, USER).0), k2);
    assert_eq!(filter_signer(&h, &filter(&h).await).await, k2, "the next filter is signed by the new active key");
    let k1_row = stored(&h, &k1);
    assert_eq!((k1_row.state, k1_row.retired_at, k1_row.publish_until), (KeyState::Retired, Some(T0 + 3600), Some(T0 + 3600 + GRACE)));
    // Tokens K1 signed still verify, at the origin and at an edge.
    assert_eq!(h.get("/api/sessions", Some(&last_k1)).await.status, StatusCode::OK);
    h.verifier().await.verify(&last_k1, h.now()).unwrap();

    // Published until its last token and filter expired, then gone.
    h.clock.set(T0 + 3600 + GRACE - 1);
    tick(&h);
    assert_eq!(jwks_kids(&h).await, vec![k2.clone(), k1.clone()]);
    h.clock.set(T0 + 3600 + GRACE);
    tick(&h);
    assert_eq!(jwks_kids(&h).await, vec![k2.clone()]);
    assert_eq!(state_in(&keys_api(&h).await, &k1), "retired");
    // Cleanup deletes the retired key once it is no longer published.
    h.clock.advance(1);
    assert_eq!(edgetoken_origin::cleanup::run_once(&h.app).unwrap().keys, 1);
}

#[tokio::test]
async fn scheduled_rotation_fires_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("origin.db");
    let clock = Arc::new(ManualClock::new(T0));
    let tweak = |c: &mut Config| c.key_rotation_interval = 10_000;
    let h = Harness::open(db.clone(), clock.clone(), tweak).await;
    h.user(ADMIN, Role::Admin);
    let k1 = h.app.keys.current().active_kid.clone();
    assert_eq!(keys_api(&h).await["next_rotation_at"], T0 + 10_000 - 3600);
    drop(h);

    // Down over the moment the next key was due to be published: published at the restart.
    clock.set(T0 + 10_000 - 3601);
    let h = Harness::open(db.clone(), clock.clone(), tweak).await;
    assert_eq!(jwks_kids(&h).await, vec![k1.clone()]);
    drop(h);
    clock.set(T0 + 8_000);
    let h = Harness::open(db.clone(), clock.clone(), tweak).await;
    let kids = jwks_kids(&h).await;
    assert_eq!(kids.len(), 2, "the schedule published a next key at start");
    let k2 = kids[0].clone();
    assert_eq!(stored(&h, &k2).activates_at, T0 + 8_000 + 3600, "pre-published in full");
    assert_eq!(h.app.keys.current().active_kid, k1);
    drop(h);

    // Restarted after its activation time: promoted at start.
    clock.set(T0 + 8_000 + 3600);
    let h = Harness::open(db.clone(), clock.clone(), tweak).await;
    assert_eq!(h.app.keys.current().active_kid, k2);
    assert_eq!(kid_of(&admin(&h)), k2);
    assert_eq!(stored(&h, &k1).state, KeyState::Retired);

    // The background task runs the schedule in a running origin too.
    drop(h);
    let h = Harness::open(db, clock.clone(), |c| {
        tweak(c);
        c.revocation_interval = 1;
    })
    .await;
    let _tasks = edgetoken_origin::app::spawn_background(&h.app);
    clock.set(T0 + 8_000 + 3600 + 10_000 - 3600);
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.app.store.signing_keys().unwrap().iter().all(|k| k.state != KeyState::Next) {
        assert!(Instant::now() < deadline, "the background task published the scheduled next key");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let k3 = h.app.store.signing_keys().unwrap().into_iter().find(|k| k.state == KeyState::Next).unwrap().kid;
    assert!(jwks_kids(&h).await.contains(&k3), "and the running origin publishes it");
    for t in &_tasks {
        t.abort();
    }
}

#[tokio::test]
async fn emergency_rotation_withdraws_at_once_and_signs_with_a_fresh_key() {
    let h = Harness::start().await;
    h.user(ADMIN, Role::Admin);
    h.user(USER, Role::User);
    let (victim, victim_refresh) = session(&h, USER);
    let k1 = h.app.keys.current().active_kid.clone();
    let stolen = h.app.keys.current().active.clone();
    let k2 = h.post("/api/admin/keys/rotate", json!({}), Some(&admin(&h))).await.s("kid");
    let old_jwks = jwks(&h).await;
    let old_etag = old_jwks.headers["etag"].to_str().unwrap().to_string();
    let seq_before = RevocationList::verify(&filter(&h).await, &served_keys(&h).await, "edgetoken-origin").unwrap().sequence();

    h.clock.advance(10);
    let now = h.clock.now();
    let r = h.post("/api/admin/keys/emergency-rotate", json!({}), Some(&admin(&h))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let k3 = r.s("kid");
    assert_eq!(r.body["withdrawn"], json!([k2, k1]), "the active key and the pending next key");
    // The kill switch covers its own second: past every token minted so far.
    assert_eq!((r.body["not_before"].as_u64(), r.body["sessions_revoked"].as_u64()), (Some(now + 1), Some(0)));
    assert!(r.body["filter_sequence"].as_u64().unwrap() > seq_before);

    // The JWKS has only the fresh key, at once; a cache holding the old ETag gets the new set.
    assert_eq!(jwks_kids(&h).await, vec![k3.clone()]);
    let cond = h.req(Method::GET, "/.well-known/jwks.json", None, &[("if-none-match", &old_etag)]).await;
    assert_eq!(cond.status, StatusCode::OK);
    // The next filter, served at once, is signed by the fresh key and carries the cut-off.
    let bytes = filter(&h).await;
    assert_eq!(filter_signer(&h, &bytes).await, k3);
    let mut edge = h.verifier().await;
    edge.set_revocations(&bytes, h.now()).unwrap();
    assert_eq!(edge.verify(&victim, h.now()).unwrap_err().code(), ErrorCode::KeyNotFound, "withdrawn key: unknown at the edge");

    // Tokens minted with the stolen key are refused by the origin, even issued after the cut-off.
    let user = h.app.store.user_by_email(USER).unwrap().unwrap();
    let sid = h.app.store.user_sessions(&user.id, now).unwrap()[0].id.clone();
    let forged = sign_access_token(
        &stolen,
        &k1,
        &AccessClaims { iss: "edgetoken-origin", aud: "edgetoken", sub: &user.id, sid: &sid, jti: "forged".into(), iat: now + 1, exp: now + 600 },
    );
    h.clock.advance(1);
    for t in [&victim, &forged] {
        let r = h.get("/api/sessions", Some(t)).await;
        assert_eq!((r.status, r.error()), (StatusCode::UNAUTHORIZED, "invalid_token"));
    }
    // The session survives (no `sessions`): its refresh gets a token from the fresh key,
    // accepted by the origin and by the edge with the new filter.
    let fresh = h.refresh(&victim_refresh).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(kid_of(&fresh.s("access_token")), k3);
    edge.verify(&fresh.s("access_token"), h.now()).unwrap();
    assert_eq!(h.get("/api/sessions", Some(&fresh.s("access_token"))).await.status, StatusCode::OK);

    // Withdrawn keys are listed as such, never published, their private keys wiped.
    let list = keys_api(&h).await;
    for k in [&k1, &k2] {
        assert_eq!(state_in(&list, k), "withdrawn");
        let row = stored(&h, k);
        assert!(row.private_key.is_empty() && row.withdrawn_at == Some(now));
    }
    assert_eq!(state_in(&list, &k3), "active");
    // Far later they are still not published (nor deleted by cleanup).
    h.clock.advance(10 * 86_400);
    tick(&h);
    edgetoken_origin::cleanup::run_once(&h.app).unwrap();
    assert_eq!(jwks_kids(&h).await, vec![k3.clone()]);
    assert_eq!(state_in(&keys_api(&h).await, &k1), "withdrawn");
}

#[tokio::test]
async fn emergency_rotations_in_quick_succession_are_refused_without_a_change() {
    let h = Harness::start().await;
    h.user(ADMIN, Role::Admin);
    let now = h.clock.now();
    // Each emergency's kill switch lies past every token minted so far, the admin token of
    // the previous call included: now + 1, then now + 2; a third in the same second would
    // put new tokens' iat more than 2 s ahead, so it is refused and changes nothing.
    for expected in [now + 1, now + 2] {
        let r = h.post("/api/admin/keys/emergency-rotate", json!({}), Some(&admin(&h))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["not_before"].as_u64(), Some(expected));
    }
    let before = (jwks_kids(&h).await, h.app.keys.current().active_kid.clone());
    let r = h.post("/api/admin/keys/emergency-rotate", json!({}), Some(&admin(&h))).await;
    assert_eq!((r.status, r.error()), (StatusCode::TOO_MANY_REQUESTS, "retry_later"), "{}", r.body);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!((jwks_kids(&h).await, h.app.keys.current().active_kid.clone()), before, "nothing withdrawn, nothing activated");
    h.clock.advance(1);
    let r = h.post("/api/admin/keys/emergency-rotate", json!({}), Some(&admin(&h))).await;
    assert_eq!(r.status, StatusCode::OK, "a second later it goes through: {}", r.body);
}

#[tokio::test]
async fn emergency_rotation_options_kid_all_sessions_and_bad_input() {
    let h = Harness::start().await;
    h.user(ADMIN, Role::Admin);
    h.user(USER, Role::User);
    let k1 = h.app.keys.current().active_kid.clone();
    let a = admin(&h);
    // Bad input changes nothing.
    for (body, status) in [
        (json!({"kid": "nope"}), StatusCode::NOT_FOUND),
        (json!({"kid": k1, "all": true}), StatusCode::BAD_REQUEST),
        (json!({"kid": ""}), StatusCode::BAD_REQUEST),
        (json!({"kid": 7}), StatusCode::BAD_REQUEST),
        (json!({"bogus": true}), StatusCode::BAD_REQUEST),
    ] {
        let r = h.post("/api/admin/keys/emergency-rotate", body.clone(), Some(&a)).await;
        assert_eq!(r.status, status, "{body} -> {}", r.body);
    }
    assert_eq!(h.app.store.signing_keys().unwrap().len(), 1);
    assert_eq!(h.app.store.global_not_before(h.clock.now()).unwrap(), None);
    let user = session(&h, USER).0;
    let r = h.post("/api/admin/keys/emergency-rotate", json!({}), Some(&user)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A routine rotation first, so K1 is retired; then K1 (retired) is reported stolen:
    // it is withdrawn, the active K2 is retired (still published), a fresh K3 signs.
    h.post("/api/admin/keys/rotate", json!({}), Some(&a)).await;
    h.clock.advance(3600);
    tick(&h);
    let k2 = h.app.keys.current().active_kid.clone();
    let r = h.post("/api/admin/keys/emergency-rotate", json!({ "kid": k1 }), Some(&admin(&h))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["withdrawn"], json!([k1]));
    let k3 = r.s("kid");
    assert_eq!(jwks_kids(&h).await, vec![k3.clone(), k2.clone()]);
    assert_eq!(stored(&h, &k2).state, KeyState::Retired);
    // Withdrawing it twice: nothing left to withdraw under that kid.
    let r = h.post("/api/admin/keys/emergency-rotate", json!({ "kid": k1 }), Some(&admin(&h))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // `all` with `sessions`: every key withdrawn, every session revoked.
    let (_, refresh) = session(&h, USER);
    h.clock.advance(1);
    let r = h.post("/api/admin/keys/emergency-rotate", json!({ "all": true, "sessions": true }), Some(&admin(&h))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["withdrawn"], json!([k3, k2]));
    assert!(r.body["sessions_revoked"].as_u64().unwrap() >= 2);
    assert_eq!(jwks_kids(&h).await, vec![r.s("kid")]);
    assert_eq!(h.refresh(&refresh).await.error(), "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_changes_reach_a_running_origin_within_the_rebuild_interval() {
    // The binary uses the system clock: so does this origin.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("origin.db");
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let h = Harness::open(db.clone(), clock.clone(), |c| c.revocation_interval = 1).await;
    let _tasks = edgetoken_origin::app::spawn_background(&h.app);
    h.user(USER, Role::User);
    let (victim, _) = session(&h, USER);
    let k1 = h.app.keys.current().active_kid.clone();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgetoken-origin"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wait_for = |what: &'static str, f: Box<dyn Fn(Vec<String>) -> bool + Send>| {
        let base = h.base.clone();
        async move {
            let start = Instant::now();
            loop {
                let raw = reqwest::get(format!("{base}/.well-known/jwks.json")).await.unwrap().bytes().await.unwrap();
                let body: Value = serde_json::from_slice(&raw).unwrap();
                let kids = body["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect();
                if f(kids) {
                    return start.elapsed();
                }
                assert!(start.elapsed() < Duration::from_secs(3), "{what} within the 1 s rebuild interval (+ slack)");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    };

    let out = cli(&["rotate-key"]);
    assert!(out.contains("published next signing key"), "{out}");
    let seen = wait_for("the next key published", Box::new(|kids| kids.len() == 2)).await;
    eprintln!("rotate-key -> running origin publishes the next key after {seen:?}");
    assert!(cli(&["rotate-key"]).contains("already pending"));

    let out = cli(&["emergency-rotate"]);
    assert!(out.contains("new active signing key"), "{out}");
    let k1_gone = {
        let k1 = k1.clone();
        Box::new(move |kids: Vec<String>| kids.len() == 1 && kids[0] != k1)
    };
    let seen = wait_for("the withdrawn keys gone", k1_gone).await;
    eprintln!("emergency-rotate -> running origin withdraws the key after {seen:?}");
    let k3 = jwks_kids(&h).await[0].clone();
    assert_eq!(h.app.keys.current().active_kid, k3);
    // The running origin refuses the withdrawn key's tokens and signs filters with the fresh key.
    assert_eq!(h.get("/api/sessions", Some(&victim)).await.error(), "invalid_token");
    assert_eq!(filter_signer(&h, &filter(&h).await).await, k3);
    assert!(h.app.store.global_not_before(clock.now() + 5).unwrap().is_some());
    for t in &_tasks {
        t.abort();
    }
}

#[tokio::test]
async fn jwks_and_discovery_cache_headers() {
    let h = Harness::start_with(|c| c.sync_interval = 3).await;
    for (path, max_age) in [("/.well-known/jwks.json", 3), ("/.well-known/edgetoken.json", 60), ("/revocations", 3)] {
        let r = h.get(path, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["cache-control"], format!("public, max-age={max_age}").as_str(), "{path}");
        let etag = r.headers["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10, "{path}: strong ETag {etag}");
        let same = h.req(Method::GET, path, None, &[("if-none-match", &etag)]).await;
        assert_eq!((same.status, same.raw.len()), (StatusCode::NOT_MODIFIED, 0), "{path}");
        assert_eq!(same.headers["etag"], etag.as_str());
        let list = h.req(Method::GET, path, None, &[("if-none-match", &format!("\"x\", {etag}"))]).await;
        assert_eq!(list.status, StatusCode::NOT_MODIFIED, "{path}: a list of tags");
        let other = h.req(Method::GET, path, None, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(other.status, StatusCode::OK, "{path}");
        assert_eq!(other.raw, r.raw);
    }
    assert_eq!(h.get("/.well-known/jwks.json", None).await.headers["content-type"], "application/json");
    assert_eq!(h.get("/.well-known/edgetoken.json", None).await.headers["content-type"], "application/json");
}

#[tokio::test]
async fn discovery_document_is_the_contract() {
    let h = Harness::start().await;
    let d = h.get("/.well-known/edgetoken.json", None).await;
    let window = Config::with_db("x").revocation_window();
    assert_eq!(
        d.body,
        json!({
            "issuer": "edgetoken-origin",
            "audience": "edgetoken",
            "jwks_uri": "/.well-known/jwks.json",
            "revocations_uri": "/revocations",
            "clock_tolerance": 30,
            "max_token_lifetime": 900,
            "revocation_window": window,
            "revocation_ttl": 60,
            "revocation_max_ttl": 3600,
            "sync_interval": 2,
            "key_prepublication": 3600
        })
    );
    // The URIs resolve against the document and serve what they name.
    assert_eq!(h.get(d.body["jwks_uri"].as_str().unwrap(), None).await.status, StatusCode::OK);
    let f = h.get(d.body["revocations_uri"].as_str().unwrap(), None).await;
    let list = RevocationList::verify(&f.raw, &served_keys(&h).await, "edgetoken-origin").unwrap();
    let st = list.status(h.now());
    assert_eq!(st.not_after - st.built_at, d.body["revocation_ttl"].as_u64().unwrap());
    assert_eq!(u64::from(st.window), window);

    // Numbers come from the configuration.
    let h = Harness::start_with(|c| {
        c.issuer = "https://auth.example".into();
        c.access_ttl = 300;
        c.clock_tolerance = 10;
        c.revocation_ttl = 120;
        c.revocation_max_ttl = 600;
        c.sync_interval = 5;
        c.key_prepublication = 900;
    })
    .await;
    let d = h.get("/.well-known/edgetoken.json", None).await.body;
    let c = &h.app.config;
    assert_eq!(d["issuer"], "https://auth.example");
    let numbers: Vec<u64> = ["clock_tolerance", "max_token_lifetime", "revocation_window", "revocation_ttl", "revocation_max_ttl", "sync_interval", "key_prepublication"]
        .iter()
        .map(|k| d[k].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![10, 300, c.revocation_window(), 120, 600, 5, 900]);
}

#[test]
fn new_flags_parse_and_are_validated() {
    use clap::Parser;
    let cli = Cli::try_parse_from([
        "edgetoken-origin",
        "--sync-interval",
        "4",
        "--revocation-max-ttl",
        "900",
        "--key-prepublication",
        "600",
        "--key-rotation-interval",
        "0",
    ])
    .unwrap();
    let c = cli.config;
    assert_eq!((c.sync_interval, c.revocation_max_ttl, c.key_prepublication, c.key_rotation_interval), (4, 900, 600, 0));
    c.validate().unwrap();
    let d = Config::with_db("x");
    assert_eq!((d.sync_interval, d.revocation_max_ttl, d.key_prepublication, d.key_rotation_interval), (2, 3600, 3600, 90 * 86_400));
    d.validate().unwrap();
    let cli = Cli::try_parse_from(["edgetoken-origin", "emergency-rotate", "--kid", "k", "--revoke-sessions"]).unwrap();
    assert!(matches!(cli.command, Some(edgetoken_origin::config::Command::EmergencyRotate { kid: Some(_), all: false, revoke_sessions: true })));
    assert!(Cli::try_parse_from(["edgetoken-origin", "emergency-rotate", "--kid", "k", "--all"]).is_err());

    let refused = |tweak: fn(&mut Config), needle: &str| {
        let mut c = Config::with_db("x");
        tweak(&mut c);
        let e = c.validate().unwrap_err();
        assert!(e.contains(needle), "{e}");
    };
    refused(|c| c.revocation_ttl = 3601, "--revocation-max-ttl");
    refused(|c| c.revocation_max_ttl = 30, "--revocation-max-ttl");
    refused(|c| c.sync_interval = 0, "--sync-interval");
    refused(|c| c.sync_interval = 3601, "--sync-interval");
    refused(|c| c.key_prepublication = 1, "--key-prepublication");
    refused(|c| c.key_rotation_interval = 3600, "--key-rotation-interval");
    refused(|c| c.revocation_max_ttl = 8 * 86_400, "--revocation-max-ttl");
    // A refused configuration does not start (nothing is created).
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::with_db(dir.path().join("o.db"));
    c.revocation_ttl = 7200;
    assert!(edgetoken_origin::app::App::open(c, Arc::new(ManualClock::new(T0))).is_err());
    assert!(!dir.path().join("o.db").exists());
}

#[tokio::test]
async fn a_version_1_database_migrates_to_the_lifecycle_schema() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("origin.db");
    let old = edgetoken_origin::keys::new_stored(T0 - 5000, T0 - 5000);
    let twin = edgetoken_origin::keys::new_stored(T0 - 100, T0 - 100);
    let current = edgetoken_origin::keys::new_stored(T0 - 100, T0 - 100);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0001_init.sql")).unwrap();
        conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);").unwrap();
        let insert = "INSERT INTO signing_keys (kid, private_key, created_at, retired_at, publish_until) VALUES (?1, ?2, ?3, ?4, ?5)";
        // A key retired by version 1, still published; then two unretired keys (two nodes
        // started at once on an empty database), the later row being the one in use.
        conn.execute(insert, rusqlite::params![old.kid, old.private_key, (T0 - 5000) as i64, (T0 - 100) as i64, (T0 + 890) as i64]).unwrap();
        conn.execute(insert, rusqlite::params![twin.kid, twin.private_key, (T0 - 100) as i64, None::<i64>, None::<i64>]).unwrap();
        conn.execute(insert, rusqlite::params![current.kid, current.private_key, (T0 - 100) as i64, None::<i64>, None::<i64>]).unwrap();
    }
    let h = Harness::open(db.clone(), Arc::new(ManualClock::new(T0)), |_| {}).await;
    let versions: Vec<u32> = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn.prepare("SELECT version FROM schema_version ORDER BY version").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(versions, vec![1, 2, 3]);
    let (o, t, c) = (stored(&h, &old.kid), stored(&h, &twin.kid), stored(&h, &current.kid));
    assert_eq!((o.state, o.activates_at, o.publish_until), (KeyState::Retired, T0 - 5000, Some(T0 + 890)));
    assert_eq!((t.state, t.retired_at, t.publish_until), (KeyState::Retired, Some(T0 - 100), Some(T0 - 100 + 172_800)));
    assert_eq!((c.state, c.activates_at), (KeyState::Active, T0 - 100));
    assert_eq!(h.app.keys.current().active_kid, current.kid);
    let mut kids = jwks_kids(&h).await;
    kids.sort();
    let mut want = vec![old.kid.clone(), twin.kid.clone(), current.kid.clone()];
    want.sort();
    assert_eq!(kids, want);
    // The new schema enforces one active key, and the lifecycle works on the migrated rows.
    let dup = rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE signing_keys SET state = 'active' WHERE kid = ?1", [&twin.kid]);
    assert!(dup.is_err(), "a second active key is refused by the schema");
    h.user(ADMIN, Role::Admin);
    let r = h.post("/api/admin/keys/emergency-rotate", json!({}), Some(&admin(&h))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    drop(h);
    // Reopening applies nothing twice.
    let h = Harness::open(db, Arc::new(ManualClock::new(T0 + 1)), |_| {}).await;
    assert_eq!(jwks_kids(&h).await.len(), 3, "fresh key + the two retired ones still published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emergency_rotations_racing_background_reloads_never_revert_to_a_withdrawn_key() {
    let h = Harness::start().await;
    h.user(ADMIN, Role::Admin);
    // Reloads back to back on two threads, as the background task and other requests do.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reloaders: Vec<_> = (0..2)
        .map(|_| {
            let (app, stop, clock) = (h.app.clone(), stop.clone(), h.clock.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    app.keys.reload(app.store.as_ref(), clock.now()).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut reverted = 0;
    const ROUNDS: usize = 100;
    for _ in 0..ROUNDS {
        // One emergency per second: each sets a kill switch past every token minted so far
        // (the previous round's admin token included), and more than two in one second are
        // refused with retry_later.
        h.clock.advance(1);
        // The admin token is minted with the ring in force: a reverted ring signs it with
        // the key the previous round withdrew, and the origin refuses it.
        let r = h.post("/api/admin/keys/emergency-rotate", json!({}), Some(&admin(&h))).await;
        if r.status == StatusCode::UNAUTHORIZED {
            reverted += 1;
            continue;
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let fresh = r.s("kid");
        // Watch for a stale ring installed after the emergency's own reload.
        let until = Instant::now() + Duration::from_millis(10);
        while Instant::now() < until {
            if h.app.keys.current().active_kid != fresh {
                reverted += 1;
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reloads: u64 = reloaders.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(reloads > ROUNDS as u64, "the reloads really raced the rotations ({reloads})");
    assert_eq!(reverted, 0, "{reverted} of {ROUNDS} emergency rotations were followed by a ring with a withdrawn key");
}
