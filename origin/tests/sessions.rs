//! Session policy over real HTTP: rotation, reuse, grace, concurrency, timeouts, password
//! change, logout, session lists, admin.

mod common;

use common::*;
use edgetoken_origin::store::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

const USER: &str = "alice@example.com";

async fn harness_with_user() -> (Harness, String) {
    let h = Harness::start().await;
    let pw = h.user(USER, Role::User);
    (h, pw)
}

#[tokio::test]
async fn login_issues_verifiable_tokens() {
    let (h, pw) = harness_with_user().await;
    let r = h.login(USER, &pw).await;
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.headers["cache-control"], "no-store");
    let claims = h.verifier().await.verify(&r.s("access_token"), h.now()).expect("core verifier accepts the token");
    assert_eq!(claims.subject(), Some(h.user_id(USER).as_str()));
    assert_eq!(claims.session_id(), Some(r.s("session_id").as_str()));
    assert_eq!(claims.expires_at() - claims.issued_at(), 900);
    assert!(claims.token_id().is_some_and(|j| j.len() >= 22));
    // Wrong password and unknown account: the same 401.
    let bad = h.post("/api/login", json!({"email": USER, "password": "wrong-password"}), None).await;
    assert_eq!((bad.status, bad.error()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let bad = h.post("/api/login", json!({"email": "nobody@example.com", "password": "x"}), None).await;
    assert_eq!((bad.status, bad.error()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
}

#[tokio::test]
async fn refresh_rotates_and_the_refresh_token_is_stored_only_hashed() {
    let (h, pw) = harness_with_user().await;
    let r0 = h.login(USER, &pw).await;
    let t0 = r0.s("refresh_token");
    assert_eq!(t0.len(), 43, "256-bit base64url");
    h.clock.advance(60);
    let r1 = h.refresh(&t0).await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.body);
    let t1 = r1.s("refresh_token");
    assert_ne!(t0, t1);
    assert_ne!(r0.s("access_token"), r1.s("access_token"));
    let r2 = h.refresh(&t1).await;
    assert_eq!(r2.status, StatusCode::OK);
    // The plaintext token appears nowhere in the database file.
    drop(r2);
    let bytes = std::fs::read(&h.db).unwrap();
    let wal = std::fs::read(h.db.with_extension("db-wal")).unwrap_or_default();
    for hay in [&bytes, &wal] {
        assert!(!hay.windows(t1.len()).any(|w| w == t1.as_bytes()), "plaintext refresh token stored");
    }
    let unknown = h.refresh("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!((unknown.status, unknown.error()), (StatusCode::UNAUTHORIZED, "invalid_refresh_token"));
}

#[tokio::test]
async fn reuse_after_grace_revokes_the_whole_session() {
    let (h, pw) = harness_with_user().await;
    let r0 = h.login(USER, &pw).await;
    let t0 = r0.s("refresh_token");
    let t1 = h.refresh(&t0).await.s("refresh_token");
    h.clock.advance(11); // past the 10 s grace
    let reuse = h.refresh(&t0).await;
    assert_eq!((reuse.status, reuse.error()), (StatusCode::UNAUTHORIZED, "refresh_token_reused"));
    // The legitimate holder's newer token is dead too: the family is revoked.
    let after = h.refresh(&t1).await;
    assert_eq!((after.status, after.error()), (StatusCode::UNAUTHORIZED, "session_ended"));
    let s = h.app.store.session(&r0.s("session_id")).unwrap().unwrap();
    assert_eq!(s.revoked_reason.as_deref(), Some("refresh_token_reuse"));
    // Its access tokens are refused by the origin.
    let api = h.get("/api/sessions", Some(&r0.s("access_token"))).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn grace_returns_the_same_successor_but_nothing_older() {
    let (h, pw) = harness_with_user().await;
    let t0 = h.login(USER, &pw).await.s("refresh_token");
    let a = h.refresh(&t0).await;
    h.clock.advance(10); // still inside the grace (inclusive)
    let b = h.refresh(&t0).await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(a.s("refresh_token"), b.s("refresh_token"), "same successor in the grace");
    assert_ne!(a.s("access_token"), b.s("access_token"), "fresh access token each time");
    // t1 -> t2; now t0 is two steps old: reuse even inside its grace.
    let t1 = a.s("refresh_token");
    let c = h.refresh(&t1).await;
    assert_eq!(c.status, StatusCode::OK);
    let old = h.refresh(&t0).await;
    assert_eq!(old.error(), "refresh_token_reused");
    assert_eq!(h.refresh(&c.s("refresh_token")).await.error(), "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_refreshes_yield_one_successor_chain() {
    let (h, pw) = harness_with_user().await;
    let login = h.login(USER, &pw).await;
    let t0 = login.s("refresh_token");
    let sid = login.s("session_id");
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (h, t0) = (h.clone(), t0.clone());
        tasks.push(tokio::spawn(async move { h.refresh(&t0).await }));
    }
    let mut successors = std::collections::BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "a parallel refresh failed: {}", r.body);
        successors.insert(r.s("refresh_token"));
    }
    assert_eq!(successors.len(), 1, "exactly one successor");
    // One chain: the login record and its one successor.
    assert_eq!(h.count("refresh_tokens"), 2);
    let s = h.app.store.session(&sid).unwrap().unwrap();
    assert!(s.revoked_at.is_none(), "session lost");
    // The chain continues.
    let t1 = successors.into_iter().next().unwrap();
    let next = h.refresh(&t1).await;
    assert_eq!(next.status, StatusCode::OK);
    assert_eq!(h.count("refresh_tokens"), 3);
}

#[tokio::test]
async fn general_sessions_time_out_after_7_days_idle_and_30_days_absolute() {
    let (h, pw) = harness_with_user().await;
    // Idle: just under 7 days keeps it alive, each refresh slides the window.
    let mut t = h.login(USER, &pw).await.s("refresh_token");
    for _ in 0..4 {
        h.clock.advance(7 * 86_400 - 60);
        let r = h.refresh(&t).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        t = r.s("refresh_token");
    }
    // 4 * (7 d - 1 min) ≈ 28 d; the next refresh is past the 30-day absolute limit.
    h.clock.advance(3 * 86_400);
    let r = h.refresh(&t).await;
    assert_eq!((r.status, r.error()), (StatusCode::UNAUTHORIZED, "session_ended"));

    let t = h.login(USER, &pw).await.s("refresh_token");
    h.clock.advance(7 * 86_400 + 1);
    assert_eq!(h.refresh(&t).await.error(), "session_ended");
}

#[tokio::test]
async fn sensitive_sessions_time_out_after_30_minutes_idle() {
    let h = Harness::start().await;
    let admin_pw = h.user("root@example.com", Role::Admin);
    let pw = h.user(USER, Role::User);
    // Admin sessions are sensitive.
    let a = h.login("root@example.com", &admin_pw).await;
    assert_eq!(a.body["sensitive"], true);
    h.clock.advance(29 * 60);
    let a2 = h.refresh(&a.s("refresh_token")).await;
    assert_eq!(a2.status, StatusCode::OK);
    h.clock.advance(30 * 60 + 1);
    assert_eq!(h.refresh(&a2.s("refresh_token")).await.error(), "session_ended");
    // A user session becomes sensitive after a step-up.
    let u = h.login(USER, &pw).await;
    assert_eq!(u.body["sensitive"], false);
    let wrong = h.post("/api/step-up", json!({"password": "nope-nope-nope"}), Some(&u.s("access_token"))).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let up = h.post("/api/step-up", json!({"password": pw}), Some(&u.s("access_token"))).await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    h.clock.advance(30 * 60 + 1);
    assert_eq!(h.refresh(&u.s("refresh_token")).await.error(), "session_ended");
}

#[tokio::test]
async fn password_change_revokes_all_sessions_and_starts_a_fresh_one() {
    let (h, pw) = harness_with_user().await;
    let a = h.login(USER, &pw).await;
    let b = h.login(USER, &pw).await;
    h.clock.advance(5);
    let new_pw = "a-much-better-password";
    let weak = h.post("/api/password", json!({"current_password": pw, "new_password": "short"}), Some(&a.s("access_token"))).await;
    assert_eq!((weak.status, weak.error()), (StatusCode::BAD_REQUEST, "weak_password"));
    let wrong = h
        .post("/api/password", json!({"current_password": "not-it-at-all", "new_password": new_pw}), Some(&a.s("access_token")))
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let c = h.post("/api/password", json!({"current_password": pw, "new_password": new_pw}), Some(&a.s("access_token"))).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    // Old sessions: refresh refused, access tokens refused by the origin.
    assert_eq!(h.refresh(&a.s("refresh_token")).await.error(), "session_ended");
    assert_eq!(h.refresh(&b.s("refresh_token")).await.error(), "session_ended");
    assert_eq!(h.get("/api/sessions", Some(&b.s("access_token"))).await.status, StatusCode::UNAUTHORIZED);
    // The user's not_before covers the second of the change (tokens minted earlier in it
    // die too); the fresh session's token is minted at the cut-off, not below it.
    let user = h.app.store.user_by_email(USER).unwrap().unwrap();
    assert_eq!(user.not_before, Some(T0 + 6));
    assert_eq!(h.verifier().await.verify(&c.s("access_token"), h.now()).unwrap().issued_at(), T0 + 6);
    // The fresh session works and is the only one.
    let list = h.get("/api/sessions", Some(&c.s("access_token"))).await;
    assert_eq!(list.status, StatusCode::OK);
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], c.body["session_id"]);
    assert_eq!(h.refresh(&c.s("refresh_token")).await.status, StatusCode::OK);
    // Old password no longer works; the new one does.
    let old = h.post("/api/login", json!({"email": USER, "password": pw}), None).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    h.login(USER, new_pw).await;
}

