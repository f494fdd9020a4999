// The public JavaScript API, shared by every runtime entry. Each entry (node.js,
// workerd.js, edge-light.js, browser.js) first instantiates the wasm its own way.
export { Verifier, errorCodes } from "./gen/edgetoken.js";
export { EdgetokenError } from "./errors.js";
export { IssuerSync } from "./issuer-sync.js";
