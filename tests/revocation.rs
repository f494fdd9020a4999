//! Revocation filter: round trip, no false negatives, false-positive rate, refusals, and
//! the verifier's revoked / revocations_stale behaviour.

mod common;

use common::{AUD, ISS};
use edgetoken::revocation::{FilterSpec, Kind, RevocationList};
use edgetoken::{ErrorCode, KeySet, Policy, UnixTime, Verifier};
use p256::ecdsa::SigningKey;

const T0: u64 = 1_800_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn jwks(keys: &[(&SigningKey, &str)]) -> KeySet {
    let with_kids: Vec<(&SigningKey, Option<&str>)> = keys.iter().map(|(k, kid)| (*k, Some(*kid))).collect();
    common::key_set(&with_kids)
}

fn token(k: &SigningKey, kid: &str, sub: &str, sid: &str, jti: &str, iat: u64) -> String {
    let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}"}}"#);
    let payload = format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"{sub}","sid":"{sid}","jti":"{jti}","iat":{iat},"exp":{}}}"#,
        iat + 600
    );
    common::sign(&header, &payload, k)
}

fn spec(sequence: u64, built_at: u64) -> FilterSpec {
    FilterSpec::new(ISS, sequence, UnixTime::from_secs(built_at), 60, 930)
}

fn verifier() -> Verifier {
    let k = key(1);
    Verifier::new(Policy::new(ISS, [AUD]), jwks(&[(&k, "k1")])).unwrap()
}

/// A deterministic xorshift generator: reproducible figures, no extra dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn salt(&mut self) -> [u8; 16] {
        let mut s = [0u8; 16];
        s[..8].copy_from_slice(&self.next().to_be_bytes());
        s[8..].copy_from_slice(&self.next().to_be_bytes());
        s
    }
}

#[test]
fn round_trip_and_status() {
    let k = key(1);
    let mut s = spec(7, T0);
    s.sids = vec!["s-1".into(), "s-2".into()];
    s.jtis = vec!["j-1".into()];
    s.users = vec![("bob".into(), T0 - 5), ("alice".into(), T0 - 10)];
    s.global_not_before = Some(T0 - 100);
    let bytes = s.build(&k, "k1", [9; 16]).unwrap();
    let list = RevocationList::verify(&bytes, &jwks(&[(&k, "k1")]), ISS).unwrap();
    let st = list.status(UnixTime::from_secs(T0 + 1));
    assert_eq!((st.sequence, st.built_at, st.not_after, st.window), (7, T0, T0 + 60, 930));
    assert_eq!((st.entries, st.users, st.global_not_before), (3, 2, Some(T0 - 100)));
    assert_eq!((st.bytes, st.stale, st.kid.as_str()), (bytes.len(), false, "k1"));
    assert!(list.status(UnixTime::from_secs(T0 + 61)).stale);
    assert!(list.may_contain(Kind::Session, "s-1") && list.may_contain(Kind::Session, "s-2"));
    assert!(list.may_contain(Kind::Token, "j-1"));
    // Kinds are domain-separated.
    assert!(!list.may_contain(Kind::Token, "s-1"));
}

#[test]
fn no_false_negatives_across_salts_and_sizes() {
    let k = key(1);
    let keys = jwks(&[(&k, "k1")]);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for n in [1usize, 2, 10, 1000, 20_000] {
        let mut s = spec(1, T0);
        s.sids = (0..n).map(|_| format!("sid-{:x}", rng.next())).collect();
        s.jtis = (0..n / 2).map(|_| format!("jti-{:x}", rng.next())).collect();
        let list = RevocationList::verify(&s.build(&k, "k1", rng.salt()).unwrap(), &keys, ISS).unwrap();
        assert!(s.sids.iter().all(|id| list.may_contain(Kind::Session, id)), "sid false negative at n={n}");
        assert!(s.jtis.iter().all(|id| list.may_contain(Kind::Token, id)), "jti false negative at n={n}");
    }
}

