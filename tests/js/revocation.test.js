// Revocation through pkg: buildRevocationFilter, setRevocations, revocationStatus, the
// filter codes, and the builder's separate module. (IssuerSync: issuer-sync.test.js.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { exportJWK, generateKeyPair } from "jose";
import { Verifier, EdgetokenError } from "edgetoken";
import { buildRevocationFilter } from "edgetoken/builder";
import { AUDIENCE, ISSUER, NOW, mint, standardClaims } from "./helpers.js";

async function signer(kid) {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const priv = { ...(await exportJWK(privateKey)), kid };
  const pub = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { publicKey, privateKey, kid, jwk: pub, jwks: { keys: [pub] }, priv };
}

const keys = await signer("k1");
const filter = (overrides = {}) =>
  buildRevocationFilter({ issuer: ISSUER, key: keys.priv, sequence: 1, builtAt: NOW, ttl: 60, ...overrides });
const newVerifier = (extra = {}) => new Verifier({ issuer: ISSUER, audience: AUDIENCE, jwks: keys.jwks, ...extra });

test("revoked sessions, tokens, users and the global cut-off are refused", async () => {
  const v = newVerifier({ revocation: "required" });
  const status = v.setRevocations(
    filter({ sids: ["s-bad"], jtis: ["j-bad"], users: { mallory: NOW + 1 } }),
    NOW + 1,
  );
  assert.deepEqual(
    { loaded: status.loaded, required: status.required, stale: status.stale, sequence: status.sequence,
      builtAt: status.builtAt, notAfter: status.notAfter, entries: status.entries, users: status.users, kid: status.kid },
    { loaded: true, required: true, stale: false, sequence: 1, builtAt: NOW, notAfter: NOW + 60, entries: 2, users: 1, kid: "k1" },
  );
  const verdict = async (claims) => v.verify(await mint(keys, standardClaims(claims)), NOW + 2);
  assert.equal((await verdict({})).ok, true);
  assert.equal((await verdict({ sid: "s-bad" })).code, "revoked");
  assert.equal((await verdict({ jti: "j-bad" })).code, "revoked");
  assert.equal((await verdict({ sub: "mallory" })).code, "revoked");
  assert.equal((await verdict({ sub: "mallory", iat: NOW + 1 })).ok, true);
  assert.equal(v.isRevoked({ sid: "s-bad", iat: NOW }), true);
  assert.equal(v.isRevoked({ sid: "s-good", jti: "j-good", sub: "bob", iat: NOW }), false);
  assert.equal(v.isRevoked({ sub: "mallory", iat: NOW }), true);
  assert.equal(v.isRevoked({ sid: "s-bad", iat: NOW + 31 }), false, "issued after built_at + tolerance");
  assert.throws(() => v.isRevoked({ sid: "s-bad" }), { code: "invalid_argument" });
  assert.equal(newVerifier().isRevoked({ sid: "s-bad", iat: NOW }), null);
  v.setRevocations(filter({ sequence: 2, notBefore: NOW + 1 }), NOW + 2);
  assert.equal((await verdict({})).code, "revoked");
  assert.equal(v.revocationStatus(NOW + 2).globalNotBefore, NOW + 1);
});

test("required revocation fails closed: no filter, then stale", async () => {
  const token = await mint(keys);
  const v = newVerifier({ revocation: "required" });
  assert.equal(v.revocationStatus(NOW).required, true);
  assert.equal(v.verify(token, NOW).code, "revocations_stale");
  v.setRevocations(filter(), NOW);
  assert.equal(v.verify(token, NOW + 60).ok, true);
  assert.equal(v.verify(token, NOW + 61).code, "revocations_stale");
  assert.equal(v.revocationStatus(NOW + 61).stale, true);
  const initial = newVerifier({ revocations: filter({ builtAt: Math.floor(Date.now() / 1000) }) });
  assert.equal(initial.revocationStatus().loaded, true);
  assert.equal(newVerifier().revocationStatus().required, false, "off unless configured");
  assert.equal(
    new Verifier({ issuer: ISSUER, audience: AUDIENCE }).revocationStatus().required,
    true,
    "required by default for a verifier fed by a sync (no jwks)",
  );
  assert.throws(() => newVerifier({ revocation: "maybe" }), { code: "invalid_config" });
});

