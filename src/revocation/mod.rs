//! Revocation: a signed, window-bounded filter the origin builds and the edge checks.
//!
//! What can be revoked: a session (`sid`), one token (`jti`), every token of a user issued
//! before a time (per-user `not_before`), and every token issued before a time (global
//! `not_before`). A revoked session can never mint another access token, so an entry only
//! has to stay in the filter for the window (max token lifetime + clock tolerance).
//!
//! `sid`/`jti` membership is approximate (a salted Bloom filter: no false negatives, a
//! configurable false-positive rate); `not_before` lists are exact. A false positive never
//! locks a user out for good: a token issued after the filter was built (beyond the clock
//! tolerance) cannot have been revoked by it, so its hits are ignored; the normal reaction
//! to `revoked` is a refresh at the origin, which is authoritative and issues such a token.

pub(crate) mod bloom;
pub(crate) mod format;

pub use bloom::{Kind, SALT_LEN};
pub use format::{MAX_ARTIFACT_SIZE, VERSION};
/// The filter builder lives in [`crate::sign`]; this path is kept for existing callers.
#[cfg(feature = "sign")]
pub use crate::sign::FilterSpec;

/// Default target false-positive rate of a filter's sid/jti lookups: 2^-16.
pub const DEFAULT_FALSE_POSITIVE_RATE: f64 = 1.0 / 65536.0;

use crate::claims::Claims;
use crate::error::{err, Error, ErrorCode};
use crate::keys::KeySet;
use crate::signature::verify_es256;
use crate::time::UnixTime;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use bloom::BloomRef;
use p256::ecdsa::VerifyingKey;

/// A verified revocation filter, ready for lookups.
#[derive(Clone, Debug)]
pub struct RevocationList {
    kid: String,
    /// The key whose signature was checked: the filter is trusted only while it is.
    signer: VerifyingKey,
    issuer: String,
    sequence: u64,
    built_at: u64,
    not_after: u64,
    window: u32,
    entries: u32,
    hashes: u8,
    salt: [u8; SALT_LEN],
    bits: Vec<u8>,
    users: BTreeMap<String, u64>,
    global_not_before: Option<u64>,
    size: usize,
}

/// What a verifier knows about its revocation filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationStatus {
    /// The filter's sequence number (monotonic per issuer).
    pub sequence: u64,
    /// When the origin built it.
    pub built_at: u64,
    /// After this instant the filter is stale.
    pub not_after: u64,
    /// The window it covers, in seconds.
    pub window: u32,
    /// How many sids and jtis it holds.
    pub entries: u32,
    /// How many per-user cut-offs it holds.
    pub users: usize,
    /// The global cut-off, if any.
    pub global_not_before: Option<u64>,
    /// Size of the artifact in bytes.
    pub bytes: usize,
    /// `now > not_after`.
    pub stale: bool,
    /// The key that signed it.
    pub kid: String,
}

impl RevocationList {
    /// Parses an artifact and verifies its signature with a key of `keys` and its issuer.
    ///
    /// The signature is checked before any variable-length field is parsed. Refusals have
    /// filter codes: `revocations_unknown_key`, `revocations_bad_signature`,
    /// `revocations_issuer_mismatch`, `revocations_invalid` (structure), `too_large`.
    pub fn verify(bytes: &[u8], keys: &KeySet, issuer: &str) -> Result<Self, Error> {
        let (signed, kid, signature) = format::split(bytes)?;
        let key = keys.select(Some(kid)).map_err(|_| {
            err(ErrorCode::RevocationsUnknownKey, "no key of the trusted key set matches the filter's kid")
        })?;
        verify_es256(key, signed, signature)
            .map_err(|_| err(ErrorCode::RevocationsBadSignature, "revocation filter signature does not verify"))?;
        let f = format::parse_signed(signed)?;
        if f.issuer != issuer {
            return Err(err(ErrorCode::RevocationsIssuerMismatch, "revocation filter is from another issuer"));
        }
        Ok(RevocationList {
            signer: *key.verifying_key(),
            kid: f.kid,
            issuer: f.issuer,
            sequence: f.sequence,
            built_at: f.built_at,
            not_after: f.not_after,
            window: f.window,
            entries: f.entries,
            hashes: f.hashes,
            salt: f.salt,
            bits: f.bits,
            users: f.users.into_iter().collect(),
            global_not_before: f.global_not_before,
            size: bytes.len(),
        })
    }

