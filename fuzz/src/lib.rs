//! The fuzz harness: one function per fuzz target, shared by `fuzz_targets/*.rs` and by
//! `tests/fuzz_regressions.rs` (which includes this file with `#[path]`), so `cargo test`
//! replays every kept reproducer through exactly the code the fuzzer ran.
//!
//! Besides "no panic" (libFuzzer reports any panic) and the RSS / input-size limits of
//! `run.sh` ("no unbounded allocation"), each function checks oracles on what the verifier
//! accepts: an accepted token satisfies the policy (checked again here, independently,
//! with serde_json), a cached verification answers like an uncached one, and an accepted
//! revocation artifact installs and answers lookups.
//!
//! Only `edgetoken` (with its `sign` module: tokens and filters are signed by the same
//! code the origin uses), `p256`, `base64` and `serde_json` are used: the root crate's
//! dependencies and dev-dependencies, so the regression test compiles without the fuzz crate.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgetoken::cache::CacheLimits;
use edgetoken::revocation::{Kind, RevocationList, TokenIds};
use edgetoken::sign::FilterSpec;
use edgetoken::{Claims, Error, ErrorCode, KeySet, Policy, PublicKey, UnixTime, Verifier};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use std::borrow::Cow;
use std::sync::OnceLock;

/// The fixed "now" of the harness.
pub const NOW: u64 = 1_800_000_000;
/// A "now" before the RFC 7515 A.3 token's `exp`.
pub const A3_NOW: u64 = 1_300_819_370;
/// The configured issuer.
pub const ISS: &str = "https://auth.example.com";
/// The configured audience.
pub const AUD: &str = "https://app.example.com";
/// The kid of [`signing_key`].
pub const KID: &str = "k1";
/// The header the structure-aware token target uses when the input carries none.
pub const HEADER: &str = r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#;
/// RFC 7515 A.3's public key (no kid).
pub const A3_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
/// Wycheproof's JWS EC key (`kid-ec-sign`), so the Wycheproof JWS seeds reach the signature.
pub const WYCHEPROOF_JWK: &str = r#"{"alg":"ES256","use":"sig","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw","crv":"P-256","kid":"kid-ec-sign","kty":"EC"}"#;
/// Separates header from payload in `verify_signed` inputs (never valid UTF-8).
pub const SEPARATOR: u8 = 0xff;
/// The fixed prefix of a revocation artifact signed by [`signing_key`] under kid `k1`:
/// magic, version 1, algorithm 2, kid length 2, kid.
pub const REVOCATION_PREFIX: &[u8] = b"ETRV\x01\x02\x02k1";

/// The harness signing key (fixed, deterministic; the same as the Rust test suite's).
pub fn signing_key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).expect("[7; 32] is a valid P-256 scalar")
}

/// Unpadded base64url.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The public JWK of `key` under `kid`.
pub fn public_jwk(key: &SigningKey, kid: &str) -> String {
    edgetoken::sign::public_jwk(key.verifying_key(), Some(kid))
}

/// A compact JWS over arbitrary header and payload bytes, signed by [`signing_key`].
pub fn sign_token(header: &[u8], payload: &[u8]) -> String {
    edgetoken::sign::compact_jws(&fixture().signer, header, payload)
}

/// Appends the ES256 signature of [`signing_key`] to `signed`.
pub fn sign_artifact(mut signed: Vec<u8>) -> Vec<u8> {
    let sig: Signature = fixture().signer.sign(&signed);
    signed.extend_from_slice(&sig.to_bytes());
    signed
}

/// Verifiers and keys built once per process.
pub struct Fixture {
    signer: SigningKey,
    /// The default policy (typ at+jwt, sub and jti required), key k1 only, no cache.
    pub strict: Verifier,
    /// typ not checked, nothing required beyond iss/aud/exp/iat, keys k1 and Wycheproof's.
    pub loose: Verifier,
    /// RFC 7515 A.3's key alone (tokens without kid), typ not checked.
    pub a3: Verifier,
    /// The default policy with the default token cache (cloned per input: empty cache).
    pub cached: Verifier,
    /// Key set {k1}.
    pub keys: KeySet,
}

