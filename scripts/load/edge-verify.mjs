// Edge-side verify under load: a Node process with pkg's Verifier (revocation required,
// keys and filter kept fresh by IssuerSync from the origin) verifying access tokens the
// origin issued.
// node edge-verify.mjs URL SESSIONS_FILE SECONDS  -> one JSON line
import { readFileSync } from "node:fs";
import { Verifier, IssuerSync } from "edgetoken";

const [url, sessionsFile, seconds] = process.argv.slice(2);
const tokens = readFileSync(sessionsFile, "utf8").trim().split("\n").map((l) => l.split(" ")[2]).filter((t) => t && t !== "-");
const result = {};
for (const cache of [false, true]) {
  const verifier = new Verifier({ issuer: "edgetoken-origin", audience: "edgetoken", revocation: "required", cache });
  const sync = new IssuerSync(verifier, { discovery: `${url}/.well-known/edgetoken.json`, interval: 1 });
  await sync.refresh();
  const lat = [];
  const codes = {};
  const end = performance.now() + Number(seconds) * 1000;
  let i = 0;
  while (performance.now() < end) {
    if (i % 1000 === 0) await sync.ensureFresh();
    const t0 = performance.now();
    const r = verifier.verify(tokens[i++ % tokens.length]);
    lat.push(performance.now() - t0);
    const k = r.ok ? "ok" : r.code;
    codes[k] = (codes[k] ?? 0) + 1;
  }
  lat.sort((a, b) => a - b);
  const q = (p) => Number(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(4));
  result[cache ? "cache_on" : "cache_off"] = {
    verifies: lat.length, per_second: Math.round(lat.length / Number(seconds)),
    latency_ms: { p50: q(0.5), p99: q(0.99), max: q(1) }, distinct_tokens: tokens.length, results: codes,
  };
}
console.log(JSON.stringify(result));
