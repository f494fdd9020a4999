//! JWT claims (RFC 7519, RFC 9068, RFC 8725): strict parsing and the claims policy.

use crate::error::{err, Error, ErrorCode};
use crate::json::{self, Object};
use crate::policy::Policy;
use crate::time::UnixTime;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::value::RawValue;

/// The verified claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    json: String,
    iss: String,
    aud: Vec<String>,
    exp: u64,
    iat: u64,
    nbf: Option<u64>,
    sub: Option<String>,
    jti: Option<String>,
    sid: Option<String>,
}

impl Claims {
    /// The claims as the JSON text that was signed.
    pub fn json(&self) -> &str {
        &self.json
    }
    /// `iss`.
    pub fn issuer(&self) -> &str {
        &self.iss
    }
    /// `aud`, as a list (a single string becomes a one-element list).
    pub fn audience(&self) -> &[String] {
        &self.aud
    }
    /// `exp`, seconds since the epoch.
    pub fn expires_at(&self) -> u64 {
        self.exp
    }
    /// `iat`, seconds since the epoch.
    pub fn issued_at(&self) -> u64 {
        self.iat
    }
    /// `nbf`, if present.
    pub fn not_before(&self) -> Option<u64> {
        self.nbf
    }
    /// `sub`, if present.
    pub fn subject(&self) -> Option<&str> {
        self.sub.as_deref()
    }
    /// `jti`, if present.
    pub fn token_id(&self) -> Option<&str> {
        self.jti.as_deref()
    }
    /// `sid` (the session id), if present.
    pub fn session_id(&self) -> Option<&str> {
        self.sid.as_deref()
    }
}

fn invalid(name: &str, what: &str) -> Error {
    err(ErrorCode::ClaimInvalid, alloc::format!("claim {name} {what}"))
}

fn opt_string(obj: &Object<'_>, name: &str) -> Result<Option<String>, Error> {
    obj.get(name)
        .map(|raw| json::as_string(raw).ok_or_else(|| invalid(name, "must be a string")))
        .transpose()
}

fn opt_date(obj: &Object<'_>, name: &str) -> Result<Option<u64>, Error> {
    obj.get(name)
        .map(|raw| {
            json::as_numeric_date(raw)
                .ok_or_else(|| invalid(name, "must be an integer NumericDate between 0 and 2^53"))
        })
        .transpose()
}

fn audience(raw: &RawValue) -> Result<Vec<String>, Error> {
    if let Some(one) = json::as_string(raw) {
        return Ok(alloc::vec![one]);
    }
    json::as_string_array(raw).ok_or_else(|| invalid("aud", "must be a string or an array of strings"))
}

/// Parses the payload and applies the policy at time `now`.
///
/// Order: presence of required claims, types of the registered claims, then the policy
/// ([`check_policy`]: `iss`, `aud`, `exp`, `nbf`, `iat`, lifetime).
pub(crate) fn check(payload: Vec<u8>, policy: &Policy, now: UnixTime) -> Result<Claims, Error> {
    let claims = parse(payload, policy)?;
    check_policy(&claims, policy, now)?;
    Ok(claims)
}

/// Parses the payload strictly: required claims present, registered claims well typed.
fn parse(payload: Vec<u8>, policy: &Policy) -> Result<Claims, Error> {
    let text = String::from_utf8(payload).map_err(|_| err(ErrorCode::Malformed, "payload is not UTF-8"))?;
    let (iss, aud, exp, iat, nbf, sub, jti, sid) = {
        let obj = Object::parse(&text)
            .map_err(|e| err(ErrorCode::Malformed, alloc::format!("payload is not a JSON object: {e}")))?;
        if let Some(name) = policy.required().find(|name| obj.get(name).is_none()) {
            return Err(err(ErrorCode::ClaimMissing, alloc::format!("claim {name} is required")));
        }
        // Type-check every registered claim that is present, required or not: a
        // wrong-typed claim is an error, never ignored.
        let iss = opt_string(&obj, "iss")?;
        let aud = obj.get("aud").map(audience).transpose()?;
        let exp = opt_date(&obj, "exp")?;
        let iat = opt_date(&obj, "iat")?;
        let nbf = opt_date(&obj, "nbf")?;
        let sub = opt_string(&obj, "sub")?;
        let jti = opt_string(&obj, "jti")?;
        let sid = opt_string(&obj, "sid")?;
        (iss, aud, exp, iat, nbf, sub, jti, sid)
    };
    // iss, aud, exp and iat are always required (checked above), so these never fail.
    let (Some(iss), Some(aud), Some(exp), Some(iat)) = (iss, aud, exp, iat) else {
        return Err(err(ErrorCode::ClaimMissing, "iss, aud, exp and iat are required"));
    };
    Ok(Claims { json: text, iss, aud, exp, iat, nbf, sub, jti, sid })
}

/// The claims policy at time `now`: `iss`, `aud`, `exp`, `nbf`, `iat`, lifetime.
///
/// The one check for a first-sight verification and a token-cache hit alike (a cached
/// token's claims are checked again on every hit: time moves).
pub(crate) fn check_policy(claims: &Claims, policy: &Policy, now: UnixTime) -> Result<(), Error> {
    if claims.iss != policy.issuer {
        return Err(err(ErrorCode::IssuerMismatch, "iss is not the configured issuer"));
    }
    if !claims.aud.iter().any(|a| policy.audiences.iter().any(|want| want == a)) {
        return Err(err(ErrorCode::AudienceMismatch, "aud contains none of the configured audiences"));
    }
    let now = now.as_secs();
    let leeway = policy.clock_tolerance;
    let (exp, iat) = (claims.exp, claims.iat);
    // RFC 7519 4.1.4: reject on or after exp (plus tolerance).
    if now >= exp.saturating_add(leeway) {
        return Err(err(ErrorCode::Expired, "token has expired"));
    }
    if let Some(nbf) = claims.nbf {
        if nbf > now.saturating_add(leeway) {
            return Err(err(ErrorCode::NotYetValid, "token is not valid yet (nbf)"));
        }
    }
    if iat > now.saturating_add(leeway) {
        return Err(err(ErrorCode::IssuedInFuture, "token was issued in the future (iat)"));
    }
    if exp < iat {
        return Err(invalid("exp", "is before iat"));
    }
    if exp - iat > policy.max_token_lifetime {
        return Err(err(
            ErrorCode::LifetimeTooLong,
            alloc::format!("exp - iat is {} s, limit is {} s", exp - iat, policy.max_token_lifetime),
        ));
    }
    Ok(())
}
