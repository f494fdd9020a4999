//! What a verifier accepts: issuer, audiences, algorithms, typ, time rules, limits.

use crate::error::{err, Error, ErrorCode};
use crate::header::default_algorithms;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Default limit on the token's length, in bytes (8 KiB).
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 8 * 1024;
/// Largest `max_token_size` a policy may set.
pub const MAX_TOKEN_SIZE_LIMIT: usize = 64 * 1024;
/// Default clock tolerance, in seconds.
pub const DEFAULT_CLOCK_TOLERANCE: u64 = 30;
/// Largest clock tolerance a policy may set, in seconds.
pub const MAX_CLOCK_TOLERANCE: u64 = 300;
/// Default maximum `exp - iat`, in seconds: access tokens live minutes, not days.
pub const DEFAULT_MAX_TOKEN_LIFETIME: u64 = 900;
/// Claims that are always required, because their checks are always on.
pub const ALWAYS_REQUIRED: [&str; 4] = ["iss", "aud", "exp", "iat"];

/// The verification policy. Build with [`Policy::new`] and adjust with the `with_*` methods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<String>,
    pub(crate) typ: Option<Vec<String>>,
    pub(crate) clock_tolerance: u64,
    pub(crate) max_token_lifetime: u64,
    pub(crate) required_claims: Vec<String>,
    pub(crate) max_token_size: usize,
}

impl Policy {
    /// A policy for tokens from `issuer` for any of `audiences`, with safe defaults:
    /// algorithms `["ES256"]`, typ `at+jwt`, clock tolerance 30 s, max lifetime 900 s,
    /// required claims `iss aud exp iat sub jti`, max token size 8 KiB.
    pub fn new<I, A>(issuer: impl Into<String>, audiences: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        Policy {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            algorithms: default_algorithms(),
            typ: Some(alloc::vec!["at+jwt".to_string()]),
            clock_tolerance: DEFAULT_CLOCK_TOLERANCE,
            max_token_lifetime: DEFAULT_MAX_TOKEN_LIFETIME,
            required_claims: alloc::vec!["sub".to_string(), "jti".to_string()],
            max_token_size: DEFAULT_MAX_TOKEN_SIZE,
        }
    }

    /// Accepted `typ` values (case-insensitive, `application/` optional); `None` disables
    /// the check (for tokens that carry no `typ`; RFC 9068 tokens always do).
    pub fn with_typ(mut self, typ: Option<Vec<String>>) -> Self {
        self.typ = typ;
        self
    }

    /// Allowed `alg` values. Only `"ES256"` is supported.
    pub fn with_algorithms(mut self, algorithms: Vec<String>) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// Clock tolerance in seconds (0..=300), applied to `exp`, `nbf` and `iat`.
    pub fn with_clock_tolerance(mut self, seconds: u64) -> Self {
        self.clock_tolerance = seconds;
        self
    }

    /// Maximum `exp - iat` in seconds.
    pub fn with_max_token_lifetime(mut self, seconds: u64) -> Self {
        self.max_token_lifetime = seconds;
        self
    }

    /// Claims that must be present in addition to `iss aud exp iat` (default `sub jti`).
    pub fn with_required_claims(mut self, claims: Vec<String>) -> Self {
        self.required_claims = claims;
        self
    }

    /// Maximum token length in bytes (up to 64 KiB).
    pub fn with_max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = bytes;
        self
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Maximum token lifetime in seconds.
    pub fn max_token_lifetime(&self) -> u64 {
        self.max_token_lifetime
    }

    /// Clock tolerance in seconds.
    pub fn clock_tolerance(&self) -> u64 {
        self.clock_tolerance
    }

    /// Checks the policy itself; a verifier refuses an invalid one.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |msg: &str| Err(err(ErrorCode::InvalidConfig, msg));
        if self.issuer.is_empty() {
            return bad("issuer must be a non-empty string");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return bad("audience must be a non-empty string or a non-empty array of non-empty strings");
        }
        if self.algorithms.is_empty() || self.algorithms.iter().any(|a| a != "ES256") {
            return bad("algorithms: only [\"ES256\"] is supported");
        }
        if let Some(typ) = &self.typ {
            if typ.is_empty() || typ.iter().any(String::is_empty) {
                return bad("typ must be a non-empty string, a non-empty array, or null to disable");
            }
        }
        if self.clock_tolerance > MAX_CLOCK_TOLERANCE {
            return bad("clockTolerance must be between 0 and 300 seconds");
        }
        if self.max_token_lifetime == 0 {
            return bad("maxTokenLifetime must be at least 1 second");
        }
        if self.max_token_size < 64 || self.max_token_size > MAX_TOKEN_SIZE_LIMIT {
            return bad("maxTokenSize must be between 64 and 65536 bytes");
        }
        if self.required_claims.iter().any(String::is_empty) {
            return bad("requiredClaims must be non-empty strings");
        }
        Ok(())
    }

    /// Every claim that must be present: `iss aud exp iat` plus the configured ones.
    pub(crate) fn required(&self) -> impl Iterator<Item = &str> {
        ALWAYS_REQUIRED.iter().copied().chain(self.required_claims.iter().map(String::as_str))
    }
}
