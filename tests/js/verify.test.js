// The npm package through its plain Node import: API shape, options, codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Verifier, errorCodes } from "edgetoken";
import { AUDIENCE, ISSUER, NOW, forge, issuerKeys, mint, standardClaims } from "./helpers.js";

const keys = await issuerKeys();
const options = { issuer: ISSUER, audience: AUDIENCE, jwks: keys.jwks };

test("a jose-signed token verifies and returns its claims", async () => {
  const v = new Verifier(options);
  const token = await mint(keys, standardClaims({ role: "admin", nested: { a: [1, 2] } }));
  const r = v.verify(token, NOW + 1);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.claims.sub, "user-1");
  assert.equal(r.claims.sid, "session-1");
  assert.equal(r.claims.role, "admin");
  assert.deepEqual(r.claims.nested, { a: [1, 2] });
});

test("now defaults to the host clock", async () => {
  const v = new Verifier(options);
  const now = Math.floor(Date.now() / 1000);
  const fresh = await mint(keys, standardClaims({ iat: now, exp: now + 300 }));
  assert.equal(v.verify(fresh).ok, true);
  const expired = await mint(keys, standardClaims({ iat: now - 1000, exp: now - 100 }));
  assert.deepEqual(v.verify(expired).code, "expired");
});

test("jwks may be given as JSON text, and setKeys rotates keys", async () => {
  const v = new Verifier({ ...options, jwks: JSON.stringify(keys.jwks) });
  const next = await issuerKeys("k2");
  const oldToken = await mint(keys);
  const newToken = await mint(next);
  assert.equal(v.verify(oldToken, NOW).ok, true);
  assert.equal(v.verify(newToken, NOW).code, "key_not_found");
  v.setKeys(next.jwks);
  assert.equal(v.verify(oldToken, NOW).code, "key_not_found");
  assert.equal(v.verify(newToken, NOW).ok, true);
  assert.throws(() => v.setKeys({ keys: [{ ...next.jwk, crv: "P-384" }] }), { name: "EdgetokenError", code: "invalid_key" });
  assert.equal(v.verify(newToken, NOW).ok, true, "a refused setKeys keeps the previous keys");
});

test("verify never throws for bad tokens", () => {
  const v = new Verifier(options);
  for (const bad of [undefined, null, 42, {}, [], "", "a", "a.b", "a.b.c", "...", "x".repeat(10000)]) {
    const r = v.verify(bad, NOW);
    assert.equal(r.ok, false);
    assert.ok(errorCodes().includes(r.code), r.code);
    assert.equal(typeof r.message, "string");
  }
  assert.equal(v.verify("x".repeat(10000), NOW).code, "too_large");
});

test("an invalid now throws an EdgetokenError, not a verdict", async () => {
  const v = new Verifier(options);
  const token = await mint(keys);
  for (const now of [NaN, -1, Infinity]) assert.throws(() => v.verify(token, now), { code: "invalid_argument" });
});

test("the constructor refuses bad options with coded errors", () => {
  const cases = [
    [undefined, "invalid_config"],
    [{ ...options, issuer: undefined }, "invalid_config"],
    [{ ...options, audience: 5 }, "invalid_config"],
    [{ ...options, jwks: { keys: [] } }, "invalid_key"],
    [{ ...options, jwks: { keys: [{ ...keys.jwk, d: "AAAA" }] } }, "invalid_key"],
    [{ ...options, jwks: "x".repeat(70_000) }, "too_large"],
    [{ ...options, clockTolerance: 301 }, "invalid_config"],
    [{ ...options, clockTolerance: 1.5 }, "invalid_config"],
    [{ ...options, maxTokenLifetime: 0 }, "invalid_config"],
    [{ ...options, maxRevocationTtl: 0 }, "invalid_config"],
    [{ ...options, algorithms: ["none"] }, "invalid_config"],
    [{ ...options, algorithms: ["ES256", "HS256"] }, "invalid_config"],
    [{ ...options, audiance: AUDIENCE }, "invalid_config"],
    [{ ...options, revocationUrl: "https://auth.example.com/revocations" }, "invalid_config"],
    [{ ...options, typ: "" }, "invalid_config"],
  ];
  for (const [opts, code] of cases) {
    assert.throws(() => new Verifier(opts), { name: "EdgetokenError", code }, JSON.stringify(opts)?.slice(0, 80));
  }
});

