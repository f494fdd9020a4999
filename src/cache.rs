//! The verified-token cache: a bounded map from a full token string to the claims it
//! verified to.
//!
//! A hit skips only the work whose result cannot change for this verifier: decoding, the
//! header policy, the signature and claims parsing. Everything that can change is checked
//! again on every hit: that the key which verified the token is still trusted (same `kid`,
//! same point, in the trust state the verification reads), the claims policy (the same
//! function a first-sight verification runs: `iss`, `aud`, `exp`, `nbf`, `iat`, lifetime)
//! and revocation. The cache belongs to one [`crate::Verifier`] (a clone starts empty)
//! and its policy never changes.
//!
//! Bounded in entries and in bytes (token + claims + a fixed overhead per entry) by two
//! generations: new entries go to the young map; when it reaches half the limits it
//! becomes the old map (the previous old map is dropped), and a hit in the old map moves
//! the entry back to the young one. Lookups are by exact string in a `BTreeMap`, so no
//! hash function is exposed to attacker-chosen keys.

use crate::claims::Claims;
use alloc::boxed::Box;
use alloc::string::String;
use p256::ecdsa::VerifyingKey;
use alloc::collections::BTreeMap;

/// Default most entries in a verifier's token cache.
pub const DEFAULT_MAX_ENTRIES: usize = 1024;
/// Default most bytes (tokens, claims and per-entry overhead) in a verifier's token cache.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;
/// Bytes counted for each entry on top of its strings (map node, claims fields).
pub const ENTRY_OVERHEAD: usize = 160;

/// Limits of a verifier's token cache; `max_entries < 2` or `max_bytes == 0` disables it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries held.
    pub max_entries: usize,
    /// Most bytes held (see [`entry_cost`]).
    pub max_bytes: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits { max_entries: DEFAULT_MAX_ENTRIES, max_bytes: DEFAULT_MAX_BYTES }
    }
}

impl CacheLimits {
    /// No cache.
    pub const DISABLED: CacheLimits = CacheLimits { max_entries: 0, max_bytes: 0 };

    fn enabled(&self) -> bool {
        self.max_entries >= 2 && self.max_bytes > 0
    }
}

/// What a cache hit needs: the claims, and which key verified the token (the token's
/// `kid` and the key's point), so a hit counts only while that key is still trusted.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) claims: Claims,
    pub(crate) kid: Option<String>,
    pub(crate) key: VerifyingKey,
}

/// The bytes an entry counts for.
pub fn entry_cost(token: &str, claims: &Claims) -> usize {
    let strings = claims.json().len()
        + claims.issuer().len()
        + claims.audience().iter().map(|a| a.len() + 24).sum::<usize>()
        + claims.subject().map_or(0, str::len)
        + claims.token_id().map_or(0, str::len)
        + claims.session_id().map_or(0, str::len);
    token.len() + strings + ENTRY_OVERHEAD
}

/// The two-generation bounded map.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    limits: CacheLimits,
    young: BTreeMap<Box<str>, (Entry, usize)>,
    old: BTreeMap<Box<str>, (Entry, usize)>,
    young_bytes: usize,
    old_bytes: usize,
}

impl TokenCache {
    pub(crate) fn new(limits: CacheLimits) -> Self {
        TokenCache { limits, ..Default::default() }
    }

    pub(crate) fn limits(&self) -> CacheLimits {
        self.limits
    }

    pub(crate) fn get(&mut self, token: &str) -> Option<Entry> {
        if let Some((entry, _)) = self.young.get(token) {
            return Some(entry.clone());
        }
        let (key, (entry, cost)) = self.old.remove_entry(token)?;
        self.old_bytes -= cost;
        let out = entry.clone();
        self.push_young(key, entry, cost);
        Some(out)
    }

    pub(crate) fn insert(&mut self, token: &str, entry: &Entry) {
        if !self.limits.enabled() {
            return;
        }
        let cost = entry_cost(token, &entry.claims) + entry.kid.as_ref().map_or(0, String::len);
        if cost > self.limits.max_bytes / 2 || self.young.contains_key(token) {
            return;
        }
        if let Some((_, c)) = self.old.remove(token) {
            self.old_bytes -= c;
        }
        self.push_young(token.into(), entry.clone(), cost);
    }

    fn push_young(&mut self, key: Box<str>, entry: Entry, cost: usize) {
        if self.young.len() + 1 > self.limits.max_entries / 2 || self.young_bytes + cost > self.limits.max_bytes / 2 {
            self.old = core::mem::take(&mut self.young);
            self.old_bytes = core::mem::replace(&mut self.young_bytes, 0);
        }
        self.young_bytes += cost;
        self.young.insert(key, (entry, cost));
    }

    pub(crate) fn remove(&mut self, token: &str) {
        if let Some((_, c)) = self.young.remove(token) {
            self.young_bytes -= c;
        }
        if let Some((_, c)) = self.old.remove(token) {
            self.old_bytes -= c;
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = TokenCache::new(self.limits);
    }

    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.young_bytes + self.old_bytes
    }
}
