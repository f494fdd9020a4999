//! Revocation filter, restart and cleanup (the key lifecycle is in keys.rs).

mod common;

use common::*;
use edgetoken::ErrorCode;
use edgetoken_origin::cleanup;
use edgetoken_origin::store::{RefreshRecord, RevocationKind, Role, Session};
use reqwest::StatusCode;
use serde_json::json;

const USER: &str = "alice@example.com";

async fn load_filter(h: &Harness, v: &mut edgetoken::Verifier) -> Resp {
    let r = h.get("/revocations", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.raw));
    v.set_revocations(&r.raw, h.now()).expect("the core accepts the origin's filter");
    r
}

#[tokio::test]
async fn each_revocation_is_in_the_next_filter_and_rejected_by_the_core_verifier() {
    let h = Harness::start().await;
    let pw = h.user(USER, Role::User);
    let bob_pw = h.user("bob@example.com", Role::User);
    let a = h.login(USER, &pw).await;
    let b = h.login(USER, &pw).await;
    let bob = h.login("bob@example.com", &bob_pw).await;
    let mut v = h.verifier().await;
    let first = load_filter(&h, &mut v).await;
    assert_eq!(first.headers["content-type"], "application/octet-stream");
    assert!(first.headers["cache-control"].to_str().unwrap().contains("max-age="));
    let etag = first.headers["etag"].to_str().unwrap().to_string();
    // Unchanged and fresh: 304 for the same ETag.
    let again = h.req(reqwest::Method::GET, "/revocations", None, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    for t in [&a, &b, &bob] {
        v.verify(&t.s("access_token"), h.now()).unwrap();
    }
    // Logout of session a: the very next filter revokes a's access token only.
    h.clock.advance(1);
    h.post("/api/logout", json!({}), Some(&a.s("access_token"))).await;
    let second = load_filter(&h, &mut v).await;
    assert_ne!(second.headers["etag"].to_str().unwrap(), etag, "a new sequence after a revocation");
    assert_eq!(v.verify(&a.s("access_token"), h.now()).unwrap_err().code(), ErrorCode::Revoked);
    v.verify(&b.s("access_token"), h.now()).unwrap();
    // Admin revokes bob (user not_before): bob's token is revoked, alice's b is not.
    let admin_pw = h.user("root@example.com", Role::Admin);
    let admin = h.login("root@example.com", &admin_pw).await;
    h.clock.advance(1);
    let bob_id = h.user_id("bob@example.com");
    h.post(&format!("/api/admin/users/{bob_id}/revoke"), json!({}), Some(&admin.s("access_token"))).await;
    load_filter(&h, &mut v).await;
    assert_eq!(v.verify(&bob.s("access_token"), h.now()).unwrap_err().code(), ErrorCode::Revoked);
    v.verify(&b.s("access_token"), h.now()).unwrap();
    // Password change: every old token of alice is revoked, the new one verifies.
    h.clock.advance(1);
    let c = h.post("/api/password", json!({"current_password": pw, "new_password": "another-long-password"}), Some(&b.s("access_token"))).await;
    assert_eq!(c.status, StatusCode::OK);
    let status = load_filter(&h, &mut v).await;
    let _ = status;
    assert_eq!(v.verify(&b.s("access_token"), h.now()).unwrap_err().code(), ErrorCode::Revoked);
    v.verify(&c.s("access_token"), h.now()).expect("the fresh session's token is not revoked");
    // Reuse detection reaches the filter too.
    let d = h.login("root@example.com", &admin_pw).await;
    let d1 = h.refresh(&d.s("refresh_token")).await;
    h.clock.advance(20);
    assert_eq!(h.refresh(&d.s("refresh_token")).await.error(), "refresh_token_reused");
    load_filter(&h, &mut v).await;
    assert_eq!(v.verify(&d1.s("access_token"), h.now()).unwrap_err().code(), ErrorCode::Revoked);
    let st = v.revocation_status(h.now()).unwrap();
    assert!(st.sequence >= 4);
    // access ttl + 2 x clock tolerance (docs/revocation-format.md, "Window").
    assert_eq!(st.window, 960);
    assert!(!st.stale);
}

#[tokio::test]
async fn restart_keeps_sessions_keys_and_the_filter_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("origin.db");
    let clock = std::sync::Arc::new(edgetoken_origin::clock::ManualClock::new(T0));
    let h = Harness::open(db.clone(), clock.clone(), |_| {}).await;
    let pw = h.user(USER, Role::User);
    let login = h.login(USER, &pw).await;
    let t1 = h.refresh(&login.s("refresh_token")).await;
    let jwks_before = h.get("/.well-known/jwks.json", None).await.raw;
    let seq_before = {
        let mut v = h.verifier().await;
        load_filter(&h, &mut v).await;
        v.revocation_status(h.now()).unwrap().sequence
    };
    drop(h);
    tokio::task::yield_now().await;

    let h = Harness::open(db, clock, |_| {}).await;
    h.remember_device(&login); // the client keeps its device secret across the restart
    assert_eq!(h.get("/.well-known/jwks.json", None).await.raw, jwks_before, "same keys after restart");
    // The old access token still verifies, the session still refreshes.
    h.verifier().await.verify(&login.s("access_token"), h.now()).unwrap();
    assert_eq!(h.get("/api/sessions", Some(&t1.s("access_token"))).await.status, StatusCode::OK);
    // The grace works across the restart: the same successor is re-derived from the DB.
    let again = h.refresh(&login.s("refresh_token")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.s("refresh_token"), t1.s("refresh_token"));
    assert_eq!(h.refresh(&t1.s("refresh_token")).await.status, StatusCode::OK);
    let mut v = h.verifier().await;
    load_filter(&h, &mut v).await;
    assert!(v.revocation_status(h.now()).unwrap().sequence > seq_before, "sequence is monotonic across restarts");
}

