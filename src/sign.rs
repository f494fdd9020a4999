//! The issuer's side (feature `sign`): mint tokens, build and sign revocation filters,
//! read a private JWK, write a public JWK and its RFC 7638 thumbprint.
//!
//! One copy for everyone who signs: the origin (`origin/`), the JS filter builder
//! (`edgetoken/builder`), the Rust tests and the fuzz harness. It shares the verifier's
//! limits (one `kid` limit, [`crate::header::MAX_KID_LEN`], for tokens, JWKs and filters),
//! so whatever it signs, a verifier with the matching key accepts.
//!
//! No randomness inside: callers pass a fresh salt (and choose ids), so the module builds
//! without std and its output is reproducible in tests.

use crate::b64;
use crate::error::{err, Error, ErrorCode};
use crate::header::MAX_KID_LEN;
use crate::json::{self, Object};
use crate::revocation::bloom::{insert, Kind, SALT_LEN};
use crate::revocation::format::{encode_signed, Fields};
use crate::time::UnixTime;
use alloc::string::String;
use alloc::vec::Vec;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

pub use crate::revocation::bloom::dimensions;

/// A compact JWS (ES256, raw `r || s`) over arbitrary header and payload bytes.
pub fn compact_jws(key: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    let mut input = b64::encode(header);
    input.push('.');
    input.push_str(&b64::encode(payload));
    let sig: Signature = key.sign(input.as_bytes());
    input.push('.');
    input.push_str(&b64::encode(&sig.to_bytes()));
    input
}

/// An access token: header `{"alg":"ES256","typ":"at+jwt","kid":kid}` and the claims
/// JSON `claims` (the caller's object, signed as given).
pub fn access_token(key: &SigningKey, kid: &str, claims: &str) -> Result<String, Error> {
    check_kid(kid, ErrorCode::InvalidConfig)?;
    let kid_json = serde_json::to_string(kid).map_err(|_| err(ErrorCode::InvalidConfig, "kid is not serializable"))?;
    let header = alloc::format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":{kid_json}}}"#);
    Ok(compact_jws(key, header.as_bytes(), claims.as_bytes()))
}

fn check_kid(kid: &str, code: ErrorCode) -> Result<(), Error> {
    if kid.is_empty() || kid.len() > MAX_KID_LEN {
        return Err(err(code, alloc::format!("kid must be 1 to {MAX_KID_LEN} bytes")));
    }
    Ok(())
}

fn coordinates(key: &VerifyingKey) -> (String, String) {
    let point = key.to_sec1_point(false);
    // An uncompressed point of a valid key always has both coordinates.
    let x = point.x().map(|x| b64::encode(x.as_slice())).unwrap_or_default();
    let y = point.y().map(|y| b64::encode(y.as_slice())).unwrap_or_default();
    (x, y)
}

/// The public JWK of `key` as JSON text: `kty`, `crv`, `x`, `y`, then `kid` (if given),
/// `alg` "ES256" and `use` "sig".
pub fn public_jwk(key: &VerifyingKey, kid: Option<&str>) -> String {
    let (x, y) = coordinates(key);
    match kid.and_then(|k| serde_json::to_string(k).ok()) {
        Some(kid) => alloc::format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":{kid},"alg":"ES256","use":"sig"}}"#
        ),
        None => alloc::format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","alg":"ES256","use":"sig"}}"#),
    }
}

/// The RFC 7638 JWK thumbprint of `key` (SHA-256, base64url): a stable `kid`.
pub fn thumbprint(key: &VerifyingKey) -> String {
    let (x, y) = coordinates(key);
    // The required members in lexicographic order, no whitespace (RFC 7638 §3.2).
    let canonical = alloc::format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    b64::encode(&Sha256::digest(canonical.as_bytes()))
}

pub use crate::revocation::DEFAULT_FALSE_POSITIVE_RATE;
/// Smallest false-positive rate a builder accepts (2^-32).
pub const MIN_FALSE_POSITIVE_RATE: f64 = 1.0 / 4_294_967_296.0;

