//! Fast ES256 verification with precomputed fixed-base tables.
//!
//! ECDSA verification computes `R = u1·G + u2·Q` and compares `x(R) mod n` with `r`. Both
//! bases are fixed per key, so each gets a table of small multiples of `2^(w·i)·P` and the
//! two scalar multiplications become about `256/w` mixed additions each, with no doublings.
//!
//! Everything here is built from `p256`'s public group API (`ProjectivePoint` addition,
//! doubling, mixed addition with `AffinePoint`, `batch_normalize`, `to_affine`, `Scalar`
//! arithmetic); there is no hand-written field arithmetic. The algorithms are variable
//! time: verification only ever handles public data (keys, signatures, messages).
//!
//! The result is differential-tested against `p256`'s own verify (`tests/fastpath.rs`).
//!
//! Tables are built incrementally ([`TableBuilder::step`]) so no single call waits for a
//! full build; with the `precomputed-tables` feature (std or not), [`LazyTable`] shares a
//! table between threads and callers advance it a few rows at a time while the slow path
//! answers.

use alloc::vec::Vec;
use p256::ecdsa::Signature;
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::BatchNormalize;
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};

/// Window width for the generator's table: 37 rows of 64 points (about 2,400 points).
pub const GENERATOR_WINDOW: u32 = 7;
/// Window width for a key's table: 43 rows of 32 points (about 1,400 points).
pub const KEY_WINDOW: u32 = 6;
/// Most rows a lazy table builds during one verification (bounds the extra latency).
pub const ROWS_PER_STEP: usize = 2;

const fn rows_for(w: u32) -> usize {
    // Signed digits in [-2^(w-1), 2^(w-1)): one extra row absorbs the final carry.
    256 / w as usize + 1
}

/// Splits `k` into signed base-2^w digits `d_i` in `[-2^(w-1), 2^(w-1))`, least
/// significant first, with `k = Σ d_i·2^(w·i)`.
fn recode(k: &Scalar, w: u32, out: &mut [i16]) {
    let bytes = k.to_bytes();
    let mut limbs = [0u64; 4];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[32 - 8 * (i + 1)..32 - 8 * i]);
        *limb = u64::from_be_bytes(b);
    }
    let bits = |pos: usize| -> i32 {
        // w bits starting at bit `pos`; bits past 255 are zero.
        let (idx, off) = (pos / 64, pos % 64);
        if idx >= 4 {
            return 0;
        }
        let mut v = limbs[idx] >> off;
        if off + w as usize > 64 && idx + 1 < 4 {
            v |= limbs[idx + 1] << (64 - off);
        }
        (v & ((1u64 << w) - 1)) as i32
    };
    let half = 1i32 << (w - 1);
    let mut carry = 0i32;
    for (i, d) in out.iter_mut().enumerate() {
        let mut v = bits(i * w as usize) + carry;
        carry = 0;
        if v >= half {
            v -= 1 << w;
            carry = 1;
        }
        *d = v as i16;
    }
    debug_assert_eq!(carry, 0, "scalar recoding left a carry");
}

/// A complete fixed-base table for one point: row `i` holds `j·2^(w·i)·P` for
/// `j = 1..=2^(w-1)`, in affine form.
#[derive(Clone)]
pub struct Table {
    w: u32,
    points: Vec<AffinePoint>,
}

impl core::fmt::Debug for Table {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Table").field("w", &self.w).field("points", &self.points.len()).finish()
    }
}

impl Table {
    /// Builds a whole table at once (tests, benchmarks, explicit precomputation).
    pub fn new(point: &ProjectivePoint, w: u32) -> Self {
        let mut b = TableBuilder::new(point, w);
        while !b.step(usize::MAX) {}
        b.finish().expect("table is complete")
    }

    /// The generator's table (window [`GENERATOR_WINDOW`]).
    pub fn generator() -> Self {
        Self::new(&ProjectivePoint::generator(), GENERATOR_WINDOW)
    }

    /// Bytes of memory the table holds.
    pub fn memory(&self) -> usize {
        self.points.len() * core::mem::size_of::<AffinePoint>()
    }

    /// `acc += k·P`, variable time.
    fn add_mul(&self, acc: &mut ProjectivePoint, k: &Scalar) {
        let half = 1usize << (self.w - 1);
        let mut digits = [0i16; rows_for(4)];
        let rows = rows_for(self.w);
        let digits = &mut digits[..rows];
        recode(k, self.w, digits);
        for (i, &d) in digits.iter().enumerate() {
            if d > 0 {
                *acc += &self.points[i * half + (d as usize - 1)];
            } else if d < 0 {
                *acc -= &self.points[i * half + ((-d) as usize - 1)];
            }
        }
    }
}

