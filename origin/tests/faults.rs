//! Faults: kill -9 of the origin binary during a refresh storm, a full disk, a read-only
//! database. Committed rotations survive, no half-rotated or revoked-but-refreshable
//! session, clear JSON errors (503 `storage_unavailable`, never 500), no corruption.
//!
//! The disk tests mount a tiny tmpfs (a real ENOSPC) and a read-only bind mount; they need
//! root (CI and the dev machines run as root) and are skipped with a message otherwise.

mod common;

use common::*;
use edgetoken_origin::clock::ManualClock;
use edgetoken_origin::config::Config;
use edgetoken_origin::store::Role;
use reqwest::StatusCode;
use rusqlite::Connection;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USER: &str = "storm@example.com";
const BIN: &str = env!("CARGO_BIN_EXE_edgetoken-origin");

// --- database invariants -----------------------------------------------------------------

/// Checks the stored state directly: integrity, one current refresh record per session,
/// every rotated record's successor in the same session, no record with two predecessors.
fn check_invariants(db: &Path) -> (u64, u64) {
    let c = Connection::open(db).unwrap();
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok", "integrity_check");
    let fk: i64 = c.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(fk, 0, "foreign key violations");
    let q = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        q("SELECT COUNT(*) FROM sessions s WHERE (SELECT COUNT(*) FROM refresh_tokens r WHERE r.session_id = s.id AND r.rotated_at IS NULL) != 1"),
        0,
        "a session without exactly one current refresh token (half-rotated)"
    );
    assert_eq!(
        q("SELECT COUNT(*) FROM refresh_tokens r WHERE r.rotated_at IS NOT NULL AND NOT EXISTS \
           (SELECT 1 FROM refresh_tokens n WHERE n.id = r.successor_id AND n.session_id = r.session_id)"),
        0,
        "a rotated record whose successor is missing"
    );
    assert_eq!(q("SELECT COUNT(*) FROM refresh_tokens WHERE (rotated_at IS NULL) != (successor_id IS NULL)"), 0);
    assert_eq!(
        q("SELECT COUNT(*) FROM (SELECT successor_id FROM refresh_tokens WHERE successor_id IS NOT NULL GROUP BY successor_id HAVING COUNT(*) > 1)"),
        0,
        "a record with two predecessors (a forked chain)"
    );
    assert_eq!(
        q("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL AND ends_at > revoked_at"),
        0,
        "a revoked session whose ends_at is after its revocation"
    );
    (q("SELECT COUNT(*) FROM sessions") as u64, q("SELECT COUNT(*) FROM refresh_tokens") as u64)
}

/// Whether the SHA-256 of `token` is stored (the rotation that produced it was committed).
fn stored(db: &Connection, token: &str) -> bool {
    let hash = edgetoken_origin::tokens::refresh_hash(token);
    db.query_row("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = ?1", [&hash[..]], |r| r.get::<_, i64>(0)).unwrap() == 1
}

