// The benchmark suite (issue 6): `npm run bench` (after `npm run build`).
//
// One Node process; same token and key for every peer; peers interleaved round by round;
// medians of per-round means; ratios between peers measured in the same run.
//   1. first sight: edgetoken verify (cache off, full policy) vs jose.jwtVerify (same
//      checks) vs awaited crypto.subtle.verify (bare signature) vs node:crypto.verify
//      (OpenSSL, P1363, bare signature)
//   2. already-seen token: edgetoken verify with its cache vs the same peers
//   3. revocation lookup (isRevoked) with a 1k and a 100k-entry filter
//   4. cold start: fresh Node process, import + instantiate + new Verifier + first verify
//      (workerd through miniflare when it is installed)
//   5. wasm size raw and gzip -9
//   6. native Rust core verify (examples/bench_native.rs, release) vs node:crypto.verify
// Environment: ROUNDS (default 15), QUICK=1 for a smoke run, NATIVE=0 / WORKERD=0 to skip.
import { Verifier } from "edgetoken";
import { buildRevocationFilter } from "edgetoken/builder";
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify } from "jose";
import crypto from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import os from "node:os";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const QUICK = process.env.QUICK === "1";
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 5 : 15));
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (us) => (us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2));

const ISSUER = "https://auth.example.com";
const AUDIENCE = "https://app.example.com";
const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
const priv = { ...(await exportJWK(privateKey)), kid: "k1" };
const now = Math.floor(Date.now() / 1000);
const mint = (jti) =>
  new SignJWT({ sub: "user-1", sid: "s-1", jti })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
    .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(now).setExpirationTime(now + 600)
    .sign(privateKey);
const token = await mint("j-1");
const [h, p, s] = token.split(".");
const signingInput = Buffer.from(`${h}.${p}`);
const signature = Buffer.from(s, "base64url");

const uncached = new Verifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] }, cache: false });
const cached = new Verifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] } });
const joseKey = await importJWK(jwk, "ES256");
const joseOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], typ: "at+jwt", maxTokenAge: 900 };
const subtleKey = await crypto.subtle.importKey("jwk", { ...jwk, key_ops: ["verify"] }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
const nodeKey = crypto.createPublicKey({ key: jwk, format: "jwk" });
const ecdsa = { name: "ECDSA", hash: "SHA-256" };

function must(ok, what) { if (!ok) throw new Error(`${what} rejected the token`); }
const syncPeers = {
  "edgetoken.verify (first sight)": () => must(uncached.verify(token, now).ok, "edgetoken"),
  "edgetoken.verify (seen, cache)": () => must(cached.verify(token, now).ok, "edgetoken cached"),
  "node:crypto.verify (P1363)": () => must(crypto.verify("sha256", signingInput, { key: nodeKey, dsaEncoding: "ieee-p1363" }, signature), "node:crypto"),
};
const asyncPeers = {
  "jose.jwtVerify": async () => { await jwtVerify(token, joseKey, joseOptions); },
  "crypto.subtle.verify (awaited)": async () => must(await crypto.subtle.verify(ecdsa, subtleKey, signature, signingInput), "subtle"),
};

// Per-op cost: enough iterations per round for ~20 ms.
async function calibrate(fn, isAsync) {
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    if (isAsync) for (let i = 0; i < n; i++) await fn(); else for (let i = 0; i < n; i++) fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > (QUICK ? 5 : 20) || n > 1e6) return n;
    n *= 2;
  }
}

const all = [...Object.entries(syncPeers).map(([k, f]) => [k, f, false]), ...Object.entries(asyncPeers).map(([k, f]) => [k, f, true])];
for (const [, fn, isAsync] of all) for (let i = 0; i < 300; i++) isAsync ? await fn() : fn(); // warm-up (and lazy tables)
const iters = {};
for (const [name, fn, isAsync] of all) iters[name] = await calibrate(fn, isAsync);
const samples = Object.fromEntries(all.map(([k]) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn, isAsync] of all) {
    const n = iters[name];
    const t0 = process.hrtime.bigint();
    if (isAsync) for (let i = 0; i < n; i++) await fn(); else for (let i = 0; i < n; i++) fn();
    samples[name].push(Number(process.hrtime.bigint() - t0) / n / 1000);
  }
}
const med = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]));

