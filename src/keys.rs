//! EC P-256 public keys from JWK / JWK Set (RFC 7517/7518), and selection by `kid`.

use crate::b64;
use crate::error::{err, Error, ErrorCode};
use crate::header::MAX_KID_LEN;
use crate::json::{self, Object};
use alloc::string::String;
use alloc::vec::Vec;
use p256::ecdsa::VerifyingKey;
use serde_json::value::RawValue;

/// Largest JWK Set document accepted, in bytes.
pub const MAX_JWKS_SIZE: usize = 64 * 1024;
/// Most keys in one set.
pub const MAX_KEYS: usize = 64;

/// One ES256 verification key, with its optional `kid`.
#[derive(Clone, Debug)]
pub struct PublicKey {
    kid: Option<String>,
    key: VerifyingKey,
    /// The key's fixed-base table, created on first use (shared by clones of this key;
    /// `None` inside once the process-wide cap on key tables was reached).
    #[cfg(feature = "precomputed-tables")]
    table: alloc::sync::Arc<crate::sync::Once<Option<crate::fastpath::LazyTable>>>,
}

impl PublicKey {
    /// A key from an uncompressed or compressed SEC1 point; refused if not on P-256.
    pub fn from_sec1_bytes(bytes: &[u8], kid: Option<String>) -> Result<Self, Error> {
        let key = VerifyingKey::from_sec1_bytes(bytes)
            .map_err(|_| err(ErrorCode::InvalidKey, "not a valid P-256 public point"))?;
        Ok(PublicKey {
            kid,
            key,
            #[cfg(feature = "precomputed-tables")]
            table: Default::default(),
        })
    }

    /// The key's lazily built fast-path table (`None` when the process already holds
    /// [`crate::fastpath::MAX_KEY_TABLES`] key tables).
    #[cfg(feature = "precomputed-tables")]
    pub(crate) fn table(&self) -> Option<&crate::fastpath::LazyTable> {
        self.table
            .call_once(|| {
                crate::fastpath::LazyTable::for_key(self.key.as_affine().into(), crate::fastpath::KEY_WINDOW)
            })
            .as_ref()
    }

    /// Builds this key's and the generator's fast-path tables now instead of a few rows per
    /// verification (e.g. right after loading keys, off the request path). Returns whether
    /// the fast path is available for this key.
    #[cfg(feature = "precomputed-tables")]
    pub fn precompute(&self) -> bool {
        crate::fastpath::GENERATOR_TABLE.precompute();
        self.table().map(|t| t.precompute()).is_some()
    }

    /// Whether verifications with this key currently use the fast path.
    #[cfg(feature = "precomputed-tables")]
    pub fn fast_path_ready(&self) -> bool {
        crate::fastpath::GENERATOR_TABLE.is_ready()
            && self.table.get().and_then(|t| t.as_ref()).is_some_and(|t| t.is_ready())
    }

    /// Takes `other`'s table if it is the same public point (rotation keeps tables).
    #[cfg(feature = "precomputed-tables")]
    pub(crate) fn adopt_table_from(&mut self, other: &PublicKey) {
        if self.key == other.key {
            self.table = other.table.clone();
        }
    }

    /// Parses one JWK (JSON text). See [`KeySet::from_jwks_json`] for the rules.
    pub fn from_jwk_json(text: &str) -> Result<Self, Error> {
        let obj = Object::parse(text)
            .map_err(|e| err(ErrorCode::InvalidKey, alloc::format!("JWK is not a JSON object: {e}")))?;
        Self::from_jwk(&obj)
    }

