// Issue 11's drills against the real origin binary over real HTTP:
// - rotation drill: an edge (Verifier + IssuerSync, revocation required, everything learned
//   from the discovery document) verifies a stream of tokens issued before and after three
//   kinds of key rotation (scheduled, CLI, API) while sessions are revoked: no valid token is
//   refused, no revoked token is accepted once the revocation could have reached the edge,
//   and the edge is never `revocations_stale`. Run in Node and in workerd (miniflare).
// - compromise drill: a token and a filter forged with the stolen signing key are accepted
//   before the emergency rotation and refused within one sync interval after it; the edge
//   returns to the origin's filter without a rollback lock-out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { SignJWT, importJWK } from "jose";
import { IssuerSync } from "edgetoken";
import { buildRevocationFilter } from "edgetoken/builder";
import { ROOT, login } from "./processes.js";
import { startWorker } from "./workerd.js";
import {
  DRILL_FLAGS, SessionStream, adminClient, checkStream, kidOf, newTally, now, originCommand, sleep, startDrillOrigin,
} from "./drill.js";

const ISSUER = "edgetoken-origin";
const AUDIENCE = "edgetoken";
const SYNC_INTERVAL = Number(DRILL_FLAGS["--sync-interval"]);
// A revocation reaches the edge within: the origin's rebuild debounce, one sync interval,
// and one round trip; one more second absorbs the slow CI machine's scheduling.
const REVOCATION_BOUND = Number(DRILL_FLAGS["--revocation-debounce-ms"]) / 1000 + SYNC_INTERVAL + 1.5;
const DRILL_SECONDS = 32;

/**
 * The rotation drill, parameterised by the edge: `verify(token)` answers as the edge would.
 * Rotations: the scheduled one fires by itself (every `--key-rotation-interval`), then one by
 * the CLI on the same database and one through the admin API.
 */
async function rotationDrill(origin, verify) {
  const admin = await adminClient(origin);
  const stream = new SessionStream(origin);
  for (let i = 0; i < 4; i += 1) await stream.open();
  const tally = newTally();
  const start = now();
  const done = { cli: false, api: false };
  let nextRefresh = start + 1.5;
  let nextRevoke = start + 3;
  while (now() - start < DRILL_SECONDS) {
    const t = now() - start;
    // The scheduled rotation publishes a next key ~10 s after start and promotes it at ~12 s;
    // a rotate request while a key is pending returns that key, so each manual rotation waits
    // until none is.
    if (!done.cli && t > 11.5) {
      await admin.untilNoNextKey();
      await originCommand(origin.db, "rotate-key");
      done.cli = true;
    }
    if (!done.api && t > 18) {
      await admin.untilNoNextKey();
      const r = await admin.call("POST", "/api/admin/keys/rotate", {});
      assert.equal(r.created, true, JSON.stringify(r));
      done.api = true;
    }
    if (now() >= nextRefresh) {
      await stream.refreshAll();
      nextRefresh = now() + 1.5;
    }
    if (now() >= nextRevoke) {
      await stream.revokeOne();
      await stream.open();
      nextRevoke = now() + 3;
    }
    await checkStream(stream, verify, REVOCATION_BOUND, tally);
    await sleep(150);
  }
  await admin.relogin();
  const keys = await admin.call("GET", "/api/admin/keys");
  return { tally, kids: stream.kids(), keys };
}

function assertDrill({ tally, kids, keys }, where) {
  const summary = `${where}: ${JSON.stringify({ ...tally, examples: tally.examples.slice(0, 5) })}, kids ${kids.length}`;
  console.log(summary);
  assert.equal(tally.validRefused, 0, summary);
  assert.equal(tally.revokedAccepted, 0, summary);
  assert.equal(tally.stale, 0, summary);
  assert.ok(tally.revokedChecked > 20, `revoked tokens were checked: ${summary}`);
  // The first key and at least three rotations (scheduled, CLI, API) each signed tokens
  // the edge verified.
  assert.ok(kids.length >= 4, `${kids.length} signing keys seen: ${summary}; keys ${JSON.stringify(keys)}`);
}

test("rotation drill in Node: scheduled, CLI and API rotations with revocations in between", { timeout: 120_000 }, async () => {
  const origin = await startDrillOrigin();
  try {
    // Everything the edge knows comes from the discovery document: issuer, audience, token
    // lifetime, tolerance, filter bounds, sync interval, URLs.
    const sync = await IssuerSync.fromDiscovery({ discovery: `${origin.url}/.well-known/edgetoken.json` });
    const { verifier } = sync;
    assert.equal(verifier.revocationStatus().required, true, "a verifier fed by IssuerSync requires revocation");
    const result = await rotationDrill(origin, async (token) => {
      await sync.ensureFresh();
      return verifier.verify(token);
    });
    assertDrill(result, "node");
  } finally {
    await origin.stop();
  }
});

