// The verified-token cache through the package: on by default, `cache: false` turns it
// off, options are validated, and a hit still applies time, revocation and rotation.
import test from "node:test";
import assert from "node:assert/strict";
import { Verifier } from "edgetoken";
import { AUDIENCE, ISSUER, NOW, issuerKeys, mint } from "./helpers.js";

const keys = await issuerKeys();
const token = await mint(keys);
const options = (extra = {}) => ({ issuer: ISSUER, audience: AUDIENCE, jwks: keys.jwks, ...extra });

test("a seen token is re-checked for time on every hit", () => {
  const v = new Verifier(options());
  assert.equal(v.verify(token, NOW).ok, true);
  assert.equal(v.verify(token, NOW).ok, true);
  assert.equal(v.verify(token, NOW + 600 + 30).code, "expired");
  assert.equal(v.verify(token, NOW - 1000).code, "issued_in_future");
  assert.equal(v.verify(token, NOW).ok, true);
});

test("claims on a hit are a fresh object equal to the first", () => {
  const v = new Verifier(options());
  const a = v.verify(token, NOW);
  a.claims.sub = "mutated";
  const b = v.verify(token, NOW);
  assert.equal(b.claims.sub, "user-1");
});

test("setKeys clears the cache: the old key's token is refused", async () => {
  const v = new Verifier(options());
  assert.equal(v.verify(token, NOW).ok, true);
  const other = await issuerKeys("k1");
  v.setKeys(other.jwks);
  assert.equal(v.verify(token, NOW).code, "bad_signature");
});

test("cache options: false, limits, and refusals", () => {
  assert.equal(new Verifier(options({ cache: false })).verify(token, NOW).ok, true);
  assert.equal(new Verifier(options({ cache: { maxEntries: 2, maxBytes: 4096 } })).verify(token, NOW).ok, true);
  assert.throws(() => new Verifier(options({ cache: { size: 3 } })), /unknown option "size"/);
  assert.throws(() => new Verifier(options({ cache: "yes" })), /cache must be/);
  assert.throws(() => new Verifier(options({ cache: { maxEntries: -1 } })), /maxEntries/);
});
