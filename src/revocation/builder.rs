//! Building and signing a revocation artifact (std feature; used by origins).

use super::bloom::{dimensions, insert, Kind, SALT_LEN};
use super::format::{encode_signed, Fields};
use crate::b64;
use crate::error::{err, Error, ErrorCode};
use crate::json::{self, Object};
use crate::time::UnixTime;
use alloc::string::String;
use alloc::vec::Vec;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};

/// Default target false-positive rate: 2^-16.
pub const DEFAULT_FALSE_POSITIVE_RATE: f64 = 1.0 / 65536.0;
/// Smallest false-positive rate a builder accepts (2^-32).
pub const MIN_FALSE_POSITIVE_RATE: f64 = 1.0 / 4_294_967_296.0;

/// Everything that goes into one artifact.
#[derive(Clone, Debug)]
pub struct FilterSpec {
    /// The issuer (`iss`) whose tokens the filter covers.
    pub issuer: String,
    /// Monotonically increasing per issuer; edges refuse a lower one (rollback).
    pub sequence: u64,
    /// Build time.
    pub built_at: UnixTime,
    /// Seconds after `built_at` during which the filter is fresh.
    pub ttl: u64,
    /// The window the entries cover (max token lifetime + clock tolerance), in seconds.
    pub window: u32,
    /// Revoked session ids within the window.
    pub sids: Vec<String>,
    /// Revoked token ids within the window.
    pub jtis: Vec<String>,
    /// Per-user cut-offs: `(sub, not_before)`; tokens of `sub` with `iat < not_before` are revoked.
    pub users: Vec<(String, u64)>,
    /// Global cut-off: every token with `iat < not_before` is revoked.
    pub global_not_before: Option<u64>,
    /// Target false-positive rate for sid/jti lookups.
    pub false_positive_rate: f64,
}

impl FilterSpec {
    /// A spec with no entries and the default false-positive rate.
    pub fn new(issuer: impl Into<String>, sequence: u64, built_at: UnixTime, ttl: u64, window: u32) -> Self {
        FilterSpec {
            issuer: issuer.into(),
            sequence,
            built_at,
            ttl,
            window,
            sids: Vec::new(),
            jtis: Vec::new(),
            users: Vec::new(),
            global_not_before: None,
            false_positive_rate: DEFAULT_FALSE_POSITIVE_RATE,
        }
    }

    /// Builds and signs the artifact with `key` (published under `kid`), using `salt`,
    /// which must be fresh and random for every build.
    pub fn build(&self, key: &SigningKey, kid: &str, salt: [u8; SALT_LEN]) -> Result<Vec<u8>, Error> {
        let bad = |m: &str| err(ErrorCode::InvalidConfig, m);
        if self.issuer.is_empty() {
            return Err(bad("issuer must not be empty"));
        }
        if kid.is_empty() {
            return Err(bad("kid must not be empty"));
        }
        let p = self.false_positive_rate;
        if !(MIN_FALSE_POSITIVE_RATE..=0.5).contains(&p) {
            return Err(bad("falsePositiveRate must be between 2^-32 and 0.5"));
        }
        if self.ttl == 0 {
            return Err(bad("ttl must be at least 1 second"));
        }
        let entries = self.sids.len() + self.jtis.len();
        let entries32 = u32::try_from(entries).map_err(|_| bad("too many entries"))?;
        let (bytes, hashes) = dimensions(entries, p);
        let mut bits = alloc::vec![0u8; bytes];
        for sid in &self.sids {
            insert(&mut bits, &salt, hashes, Kind::Session, sid.as_bytes());
        }
        for jti in &self.jtis {
            insert(&mut bits, &salt, hashes, Kind::Token, jti.as_bytes());
        }
        // Canonical order; for duplicate users the latest cut-off wins.
        let mut users = self.users.clone();
        users.sort();
        users.reverse();
        users.dedup_by(|a, b| a.0 == b.0);
        users.reverse();
        let built_at = self.built_at.as_secs();
        let fields = Fields {
            kid: kid.into(),
            issuer: self.issuer.clone(),
            sequence: self.sequence,
            built_at,
            not_after: built_at.checked_add(self.ttl).ok_or_else(|| bad("ttl overflows"))?,
            window: self.window,
            entries: entries32,
            hashes,
            salt,
            bits,
            users,
            global_not_before: self.global_not_before.filter(|nb| *nb != 0),
        };
        let mut out = encode_signed(&fields)?;
        let sig: Signature = key.sign(&out);
        out.extend_from_slice(&sig.to_bytes());
        Ok(out)
    }
}

/// Reads a private EC P-256 JWK (`kty` EC, `crv` P-256, `d`, `x`, `y`, `kid`) and checks
/// that `d` matches the public point. Returns the key and its kid.
pub fn signing_key_from_jwk(text: &str) -> Result<(SigningKey, String), Error> {
    let bad = |m: &str| err(ErrorCode::InvalidKey, m);
    let obj = Object::parse(text).map_err(|_| bad("private JWK is not a JSON object"))?;
    let field = |name: &str| obj.get(name).and_then(json::as_string);
    if field("kty").as_deref() != Some("EC") || field("crv").as_deref() != Some("P-256") {
        return Err(bad("private JWK must have kty \"EC\" and crv \"P-256\""));
    }
    let kid = field("kid").filter(|k| !k.is_empty()).ok_or_else(|| bad("private JWK needs a kid"))?;
    let d = field("d").and_then(|d| b64::decode(&d)).filter(|d| d.len() == 32);
    let d = d.ok_or_else(|| bad("private JWK d must be 32 bytes of base64url"))?;
    let key = SigningKey::from_slice(&d).map_err(|_| bad("private JWK d is not a valid P-256 scalar"))?;
    let point = key.verifying_key().to_sec1_point(false);
    let (x, y) = (field("x").and_then(|x| b64::decode(&x)), field("y").and_then(|y| b64::decode(&y)));
    let matches = matches!((x, y), (Some(x), Some(y))
        if point.x().map(|px| px.as_slice() == x.as_slice()).unwrap_or(false)
        && point.y().map(|py| py.as_slice() == y.as_slice()).unwrap_or(false));
    if !matches {
        return Err(bad("private JWK x/y do not match d"));
    }
    Ok((key, kid))
}
