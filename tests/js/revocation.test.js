// Revocation through pkg: buildRevocationFilter, setRevocations, revocationStatus, and the
// RevocationSync helper (ETag, single flight, backoff, fail closed, recovery).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { exportJWK, generateKeyPair } from "jose";
import { Verifier, RevocationSync } from "edgetoken";
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
  assert.throws(() => v.isRevoked({ sid: "s-bad" }), /iat/);
  assert.equal(newVerifier().isRevoked({ sid: "s-bad", iat: NOW }), null);
  v.setRevocations(filter({ sequence: 2, notBefore: NOW + 1 }), NOW + 2);
  assert.equal((await verdict({})).code, "revoked");
  assert.equal(v.revocationStatus(NOW + 2).globalNotBefore, NOW + 1);
});

test("required revocation fails closed: no filter, then stale", async () => {
  const token = await mint(keys);
  const v = newVerifier({ revocationUrl: "http://127.0.0.1:1/revocations" });
  assert.equal(v.revocationStatus(NOW).required, true, "a revocationUrl makes it required by default");
  assert.equal(v.verify(token, NOW).code, "revocations_stale");
  v.setRevocations(filter(), NOW);
  assert.equal(v.verify(token, NOW + 60).ok, true);
  assert.equal(v.verify(token, NOW + 61).code, "revocations_stale");
  assert.equal(v.revocationStatus(NOW + 61).stale, true);
  const initial = newVerifier({ revocations: filter({ builtAt: Math.floor(Date.now() / 1000) }) });
  assert.equal(initial.revocationStatus().loaded, true);
  assert.equal(newVerifier().revocationStatus().required, false, "off unless configured");
  assert.throws(() => newVerifier({ revocation: "maybe" }), /revocation must be/);
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
    [buildRevocationFilter({ issuer: ISSUER, key: other.priv, sequence: 6, builtAt: NOW, ttl: 60 }), "bad_signature"],
    [buildRevocationFilter({ issuer: ISSUER, key: unknownKid.priv, sequence: 6, builtAt: NOW, ttl: 60 }), "key_not_found"],
    [filter({ sequence: 6, issuer: "https://evil.example" }), "issuer_mismatch"],
    [good.slice(0, good.length - 1), "bad_signature"],
    [good.slice(0, 50), "revocations_invalid"],
    [flipped, "bad_signature"],
    [new Uint8Array(3), "revocations_invalid"],
    ["not bytes", "revocations_invalid"],
  ];
  for (const [bytes, code] of cases) {
    assert.throws(() => v.setRevocations(bytes, NOW), (e) => e.code === code && /edgetoken/.test(e.message), code);
    assert.equal(v.revocationStatus(NOW).sequence, 5, `${code}: previous filter kept`);
  }
  assert.equal(v.setRevocations(good, NOW).sequence, 6);
});

test("buildRevocationFilter refuses bad input clearly", async () => {
  const base = { issuer: ISSUER, key: keys.priv, sequence: 1, builtAt: NOW, ttl: 60 };
  const cases = [
    [{ ...base, key: keys.jwk }, /d must be/],
    [{ ...base, key: { ...keys.priv, kid: undefined } }, /kid/],
    [{ ...base, key: { ...keys.priv, x: keys.priv.y } }, /do not match/],
    [{ ...base, sequence: -1 }, /sequence/],
    [{ ...base, ttl: undefined }, /ttl/],
    [{ ...base, sids: "s-1" }, /sids must be an array/],
    [{ ...base, users: { bob: "yesterday" } }, /users/],
    [{ ...base, falsePositiveRate: 0 }, /falsePositiveRate/],
    [{ ...base, sid: ["typo"] }, /unknown option "sid"/],
  ];
  for (const [opts, message] of cases) assert.throws(() => buildRevocationFilter(opts), message);
  // A fresh random salt per build: two builds of the same input differ.
  assert.notDeepEqual(filter({ sids: ["a"] }), filter({ sids: ["a"] }));
});

