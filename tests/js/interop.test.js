// Interop with jose (panva/jose, WebCrypto): tokens jose signs verify through pkg, and
// jose and edgetoken, configured alike, agree on a set of invalid tokens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, jwtVerify, importJWK } from "jose";
import { Verifier } from "edgetoken";
import { AUDIENCE, ISSUER, NOW, forge, issuerKeys, mint, standardClaims } from "./helpers.js";

const keys = await issuerKeys();
const other = await issuerKeys("k1"); // same kid, different key: a forged signature
const verifier = new Verifier({ issuer: ISSUER, audience: AUDIENCE, jwks: keys.jwks });
const joseKey = await importJWK(keys.jwk, "ES256");
const joseOptions = {
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ["ES256"],
  typ: "at+jwt",
  clockTolerance: 30,
  maxTokenAge: 900,
  requiredClaims: ["iss", "aud", "exp", "iat", "sub", "jti"],
  currentDate: new Date(NOW * 1000),
};

async function joseAccepts(token) {
  try {
    await jwtVerify(token, joseKey, joseOptions);
    return true;
  } catch {
    return false;
  }
}

test("tokens signed by jose in many shapes verify through pkg", async () => {
  let count = 0;
  for (const aud of [AUDIENCE, [AUDIENCE], ["https://x.example", AUDIENCE]]) {
    for (const extra of [{}, { scope: "read write" }, { roles: ["a", "b"], n: 1.5 }, { "é": "ü✓" }]) {
      const token = await mint(keys, standardClaims({ aud, ...extra }));
      const r = verifier.verify(token, NOW);
      assert.equal(r.ok, true, r.message);
      assert.equal(await joseAccepts(token), true);
      assert.deepEqual(r.claims, (await jwtVerify(token, joseKey, joseOptions)).payload);
      count++;
    }
  }
  // jose's SignJWT helpers produce the same claims shape our origin emits.
  const t = await new SignJWT({ sub: "u", jti: "j" })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
    .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(NOW).setExpirationTime(NOW + 300)
    .sign(keys.privateKey);
  assert.equal(verifier.verify(t, NOW).ok, true);
  assert.equal(count, 12);
});

test("jose and edgetoken agree on invalid tokens", async () => {
  const good = await mint(keys);
  const [h, p, s] = good.split(".");
  const claims = standardClaims();
  const invalid = {
    expired: await mint(keys, standardClaims({ iat: NOW - 1000, exp: NOW - 100 })),
    wrongAudience: await mint(keys, standardClaims({ aud: "https://other.example" })),
    wrongIssuer: await mint(keys, standardClaims({ iss: "https://evil.example" })),
    notYetValid: await mint(keys, standardClaims({ nbf: NOW + 600 })),
    missingExp: await mint(keys, standardClaims({ exp: undefined })),
    missingSub: await mint(keys, standardClaims({ sub: undefined })),
    wrongTyp: await mint(keys, standardClaims(), { typ: "JWT" }),
    otherKey: await mint(other),
    tamperedPayload: `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: "root" })).toString("base64url")}.${s}`,
    tamperedSignature: `${h}.${p}.${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`,
    algNone: forge({ alg: "none", typ: "at+jwt" }, claims),
    algHS256: forge({ alg: "HS256", typ: "at+jwt", kid: "k1" }, claims, s),
    twoSegments: `${h}.${p}`,
    stringExp: await mint(keys, standardClaims({ exp: String(NOW + 600) })),
    empty: "",
  };
  for (const [name, token] of Object.entries(invalid)) {
    const ours = verifier.verify(token, NOW);
    assert.equal(ours.ok, false, `edgetoken accepted ${name}`);
    assert.equal(await joseAccepts(token), false, `jose accepted ${name}`);
  }
  assert.equal(await joseAccepts(good), true);
  assert.equal(verifier.verify(good, NOW).ok, true);
});

test("where edgetoken is deliberately stricter than jose (documented in README)", async () => {
  const [h, p, s] = (await mint(keys)).split(".");
  // Canonical base64url only: jose's decoder tolerates '=' padding; we refuse it so that
  // each token has exactly one encoding.
  const padded = `${h}.${p}.${s}==`;
  assert.equal(verifier.verify(padded, NOW).code, "malformed");
  assert.equal(await joseAccepts(padded), true);
  // Lifetime: jose's maxTokenAge bounds now - iat; we also bound exp - iat, so a freshly
  // issued token that claims to live an hour is refused before it is ever old.
  const longLived = await mint(keys, standardClaims({ exp: NOW + 3600 }));
  assert.equal(verifier.verify(longLived, NOW).code, "lifetime_too_long");
  assert.equal(await joseAccepts(longLived), true);
});
