//! The one entry point: composes token, header, keys, signature and claims.

use crate::claims::{self, Claims};
use crate::error::Error;
use crate::header;
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::revocation::{RevocationList, RevocationStatus};
use crate::signature;
use crate::time::UnixTime;
use crate::token;
use alloc::vec::Vec;
#[cfg(feature = "std")]
use crate::cache::{CacheLimits, TokenCache};

/// Verifies ES256 access tokens against a [`Policy`] and a [`KeySet`].
///
/// With the `std` feature a verifier keeps a bounded cache of the tokens it verified
/// ([`crate::cache`]); a clone starts with an empty cache.
#[derive(Clone, Debug)]
pub struct Verifier {
    policy: Policy,
    keys: KeySet,
    revocations: Option<RevocationList>,
    revocation_required: bool,
    #[cfg(feature = "std")]
    cache: CacheCell,
}

/// The token cache behind a lock (`verify` takes `&self` and a verifier is `Sync`).
#[cfg(feature = "std")]
#[derive(Debug)]
struct CacheCell(std::sync::Mutex<TokenCache>);

#[cfg(feature = "std")]
impl CacheCell {
    fn new(limits: CacheLimits) -> Self {
        CacheCell(std::sync::Mutex::new(TokenCache::new(limits)))
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenCache> {
        // The cache holds no invariant a panic elsewhere could break; a poisoned lock is
        // recovered after clearing it.
        self.0.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            guard.clear();
            guard
        })
    }
}

#[cfg(feature = "std")]
impl Clone for CacheCell {
    fn clone(&self) -> Self {
        CacheCell::new(self.lock().limits())
    }
}

impl Verifier {
    /// A verifier; refuses an invalid policy with [`crate::ErrorCode::InvalidConfig`].
    pub fn new(policy: Policy, keys: KeySet) -> Result<Self, Error> {
        policy.validate()?;
        Ok(Verifier {
            policy,
            keys,
            revocations: None,
            revocation_required: false,
            #[cfg(feature = "std")]
            cache: CacheCell::new(CacheLimits::default()),
        })
    }

    /// Sets the token cache's limits (and empties it); [`CacheLimits::DISABLED`] turns it off.
    #[cfg(feature = "std")]
    pub fn set_cache_limits(&mut self, limits: CacheLimits) {
        self.cache = CacheCell::new(limits);
    }

    /// The token cache's limits.
    #[cfg(feature = "std")]
    pub fn cache_limits(&self) -> CacheLimits {
        self.cache.lock().limits()
    }

    /// Entries and bytes currently in the token cache.
    #[cfg(feature = "std")]
    pub fn cache_usage(&self) -> (usize, usize) {
        let c = self.cache.lock();
        (c.len(), c.bytes())
    }

    /// Empties the token cache.
    #[cfg(feature = "std")]
    pub fn clear_cache(&self) {
        self.cache.lock().clear();
    }

    /// Requires a fresh revocation filter: while none is loaded, or once it is stale,
    /// every token is refused with `revocations_stale` (fail closed).
    pub fn set_revocation_required(&mut self, required: bool) {
        self.revocation_required = required;
    }

    /// Whether a fresh revocation filter is required.
    pub fn revocation_required(&self) -> bool {
        self.revocation_required
    }

    /// Installs a revocation artifact after checking its signature (with a key of this
    /// verifier's key set), its issuer, its freshness at `now`, and that its sequence is
    /// not lower than the one held (rollback). On error the previous filter stays.
    pub fn set_revocations(&mut self, bytes: &[u8], now: UnixTime) -> Result<RevocationStatus, Error> {
        let list = RevocationList::verify(bytes, &self.keys, &self.policy.issuer)?;
        if list.is_stale(now) {
            return Err(Error::new(
                crate::ErrorCode::RevocationsStale,
                "revocation filter is already past its not_after",
            ));
        }
        if let Some(held) = &self.revocations {
            if list.sequence() < held.sequence() {
                return Err(Error::new(
                    crate::ErrorCode::RevocationsRollback,
                    alloc::format!(
                        "revocation filter sequence {} is lower than the held {}",
                        list.sequence(),
                        held.sequence()
                    ),
                ));
            }
        }
        let status = list.status(now);
        self.revocations = Some(list);
        Ok(status)
    }

