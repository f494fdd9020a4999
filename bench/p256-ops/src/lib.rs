//! One loop per operation, each run `n` times on public data; the caller times them.
//! Exported with a C ABI so the same code runs as wasm (no imports, no bindgen).
use core::hint::black_box;
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::hazmat::FieldArithmetic;
use p256::elliptic_curve::ops::Reduce;
use p256::{AffinePoint, FieldBytes, NistP256, ProjectivePoint, Scalar};

type FieldElement = <NistP256 as FieldArithmetic>::FieldElement;

fn point() -> ProjectivePoint {
    ProjectivePoint::generator().double() + ProjectivePoint::generator()
}

/// `ProjectivePoint += AffinePoint` (the fast path's only operation per table lookup).
#[no_mangle]
pub extern "C" fn mixed_add(n: u32) {
    let q: AffinePoint = point().to_affine();
    let mut acc = point().double();
    for _ in 0..n {
        acc = black_box(acc) + &q;
    }
    black_box(acc);
}

/// `ProjectivePoint::double`.
#[no_mangle]
pub extern "C" fn double(n: u32) {
    let mut acc = point();
    for _ in 0..n {
        acc = black_box(acc).double();
    }
    black_box(acc);
}

/// `ProjectivePoint::to_affine` (one field inversion and two multiplications).
#[no_mangle]
pub extern "C" fn to_affine(n: u32) {
    let p = point();
    for _ in 0..n {
        black_box(black_box(p).to_affine());
    }
}

/// `Scalar::invert_vartime` (s^-1 mod n, once per verification).
#[no_mangle]
pub extern "C" fn scalar_invert(n: u32) {
    let s = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from([7u8; 32]));
    for _ in 0..n {
        black_box(black_box(s).invert_vartime());
    }
}

/// Field multiplication (the unit every point operation is made of).
#[no_mangle]
pub extern "C" fn field_mul(n: u32) {
    let b = FieldElement::from(5u64);
    let mut a = b + b;
    for _ in 0..n {
        a = black_box(a) * b;
    }
    black_box(a);
}

/// Every operation with the number of runs that gives a stable per-op figure.
pub const OPS: [(&str, extern "C" fn(u32), u32); 5] = [
    ("mixed_add", mixed_add, 50_000),
    ("double", double, 50_000),
    ("to_affine", to_affine, 2_000),
    ("scalar_invert", scalar_invert, 5_000),
    ("field_mul", field_mul, 500_000),
];
