//! ES256: ECDSA over P-256 with SHA-256, raw 64-byte `r || s` (RFC 7518 §3.4).
//!
//! With the `precomputed-tables` feature, verification uses the fast path
//! ([`crate::fastpath`]: fixed-base tables for the generator and the key) once both tables
//! are built; until then (and without the feature) it uses `p256`'s own verify. Both give the same answer for every input
//! (differential-tested in `tests/fastpath.rs`).

use crate::error::{err, Error, ErrorCode};
use crate::keys::PublicKey;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::Signature;

/// Length of an ES256 signature: r and s, 32 bytes each, big-endian.
pub const SIGNATURE_LEN: usize = 64;

fn parse(signature: &[u8]) -> Result<Signature, Error> {
    if signature.len() != SIGNATURE_LEN {
        return Err(err(
            ErrorCode::BadSignature,
            alloc::format!("ES256 signature must be 64 bytes, got {}", signature.len()),
        ));
    }
    Signature::from_slice(signature)
        .map_err(|_| err(ErrorCode::BadSignature, "signature r or s is zero or not below n"))
}

fn does_not_verify() -> Error {
    err(ErrorCode::BadSignature, "signature does not verify")
}

/// Verifies an ES256 signature over `message`.
///
/// Anything but exactly 64 bytes (DER included) is refused, as are r or s equal to zero
/// or not below the group order n. High-S signatures are accepted: JOSE does not require
/// low-S, and RFC 7515 A.3 is one.
pub fn verify_es256(key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), Error> {
    let sig = parse(signature)?;
    #[cfg(feature = "precomputed-tables")]
    {
        // Each call advances unfinished tables by a few rows, so no call waits for a build.
        let g = crate::fastpath::GENERATOR_TABLE.get_or_step();
        let q = key.table().and_then(|t| t.get_or_step());
        if let (Some(g), Some(q)) = (g, q) {
            return if crate::fastpath::verify_with_tables(g, q, message, &sig) {
                Ok(())
            } else {
                Err(does_not_verify())
            };
        }
    }
    key.verifying_key().verify(message, &sig).map_err(|_| does_not_verify())
}

/// [`verify_es256`] on `p256`'s own verify only, never the fast path (reference for tests
/// and benchmarks).
pub fn verify_es256_reference(key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), Error> {
    let sig = parse(signature)?;
    key.verifying_key().verify(message, &sig).map_err(|_| does_not_verify())
}
