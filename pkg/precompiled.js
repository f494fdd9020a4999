// Shared by the edge entries: instantiate an already-compiled WebAssembly.Module.
// Edge runtimes forbid compiling wasm from bytes at run time, so bytes are refused here
// with a clear message instead of failing obscurely inside the runtime.
import { initSync } from "./gen/edgetoken.js";

export function instantiatePrecompiled(module, runtime) {
  // toString tag, not instanceof: sandboxes (Next's edge runtime, EdgeVM) may hand us a
  // Module from another realm.
  if (Object.prototype.toString.call(module) !== "[object WebAssembly.Module]") {
    throw new Error(
      `edgetoken: the ${runtime} entry expected its .wasm import to be a precompiled ` +
        "WebAssembly.Module; check that your bundler imports .wasm files as modules",
    );
  }
  initSync({ module });
}
