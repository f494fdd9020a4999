//! The trust state's transitions: keys change while a filter is loaded, unknown signing
//! kid, far-future filter, rollback, stale, the forged-filter lock-out of issue 11, no
//! keys yet, and atomicity under real concurrency.

mod common;

use common::{assert_code, key_set, AUD, ISS};
use edgetoken::sign::FilterSpec;
use edgetoken::{
    ErrorCode, KeySet, Policy, RevocationOptions, RevocationRequirement, TrustState, UnixTime, Verifier,
};
use p256::ecdsa::SigningKey;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const T0: u64 = 1_800_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn at(secs: u64) -> UnixTime {
    UnixTime::from_secs(secs)
}

fn keys(list: &[(&SigningKey, &str)]) -> KeySet {
    let with: Vec<(&SigningKey, Option<&str>)> = list.iter().map(|(k, kid)| (*k, Some(*kid))).collect();
    key_set(&with)
}

fn filter(k: &SigningKey, kid: &str, sequence: u64, built_at: u64, ttl: u64, sids: &[&str]) -> Vec<u8> {
    let mut spec = FilterSpec::new(ISS, sequence, at(built_at), ttl, 960);
    spec.sids = sids.iter().map(|s| s.to_string()).collect();
    spec.build(k, kid, [sequence as u8; 16]).unwrap()
}

fn token(k: &SigningKey, kid: &str, sid: &str, iat: u64) -> String {
    let claims = format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"u","sid":"{sid}","jti":"j-{sid}","iat":{iat},"exp":{}}}"#,
        iat + 600
    );
    edgetoken::sign::access_token(k, kid, &claims).unwrap()
}

/// A verifier requiring revocation, trusting `list`.
fn required(list: &[(&SigningKey, &str)]) -> Verifier {
    let state = TrustState::new(Some(keys(list)), RevocationOptions::required()).unwrap();
    Verifier::with_trust(Policy::new(ISS, [AUD]), state).unwrap()
}

#[test]
fn keys_change_while_a_filter_is_loaded() {
    let (k1, k2) = (key(1), key(2));
    let v = required(&[(&k1, "k1"), (&k2, "k2")]);
    let now = at(T0 + 1);
    let t2 = token(&k2, "k2", "s", T0);
    v.set_revocations(&filter(&k1, "k1", 7, T0, 60, &[]), now).unwrap();
    assert!(v.verify(&t2, now).is_ok());

    // The signer stays (another key goes): the filter stays.
    v.set_keys(keys(&[(&k1, "k1")]));
    assert_eq!(v.revocation_status(now).unwrap().sequence, 7);
    // The signer leaves: the filter is dropped, and a required verifier fails closed.
    v.set_keys(keys(&[(&k2, "k2")]));
    assert!(v.revocation_status(now).is_none(), "filter signed by a removed key dropped");
    assert_code(v.verify(&t2, now), ErrorCode::RevocationsStale, "no trusted filter");
    // A filter by a trusted key restores service; a lower sequence than the dropped
    // filter's is fine (the high-water mark left with it).
    v.set_revocations(&filter(&k2, "k2", 3, T0, 60, &[]), now).unwrap();
    assert!(v.verify(&t2, now).is_ok());

    // Same kid, another point: the filter's signer is no longer trusted either.
    let v = required(&[(&k1, "k1")]);
    v.set_revocations(&filter(&k1, "k1", 1, T0, 60, &[]), now).unwrap();
    v.set_keys(keys(&[(&k2, "k1")]));
    assert!(v.revocation_status(now).is_none(), "same kid, different key: dropped");
}

#[test]
fn unknown_signing_kid_bad_signature_and_issuer_have_filter_codes() {
    let (k1, k2) = (key(1), key(2));
    let v = required(&[(&k1, "k1")]);
    let now = at(T0 + 1);
    v.set_revocations(&filter(&k1, "k1", 1, T0, 60, &[]), now).unwrap();
    let before = v.trust();
    assert_code(v.set_revocations(&filter(&k2, "k2", 2, T0, 60, &[]), now), ErrorCode::RevocationsUnknownKey, "kid");
    assert_code(v.set_revocations(&filter(&k2, "k1", 2, T0, 60, &[]), now), ErrorCode::RevocationsBadSignature, "sig");
    let evil = FilterSpec::new("https://evil.example", 2, at(T0), 60, 960).build(&k1, "k1", [0; 16]).unwrap();
    assert_code(v.set_revocations(&evil, now), ErrorCode::RevocationsIssuerMismatch, "issuer");
    assert!(Arc::ptr_eq(&before, &v.trust()), "a refused filter leaves the state untouched");
}

