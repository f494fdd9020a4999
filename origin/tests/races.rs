//! Refresh races over real HTTP on 127.0.0.1: many clients refreshing one session at the
//! same instant, with the grace window and without it (`refresh_grace = 0`), and a stolen
//! token replayed against the real client. Each scenario runs many iterations and must give
//! exactly the outcome documented in docs/http-api.md ("Refresh races") every time.

mod common;

use common::*;
use edgetoken_origin::store::Role;
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::sync::Arc;

const USER: &str = "racer@example.com";
const ITERATIONS: usize = 200;
const CLIENTS: usize = 8;

/// A harness with one user; sessions are started in-process (no argon2 per iteration).
async fn harness(grace: u64) -> Arc<Harness> {
    let h = Harness::start_with(|c| c.refresh_grace = grace).await;
    h.user(USER, Role::User);
    Arc::new(h)
}

/// A new session: (session id, first refresh token); its client's device secret is
/// remembered by the harness, and `h.refresh` presents it.
fn session(h: &Harness) -> (String, String) {
    let (sid, token, _) = h.start_session(USER);
    (sid, token)
}

/// Sends one refresh per token, all released at once by a barrier; results in input order.
async fn race(h: &Arc<Harness>, tokens: &[String]) -> Vec<Resp> {
    let barrier = Arc::new(tokio::sync::Barrier::new(tokens.len()));
    let tasks: Vec<_> = tokens
        .iter()
        .map(|t| {
            let (h, t, b) = (h.clone(), t.clone(), barrier.clone());
            tokio::spawn(async move {
                b.wait().await;
                h.refresh(&t).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// `{"200": n, "refresh_token_reused": n, ...}` of a race.
fn tally(rs: &[Resp]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rs {
        let k = if r.status == StatusCode::OK { "200".to_string() } else { format!("{} {}", r.status.as_u16(), r.error()) };
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

fn expect(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().filter(|(_, n)| *n > 0).map(|(k, n)| (k.to_string(), *n)).collect()
}

fn revoked_reason(h: &Harness, sid: &str) -> Option<String> {
    h.app.store.session(sid).unwrap().unwrap().revoked_reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_grace_parallel_refreshes_always_converge_on_one_successor() {
    let h = harness(10).await;
    for i in 0..ITERATIONS {
        let (sid, t0) = session(&h);
        let before = h.count("refresh_tokens");
        let rs = race(&h, &vec![t0.clone(); CLIENTS]).await;
        assert_eq!(tally(&rs), expect(&[("200", CLIENTS)]), "iteration {i}");
        let successors: std::collections::BTreeSet<_> = rs.iter().map(|r| r.s("refresh_token")).collect();
        assert_eq!(successors.len(), 1, "iteration {i}: one successor for every client");
        assert!(rs.iter().all(|r| r.s("session_id") == sid));
        assert_eq!(h.count("refresh_tokens") - before, 1, "iteration {i}: exactly one rotation");
        assert_eq!(revoked_reason(&h, &sid), None, "iteration {i}: session kept");
        // The chain goes on from the one successor.
        let t1 = successors.into_iter().next().unwrap();
        let next = h.refresh(&t1).await;
        assert_eq!(next.status, StatusCode::OK, "iteration {i}: {}", next.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_grace_one_parallel_refresh_wins_and_the_session_is_revoked() {
    let h = harness(0).await;
    for i in 0..ITERATIONS {
        let (sid, t0) = session(&h);
        let rs = race(&h, &vec![t0.clone(); CLIENTS]).await;
        // Serialised by BEGIN IMMEDIATE: the first rotates, the second is reuse (and revokes),
        // every later one finds the session ended.
        assert_eq!(
            tally(&rs),
            expect(&[("200", 1), ("401 refresh_token_reused", 1), ("401 session_ended", CLIENTS - 2)]),
            "iteration {i}"
        );
        assert_eq!(revoked_reason(&h, &sid).as_deref(), Some("refresh_token_reuse"), "iteration {i}");
        let winner = rs.iter().find(|r| r.status == StatusCode::OK).unwrap();
        assert_eq!(h.refresh(&winner.s("refresh_token")).await.error(), "session_ended", "iteration {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_grace_a_sequential_second_use_in_the_same_second_is_reuse() {
    // Grace 0 means no grace at all, not "the same second".
    let h = harness(0).await;
    let (sid, t0) = session(&h);
    assert_eq!(h.refresh(&t0).await.status, StatusCode::OK);
    assert_eq!(h.refresh(&t0).await.error(), "refresh_token_reused");
    assert_eq!(revoked_reason(&h, &sid).as_deref(), Some("refresh_token_reuse"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stolen_token_replayed_with_the_client_inside_the_grace() {
    // Thief and client present the same current token at the same instant. The grace cannot
    // tell them apart: both get the same successor. The theft is caught at the next step:
    // once one of them rotates that successor, the other's use of it after the grace is reuse.
    let h = harness(10).await;
    for i in 0..ITERATIONS {
        let (sid, t0) = session(&h);
        let rs = race(&h, &[t0.clone(), t0.clone()]).await;
        assert_eq!(tally(&rs), expect(&[("200", 2)]), "iteration {i}");
        let (client_t1, thief_t1) = (rs[0].s("refresh_token"), rs[1].s("refresh_token"));
        assert_eq!(client_t1, thief_t1, "iteration {i}");
        // Alternate who moves first; the other comes back after the grace.
        let (first, second) = if i % 2 == 0 { (&client_t1, &thief_t1) } else { (&thief_t1, &client_t1) };
        let t2 = h.refresh(first).await;
        assert_eq!(t2.status, StatusCode::OK, "iteration {i}");
        h.clock.advance(11);
        assert_eq!(h.refresh(second).await.error(), "refresh_token_reused", "iteration {i}");
        assert_eq!(h.refresh(&t2.s("refresh_token")).await.error(), "session_ended", "iteration {i}");
        assert_eq!(revoked_reason(&h, &sid).as_deref(), Some("refresh_token_reuse"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stolen_token_replayed_with_the_client_without_grace() {
    // Grace 0: exactly one of them gets the successor, the other's use is reuse, and the
    // session is revoked, so the winner's successor is dead too. Whoever wins, the thief
    // ends with no refresh token that works.
    let h = harness(0).await;
    let mut client_won = 0;
    for i in 0..ITERATIONS {
        let (sid, t0) = session(&h);
        let rs = race(&h, &[t0.clone(), t0.clone()]).await;
        assert_eq!(tally(&rs), expect(&[("200", 1), ("401 refresh_token_reused", 1)]), "iteration {i}");
        client_won += usize::from(rs[0].status == StatusCode::OK);
        let winner = rs.iter().find(|r| r.status == StatusCode::OK).unwrap();
        assert_eq!(h.refresh(&winner.s("refresh_token")).await.error(), "session_ended", "iteration {i}");
        assert_eq!(revoked_reason(&h, &sid).as_deref(), Some("refresh_token_reuse"));
    }
    eprintln!("client won {client_won} of {ITERATIONS} races");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn old_stolen_token_replayed_while_the_client_refreshes() {
    // The thief replays a token the client rotated more than the grace ago, at the same
    // instant as the client refreshes its current token. Either order is possible; in both
    // the thief gets no 200, the session ends revoked for reuse, and whatever the client got
    // stops working.
    for grace in [10, 0] {
        let h = harness(grace).await;
        let mut orders = [0usize; 2];
        for i in 0..ITERATIONS {
            let (sid, t0) = session(&h);
            let t1 = h.refresh(&t0).await.s("refresh_token");
            h.clock.advance(grace + 1);
            let rs = race(&h, &[t1.clone(), t0.clone()]).await;
            let (client, thief) = (&rs[0], &rs[1]);
            assert_eq!(thief.status, StatusCode::UNAUTHORIZED, "grace {grace}, iteration {i}: the thief got {}", thief.body);
            if client.status == StatusCode::OK {
                // Client first: t1 -> t2; then t0 (two steps old) is reuse.
                orders[0] += 1;
                assert_eq!(thief.error(), "refresh_token_reused");
                assert_eq!(h.refresh(&client.s("refresh_token")).await.error(), "session_ended");
            } else {
                // Thief first: reuse revokes the session; the client finds it ended.
                orders[1] += 1;
                assert_eq!((thief.error(), client.error()), ("refresh_token_reused", "session_ended"), "iteration {i}");
            }
            assert_eq!(revoked_reason(&h, &sid).as_deref(), Some("refresh_token_reuse"), "iteration {i}");
        }
        eprintln!("grace {grace}: client first {} times, thief first {} times", orders[0], orders[1]);
    }
}
