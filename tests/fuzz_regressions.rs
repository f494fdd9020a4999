//! Replays the kept fuzz reproducers (`fuzz/regressions/TARGET/*`) through the same
//! harness functions the fuzz targets run (`fuzz/src/lib.rs`, included here), so
//! `cargo test` fails if a fixed finding comes back. See docs/RELIABILITY.md, "Fuzzing".

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::fs;
use std::path::PathBuf;

/// A fuzz target: its corpus directory name and the harness function it runs.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 5] = [
    ("verify_token", harness::verify_token),
    ("jwks_parse", harness::jwks_parse),
    ("revocation_parse", harness::revocation_parse),
    ("verify_signed", harness::verify_signed),
    ("revocation_signed", harness::revocation_signed),
];

#[test]
fn fuzz_regressions_replay() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions"));
    assert!(root.is_dir(), "{} is missing", root.display());
    let mut replayed = 0;
    for (target, run) in TARGETS {
        let dir = root.join(target);
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.map(|e| e.expect("dir entry").path()).collect();
        files.sort();
        for file in files {
            let data = fs::read(&file).expect("read reproducer");
            println!("{target}: {}", file.display());
            run(&data);
            replayed += 1;
        }
    }
    println!("replayed {replayed} fuzz reproducers");
}

/// The harness itself works on the inputs it was built around: a valid token is accepted
/// (so the oracles run), a valid artifact installs, a key set parses.
#[test]
fn harness_smoke() {
    use edgetoken::sign::FilterSpec;
    use edgetoken::UnixTime;
    let claims = harness::valid_claims(harness::NOW);
    let token = harness::sign_token(harness::HEADER.as_bytes(), claims.as_bytes());
    let fx = harness::fixture();
    fx.strict.verify(&token, UnixTime::from_secs(harness::NOW)).expect("valid token");
    harness::verify_token(token.as_bytes());
    harness::verify_signed(&[&[128u8][..], claims.as_bytes()].concat());
    harness::jwks_parse(harness::public_jwk(&harness::signing_key(), "k1").as_bytes());
    let mut spec = FilterSpec::new(harness::ISS, 1, UnixTime::from_secs(harness::NOW), 60, 930);
    spec.sids = vec!["session-1".into()];
    let artifact = harness::build_artifact(&spec);
    edgetoken::revocation::RevocationList::verify(&artifact, &fx.keys, harness::ISS).expect("artifact");
    harness::revocation_parse(&artifact);
    harness::revocation_signed(&artifact[harness::REVOCATION_PREFIX.len()..artifact.len() - 64]);
}
