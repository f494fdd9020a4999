// IssuerSync against a fake origin (discovery document, JWKS, filter, each with ETags):
// discovery, conditional GETs and 304s, single flight, key rotation, unknown-kid key fetch
// and its rate limit, key withdrawal with a forged filter, backoff, fail closed, recovery,
// and refused discovery documents. Plus one run over real HTTP with the global fetch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { exportJWK, generateKeyPair } from "jose";
import { Verifier, IssuerSync, EdgetokenError } from "edgetoken";
import { buildRevocationFilter } from "edgetoken/builder";
import { AUDIENCE, ISSUER, NOW, mint, standardClaims } from "./helpers.js";

const DISCOVERY_URL = "https://auth.example.com/.well-known/edgetoken.json";

async function signer(kid) {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const priv = { ...(await exportJWK(privateKey)), kid };
  const pub = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { publicKey, privateKey, kid, jwk: pub, priv };
}

const discoveryDoc = (overrides = {}) => ({
  issuer: ISSUER,
  audience: AUDIENCE,
  jwks_uri: "/.well-known/jwks.json",
  revocations_uri: "https://auth.example.com/revocations",
  clock_tolerance: 30,
  max_token_lifetime: 900,
  revocation_window: 960,
  revocation_ttl: 60,
  revocation_max_ttl: 3600,
  sync_interval: 2,
  key_prepublication: 3600,
  future_member: { ignored: true },
  ...overrides,
});

/** A fake origin: three resources with strong ETags, honouring If-None-Match. */
function fakeOrigin(clock) {
  const origin = {
    requests: { discovery: 0, jwks: 0, revocations: 0 },
    notModified: { discovery: 0, jwks: 0, revocations: 0 },
    down: false,
    gate: null,
    sequence: 0,
    versions: { discovery: 0, jwks: 0, revocations: 0 },
    bodies: {},
  };
  const bump = (name, body) => {
    origin.versions[name] += 1;
    origin.bodies[name] = body;
  };
  origin.setDiscovery = (doc) => bump("discovery", JSON.stringify(doc));
  origin.setKeys = (signers) => bump("jwks", JSON.stringify({ keys: signers.map((s) => s.jwk) }));
  origin.publishFilter = (by, extra = {}) => {
    origin.sequence += 1;
    bump(
      "revocations",
      buildRevocationFilter({ issuer: ISSUER, key: by.priv, sequence: origin.sequence, builtAt: clock(), ttl: 60, ...extra }),
    );
  };
  origin.fetch = async (url, init = {}) => {
    const name = url === DISCOVERY_URL ? "discovery"
      : url === "https://auth.example.com/.well-known/jwks.json" ? "jwks"
      : url === "https://auth.example.com/revocations" ? "revocations" : null;
    assert.ok(name, `unexpected URL ${url}`);
    origin.requests[name] += 1;
    if (origin.gate) await origin.gate;
    if (origin.down) throw new TypeError("fetch failed: connection refused");
    const etag = `"${name}-${origin.versions[name]}"`;
    if (init.headers?.["if-none-match"] === etag) {
      origin.notModified[name] += 1;
      return new Response(null, { status: 304, headers: { etag } });
    }
    return new Response(origin.bodies[name], { status: 200, headers: { etag } });
  };
  return origin;
}

async function setup(syncOptions = {}) {
  let now = NOW;
  const clock = () => now;
  const k1 = await signer("k1");
  const origin = fakeOrigin(clock);
  origin.setDiscovery(discoveryDoc());
  origin.setKeys([k1]);
  origin.publishFilter(k1);
  const verifier = new Verifier({ issuer: ISSUER, audience: AUDIENCE });
  const errors = [];
  const sync = new IssuerSync(verifier, {
    discovery: DISCOVERY_URL,
    fetch: origin.fetch,
    now: clock,
    onError: (e) => errors.push(e),
    ...syncOptions,
  });
  const advance = (s) => (now += s);
  const token = (by, claims = {}) => mint(by, standardClaims({ iat: now, exp: now + 600, ...claims }));
  return { origin, verifier, sync, k1, clock, advance, token, errors };
}

test("a keyless verifier fails closed until the first sync; then discovery, JWKS and filter load", async () => {
  const { origin, verifier, sync, k1, token } = await setup();
  const t = await token(k1);
  assert.equal(verifier.verify(t, NOW).code, "keys_unavailable");
  assert.equal(verifier.keyIds(), null);
  const result = await sync.verify(t);
  assert.equal(result.ok, true, result.message);
  assert.deepEqual(verifier.keyIds(), ["k1"]);
  assert.equal(sync.discovery.jwks_uri, "https://auth.example.com/.well-known/jwks.json", "relative URI resolved");
  assert.equal(sync.discovery.future_member, undefined, "unknown members ignored");
  assert.equal(sync.interval, 2, "the discovery's sync_interval");
  assert.deepEqual(origin.requests, { discovery: 1, jwks: 1, revocations: 1 });
  assert.equal(sync.status().revocations.sequence, 1);
});

