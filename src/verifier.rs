//! The one entry point: composes token, header, keys, signature and claims.

use crate::claims::{self, Claims};
use crate::error::Error;
use crate::header;
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::signature;
use crate::time::UnixTime;
use crate::token;
use alloc::vec::Vec;

/// Verifies ES256 access tokens against a [`Policy`] and a [`KeySet`].
#[derive(Clone, Debug)]
pub struct Verifier {
    policy: Policy,
    keys: KeySet,
}

impl Verifier {
    /// A verifier; refuses an invalid policy with [`crate::ErrorCode::InvalidConfig`].
    pub fn new(policy: Policy, keys: KeySet) -> Result<Self, Error> {
        policy.validate()?;
        Ok(Verifier { policy, keys })
    }

    /// Replaces the key set (key rotation).
    pub fn set_keys(&mut self, keys: KeySet) {
        self.keys = keys;
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The keys in force.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Verifies `token` at time `now` and returns its claims.
    ///
    /// Steps, cheapest and most decisive first: size limit and decoding, header policy
    /// (alg allowlist before anything else), key selection, signature, claims.
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<Claims, Error> {
        let payload = self.verify_signature(token)?;
        claims::check(payload, &self.policy, now)
    }

    /// Steps 1–4 only (no claims policy): returns the signed payload bytes.
    ///
    /// For non-JWT JWS payloads and test vectors. Access tokens must go through
    /// [`Verifier::verify`], which also checks issuer, audience and time.
    pub fn verify_signature(&self, token: &str) -> Result<Vec<u8>, Error> {
        let jws = token::decode(token, self.policy.max_token_size)?;
        let header = header::check(&jws.header, &self.policy.algorithms, self.policy.typ.as_deref())?;
        let key = self.keys.select(header.kid.as_deref())?;
        signature::verify_es256(key, jws.signing_input.as_bytes(), &jws.signature)?;
        Ok(jws.payload)
    }
}
