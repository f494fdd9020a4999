//! Stable error codes: users switch on [`ErrorCode::as_str`], so codes are only ever added.

use alloc::string::String;
use core::fmt;

/// Why a token (or a key set, or a configuration) was refused.
///
/// The string form ([`ErrorCode::as_str`]) is part of the public contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not a compact JWS: wrong segment count, bad base64url, not JSON, not an object...
    Malformed,
    /// The token (or key set) is larger than the configured limit; checked before decoding.
    TooLarge,
    /// `alg` missing, not a string, or not in the allowlist (`none`, HS*, RS*... are never allowed).
    AlgNotAllowed,
    /// `typ` missing or not one of the accepted media types.
    TypMismatch,
    /// A header parameter we refuse: `jwk`, `jku`, `x5u`, `x5c`, `crit`, `b64`, `zip`.
    HeaderNotAllowed,
    /// No key of the key set matches the token's `kid` (or no `kid` and several keys).
    KeyNotFound,
    /// The signature is not 64 bytes, has r or s out of range, or does not verify.
    BadSignature,
    /// A required claim is absent.
    ClaimMissing,
    /// A claim has the wrong type or an out-of-range value.
    ClaimInvalid,
    /// `iss` differs from the configured issuer.
    IssuerMismatch,
    /// `aud` contains none of the configured audiences.
    AudienceMismatch,
    /// `exp` has passed (beyond the clock tolerance).
    Expired,
    /// `nbf` is in the future (beyond the clock tolerance).
    NotYetValid,
    /// `iat` is in the future (beyond the clock tolerance).
    IssuedInFuture,
    /// `exp - iat` exceeds the maximum token lifetime.
    LifetimeTooLong,
    /// The session, token or user was revoked.
    Revoked,
    /// Revocation checking is required and the revocation filter is missing or stale.
    RevocationsStale,
    /// A key or key set was refused (wrong kty/crv, point off the curve, private part...).
    InvalidKey,
    /// A verifier configuration was refused.
    InvalidConfig,
    /// A revocation artifact is structurally invalid (bad magic, version, lengths...).
    RevocationsInvalid,
    /// A revocation artifact's sequence number is lower than the one held (rollback).
    RevocationsRollback,
    /// No key of the trusted key set matches the revocation artifact's `kid`.
    RevocationsUnknownKey,
    /// A revocation artifact's signature does not verify with the key its `kid` names.
    RevocationsBadSignature,
    /// A revocation artifact was built for another issuer.
    RevocationsIssuerMismatch,
    /// A revocation artifact lives longer (`not_after - built_at`) than the configured maximum.
    RevocationsTooLongLived,
    /// A revocation artifact's window is shorter than the tokens this verifier accepts
    /// (max token lifetime + clock tolerance): revocations could fall out of it too early.
    RevocationsWindowTooShort,
    /// No key set has been loaded yet (a verifier waiting for its key sync): fail closed.
    KeysUnavailable,
    /// An argument of the wrong type or range (e.g. a `now` that is not a number of seconds).
    InvalidArgument,
    /// A discovery document was refused: not JSON, a member missing or out of range,
    /// another issuer, or numbers this verifier cannot work with (JS `IssuerSync`).
    DiscoveryInvalid,
    /// A request of the sync helper failed: network error, timeout or a non-2xx/304 status
    /// (JS `IssuerSync`).
    FetchFailed,
}

