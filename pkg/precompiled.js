// Shared by the edge entries: instantiate an already-compiled WebAssembly.Module.
// Edge runtimes forbid compiling wasm from bytes at run time, so bytes are refused here
// with a clear message instead of failing obscurely inside the runtime.
import { initSync } from "./gen/edgetoken.js";

export function instantiatePrecompiled(module, runtime) {
  if (!(module instanceof WebAssembly.Module)) {
    throw new Error(
      `edgetoken: the ${runtime} entry expected its .wasm import to be a precompiled ` +
        "WebAssembly.Module; check that your bundler imports .wasm files as modules",
    );
  }
  initSync({ module });
}
