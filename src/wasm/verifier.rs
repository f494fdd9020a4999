//! `Verifier` for JS: options in, `{ ok, claims }` / `{ ok, code, message }` out.

use super::{coded_error, config_error, now_or_clock, set, string_array, whole_seconds, OptionReader};
use crate::error::ErrorCode;
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::revocation::RevocationStatus;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Object, JSON};
use wasm_bindgen::prelude::*;

/// The option names the constructor accepts; anything else (a typo) is refused.
const OPTION_NAMES: [&str; 13] = [
    "issuer", "audience", "jwks", "typ", "algorithms", "clockTolerance", "maxTokenLifetime",
    "requiredClaims", "maxTokenSize", "revocation", "revocations", "revocationUrl", "cache",
];

impl OptionReader<'_> {
    /// A string or an array of strings.
    fn strings(&self, name: &str) -> Result<Option<Vec<String>>, JsError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        if let Some(s) = v.as_string() {
            return Ok(Some(alloc::vec![s]));
        }
        string_array(&v)
            .map(Some)
            .ok_or_else(|| config_error(alloc::format!("{name} must be a string or an array of strings")))
    }

    fn integer(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, JsError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        match v.as_f64() {
            Some(n) if n.fract() == 0.0 && n >= f64::from(min) && n <= f64::from(max) => Ok(Some(n as u32)),
            _ => Err(config_error(alloc::format!("{name} must be an integer from {min} to {max}"))),
        }
    }
}

fn key_set(jwks: &JsValue) -> Result<KeySet, JsError> {
    let text = if let Some(s) = jwks.as_string() {
        s
    } else if jwks.is_object() {
        JSON::stringify(jwks)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| config_error("jwks could not be serialized"))?
    } else {
        return Err(config_error("jwks must be a JWK Set object or its JSON text"));
    };
    KeySet::from_jwks_json(&text).map_err(|e| JsError::new(&alloc::format!("edgetoken: {e}")))
}

/// `cache`: `true`/absent (defaults), `false` (off), or `{ maxEntries?, maxBytes? }`.
fn cache_limits(value: Option<JsValue>) -> Result<crate::cache::CacheLimits, JsError> {
    use crate::cache::CacheLimits;
    let Some(v) = value else { return Ok(CacheLimits::default()) };
    if let Some(on) = v.as_bool() {
        return Ok(if on { CacheLimits::default() } else { CacheLimits::DISABLED });
    }
    if !v.is_object() || js_sys::Array::is_array(&v) {
        return Err(config_error("cache must be true, false or { maxEntries, maxBytes }"));
    }
    let o = OptionReader(v.unchecked_ref());
    o.reject_unknown_in(&["maxEntries", "maxBytes"])?;
    let mut limits = CacheLimits::default();
    if let Some(n) = o.integer("maxEntries", 0, 1 << 20)? {
        limits.max_entries = n as usize;
    }
    if let Some(n) = o.integer("maxBytes", 0, 1 << 30)? {
        limits.max_bytes = n as usize;
    }
    Ok(limits)
}

fn failure(code: ErrorCode, message: &str) -> JsValue {
    let obj = Object::new();
    set(&obj, "ok", &JsValue::FALSE);
    set(&obj, "code", &JsValue::from_str(code.as_str()));
    set(&obj, "message", &JsValue::from_str(message));
    obj.into()
}

/// Verifies ES256 access tokens (JS: `new Verifier(options)`).
#[wasm_bindgen(js_name = Verifier)]
pub struct WasmVerifier {
    inner: crate::Verifier,
    revocation_url: Option<String>,
}