impl ErrorCode {
    /// Every code, in declaration order (for documentation and tests).
    pub const ALL: [ErrorCode; 30] = [
        ErrorCode::Malformed,
        ErrorCode::TooLarge,
        ErrorCode::AlgNotAllowed,
        ErrorCode::TypMismatch,
        ErrorCode::HeaderNotAllowed,
        ErrorCode::KeyNotFound,
        ErrorCode::BadSignature,
        ErrorCode::ClaimMissing,
        ErrorCode::ClaimInvalid,
        ErrorCode::IssuerMismatch,
        ErrorCode::AudienceMismatch,
        ErrorCode::Expired,
        ErrorCode::NotYetValid,
        ErrorCode::IssuedInFuture,
        ErrorCode::LifetimeTooLong,
        ErrorCode::Revoked,
        ErrorCode::RevocationsStale,
        ErrorCode::InvalidKey,
        ErrorCode::InvalidConfig,
        ErrorCode::RevocationsInvalid,
        ErrorCode::RevocationsRollback,
        ErrorCode::RevocationsUnknownKey,
        ErrorCode::RevocationsBadSignature,
        ErrorCode::RevocationsIssuerMismatch,
        ErrorCode::RevocationsTooLongLived,
        ErrorCode::RevocationsWindowTooShort,
        ErrorCode::KeysUnavailable,
        ErrorCode::InvalidArgument,
        ErrorCode::DiscoveryInvalid,
        ErrorCode::FetchFailed,
    ];

    /// Whether [`crate::Verifier::verify`] can return this code (a token's refusal).
    /// The others only come from loading keys, filters or a configuration.
    pub const fn is_verify_code(self) -> bool {
        !matches!(
            self,
            ErrorCode::InvalidKey
                | ErrorCode::InvalidConfig
                | ErrorCode::RevocationsInvalid
                | ErrorCode::RevocationsRollback
                | ErrorCode::RevocationsUnknownKey
                | ErrorCode::RevocationsBadSignature
                | ErrorCode::RevocationsIssuerMismatch
                | ErrorCode::RevocationsTooLongLived
                | ErrorCode::RevocationsWindowTooShort
                | ErrorCode::InvalidArgument
                | ErrorCode::DiscoveryInvalid
                | ErrorCode::FetchFailed
        )
    }

    /// Whether loading keys, a filter or a configuration can fail with this code.
    /// `too_large` and `revocations_stale` are both a token's and a loader's code.
    pub const fn is_load_code(self) -> bool {
        !self.is_verify_code() || matches!(self, ErrorCode::TooLarge | ErrorCode::RevocationsStale)
    }

    /// The stable snake_case string for this code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::AlgNotAllowed => "alg_not_allowed",
            ErrorCode::TypMismatch => "typ_mismatch",
            ErrorCode::HeaderNotAllowed => "header_not_allowed",
            ErrorCode::KeyNotFound => "key_not_found",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::ClaimMissing => "claim_missing",
            ErrorCode::ClaimInvalid => "claim_invalid",
            ErrorCode::IssuerMismatch => "issuer_mismatch",
            ErrorCode::AudienceMismatch => "audience_mismatch",
            ErrorCode::Expired => "expired",
            ErrorCode::NotYetValid => "not_yet_valid",
            ErrorCode::IssuedInFuture => "issued_in_future",
            ErrorCode::LifetimeTooLong => "lifetime_too_long",
            ErrorCode::Revoked => "revoked",
            ErrorCode::RevocationsStale => "revocations_stale",
            ErrorCode::InvalidKey => "invalid_key",
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::RevocationsInvalid => "revocations_invalid",
            ErrorCode::RevocationsRollback => "revocations_rollback",
            ErrorCode::RevocationsUnknownKey => "revocations_unknown_key",
            ErrorCode::RevocationsBadSignature => "revocations_bad_signature",
            ErrorCode::RevocationsIssuerMismatch => "revocations_issuer_mismatch",
            ErrorCode::RevocationsTooLongLived => "revocations_too_long_lived",
            ErrorCode::RevocationsWindowTooShort => "revocations_window_too_short",
            ErrorCode::KeysUnavailable => "keys_unavailable",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::DiscoveryInvalid => "discovery_invalid",
            ErrorCode::FetchFailed => "fetch_failed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: a stable [`ErrorCode`] plus a human-readable detail.
///
/// The detail is for logs and developers; it never contains key material and its
/// wording may change. Switch on [`Error::code`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    detail: String,
}

impl Error {
    /// Creates an error with a code and a detail message.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Error { code, detail: detail.into() }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable explanation.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Shorthand used across the crate.
pub(crate) fn err(code: ErrorCode, detail: impl Into<String>) -> Error {
    Error::new(code, detail)
}