// --- the real binary -----------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// The caller kills and waits for the child.
#[allow(clippy::zombie_processes)]
fn start_binary(db: &Path, port: u16) -> Child {
    let mut child = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(db)
        // Long enough that a rotation cut short by the kill is still in its grace after the restart.
        .args(["--refresh-grace", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the origin did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates the user and `n` sessions in the database before the binary starts (no argon2
/// per session). Returns the id, first refresh token and device secret of each session.
fn seed(db: &Path, n: usize) -> Vec<(String, String, String)> {
    let app = edgetoken_origin::app::App::open(Config::with_db(db), Arc::new(edgetoken_origin::clock::SystemClock)).unwrap();
    let user = app.create_user(USER, "a-long-password", Role::User).unwrap();
    let basis = edgetoken_origin::sessions::login_basis(&user, 0);
    (0..n)
        .map(|_| {
            let i = edgetoken_origin::sessions::start(&app, &user, &basis, "storm", "127.0.0.1", false).unwrap();
            (i.session.id, i.refresh_token, i.device_secret.unwrap())
        })
        .collect()
}

/// What a storm client knows about its session.
#[derive(Default, Clone)]
struct ClientState {
    /// Every refresh token received in a 200, in order (the first is the login's).
    received: Vec<String>,
    /// The client logged out (200) or saw its session end (401).
    ended: bool,
}

/// POST `body` as the session's own client (presenting its device secret).
async fn post(http: &reqwest::Client, base: &str, path: &str, body: serde_json::Value, device: &str)
    -> Result<(StatusCode, serde_json::Value), reqwest::Error> {
    let r = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("x-device-secret", device)
        .body(body.to_string())
        .send()
        .await?;
    let status = r.status();
    let v = serde_json::from_slice(&r.bytes().await?).unwrap_or(serde_json::Value::Null);
    Ok((status, v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_refresh_storm_loses_no_committed_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("origin.db");
    let sessions = seed(&db, 32);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let states: Arc<Mutex<BTreeMap<String, ClientState>>> = Arc::new(Mutex::new(
        sessions.iter().map(|(sid, t, _)| (sid.clone(), ClientState { received: vec![t.clone()], ended: false })).collect(),
    ));
    let mut kills = 0;
    let mut refreshes_ok = 0usize;
    for cycle in 0..3 {
        let mut child = start_binary(&db, port);
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (k, (sid, _, device)) in sessions.iter().enumerate() {
            let (http, base, states, stop, sid) = (http.clone(), base.clone(), states.clone(), stop.clone(), sid.clone());
            let device = device.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0usize;
                let mut step = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let st = states.lock().unwrap().get(&sid).unwrap().clone();
                    if st.ended {
                        break;
                    }
                    let current = st.received.last().unwrap().clone();
                    step += 1;
                    // Session 0 of every 8 logs out in the second cycle; session 1 of every 8 has
                    // a thief replaying a token two steps old (reuse: the session is revoked).
                    let (path, body) = if k % 8 == 0 && cycle == 1 && step == 5 {
                        ("/api/logout", json!({ "refresh_token": current }))
                    } else if k % 8 == 1 && cycle == 1 && step == 5 && st.received.len() >= 3 {
                        let old = st.received[st.received.len() - 3].clone();
                        ("/api/refresh", json!({ "refresh_token": old }))
                    } else {
                        ("/api/refresh", json!({ "refresh_token": current }))
                    };
                    // Two tabs at once on some sessions: both must get the same successor.
                    let twin = (k % 4 == 2).then(|| {
                        let (http, base, body, device) = (http.clone(), base.clone(), body.clone(), device.clone());
                        tokio::spawn(async move { post(&http, &base, path, body, &device).await })
                    });
                    let res = post(&http, &base, path, body, &device).await;
                    let twin = match twin {
                        Some(t) => t.await.unwrap().ok(),
                        None => None,
                    };
                    let Ok((status, v)) = res else { break }; // the origin died
                    let mut states = states.lock().unwrap();
                    let s = states.get_mut(&sid).unwrap();
                    match (path, status.as_u16()) {
                        ("/api/refresh", 200) => {
                            let t = v["refresh_token"].as_str().unwrap().to_string();
                            if let Some((StatusCode::OK, tv)) = &twin {
                                assert_eq!(tv["refresh_token"].as_str(), Some(t.as_str()), "twin tabs got different successors");
                            }
                            s.received.push(t);
                            ok += 1;
                        }
                        ("/api/logout", 200) => s.ended = true,
                        ("/api/refresh", 401) if v["error"] == "refresh_token_reused" || v["error"] == "session_ended" => s.ended = true,
                        _ => panic!("{path} for {sid}: {status} {v}"),
                    }
                }
                ok
            }));
        }
        // Let the storm run, then kill -9 in the middle of it.
        tokio::time::sleep(Duration::from_millis(700 + 300 * cycle as u64)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            refreshes_ok += t.await.unwrap();
        }
        // Every token the clients received in a 200 was committed before the 200 was sent.
        let conn = Connection::open(&db).unwrap();
        for (sid, st) in states.lock().unwrap().iter() {
            for t in &st.received {
                assert!(stored(&conn, t), "cycle {cycle}: session {sid}: a token received in a 200 is not in the database");
            }
        }
        drop(conn);
        check_invariants(&db);
    }
    // Restart on the same database and port: every live client's last token works (it is
    // current, or its rotation was cut short by the kill and it is in the grace), and every
    // ended session stays ended.
    let mut child = start_binary(&db, port);
    let (mut live, mut ended) = (0, 0);
    let snapshot = states.lock().unwrap().clone();
    let devices: BTreeMap<&String, &String> = sessions.iter().map(|(sid, _, d)| (sid, d)).collect();
    for (sid, st) in snapshot {
        let last = st.received.last().unwrap();
        let (status, v) = post(&http, &base, "/api/refresh", json!({ "refresh_token": last }), devices[&sid]).await.unwrap();
        if st.ended {
            ended += 1;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "ended session {sid} refreshed: {v}");
        } else {
            live += 1;
            assert_eq!(status, StatusCode::OK, "session {sid} lost after kill -9: {v}");
            assert_eq!(v["session_id"], sid);
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // No session that is both revoked and refreshable: every revoked session's tokens fail.
    let conn = Connection::open(&db).unwrap();
    let revoked: BTreeSet<String> = conn
        .prepare("SELECT id FROM sessions WHERE revoked_at IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ended_ids: BTreeSet<String> = states.lock().unwrap().iter().filter(|(_, s)| s.ended).map(|(k, _)| k.clone()).collect();
    assert_eq!(revoked, ended_ids, "revoked sessions are exactly those the clients saw end");
    let (n_sessions, n_tokens) = check_invariants(&db);
    eprintln!(
        "kill -9 x{kills}: {refreshes_ok} refreshes answered 200 during the storms, {live} sessions live and refreshable \
         after restart, {ended} ended and refused; {n_sessions} sessions, {n_tokens} refresh records, integrity ok"
    );
    assert!(refreshes_ok > 100, "the storm was too small to mean anything: {refreshes_ok}");
    assert!(ended >= 4 && live >= 20);
}

// --- full disk and read-only database (root only) ------------------------------------------

/// A mount that is lazily unmounted on drop.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount(args: &[&str], target: &Path) -> Option<Mount> {
    let ok = Command::new("mount").args(args).arg(target).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
    ok.then(|| Mount(target.to_path_buf()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_gives_503_storage_unavailable_and_no_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let Some(m) = mount(&["-t", "tmpfs", "-o", "size=1m", "tmpfs"], dir.path()) else {
        eprintln!("SKIPPED: cannot mount a tmpfs (needs root)");
        return;
    };
    let db = dir.path().join("origin.db");
    let clock = Arc::new(ManualClock::new(T0));
    let h = Harness::open(db.clone(), clock.clone(), |_| {}).await;
    let pw = h.user(USER, Role::User);
    let mut tokens: Vec<(String, String)> = (0..16)
        .map(|_| {
            let (sid, token, _) = h.start_session(USER);
            (sid, token)
        })
        .collect();
    // Refresh until the 1 MiB file system is full (the WAL grows by a few pages per commit).
    let mut ok = 0;
    let mut full = 0;
    let mut statuses = BTreeMap::new();
    for i in 0..5_000 {
        let k = i % tokens.len();
        let r = h.refresh(&tokens[k].1).await;
        *statuses.entry(r.status.as_u16()).or_insert(0) += 1;
        match r.status {
            StatusCode::OK => {
                tokens[k].1 = r.s("refresh_token");
                ok += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.error(), "storage_unavailable", "{}", r.body);
                assert_eq!(r.headers["retry-after"], "5");
                full += 1;
                if full >= 20 {
                    break;
                }
            }
            s => panic!("refresh on a full disk: {s} {}", r.body),
        }
    }
    assert!(full >= 20, "the disk never filled: {statuses:?}");
    // While it is full: every kind of write is a clear 503, reads still work, no 500.
    let at = {
        let i = edgetoken_origin::sessions::mint_access(&h.app, &h.app.store.session(&tokens[0].0).unwrap().unwrap(), h.app.now());
        i.0
    };
    // A small transaction may still fit in WAL space the failed ones had allocated, so a
    // write is either a clean 503 (rolled back) or a normal success; never a 500.
    let login = h.post("/api/login", json!({"email": USER, "password": pw, "mode": "token"}), None).await;
    let logout = h.post("/api/logout", json!({"refresh_token": tokens[1].1}), None).await;
    let mut writes = 0;
    let mut refused = 0;
    for r in [&login, &logout] {
        writes += 1;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(r.error(), "storage_unavailable");
            refused += 1;
        } else {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    }
    let logged_out = logout.status == StatusCode::OK;
    let logged_in = login.status == StatusCode::OK;
    let list = h.get("/api/sessions", Some(&at)).await;
    assert_eq!(list.status, StatusCode::OK, "reads still work: {}", list.body);
    let expected = tokens.len() - usize::from(logged_out) + usize::from(logged_in);
    assert_eq!(list.body["sessions"].as_array().unwrap().len(), expected, "a refused write changed nothing");
    assert_eq!(h.get("/healthz", None).await.status, StatusCode::OK);
    // Remove the fault: grow the file system. Everything works again, nothing was lost.
    let grown = Command::new("mount").args(["-o", "remount,size=64m"]).arg(dir.path()).status().unwrap();
    assert!(grown.success());
    for (k, (sid, t)) in tokens.iter_mut().enumerate() {
        let r = h.refresh(t).await;
        if k == 1 && logged_out {
            assert_eq!(r.error(), "session_ended");
            continue;
        }
        assert_eq!(r.status, StatusCode::OK, "session {sid} after the disk was freed: {}", r.body);
        *t = r.s("refresh_token");
    }
    h.login(USER, &pw).await;
    drop(h);
    let (sessions, records) = check_invariants(&db);
    assert_eq!(sessions, 17 + u64::from(logged_in));
    eprintln!(
        "full disk (1 MiB tmpfs): {ok} refreshes before it filled, {full} refreshes answered \
         503 storage_unavailable ({refused} of {writes} login/logout refused, the others fitted in already allocated WAL \
         space), 0 x 500; after growing it: every session refreshes, integrity ok ({records} refresh records)"
    );
    drop(m);
}

#[test]
fn read_only_database_refuses_to_start_with_a_clear_error_and_stays_intact() {
    let dir = tempfile::tempdir().unwrap();
    let rw = dir.path().join("rw");
    let ro = dir.path().join("ro");
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    let sessions = seed(&rw.join("origin.db"), 3);
    let Some(bind) = mount(&["--bind", rw.to_str().unwrap()], &ro) else {
        eprintln!("SKIPPED: cannot bind-mount (needs root)");
        return;
    };
    assert!(Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&ro).status().unwrap().success());
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(ro.join("origin.db"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on a read-only database");
    assert!(stderr.contains("storage unavailable") && stderr.contains("must be writable"), "unclear error: {stderr}");
    eprintln!("read-only database: {}", stderr.trim());
    drop(bind);
    // The data is intact and the origin starts normally once the fault is gone.
    check_invariants(&rw.join("origin.db"));
    let app = edgetoken_origin::app::App::open(Config::with_db(rw.join("origin.db")), Arc::new(edgetoken_origin::clock::SystemClock)).unwrap();
    for (_, t, _) in &sessions {
        assert!(edgetoken_origin::sessions::refresh(&app, t, None).is_ok());
    }
}