/// Everything that goes into one artifact.
#[derive(Clone, Debug)]
pub struct FilterSpec {
    /// The issuer (`iss`) whose tokens the filter covers.
    pub issuer: String,
    /// Monotonically increasing per issuer; edges refuse a lower one (rollback).
    pub sequence: u64,
    /// Build time.
    pub built_at: UnixTime,
    /// Seconds after `built_at` during which the filter is fresh.
    pub ttl: u64,
    /// The window the entries cover (max token lifetime + clock tolerance), in seconds.
    pub window: u32,
    /// Revoked session ids within the window.
    pub sids: Vec<String>,
    /// Revoked token ids within the window.
    pub jtis: Vec<String>,
    /// Per-user cut-offs: `(sub, not_before)`; tokens of `sub` with `iat < not_before` are revoked.
    pub users: Vec<(String, u64)>,
    /// Global cut-off: every token with `iat < not_before` is revoked.
    pub global_not_before: Option<u64>,
    /// Target false-positive rate for sid/jti lookups.
    pub false_positive_rate: f64,
}

impl FilterSpec {
    /// A spec with no entries and the default false-positive rate.
    pub fn new(issuer: impl Into<String>, sequence: u64, built_at: UnixTime, ttl: u64, window: u32) -> Self {
        FilterSpec {
            issuer: issuer.into(),
            sequence,
            built_at,
            ttl,
            window,
            sids: Vec::new(),
            jtis: Vec::new(),
            users: Vec::new(),
            global_not_before: None,
            false_positive_rate: DEFAULT_FALSE_POSITIVE_RATE,
        }
    }

    /// Builds and signs the artifact with `key` (published under `kid`), using `salt`,
    /// which must be fresh and random for every build.
    pub fn build(&self, key: &SigningKey, kid: &str, salt: [u8; SALT_LEN]) -> Result<Vec<u8>, Error> {
        let bad = |m: &str| err(ErrorCode::InvalidConfig, m);
        if self.issuer.is_empty() {
            return Err(bad("issuer must not be empty"));
        }
        check_kid(kid, ErrorCode::InvalidConfig)?;
        let p = self.false_positive_rate;
        if !(MIN_FALSE_POSITIVE_RATE..=0.5).contains(&p) {
            return Err(bad("falsePositiveRate must be between 2^-32 and 0.5"));
        }
        if self.ttl == 0 {
            return Err(bad("ttl must be at least 1 second"));
        }
        let entries = self.sids.len() + self.jtis.len();
        let entries32 = u32::try_from(entries).map_err(|_| bad("too many entries"))?;
        let (bytes, hashes) = dimensions(entries, p);
        let mut bits = alloc::vec![0u8; bytes];
        for sid in &self.sids {
            insert(&mut bits, &salt, hashes, Kind::Session, sid.as_bytes());
        }
        for jti in &self.jtis {
            insert(&mut bits, &salt, hashes, Kind::Token, jti.as_bytes());
        }
        // Canonical order; for duplicate users the latest cut-off wins.
        let mut users = self.users.clone();
        users.sort();
        users.reverse();
        users.dedup_by(|a, b| a.0 == b.0);
        users.reverse();
        let built_at = self.built_at.as_secs();
        let fields = Fields {
            kid: kid.into(),
            issuer: self.issuer.clone(),
            sequence: self.sequence,
            built_at,
            not_after: built_at.checked_add(self.ttl).ok_or_else(|| bad("ttl overflows"))?,
            window: self.window,
            entries: entries32,
            hashes,
            salt,
            bits,
            users,
            global_not_before: self.global_not_before.filter(|nb| *nb != 0),
        };
        let mut out = encode_signed(&fields)?;
        let sig: Signature = key.sign(&out);
        out.extend_from_slice(&sig.to_bytes());
        Ok(out)
    }
}

