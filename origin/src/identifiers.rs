//! Login identifiers (e-mail addresses): one stored form per address, look-alikes refused.
//!
//! Each side of the `@` is enforced with the PRECIS `UsernameCaseMapped` profile (RFC 8265,
//! crate `precis-profiles`): full-width characters mapped to their narrow forms, Unicode
//! lower-casing, NFC, the bidi rule, and the IdentifierClass repertoire, which refuses
//! spaces, control and format characters (U+200B, the bidi overrides RLO/LRO and other
//! invisible characters). Each side must then be single-script in the sense of UTS #39
//! (crate `unicode-security`: a Cyrillic `а` inside a Latin name is refused), and the
//! address's UTS #39 *skeleton* is stored so that a new address that merely looks like an
//! existing one (a whole-script confusable, e.g. all-Cyrillic `рaураl`) is refused too.

use precis_profiles::precis_core::profile::PrecisFastInvocation as _;
use precis_profiles::UsernameCaseMapped;
use unicode_security::MixedScript as _;

/// Longest address accepted, in bytes (RFC 5321's path limit is 256; 320 is the usual bound).
pub const MAX_EMAIL_LEN: usize = 320;

/// The stored (comparison) form of an e-mail address, or why it is refused.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_EMAIL_LEN {
        return Err(format!("the address must have 1 to {MAX_EMAIL_LEN} bytes"));
    }
    let (local, domain) = raw.rsplit_once('@').ok_or("the address needs an @")?;
    let local = part(local, "local part")?;
    let domain = part(domain, "domain")?;
    Ok(format!("{local}@{domain}"))
}

fn part(s: &str, what: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    let enforced = UsernameCaseMapped::enforce(s)
        .map_err(|e| format!("the {what} is not a valid identifier under RFC 8265 (PRECIS): {e:?}"))?;
    if !enforced.as_ref().is_single_script() {
        return Err(format!("the {what} mixes scripts (look-alike characters are refused)"));
    }
    Ok(enforced.into_owned())
}

/// The UTS #39 skeleton of a stored address: two addresses that can be mistaken for each
/// other have the same skeleton.
pub fn skeleton(email: &str) -> String {
    unicode_security::skeleton(email).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_spellings_have_one_stored_form() {
        let nfc = normalize_email("jos\u{e9}@example.com").unwrap();
        assert_eq!(normalize_email("jose\u{301}@example.com").unwrap(), nfc, "NFD");
        assert_eq!(normalize_email("  JOS\u{c9}@Example.COM ").unwrap(), nfc, "case and blanks");
        assert_eq!(normalize_email("\u{ff2a}os\u{e9}@example.com").unwrap(), nfc, "full-width J");
        assert_eq!(normalize_email("a.b+tag@example.com").unwrap(), "a.b+tag@example.com");
    }

    #[test]
    fn invisible_bidi_and_mixed_script_addresses_are_refused() {
        for bad in [
            "alice\u{200b}@example.com",
            "alice@example.com\u{200b}",
            "\u{202e}moc.elpmaxe@ecila",
            "alice\u{202e}@example.com",
            "al\u{200d}ice@example.com",
            "\u{430}lice@example.com", // Cyrillic а
            "alice@ex\u{430}mple.com",
            "al ice@example.com",
            "alice",
            "@example.com",
            "alice@",
            "al\u{0}ice@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn single_script_non_latin_addresses_are_fine() {
        assert_eq!(normalize_email("\u{41f}\u{420}\u{418}\u{41c}\u{415}\u{420}@example.com").unwrap(), "пример@example.com");
    }

    #[test]
    fn whole_script_look_alikes_share_a_skeleton() {
        assert!(normalize_email("paypal@example.com").is_ok());
        let cyrillic = normalize_email("\u{440}\u{430}\u{443}\u{440}\u{430}l@example.com");
        // All-Cyrillic "раураl" mixes with the Latin l: refused outright ...
        assert!(cyrillic.is_err());
        // ... and an all-Cyrillic look-alike that is single-script shares the skeleton.
        let all = normalize_email("\u{441}\u{440}\u{43e}@example.com").unwrap(); // all Cyrillic: "сро"
        assert_eq!(skeleton(&all), skeleton(&normalize_email("cpo@example.com").unwrap()));
        let apple = normalize_email("\u{430}\u{440}\u{440}\u{4cf}\u{435}@example.com").unwrap(); // all Cyrillic
        assert_eq!(skeleton(&apple), skeleton("apple@example.com"));
        // The limit of UTS #39's data (found in the red-team pass): Cyrillic м and п are not
        // confusables of m and n, so an all-Cyrillic "аԁміп" has its own skeleton. The admin
        // UI shows such addresses' code points.
        let admin = normalize_email("\u{430}\u{501}\u{43c}\u{456}\u{43f}@example.com").unwrap();
        assert_ne!(skeleton(&admin), skeleton("admin@example.com"));
    }
}