test("single flight, and conditional GETs answered 304 change nothing", async () => {
  const { origin, sync, advance } = await setup();
  let release;
  origin.gate = new Promise((r) => (release = r));
  const waits = Array.from({ length: 10 }, () => sync.ensureFresh());
  release();
  origin.gate = null;
  await Promise.all(waits);
  assert.deepEqual(origin.requests, { discovery: 1, jwks: 1, revocations: 1 });

  advance(1);
  await sync.ensureFresh(); // not due
  assert.deepEqual(origin.requests, { discovery: 1, jwks: 1, revocations: 1 });
  advance(1.5);
  const waited = [];
  await sync.ensureFresh({ waitUntil: (p) => waited.push(p) }); // due, not urgent: background
  await Promise.all(waited);
  assert.equal(waited.length, 1, "the background sync was handed to waitUntil");
  assert.deepEqual(origin.requests, { discovery: 1, jwks: 2, revocations: 2 }, "discovery re-read only every 60 s");
  assert.deepEqual(origin.notModified, { discovery: 0, jwks: 1, revocations: 1 });
  advance(60);
  await sync.refresh();
  assert.equal(origin.notModified.discovery, 1, "discovery revalidated with If-None-Match");
});

test("routine rotation: a filter signed by the new key is accepted on the next sync", async () => {
  const { origin, verifier, sync, k1, advance, token } = await setup();
  await sync.refresh();
  const old = await token(k1);
  const k2 = await signer("k2");
  // Pre-publication, then the switch: the new key signs filters and tokens.
  origin.setKeys([k1, k2]);
  advance(2);
  await sync.refresh();
  origin.publishFilter(k2);
  advance(2);
  await sync.refresh();
  assert.equal(verifier.revocationStatus(sync.now()).kid, "k2");
  assert.equal((await sync.verify(await token(k2))).ok, true);
  assert.equal((await sync.verify(old)).ok, true, "tokens of the retired key still verify");
});

test("a token with an unknown kid fetches the keys first, at most once per keyCooldown", async () => {
  // A long interval isolates the unknown-kid path from the periodic sync.
  const { origin, sync, k1, advance, token } = await setup({ keyCooldown: 10, interval: 1000 });
  await sync.refresh();
  const k2 = await signer("k2");
  origin.setKeys([k1, k2]); // the origin rotated between two syncs
  const before = origin.requests.jwks;
  advance(5);
  assert.equal((await sync.verify(await token(k2))).code, "key_not_found", "within the cooldown of the last fetch");
  assert.equal(origin.requests.jwks, before);
  advance(5);
  assert.equal((await sync.verify(await token(k2))).ok, true, "fetched k2, then verified");
  assert.equal(origin.requests.jwks, before + 1);
  // Forged tokens naming unknown kids cannot make the edge hammer the origin.
  const k9 = await signer("k9");
  for (let i = 0; i < 5; i++) {
    assert.equal((await sync.verify(await token(k9))).code, "key_not_found");
    advance(1);
  }
  assert.equal(origin.requests.jwks, before + 1, "no fetch within the cooldown");
  advance(5);
  await Promise.all([sync.verify(await token(k9)), sync.verify(await token(k9))]);
  assert.equal(origin.requests.jwks, before + 2, "after the cooldown, one more (shared by concurrent callers)");
});

test("a filter signed by a key the edge does not hold yet fetches the keys and retries", async () => {
  const { origin, verifier, sync, k1, advance } = await setup({ keyCooldown: 0 });
  await sync.refresh();
  const k2 = await signer("k2");
  // A cache in front of the JWKS still serves the old set once.
  const realFetch = origin.fetch;
  let staleOnce = true;
  origin.fetch = async (url, init) => {
    if (url.endsWith("jwks.json") && staleOnce) {
      staleOnce = false;
      return new Response(null, { status: 304 });
    }
    return realFetch(url, init);
  };
  origin.setKeys([k1, k2]);
  origin.publishFilter(k2);
  advance(2);
  await sync.refresh();
  assert.equal(verifier.revocationStatus(sync.now()).kid, "k2");
  assert.deepEqual(verifier.keyIds(), ["k1", "k2"]);
});