/// Measured false-positive rate at 1k, 100k and 1M entries over 2M non-members each:
/// within 1.5x of the 2^-16 target. Prints size and bits per entry (docs/revocation.md).
#[test]
fn false_positive_rate_and_size_at_scale() {
    let k = key(1);
    let keys = jwks(&[(&k, "k1")]);
    let target = 1.0 / 65536.0;
    let queries = 2_000_000u64;
    let mut rng = Rng(42);
    for n in [1_000usize, 100_000, 1_000_000] {
        let mut s = spec(1, T0);
        s.sids = (0..n).map(|i| format!("member-{i}")).collect();
        let bytes = s.build(&k, "k1", rng.salt()).unwrap();
        let list = RevocationList::verify(&bytes, &keys, ISS).unwrap();
        let hits = (0..queries).filter(|i| list.may_contain(Kind::Session, &format!("other-{i}"))).count();
        let rate = hits as f64 / queries as f64;
        let bits_per_entry = bytes.len() as f64 * 8.0 / n as f64;
        eprintln!(
            "revocation filter n={n}: {} bytes, {bits_per_entry:.2} bits/entry, fp {hits}/{queries} = {:.3}x target",
            bytes.len(),
            rate / target
        );
        assert!(rate <= 1.5 * target, "false-positive rate {rate} exceeds 1.5x {target} at n={n}");
        assert!(s.sids.iter().take(10_000).all(|id| list.may_contain(Kind::Session, id)));
    }
}

/// Small filters (a handful of entries, rounded up to 64 bits) keep to the target too:
/// many salts, 1 to 8 entries, 20,000 non-members each.
#[test]
fn small_filters_keep_the_false_positive_target() {
    let k = key(1);
    let keys = jwks(&[(&k, "k1")]);
    let target = 1.0 / 65536.0;
    let mut rng = Rng(0xDEC0DE);
    let (mut hits, mut queries) = (0u64, 0u64);
    for n in [1usize, 2, 3, 5, 8] {
        for _ in 0..40 {
            let mut s = spec(1, T0);
            s.jtis = (0..n).map(|i| format!("jti-{i}-{:x}", rng.next())).collect();
            let list = RevocationList::verify(&s.build(&k, "k1", rng.salt()).unwrap(), &keys, ISS).unwrap();
            for q in 0..500 {
                queries += 2;
                hits += u64::from(list.may_contain(Kind::Session, &format!("session-{q}")));
                hits += u64::from(list.may_contain(Kind::Token, &format!("other-{q}")));
            }
        }
    }
    assert!((hits as f64) <= 1.5 * target * queries as f64 + 1.0, "{hits} false positives in {queries} queries");
}

#[test]
fn verifier_rejects_revoked_sessions_tokens_users_and_global_cutoff() {
    let k = key(1);
    let v = verifier();
    let now = UnixTime::from_secs(T0 + 10);
    let t = |sub: &str, sid: &str, jti: &str, iat: u64| token(&k, "k1", sub, sid, jti, iat);
    let ok = t("carol", "s-ok", "j-ok", T0);
    assert!(v.verify(&ok, now).is_ok(), "no filter, not required: accepted");

    let mut s = spec(1, T0 + 5);
    s.sids = vec!["s-bad".into()];
    s.jtis = vec!["j-bad".into()];
    s.users = vec![("mallory".into(), T0 + 1)];
    v.set_revocations(&s.build(&k, "k1", [1; 16]).unwrap(), now).unwrap();
    assert!(v.verify(&ok, now).is_ok());
    let code = |v: &Verifier, tok: &str| v.verify(tok, now).unwrap_err().code();
    assert_eq!(code(&v, &t("carol", "s-bad", "j-x", T0)), ErrorCode::Revoked);
    assert_eq!(code(&v, &t("carol", "s-x", "j-bad", T0)), ErrorCode::Revoked);
    assert_eq!(code(&v, &t("mallory", "s-x", "j-x", T0)), ErrorCode::Revoked, "issued before user cut-off");
    assert!(v.verify(&t("mallory", "s-x", "j-y", T0 + 1), now).is_ok(), "issued at the user cut-off");

    // A token issued after built_at + tolerance (30 s) cannot have been revoked by this
    // filter: its hits are ignored, so a false positive never locks the user out.
    let later = UnixTime::from_secs(T0 + 40);
    assert!(v.verify(&t("carol", "s-bad", "j-z", T0 + 36), later).is_ok());
    assert_eq!(v.verify(&t("carol", "s-bad", "j-z", T0 + 35), later).unwrap_err().code(), ErrorCode::Revoked);

    let mut g = spec(2, T0 + 6);
    g.global_not_before = Some(T0 + 2);
    v.set_revocations(&g.build(&k, "k1", [2; 16]).unwrap(), now).unwrap();
    assert_eq!(code(&v, &t("carol", "s-ok", "j-ok", T0)), ErrorCode::Revoked, "global cut-off");
    assert!(v.verify(&t("carol", "s-ok", "j-ok", T0 + 2), now).is_ok());
}

