//! edgetoken origin: the session authority that issues, rotates and revokes the ES256
//! access tokens that `edgetoken` verifies at the edge.
//!
//! Module map: [`config`], [`clock`], [`store`] (trait, SQLite, migrations), [`sessions`]
//! (policy), [`tokens`] (minting), [`keys`], [`revocations`] (window and filter),
//! [`cleanup`], [`throttle`], [`passwords`], [`http`] (routes), [`app`] (shared state).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Lets the unit tests that need the test-only hooks reuse the integration-test harness
// (`tests/common`), which names this crate by its package name.
#[cfg(test)]
extern crate self as edgetoken_origin;

pub mod app;
pub mod cleanup;
pub mod clock;
pub mod config;
pub mod http;
pub mod identifiers;
pub mod keys;
pub mod passwords;
pub mod revocations;
pub mod sessions;
pub mod store;
pub mod throttle;
pub mod tokens;

#[cfg(test)]
mod grant_races;
