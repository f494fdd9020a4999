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
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod b64;
#[cfg(feature = "std")]
pub mod cache;
pub mod claims;
mod error;
pub mod fastpath;
pub mod header;
mod json;
pub mod keys;
mod policy;
pub mod revocation;
pub mod signature;
mod time;
pub mod token;
mod verifier;
#[cfg(feature = "wasm-glue")]
mod wasm;

pub use claims::Claims;
pub use error::{Error, ErrorCode};
pub use keys::{KeySet, PublicKey};
pub use policy::{Policy, DEFAULT_MAX_TOKEN_SIZE};
pub use time::UnixTime;
pub use verifier::Verifier;
