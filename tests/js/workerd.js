// Runs a test worker in Cloudflare's workerd (the real binary, through miniflare) the way
// a deployment would: bundled by esbuild with the package's `workerd` export condition, the
// `.wasm` import left external and handed to workerd as a precompiled (CompiledWasm) module.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import { ROOT } from "./processes.js";

const WASM = join(ROOT, "pkg/gen/edgetoken_bg.wasm");

/**
 * Bundles `entry` for workerd and starts it. Resolves to { mf, bundle, wasmImports }: the
 * Miniflare instance (dispose it), the esbuild result (with its metafile) and the bundle's
 * external imports, which must be only the wasm module.
 */
export async function startWorker(entry, dir = "/edge-worker") {
  const bundle = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    external: ["*.wasm"],
    metafile: true,
    outdir: dir,
    logLevel: "silent",
  });
  const [output] = Object.values(bundle.metafile.outputs);
  const wasmImports = output.imports.filter((i) => i.external).map((i) => i.path);
  const wasm = readFileSync(WASM);
  // Modules are named by their path under modulesRoot, so each CompiledWasm module sits
  // where the bundle's import specifier points.
  const mf = new Miniflare({
    compatibilityDate: "2025-01-01",
    modulesRoot: dir,
    modules: [
      { type: "ESModule", path: join(dir, "worker.mjs"), contents: bundle.outputFiles[0].text },
      ...wasmImports.map((path) => ({ type: "CompiledWasm", path: join(dir, path), contents: wasm })),
    ],
  });
  return { mf, bundle, wasmImports };
}
