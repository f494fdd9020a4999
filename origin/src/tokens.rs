//! Minting: random ids, ES256 access tokens, and refresh-token derivation.
//!
//! ## Refresh tokens
//! A refresh token is `base64url(HMAC-SHA256(refresh_secret, "edgetoken-refresh-v1" ||
//! record_id || nonce))`: 256 bits, indistinguishable from random without the secret.
//! The database stores only `SHA-256(token)` (for lookup) and the 256-bit random `nonce`.
//! Because the server can re-derive a token from its record, the grace window can hand
//! the *same* successor to every concurrent refresh, across restarts and nodes, without
//! ever storing a token in plaintext. The secret lives in the `secrets` table (see the
//! key-storage note in docs/http-api.md).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};

/// Random bytes from the operating system.
///
/// Panics only if the OS has no entropy source, in which case no secret can be made at all.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random number generator failed");
    out
}

/// A random 128-bit id, base64url (22 characters).
pub fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A strong HTTP ETag naming exactly `bytes`: `"<prefix>-<first 128 bits of SHA-256, base64url>"`.
pub fn strong_etag(prefix: &str, bytes: &[u8]) -> String {
    format!("\"{prefix}-{}\"", b64(&sha256(bytes)[..16]))
}

/// Derives the refresh token of record `record_id` with `nonce`.
pub fn refresh_token(secret: &[u8], record_id: &str, nonce: &[u8; 32]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"edgetoken-refresh-v1");
    mac.update(&(record_id.len() as u64).to_be_bytes());
    mac.update(record_id.as_bytes());
    mac.update(nonce);
    b64(&mac.finalize().into_bytes())
}

/// The lookup hash of a presented refresh token.
pub fn refresh_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

/// The claims of one access token (RFC 9068 subset).
#[derive(Clone, Debug, serde::Serialize)]
pub struct AccessClaims<'a> {
    /// Issuer.
    pub iss: &'a str,
    /// Audience.
    pub aud: &'a str,
    /// User id.
    pub sub: &'a str,
    /// Session id.
    pub sid: &'a str,
    /// Token id (random).
    pub jti: String,
    /// Issued at.
    pub iat: u64,
    /// Expires at.
    pub exp: u64,
}

/// Signs `claims` as a compact ES256 JWS with header `{alg, typ: at+jwt, kid}` (the
/// core's `sign` module: the same code the tests and the fuzz harness sign with).
pub fn sign_access_token(key: &SigningKey, kid: &str, claims: &AccessClaims<'_>) -> String {
    // Serialising plain structs of strings and integers cannot fail.
    let payload = serde_json::to_string(claims).expect("claims serialise");
    // Our kids are RFC 7638 thumbprints (43 bytes), always within the core's kid limit.
    edgetoken::sign::access_token(key, kid, &payload).expect("the origin's kid is within the core's limit")
}

/// Constant-time equality for secrets (CSRF tokens).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The CSRF token of a session: stable across refreshes (so parallel tabs never race on
/// it) and different for every session.
pub fn csrf_token(secret: &[u8], session_id: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"edgetoken-csrf-v1");
    mac.update(session_id.as_bytes());
    b64(&mac.finalize().into_bytes())
}