/// Builds a [`Table`] a few rows at a time.
#[derive(Clone)]
pub struct TableBuilder {
    w: u32,
    /// `2^(w·i)·P` for the next row `i`.
    base: ProjectivePoint,
    points: Vec<AffinePoint>,
}

impl core::fmt::Debug for TableBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TableBuilder").field("w", &self.w).field("points", &self.points.len()).finish()
    }
}

impl TableBuilder {
    /// Starts a table for `point` with window `w` (4..=8).
    pub fn new(point: &ProjectivePoint, w: u32) -> Self {
        assert!((4..=8).contains(&w), "window must be 4..=8");
        TableBuilder { w, base: *point, points: Vec::with_capacity(rows_for(w) << (w - 1)) }
    }

    /// Builds up to `max_rows` more rows; returns `true` once the table is complete.
    pub fn step(&mut self, max_rows: usize) -> bool {
        let half = 1usize << (self.w - 1);
        let total = rows_for(self.w);
        let mut done = self.points.len() / half;
        let todo = max_rows.min(total - done);
        if todo > 0 {
            let mut proj = Vec::with_capacity(todo * half);
            for _ in 0..todo {
                let mut p = self.base;
                proj.push(p);
                for _ in 1..half {
                    p += &self.base;
                    proj.push(p);
                }
                // 2^w·base = 2·(2^(w-1)·base).
                self.base = p.double();
                done += 1;
            }
            let affine: Vec<AffinePoint> = <ProjectivePoint as BatchNormalize<[ProjectivePoint]>>::batch_normalize(&proj);
            self.points.extend_from_slice(&affine);
        }
        done == total
    }

    /// The finished table, or `None` if rows are missing.
    pub fn finish(self) -> Option<Table> {
        let half = 1usize << (self.w - 1);
        (self.points.len() == rows_for(self.w) * half).then_some(Table { w: self.w, points: self.points })
    }
}

/// `u1·G + u2·Q` and the ECDSA check, with both tables. `signature` must already be a
/// parsed (range-checked) P1363 signature; `message` is hashed with SHA-256.
pub fn verify_with_tables(g: &Table, q: &Table, message: &[u8], signature: &Signature) -> bool {
    let hash = Sha256::digest(message);
    verify_prehash_with_tables(g, q, &hash, signature)
}

/// As [`verify_with_tables`], for a SHA-256 digest.
pub fn verify_prehash_with_tables(g: &Table, q: &Table, hash: &[u8], signature: &Signature) -> bool {
    let Ok(hash) = FieldBytes::try_from(hash) else { return false };
    let (r, s) = signature.split_scalars();
    let z = <Scalar as Reduce<FieldBytes>>::reduce(&hash);
    // s is non-zero (the signature type guarantees it), so the inverse exists.
    let s_inv: Option<Scalar> = s.as_ref().invert_vartime().into();
    let Some(s_inv) = s_inv else { return false };
    let u1 = z * s_inv;
    let u2 = *r.as_ref() * s_inv;
    let mut acc = ProjectivePoint::IDENTITY;
    g.add_mul(&mut acc, &u1);
    q.add_mul(&mut acc, &u2);
    // The identity maps to x = 0, never equal to a non-zero r: same as p256's verify.
    let x = acc.to_affine().x();
    <Scalar as Reduce<FieldBytes>>::reduce(&x) == *r.as_ref()
}

#[cfg(feature = "precomputed-tables")]
pub use lazy::{LazyTable, MAX_KEY_TABLES};

#[cfg(feature = "precomputed-tables")]
mod lazy {
    use super::{Table, TableBuilder, ROWS_PER_STEP};
    use crate::sync::{Mutex, Once};
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use p256::ProjectivePoint;

    /// Most key tables alive at once in the process (about 100 KB each); keys beyond
    /// that verify on the slow path.
    pub const MAX_KEY_TABLES: usize = 16;
    static KEY_TABLES: AtomicUsize = AtomicUsize::new(0);

    /// A table built lazily and incrementally, shared between threads: each
    /// [`LazyTable::get_or_step`] that finds it unfinished builds at most
    /// [`ROWS_PER_STEP`] rows (never waiting for another builder) and the caller uses the
    /// slow path meanwhile. The very first call builds nothing, so a cold start (a fresh
    /// isolate's first request) never pays for table rows.
    pub struct LazyTable {
        point: ProjectivePoint,
        w: u32,
        counted: bool,
        requested: AtomicBool,
        ready: Once<Table>,
        building: Mutex<Option<TableBuilder>>,
    }

