// Zero lost sessions: every session the load clients hold exists in the database and is
// consistent. node check.mjs DB SESSIONS_FILE [URL]
// - DB: integrity_check, exactly one current refresh record per session, no forked chain;
// - each client session: the SHA-256 of the client's refresh token is the session's current
//   record and the session is active. A session whose last refresh was still in flight when
//   wrk stopped may instead hold the record just rotated (its successor current): the
//   documented grace outcome, counted apart;
// - with URL: each client session refreshes through the API (200, same session id).
// - with --settle OUT (and URL): first, like a client retrying a request whose answer it
//   never got, refresh each in-flight session once (inside the grace: the same successor)
//   and write the settled client state to OUT.
// Prints one JSON line; exits 1 if anything is lost or inconsistent.
import { readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";

const args = process.argv.slice(2);
const settleOut = args.includes("--settle") ? args.splice(args.indexOf("--settle"), 2)[1] : null;
const [db, sessionsFile, url] = args;
// Session lines start with "sid:device_secret": the client presents its device secret.
async function refresh(token, device) {
  const res = await fetch(`${url}/api/refresh`, {
    method: "POST", headers: { "content-type": "application/json", "x-device-secret": device ?? "" },
    body: JSON.stringify({ refresh_token: token }),
  });
  return { status: res.status, body: await res.json() };
}
let settled = 0;
if (settleOut) {
  const lines = readFileSync(sessionsFile, "utf8").trim().split("\n").map((l) => l.split(" "));
  for (const l of lines) {
    if (l[3] !== "inflight") continue;
    const [sid, device] = l[0].split(":");
    const r = await refresh(l[1], device);
    if (r.status === 200 && r.body.session_id === sid) {
      l.splice(1, 3, r.body.refresh_token, r.body.access_token);
      settled += 1;
    }
  }
  writeFileSync(settleOut, lines.map((l) => l.join(" ")).join("\n") + "\n");
}
const sql = (q) => execFileSync("sqlite3", ["-readonly", "-separator", " ", db, q], { encoding: "utf8", maxBuffer: 1 << 28 }).trim();

const integrity = sql("PRAGMA integrity_check");
const halfRotated = Number(sql(
  "SELECT COUNT(*) FROM sessions s WHERE (SELECT COUNT(*) FROM refresh_tokens r WHERE r.session_id = s.id AND r.rotated_at IS NULL) != 1"));
const forks = Number(sql(
  "SELECT COUNT(*) FROM (SELECT successor_id FROM refresh_tokens WHERE successor_id IS NOT NULL GROUP BY successor_id HAVING COUNT(*) > 1)"));
const current = new Map();
for (const line of sql(
  "SELECT s.id, hex(r.token_hash), (s.revoked_at IS NULL AND s.ends_at > strftime('%s','now')) FROM refresh_tokens r " +
  "JOIN sessions s ON s.id = r.session_id WHERE r.rotated_at IS NULL").split("\n")) {
  const [sid, hash, active] = line.split(" ");
  current.set(sid, { hash, active: active === "1" });
}
const justRotated = new Map();
for (const line of sql(
  "SELECT hex(r.token_hash), r.session_id FROM refresh_tokens r JOIN refresh_tokens n ON n.id = r.successor_id WHERE n.rotated_at IS NULL").split("\n")) {
  const [hash, sid] = line.split(" ");
  if (hash) justRotated.set(hash, sid);
}
const clients = readFileSync(settleOut ?? sessionsFile, "utf8").trim().split("\n").map((l) => l.split(" "));
let ok = 0, inflightGrace = 0;
const lost = [];
for (const [sidDevice, refresh, , flag] of clients) {
  const sid = sidDevice.split(":")[0];
  const h = createHash("sha256").update(refresh).digest("hex").toUpperCase();
  const cur = current.get(sid);
  if (cur && cur.active && cur.hash === h) ok += 1;
  else if (flag === "inflight" && cur && cur.active && justRotated.get(h) === sid) inflightGrace += 1;
  else lost.push(sid);
}
const result = { clientSessions: clients.length, dbSessions: current.size, consistent: ok, settledInFlight: settled, inflightGrace, lost: lost.length,
  integrity, halfRotated, forks };
if (url && !settleOut) {
  // Through the API: every (not in-flight) client session still refreshes.
  let refreshed = 0, failed = 0, next = 0;
  const todo = clients.filter((c) => c[3] !== "inflight");
  async function worker() {
    while (next < todo.length) {
      const [sidDevice, token] = todo[next++];
      const [sid, device] = sidDevice.split(":");
      const { status, body: b } = await refresh(token, device);
      if (status === 200 && b.session_id === sid) refreshed += 1;
      else failed += 1;
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  Object.assign(result, { apiRefreshed: refreshed, apiFailed: failed });
}
console.log(JSON.stringify(result));
if (lost.length || integrity !== "ok" || halfRotated || forks || result.apiFailed) {
  if (lost.length) console.error("lost sessions:", lost.slice(0, 10).join(" "));
  process.exit(1);
}
