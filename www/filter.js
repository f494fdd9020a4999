// Loads the origin's configuration, JWKS and revocation filter, and checks the filter with
// the edgetoken wasm package in this browser, exactly as an edge would.
import init, { Verifier } from "/pkg/browser.js";

let ready = null;

export async function originVerifier() {
  ready ??= (async () => {
    await init();
    const config = await (await fetch("/.well-known/edgetoken.json")).json();
    const jwks = await (await fetch(config.jwks_uri)).json();
    return {
      config,
      verifier: new Verifier({
        issuer: config.issuer,
        audience: config.audience,
        jwks,
        revocationUrl: config.revocations_uri,
      }),
    };
  })().catch((e) => {
    ready = null;
    throw e;
  });
  return ready;
}

/** Fetches the current filter and returns its status as verified by pkg. */
export async function loadFilterStatus() {
  const { verifier, config } = await originVerifier();
  const res = await fetch(config.revocations_uri, { cache: "no-store" });
  if (!res.ok) throw new Error(`GET /revocations: HTTP ${res.status}`);
  return verifier.setRevocations(new Uint8Array(await res.arrayBuffer()));
}
