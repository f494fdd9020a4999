//! Storage: the `Store` trait the policy layer talks to, and its SQLite implementation.
//!
//! All SQL lives in [`sqlite`]. The trait is synchronous (callers run it on tokio's
//! blocking pool) and each method is one atomic transaction, so a PostgreSQL store for
//! multi-node deployments implements the same methods with `SELECT ... FOR UPDATE` where
//! SQLite uses `BEGIN IMMEDIATE`. Decisions (rotation, grace, timeouts) are made by the
//! policy in `crate::sessions`, passed in as a function and run inside the transaction.

pub mod sqlite;

use std::fmt;

/// A storage failure. Never shown to clients beyond "internal error".
#[derive(Debug)]
pub enum StoreError {
    /// A uniqueness constraint failed (e.g. the e-mail address is taken).
    Conflict(String),
    /// The database cannot take the write now: disk full, read-only file or file system,
    /// an I/O error, or still locked after the busy timeout. The transaction was rolled
    /// back; retrying later may succeed (HTTP 503).
    Unavailable(String),
    /// Anything else: corruption, a bug (HTTP 500).
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict(m) => write!(f, "conflict: {m}"),
            StoreError::Unavailable(m) => write!(f, "storage unavailable: {m}"),
            StoreError::Backend(m) => write!(f, "storage error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// How far ahead of the clock a global cut-off (and so the `iat` of tokens minted at it)
/// may be: every edge's clock tolerance must be at least this.
pub const KILL_SWITCH_MAX_AHEAD: u64 = 2;

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// `user` or `admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A regular user.
    User,
    /// May list and revoke every session.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or configured name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user account.
#[derive(Clone, Debug)]
pub struct User {
    /// Opaque id; the `sub` claim.
    pub id: String,
    /// Login name, stored lower-cased.
    pub email: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    /// The role.
    pub role: Role,
    /// Tokens of this user issued before this instant are revoked.
    pub not_before: Option<u64>,
    /// Creation time.
    pub created_at: u64,
    /// Bumped by every change that ends all of the user's sessions (password change,
    /// logout-all, admin revocation); see [`GrantBasis`].
    pub credential_version: u64,
}

/// A login session: one refresh-token chain, the `sid` claim.
#[derive(Clone, Debug)]
pub struct Session {
    /// Opaque id; the `sid` claim.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Creation time.
    pub created_at: u64,
    /// Last successful refresh (or creation).
    pub last_seen_at: u64,
    /// The session can never be refreshed after this instant.
    pub absolute_expires_at: u64,
    /// When the session ends if nothing happens: min(absolute, last_seen + idle), or the
    /// revocation time. Indexed for cleanup.
    pub ends_at: u64,
    /// Admin session or stepped-up: short idle timeout.
    pub sensitive: bool,
    /// Client's User-Agent at login (truncated).
    pub user_agent: String,
    /// Client's IP at login.
    pub ip: String,
    /// Set once revoked.
    pub revoked_at: Option<u64>,
    /// Why it was revoked (`logout`, `reuse_detected`, `password_change`, ...).
    pub revoked_reason: Option<String>,
    /// SHA-256 of the device secret handed out at login; `None` for sessions made before
    /// schema version 2 (they never prove a device, so they get no grace).
    pub device_hash: Option<[u8; 32]>,
    /// Browser session: every refresh must prove the device (the cookie is always sent).
    pub device_required: bool,
    /// `iat` of the newest access token minted for the session (0 if unknown).
    pub last_iat: u64,
}

impl Session {
    /// Neither revoked nor past its idle or absolute end.
    pub fn is_active(&self, now: u64) -> bool {
        self.revoked_at.is_none() && now < self.ends_at
    }
}

/// A session row joined with its owner's e-mail (listings).
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// The session.
    pub session: Session,
    /// The owner's e-mail address.
    pub email: String,
}

/// One refresh-token record. The token itself is never stored: only its SHA-256 and the
/// nonce from which the server can re-derive it (see `crate::tokens`).
#[derive(Clone, Debug)]
pub struct RefreshRecord {
    /// Opaque id.
    pub id: String,
    /// The session it belongs to.
    pub session_id: String,
    /// SHA-256 of the token.
    pub token_hash: [u8; 32],
    /// Random input of the token derivation.
    pub nonce: [u8; 32],
    /// Creation time.
    pub created_at: u64,
    /// When it was replaced; `None` for the session's current token.
    pub rotated_at: Option<u64>,
    /// The record that replaced it.
    pub successor_id: Option<String>,
    /// The rotation was made by a request that proved the session's device.
    pub rotated_with_device: bool,
}

/// Everything the refresh policy needs, read inside the transaction.
#[derive(Clone, Debug)]
pub struct RefreshView {
    /// The presented token's record.
    pub record: RefreshRecord,
    /// Its session.
    pub session: Session,
    /// The record that replaced it, if any.
    pub successor: Option<RefreshRecord>,
}

/// What a grant (a new session, a password change, a step-up) was decided on, read when
/// its checks began (before the password check). The store compares it again inside the
/// transaction that applies the grant, so nothing that ended the user's sessions in between
/// (a password change, logout-all, an admin or global revocation) is undone by the grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantBasis {
    /// The user.
    pub user_id: String,
    /// The user's credential version when the checks began.
    pub credential_version: u64,
    /// The global session epoch (bumped by the kill switch with `sessions`) then.
    pub session_epoch: u64,
    /// For grants made by an authenticated session (password change, step-up): that
    /// session, which must still be active.
    pub session_id: Option<String>,
}

