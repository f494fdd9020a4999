//! Writes the seed corpora (deterministic) into `corpus/<target>/` from the shared test
//! vectors (`../shared/vectors` or `$EDGETOKEN_VECTORS`: Wycheproof JWS and JWK, RFC 7515
//! A.3) and from valid tokens and revocation artifacts built with the harness key.
//!
//! `cargo run --example make_seeds [-- OUT_DIR]` (run.sh does it when a corpus is empty).

use edgetoken::sign::FilterSpec;
use edgetoken::UnixTime;
use edgetoken_fuzz::*;
use std::fs;
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    match std::env::var_os("EDGETOKEN_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors")),
    }
}

fn load(rel: &str) -> serde_json::Value {
    let path = vectors_dir().join(rel);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector JSON")
}

struct Out {
    dir: PathBuf,
    n: usize,
}

impl Out {
    fn new(root: &Path, target: &str) -> Out {
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("corpus dir");
        Out { dir, n: 0 }
    }
    fn put(&mut self, bytes: impl AsRef<[u8]>) {
        fs::write(self.dir.join(format!("seed-{:04}", self.n)), bytes).expect("write seed");
        self.n += 1;
    }
}

fn claims_variants() -> Vec<String> {
    let v = valid_claims(NOW);
    let mut out = vec![
        v.clone(),
        v.replace("\"aud\":\"https://app.example.com\"", "\"aud\":[\"x\",\"https://app.example.com\"]"),
        v.replace('}', ",\"nbf\":1800000000}"),
        v.replace('}', ",\"scope\":\"read write\",\"roles\":[\"a\",{\"b\":null}],\"n\":1.5e3}"),
        v.replace("1800000600", "1800000600.0"),
        v.replace("1800000600", "1e400"),
        v.replace("1800000600", "9007199254740993"),
        v.replace("\"sub\":\"user-1\"", "\"sub\":\"us\\u0065r-\\ud83d\\ude00\""),
        v.replace("\"sub\":\"user-1\"", "\"sub\":\"a\",\"sub\":\"b\""),
        v.replace(',', " ,\r\n\t"),
        valid_claims(NOW - 900),
        "{}".to_string(),
    ];
    out.push(format!("{{\"x\":{}}}", "[".repeat(130)));
    out
}

fn header_variants() -> Vec<&'static str> {
    vec![
        HEADER,
        r#"{"alg":"ES256","typ":"application/AT+JWT","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"at+jwt"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"kid-ec-sign"}"#,
        r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"k1","crit":["exp"]}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"k1","jwk":{"kty":"EC"}}"#,
        r#"{"alg":"ES256","alg":"ES256","typ":"at+jwt","kid":"k1"}"#,
        r#"{"alg":"ES\u0032\u0035\u0036","typ":"at+jwt","kid":"k1"}"#,
    ]
}

fn main() {
    let root = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))
    });

    // verify_token: signed tokens, RFC 7515 A.3, Wycheproof JWS strings, a few refusals.
    let mut tokens = Out::new(&root, "verify_token");
    for h in header_variants() {
        tokens.put(sign_token(h.as_bytes(), valid_claims(NOW).as_bytes()));
    }
    for c in claims_variants() {
        tokens.put(sign_token(HEADER.as_bytes(), c.as_bytes()));
    }
    let a3 = load("rfc7515-a3.json");
    tokens.put(a3["token"].as_str().expect("A.3 token"));
    let jws = load("wycheproof/json_web_signature_test.json");
    for g in jws["testGroups"].as_array().expect("groups") {
        for t in g["tests"].as_array().expect("tests") {
            if let Some(s) = t["jws"].as_str() {
                tokens.put(s);
            }
        }
    }
    let good = sign_token(HEADER.as_bytes(), valid_claims(NOW).as_bytes());
    tokens.put(format!("{good}=="));
    tokens.put(good.replacen('.', "..", 1));

    // jwks_parse: our sets, A.3, Wycheproof JWK and JWS key material (public and private).
    let mut jwks = Out::new(&root, "jwks_parse");
    let k1 = public_jwk(&signing_key(), KID);
    jwks.put(&k1);
    jwks.put(format!(r#"{{"keys":[{k1},{WYCHEPROOF_JWK}]}}"#));
    jwks.put(format!(r#"{{"keys":[{k1},{k1}]}}"#));
    jwks.put(A3_JWK);
    jwks.put(serde_json::to_string(&a3["jwk_private"]).expect("json"));
    jwks.put(k1.replace('}', r#","use":"sig","key_ops":["verify"],"alg":"ES256"}"#));
    jwks.put(k1.replace('}', r#","use":"enc","key_ops":["sign"],"alg":"ES384"}"#));
    for file in ["wycheproof/json_web_key_test.json", "wycheproof/json_web_signature_test.json"] {
        let v = load(file);
        for g in v["testGroups"].as_array().expect("groups") {
            for k in ["private", "public"] {
                if !g[k].is_null() {
                    jwks.put(serde_json::to_string(&g[k]).expect("json"));
                }
            }
        }
    }

    // revocation_parse and revocation_signed: real artifacts signed by k1.
    let mut specs = Vec::new();
    let base = FilterSpec::new(ISS, 7, UnixTime::from_secs(NOW - 5), 60, 930);
    specs.push(base.clone());
    let mut s = base.clone();
    s.sids = vec!["session-1".into(), "session-2".into()];
    s.jtis = vec!["token-9".into()];
    specs.push(s);
    let mut s = base.clone();
    s.users = vec![("user-1".into(), NOW), ("user-2".into(), NOW - 100)];
    s.global_not_before = Some(NOW - 1000);
    s.sids = (0..40).map(|i| format!("s{i}")).collect();
    specs.push(s);
    let mut s = base.clone();
    s.issuer = "https://other.example".into();
    specs.push(s);
    let mut raw = Out::new(&root, "revocation_parse");
    let mut signed = Out::new(&root, "revocation_signed");
    for spec in &specs {
        let artifact = build_artifact(spec);
        raw.put(&artifact);
        let body = &artifact[REVOCATION_PREFIX.len()..artifact.len() - 64];
        assert!(artifact.starts_with(REVOCATION_PREFIX));
        signed.put(body);
    }

    // verify_signed: flags byte (now = NOW - 1024 + 8 * flags; 128 is NOW) + [header 0xFF] payload.
    let mut vs = Out::new(&root, "verify_signed");
    for c in claims_variants() {
        vs.put([&[128u8][..], c.as_bytes()].concat());
    }
    for h in header_variants() {
        vs.put([&[128u8][..], h.as_bytes(), &[SEPARATOR], valid_claims(NOW).as_bytes()].concat());
    }
    vs.put([&[200u8][..], valid_claims(NOW).as_bytes()].concat());

    for (name, n) in [
        ("verify_token", tokens.n),
        ("jwks_parse", jwks.n),
        ("revocation_parse", raw.n),
        ("revocation_signed", signed.n),
        ("verify_signed", vs.n),
    ] {
        println!("{name}: {n} seeds in {}", root.join(name).display());
    }
}
