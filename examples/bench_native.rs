//! Native timing of the core for the benchmark suite (`npm run bench` runs it; not a test).
//! Usage: bench_native <token> <now> <jwk json>; prints medians in µs as JSON.
use edgetoken::cache::CacheLimits;
use edgetoken::signature::{verify_es256, verify_es256_reference};
use edgetoken::{KeySet, Policy, UnixTime, Verifier};
use std::time::Instant;

fn median_us(mut f: impl FnMut(), per_round: usize) -> f64 {
    let mut xs = Vec::new();
    for _ in 0..9 {
        let t0 = Instant::now();
        for _ in 0..per_round {
            f();
        }
        xs.push(t0.elapsed().as_secs_f64() * 1e6 / per_round as f64);
    }
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (token, now, jwk) = (&args[1], UnixTime::from_secs(args[2].parse().unwrap()), &args[3]);
    let keys = KeySet::from_jwks_json(jwk).unwrap();
    let key = keys.keys()[0].clone();
    assert!(key.precompute());
    let policy = Policy::new("https://auth.example.com", ["https://app.example.com"]);
    let mut uncached = Verifier::new(policy.clone(), keys.clone()).unwrap();
    uncached.set_cache_limits(CacheLimits::DISABLED);
    let cached = Verifier::new(policy, keys).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = base64_url(sig);
    let first = median_us(|| assert!(uncached.verify(token, now).is_ok()), 2000);
    let seen = median_us(|| assert!(cached.verify(token, now).is_ok()), 20000);
    let fast = median_us(|| assert!(verify_es256(&key, input.as_bytes(), &sig).is_ok()), 2000);
    let slow = median_us(|| assert!(verify_es256_reference(&key, input.as_bytes(), &sig).is_ok()), 500);
    println!(
        "{{\"verify_first_sight\":{first},\"verify_seen\":{seen},\"signature_fast\":{fast},\"signature_p256\":{slow}}}"
    );
}

fn base64_url(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => panic!("not base64url"),
    } as u32;
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s.as_bytes() {
        acc = (acc << 6) | val(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