/// Why a grant was refused inside its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantRefused {
    /// The user's credentials or sessions were changed or revoked since the checks began.
    CredentialsChanged,
    /// The caller's own session ended (revoked or timed out) since it was authenticated.
    SessionEnded,
}

/// A grant that was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granted {
    /// The `iat` to mint: `max(now, user's not_before, global not_before)`, so a token is
    /// never below a cut-off already set (it may be up to one second in the future).
    pub iat: u64,
    /// Sessions revoked by the grant (password change), else 0.
    pub revoked: u64,
}

/// What the refresh policy decided; the store applies it in the same transaction.
#[derive(Clone, Debug)]
pub enum RefreshDecision {
    /// The token is current: replace it with `successor` and extend the session.
    Rotate {
        /// The new current record.
        successor: RefreshRecord,
        /// New `ends_at` of the session.
        ends_at: u64,
        /// The request proved the session's device (see `RefreshRecord::rotated_with_device`).
        with_device: bool,
    },
    /// The token was replaced within the grace: hand out the same successor again.
    Reissue {
        /// New `ends_at` of the session.
        ends_at: u64,
    },
    /// Reuse of a replaced token, or a refresh that failed the device check: revoke the
    /// whole session, with this reason.
    Reuse(&'static str),
    /// The session has ended (revoked or expired): refuse, change nothing.
    Ended,
}

/// What the store did.
#[derive(Clone, Debug)]
// Returned once per refresh and consumed at once: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum RefreshOutcome {
    /// No record has this hash.
    Unknown,
    /// Rotated or reissued: the session (after the update) and its current record.
    Issued {
        /// The session after the update.
        session: Session,
        /// The record whose token the client now holds.
        current: RefreshRecord,
        /// The `iat` to mint (see [`Granted::iat`]).
        iat: u64,
    },
    /// Reuse detected; the session is now revoked.
    ReuseRevoked {
        /// The revoked session's id.
        session_id: String,
        /// The revocation reason the policy gave.
        reason: &'static str,
    },
    /// The session had ended.
    Ended,
}

/// Kinds of revocation record (issue 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationKind {
    /// A session: all its access tokens.
    Sid,
    /// One access token.
    Jti,
    /// Every token of a user issued before `revoked_at`.
    UserNotBefore,
    /// Every token issued before `revoked_at`.
    GlobalNotBefore,
}

impl RevocationKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationKind::Sid => "sid",
            RevocationKind::Jti => "jti",
            RevocationKind::UserNotBefore => "user_not_before",
            RevocationKind::GlobalNotBefore => "global_not_before",
        }
    }
}

/// The revocations that are still inside the window at some instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationSet {
    /// Revoked session ids.
    pub sids: Vec<String>,
    /// Revoked token ids.
    pub jtis: Vec<String>,
    /// Per-user cut-offs (latest per user).
    pub users: Vec<(String, u64)>,
    /// Latest global cut-off.
    pub global_not_before: Option<u64>,
}

/// Where a signing key is in its lifecycle (see `crate::keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Pre-published: in the JWKS, signs nothing until `activates_at`.
    Next,
    /// Signs new tokens and filters. At most one key is active.
    Active,
    /// Replaced; published until `publish_until` (its tokens and filters expired).
    Retired,
    /// Compromised: never published again, never signs; its private key is wiped.
    Withdrawn,
}

impl KeyState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Withdrawn => "withdrawn",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<KeyState> {
        match s {
            "next" => Some(KeyState::Next),
            "active" => Some(KeyState::Active),
            "retired" => Some(KeyState::Retired),
            "withdrawn" => Some(KeyState::Withdrawn),
            _ => None,
        }
    }
}