test("rotation drill in workerd: the same stream through a Worker using IssuerSync", { timeout: 180_000 }, async () => {
  const { mf } = await startWorker(join(ROOT, "tests/js/fixtures/drill-worker.js"), "/drill-worker");
  const origin = await startDrillOrigin();
  try {
    const discovery = `${origin.url}/.well-known/edgetoken.json`;
    const result = await rotationDrill(origin, async (token) => {
      const res = await mf.dispatchFetch("http://edge/verify", {
        method: "POST",
        body: JSON.stringify({ token, discovery }),
      });
      return res.json();
    });
    assertDrill(result, "workerd");
  } finally {
    await origin.stop();
    await mf.dispose();
  }
});

/** The attacker's copy of a signing key: read from the origin's database file. */
function stealKey(db, kid) {
  const script = [
    "import sqlite3, sys, base64",
    "row = sqlite3.connect(sys.argv[1]).execute('SELECT private_key FROM signing_keys WHERE kid = ?', (sys.argv[2],)).fetchone()",
    "print(base64.urlsafe_b64encode(row[0]).decode().rstrip('='))",
  ].join("\n");
  return execFileSync("python3", ["-c", script, db, kid], { encoding: "utf8" }).trim();
}

test("compromise drill (default timings): forged token and filter refused within one sync interval of the emergency rotation", { timeout: 120_000 }, async () => {
  // The origin's default settings: sync interval 2 s, rebuild interval 5 s, filter ttl 60 s.
  const origin = await startDrillOrigin({});
  try {
    const discoveryUrl = `${origin.url}/.well-known/edgetoken.json`;
    const discovery = await (await fetch(discoveryUrl)).json();
    const syncInterval = discovery.sync_interval;
    const sync = await IssuerSync.fromDiscovery({ discovery: discoveryUrl });
    const { verifier } = sync;
    const victim = await login(origin.url, origin.user);
    await sync.ensureFresh();
    assert.equal(verifier.verify(victim.access_token).ok, true);

    // The attacker holds the active key.
    const kid = kidOf(victim.access_token);
    const jwks = await (await fetch(`${origin.url}/.well-known/jwks.json`)).json();
    const publicJwk = jwks.keys.find((k) => k.kid === kid);
    const stolen = { ...publicJwk, d: stealKey(origin.db, kid) };
    const t0 = Math.floor(now());
    const forgedToken = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "attacker", sid: "forged", jti: "forged-1", iat: t0, exp: t0 + 15 })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid })
      .sign(await importJWK(stolen, "ES256"));
    // A filter that revokes the victim and claims the highest sequence an edge will ever see.
    const forgedFilter = buildRevocationFilter({
      issuer: ISSUER,
      key: stolen,
      sequence: Number.MAX_SAFE_INTEGER,
      builtAt: t0,
      ttl: discovery.revocation_ttl,
      window: discovery.revocation_window,
      sids: [victim.session_id],
    });
    // Before the procedure the forgeries work: that is what a stolen key means.
    verifier.setRevocations(forgedFilter);
    assert.equal(verifier.verify(forgedToken).ok, true, "forged token accepted before the emergency rotation");
    assert.equal(verifier.verify(victim.access_token).code, "revoked", "forged filter in force");

    const admin = await adminClient(origin);
    const emergencyAt = now();
    await admin.call("POST", "/api/admin/keys/emergency-rotate", {});
    let consistentAfter = null;
    let lastSeen = null;
    while (now() - emergencyAt < 10) {
      await sync.ensureFresh();
      const forged = verifier.verify(forgedToken);
      const status = verifier.revocationStatus();
      lastSeen = { forged: forged.code, sequence: status.sequence, kid: status.kid };
      if (!forged.ok && status.loaded && !status.stale && status.sequence < Number.MAX_SAFE_INTEGER) {
        consistentAfter = now() - emergencyAt;
        break;
      }
      await sleep(50);
    }
    assert.notEqual(consistentAfter, null, `edge still trusts the stolen key: ${JSON.stringify(lastSeen)}`);
    assert.ok(consistentAfter <= syncInterval + 1.5, `took ${consistentAfter.toFixed(2)} s (sync interval ${syncInterval} s)`);
    // The forged filter is refused from now on, and the victim can sign in again and pass.
    assert.throws(() => verifier.setRevocations(forgedFilter), (e) => e.code === "revocations_unknown_key");
    const again = await login(origin.url, origin.user);
    assert.notEqual(kidOf(again.access_token), kid, "the origin signs with a fresh key");
    await sync.ensureFresh();
    assert.equal(verifier.verify(again.access_token).ok, true);
    assert.equal(verifier.verify(forgedToken).ok, false);
    // The emergency sets the kill switch: the victim's old token (iat before it) is revoked.
    assert.equal(verifier.verify(victim.access_token).ok, false);
    console.log(`compromise drill: edge consistent ${consistentAfter.toFixed(2)} s after the emergency rotation (sync interval ${syncInterval} s)`);
  } finally {
    await origin.stop();
  }
});
