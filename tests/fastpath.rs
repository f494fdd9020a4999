//! Differential test of the fast path (fixed-base tables) against `p256`'s own verify:
//! ≥ 100,000 random valid and invalid signatures from a deterministic PRNG, through the
//! public `signature::verify_es256` (tables precomputed, fast path asserted in use) and
//! through `fastpath::verify_with_tables` directly.
//!
//! Cases: 100,000 in release builds (`npm test` runs `cargo test --release --test fastpath`),
//! 5,000 in debug builds (`cargo test` compiles this crate unoptimised); the
//! `EDGETOKEN_DIFF_CASES` variable overrides both.

mod common;

use edgetoken::fastpath::{self, Table};
use edgetoken::signature::verify_es256;
use edgetoken::PublicKey;
use p256::ecdsa::signature::{Signer, Verifier as _};
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::ops::Reduce;
use p256::{FieldBytes, ProjectivePoint, Scalar};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const N_HEX: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

fn n_minus(k: u8) -> [u8; 32] {
    let mut n = [0u8; 32];
    for i in 0..32 {
        n[i] = u8::from_str_radix(&N_HEX[2 * i..2 * i + 2], 16).unwrap();
    }
    n[31] -= k;
    n
}

struct Key {
    signing: SigningKey,
    public: PublicKey,
    table: Table,
}

fn keys(rng: &mut Rng, count: usize) -> Vec<Key> {
    let mut out = Vec::new();
    while out.len() < count {
        let mut seed = [0u8; 32];
        rng.bytes(&mut seed);
        let Ok(signing) = SigningKey::from_slice(&seed) else { continue };
        let point = signing.verifying_key().to_sec1_point(false);
        let public = PublicKey::from_sec1_bytes(point.as_bytes(), None).unwrap();
        assert!(public.precompute(), "fast path must be available for this key");
        assert!(public.fast_path_ready());
        let table = Table::new(&ProjectivePoint::from(*signing.verifying_key().as_affine()), fastpath::KEY_WINDOW);
        out.push(Key { signing, public, table });
    }
    out
}

fn sig_bytes(sig: &Signature) -> [u8; 64] {
    let mut b = [0u8; 64];
    b.copy_from_slice(&sig.to_bytes());
    b
}

#[derive(Default)]
struct Stats {
    total: usize,
    valid: usize,
    invalid: usize,
    unparsable: usize,
}

fn check(st: &mut Stats, g: &Table, key: &Key, msg: &[u8], sig: &[u8; 64]) {
    st.total += 1;
    let Ok(parsed) = Signature::from_slice(sig) else {
        // Out-of-range r or s: both paths share the parser; both must refuse.
        st.unparsable += 1;
        assert!(verify_es256(&key.public, msg, sig).is_err());
        return;
    };
    let reference = key.signing.verifying_key().verify(msg, &parsed).is_ok();
    let fast = fastpath::verify_with_tables(g, &key.table, msg, &parsed);
    let public = verify_es256(&key.public, msg, sig).is_ok();
    assert_eq!(
        (fast, public),
        (reference, reference),
        "disagreement on msg {} sig {}",
        hex(msg),
        hex(sig)
    );
    if reference {
        st.valid += 1
    } else {
        st.invalid += 1
    }
}