/// A stored ES256 signing key.
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// The 32-byte private scalar; empty once withdrawn. Stored unencrypted: see
    /// docs/http-api.md, "Keys".
    pub private_key: Vec<u8>,
    /// Creation (and first publication) time.
    pub created_at: u64,
    /// Lifecycle state.
    pub state: KeyState,
    /// When it starts (or started) signing.
    pub activates_at: u64,
    /// Set when a newer key took over; the key stays published until `publish_until`.
    pub retired_at: Option<u64>,
    /// After this instant a retired key is no longer published (and may be deleted).
    pub publish_until: Option<u64>,
    /// Set when the key was withdrawn as compromised.
    pub withdrawn_at: Option<u64>,
}

/// Which keys an emergency rotation withdraws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WithdrawTarget {
    /// The active key (the default).
    Active,
    /// The key with this kid (next, active or retired).
    Kid(String),
    /// Every key not yet withdrawn (a leaked database holds them all).
    All,
}

/// An emergency rotation, applied in one transaction by [`Store::emergency_rotate`].
#[derive(Clone, Debug)]
pub struct EmergencyRotation<'a> {
    /// The fresh key; becomes active at once.
    pub fresh: &'a StoredKey,
    /// What to withdraw. A pending next key is always withdrawn too.
    pub withdraw: WithdrawTarget,
    /// Now: withdrawal, activation and global `not_before` time.
    pub now: u64,
    /// `publish_until` of the active key if it is not withdrawn (it is retired).
    pub retired_publish_until: u64,
    /// The revocation window (the global `not_before` record lives this long).
    pub window: u64,
    /// Also revoke every active session.
    pub revoke_sessions: bool,
}

/// What an emergency rotation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmergencyOutcome {
    /// Done.
    Rotated {
        /// Kids withdrawn.
        withdrawn: Vec<String>,
        /// The global cut-off set (past every token minted so far; see `kill_switch`).
        not_before: u64,
        /// Sessions revoked (0 without `revoke_sessions`).
        sessions_revoked: u64,
    },
    /// No key with the requested kid that is not withdrawn yet; nothing changed.
    UnknownKid,
    /// The kill switch's cut-off would run more than [`KILL_SWITCH_MAX_AHEAD`] seconds ahead
    /// of the clock (kill switches in quick succession); nothing changed: retry in a second.
    RetryLater,
}

/// Cut-offs for one cleanup pass.
#[derive(Clone, Copy, Debug)]
pub struct CleanupCutoffs {
    /// Delete sessions (and their refresh records) that ended before this.
    pub sessions_ended_before: u64,
    /// Delete refresh records rotated before this.
    pub rotated_before: u64,
    /// Delete revocation records that expired before this.
    pub revocations_expired_before: u64,
    /// Delete retired keys no longer published at this instant.
    pub keys_unpublished_at: u64,
    /// Rows per statement.
    pub batch: u32,
}

/// Rows deleted by one cleanup pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupCounts {
    /// Sessions deleted.
    pub sessions: u64,
    /// Refresh records deleted.
    pub refresh_tokens: u64,
    /// Revocation records deleted.
    pub revocations: u64,
    /// Signing keys deleted.
    pub keys: u64,
}

