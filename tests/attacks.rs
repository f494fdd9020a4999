//! Attack suite: one test per class, each asserting the exact error code.

mod common;

use common::*;
use edgetoken::{ErrorCode, KeySet, Policy, UnixTime, Verifier, DEFAULT_MAX_TOKEN_SIZE};
use p256::ecdsa::Signature;
use p256::elliptic_curve::scalar::IsHigh;
use sha2::{Digest, Sha256};

fn header_with(extra: &str) -> String {
    format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"k1",{extra}}}"#)
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = Sha256::new();
    inner.update(&ipad);
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(&opad);
    outer.update(inner);
    outer.finalize().to_vec()
}

fn n_bytes() -> Vec<u8> {
    hex(N_HEX)
}

/// Sets the lowest (padding) bit of a base64url segment's last character.
fn noncanonical(seg: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert!(matches!(seg.len() % 4, 2 | 3), "segment of length {} has no padding bits", seg.len());
    let last = *seg.as_bytes().last().unwrap();
    let idx = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(idx & 1, 0, "canonical encodings have zero padding bits");
    let mut out = seg[..seg.len() - 1].to_string();
    out.push(ALPHABET[idx | 1] as char);
    out
}

// ---------------------------------------------------------------------------------------
// Algorithm confusion
// ---------------------------------------------------------------------------------------

#[test]
fn alg_none_in_every_spelling_is_alg_not_allowed() {
    let v = verifier();
    let payload = standard_claims(NOW);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"k1"}}"#);
        let unsigned = format!("{}.{}.", b64(&header), b64(&payload));
        assert_code(v.verify(&unsigned, now()), ErrorCode::AlgNotAllowed, &format!("alg {alg}, empty signature"));
        let garbage = format!("{}.{}.{}", b64(&header), b64(&payload), b64(b"garbage signature bytes"));
        assert_code(v.verify(&garbage, now()), ErrorCode::AlgNotAllowed, &format!("alg {alg}, garbage signature"));
        let signed = sign(&header, &payload, &signing_key());
        assert_code(v.verify(&signed, now()), ErrorCode::AlgNotAllowed, &format!("alg {alg}, real signature"));
    }
}

#[test]
fn hs256_with_public_key_as_hmac_secret_is_alg_not_allowed() {
    let v = verifier();
    let header = r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#;
    let input = format!("{}.{}", b64(header), b64(standard_claims(NOW)));
    let point = signing_key().verifying_key().to_sec1_point(false);
    let secrets: Vec<Vec<u8>> = vec![
        point.as_bytes().to_vec(),
        jwk(&signing_key(), Some(KID)).into_bytes(),
        jwks_json(&[(&signing_key(), Some(KID))]).into_bytes(),
    ];
    for secret in secrets {
        let mac = hmac_sha256(&secret, input.as_bytes());
        assert_eq!(mac.len(), 32);
        let token = format!("{input}.{}", b64(&mac));
        assert_code(v.verify(&token, now()), ErrorCode::AlgNotAllowed, "HS256 key confusion");
        assert_code(v.verify_signature(&token), ErrorCode::AlgNotAllowed, "HS256 key confusion (signature only)");
    }
}

