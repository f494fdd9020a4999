// Next.js middleware / Vercel Edge entry: Next's `?module` import yields a precompiled
// WebAssembly.Module (the edge runtime refuses to compile wasm from bytes).
import wasmModule from "./gen/edgetoken_bg.wasm?module";
import { instantiatePrecompiled } from "./precompiled.js";

instantiatePrecompiled(wasmModule, "edge-light");

export * from "./api.js";