const cpu = os.cpus()[0]?.model ?? "unknown CPU";
console.log(`# edgetoken benchmark suite\n`);
console.log(`${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, ${new Date().toISOString()}`);
console.log(`${ROUNDS} interleaved rounds, median of per-round means\n`);
console.log("## 1–2. Verification (µs per op)\n");
const peers = ["jose.jwtVerify", "crypto.subtle.verify (awaited)", "node:crypto.verify (P1363)"];
console.log(`| what | µs | vs jose | vs subtle | vs node:crypto |\n|---|---:|---:|---:|---:|`);
for (const [name] of all) {
  const r = peers.map((p) => (med[name] / med[p]).toFixed(3) + "x");
  console.log(`| ${name} | ${fmt(med[name])} | ${r.join(" | ")} |`);
}
const first = med["edgetoken.verify (first sight)"], seen = med["edgetoken.verify (seen, cache)"];
console.log(`\ntargets: first sight ≤ 0.6x subtle: ${(first / med["crypto.subtle.verify (awaited)"]).toFixed(2)}x; ` +
  `≤ 1.0x node:crypto: ${(first / med["node:crypto.verify (P1363)"]).toFixed(2)}x; ` +
  `seen ≤ 1/50 jose: 1/${(med["jose.jwtVerify"] / seen).toFixed(0)}`);

// 3. Revocation lookup.
console.log("\n## 3. Revocation lookup (isRevoked: sid and jti Bloom lookups, user/global cut-offs, JS→wasm arguments)\n");
console.log("| filter | artifact | isRevoked | first-sight verify | lookup / verify |\n|---:|---:|---:|---:|---:|");
for (const n of QUICK ? [1_000] : [1_000, 100_000]) {
  const sids = Array.from({ length: n }, (_, i) => `revoked-${i}`);
  const bytes = buildRevocationFilter({ issuer: ISSUER, key: priv, sequence: 1, builtAt: now, ttl: 600, sids });
  const v = new Verifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] }, revocations: bytes, cache: false });
  const ids = { sub: "user-1", sid: "s-live", jti: "j-live", iat: now };
  const l = [], f = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < 20_000; i++) if (v.isRevoked(ids) !== false) throw new Error("unexpected");
    l.push(Number(process.hrtime.bigint() - t0) / 20_000 / 1000);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < 500; i++) must(v.verify(token, now).ok, "verify");
    f.push(Number(process.hrtime.bigint() - t0) / 500 / 1000);
  }
  console.log(`| ${n.toLocaleString("en")} entries | ${bytes.length.toLocaleString("en")} B | ${fmt(median(l))} µs | ${fmt(median(f))} µs | ${((median(l) / median(f)) * 100).toFixed(1)}% |`);
}

// 4. Cold start in fresh Node processes.
console.log("\n## 4. Cold start\n");
const coldScript = `
const t0 = performance.now();
const { Verifier } = await import("edgetoken");
const t1 = performance.now();
const v = new Verifier({ issuer: ${JSON.stringify(ISSUER)}, audience: ${JSON.stringify(AUDIENCE)}, jwks: { keys: [${JSON.stringify(jwk)}] } });
const tc = performance.now();
const r = v.verify(${JSON.stringify(token)}, ${now});
const t2 = performance.now();
if (!r.ok) throw new Error(r.code);
const r2 = v.verify(${JSON.stringify(await mint("j-2"))}, ${now});
const t3 = performance.now();
console.log(JSON.stringify({ load: t1 - t0, ctor: tc - t1, first: t2 - t1, second: t3 - t2 }));`;
const colds = [];
for (let i = 0; i < (QUICK ? 3 : 11); i++) {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", coldScript], { cwd: root, encoding: "utf8" });
  colds.push(JSON.parse(out));
}
const cm = (k) => median(colds.map((c) => c[k]));
console.log(`Node (median of ${colds.length} processes): import + instantiate ${cm("load").toFixed(2)} ms, ` +
  `new Verifier + first verify ${cm("first").toFixed(2)} ms (of which new Verifier ${cm("ctor").toFixed(2)} ms), total ${(cm("load") + cm("first")).toFixed(2)} ms ` +
  `(target ≤ 5 ms); second verify (another token) ${cm("second").toFixed(2)} ms`);