/** A fake origin for RevocationSync: counts requests, honours If-None-Match. */
function fakeOrigin() {
  const origin = { requests: 0, conditional: 0, down: false, bytes: null, etag: null, gate: null };
  origin.publish = (bytes, etag) => Object.assign(origin, { bytes, etag });
  origin.fetch = async (url, init = {}) => {
    origin.requests += 1;
    if (origin.gate) await origin.gate;
    if (origin.down) throw new TypeError("fetch failed: connection refused");
    const inm = init.headers?.["if-none-match"];
    if (inm) origin.conditional += 1;
    if (inm && inm === origin.etag) return new Response(null, { status: 304 });
    return new Response(origin.bytes, { status: 200, headers: { etag: origin.etag } });
  };
  return origin;
}

test("RevocationSync: single flight, ETag, background refresh, backoff, fail closed, recovery", async () => {
  let clock = NOW;
  const origin = fakeOrigin();
  origin.publish(filter({ sequence: 1, builtAt: NOW, ttl: 30 }), '"1"');
  const v = newVerifier({ revocationUrl: "https://auth.example.com/revocations" });
  const errors = [];
  const sync = new RevocationSync(v, { fetch: origin.fetch, now: () => clock, interval: 5, margin: 5, onError: (e) => errors.push(e) });
  const token = await mint(keys, standardClaims({ sid: "s-1" }));

  // Single flight: ten concurrent callers share one request.
  let release;
  origin.gate = new Promise((r) => (release = r));
  const waits = Array.from({ length: 10 }, () => sync.ensureFresh());
  release();
  origin.gate = null;
  await Promise.all(waits);
  assert.equal(origin.requests, 1);
  assert.equal(v.verify(token, clock).ok, true);

  // Not due yet: no request.
  clock += 2;
  await sync.ensureFresh();
  assert.equal(origin.requests, 1);

  // Due: a conditional GET that answers 304.
  clock += 4;
  await sync.ensureFresh();
  await sync.refresh().catch(() => {});
  assert.ok(origin.conditional >= 1, "If-None-Match sent");

  // The origin revokes s-1; the next refresh picks it up within the interval.
  origin.publish(filter({ sequence: 2, builtAt: clock, ttl: 30, sids: ["s-1"] }), '"2"');
  clock += 6;
  await sync.refresh();
  assert.equal(v.verify(token, clock).code, "revoked");

  // Origin down: backoff grows, the last filter keeps working until not_after...
  const good = await mint(keys, standardClaims({ sid: "s-2", iat: clock, exp: clock + 600 }));
  origin.down = true;
  const before = origin.requests;
  for (let i = 0; i < 4; i++) {
    await sync.refresh().catch(() => {});
  }
  assert.equal(origin.requests - before, 4);
  assert.equal(sync.status().failures, 4);
  assert.ok(sync.status().nextAttemptAt - clock >= 4, "backoff at least 2^3 * 0.5 s");
  assert.equal(v.verify(good, clock).ok, true);
  await sync.ensureFresh(); // in backoff and not urgent: no request
  assert.equal(origin.requests - before, 4);
  // ...then fails closed once not_after passes...
  clock += 31;
  assert.equal(v.verify(good, clock).code, "revocations_stale");
  assert.equal(errors.length >= 4, true);
  // ...and recovers by itself when the origin returns.
  origin.down = false;
  clock += 31; // past any backoff
  origin.publish(filter({ sequence: 3, builtAt: clock, ttl: 30 }), '"3"');
  await sync.ensureFresh();
  assert.equal(v.verify(await mint(keys, standardClaims({ iat: clock, exp: clock + 600 })), clock).ok, true);
  assert.equal(sync.status().failures, 0);
});

test("RevocationSync over real HTTP with the global fetch", async () => {
  let bytes = filter({ sequence: 1, builtAt: Math.floor(Date.now() / 1000), ttl: 60 });
  let hits = 0;
  const server = createServer((req, res) => {
    hits += 1;
    if (req.headers["if-none-match"] === '"a"') return res.writeHead(304).end();
    res.writeHead(200, { etag: '"a"', "content-type": "application/octet-stream" }).end(Buffer.from(bytes));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const url = `http://127.0.0.1:${server.address().port}/revocations`;
    const v = newVerifier({ revocationUrl: url });
    const sync = new RevocationSync(v);
    const st = await sync.refresh();
    assert.equal(st.sequence, 1);
    const again = await sync.refresh();
    assert.equal(again.sequence, 1);
    assert.equal(hits, 2);
    assert.throws(() => new RevocationSync(newVerifier()), /needs a url/);
  } finally {
    server.close();
  }
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
