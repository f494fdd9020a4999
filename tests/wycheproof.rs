//! Project Wycheproof vectors (see ../shared/vectors/wycheproof/README.md).
//!
//! The ECDSA files exercise the raw ES256 step (`signature::verify_es256`); the JOSE files
//! go through the public API (`KeySet::from_jwks_json` + `Verifier::verify_signature`).

mod common;

use common::{hex, load_vector, unb64};
use edgetoken::signature::verify_es256;
use edgetoken::{ErrorCode, KeySet, Policy, PublicKey, Verifier};
use serde_json::Value;

fn tc_id(test: &Value) -> String {
    match &test["tcId"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("test without a tcId: {other}"),
    }
}

fn str_field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("missing string field {name:?} in {v}"))
}

fn groups(file: &Value) -> &Vec<Value> {
    file["testGroups"].as_array().expect("testGroups must be an array")
}

fn number_of_tests(file: &Value) -> usize {
    file["numberOfTests"].as_u64().expect("numberOfTests") as usize
}

// ---------------------------------------------------------------------------------------
// ECDSA (raw signature step)
// ---------------------------------------------------------------------------------------

#[test]
fn ecdsa_p1363_vectors() {
    const FILE: &str = "wycheproof/ecdsa_secp256r1_sha256_p1363_test.json";
    let file = load_vector(FILE);
    assert_eq!(file["algorithm"], "ECDSA");
    let (mut count, mut valid, mut invalid) = (0usize, 0usize, 0usize);
    let mut mismatches = Vec::new();
    for group in groups(&file) {
        assert_eq!(group["type"], "EcdsaP1363Verify");
        assert_eq!(group["sha"], "SHA-256");
        let point = hex(str_field(&group["publicKey"], "uncompressed"));
        let key = PublicKey::from_sec1_bytes(&point, None)
            .unwrap_or_else(|e| panic!("group key refused: {e} ({})", group["publicKey"]["uncompressed"]));
        for test in group["tests"].as_array().expect("tests") {
            count += 1;
            let msg = hex(str_field(test, "msg"));
            let sig = hex(str_field(test, "sig"));
            let expected = match str_field(test, "result") {
                "valid" => {
                    valid += 1;
                    true
                }
                "invalid" => {
                    invalid += 1;
                    false
                }
                other => panic!("tcId {}: unexpected result {other:?}", tc_id(test)),
            };
            let got = verify_es256(&key, &msg, &sig);
            if let Err(e) = &got {
                assert_eq!(e.code(), ErrorCode::BadSignature, "tcId {}: wrong code {e}", tc_id(test));
            }
            if got.is_ok() != expected {
                mismatches.push(format!("{} ({}): expected {expected}, got {got:?}", tc_id(test), test["comment"]));
            }
        }
    }
    eprintln!("{FILE}: {count} tests, {valid} valid, {invalid} invalid");
    assert!(count > 0, "{FILE} yielded zero cases");
    assert_eq!(count, number_of_tests(&file));
    assert_eq!(count, 262);
    assert!(valid > 0 && invalid > 0, "expected both valid and invalid cases");
    assert_eq!((valid, invalid), (173, 89), "README counts");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn ecdsa_der_vectors_are_all_rejected() {
    const FILE: &str = "wycheproof/ecdsa_secp256r1_sha256_test.json";
    let file = load_vector(FILE);
    let mut count = 0usize;
    let mut wrongly_accepted = Vec::new();
    let mut der_valid = 0usize;
    for group in groups(&file) {
        assert_eq!(group["type"], "EcdsaVerify");
        let point = hex(str_field(&group["publicKey"], "uncompressed"));
        let key = PublicKey::from_sec1_bytes(&point, None).expect("group key");
        for test in group["tests"].as_array().expect("tests") {
            count += 1;
            if test["result"] == "valid" {
                der_valid += 1;
            }
            let msg = hex(str_field(test, "msg"));
            let sig = hex(str_field(test, "sig"));
            match verify_es256(&key, &msg, &sig) {
                Err(e) if e.code() == ErrorCode::BadSignature => {}
                other => wrongly_accepted.push(format!("{}: {other:?}", tc_id(test))),
            }
        }
    }
    eprintln!("{FILE}: {count} tests (of which {der_valid} valid DER), all must be rejected");
    assert!(count > 0, "{FILE} yielded zero cases");
    assert_eq!(count, number_of_tests(&file));
    assert_eq!(count, 484);
    assert!(der_valid > 0, "the DER file must contain valid DER signatures (they are refused as non-ES256)");
    assert!(
        wrongly_accepted.is_empty(),
        "DER signatures must be refused with bad_signature:\n{}",
        wrongly_accepted.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// JOSE files (public API)
// ---------------------------------------------------------------------------------------

/// The `alg` of a compact token's protected header, if it decodes.
fn header_alg(token: &str) -> Option<String> {
    let first = token.split('.').next()?;
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, first).ok()?;
    let header: Value = serde_json::from_slice(&bytes).ok()?;
    header.get("alg")?.as_str().map(str::to_string)
}

#[derive(Default, Debug)]
struct JoseCounts {
    total: usize,
    accepted: usize,
    rejected_invalid: usize,
    rejected_by_policy: usize,
    key_refused: usize,
    serialization_refused: usize,
}

/// Runs one JOSE file. `key_of(group)` gives the key material (JWK or JWK Set) to load.
/// Returns the counts and the set of tcIds that were rejected.
fn run_jose(rel: &str, expected_type: &str) -> (JoseCounts, Vec<String>, Vec<String>) {
    let file = load_vector(rel);
    let mut counts = JoseCounts::default();
    let mut mismatches = Vec::new();
    let mut rejected = Vec::new();
    let policy = Policy::new("x", ["x"]).with_typ(None);
    for group in groups(&file) {
        let ty = group["type"].as_str().expect("group type");
        assert!(ty == expected_type, "{rel}: unexpected group type {ty}");
        let key_material = group.get("public").or_else(|| group.get("private")).expect("group key");
        let key_json = serde_json::to_string(key_material).unwrap();
        let verifier = KeySet::from_jwks_json(&key_json)
            .map(|keys| Verifier::new(policy.clone(), keys).expect("policy is valid"));
        for test in group["tests"].as_array().expect("tests") {
            counts.total += 1;
            let id = tc_id(test);
            let result = str_field(test, "result");
            assert!(result == "valid" || result == "invalid", "tcId {id}: result {result:?}");
            // Compact string, JSON serialization (object), or a JWE: always a string here.
            let (text, compact) = match test.get("jws").or_else(|| test.get("jwe")) {
                Some(Value::String(s)) => (s.clone(), test.get("jws").is_some()),
                Some(obj) => (serde_json::to_string(obj).unwrap(), false),
                None => panic!("tcId {id}: neither jws nor jwe"),
            };
            let alg = header_alg(&text);
            let expect_accept = compact && result == "valid" && alg.as_deref() == Some("ES256");
            let outcome = match &verifier {
                Err(_) => None,
                Ok(v) => Some(v.verify_signature(&text)),
            };
            let accepted = matches!(outcome, Some(Ok(_)));
            if accepted {
                counts.accepted += 1;
            } else {
                rejected.push(id.clone());
                // By expectation: a "valid" vector we refuse is refused by policy (not ES256,
                // or not a compact JWS); an "invalid" one is simply invalid.
                if result == "valid" {
                    counts.rejected_by_policy += 1;
                } else {
                    counts.rejected_invalid += 1;
                }
                // By mechanism (orthogonal tallies).
                if outcome.is_none() {
                    counts.key_refused += 1;
                }
                if !compact {
                    counts.serialization_refused += 1;
                }
            }
            if accepted != expect_accept {
                mismatches.push(format!(
                    "tcId {id} ({}; result {result}, alg {alg:?}): expected accepted={expect_accept}, got {outcome:?}",
                    test["comment"]
                ));
            }
            if let Some(Ok(payload)) = &outcome {
                // The vectors' valid ES256 payloads are "foo".
                assert_eq!(payload, b"foo", "tcId {id}: payload");
            }
        }
    }
    eprintln!("{rel}: {counts:?}");
    assert!(counts.total > 0, "{rel} yielded zero cases");
    assert_eq!(counts.total, number_of_tests(&file), "{rel}: numberOfTests");
    (counts, rejected, mismatches)
}

#[test]
fn jws_vectors() {
    let (counts, rejected, mismatches) =
        run_jose("wycheproof/json_web_signature_test.json", "JsonWebSignature");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    assert_eq!(counts.total, 401);
    // Valid ES256: tcId 18 and 378. The other 44 valid vectors are HS/RS/PS/ES512.
    assert_eq!(counts.accepted, 2, "{counts:?}");
    assert_eq!(counts.rejected_by_policy, 46 - 2, "{counts:?}");
    assert!(counts.rejected_invalid > 0 && counts.key_refused > 0, "{counts:?}");
    for id in ["354", "356"] {
        assert!(rejected.iter().any(|r| r == id), "tcId {id} (key use enc / key_ops encrypt) must be rejected");
    }
}

#[test]
fn jws_vectors_wrong_use_keys_refused_at_key_parsing() {
    // tcId 354/356: the signature is fine; the key's use/key_ops make it unusable.
    let file = load_vector("wycheproof/json_web_signature_test.json");
    let mut seen = 0;
    for group in groups(&file) {
        for test in group["tests"].as_array().unwrap() {
            let id = tc_id(test);
            if id == "354" || id == "356" {
                seen += 1;
                let jwk = serde_json::to_string(&group["public"]).unwrap();
                let err = KeySet::from_jwks_json(&jwk).expect_err("enc key must be refused");
                assert_eq!(err.code(), ErrorCode::InvalidKey, "tcId {id}: {err}");
                // And with the ES256 signing key the same token does verify: the key, not
                // the signature, is what is refused.
                let mut ok_jwk: Value = group["public"].clone();
                let obj = ok_jwk.as_object_mut().unwrap();
                obj.remove("use");
                obj.remove("key_ops");
                let keys = KeySet::from_jwks_json(&ok_jwk.to_string()).expect("same key without use");
                let v = Verifier::new(Policy::new("x", ["x"]).with_typ(None), keys).unwrap();
                assert!(v.verify_signature(str_field(test, "jws")).is_ok(), "tcId {id} signature itself is valid");
            }
        }
    }
    assert_eq!(seen, 2);
}

#[test]
fn json_web_crypto_vectors() {
    let (counts, _rejected, mismatches) =
        run_jose("wycheproof/json_web_crypto_test.json", "JsonWebCrypto");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    assert_eq!(counts.total, 83);
    assert_eq!(counts.accepted, 1, "only tcId 18 is a valid ES256 JWS: {counts:?}");
    assert_eq!(counts.rejected_by_policy, 6 - 1, "{counts:?}");
    assert!(counts.rejected_invalid > 0, "{counts:?}");
    assert!(counts.serialization_refused >= 2, "JSON serialization and JWE must be refused: {counts:?}");
}

#[test]
fn json_web_key_vectors() {
    let (counts, rejected, mismatches) = run_jose("wycheproof/json_web_key_test.json", "JsonWebKey");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    assert_eq!(counts.total, 26);
    assert_eq!(counts.accepted, 0, "no valid ES256 vector in this file: {counts:?}");
    assert_eq!(counts.rejected_by_policy, 5, "the 5 valid vectors are HS/RS: {counts:?}");
    assert!(counts.key_refused > 0, "{counts:?}");
    for id in 19..=24 {
        let id = id.to_string();
        assert!(rejected.contains(&id), "tcId {id} must be rejected");
    }
}

#[test]
fn json_web_key_bad_p256_keys_refused_as_invalid_key() {
    // tcId 19-24: ES521/ES224 alg, use enc, off-curve y, P-384, RSA kty.
    let file = load_vector("wycheproof/json_web_key_test.json");
    let mut seen = 0;
    for group in groups(&file) {
        let ids: Vec<String> = group["tests"].as_array().unwrap().iter().map(tc_id).collect();
        if ids.iter().any(|id| (19..=24).any(|n| n.to_string() == *id)) {
            seen += 1;
            let set = serde_json::to_string(&group["public"]).unwrap();
            let err = KeySet::from_jwks_json(&set).expect_err("bad key must be refused");
            assert_eq!(err.code(), ErrorCode::InvalidKey, "tcIds {ids:?}: {err}");
        }
        // A private key set is always refused (it has `d`).
        if let Some(private) = group.get("private") {
            let set = serde_json::to_string(private).unwrap();
            assert!(KeySet::from_jwks_json(&set).is_err(), "private key set accepted: {set}");
        }
    }
    assert_eq!(seen, 6);
}

#[test]
fn p1363_group_jwks_parse_like_the_sec1_points() {
    // Cross-check the JWK path against the SEC1 path on the 103 groups that carry a JWK.
    let file = load_vector("wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
    let mut n = 0;
    for group in groups(&file) {
        let Some(jwk) = group.get("publicKeyJwk") else { continue };
        n += 1;
        let key = PublicKey::from_jwk_json(&jwk.to_string()).unwrap_or_else(|e| panic!("{jwk}: {e}"));
        assert_eq!(key.kid(), Some("none"));
        let mut sec1 = vec![4u8];
        sec1.extend(unb64(str_field(jwk, "x")));
        sec1.extend(unb64(str_field(jwk, "y")));
        assert_eq!(sec1, hex(str_field(&group["publicKey"], "uncompressed")));
        assert_eq!(
            key.verifying_key(),
            PublicKey::from_sec1_bytes(&sec1, None).unwrap().verifying_key()
        );
    }
    assert_eq!(n, 103, "README: 103 of the 112 groups carry a JWK");
}
