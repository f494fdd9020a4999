//! RFC 7515 Appendix A.3: the ES256 example (a high-S signature, no typ, no aud).

mod common;

use common::{assert_code, assert_ok, b64, load_vector, unb64};
use edgetoken::{ErrorCode, KeySet, Policy, UnixTime, Verifier};
use serde_json::Value;

struct A3 {
    token: String,
    jwk: String,
    jwk_private: String,
    payload: String,
}

fn a3() -> A3 {
    let v: Value = load_vector("rfc7515-a3.json");
    let s = |name: &str| v[name].as_str().unwrap_or_else(|| panic!("rfc7515-a3.json: no {name}")).to_string();
    A3 {
        token: s("token"),
        jwk: v["jwk"].to_string(),
        jwk_private: v["jwk_private"].to_string(),
        payload: v["decoded"]["payload"].as_str().expect("decoded.payload").to_string(),
    }
}

fn verifier(policy: Policy) -> Verifier {
    let keys = KeySet::from_jwks_json(&a3().jwk).expect("A.3 public JWK must be accepted");
    Verifier::new(policy, keys).expect("policy")
}

#[test]
fn signature_verifies_and_is_high_s() {
    let a3 = a3();
    // s > n/2: the first byte of s (0xc5) is above n/2's (0x7f).
    let sig = unb64(a3.token.rsplit('.').next().unwrap());
    assert_eq!(sig.len(), 64);
    assert!(sig[32] > 0x7f, "the A.3 signature is high-S");
    let v = verifier(Policy::new("joe", ["x"]).with_typ(None));
    let payload = assert_ok(v.verify_signature(&a3.token), "RFC 7515 A.3 signature");
    assert_eq!(String::from_utf8(payload).unwrap(), a3.payload);
}

#[test]
fn typ_is_required_by_default() {
    // The example carries no typ; the default policy wants at+jwt.
    let v = verifier(Policy::new("joe", ["x"]));
    assert_code(v.verify_signature(&a3().token), ErrorCode::TypMismatch, "A.3 with default typ policy");
}

#[test]
fn full_verify_fails_on_missing_aud_not_on_signature() {
    let v = verifier(Policy::new("joe", ["x"]).with_typ(None));
    let at = UnixTime::from_secs(1_300_819_370);
    assert_code(v.verify(&a3().token, at), ErrorCode::ClaimMissing, "A.3 has no aud");
    // Whatever the clock, the failure is never a signature failure.
    for now in [0u64, 1_300_819_379, 1_300_819_380, 1_300_819_410, 1_800_000_000] {
        let err = v.verify(&a3().token, UnixTime::from_secs(now)).unwrap_err();
        assert_ne!(err.code(), ErrorCode::BadSignature, "now={now}: {err}");
    }
}

#[test]
fn flipping_any_single_signature_bit_is_bad_signature() {
    let a3 = a3();
    let v = verifier(Policy::new("joe", ["x"]).with_typ(None));
    let (input, sig_b64) = a3.token.rsplit_once('.').unwrap();
    let sig = unb64(sig_b64);
    for bit in [0usize, 7, 255, 256, 300, 511] {
        let mut bad = sig.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let token = format!("{input}.{}", b64(&bad));
        assert_code(v.verify_signature(&token), ErrorCode::BadSignature, &format!("bit {bit} flipped"));
    }
}

#[test]
fn private_jwk_is_refused() {
    let err = KeySet::from_jwks_json(&a3().jwk_private).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidKey, "{err}");
    let err = KeySet::from_jwks_json(&format!(r#"{{"keys":[{}]}}"#, a3().jwk_private)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidKey, "{err}");
}
