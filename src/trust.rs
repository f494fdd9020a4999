//! What an edge trusts, as one value: the keys, the revocation filter checked against
//! them, and the revocation policy.
//!
//! A [`TrustState`] is immutable. Every change is a transition that validates the whole
//! new state and returns it ([`TrustState::with_keys`], [`TrustState::with_revocations`],
//! [`TrustState::with_options`]); a refused change leaves the old state untouched. A
//! [`crate::Verifier`] holds the current state behind one cell and swaps it whole, so a
//! verification reads keys and filter from one consistent snapshot.
//!
//! The invariants every state keeps:
//! - a loaded filter was signed by a key of *this* state's key set (same `kid`, same
//!   point): replacing the keys drops a filter whose signer left the set, and with it the
//!   rollback high-water mark (the filter's sequence), so a filter forged with a key that
//!   was since withdrawn cannot lock out the origin's next genuine one;
//! - a loaded filter lives at most [`RevocationOptions::max_filter_ttl`] seconds
//!   (`not_after - built_at`), so a stolen key cannot mint a filter that stays fresh for
//!   years;
//! - its window covers every token the verifier accepts (checked at load, against the
//!   verifier's policy).

use crate::claims::Claims;
use crate::error::{err, Error, ErrorCode};
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::revocation::{RevocationList, RevocationStatus, TokenIds};
use crate::time::UnixTime;

/// Default largest `not_after - built_at` of a filter an edge accepts: one hour.
pub const DEFAULT_MAX_FILTER_TTL: u64 = 3600;

/// Whether a fresh revocation filter is required to accept a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationRequirement {
    /// Fail closed: while no filter is loaded, or once it is stale, every token is refused
    /// with `revocations_stale`.
    Required,
    /// A loaded filter is consulted (stale or not: it can only refuse more); without one,
    /// tokens are not checked for revocation.
    Optional,
}

/// The revocation policy of a trust state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevocationOptions {
    /// Required or optional.
    pub requirement: RevocationRequirement,
    /// Largest `not_after - built_at` accepted, in seconds (at least 1).
    pub max_filter_ttl: u64,
}

impl Default for RevocationOptions {
    /// Optional, with a one-hour maximum filter lifetime.
    fn default() -> Self {
        RevocationOptions { requirement: RevocationRequirement::Optional, max_filter_ttl: DEFAULT_MAX_FILTER_TTL }
    }
}

impl RevocationOptions {
    /// Required revocation with the default maximum filter lifetime.
    pub fn required() -> Self {
        RevocationOptions { requirement: RevocationRequirement::Required, ..Self::default() }
    }

    fn validate(&self) -> Result<(), Error> {
        if self.max_filter_ttl == 0 {
            return Err(err(ErrorCode::InvalidConfig, "the maximum filter lifetime must be at least 1 second"));
        }
        Ok(())
    }
}

/// Keys + filter + revocation policy, validated as a unit. See the module docs.
#[derive(Clone, Debug)]
pub struct TrustState {
    keys: Option<KeySet>,
    filter: Option<RevocationList>,
    options: RevocationOptions,
}

impl TrustState {
    /// A state with `keys` (or none yet: every verification then fails closed with
    /// `keys_unavailable`) and no filter. Refuses invalid options (`invalid_config`).
    pub fn new(keys: Option<KeySet>, options: RevocationOptions) -> Result<Self, Error> {
        options.validate()?;
        Ok(TrustState { keys, filter: None, options })
    }

    /// The trusted keys, if any were loaded.
    pub fn keys(&self) -> Option<&KeySet> {
        self.keys.as_ref()
    }

    /// The loaded revocation filter, if any.
    pub fn revocations(&self) -> Option<&RevocationList> {
        self.filter.as_ref()
    }

    /// The revocation policy.
    pub fn options(&self) -> RevocationOptions {
        self.options
    }

    /// The state with `keys` in place of the current ones. The loaded filter stays only
    /// if its signer is still trusted (same `kid` selecting the same point); otherwise it
    /// is dropped with its rollback mark, and a verifier requiring revocation fails closed
    /// until a filter signed by a trusted key is loaded. Keys also in the old set keep
    /// their fast-path tables.
    #[allow(unused_mut)]
    pub fn with_keys(&self, mut keys: KeySet) -> TrustState {
        #[cfg(feature = "precomputed-tables")]
        if let Some(old) = &self.keys {
            keys.adopt_tables_from(old);
        }
        let filter = self.filter.as_ref().filter(|f| keys.still_trusts(Some(f.kid()), f.signer())).cloned();
        TrustState { keys: Some(keys), filter, options: self.options }
    }

