//! Session policy: start, refresh (rotation, grace, reuse detection), timeouts, revocation.
//!
//! The decisions live here; the store applies them atomically. Rules (issue 4):
//! - A session ends at `min(created + absolute, last_seen + idle)`, where idle is the
//!   sensitive timeout for admin sessions and sessions after a step-up. An ended session
//!   never refreshes again.
//! - Refresh tokens rotate on every use. The token that was *just* replaced is honoured
//!   for `refresh_grace` seconds after its rotation and yields the same successor (so
//!   parallel tabs converge on one chain), but only to a request that proves the session's
//!   device, and only if the rotation itself was made by one. Anything else that was
//!   already rotated is reuse: the whole session is revoked. A wrong device secret, or none
//!   on a browser session, revokes the session too (issue 12).
//! - Every grant (login, password change, step-up) re-checks, inside the transaction that
//!   applies it, the [`GrantBasis`] read when its checks began (issue 12).
//! - Access tokens never get an `iat` below a cut-off in force ([`crate::store::Granted::iat`]).

use crate::app::App;
use crate::store::{
    GrantBasis, GrantRefused, RefreshDecision, RefreshOutcome, RefreshRecord, RefreshView, Role, Session,
    StoreError, User,
};
use crate::tokens::{self, AccessClaims};

/// Tokens handed to a client after login, refresh or password change.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The session (after the update).
    pub session: Session,
    /// A fresh ES256 access token.
    pub access_token: String,
    /// Its `exp`.
    pub access_expires_at: u64,
    /// The current refresh token of the session.
    pub refresh_token: String,
    /// The device secret of a new session (login, password change); `None` on refresh.
    pub device_secret: Option<String>,
}

/// Why a grant (login, password change, step-up) was refused.
#[derive(Debug)]
pub enum GrantError {
    /// The basis no longer holds (see [`GrantRefused`]).
    Refused(GrantRefused),
    /// Storage failed.
    Store(StoreError),
}

impl From<StoreError> for GrantError {
    fn from(e: StoreError) -> Self {
        GrantError::Store(e)
    }
}

/// What a refresh request presented to prove its device, compared with the session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceProof {
    /// The session's device secret.
    Proven,
    /// A device secret that is not the session's (or one for a session that has none).
    Wrong,
    /// None.
    Absent,
}

impl DeviceProof {
    /// Compares the SHA-256 of a presented secret with the session's.
    pub fn check(session: &Session, presented: Option<&[u8; 32]>) -> DeviceProof {
        match (session.device_hash.as_ref(), presented) {
            (Some(want), Some(got)) if tokens::ct_eq(want, got) => DeviceProof::Proven,
            (_, Some(_)) => DeviceProof::Wrong,
            (_, None) => DeviceProof::Absent,
        }
    }
}

/// Why a refresh was refused.
#[derive(Debug)]
pub enum RefreshError {
    /// No such token.
    Unknown,
    /// The session was revoked or timed out.
    Ended,
    /// An already-rotated token was presented outside the grace: the session is now revoked.
    Reuse,
    /// The device check failed (wrong secret, or none on a browser session): the session is
    /// now revoked.
    DeviceMismatch,
    /// Storage failed.
    Store(StoreError),
}

impl From<StoreError> for RefreshError {
    fn from(e: StoreError) -> Self {
        RefreshError::Store(e)
    }
}

/// The idle timeout that applies to a session.
pub fn idle_timeout(app: &App, sensitive: bool) -> u64 {
    if sensitive {
        app.config.sensitive_idle_timeout
    } else {
        app.config.idle_timeout
    }
}

/// When a session touched at `now` ends if nothing else happens.
pub fn ends_at(app: &App, session: &Session, now: u64) -> u64 {
    session.absolute_expires_at.min(now.saturating_add(idle_timeout(app, session.sensitive)))
}

/// Revocation reason of a session ended by refresh-token reuse.
pub const REASON_REUSE: &str = "refresh_token_reuse";
/// Revocation reason of a session ended by a failed device check.
pub const REASON_DEVICE: &str = "device_mismatch";

