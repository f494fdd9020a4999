//! The wasm-bindgen surfaces: conversions between JS and Rust, no verification logic.
//!
//! Two npm modules are built from this crate so edges never download what only origins
//! use: `wasm` (the `Verifier`, imported by edges and browsers) and `wasm-builder`
//! (`buildRevocationFilter`, imported by origins; it carries signing code).

#[cfg(feature = "wasm-builder")]
mod builder;
#[cfg(feature = "wasm")]
mod verifier;

use crate::error::{Error, ErrorCode};
use crate::time::UnixTime;
use alloc::string::String;
use alloc::vec::Vec;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

/// The error every throwing entry point raises: an `Error` named `EdgetokenError` with a
/// stable `code` (pkg/errors.js's `EdgetokenError` class recognises it with `instanceof`).
fn coded_error(e: &Error) -> JsValue {
    let error = js_sys::Error::new(&alloc::format!("edgetoken: {}", e.detail()));
    error.set_name("EdgetokenError");
    set(&error, "code", &JsValue::from_str(e.code().as_str()));
    error.into()
}

fn config_error(msg: impl core::fmt::Display) -> JsValue {
    coded_error(&Error::new(ErrorCode::InvalidConfig, alloc::format!("invalid options: {msg}")))
}

fn argument_error(msg: impl Into<String>) -> JsValue {
    coded_error(&Error::new(ErrorCode::InvalidArgument, msg))
}

/// Reads an options object field by field so every error names the option at fault.
///
/// Only own properties count: an inherited `revocation: "off"` (prototype pollution) is
/// neither read nor able to slip past the unknown-option check.
struct OptionReader<'a>(&'a Object);

impl OptionReader<'_> {
    fn get(&self, name: &str) -> Option<JsValue> {
        let key = JsValue::from_str(name);
        if !Object::has_own(self.0, &key) {
            return None;
        }
        let v = Reflect::get(self.0, &key).ok()?;
        (!v.is_undefined()).then_some(v)
    }

    /// Refuses any own property not in `names` (a typo must not be silently ignored).
    fn reject_unknown_in(&self, names: &[&str]) -> Result<(), JsValue> {
        for key in Object::keys(self.0).iter() {
            let key = key.as_string().unwrap_or_default();
            if !names.contains(&key.as_str()) {
                let hint = match key.as_str() {
                    "revocationUrl" => " (removed: use IssuerSync, which reads the URLs from the discovery document)",
                    _ => "",
                };
                return Err(config_error(alloc::format!("unknown option {key:?}{hint} (known: {})", names.join(", "))));
            }
        }
        Ok(())
    }

    fn string(&self, name: &str) -> Result<Option<String>, JsValue> {
        self.get(name)
            .map(|v| v.as_string().ok_or_else(|| config_error(alloc::format!("{name} must be a string"))))
            .transpose()
    }
}

/// The strings of a JS array, or `None` if `v` is not an array of strings only.
fn string_array(v: &JsValue) -> Option<Vec<String>> {
    if !Array::is_array(v) {
        return None;
    }
    v.unchecked_ref::<Array>().iter().map(|item| item.as_string()).collect()
}

/// A JS number that is a whole, non-negative count of seconds no larger than 2^53 (the
/// same range NumericDate claims are held to).
fn whole_seconds(n: f64) -> Option<u64> {
    (n.fract() == 0.0 && n >= 0.0 && n <= crate::json::MAX_SAFE_INTEGER as f64).then_some(n as u64)
}

/// `now` as passed by JS: `undefined`/`null` for the host clock, else a finite number of
/// seconds since the epoch. Strings, booleans, arrays and Dates are refused, never coerced.
fn now_or_clock(now: &JsValue) -> Result<UnixTime, JsValue> {
    let secs = if now.is_undefined() || now.is_null() {
        js_sys::Date::now() / 1000.0
    } else {
        match now.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 && n <= crate::json::MAX_SAFE_INTEGER as f64 => n,
            _ => {
                return Err(argument_error(
                    "now must be a finite, non-negative number of seconds since the epoch (not a string, boolean, array or Date)",
                ))
            }
        }
    };
    // Whole seconds: a fractional `now` is truncated, never rounded up into the future.
    Ok(UnixTime::from_secs(secs as u64))
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}
