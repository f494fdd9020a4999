// Shared machinery of the key drills (tests/js/key-drills.test.js): the real origin binary
// with short key and filter timings, an admin client, and a stream of user sessions whose
// tokens an edge verifies while keys rotate and sessions are revoked.
import { spawn } from "node:child_process";
import { ORIGIN_BIN, login, startOrigin } from "./processes.js";
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

/** Starts the origin with `flags` (default: the drill timings) on a fresh database. */
export async function startDrillOrigin(flags = DRILL_FLAGS) {
  const origin = await startOrigin(Object.entries(flags).flat());
  return { ...origin, stop: origin.kill };
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
