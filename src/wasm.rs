//! The wasm-bindgen surface: converts between JS and Rust, no verification logic.

use crate::error::ErrorCode;
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::time::UnixTime;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::prelude::*;

/// The option names the constructor accepts; anything else (a typo) is refused.
const OPTION_NAMES: [&str; 9] = [
    "issuer", "audience", "jwks", "typ", "algorithms", "clockTolerance", "maxTokenLifetime",
    "requiredClaims", "maxTokenSize",
];

fn config_error(msg: impl core::fmt::Display) -> JsError {
    JsError::new(&alloc::format!("edgetoken: invalid options: {msg}"))
}

/// Reads the options object field by field so every error names the option at fault.
struct OptionReader<'a>(&'a Object);

impl OptionReader<'_> {
    fn get(&self, name: &str) -> Option<JsValue> {
        let v = Reflect::get(self.0, &JsValue::from_str(name)).ok()?;
        (!v.is_undefined()).then_some(v)
    }

    fn reject_unknown(&self) -> Result<(), JsError> {
        for key in Object::keys(self.0).iter() {
            let key = key.as_string().unwrap_or_default();
            if !OPTION_NAMES.contains(&key.as_str()) {
                return Err(config_error(alloc::format!(
                    "unknown option {key:?} (known: {})",
                    OPTION_NAMES.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn string(&self, name: &str) -> Result<Option<String>, JsError> {
        self.get(name)
            .map(|v| v.as_string().ok_or_else(|| config_error(alloc::format!("{name} must be a string"))))
            .transpose()
    }

    /// A string or an array of strings.
    fn strings(&self, name: &str) -> Result<Option<Vec<String>>, JsError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        if let Some(s) = v.as_string() {
            return Ok(Some(alloc::vec![s]));
        }
        serde_wasm_bindgen::from_value::<Vec<String>>(v)
            .map(Some)
            .map_err(|_| config_error(alloc::format!("{name} must be a string or an array of strings")))
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

fn now_or_clock(now: Option<f64>) -> Result<UnixTime, JsError> {
    let secs = match now {
        None => js_sys::Date::now() / 1000.0,
        Some(n) if n.is_finite() && n >= 0.0 && n <= crate::json::MAX_SAFE_INTEGER as f64 => n,
        Some(_) => return Err(JsError::new("edgetoken: now must be a finite number of seconds since the epoch")),
    };
    // Whole seconds: a fractional `now` is truncated, never rounded up into the future.
    Ok(UnixTime::from_secs(secs as u64))
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
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
        o.reject_unknown()?;
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
        let inner = crate::Verifier::new(policy, keys).map_err(|e| config_error(e.detail()))?;
        Ok(WasmVerifier { inner })
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
                let Ok(parsed) = JSON::parse(claims.json()) else {
                    return Ok(failure(ErrorCode::Malformed, "payload is not valid JSON for JavaScript"));
                };
                let obj = Object::new();
                set(&obj, "ok", &JsValue::TRUE);
                set(&obj, "claims", &parsed);
                Ok(obj.into())
            }
            Err(e) => Ok(failure(e.code(), e.detail())),
        }
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
