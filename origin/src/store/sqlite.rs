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
    (2, include_str!("../../migrations/sqlite/0002_session_integrity.sql")),
    (3, include_str!("../../migrations/sqlite/0003_key_lifecycle.sql")),
];

/// Connections in the pool: enough for concurrent readers in WAL mode; SQLite has one writer anyway.
const POOL_SIZE: usize = 4;

const SESSION_COLS: &str = "s.id, s.user_id, s.created_at, s.last_seen_at, s.absolute_expires_at, s.ends_at, \
     s.sensitive, s.user_agent, s.ip, s.revoked_at, s.revoked_reason, s.device_hash, s.device_required, s.last_iat";
/// Columns after `SESSION_COLS` start here (listings join the owner's e-mail).
const SESSION_COL_COUNT: usize = 14;
const REFRESH_COLS: &str = "id, session_id, token_hash, nonce, created_at, rotated_at, successor_id, rotated_with_device";
const USER_COLS: &str = "id, email, password_hash, role, not_before, created_at, credential_version";
/// The newest `iat` minted for a session: rows older than schema version 2 minted
/// `iat = last_seen_at`.
const SESSION_MAX_IAT: &str = "MAX(last_iat, last_seen_at)";

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
        credential_version: from_sql(row.get(6)?),
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
        device_hash: row.get::<_, Option<Vec<u8>>>(11)?.map(hash32),
        device_required: row.get::<_, i64>(12)? != 0,
        last_iat: from_sql(row.get(13)?),
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
        rotated_with_device: row.get::<_, i64>(7)? != 0,
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

/// The kill switch inside `tx`: a global cut-off past every token minted so far and,
/// with `revoke_sessions`, every session revoked and the session epoch bumped (grants that
/// began before it are refused). Returns `(cut-off, sessions revoked)`, or `None` (nothing
/// written) when the cut-off would run more than `max_ahead` seconds ahead of `now`.
fn kill_switch_tx(
    tx: &Transaction<'_>,
    now: u64,
    window: u64,
    revoke_sessions: bool,
    reason: &str,
    max_ahead: u64,
) -> rusqlite::Result<Option<(u64, u64)>> {
    // Past every token minted so far, even one minted ahead of the clock (at an earlier
    // cut-off of this second) or by a refresh whose clock reading was later than this one's:
    // there are no sid records to cover those here.
    let newest: Option<i64> = tx.query_row(&format!("SELECT MAX({SESSION_MAX_IAT}) FROM sessions"), [], |r| r.get(0))?;
    let earlier: Option<i64> =
        tx.query_row("SELECT MAX(revoked_at) FROM revocations WHERE kind = 'global_not_before'", [], |r| r.get(0))?;
    let cutoff = now.max(newest.map_or(0, from_sql)).saturating_add(1).max(earlier.map_or(0, from_sql));
    // Each kill switch in one second moves the cut-off (and new tokens' iat) a second
    // further ahead; past a bound, edges would refuse new tokens as issued in the future.
    if cutoff > now.saturating_add(max_ahead) {
        return Ok(None);
    }
    add_revocation_tx(tx, RevocationKind::GlobalNotBefore, "", cutoff, window)?;
    if !revoke_sessions {
        return Ok(Some((cutoff, 0)));
    }
    let n = tx.execute(
        "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2, ends_at = MIN(ends_at, ?1) \
         WHERE revoked_at IS NULL AND ends_at > ?1",
        params![to_sql(now), reason],
    )?;
    tx.execute(
        "INSERT INTO counters (name, value) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
        [SESSION_EPOCH],
    )?;
    Ok(Some((cutoff, n as u64)))
}

