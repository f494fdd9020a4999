//! The one entry point: composes token, header, keys, signature, claims and revocation.

use crate::claims::{self, Claims};
use crate::error::Error;
use crate::header;
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::revocation::{RevocationStatus, TokenIds};
use crate::signature;
use crate::sync::{Mutex, RwLock};
use crate::time::UnixTime;
use crate::token;
use crate::trust::{RevocationOptions, TrustState};
use alloc::sync::Arc;
use alloc::vec::Vec;
#[cfg(feature = "cache")]
use crate::cache::{CacheLimits, Entry, TokenCache};

/// Verifies ES256 access tokens against a [`Policy`] and a [`TrustState`].
///
/// The policy (and the token cache's limits) are fixed at construction. The trust state
/// (keys, revocation filter, revocation policy) is held in one cell and replaced whole
/// through [`Verifier::update_trust`] (which [`Verifier::set_keys`] and
/// [`Verifier::set_revocations`] call); a verification reads one snapshot of it, so it
/// never sees new keys with an old filter or the reverse.
///
/// With the `cache` feature a verifier keeps a bounded cache of the tokens it verified
/// ([`crate::cache`]); a clone shares nothing with it (same state, empty cache).
#[derive(Debug)]
pub struct Verifier {
    policy: Policy,
    trust: TrustCell,
    #[cfg(feature = "cache")]
    cache: Mutex<TokenCache>,
}

/// The current trust state: readers clone the `Arc` (no copy of keys or filter), writers
/// are serialized by `update` and swap the `Arc` in one short write.
#[derive(Debug)]
struct TrustCell {
    current: RwLock<Arc<TrustState>>,
    update: Mutex<()>,
}

impl TrustCell {
    fn new(state: TrustState) -> Self {
        TrustCell { current: RwLock::new(Arc::new(state)), update: Mutex::new(()) }
    }

    fn snapshot(&self) -> Arc<TrustState> {
        self.current.read().clone()
    }

    fn update(&self, f: impl FnOnce(&TrustState) -> Result<TrustState, Error>) -> Result<Arc<TrustState>, Error> {
        // One writer at a time, so no update is lost; verifications keep reading the old
        // state while `f` runs (a filter's signature check takes a while).
        let _writer = self.update.lock();
        let next = Arc::new(f(&self.snapshot())?);
        *self.current.write() = next.clone();
        Ok(next)
    }
}

impl Clone for Verifier {
    fn clone(&self) -> Self {
        Verifier {
            policy: self.policy.clone(),
            trust: TrustCell::new((*self.trust.snapshot()).clone()),
            #[cfg(feature = "cache")]
            cache: Mutex::new(TokenCache::new(self.cache.lock().limits())),
        }
    }
}

impl Verifier {
    /// A verifier trusting `keys`, revocation optional. Refuses an invalid policy with
    /// [`crate::ErrorCode::InvalidConfig`].
    pub fn new(policy: Policy, keys: KeySet) -> Result<Self, Error> {
        Self::with_trust(policy, TrustState::new(Some(keys), RevocationOptions::default())?)
    }

    /// A verifier with an initial trust state (which may hold no keys yet: every
    /// verification then fails closed with `keys_unavailable` until keys are set).
    pub fn with_trust(policy: Policy, trust: TrustState) -> Result<Self, Error> {
        policy.validate()?;
        Ok(Verifier {
            policy,
            trust: TrustCell::new(trust),
            #[cfg(feature = "cache")]
            cache: Mutex::new(TokenCache::new(CacheLimits::default())),
        })
    }

    /// The same verifier with other cache limits (and an empty cache);
    /// [`CacheLimits::DISABLED`] turns the cache off.
    #[cfg(feature = "cache")]
    pub fn with_cache_limits(self, limits: CacheLimits) -> Self {
        Verifier { cache: Mutex::new(TokenCache::new(limits)), ..self }
    }

    /// Sets the token cache's limits (and empties it).
    #[cfg(feature = "cache")]
    pub fn set_cache_limits(&mut self, limits: CacheLimits) {
        self.cache = Mutex::new(TokenCache::new(limits));
    }

    /// The token cache's limits.
    #[cfg(feature = "cache")]
    pub fn cache_limits(&self) -> CacheLimits {
        self.cache.lock().limits()
    }

    /// Entries and bytes currently in the token cache.
    #[cfg(feature = "cache")]
    pub fn cache_usage(&self) -> (usize, usize) {
        let c = self.cache.lock();
        (c.len(), c.bytes())
    }

