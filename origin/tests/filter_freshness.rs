//! A client that saw a revocation succeed gets a filter containing it, even while a
//! rebuild that started before the revocation is running (issue 17's broken guarantee);
//! the filter sequence moves only when the content changes.

mod common;

use common::*;
use edgetoken::ErrorCode;
use edgetoken_origin::store::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const USER: &str = "alice@example.com";

async fn harness() -> Harness {
    // Only revocations (and requests) can trigger a rebuild: no interval expiry in the test.
    let h = Harness::start_with(|c| {
        c.revocation_interval = 3000;
        // The longest filter edges accept by default (revocations_too_long_lived beyond).
        c.revocation_ttl = 3600;
    })
    .await;
    h.user(USER, Role::User);
    h
}

fn token(h: &Harness) -> String {
    h.issue(USER).access_token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_filter_fetched_right_after_a_revocation_contains_it_while_rebuilds_race() {
    let h = harness().await;
    let mut edge = h.verifier().await;
    // Background rebuilds, back to back, on two threads: one is nearly always in flight
    // (reading the store, signing) when the revocation below commits.
    let stop = Arc::new(AtomicBool::new(false));
    let builds = Arc::new(AtomicU64::new(0));
    let builders: Vec<_> = (0..2)
        .map(|_| {
            let (app, stop, builds) = (h.app.clone(), stop.clone(), builds.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    app.revocations.rebuild(&app).unwrap();
                    builds.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut missed = 0;
    const ROUNDS: usize = 300;
    for _ in 0..ROUNDS {
        let t = token(&h);
        let r = h.post("/api/logout", json!({}), Some(&t)).await;
        assert_eq!(r.status, StatusCode::OK);
        let f = h.get("/revocations", None).await;
        assert_eq!(f.status, StatusCode::OK);
        edge.set_revocations(&f.raw, h.now()).unwrap();
        if edge.verify(&t, h.now()).map_err(|e| e.code()) != Err(ErrorCode::Revoked) {
            missed += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for b in builders {
        b.join().unwrap();
    }
    assert!(builds.load(Ordering::Relaxed) > ROUNDS as u64, "the rebuilds really raced the requests");
    assert_eq!(missed, 0, "{missed} of {ROUNDS} filters fetched after a successful logout did not revoke its token");
}

#[tokio::test]
async fn the_sequence_moves_only_when_the_content_changes() {
    let h = harness().await;
    let first = h.app.revocations.rebuild(&h.app).unwrap();
    let same = h.app.revocations.rebuild(&h.app).unwrap();
    assert_eq!(same.sequence, first.sequence, "nothing changed: same sequence");
    assert_ne!(same.etag, first.etag, "re-signed bytes get a new ETag");
    assert_ne!(same.bytes, first.bytes);
    // The served filter is the installed one; a client holding the older ETag gets it.
    let served = h.get("/revocations", None).await;
    assert_eq!(served.raw, same.bytes);
    let cond = h.req(Method::GET, "/revocations", None, &[("if-none-match", &first.etag)]).await;
    assert_eq!(cond.status, StatusCode::OK);

    // A revocation changes the content: the next filter has a higher sequence.
    let t = token(&h);
    h.post("/api/logout", json!({}), Some(&t)).await;
    let after = h.get("/revocations", None).await;
    let mut edge = h.verifier().await;
    edge.set_revocations(&after.raw, h.now()).unwrap();
    let seq = edge.revocation_status(h.now()).unwrap().sequence;
    assert_eq!(seq, first.sequence + 1);
    assert_eq!(edge.verify(&t, h.now()).unwrap_err().code(), ErrorCode::Revoked);
    // An edge accepts the re-signed filter with the same sequence (not a rollback).
    let resigned = h.app.revocations.rebuild(&h.app).unwrap();
    assert_eq!(resigned.sequence, seq);
    edge.set_revocations(&resigned.bytes, h.now()).unwrap();

    // The entry leaving the window is a content change too.
    h.clock.advance(h.app.config.revocation_window() + 1);
    let expired = h.app.revocations.rebuild(&h.app).unwrap();
    assert_eq!(expired.sequence, seq + 1);
}

#[tokio::test]
async fn a_revocation_marked_after_a_build_read_the_store_forces_a_rebuild() {
    // Deterministic version of the race: the installed artifact was built from revision
    // r; a revocation committed afterwards bumps the revision, so the next request
    // rebuilds instead of serving the installed artifact.
    let h = harness().await;
    let built = h.app.revocations.current(&h.app).unwrap();
    assert!(std::ptr::eq(&*built, &*h.app.revocations.current(&h.app).unwrap()), "fresh and unchanged: served as is");
    let sid = h.issue(USER).session.id;
    // Commit a revocation without telling Revocations, then tell it (as the handlers do).
    assert!(h.app.store.revoke_session(&sid, edgetoken_origin::clock::Clock::now(&*h.clock), "test", h.app.config.revocation_window()).unwrap());
    assert!(std::ptr::eq(&*built, &*h.app.revocations.current(&h.app).unwrap()), "not marked yet: nothing forces a rebuild");
    h.app.revocations.mark_dirty();
    let next = h.app.revocations.current(&h.app).unwrap();
    assert!(next.revision > built.revision);
    assert!(next.content.sids.contains(&sid));
    assert_eq!(next.sequence, built.sequence + 1);
}
