// Cloudflare workerd / wrangler / miniflare entry: `.wasm` imports are compiled by the
// runtime at deploy time and arrive here as a WebAssembly.Module.
import wasmModule from "./gen/edgetoken_bg.wasm";
import { instantiatePrecompiled } from "./precompiled.js";

instantiatePrecompiled(wasmModule, "workerd");

export * from "./api.js";
