//! ES256 signing keys and their lifecycle: generated, pre-published, active, retired,
//! withdrawn; persisted, published as a JWK Set, rotated on a schedule, by the CLI, by the
//! API, and in an emergency.
//!
//! States (`KeyState`):
//! - *next*: in the JWKS for `--key-prepublication` seconds before it signs anything, so
//!   every edge that revalidates its keys (every `sync_interval`) knows it first;
//! - *active*: signs new tokens and filters (exactly one);
//! - *retired*: replaced; published until every token and filter it signed has expired:
//!   `publish_until = retired_at + access_ttl + clock_tolerance + revocation_ttl +
//!   revocation_interval` (the last term: other nodes, and a running origin after a CLI
//!   change, sign with it until their next reload);
//! - *withdrawn*: compromised; never published again, never signs, private key wiped.
//!
//! Transitions are decided by the pure [`plan`] and applied by the store, each in one
//! transaction; every node applies due transitions and reloads on its rebuild beat, so
//! the schedule lives in the database and survives restarts.

use crate::config::Config;
use crate::store::{EmergencyOutcome, EmergencyRotation, KeyState, Store, StoreError, StoredKey, WithdrawTarget};
use crate::tokens::{random_bytes, strong_etag};
use edgetoken::sign::{public_jwk, thumbprint};
use edgetoken::{KeySet, Policy, Verifier};
use p256::ecdsa::SigningKey;
use std::sync::{Arc, Mutex, RwLock};

/// The keys in force at one moment.
pub struct KeyRing {
    /// The key that signs new tokens and filters.
    pub active: SigningKey,
    /// Its kid.
    pub active_kid: String,
    /// `{"keys":[...]}` of every published key (next, active, retired still published).
    pub jwks_json: String,
    /// Strong ETag of `jwks_json`.
    pub jwks_etag: String,
    /// A core verifier over the published keys (the origin authenticates its own tokens
    /// with exactly what an edge runs; a next key is included because another node may
    /// have promoted it before this one reloads).
    pub verifier: Verifier,
}

/// The lifecycle settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    /// How long a next key is published before it signs (seconds).
    pub prepublication: u64,
    /// Scheduled rotation period (seconds); 0 turns the schedule off.
    pub rotation_interval: u64,
    /// How long a retired key stays published after its retirement (seconds).
    pub retire_grace: u64,
}

impl KeyPolicy {
    /// The policy of `config`.
    pub fn from_config(c: &Config) -> Self {
        KeyPolicy {
            prepublication: c.key_prepublication,
            rotation_interval: c.key_rotation_interval,
            // Its last token carries an iat up to KILL_SWITCH_MAX_AHEAD past the retirement
            // (cut-offs run ahead of the clock) and is accepted by a lagging edge until
            // iat + revocation window; its last filter, built up to one rebuild interval
            // later by a node that has not reloaded yet, lives revocation_ttl.
            retire_grace: c.revocation_window()
                + crate::store::KILL_SWITCH_MAX_AHEAD
                + c.revocation_ttl
                + c.revocation_interval,
        }
    }
}

/// A due lifecycle transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The next key's pre-publication is over: it becomes active, the active key retires.
    Promote,
    /// The schedule says rotate: publish a next key that activates at `activates_at`.
    ScheduleNext {
        /// When the new key starts signing.
        activates_at: u64,
    },
}

/// The transition due at `now` for the stored keys, if any (pure: the store applies it).
///
/// The schedule: a next key is published `prepublication` seconds before the active key
/// has been active for `rotation_interval` seconds; if the origin was down at that moment,
/// as soon as it runs again (the new key is still pre-published in full).
pub fn plan(keys: &[StoredKey], now: u64, policy: &KeyPolicy) -> Option<Step> {
    if let Some(next) = keys.iter().find(|k| k.state == KeyState::Next) {
        return (next.activates_at <= now).then_some(Step::Promote);
    }
    let publish_at = scheduled_publication(keys, policy)?;
    (now >= publish_at).then(|| Step::ScheduleNext { activates_at: now.saturating_add(policy.prepublication) })
}

