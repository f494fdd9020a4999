//! Session policy: start, refresh (rotation, grace, reuse detection), timeouts, revocation.
//!
//! The decisions live here; the store applies them atomically. Rules (issue 4):
//! - A session ends at `min(created + absolute, last_seen + idle)`, where idle is the
//!   sensitive timeout for admin sessions and sessions after a step-up. An ended session
//!   never refreshes again.
//! - Refresh tokens rotate on every use. The token that was *just* replaced is honoured
//!   for `refresh_grace` seconds after its rotation and yields the same successor (so
//!   parallel tabs converge on one chain). Anything else that was already rotated is
//!   reuse: the whole session is revoked.

use crate::app::App;
use crate::store::{
    RefreshDecision, RefreshOutcome, RefreshRecord, RefreshView, Role, Session, StoreError, User,
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

/// The refresh decision, a pure function of what the store read (unit-tested below).
pub fn decide(view: &RefreshView, now: u64, grace: u64, ends_at: u64, successor: impl FnOnce() -> RefreshRecord)
    -> RefreshDecision {
    if !view.session.is_active(now) {
        return RefreshDecision::Ended;
    }
    match view.record.rotated_at {
        None => RefreshDecision::Rotate { successor: successor(), ends_at },
        Some(rotated_at) => {
            // Inclusive, at one-second resolution; a grace of 0 turns the grace off (it
            // would otherwise still cover the rest of the rotation's second).
            let in_grace = grace > 0 && now <= rotated_at.saturating_add(grace);
            // Only the just-replaced token: its successor must still be the current one.
            let successor_is_current = view.successor.as_ref().is_some_and(|s| s.rotated_at.is_none());
            if in_grace && successor_is_current {
                RefreshDecision::Reissue { ends_at }
            } else {
                RefreshDecision::Reuse
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
    };
    (record, token)
}

/// Mints an access token for `session`.
pub fn mint_access(app: &App, session: &Session, now: u64) -> (String, u64) {
    let ring = app.keys.current();
    let exp = now + app.config.access_ttl;
    let claims = AccessClaims {
        iss: &app.config.issuer,
        aud: &app.config.audience,
        sub: &session.user_id,
        sid: &session.id,
        jti: tokens::random_id(),
        iat: now,
        exp,
    };
    (tokens::sign_access_token(&ring.active, &ring.active_kid, &claims), exp)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A new session row for `user` (not yet stored) and its first refresh record and token.
pub fn new_session(app: &App, user: &User, user_agent: &str, ip: &str, now: u64) -> (Session, RefreshRecord, String) {
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
    };
    session.ends_at = ends_at(app, &session, now);
    let (record, token) = new_refresh(app, &session.id, now);
    (session, record, token)
}

/// Starts a session for `user` (after the password was checked).
pub fn start(app: &App, user: &User, user_agent: &str, ip: &str) -> Result<Issued, StoreError> {
    let now = app.now();
    let (session, record, refresh_token) = new_session(app, user, user_agent, ip, now);
    app.store.create_session(&session, &record)?;
    let (access_token, access_expires_at) = mint_access(app, &session, now);
    Ok(Issued { session, access_token, access_expires_at, refresh_token })
}

/// Redeems a refresh token: rotates it, or within the grace hands out the same successor.
pub fn refresh(app: &App, token: &str) -> Result<Issued, RefreshError> {
    let now = app.now();
    let hash = tokens::refresh_hash(token);
    let grace = app.config.refresh_grace;
    let outcome = app.store.refresh(&hash, now, app.config.revocation_window(), &mut |view| {
        let ends = ends_at(app, &view.session, now);
        decide(view, now, grace, ends, || new_refresh(app, &view.session.id, now).0)
    })?;
    match outcome {
        RefreshOutcome::Unknown => Err(RefreshError::Unknown),
        RefreshOutcome::Ended => Err(RefreshError::Ended),
        RefreshOutcome::ReuseRevoked { .. } => {
            app.revocations.mark_dirty();
            Err(RefreshError::Reuse)
        }
        RefreshOutcome::Issued { session, current } => {
            // Re-derived from the stored nonce: the same token for every caller in the grace.
            let refresh_token = tokens::refresh_token(&app.refresh_secret, &current.id, &current.nonce);
            let (access_token, access_expires_at) = mint_access(app, &session, now);
            Ok(Issued { session, access_token, access_expires_at, refresh_token })
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

/// Revokes every session of a user and sets the user's `not_before`.
pub fn revoke_user(app: &App, user_id: &str, reason: &str) -> Result<u64, StoreError> {
    let n = app.store.revoke_user(user_id, app.now(), reason, app.config.revocation_window(), None, None)?;
    app.revocations.mark_dirty();
    Ok(n)
}

/// The kill switch: every access token issued before now is refused, at the origin at once
/// and at every edge with the next filter (global `not_before`). With `sessions`, every
/// active session is revoked too, so everyone signs in again; without, sessions may refresh
/// and get tokens issued after the cut-off. Returns the cut-off and the sessions revoked.
pub fn revoke_all(app: &App, sessions: bool) -> Result<(u64, u64), StoreError> {
    let now = app.now();
    app.store.add_revocation(crate::store::RevocationKind::GlobalNotBefore, "", now, app.config.revocation_window())?;
    let revoked = if sessions { app.store.revoke_all_sessions(now, "revoke_all")? } else { 0 };
    app.revocations.mark_dirty();
    Ok((now, revoked))
}

/// Sets a new password hash, revokes every session of the user (and sets `not_before`),
/// then starts a fresh session for the caller, in one transaction.
pub fn change_password(app: &App, user: &User, new_hash: &str, user_agent: &str, ip: &str)
    -> Result<Issued, StoreError> {
    let now = app.now();
    let (session, record, refresh_token) = new_session(app, user, user_agent, ip, now);
    app.store.revoke_user(
        &user.id,
        now,
        "password_change",
        app.config.revocation_window(),
        Some(new_hash),
        Some((&session, &record)),
    )?;
    app.revocations.mark_dirty();
    let (access_token, access_expires_at) = mint_access(app, &session, now);
    Ok(Issued { session, access_token, access_expires_at, refresh_token })
}

/// Marks a session sensitive after a step-up: its idle timeout becomes the short one.
pub fn step_up(app: &App, session: &Session) -> Result<u64, StoreError> {
    let now = app.now();
    let mut s = session.clone();
    s.sensitive = true;
    let ends = ends_at(app, &s, now);
    app.store.mark_sensitive(&s.id, ends)?;
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
        }
    }

    fn view(rec: RefreshRecord, succ: Option<RefreshRecord>, s: Session) -> RefreshView {
        RefreshView { record: rec, session: s, successor: succ }
    }

    #[test]
    fn current_token_rotates() {
        let v = view(record("a", None, None), None, session(500, false));
        assert!(matches!(decide(&v, 100, 10, 200, || record("b", None, None)), RefreshDecision::Rotate { .. }));
    }

    #[test]
    fn just_replaced_token_in_grace_reissues_and_after_grace_is_reuse() {
        let v = view(record("a", Some(100), Some("b")), Some(record("b", None, None)), session(500, false));
        assert!(matches!(decide(&v, 110, 10, 200, || unreachable!()), RefreshDecision::Reissue { .. }));
        assert!(matches!(decide(&v, 111, 10, 200, || unreachable!()), RefreshDecision::Reuse));
    }

    #[test]
    fn grace_zero_is_no_grace_even_in_the_same_second() {
        let v = view(record("a", Some(100), Some("b")), Some(record("b", None, None)), session(500, false));
        assert!(matches!(decide(&v, 100, 0, 200, || unreachable!()), RefreshDecision::Reuse));
        assert!(matches!(decide(&v, 100, 1, 200, || unreachable!()), RefreshDecision::Reissue { .. }));
    }

    #[test]
    fn older_token_is_reuse_even_in_grace() {
        // a -> b -> c: presenting a while b was already replaced.
        let v = view(record("a", Some(100), Some("b")), Some(record("b", Some(101), Some("c"))), session(500, false));
        assert!(matches!(decide(&v, 102, 10, 200, || unreachable!()), RefreshDecision::Reuse));
    }

    #[test]
    fn ended_session_never_refreshes() {
        let v = view(record("a", None, None), None, session(100, false));
        assert!(matches!(decide(&v, 100, 10, 200, || unreachable!()), RefreshDecision::Ended));
        let v = view(record("a", None, None), None, session(500, true));
        assert!(matches!(decide(&v, 100, 10, 200, || unreachable!()), RefreshDecision::Ended));
    }
}
