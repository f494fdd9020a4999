//! `buildRevocationFilter` for JS origins (its own wasm module: edges never load it).

use super::{coded_error, now_or_clock, string_array, whole_seconds, OptionReader};
use crate::error::ErrorCode;
use crate::sign::FilterSpec;
use crate::time::UnixTime;
use alloc::string::String;
use alloc::vec::Vec;
use js_sys::{Array, Object, JSON};
use wasm_bindgen::prelude::*;

/// Builds a signed revocation filter for Node origins:
/// `buildRevocationFilter({ issuer, key, sequence, builtAt, ttl, window?, sids?, jtis?,
/// users?, notBefore?, falsePositiveRate? })` returns a `Uint8Array`. `key` is a private
/// EC P-256 JWK with a `kid`. Throws an `EdgetokenError` with a `code` on bad input.
#[wasm_bindgen(js_name = buildRevocationFilter)]
pub fn build_revocation_filter(options: JsValue) -> Result<js_sys::Uint8Array, JsValue> {
    let fail = |msg: String| coded_error(&crate::Error::new(ErrorCode::InvalidConfig, msg));
    if !options.is_object() {
        return Err(fail("buildRevocationFilter expects an options object".into()));
    }
    let o = OptionReader(options.unchecked_ref());
    let names = [
        "issuer", "key", "sequence", "builtAt", "ttl", "window", "sids", "jtis", "users", "notBefore",
        "falsePositiveRate",
    ];
    o.reject_unknown_in(&names)?;
    let issuer = o.string("issuer")?.ok_or_else(|| fail("issuer is required".into()))?;
    let key_value = o.get("key").ok_or_else(|| fail("key (a private EC P-256 JWK with kid) is required".into()))?;
    let key_text = if let Some(s) = key_value.as_string() {
        s
    } else {
        JSON::stringify(&key_value).ok().and_then(|s| s.as_string()).ok_or_else(|| fail("key must be a JWK".into()))?
    };
    let (key, kid) = crate::sign::signing_key_from_jwk(&key_text).map_err(|e| coded_error(&e))?;
    let seconds = |name: &str| -> Result<Option<u64>, JsValue> {
        match o.get(name) {
            None => Ok(None),
            Some(v) => match v.as_f64().and_then(whole_seconds) {
                Some(n) => Ok(Some(n)),
                None => Err(fail(alloc::format!("{name} must be a non-negative integer"))),
            },
        }
    };
    let sequence = seconds("sequence")?.ok_or_else(|| fail("sequence is required".into()))?;
    let built_at = seconds("builtAt")?.map_or_else(|| now_or_clock(&JsValue::UNDEFINED), |s| Ok(UnixTime::from_secs(s)))?;
    let ttl = seconds("ttl")?.ok_or_else(|| fail("ttl (seconds of freshness) is required".into()))?;
    // Default: the default verifier's max token lifetime + 2 × its clock tolerance (a
    // filter's window must cover at least lifetime + tolerance; the second tolerance
    // absorbs the edge's clock being behind the origin's).
    let window = seconds("window")?.unwrap_or(960);
    let mut spec = FilterSpec::new(issuer, sequence, built_at, ttl, u32::try_from(window).map_err(|_| fail("window is too large".into()))?);
    let list = |name: &str| -> Result<Vec<String>, JsValue> {
        match o.get(name) {
            None => Ok(Vec::new()),
            Some(v) => string_array(&v).ok_or_else(|| fail(alloc::format!("{name} must be an array of strings"))),
        }
    };
    spec.sids = list("sids")?;
    spec.jtis = list("jtis")?;
    if let Some(users) = o.get("users") {
        if !users.is_object() || Array::is_array(&users) {
            return Err(fail("users must be an object { sub: notBefore }".into()));
        }
        for entry in Object::entries(users.unchecked_ref()).iter() {
            let entry: Array = entry.unchecked_into();
            let sub = entry.get(0).as_string().unwrap_or_default();
            let nb = entry
                .get(1)
                .as_f64()
                .and_then(whole_seconds)
                .ok_or_else(|| fail(alloc::format!("users[{sub:?}] must be a non-negative integer")))?;
            spec.users.push((sub, nb));
        }
    }
    spec.global_not_before = seconds("notBefore")?;
    if let Some(p) = o.get("falsePositiveRate") {
        spec.false_positive_rate = p.as_f64().ok_or_else(|| fail("falsePositiveRate must be a number".into()))?;
    }
    let mut salt = [0u8; crate::revocation::SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| fail("no secure random source for the salt".into()))?;
    let bytes = spec.build(&key, &kid, salt).map_err(|e| coded_error(&e))?;
    Ok(js_sys::Uint8Array::from(bytes.as_slice()))
}
