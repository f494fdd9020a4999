// `edgetoken/builder` in Node: the revocation-filter builder for origins, in its own wasm
// module (it carries signing code edges never need). Instantiated synchronously on import.
import { readFileSync } from "node:fs";
import { initSync } from "./gen/edgetoken_builder.js";

initSync({ module: readFileSync(new URL("./gen/edgetoken_builder_bg.wasm", import.meta.url)) });

export { buildRevocationFilter } from "./gen/edgetoken_builder.js";
export { EdgetokenError } from "./errors.js";