#[test]
fn far_future_filters_are_refused_and_the_bound_is_configurable() {
    let k1 = key(1);
    let v = required(&[(&k1, "k1")]);
    let now = at(T0 + 1);
    for ttl in [3601, 86_400, u64::MAX - T0] {
        assert_code(
            v.set_revocations(&filter(&k1, "k1", 1, T0, ttl, &[]), now),
            ErrorCode::RevocationsTooLongLived,
            "ttl over an hour",
        );
    }
    v.set_revocations(&filter(&k1, "k1", 1, T0, 3600, &[]), now).unwrap();
    // Raising the bound admits longer filters; lowering it below the loaded filter's
    // lifetime is refused rather than silently keeping or dropping it.
    v.set_revocation_options(RevocationOptions { max_filter_ttl: 7200, ..RevocationOptions::required() }).unwrap();
    v.set_revocations(&filter(&k1, "k1", 2, T0, 7200, &[]), now).unwrap();
    assert_code(
        v.set_revocation_options(RevocationOptions::required()),
        ErrorCode::RevocationsTooLongLived,
        "lowering the bound under the loaded filter",
    );
    assert_code(
        TrustState::new(None, RevocationOptions { max_filter_ttl: 0, ..RevocationOptions::default() }).map(|_| ()),
        ErrorCode::InvalidConfig,
        "a zero bound",
    );
}

#[test]
fn rollback_and_stale() {
    let k1 = key(1);
    let v = required(&[(&k1, "k1")]);
    let t = token(&k1, "k1", "s", T0);
    v.set_revocations(&filter(&k1, "k1", 5, T0, 60, &[]), at(T0)).unwrap();
    assert_code(v.set_revocations(&filter(&k1, "k1", 4, T0 + 10, 60, &[]), at(T0 + 10)), ErrorCode::RevocationsRollback, "lower");
    v.set_revocations(&filter(&k1, "k1", 5, T0 + 10, 60, &[]), at(T0 + 10)).unwrap();
    assert!(v.verify(&t, at(T0 + 70)).is_ok(), "fresh through not_after");
    assert_code(v.verify(&t, at(T0 + 71)), ErrorCode::RevocationsStale, "stale");
    assert_code(
        v.set_revocations(&filter(&k1, "k1", 6, T0, 60, &[]), at(T0 + 71)),
        ErrorCode::RevocationsStale,
        "an already stale filter",
    );
    v.set_revocations(&filter(&k1, "k1", 6, T0 + 70, 60, &[]), at(T0 + 71)).unwrap();
    assert!(v.verify(&t, at(T0 + 71)).is_ok(), "recovered");
    // Optional revocation: a stale filter is still consulted (it can only refuse more).
    let v = Verifier::new(Policy::new(ISS, [AUD]), keys(&[(&k1, "k1")])).unwrap();
    v.set_revocations(&filter(&k1, "k1", 1, T0, 60, &["s"]), at(T0)).unwrap();
    assert_code(v.verify(&t, at(T0 + 500)), ErrorCode::Revoked, "stale but consulted");
}

/// Issue 11's reproduction: a filter forged with a stolen key (sequence and not_after at
/// u64::MAX), the key removed, then the origin's genuine filter.
#[test]
fn a_forged_filter_cannot_lock_out_the_origin_after_its_key_is_withdrawn() {
    let (stolen, fresh) = (key(1), key(2));
    let v = required(&[(&stolen, "old"), (&fresh, "new")]);
    let now = at(T0 + 1);
    let revoked = token(&fresh, "new", "s-revoked", T0);
    // not_after at u64::MAX: refused outright.
    let forever = FilterSpec::new(ISS, u64::MAX, at(T0), u64::MAX - T0, 960).build(&stolen, "old", [1; 16]).unwrap();
    assert_code(v.set_revocations(&forever, now), ErrorCode::RevocationsTooLongLived, "forever filter");
    // Within the lifetime bound, a forged filter with sequence u64::MAX is accepted while
    // the stolen key is trusted, and blocks the genuine one...
    v.set_revocations(&filter(&stolen, "old", u64::MAX, T0, 3600, &[]), now).unwrap();
    assert!(v.verify(&revoked, now).is_ok(), "the forged filter revokes nothing");
    let genuine = filter(&fresh, "new", 10, T0, 60, &["s-revoked"]);
    assert_code(v.set_revocations(&genuine, now), ErrorCode::RevocationsRollback, "forged high-water");
    // ...until the stolen key is withdrawn: the forged filter goes with it...
    v.set_keys(keys(&[(&fresh, "new")]));
    assert_code(v.verify(&revoked, now), ErrorCode::RevocationsStale, "fail closed meanwhile");
    // ...and the origin's filter is accepted: no lock-out, revocation works again.
    assert_eq!(v.set_revocations(&genuine, now).unwrap().sequence, 10);
    assert_code(v.verify(&revoked, now), ErrorCode::Revoked, "revocation works again");
    // Tokens forged with the withdrawn key are refused.
    assert_code(v.verify(&token(&stolen, "old", "s-any", T0), now), ErrorCode::KeyNotFound, "forged token");
}

