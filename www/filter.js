// Keeps this page's edgetoken Verifier in sync with the origin exactly as an edge does:
// IssuerSync reads the discovery document, then the JWKS and the signed revocation filter,
// all checked by the wasm package in this browser.
import init, { IssuerSync } from "/pkg/browser.js";

let ready = null;

export async function originVerifier() {
  ready ??= (async () => {
    await init();
    // The verifier's issuer, audience and policy numbers come from the discovery document.
    const sync = await IssuerSync.fromDiscovery({
      discovery: new URL("/.well-known/edgetoken.json", location.href).href,
      // no-store: the sync's own If-None-Match decides what is fresh, not the browser cache.
      fetch: (url, opts) => fetch(url, { ...opts, cache: "no-store" }),
    });
    await sync.refresh();
    return { config: sync.discovery, verifier: sync.verifier, sync };
  })().catch((e) => {
    ready = null;
    throw e;
  });
  return ready;
}

/** Syncs keys and filter now and returns the filter's status as verified by pkg. */
export async function loadFilterStatus() {
  const { verifier, sync } = await originVerifier();
  await sync.refresh();
  return verifier.revocationStatus();
}
