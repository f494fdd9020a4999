// Node.js entry: reads the .wasm next to this file and instantiates it synchronously,
// so `import { Verifier } from "edgetoken"` needs no init call.
import { readFileSync } from "node:fs";
import { initSync } from "./gen/edgetoken.js";

initSync({ module: readFileSync(new URL("./gen/edgetoken_bg.wasm", import.meta.url)) });

export * from "./api.js";
