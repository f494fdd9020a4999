// The plain `import { Verifier } from "edgetoken"`, with no init call, in the two edge
// runtimes that refuse to compile wasm from bytes at run time:
//  - Cloudflare workerd (the real binary, through miniflare), bundled with the `workerd`
//    export condition and the .wasm import handed to workerd as a CompiledWasm module;
//  - edge-runtime's EdgeVM with wasm code generation off, bundled with the `edge-light`
//    condition and the `.wasm?module` import mapped to a WebAssembly.Module compiled by the
//    host, the way Next.js binds wasm for its edge sandbox.
// Each runtime is also shown to refuse compiling wasm from bytes, so a working entry there
// proves the entry never compiles from bytes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import { EdgeVM } from "@edge-runtime/vm";
import { createServer } from "node:http";
import { exportJWK } from "jose";
import { buildRevocationFilter } from "edgetoken/builder";
import { AUDIENCE, ISSUER, NOW, forge, issuerKeys, mint, standardClaims } from "./helpers.js";
import { startWorker } from "./workerd.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = (name) => join(root, "tests/js/fixtures", name);
const wasmPath = join(root, "pkg/gen/edgetoken_bg.wasm");
assert.ok(existsSync(wasmPath), "pkg/gen is missing: run `npm run build` first");
const wasmBytes = readFileSync(wasmPath);

// The four verdicts every runtime must reproduce.
const keys = await issuerKeys();
const good = await mint(keys);
const [h, , s] = good.split(".");
const claims = standardClaims();
const CASES = [
  ["valid", good, null],
  ["expired", await mint(keys, standardClaims({ iat: NOW - 1000, exp: NOW - 100 })), "expired"],
  ["tampered", `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: "admin" })).toString("base64url")}.${s}`,
    "bad_signature"],
  ["alg none", forge({ alg: "none", typ: "at+jwt" }, claims), "alg_not_allowed"],
];
const requestFor = (token) => ({ token, jwks: keys.jwks, issuer: ISSUER, audience: AUDIENCE, now: NOW });

/** Runs the four cases through `verify(request) -> result` and checks each verdict. */
async function assertVerdicts(verify) {
  for (const [name, token, code] of CASES) {
    const r = await verify(requestFor(token));
    if (code === null) {
      assert.equal(r.ok, true, `${name}: ${JSON.stringify(r)}`);
      assert.equal(r.claims.sub, "user-1");
      assert.equal(r.claims.iss, ISSUER);
    } else {
      assert.equal(r.ok, false, `${name}: ${JSON.stringify(r)}`);
      assert.equal(r.code, code, `${name}: ${JSON.stringify(r)}`);
    }
  }
}

/** Asserts that a bundle pulled in exactly one of the package's runtime entries: `entry`. */
function assertEntry(metafile, entry) {
  const inputs = Object.keys(metafile.inputs);
  const entries = ["node.js", "workerd.js", "edge-light.js", "browser.js"].filter((e) => inputs.includes(`pkg/${e}`));
  assert.deepEqual(entries, [entry], inputs.join(", "));
  assert.ok(inputs.includes("pkg/gen/edgetoken.js"), inputs.join(", "));
}

const WASM_CODEGEN_REFUSED = /CompileError: WebAssembly\.\w+\(\): Wasm code generation disallowed by embedder/;