fn insert_session(tx: &Transaction<'_>, s: &Session) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO sessions (id, user_id, created_at, last_seen_at, absolute_expires_at, ends_at, sensitive, \
         user_agent, ip, revoked_at, revoked_reason, device_hash, device_required, last_iat) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL, ?10, ?11, ?12)",
        params![
            s.id,
            s.user_id,
            to_sql(s.created_at),
            to_sql(s.last_seen_at),
            to_sql(s.absolute_expires_at),
            to_sql(s.ends_at),
            s.sensitive as i64,
            s.user_agent,
            s.ip,
            s.device_hash.as_ref().map(|h| &h[..]),
            s.device_required as i64,
            to_sql(s.last_iat)
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

/// Revokes an active session; returns whether it was active. The sid record lives for
/// `window` after the newest token minted for the session (or after `now`, if later): a
/// refresh that committed just before this revocation, with a later clock reading than
/// this one's, is still covered.
fn revoke_session_tx(tx: &Transaction<'_>, id: &str, now: u64, reason: &str, window: u64) -> rusqlite::Result<bool> {
    let newest_iat: Option<i64> = tx
        .query_row(
            &format!("UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3, ends_at = MIN(ends_at, ?2) \
             WHERE id = ?1 AND revoked_at IS NULL RETURNING {SESSION_MAX_IAT}"),
            params![id, to_sql(now), reason],
            |r| r.get(0),
        )
        .optional()?;
    let Some(newest_iat) = newest_iat else { return Ok(false) };
    tx.execute(
        "INSERT INTO revocations (kind, value, revoked_at, expires_at) VALUES ('sid', ?1, ?2, ?3)",
        params![id, to_sql(now), to_sql(now.max(from_sql(newest_iat)).saturating_add(window))],
    )?;
    Ok(true)
}

/// The `iat` a token minted now for `user_id` must have: never below a cut-off in force.
fn mint_iat(tx: &Transaction<'_>, user_id: &str, now: u64) -> rusqlite::Result<u64> {
    let user_nb: Option<i64> =
        tx.query_row("SELECT not_before FROM users WHERE id = ?1", [user_id], |r| r.get(0)).optional()?.flatten();
    let global_nb: Option<i64> = tx.query_row(
        "SELECT MAX(revoked_at) FROM revocations WHERE kind = 'global_not_before' AND expires_at > ?1",
        [to_sql(now)],
        |r| r.get(0),
    )?;
    Ok(now.max(user_nb.map_or(0, from_sql)).max(global_nb.map_or(0, from_sql)))
}

/// The global session epoch (0 until the first kill switch with `sessions`).
fn session_epoch_tx(c: &Connection) -> rusqlite::Result<u64> {
    c.query_row("SELECT value FROM counters WHERE name = ?1", [SESSION_EPOCH], |r| r.get::<_, i64>(0))
        .optional()
        .map(|v| v.map_or(0, from_sql))
}

/// Name of the counter behind the global session epoch.
const SESSION_EPOCH: &str = "session_epoch";

/// Re-checks a grant's basis inside its transaction.
fn check_basis(tx: &Transaction<'_>, basis: &GrantBasis, now: u64) -> rusqlite::Result<Result<(), GrantRefused>> {
    let version: Option<i64> = tx
        .query_row("SELECT credential_version FROM users WHERE id = ?1", [&basis.user_id], |r| r.get(0))
        .optional()?;
    if version.map(from_sql) != Some(basis.credential_version) || session_epoch_tx(tx)? != basis.session_epoch {
        return Ok(Err(GrantRefused::CredentialsChanged));
    }
    if let Some(id) = &basis.session_id {
        let active = get_session(tx, id)?.is_some_and(|s| s.user_id == basis.user_id && s.is_active(now));
        if !active {
            return Ok(Err(GrantRefused::SessionEnded));
        }
    }
    Ok(Ok(()))
}

/// Revokes every session of a user, sets its cut-off past every token minted for it and
/// bumps its credential version. Returns the number of sessions revoked.
fn revoke_user_tx(tx: &Transaction<'_>, user_id: &str, now: u64, reason: &str, window: u64) -> rusqlite::Result<u64> {
    // sid records too: they cover tokens of sessions revoked here at edges whose filter
    // predates the user's cut-off entry, and cost little.
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
    // The cut-off covers its own second: the origin mints iat >= cut-off from here on. A
    // token minted a second ahead (iat = an earlier cut-off of the same second) or by a
    // refresh whose clock reading was later than this one's is covered by its session's sid
    // record above instead: pushing the cut-off past it would let repeated revocations in
    // one second run the cut-off (and so new tokens' iat) ahead of the clock.
    let old_nb: Option<i64> =
        tx.query_row("SELECT not_before FROM users WHERE id = ?1", [user_id], |r| r.get(0)).optional()?.flatten();
    let cutoff = now.saturating_add(1).max(old_nb.map_or(0, from_sql));
    tx.execute(
        "UPDATE users SET not_before = ?2, credential_version = credential_version + 1 WHERE id = ?1",
        params![user_id, to_sql(cutoff)],
    )?;
    add_revocation_tx(tx, RevocationKind::UserNotBefore, user_id, cutoff, window)?;
    Ok(revoked)
}

impl Store for SqliteStore {
    fn create_user(&self, u: &User, skeleton: &str) -> StoreResult<()> {
        self.write(|tx| {
            let look_alike: Option<String> = tx
                .query_row("SELECT email FROM users WHERE email_skeleton = ?1 LIMIT 1", [skeleton], |r| r.get(0))
                .optional()?;
            if let Some(existing) = look_alike {
                // Reported like the UNIQUE constraint on the address itself.
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
                    Some(format!("{:?} looks like the existing {existing:?}", u.email)),
                ));
            }
            tx.execute(
                "INSERT INTO users (id, email, password_hash, role, not_before, created_at, credential_version, email_skeleton) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    u.id,
                    u.email,
                    u.password_hash,
                    u.role.as_str(),
                    u.not_before.map(to_sql),
                    to_sql(u.created_at),
                    to_sql(u.credential_version),
                    skeleton
                ],
            )
            .map(|_| ())
        })
    }

    fn fill_missing_skeletons(&self, skeleton: &dyn Fn(&str) -> String) -> StoreResult<u64> {
        self.write(|tx| {
            let rows: Vec<(String, String)> = {
                let mut stmt = tx.prepare("SELECT id, email FROM users WHERE email_skeleton IS NULL")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for (id, email) in &rows {
                tx.execute("UPDATE users SET email_skeleton = ?2 WHERE id = ?1", params![id, skeleton(email)])?;
            }
            Ok(rows.len() as u64)
        })
    }

    fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.read(|c| c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE email = ?1"), [email], user_from).optional())
    }

    fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.read(|c| c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id], user_from).optional())
    }

    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE users SET password_hash = ?2, credential_version = credential_version + 1 WHERE id = ?1",
                params![user_id, hash],
            )
            .map(|_| ())
        })
    }

    fn session_epoch(&self) -> StoreResult<u64> {
        self.read(session_epoch_tx)
    }

    fn create_session(&self, session: &Session, first: &RefreshRecord, basis: &GrantBasis, now: u64)
        -> StoreResult<Result<Granted, GrantRefused>> {
        self.write(|tx| {
            if let Err(refused) = check_basis(tx, basis, now)? {
                return Ok(Err(refused));
            }
            let iat = mint_iat(tx, &session.user_id, now)?;
            insert_session(tx, &Session { last_iat: iat, ..session.clone() })?;
            insert_refresh(tx, first)?;
            Ok(Ok(Granted { iat, revoked: 0 }))
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
            let iat = mint_iat(tx, &view.session.user_id, now)?;
            let touch = |ends_at: u64| {
                tx.execute(
                    "UPDATE sessions SET last_seen_at = ?2, ends_at = ?3, last_iat = MAX(last_iat, ?4) WHERE id = ?1",
                    params![view.session.id, to_sql(now), to_sql(ends_at), to_sql(iat)],
                )
            };
            match decide(&view) {
                RefreshDecision::Rotate { successor, ends_at, with_device } => {
                    insert_refresh(tx, &successor)?;
                    // The `rotated_at IS NULL` guard makes a lost race impossible to miss:
                    // under BEGIN IMMEDIATE it always holds, but never rotate twice.
                    let n = tx.execute(
                        "UPDATE refresh_tokens SET rotated_at = ?2, successor_id = ?3, rotated_with_device = ?4 \
                         WHERE id = ?1 AND rotated_at IS NULL",
                        params![view.record.id, to_sql(now), successor.id, with_device as i64],
                    )?;
                    if n != 1 {
                        return Err(rusqlite::Error::StatementChangedRows(n));
                    }
                    touch(ends_at)?;
                    let session = get_session(tx, &view.session.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
                    Ok(RefreshOutcome::Issued { session, current: successor, iat })
                }
                RefreshDecision::Reissue { ends_at } => {
                    let Some(current) = view.successor.clone() else { return Ok(RefreshOutcome::Ended) };
                    touch(ends_at)?;
                    let session = get_session(tx, &view.session.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
                    Ok(RefreshOutcome::Issued { session, current, iat })
                }
                RefreshDecision::Reuse(reason) => {
                    revoke_session_tx(tx, &view.session.id, now, reason, window)?;
                    Ok(RefreshOutcome::ReuseRevoked { session_id: view.session.id.clone(), reason })
                }
                RefreshDecision::Ended => Ok(RefreshOutcome::Ended),
            }
        })
    }

    fn revoke_session(&self, id: &str, now: u64, reason: &str, window: u64) -> StoreResult<bool> {
        self.write(|tx| revoke_session_tx(tx, id, now, reason, window))
    }

    fn revoke_user(&self, user_id: &str, now: u64, reason: &str, window: u64) -> StoreResult<u64> {
        self.write(|tx| revoke_user_tx(tx, user_id, now, reason, window))
    }

    fn change_password(
        &self,
        basis: &GrantBasis,
        new_hash: &str,
        fresh: (&Session, &RefreshRecord),
        now: u64,
        window: u64,
    ) -> StoreResult<Result<Granted, GrantRefused>> {
        self.write(|tx| {
            if let Err(refused) = check_basis(tx, basis, now)? {
                return Ok(Err(refused));
            }
            let revoked = revoke_user_tx(tx, &basis.user_id, now, "password_change", window)?;
            tx.execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![basis.user_id, new_hash])?;
            let iat = mint_iat(tx, &basis.user_id, now)?;
            let (session, first) = fresh;
            insert_session(tx, &Session { last_iat: iat, ..session.clone() })?;
            insert_refresh(tx, first)?;
            Ok(Ok(Granted { iat, revoked }))
        })
    }

    fn step_up(&self, basis: &GrantBasis, ends_at: u64, now: u64) -> StoreResult<Result<(), GrantRefused>> {
        let Some(id) = basis.session_id.as_deref() else { return Ok(Err(GrantRefused::SessionEnded)) };
        self.write(|tx| {
            if let Err(refused) = check_basis(tx, basis, now)? {
                return Ok(Err(refused));
            }
            tx.execute(
                "UPDATE sessions SET sensitive = 1, ends_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, to_sql(ends_at)],
            )?;
            Ok(Ok(()))
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
                Ok(SessionRow { session: session_from(r)?, email: r.get(SESSION_COL_COUNT)? })
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

    fn kill_switch(&self, now: u64, window: u64, revoke_sessions: bool, reason: &str) -> StoreResult<Option<(u64, u64)>> {
        self.write(|tx| kill_switch_tx(tx, now, window, revoke_sessions, reason, KILL_SWITCH_MAX_AHEAD))
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
            // The kill switch first: when its cut-off would run too far ahead (kill switches
            // in quick succession), nothing has been written and the caller retries.
            let Some((not_before, sessions_revoked)) =
                kill_switch_tx(tx, r.now, r.window, r.revoke_sessions, "key_compromise", KILL_SWITCH_MAX_AHEAD)?
            else {
                return Ok(EmergencyOutcome::RetryLater);
            };
            // The targets, plus a pending next key: it was stored beside the compromised
            // one and the fresh key replaces it.
            let (filter, kid) = match &r.withdraw {
                WithdrawTarget::Active => ("state IN ('active', 'next')", ""),
                WithdrawTarget::Kid(kid) => ("(kid = ?1 OR state = 'next') AND state <> 'withdrawn'", kid.as_str()),
                WithdrawTarget::All => ("state <> 'withdrawn'", ""),
            };
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
            Ok(EmergencyOutcome::Rotated { withdrawn, not_before, sessions_revoked })
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