    /// The filter's status at `now`.
    pub fn status(&self, now: UnixTime) -> RevocationStatus {
        RevocationStatus {
            sequence: self.sequence,
            built_at: self.built_at,
            not_after: self.not_after,
            window: self.window,
            entries: self.entries,
            users: self.users.len(),
            global_not_before: self.global_not_before,
            bytes: self.size,
            stale: self.is_stale(now),
            kid: self.kid.clone(),
        }
    }

    /// The sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The `kid` of the key that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key whose signature was checked.
    pub fn signer(&self) -> &VerifyingKey {
        &self.signer
    }

    /// When the origin built it.
    pub fn built_at(&self) -> UnixTime {
        UnixTime::from_secs(self.built_at)
    }

    /// After this instant it is stale.
    pub fn not_after(&self) -> UnixTime {
        UnixTime::from_secs(self.not_after)
    }

    /// `not_after - built_at`, in seconds (always at least 1: the format refuses less).
    pub fn lifetime(&self) -> u64 {
        self.not_after - self.built_at
    }

    /// The window its entries cover, in seconds.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// The issuer it was built for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `now > not_after`.
    pub fn is_stale(&self, now: UnixTime) -> bool {
        now.as_secs() > self.not_after
    }

    /// True if `(kind, id)` may have been revoked (Bloom: false positives possible).
    pub fn may_contain(&self, kind: Kind, id: &str) -> bool {
        BloomRef { hashes: self.hashes, salt: &self.salt, bits: &self.bits }.contains(kind, id.as_bytes())
    }

    /// Refuses a token this filter revokes. `skew` is the clock tolerance in seconds.
    pub fn check(&self, claims: &Claims, skew: u64) -> Result<(), Error> {
        let ids = TokenIds {
            sub: claims.subject(),
            sid: claims.session_id(),
            jti: claims.token_id(),
            iat: claims.issued_at(),
        };
        match self.revocation_reason(&ids, skew) {
            None => Ok(()),
            Some(reason) => Err(err(ErrorCode::Revoked, reason)),
        }
    }

    /// Why this filter revokes a token with these ids, or `None`.
    pub fn revocation_reason(&self, ids: &TokenIds<'_>, skew: u64) -> Option<&'static str> {
        if self.global_not_before.is_some_and(|nb| ids.iat < nb) {
            return Some("every token issued before the global cut-off is revoked");
        }
        if ids.sub.and_then(|sub| self.users.get(sub)).is_some_and(|nb| ids.iat < *nb) {
            return Some("the user's tokens issued before this time are revoked");
        }
        // A token issued after this filter was built (beyond the skew) cannot have been
        // revoked by it: the origin issues no token for a revoked session. Ignoring hits on
        // such tokens keeps a Bloom false positive from locking the user out.
        if ids.iat > self.built_at.saturating_add(skew) {
            return None;
        }
        if ids.sid.is_some_and(|sid| self.may_contain(Kind::Session, sid)) {
            return Some("the session was revoked");
        }
        if ids.jti.is_some_and(|jti| self.may_contain(Kind::Token, jti)) {
            return Some("the token was revoked");
        }
        None
    }
}

/// The claims revocation looks at.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokenIds<'a> {
    /// `sub`.
    pub sub: Option<&'a str>,
    /// `sid`.
    pub sid: Option<&'a str>,
    /// `jti`.
    pub jti: Option<&'a str>,
    /// `iat`.
    pub iat: u64,
}
