// Starts the real origin binary and the Next.js example for end-to-end tests, on free
// loopback ports, and stops them afterwards.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitFor(url, child, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer at ${url}`);
}

export const ORIGIN_BIN = join(ROOT, "target/debug/edgetoken-origin");

/**
 * Starts edgetoken-origin with demo accounts and waits until it answers. `db` and `port`
 * default to a fresh temporary database and a free port (give both to restart an origin on
 * the same state). Resolves to { url, port, db, admin, user, child, stop, kill };
 * `stop` sends SIGTERM, `kill` SIGKILL and resolves when the process is gone.
 */
export async function startOrigin(extraArgs = [], { db, port } = {}) {
  if (!existsSync(ORIGIN_BIN)) throw new Error(`${ORIGIN_BIN} missing: run cargo build -p edgetoken-origin`);
  port ??= await freePort();
  db ??= join(mkdtempSync(join(tmpdir(), "edgetoken-e2e-")), "origin.db");
  const child = spawn(
    ORIGIN_BIN,
    ["--listen", `127.0.0.1:${port}`, "--db", db, "--demo", "--www", join(ROOT, "www"), "--pkg", join(ROOT, "pkg"), ...extraArgs],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/healthz`, child, "origin");
  const account = (role) => {
    const m = out.match(new RegExp(`^\\s*${role}\\s+(\\S+)\\s+(\\S+)`, "m"));
    if (!m) throw new Error(`no ${role} credentials in the origin's output:\n${out}`);
    return { email: m[1], password: m[2] };
  };
  const kill = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", resolve);
      child.kill("SIGKILL");
    });
  return { url, port, db, admin: account("admin"), user: account("user"), child, stop: () => child.kill("SIGTERM"), kill };
}

/** Starts `next start` for examples/nextjs (built beforehand) against `originUrl`. */
export async function startNext(originUrl, env = {}) {
  const app = join(ROOT, "examples/nextjs");
  if (!existsSync(join(app, ".next/BUILD_ID"))) throw new Error("examples/nextjs is not built (next build --webpack)");
  const port = await freePort();
  const child = spawn(join(app, "node_modules/.bin/next"), ["start", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: app,
    env: { ...process.env, EDGETOKEN_ORIGIN: originUrl, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/`, child, "next start");
  return { url, child, stop: () => child.kill("SIGTERM") };
}

/** Logs in through the origin's JSON API (token mode); returns the login response body. */
export async function login(originUrl, { email, password }) {
  const res = await fetch(`${originUrl}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": "edgetoken-e2e" },
    body: JSON.stringify({ email, password, mode: "token" }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`login failed: ${JSON.stringify(body)}`);
  return body;
}