/// The process-wide [`Fixture`].
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let signer = signing_key();
        let k1 = public_jwk(&signer, KID);
        let keys = KeySet::from_jwks_json(&format!(r#"{{"keys":[{k1}]}}"#)).expect("k1 set");
        let two = KeySet::from_jwks_json(&format!(r#"{{"keys":[{k1},{WYCHEPROOF_JWK}]}}"#)).expect("two keys");
        let a3_keys = KeySet::from_jwks_json(A3_JWK).expect("A.3 key");
        let policy = Policy::new(ISS, [AUD]);
        let mut strict = Verifier::new(policy.clone(), keys.clone()).expect("strict");
        strict.set_cache_limits(CacheLimits::DISABLED);
        let loose_policy = Policy::new(ISS, [AUD, "joe"]).with_typ(None).with_required_claims(vec![]);
        let mut loose = Verifier::new(loose_policy, two).expect("loose");
        loose.set_cache_limits(CacheLimits::DISABLED);
        let a3_policy = Policy::new("joe", [AUD]).with_typ(None).with_required_claims(vec![]);
        let mut a3 = Verifier::new(a3_policy, a3_keys).expect("a3");
        a3.set_cache_limits(CacheLimits::DISABLED);
        let cached = Verifier::new(policy, keys.clone()).expect("cached");
        Fixture { signer, strict, loose, a3, cached, keys }
    })
}

/// Every refusal carries a listed code and a non-empty detail.
fn check_error(e: &Error) {
    assert!(ErrorCode::ALL.contains(&e.code()), "unlisted error code {:?}", e.code());
    assert!(!e.detail().is_empty(), "empty detail for {:?}", e.code());
}

/// An accepted token satisfies `policy` at `now`, judged independently with serde_json.
fn check_accepted(claims: &Claims, policy: &Policy, audiences: &[&str], now: u64) {
    let tol = policy.clock_tolerance();
    assert_eq!(claims.issuer(), policy.issuer(), "accepted another issuer");
    assert!(claims.audience().iter().any(|a| audiences.contains(&a.as_str())), "accepted another audience");
    let (exp, iat) = (claims.expires_at(), claims.issued_at());
    assert!(now < exp + tol, "accepted an expired token");
    assert!(iat <= now + tol, "accepted a token issued in the future");
    assert!(claims.not_before().is_none_or(|nbf| nbf <= now + tol), "accepted a token before nbf");
    assert!(iat <= exp && exp - iat <= policy.max_token_lifetime(), "accepted a bad lifetime");
    // The signed JSON, read by a second parser, says the same.
    let value: serde_json::Value = serde_json::from_str(claims.json()).expect("accepted claims are JSON");
    let obj = value.as_object().expect("accepted claims are an object");
    assert_eq!(obj.get("iss").and_then(|v| v.as_str()), Some(claims.issuer()));
    assert_eq!(obj.get("exp").and_then(|v| v.as_u64()), Some(exp), "exp read differently");
    assert_eq!(obj.get("iat").and_then(|v| v.as_u64()), Some(iat), "iat read differently");
    assert_eq!(obj.get("nbf").and_then(|v| v.as_u64()), claims.not_before(), "nbf read differently");
    assert_eq!(obj.get("sub").and_then(|v| v.as_str()), claims.subject());
    assert_eq!(obj.get("jti").and_then(|v| v.as_str()), claims.token_id());
    assert_eq!(obj.get("sid").and_then(|v| v.as_str()), claims.session_id());
    for (n, v) in obj {
        if ["iss", "sub", "jti", "sid"].contains(&n.as_str()) {
            assert!(v.is_string(), "accepted a non-string {n}");
        }
    }
}

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Target `verify_token`: arbitrary bytes as a token, through `verify` and
/// `verify_signature` of several verifiers (default policy; loose policy with two keys;
/// RFC 7515 A.3's key).
pub fn verify_token(data: &[u8]) {
    let fx = fixture();
    let token = text(data);
    for (v, now, auds) in [
        (&fx.strict, NOW, &[AUD][..]),
        (&fx.loose, NOW, &[AUD, "joe"][..]),
        (&fx.a3, A3_NOW, &[AUD][..]),
    ] {
        match v.verify(&token, UnixTime::from_secs(now)) {
            Ok(claims) => check_accepted(&claims, v.policy(), auds, now),
            Err(e) => check_error(&e),
        }
        if let Err(e) = v.verify_signature(&token) {
            check_error(&e);
        }
    }
}

/// Target `jwks_parse`: arbitrary bytes as a JWK Set and as a single JWK.
pub fn jwks_parse(data: &[u8]) {
    let json = text(data);
    match KeySet::from_jwks_json(&json) {
        Ok(set) => {
            let n = set.keys().len();
            assert!((1..=edgetoken::keys::MAX_KEYS).contains(&n), "key set of {n} keys accepted");
            for (i, k) in set.keys().iter().enumerate() {
                if let Some(kid) = k.kid() {
                    assert!(kid.len() <= 256, "long kid accepted");
                    let chosen = set.select(Some(kid)).expect("a key's own kid selects it");
                    assert_eq!(chosen.kid(), Some(kid));
                    assert!(set.keys()[..i].iter().all(|o| o.kid() != Some(kid)), "duplicate kid accepted");
                }
            }
            assert_eq!(set.select(None).is_ok(), n == 1);
            let v = Verifier::new(Policy::new(ISS, [AUD]), set).expect("a parsed key set makes a verifier");
            // The harness token (kid k1) can only verify if the set holds k1's point.
            let _ = v.verify(&sign_token(HEADER.as_bytes(), b"{}"), UnixTime::from_secs(NOW));
        }
        Err(e) => check_error(&e),
    }
    match PublicKey::from_jwk_json(&json) {
        Ok(k) => {
            KeySet::new(vec![k]).expect("one parsed key is a valid set");
        }
        Err(e) => check_error(&e),
    }
}

/// What an accepted artifact must satisfy; installs it and runs lookups.
fn check_revocations(list: &RevocationList, artifact: &[u8]) {
    assert_eq!(list.issuer(), ISS);
    let at = UnixTime::from_secs(list.status(UnixTime::from_secs(0)).built_at);
    let status = list.status(at);
    assert!(status.not_after > status.built_at, "not_after <= built_at accepted");
    assert_eq!(status.bytes, artifact.len());
    assert!(!status.stale, "stale at built_at");
    for kind in [Kind::Session, Kind::Token] {
        let _ = list.may_contain(kind, "session-1");
        let _ = list.may_contain(kind, "");
    }
    for iat in [0, status.built_at, u64::MAX] {
        let ids = TokenIds { sub: Some("user-1"), sid: Some("session-1"), jti: Some("token-1"), iat };
        let _ = list.revocation_reason(&ids, 30);
        let _ = list.revocation_reason(&TokenIds { iat, ..TokenIds::default() }, u64::MAX);
    }
    // A verifier installs what RevocationList::verify accepts, when fresh.
    let v = fixture().strict.clone();
    let installed = v.set_revocations(artifact, at).expect("an accepted artifact installs at built_at");
    assert_eq!(installed, status);
    // The same sequence again is not a rollback; a check of a valid token never panics.
    v.set_revocations(artifact, at).expect("same sequence twice");
    v.set_revocation_required(true);
    let token = sign_token(HEADER.as_bytes(), valid_claims(NOW).as_bytes());
    if let Err(e) = v.verify(&token, UnixTime::from_secs(NOW)) {
        check_error(&e);
    }
}

/// Target `revocation_parse`: arbitrary bytes as a revocation artifact, through
/// `RevocationList::verify` (key set {k1}) and `Verifier::set_revocations`.
pub fn revocation_parse(data: &[u8]) {
    let fx = fixture();
    match RevocationList::verify(data, &fx.keys, ISS) {
        Ok(list) => check_revocations(&list, data),
        Err(e) => check_error(&e),
    }
    let v = fx.strict.clone();
    if let Err(e) = v.set_revocations(data, UnixTime::from_secs(NOW)) {
        check_error(&e);
    }
}

/// The standard claims at `now` (valid for the default policy).
pub fn valid_claims(now: u64) -> String {
    format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"user-1","sid":"session-1","jti":"token-1","iat":{now},"exp":{}}}"#,
        now + 600
    )
}

