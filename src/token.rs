//! The compact JWS serialization: size limit, three segments, canonical base64url.

use crate::b64;
use crate::error::{err, Error, ErrorCode};
use alloc::vec::Vec;

/// A compact JWS split and decoded, not yet trusted.
#[derive(Debug)]
pub struct CompactJws<'a> {
    /// `BASE64URL(header) "." BASE64URL(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded protected header (expected to be UTF-8 JSON).
    pub header: Vec<u8>,
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. The size limit is checked before any decoding.
pub fn decode(token: &str, max_size: usize) -> Result<CompactJws<'_>, Error> {
    if token.len() > max_size {
        return Err(err(
            ErrorCode::TooLarge,
            alloc::format!("token is {} bytes, limit is {max_size}", token.len()),
        ));
    }
    let mut segments = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(err(ErrorCode::Malformed, "a compact JWS has exactly three '.'-separated segments"));
    };
    // An empty signature segment is let through so that `alg: none` tokens are refused
    // as `alg_not_allowed` (the informative code); the signature step refuses it anyway.
    if h.is_empty() || p.is_empty() {
        return Err(err(ErrorCode::Malformed, "empty JWS header or payload segment"));
    }
    let decode_segment = |seg: &str, name: &str| {
        b64::decode(seg).ok_or_else(|| {
            err(ErrorCode::Malformed, alloc::format!("{name} is not canonical unpadded base64url"))
        })
    };
    let header = decode_segment(h, "header")?;
    let payload = decode_segment(p, "payload")?;
    let signature = decode_segment(s, "signature")?;
    Ok(CompactJws { signing_input: &token[..h.len() + 1 + p.len()], header, payload, signature })
}