test("options change the policy: typ, clockTolerance, maxTokenLifetime, requiredClaims", async () => {
  const noTyp = await mint(keys, standardClaims(), { typ: undefined });
  assert.equal(new Verifier(options).verify(noTyp, NOW).code, "typ_mismatch");
  assert.equal(new Verifier({ ...options, typ: null }).verify(noTyp, NOW).ok, true);
  const jwt = await mint(keys, standardClaims(), { typ: "JWT" });
  assert.equal(new Verifier({ ...options, typ: ["at+jwt", "jwt"] }).verify(jwt, NOW).ok, true);

  const token = await mint(keys);
  const exp = NOW + 600;
  assert.equal(new Verifier(options).verify(token, exp + 29).ok, true);
  assert.equal(new Verifier(options).verify(token, exp + 30).code, "expired");
  assert.equal(new Verifier({ ...options, clockTolerance: 0 }).verify(token, exp).code, "expired");
  assert.equal(new Verifier({ ...options, maxTokenLifetime: 599 }).verify(token, NOW).code, "lifetime_too_long");

  const noSid = await mint(keys, standardClaims({ sid: undefined }));
  assert.equal(new Verifier(options).verify(noSid, NOW).ok, true);
  assert.equal(new Verifier({ ...options, requiredClaims: ["sid"] }).verify(noSid, NOW).code, "claim_missing");
});

test("attack classes map to their codes through the package", async () => {
  const v = new Verifier(options);
  const good = await mint(keys);
  const [h, p, s] = good.split(".");
  const claims = standardClaims();
  const expectations = [
    [forge({ alg: "none", typ: "at+jwt" }, claims), "alg_not_allowed"],
    [forge({ alg: "NoNe", typ: "at+jwt" }, claims, s), "alg_not_allowed"],
    [forge({ alg: "HS256", typ: "at+jwt", kid: "k1" }, claims, s), "alg_not_allowed"],
    [forge({ typ: "at+jwt", kid: "k1" }, claims, s), "alg_not_allowed"],
    [forge({ alg: "ES256", typ: "at+jwt", jwk: keys.jwk }, claims, s), "header_not_allowed"],
    [forge({ alg: "ES256", typ: "at+jwt", jku: "https://evil.example/jwks" }, claims, s), "header_not_allowed"],
    [forge({ alg: "ES256", typ: "at+jwt", crit: ["exp"], exp: 1 }, claims, s), "header_not_allowed"],
    [forge({ alg: "ES256", typ: "JWT", kid: "k1" }, claims, s), "typ_mismatch"],
    [forge({ alg: "ES256", typ: "at+jwt", kid: "nope" }, claims, s), "key_not_found"],
    [`${h}.${p}.${s.slice(0, -2)}`, "bad_signature"],
    [`${h}.${Buffer.from(JSON.stringify({ ...claims, sub: "admin" })).toString("base64url")}.${s}`, "bad_signature"],
    [`${h}.${p}.${s}=`, "malformed"],
    [`${h}.${p}`, "malformed"],
  ];
  for (const [token, code] of expectations) {
    const r = v.verify(token, NOW);
    assert.equal(r.code, code, `${token.slice(0, 60)}: ${r.message}`);
  }
});

test("claims problems map to their codes through the package", async () => {
  const v = new Verifier(options);
  const cases = [
    [{ iss: "https://evil.example.com" }, "issuer_mismatch"],
    [{ aud: "https://other.example.com" }, "audience_mismatch"],
    [{ aud: ["x", AUDIENCE] }, null],
    [{ exp: undefined }, "claim_missing"],
    [{ exp: "1800000600" }, "claim_invalid"],
    [{ exp: 1800000600.5 }, "claim_invalid"],
    [{ iat: NOW + 31 }, "issued_in_future"],
    [{ nbf: NOW + 31 }, "not_yet_valid"],
    [{ exp: NOW + 901 }, "lifetime_too_long"],
    [{ sub: 7 }, "claim_invalid"],
    [{ jti: undefined }, "claim_missing"],
  ];
  for (const [overrides, code] of cases) {
    const r = v.verify(await mint(keys, standardClaims(overrides)), NOW);
    if (code === null) assert.equal(r.ok, true, r.message);
    else assert.equal(r.code, code, `${JSON.stringify(overrides)}: ${r.message}`);
  }
});

test("errorCodes lists every documented code exactly once", () => {
  const codes = errorCodes();
  assert.equal(new Set(codes).size, codes.length);
  for (const c of ["malformed", "too_large", "alg_not_allowed", "typ_mismatch", "header_not_allowed",
    "key_not_found", "bad_signature", "claim_missing", "claim_invalid", "issuer_mismatch",
    "audience_mismatch", "expired", "not_yet_valid", "issued_in_future", "lifetime_too_long",
    "revoked", "revocations_stale"]) {
    assert.ok(codes.includes(c), c);
  }
});

test("the README's Node example runs and verifies a token", () => {
  const out = execFileSync(process.execPath, ["examples/node/verify.mjs"], { encoding: "utf8" });
  assert.match(out, /valid token for user-1/);
});
