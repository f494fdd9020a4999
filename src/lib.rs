//! edgetoken: verify ES256 (P-256) access tokens at the edge.
//!
//! The core is `#![no_std]` + `alloc`. Verification never reads a clock: the caller
//! passes `now` ([`UnixTime`]), as rustls-webpki does. Every failure maps to one stable
//! [`ErrorCode`], and no input makes the verifier panic.
//!
//! ```
//! use edgetoken::{Policy, KeySet, Verifier, UnixTime};
//! let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
//!   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
//!   "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
//! let keys = KeySet::from_jwks_json(jwks).unwrap();
//! let policy = Policy::new("https://auth.example.com", ["https://app.example.com"]);
//! let verifier = Verifier::new(policy, keys).unwrap();
//! let err = verifier.verify("not.a.token", UnixTime::from_secs(1_700_000_000)).unwrap_err();
//! assert_eq!(err.code().as_str(), "malformed");
//! ```
//!
//! ## Trust state
//!
//! What a verifier trusts — the keys, the revocation filter checked against them, and the
//! revocation policy — is one immutable [`TrustState`], replaced whole through
//! [`Verifier::update_trust`] (or the [`Verifier::set_keys`] / [`Verifier::set_revocations`]
//! shorthands). See [`trust`].
//!
//! ## Features
//!
//! Features name capabilities; the verifier itself needs none (`no_std` + `alloc`).
//!
//! | feature | default | what it gives |
//! |---|---|---|
//! | `std` | yes | only std: `std::error::Error` for [`Error`], and std's OS-backed locks (without it, `spin` locks) |
//! | `cache` | yes | the verified-token cache ([`cache`]): a repeat of an accepted token skips decoding and the signature |
//! | `precomputed-tables` | yes | the ES256 fast path: each key's and the generator's fixed-base tables, built lazily a few rows per verification ([`fastpath`]) |
//! | `sign` | no | issuer-side code ([`sign`]): mint tokens, build and sign revocation filters, private JWKs, public JWK, RFC 7638 thumbprint |
//! | `wasm`, `wasm-builder` | no | the wasm-bindgen surfaces that `pkg/` is built from |
//!
//! `cache` and `precomputed-tables` work without `std` (on `spin` locks and once-cells), so
//! a `no_std` build with them is as fast as a std one; `--no-default-features` alone gives
//! the plain verifier (`p256`'s own verify, no cache).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod b64;
#[cfg(feature = "cache")]
pub mod cache;
pub mod claims;
mod error;
pub mod fastpath;
pub mod header;
mod json;
pub mod keys;
mod policy;
pub mod revocation;
#[cfg(feature = "sign")]
pub mod sign;
pub mod signature;
mod sync;
mod time;
pub mod token;
pub mod trust;
mod verifier;
#[cfg(feature = "wasm-glue")]
mod wasm;

pub use claims::Claims;
pub use error::{Error, ErrorCode};
pub use keys::{KeySet, PublicKey};
pub use policy::{Policy, DEFAULT_MAX_TOKEN_SIZE};
pub use time::UnixTime;
pub use trust::{RevocationOptions, RevocationRequirement, TrustState};
pub use verifier::Verifier;
