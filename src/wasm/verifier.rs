//! `Verifier` for JS: options in, `{ ok, claims }` / `{ ok, code, message }` out.

use super::{argument_error, coded_error, config_error, now_or_clock, set, string_array, whole_seconds, OptionReader};
use crate::error::ErrorCode;
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::revocation::RevocationStatus;
use crate::trust::{RevocationOptions, RevocationRequirement, TrustState, DEFAULT_MAX_FILTER_TTL};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Object, JSON};
use wasm_bindgen::prelude::*;

/// The option names the constructor accepts; anything else (a typo) is refused.
const OPTION_NAMES: [&str; 13] = [
    "issuer", "audience", "jwks", "typ", "algorithms", "clockTolerance", "maxTokenLifetime",
    "requiredClaims", "maxTokenSize", "revocation", "revocations", "maxRevocationTtl", "cache",
];

impl OptionReader<'_> {
    /// A string or an array of strings.
    fn strings(&self, name: &str) -> Result<Option<Vec<String>>, JsValue> {
        let Some(v) = self.get(name) else { return Ok(None) };
        if let Some(s) = v.as_string() {
            return Ok(Some(alloc::vec![s]));
        }
        string_array(&v)
            .map(Some)
            .ok_or_else(|| config_error(alloc::format!("{name} must be a string or an array of strings")))
    }

    fn integer(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, JsValue> {
        let Some(v) = self.get(name) else { return Ok(None) };
        match v.as_f64() {
            Some(n) if n.fract() == 0.0 && n >= f64::from(min) && n <= f64::from(max) => Ok(Some(n as u32)),
            _ => Err(config_error(alloc::format!("{name} must be an integer from {min} to {max}"))),
        }
    }
}

fn key_set(jwks: &JsValue) -> Result<KeySet, JsValue> {
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
    KeySet::from_jwks_json(&text).map_err(|e| coded_error(&e))
}

/// `cache`: `true`/absent (defaults), `false` (off), or `{ maxEntries?, maxBytes? }`.
fn cache_limits(value: Option<JsValue>) -> Result<crate::cache::CacheLimits, JsValue> {
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
}

