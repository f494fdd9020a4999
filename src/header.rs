//! The JOSE header: strict parsing and the header policy.
//!
//! Nothing in the header is trusted before the signature is checked, except `kid`, which
//! only chooses among keys we already hold. Key-carrying parameters are refused outright.

use crate::error::{err, Error, ErrorCode};
use crate::json::{self, Object};
use alloc::string::String;
use alloc::vec::Vec;

/// Longest `kid` accepted, in bytes: one limit for tokens, JWKs and revocation filters
/// (the filter format stores the kid's length in one byte).
pub const MAX_KID_LEN: usize = 255;

/// Header parameters that are refused: key sources (`jwk`, `jku`, `x5u`, `x5c`: RFC 8725
/// §3.10 — a token must not choose its own key), `crit` (we implement no extensions),
/// `b64` (RFC 7797 unencoded payloads) and `zip` (JWE compression, a decompression bomb).
pub const FORBIDDEN_PARAMS: [&str; 7] = ["jwk", "jku", "x5u", "x5c", "crit", "b64", "zip"];

/// The header fields the verifier uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The `alg` value, already checked against the allowlist.
    pub alg: String,
    /// The `kid`, if any.
    pub kid: Option<String>,
    /// The `typ`, if any.
    pub typ: Option<String>,
}

/// Parses the header and applies the policy: `alg` allowlist first, then forbidden
/// parameters, then `typ`, then `kid`.
pub fn check(
    header: &[u8],
    algorithms: &[String],
    accepted_typ: Option<&[String]>,
) -> Result<Header, Error> {
    let text = core::str::from_utf8(header)
        .map_err(|_| err(ErrorCode::Malformed, "header is not UTF-8"))?;
    let obj = Object::parse(text)
        .map_err(|e| err(ErrorCode::Malformed, alloc::format!("header is not a JSON object: {e}")))?;

    let alg = match obj.get("alg") {
        None => return Err(err(ErrorCode::AlgNotAllowed, "header has no alg")),
        Some(raw) => json::as_string(raw)
            .ok_or_else(|| err(ErrorCode::AlgNotAllowed, "header alg is not a string"))?,
    };
    // Exact, case-sensitive match: "none", "None", "NONE", "HS256"... are all refused here.
    if !algorithms.contains(&alg) {
        return Err(err(ErrorCode::AlgNotAllowed, alloc::format!("alg {alg:?} is not allowed")));
    }

    for (name, _) in obj.iter() {
        if FORBIDDEN_PARAMS.contains(&name) {
            return Err(err(
                ErrorCode::HeaderNotAllowed,
                alloc::format!("header parameter {name:?} is not allowed"),
            ));
        }
    }

    let typ = match obj.get("typ") {
        None => None,
        Some(raw) => Some(
            json::as_string(raw).ok_or_else(|| err(ErrorCode::TypMismatch, "header typ is not a string"))?,
        ),
    };
    if let Some(accepted) = accepted_typ {
        match &typ {
            None => return Err(err(ErrorCode::TypMismatch, "header has no typ")),
            Some(t) if !accepted.iter().any(|a| typ_matches(a, t)) => {
                return Err(err(ErrorCode::TypMismatch, alloc::format!("typ {t:?} is not accepted")))
            }
            Some(_) => {}
        }
    }

    let kid = match obj.get("kid") {
        None => None,
        Some(raw) => {
            let kid = json::as_string(raw)
                .ok_or_else(|| err(ErrorCode::Malformed, "header kid is not a string"))?;
            if kid.len() > MAX_KID_LEN {
                return Err(err(ErrorCode::Malformed, "header kid is too long"));
            }
            Some(kid)
        }
    };
    Ok(Header { alg, kid, typ })
}

/// Media-type comparison per RFC 7515 §4.1.9: case-insensitive, and the `application/`
/// prefix may be omitted (`at+jwt` == `application/at+jwt`).
pub fn typ_matches(expected: &str, actual: &str) -> bool {
    fn strip(s: &str) -> &str {
        const PREFIX: &str = "application/";
        if s.len() >= PREFIX.len() && s.as_bytes()[..PREFIX.len()].eq_ignore_ascii_case(PREFIX.as_bytes()) {
            &s[PREFIX.len()..]
        } else {
            s
        }
    }
    strip(expected).eq_ignore_ascii_case(strip(actual))
}

/// The allowlist used when none is configured: ES256 only.
pub fn default_algorithms() -> Vec<String> {
    alloc::vec![String::from("ES256")]
}