#[test]
fn required_filter_fails_closed_when_missing_or_stale() {
    let k = key(1);
    let v = verifier();
    v.set_revocation_required(true);
    let tok = token(&k, "k1", "carol", "s", "j", T0);
    let at = UnixTime::from_secs;
    assert_eq!(v.verify(&tok, at(T0 + 1)).unwrap_err().code(), ErrorCode::RevocationsStale, "none loaded");
    v.set_revocations(&spec(1, T0).build(&k, "k1", [3; 16]).unwrap(), at(T0 + 1)).unwrap();
    assert!(v.verify(&tok, at(T0 + 60)).is_ok(), "fresh through not_after");
    assert_eq!(v.verify(&tok, at(T0 + 61)).unwrap_err().code(), ErrorCode::RevocationsStale);
    assert!(v.revocation_status(at(T0 + 61)).unwrap().stale);
    // Recovery: a newer filter makes it fresh again.
    v.set_revocations(&spec(2, T0 + 50).build(&k, "k1", [4; 16]).unwrap(), at(T0 + 61)).unwrap();
    assert!(v.verify(&tok, at(T0 + 61)).is_ok());
}

#[test]
fn bad_artifacts_are_refused_and_the_previous_filter_kept() {
    let k = key(1);
    let other = key(2);
    let v = verifier();
    let now = UnixTime::from_secs(T0 + 1);
    let mut held = spec(5, T0);
    held.sids = vec!["s-bad".into()];
    v.set_revocations(&held.build(&k, "k1", [5; 16]).unwrap(), now).unwrap();

    let good_next = spec(6, T0).build(&k, "k1", [6; 16]).unwrap();
    let mut truncated = good_next.clone();
    truncated.truncate(good_next.len() / 2);
    let cases: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
        ("rollback", spec(4, T0).build(&k, "k1", [7; 16]).unwrap(), ErrorCode::RevocationsRollback),
        ("stale", spec(6, T0 - 120).build(&k, "k1", [7; 16]).unwrap(), ErrorCode::RevocationsStale),
        ("wrong key, same kid", spec(6, T0).build(&other, "k1", [7; 16]).unwrap(), ErrorCode::RevocationsBadSignature),
        ("unknown kid", spec(6, T0).build(&other, "k9", [7; 16]).unwrap(), ErrorCode::RevocationsUnknownKey),
        (
            "wrong issuer",
            FilterSpec::new("https://evil.example", 6, UnixTime::from_secs(T0), 60, 930)
                .build(&k, "k1", [7; 16])
                .unwrap(),
            ErrorCode::RevocationsIssuerMismatch,
        ),
        (
            "far-future not_after",
            FilterSpec::new(ISS, 6, UnixTime::from_secs(T0), u64::MAX - T0, 930).build(&k, "k1", [7; 16]).unwrap(),
            ErrorCode::RevocationsTooLongLived,
        ),
        (
            "one second over the default maximum lifetime",
            FilterSpec::new(ISS, 6, UnixTime::from_secs(T0), 3601, 930).build(&k, "k1", [7; 16]).unwrap(),
            ErrorCode::RevocationsTooLongLived,
        ),
        (
            "window shorter than max token lifetime + clock tolerance",
            FilterSpec::new(ISS, 6, UnixTime::from_secs(T0), 60, 929).build(&k, "k1", [7; 16]).unwrap(),
            ErrorCode::RevocationsWindowTooShort,
        ),
        ("truncated", truncated, ErrorCode::RevocationsBadSignature),
        ("empty", Vec::new(), ErrorCode::RevocationsInvalid),
        ("retired algorithm 1", { let mut b = good_next.clone(); b[5] = 1; b }, ErrorCode::RevocationsInvalid),
        ("not an artifact", b"hello world, this is not a filter at all, not even close........".repeat(2), ErrorCode::RevocationsInvalid),
    ];
    for (name, bytes, want) in cases {
        let e = v.set_revocations(&bytes, now).unwrap_err();
        assert_eq!(e.code(), want, "{name}: {e}");
        assert_eq!(v.revocation_status(now).unwrap().sequence, 5, "{name}: previous filter kept");
    }
    // Every single-bit flip anywhere is refused (signature or structure), never a panic.
    for i in 0..good_next.len() {
        for bit in [0u8, 3, 7] {
            let mut b = good_next.clone();
            b[i] ^= 1 << bit;
            assert!(v.set_revocations(&b, now).is_err(), "bit {bit} of byte {i} flipped was accepted");
        }
    }
    assert_eq!(v.revocation_status(now).unwrap().sequence, 5);
    v.set_revocations(&good_next, now).unwrap();
    assert_eq!(v.revocation_status(now).unwrap().sequence, 6);
}