/// The refresh decision, a pure function of what the store read and what the request
/// proved (unit-tested below).
pub fn decide(
    view: &RefreshView,
    now: u64,
    grace: u64,
    ends_at: u64,
    device: DeviceProof,
    successor: impl FnOnce() -> RefreshRecord,
) -> RefreshDecision {
    if !view.session.is_active(now) {
        return RefreshDecision::Ended;
    }
    // A wrong secret is never a legitimate client; a browser always sends its cookie.
    if device == DeviceProof::Wrong || (device == DeviceProof::Absent && view.session.device_required) {
        return RefreshDecision::Reuse(REASON_DEVICE);
    }
    let proven = device == DeviceProof::Proven;
    match view.record.rotated_at {
        None => RefreshDecision::Rotate { successor: successor(), ends_at, with_device: proven },
        Some(rotated_at) => {
            // Inclusive, at one-second resolution; a grace of 0 turns the grace off (it
            // would otherwise still cover the rest of the rotation's second).
            let in_grace = grace > 0 && now <= rotated_at.saturating_add(grace);
            // Only the just-replaced token: its successor must still be the current one.
            let successor_is_current = view.successor.as_ref().is_some_and(|s| s.rotated_at.is_none());
            // Only the device that rotated: a thief replaying the replaced token (or one who
            // rotated first, without the device) cannot fall into step with the victim.
            let same_device = proven && view.record.rotated_with_device;
            if in_grace && successor_is_current && same_device {
                RefreshDecision::Reissue { ends_at }
            } else {
                RefreshDecision::Reuse(REASON_REUSE)
            }
        }
    }
}

/// A new refresh record for `session_id` and its token.
fn new_refresh(app: &App, session_id: &str, now: u64) -> (RefreshRecord, String) {
    let id = tokens::random_id();
    let nonce = tokens::random_bytes::<32>();
    let token = tokens::refresh_token(&app.refresh_secret, &id, &nonce);
    let record = RefreshRecord {
        id,
        session_id: session_id.to_string(),
        token_hash: tokens::refresh_hash(&token),
        nonce,
        created_at: now,
        rotated_at: None,
        successor_id: None,
        rotated_with_device: false,
    };
    (record, token)
}