/// Reads a private EC P-256 JWK (`kty` EC, `crv` P-256, `d`, `x`, `y`, `kid`) and checks
/// that `d` matches the public point. Returns the key and its kid.
pub fn signing_key_from_jwk(text: &str) -> Result<(SigningKey, String), Error> {
    let bad = |m: &str| err(ErrorCode::InvalidKey, m);
    let obj = Object::parse(text).map_err(|_| bad("private JWK is not a JSON object"))?;
    let field = |name: &str| obj.get(name).and_then(json::as_string);
    if field("kty").as_deref() != Some("EC") || field("crv").as_deref() != Some("P-256") {
        return Err(bad("private JWK must have kty \"EC\" and crv \"P-256\""));
    }
    let kid = field("kid").ok_or_else(|| bad("private JWK needs a kid"))?;
    check_kid(&kid, ErrorCode::InvalidKey)?;
    let d = field("d").and_then(|d| b64::decode(&d)).filter(|d| d.len() == 32);
    let d = d.ok_or_else(|| bad("private JWK d must be 32 bytes of base64url"))?;
    let key = SigningKey::from_slice(&d).map_err(|_| bad("private JWK d is not a valid P-256 scalar"))?;
    let point = key.verifying_key().to_sec1_point(false);
    let (x, y) = (field("x").and_then(|x| b64::decode(&x)), field("y").and_then(|y| b64::decode(&y)));
    let matches = matches!((x, y), (Some(x), Some(y))
        if point.x().map(|px| px.as_slice() == x.as_slice()).unwrap_or(false)
        && point.y().map(|py| py.as_slice() == y.as_slice()).unwrap_or(false));
    if !matches {
        return Err(bad("private JWK x/y do not match d"));
    }
    Ok((key, kid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeySet, Policy, UnixTime, Verifier};

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn thumbprint_matches_an_independent_implementation() {
        // jose's calculateJwkThumbprint(publicJwk, "sha256") for the key [7; 32].
        assert_eq!(thumbprint(key().verifying_key()), "gWjt7nmB1udyFpLYVp0SxJnI8lJEvl7q8AFYZRqnGV8");
        let jwk = public_jwk(key().verifying_key(), None);
        assert!(jwk.contains(r#""x":"HhhTL9R1TALzBB2cdc6zO4P_2BrHzk_ogsyxyYvFiW4""#), "{jwk}");
        assert!(jwk.contains(r#""y":"pGwxHE4v9A3ZajZT5uRURdMt_khuztdcepDGoYiBwKM""#), "{jwk}");
    }

    #[test]
    fn what_it_signs_a_verifier_accepts() {
        let kid = "k\"1"; // JSON-escaped in the header and the JWK
        let keys = KeySet::from_jwks_json(&public_jwk(key().verifying_key(), Some(kid))).unwrap();
        assert_eq!(keys.keys()[0].kid(), Some(kid));
        let v = Verifier::new(Policy::new("iss", ["aud"]), keys).unwrap();
        let claims = r#"{"iss":"iss","aud":"aud","sub":"s","jti":"j","iat":100,"exp":200}"#;
        let token = access_token(&key(), kid, claims).unwrap();
        assert_eq!(v.verify(&token, UnixTime::from_secs(150)).unwrap().json(), claims);
        let long = "k".repeat(MAX_KID_LEN + 1);
        assert_eq!(access_token(&key(), &long, claims).unwrap_err().code(), ErrorCode::InvalidConfig);
        assert_eq!(access_token(&key(), "", claims).unwrap_err().code(), ErrorCode::InvalidConfig);
    }

    #[test]
    fn private_jwk_round_trip_and_kid_limit() {
        let public = public_jwk(key().verifying_key(), Some("k1"));
        let d = b64::encode(&key().to_bytes());
        let private = public.replacen('{', &alloc::format!(r#"{{"d":"{d}","#), 1);
        let (parsed, kid) = signing_key_from_jwk(&private).unwrap();
        assert_eq!((parsed.to_bytes(), kid.as_str()), (key().to_bytes(), "k1"));
        let long = public_jwk(key().verifying_key(), Some(&"k".repeat(MAX_KID_LEN + 1)));
        let long = long.replacen('{', &alloc::format!(r#"{{"d":"{d}","#), 1);
        assert_eq!(signing_key_from_jwk(&long).unwrap_err().code(), ErrorCode::InvalidKey);
    }
}