#[test]
fn parsing_random_bytes_never_panics() {
    let k = key(1);
    let keys = jwks(&[(&k, "k1")]);
    let mut rng = Rng(7);
    let base = spec(1, T0).build(&k, "k1", [8; 16]).unwrap();
    for round in 0..20_000 {
        let mut b = if round % 2 == 0 { base.clone() } else { Vec::new() };
        let extra = (rng.next() % 200) as usize;
        for _ in 0..extra {
            b.push(rng.next() as u8);
        }
        if !b.is_empty() && round % 3 == 0 {
            let cut = (rng.next() as usize) % b.len();
            b.truncate(cut);
        }
        let _ = RevocationList::verify(&b, &keys, ISS);
    }
}

#[test]
fn builder_refuses_bad_input() {
    let k = key(1);
    let mut s = spec(1, T0);
    s.false_positive_rate = 0.0;
    assert_eq!(s.build(&k, "k1", [0; 16]).unwrap_err().code(), ErrorCode::InvalidConfig);
    s.false_positive_rate = 0.9;
    assert_eq!(s.build(&k, "k1", [0; 16]).unwrap_err().code(), ErrorCode::InvalidConfig);
    let mut s = spec(1, T0);
    s.ttl = 0;
    assert_eq!(s.build(&k, "k1", [0; 16]).unwrap_err().code(), ErrorCode::InvalidConfig);
    let s = spec(1, T0);
    assert_eq!(s.build(&k, "", [0; 16]).unwrap_err().code(), ErrorCode::InvalidConfig);
    assert_eq!(s.build(&k, &"k".repeat(256), [0; 16]).unwrap_err().code(), ErrorCode::InvalidConfig);
    // One kid limit: the longest kid a token and a JWK may carry signs a filter too.
    let long = "k".repeat(edgetoken::header::MAX_KID_LEN);
    let v = Verifier::new(Policy::new(ISS, [AUD]), jwks(&[(&k, &long)])).unwrap();
    let filter = s.build(&k, &long, [0; 16]).unwrap();
    assert_eq!(v.set_revocations(&filter, UnixTime::from_secs(T0)).unwrap().kid, long);
    let tok = token(&k, &long, "carol", "s", "j", T0);
    assert!(v.verify(&tok, UnixTime::from_secs(T0)).is_ok(), "a token with the longest kid");
    let mut s = spec(1, T0);
    s.users = vec![(String::new(), 1)];
    assert_eq!(s.build(&k, "k1", [0; 16]).unwrap_err().code(), ErrorCode::InvalidConfig);
}
