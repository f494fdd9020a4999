//! Deterministic property tests: no input makes the verifier panic, no mutation of a
//! valid token is accepted, and every refusal carries a listed error code.

mod common;

use common::*;
use edgetoken::{Error, ErrorCode, KeySet, Verifier};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64* — tiny, deterministic, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-ish in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const B64URL_AND_DOT: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

#[track_caller]
fn check_code(e: &Error, input: &str) {
    assert!(
        ErrorCode::ALL.contains(&e.code()),
        "error code {:?} not in ErrorCode::ALL for input {:?}",
        e.code(),
        truncate(input)
    );
    assert!(!e.code().as_str().is_empty());
}

fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}

/// Runs `verify` under catch_unwind so a panic reports its input.
fn verify_no_panic(v: &Verifier, token: &str) -> Result<edgetoken::Claims, Error> {
    match catch_unwind(AssertUnwindSafe(|| v.verify(token, now()))) {
        Ok(r) => {
            if let Err(e) = &r {
                check_code(e, token);
            }
            r
        }
        Err(_) => panic!("verify panicked on {:?}", truncate(token)),
    }
}

fn mutate(rng: &mut Rng, token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        match rng.below(7) {
            // Bit flip within ASCII (bits 0..=6), so the token stays a &str.
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(7);
            }
            // Replace a byte with an alphabet character.
            1 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = *rng.pick(B64URL_AND_DOT);
            }
            // Truncate.
            2 if !bytes.is_empty() => {
                let n = rng.below(bytes.len());
                bytes.truncate(n);
            }
            // Insert alphabet characters.
            3 => {
                let i = rng.below(bytes.len() + 1);
                for _ in 0..1 + rng.below(4) {
                    bytes.insert(i, *rng.pick(B64URL_AND_DOT));
                }
            }
            // Delete a range.
            4 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                let n = 1 + rng.below(8);
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
            // Segment swap / duplication.
            5 => {
                let text = String::from_utf8(bytes.clone()).unwrap();
                let mut segs: Vec<String> = text.split('.').map(str::to_string).collect();
                if segs.len() >= 2 {
                    let a = rng.below(segs.len());
                    let b = rng.below(segs.len());
                    if rng.chance(70) {
                        segs.swap(a, b);
                    } else {
                        let dup = segs[a].clone();
                        segs[b] = dup;
                    }
                }
                bytes = segs.join(".").into_bytes();
            }
            // Swap two adjacent bytes.
            _ if bytes.len() >= 2 => {
                let i = rng.below(bytes.len() - 1);
                bytes.swap(i, i + 1);
            }
            _ => {}
        }
    }
    String::from_utf8(bytes).expect("mutations keep ASCII")
}

#[test]
fn mutations_of_a_valid_token_never_verify() {
    let v = verifier();
    let original = valid_token();
    assert!(verify_no_panic(&v, &original).is_ok(), "the original token must verify");
    let mut rng = Rng::new(0x5eed_0001);
    let (mut total, mut identical, mut by_code) = (0usize, 0usize, std::collections::BTreeMap::new());
    for _ in 0..20_000 {
        let mutated = mutate(&mut rng, &original);
        total += 1;
        let result = verify_no_panic(&v, &mutated);
        if mutated == original {
            identical += 1;
            assert!(result.is_ok(), "identical string must still verify");
            continue;
        }
        match result {
            Ok(_) => panic!("mutated token accepted:\noriginal {original}\nmutated  {mutated}"),
            Err(e) => *by_code.entry(e.code().as_str()).or_insert(0usize) += 1,
        }
    }
    eprintln!("{total} mutations ({identical} identical to the original): {by_code:?}");
    assert!(total >= 20_000);
    // The mutations must reach deep into the pipeline, not only the decoder.
    assert!(by_code.get("malformed").copied().unwrap_or(0) > 0, "{by_code:?}");
    assert!(by_code.get("bad_signature").copied().unwrap_or(0) > 100, "{by_code:?}");
}

#[test]
fn signature_segment_mutations_never_verify() {
    // Mutate only the signature: every result that still decodes reaches the ECDSA check.
    let v = verifier();
    let original = valid_token();
    let (h, p, s) = segments(&original);
    let sig = unb64(&s);
    let mut rng = Rng::new(0x5eed_0002);
    for _ in 0..3_000 {
        let mut bad = sig.clone();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(64);
            bad[i] ^= 1 << rng.below(8);
        }
        if bad == sig {
            continue;
        }
        let token = format!("{h}.{p}.{}", b64(&bad));
        let err = verify_no_panic(&v, &token).expect_err("signature mutation accepted");
        assert_eq!(err.code(), ErrorCode::BadSignature, "{token}");
    }
}

