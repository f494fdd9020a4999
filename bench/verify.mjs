// Quick comparison: edgetoken.verify vs jose.jwtVerify on the same token and key, in one
// Node process, interleaved rounds, medians. Run: npm run build && node bench/verify.mjs
import { Verifier } from "edgetoken";
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify } from "jose";

const ISSUER = "https://auth.example.com";
const AUDIENCE = "https://app.example.com";
const { publicKey, privateKey } = await generateKeyPair("ES256");
const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ sub: "user-1", sid: "s-1", jti: "j-1" })
  .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
  .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(now).setExpirationTime(now + 600)
  .sign(privateKey);

// cache: false: this measures first-sight verification (npm run bench measures both).
const verifier = new Verifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] }, cache: false });
const joseKey = await importJWK(jwk, "ES256");
const joseOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], typ: "at+jwt" };

const peers = {
  "edgetoken.verify": async () => { if (!verifier.verify(token, now).ok) throw new Error("rejected"); },
  "jose.jwtVerify": async () => { await jwtVerify(token, joseKey, joseOptions); },
};
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const PER_ROUND = Number(process.env.PER_ROUND ?? 200);
const samples = Object.fromEntries(Object.keys(peers).map((k) => [k, []]));
for (const fn of Object.values(peers)) for (let i = 0; i < 50; i++) await fn(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(peers)) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) await fn();
    samples[name].push(Number(process.hrtime.bigint() - t0) / PER_ROUND / 1000);
  }
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(samples["jose.jwtVerify"]);
console.log(`node ${process.version}, ${ROUNDS} rounds x ${PER_ROUND}, median µs per verify`);
for (const [name, xs] of Object.entries(samples)) {
  console.log(`${name.padEnd(18)} ${median(xs).toFixed(1).padStart(8)} µs   ${(median(xs) / base).toFixed(2)}x jose`);
}