    /// The state with a new revocation policy. A loaded filter that outlives the new
    /// maximum lifetime is refused (`revocations_too_long_lived`), not silently kept.
    pub fn with_options(&self, options: RevocationOptions) -> Result<TrustState, Error> {
        options.validate()?;
        if let Some(f) = &self.filter {
            check_lifetime(f, &options)?;
        }
        Ok(TrustState { keys: self.keys.clone(), filter: self.filter.clone(), options })
    }

    /// The state with the signed filter `bytes` loaded, for a verifier with `policy`, at
    /// `now`. Checks, in order: structure and size, the signing key is in this state's key
    /// set (`revocations_unknown_key`), the signature (`revocations_bad_signature`), the
    /// issuer (`revocations_issuer_mismatch`), the lifetime (`revocations_too_long_lived`),
    /// the window (`revocations_window_too_short`), freshness (`revocations_stale`), and
    /// that its sequence is not lower than the loaded filter's (`revocations_rollback`).
    pub fn with_revocations(&self, bytes: &[u8], policy: &Policy, now: UnixTime) -> Result<TrustState, Error> {
        let keys = self
            .keys
            .as_ref()
            .ok_or_else(|| err(ErrorCode::RevocationsUnknownKey, "no keys are loaded to check the filter's signature"))?;
        let list = RevocationList::verify(bytes, keys, policy.issuer())?;
        check_lifetime(&list, &self.options)?;
        let needed = policy.max_token_lifetime().saturating_add(policy.clock_tolerance());
        if u64::from(list.window()) < needed {
            return Err(err(
                ErrorCode::RevocationsWindowTooShort,
                alloc::format!(
                    "the filter's window is {} s; this verifier accepts tokens up to max token lifetime + clock tolerance = {needed} s old",
                    list.window()
                ),
            ));
        }
        if list.is_stale(now) {
            return Err(err(ErrorCode::RevocationsStale, "revocation filter is already past its not_after"));
        }
        if let Some(held) = &self.filter {
            if list.sequence() < held.sequence() {
                return Err(err(
                    ErrorCode::RevocationsRollback,
                    alloc::format!(
                        "revocation filter sequence {} is lower than the held {}",
                        list.sequence(),
                        held.sequence()
                    ),
                ));
            }
        }
        Ok(TrustState { keys: self.keys.clone(), filter: Some(list), options: self.options })
    }

    /// The loaded filter's status at `now`, or `None` if none is loaded.
    pub fn revocation_status(&self, now: UnixTime) -> Option<RevocationStatus> {
        self.filter.as_ref().map(|f| f.status(now))
    }

    /// Whether the loaded filter revokes a token with these ids (`None`: no filter).
    /// Staleness is not considered; verification handles it.
    pub fn revocation_reason(&self, ids: &TokenIds<'_>, clock_tolerance: u64) -> Option<Option<&'static str>> {
        self.filter.as_ref().map(|f| f.revocation_reason(ids, clock_tolerance))
    }

    /// The keys, or `keys_unavailable` (fail closed until a key set arrives).
    pub(crate) fn require_keys(&self) -> Result<&KeySet, Error> {
        self.keys
            .as_ref()
            .ok_or_else(|| err(ErrorCode::KeysUnavailable, "no key set has been loaded yet"))
    }

    /// Step 6 of a verification: revocation. Fails closed when a filter is required but
    /// missing or stale.
    pub(crate) fn check_revocation(&self, claims: &Claims, clock_tolerance: u64, now: UnixTime) -> Result<(), Error> {
        let required = self.options.requirement == RevocationRequirement::Required;
        match &self.filter {
            None if required => {
                Err(err(ErrorCode::RevocationsStale, "a revocation filter is required and none is loaded"))
            }
            None => Ok(()),
            Some(list) if required && list.is_stale(now) => {
                Err(err(ErrorCode::RevocationsStale, "the revocation filter is past its not_after"))
            }
            // A stale filter on a verifier that does not require one still knows of real
            // revocations; consulting it can only refuse more.
            Some(list) => list.check(claims, clock_tolerance),
        }
    }
}

fn check_lifetime(list: &RevocationList, options: &RevocationOptions) -> Result<(), Error> {
    if list.lifetime() > options.max_filter_ttl {
        return Err(err(
            ErrorCode::RevocationsTooLongLived,
            alloc::format!(
                "the filter lives {} s (not_after - built_at); the maximum is {} s",
                list.lifetime(),
                options.max_filter_ttl
            ),
        ));
    }
    Ok(())
}