#[test]
fn fast_path_agrees_with_p256_on_random_signatures() {
    let cases: usize = std::env::var("EDGETOKEN_DIFF_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(if cfg!(debug_assertions) { 5_000 } else { 100_000 });
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let keys = keys(&mut rng, 4);
    let g = Table::generator();
    let mut st = Stats::default();
    while st.total < cases {
        let k = rng.below(keys.len() as u64) as usize;
        let key = &keys[k];
        let mut msg = vec![0u8; 1 + rng.below(200) as usize];
        rng.bytes(&mut msg);
        let sig: Signature = key.signing.sign(&msg);
        let good = sig_bytes(&sig);
        // 1. the valid signature
        check(&mut st, &g, key, &msg, &good);
        // 2. its high/low-S twin (also valid: JOSE accepts high S)
        let (r, s) = sig.split_scalars();
        let twin = Signature::from_scalars(r, -*s.as_ref()).unwrap();
        check(&mut st, &g, key, &msg, &sig_bytes(&twin));
        // 3. another message
        let mut other = msg.clone();
        let i = rng.below(other.len() as u64) as usize;
        other[i] ^= 1 << rng.below(8);
        check(&mut st, &g, key, &other, &good);
        // 4. another key
        check(&mut st, &g, &keys[(k + 1) % keys.len()], &msg, &good);
        // 5. one flipped bit in r or s
        let mut flipped = good;
        flipped[rng.below(64) as usize] ^= 1 << rng.below(8);
        check(&mut st, &g, key, &msg, &flipped);
        // 6. random r and s
        let mut random = [0u8; 64];
        rng.bytes(&mut random);
        check(&mut st, &g, key, &msg, &random);
        // 7. edge scalars: r or s in {1, 2, n-1, n-2, n, 0}, the other from the valid signature
        // (0 and n are out of range: refused by the shared parser.)
        let edges = [
            { let mut a = [0u8; 32]; a[31] = 1; a },
            { let mut a = [0u8; 32]; a[31] = 2; a },
            n_minus(1),
            n_minus(2),
            n_minus(0),
            [0u8; 32],
        ];
        let mut edge = good;
        let e = edges[rng.below(edges.len() as u64) as usize];
        if rng.below(2) == 0 { edge[..32].copy_from_slice(&e) } else { edge[32..].copy_from_slice(&e) }
        check(&mut st, &g, key, &msg, &edge);
        // 8. r = x(k·G) for a random k: a point-related r with a random s
        let mut kb = [0u8; 32];
        rng.bytes(&mut kb);
        let kk = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(kb));
        let rx = p256::elliptic_curve::point::AffineCoordinates::x(&(ProjectivePoint::GENERATOR * kk).to_affine());
        let mut related = good;
        related[..32].copy_from_slice(&rx);
        check(&mut st, &g, key, &msg, &related);
    }
    let Stats { total, valid, invalid, unparsable } = st;
    eprintln!("fast path vs p256: {total} cases, {valid} valid, {invalid} invalid, {unparsable} unparsable (both refused)");
    assert!(total >= cases);
    assert!(valid >= cases / 5 && invalid >= cases / 3, "both valid and invalid signatures are exercised");
}

#[test]
fn tables_report_their_memory() {
    let g = Table::generator();
    let mut rng = Rng(7);
    let key = &keys(&mut rng, 1)[0];
    eprintln!("generator table {} bytes, key table {} bytes", g.memory(), key.table.memory());
    assert!(g.memory() <= 200 * 1024 && key.table.memory() <= 128 * 1024);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// All Wycheproof ECDSA P-256/SHA-256 P1363 vectors through `verify_es256` with the fast
/// path in use (tables precomputed; asserted), and through the tables directly.
#[test]
fn wycheproof_p1363_vectors_on_the_fast_path() {
    let file = common::load_vector("wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
    let g = Table::generator();
    let (mut count, mut valid) = (0usize, 0usize);
    for group in file["testGroups"].as_array().unwrap() {
        let point = common::hex(group["publicKey"]["uncompressed"].as_str().unwrap());
        let key = PublicKey::from_sec1_bytes(&point, None).unwrap();
        assert!(key.precompute() && key.fast_path_ready());
        let table = Table::new(&ProjectivePoint::from(*key.verifying_key().as_affine()), fastpath::KEY_WINDOW);
        for test in group["tests"].as_array().unwrap() {
            count += 1;
            let msg = common::hex(test["msg"].as_str().unwrap());
            let sig = common::hex(test["sig"].as_str().unwrap());
            let expected = test["result"] == "valid";
            valid += usize::from(expected);
            assert_eq!(verify_es256(&key, &msg, &sig).is_ok(), expected, "tcId {}", test["tcId"]);
            if let Ok(parsed) = Signature::from_slice(&sig) {
                assert_eq!(fastpath::verify_with_tables(&g, &table, &msg, &parsed), expected, "tcId {}", test["tcId"]);
            } else {
                assert!(!expected);
            }
        }
    }
    eprintln!("wycheproof p1363 on the fast path: {count} tests, {valid} valid");
    assert_eq!((count, valid), (262, 173));
}