/// Target `verify_signed` (structure-aware): the input is `flags` then either a payload
/// (signed under [`HEADER`]) or `header 0xFF payload`. The token is signed by k1, so every
/// input passes the signature and reaches the header and claims parsers. `now` is
/// `NOW - 1024 + 8 * flags`.
pub fn verify_signed(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else { return };
    let (header, payload) = match rest.iter().position(|&b| b == SEPARATOR) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (HEADER.as_bytes(), rest),
    };
    let now = NOW - 1024 + 8 * u64::from(flags);
    let token = sign_token(header, payload);
    let fx = fixture();
    let at = UnixTime::from_secs(now);
    let strict = fx.strict.verify(&token, at);
    for (v, r, auds) in [
        (&fx.strict, strict.clone(), &[AUD][..]),
        (&fx.loose, fx.loose.verify(&token, at), &[AUD, "joe"][..]),
    ] {
        match r {
            Ok(claims) => {
                check_accepted(&claims, v.policy(), auds, now);
                assert_eq!(claims.json().as_bytes(), payload, "claims are not the signed payload");
                let h: serde_json::Value = serde_json::from_slice(header).expect("accepted header is JSON");
                assert_eq!(h.get("alg").and_then(|a| a.as_str()), Some("ES256"));
            }
            Err(e) => check_error(&e),
        }
    }
    match fx.strict.verify_signature(&token) {
        Ok(p) => assert_eq!(p, payload, "verify_signature returned other bytes"),
        Err(e) => check_error(&e),
    }
    // The token cache answers exactly like a full verification, now and later (only an
    // accepted token is cached, so only those are interesting).
    if strict.is_ok() {
        let cached = fx.cached.clone();
        for t in [now, now + 300, now + 700] {
            let at = UnixTime::from_secs(t);
            let uncached = if t == now { strict.clone() } else { fx.strict.verify(&token, at) };
            for r in [cached.verify(&token, at), cached.verify(&token, at)] {
                match (&r, &uncached) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "cache returned other claims"),
                    (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "cache changed the error"),
                    _ => panic!("cache changed the outcome: {r:?} vs {uncached:?}"),
                }
            }
        }
    }
}

/// Target `revocation_signed` (structure-aware): the input is the signed part of an
/// artifact after [`REVOCATION_PREFIX`]; the harness signs it with k1, so every input
/// passes the signature check and reaches the parser behind it.
pub fn revocation_signed(data: &[u8]) {
    let mut signed = REVOCATION_PREFIX.to_vec();
    signed.extend_from_slice(data);
    let artifact = sign_artifact(signed);
    match RevocationList::verify(&artifact, &fixture().keys, ISS) {
        Ok(list) => check_revocations(&list, &artifact),
        Err(e) => check_error(&e),
    }
}

/// Builds a real artifact (k1, fixed salt) for seeds and tests.
pub fn build_artifact(spec: &FilterSpec) -> Vec<u8> {
    spec.build(&signing_key(), KID, [9u8; 16]).expect("artifact builds")
}
