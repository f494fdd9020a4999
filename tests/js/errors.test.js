// One error type for everything the package throws, errorCodes() split by who returns or
// throws a code, options read as own properties only, and `now` never coerced.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Verifier, EdgetokenError, errorCodes } from "edgetoken";
import { buildRevocationFilter, EdgetokenError as BuilderError } from "edgetoken/builder";
import { AUDIENCE, ISSUER, NOW, issuerKeys, mint, standardClaims } from "./helpers.js";

const keys = await issuerKeys();
const options = { issuer: ISSUER, audience: AUDIENCE, jwks: keys.jwks };

const thrown = (fn) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected a throw");
};

test("everything thrown is an EdgetokenError with a listed code", () => {
  const v = new Verifier(options);
  const errors = [
    thrown(() => new Verifier({ ...options, typo: 1 })),
    thrown(() => new Verifier({ ...options, jwks: { keys: [] } })),
    thrown(() => v.setKeys("{")),
    thrown(() => v.setRevocations(new Uint8Array(10), NOW)),
    thrown(() => v.isRevoked({ iat: "yesterday" })),
    thrown(() => v.verify("t", "now")),
    thrown(() => errorCodes("everything")),
    thrown(() => buildRevocationFilter({})),
  ];
  const listed = errorCodes("thrown");
  for (const e of errors) {
    assert.ok(e instanceof EdgetokenError, `${e}`);
    assert.ok(e instanceof Error);
    assert.equal(e.name, "EdgetokenError");
    assert.ok(listed.includes(e.code), e.code);
    assert.match(e.message, /^edgetoken: /);
  }
  assert.equal(BuilderError, EdgetokenError, "one class for both modules");
  const own = new EdgetokenError("fetch_failed", "GET x failed", { cause: new Error("boom") });
  assert.ok(own instanceof EdgetokenError && own.code === "fetch_failed" && own.cause.message === "boom");
  assert.equal(new Error("x") instanceof EdgetokenError, false);
  assert.equal(Object.assign(new Error("x"), { code: "invalid_config" }) instanceof EdgetokenError, false, "name matters");
  assert.equal({ name: "EdgetokenError", code: "x" } instanceof EdgetokenError, false, "not an Error");
});

test("errorCodes() tells verify codes from thrown codes", () => {
  const all = errorCodes();
  const verify = errorCodes("verify");
  const load = errorCodes("thrown");
  assert.equal(new Set(all).size, all.length);
  assert.deepEqual([...new Set([...verify, ...load])].sort(), [...all].sort(), "every code is one or the other");
  for (const c of ["expired", "revoked", "key_not_found", "keys_unavailable", "revocations_stale"]) assert.ok(verify.includes(c), c);
  for (const c of ["invalid_config", "invalid_key", "revocations_unknown_key", "revocations_too_long_lived", "discovery_invalid", "fetch_failed"]) {
    assert.ok(load.includes(c) && !verify.includes(c), c);
  }
  assert.deepEqual(verify.filter((c) => load.includes(c)).sort(), ["revocations_stale", "too_large"]);
});

test("options are read as own properties only", async () => {
  const token = await mint(keys);
  Object.prototype.revocation = "off";
  Object.prototype.maxTokenLifetime = 1;
  try {
    // Keyless: revocation required by default; the polluted prototype does not switch it off.
    assert.equal(new Verifier({ issuer: ISSUER, audience: AUDIENCE }).revocationStatus(NOW).required, true);
    assert.equal(new Verifier(options).verify(token, NOW).ok, true, "an inherited maxTokenLifetime is not read");
  } finally {
    delete Object.prototype.revocation;
    delete Object.prototype.maxTokenLifetime;
  }
  // An options object whose prototype carries options: none of them is read...
  const inherited = Object.assign(Object.create({ revocation: "off", jwks: keys.jwks, typo: 1 }), {
    issuer: ISSUER,
    audience: AUDIENCE,
  });
  const v = new Verifier(inherited);
  assert.equal(v.keyIds(), null, "inherited jwks not read");
  assert.equal(v.revocationStatus(NOW).required, true, "inherited revocation not read");
  // ...and own names are still checked.
  assert.throws(() => new Verifier({ ...options, revocatoin: "off" }), { code: "invalid_config" });
});

test("now must be a number: strings, booleans, arrays, Dates and objects are refused", async () => {
  const v = new Verifier(options);
  const token = await mint(keys);
  for (const now of [String(NOW), true, [NOW], new Date(NOW * 1000), { valueOf: () => NOW }, 10n]) {
    assert.throws(() => v.verify(token, now), { name: "EdgetokenError", code: "invalid_argument" }, typeof now);
    assert.throws(() => v.setRevocations(new Uint8Array(0), now), { code: "invalid_argument" });
    assert.throws(() => v.revocationStatus(now), { code: "invalid_argument" });
  }
  assert.equal(v.verify(token, NOW).ok, true);
  const real = Math.floor(Date.now() / 1000);
  const fresh = await mint(keys, { ...standardClaims(), iat: real, exp: real + 300 });
  assert.equal(v.verify(fresh, undefined).ok, true, "undefined: the host clock");
  assert.equal(v.verify(fresh, null).ok, true, "null: the host clock");
  assert.equal(v.verify(token, NOW + 0.9).ok, true, "fractions truncate");
});
