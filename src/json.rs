//! Strict JSON for headers, claims and keys.
//!
//! serde_json keeps the last of duplicate members; JOSE (RFC 7515 §4, RFC 8725 §3.1)
//! requires rejecting them, because two parsers picking different duplicates is an
//! attack. We therefore read objects member by member, keep each value as its raw text
//! (so NumericDate can be judged on its literal, e.g. `1e400` or `1.0`), and walk nested
//! values to reject duplicates at any depth. serde_json bounds nesting depth (128).

use alloc::borrow::ToOwned;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The members of one JSON object, in document order, values kept as raw JSON text.
pub(crate) struct Object<'a> {
    members: Vec<(String, &'a RawValue)>,
}

impl<'a> Object<'a> {
    /// Parses `text` as exactly one JSON object with unique member names at every depth.
    pub(crate) fn parse(text: &'a str) -> Result<Self, String> {
        serde_json::from_str::<Object<'a>>(text).map_err(|e| alloc::format!("{e}"))
    }

    /// The raw value of member `name`, if present (names compare after unescaping).
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.members.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// Iterates over `(name, raw value)` in document order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.members.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Object<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(core::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Object<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Object<'a>, M::Error> {
                let mut members: Vec<(String, &'a RawValue)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format_args!("duplicate member {key:?}")));
                    }
                    let value: &'a RawValue = map.next_value()?;
                    reject_nested_duplicates(value).map_err(de::Error::custom)?;
                    members.push((key, value));
                }
                Ok(Object { members })
            }
        }
        d.deserialize_map(V(core::marker::PhantomData))
    }
}

/// Walks a nested object or array and fails on a duplicate member name anywhere inside;
/// also fully decodes strings, so a lone surrogate (`"\ud800"`) is refused at any depth.
/// Top-level numbers are left to their readers (NumericDate judges the literal).
fn reject_nested_duplicates(value: &RawValue) -> Result<(), String> {
    let text = value.get();
    if text.starts_with('{') || text.starts_with('[') || text.starts_with('"') {
        serde_json::from_str::<NoDuplicates>(text).map_err(|e| alloc::format!("{e}"))?;
    }
    Ok(())
}

/// Like `serde::de::IgnoredAny`, plus the duplicate-member check.
struct NoDuplicates;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NoDuplicates;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
                Ok(NoDuplicates)
            }
            fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
                Ok(NoDuplicates)
            }
            fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
                Ok(NoDuplicates)
            }
            fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
                Ok(NoDuplicates)
            }
            fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
                Ok(NoDuplicates)
            }
            fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
                Ok(NoDuplicates)
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<NoDuplicates, S::Error> {
                while seq.next_element::<NoDuplicates>()?.is_some() {}
                Ok(NoDuplicates)
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<NoDuplicates, M::Error> {
                let mut seen = BTreeSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.to_owned()) {
                        return Err(de::Error::custom(format_args!("duplicate member {key:?}")));
                    }
                    map.next_value::<NoDuplicates>()?;
                }
                Ok(NoDuplicates)
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a raw value as a JSON string (unescaped). `None` if it is not a string.
pub(crate) fn as_string(value: &RawValue) -> Option<String> {
    if !value.get().starts_with('"') {
        return None;
    }
    serde_json::from_str::<String>(value.get()).ok()
}

/// Reads a raw value as an array of strings. `None` if it is anything else.
pub(crate) fn as_string_array(value: &RawValue) -> Option<Vec<String>> {
    if !value.get().starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(value.get()).ok()
}

/// Reads a raw value as an array of raw values. `None` if it is not an array.
pub(crate) fn as_array(value: &RawValue) -> Option<Vec<&RawValue>> {
    if !value.get().starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<&RawValue>>(value.get()).ok()
}

/// Largest integer every JSON implementation represents exactly (2^53).
pub(crate) const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Reads a raw value as a NumericDate: a non-negative JSON integer literal no larger than
/// 2^53. Floats (`1.0`, `1e3`), negatives, strings, booleans and null are refused, never
/// treated as absent.
pub(crate) fn as_numeric_date(value: &RawValue) -> Option<u64> {
    let text = value.get();
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = text.parse().ok()?;
    (n <= MAX_SAFE_INTEGER).then_some(n)
}
