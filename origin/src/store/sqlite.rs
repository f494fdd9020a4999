//! The SQLite store: every SQL statement of the origin lives in this file.
//!
//! A small pool of connections on one WAL-mode file. Writes run in `BEGIN IMMEDIATE`
//! transactions: the write lock is taken before the first read, so a read-decide-write
//! sequence (refresh rotation) cannot interleave with another one.

use super::*;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Migrations, applied in list order; `schema_version` records each one applied. A version
/// missing from the table is applied even if a higher one is there (branches that added
/// migrations in parallel, e.g. 2 and 3, merge in either order), so migrations must stay
/// independent of each other's tables.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (3, include_str!("../../migrations/sqlite/0003_key_lifecycle.sql")),
];

/// Connections in the pool: enough for concurrent readers in WAL mode; SQLite has one writer anyway.
const POOL_SIZE: usize = 4;

const SESSION_COLS: &str = "s.id, s.user_id, s.created_at, s.last_seen_at, s.absolute_expires_at, s.ends_at, \
     s.sensitive, s.user_agent, s.ip, s.revoked_at, s.revoked_reason";
const REFRESH_COLS: &str = "id, session_id, token_hash, nonce, created_at, rotated_at, successor_id";
const USER_COLS: &str = "id, email, password_hash, role, not_before, created_at";

fn backend(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        match f.code {
            ConstraintViolation => return StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string())),
            // The environment, not the data: SQLite rolled the transaction back.
            DiskFull | ReadOnly | SystemIoFailure | CannotOpen | DatabaseBusy | DatabaseLocked => {
                return StoreError::Unavailable(format!("{e} (extended code {})", f.extended_code));
            }
            _ => {}
        }
    }
    StoreError::Backend(e.to_string())
}

// SQLite integers are i64; our times and counters fit easily. Saturate rather than wrap.
fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn hash32(v: Vec<u8>) -> [u8; 32] {
    let mut out = [0u8; 32];
    if v.len() == 32 {
        out.copy_from_slice(&v);
    }
    out
}

fn user_from(row: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(3)?;
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        password_hash: row.get(2)?,
        // The CHECK constraint guarantees one of the two; default to the weaker role.
        role: Role::parse(&role).unwrap_or(Role::User),
        not_before: row.get::<_, Option<i64>>(4)?.map(from_sql),
        created_at: from_sql(row.get(5)?),
    })
}

fn session_from(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        user_id: row.get(1)?,
        created_at: from_sql(row.get(2)?),
        last_seen_at: from_sql(row.get(3)?),
        absolute_expires_at: from_sql(row.get(4)?),
        ends_at: from_sql(row.get(5)?),
        sensitive: row.get::<_, i64>(6)? != 0,
        user_agent: row.get(7)?,
        ip: row.get(8)?,
        revoked_at: row.get::<_, Option<i64>>(9)?.map(from_sql),
        revoked_reason: row.get(10)?,
    })
}

fn refresh_from(row: &Row<'_>) -> rusqlite::Result<RefreshRecord> {
    Ok(RefreshRecord {
        id: row.get(0)?,
        session_id: row.get(1)?,
        token_hash: hash32(row.get(2)?),
        nonce: hash32(row.get(3)?),
        created_at: from_sql(row.get(4)?),
        rotated_at: row.get::<_, Option<i64>>(5)?.map(from_sql),
        successor_id: row.get(6)?,
    })
}

/// A fixed set of connections handed out one at a time.
struct Pool {
    idle: Mutex<Vec<Connection>>,
    available: Condvar,
}

struct PooledConn<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledConn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}
impl std::ops::DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}
impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(&self.pool.idle).push(conn);
            self.pool.available.notify_one();
        }
    }
}

// A poisoned mutex only means another thread panicked while holding the list of idle
// connections; the list itself is still valid.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pool {
    fn get(&self) -> PooledConn<'_> {
        let mut idle = lock(&self.idle);
        loop {
            if let Some(conn) = idle.pop() {
                return PooledConn { pool: self, conn: Some(conn) };
            }
            idle = self.available.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    pool: Pool,
    // Writers of this process queue here, in order, instead of in SQLite's busy handler,
    // which polls with sleeps of up to 100 ms and gave refreshes a p99 of ~200 ms at 16
    // concurrent writers. Other processes on the same file still meet the busy timeout.
    writer: Mutex<()>,
}

fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    // Writers wait for each other (BEGIN IMMEDIATE) instead of failing with SQLITE_BUSY.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL is durable across application crashes in WAL mode; a power loss may lose the
    // last transactions, which at worst logs a user out.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    migrate_with(conn, MIGRATIONS)
}

fn migrate_with(conn: &mut Connection, migrations: &[(u32, &str)]) -> rusqlite::Result<u32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    for (v, sql) in migrations {
        let applied: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM schema_version WHERE version = ?1)", [v], |r| r.get(0))?;
        if !applied {
            tx.execute_batch(sql)?;
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [v])?;
        }
    }
    let version: u32 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))?;
    tx.commit()?;
    Ok(version)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conns = Vec::with_capacity(POOL_SIZE);
        let mut first = open_conn(path).map_err(backend)?;
        migrate(&mut first).map_err(backend)?;
        conns.push(first);
        for _ in 1..POOL_SIZE {
            conns.push(open_conn(path).map_err(backend)?);
        }
        Ok(SqliteStore { pool: Pool { idle: Mutex::new(conns), available: Condvar::new() }, writer: Mutex::new(()) })
    }

    /// The schema version in force.
    pub fn schema_version(&self) -> StoreResult<u32> {
        self.pool.get().query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0)).map_err(backend)
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>) -> StoreResult<T> {
        let _writer = lock(&self.writer);
        let mut conn = self.pool.get();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let out = f(&tx).map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let conn = self.pool.get();
        f(&conn).map_err(backend)
    }
}

const KEY_COLS: &str = "kid, private_key, created_at, state, activates_at, retired_at, publish_until, withdrawn_at";

fn key_from(row: &Row<'_>) -> rusqlite::Result<StoredKey> {
    let state: String = row.get(3)?;
    let created_at = from_sql(row.get(2)?);
    Ok(StoredKey {
        kid: row.get(0)?,
        private_key: row.get(1)?,
        created_at,
        // The CHECK constraint allows only the four names; an unknown one is withdrawn
        // (never published, never signs): fail closed.
        state: KeyState::parse(&state).unwrap_or(KeyState::Withdrawn),
        activates_at: row.get::<_, Option<i64>>(4)?.map_or(created_at, from_sql),
        retired_at: row.get::<_, Option<i64>>(5)?.map(from_sql),
        publish_until: row.get::<_, Option<i64>>(6)?.map(from_sql),
        withdrawn_at: row.get::<_, Option<i64>>(7)?.map(from_sql),
    })
}

fn insert_key(tx: &Transaction<'_>, k: &StoredKey, state: KeyState) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO signing_keys (kid, private_key, created_at, state, activates_at, retired_at, publish_until, withdrawn_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL, NULL)",
        params![k.kid, k.private_key, to_sql(k.created_at), state.as_str(), to_sql(k.activates_at)],
    )?;
    Ok(())
}

fn retire_active(tx: &Transaction<'_>, now: u64, publish_until: u64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE signing_keys SET state = 'retired', retired_at = ?1, publish_until = ?2 WHERE state = 'active'",
        params![to_sql(now), to_sql(publish_until)],
    )?;
    Ok(())
}

fn revoke_all_sessions_tx(tx: &Transaction<'_>, now: u64, reason: &str) -> rusqlite::Result<u64> {
    tx.execute(
        "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2, ends_at = MIN(ends_at, ?1) \
         WHERE revoked_at IS NULL AND ends_at > ?1",
        params![to_sql(now), reason],
    )
    .map(|n| n as u64)
}

fn insert_session(tx: &Transaction<'_>, s: &Session) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO sessions (id, user_id, created_at, last_seen_at, absolute_expires_at, ends_at, sensitive, \
         user_agent, ip, revoked_at, revoked_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL)",
        params![
            s.id,
            s.user_id,
            to_sql(s.created_at),
            to_sql(s.last_seen_at),
            to_sql(s.absolute_expires_at),
            to_sql(s.ends_at),
            s.sensitive as i64,
            s.user_agent,
            s.ip
        ],
    )?;
    Ok(())
}

fn insert_refresh(tx: &Transaction<'_>, r: &RefreshRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO refresh_tokens (id, session_id, token_hash, nonce, created_at, rotated_at, successor_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL)",
        params![r.id, r.session_id, &r.token_hash[..], &r.nonce[..], to_sql(r.created_at)],
    )?;
    Ok(())
}

fn get_session(conn: &Connection, id: &str) -> rusqlite::Result<Option<Session>> {
    conn.query_row(&format!("SELECT {SESSION_COLS} FROM sessions s WHERE s.id = ?1"), [id], session_from)
        .optional()
}

