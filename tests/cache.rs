//! The verified-token cache never accepts what the uncached verifier would reject, and is
//! bounded in entries and bytes.

mod common;

use common::*;
use edgetoken::cache::{entry_cost, CacheLimits};
use edgetoken::sign::FilterSpec;
use edgetoken::{ErrorCode, Policy, UnixTime, Verifier};

fn uncached(policy: Policy) -> Verifier {
    let mut v = verifier_with(policy);
    v.set_cache_limits(CacheLimits::DISABLED);
    v
}

fn code<T>(r: Result<T, edgetoken::Error>) -> Option<ErrorCode> {
    r.err().map(|e| e.code())
}

#[test]
fn a_hit_is_rechecked_like_a_first_sight_at_every_time() {
    let cached = verifier();
    let reference = uncached(policy());
    let tokens = [
        valid_token(),
        token_with_claims(&claims_with(NOW, &[("nbf", Some(&(NOW + 100).to_string()))])),
        token_with_claims(&claims_with(NOW, &[("exp", Some(&(NOW + 60).to_string()))])),
    ];
    // First sight at a time where each is valid, then every offset from -1000 to +1000 s.
    for t in &tokens {
        let first = cached.verify(t, UnixTime::from_secs(NOW + 90));
        assert_eq!(code(first), code(reference.verify(t, UnixTime::from_secs(NOW + 90))));
    }
    assert!(cached.cache_usage().0 >= 2, "valid tokens are cached");
    for offset in (-1000i64..=1000).step_by(7) {
        let now = UnixTime::from_secs((NOW as i64 + offset) as u64);
        for t in &tokens {
            let (a, b) = (cached.verify(t, now), reference.verify(t, now));
            let codes = (a.as_ref().err().map(|e| e.code()), b.as_ref().err().map(|e| e.code()));
            assert_eq!(codes.0, codes.1, "offset {offset}");
            if let (Ok(a), Ok(b)) = (a, b) {
                assert_eq!(a, b);
            }
        }
    }
}

#[test]
fn expired_on_hit_is_refused_and_dropped() {
    let v = verifier();
    let t = valid_token();
    assert_ok(v.verify(&t, now()), "first sight");
    assert_eq!(v.cache_usage().0, 1);
    assert_code(v.verify(&t, UnixTime::from_secs(NOW + 600 + 30)), ErrorCode::Expired, "expired hit");
    assert_eq!(v.cache_usage().0, 0, "expired entry is dropped");
}

#[test]
fn revoked_on_hit_is_refused() {
    let v = verifier();
    let t = valid_token();
    let mut spec = FilterSpec::new(ISS, 1, UnixTime::from_secs(NOW), 600, 930);
    let empty = spec.build(&signing_key(), KID, [1; 16]).unwrap();
    v.set_revocations(&empty, now()).unwrap();
    assert_ok(v.verify(&t, now()), "first sight");
    assert_ok(v.verify(&t, now()), "hit");
    // The session is revoked after the token was cached.
    spec.sequence = 2;
    spec.built_at = UnixTime::from_secs(NOW + 5);
    spec.sids = vec!["session-789".into()];
    let revoked = spec.build(&signing_key(), KID, [2; 16]).unwrap();
    v.set_revocations(&revoked, UnixTime::from_secs(NOW + 5)).unwrap();
    assert_code(v.verify(&t, UnixTime::from_secs(NOW + 6)), ErrorCode::Revoked, "revoked hit");
    // Required and stale: fail closed on a hit too.
    let spec3 = FilterSpec::new(ISS, 3, UnixTime::from_secs(NOW), 10, 930);
    let short = spec3.build(&signing_key(), KID, [3; 16]).unwrap();
    let v2 = verifier();
    v2.set_revocation_required(true);
    v2.set_revocations(&short, now()).unwrap();
    assert_ok(v2.verify(&t, now()), "fresh filter");
    assert_code(v2.verify(&t, UnixTime::from_secs(NOW + 20)), ErrorCode::RevocationsStale, "stale on hit");
}

