//! The signed revocation artifact, version 1 (see docs/revocation-format.md).
//!
//! All integers are big-endian. Layout:
//! ```text
//! magic "ETRV" | version u8 = 1 | algorithm u8 = 2 (bloom, SHA-256 counter-mode positions)
//! kid_len u8 | kid | issuer_len u16 | issuer
//! sequence u64 | built_at u64 | not_after u64 | window u32 | entries u32
//! hashes u8 | salt [16] | bits_len u32 | bits
//! users u32 | users × (sub_len u16 | sub | not_before u64), sorted by sub, unique
//! global_not_before u64 (0 = none)
//! signature [64]: ES256 (raw r||s) over every preceding byte
//! ```
//! The `kid` sits at a fixed offset so the key can be chosen, and the signature checked,
//! before any variable-length field is trusted.

use super::bloom::{MAX_HASHES, SALT_LEN};
use crate::error::{err, Error, ErrorCode};
use alloc::string::String;
use alloc::vec::Vec;

/// Magic bytes opening every artifact.
pub const MAGIC: &[u8; 4] = b"ETRV";
/// The only format version this crate reads and writes.
pub const VERSION: u8 = 1;
/// Algorithm 2: Bloom filter, positions from SHA-256 in counter mode, 16-byte salt.
/// (Algorithm 1, SHA-256 double hashing, was retired: its tiny filters missed the target.
/// It is refused, never read with the new positions: a mismatch would fail open.)
pub const ALG_BLOOM_SHA256: u8 = 2;
/// Largest artifact accepted (a 1M-entry filter at 2^-16 is ~2.9 MB).
pub const MAX_ARTIFACT_SIZE: usize = 16 * 1024 * 1024;
/// Longest issuer accepted.
pub const MAX_ISSUER_LEN: usize = 1024;
/// Longest user id (`sub`) accepted.
pub const MAX_SUB_LEN: usize = 1024;
/// Length of the trailing signature.
pub const SIGNATURE_LEN: usize = 64;

/// The parsed fields of an artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    pub kid: String,
    pub issuer: String,
    pub sequence: u64,
    pub built_at: u64,
    pub not_after: u64,
    pub window: u32,
    pub entries: u32,
    pub hashes: u8,
    pub salt: [u8; SALT_LEN],
    pub bits: Vec<u8>,
    pub users: Vec<(String, u64)>,
    pub global_not_before: Option<u64>,
}

pub(crate) fn invalid(detail: impl Into<String>) -> Error {
    err(ErrorCode::RevocationsInvalid, detail)
}

