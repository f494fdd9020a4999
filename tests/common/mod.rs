//! Shared helpers for the integration tests: fixed keys, JWK rendering, token signing,
//! standard claims, verifier construction and test-vector loading.
//!
//! Every test binary includes this module, and none uses all of it.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgetoken::{Claims, Error, ErrorCode, KeySet, Policy, UnixTime, Verifier};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use std::path::PathBuf;

/// The fixed "now" of the suite.
pub const NOW: u64 = 1_800_000_000;
/// The configured issuer.
pub const ISS: &str = "https://auth.example.com";
/// The configured audience.
pub const AUD: &str = "https://app.example.com";
/// The kid of [`signing_key`] in [`verifier`].
pub const KID: &str = "k1";
/// The kid of [`other_key`] when it is in a key set.
pub const OTHER_KID: &str = "k2";
/// The standard header: ES256, RFC 9068 typ, kid k1.
pub const HEADER: &str = r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#;
/// The P-256 group order n, big-endian hex.
pub const N_HEX: &str = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

/// `now` as a [`UnixTime`].
pub fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

/// The suite's signing key (fixed, deterministic).
pub fn signing_key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).expect("[7; 32] is a valid P-256 scalar")
}

/// A second, unrelated signing key (the "attacker" or the rotated-in key).
pub fn other_key() -> SigningKey {
    SigningKey::from_slice(&[0x2au8; 32]).expect("[42; 32] is a valid P-256 scalar")
}

/// Unpadded base64url.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Unpadded base64url decoding (panics on bad input: test data only).
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap_or_else(|e| panic!("bad base64url {text:?}: {e}"))
}

/// Hex decoding (panics on bad input: test data only).
pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap_or_else(|e| panic!("bad hex {text:?}: {e}")))
        .collect()
}

/// The base64url x and y coordinates of a key's public point.
pub fn xy(key: &SigningKey) -> (String, String) {
    let point = key.verifying_key().to_sec1_point(false);
    (b64(point.x().expect("x")), b64(point.y().expect("y")))
}

/// The public JWK of `key` as JSON text (`kid` omitted when `None`).
pub fn jwk(key: &SigningKey, kid: Option<&str>) -> String {
    edgetoken::sign::public_jwk(key.verifying_key(), kid)
}

/// A JWK Set document with the public keys given.
pub fn jwks_json(keys: &[(&SigningKey, Option<&str>)]) -> String {
    let items: Vec<String> = keys.iter().map(|(k, kid)| jwk(k, *kid)).collect();
    format!(r#"{{"keys":[{}]}}"#, items.join(","))
}

/// A parsed key set (panics if refused).
pub fn key_set(keys: &[(&SigningKey, Option<&str>)]) -> KeySet {
    KeySet::from_jwks_json(&jwks_json(keys)).expect("test key set must parse")
}

/// A compact JWS over arbitrary header and payload bytes, ES256 raw r||s.
pub fn sign_bytes(header: &[u8], payload: &[u8], key: &SigningKey) -> String {
    edgetoken::sign::compact_jws(key, header, payload)
}

/// A compact JWS of `header_json` and `payload_json` signed by `key`.
pub fn sign(header_json: &str, payload_json: &str, key: &SigningKey) -> String {
    sign_bytes(header_json.as_bytes(), payload_json.as_bytes(), key)
}

/// The ES256 signature (r||s, 64 bytes) of a signing input.
pub fn raw_signature(input: &str, key: &SigningKey) -> [u8; 64] {
    let sig: Signature = key.sign(input.as_bytes());
    let mut out = [0u8; 64];
    out.copy_from_slice(&sig.to_bytes());
    out
}

/// Splits a compact token into its three segments.
pub fn segments(token: &str) -> (String, String, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token:?}");
    (parts[0].to_string(), parts[1].to_string(), parts[2].to_string())
}

/// Replaces the signature of `token` with `sig` (any length).
pub fn with_signature(token: &str, sig: &[u8]) -> String {
    let (h, p, _) = segments(token);
    format!("{h}.{p}.{}", b64(sig))
}

