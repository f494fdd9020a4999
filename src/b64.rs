//! Canonical base64url: no padding, no whitespace, non-zero trailing bits rejected.

use alloc::vec::Vec;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Decodes canonical, unpadded base64url. `None` on any deviation.
pub(crate) fn decode(input: &str) -> Option<Vec<u8>> {
    // URL_SAFE_NO_PAD requires no padding and rejects non-zero trailing bits, so each
    // byte string has exactly one accepted encoding.
    URL_SAFE_NO_PAD.decode(input).ok()
}

/// Encodes bytes as unpadded base64url.
#[allow(dead_code)]
pub(crate) fn encode(input: &[u8]) -> alloc::string::String {
    URL_SAFE_NO_PAD.encode(input)
}
