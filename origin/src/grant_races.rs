//! Deterministic grant races (issue 12, item 1) over real HTTP: a grant is paused by the
//! test-only hook (`app::test_hook`) after its checks and before its transaction, the
//! competing change is made through the API, then the grant is released. These live in the
//! crate because the hook exists only in its own `cargo test` build; the random concurrent
//! storms of the same races are in `tests/integrity.rs`.

#[path = "../tests/common/mod.rs"]
mod common;

use crate::app::HookPoint;
use crate::store::Role;
use common::*;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USER: &str = "victim@example.com";
const ADMIN: &str = "root@example.com";

/// Pauses the first grant of `stage`: returns (paused, release). The hook ignores every
/// later grant, so the competing requests run normally.
fn pause(h: &Harness, stage: &'static str) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (paused_tx, paused_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let once = Mutex::new(Some((paused_tx, release_rx)));
    *h.app.hook.lock().unwrap() = Some(Box::new(move |point| {
        if point != HookPoint::BeforeGrant(stage) {
            return;
        }
        let Some((paused, release)) = once.lock().unwrap().take() else { return };
        paused.send(()).unwrap();
        release.recv_timeout(Duration::from_secs(30)).expect("the test releases the grant");
    }));
    (paused_rx, release_tx)
}

async fn wait(paused: mpsc::Receiver<()>) {
    tokio::task::spawn_blocking(move || paused.recv_timeout(Duration::from_secs(30)).expect("the grant reached the hook"))
        .await
        .unwrap();
}

async fn harness() -> (Arc<Harness>, String, String) {
    let h = Harness::start().await;
    let pw = h.user(USER, Role::User);
    let admin_pw = h.user(ADMIN, Role::Admin);
    (Arc::new(h), pw, admin_pw)
}

fn active_sessions(h: &Harness) -> Vec<String> {
    let user = h.app.store.user_by_email(USER).unwrap().unwrap();
    h.app.store.user_sessions(&user.id, crate::clock::Clock::now(&*h.clock)).unwrap().into_iter().map(|s| s.id).collect()
}

fn login_req(h: &Arc<Harness>, pw: &str) -> tokio::task::JoinHandle<Resp> {
    let (h, pw) = (h.clone(), pw.to_string());
    tokio::spawn(async move { h.post("/api/login", json!({"email": USER, "password": pw, "mode": "token"}), None).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_checked_before_a_password_change_cannot_insert_after_it() {
    let (h, pw, _) = harness().await;
    let victim = h.login(USER, &pw).await;
    let (paused, release) = pause(&h, "login");
    let thief = login_req(&h, &pw); // the old password, checked now
    wait(paused).await;
    let change = h
        .post("/api/password", json!({"current_password": pw, "new_password": "the-new-password"}), Some(&victim.s("access_token")))
        .await;
    assert_eq!(change.status, StatusCode::OK, "{}", change.body);
    release.send(()).unwrap();
    let thief = thief.await.unwrap();
    assert_eq!((thief.status, thief.error()), (StatusCode::UNAUTHORIZED, "credentials_changed"), "{}", thief.body);
    assert_eq!(active_sessions(&h), vec![change.s("session_id")], "only the password change's session is alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_in_flight_is_refused_after_an_admin_revocation_or_the_kill_switch() {
    for (what, sessions_flag) in [("admin revocation", None), ("kill switch", Some(true))] {
        let (h, pw, admin_pw) = harness().await;
        let admin = h.login(ADMIN, &admin_pw).await;
        let (paused, release) = pause(&h, "login");
        let login = login_req(&h, &pw);
        wait(paused).await;
        let r = match sessions_flag {
            None => h.post(&format!("/api/admin/users/{}/revoke", h.user_id(USER)), json!({}), Some(&admin.s("access_token"))).await,
            Some(s) => h.post("/api/admin/revoke-all", json!({ "sessions": s }), Some(&admin.s("access_token"))).await,
        };
        assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
        release.send(()).unwrap();
        let login = login.await.unwrap();
        assert_eq!((login.status, login.error()), (StatusCode::UNAUTHORIZED, "credentials_changed"), "{what}");
        assert!(active_sessions(&h).is_empty(), "{what}: no session survives");
        // Afterwards the same password works again.
        h.login(USER, &pw).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_change_in_flight_does_not_undo_an_admin_revocation() {
    // The revocation of the whole user, or of just the caller's session.
    for whole_user in [true, false] {
        let (h, pw, admin_pw) = harness().await;
        let admin = h.login(ADMIN, &admin_pw).await;
        let victim = h.login(USER, &pw).await;
        let (paused, release) = pause(&h, "password");
        let change = {
            let (h, token, pw) = (h.clone(), victim.s("access_token"), pw.clone());
            tokio::spawn(async move {
                h.post("/api/password", json!({"current_password": pw, "new_password": "the-new-password"}), Some(&token)).await
            })
        };
        wait(paused).await;
        let path = if whole_user {
            format!("/api/admin/users/{}/revoke", h.user_id(USER))
        } else {
            format!("/api/admin/sessions/{}/revoke", victim.s("session_id"))
        };
        assert_eq!(h.post(&path, json!({}), Some(&admin.s("access_token"))).await.status, StatusCode::OK);
        release.send(()).unwrap();
        let change = change.await.unwrap();
        let expected = if whole_user { "credentials_changed" } else { "session_ended" };
        assert_eq!((change.status, change.error()), (StatusCode::UNAUTHORIZED, expected), "{}", change.body);
        assert!(active_sessions(&h).is_empty(), "the revocation stands: no fresh session");
        // Nothing of the change was applied: the old password still works, the new one not.
        h.login(USER, &pw).await;
        let new = h.post("/api/login", json!({"email": USER, "password": "the-new-password"}), None).await;
        assert_eq!(new.error(), "invalid_credentials");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_up_in_flight_does_not_extend_a_revoked_session() {
    let (h, pw, _) = harness().await;
    let victim = h.login(USER, &pw).await;
    let (paused, release) = pause(&h, "step_up");
    let step_up = {
        let (h, token, pw) = (h.clone(), victim.s("access_token"), pw.clone());
        tokio::spawn(async move { h.post("/api/step-up", json!({ "password": pw }), Some(&token)).await })
    };
    wait(paused).await;
    let out = h.post("/api/logout", json!({}), Some(&victim.s("access_token"))).await;
    assert_eq!(out.body["revoked"], true);
    release.send(()).unwrap();
    let step_up = step_up.await.unwrap();
    assert_eq!((step_up.status, step_up.error()), (StatusCode::UNAUTHORIZED, "session_ended"));
    let s = h.app.store.session(&victim.s("session_id")).unwrap().unwrap();
    assert!(!s.sensitive && s.revoked_reason.as_deref() == Some("logout"));
}