    /// Empties the token cache.
    #[cfg(feature = "cache")]
    pub fn clear_cache(&self) {
        self.cache.lock().clear();
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A snapshot of the trust state in force.
    pub fn trust(&self) -> Arc<TrustState> {
        self.trust.snapshot()
    }

    /// The one path by which the trust state changes: `f` gets the current state and
    /// returns the next one, validated as a unit; it is installed whole, or, if `f`
    /// refuses, nothing changes. Updates are serialized; verifications are not blocked
    /// while `f` runs. Returns the installed state.
    pub fn update_trust(
        &self,
        f: impl FnOnce(&TrustState) -> Result<TrustState, Error>,
    ) -> Result<Arc<TrustState>, Error> {
        self.trust.update(f)
    }

    /// Replaces the key set (rotation); see [`TrustState::with_keys`]: a filter whose
    /// signer left the set is dropped. Cached verifications by a key that left the set
    /// stop counting (each cache hit checks that its key is still trusted).
    pub fn set_keys(&self, keys: KeySet) {
        // `with_keys` cannot fail.
        let _ = self.update_trust(|s| Ok(s.with_keys(keys)));
    }

    /// Installs a signed revocation filter; see [`TrustState::with_revocations`] for the
    /// checks and their codes. On error the previous state stays.
    pub fn set_revocations(&self, bytes: &[u8], now: UnixTime) -> Result<RevocationStatus, Error> {
        let state = self.update_trust(|s| s.with_revocations(bytes, &self.policy, now))?;
        state.revocation_status(now).ok_or_else(|| {
            crate::error::err(crate::ErrorCode::RevocationsInvalid, "the filter was not installed")
        })
    }

    /// Replaces the revocation policy; see [`TrustState::with_options`].
    pub fn set_revocation_options(&self, options: RevocationOptions) -> Result<(), Error> {
        self.update_trust(|s| s.with_options(options)).map(|_| ())
    }

    /// Requires a fresh revocation filter (or not), keeping the maximum filter lifetime.
    pub fn set_revocation_required(&self, required: bool) {
        use crate::trust::RevocationRequirement::{Optional, Required};
        let requirement = if required { Required } else { Optional };
        // Changing only the requirement keeps valid options valid: this cannot fail.
        let _ = self.update_trust(|s| s.with_options(RevocationOptions { requirement, ..s.options() }));
    }

    /// Whether a fresh revocation filter is required.
    pub fn revocation_required(&self) -> bool {
        self.trust().options().requirement == crate::trust::RevocationRequirement::Required
    }

    /// Whether the loaded filter revokes a token with these ids (`None`: no filter loaded).
    /// Staleness is not considered; [`Verifier::verify`] handles it.
    pub fn revocation_reason(&self, ids: &TokenIds<'_>) -> Option<Option<&'static str>> {
        self.trust().revocation_reason(ids, self.policy.clock_tolerance)
    }

    /// The loaded filter's status at `now`, or `None` if none is loaded.
    pub fn revocation_status(&self, now: UnixTime) -> Option<RevocationStatus> {
        self.trust().revocation_status(now)
    }

    /// Verifies `token` at time `now` against the current trust state and returns its
    /// claims.
    ///
    /// Steps, cheapest and most decisive first: size limit and decoding, header policy
    /// (alg allowlist before anything else), key selection, signature, claims, revocation.
    ///
    /// A token this verifier already accepted is found in its cache: only the key's
    /// continued trust, the claims policy (same function as on first sight) and
    /// revocation run again; see [`crate::cache`].
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<Claims, Error> {
        self.verify_with(token, &self.trust.snapshot(), now)
    }

    /// [`Verifier::verify`] against a trust state the caller holds (e.g. one it manages
    /// itself, or a snapshot taken once for several tokens).
    pub fn verify_with(&self, token: &str, trust: &TrustState, now: UnixTime) -> Result<Claims, Error> {
        #[cfg(feature = "cache")]
        {
            let hit = self.cache.lock().get(token);
            if let Some(entry) = hit {
                let keys = trust.require_keys()?;
                if keys.still_trusts(entry.kid.as_deref(), &entry.key) {
                    let checked = claims::check_policy(&entry.claims, &self.policy, now)
                        .and_then(|()| trust.check_revocation(&entry.claims, self.policy.clock_tolerance, now));
                    if let Err(e) = &checked {
                        if e.code() == crate::ErrorCode::Expired {
                            self.cache.lock().remove(token);
                        }
                    }
                    return checked.map(|()| entry.claims);
                }
                // The key that verified it is no longer trusted: verify from scratch.
                self.cache.lock().remove(token);
            }
        }
        let (payload, kid, key) = self.check_signature(token, trust)?;
        let claims = claims::check(payload, &self.policy, now)?;
        trust.check_revocation(&claims, self.policy.clock_tolerance, now)?;
        #[cfg(feature = "cache")]
        self.cache.lock().insert(token, &Entry { claims: claims.clone(), kid, key });
        #[cfg(not(feature = "cache"))]
        let _ = (kid, key);
        Ok(claims)
    }

    /// Steps 1–4 only (no claims policy): returns the signed payload bytes.
    ///
    /// For non-JWT JWS payloads and test vectors. Access tokens must go through
    /// [`Verifier::verify`], which also checks issuer, audience and time.
    pub fn verify_signature(&self, token: &str) -> Result<Vec<u8>, Error> {
        self.check_signature(token, &self.trust.snapshot()).map(|(payload, _, _)| payload)
    }

    /// Steps 1–4: the payload, the token's `kid` and the key that verified it.
    fn check_signature(
        &self,
        token: &str,
        trust: &TrustState,
    ) -> Result<(Vec<u8>, Option<alloc::string::String>, p256::ecdsa::VerifyingKey), Error> {
        let jws = token::decode(token, self.policy.max_token_size)?;
        let header = header::check(&jws.header, &self.policy.algorithms, self.policy.typ.as_deref())?;
        let key = trust.require_keys()?.select(header.kid.as_deref())?;
        signature::verify_es256(key, jws.signing_input.as_bytes(), &jws.signature)?;
        Ok((jws.payload, header.kid, *key.verifying_key()))
    }
}