test("bad filters throw coded errors and keep the previous filter", async () => {
  const v = newVerifier();
  v.setRevocations(filter({ sequence: 5, sids: ["s-bad"] }), NOW);
  const other = await signer("k1");
  const unknownKid = await signer("k9");
  const good = filter({ sequence: 6 });
  const flipped = good.slice();
  flipped[40] ^= 1;
  const cases = [
    [filter({ sequence: 4 }), "revocations_rollback"],
    [filter({ sequence: 6, builtAt: NOW - 100 }), "revocations_stale"],
    [buildRevocationFilter({ issuer: ISSUER, key: other.priv, sequence: 6, builtAt: NOW, ttl: 60 }), "revocations_bad_signature"],
    [buildRevocationFilter({ issuer: ISSUER, key: unknownKid.priv, sequence: 6, builtAt: NOW, ttl: 60 }), "revocations_unknown_key"],
    [filter({ sequence: 6, issuer: "https://evil.example" }), "revocations_issuer_mismatch"],
    [filter({ sequence: 6, ttl: 3601 }), "revocations_too_long_lived"],
    [filter({ sequence: 2 ** 53, ttl: 2 ** 53 - NOW }), "revocations_too_long_lived"],
    [filter({ sequence: 6, window: 929 }), "revocations_window_too_short"],
    [good.slice(0, good.length - 1), "revocations_bad_signature"],
    [good.slice(0, 50), "revocations_invalid"],
    [flipped, "revocations_bad_signature"],
    [new Uint8Array(3), "revocations_invalid"],
    ["not bytes", "revocations_invalid"],
  ];
  for (const [bytes, code] of cases) {
    assert.throws(() => v.setRevocations(bytes, NOW), (e) => e instanceof EdgetokenError && e.code === code, code);
    assert.equal(v.revocationStatus(NOW).sequence, 5, `${code}: previous filter kept`);
  }
  assert.equal(v.setRevocations(good, NOW).sequence, 6);
});

test("buildRevocationFilter refuses bad input clearly", async () => {
  const base = { issuer: ISSUER, key: keys.priv, sequence: 1, builtAt: NOW, ttl: 60 };
  const cases = [
    [{ ...base, key: keys.jwk }, "invalid_key"],
    [{ ...base, key: { ...keys.priv, kid: undefined } }, "invalid_key"],
    [{ ...base, key: { ...keys.priv, kid: "k".repeat(256) } }, "invalid_key"],
    [{ ...base, key: { ...keys.priv, x: keys.priv.y } }, "invalid_key"],
    [{ ...base, sequence: -1 }, "invalid_config"],
    [{ ...base, ttl: undefined }, "invalid_config"],
    [{ ...base, sids: "s-1" }, "invalid_config"],
    [{ ...base, users: { bob: "yesterday" } }, "invalid_config"],
    [{ ...base, falsePositiveRate: 0 }, "invalid_config"],
    [{ ...base, sid: ["typo"] }, "invalid_config"],
  ];
  for (const [opts, code] of cases) {
    assert.throws(() => buildRevocationFilter(opts), (e) => e instanceof EdgetokenError && e.code === code, code);
  }
  // A fresh random salt per build: two builds of the same input differ.
  assert.notDeepEqual(filter({ sids: ["a"] }), filter({ sids: ["a"] }));
});

test("edges never load the builder: it is its own module, edgetoken/builder", async () => {
  const edge = await import("edgetoken");
  assert.equal(edge.buildRevocationFilter, undefined, "the main entry must not export the builder");
  const exportsOf = (file) =>
    WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(new URL(`../../pkg/gen/${file}`, import.meta.url))))
      .map((e) => e.name);
  const verifierWasm = exportsOf("edgetoken_bg.wasm");
  const builderWasm = exportsOf("edgetoken_builder_bg.wasm");
  assert.ok(verifierWasm.includes("verifier_verify") && !verifierWasm.includes("buildRevocationFilter"));
  assert.ok(builderWasm.includes("buildRevocationFilter") && !builderWasm.includes("verifier_verify"));
});