    fn from_jwk(obj: &Object<'_>) -> Result<Self, Error> {
        let string = |name: &str| -> Result<Option<String>, Error> {
            match obj.get(name) {
                None => Ok(None),
                Some(raw) => json::as_string(raw)
                    .map(Some)
                    .ok_or_else(|| err(ErrorCode::InvalidKey, alloc::format!("JWK {name} is not a string"))),
            }
        };
        let required = |name: &str| -> Result<String, Error> {
            string(name)?.ok_or_else(|| err(ErrorCode::InvalidKey, alloc::format!("JWK has no {name}")))
        };
        if required("kty")? != "EC" {
            return Err(err(ErrorCode::InvalidKey, "JWK kty must be \"EC\""));
        }
        if required("crv")? != "P-256" {
            return Err(err(ErrorCode::InvalidKey, "JWK crv must be \"P-256\""));
        }
        if obj.get("d").is_some() {
            return Err(err(ErrorCode::InvalidKey, "JWK contains a private key (d); publish public keys only"));
        }
        if let Some(use_) = string("use")? {
            if use_ != "sig" {
                return Err(err(ErrorCode::InvalidKey, alloc::format!("JWK use {use_:?} is not \"sig\"")));
            }
        }
        if let Some(raw) = obj.get("key_ops") {
            let ops = json::as_string_array(raw)
                .ok_or_else(|| err(ErrorCode::InvalidKey, "JWK key_ops is not an array of strings"))?;
            if !ops.iter().any(|op| op == "verify") {
                return Err(err(ErrorCode::InvalidKey, "JWK key_ops does not include \"verify\""));
            }
        }
        if let Some(alg) = string("alg")? {
            if alg != "ES256" {
                return Err(err(ErrorCode::InvalidKey, alloc::format!("JWK alg {alg:?} is not \"ES256\"")));
            }
        }
        let kid = string("kid")?;
        if kid.as_ref().is_some_and(|k| k.len() > MAX_KID_LEN) {
            return Err(err(ErrorCode::InvalidKey, "JWK kid is too long"));
        }
        let coordinate = |name: &str| -> Result<Vec<u8>, Error> {
            let bytes = b64::decode(&required(name)?).ok_or_else(|| {
                err(ErrorCode::InvalidKey, alloc::format!("JWK {name} is not canonical base64url"))
            })?;
            if bytes.len() != 32 {
                return Err(err(ErrorCode::InvalidKey, alloc::format!("JWK {name} must be 32 bytes")));
            }
            Ok(bytes)
        };
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend_from_slice(&coordinate("x")?);
        sec1.extend_from_slice(&coordinate("y")?);
        Self::from_sec1_bytes(&sec1, kid)
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The underlying `p256` verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// The keys a verifier trusts. Replace the whole set to rotate keys.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<PublicKey>,
}

impl KeySet {
    /// Builds a set from keys, refusing an empty set, too many keys and duplicate `kid`s.
    pub fn new(keys: Vec<PublicKey>) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(err(ErrorCode::InvalidKey, "key set is empty"));
        }
        if keys.len() > MAX_KEYS {
            return Err(err(ErrorCode::InvalidKey, alloc::format!("key set has more than {MAX_KEYS} keys")));
        }
        for (i, a) in keys.iter().enumerate() {
            if let Some(kid) = a.kid() {
                if keys[..i].iter().any(|b| b.kid() == Some(kid)) {
                    return Err(err(ErrorCode::InvalidKey, alloc::format!("duplicate kid {kid:?} in key set")));
                }
            }
        }
        Ok(KeySet { keys })
    }

    /// Parses a JWK Set (`{"keys":[...]}`) or a single JWK.
    ///
    /// Every key must be an EC P-256 public key: `kty` "EC", `crv` "P-256", `x`/`y` of 32
    /// bytes forming a point on the curve, no private `d`, `use` (if present) "sig",
    /// `key_ops` (if present) including "verify", `alg` (if present) "ES256", `kid` (if
    /// present) unique. One bad key refuses the whole set: a key set that silently drops
    /// entries hides misconfiguration.
    pub fn from_jwks_json(text: &str) -> Result<Self, Error> {
        if text.len() > MAX_JWKS_SIZE {
            return Err(err(ErrorCode::TooLarge, alloc::format!("JWK Set exceeds {MAX_JWKS_SIZE} bytes")));
        }
        let obj = Object::parse(text)
            .map_err(|e| err(ErrorCode::InvalidKey, alloc::format!("JWK Set is not a JSON object: {e}")))?;
        let Some(raw_keys) = obj.get("keys") else {
            // A bare JWK is accepted as a one-key set.
            return Self::new(alloc::vec![PublicKey::from_jwk(&obj)?]);
        };
        let items: Vec<&RawValue> = json::as_array(raw_keys)
            .ok_or_else(|| err(ErrorCode::InvalidKey, "JWK Set keys is not an array"))?;
        if items.len() > MAX_KEYS {
            return Err(err(ErrorCode::InvalidKey, alloc::format!("key set has more than {MAX_KEYS} keys")));
        }
        let mut keys = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let key = Object::parse(item.get())
                .map_err(|e| alloc::format!("not a JSON object: {e}"))
                .map_err(|e| err(ErrorCode::InvalidKey, e))
                .and_then(|o| PublicKey::from_jwk(&o))
                .map_err(|e| err(ErrorCode::InvalidKey, alloc::format!("key {i}: {}", e.detail())))?;
            keys.push(key);
        }
        Self::new(keys)
    }

    /// Chooses the key for a token: by `kid`, or the only key when the token has none.
    pub fn select(&self, kid: Option<&str>) -> Result<&PublicKey, Error> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid() == Some(kid))
                .ok_or_else(|| err(ErrorCode::KeyNotFound, "no key matches the token's kid")),
            None if self.keys.len() == 1 => Ok(&self.keys[0]),
            None => Err(err(ErrorCode::KeyNotFound, "token has no kid and the key set has several keys")),
        }
    }

    /// Gives each key the fast-path table of the same point in `old` (rotation keeps tables).
    #[cfg(feature = "precomputed-tables")]
    pub(crate) fn adopt_tables_from(&mut self, old: &KeySet) {
        for key in &mut self.keys {
            if let Some(prev) = old.keys.iter().find(|k| k.key == key.key) {
                key.adopt_table_from(prev);
            }
        }
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Whether `kid` selects the very key `key` in this set (same `kid` rule as
    /// [`KeySet::select`], same public point): what a verification or a filter signed by
    /// `key` still needs after the keys change.
    pub fn still_trusts(&self, kid: Option<&str>, key: &VerifyingKey) -> bool {
        self.select(kid).is_ok_and(|k| k.key == *key)
    }
}
