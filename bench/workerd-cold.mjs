// workerd cold start through miniflare: time from a fresh runtime to the first response,
// with and without edgetoken in the worker. workerd's clocks inside a worker only advance
// on I/O, so the cost is seen from outside, as a difference against a baseline worker.
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function workerd({ jwk, token, now, ISSUER, AUDIENCE, runs }) {
  const pkg = (f) => readFileSync(new URL(`../pkg/${f}`, import.meta.url), "utf8");
  const worker = (withEdgetoken) => `
${withEdgetoken ? 'import { Verifier } from "./pkg/workerd.js";' : ""}
export default {
  async fetch() {
    ${withEdgetoken ? `const v = new Verifier({ issuer: ${JSON.stringify(ISSUER)}, audience: ${JSON.stringify(AUDIENCE)}, jwks: { keys: [${JSON.stringify(jwk)}] } });
    const r = v.verify(${JSON.stringify(token)}, ${now});
    return new Response(r.ok ? "ok" : r.code);` : 'return new Response("ok");'}
  },
};`;
  const modules = (withEdgetoken) => [
    { type: "ESModule", path: "worker.mjs", contents: worker(withEdgetoken) },
    ...(withEdgetoken
      ? [
          { type: "ESModule", path: "pkg/workerd.js", contents: pkg("workerd.js") },
          { type: "ESModule", path: "pkg/precompiled.js", contents: pkg("precompiled.js") },
          { type: "ESModule", path: "pkg/api.js", contents: pkg("api.js") },
          { type: "ESModule", path: "pkg/revocation-sync.js", contents: pkg("revocation-sync.js") },
          { type: "ESModule", path: "pkg/gen/edgetoken.js", contents: pkg("gen/edgetoken.js") },
          { type: "CompiledWasm", path: "pkg/gen/edgetoken_bg.wasm", contents: readFileSync(new URL("../pkg/gen/edgetoken_bg.wasm", import.meta.url)) },
        ]
      : []),
  ];
  const once = async (withEdgetoken) => {
    const t0 = performance.now();
    const mf = new Miniflare({ modules: modules(withEdgetoken), compatibilityDate: "2025-01-01" });
    const res = await mf.dispatchFetch("http://localhost/");
    const body = await res.text();
    const t = performance.now() - t0;
    await mf.dispose();
    if (body !== "ok") throw new Error(`worker answered ${body}`);
    return t;
  };
  const a = [], b = [];
  await once(false);
  for (let i = 0; i < runs; i++) {
    b.push(await once(false));
    a.push(await once(true));
  }
  return { runs, edgetoken: median(a), baseline: median(b) };
}
