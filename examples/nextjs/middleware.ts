// Edge middleware: verifies the access-token cookie with edgetoken (wasm, imported as a
// precompiled module by the package's `edge-light` entry), keeps the revocation filter
// fresh, and passes verified claims to the page in a request header.
import { NextResponse, type NextRequest } from "next/server";
import { Verifier, RevocationSync } from "edgetoken";

const ORIGIN = process.env.EDGETOKEN_ORIGIN ?? "http://127.0.0.1:8080";
const ISSUER = process.env.EDGETOKEN_ISSUER ?? "edgetoken-origin";
const AUDIENCE = process.env.EDGETOKEN_AUDIENCE ?? "edgetoken";
const CLOCK_TOLERANCE = Number(process.env.EDGETOKEN_CLOCK_TOLERANCE ?? 30);
const REVOCATION_INTERVAL = Number(process.env.EDGETOKEN_REVOCATION_INTERVAL ?? 2);
const ACCESS_COOKIE = "__Host-access";
const CLAIMS_HEADER = "x-edgetoken-claims";

type Edge = { verifier: Verifier; sync: RevocationSync; jwksFetchedAt: number };
let edge: Promise<Edge> | null = null;

async function fetchJwks() {
  const res = await fetch(`${ORIGIN}/.well-known/jwks.json`, { cache: "no-store" });
  if (!res.ok) throw new Error(`JWKS: HTTP ${res.status}`);
  return res.json();
}

/** One verifier per isolate, created on first use (and retried if the origin was down). */
function getEdge(): Promise<Edge> {
  edge ??= (async () => {
    const verifier = new Verifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      clockTolerance: CLOCK_TOLERANCE,
      jwks: await fetchJwks(),
      revocationUrl: `${ORIGIN}/revocations`, // makes revocation checking required
    });
    const sync = new RevocationSync(verifier, { interval: REVOCATION_INTERVAL, margin: 10 });
    return { verifier, sync, jwksFetchedAt: Date.now() };
  })().catch((e) => {
    edge = null;
    throw e;
  });
  return edge;
}

export async function middleware(req: NextRequest) {
  // Never trust a claims header from the client.
  const headers = new Headers(req.headers);
  headers.delete(CLAIMS_HEADER);

  let e: Edge;
  try {
    e = await getEdge();
  } catch {
    return NextResponse.json({ error: "origin_unreachable" }, { status: 503 });
  }
  await e.sync.ensureFresh();
  const token = req.cookies.get(ACCESS_COOKIE)?.value ?? "";
  let result = e.verifier.verify(token);
  if (!result.ok && result.code === "key_not_found" && Date.now() - e.jwksFetchedAt > 10_000) {
    // Key rotation: refetch the JWKS at most every 10 s, then verify again.
    e.jwksFetchedAt = Date.now();
    e.verifier.setKeys(await fetchJwks());
    result = e.verifier.verify(token);
  }
  if (result.ok) {
    headers.set(CLAIMS_HEADER, JSON.stringify(result.claims));
    return NextResponse.next({ request: { headers } });
  }
  if (result.code === "expired") {
    const url = new URL("/refresh", req.url);
    url.searchParams.set("next", req.nextUrl.pathname);
    return NextResponse.redirect(url);
  }
  if (result.code === "revocations_stale") {
    return NextResponse.json({ error: result.code, message: result.message }, { status: 503 });
  }
  return NextResponse.json(
    { error: result.code, message: result.message },
    { status: result.code === "revoked" ? 403 : 401 },
  );
}

export const config = { matcher: ["/protected/:path*"] };
