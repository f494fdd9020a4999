// `edgetoken/builder` outside Node (browsers, bundlers): call `await init()` once, then
// `buildRevocationFilter`. Edges verify; they have no reason to load this module.
export { default, default as init, buildRevocationFilter } from "./gen/edgetoken_builder.js";
export { EdgetokenError } from "./errors.js";