#[test]
fn a_verifier_without_keys_fails_closed_until_keys_arrive() {
    let k1 = key(1);
    let state = TrustState::new(None, RevocationOptions::required()).unwrap();
    let v = Verifier::with_trust(Policy::new(ISS, [AUD]), state).unwrap();
    let t = token(&k1, "k1", "s", T0);
    let now = at(T0 + 1);
    assert_code(v.verify(&t, now), ErrorCode::KeysUnavailable, "no keys");
    assert_code(v.set_revocations(&filter(&k1, "k1", 1, T0, 60, &[]), now), ErrorCode::RevocationsUnknownKey, "no keys");
    v.set_keys(keys(&[(&k1, "k1")]));
    assert_code(v.verify(&t, now), ErrorCode::RevocationsStale, "keys, no filter yet");
    v.set_revocations(&filter(&k1, "k1", 1, T0, 60, &[]), now).unwrap();
    assert!(v.verify(&t, now).is_ok());
    // Malformed input is still malformed, keys or not.
    let keyless = Verifier::with_trust(Policy::new(ISS, [AUD]), TrustState::new(None, RevocationOptions::default()).unwrap()).unwrap();
    assert_code(keyless.verify("x.y", now), ErrorCode::Malformed, "malformed first");
}

#[test]
fn window_must_cover_the_tokens_the_verifier_accepts() {
    let k1 = key(1);
    let policy = Policy::new(ISS, [AUD]).with_max_token_lifetime(900).with_clock_tolerance(60);
    let v = Verifier::new(policy, keys(&[(&k1, "k1")])).unwrap();
    let spec = |window| FilterSpec::new(ISS, 1, at(T0), 60, window).build(&k1, "k1", [0; 16]).unwrap();
    assert_code(v.set_revocations(&spec(959), at(T0)), ErrorCode::RevocationsWindowTooShort, "959 < 960");
    v.set_revocations(&spec(960), at(T0)).unwrap();
}

/// Compound changes (new keys and a filter by the new key) land as one state: readers on
/// other threads never see the keys without the filter, which would be
/// `revocations_stale` here. And concurrent writers lose no update.
#[test]
fn updates_are_atomic_under_concurrent_verification() {
    let (k1, k2) = (key(1), key(2));
    let v = Arc::new(required(&[(&k1, "k1")]));
    let now = at(T0 + 1);
    v.set_revocations(&filter(&k1, "k1", 1, T0, 600, &[]), now).unwrap();
    let t = token(&k1, "k1", "s-1", T0);
    let revoking = filter(&k2, "k2", 2, T0, 600, &["s-1"]);
    let clean = filter(&k1, "k1", 1, T0, 600, &[]);
    let both = keys(&[(&k1, "k1"), (&k2, "k2")]);
    let only_k1 = keys(&[(&k1, "k1")]);
    let policy = v.policy().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (v, t, stop) = (v.clone(), t.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut ok, mut revoked, mut n) = (0u32, 0u32, 0u32);
                while !stop.load(Ordering::Relaxed) || n < 200 {
                    match v.verify(&t, now) {
                        Ok(_) => ok += 1,
                        Err(e) if e.code() == ErrorCode::Revoked => revoked += 1,
                        Err(e) => panic!("inconsistent snapshot: {e}"),
                    }
                    n += 1;
                }
                (ok, revoked)
            })
        })
        .collect();
    for _ in 0..300 {
        // Rotate in k2 and its filter together, then back to k1 and its filter: each
        // update is two transitions, installed as one state.
        v.update_trust(|s| s.with_keys(both.clone()).with_revocations(&revoking, &policy, now)).unwrap();
        v.update_trust(|s| s.with_keys(only_k1.clone()).with_revocations(&clean, &policy, now)).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut revoked) = (0, 0);
    for r in readers {
        let (a, b) = r.join().unwrap();
        ok += a;
        revoked += b;
    }
    assert!(ok > 0 && ok + revoked >= 600, "readers ran: {ok} ok, {revoked} revoked");

    // Writers racing with increasing sequences: the highest always ends up installed.
    for round in 0..20 {
        let v = Arc::new(required(&[(&k1, "k1")]));
        let filters: Vec<Vec<u8>> = (1..=8).map(|seq| filter(&k1, "k1", seq, T0, 600, &[])).collect();
        let writers: Vec<_> = filters
            .into_iter()
            .map(|f| {
                let v = v.clone();
                std::thread::spawn(move || {
                    let _ = v.set_revocations(&f, now); // a rollback refusal is expected
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        assert_eq!(v.revocation_status(now).unwrap().sequence, 8, "round {round}: an update was lost");
    }
}

#[test]
fn the_requirement_is_an_enum_in_the_state() {
    let k1 = key(1);
    let v = Verifier::new(Policy::new(ISS, [AUD]), keys(&[(&k1, "k1")])).unwrap();
    assert_eq!(v.trust().options().requirement, RevocationRequirement::Optional);
    v.set_revocation_required(true);
    assert_eq!(v.trust().options().requirement, RevocationRequirement::Required);
    assert!(v.revocation_required());
}
