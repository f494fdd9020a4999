//! The wasm-bindgen surface: converts between JS and Rust, no verification logic.

use crate::error::ErrorCode;
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::revocation::{FilterSpec, RevocationStatus};
use crate::time::UnixTime;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::prelude::*;

/// The option names the constructor accepts; anything else (a typo) is refused.
const OPTION_NAMES: [&str; 13] = [
    "issuer", "audience", "jwks", "typ", "algorithms", "clockTolerance", "maxTokenLifetime",
    "requiredClaims", "maxTokenSize", "revocation", "revocations", "revocationUrl", "cache",
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
        self.reject_unknown_in(&OPTION_NAMES)
    }

    fn reject_unknown_in(&self, names: &[&str]) -> Result<(), JsError> {
        for key in Object::keys(self.0).iter() {
            let key = key.as_string().unwrap_or_default();
            if !names.contains(&key.as_str()) {
                return Err(config_error(alloc::format!("unknown option {key:?} (known: {})", names.join(", "))));
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

/// A JS number that is a whole, non-negative count of seconds no larger than 2^53 (the
/// same range NumericDate claims are held to).
fn whole_seconds(n: f64) -> Option<u64> {
    (n.fract() == 0.0 && n >= 0.0 && n <= crate::json::MAX_SAFE_INTEGER as f64).then_some(n as u64)
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

/// An `Error` carrying a stable `code` property users can switch on.
fn coded_error(e: &crate::Error) -> JsValue {
    let error = js_sys::Error::new(&alloc::format!("edgetoken: {e}"));
    set(&error, "code", &JsValue::from_str(e.code().as_str()));
    error.into()
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

/// Builds a signed revocation filter for Node origins:
/// `buildRevocationFilter({ issuer, key, sequence, builtAt, ttl, window?, sids?, jtis?,
/// users?, notBefore?, falsePositiveRate? })` returns a `Uint8Array`. `key` is a private
/// EC P-256 JWK with a `kid`. Throws an `Error` with a `code` on bad input.
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
    o.reject_unknown_in(&names).map_err(JsValue::from)?;
    let issuer = o.string("issuer").map_err(JsValue::from)?.ok_or_else(|| fail("issuer is required".into()))?;
    let key_value = o.get("key").ok_or_else(|| fail("key (a private EC P-256 JWK with kid) is required".into()))?;
    let key_text = if let Some(s) = key_value.as_string() {
        s
    } else {
        JSON::stringify(&key_value).ok().and_then(|s| s.as_string()).ok_or_else(|| fail("key must be a JWK".into()))?
    };
    let (key, kid) = crate::revocation::signing_key_from_jwk(&key_text).map_err(|e| coded_error(&e))?;
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
    let built_at = seconds("builtAt")?.map_or_else(|| now_or_clock(None).map_err(JsValue::from), |s| Ok(UnixTime::from_secs(s)))?;
    let ttl = seconds("ttl")?.ok_or_else(|| fail("ttl (seconds of freshness) is required".into()))?;
    let window = seconds("window")?.unwrap_or(930);
    let mut spec = FilterSpec::new(issuer, sequence, built_at, ttl, u32::try_from(window).map_err(|_| fail("window is too large".into()))?);
    let list = |name: &str| -> Result<Vec<String>, JsValue> {
        match o.get(name) {
            None => Ok(Vec::new()),
            Some(v) => serde_wasm_bindgen::from_value(v).map_err(|_| fail(alloc::format!("{name} must be an array of strings"))),
        }
    };
    spec.sids = list("sids")?;
    spec.jtis = list("jtis")?;
    if let Some(users) = o.get("users") {
        let map: alloc::collections::BTreeMap<String, f64> = serde_wasm_bindgen::from_value(users)
            .map_err(|_| fail("users must be an object { sub: notBefore }".into()))?;
        for (sub, nb) in map {
            let nb = whole_seconds(nb)
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