/// When the schedule publishes the next key: `None` while a next key is pending or when
/// the schedule is off.
pub fn scheduled_publication(keys: &[StoredKey], policy: &KeyPolicy) -> Option<u64> {
    if policy.rotation_interval == 0 || keys.iter().any(|k| k.state == KeyState::Next) {
        return None;
    }
    let active = keys.iter().find(|k| k.state == KeyState::Active)?;
    Some(active.activates_at.saturating_add(policy.rotation_interval).saturating_sub(policy.prepublication))
}

/// Whether `k` is in the JWKS at `now`.
pub fn published(k: &StoredKey, now: u64) -> bool {
    match k.state {
        KeyState::Next | KeyState::Active => true,
        KeyState::Retired => k.publish_until.is_some_and(|until| now < until),
        KeyState::Withdrawn => false,
    }
}

/// Generates a fresh P-256 key from OS randomness.
pub fn generate() -> SigningKey {
    loop {
        // A random 32-byte string is a valid scalar except with probability ~2^-32.
        if let Ok(key) = SigningKey::from_slice(&random_bytes::<32>()) {
            return key;
        }
    }
}

/// Builds a stored key record for a new key that starts signing at `activates_at`.
pub fn new_stored(now: u64, activates_at: u64) -> StoredKey {
    let key = generate();
    StoredKey {
        kid: thumbprint(key.verifying_key()),
        private_key: key.to_bytes().to_vec(),
        created_at: now,
        state: KeyState::Next,
        activates_at,
        retired_at: None,
        publish_until: None,
        withdrawn_at: None,
    }
}

/// What a routine rotation request did.
#[derive(Clone, Debug)]
pub struct Rotation {
    /// The next key (new, or the one already pending).
    pub next: StoredKey,
    /// False when a next key was already pending: the request changed nothing.
    pub created: bool,
}

/// What an emergency rotation did.
#[derive(Clone, Debug)]
pub struct Emergency {
    /// The fresh active key's kid.
    pub kid: String,
    /// The kids withdrawn.
    pub withdrawn: Vec<String>,
    /// The global `not_before` set (past every token minted before the emergency).
    pub not_before: u64,
    /// Sessions revoked (0 unless asked).
    pub sessions_revoked: u64,
}

/// Why an emergency rotation was refused.
#[derive(Debug)]
pub enum EmergencyError {
    /// No key with this kid is published or pending.
    UnknownKid,
    /// Kill switches in quick succession: the cut-off would run too far ahead of the clock;
    /// nothing changed, retry in a second.
    RetryLater,
    /// The store failed; nothing changed.
    Store(StoreError),
}

impl From<StoreError> for EmergencyError {
    fn from(e: StoreError) -> Self {
        EmergencyError::Store(e)
    }
}

/// The origin's key manager: applies due transitions and reloads from the store, so keys
/// changed by another node or by the CLI are picked up.
pub struct Keys {
    ring: RwLock<Arc<KeyRing>>,
    // One reload at a time: a reload that read the store before a change (an emergency
    // rotation by a request) must not install its older ring after the newer one.
    reload_lock: Mutex<()>,
    policy: KeyPolicy,
    verifier_spec: VerifierSpec,
    revocation_window: u64,
}

/// What the origin's own verifier checks (issuer, audience, lifetime, tolerance).
#[derive(Clone, Debug)]
struct VerifierSpec {
    issuer: String,
    audience: String,
    access_ttl: u64,
    clock_tolerance: u64,
}

fn bad_key(kid: &str) -> StoreError {
    StoreError::Backend(format!("stored signing key {kid} is not a valid P-256 scalar"))
}

impl Keys {
    /// Loads the keys (creating the first one, applying due transitions).
    pub fn load(store: &dyn Store, now: u64, config: &Config) -> Result<Self, StoreError> {
        let policy = KeyPolicy::from_config(config);
        let verifier_spec = VerifierSpec {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_ttl: config.access_ttl,
            clock_tolerance: config.clock_tolerance,
        };
        let ring = advance(store, now, &policy, &verifier_spec)?;
        Ok(Keys {
            ring: RwLock::new(Arc::new(ring)),
            reload_lock: Mutex::new(()),
            policy,
            verifier_spec,
            revocation_window: config.revocation_window(),
        })
    }

