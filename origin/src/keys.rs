//! ES256 signing keys: generated on first start, persisted, published as a JWK Set, rotated.
//!
//! Rotation retires the active key but keeps publishing it until every token (and
//! revocation filter) it signed has expired: `publish_until = now + access_ttl + clock
//! tolerance + filter ttl`.

use crate::store::{Store, StoreError, StoredKey};
use crate::tokens::{b64, random_bytes, sha256};
use edgetoken::{KeySet, Policy, Verifier};
use p256::ecdsa::{SigningKey, VerifyingKey};
use std::sync::{Arc, RwLock};

/// The keys in force at one moment.
pub struct KeyRing {
    /// The key that signs new tokens and filters.
    pub active: SigningKey,
    /// Its kid.
    pub active_kid: String,
    /// `{"keys":[...]}` of every published key.
    pub jwks_json: String,
    /// A core verifier over the published keys (the origin authenticates its own tokens
    /// with exactly what an edge runs).
    pub verifier: Verifier,
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

fn coordinates(vk: &VerifyingKey) -> (String, String) {
    let point = vk.to_sec1_point(false);
    let x = point.x().map(|x| b64(x.as_slice())).unwrap_or_default();
    let y = point.y().map(|y| b64(y.as_slice())).unwrap_or_default();
    (x, y)
}

/// RFC 7638 JWK thumbprint: the key's id.
pub fn thumbprint(vk: &VerifyingKey) -> String {
    let (x, y) = coordinates(vk);
    // Members in lexicographic order, no whitespace, as RFC 7638 requires.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    b64(&sha256(canonical.as_bytes()))
}

/// The public JWK of `vk`.
pub fn public_jwk(vk: &VerifyingKey, kid: &str) -> serde_json::Value {
    let (x, y) = coordinates(vk);
    serde_json::json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig" })
}

/// Builds a stored key record for a new key.
pub fn new_stored(now: u64) -> StoredKey {
    let key = generate();
    StoredKey {
        kid: thumbprint(key.verifying_key()),
        private_key: key.to_bytes().to_vec(),
        created_at: now,
        retired_at: None,
        publish_until: None,
    }
}

/// The origin's key manager: reloads from the store, so keys rotated by another node or
/// by the CLI are picked up.
pub struct Keys {
    ring: RwLock<Arc<KeyRing>>,
    issuer: String,
    audience: String,
    access_ttl: u64,
    clock_tolerance: u64,
}

fn bad_key(kid: &str) -> StoreError {
    StoreError::Backend(format!("stored signing key {kid} is not a valid P-256 scalar"))
}

impl Keys {
    /// Loads the keys, creating the first one if the store has none.
    pub fn load(store: &dyn Store, now: u64, issuer: &str, audience: &str, access_ttl: u64, clock_tolerance: u64)
        -> Result<Self, StoreError> {
        let ring = build(&fetch(store, now)?, now, issuer, audience, access_ttl, clock_tolerance)?;
        Ok(Keys {
            ring: RwLock::new(Arc::new(ring)),
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl,
            clock_tolerance,
        })
    }

    /// The keys in force.
    pub fn current(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-reads the keys from the store (creating one if none is active).
    pub fn reload(&self, store: &dyn Store, now: u64) -> Result<(), StoreError> {
        let ring = build(&fetch(store, now)?, now, &self.issuer, &self.audience, self.access_ttl, self.clock_tolerance)?;
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        Ok(())
    }

    /// Generates a new active key; the previous one stays published for `publish_grace`
    /// seconds (at least the access-token lifetime plus tolerance).
    pub fn rotate(&self, store: &dyn Store, now: u64, publish_grace: u64) -> Result<String, StoreError> {
        let key = new_stored(now);
        let kid = key.kid.clone();
        store.rotate_in_key(&key, now + publish_grace.max(self.access_ttl + self.clock_tolerance))?;
        self.reload(store, now)?;
        Ok(kid)
    }
}

/// Stored keys, creating an active one if none is.
fn fetch(store: &dyn Store, now: u64) -> Result<Vec<StoredKey>, StoreError> {
    let stored = store.signing_keys()?;
    if stored.iter().any(|k| k.retired_at.is_none()) {
        return Ok(stored);
    }
    store.rotate_in_key(&new_stored(now), now)?;
    store.signing_keys()
}

fn build(stored: &[StoredKey], now: u64, issuer: &str, audience: &str, ttl: u64, tolerance: u64)
    -> Result<KeyRing, StoreError> {
    // Newest unretired key signs; published are it and retired keys still in their grace.
    let active = stored.iter().find(|k| k.retired_at.is_none()).ok_or_else(|| bad_key("(none)"))?;
    let active_key = SigningKey::from_slice(&active.private_key).map_err(|_| bad_key(&active.kid))?;
    let mut jwks = Vec::new();
    for k in stored {
        if k.retired_at.is_some() && k.publish_until.is_some_and(|until| until <= now) {
            continue;
        }
        let sk = SigningKey::from_slice(&k.private_key).map_err(|_| bad_key(&k.kid))?;
        jwks.push(public_jwk(sk.verifying_key(), &k.kid));
        if jwks.len() == edgetoken::keys::MAX_KEYS {
            break;
        }
    }
    let jwks_json = serde_json::json!({ "keys": jwks }).to_string();
    let verifier = verifier_for(&jwks_json, issuer, audience, ttl, tolerance)?;
    Ok(KeyRing { active: active_key, active_kid: active.kid.clone(), jwks_json, verifier })
}

fn verifier_for(jwks: &str, issuer: &str, audience: &str, ttl: u64, tolerance: u64) -> Result<Verifier, StoreError> {
    let set = KeySet::from_jwks_json(jwks).map_err(|e| StoreError::Backend(format!("JWKS refused by the core: {e:?}")))?;
    let policy = Policy::new(issuer, [audience]).with_max_token_lifetime(ttl).with_clock_tolerance(tolerance);
    Verifier::new(policy, set).map_err(|e| StoreError::Backend(format!("verifier policy refused: {e:?}")))
}