/// Splits an artifact into (signed bytes, kid, signature) after the cheap structural checks.
pub(crate) fn split(bytes: &[u8]) -> Result<(&[u8], &str, &[u8]), Error> {
    if bytes.len() > MAX_ARTIFACT_SIZE {
        return Err(err(ErrorCode::TooLarge, "revocation artifact exceeds 16 MiB"));
    }
    if bytes.len() < 7 + SIGNATURE_LEN || &bytes[..4] != MAGIC {
        return Err(invalid("not an edgetoken revocation artifact"));
    }
    if bytes[4] != VERSION {
        return Err(invalid(alloc::format!("unsupported revocation format version {}", bytes[4])));
    }
    if bytes[5] != ALG_BLOOM_SHA256 {
        return Err(invalid(alloc::format!("unsupported revocation algorithm {}", bytes[5])));
    }
    let kid_len = usize::from(bytes[6]);
    let (signed, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
    let kid = signed
        .get(7..7 + kid_len)
        .and_then(|k| core::str::from_utf8(k).ok())
        .ok_or_else(|| invalid("bad kid"))?;
    Ok((signed, kid, signature))
}

/// A bounds-checked cursor: every read can fail, none can panic.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.rest.len() {
            return Err(invalid("artifact is truncated"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn str(&mut self, len: usize, what: &str) -> Result<String, Error> {
        let b = self.take(len)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| invalid(alloc::format!("{what} is not UTF-8")))
    }
}

/// Parses the signed part (everything before the signature). Call after the signature
/// has been verified; still fully bounds-checked.
pub(crate) fn parse_signed(signed: &[u8]) -> Result<Fields, Error> {
    let mut r = Reader { rest: signed.get(6..).ok_or_else(|| invalid("artifact is truncated"))? };
    let kid_len = usize::from(r.u8()?);
    let kid = r.str(kid_len, "kid")?;
    let issuer_len = usize::from(r.u16()?);
    if issuer_len > MAX_ISSUER_LEN {
        return Err(invalid("issuer is too long"));
    }
    let issuer = r.str(issuer_len, "issuer")?;
    let sequence = r.u64()?;
    let built_at = r.u64()?;
    let not_after = r.u64()?;
    if not_after <= built_at {
        return Err(invalid("not_after must be later than built_at"));
    }
    let window = r.u32()?;
    let entries = r.u32()?;
    let hashes = r.u8()?;
    if hashes == 0 || hashes > MAX_HASHES {
        return Err(invalid("bloom filter hash count out of range"));
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(r.take(SALT_LEN)?);
    let bits_len = r.u32()? as usize;
    if bits_len == 0 {
        return Err(invalid("bloom filter is empty"));
    }
    let bits = r.take(bits_len)?.to_vec();
    let user_count = r.u32()? as usize;
    // Each user takes at least 10 bytes, so the count is bounded by what remains.
    if user_count > r.rest.len() / 10 {
        return Err(invalid("user count exceeds the artifact"));
    }
    let mut users: Vec<(String, u64)> = Vec::with_capacity(user_count);
    for _ in 0..user_count {
        let len = usize::from(r.u16()?);
        if len == 0 || len > MAX_SUB_LEN {
            return Err(invalid("user id length out of range"));
        }
        let sub = r.str(len, "user id")?;
        let not_before = r.u64()?;
        if users.last().is_some_and(|(prev, _)| *prev >= sub) {
            return Err(invalid("user entries must be sorted and unique"));
        }
        users.push((sub, not_before));
    }
    let global = r.u64()?;
    if !r.rest.is_empty() {
        return Err(invalid("trailing bytes after the last field"));
    }
    Ok(Fields {
        kid,
        issuer,
        sequence,
        built_at,
        not_after,
        window,
        entries,
        hashes,
        salt,
        bits,
        users,
        global_not_before: (global != 0).then_some(global),
    })
}

/// Serializes the signed part of `f` (the caller appends the signature).
#[cfg(feature = "sign")]
pub(crate) fn encode_signed(f: &Fields) -> Result<Vec<u8>, Error> {
    let too_long = |what: &str| err(ErrorCode::InvalidConfig, alloc::format!("{what} is too long"));
    if f.kid.len() > crate::header::MAX_KID_LEN {
        return Err(too_long("kid"));
    }
    if f.issuer.len() > MAX_ISSUER_LEN {
        return Err(too_long("issuer"));
    }
    let mut out = Vec::with_capacity(64 + f.bits.len() + f.users.len() * 24);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(ALG_BLOOM_SHA256);
    out.push(f.kid.len() as u8);
    out.extend_from_slice(f.kid.as_bytes());
    out.extend_from_slice(&(f.issuer.len() as u16).to_be_bytes());
    out.extend_from_slice(f.issuer.as_bytes());
    out.extend_from_slice(&f.sequence.to_be_bytes());
    out.extend_from_slice(&f.built_at.to_be_bytes());
    out.extend_from_slice(&f.not_after.to_be_bytes());
    out.extend_from_slice(&f.window.to_be_bytes());
    out.extend_from_slice(&f.entries.to_be_bytes());
    out.push(f.hashes);
    out.extend_from_slice(&f.salt);
    out.extend_from_slice(&u32::try_from(f.bits.len()).map_err(|_| too_long("filter"))?.to_be_bytes());
    out.extend_from_slice(&f.bits);
    out.extend_from_slice(&u32::try_from(f.users.len()).map_err(|_| too_long("user list"))?.to_be_bytes());
    for (sub, nb) in &f.users {
        if sub.is_empty() || sub.len() > MAX_SUB_LEN {
            return Err(err(ErrorCode::InvalidConfig, "user ids must be 1 to 1024 bytes"));
        }
        out.extend_from_slice(&(sub.len() as u16).to_be_bytes());
        out.extend_from_slice(sub.as_bytes());
        out.extend_from_slice(&nb.to_be_bytes());
    }
    out.extend_from_slice(&f.global_not_before.unwrap_or(0).to_be_bytes());
    if out.len() + SIGNATURE_LEN > MAX_ARTIFACT_SIZE {
        return Err(err(ErrorCode::TooLarge, "revocation artifact would exceed 16 MiB"));
    }
    Ok(out)
}