    /// The lifecycle policy.
    pub fn policy(&self) -> KeyPolicy {
        self.policy
    }

    /// The keys in force.
    pub fn current(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies the transitions due at `now` (promotion, scheduled rotation), then re-reads
    /// the keys. Returns whether the active key changed (the filter must be re-signed).
    pub fn reload(&self, store: &dyn Store, now: u64) -> Result<bool, StoreError> {
        let _one = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let ring = advance(store, now, &self.policy, &self.verifier_spec)?;
        let mut slot = self.ring.write().unwrap_or_else(|p| p.into_inner());
        let changed = slot.active_kid != ring.active_kid;
        *slot = Arc::new(ring);
        Ok(changed)
    }

    /// A routine rotation: publishes a next key that starts signing after the
    /// pre-publication. If a next key is already pending, it is returned unchanged
    /// (`created: false`): a second request neither restarts nor shortens its
    /// pre-publication, so repeated requests (two admins, a retried call) rotate once.
    pub fn rotate(&self, store: &dyn Store, now: u64) -> Result<Rotation, StoreError> {
        let (next, created) = store.add_next_key(&new_stored(now, now.saturating_add(self.policy.prepublication)))?;
        self.reload(store, now)?;
        Ok(Rotation { next, created })
    }

    /// The emergency procedure: withdraws `target` (and any pending next key) from the JWKS
    /// at once, activates a fresh key at once, sets the global `not_before` (the kill switch) and
    /// optionally revokes every session, in one transaction; then reloads.
    pub fn emergency(&self, store: &dyn Store, now: u64, target: WithdrawTarget, revoke_sessions: bool)
        -> Result<Emergency, EmergencyError> {
        let fresh = new_stored(now, now);
        let rotation = EmergencyRotation {
            fresh: &fresh,
            withdraw: target,
            now,
            retired_publish_until: now.saturating_add(self.policy.retire_grace),
            window: self.revocation_window,
            revoke_sessions,
        };
        match store.emergency_rotate(&rotation)? {
            EmergencyOutcome::UnknownKid => Err(EmergencyError::UnknownKid),
            EmergencyOutcome::RetryLater => Err(EmergencyError::RetryLater),
            EmergencyOutcome::Rotated { withdrawn, not_before, sessions_revoked } => {
                self.reload(store, now)?;
                Ok(Emergency { kid: fresh.kid, withdrawn, not_before, sessions_revoked })
            }
        }
    }
}

/// Applies the due transitions and builds the ring from what is stored then.
fn advance(store: &dyn Store, now: u64, policy: &KeyPolicy, spec: &VerifierSpec) -> Result<KeyRing, StoreError> {
    let mut stored = store.signing_keys()?;
    if !stored.iter().any(|k| k.state == KeyState::Active) {
        store.ensure_active_key(&new_stored(now, now))?;
        stored = store.signing_keys()?;
    }
    // At most two steps: a due promotion, then (if the schedule is already due for the
    // new key, e.g. after a long outage) publishing its successor.
    for _ in 0..2 {
        match plan(&stored, now, policy) {
            Some(Step::Promote) => {
                store.promote_next_key(now, now.saturating_add(policy.retire_grace))?;
            }
            Some(Step::ScheduleNext { activates_at }) => {
                store.add_next_key(&new_stored(now, activates_at))?;
            }
            None => break,
        }
        stored = store.signing_keys()?;
    }
    build(&stored, now, spec)
}

fn build(stored: &[StoredKey], now: u64, spec: &VerifierSpec) -> Result<KeyRing, StoreError> {
    let active = stored.iter().find(|k| k.state == KeyState::Active).ok_or_else(|| bad_key("(none active)"))?;
    let active_key = SigningKey::from_slice(&active.private_key).map_err(|_| bad_key(&active.kid))?;
    // Newest first: the next key, the active key, then retired keys still published.
    let mut jwks = Vec::new();
    for k in stored.iter().filter(|k| published(k, now)) {
        let sk = SigningKey::from_slice(&k.private_key).map_err(|_| bad_key(&k.kid))?;
        jwks.push(public_jwk(sk.verifying_key(), Some(&k.kid)));
        if jwks.len() == edgetoken::keys::MAX_KEYS {
            break;
        }
    }
    // The core's public_jwk writes complete JSON objects; the set is their list.
    let jwks_json = format!(r#"{{"keys":[{}]}}"#, jwks.join(","));
    let verifier = verifier_for(&jwks_json, spec)?;
    Ok(KeyRing {
        active: active_key,
        active_kid: active.kid.clone(),
        jwks_etag: strong_etag("jwks", jwks_json.as_bytes()),
        jwks_json,
        verifier,
    })
}

fn verifier_for(jwks: &str, spec: &VerifierSpec) -> Result<Verifier, StoreError> {
    let set = KeySet::from_jwks_json(jwks).map_err(|e| StoreError::Backend(format!("JWKS refused by the core: {e:?}")))?;
    let policy = Policy::new(&spec.issuer, [&spec.audience])
        .with_max_token_lifetime(spec.access_ttl)
        .with_clock_tolerance(spec.clock_tolerance);
    Verifier::new(policy, set).map_err(|e| StoreError::Backend(format!("verifier policy refused: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: KeyPolicy = KeyPolicy { prepublication: 3600, rotation_interval: 10_000, retire_grace: 1027 };

    fn key(state: KeyState, activates_at: u64) -> StoredKey {
        StoredKey {
            kid: format!("{state:?}"),
            private_key: Vec::new(),
            created_at: 0,
            state,
            activates_at,
            retired_at: None,
            publish_until: None,
            withdrawn_at: None,
        }
    }

    #[test]
    fn a_next_key_is_promoted_exactly_when_its_prepublication_ends() {
        let keys = [key(KeyState::Next, 5000), key(KeyState::Active, 0)];
        assert_eq!(plan(&keys, 4999, &POLICY), None);
        assert_eq!(plan(&keys, 5000, &POLICY), Some(Step::Promote));
        assert_eq!(plan(&keys, 99_999, &POLICY), Some(Step::Promote));
    }

    #[test]
    fn the_schedule_prepublishes_before_the_active_key_reaches_the_interval() {
        let keys = [key(KeyState::Active, 1000), key(KeyState::Retired, 0), key(KeyState::Withdrawn, 0)];
        // Published `prepublication` before activates_at + interval.
        assert_eq!(plan(&keys, 1000 + 10_000 - 3601, &POLICY), None);
        assert_eq!(plan(&keys, 1000 + 10_000 - 3600, &POLICY), Some(Step::ScheduleNext { activates_at: 1000 + 10_000 }));
        // After an outage the new key is still pre-published in full.
        assert_eq!(plan(&keys, 50_000, &POLICY), Some(Step::ScheduleNext { activates_at: 53_600 }));
        // A pending next key is not doubled; an interval of 0 turns the schedule off.
        let pending = [key(KeyState::Next, 60_000), key(KeyState::Active, 1000)];
        assert_eq!(plan(&pending, 50_000, &POLICY), None);
        assert_eq!(plan(&keys, 50_000, &KeyPolicy { rotation_interval: 0, ..POLICY }), None);
    }

    #[test]
    fn publication_by_state() {
        let mut retired = key(KeyState::Retired, 0);
        retired.publish_until = Some(100);
        assert!(published(&retired, 99) && !published(&retired, 100));
        assert!(published(&key(KeyState::Next, 5), 0) && published(&key(KeyState::Active, 0), 0));
        assert!(!published(&key(KeyState::Withdrawn, 0), 0));
        assert!(!published(&key(KeyState::Retired, 0), 0), "a retired key without an end is not published");
    }
}