if (process.env.WORKERD !== "0" && existsSync(new URL("../node_modules/miniflare/package.json", import.meta.url))) {
  try {
    const { workerd } = await import("./workerd-cold.mjs");
    const w = await workerd({ jwk, token, now, ISSUER, AUDIENCE, runs: QUICK ? 3 : 7 });
    console.log(`workerd via miniflare (median of ${w.runs} fresh runtimes): first request with edgetoken ${w.edgetoken.toFixed(1)} ms, ` +
      `same worker without edgetoken ${w.baseline.toFixed(1)} ms, difference ${(w.edgetoken - w.baseline).toFixed(1)} ms ` +
      `(wasm compile + instantiate + verify, seen from outside; workerd's in-worker clocks do not advance during compute)`);
  } catch (e) {
    console.log(`workerd cold start: not measured (${e.message.split("\n")[0]})`);
  }
} else {
  console.log("workerd cold start: skipped (miniflare not installed or WORKERD=0)");
}

// 5. Size.
const wasm = readFileSync(new URL("../pkg/gen/edgetoken_bg.wasm", import.meta.url));
console.log(`\n## 5. Package size\n\nedgetoken_bg.wasm: ${wasm.length.toLocaleString("en")} bytes raw, ` +
  `${gzipSync(wasm, { level: 9 }).length.toLocaleString("en")} bytes gzip -9 (target ≤ 61,440)`);

// 6. Native Rust vs OpenSSL.
console.log("\n## 6. Native Rust core vs OpenSSL\n");
if (process.env.NATIVE === "0") {
  console.log("skipped (NATIVE=0)");
} else {
  const build = spawnSync("cargo", ["build", "--quiet", "--release", "--example", "bench_native"], { cwd: root, stdio: "inherit" });
  if (build.status !== 0) throw new Error("cargo build --example bench_native failed");
  const bin = new URL("../target/release/examples/bench_native", import.meta.url);
  const nodeRounds = [], native = [];
  for (let r = 0; r < (QUICK ? 3 : 7); r++) {
    native.push(JSON.parse(execFileSync(fileURLToPath(bin), [token, String(now), JSON.stringify(jwk)], { encoding: "utf8" })));
    const fn = syncPeers["node:crypto.verify (P1363)"];
    const n = iters["node:crypto.verify (P1363)"];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    nodeRounds.push(Number(process.hrtime.bigint() - t0) / n / 1000);
  }
  const nv = median(nodeRounds);
  const nm = (k) => median(native.map((x) => x[k]));
  console.log("| what | µs | vs node:crypto.verify |\n|---|---:|---:|");
  for (const [k, label] of [["verify_first_sight", "Rust Verifier::verify, cache off (full policy)"], ["signature_fast", "Rust verify_es256 (fast path, signature only)"], ["signature_p256", "Rust p256 verify (reference)"], ["verify_seen", "Rust Verifier::verify, cached token"]]) {
    console.log(`| ${label} | ${fmt(nm(k))} | ${(nm(k) / nv).toFixed(3)}x |`);
  }
  console.log(`| node:crypto.verify (OpenSSL, P1363, same rounds) | ${fmt(nv)} | 1.000x |`);
  const speed = spawnSync("openssl", ["speed", "-seconds", QUICK ? "1" : "3", "ecdsap256"], { encoding: "utf8" });
  const line = (speed.stdout ?? "").split("\n").find((l) => /256 bits ecdsa \(nistp256\)/.test(l));
  if (line) {
    const verifyPerSec = Number(line.trim().split(/\s+/).at(-1));
    console.log(`\nopenssl speed ecdsap256: ${(1e6 / verifyPerSec).toFixed(1)} µs per verify (${verifyPerSec} verify/s; prehashed, no SHA-256)`);
  }
}