test("compromise: a withdrawn key's tokens and forged filter stop counting within one sync", async () => {
  const { origin, verifier, sync, k1, advance, token } = await setup();
  const k2 = await signer("k2");
  origin.setKeys([k1, k2]);
  await sync.refresh();
  // The attacker holds k1: a forged filter with a huge sequence, loaded at this edge.
  const forged = buildRevocationFilter({ issuer: ISSUER, key: k1.priv, sequence: 2 ** 53, builtAt: sync.now(), ttl: 3600 });
  verifier.setRevocations(forged, sync.now());
  const stolen = await token(k1, { sid: "attacker" });
  assert.equal(verifier.verify(stolen, sync.now()).ok, true);
  // Emergency rotation at the origin: k1 withdrawn, k2 signs, the session revoked.
  origin.setKeys([k2]);
  origin.publishFilter(k2, { sids: ["victim"] });
  advance(2); // one sync interval: the next request starts a background sync
  const background = [];
  await sync.ensureFresh({ waitUntil: (p) => background.push(p) });
  await Promise.all(background);
  assert.equal(background.length, 1);
  assert.equal(verifier.verify(stolen, sync.now()).code, "key_not_found", "forged token refused");
  const st = verifier.revocationStatus(sync.now());
  assert.equal(st.kid, "k2", "the origin's filter replaced the forged one: no rollback lock-out");
  assert.equal(verifier.verify(await token(k2, { sid: "victim" }), sync.now()).code, "revoked");
  assert.equal(verifier.verify(await token(k2), sync.now()).ok, true);
});

test("backoff with jitter while the origin is down, fail closed at not_after, recovery", async () => {
  const { origin, verifier, sync, k1, advance, token, errors } = await setup({ minBackoff: 1, maxBackoff: 8 });
  await sync.refresh();
  const t = await token(k1);
  origin.down = true;
  const before = origin.requests.jwks;
  for (let i = 0; i < 4; i++) await sync.refresh().catch(() => {});
  assert.equal(sync.status().failures, 4);
  assert.equal(sync.status().lastError.code, "fetch_failed");
  assert.ok(errors.every((e) => e instanceof EdgetokenError && e.code === "fetch_failed"));
  assert.ok(sync.nextAttemptAt - sync.now() >= 4, "backoff at least 2^3 × 0.5 s");
  assert.ok(sync.nextAttemptAt - sync.now() <= 8, "capped at maxBackoff");
  assert.equal(verifier.verify(t, sync.now()).ok, true, "the last filter still counts");
  const calls = origin.requests.jwks;
  await sync.ensureFresh(); // in backoff, not urgent: no request
  assert.equal(origin.requests.jwks, calls);
  assert.ok(calls > before);
  advance(61);
  assert.equal(verifier.verify(t, sync.now()).code, "revocations_stale", "fail closed past not_after");
  origin.down = false;
  origin.publishFilter(k1);
  advance(10);
  await sync.ensureFresh(); // urgent and due: waits
  assert.equal(verifier.verify(await token(k1), sync.now()).ok, true);
  assert.equal(sync.status().failures, 0);
});

test("a discovery document that is invalid or names numbers this verifier cannot use is refused", async () => {
  const bad = [
    { issuer: "https://evil.example" },
    { jwks_uri: 5 },
    { revocations_uri: "" },
    { sync_interval: 0 },
    { clock_tolerance: -1 },
    { max_token_lifetime: 1.5 },
    { revocation_ttl: "60" },
    { revocation_ttl: 7200, revocation_max_ttl: 3600 },
    { revocation_ttl: 4000, revocation_max_ttl: 7200 }, // over this verifier's maxRevocationTtl
    { max_token_lifetime: 3600 }, // over this verifier's maxTokenLifetime
    { revocation_window: 929 }, // shorter than lifetime + tolerance: every filter refused
    { key_prepublication: undefined },
  ];
  for (const overrides of bad) {
    const { origin, verifier, sync } = await setup();
    origin.setDiscovery(discoveryDoc(overrides));
    await assert.rejects(sync.refresh(), { name: "EdgetokenError", code: "discovery_invalid" }, JSON.stringify(overrides));
    assert.equal(verifier.keyIds(), null, "nothing loaded from a refused discovery");
  }
  // A refused update keeps the previous document and the state it loaded.
  const { origin, verifier, sync, advance } = await setup();
  await sync.refresh();
  origin.setDiscovery(discoveryDoc({ issuer: "https://evil.example" }));
  advance(61);
  await assert.rejects(sync.refresh(), { code: "discovery_invalid" });
  assert.equal(sync.discovery.issuer, ISSUER);
  assert.deepEqual(verifier.keyIds(), ["k1"]);
  origin.bodies.discovery = "not json";
  origin.versions.discovery += 1;
  advance(61);
  await assert.rejects(sync.refresh(), { code: "discovery_invalid" });
});