#[wasm_bindgen(js_class = Verifier)]
impl WasmVerifier {
    /// Builds a verifier; throws an `Error` with a clear message for a bad configuration.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<WasmVerifier, JsError> {
        if !options.is_object() {
            return Err(config_error("expected an options object"));
        }
        let o = OptionReader(options.unchecked_ref());
        o.reject_unknown_in(&OPTION_NAMES)?;
        let issuer = o.string("issuer")?.ok_or_else(|| config_error("issuer is required"))?;
        let audience = o.strings("audience")?.ok_or_else(|| config_error("audience is required"))?;
        let jwks = o.get("jwks").ok_or_else(|| config_error("jwks is required"))?;
        let keys = key_set(&jwks)?;
        let mut policy = Policy::new(issuer, audience);
        match o.get("typ") {
            None => {}
            Some(v) if v.is_null() => policy = policy.with_typ(None),
            Some(_) => policy = policy.with_typ(o.strings("typ")?),
        }
        if let Some(a) = o.strings("algorithms")? {
            policy = policy.with_algorithms(a);
        }
        if let Some(t) = o.integer("clockTolerance", 0, 300)? {
            policy = policy.with_clock_tolerance(t.into());
        }
        if let Some(l) = o.integer("maxTokenLifetime", 1, u32::MAX)? {
            policy = policy.with_max_token_lifetime(l.into());
        }
        if let Some(r) = o.strings("requiredClaims")? {
            policy = policy.with_required_claims(r);
        }
        if let Some(s) = o.integer("maxTokenSize", 64, 65536)? {
            policy = policy.with_max_token_size(s as usize);
        }
        let mut inner = crate::Verifier::new(policy, keys).map_err(|e| config_error(e.detail()))?;
        inner.set_cache_limits(cache_limits(o.get("cache"))?);
        let revocation_url = o.string("revocationUrl")?;
        let initial = o.get("revocations");
        // Revocation checking is required by default as soon as a filter or its URL is
        // configured: a verifier told about revocations must never silently skip them.
        let required = match o.string("revocation")?.as_deref() {
            None => revocation_url.is_some() || initial.is_some(),
            Some("required") => true,
            Some("off") => false,
            Some(other) => return Err(config_error(alloc::format!("revocation must be \"required\" or \"off\", not {other:?}"))),
        };
        inner.set_revocation_required(required);
        if let Some(bytes) = initial {
            let bytes = bytes_of(&bytes).ok_or_else(|| config_error("revocations must be a Uint8Array"))?;
            inner
                .set_revocations(&bytes, now_or_clock(None)?)
                .map_err(|e| config_error(alloc::format!("revocations refused: {e}")))?;
        }
        Ok(WasmVerifier { inner, revocation_url })
    }

    /// Verifies `token` at `now` (seconds; default: the host clock).
    ///
    /// Returns `{ ok: true, claims }` or `{ ok: false, code, message }`; never throws for a
    /// bad token. Throws only for an invalid `now`.
    pub fn verify(&self, token: JsValue, now: Option<f64>) -> Result<JsValue, JsError> {
        let now = now_or_clock(now)?;
        let Some(token) = token.as_string() else {
            return Ok(failure(ErrorCode::Malformed, "token must be a string"));
        };
        match self.inner.verify(&token, now) {
            Ok(claims) => {
                // One crossing into JS for the whole result: the payload was parsed strictly
                // (a single JSON object), so wrapping its text keeps it valid JSON.
                const PREFIX: &str = "{\"ok\":true,\"claims\":";
                let mut result = String::with_capacity(PREFIX.len() + claims.json().len() + 1);
                result.push_str(PREFIX);
                result.push_str(claims.json());
                result.push('}');
                JSON::parse(&result)
                    .or_else(|_| Ok(failure(ErrorCode::Malformed, "payload is not valid JSON for JavaScript")))
            }
            Err(e) => Ok(failure(e.code(), e.detail())),
        }
    }

    /// Installs a signed revocation filter (a `Uint8Array` from the origin's
    /// `/revocations`). Returns its status; throws an `Error` whose `code` says why it was
    /// refused (`bad_signature`, `key_not_found`, `issuer_mismatch`, `revocations_stale`,
    /// `revocations_rollback`, `revocations_invalid`, `too_large`), keeping the previous one.
    #[wasm_bindgen(js_name = setRevocations)]
    pub fn set_revocations(&mut self, bytes: JsValue, now: Option<f64>) -> Result<JsValue, JsValue> {
        let now = now_or_clock(now).map_err(JsValue::from)?;
        let bytes = bytes_of(&bytes).ok_or_else(|| {
            coded_error(&crate::Error::new(ErrorCode::RevocationsInvalid, "revocations must be a Uint8Array"))
        })?;
        let status = self.inner.set_revocations(&bytes, now).map_err(|e| coded_error(&e))?;
        Ok(status_object(Some(&status), self.inner.revocation_required()))
    }

    /// The revocation filter's status: `{ loaded, required, stale, sequence, builtAt,
    /// notAfter, window, entries, users, globalNotBefore, bytes, kid }`.
    #[wasm_bindgen(js_name = revocationStatus)]
    pub fn revocation_status(&self, now: Option<f64>) -> Result<JsValue, JsError> {
        let now = now_or_clock(now)?;
        Ok(status_object(self.inner.revocation_status(now).as_ref(), self.inner.revocation_required()))
    }

    /// Asks the loaded filter about a token's ids without verifying a token:
    /// `isRevoked({ sub?, sid?, jti?, iat })` is `true`, `false`, or `null` when no filter
    /// is loaded. Throws a TypeError-like Error for a malformed argument.
    #[wasm_bindgen(js_name = isRevoked)]
    pub fn is_revoked(&self, ids: JsValue) -> Result<JsValue, JsError> {
        if !ids.is_object() {
            return Err(JsError::new("edgetoken: isRevoked expects { sub?, sid?, jti?, iat }"));
        }
        let o = OptionReader(ids.unchecked_ref());
        let text = |name: &str| o.string(name).map_err(|_| JsError::new(&alloc::format!("edgetoken: {name} must be a string")));
        let (sub, sid, jti) = (text("sub")?, text("sid")?, text("jti")?);
        let iat = o
            .get("iat")
            .and_then(|v| v.as_f64())
            .and_then(whole_seconds)
            .ok_or_else(|| JsError::new("edgetoken: iat must be an integer NumericDate"))?;
        let ids = crate::revocation::TokenIds {
            sub: sub.as_deref(),
            sid: sid.as_deref(),
            jti: jti.as_deref(),
            iat,
        };
        Ok(match self.inner.revocation_reason(&ids) {
            None => JsValue::NULL,
            Some(reason) => JsValue::from_bool(reason.is_some()),
        })
    }

    /// The `revocationUrl` option, for the revocation sync helper.
    #[wasm_bindgen(getter, js_name = revocationUrl)]
    pub fn revocation_url(&self) -> Option<String> {
        self.revocation_url.clone()
    }

    /// Replaces the key set (rotation). Throws and keeps the old keys if `jwks` is invalid.
    #[wasm_bindgen(js_name = setKeys)]
    pub fn set_keys(&mut self, jwks: JsValue) -> Result<(), JsError> {
        let keys = key_set(&jwks)?;
        self.inner.set_keys(keys);
        Ok(())
    }
}