#[test]
fn random_strings_never_panic() {
    let v = verifier();
    let relaxed = verifier_with(policy().with_typ(None).with_max_token_size(65_536));
    let mut rng = Rng::new(0x5eed_0003);
    let mut errors = 0;
    for i in 0..2_000 {
        let len = rng.below(if i % 10 == 0 { 10_000 } else { 400 });
        let text = if rng.chance(50) {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len).map(|_| *rng.pick(B64URL_AND_DOT) as char).collect()
        };
        for verifier in [&v, &relaxed] {
            match verify_no_panic(verifier, &text) {
                Ok(_) => panic!("random string verified: {:?}", truncate(&text)),
                Err(_) => errors += 1,
            }
            let r = catch_unwind(AssertUnwindSafe(|| verifier.verify_signature(&text)))
                .unwrap_or_else(|_| panic!("verify_signature panicked on {:?}", truncate(&text)));
            check_code(&r.expect_err("random string verified"), &text);
        }
        // And the key parser.
        let r = catch_unwind(AssertUnwindSafe(|| KeySet::from_jwks_json(&text)))
            .unwrap_or_else(|_| panic!("from_jwks_json panicked on {:?}", truncate(&text)));
        if let Err(e) = r {
            check_code(&e, &text);
        }
    }
    assert_eq!(errors, 4_000);
}

// ---------------------------------------------------------------------------------------
// Random JSON-ish headers and payloads, correctly signed
// ---------------------------------------------------------------------------------------

const NAMES: &[&str] = &[
    "iss", "aud", "exp", "iat", "nbf", "sub", "jti", "sid", "alg", "typ", "kid", "jwk", "jku", "x5u", "x5c",
    "crit", "b64", "zip", "cnf", "scope", "\\u0069ss", "\\u0061lg", "a", "", "\u{e9}", "\\ud83d\\ude00",
];

fn random_number(rng: &mut Rng) -> String {
    match rng.below(14) {
        0 => "0".into(),
        1 => "-0".into(),
        2 => rng.next().to_string(),
        3 => format!("-{}", rng.next()),
        4 => "1e400".into(),
        5 => "-1e400".into(),
        6 => "1.5".into(),
        7 => "1.0".into(),
        8 => "9007199254740993".into(),
        9 => "9007199254740992".into(),
        10 => "123456789012345678901234567890123456789012345678901234567890".into(),
        11 => "0.000000000000000000000000000000000000000000001e-400".into(),
        12 => (NOW + rng.below(2000) as u64 - 1000).to_string(),
        _ => format!("{}E+{}", rng.below(100), rng.below(500)),
    }
}

fn random_string(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "a", "ES256", "at+jwt", "k1", "https://auth.example.com", "https://app.example.com", "\\u0000", "\\u0041",
        "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\\\", "\\/", "\\\"", "\\n", "\\t", "\\b", "\\f", "\u{e9}",
        "\u{1F600}", "\u{7f}", " ", "\\uD834\\uDD1E", "none",
    ];
    let n = rng.below(5);
    let body: String = (0..n).map(|_| *rng.pick(PIECES)).collect();
    format!("\"{body}\"")
}

