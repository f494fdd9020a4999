// Shared fixtures for the JS tests: an issuer key pair and token minting with jose.
import { SignJWT, exportJWK, generateKeyPair } from "jose";

export const ISSUER = "https://auth.example.com";
export const AUDIENCE = "https://app.example.com";
export const NOW = 1_800_000_000;

export async function issuerKeys(kid = "k1") {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { publicKey, privateKey, jwk, jwks: { keys: [jwk] }, kid };
}

export function standardClaims(overrides = {}) {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "user-1",
    sid: "session-1",
    jti: "token-1",
    iat: NOW,
    exp: NOW + 600,
    ...overrides,
  };
}

export async function mint(keys, claims = standardClaims(), header = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: keys.kid, ...header })
    .sign(keys.privateKey);
}

const b64url = (s) => Buffer.from(s).toString("base64url");

/** A token with an arbitrary header/payload and an arbitrary (unsigned) signature. */
export function forge(header, payload, signature = "") {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.${signature}`;
}