#[test]
fn a_cache_hit_counts_only_while_its_key_is_trusted() {
    let v = verifier();
    let t = valid_token();
    assert_ok(v.verify(&t, now()), "first sight");
    assert_eq!(v.cache_usage().0, 1);
    // A rotation that keeps the key keeps the entry, and the hit still answers.
    v.set_keys(key_set(&[(&signing_key(), Some(KID)), (&other_key(), Some(OTHER_KID))]));
    assert_eq!(v.cache_usage().0, 1);
    assert_ok(v.verify(&t, now()), "key still trusted");
    // Once the key is gone the entry no longer counts (and is dropped).
    v.set_keys(key_set(&[(&other_key(), Some(OTHER_KID))]));
    assert_code(v.verify(&t, now()), ErrorCode::KeyNotFound, "old key's token after rotation");
    assert_eq!(v.cache_usage(), (0, 0));
    // With no keys at all, the cache answers nothing either.
    let keyless = edgetoken::Verifier::with_trust(
        policy(),
        edgetoken::TrustState::new(None, edgetoken::RevocationOptions::default()).unwrap(),
    )
    .unwrap();
    assert_code(keyless.verify(&t, now()), ErrorCode::KeysUnavailable, "no keys yet");
    // Same kid, different key: the cached signature must not carry over.
    let v = verifier();
    assert_ok(v.verify(&t, now()), "first sight");
    v.set_keys(key_set(&[(&other_key(), Some(KID))]));
    assert_code(v.verify(&t, now()), ErrorCode::BadSignature, "same kid, new key");
}

#[test]
fn another_verifier_policy_is_applied_not_the_cached_one() {
    let lenient = verifier();
    let t = valid_token();
    assert_ok(lenient.verify(&t, now()), "lenient");
    // A clone starts empty; verifiers with other policies have their own caches.
    let clone = lenient.clone();
    assert_eq!(clone.cache_usage().0, 0);
    let strict_aud = verifier_with(Policy::new(ISS, ["https://other.example.com"]));
    assert_code(strict_aud.verify(&t, now()), ErrorCode::AudienceMismatch, "aud");
    let strict_iss = verifier_with(Policy::new("https://evil.example.com", [AUD]));
    assert_code(strict_iss.verify(&t, now()), ErrorCode::IssuerMismatch, "iss");
    let strict_typ = verifier_with(policy().with_typ(Some(vec!["jwt".into()])));
    assert_code(strict_typ.verify(&t, now()), ErrorCode::TypMismatch, "typ");
    let short = verifier_with(policy().with_max_token_lifetime(300));
    assert_code(short.verify(&t, now()), ErrorCode::LifetimeTooLong, "lifetime");
    let more = verifier_with(policy().with_required_claims(vec!["sub".into(), "jti".into(), "scope".into()]));
    assert_code(more.verify(&t, now()), ErrorCode::ClaimMissing, "required");
    // And the lenient one still accepts (from its cache).
    assert_ok(lenient.verify(&t, now()), "lenient hit");
}

#[test]
fn rejected_tokens_are_never_cached() {
    let v = verifier();
    let good = valid_token();
    let bad_sig = with_signature(&good, &[0x11; 64]);
    let future = token_with_claims(&claims_with(NOW, &[("nbf", Some(&(NOW + 1000).to_string()))]));
    for t in [&bad_sig, &future] {
        assert!(v.verify(t, now()).is_err());
    }
    assert_eq!(v.cache_usage().0, 0);
    // A token that differs from a cached one in one character is a miss, checked in full.
    assert_ok(v.verify(&good, now()), "good");
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(v.verify(&tampered, now()).is_err());
    assert_eq!(v.cache_usage().0, 1);
}

#[test]
fn bounded_in_entries_and_bytes() {
    let mut v = verifier();
    v.set_cache_limits(CacheLimits { max_entries: 10, max_bytes: 1 << 20 });
    let tokens: Vec<String> = (0..50)
        .map(|i| token_with_claims(&claims_with(NOW, &[("jti", Some(&format!("\"t-{i}\"")))])))
        .collect();
    for t in &tokens {
        assert_ok(v.verify(t, now()), "valid");
        assert!(v.cache_usage().0 <= 10, "entries bounded: {:?}", v.cache_usage());
    }
    // The most recent tokens are still hits.
    assert!(v.cache_usage().0 >= 5);

    let one = entry_cost(&tokens[0], &v.verify(&tokens[0], now()).unwrap());
    let max_bytes = one * 6;
    v.set_cache_limits(CacheLimits { max_entries: 1000, max_bytes });
    for t in &tokens {
        assert_ok(v.verify(t, now()), "valid");
        let (n, bytes) = v.cache_usage();
        assert!(bytes <= max_bytes && n <= 6, "bytes bounded: {n} entries, {bytes} > {max_bytes}");
    }
    // A token bigger than half the byte budget is verified but not cached.
    let big = token_with_claims(&claims_with(NOW, &[("pad", Some(&format!("\"{}\"", "x".repeat(4000))))]));
    v.set_cache_limits(CacheLimits { max_entries: 100, max_bytes: 4096 });
    assert_ok(v.verify(&big, now()), "big");
    assert_eq!(v.cache_usage().0, 0);
    // Disabled.
    v.set_cache_limits(CacheLimits::DISABLED);
    assert_ok(v.verify(&tokens[0], now()), "valid");
    assert_eq!(v.cache_usage(), (0, 0));
}