#[test]
fn other_algorithms_and_bad_alg_values_are_alg_not_allowed() {
    let v = verifier();
    let payload = standard_claims(NOW);
    let mut headers: Vec<String> = ["RS256", "PS256", "ES384", "ES512", "EdDSA", "HS256", "es256", "ES256 ", " ES256", "ES256K", ""]
        .iter()
        .map(|alg| format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"k1"}}"#))
        .collect();
    headers.push(r#"{"typ":"at+jwt","kid":"k1"}"#.into());
    for raw in ["256", "null", r#"["ES256"]"#, r#"{"alg":"ES256"}"#, "true"] {
        headers.push(format!(r#"{{"alg":{raw},"typ":"at+jwt","kid":"k1"}}"#));
    }
    for header in headers {
        // Signed with the real key: the refusal must come from the alg check alone.
        let token = sign(&header, &payload, &signing_key());
        assert_code(v.verify(&token, now()), ErrorCode::AlgNotAllowed, &header);
    }
}

#[test]
fn alg_is_checked_before_forbidden_parameters() {
    let v = verifier();
    let header = r#"{"alg":"none","jwk":{"kty":"EC"},"typ":"at+jwt"}"#;
    let token = format!("{}.{}.", b64(header), b64(standard_claims(NOW)));
    assert_code(v.verify(&token, now()), ErrorCode::AlgNotAllowed, "alg none with jwk");
}

// ---------------------------------------------------------------------------------------
// Header parameters
// ---------------------------------------------------------------------------------------

#[test]
fn embedded_attacker_jwk_is_header_not_allowed() {
    let v = verifier();
    let attacker = other_key();
    let payload = standard_claims(NOW);
    for header in [
        header_with(&format!(r#""jwk":{}"#, jwk(&attacker, Some(KID)))),
        format!(r#"{{"alg":"ES256","typ":"at+jwt","jwk":{}}}"#, jwk(&attacker, None)),
    ] {
        let token = sign(&header, &payload, &attacker);
        assert_code(v.verify(&token, now()), ErrorCode::HeaderNotAllowed, &header);
        // Even signed by the legitimate key the parameter is refused.
        let token = sign(&header, &payload, &signing_key());
        assert_code(v.verify(&token, now()), ErrorCode::HeaderNotAllowed, &header);
    }
}

#[test]
fn key_source_and_extension_parameters_are_header_not_allowed() {
    let v = verifier();
    for extra in [
        r#""jku":"https://evil.example.com/jwks.json""#,
        r#""x5u":"https://evil.example.com/cert.pem""#,
        r#""x5c":["MIIBszCCAVmgAwIBAgIU"]"#,
        r#""crit":["exp"]"#,
        r#""b64":false"#,
        r#""b64":true"#,
        r#""zip":"DEF""#,
        r#""jwk":null"#,
        // Names compare after unescaping: "\u006a\u0077\u006b" is "jwk".
        r#""\u006a\u0077\u006b":{}"#,
        r#""\u0063rit":["exp"]"#,
    ] {
        let token = token_with_header(&header_with(extra));
        assert_code(v.verify(&token, now()), ErrorCode::HeaderNotAllowed, extra);
    }
}

#[test]
fn typ_policy() {
    let v = verifier();
    for header in [
        r#"{"alg":"ES256","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"jwt","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"at+jwt2","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"application/","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":1,"kid":"k1"}"#,
        r#"{"alg":"ES256","typ":null,"kid":"k1"}"#,
        r#"{"alg":"ES256","typ":["at+jwt"],"kid":"k1"}"#,
    ] {
        assert_code(v.verify(&token_with_header(header), now()), ErrorCode::TypMismatch, header);
    }
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "application/AT+JWT", "Application/At+Jwt"] {
        let header = format!(r#"{{"alg":"ES256","typ":"{typ}","kid":"k1"}}"#);
        assert_ok(v.verify(&token_with_header(&header), now()), &header);
    }
    // typ disabled: a token without typ passes.
    let relaxed = verifier_with(policy().with_typ(None));
    assert_ok(relaxed.verify(&token_with_header(r#"{"alg":"ES256","kid":"k1"}"#), now()), "typ disabled");
    // A custom list.
    let custom = verifier_with(policy().with_typ(Some(vec!["JWT".into()])));
    assert_ok(custom.verify(&token_with_header(r#"{"alg":"ES256","typ":"jwt","kid":"k1"}"#), now()), "typ JWT");
    assert_code(custom.verify(&valid_token(), now()), ErrorCode::TypMismatch, "at+jwt against [JWT]");
}

// ---------------------------------------------------------------------------------------
// Key selection
// ---------------------------------------------------------------------------------------

#[test]
fn kid_selection() {
    let v = verifier();
    let payload = standard_claims(NOW);
    let unknown = sign(r#"{"alg":"ES256","typ":"at+jwt","kid":"nope"}"#, &payload, &signing_key());
    assert_code(v.verify(&unknown, now()), ErrorCode::KeyNotFound, "unknown kid");
    let empty_kid = sign(r#"{"alg":"ES256","typ":"at+jwt","kid":""}"#, &payload, &signing_key());
    assert_code(v.verify(&empty_kid, now()), ErrorCode::KeyNotFound, "empty kid");

    let no_kid = sign(r#"{"alg":"ES256","typ":"at+jwt"}"#, &payload, &signing_key());
    assert_ok(v.verify(&no_kid, now()), "no kid, one key");

    let two = Verifier::new(policy(), key_set(&[(&signing_key(), Some(KID)), (&other_key(), Some(OTHER_KID))]))
        .unwrap();
    assert_code(two.verify(&no_kid, now()), ErrorCode::KeyNotFound, "no kid, two keys");
    assert_ok(two.verify(&valid_token(), now()), "kid k1 among two keys");
    let by_other = sign(r#"{"alg":"ES256","typ":"at+jwt","kid":"k2"}"#, &payload, &other_key());
    assert_ok(two.verify(&by_other, now()), "kid k2 among two keys");
    // kid k2 but signed by k1: the kid chooses the key, the signature then fails.
    let mislabeled = sign(r#"{"alg":"ES256","typ":"at+jwt","kid":"k2"}"#, &payload, &signing_key());
    assert_code(two.verify(&mislabeled, now()), ErrorCode::BadSignature, "kid k2 signed by k1");

    // A keyless set entry is never chosen for a kid.
    let keyless = Verifier::new(policy(), key_set(&[(&signing_key(), None)])).unwrap();
    assert_code(keyless.verify(&valid_token(), now()), ErrorCode::KeyNotFound, "kid against a kid-less key");
    assert_ok(keyless.verify(&no_kid, now()), "no kid against a kid-less key");
}

#[test]
fn kid_too_long_or_not_a_string_is_malformed() {
    let v = verifier();
    let payload = standard_claims(NOW);
    let long = "a".repeat(edgetoken::header::MAX_KID_LEN + 1);
    for header in [
        format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{long}"}}"#),
        r#"{"alg":"ES256","typ":"at+jwt","kid":1}"#.to_string(),
        r#"{"alg":"ES256","typ":"at+jwt","kid":null}"#.to_string(),
        r#"{"alg":"ES256","typ":"at+jwt","kid":["k1"]}"#.to_string(),
        r#"{"alg":"ES256","typ":"at+jwt","kid":{"k":"k1"}}"#.to_string(),
    ] {
        let token = sign(&header, &payload, &signing_key());
        assert_code(v.verify(&token, now()), ErrorCode::Malformed, &header[..header.len().min(80)]);
    }
    // 255 bytes is the limit (the same for filters, tests/revocation.rs), and it is accepted.
    let kid = "b".repeat(255);
    let keys = key_set(&[(&signing_key(), Some(kid.as_str()))]);
    let v255 = Verifier::new(policy(), keys).unwrap();
    let token = sign(&format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}"}}"#), &payload, &signing_key());
    assert_ok(v255.verify(&token, now()), "kid of 255 bytes");
}

#[test]
fn key_rotation_with_set_keys() {
    let v = verifier();
    let old = valid_token();
    assert_ok(v.verify(&old, now()), "old key before rotation");
    v.set_keys(key_set(&[(&other_key(), Some(OTHER_KID))]));
    assert_eq!(v.trust().keys().expect("keys").keys().len(), 1);
    assert_eq!(v.trust().keys().expect("keys").keys()[0].kid(), Some(OTHER_KID));
    assert_code(v.verify(&old, now()), ErrorCode::KeyNotFound, "old token after rotation");
    let new = sign(r#"{"alg":"ES256","typ":"at+jwt","kid":"k2"}"#, &standard_claims(NOW), &other_key());
    assert_ok(v.verify(&new, now()), "new key after rotation");
    // Same kid reused for a different key: the old token fails on its signature.
    v.set_keys(key_set(&[(&other_key(), Some(KID))]));
    assert_code(v.verify(&old, now()), ErrorCode::BadSignature, "old token, kid reused by new key");
}

// ---------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------

fn der_encode(sig: &[u8]) -> Vec<u8> {
    fn int(bytes: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = bytes.iter().copied().skip_while(|&x| x == 0).collect();
        if b.is_empty() || b[0] & 0x80 != 0 {
            b.insert(0, 0);
        }
        let mut out = vec![0x02, b.len() as u8];
        out.extend(b);
        out
    }
    let mut body = int(&sig[..32]);
    body.extend(int(&sig[32..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn malformed_and_forged_signatures_are_bad_signature() {
    let v = verifier();
    let token = valid_token();
    let (h, p, s) = segments(&token);
    let input = format!("{h}.{p}");
    let sig = unb64(&s);
    assert_eq!(sig.len(), 64);
    let n = n_bytes();

    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("DER".into(), der_encode(&sig)),
        ("63 bytes".into(), sig[..63].to_vec()),
        ("65 bytes (trailing zero)".into(), [sig.as_slice(), &[0]].concat()),
        ("65 bytes (leading zero)".into(), [&[0u8][..], sig.as_slice()].concat()),
        ("empty".into(), vec![]),
        ("128 bytes".into(), [sig.as_slice(), sig.as_slice()].concat()),
        ("all zero".into(), vec![0; 64]),
        ("all 0xff".into(), vec![0xff; 64]),
        ("other key".into(), raw_signature(&input, &other_key()).to_vec()),
        ("other input".into(), raw_signature(&format!("{input}x"), &signing_key()).to_vec()),
        ("r and s swapped".into(), [&sig[32..], &sig[..32]].concat()),
    ];
    for (name, r, s_) in [
        ("r = 0", vec![0u8; 32], sig[32..].to_vec()),
        ("s = 0", sig[..32].to_vec(), vec![0u8; 32]),
        ("r = n", n.clone(), sig[32..].to_vec()),
        ("s = n", sig[..32].to_vec(), n.clone()),
        ("r = n + r", add_n(&sig[..32]).unwrap_or_else(|| vec![0xff; 32]), sig[32..].to_vec()),
        ("r = s = n", n.clone(), n.clone()),
    ] {
        cases.push((name.into(), [r, s_].concat()));
    }
    for bit in [0usize, 1, 100, 255, 256, 400, 511] {
        let mut bad = sig.clone();
        bad[bit / 8] ^= 0x80 >> (bit % 8);
        cases.push((format!("bit {bit} flipped"), bad));
    }
    for (name, bad) in cases {
        assert_ne!(bad, sig, "{name}");
        let t = format!("{input}.{}", b64(&bad));
        assert_code(v.verify(&t, now()), ErrorCode::BadSignature, &name);
        assert_code(v.verify_signature(&t), ErrorCode::BadSignature, &name);
    }
    // DER of a valid signature must be refused even though it decodes: ES256 is r||s only.
    assert!(Signature::from_slice(&sig).is_ok());
}

/// r + n if it still fits in 32 bytes (so that a reducing parser would accept it).
fn add_n(r: &[u8]) -> Option<Vec<u8>> {
    let n = n_bytes();
    let mut out = vec![0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let sum = r[i] as u16 + n[i] as u16 + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

#[test]
fn high_s_twin_is_accepted() {
    let v = verifier();
    let token = valid_token();
    let (h, p, s) = segments(&token);
    let sig = Signature::from_slice(&unb64(&s)).unwrap();
    let r = sig.r();
    let neg_s = -sig.s();
    let twin = Signature::from_scalars(r.to_bytes(), neg_s.to_bytes()).expect("n - s is in range");
    assert_ne!(twin.to_bytes(), sig.to_bytes());
    // Exactly one of s and n - s is high.
    let s_high = sig.s().is_high().unwrap_u8() == 1;
    let twin_high = twin.s().is_high().unwrap_u8() == 1;
    assert_ne!(s_high, twin_high);
    let twin_token = format!("{h}.{p}.{}", b64(twin.to_bytes()));
    let claims = assert_ok(v.verify(&twin_token, now()), "high-S / low-S twin");
    assert_eq!(claims.subject(), Some("user-123"));
}

// ---------------------------------------------------------------------------------------
// Compact serialization
// ---------------------------------------------------------------------------------------

#[test]
fn segment_structure_and_base64url_strictness_are_malformed() {
    let v = verifier();
    let token = valid_token();
    let (h, p, s) = segments(&token);
    let mid = p.len() / 2;
    let mut cases = vec![
        ("2 segments", format!("{h}.{p}")),
        ("1 segment", h.clone()),
        ("4 segments", format!("{h}.{p}.{s}.{s}")),
        ("trailing dot", format!("{token}.")),
        ("leading dot", format!(".{token}")),
        ("5 segments (JWE shape)", format!("{h}.{p}.{s}.{p}.{s}")),
        ("empty string", String::new()),
        ("dots only", "..".into()),
        ("empty header", format!(".{p}.{s}")),
        ("empty payload", format!("{h}..{s}")),
        ("padding on signature", format!("{h}.{p}.{s}==")),
        ("single = on signature", format!("{h}.{p}.{s}=")),
        ("space inside payload", format!("{h}.{}{}{}.{s}", &p[..mid], " ", &p[mid..])),
        ("newline inside payload", format!("{h}.{}{}{}.{s}", &p[..mid], "\n", &p[mid..])),
        ("CRLF inside header", format!("{}\r\n{}.{p}.{s}", &h[..4], &h[4..])),
        ("tab inside signature", format!("{h}.{p}.{}\t{}", &s[..10], &s[10..])),
        ("trailing newline", format!("{token}\n")),
        ("leading space", format!(" {token}")),
        ("non-canonical signature", format!("{h}.{p}.{}", noncanonical(&s))),
        ("non-base64 char in header", format!("{}*{}.{p}.{s}", &h[..3], &h[4..])),
        ("non-ASCII in payload", format!("{h}.{}é.{s}", &p[..p.len() - 1])),
        ("NUL in signature", format!("{h}.{p}.{}\0", &s[..s.len() - 1])),
    ];
    // Padding on the payload, when its length calls for it.
    if p.len() % 4 != 0 {
        cases.push(("padding on payload", format!("{h}.{p}{}.{s}", "=".repeat(4 - p.len() % 4))));
    }
    // A payload whose encoding has padding bits, made non-canonical.
    let mut payload = standard_claims(NOW);
    while payload.len() % 3 == 0 {
        payload.push(' ');
    }
    let t2 = token_with_claims(&payload);
    assert_ok(v.verify(&t2, now()), "payload with trailing whitespace");
    let (h2, p2, s2) = segments(&t2);
    cases.push(("non-canonical payload", format!("{h2}.{}.{s2}", noncanonical(&p2))));
    // Header of a length with padding bits.
    let mut header = HEADER.to_string();
    while header.len() % 3 == 0 {
        header.insert(1, ' ');
    }
    let t3 = token_with_header(&header);
    assert_ok(v.verify(&t3, now()), "header with whitespace");
    let (h3, p3, s3) = segments(&t3);
    cases.push(("non-canonical header", format!("{}.{p3}.{s3}", noncanonical(&h3))));

    for (name, t) in cases {
        assert_code(v.verify(&t, now()), ErrorCode::Malformed, name);
    }
}

#[test]
fn standard_base64_alphabet_is_malformed() {
    let v = verifier();
    // Find a (deterministic) token whose signature segment uses '-' or '_'.
    let token = (0..200)
        .map(|i| token_with_claims(&claims_with(NOW, &[("jti", Some(&format!("\"t{i}\"")))])))
        .find(|t| {
            let s = t.rsplit('.').next().unwrap();
            s.contains('-') || s.contains('_')
        })
        .expect("some signature uses - or _");
    assert_ok(v.verify(&token, now()), "url-safe original");
    let (h, p, s) = segments(&token);
    let standard = s.replace('-', "+").replace('_', "/");
    assert_ne!(standard, s);
    assert_code(v.verify(&format!("{h}.{p}.{standard}"), now()), ErrorCode::Malformed, "standard alphabet signature");
    // Same for the payload: "???" and "~~~" encode to '_' and '-' at some alignment.
    let odd = (0..3)
        .map(|i| token_with_claims(&claims_with(NOW, &[("x", Some(&format!("\"{}???~~~\"", "a".repeat(i))))])))
        .find(|t| {
            let p = t.split('.').nth(1).unwrap();
            p.contains('_') || p.contains('-')
        })
        .expect("some alignment yields - or _ in the payload");
    let (h, p, s) = segments(&odd);
    assert_ok(v.verify(&odd, now()), "url-safe payload");
    let standard = p.replace('-', "+").replace('_', "/");
    assert_code(v.verify(&format!("{h}.{standard}.{s}"), now()), ErrorCode::Malformed, "standard alphabet payload");
}

/// A valid token of exactly `len` bytes (padding claim + header whitespace).
fn token_of_length(len: usize) -> String {
    let sig_len = 86;
    for spaces in 0..4 {
        let mut header = HEADER.to_string();
        for _ in 0..spaces {
            header.insert(1, ' ');
        }
        let hl = b64(&header).len();
        let base = claims_with(NOW, &[("pad", Some("\"\""))]);
        for pad in 0..len {
            let payload_len = base.len() + pad;
            let pl = (4 * payload_len).div_ceil(3);
            if hl + 1 + pl + 1 + sig_len == len {
                let payload = claims_with(NOW, &[("pad", Some(&format!("\"{}\"", "p".repeat(pad))))]);
                let token = sign(&header, &payload, &signing_key());
                assert_eq!(token.len(), len);
                return token;
            }
            if hl + 1 + pl + 1 + sig_len > len {
                break;
            }
        }
    }
    panic!("cannot build a token of {len} bytes");
}

#[test]
fn size_limit_is_checked_first_and_exactly() {
    let v = verifier();
    assert_eq!(DEFAULT_MAX_TOKEN_SIZE, 8192);
    // 9000 bytes of garbage: too large, not malformed (checked before decoding).
    let garbage = "!@#$%^&*()".repeat(900);
    assert_eq!(garbage.len(), 9000);
    assert_code(v.verify(&garbage, now()), ErrorCode::TooLarge, "9000 bytes of garbage");
    assert_code(v.verify_signature(&garbage), ErrorCode::TooLarge, "9000 bytes of garbage (signature only)");
    let dots = ".".repeat(9000);
    assert_code(v.verify(&dots, now()), ErrorCode::TooLarge, "9000 dots");

    let exact = token_of_length(8192);
    assert_ok(v.verify(&exact, now()), "token of exactly 8192 bytes");
    let over = token_of_length(8193);
    assert_code(v.verify(&over, now()), ErrorCode::TooLarge, "token of 8193 bytes");
    // The 8193-byte token is otherwise valid: a larger limit admits it.
    let bigger = verifier_with(policy().with_max_token_size(8193));
    assert_ok(bigger.verify(&over, now()), "8193 bytes with an 8193 limit");
    // A smaller configured limit.
    let small = verifier_with(policy().with_max_token_size(64));
    assert_code(small.verify(&valid_token(), now()), ErrorCode::TooLarge, "limit 64");
}

// ---------------------------------------------------------------------------------------
// JSON strictness
// ---------------------------------------------------------------------------------------

#[test]
fn payload_and_header_json_strictness_is_malformed() {
    let v = verifier();
    let claims = standard_claims(NOW);
    let body = &claims[1..claims.len() - 1];
    let payloads: Vec<String> = vec![
        "foo".into(),
        "".into(),
        "null".into(),
        "\"a string\"".into(),
        "42".into(),
        format!("[{claims}]"),
        "[]".into(),
        format!("{claims}x"),
        format!("{claims}{claims}"),
        claims[..claims.len() - 1].to_string(),
        format!(r#"{{"iss":"https://evil.example.com",{body}}}"#),
        format!(r#"{{{body},"iss":"{ISS}"}}"#),
        format!(r#"{{{body},"\u0069ss":"{ISS}"}}"#),
        format!(r#"{{{body},"cnf":{{"jkt":"a","jkt":"b"}}}}"#),
        format!(r#"{{{body},"ctx":{{"a":{{"b":[{{"c":1,"c":2}}]}}}}}}"#),
        format!(r#"{{{body},"list":[{{"x":1}},{{"y":1,"y":1}}]}}"#),
        format!(r#"{{{body},}}"#),
        format!(r#"{{{body},"x":NaN}}"#),
        format!(r#"{{{body},"x":'single'}}"#),
        format!("{{{body},\"x\":\"raw\ncontrol\"}}"),
        format!(r#"{{{body},"\ud800":1}}"#),
        // A lone surrogate in a string value, top-level or nested, is refused alike.
        format!(r#"{{{body},"x":"\ud800"}}"#),
        format!(r#"{{{body},"x":{{"y":"\udc00"}}}}"#),
        format!("{{{body}}} // comment"),
    ];
    for payload in &payloads {
        assert_code(v.verify(&token_with_claims(payload), now()), ErrorCode::Malformed, payload);
    }
    // Invalid UTF-8 (bytes signed as-is).
    for bytes in [
        [claims.as_bytes(), &[0xff]].concat(),
        claims.replace("user-123", "user-\u{0}23").into_bytes().into_iter().map(|b| if b == 0 { 0xc0 } else { b }).collect(),
        vec![0xef, 0xbb, 0xbf].into_iter().chain(claims.bytes()).collect(), // BOM
    ] {
        let token = sign_bytes(HEADER.as_bytes(), &bytes, &signing_key());
        assert_code(v.verify(&token, now()), ErrorCode::Malformed, &format!("{:?}", String::from_utf8_lossy(&bytes)));
    }
    // Header JSON.
    for header in [
        r#"{"alg":"ES256","typ":"at+jwt","kid":"k1","alg":"ES256"}"#,
        r#"{"alg":"none","typ":"at+jwt","alg":"ES256"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","\u0061lg":"ES256"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"k1","ext":{"a":1,"a":2}}"#,
        r#"["ES256"]"#,
        r#""ES256""#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"} x"#,
        "",
    ] {
        let token = if header.is_empty() {
            // Empty header segment: caught at the segment level.
            format!(".{}.{}", b64(&claims), b64([1u8; 64]))
        } else {
            token_with_header(header)
        };
        assert_code(v.verify(&token, now()), ErrorCode::Malformed, header);
    }
    let bad_utf8_header = sign_bytes(&[HEADER.as_bytes(), &[0xfe]].concat(), claims.as_bytes(), &signing_key());
    assert_code(v.verify(&bad_utf8_header, now()), ErrorCode::Malformed, "header not UTF-8");
    // Legal JSON whitespace and unknown claims are fine.
    let spaced = format!("\r\n {{ {} }} \t\n", body.replace(',', " ,\r\n "));
    assert_ok(v.verify(&token_with_claims(&spaced), now()), "whitespace in payload");
    let spaced_header = "{ \"alg\" : \"ES256\" ,\n\"typ\":\"at+jwt\", \"kid\":\"k1\" }";
    assert_ok(v.verify(&token_with_header(spaced_header), now()), "whitespace in header");
}

// ---------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------

#[test]
fn issuer_checks() {
    for iss in [
        "\"https://evil.example.com\"",
        "\"https://auth.example.com/\"",
        "\"HTTPS://AUTH.EXAMPLE.COM\"",
        "\"https://auth.example.com \"",
        "\"\"",
        "\"https://auth.example.com\\u0000\"",
    ] {
        assert_code(verify_claims(&claims_with(NOW, &[("iss", Some(iss))])), ErrorCode::IssuerMismatch, iss);
    }
    for iss in [r#""https:\/\/auth.example.com""#, r#""\u0068ttps://\u0061uth.example.com""#, r#""https://auth\u002eexample.com""#] {
        let claims = assert_ok(verify_claims(&claims_with(NOW, &[("iss", Some(iss))])), iss);
        assert_eq!(claims.issuer(), ISS);
    }
    for iss in ["1", "null", "true", r#"["https://auth.example.com"]"#, r#"{"iss":"x"}"#] {
        assert_code(verify_claims(&claims_with(NOW, &[("iss", Some(iss))])), ErrorCode::ClaimInvalid, iss);
    }
    assert_code(verify_claims(&claims_with(NOW, &[("iss", None)])), ErrorCode::ClaimMissing, "no iss");
}

#[test]
fn audience_checks() {
    let aud = format!("\"{AUD}\"");
    for ok in [
        aud.clone(),
        format!("[{aud}]"),
        format!("[\"https://other.example.com\",{aud}]"),
        r#""https:\/\/app.example.com""#.to_string(),
    ] {
        let claims = assert_ok(verify_claims(&claims_with(NOW, &[("aud", Some(&ok))])), &ok);
        assert!(claims.audience().iter().any(|a| a == AUD), "{ok}");
    }
    for bad in ["\"https://other.example.com\"", "[]", "[\"https://other.example.com\"]", "\"\"", "\"https://app.example.com/\""] {
        assert_code(verify_claims(&claims_with(NOW, &[("aud", Some(bad))])), ErrorCode::AudienceMismatch, bad);
    }
    for bad in [
        format!("[{aud},5]"),
        format!("[{aud},null]"),
        format!("[{aud},[{aud}]]"),
        "5".into(),
        "null".into(),
        "true".into(),
        format!("{{\"aud\":{aud}}}"),
    ] {
        assert_code(verify_claims(&claims_with(NOW, &[("aud", Some(&bad))])), ErrorCode::ClaimInvalid, &bad);
    }
    assert_code(verify_claims(&claims_with(NOW, &[("aud", None)])), ErrorCode::ClaimMissing, "no aud");
    // Several configured audiences: any one of them is enough.
    let multi = verifier_with(Policy::new(ISS, ["https://a.example.com", AUD]));
    assert_ok(multi.verify(&valid_token(), now()), "second configured audience");
}

/// NumericDate literals that must be refused as claim_invalid.
const BAD_DATES: [&str; 16] = [
    "1.5",
    "1.0",
    "1800000600.0",
    "\"123\"",
    "\"1800000600\"",
    "true",
    "null",
    "-1",
    "-0",
    "1e400",
    "1e3",
    "1E3",
    "9007199254740993",
    "18446744073709551616",
    "[1800000600]",
    "{}",
];

#[test]
fn exp_wrong_types_are_claim_invalid() {
    for lit in BAD_DATES {
        // Both a date that would be valid and one that would have expired must be invalid.
        assert_code(verify_claims(&claims_with(NOW, &[("exp", Some(lit))])), ErrorCode::ClaimInvalid, &format!("exp {lit}"));
    }
    assert_code(verify_claims(&claims_with(NOW, &[("exp", None)])), ErrorCode::ClaimMissing, "exp missing");
    // 2^53 is the largest accepted literal: it is a valid NumericDate (then too long a lifetime).
    assert_code(
        verify_claims(&claims_with(NOW, &[("exp", Some("9007199254740992"))])),
        ErrorCode::LifetimeTooLong,
        "exp = 2^53",
    );
}

#[test]
fn iat_and_nbf_wrong_types_are_claim_invalid() {
    for lit in BAD_DATES {
        assert_code(verify_claims(&claims_with(NOW, &[("iat", Some(lit))])), ErrorCode::ClaimInvalid, &format!("iat {lit}"));
        assert_code(verify_claims(&claims_with(NOW, &[("nbf", Some(lit))])), ErrorCode::ClaimInvalid, &format!("nbf {lit}"));
    }
    assert_code(verify_claims(&claims_with(NOW, &[("iat", None)])), ErrorCode::ClaimMissing, "iat missing");
}

#[test]
fn time_boundaries() {
    let v = verifier();
    let exp = NOW + 600;
    let token = valid_token();
    assert_code(v.verify(&token, UnixTime::from_secs(exp + 30)), ErrorCode::Expired, "now = exp + 30");
    assert_code(v.verify(&token, UnixTime::from_secs(exp + 10_000)), ErrorCode::Expired, "long expired");
    assert_ok(v.verify(&token, UnixTime::from_secs(exp + 29)), "now = exp + 29");
    assert_ok(v.verify(&token, UnixTime::from_secs(exp)), "now = exp");

    let nbf = |n: u64| claims_with(NOW, &[("nbf", Some(&n.to_string()))]);
    assert_code(verify_claims(&nbf(NOW + 31)), ErrorCode::NotYetValid, "nbf = now + 31");
    let c = assert_ok(verify_claims(&nbf(NOW + 30)), "nbf = now + 30");
    assert_eq!(c.not_before(), Some(NOW + 30));
    assert_ok(verify_claims(&nbf(0)), "nbf = 0");

    let iat = |i: u64| claims_with(i, &[]);
    assert_code(verify_claims(&iat(NOW + 31)), ErrorCode::IssuedInFuture, "iat = now + 31");
    assert_ok(verify_claims(&iat(NOW + 30)), "iat = now + 30");

    let life = |secs: u64| claims_with(NOW, &[("exp", Some(&(NOW + secs).to_string()))]);
    assert_code(verify_claims(&life(901)), ErrorCode::LifetimeTooLong, "exp - iat = 901");
    assert_ok(verify_claims(&life(900)), "exp - iat = 900");
    let longer = verifier_with(policy().with_max_token_lifetime(3600));
    assert_ok(longer.verify(&token_with_claims(&life(3600)), now()), "lifetime 3600 allowed by policy");

    // exp before iat (neither expired nor issued in the future).
    let backwards = claims_with(NOW, &[("iat", Some(&(NOW + 20).to_string())), ("exp", Some(&(NOW + 10).to_string()))]);
    assert_code(verify_claims(&backwards), ErrorCode::ClaimInvalid, "exp < iat");

    // Zero tolerance.
    let strict = verifier_with(policy().with_clock_tolerance(0));
    assert_code(strict.verify(&token, UnixTime::from_secs(exp)), ErrorCode::Expired, "now = exp, no tolerance");
    assert_ok(strict.verify(&token, UnixTime::from_secs(exp - 1)), "now = exp - 1, no tolerance");
    // Huge now does not overflow.
    assert_code(v.verify(&token, UnixTime::from_secs(u64::MAX)), ErrorCode::Expired, "now = u64::MAX");
    assert_code(verify_claims(&claims_with(NOW, &[("nbf", Some("9007199254740992"))])), ErrorCode::NotYetValid, "nbf = 2^53");
}

#[test]
fn required_claims() {
    assert_code(verify_claims(&claims_with(NOW, &[("sub", None)])), ErrorCode::ClaimMissing, "sub missing");
    assert_code(verify_claims(&claims_with(NOW, &[("jti", None)])), ErrorCode::ClaimMissing, "jti missing");
    for lit in ["1", "null", "[\"u\"]", "{}", "true"] {
        assert_code(verify_claims(&claims_with(NOW, &[("sub", Some(lit))])), ErrorCode::ClaimInvalid, &format!("sub {lit}"));
        assert_code(verify_claims(&claims_with(NOW, &[("jti", Some(lit))])), ErrorCode::ClaimInvalid, &format!("jti {lit}"));
        assert_code(verify_claims(&claims_with(NOW, &[("sid", Some(lit))])), ErrorCode::ClaimInvalid, &format!("sid {lit}"));
    }
    let sid_only = verifier_with(policy().with_required_claims(vec!["sid".into()]));
    let no_sid = token_with_claims(&claims_with(NOW, &[("sid", None)]));
    assert_code(sid_only.verify(&no_sid, now()), ErrorCode::ClaimMissing, "sid required and missing");
    let no_sub = token_with_claims(&claims_with(NOW, &[("sub", None), ("jti", None)]));
    let c = assert_ok(sid_only.verify(&no_sub, now()), "sub and jti no longer required");
    assert_eq!(c.subject(), None);
    assert_eq!(c.token_id(), None);
    // Optional claims, when present, are still type-checked.
    let bad_sub = token_with_claims(&claims_with(NOW, &[("sub", Some("7"))]));
    assert_code(sid_only.verify(&bad_sub, now()), ErrorCode::ClaimInvalid, "optional sub as number");
    // A custom required claim.
    let scope = verifier_with(policy().with_required_claims(vec!["scope".into()]));
    assert_code(scope.verify(&valid_token(), now()), ErrorCode::ClaimMissing, "scope missing");
    let with_scope = token_with_claims(&claims_with(NOW, &[("scope", Some("\"read\""))]));
    assert_ok(scope.verify(&with_scope, now()), "scope present");
}

#[test]
fn claims_accessors() {
    let payload = claims_with(NOW, &[("nbf", Some(&(NOW - 5).to_string())), ("scope", Some("\"read write\""))]);
    let claims = assert_ok(verify_claims(&payload), "valid token");
    assert_eq!(claims.json(), payload);
    assert_eq!(claims.issuer(), ISS);
    assert_eq!(claims.audience(), [AUD.to_string()]);
    assert_eq!(claims.expires_at(), NOW + 600);
    assert_eq!(claims.issued_at(), NOW);
    assert_eq!(claims.not_before(), Some(NOW - 5));
    assert_eq!(claims.subject(), Some("user-123"));
    assert_eq!(claims.token_id(), Some("token-456"));
    assert_eq!(claims.session_id(), Some("session-789"));

    let plain = assert_ok(verifier().verify(&valid_token(), now()), "standard token");
    assert_eq!(plain.not_before(), None);
    let multi = claims_with(NOW, &[("aud", Some(&format!("[\"a\",\"{AUD}\",\"b\"]")))]);
    let c = assert_ok(verify_claims(&multi), "aud array");
    assert_eq!(c.audience(), ["a".to_string(), AUD.to_string(), "b".to_string()]);
    // Escapes are decoded in the accessors.
    let escaped = claims_with(NOW, &[("sub", Some(r#""us\u0065r\/1""#))]);
    assert_eq!(assert_ok(verify_claims(&escaped), "escaped sub").subject(), Some("user/1"));
}

// ---------------------------------------------------------------------------------------
// Key sets
// ---------------------------------------------------------------------------------------

#[test]
fn key_set_refusals_are_invalid_key() {
    let key = signing_key();
    let (x, y) = xy(&key);
    let jwk_with = |extra: &str| format!(r#"{{"kty":"EC","crv":"P-256","kid":"k1","x":"{x}","y":"{y}"{extra}}}"#);
    let d = b64([7u8; 32]);

    // y with its last character changed so the data bits differ but the encoding stays canonical.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = *y.as_bytes().last().unwrap();
    let idx = ALPHABET.iter().position(|&c| c == last).unwrap();
    let off_y = format!("{}{}", &y[..y.len() - 1], ALPHABET[(idx + 4) % 64] as char);
    assert_eq!(unb64(&off_y).len(), 32, "the modified y is canonical base64url of 32 bytes");
    let x31 = b64(&unb64(&x)[..31]);
    let x33 = b64([&[0u8][..], &unb64(&x)].concat());
    let x_std = x.replace('-', "+").replace('_', "/");
    let x_bad = format!("{}*", &x[..x.len() - 1]);

    let cases: Vec<(&str, String)> = vec![
        ("kty RSA", format!(r#"{{"kty":"RSA","crv":"P-256","x":"{x}","y":"{y}"}}"#)),
        ("kty oct", r#"{"kty":"oct","k":"AAAA"}"#.into()),
        ("kty missing", format!(r#"{{"crv":"P-256","x":"{x}","y":"{y}"}}"#)),
        ("kty lowercase", format!(r#"{{"kty":"ec","crv":"P-256","x":"{x}","y":"{y}"}}"#)),
        ("crv P-384", format!(r#"{{"kty":"EC","crv":"P-384","x":"{x}","y":"{y}"}}"#)),
        ("crv secp256k1", format!(r#"{{"kty":"EC","crv":"secp256k1","x":"{x}","y":"{y}"}}"#)),
        ("crv missing", format!(r#"{{"kty":"EC","x":"{x}","y":"{y}"}}"#)),
        ("d present", jwk_with(&format!(r#","d":"{d}""#))),
        ("d null", jwk_with(r#","d":null"#)),
        ("use enc", jwk_with(r#","use":"enc""#)),
        ("use number", jwk_with(r#","use":1"#)),
        ("key_ops sign", jwk_with(r#","key_ops":["sign"]"#)),
        ("key_ops encrypt", jwk_with(r#","key_ops":["encrypt"]"#)),
        ("key_ops empty", jwk_with(r#","key_ops":[]"#)),
        ("key_ops string", jwk_with(r#","key_ops":"verify""#)),
        ("alg ES384", jwk_with(r#","alg":"ES384""#)),
        ("alg RS256", jwk_with(r#","alg":"RS256""#)),
        ("alg none", jwk_with(r#","alg":"none""#)),
        ("kid number", format!(r#"{{"kty":"EC","crv":"P-256","kid":1,"x":"{x}","y":"{y}"}}"#)),
        ("kid too long", format!(r#"{{"kty":"EC","crv":"P-256","kid":"{}","x":"{x}","y":"{y}"}}"#, "k".repeat(256))),
        ("off curve", format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{off_y}"}}"#)),
        ("x of 31 bytes", format!(r#"{{"kty":"EC","crv":"P-256","x":"{x31}","y":"{y}"}}"#)),
        ("x of 33 bytes", format!(r#"{{"kty":"EC","crv":"P-256","x":"{x33}","y":"{y}"}}"#)),
        ("x not base64url", format!(r#"{{"kty":"EC","crv":"P-256","x":"{x_bad}","y":"{y}"}}"#)),
        ("x padded", format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}=","y":"{y}"}}"#)),
        ("x missing", format!(r#"{{"kty":"EC","crv":"P-256","y":"{y}"}}"#)),
        ("y missing", format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}"}}"#)),
        ("x number", format!(r#"{{"kty":"EC","crv":"P-256","x":1,"y":"{y}"}}"#)),
        ("point at zero", format!(r#"{{"kty":"EC","crv":"P-256","x":"{z}","y":"{z}"}}"#, z = b64([0u8; 32]))),
        ("duplicate member", format!(r#"{{"kty":"EC","kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#)),
        ("not an object", "[]".into()),
        ("not JSON", "kty=EC".into()),
    ];
    if x_std != x {
        // Only meaningful if x uses '-' or '_'.
        let c = format!(r#"{{"kty":"EC","crv":"P-256","x":"{x_std}","y":"{y}"}}"#);
        assert_eq!(KeySet::from_jwks_json(&c).unwrap_err().code(), ErrorCode::InvalidKey, "x standard alphabet");
    }
    for (name, jwk) in &cases {
        let err = KeySet::from_jwks_json(jwk).expect_err(name);
        assert_eq!(err.code(), ErrorCode::InvalidKey, "{name} (bare JWK): {err}");
        let set = format!(r#"{{"keys":[{}]}}"#, jwk);
        let err = KeySet::from_jwks_json(&set).expect_err(name);
        assert_eq!(err.code(), ErrorCode::InvalidKey, "{name} (in a set): {err}");
        // One bad key refuses the whole set.
        let mixed = format!(r#"{{"keys":[{},{}]}}"#, jwk_with(""), jwk);
        let err = KeySet::from_jwks_json(&mixed).expect_err(name);
        assert_eq!(err.code(), ErrorCode::InvalidKey, "{name} (after a good key): {err}");
    }

    // Set-level refusals.
    let dup = format!(r#"{{"keys":[{},{}]}}"#, jwk(&signing_key(), Some("same")), jwk(&other_key(), Some("same")));
    for (name, set) in [
        ("duplicate kid", dup),
        ("empty keys array", r#"{"keys":[]}"#.to_string()),
        ("keys not an array", format!(r#"{{"keys":{}}}"#, jwk_with(""))),
        ("keys null", r#"{"keys":null}"#.to_string()),
        ("key not an object", r#"{"keys":["k"]}"#.to_string()),
        ("65 keys", format!(r#"{{"keys":[{}]}}"#, vec![jwk(&signing_key(), None); 65].join(","))),
    ] {
        let err = KeySet::from_jwks_json(&set).expect_err(name);
        assert_eq!(err.code(), ErrorCode::InvalidKey, "{name}: {err}");
    }
    // What is accepted: use sig, key_ops with verify, alg ES256, extra members.
    for extra in [r#","use":"sig""#, r#","key_ops":["verify"]"#, r#","key_ops":["sign","verify"]"#, r#","alg":"ES256""#, r#","x5t":"abc""#] {
        KeySet::from_jwks_json(&jwk_with(extra)).unwrap_or_else(|e| panic!("{extra}: {e}"));
    }
    // Keys without kid may repeat; the same key twice under different kids is fine too.
    let set = key_set(&[(&signing_key(), None), (&other_key(), None)]);
    assert_eq!(set.keys().len(), 2);
    // Too large a document.
    let huge = format!(r#"{{"keys":[{}],"pad":"{}"}}"#, jwk_with(""), "p".repeat(70_000));
    assert_eq!(KeySet::from_jwks_json(&huge).unwrap_err().code(), ErrorCode::TooLarge);
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_policies_are_invalid_config() {
    let keys = || key_set(&[(&signing_key(), Some(KID))]);
    let no_aud: Vec<String> = vec![];
    let cases: Vec<(&str, Policy)> = vec![
        ("empty issuer", Policy::new("", [AUD])),
        ("empty audience list", Policy::new(ISS, no_aud)),
        ("empty audience string", Policy::new(ISS, [""])),
        ("algorithms RS256", policy().with_algorithms(vec!["RS256".into()])),
        ("algorithms none", policy().with_algorithms(vec!["none".into()])),
        ("algorithms ES256 + HS256", policy().with_algorithms(vec!["ES256".into(), "HS256".into()])),
        ("algorithms empty", policy().with_algorithms(vec![])),
        ("clock tolerance 301", policy().with_clock_tolerance(301)),
        ("lifetime 0", policy().with_max_token_lifetime(0)),
        ("max token size 10", policy().with_max_token_size(10)),
        ("max token size 63", policy().with_max_token_size(63)),
        ("max token size 65537", policy().with_max_token_size(65_537)),
        ("typ empty list", policy().with_typ(Some(vec![]))),
        ("typ empty string", policy().with_typ(Some(vec!["".into()]))),
        ("required claim empty", policy().with_required_claims(vec!["".into()])),
    ];
    for (name, p) in cases {
        assert_code(p.validate(), ErrorCode::InvalidConfig, name);
        assert_code(Verifier::new(p, keys()), ErrorCode::InvalidConfig, name);
    }
    for (name, p) in [
        ("defaults", policy()),
        ("tolerance 300", policy().with_clock_tolerance(300)),
        ("tolerance 0", policy().with_clock_tolerance(0)),
        ("lifetime 1", policy().with_max_token_lifetime(1)),
        ("size 64", policy().with_max_token_size(64)),
        ("size 65536", policy().with_max_token_size(65_536)),
        ("typ disabled", policy().with_typ(None)),
        ("no extra required claims", policy().with_required_claims(vec![])),
    ] {
        assert_ok(p.validate(), name);
        assert_ok(Verifier::new(p, keys()), name);
    }
    let p = policy().with_clock_tolerance(12).with_max_token_lifetime(77);
    assert_eq!((p.issuer(), p.clock_tolerance(), p.max_token_lifetime()), (ISS, 12, 77));
}

#[test]
fn error_codes_are_unique_snake_case() {
    let all = ErrorCode::ALL;
    let mut names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
    for (code, name) in all.iter().zip(&names) {
        assert!(!name.is_empty(), "{code:?}");
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name} is not snake_case");
        assert!(!name.starts_with('_') && !name.ends_with('_') && !name.contains("__"), "{name}");
        assert_eq!(code.to_string(), *name, "Display of {code:?}");
    }
    let before = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), before, "duplicate as_str values");
    let codes: std::collections::HashSet<ErrorCode> = all.iter().copied().collect();
    assert_eq!(codes.len(), all.len(), "duplicate codes in ALL");
    // The codes used by this suite are all listed.
    for c in [
        ErrorCode::Malformed,
        ErrorCode::TooLarge,
        ErrorCode::AlgNotAllowed,
        ErrorCode::TypMismatch,
        ErrorCode::HeaderNotAllowed,
        ErrorCode::KeyNotFound,
        ErrorCode::BadSignature,
        ErrorCode::ClaimMissing,
        ErrorCode::ClaimInvalid,
        ErrorCode::IssuerMismatch,
        ErrorCode::AudienceMismatch,
        ErrorCode::Expired,
        ErrorCode::NotYetValid,
        ErrorCode::IssuedInFuture,
        ErrorCode::LifetimeTooLong,
        ErrorCode::InvalidKey,
        ErrorCode::InvalidConfig,
    ] {
        assert!(all.contains(&c), "{c:?} missing from ALL");
    }
    let e = edgetoken::Error::new(ErrorCode::Expired, "detail");
    assert_eq!(e.to_string(), "expired: detail");
    assert_eq!(e.detail(), "detail");
}