test("IssuerSync options: required discovery, own properties only, unknown names refused", async () => {
  const v = new Verifier({ issuer: ISSUER, audience: AUDIENCE });
  const f = async () => new Response("{}");
  const cases = [
    undefined,
    {},
    { discovery: "/relative" },
    { discovery: DISCOVERY_URL, fetch: f, intervall: 2 },
    { discovery: DISCOVERY_URL, fetch: f, keyCooldown: -1 },
    { discovery: DISCOVERY_URL, fetch: f, interval: 0 },
    { discovery: DISCOVERY_URL, fetch: "no" },
  ];
  for (const options of cases) {
    assert.throws(() => new IssuerSync(v, options), { name: "EdgetokenError", code: "invalid_config" }, JSON.stringify(options));
  }
  assert.throws(() => new IssuerSync({}, { discovery: DISCOVERY_URL, fetch: f }), { code: "invalid_config" });
  // Inherited options are not read: a polluted prototype changes nothing.
  const inherited = Object.create({ keyCooldown: -1, discovery: "https://evil.example/x" });
  assert.throws(() => new IssuerSync(v, inherited), { code: "invalid_config" }, "inherited discovery ignored");
  const options = Object.assign(Object.create({ interval: 0.001 }), { discovery: DISCOVERY_URL, fetch: f });
  assert.equal(new IssuerSync(v, options).options.interval, undefined);
});

test("IssuerSync over real HTTP with the global fetch", async () => {
  const k1 = await signer("k1");
  const bodies = {
    "/.well-known/edgetoken.json": JSON.stringify(discoveryDoc({ revocations_uri: "/revocations" })),
    "/.well-known/jwks.json": JSON.stringify({ keys: [k1.jwk] }),
    "/revocations": Buffer.from(
      buildRevocationFilter({ issuer: ISSUER, key: k1.priv, sequence: 1, builtAt: Math.floor(Date.now() / 1000), ttl: 60 }),
    ),
  };
  const hits = [];
  const server = createServer((req, res) => {
    hits.push(`${req.url} ${req.headers["if-none-match"] ?? "-"}`);
    if (req.headers["if-none-match"] === '"v1"') return res.writeHead(304).end();
    res.writeHead(200, { etag: '"v1"' }).end(bodies[req.url]);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const v = new Verifier({ issuer: ISSUER, audience: AUDIENCE });
    const sync = new IssuerSync(v, { discovery: `${base}/.well-known/edgetoken.json`, interval: 0.01 });
    assert.equal((await sync.refresh()).revocations.sequence, 1);
    await sync.refresh();
    assert.deepEqual(hits, [
      "/.well-known/edgetoken.json -",
      "/.well-known/jwks.json -",
      "/revocations -",
      '/.well-known/jwks.json "v1"',
      '/revocations "v1"',
    ]);
    const now = Math.floor(Date.now() / 1000);
    const t = await mint(k1, standardClaims({ iat: now, exp: now + 300 }));
    assert.equal((await sync.verify(t)).ok, true);
    // start()/stop(): the timer syncs by itself.
    sync.start();
    await new Promise((r) => setTimeout(r, 200));
    sync.stop();
    assert.ok(hits.length > 7, `timer syncs: ${hits.length}`);
  } finally {
    server.close();
  }
});

test("fromDiscovery builds the verifier from the issuer's numbers", async () => {
  let now = NOW;
  const k1 = await signer("k1");
  const origin = fakeOrigin(() => now);
  origin.setDiscovery(discoveryDoc({ max_token_lifetime: 4, clock_tolerance: 30, revocation_window: 64, revocation_max_ttl: 120 }));
  origin.setKeys([k1]);
  origin.publishFilter(k1);
  const sync = await IssuerSync.fromDiscovery({ discovery: DISCOVERY_URL, fetch: origin.fetch, now: () => now });
  assert.deepEqual(sync.verifier.policy, {
    issuer: ISSUER, clockTolerance: 30, maxTokenLifetime: 4, maxRevocationTtl: 120, revocation: "required",
  });
  assert.equal(sync.verifier.keyIds(), null, "keys come from the sync");
  const long = await mint(k1, standardClaims({ iat: now, exp: now + 600 }));
  assert.equal((await sync.verify(long)).code, "lifetime_too_long", "the issuer's token lifetime is enforced");
  assert.equal((await sync.verify(await mint(k1, standardClaims({ iat: now, exp: now + 4 })))).ok, true);
  const custom = await IssuerSync.fromDiscovery({
    discovery: DISCOVERY_URL, fetch: origin.fetch, now: () => now, verifier: { clockTolerance: 0, cache: false },
  });
  assert.equal(custom.verifier.policy.clockTolerance, 0);
  origin.setDiscovery({ ...discoveryDoc(), issuer: 5 });
  await assert.rejects(IssuerSync.fromDiscovery({ discovery: DISCOVERY_URL, fetch: origin.fetch }), { code: "discovery_invalid" });
  origin.down = true;
  await assert.rejects(IssuerSync.fromDiscovery({ discovery: DISCOVERY_URL, fetch: origin.fetch }), { code: "fetch_failed" });
});
