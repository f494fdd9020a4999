// Browser (and default) entry: call `await init()` once before using the API. It fetches
// and compiles edgetoken_bg.wasm from next to this file (or from the URL you pass).
export { default, default as init } from "./gen/edgetoken.js";
export * from "./api.js";
