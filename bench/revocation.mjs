// Revocation lookup cost in wasm, measured against full token verification (dominated by
// the ES256 signature) in the same Node process, interleaved, medians.
// Run: npm run build && node bench/revocation.mjs
import { Verifier, buildRevocationFilter } from "edgetoken";
import { SignJWT, exportJWK, generateKeyPair } from "jose";

const ISSUER = "https://auth.example.com";
const AUDIENCE = "https://app.example.com";
const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
const priv = { ...(await exportJWK(privateKey)), kid: "k1" };
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ sub: "user-1", sid: "s-live", jti: "j-live" })
  .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
  .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(now).setExpirationTime(now + 600)
  .sign(privateKey);

const ROUNDS = Number(process.env.ROUNDS ?? 11);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`node ${process.version}; median of ${ROUNDS} interleaved rounds`);
for (const n of [1_000, 100_000]) {
  const sids = Array.from({ length: n }, (_, i) => `revoked-${i}`);
  const bytes = buildRevocationFilter({ issuer: ISSUER, key: priv, sequence: 1, builtAt: now, ttl: 600, sids });
  const v = new Verifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] }, revocations: bytes, cache: false });
  const ids = { sub: "user-1", sid: "s-live", jti: "j-live", iat: now };
  const lookups = [], verifies = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < 20_000; i++) if (v.isRevoked(ids) !== false) throw new Error("unexpected");
    lookups.push(Number(process.hrtime.bigint() - t0) / 20_000);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) if (!v.verify(token, now).ok) throw new Error("rejected");
    verifies.push(Number(process.hrtime.bigint() - t0) / 200);
  }
  const l = median(lookups), f = median(verifies);
  console.log(
    `${String(n).padStart(7)} entries (${bytes.length} B): isRevoked ${l.toFixed(0)} ns, ` +
      `verify ${(f / 1000).toFixed(1)} µs, lookup = ${((l / f) * 100).toFixed(2)}% of a verify`,
  );
}