/// The origin's persistent state. Each method is one transaction.
pub trait Store: Send + Sync + 'static {
    // --- users
    /// Inserts a user with the UTS #39 `skeleton` of its e-mail; `Conflict` if the address,
    /// or one with the same skeleton (a look-alike), is taken.
    fn create_user(&self, user: &User, skeleton: &str) -> StoreResult<()>;
    /// Fills the skeleton of users stored before schema version 2 with `skeleton(email)`.
    /// Returns how many were filled.
    fn fill_missing_skeletons(&self, skeleton: &dyn Fn(&str) -> String) -> StoreResult<u64>;
    /// A user by (lower-cased) e-mail.
    fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// A user by id.
    fn user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    /// Replaces a user's password hash and bumps the credential version (logins checked
    /// against the old password fail), without revoking sessions: see `change_password`.
    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()>;
    /// The global session epoch (part of a [`GrantBasis`]).
    fn session_epoch(&self) -> StoreResult<u64>;

    // --- sessions
    /// Inserts a session and its first refresh record if `basis` still holds; the
    /// session's `last_iat` is set to the returned `iat`.
    fn create_session(&self, session: &Session, first: &RefreshRecord, basis: &GrantBasis, now: u64)
        -> StoreResult<Result<Granted, GrantRefused>>;
    /// A session by id.
    fn session(&self, id: &str) -> StoreResult<Option<Session>>;
    /// The refresh record with this token hash, and its session (no change).
    fn refresh_lookup(&self, token_hash: &[u8; 32]) -> StoreResult<Option<(RefreshRecord, Session)>>;
    /// A refresh record by id.
    fn refresh_record(&self, id: &str) -> StoreResult<Option<RefreshRecord>>;
    /// Atomically: reads the record with `token_hash`, its session and successor, asks
    /// `decide`, applies the decision. Concurrent calls are serialised.
    fn refresh(
        &self,
        token_hash: &[u8; 32],
        now: u64,
        window: u64,
        decide: &mut dyn FnMut(&RefreshView) -> RefreshDecision,
    ) -> StoreResult<RefreshOutcome>;
    /// Revokes one session (if active) and records a `sid` revocation until
    /// `now + window`. Returns whether it was active.
    fn revoke_session(&self, id: &str, now: u64, reason: &str, window: u64) -> StoreResult<bool>;
    /// Revokes every session of the user, sets the user's `not_before` past every token
    /// minted for it (at least `now + 1`, so the cut-off covers its own second), bumps the
    /// credential version and records the revocations. Returns the number of sessions revoked.
    fn revoke_user(&self, user_id: &str, now: u64, reason: &str, window: u64) -> StoreResult<u64>;
    /// A password change, in one transaction, if `basis` (with the caller's session) still
    /// holds: everything `revoke_user` does, then the new hash, then the `fresh` session.
    fn change_password(
        &self,
        basis: &GrantBasis,
        new_hash: &str,
        fresh: (&Session, &RefreshRecord),
        now: u64,
        window: u64,
    ) -> StoreResult<Result<Granted, GrantRefused>>;
    /// A step-up: marks the caller's session (in `basis`) sensitive with a new `ends_at`, if
    /// `basis` still holds.
    fn step_up(&self, basis: &GrantBasis, ends_at: u64, now: u64) -> StoreResult<Result<(), GrantRefused>>;
    /// The user's sessions active at `now`, newest first.
    fn user_sessions(&self, user_id: &str, now: u64) -> StoreResult<Vec<Session>>;
    /// Admin search: `query` matches an e-mail substring or a user id; `state` is
    /// `active`, `ended` or `all`.
    fn search_sessions(&self, query: &str, state: &str, now: u64, limit: u32, offset: u32)
        -> StoreResult<Vec<SessionRow>>;

    // --- revocations
    /// Inserts a revocation record valid until `now + window`.
    fn add_revocation(&self, kind: RevocationKind, value: &str, now: u64, window: u64) -> StoreResult<()>;
    /// The revocations whose window has not passed at `now`.
    fn revocations_in_window(&self, now: u64) -> StoreResult<RevocationSet>;
    /// The kill switch, in one transaction: records a global cut-off past every token
    /// minted so far (at least `now + 1`) and, with `revoke_sessions`, revokes every active
    /// session and bumps the session epoch (the cut-off covers their access tokens, so no
    /// sid records are added). Returns the cut-off and the number of sessions revoked, or
    /// `None` (nothing changed) if the cut-off would be more than
    /// [`KILL_SWITCH_MAX_AHEAD`] seconds ahead of `now` (kill switches in quick succession).
    fn kill_switch(&self, now: u64, window: u64, revoke_sessions: bool, reason: &str) -> StoreResult<Option<(u64, u64)>>;
    /// The latest global cut-off still inside its window at `now`, if any.
    fn global_not_before(&self, now: u64) -> StoreResult<Option<u64>>;
    /// Increments and returns a persisted monotonic counter (the filter sequence).
    fn next_counter(&self, name: &str) -> StoreResult<u64>;

    // --- keys and secrets
    /// All stored signing keys (every state), newest first.
    fn signing_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Inserts `key` as the active key unless a key is active already (first start, or
    /// concurrent first starts of several nodes). Returns whether it was inserted.
    fn ensure_active_key(&self, key: &StoredKey) -> StoreResult<bool>;
    /// Inserts `key` in state *next* (its `activates_at` set by the caller) unless a next
    /// key exists; returns the next key in force and whether it is the one inserted.
    fn add_next_key(&self, key: &StoredKey) -> StoreResult<(StoredKey, bool)>;
    /// If the next key is due (`activates_at <= now`): retires the active key (published
    /// until `retired_publish_until`) and activates the next one. Returns its kid.
    fn promote_next_key(&self, now: u64, retired_publish_until: u64) -> StoreResult<Option<String>>;
    /// Withdraws the compromised key(s) (and any next key), activates `fresh`, records
    /// the global `not_before` and optionally revokes every session: one transaction.
    fn emergency_rotate(&self, rotation: &EmergencyRotation<'_>) -> StoreResult<EmergencyOutcome>;
    /// The named secret, created with `generate` on first use (atomic across callers).
    fn secret(&self, name: &str, generate: &mut dyn FnMut() -> Vec<u8>) -> StoreResult<Vec<u8>>;

    // --- maintenance
    /// Deletes at most one batch of each kind of dead row.
    fn cleanup(&self, cutoffs: &CleanupCutoffs) -> StoreResult<CleanupCounts>;
    /// Row counts per table (tests, health).
    fn table_counts(&self) -> StoreResult<Vec<(String, u64)>>;
}
