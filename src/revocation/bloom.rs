//! A salted Bloom filter over session ids and token ids.
//!
//! Positions come from one SHA-256 per lookup (Kirsch–Mitzenmacher double hashing:
//! `h1 + i·h2 mod m`). The salt is fresh per build, so an attacker who learns one filter
//! cannot precompute ids that collide in the next.

use sha2::{Digest, Sha256};

/// Length of the per-build salt.
pub const SALT_LEN: usize = 16;
/// Most hash functions a filter may declare.
pub const MAX_HASHES: u8 = 32;

/// What an entry identifies; domain-separates sids from jtis with the same text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A session id (`sid` claim): revokes all its access tokens.
    Session = 1,
    /// A token id (`jti` claim): revokes one access token.
    Token = 2,
}

/// Borrowed view of a filter's bits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BloomRef<'a> {
    pub hashes: u8,
    pub salt: &'a [u8; SALT_LEN],
    pub bits: &'a [u8],
}

/// The `hashes` bit positions of `(kind, id)` in a filter of `m` bits.
///
/// Each position is an independent 32-bit word of SHA-256 in counter mode
/// (`SHA-256(salt ‖ kind ‖ block ‖ id)`, 8 words per block). Double hashing (`h1 + i·h2`)
/// was cheaper but gave structured positions in small filters (many hashes over few bits),
/// with false-positive rates far above target.
fn positions(salt: &[u8; SALT_LEN], hashes: u8, m: u64, kind: Kind, id: &[u8]) -> impl Iterator<Item = u64> {
    let mut words = [0u32; MAX_HASHES as usize];
    let count = usize::from(hashes.min(MAX_HASHES));
    for (block, chunk) in words[..count].chunks_mut(8).enumerate() {
        let mut h = Sha256::new();
        h.update(salt);
        h.update([kind as u8, block as u8]);
        h.update(id);
        let d = h.finalize();
        for (i, w) in chunk.iter_mut().enumerate() {
            *w = u32::from_be_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]);
        }
    }
    (0..count).map(move |i| u64::from(words[i]) % m)
}

impl BloomRef<'_> {
    /// True if `(kind, id)` may be in the set; false means certainly not.
    pub fn contains(&self, kind: Kind, id: &[u8]) -> bool {
        let m = self.bits.len() as u64 * 8;
        if m == 0 {
            return false;
        }
        positions(self.salt, self.hashes, m, kind, id)
            .all(|p| self.bits[(p / 8) as usize] & (1 << (p % 8)) != 0)
    }
}

/// Sets the bits of `(kind, id)`.
#[cfg(feature = "sign")]
pub(crate) fn insert(bits: &mut [u8], salt: &[u8; SALT_LEN], hashes: u8, kind: Kind, id: &[u8]) {
    let m = bits.len() as u64 * 8;
    if m == 0 {
        return;
    }
    for p in positions(salt, hashes, m, kind, id) {
        bits[(p / 8) as usize] |= 1 << (p % 8);
    }
}

/// Size for `n` entries at false-positive rate `p`: (bytes, hash count).
///
/// m = n·ln(1/p')/ln²2 bits and k = round((m/n)·ln 2) hashes (Bloom 1970; Broder &
/// Mitzenmacher), with p' = 0.75·p: sized exactly at p, half of all builds would measure
/// above target by chance; the margin costs ~0.4 bits per entry. k is capped at
/// ceil(log2(1/p')): tiny filters (rounded up to 64 bits) need no more hashes than that.
/// (`libm` for the float functions: core has none, and this must build without std.)
#[cfg(feature = "sign")]
pub fn dimensions(n: usize, p: f64) -> (usize, u8) {
    use libm::{ceil, log, log2, round};
    let ln2 = core::f64::consts::LN_2;
    let n = n.max(1) as f64;
    let bits = ceil(n * log(1.0 / (0.75 * p)) / (ln2 * ln2));
    let bytes = (ceil(bits / 8.0) as usize).max(8);
    let k_cap = ceil(log2(1.0 / (0.75 * p)));
    let k = round((bytes as f64 * 8.0 / n) * ln2).min(k_cap).clamp(1.0, f64::from(MAX_HASHES)) as u8;
    (bytes, k)
}