fn random_value(rng: &mut Rng, depth: usize) -> String {
    if depth > 0 && rng.chance(3) {
        // A deep chain, up to 200 levels in total.
        let extra = 1 + rng.below(200usize.saturating_sub(depth).max(1));
        let array = rng.chance(50);
        let mut s = String::new();
        for _ in 0..extra {
            s.push_str(if array { "[" } else { "{\"d\":" });
        }
        s.push_str(&random_value(rng, 200));
        for _ in 0..extra {
            s.push(if array { ']' } else { '}' });
        }
        return s;
    }
    let leaf_only = depth >= 200;
    match rng.below(if leaf_only { 4 } else { 6 }) {
        0 => rng.pick(&["null", "true", "false"][..]).to_string(),
        1 => random_number(rng),
        2 | 3 => random_string(rng),
        4 => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n).map(|_| random_value(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => random_object(rng, depth + 1, &[]),
    }
}

fn random_object(rng: &mut Rng, depth: usize, base: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = base.to_vec();
    // Drop or replace some members.
    pairs.retain(|_| !rng.chance(10));
    for pair in pairs.iter_mut() {
        if rng.chance(15) {
            pair.1 = random_value(rng, depth + 1);
        }
    }
    for _ in 0..rng.below(4) {
        let name = rng.pick(NAMES).to_string();
        let value = random_value(rng, depth + 1);
        if rng.chance(70) {
            pairs.push((name, value));
        } else {
            let i = rng.below(pairs.len() + 1);
            pairs.insert(i, (name, value));
        }
    }
    let members: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    let mut s = format!("{{{}}}", members.join(","));
    // Sometimes break the JSON text itself.
    if depth == 0 && rng.chance(10) {
        match rng.below(4) {
            0 => {
                let n = rng.below(s.len() + 1);
                s = s.chars().take(n).collect();
            }
            1 => {
                let tail: &str = *rng.pick(&["x", ",", "}", " {}", "\u{0}"]);
                s.push_str(tail)
            }
            2 => s.insert(0, *rng.pick(&['[', ' ', '\u{feff}', '"'])),
            _ => s = s.replacen(':', "::", 1),
        }
    }
    s
}

#[test]
fn random_signed_json_never_panics() {
    let key = signing_key();
    let v = verifier_with(policy().with_max_token_size(65_536));
    let relaxed = verifier_with(policy().with_typ(None).with_max_token_size(65_536));
    let header_base: Vec<(String, String)> = vec![
        ("alg".into(), "\"ES256\"".into()),
        ("typ".into(), "\"at+jwt\"".into()),
        ("kid".into(), "\"k1\"".into()),
    ];
    let claims_base = standard_claim_pairs(NOW);
    let mut rng = Rng::new(0x5eed_0004);
    let mut by_code = std::collections::BTreeMap::new();
    let mut accepted = 0usize;
    for i in 0..2_000 {
        let (header, payload) = match i % 3 {
            // Random payload, standard header: exercises the claims parser.
            0 | 1 => (object(&header_base), random_object(&mut rng, 0, &claims_base)),
            // Random header, standard payload: exercises the header parser.
            _ => (random_object(&mut rng, 0, &header_base), standard_claims(NOW)),
        };
        let token = sign(&header, &payload, &key);
        for verifier in [&v, &relaxed] {
            match verify_no_panic(verifier, &token) {
                Ok(claims) => {
                    accepted += 1;
                    // Anything accepted really satisfies the policy.
                    assert_eq!(claims.issuer(), ISS, "{payload}");
                    assert!(claims.audience().iter().any(|a| a == AUD), "{payload}");
                    assert!(claims.expires_at() + 30 > NOW && claims.issued_at() <= NOW + 30, "{payload}");
                    assert!(claims.expires_at() >= claims.issued_at());
                    assert!(claims.expires_at() - claims.issued_at() <= 900, "{payload}");
                    assert!(claims.subject().is_some() && claims.token_id().is_some(), "{payload}");
                }
                Err(e) => *by_code.entry(e.code().as_str()).or_insert(0usize) += 1,
            }
        }
        // Random JSON through the key parser too.
        let r = catch_unwind(AssertUnwindSafe(|| KeySet::from_jwks_json(&payload)))
            .unwrap_or_else(|_| panic!("from_jwks_json panicked on {:?}", truncate(&payload)));
        if let Err(e) = r {
            check_code(&e, &payload);
        }
    }
    eprintln!("random signed JSON: {accepted} accepted, refusals {by_code:?}");
    // The generator must reach the claims and header policies, not only the JSON parser.
    for code in ["malformed", "claim_invalid", "alg_not_allowed"] {
        assert!(by_code.get(code).copied().unwrap_or(0) > 0, "no {code} refusals: {by_code:?}");
    }
}

#[test]
fn deep_nesting_is_refused_without_panic() {
    let v = verifier_with(policy().with_max_token_size(65_536));
    let body = &standard_claims(NOW)[1..standard_claims(NOW).len() - 1].to_string();
    for depth in [1usize, 10, 100, 127, 128, 129, 200, 1_000, 10_000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let payload = format!("{{{body},\"deep\":{nested}}}");
            let token = token_with_claims(&payload);
            let header = format!("{{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"k1\",\"x\":{nested}}}");
            for (part, token) in [("payload", token), ("header", token_with_header(&header))] {
                let r = verify_no_panic(&v, &token);
                if depth <= 100 {
                    assert!(r.is_ok(), "{part} depth {depth} {open}: {r:?}");
                } else if depth >= 200 {
                    // Past serde_json's recursion limit (128): refused, as malformed (or, for
                    // the longest, as too large).
                    let e = r.expect_err("deep nesting accepted");
                    let allowed: &[ErrorCode] =
                        if token.len() > 65_536 { &[ErrorCode::TooLarge] } else { &[ErrorCode::Malformed] };
                    assert!(allowed.contains(&e.code()), "{part} depth {depth} {open}: {e}");
                } else if let Err(e) = &r {
                    assert_eq!(e.code(), ErrorCode::Malformed, "{part} depth {depth} {open}: {e}");
                }
            }
        }
    }
}