describe("Cloudflare workerd (miniflare)", { timeout: 120_000 }, () => {
  let verifyWorker;
  let bytesWorker;
  let bundle;
  // A worker whose top-level code throws fails workerd's start-up: keep that error for the
  // test that uses the worker (dispatchFetch would reject with a vaguer one).
  const started = (mf) => mf.ready.then(() => null, (e) => e);
  let verifyWorkerStarted;
  let bytesWorkerStarted;

  before(async () => {
    let wasmImports;
    ({ mf: verifyWorker, bundle, wasmImports } = await startWorker(fixture("worker.js")));
    assert.deepEqual(wasmImports, ["./gen/edgetoken_bg.wasm"], "the bundle's only external import is the wasm");
    const dir = "/edge-worker";
    verifyWorkerStarted = started(verifyWorker);
    bytesWorker = new Miniflare({
      compatibilityDate: "2025-01-01",
      modulesRoot: dir,
      modules: [
        { type: "ESModule", path: join(dir, "bytes.mjs"), contents: readFileSync(fixture("wasm-from-bytes-worker.js"), "utf8") },
        { type: "Data", path: join(dir, "edgetoken-bytes.bin"), contents: wasmBytes },
      ],
    });
    bytesWorkerStarted = started(bytesWorker);
  });

  after(async () => {
    // dispose() rejects for a worker that failed to start; the other must still be stopped.
    await Promise.allSettled([verifyWorker?.dispose(), bytesWorker?.dispose()]);
  });

  test("esbuild picks the package's workerd entry", () => {
    assertEntry(bundle.metafile, "workerd.js");
  });

  test("workerd refuses to compile wasm from bytes at run time", async () => {
    assert.ifError(await bytesWorkerStarted);
    const res = await bytesWorker.dispatchFetch("http://localhost/");
    assert.equal(res.status, 200);
    const report = await res.json();
    for (const name of ["empty", "edgetoken"]) {
      const r = report[name];
      assert.equal(r.valid, true, `${name}: the bytes are valid wasm`);
      for (const how of ["newModule", "compile", "instantiate"]) {
        assert.equal(r[how].compiled, false, `${name} ${how}: ${JSON.stringify(r[how])}`);
        assert.match(r[how].error, WASM_CODEGEN_REFUSED, `${name} ${how}`);
      }
    }
    assert.equal(report.edgetoken.length, wasmBytes.length);
  });

  test("the plain import verifies tokens in workerd: valid, expired, tampered, alg none", async () => {
    assert.ifError(await verifyWorkerStarted);
    await assertVerdicts(async (request) => {
      const res = await verifyWorker.dispatchFetch("http://localhost/", {
        method: "POST",
        body: JSON.stringify(request),
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      return body;
    });
  });

  test("IssuerSync runs in workerd with the runtime's fetch: discovery, keys, filter, 304s", async () => {
    assert.ifError(await verifyWorkerStarted);
    const now = Math.floor(Date.now() / 1000);
    const priv = { ...(await exportJWK(keys.privateKey)), kid: keys.kid };
    const filter = Buffer.from(buildRevocationFilter({ issuer: ISSUER, key: priv, sequence: 1, builtAt: now, ttl: 60, sids: ["s-bad"] }));
    const hits = [];
    const server = createServer((req, res) => {
      hits.push(`${req.url} ${req.headers["if-none-match"] ?? "-"}`);
      if (req.headers["if-none-match"] === '"v1"') return res.writeHead(304).end();
      const body = {
        "/.well-known/edgetoken.json": JSON.stringify({
          issuer: ISSUER, audience: AUDIENCE, jwks_uri: "/.well-known/jwks.json", revocations_uri: "/revocations",
          clock_tolerance: 30, max_token_lifetime: 900, revocation_window: 960, revocation_ttl: 60,
          revocation_max_ttl: 3600, sync_interval: 1, key_prepublication: 0,
        }),
        "/.well-known/jwks.json": JSON.stringify(keys.jwks),
        "/revocations": filter,
      }[req.url];
      res.writeHead(200, { etag: '"v1"' }).end(body);
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    try {
      const discovery = `http://127.0.0.1:${server.address().port}/.well-known/edgetoken.json`;
      const ask = async (claims) => {
        const token = await mint(keys, standardClaims({ iat: now, exp: now + 300, ...claims }));
        const res = await verifyWorker.dispatchFetch("http://localhost/sync", {
          method: "POST",
          body: JSON.stringify({ discovery, issuer: ISSUER, audience: AUDIENCE, token }),
        });
        const body = await res.json();
        assert.equal(res.status, 200, JSON.stringify(body));
        return body;
      };
      const first = await ask({});
      assert.equal(first.result.ok, true, JSON.stringify(first));
      assert.deepEqual(first.status.keys, [keys.kid]);
      assert.equal(first.status.revocations.sequence, 1);
      assert.deepEqual(first.errors, [{ instance: true, code: "invalid_config" }]);
      assert.equal((await ask({ sid: "s-bad" })).result.code, "revoked");
      await new Promise((r) => setTimeout(r, 1100)); // one sync interval
      await ask({});
      await ask({}); // the background sync of the previous request has finished by now
      assert.ok(hits.includes('/.well-known/jwks.json "v1"') && hits.includes('/revocations "v1"'), hits.join("; "));
    } finally {
      server.close();
    }
  });
});

describe("edge-runtime EdgeVM, wasm code generation off", { timeout: 60_000 }, () => {
  let bundle;
  const wasmImports = [];

  // Next.js compiles each `.wasm?module` import in the host (`WebAssembly.compile`) and binds
  // the Module as a global of the sandbox; the bundled import reads that global.
  const WASM_GLOBAL = "wasm_edgetoken_bg";

  before(async () => {
    bundle = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [fixture("edge-entry.js")],
      bundle: true,
      write: false,
      format: "iife",
      platform: "neutral",
      conditions: ["edge-light", "worker", "browser"],
      metafile: true,
      outdir: "/edge-vm",
      logLevel: "silent",
      plugins: [{
        name: "wasm-module-global",
        setup(build) {
          build.onResolve({ filter: /\.wasm\?module$/ }, (args) => {
            wasmImports.push(args.path);
            return { path: args.path, namespace: "wasm-module-global" };
          });
          build.onLoad({ filter: /.*/, namespace: "wasm-module-global" }, () => ({
            contents: `export default globalThis.${WASM_GLOBAL};`,
            loader: "js",
          }));
        },
      }],
    });
  });

  /** A fresh EdgeVM (string and wasm code generation off) with `wasm` bound as Next binds it. */
  function edgeVM(wasm) {
    const vm = new EdgeVM({ codeGeneration: { strings: false, wasm: false } });
    vm.context[WASM_GLOBAL] = wasm;
    return vm;
  }

  /** Evaluates the bundle in `vm`, then runs the four cases through it. */
  async function assertBundleVerifies(vm) {
    vm.evaluate(bundle.outputFiles[0].text);
    await assertVerdicts((request) => JSON.parse(vm.context.edgetokenVerify(JSON.stringify(request))));
  }

  test("esbuild picks the package's edge-light entry and its ?module wasm import", () => {
    assertEntry(bundle.metafile, "edge-light.js");
    assert.deepEqual(wasmImports, ["./gen/edgetoken_bg.wasm?module"]);
  });

  test("the VM refuses to compile wasm from bytes", async () => {
    const vm = edgeVM(undefined);
    vm.context.bytes = new Uint8Array(wasmBytes);
    assert.equal(vm.evaluate("WebAssembly.validate(bytes)"), true, "the bytes are valid wasm");
    assert.throws(() => vm.evaluate("new WebAssembly.Module(bytes)"), WASM_CODEGEN_REFUSED);
    await assert.rejects(vm.evaluate("WebAssembly.compile(bytes)"), WASM_CODEGEN_REFUSED);
    await assert.rejects(vm.evaluate("WebAssembly.instantiate(bytes)"), WASM_CODEGEN_REFUSED);
    assert.throws(() => vm.evaluate("eval('1')"), /Code generation from strings disallowed/);
  });

  test("the edge-light entry refuses bytes in place of a Module, with its own message", () => {
    const vm = edgeVM(new Uint8Array(wasmBytes));
    assert.throws(() => vm.evaluate(bundle.outputFiles[0].text),
      /edgetoken: the edge-light entry expected its \.wasm import to be a precompiled WebAssembly\.Module/);
  });

  test("the plain import verifies tokens with a Module of the VM's own realm: valid, expired, tampered, alg none",
    async () => {
      // A runtime that compiles bound wasm inside the isolate (Vercel's edge) hands the code a
      // Module of its own realm. No Module can be compiled in this VM (code generation is off),
      // so a host-compiled one is given the VM realm's prototype: the same compiled module,
      // `instanceof WebAssembly.Module` inside the VM.
      const vm = edgeVM(undefined);
      const module = new WebAssembly.Module(wasmBytes);
      Object.setPrototypeOf(module, vm.evaluate("WebAssembly.Module.prototype"));
      vm.context[WASM_GLOBAL] = module;
      assert.equal(vm.evaluate(`${WASM_GLOBAL} instanceof WebAssembly.Module`), true);
      await assertBundleVerifies(vm);
    });

  test("the plain import verifies tokens with a host-compiled Module, as Next.js binds it: valid, expired, tampered, alg none",
    async () => {
      // Next's sandbox binds a Module compiled in the Node realm: `instanceof` is false inside
      // the VM. wasm-bindgen's glue tests exactly that and would then try to compile the
      // Module as bytes; scripts/build-pkg.sh patches the test to the toString tag.
      const vm = edgeVM(new WebAssembly.Module(wasmBytes));
      assert.equal(vm.evaluate(`${WASM_GLOBAL} instanceof WebAssembly.Module`), false, "a Node-realm Module");
      await assertBundleVerifies(vm);
    });
});
