//! Password hashing with argon2id (the crate's defaults: m = 19 MiB, t = 2, p = 1).

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};

/// Longest password accepted (argon2 accepts more, but nothing legitimate needs it).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Shortest new password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Hashes `password` into a PHC string.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = crate::tokens::random_bytes::<16>();
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// Checks `password` against a PHC string; a malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// A hash of a random password: verified against when the account does not exist, so a
/// login for an unknown e-mail costs the same time as one for a known e-mail.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::tokens::random_id()).unwrap_or_default())
}

/// A generated password: 128 random bits, base64url.
pub fn generate() -> String {
    crate::tokens::random_id()
}

/// Checks a new password's length.
pub fn acceptable(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!("the password must have at least {MIN_PASSWORD_LEN} characters"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("the password must have at most {MAX_PASSWORD_LEN} bytes"));
    }
    Ok(())
}