fn get_refresh(conn: &Connection, id: &str) -> rusqlite::Result<Option<RefreshRecord>> {
    conn.query_row(&format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE id = ?1"), [id], refresh_from)
        .optional()
}

fn add_revocation_tx(
    tx: &Connection,
    kind: RevocationKind,
    value: &str,
    now: u64,
    window: u64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO revocations (kind, value, revoked_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![kind.as_str(), value, to_sql(now), to_sql(now.saturating_add(window))],
    )?;
    Ok(())
}

/// Revokes an active session; returns whether it was active.
fn revoke_session_tx(tx: &Transaction<'_>, id: &str, now: u64, reason: &str, window: u64) -> rusqlite::Result<bool> {
    let changed = tx.execute(
        "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3, ends_at = MIN(ends_at, ?2) \
         WHERE id = ?1 AND revoked_at IS NULL",
        params![id, to_sql(now), reason],
    )?;
    if changed > 0 {
        add_revocation_tx(tx, RevocationKind::Sid, id, now, window)?;
    }
    Ok(changed > 0)
}

impl Store for SqliteStore {
    fn create_user(&self, u: &User) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (id, email, password_hash, role, not_before, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![u.id, u.email, u.password_hash, u.role.as_str(), u.not_before.map(to_sql), to_sql(u.created_at)],
            )
            .map(|_| ())
        })
    }

    fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.read(|c| c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE email = ?1"), [email], user_from).optional())
    }

    fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.read(|c| c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id], user_from).optional())
    }

    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        self.write(|tx| tx.execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![user_id, hash]).map(|_| ()))
    }

    fn create_session(&self, session: &Session, first: &RefreshRecord) -> StoreResult<()> {
        self.write(|tx| {
            insert_session(tx, session)?;
            insert_refresh(tx, first)
        })
    }

    fn session(&self, id: &str) -> StoreResult<Option<Session>> {
        self.read(|c| get_session(c, id))
    }

    fn refresh_lookup(&self, token_hash: &[u8; 32]) -> StoreResult<Option<(RefreshRecord, Session)>> {
        self.read(|c| {
            let rec = c
                .query_row(
                    &format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ?1"),
                    [&token_hash[..]],
                    refresh_from,
                )
                .optional()?;
            let Some(rec) = rec else { return Ok(None) };
            Ok(get_session(c, &rec.session_id)?.map(|s| (rec, s)))
        })
    }

    fn refresh_record(&self, id: &str) -> StoreResult<Option<RefreshRecord>> {
        self.read(|c| get_refresh(c, id))
    }

    fn refresh(
        &self,
        token_hash: &[u8; 32],
        now: u64,
        window: u64,
        decide: &mut dyn FnMut(&RefreshView) -> RefreshDecision,
    ) -> StoreResult<RefreshOutcome> {
        self.write(|tx| {
            let record = tx
                .query_row(
                    &format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ?1"),
                    [&token_hash[..]],
                    refresh_from,
                )
                .optional()?;
            let Some(record) = record else { return Ok(RefreshOutcome::Unknown) };
            let Some(session) = get_session(tx, &record.session_id)? else { return Ok(RefreshOutcome::Unknown) };
            let successor = match &record.successor_id {
                Some(id) => get_refresh(tx, id)?,
                None => None,
            };
            let view = RefreshView { record, session, successor };
            let touch = |ends_at: u64| {
                tx.execute(
                    "UPDATE sessions SET last_seen_at = ?2, ends_at = ?3 WHERE id = ?1",
                    params![view.session.id, to_sql(now), to_sql(ends_at)],
                )
            };
            match decide(&view) {
                RefreshDecision::Rotate { successor, ends_at } => {
                    insert_refresh(tx, &successor)?;
                    // The `rotated_at IS NULL` guard makes a lost race impossible to miss:
                    // under BEGIN IMMEDIATE it always holds, but never rotate twice.
                    let n = tx.execute(
                        "UPDATE refresh_tokens SET rotated_at = ?2, successor_id = ?3 WHERE id = ?1 AND rotated_at IS NULL",
                        params![view.record.id, to_sql(now), successor.id],
                    )?;
                    if n != 1 {
                        return Err(rusqlite::Error::StatementChangedRows(n));
                    }
                    touch(ends_at)?;
                    let session = get_session(tx, &view.session.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
                    Ok(RefreshOutcome::Issued { session, current: successor })
                }
                RefreshDecision::Reissue { ends_at } => {
                    let Some(current) = view.successor.clone() else { return Ok(RefreshOutcome::Ended) };
                    touch(ends_at)?;
                    let session = get_session(tx, &view.session.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
                    Ok(RefreshOutcome::Issued { session, current })
                }
                RefreshDecision::Reuse => {
                    revoke_session_tx(tx, &view.session.id, now, "refresh_token_reuse", window)?;
                    Ok(RefreshOutcome::ReuseRevoked { session_id: view.session.id.clone() })
                }
                RefreshDecision::Ended => Ok(RefreshOutcome::Ended),
            }
        })
    }

    fn revoke_session(&self, id: &str, now: u64, reason: &str, window: u64) -> StoreResult<bool> {
        self.write(|tx| revoke_session_tx(tx, id, now, reason, window))
    }

    fn revoke_user(
        &self,
        user_id: &str,
        now: u64,
        reason: &str,
        window: u64,
        new_password_hash: Option<&str>,
        fresh: Option<(&Session, &RefreshRecord)>,
    ) -> StoreResult<u64> {
        self.write(|tx| {
            // sid records too: the user's not_before is exact only to the second, and a
            // token minted earlier in the same second as the revocation must still die.
            let ids: Vec<String> = {
                let mut stmt = tx.prepare("SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL AND ends_at > ?2")?;
                let rows = stmt.query_map(params![user_id, to_sql(now.saturating_sub(window))], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut revoked = 0;
            for id in &ids {
                if revoke_session_tx(tx, id, now, reason, window)? {
                    revoked += 1;
                }
            }
            tx.execute("UPDATE users SET not_before = ?2 WHERE id = ?1", params![user_id, to_sql(now)])?;
            add_revocation_tx(tx, RevocationKind::UserNotBefore, user_id, now, window)?;
            if let Some(hash) = new_password_hash {
                tx.execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![user_id, hash])?;
            }
            if let Some((session, first)) = fresh {
                insert_session(tx, session)?;
                insert_refresh(tx, first)?;
            }
            Ok(revoked)
        })
    }

    fn mark_sensitive(&self, id: &str, ends_at: u64) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sessions SET sensitive = 1, ends_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, to_sql(ends_at)],
            )
            .map(|_| ())
        })
    }

    fn user_sessions(&self, user_id: &str, now: u64) -> StoreResult<Vec<Session>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SESSION_COLS} FROM sessions s WHERE s.user_id = ?1 AND s.revoked_at IS NULL AND s.ends_at > ?2 \
                 ORDER BY s.last_seen_at DESC LIMIT 1000"
            ))?;
            let rows = stmt.query_map(params![user_id, to_sql(now)], session_from)?;
            rows.collect()
        })
    }

    fn search_sessions(&self, query: &str, state: &str, now: u64, limit: u32, offset: u32) -> StoreResult<Vec<SessionRow>> {
        let state_sql = match state {
            "active" => "s.revoked_at IS NULL AND s.ends_at > ?2",
            "ended" => "(s.revoked_at IS NOT NULL OR s.ends_at <= ?2)",
            _ => "?2 = ?2",
        };
        // LIKE with an escape character, so `%` and `_` in the query match literally.
        let pattern = format!("%{}%", query.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SESSION_COLS}, u.email FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE {state_sql} AND (?1 = '' OR u.email LIKE ?3 ESCAPE '\\' OR s.user_id = ?1 OR s.id = ?1) \
                 ORDER BY s.last_seen_at DESC LIMIT ?4 OFFSET ?5"
            ))?;
            let rows = stmt.query_map(params![query, to_sql(now), pattern, limit, offset], |r| {
                Ok(SessionRow { session: session_from(r)?, email: r.get(11)? })
            })?;
            rows.collect()
        })
    }

    fn add_revocation(&self, kind: RevocationKind, value: &str, now: u64, window: u64) -> StoreResult<()> {
        self.write(|tx| add_revocation_tx(tx, kind, value, now, window))
    }

    fn revocations_in_window(&self, now: u64) -> StoreResult<RevocationSet> {
        self.read(|c| {
            let mut set = RevocationSet::default();
            let mut stmt = c.prepare(
                "SELECT kind, value, MAX(revoked_at) FROM revocations WHERE expires_at > ?1 GROUP BY kind, value ORDER BY kind, value",
            )?;
            let mut rows = stmt.query([to_sql(now)])?;
            while let Some(row) = rows.next()? {
                let kind: String = row.get(0)?;
                let value: String = row.get(1)?;
                let at = from_sql(row.get(2)?);
                match kind.as_str() {
                    "sid" => set.sids.push(value),
                    "jti" => set.jtis.push(value),
                    "user_not_before" => set.users.push((value, at)),
                    "global_not_before" => {
                        set.global_not_before = Some(set.global_not_before.map_or(at, |g| g.max(at)));
                    }
                    _ => {}
                }
            }
            Ok(set)
        })
    }

    fn revoke_all_sessions(&self, now: u64, reason: &str) -> StoreResult<u64> {
        self.write(|tx| revoke_all_sessions_tx(tx, now, reason))
    }

    fn global_not_before(&self, now: u64) -> StoreResult<Option<u64>> {
        self.read(|c| {
            c.query_row(
                "SELECT MAX(revoked_at) FROM revocations WHERE kind = 'global_not_before' AND expires_at > ?1",
                [to_sql(now)],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(from_sql))
        })
    }

    fn next_counter(&self, name: &str) -> StoreResult<u64> {
        self.write(|tx| {
            tx.query_row(
                "INSERT INTO counters (name, value) VALUES (?1, 1) \
                 ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(from_sql)
        })
    }

    fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {KEY_COLS} FROM signing_keys ORDER BY created_at DESC, rowid DESC"))?;
            let rows = stmt.query_map([], key_from)?;
            rows.collect()
        })
    }

    fn ensure_active_key(&self, key: &StoredKey) -> StoreResult<bool> {
        self.write(|tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM signing_keys WHERE state = 'active')", [], |r| r.get(0))?;
            if exists {
                return Ok(false);
            }
            insert_key(tx, key, KeyState::Active)?;
            Ok(true)
        })
    }

    fn add_next_key(&self, key: &StoredKey) -> StoreResult<(StoredKey, bool)> {
        self.write(|tx| {
            let pending = tx
                .query_row(&format!("SELECT {KEY_COLS} FROM signing_keys WHERE state = 'next'"), [], key_from)
                .optional()?;
            if let Some(existing) = pending {
                return Ok((existing, false));
            }
            insert_key(tx, key, KeyState::Next)?;
            Ok((StoredKey { state: KeyState::Next, ..key.clone() }, true))
        })
    }

    fn promote_next_key(&self, now: u64, retired_publish_until: u64) -> StoreResult<Option<String>> {
        self.write(|tx| {
            let due: Option<String> = tx
                .query_row(
                    "SELECT kid FROM signing_keys WHERE state = 'next' AND activates_at <= ?1",
                    [to_sql(now)],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(kid) = due else { return Ok(None) };
            retire_active(tx, now, retired_publish_until)?;
            tx.execute("UPDATE signing_keys SET state = 'active' WHERE kid = ?1", [&kid])?;
            Ok(Some(kid))
        })
    }

    fn emergency_rotate(&self, r: &EmergencyRotation<'_>) -> StoreResult<EmergencyOutcome> {
        self.write(|tx| {
            // The targets, plus a pending next key: it was stored beside the compromised
            // one and the fresh key replaces it.
            let (filter, kid) = match &r.withdraw {
                WithdrawTarget::Active => ("state IN ('active', 'next')", ""),
                WithdrawTarget::Kid(kid) => ("(kid = ?1 OR state = 'next') AND state <> 'withdrawn'", kid.as_str()),
                WithdrawTarget::All => ("state <> 'withdrawn'", ""),
            };
            if let WithdrawTarget::Kid(kid) = &r.withdraw {
                let known: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE kid = ?1 AND state <> 'withdrawn')",
                    [kid],
                    |row| row.get(0),
                )?;
                if !known {
                    return Ok(EmergencyOutcome::UnknownKid);
                }
            }
            let withdrawn: Vec<String> = {
                let sql = format!("SELECT kid FROM signing_keys WHERE {filter} ORDER BY created_at DESC, rowid DESC");
                let mut stmt = tx.prepare(&sql)?;
                let args: &[&str] = if kid.is_empty() { &[] } else { &[kid] };
                let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| row.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for k in &withdrawn {
                // The private key is wiped: a withdrawn key can never sign again.
                tx.execute(
                    "UPDATE signing_keys SET state = 'withdrawn', withdrawn_at = ?2, private_key = x'' WHERE kid = ?1",
                    params![k, to_sql(r.now)],
                )?;
            }
            // A surviving active key (another kid was named) is retired as in a routine rotation.
            retire_active(tx, r.now, r.retired_publish_until)?;
            insert_key(tx, r.fresh, KeyState::Active)?;
            add_revocation_tx(tx, RevocationKind::GlobalNotBefore, "", r.now, r.window)?;
            let sessions_revoked = if r.revoke_sessions { revoke_all_sessions_tx(tx, r.now, "key_compromise")? } else { 0 };
            Ok(EmergencyOutcome::Rotated { withdrawn, sessions_revoked })
        })
    }

    fn secret(&self, name: &str, generate: &mut dyn FnMut() -> Vec<u8>) -> StoreResult<Vec<u8>> {
        self.write(|tx| {
            let existing: Option<Vec<u8>> =
                tx.query_row("SELECT value FROM secrets WHERE name = ?1", [name], |r| r.get(0)).optional()?;
            if let Some(v) = existing {
                return Ok(v);
            }
            let v = generate();
            tx.execute("INSERT INTO secrets (name, value) VALUES (?1, ?2)", params![name, v])?;
            Ok(v)
        })
    }

    fn cleanup(&self, c: &CleanupCutoffs) -> StoreResult<CleanupCounts> {
        // One short transaction per statement: a cleanup never holds the write lock long.
        let ended = to_sql(c.sessions_ended_before);
        let refresh_of_ended = self.write(|tx| {
            tx.execute(
                "DELETE FROM refresh_tokens WHERE rowid IN (SELECT r.rowid FROM sessions s \
                 JOIN refresh_tokens r ON r.session_id = s.id WHERE s.ends_at < ?1 LIMIT ?2)",
                params![ended, c.batch],
            )
        })?;
        let rotated = self.write(|tx| {
            tx.execute(
                "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens \
                 WHERE rotated_at IS NOT NULL AND rotated_at < ?1 LIMIT ?2)",
                params![to_sql(c.rotated_before), c.batch],
            )
        })?;
        // Only sessions whose refresh records are all gone (the FK forbids orphans).
        let sessions = self.write(|tx| {
            tx.execute(
                "DELETE FROM sessions WHERE rowid IN (SELECT s.rowid FROM sessions s WHERE s.ends_at < ?1 \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id) LIMIT ?2)",
                params![ended, c.batch],
            )
        })?;
        let revocations = self.write(|tx| {
            tx.execute(
                "DELETE FROM revocations WHERE rowid IN (SELECT rowid FROM revocations WHERE expires_at < ?1 LIMIT ?2)",
                params![to_sql(c.revocations_expired_before), c.batch],
            )
        })?;
        let keys = self.write(|tx| {
            tx.execute(
                "DELETE FROM signing_keys WHERE state = 'retired' AND publish_until < ?1",
                params![to_sql(c.keys_unpublished_at)],
            )
        })?;
        Ok(CleanupCounts {
            sessions: sessions as u64,
            refresh_tokens: (refresh_of_ended + rotated) as u64,
            revocations: revocations as u64,
            keys: keys as u64,
        })
    }

    fn table_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        self.read(|c| {
            let mut out = Vec::new();
            for table in ["users", "sessions", "refresh_tokens", "revocations", "signing_keys"] {
                let n: i64 = c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
                out.push((table.to_string(), from_sql(n)));
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_lower_migration_is_applied_after_a_higher_one_once() {
        // A database migrated on a branch without version 2 meets the merged list (the
        // real version 2 once merged, a stand-in until then).
        let mut conn = Connection::open_in_memory().unwrap();
        let branch: Vec<(u32, &str)> = MIGRATIONS.iter().copied().filter(|(v, _)| *v != 2).collect();
        assert_eq!(migrate_with(&mut conn, &branch).unwrap(), 3);
        let mut merged = MIGRATIONS.to_vec();
        if !merged.iter().any(|(v, _)| *v == 2) {
            merged.insert(1, (2, "CREATE TABLE from_branch_two (x INTEGER)"));
        }
        assert_eq!(migrate_with(&mut conn, &merged).unwrap(), 3);
        let versions: Vec<u32> = {
            let mut stmt = conn.prepare("SELECT version FROM schema_version ORDER BY version").unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
        };
        assert_eq!(versions, vec![1, 2, 3]);
        // Nothing is applied twice (a second run would fail on CREATE TABLE / ALTER TABLE).
        assert_eq!(migrate_with(&mut conn, &merged).unwrap(), 3);
    }
}
