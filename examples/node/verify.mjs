// The README's Node example: mint a token with jose (standing in for your auth server)
// and verify it with edgetoken. Run: npm run build && node examples/node/verify.mjs
import { Verifier } from "edgetoken";
import { SignJWT, exportJWK, generateKeyPair } from "jose";

const { publicKey, privateKey } = await generateKeyPair("ES256");
const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] };

const token = await new SignJWT({ sub: "user-1", sid: "s-1", jti: crypto.randomUUID() })
  .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
  .setIssuer("https://auth.example.com")
  .setAudience("https://app.example.com")
  .setIssuedAt()
  .setExpirationTime("10m")
  .sign(privateKey);

const verifier = new Verifier({
  issuer: "https://auth.example.com",
  audience: "https://app.example.com",
  jwks,
});

const result = verifier.verify(token);
if (result.ok) {
  console.log("valid token for", result.claims.sub);
} else {
  console.log("rejected:", result.code, result.message);
  process.exitCode = 1;
}
