// Edge middleware: verifies the access-token cookie with edgetoken (wasm, imported as a
// precompiled module by the package's `edge-light` entry), keeps keys and revocation
// filter in sync with the origin (IssuerSync: discovery document, JWKS, filter), and
// passes verified claims to the page in a request header.
import { NextResponse, type NextFetchEvent, type NextRequest } from "next/server";
import { IssuerSync } from "edgetoken";

const ORIGIN = process.env.EDGETOKEN_ORIGIN ?? "http://127.0.0.1:8080";
const AUDIENCE = process.env.EDGETOKEN_AUDIENCE ?? "edgetoken";
// Unset: the origin's clock_tolerance from its discovery document.
const CLOCK_TOLERANCE = process.env.EDGETOKEN_CLOCK_TOLERANCE ? Number(process.env.EDGETOKEN_CLOCK_TOLERANCE) : undefined;
// Seconds between syncs; unset: the origin's recommended sync_interval.
const SYNC_INTERVAL = process.env.EDGETOKEN_SYNC_INTERVAL ? Number(process.env.EDGETOKEN_SYNC_INTERVAL) : undefined;
const ACCESS_COOKIE = "__Host-access";
const CLAIMS_HEADER = "x-edgetoken-claims";

let edge: Promise<IssuerSync> | null = null;

/**
 * One verifier and sync per isolate, created on first use (and retried if the origin was
 * down). The verifier's issuer, token lifetime and filter bounds come from the origin's
 * discovery document; it has no keys until the first sync, so revocation is required and
 * every verification fails closed (keys_unavailable, revocations_stale) until then.
 */
function getEdge(): Promise<IssuerSync> {
  edge ??= IssuerSync.fromDiscovery({
    discovery: `${ORIGIN}/.well-known/edgetoken.json`,
    interval: SYNC_INTERVAL,
    verifier: CLOCK_TOLERANCE === undefined ? { audience: AUDIENCE } : { audience: AUDIENCE, clockTolerance: CLOCK_TOLERANCE },
  }).catch((e) => {
    edge = null;
    throw e;
  });
  return edge;
}

export async function middleware(req: NextRequest, event: NextFetchEvent) {
  // Never trust a claims header from the client.
  const headers = new Headers(req.headers);
  headers.delete(CLAIMS_HEADER);

  let sync: IssuerSync;
  try {
    sync = await getEdge();
  } catch {
    return NextResponse.json({ error: "origin_unreachable" }, { status: 503 });
  }
  const token = req.cookies.get(ACCESS_COOKIE)?.value ?? "";
  // Waits for the origin only when keys or filter are missing or stale; a token naming a
  // key this edge does not hold yet triggers one (rate-limited) JWKS fetch. Background
  // syncs are kept alive by event.waitUntil.
  const result = await sync.verify(token, event);
  if (result.ok) {
    headers.set(CLAIMS_HEADER, JSON.stringify(result.claims));
    return NextResponse.next({ request: { headers } });
  }
  if (result.code === "expired") {
    const url = new URL("/refresh", req.url);
    url.searchParams.set("next", req.nextUrl.pathname);
    return NextResponse.redirect(url);
  }
  if (result.code === "revocations_stale" || result.code === "keys_unavailable") {
    // The edge cannot decide (origin unreachable): fail closed, and say it is temporary.
    return NextResponse.json({ error: result.code, message: result.message }, { status: 503 });
  }
  return NextResponse.json(
    { error: result.code, message: result.message },
    { status: result.code === "revoked" ? 403 : 401 },
  );
}

export const config = { matcher: ["/protected/:path*"] };