#[tokio::test]
async fn logout_and_logout_all() {
    let (h, pw) = harness_with_user().await;
    let a = h.login(USER, &pw).await;
    let b = h.login(USER, &pw).await;
    let c = h.login(USER, &pw).await;
    let out = h.post("/api/logout", json!({}), Some(&a.s("access_token"))).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_eq!(out.body["revoked"], true);
    assert_eq!(h.refresh(&a.s("refresh_token")).await.error(), "session_ended");
    assert_eq!(h.refresh(&b.s("refresh_token")).await.status, StatusCode::OK, "other sessions untouched");
    // Logout by refresh token alone (expired access token).
    h.clock.advance(1000);
    let c2 = h.post("/api/logout", json!({"refresh_token": c.s("refresh_token")}), None).await;
    assert_eq!(c2.body["revoked"], true);
    assert_eq!(h.refresh(&c.s("refresh_token")).await.error(), "session_ended");
    let d = h.login(USER, &pw).await;
    let e = h.login(USER, &pw).await;
    let all = h.post("/api/logout-all", json!({}), Some(&d.s("access_token"))).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert!(all.body["sessions_revoked"].as_u64().unwrap() >= 2);
    assert_eq!(h.refresh(&d.s("refresh_token")).await.error(), "session_ended");
    assert_eq!(h.refresh(&e.s("refresh_token")).await.error(), "session_ended");
    let none = h.post("/api/logout", json!({}), None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_list_and_revoke_their_own_sessions_only() {
    let (h, pw) = harness_with_user().await;
    let bob_pw = h.user("bob@example.com", Role::User);
    let a = h.login(USER, &pw).await;
    h.clock.advance(3);
    let b = h
        .req(
            Method::POST,
            "/api/login",
            Some(&json!({"email": USER, "password": pw, "mode": "token"}).to_string()),
            &[("content-type", "application/json"), ("user-agent", "TestPhone/1.0")],
        )
        .await;
    let bob = h.login("bob@example.com", &bob_pw).await;
    let list = h.get("/api/sessions", Some(&a.s("access_token"))).await;
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let phone = sessions.iter().find(|s| s["id"] == b.body["session_id"]).unwrap();
    assert_eq!(phone["user_agent"], "TestPhone/1.0");
    assert_eq!(phone["ip"], "127.0.0.1");
    assert_eq!(phone["created_at"], T0 + 3);
    assert!(phone["last_seen_at"].is_u64());
    assert_eq!(phone["current"], false);
    assert!(sessions.iter().any(|s| s["current"] == true));
    // Someone else's session: 404, and it stays alive.
    let other = h.req(Method::DELETE, &format!("/api/sessions/{}", bob.s("session_id")), None, &[("authorization", &format!("Bearer {}", a.s("access_token")))]).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(h.refresh(&bob.s("refresh_token")).await.status, StatusCode::OK);
    let mine = h.req(Method::DELETE, &format!("/api/sessions/{}", b.s("session_id")), None, &[("authorization", &format!("Bearer {}", a.s("access_token")))]).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert_eq!(h.refresh(&b.s("refresh_token")).await.error(), "session_ended");
    assert_eq!(h.get("/api/sessions", Some(&a.s("access_token"))).await.body["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn admin_searches_and_revokes_sessions_and_users() {
    let h = Harness::start().await;
    let admin_pw = h.user("root@example.com", Role::Admin);
    let pw = h.user(USER, Role::User);
    let bob_pw = h.user("bob@example.com", Role::User);
    let admin = h.login("root@example.com", &admin_pw).await;
    let at = admin.s("access_token");
    let a1 = h.login(USER, &pw).await;
    let a2 = h.login(USER, &pw).await;
    let bob = h.login("bob@example.com", &bob_pw).await;

    let found = h.get("/api/admin/sessions?q=ALICE@exam", Some(&at)).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    // Substring match is case-insensitive for ASCII (SQLite LIKE); e-mails are stored lower-case.
    let list = found.body["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", found.body);
    assert!(list.iter().all(|s| s["email"] == USER));
    let all = h.get("/api/admin/sessions", Some(&at)).await;
    assert_eq!(all.body["sessions"].as_array().unwrap().len(), 4);
    assert_eq!(h.get("/api/admin/sessions?state=bogus", Some(&at)).await.status, StatusCode::BAD_REQUEST);

    let r = h.post(&format!("/api/admin/sessions/{}/revoke", a1.s("session_id")), json!({}), Some(&at)).await;
    assert_eq!((r.status, r.body["revoked"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(h.refresh(&a1.s("refresh_token")).await.error(), "session_ended");
    assert_eq!(h.refresh(&a2.s("refresh_token")).await.status, StatusCode::OK);
    let ended = h.get("/api/admin/sessions?state=ended", Some(&at)).await;
    assert_eq!(ended.body["sessions"][0]["id"], a1.body["session_id"]);
    assert_eq!(ended.body["sessions"][0]["revoked_reason"], "admin_revoked");
    assert_eq!(h.post("/api/admin/sessions/nope/revoke", json!({}), Some(&at)).await.status, StatusCode::NOT_FOUND);

    let bob_id = h.user_id("bob@example.com");
    let r = h.post(&format!("/api/admin/users/{bob_id}/revoke"), json!({}), Some(&at)).await;
    assert_eq!((r.status, r.body["sessions_revoked"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(h.refresh(&bob.s("refresh_token")).await.error(), "session_ended");
    assert!(h.app.store.user_by_id(&bob_id).unwrap().unwrap().not_before.is_some());

    // Admin creates a user with a generated password, who can log in.
    let created = h.post("/api/admin/users", json!({"email": "carol@example.com"}), Some(&at)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    h.login("carol@example.com", &created.s("password")).await;
    let dup = h.post("/api/admin/users", json!({"email": "carol@example.com"}), Some(&at)).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn non_admins_are_forbidden_from_admin_endpoints() {
    let (h, pw) = harness_with_user().await;
    let u = h.login(USER, &pw).await;
    let t = u.s("access_token");
    let uid = h.user_id(USER);
    assert_eq!(h.get("/api/admin/sessions", Some(&t)).await.status, StatusCode::FORBIDDEN);
    for path in [
        format!("/api/admin/sessions/{}/revoke", u.s("session_id")),
        format!("/api/admin/users/{uid}/revoke"),
        "/api/admin/keys/rotate".to_string(),
    ] {
        let r = h.post(&path, json!({}), Some(&t)).await;
        assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "forbidden"), "{path}");
    }
    let r = h.post("/api/admin/users", json!({"email": "x@example.com"}), Some(&t)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nothing was revoked.
    assert_eq!(h.refresh(&u.s("refresh_token")).await.status, StatusCode::OK);
    // Unauthenticated: 401.
    assert_eq!(h.get("/api/admin/sessions", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn kill_switch_refuses_every_earlier_token_at_the_origin_and_in_the_filter() {
    let h = Harness::start().await;
    let admin_pw = h.user("root@example.com", Role::Admin);
    let pw = h.user(USER, Role::User);
    let user = h.login(USER, &pw).await;
    let other = h.login(USER, &pw).await;
    h.clock.advance(5);
    let admin = h.login("root@example.com", &admin_pw).await;
    h.clock.advance(5);

    // Non-admins cannot pull it.
    let denied = h.post("/api/admin/revoke-all", json!({}), Some(&user.s("access_token"))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let r = h.post("/api/admin/revoke-all", json!({}), Some(&admin.s("access_token"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["sessions_revoked"].as_u64(), Some(0));
    let cutoff = r.body["not_before"].as_u64().unwrap();

    // At the origin: tokens issued before the cut-off are refused at once...
    let me = h.get("/api/sessions", Some(&user.s("access_token"))).await;
    assert_eq!((me.status, me.error()), (StatusCode::UNAUTHORIZED, "session_ended"));
    // ...and at the edge with the next filter.
    let mut v = h.verifier().await;
    let filter = h.get("/revocations", None).await;
    v.set_revocations(&filter.raw, h.now()).unwrap();
    assert_eq!(v.revocation_status(h.now()).unwrap().global_not_before, Some(cutoff));
    let code = v.verify(&user.s("access_token"), h.now()).unwrap_err().code();
    assert_eq!(code, edgetoken::ErrorCode::Revoked);

    // Sessions survive the plain kill switch: a refresh mints a token issued after it.
    h.clock.advance(1);
    let refreshed = h.refresh(&user.s("refresh_token")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert!(v.verify(&refreshed.s("access_token"), h.now()).is_ok());
    assert_eq!(h.get("/api/sessions", Some(&refreshed.s("access_token"))).await.status, StatusCode::OK);

    // With sessions: true, every active session ends too.
    let admin2 = h.login("root@example.com", &admin_pw).await;
    h.clock.advance(1);
    let all = h.post("/api/admin/revoke-all", json!({"sessions": true}), Some(&admin2.s("access_token"))).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert!(all.body["sessions_revoked"].as_u64().unwrap() >= 3, "{}", all.body);
    assert_eq!(h.refresh(&other.s("refresh_token")).await.error(), "session_ended");
    assert_eq!(h.refresh(&refreshed.s("refresh_token")).await.error(), "session_ended");
}