/// Mints an access token for `session`, issued at `iat` (from the store: see [`crate::store::Granted::iat`]).
pub fn mint_access(app: &App, session: &Session, iat: u64) -> (String, u64) {
    let ring = app.keys.current();
    let exp = iat + app.config.access_ttl;
    let claims = AccessClaims {
        iss: &app.config.issuer,
        aud: &app.config.audience,
        sub: &session.user_id,
        sid: &session.id,
        jti: tokens::random_id(),
        iat,
        exp,
    };
    (tokens::sign_access_token(&ring.active, &ring.active_kid, &claims), exp)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The SHA-256 of a device secret as presented (cookie or header).
pub fn device_hash(secret: &str) -> [u8; 32] {
    tokens::sha256(secret.as_bytes())
}

/// A new session row for `user` (not yet stored), its first refresh record and token, and
/// its device secret. `browser`: every refresh must prove the device (cookie clients).
pub fn new_session(app: &App, user: &User, user_agent: &str, ip: &str, now: u64, browser: bool)
    -> (Session, RefreshRecord, String, String) {
    let device_secret = tokens::b64(&tokens::random_bytes::<32>());
    let sensitive = user.role == Role::Admin;
    let absolute = now.saturating_add(app.config.session_lifetime);
    let mut session = Session {
        id: tokens::random_id(),
        user_id: user.id.clone(),
        created_at: now,
        last_seen_at: now,
        absolute_expires_at: absolute,
        ends_at: absolute,
        sensitive,
        user_agent: truncate(user_agent, 256),
        ip: truncate(ip, 64),
        revoked_at: None,
        revoked_reason: None,
        device_hash: Some(device_hash(&device_secret)),
        device_required: browser,
        last_iat: now,
    };
    session.ends_at = ends_at(app, &session, now);
    let (record, token) = new_refresh(app, &session.id, now);
    (session, record, token, device_secret)
}

/// The basis of a login for `user`, read before its password check: `session_epoch` must
/// have been read before `user` was.
pub fn login_basis(user: &User, session_epoch: u64) -> GrantBasis {
    GrantBasis {
        user_id: user.id.clone(),
        credential_version: user.credential_version,
        session_epoch,
        session_id: None,
    }
}

/// Starts a session for `user` after its password was checked, if `basis` still holds.
pub fn start(app: &App, user: &User, basis: &GrantBasis, user_agent: &str, ip: &str, browser: bool)
    -> Result<Issued, GrantError> {
    crate::app::test_hook(app, crate::app::HookPoint::BeforeGrant("login"));
    let now = app.now();
    let (session, record, refresh_token, device_secret) = new_session(app, user, user_agent, ip, now, browser);
    let granted = app.store.create_session(&session, &record, basis, now)?.map_err(GrantError::Refused)?;
    let (access_token, access_expires_at) = mint_access(app, &session, granted.iat);
    Ok(Issued { session, access_token, access_expires_at, refresh_token, device_secret: Some(device_secret) })
}

/// Redeems a refresh token: rotates it, or within the grace hands out the same successor.
/// `device`: the SHA-256 of the device secret the request presented, if any.
pub fn refresh(app: &App, token: &str, device: Option<&[u8; 32]>) -> Result<Issued, RefreshError> {
    let now = app.now();
    let hash = tokens::refresh_hash(token);
    let grace = app.config.refresh_grace;
    let outcome = app.store.refresh(&hash, now, app.config.revocation_window(), &mut |view| {
        let ends = ends_at(app, &view.session, now);
        let proof = DeviceProof::check(&view.session, device);
        decide(view, now, grace, ends, proof, || new_refresh(app, &view.session.id, now).0)
    })?;
    match outcome {
        RefreshOutcome::Unknown => Err(RefreshError::Unknown),
        RefreshOutcome::Ended => Err(RefreshError::Ended),
        RefreshOutcome::ReuseRevoked { reason, .. } => {
            app.revocations.mark_dirty();
            Err(if reason == REASON_DEVICE { RefreshError::DeviceMismatch } else { RefreshError::Reuse })
        }
        RefreshOutcome::Issued { session, current, iat } => {
            // Re-derived from the stored nonce: the same token for every caller in the grace.
            let refresh_token = tokens::refresh_token(&app.refresh_secret, &current.id, &current.nonce);
            let (access_token, access_expires_at) = mint_access(app, &session, iat);
            Ok(Issued { session, access_token, access_expires_at, refresh_token, device_secret: None })
        }
    }
}

/// Revokes one session. Returns whether it was active.
pub fn revoke(app: &App, session_id: &str, reason: &str) -> Result<bool, StoreError> {
    let revoked = app.store.revoke_session(session_id, app.now(), reason, app.config.revocation_window())?;
    if revoked {
        app.revocations.mark_dirty();
    }
    Ok(revoked)
}

/// Revokes every session of a user, sets the user's `not_before` and bumps its credential
/// version (grants in flight for the user are refused).
pub fn revoke_user(app: &App, user_id: &str, reason: &str) -> Result<u64, StoreError> {
    let n = app.store.revoke_user(user_id, app.now(), reason, app.config.revocation_window())?;
    app.revocations.mark_dirty();
    Ok(n)
}

/// The kill switch: every access token minted so far is refused, at the origin at once and
/// at every edge with the next filter (global `not_before`, past the newest `iat` minted, at
/// least now + 1). With `sessions`, every active session is revoked too and logins in flight
/// are refused, so everyone signs in again; without, sessions may refresh and get tokens
/// issued at or after the cut-off. Returns the cut-off and the sessions revoked, or `None`
/// if kill switches came too fast (see `Store::kill_switch`): nothing changed, retry.
pub fn revoke_all(app: &App, sessions: bool) -> Result<Option<(u64, u64)>, StoreError> {
    let out = app.store.kill_switch(app.now(), app.config.revocation_window(), sessions, "revoke_all")?;
    if out.is_some() {
        app.revocations.mark_dirty();
    }
    Ok(out)
}

/// Sets a new password hash, revokes every session of the user (and sets `not_before`),
/// then starts a fresh session for the caller, in one transaction, if `basis` (read when the
/// caller was authenticated) still holds.
pub fn change_password(app: &App, user: &User, basis: &GrantBasis, new_hash: &str, user_agent: &str, ip: &str, browser: bool)
    -> Result<Issued, GrantError> {
    crate::app::test_hook(app, crate::app::HookPoint::BeforeGrant("password"));
    let now = app.now();
    let (session, record, refresh_token, device_secret) = new_session(app, user, user_agent, ip, now, browser);
    let granted = app
        .store
        .change_password(basis, new_hash, (&session, &record), now, app.config.revocation_window())?
        .map_err(GrantError::Refused)?;
    app.revocations.mark_dirty();
    let (access_token, access_expires_at) = mint_access(app, &session, granted.iat);
    Ok(Issued { session, access_token, access_expires_at, refresh_token, device_secret: Some(device_secret) })
}

/// Marks the caller's session sensitive after a step-up (its idle timeout becomes the
/// short one), if `basis` still holds. Returns the session's new end.
pub fn step_up(app: &App, session: &Session, basis: &GrantBasis) -> Result<u64, GrantError> {
    crate::app::test_hook(app, crate::app::HookPoint::BeforeGrant("step_up"));
    let now = app.now();
    let mut s = session.clone();
    s.sensitive = true;
    let ends = ends_at(app, &s, now);
    app.store.step_up(basis, ends, now)?.map_err(GrantError::Refused)?;
    Ok(ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(ends_at: u64, revoked: bool) -> Session {
        Session {
            id: "s".into(),
            user_id: "u".into(),
            created_at: 0,
            last_seen_at: 0,
            absolute_expires_at: 1000,
            ends_at,
            sensitive: false,
            user_agent: String::new(),
            ip: String::new(),
            revoked_at: revoked.then_some(1),
            revoked_reason: None,
            device_hash: Some([7; 32]),
            device_required: false,
            last_iat: 0,
        }
    }

    fn record(id: &str, rotated_at: Option<u64>, successor: Option<&str>) -> RefreshRecord {
        RefreshRecord {
            id: id.into(),
            session_id: "s".into(),
            token_hash: [0; 32],
            nonce: [0; 32],
            created_at: 0,
            rotated_at,
            successor_id: successor.map(Into::into),
            rotated_with_device: true,
        }
    }

    fn view(rec: RefreshRecord, succ: Option<RefreshRecord>, s: Session) -> RefreshView {
        RefreshView { record: rec, session: s, successor: succ }
    }

    use DeviceProof::{Absent, Proven, Wrong};

    fn rotated(v: &RefreshView, now: u64, grace: u64, device: DeviceProof) -> RefreshDecision {
        decide(v, now, grace, 200, device, || unreachable!())
    }

    #[test]
    fn current_token_rotates_and_records_whether_the_device_was_proven() {
        let v = view(record("a", None, None), None, session(500, false));
        for (device, with) in [(Proven, true), (Absent, false)] {
            match decide(&v, 100, 10, 200, device, || record("b", None, None)) {
                RefreshDecision::Rotate { with_device, .. } => assert_eq!(with_device, with),
                d => panic!("{d:?}"),
            }
        }
    }

    #[test]
    fn just_replaced_token_in_grace_reissues_and_after_grace_is_reuse() {
        let v = view(record("a", Some(100), Some("b")), Some(record("b", None, None)), session(500, false));
        assert!(matches!(rotated(&v, 110, 10, Proven), RefreshDecision::Reissue { .. }));
        assert!(matches!(rotated(&v, 111, 10, Proven), RefreshDecision::Reuse(REASON_REUSE)));
    }

    #[test]
    fn the_grace_is_only_for_the_device_that_rotated() {
        let v = view(record("a", Some(100), Some("b")), Some(record("b", None, None)), session(500, false));
        // A replay without the device secret (the thief of issue 12) is reuse.
        assert!(matches!(rotated(&v, 101, 10, Absent), RefreshDecision::Reuse(REASON_REUSE)));
        // A wrong secret is never a client of this session.
        assert!(matches!(rotated(&v, 101, 10, Wrong), RefreshDecision::Reuse(REASON_DEVICE)));
        // The device, but the rotation was made without it (a thief rotated first): reuse.
        let mut rec = record("a", Some(100), Some("b"));
        rec.rotated_with_device = false;
        let v = view(rec, Some(record("b", None, None)), session(500, false));
        assert!(matches!(rotated(&v, 101, 10, Proven), RefreshDecision::Reuse(REASON_REUSE)));
    }

    #[test]
    fn browser_sessions_need_the_device_for_every_refresh() {
        let mut s = session(500, false);
        s.device_required = true;
        let v = view(record("a", None, None), None, s);
        assert!(matches!(rotated(&v, 100, 10, Absent), RefreshDecision::Reuse(REASON_DEVICE)));
        assert!(matches!(rotated(&v, 100, 10, Wrong), RefreshDecision::Reuse(REASON_DEVICE)));
    }

    #[test]
    fn device_proof_compares_hashes_and_legacy_sessions_prove_nothing() {
        let s = session(500, false);
        assert_eq!(DeviceProof::check(&s, Some(&[7; 32])), Proven);
        assert_eq!(DeviceProof::check(&s, Some(&[8; 32])), Wrong);
        assert_eq!(DeviceProof::check(&s, None), Absent);
        let legacy = Session { device_hash: None, ..s };
        assert_eq!(DeviceProof::check(&legacy, Some(&[7; 32])), Wrong);
    }

    #[test]
    fn grace_zero_is_no_grace_even_in_the_same_second() {
        let v = view(record("a", Some(100), Some("b")), Some(record("b", None, None)), session(500, false));
        assert!(matches!(rotated(&v, 100, 0, Proven), RefreshDecision::Reuse(_)));
        assert!(matches!(rotated(&v, 100, 1, Proven), RefreshDecision::Reissue { .. }));
    }

    #[test]
    fn older_token_is_reuse_even_in_grace() {
        // a -> b -> c: presenting a while b was already replaced.
        let v = view(record("a", Some(100), Some("b")), Some(record("b", Some(101), Some("c"))), session(500, false));
        assert!(matches!(rotated(&v, 102, 10, Proven), RefreshDecision::Reuse(REASON_REUSE)));
    }

    #[test]
    fn ended_session_never_refreshes() {
        let v = view(record("a", None, None), None, session(100, false));
        assert!(matches!(rotated(&v, 100, 10, Proven), RefreshDecision::Ended));
        let v = view(record("a", None, None), None, session(500, true));
        assert!(matches!(rotated(&v, 100, 10, Wrong), RefreshDecision::Ended));
    }
}