    /// Whether the loaded filter revokes a token with these ids (`None`: no filter loaded).
    /// Staleness is not considered; [`Verifier::verify`] handles it.
    pub fn revocation_reason(&self, ids: &crate::revocation::TokenIds<'_>) -> Option<Option<&'static str>> {
        self.revocations.as_ref().map(|r| r.revocation_reason(ids, self.policy.clock_tolerance))
    }

    /// The loaded filter's status at `now`, or `None` if none was ever loaded.
    pub fn revocation_status(&self, now: UnixTime) -> Option<RevocationStatus> {
        self.revocations.as_ref().map(|r| r.status(now))
    }

    /// Replaces the key set (key rotation) and empties the token cache. A key also in the
    /// old set keeps its fast-path table.
    #[allow(unused_mut)]
    pub fn set_keys(&mut self, mut keys: KeySet) {
        #[cfg(feature = "std")]
        {
            keys.adopt_tables_from(&self.keys);
            self.cache.lock().clear();
        }
        self.keys = keys;
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The keys in force.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Verifies `token` at time `now` and returns its claims.
    ///
    /// Steps, cheapest and most decisive first: size limit and decoding, header policy
    /// (alg allowlist before anything else), key selection, signature, claims, revocation.
    ///
    /// A token this verifier already accepted is found in its cache: only `iss`, `aud`,
    /// the time checks and revocation run again (they are the checks whose outcome can
    /// change); see [`crate::cache`].
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<Claims, Error> {
        #[cfg(feature = "std")]
        {
            let hit = self.cache.lock().get(token);
            if let Some(claims) = hit {
                let checked = crate::cache::recheck(&claims, &self.policy, now)
                    .and_then(|()| self.check_revocation(&claims, now));
                if let Err(e) = &checked {
                    if e.code() == crate::ErrorCode::Expired {
                        self.cache.lock().remove(token);
                    }
                }
                return checked.map(|()| claims);
            }
        }
        let payload = self.verify_signature(token)?;
        let claims = claims::check(payload, &self.policy, now)?;
        self.check_revocation(&claims, now)?;
        #[cfg(feature = "std")]
        self.cache.lock().insert(token, &claims);
        Ok(claims)
    }

    /// Step 6: revocation. Fails closed when a filter is required but missing or stale.
    fn check_revocation(&self, claims: &Claims, now: UnixTime) -> Result<(), Error> {
        match &self.revocations {
            None if self.revocation_required => Err(Error::new(
                crate::ErrorCode::RevocationsStale,
                "a revocation filter is required and none has been loaded",
            )),
            None => Ok(()),
            Some(list) if self.revocation_required && list.is_stale(now) => Err(Error::new(
                crate::ErrorCode::RevocationsStale,
                "the revocation filter is past its not_after",
            )),
            // A stale filter on a verifier that does not require one still knows of real
            // revocations; consulting it can only refuse more.
            Some(list) => list.check(claims, self.policy.clock_tolerance),
        }
    }

    /// Steps 1–4 only (no claims policy): returns the signed payload bytes.
    ///
    /// For non-JWT JWS payloads and test vectors. Access tokens must go through
    /// [`Verifier::verify`], which also checks issuer, audience and time.
    pub fn verify_signature(&self, token: &str) -> Result<Vec<u8>, Error> {
        let jws = token::decode(token, self.policy.max_token_size)?;
        let header = header::check(&jws.header, &self.policy.algorithms, self.policy.typ.as_deref())?;
        let key = self.keys.select(header.kid.as_deref())?;
        signature::verify_es256(key, jws.signing_input.as_bytes(), &jws.signature)?;
        Ok(jws.payload)
    }
}