    impl core::fmt::Debug for LazyTable {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("LazyTable").field("w", &self.w).field("ready", &self.ready.get().is_some()).finish()
        }
    }

    impl LazyTable {
        /// A lazy table for `point` (nothing is computed yet).
        pub const fn new(point: ProjectivePoint, w: u32) -> Self {
            LazyTable {
                point,
                w,
                counted: false,
                requested: AtomicBool::new(false),
                ready: Once::new(),
                building: Mutex::new(None),
            }
        }

        /// A lazy table for a key, or `None` if [`MAX_KEY_TABLES`] are already alive.
        pub fn for_key(point: ProjectivePoint, w: u32) -> Option<Self> {
            let mut n = KEY_TABLES.load(Ordering::Relaxed);
            loop {
                if n >= MAX_KEY_TABLES {
                    return None;
                }
                match KEY_TABLES.compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => break,
                    Err(current) => n = current,
                }
            }
            let mut t = Self::new(point, w);
            t.counted = true;
            Some(t)
        }

        /// The table if complete; otherwise builds up to `ROWS_PER_STEP` rows (if no
        /// other thread is building; nothing on the first call) and returns the table
        /// only if that finished it.
        pub fn get_or_step(&self) -> Option<&Table> {
            if let Some(t) = self.ready.get() {
                return Some(t); // the hot path: no atomic write once the table exists
            }
            if !self.requested.swap(true, Ordering::AcqRel) {
                return None;
            }
            self.get_or_step_rows(ROWS_PER_STEP)
        }

        /// Builds the whole table now (e.g. right after keys are set, off the hot path).
        pub fn precompute(&self) -> &Table {
            loop {
                if let Some(t) = self.get_or_step_rows(usize::MAX) {
                    return t;
                }
                // Another caller is building the rest; wait for it.
                #[cfg(feature = "std")]
                std::thread::yield_now();
                #[cfg(not(feature = "std"))]
                core::hint::spin_loop();
            }
        }

        fn get_or_step_rows(&self, rows: usize) -> Option<&Table> {
            if let Some(t) = self.ready.get() {
                return Some(t);
            }
            let mut guard = self.building.try_lock()?;
            if let Some(t) = self.ready.get() {
                return Some(t);
            }
            let builder = guard.get_or_insert_with(|| TableBuilder::new(&self.point, self.w));
            if builder.step(rows) {
                if let Some(table) = guard.take().and_then(TableBuilder::finish) {
                    self.ready.call_once(|| table);
                }
            }
            self.ready.get()
        }

        /// Whether the table is complete.
        pub fn is_ready(&self) -> bool {
            self.ready.get().is_some()
        }
    }

    impl Drop for LazyTable {
        fn drop(&mut self) {
            if self.counted {
                KEY_TABLES.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// The generator's lazily built table, shared by the whole process.
#[cfg(feature = "precomputed-tables")]
pub static GENERATOR_TABLE: LazyTable = LazyTable::new(ProjectivePoint::GENERATOR, GENERATOR_WINDOW);

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "precomputed-tables")]
    #[test]
    fn lazy_table_builds_nothing_on_first_use_then_a_few_rows_per_call() {
        let lazy = LazyTable::new(ProjectivePoint::GENERATOR.double(), 8);
        // The first call builds nothing: had it built rows, the table would be complete
        // one call earlier than the loop below allows.
        assert!(lazy.get_or_step().is_none());
        let rows = rows_for(8);
        let calls = rows.div_ceil(ROWS_PER_STEP);
        for _ in 1..calls {
            assert!(lazy.get_or_step().is_none());
        }
        let built = lazy.get_or_step().expect("complete after rows / ROWS_PER_STEP more calls");
        assert_eq!(built.points.len(), rows << 7);
        assert!(lazy.is_ready());
    }

    #[test]
    fn recode_round_trips() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        for w in 4..=8 {
            for _ in 0..200 {
                let mut bytes = [0u8; 32];
                for b in bytes.iter_mut() {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *b = seed as u8;
                }
                let k = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(bytes));
                let mut digits = [0i16; rows_for(4)];
                let rows = rows_for(w);
                recode(&k, w, &mut digits[..rows]);
                let mut back = Scalar::ZERO;
                let radix = Scalar::from(1u64 << w);
                for &d in digits[..rows].iter().rev() {
                    back *= radix;
                    back += if d >= 0 { Scalar::from(d as u64) } else { -Scalar::from((-d) as u64) };
                }
                assert_eq!(back, k);
            }
        }
    }
}