/// The standard claims as (name, raw JSON literal) pairs, in document order.
pub fn standard_claim_pairs(now: u64) -> Vec<(String, String)> {
    vec![
        ("iss".into(), format!("\"{ISS}\"")),
        ("aud".into(), format!("\"{AUD}\"")),
        ("sub".into(), "\"user-123\"".into()),
        ("jti".into(), "\"token-456\"".into()),
        ("sid".into(), "\"session-789\"".into()),
        ("iat".into(), now.to_string()),
        ("exp".into(), (now + 600).to_string()),
    ]
}

/// Renders (name, raw literal) pairs as a JSON object, literals untouched.
pub fn object(pairs: &[(String, String)]) -> String {
    let members: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", members.join(","))
}

/// The standard claims JSON: iss, aud, sub, jti, sid, iat = now, exp = now + 600.
pub fn standard_claims(now: u64) -> String {
    object(&standard_claim_pairs(now))
}

/// The standard claims with edits: `(name, Some(raw literal))` replaces (or appends) a
/// member, `(name, None)` removes it. Literals are inserted verbatim (`1e400`, `"x"`...).
pub fn claims_with(now: u64, edits: &[(&str, Option<&str>)]) -> String {
    let mut pairs = standard_claim_pairs(now);
    for (name, value) in edits {
        match value {
            Some(v) => match pairs.iter_mut().find(|(k, _)| k == name) {
                Some(pair) => pair.1 = (*v).to_string(),
                None => pairs.push(((*name).to_string(), (*v).to_string())),
            },
            None => pairs.retain(|(k, _)| k != name),
        }
    }
    object(&pairs)
}

/// The standard policy: issuer [`ISS`], audience [`AUD`], defaults otherwise.
pub fn policy() -> Policy {
    Policy::new(ISS, [AUD])
}

/// A verifier with the standard policy and [`signing_key`] under kid [`KID`].
pub fn verifier() -> Verifier {
    verifier_with(policy())
}

/// A verifier with `policy` and [`signing_key`] under kid [`KID`].
pub fn verifier_with(policy: Policy) -> Verifier {
    let keys = KeySet::from_jwks_json(&jwks_json(&[(&signing_key(), Some(KID))])).expect("key set");
    Verifier::new(policy, keys).expect("verifier")
}

/// A token with the standard header and claims, signed by [`signing_key`].
pub fn valid_token() -> String {
    sign(HEADER, &standard_claims(NOW), &signing_key())
}

/// A token with the standard header and `payload`, signed by [`signing_key`].
pub fn token_with_claims(payload: &str) -> String {
    sign(HEADER, payload, &signing_key())
}

/// A token with `header` and the standard claims, signed by [`signing_key`].
pub fn token_with_header(header: &str) -> String {
    sign(header, &standard_claims(NOW), &signing_key())
}

/// Asserts that `result` is an error with exactly `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Error>, code: ErrorCode, what: &str) {
    match result {
        Ok(v) => panic!("{what}: expected error {}, got Ok({v:?})", code.as_str()),
        Err(e) => assert_eq!(
            e.code(),
            code,
            "{what}: expected {}, got {} ({})",
            code.as_str(),
            e.code().as_str(),
            e.detail()
        ),
    }
}

/// Asserts that `result` is Ok and returns the value.
#[track_caller]
pub fn assert_ok<T>(result: Result<T, Error>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: expected Ok, got {} ({})", e.code().as_str(), e.detail()),
    }
}

/// Verifies `payload` (signed with the standard header) at [`NOW`] with the standard verifier.
pub fn verify_claims(payload: &str) -> Result<Claims, Error> {
    verifier().verify(&token_with_claims(payload), now())
}

/// The test-vector directory: `$EDGETOKEN_VECTORS`, else `../shared/vectors` next to the
/// crate. Panics if it does not exist: missing vectors must fail the run, not skip it.
pub fn vectors_dir() -> PathBuf {
    let dir = match std::env::var_os("EDGETOKEN_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors")),
    };
    assert!(
        dir.is_dir(),
        "test vectors directory {} is missing (set EDGETOKEN_VECTORS to override)",
        dir.display()
    );
    dir
}

/// Reads and parses a JSON file under [`vectors_dir`] (relative path).
pub fn load_vector(rel: &str) -> serde_json::Value {
    let path = vectors_dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read test vector file {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("test vector file {} is not JSON: {e}", path.display()))
}
