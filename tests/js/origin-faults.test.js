// Origin unreachable: an edge (pkg's Verifier + IssuerSync, revocation required) keeps
// verifying with its last filter until that filter's not_after, then fails closed with
// revocations_stale, and recovers by itself when the origin is back (the real binary,
// killed with SIGKILL and restarted on the same database and port).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Verifier, IssuerSync } from "edgetoken";
import { freePort, login, startOrigin } from "./processes.js";

const TTL = 4; // --revocation-ttl: seconds a filter stays usable

/** The origin on `db` and `port` (the same state and address after a restart). */
const startAt = (db, port) =>
  startOrigin(["--revocation-ttl", String(TTL), "--revocation-interval", "1"], { db, port });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now() / 1000;

test("edge keeps its last filter until not_after, fails closed, recovers when the origin returns", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edgetoken-faults-"));
  const db = join(dir, "origin.db");
  const port = await freePort();
  let origin = await startAt(db, port);
  // Keeps the event loop alive while a fetch to the dead origin is pending (in a real edge
  // the server's listening socket does that).
  const keepAlive = setInterval(() => {}, 1000);
  try {
    const a = await login(origin.url, origin.user);
    const b = await login(origin.url, origin.user);
    const out = await fetch(`${origin.url}/api/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${b.access_token}`, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(out.status, 200);

    const verifier = new Verifier({ issuer: "edgetoken-origin", audience: "edgetoken" });
    assert.equal(verifier.revocationStatus().required, true, "a verifier fed by a sync requires revocation");
    const sync = new IssuerSync(verifier, {
      discovery: `${origin.url}/.well-known/edgetoken.json`,
      interval: 1, margin: 1, minBackoff: 0.2, maxBackoff: 1, timeout: 1,
    });
    await sync.refresh();
    assert.equal(verifier.verify(a.access_token).ok, true);
    assert.equal(verifier.verify(b.access_token).code, "revoked");

    // The origin dies. The edge keeps refreshing (and failing) in the request path.
    await origin.kill();
    const notAfter = verifier.revocationStatus().notAfter;
    const seen = { okBefore: 0, staleAfter: 0, bAccepted: 0 };
    while (now() < notAfter + 2.5) {
      await sync.ensureFresh();
      const t = now();
      const ra = verifier.verify(a.access_token);
      const rb = verifier.verify(b.access_token);
      if (rb.ok) seen.bAccepted += 1;
      // Filters are valid through the second not_after (whole seconds).
      if (t < notAfter - 0.2) {
        assert.equal(ra.ok, true, `before not_after (${(notAfter - t).toFixed(2)} s left): ${ra.code}`);
        assert.equal(rb.code, "revoked", "the last filter still revokes b");
        seen.okBefore += 1;
      } else if (t > notAfter + 1.2) {
        assert.equal(ra.code, "revocations_stale", "past not_after: fail closed");
        assert.equal(rb.ok, false);
        seen.staleAfter += 1;
      }
      await sleep(100);
    }
    assert.equal(seen.bAccepted, 0);
    assert.ok(seen.okBefore >= 5 && seen.staleAfter >= 5, JSON.stringify(seen));
    const down = sync.status();
    assert.ok(down.failures > 0 && down.revocations.stale && down.lastError.code === "fetch_failed", JSON.stringify(down));

    // The origin comes back on the same database and port: the edge recovers by itself.
    origin = await startAt(db, port);
    const backAt = now();
    let recovered = null;
    while (now() < backAt + 10) {
      await sync.ensureFresh();
      if (verifier.verify(a.access_token).ok) {
        recovered = now() - backAt;
        break;
      }
      await sleep(50);
    }
    assert.notEqual(recovered, null, `no recovery: ${JSON.stringify(sync.status())}`);
    assert.equal(verifier.verify(b.access_token).code, "revoked", "the revocation survived the restart");
    assert.equal(sync.status().failures, 0);
    console.log(
      `origin down: ${seen.okBefore} verifications ok until not_after, ${seen.staleAfter} revocations_stale after; ` +
        `recovered ${recovered.toFixed(2)} s after the restart`,
    );
  } finally {
    clearInterval(keepAlive);
    await origin.kill();
  }
});
