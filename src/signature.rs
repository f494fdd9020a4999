//! ES256: ECDSA over P-256 with SHA-256, raw 64-byte `r || s` (RFC 7518 §3.4).

use crate::error::{err, Error, ErrorCode};
use crate::keys::PublicKey;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::Signature;

/// Length of an ES256 signature: r and s, 32 bytes each, big-endian.
pub const SIGNATURE_LEN: usize = 64;

/// Verifies an ES256 signature over `message`.
///
/// Anything but exactly 64 bytes (DER included) is refused, as are r or s equal to zero
/// or not below the group order n. High-S signatures are accepted: JOSE does not require
/// low-S, and RFC 7515 A.3 is one.
pub fn verify_es256(key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), Error> {
    if signature.len() != SIGNATURE_LEN {
        return Err(err(
            ErrorCode::BadSignature,
            alloc::format!("ES256 signature must be 64 bytes, got {}", signature.len()),
        ));
    }
    let sig = Signature::from_slice(signature)
        .map_err(|_| err(ErrorCode::BadSignature, "signature r or s is zero or not below n"))?;
    key.verifying_key()
        .verify(message, &sig)
        .map_err(|_| err(ErrorCode::BadSignature, "signature does not verify"))
}