#[wasm_bindgen(js_class = Verifier)]
impl WasmVerifier {
    /// Builds a verifier; throws an `EdgetokenError` (`invalid_config`, `invalid_key`,
    /// `too_large`, or a filter code for `revocations`) for a bad configuration.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<WasmVerifier, JsValue> {
        if !options.is_object() {
            return Err(config_error("expected an options object"));
        }
        let o = OptionReader(options.unchecked_ref());
        o.reject_unknown_in(&OPTION_NAMES)?;
        let issuer = o.string("issuer")?.ok_or_else(|| config_error("issuer is required"))?;
        let audience = o.strings("audience")?.ok_or_else(|| config_error("audience is required"))?;
        // Without jwks the verifier waits for keys (IssuerSync): verify fails closed with
        // `keys_unavailable` until setKeys.
        let keys = o.get("jwks").map(|jwks| key_set(&jwks)).transpose()?;
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
        let initial = o.get("revocations");
        // Revocation is required by default for a verifier fed by a sync (no jwks) or given
        // a filter: a verifier told about revocations must never silently skip them.
        let requirement = match o.string("revocation")?.as_deref() {
            None if keys.is_none() || initial.is_some() => RevocationRequirement::Required,
            None => RevocationRequirement::Optional,
            Some("required") => RevocationRequirement::Required,
            Some("off") => RevocationRequirement::Optional,
            Some(other) => return Err(config_error(alloc::format!("revocation must be \"required\" or \"off\", not {other:?}"))),
        };
        let max_filter_ttl = o.integer("maxRevocationTtl", 1, u32::MAX)?.map_or(DEFAULT_MAX_FILTER_TTL, u64::from);
        let state = TrustState::new(keys, RevocationOptions { requirement, max_filter_ttl }).map_err(|e| coded_error(&e))?;
        let mut inner = crate::Verifier::with_trust(policy, state).map_err(|e| config_error(e.detail()))?;
        inner.set_cache_limits(cache_limits(o.get("cache"))?);
        if let Some(bytes) = initial {
            let bytes = bytes_of(&bytes).ok_or_else(|| config_error("revocations must be a Uint8Array"))?;
            inner.set_revocations(&bytes, now_or_clock(&JsValue::UNDEFINED)?).map_err(|e| coded_error(&e))?;
        }
        Ok(WasmVerifier { inner })
    }

    /// Verifies `token` at `now` (seconds; default: the host clock).
    ///
    /// Returns `{ ok: true, claims }` or `{ ok: false, code, message }`; never throws for a
    /// bad token. Throws an `EdgetokenError` (`invalid_argument`) only for an invalid `now`.
    pub fn verify(&self, token: JsValue, now: JsValue) -> Result<JsValue, JsValue> {
        let now = now_or_clock(&now)?;
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
    /// `/revocations`). Returns its status; throws an `EdgetokenError` whose `code` says why
    /// it was refused (`revocations_unknown_key`, `revocations_bad_signature`,
    /// `revocations_issuer_mismatch`, `revocations_too_long_lived`,
    /// `revocations_window_too_short`, `revocations_stale`, `revocations_rollback`,
    /// `revocations_invalid`, `too_large`), keeping the previous one.
    #[wasm_bindgen(js_name = setRevocations)]
    pub fn set_revocations(&self, bytes: JsValue, now: JsValue) -> Result<JsValue, JsValue> {
        let now = now_or_clock(&now)?;
        let bytes = bytes_of(&bytes).ok_or_else(|| {
            coded_error(&crate::Error::new(ErrorCode::RevocationsInvalid, "revocations must be a Uint8Array"))
        })?;
        let status = self.inner.set_revocations(&bytes, now).map_err(|e| coded_error(&e))?;
        Ok(status_object(Some(&status), self.inner.revocation_required()))
    }

    /// The revocation filter's status: `{ loaded, required, stale, sequence, builtAt,
    /// notAfter, window, entries, users, globalNotBefore, bytes, kid }`.
    #[wasm_bindgen(js_name = revocationStatus)]
    pub fn revocation_status(&self, now: JsValue) -> Result<JsValue, JsValue> {
        let now = now_or_clock(&now)?;
        Ok(status_object(self.inner.revocation_status(now).as_ref(), self.inner.revocation_required()))
    }

    /// Asks the loaded filter about a token's ids without verifying a token:
    /// `isRevoked({ sub?, sid?, jti?, iat })` is `true`, `false`, or `null` when no filter
    /// is loaded. Throws an `EdgetokenError` (`invalid_argument`) for a malformed argument.
    #[wasm_bindgen(js_name = isRevoked)]
    pub fn is_revoked(&self, ids: JsValue) -> Result<JsValue, JsValue> {
        if !ids.is_object() {
            return Err(argument_error("isRevoked expects { sub?, sid?, jti?, iat }"));
        }
        let o = OptionReader(ids.unchecked_ref());
        let text = |name: &str| o.string(name).map_err(|_| argument_error(alloc::format!("{name} must be a string")));
        let (sub, sid, jti) = (text("sub")?, text("sid")?, text("jti")?);
        let iat = o
            .get("iat")
            .and_then(|v| v.as_f64())
            .and_then(whole_seconds)
            .ok_or_else(|| argument_error("iat must be an integer NumericDate"))?;
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

    /// Replaces the key set (rotation) in the trust state. A loaded filter whose signing
    /// key left the set is dropped with it (a verifier requiring revocation then answers
    /// `revocations_stale` until a filter signed by a trusted key is loaded). Throws an
    /// `EdgetokenError` (`invalid_key`, `too_large`) and keeps the old keys if `jwks` is
    /// invalid.
    #[wasm_bindgen(js_name = setKeys)]
    pub fn set_keys(&self, jwks: JsValue) -> Result<(), JsValue> {
        let keys = key_set(&jwks)?;
        self.inner.set_keys(keys);
        Ok(())
    }

    /// The `kid`s of the trusted keys (`null` while none are loaded; a key without `kid`
    /// is listed as `null`).
    #[wasm_bindgen(js_name = keyIds)]
    pub fn key_ids(&self) -> JsValue {
        let trust = self.inner.trust();
        let Some(keys) = trust.keys() else { return JsValue::NULL };
        let out = js_sys::Array::new();
        for k in keys.keys() {
            out.push(&k.kid().map_or(JsValue::NULL, JsValue::from_str));
        }
        out.into()
    }

    /// The policy numbers a sync helper checks a discovery document against:
    /// `{ issuer, clockTolerance, maxTokenLifetime, maxRevocationTtl, revocation }`.
    #[wasm_bindgen(getter)]
    pub fn policy(&self) -> JsValue {
        let p = self.inner.policy();
        let options = self.inner.trust().options();
        let obj = Object::new();
        set(&obj, "issuer", &JsValue::from_str(p.issuer()));
        set(&obj, "clockTolerance", &JsValue::from_f64(p.clock_tolerance() as f64));
        set(&obj, "maxTokenLifetime", &JsValue::from_f64(p.max_token_lifetime() as f64));
        set(&obj, "maxRevocationTtl", &JsValue::from_f64(options.max_filter_ttl as f64));
        let required = options.requirement == RevocationRequirement::Required;
        set(&obj, "revocation", &JsValue::from_str(if required { "required" } else { "off" }));
        obj.into()
    }
}

/// The stable error codes, as strings: every code (no argument), the codes `verify`
/// returns (`"verify"`), or the codes the constructor, the setters and the builder throw
/// (`"thrown"`; `too_large` and `revocations_stale` are in both lists).
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes(which: JsValue) -> Result<Vec<String>, JsValue> {
    let keep: fn(ErrorCode) -> bool = match which.as_string().as_deref() {
        _ if which.is_undefined() => |_| true,
        Some("verify") => ErrorCode::is_verify_code,
        Some("thrown") => ErrorCode::is_load_code,
        _ => return Err(argument_error("errorCodes takes no argument, \"verify\" or \"thrown\"")),
    };
    Ok(ErrorCode::ALL.iter().filter(|c| keep(**c)).map(|c| c.as_str().to_string()).collect())
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

