// Shared machinery of the key drills (tests/js/key-drills.test.js): the real origin binary
// with short key and filter timings, an admin client, and a stream of user sessions whose
// tokens an edge verifies while keys rotate and sessions are revoked.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, freePort, login } from "./processes.js";

export const ORIGIN_BIN = join(ROOT, "target/debug/edgetoken-origin");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => Date.now() / 1000;

/**
 * Timings for the drills, far shorter than the defaults so that rotations, pre-publication and
 * filter lifetimes all happen within seconds. Every number reaches the edge through the
 * discovery document, so nothing here is known to the edge by other means.
 */
export const DRILL_FLAGS = {
  "--access-ttl": "20",
  "--revocation-ttl": "6",
  "--revocation-interval": "1",
  "--revocation-debounce-ms": "100",
  "--sync-interval": "1",
  "--key-prepublication": "2",
  "--key-rotation-interval": "12",
};

/** Starts the origin on `db` with `flags` (default: the drill timings); resolves to { url, child, admin, user, db, stop }. */
export async function startDrillOrigin(db = join(mkdtempSync(join(tmpdir(), "edgetoken-drill-")), "origin.db"), flags = DRILL_FLAGS) {
  if (!existsSync(ORIGIN_BIN)) throw new Error(`${ORIGIN_BIN} missing: run cargo build -p edgetoken-origin`);
  const port = await freePort();
  const args = ["--listen", `127.0.0.1:${port}`, "--db", db, "--demo", ...Object.entries(flags).flat()];
  const child = spawn(ORIGIN_BIN, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`origin exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error("origin did not start");
    await sleep(50);
  }
  const account = (role) => {
    const m = out.match(new RegExp(`^\\s*${role}\\s+(\\S+)\\s+(\\S+)`, "m"));
    if (!m) throw new Error(`no ${role} credentials in the origin's output:\n${out}`);
    return { email: m[1], password: m[2] };
  };
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", resolve);
      child.kill("SIGKILL");
    });
  return { url, child, db, admin: account("admin"), user: account("user"), stop };
}

/** Runs an origin maintenance command (`rotate-key`, `emergency-rotate`, …) on the same database. */
export function originCommand(db, ...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(ORIGIN_BIN, ["--db", db, ...Object.entries(DRILL_FLAGS).flat(), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(" ")} exited ${code}: ${out}`))));
  });
}

/** An admin API client (bearer token: no cookies, no CSRF). */
export async function adminClient(origin) {
  let session = await login(origin.url, origin.admin);
  const call = async (method, path, body) => {
    const res = await fetch(`${origin.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${session.access_token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const relogin = async () => (session = await login(origin.url, origin.admin));
  /** Waits until no key is pending (a rotate request would otherwise return the pending one). */
  const untilNoNextKey = async () => {
    for (const deadline = now() + 20; now() < deadline; await sleep(200)) {
      await relogin();
      const { keys } = await call("GET", "/api/admin/keys");
      if (!keys.some((k) => k.state === "next")) return keys;
    }
    throw new Error("a next key stayed pending for 20 s");
  };
  return { call, relogin, untilNoNextKey };
}

/** The `kid` in a compact JWS header. */
export const kidOf = (token) => JSON.parse(Buffer.from(token.split(".")[0], "base64url")).kid;

/**
 * A stream of user sessions at the origin. Each holds the access tokens it was issued; a
 * token is "valid" until its session is revoked or it expires. `revokedAt` is the time the
 * origin answered the revocation.
 */
export class SessionStream {
  constructor(origin) {
    this.origin = origin;
    this.sessions = [];
    this.tokens = [];
  }

  async open() {
    const body = await login(this.origin.url, this.origin.user);
    const s = { id: body.session_id, refresh: body.refresh_token, revokedAt: null };
    this.sessions.push(s);
    this.#hold(s, body);
    return s;
  }

  #hold(session, body) {
    this.tokens.push({ token: body.access_token, session, exp: now() + body.expires_in, kid: kidOf(body.access_token) });
  }

  /** Refreshes every live session: each gets a new access token signed by the current key. */
  async refreshAll() {
    for (const s of this.sessions.filter((x) => x.revokedAt === null)) {
      const res = await fetch(`${this.origin.url}/api/refresh`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: s.refresh }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(`refresh of a live session failed: ${JSON.stringify(body)}`);
      s.refresh = body.refresh_token;
      this.#hold(s, body);
    }
  }

  /** Logs the oldest live session out (revoking its tokens). */
  async revokeOne() {
    const s = this.sessions.find((x) => x.revokedAt === null);
    const live = this.tokens.find((t) => t.session === s);
    const res = await fetch(`${this.origin.url}/api/logout`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: s.refresh }),
    });
    if (!res.ok) throw new Error(`logout failed: HTTP ${res.status} ${await res.text()} (${live?.kid})`);
    s.revokedAt = now();
    return s;
  }

  /** Distinct kids of the tokens issued so far, in order of first use. */
  kids() {
    return [...new Set(this.tokens.map((t) => t.kid))];
  }
}

/**
 * Verifies every token the stream holds through `verify(token) -> result` and tallies:
 * - valid tokens (session live, more than 2 s before exp) that were refused (must be 0);
 * - revoked tokens accepted more than `bound` seconds after their revocation (must be 0);
 * - `revocations_stale` answers (must be 0 while the origin is up).
 */
export async function checkStream(stream, verify, bound, tally) {
  const t = now();
  for (const held of stream.tokens) {
    if (t > held.exp - 2) continue;
    const r = await verify(held.token);
    tally.checked += 1;
    if (r.code === "revocations_stale") tally.stale += 1;
    if (held.session.revokedAt === null) {
      if (!r.ok) {
        tally.validRefused += 1;
        tally.examples.push(`valid token (kid ${held.kid}) refused: ${r.code} ${r.message}`);
      }
    } else if (t > held.session.revokedAt + bound) {
      tally.revokedChecked += 1;
      if (r.ok) {
        tally.revokedAccepted += 1;
        tally.examples.push(`token of a session revoked ${(t - held.session.revokedAt).toFixed(2)} s ago accepted`);
      }
    }
  }
}

export const newTally = () => ({ checked: 0, validRefused: 0, revokedChecked: 0, revokedAccepted: 0, stale: 0, examples: [] });