#[tokio::test]
async fn cleanup_deletes_dead_rows_in_bounded_batches() {
    let h = Harness::start_with(|c| c.cleanup_batch = 500).await;
    let pw = h.user(USER, Role::User);
    let user = h.app.store.user_by_email(USER).unwrap().unwrap();
    let store = &h.app.store;
    // 1200 sessions that ended long ago, each with a refresh record; 1200 expired revocations.
    for i in 0..1200u64 {
        let s = Session {
            id: format!("dead-{i}"),
            user_id: user.id.clone(),
            created_at: T0 - 40 * 86_400,
            last_seen_at: T0 - 40 * 86_400,
            absolute_expires_at: T0 - 10 * 86_400,
            ends_at: T0 - 10 * 86_400,
            sensitive: false,
            user_agent: String::new(),
            ip: String::new(),
            revoked_at: None,
            revoked_reason: None,
            device_hash: None,
            device_required: false,
            last_iat: 0,
        };
        let rec = RefreshRecord {
            id: format!("dead-{i}-r"),
            session_id: s.id.clone(),
            token_hash: edgetoken_origin::tokens::sha256(format!("dead-{i}").as_bytes()),
            nonce: [7; 32],
            created_at: s.created_at,
            rotated_at: None,
            successor_id: None,
            rotated_with_device: false,
        };
        let basis = edgetoken_origin::sessions::login_basis(&user, 0);
        store.create_session(&s, &rec, &basis, T0).unwrap().unwrap();
        store.add_revocation(RevocationKind::Sid, &s.id, T0 - 86_400, 930).unwrap();
    }
    // A live session with a long rotation history (older than the rotated-token retention).
    let live = h.login(USER, &pw).await;
    let mut t = live.s("refresh_token");
    for _ in 0..3 {
        t = h.refresh(&t).await.s("refresh_token");
    }
    assert_eq!(h.count("sessions"), 1201);
    assert_eq!(h.count("refresh_tokens"), 1200 + 4);
    assert_eq!(h.count("revocations"), 1200);

    // One pass of the store deletes at most one batch per kind.
    let one = store
        .cleanup(&edgetoken_origin::store::CleanupCutoffs {
            sessions_ended_before: T0,
            rotated_before: 0,
            revocations_expired_before: T0,
            keys_unpublished_at: T0,
            batch: 500,
        })
        .unwrap();
    assert!(one.refresh_tokens <= 500 && one.revocations == 500 && one.sessions <= 500, "{one:?}");

    // 8 days later: the live session idled out at T0 + 7 d (kept one day for admins), and
    // its 3 rotated records are past the 7-day rotated-token retention.
    h.clock.advance(8 * 86_400);
    let keep = h.login(USER, &pw).await;
    let total = cleanup::run_once(&h.app).unwrap();
    assert_eq!((total.sessions, total.refresh_tokens, total.revocations), (700, 700 + 3, 700), "the rest, in batches");
    assert_eq!(h.count("revocations"), 0, "expired revocations deleted");
    // Left: the idled-out session (within its retention) with its current record, and the new one.
    assert_eq!(h.count("sessions"), 2);
    assert_eq!(h.count("refresh_tokens"), 2, "rotated records past retention deleted, current ones kept");
    assert_eq!(h.refresh(&keep.s("refresh_token")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn background_task_rebuilds_the_filter_shortly_after_a_revocation() {
    let h = Harness::start_with(|c| {
        c.revocation_interval = 3000; // only the debounced wake-up can explain a rebuild
        c.revocation_ttl = 3600; // edges refuse filters living longer (revocations_too_long_lived)
        c.revocation_debounce_ms = 50;
    })
    .await;
    let pw = h.user(USER, Role::User);
    let a = h.login(USER, &pw).await;
    let _tasks = edgetoken_origin::app::spawn_background(&h.app);
    assert!(h.app.revocations.latest().is_none());
    h.post("/api/logout", json!({}), Some(&a.s("access_token"))).await;
    let mut built = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Some(artifact) = h.app.revocations.latest() {
            built = Some(artifact);
            break;
        }
    }
    let artifact = built.expect("the task rebuilt the filter within 2 s of the revocation");
    let mut v = h.verifier().await;
    v.set_revocations(&artifact.bytes, h.now()).unwrap();
    assert_eq!(v.verify(&a.s("access_token"), h.now()).unwrap_err().code(), ErrorCode::Revoked);
    // SQLite runs in WAL mode.
    assert!(h.db.with_extension("db-wal").exists());
}