/// Every stable error code, as strings.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect()
}

fn bytes_of(value: &JsValue) -> Option<Vec<u8>> {
    value.dyn_ref::<js_sys::Uint8Array>().map(js_sys::Uint8Array::to_vec)
}

fn status_object(status: Option<&RevocationStatus>, required: bool) -> JsValue {
    let obj = Object::new();
    set(&obj, "loaded", &JsValue::from_bool(status.is_some()));
    set(&obj, "required", &JsValue::from_bool(required));
    // With no filter there is nothing fresh: report stale.
    set(&obj, "stale", &JsValue::from_bool(status.is_none_or(|s| s.stale)));
    if let Some(s) = status {
        let num = |n: u64| JsValue::from_f64(n as f64);
        set(&obj, "sequence", &num(s.sequence));
        set(&obj, "builtAt", &num(s.built_at));
        set(&obj, "notAfter", &num(s.not_after));
        set(&obj, "window", &num(s.window.into()));
        set(&obj, "entries", &num(s.entries.into()));
        set(&obj, "users", &num(s.users as u64));
        set(&obj, "globalNotBefore", &s.global_not_before.map_or(JsValue::NULL, num));
        set(&obj, "bytes", &num(s.bytes as u64));
        set(&obj, "kid", &JsValue::from_str(&s.kid));
    }
    obj.into()
}

